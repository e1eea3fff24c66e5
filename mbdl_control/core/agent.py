"""The agent contract: ``predict`` as in stable-baselines3, ``fit`` within a counted budget,
and the agent's place on the model-based ↔ data-driven spectrum.

A subclass of :class:`BaseAgent` implements ``_act`` on a batch of observations and ``config``
(its constructor arguments); the base class handles one observation vs a batch (by the
agent's ``observation_space``, :mod:`mbdl_control.core.observations`), episode starts, the
action dtype, the spectrum, and ``save``/``load``.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from mbdl_control.core.budget import Budget, FitReport
from mbdl_control.core.checkpoint import CheckpointError, read_checkpoint, write_checkpoint
from mbdl_control.core.observations import as_batch, batch_size
from mbdl_control.core.spectrum import KNOWLEDGE, SpectrumInfo


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
    #: the dtype of the actions ``predict`` returns (integers for detected symbols)
    action_dtype: ClassVar[type] = np.float64
    #: the knowledge values the harness may build this agent from (``mbdl-control list agents``)
    knowledge_options: ClassVar[tuple[str, ...]] = ("true", "nominal")
    #: the space of one observation, which tells one from a batch (``None``: 1-D is one, 2-D
    #: a batch); agents of this library set it from their model
    observation_space: gym.Space | None = None

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
        observation: Any,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Action(s) for one observation or a batch (one row per episode), told apart by
        :attr:`observation_space` (:func:`~mbdl_control.core.observations.as_batch`); the
        actions come in :attr:`action_dtype`.

        ``state`` is the agent's memory (``None`` starts every episode afresh); rows of
        ``episode_start`` that are true restart that episode's memory, as in stable-baselines3.
        """
        batch, single = as_batch(observation, self.observation_space_of(observation))
        rows = batch_size(batch)
        starts = np.zeros(rows, dtype=bool)
        if episode_start is not None:
            starts = np.broadcast_to(np.asarray(episode_start, dtype=bool), (rows,)).copy()
        actions, state = self._act(batch, state, starts)
        actions = np.asarray(actions, dtype=self.action_dtype)
        return (actions[0] if single else actions), state

    def observation_space_of(self, observation: Any) -> gym.Space | None:
        """The space of one observation that tells ``observation`` apart as one or a batch:
        :attr:`observation_space`, unless the agent takes observations of many sizes (blocks
        of any length) and reads the space off the observation itself."""
        return self.observation_space

    @abstractmethod
    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        """Actions ``(batch, m)`` and the next state for a batch of observations."""

    def save(self, path: str | Path) -> None:
        """Write the constructor arguments and learned parameters to ``path``: a safetensors
        checkpoint (:mod:`mbdl_control.core.checkpoint`), which loading never executes."""
        cls = type(self)
        write_checkpoint(
            path, f"{cls.__module__}:{cls.__qualname__}", self.config, self.learned_parameters()
        )

    @staticmethod
    def load(path: str | Path, trusted: bool = False) -> BaseAgent:
        """Rebuild an agent written by ``save``. Its class must be one of the library's
        agents, unless ``trusted=True`` (a user's own class: its module is imported)."""
        cls, config, parameters = read_checkpoint(path, trusted, _library_agent)
        if not issubclass(cls, BaseAgent):
            raise CheckpointError(f"{path}: {cls.__qualname__} is not an agent")
        try:
            agent = cls(**config)
            agent.set_learned_parameters(parameters)
        except Exception as error:  # whatever a tampered argument breaks, name the file
            raise CheckpointError(
                f"{path}: its arguments or parameters do not rebuild a {cls.__qualname__} "
                f"({type(error).__name__}: {error})"
            ) from error
        return agent


def _library_agent(module: str, name: str) -> bool:
    """Whether ``module:name`` is one of the library's agents (``mbdl_control.agents``)."""
    relative = importlib.import_module("mbdl_control.agents").AGENTS.get(name)
    return relative is not None and module == f"mbdl_control.agents{relative}"


def time_index(state: np.ndarray | None, episode_start: np.ndarray) -> np.ndarray:
    """The step counter of each episode in a batch: zero where an episode starts."""
    steps = np.zeros(len(episode_start), dtype=np.int64) if state is None else state.copy()
    steps[episode_start] = 0
    return steps
