r"""What every learned MIMO detector shares, whatever its family: the statistics of the channel
uses it reads, the minibatch Adam loop that trains it, and the agent around its network.

**Statistics.** A detector reads a channel use through the receiver's estimate ``Ĥ`` and
``σ²`` (:mod:`mbdl_control.blocks.mimo_observations`): :func:`use_statistics` gives the
matched filter ``Ĥᵀy``, the Gram ``ĤᵀĤ`` (once per episode, shared by its ``T`` uses) and
``σ²`` of every use, and the scale ``c = n_t / tr(ĤᵀĤ)`` that brings a Gram's mean diagonal
to 1, in float64 torch tensors.

**Training**: the minibatch Adam loop of :mod:`mbdl_control.blocks.training`, early stopping
on the held-out uses' ``(symbol error rate, loss)`` (:func:`detection_score`).

**The agent** (:class:`LearnedMIMODetector`): built from the env's ``structure()`` (the
:class:`~mbdl_control.models.MIMOSystem`, nothing numeric), it draws labelled channel uses
within the budget (:mod:`mbdl_control.blocks.labelled_channel_uses`), initializes its network
from the fit seed in a forked torch RNG (the global one untouched), and detects batches of
episodes in chunks of :data:`DETECTION_CHUNK` uses without any per-vector Python.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from mbdl_control.blocks.labelled_channel_uses import collect_labelled_channel_uses
from mbdl_control.blocks.mimo_observations import MIMO_KEYS, mimo_space_of
from mbdl_control.blocks.network_arrays import load_network_arrays, network_arrays
from mbdl_control.blocks.training import (
    Features,
    Loss,
    Score,
    Training,
    TrainingRecipe,
    seeded,
    take,
)
from mbdl_control.core import BaseAgent, Budget, FitReport
from mbdl_control.models import MIMOSystem, require_mimo

#: channel uses per forward pass when detecting or scoring (bounds the memory)
DETECTION_CHUNK = 16_384


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


Decide = Callable[[Features], torch.Tensor]


def detection_score(loss: Loss, decide: Decide) -> Score:
    """The score of held-out uses for :func:`~mbdl_control.blocks.training.train`:
    ``(symbol error rate, mean loss)`` of ``decide``'s level indices and ``loss``, computed
    :data:`DETECTION_CHUNK` uses at a time; ``(0, 0)`` when there are none."""

    def score(features: Features, symbols: torch.Tensor) -> tuple[float, float]:
        if len(symbols) == 0:
            return (0.0, 0.0)
        errors, total = 0.0, 0.0
        for start in range(0, len(symbols), DETECTION_CHUNK):
            rows = slice(start, start + DETECTION_CHUNK)
            chunk = take(features, rows)
            errors += float((decide(chunk) != symbols[rows]).sum())
            total += float(loss(chunk, symbols[rows])) * len(symbols[rows])
        return (errors / symbols.numel(), total / len(symbols))

    return score


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
