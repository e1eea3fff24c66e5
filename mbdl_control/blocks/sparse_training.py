r"""What every learned sparse-recovery agent shares, whatever its family: the labelled signals
it draws within a budget, the normalized squared error it is trained and scored on, and the
agent around its network.

**Data.** An episode of ``mbdl/SparseRecovery-v0`` or ``mbdl/SuperResolution-v0`` is one
step: the observation is the measurement ``x``, the step's ``info["signal"]`` the signal
``s`` behind it (one labelled sample). :func:`collect_labelled_signals` draws whole episodes
while the budget lasts.

**Loss and score.** The normalized squared error of a minibatch,
``NMSE = Σ‖ŝ − s‖² / Σ‖s‖²`` (the benchmark's, Chen et al., NeurIPS 2018), is both what Adam
descends (:func:`nmse`) and what early stopping keeps the best of on the held-out signals
(:mod:`mbdl_control.blocks.training`).

**The agent** (:class:`LearnedSparseRecovery`): built from the env's nominal model (a
network initialized at a model-based algorithm on ``H``) or its ``structure()`` (the
dimensions: an end-to-end network), it trains its network on the budget's labelled signals
from the fit seed (weights seeded in a forked torch RNG, the global one untouched) and
recovers batches of measurements in chunks of :data:`RECOVERY_CHUNK`, in float32.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from mbdl_control.blocks.network_arrays import load_network_arrays, network_arrays
from mbdl_control.blocks.training import Features, Training, TrainingRecipe, seeded, train
from mbdl_control.core import BaseAgent, Budget, FitReport, vector_space
from mbdl_control.models import SparseLinearModel, SparseStructure

#: the label key of the sparse inverse envs: the signal ``s`` behind a measurement
SIGNAL = "signal"
#: measurements per forward pass when recovering or scoring (bounds the memory)
RECOVERY_CHUNK = 4096


@dataclass(frozen=True)
class LabelledSignals:
    """Episodes drawn in ``fit``: the measurements ``(N, m)`` and the signals behind them
    ``(N, n)``."""

    measurements: np.ndarray
    signals: np.ndarray


def collect_labelled_signals(env: Any, budget: Budget, seed: int) -> LabelledSignals:
    """Whole episodes of ``env`` (one step, one labelled signal each) while the budget's steps
    and samples cover one more, until the env withholds the labels. The first ``reset`` is
    seeded with ``seed`` and the env's generator runs on from there: a seed gives one
    training set, two seeds two independent ones."""
    measurements: list[np.ndarray] = []
    signals: list[np.ndarray] = []
    while len(measurements) < min(budget.steps, budget.samples):
        observation, _ = env.reset(seed=seed if not measurements else None)
        observation = np.asarray(observation, dtype=np.float64)
        _, _, _, _, info = env.step(np.zeros(env.action_space.shape))
        if SIGNAL not in info:
            break
        measurements.append(observation)
        signals.append(np.asarray(info[SIGNAL], dtype=np.float64))
    if not measurements:
        raise ValueError(
            "learning to recover sparse signals needs a budget of at least one labelled "
            f"episode (one step, one sample), got {budget.steps} steps and {budget.samples} "
            "samples"
        )
    return LabelledSignals(np.array(measurements), np.array(signals))


def nmse(estimates: torch.Tensor, signals: torch.Tensor) -> torch.Tensor:
    """``Σ‖ŝ − s‖² / Σ‖s‖²`` over the rows (the denominator floored at the smallest positive
    number, for a batch of zero signals)."""
    energy = (signals**2).sum().clamp(min=torch.finfo(signals.dtype).tiny)
    return ((estimates - signals) ** 2).sum() / energy


def convolutions(channels: int, hidden_layers: int, kernel: int) -> nn.Sequential:
    """``(B, 1, n) → (B, 1, n)``: ``hidden_layers`` ReLU convolutions of ``channels`` maps
    and ``kernel`` taps along the signal's index (zero padded, the length kept), then one
    convolution back to a single map: the denoiser of plug-and-play ADMM and the body of the
    end-to-end convolutional network."""
    modules: list[nn.Module] = []
    inputs = 1
    for _ in range(hidden_layers):
        modules += [nn.Conv1d(inputs, channels, kernel, padding="same"), nn.ReLU()]
        inputs = channels
    modules.append(nn.Conv1d(inputs, 1, kernel, padding="same"))
    return nn.Sequential(*modules)


class LearnedSparseRecovery(BaseAgent):
    """A sparse-recovery agent whose network learns from labelled signals (module docstring).

    A subclass sets ``family``, ``knowledge_options`` and ``architecture`` (the names of its
    constructor arguments that shape the network, which ``config`` adds to the model, the
    recipe and the knowledge), and implements ``_build`` (a network from measurements
    ``(B, m)`` to estimates ``(B, n)``, float32). ``starts_as_algorithm`` says that the
    network's initial weights are a working model-based algorithm, which early stopping then
    keeps unless training does better. ``_train`` may be overridden (a layer-wise recipe).
    """

    knowledge_options: ClassVar[tuple[str, ...]] = ("nominal",)
    architecture: ClassVar[tuple[str, ...]] = ()
    starts_as_algorithm: ClassVar[bool] = False
    network: nn.Module

    def __init__(
        self,
        model: SparseLinearModel | SparseStructure,
        recipe: TrainingRecipe,
        knowledge: str,
    ) -> None:
        super().__init__(knowledge)
        if not isinstance(model, SparseLinearModel | SparseStructure):
            raise TypeError(
                f"{type(self).__name__} is built on a SparseLinearModel (an env's nominal_model) "
                f"or a SparseStructure (its structure()), got {type(model).__name__}"
            )
        self.model = model
        self.recipe = recipe
        self.diverged = False
        self.observation_space = vector_space(model.measurements)

    @property
    def unknowns(self) -> int:
        """``n``: the length of the signals recovered."""
        return self.model.unknowns

    def _initialize(self, seed: int) -> None:
        """The network with initial weights from ``seed`` alone (a subclass's ``__init__``
        ends with ``_initialize(0)``; ``fit`` starts from the fit seed)."""
        self.network = seeded(self._build, seed)

    @abstractmethod
    def _build(self) -> nn.Module:
        """A network with fresh weights (drawn from torch's global RNG)."""

    def _loss(self, features: Features, signals: torch.Tensor) -> torch.Tensor:
        """The minibatch's :func:`nmse` of the network's estimates."""
        return nmse(self.network(features[0]), signals)

    def _score(self, features: Features, signals: torch.Tensor) -> tuple[float]:
        """The held-out signals' :func:`nmse`, :data:`RECOVERY_CHUNK` rows at a time."""
        error = sum(
            float(((self.network(x) - s) ** 2).sum())
            for x, s in zip(
                features[0].split(RECOVERY_CHUNK), signals.split(RECOVERY_CHUNK), strict=True
            )
        )
        return (error / max(float((signals**2).sum()), np.finfo(np.float64).tiny),)

    def _train(
        self, measurements: torch.Tensor, signals: torch.Tensor, generator: torch.Generator
    ) -> Training:
        """End to end on :func:`nmse`, early stopping on the held-out signals."""
        return train(
            self.network,
            (measurements,),
            signals,
            self._loss,
            self._score,
            self.recipe,
            generator,
            score_initial=self.starts_as_algorithm,
        )

    @property
    def config(self) -> dict[str, Any]:
        names = {name: getattr(self, name) for name in self.architecture}
        return {"model": self.model, **names, **asdict(self.recipe), "knowledge": self.knowledge}

    def learned_parameters(self) -> dict[str, np.ndarray]:
        """The network's weights (no fitted input scaling: ``input_scaling`` is ``(0, 1)``)."""
        return network_arrays(self.network, 0.0, 1.0)

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        load_network_arrays(self.network, parameters)

    def diagnostics(self) -> dict[str, float]:
        return {"training_diverged": float(self.diverged)}

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        """Train on the labelled signals the budget buys from ``env`` (module docstring); the
        curve is the loss of every iteration's minibatch."""
        start = time.perf_counter()
        seed = 0 if seed is None else int(seed)
        data = collect_labelled_signals(env, budget or Budget(), seed)
        self._initialize(seed)
        training = self._train(
            torch.as_tensor(data.measurements, dtype=torch.float32),
            torch.as_tensor(data.signals, dtype=torch.float32),
            torch.Generator().manual_seed(seed),
        )
        self.diverged = training.diverged
        return FitReport(
            steps=len(data.signals),
            samples=len(data.signals),
            wall_time=time.perf_counter() - start,
            curve=tuple(training.curve),
            diverged=training.diverged,
        )

    def _act(self, observations: np.ndarray, state: Any, episode_start: np.ndarray):
        """Estimates ``(B, n)`` (float64), :data:`RECOVERY_CHUNK` measurements at a time."""
        if len(observations) == 0:
            return np.zeros((0, self.unknowns)), None
        measurements = torch.as_tensor(observations, dtype=torch.float32)
        with torch.no_grad():
            estimates = [self.network(chunk) for chunk in measurements.split(RECOVERY_CHUNK)]
        return torch.cat(estimates).double().numpy(), None
