"""The agent contract: ``predict`` as in stable-baselines3, ``fit`` within a counted budget,
and the agent's place on the model-based ↔ data-driven spectrum.

A subclass of :class:`BaseAgent` implements ``_act`` on a batch of observations and ``config``
(its constructor arguments); the base class handles single vs batched observations, episode
starts, the spectrum, and ``save``/``load``.
"""

from __future__ import annotations

import importlib
import pickle
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

FAMILIES = ("model-based", "learned-optimizer", "deep-unfolding", "dnn-aided", "deep-learning")
KNOWLEDGE = ("true", "nominal", "structure", "none")


@dataclass(frozen=True)
class SpectrumInfo:
    """Where an agent sits: its family, the model knowledge it uses, the parameters it learns."""

    family: str
    knowledge: str
    n_parameters: int

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.knowledge not in KNOWLEDGE:
            raise ValueError(f"knowledge must be one of {KNOWLEDGE}, got {self.knowledge!r}")
        if self.n_parameters < 0:
            raise ValueError(f"n_parameters must be >= 0, got {self.n_parameters}")


@dataclass(frozen=True)
class Budget:
    """How much data a learning agent may use: environment ``steps`` and labelled ``samples``."""

    steps: int = 0
    samples: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "samples"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 0:
                raise ValueError(f"Budget.{name} must be an integer >= 0, got {value!r}")


@dataclass(frozen=True)
class FitReport:
    """What ``fit`` used and learned: env steps and labelled samples drawn, steps simulated in
    a model (not data), wall time, and the training curve (loss per iteration)."""

    steps: int = 0
    samples: int = 0
    simulated_steps: int = 0
    wall_time: float = 0.0
    curve: tuple[float, ...] = field(default_factory=tuple)


@runtime_checkable
class Agent(Protocol):
    """Anything with stable-baselines3's ``predict`` can be evaluated (SB3 models included)."""

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]: ...


class BaseAgent(ABC):
    """Bookkeeping shared by every agent of this library."""

    family: ClassVar[str]
    #: ``_act`` takes a batch of independent episodes, so ``evaluate`` may run them at once
    acts_on_batches: ClassVar[bool] = True

    def __init__(self, knowledge: str = "nominal") -> None:
        if knowledge not in KNOWLEDGE:
            raise ValueError(f"knowledge must be one of {KNOWLEDGE}, got {knowledge!r}")
        self.knowledge = knowledge

    @property
    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this agent (used by ``save``)."""

    def learned_parameters(self) -> dict[str, np.ndarray]:
        """The parameters this agent learned from data (none for a model-based agent)."""
        return {}

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        """Restore learned parameters (``load`` calls this)."""
        if parameters:
            raise ValueError(f"{type(self).__name__} learns no parameters, got {list(parameters)}")

    @property
    def spectrum(self) -> SpectrumInfo:
        """Family, knowledge, and the number of learned scalars (counted, not declared)."""
        count = sum(int(np.size(value)) for value in self.learned_parameters().values())
        return SpectrumInfo(self.family, self.knowledge, count)

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        """Learn from ``env`` within ``budget``; a model-based agent has nothing to learn."""
        return FitReport()

    def diagnostics(self) -> dict[str, float]:
        """Counters worth reporting next to the cost (failed solves, fallbacks)."""
        return {}

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Action(s) for one observation ``(obs_dim,)`` or a batch ``(batch, obs_dim)``.

        ``state`` is the agent's memory (``None`` starts every episode afresh); rows of
        ``episode_start`` that are true restart that episode's memory, as in stable-baselines3.
        """
        obs = np.asarray(observation, dtype=np.float64)
        single = obs.ndim == 1
        batch = obs[None] if single else obs
        if batch.ndim != 2:
            raise ValueError(f"observation must be 1-D or 2-D (batch), got shape {obs.shape}")
        starts = np.zeros(len(batch), dtype=bool)
        if episode_start is not None:
            starts = np.broadcast_to(np.asarray(episode_start, dtype=bool), (len(batch),)).copy()
        actions, state = self._act(batch, state, starts)
        return (actions[0] if single else actions), state

    @abstractmethod
    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        """Actions ``(batch, m)`` and the next state for a batch of observations."""

    def save(self, path: str | Path) -> None:
        """Write the constructor arguments and learned parameters to ``path`` (pickle)."""
        cls = type(self)
        payload = {
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "config": self.config,
            "parameters": self.learned_parameters(),
        }
        with Path(path).open("wb") as handle:
            pickle.dump(payload, handle)

    @staticmethod
    def load(path: str | Path) -> BaseAgent:
        """Rebuild an agent written by ``save`` (only load files you trust: this unpickles)."""
        with Path(path).open("rb") as handle:
            payload = pickle.load(handle)
        module, _, name = payload["class"].partition(":")
        cls = getattr(importlib.import_module(module), name)
        agent = cls(**payload["config"])
        agent.set_learned_parameters(payload["parameters"])
        return agent


def check_observation_size(agent: BaseAgent, observations: np.ndarray, expected: int) -> None:
    """Raise ``ValueError`` unless a batch of observations has ``expected`` columns."""
    if observations.shape[1] != expected:
        raise ValueError(
            f"{type(agent).__name__} expects observations of size {expected}, "
            f"got {observations.shape[1]}"
        )


def time_index(state: np.ndarray | None, episode_start: np.ndarray) -> np.ndarray:
    """The step counter of each episode in a batch: zero where an episode starts."""
    steps = np.zeros(len(episode_start), dtype=np.int64) if state is None else state.copy()
    steps[episode_start] = 0
    return steps


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int, or a ``ValueError`` naming ``name`` unless it is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


__all__ = [
    "FAMILIES",
    "KNOWLEDGE",
    "Agent",
    "BaseAgent",
    "Budget",
    "FitReport",
    "SpectrumInfo",
    "check_observation_size",
    "positive_int",
    "time_index",
]
