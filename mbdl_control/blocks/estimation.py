r"""The recursive estimator every state-estimation agent is, and the agent that wraps one.

A recursive estimator keeps, per episode of a batch, a memory (a dict of arrays whose first
axis is the batch: a predicted mean and covariance, particles and weights, a network's hidden
states) and at each step

.. math::

    \text{update:}\ (\text{memory}, y_t) \mapsto \hat x_{t|t},\qquad
    \text{advance:}\ (\text{memory}, u_t) \mapsto \text{memory for } t+1,

the measurement update and the time update (prediction through ``f``, with the input
``u_t`` where the model has one). ``start`` is the memory before the first measurement (the
prior ``N(x̄_0, Σ_0)`` of the model the estimator was built on). Tracking an estimation env,
the estimate is the action and there is no input (``advance(memory, None)``); inside LQG
(:class:`~mbdl_control.agents.LQG`'s ``estimator``) the controller computes ``u_t`` from
``x̂_{t|t}`` between the two (separation).

Every estimator of the suite (Kalman, extended, unscented, particle filter, learned-noise
Kalman, KalmanNet, a GRU) is one of these, so an estimation agent of any family is
:class:`FilterAgent` plus its estimator, and LQG accepts any of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from mbdl_control.core import BaseAgent, vector_space

Memory = dict[str, np.ndarray]


class RecursiveEstimator(ABC):
    """``start``, ``update``, ``advance`` on a batch of episodes (module docstring)."""

    #: state and measurement dimensions
    n: int
    p: int
    #: input dimension (``0``: the estimator takes no input)
    m: int = 0

    @abstractmethod
    def start(self, batch: int) -> Memory:
        """The memory of ``batch`` episodes before their first measurement."""

    @abstractmethod
    def update(self, memory: Memory, y: np.ndarray) -> tuple[np.ndarray, Memory]:
        """Estimates ``x̂_{t|t}`` ``(batch, n)`` from measurements ``y_t`` ``(batch, p)``, and
        the memory after the update."""

    @abstractmethod
    def advance(self, memory: Memory, u: np.ndarray | None = None) -> Memory:
        """The memory for the next step, predicted with inputs ``u_t`` ``(batch, m)``."""

    def inputs(self, u: np.ndarray | None) -> np.ndarray | None:
        """``u`` as float64 rows ``(batch, m)`` (``None`` for none), or ``ValueError`` for
        inputs to an estimator without any, or of another width."""
        if u is None:
            return None
        u = np.asarray(u, dtype=np.float64)
        if not self.m or u.shape[-1:] != (self.m,):
            raise ValueError(
                f"inputs must be rows of {self.m} entries (the estimator's model has "
                f"m = {self.m}), got shape {u.shape}"
            )
        return u

    def restart(self, memory: Memory | None, episode_start: np.ndarray) -> Memory:
        """``memory`` with the rows of starting episodes set to :meth:`start`'s (all of it
        when ``memory`` is ``None``)."""
        if memory is None:
            return self.start(len(episode_start))
        if not episode_start.any():
            return memory
        fresh = self.start(len(episode_start))
        restarted = {}
        for key, value in memory.items():
            value = value.copy()
            value[episode_start] = fresh[key][episode_start]
            restarted[key] = value
        return restarted

    def track(
        self, y: np.ndarray, memory: Memory | None, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Memory]:
        """One step of tracking without input: restart, update, advance."""
        estimates, memory = self.update(self.restart(memory, episode_start), y)
        return estimates, self.advance(memory, None)


class FilterAgent(BaseAgent):
    """An agent whose action is the estimate of its :attr:`estimator` (a
    :class:`RecursiveEstimator`): on an estimation env it observes ``y_t`` and acts with
    ``x̂_{t|t}``. Subclasses set ``self.estimator`` (and ``family``, ``config``)."""

    estimator: RecursiveEstimator

    def _set_estimator(self, estimator: RecursiveEstimator) -> None:
        self.estimator = estimator
        self.observation_space = vector_space(estimator.p)

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        return self.estimator.track(observations, state, episode_start)
