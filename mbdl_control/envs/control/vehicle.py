"""``mbdl/VehiclePathTracking-v0``: a vehicle tracking a random path, steered through a wrong
model of its wheelbase, its throttle and its noise."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.envs.arguments import checked_arguments
from mbdl_control.envs.control.control_env import ControlEnv
from mbdl_control.envs.control.control_vector import ControlVectorEnv
from mbdl_control.envs.control.vehicle_dynamics import VehicleDynamics
from mbdl_control.models import relative_errors
from mbdl_control.models.vehicle import STEER_OFFSET_MAX, VehicleModel

#: the horizon of the oracle's MPC (20 periods: 4 s)
MPC_HORIZON = 20


def nominal_vehicle(true: VehicleModel, mismatch: float) -> VehicleModel:
    """The designer's vehicle: both inputs ``1 + mismatch`` times weaker than they are (the
    wheelbase that much longer, the acceleration gain that much smaller) and the noise that
    much larger."""
    return true.replace(
        wheelbase=true.wheelbase * (1 + mismatch),
        acceleration_gain=true.acceleration_gain / (1 + mismatch),
        noise_std=true.noise_std * (1 + mismatch),
    )


class VehiclePathTrackingEnv(ControlEnv):
    """
    ## Description

    Drive a kinematic bicycle along a path whose curvature and desired speed change at random,
    as Agrawal, Barratt, Boyd & Stellato, "Learning Convex Optimization Control Policies"
    (L4DC 2020, §6.2) code it: keep the lateral and heading errors small and the speed near
    the desired one, with little acceleration and steering. Its convex policy is not an LQR
    in disguise: the dynamics are nonlinear and the policy linearizes a two-step look-ahead.

    ## Action Space

    ``Box([-2, -2], [2, 2], (2,), float64)``: the acceleration ``a`` (m/s²) and ``z = tan δ −
    Lκ``, the steering beyond the path's own. The vehicle saturates them to its bounds
    ``|a| ≤ 2`` and ``|tan δ| = |z + Lκ| ≤ 0.68`` (``info["saturated"]`` is then 1.0; the
    published simulator left the bounds to the policy).

    ## Observation Space

    ``Box(-inf, inf, (6,), float64)``: the state ``(s, e, Δψ, v, v_des, κ)``: distance along
    the path, lateral and heading errors, speed, desired speed and the path's curvature.

    ## Transition Dynamics

    The kinematic bicycle of the published code over ``h = 0.2`` s with wheelbase ``L = 2.8``
    m (the model and its equations: ``mbdl_control.models.vehicle``).

    ## Noise Model

    Noise of standard deviations 0.1, 0.01 and 0.1 on ``e``, ``Δψ`` and ``v``; the desired speed
    redrawn ``U(3, 6)`` with probability 0.02 per period, the curvature redrawn ``N(0, 0.1²)``
    with probability 0.05; all from 7 normals of ``self.np_random`` per reset and step,
    whatever the action.

    ## Known vs Unknown

    The designer knows the form of the dynamics, the cost, the bounds and the path's
    statistics; its vehicle is off by ``mismatch = ε``: wheelbase ``(1 + ε)·2.8`` (steering
    ``1 + ε`` times weaker than it is), acceleration gain ``1/(1 + ε)`` (the truth's is 1) and
    the three noise levels ``(1 + ε)`` times the truth's.

    ## Reward

    ``−c`` with ``c = (v − v_des)² + e² + Δψ² + 10a² + 10z²`` on the state and the applied
    input of the period (the published timing).

    ## Starting State

    ``(s, e, Δψ, v, v_des, κ) = (0, 0.5, 0.1, 3, 4.5, 0)``, every episode.

    ## Episode End

    Truncation after ``max_episode_steps = 100`` periods (20 s).

    ## Oracle and Bound

    ``oracle()``: nonlinear MPC on the true vehicle (:class:`~mbdl_control.agents.NonlinearMPC`
    by sequential convex programming, horizon 20 = 4 s, planning on the expected path), the
    best known policy, not an optimal one. It was chosen over the other candidate, the
    published convex policy tuned on the truth by its published recipe, by a paired
    evaluation (200 episodes, seed 0): 0.871 against 0.939 per step. ``performance_bound()``:
    ``None``; no lower bound is known for this constrained nonlinear problem with random
    jumps.

    ## Arguments

    ``mismatch`` (≥ 0), ``render_mode`` (``None``, ``"ansi"`` or ``"rgb_array"``).

    ## Version History

    * v0: initial version, with a native batched version (``gym.make_vec``).
    """

    @checked_arguments()
    def __init__(self, mismatch: float = 0.0, render_mode: str | None = None) -> None:
        super().__init__(mismatch, render_mode)
        self.true_model = VehicleModel()
        self.nominal_model = nominal_vehicle(self.true_model, self.mismatch)
        bound = np.array([self.true_model.accel_max, STEER_OFFSET_MAX])
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (6,), np.float64)
        self.action_space = gym.spaces.Box(-bound, bound, (2,), np.float64)
        self.dynamics = VehicleDynamics(self.true_model)

    def oracle(self, horizon: int | None = None) -> Any:
        """MPC on the truth, chosen over the tuned convex policy (Oracle and Bound above)."""
        from mbdl_control.agents.model_based.nonlinear_mpc import NonlinearMPC  # lazily

        return NonlinearMPC(self.true_model, MPC_HORIZON, knowledge="true")

    def _compute_bound(self, horizon: int) -> None:
        return None

    def mismatch_report(self) -> dict[str, float]:
        report = relative_errors(self.true_model, self.nominal_model)
        for name in ("wheelbase", "acceleration_gain"):
            true, nominal = getattr(self.true_model, name), getattr(self.nominal_model, name)
            report[f"rel_error_{name}"] = abs(nominal - true) / true
        return report


class VehiclePathTrackingVectorEnv(ControlVectorEnv):
    """``mbdl/VehiclePathTracking-v0`` batched, built by ``gym.make_vec(id, num_envs)``."""

    single_env_class = VehiclePathTrackingEnv
