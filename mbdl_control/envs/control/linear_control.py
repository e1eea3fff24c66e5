"""The shared machinery of the linear-Gaussian control envs (the docstrings live in the envs).

A subclass supplies the true :class:`LinearGaussianModel`, the fields its ``mismatch`` perturbs,
``oracle()`` and ``_compute_bound()`` (the contract is
:class:`~mbdl_control.envs.base.PartiallyKnownEnv`). This base validates actions and keeps
the episode;
the dynamics (clip the input to the physical bounds, pay ``xᵀQx + uᵀRu``, move, observe the
state or ``Cx + v``) are :class:`LinearGaussianDynamics`, shared with the batched envs
(:mod:`mbdl_control.envs.control.linear_control_vector`). Every call draws the same noise
variables whatever the action, so two agents run with the same episode seed see identical
disturbances (common random numbers).

An action must be an array of real numbers (floats or integers) of the action space's shape,
finite, and one whose step keeps the cost, the state and the observation finite: anything
else raises a ``ValueError`` and leaves the state as it was, so the env can go on (a step
refused for overflowing has drawn its noise all the same, as every step does whatever the
action). Unchecked, a string action was parsed, a complex one lost its imaginary part and an
action of ``1e200`` returned a reward of ``-inf`` from then on.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.blocks.riccati import lqr_steady_state
from mbdl_control.envs.actions import as_actions
from mbdl_control.envs.base import PartiallyKnownEnv
from mbdl_control.envs.control.linear_dynamics import LinearGaussianDynamics
from mbdl_control.models import LinearGaussianModel, perturb


def spectral_radius(matrix: np.ndarray) -> float:
    """``max |eig(M)|``."""
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


def overflow_message(name: str, actions: np.ndarray, overflows: dict[str, np.ndarray]) -> str:
    """Why a step was refused: which quantities its ``actions`` would make non-finite."""
    quantities = " and the ".join(overflows)
    return (
        f"{name} {actions} would make the {quantities} non-finite (overflow): actions must keep "
        "the cost and the state finite; the step was not taken"
    )


class LinearControlEnv(PartiallyKnownEnv):
    """Base class: a :class:`LinearGaussianModel` simulated for ``horizon`` steps."""

    #: fields of the true model that ``mismatch`` perturbs in the nominal model
    perturbed_fields: tuple[str, ...] = ("A", "B")
    task_metrics = ("saturated",)
    label_keys = ("state",)
    default_horizon = 100

    def __init__(
        self,
        true_model: LinearGaussianModel,
        mismatch: float = 0.0,
        mismatch_seed: int = 0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(mismatch, render_mode)
        self.true_model = true_model
        self.nominal_model = perturb(
            true_model, self.mismatch, np.random.default_rng(mismatch_seed), self.perturbed_fields
        )
        model = true_model
        obs_dim = model.p if model.C is not None else model.n
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float64)
        bound = np.full(model.m, np.inf) if model.u_max is None else model.u_max
        self.action_space = gym.spaces.Box(-bound, bound, (model.m,), np.float64)
        self.dynamics = LinearGaussianDynamics.of(model)
        self._state: np.ndarray | None = None

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

    def mismatch_report(self) -> dict[str, float]:
        """Distances between the true and nominal models: relative Frobenius errors per matrix,
        spectral radii of both ``A``, and the spectral radius of the truth in closed loop with
        the nominal model's LQR gain (``ρ(A − B K̂) < 1`` means the nominal LQR stabilizes it)."""
        true, nominal = self.true_model, self.nominal_model
        report = super().mismatch_report()
        report["spectral_radius_true_A"] = spectral_radius(true.A)
        report["spectral_radius_nominal_A"] = spectral_radius(nominal.A)
        gain, _ = lqr_steady_state(nominal)
        closed_loop = spectral_radius(true.A - true.B @ gain)
        report["closed_loop_spectral_radius_nominal_lqr"] = closed_loop
        report["nominal_lqr_stabilizes_truth"] = float(closed_loop < 1.0)
        return report
