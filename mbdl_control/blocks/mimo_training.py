r"""What every learned MIMO detector shares, whatever its family: the statistics of the channel
uses it reads, the minibatch Adam loop that trains it, and the agent around its network.

**Statistics.** A detector reads a channel use through the receiver's estimate ``Ĥ`` and
``σ²`` (:mod:`mbdl_control.blocks.mimo_observations`): :func:`use_statistics` gives the
matched filter ``Ĥᵀy``, the Gram ``ĤᵀĤ`` (once per episode, shared by its ``T`` uses) and
``σ²`` of every use, and the scale ``c = n_t / tr(ĤᵀĤ)`` that brings a Gram's mean diagonal
to 1, in float64 torch tensors.

**Training** (:func:`train`), CleanRL-style, as the SBRNN's: the last
``validation_fraction`` of the labelled uses is held out; every iteration takes the next
minibatch of an epoch's random permutation of the others (a ``torch.Generator`` seeded by the
fit seed), an Adam step on the detector's loss with the step size annealed from
``learning_rate`` to 0 on a cosine. The labelled uses cost budget, so training goes over
them for as many epochs as the iterations take (DetNet's published recipe draws a fresh
minibatch every step, which here would cost a minibatch of budget per step). Every
:data:`VALIDATE_EVERY` iterations, and after the last, the held-out uses are scored —
``(symbol error rate, loss)`` — and the best weights kept (early stopping). A non-finite
loss or gradient stops the training with those best weights (the initial ones before the
first check): ``diverged``.

**The agent** (:class:`LearnedMIMODetector`): built from the env's ``structure()`` (the
:class:`~mbdl_control.models.MIMOSystem`, nothing numeric), it draws labelled channel uses
within the budget (:mod:`mbdl_control.blocks.labelled_channel_uses`), initializes its network
from the fit seed in a forked torch RNG (the global one untouched), and detects batches of
episodes in chunks of :data:`DETECTION_CHUNK` uses without any per-vector Python.
"""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from mbdl_control.blocks.labelled_channel_uses import collect_labelled_channel_uses
from mbdl_control.blocks.mimo_observations import MIMO_KEYS, mimo_space_of
from mbdl_control.blocks.network_arrays import load_network_arrays, network_arrays
from mbdl_control.core import BaseAgent, Budget, FitReport, positive_float, positive_int
from mbdl_control.models import MIMOSystem, require_mimo

#: training iterations between two scores of the held-out uses
VALIDATE_EVERY = 100
#: channel uses per forward pass when detecting or scoring (bounds the memory)
DETECTION_CHUNK = 16_384

Features = tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class TrainingRecipe:
    """The minibatch Adam recipe of :func:`train`: the initial step size, the iterations
    (minibatch steps), the uses per minibatch, and the held-out fraction (0: none, the last
    weights are kept)."""

    learning_rate: float
    iterations: int
    batch_size: int
    validation_fraction: float

    def __post_init__(self) -> None:
        rate = positive_float("learning_rate", self.learning_rate)
        object.__setattr__(self, "learning_rate", rate)
        object.__setattr__(self, "iterations", positive_int("iterations", self.iterations))
        object.__setattr__(self, "batch_size", positive_int("batch_size", self.batch_size))
        fraction = self.validation_fraction
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not (0.0 <= fraction < 1.0)
        ):
            raise ValueError(f"validation_fraction must be in [0, 1), got {fraction!r}")
        object.__setattr__(self, "validation_fraction", float(fraction))

    def step_size(self, iteration: int) -> float:
        """Adam's step size: ``learning_rate`` annealed to 0 on a cosine over the iterations."""
        return self.learning_rate * 0.5 * (1.0 + math.cos(math.pi * iteration / self.iterations))


@dataclass(frozen=True)
class UseStatistics:
    """Per channel use ``u``: ``matched`` ``Ĥᵀy`` ``(U, n_t)``, ``gram`` ``ĤᵀĤ``
    ``(U, n_t, n_t)`` and ``noise_var`` ``σ²`` ``(U,)``, float64."""

    matched: torch.Tensor
    gram: torch.Tensor
    noise_var: torch.Tensor

    def __len__(self) -> int:
        return len(self.matched)

    @property
    def scale(self) -> torch.Tensor:
        """``c = n_t / tr(ĤᵀĤ)`` of every use ``(U,)``: ``c ĤᵀĤ`` has a mean diagonal of 1."""
        trace = torch.diagonal(self.gram, dim1=-2, dim2=-1).sum(-1)
        return self.gram.shape[-1] / trace.clamp(min=torch.finfo(trace.dtype).tiny)

    def rows(self, index: slice | torch.Tensor) -> UseStatistics:
        return UseStatistics(self.matched[index], self.gram[index], self.noise_var[index])


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A float64 tensor sharing ``array``'s memory (a copy if it is read-only or strided)."""
    return torch.from_numpy(np.require(array, dtype=np.float64, requirements=["C", "W"]))


def use_statistics(
    received: np.ndarray, channel: np.ndarray, noise_var: np.ndarray
) -> UseStatistics:
    """The statistics of the channel uses of episodes ``received`` ``(B, T, n_r)``,
    ``channel`` ``(B, n_r, n_t)``, ``noise_var`` ``(B, 1)``, use ``u = b·T + t`` (the order
    of :func:`~mbdl_control.blocks.mimo_observations.channel_uses`)."""
    received, channel = _tensor(received), _tensor(channel)
    episodes, length = received.shape[:2]
    matched = (received @ channel).reshape(episodes * length, -1)
    gram = channel.transpose(-1, -2) @ channel
    gram = gram[:, None].expand(-1, length, -1, -1).reshape(episodes * length, *gram.shape[1:])
    noise_var = _tensor(noise_var).reshape(episodes, 1).expand(-1, length).reshape(-1)
    return UseStatistics(matched, gram, noise_var)


def chunked(function: Callable[[slice], torch.Tensor], count: int) -> torch.Tensor:
    """``function`` of rows ``0 … count−1``, :data:`DETECTION_CHUNK` at a time, concatenated."""
    return torch.cat(
        [
            function(slice(start, start + DETECTION_CHUNK))
            for start in range(0, count, DETECTION_CHUNK)
        ]
    )


def take(features: Features, rows: slice | torch.Tensor) -> Features:
    """The rows ``rows`` of every feature tensor."""
    return tuple(feature[rows] for feature in features)


def seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``build()`` with torch's RNG seeded by ``seed`` in a fork: initial weights that depend
    on the seed alone, the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


@dataclass(frozen=True)
class Training:
    """The loss of every iteration, and whether a non-finite one stopped the training."""

    curve: list[float]
    diverged: bool


def _minibatches(count: int, size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Rows ``0 … count−1`` in minibatches of ``size``, epoch after epoch of random order."""
    while True:
        yield from torch.randperm(count, generator=generator).split(size)


def _copy(network: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in network.state_dict().items()}


def _finite_gradient(network: nn.Module) -> bool:
    gradients = [p.grad for p in network.parameters() if p.grad is not None]
    return math.isfinite(float(nn.utils.get_total_norm(gradients)))


Loss = Callable[[Features, torch.Tensor], torch.Tensor]
Decide = Callable[[Features], torch.Tensor]


def _score(
    features: Features, symbols: torch.Tensor, loss: Loss, decide: Decide
) -> tuple[float, float]:
    """``(symbol error rate, mean loss)`` on held-out uses; ``(0, 0)`` when there are none."""
    if len(symbols) == 0:
        return (0.0, 0.0)
    errors, total = 0.0, 0.0
    with torch.no_grad():
        for start in range(0, len(symbols), DETECTION_CHUNK):
            rows = slice(start, start + DETECTION_CHUNK)
            chunk = take(features, rows)
            errors += float((decide(chunk) != symbols[rows]).sum())
            total += float(loss(chunk, symbols[rows])) * len(symbols[rows])
    return (errors / symbols.numel(), total / len(symbols))


def train(
    network: nn.Module,
    features: Features,
    symbols: torch.Tensor,
    loss: Loss,
    decide: Decide,
    recipe: TrainingRecipe,
    generator: torch.Generator,
    score_initial: bool = False,
) -> Training:
    """Train ``network`` (module docstring) on labelled uses: ``features``, tensors whose
    first axis is the use, and the level indices sent ``symbols`` ``(U, n_t)``.
    ``loss(features, symbols)`` of a minibatch is what Adam descends; ``decide(features)``
    gives the level indices that score the held-out uses; ``score_initial`` scores the
    initial weights too, so that early stopping can keep them (for a network that starts as
    a working detector)."""
    count = len(symbols)
    held = round(recipe.validation_fraction * count)
    cut = count - held if 0 < held < count else count
    held_out = take(features, slice(cut, None))
    optimizer = torch.optim.Adam(network.parameters(), lr=recipe.learning_rate, foreach=True)
    batches = _minibatches(cut, recipe.batch_size, generator)
    best, best_score = _copy(network), (math.inf, math.inf)
    if score_initial:
        best_score = _score(held_out, symbols[cut:], loss, decide)
    curve: list[float] = []
    for iteration in range(recipe.iterations):
        rows = next(batches)
        value = loss(take(features, rows), symbols[rows])
        optimizer.zero_grad()
        value.backward()
        if not (math.isfinite(float(value.detach())) and _finite_gradient(network)):
            network.load_state_dict(best)
            return Training(curve, diverged=True)
        optimizer.param_groups[0]["lr"] = recipe.step_size(iteration)
        optimizer.step()
        curve.append(float(value.detach()))
        if (iteration + 1) % VALIDATE_EVERY == 0 or iteration + 1 == recipe.iterations:
            score = _score(held_out, symbols[cut:], loss, decide)
            if score <= best_score:
                best, best_score = _copy(network), score
    network.load_state_dict(best)
    return Training(curve, diverged=False)


class LearnedMIMODetector(BaseAgent):
    """A MIMO detector whose network learns from labelled channel uses (module docstring).

    A subclass sets ``family`` and ``architecture`` (the names of its constructor arguments
    that shape the network, which ``config`` adds to the system, the recipe and the
    knowledge), and implements ``_build`` (the network), ``_train`` and ``_detect``.
    """

    action_dtype = np.int64
    knowledge_options = ("structure",)
    architecture: ClassVar[tuple[str, ...]] = ()
    network: nn.Module

    def __init__(self, system: MIMOSystem, recipe: TrainingRecipe, knowledge: str) -> None:
        super().__init__(knowledge)
        self.system = require_mimo(type(self).__name__, system)
        self.recipe = recipe
        self.diverged = False

    def _initialize(self, seed: int) -> None:
        """The network with initial weights from ``seed`` alone (a subclass's ``__init__``
        ends with ``_initialize(0)``; ``fit`` starts from the fit seed)."""
        self.network = seeded(self._build, seed)

    @abstractmethod
    def _build(self) -> nn.Module:
        """A network with fresh weights (drawn from torch's global RNG)."""

    @abstractmethod
    def _train(
        self, statistics: UseStatistics, symbols: torch.Tensor, generator: torch.Generator
    ) -> Training:
        """Train :attr:`network` on labelled uses (``symbols`` ``(U, n_t)``)."""

    @abstractmethod
    def _detect(self, statistics: UseStatistics) -> torch.Tensor:
        """The level indices ``(U, n_t)`` decided for each use."""

    @property
    def config(self) -> dict[str, Any]:
        names = {name: getattr(self, name) for name in self.architecture}
        return {"system": self.system, **names, **asdict(self.recipe), "knowledge": self.knowledge}

    def learned_parameters(self) -> dict[str, np.ndarray]:
        """The network's weights (its inputs are scaled per use by ``c``: no fitted input
        scaling, so ``input_scaling`` is the identity ``(0, 1)``)."""
        return network_arrays(self.network, 0.0, 1.0)

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        load_network_arrays(self.network, parameters)

    def diagnostics(self) -> dict[str, float]:
        return {"training_diverged": float(self.diverged)}

    def observation_space_of(self, observation: Any) -> gym.spaces.Dict:
        """Episodes of any number of channel uses: the space of the one (or batch) given."""
        return mimo_space_of(observation, self.system)

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        """Train on the labelled channel uses the budget buys from ``env`` (module
        docstring); the curve is the loss of every iteration's minibatch."""
        start = time.perf_counter()
        seed = 0 if seed is None else int(seed)
        data = collect_labelled_channel_uses(env, budget or Budget(), seed)
        statistics = use_statistics(data.received, data.channel, data.noise_var)
        symbols = torch.as_tensor(data.use_symbols())
        self._initialize(seed)
        training = self._train(statistics, symbols, torch.Generator().manual_seed(seed))
        self.diverged = training.diverged
        return FitReport(
            steps=data.steps,
            samples=data.labels,
            wall_time=time.perf_counter() - start,
            curve=tuple(training.curve),
            diverged=training.diverged,
        )

    def _act(self, observations: dict[str, np.ndarray], state: Any, episode_start: np.ndarray):
        """Level indices ``(B, T, n_t)``, detected :data:`DETECTION_CHUNK` uses at a time."""
        received, channel, noise_var = (observations[key] for key in MIMO_KEYS)
        episodes, length = np.shape(received)[:2]
        if episodes * length == 0:
            return np.zeros((episodes, length, self.system.transmit_dim), np.int64), None
        step = max(1, DETECTION_CHUNK // length)
        with torch.no_grad():
            decisions = [
                self._detect(
                    use_statistics(
                        received[start : start + step],
                        channel[start : start + step],
                        noise_var[start : start + step],
                    )
                )
                for start in range(0, episodes, step)
            ]
        return torch.cat(decisions).numpy().reshape(episodes, length, -1), None
