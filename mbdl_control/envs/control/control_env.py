"""The episode of every control env: check the action, step the pure dynamics, keep the state.

A control env holds ``dynamics``, an object shared with its batched version that consumes the
same ``draws`` standard normals per reset and per step whatever the action (common random
numbers), with ``reset(z) -> (state, observation)``, ``step(state, requested, z) ->
(applied input, cost, saturated, next state, observation)`` and ``overflows(cost, next state,
observation)`` (the rows a step made non-finite): the linear-Gaussian envs'
:class:`~mbdl_control.envs.control.linear_dynamics.LinearGaussianDynamics` and the cart-pole's
:class:`~mbdl_control.envs.control.cart_pole_dynamics.CartPoleDynamics`. A subclass sets the
models, the spaces and ``dynamics`` in its ``__init__``, and ``oracle``/``_compute_bound``
(the contract is :class:`~mbdl_control.envs.base.PartiallyKnownEnv`).

An action must be an array of real numbers (floats or integers) of the action space's shape,
finite, and one whose step keeps the cost, the state and the observation finite: anything
else raises a ``ValueError`` and leaves the state as it was, so the env can go on (a step
refused for overflowing has drawn its noise all the same, as every step does whatever the
action). Unchecked, a string action was parsed, a complex one lost its imaginary part and an
action of ``1e200`` returned a reward of ``-inf`` from then on.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mbdl_control.envs.actions import as_actions
from mbdl_control.envs.base import PartiallyKnownEnv


def overflow_message(name: str, actions: np.ndarray, overflows: dict[str, np.ndarray]) -> str:
    """Why a step was refused: which quantities its ``actions`` would make non-finite."""
    quantities = " and the ".join(overflows)
    return (
        f"{name} {actions} would make the {quantities} non-finite (overflow): actions must keep "
        "the cost and the state finite; the step was not taken"
    )


def nonfinite_rows(cost: np.ndarray, x_next: np.ndarray) -> dict[str, np.ndarray]:
    """The rows a step made non-finite, as a mask per quantity (``{}`` when none): the
    ``overflows`` of dynamics whose observation is the state. The common case costs one scalar
    test."""
    if math.isfinite(np.sum(cost) + np.vdot(x_next, x_next)):
        return {}
    masks = {"cost": ~np.isfinite(cost), "next state": ~np.all(np.isfinite(x_next), axis=-1)}
    return {name: mask for name, mask in masks.items() if mask.any()}


class ControlEnv(PartiallyKnownEnv):
    """Base class: ``dynamics`` stepped for ``horizon`` steps from a drawn initial state."""

    task_metrics = ("saturated",)
    label_keys = ("state",)
    default_horizon = 100

    dynamics: Any
    _state: np.ndarray | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._state, observation = self.dynamics.reset(self._draw())
        self._record(x=self._state)
        return observation, {"state": self._state.copy()}

    def _draw(self) -> np.ndarray:
        return self.np_random.standard_normal(self.dynamics.draws)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        requested = as_actions("action", action, self.action_space)
        u, cost, saturated, state, observation = self.dynamics.step(
            self._state, requested, self._draw()
        )
        overflows = self.dynamics.overflows(cost, state, observation)
        if overflows:
            raise ValueError(overflow_message("action", requested, overflows))
        self._state = state
        cost = float(cost)
        self._record(x=self._state, u=u, cost=cost)
        info = {
            "cost": cost,
            "state": self._state.copy(),
            "applied_action": u.copy(),
            "saturated": float(saturated),
        }
        return observation, -cost, False, False, info

    def _render_text(self) -> str:
        """The true state and the last stage cost (0 right after ``reset``); the
        ``rgb_array`` frame charts the state, the applied input and the cost."""
        state = np.array2string(self._history["x"][-1], precision=3, suppress_small=True)
        costs = self._history.get("cost")
        return f"x = {state}, last cost = {costs[-1][0] if costs else 0.0:.3f}"
