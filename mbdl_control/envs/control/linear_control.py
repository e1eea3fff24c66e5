"""The shared machinery of the linear-Gaussian control envs (the docstrings live in the envs).

A subclass supplies the true :class:`LinearGaussianModel`, the fields its ``mismatch`` perturbs,
``oracle()`` and ``_compute_bound()`` (the contract is
:class:`~mbdl_control.envs.base.PartiallyKnownEnv`). This base builds the nominal model, the
spaces and the dynamics (clip the input to the physical bounds, pay ``xᵀQx + uᵀRu``, move,
observe the state or ``Cx + v``: :class:`LinearGaussianDynamics`, shared with the batched envs
of :mod:`mbdl_control.envs.control.control_vector`); the episode and the checks of the
actions are :class:`~mbdl_control.envs.control.control_env.ControlEnv`'s.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from mbdl_control.blocks.riccati import lqr_steady_state
from mbdl_control.envs.control.control_env import ControlEnv
from mbdl_control.envs.control.linear_dynamics import LinearGaussianDynamics
from mbdl_control.models import LinearGaussianModel, perturb


def spectral_radius(matrix: np.ndarray) -> float:
    """``max |eig(M)|``."""
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


class LinearControlEnv(ControlEnv):
    """Base class: a :class:`LinearGaussianModel` simulated for ``horizon`` steps."""

    #: fields of the true model that ``mismatch`` perturbs in the nominal model
    perturbed_fields: tuple[str, ...] = ("A", "B")

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
