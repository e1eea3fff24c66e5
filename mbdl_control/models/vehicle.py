r"""The path-tracking vehicle of Agrawal, Barratt, Boyd & Stellato, "Learning Convex
Optimization Control Policies" (L4DC 2020, §6.2), as their code writes it: a kinematic
bicycle following a path of random curvature at a random desired speed.

The state is ``x = (s, e, Δψ, v, v_des, κ)``: distance along the path, lateral error, heading
error, speed, desired speed and the path's curvature; the input ``u = (a, z)``: acceleration
and ``z = tan δ − Lκ``, the steering beyond the path's own (``δ`` the steering angle, ``L`` the
wheelbase). Over a period ``h``, with the acceleration gain ``g`` (1 on the published vehicle),

.. math::

    s^+ = s + \frac{h v \cos\Delta\psi}{1 - e\kappa},\quad
    e^+ = e + h v \sin\Delta\psi + \sigma_e w_1,\quad
    \Delta\psi^+ = \Delta\psi + h v\Big(\kappa + \frac zL
        - \frac{\kappa\cos\Delta\psi}{1 - e\kappa}\Big) + \sigma_\psi w_2,\quad
    v^+ = v + h g a + \sigma_v w_3,

``v_des`` kept with probability ``p_v`` and otherwise redrawn ``U(v_lo, v_hi)``, ``κ`` kept with
probability ``p_κ`` and otherwise redrawn ``N(0, σ_κ²)``. The stage cost is
``(v − v_des)² + e² + Δψ² + 10a² + 10z²``; the vehicle's bounds are ``|a| ≤ 2`` and
``|tan δ| = |z + Lκ| ≤ 0.68``.

:meth:`VehicleModel.transition` takes the 7 standard normals of a period and draws everything
from them (the jumps through ``Φ``), for numpy arrays and torch tensors alike, so the env, a
designer's simulation and a training share one function; :meth:`VehicleModel.step` is the
expected next state, which model predictive control plans with
(:class:`~mbdl_control.agents.NonlinearMPC`: the model gives its cost weights, Jacobians,
state-dependent input bounds and terminal weight).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from mbdl_control.models.linear_gaussian import LinearStructure, _freeze_vector
from mbdl_control.models.required import required
from mbdl_control.models.state_space import (
    array_namespace,
    complex_step_jacobians,
    matrix_like,
)
from mbdl_control.models.value_model import ValueModel, checked_scalar

Array = Any  # np.ndarray or torch.Tensor

#: the state's components, by name
S, E, HEADING, SPEED, DESIRED, CURVATURE = range(6)
#: the positive physical parameters
POSITIVE = ("wheelbase", "dt", "acceleration_gain", "accel_max", "steer_max")
#: the probabilities of keeping the desired speed and the curvature for another period
PROBABILITIES = ("speed_keep", "curvature_keep")
#: the standard normals a period consumes: two jumps (whether, and the new value) each for the
#: desired speed and the curvature, and the noise on e, Δψ and v
DRAWS = 7
#: the action box's bound on ``z``: ``|tan δ| ≤ 0.68`` holds with ``|z| ≤ 2`` on curves up to
#: ``|κ| ≤ (2 − 0.68)/L ≈ 0.47`` (4.7 σ); sharper curves still steer, clipped by the vehicle
STEER_OFFSET_MAX = 2.0


def _normal_cdf(z: Array) -> Array:
    xp = array_namespace(z)
    return ndtr(z) if xp is np else xp.special.ndtr(z)


def _join(xp: Any, parts: tuple[Array, ...]) -> Array:
    return np.concatenate(parts, -1) if xp is np else xp.cat(parts, -1)


@dataclass(frozen=True, eq=False)
class VehicleModel(ValueModel):
    """A kinematic bicycle on a random path, its cost, bounds and start (published values).

    Parameters
    ----------
    wheelbase, dt, acceleration_gain:
        ``L`` (m), the period ``h`` (s) and ``g`` in ``v⁺ = v + h g a``.
    noise_std:
        Standard deviations of the noise on ``(e, Δψ, v)``.
    speed_keep, speed_low, speed_high:
        ``p_v`` and the range of a redrawn desired speed (m/s).
    curvature_keep, curvature_std:
        ``p_κ`` and the spread of a redrawn curvature (1/m).
    accel_max, steer_max:
        The bounds ``|a| ≤ accel_max``, ``|tan δ| ≤ steer_max``.
    weights:
        The cost's weights on ``(v − v_des)², e², Δψ², a², z²``.
    x0:
        The initial state (deterministic).
    """

    wheelbase: float = 2.8
    dt: float = 0.2
    acceleration_gain: float = 1.0
    noise_std: np.ndarray = dataclasses.field(default_factory=lambda: np.array([0.1, 0.01, 0.1]))
    speed_keep: float = 0.98
    speed_low: float = 3.0
    speed_high: float = 6.0
    curvature_keep: float = 0.95
    curvature_std: float = 0.1
    accel_max: float = 2.0
    steer_max: float = 0.68
    weights: np.ndarray = dataclasses.field(
        default_factory=lambda: np.array([1.0, 1.0, 1.0, 10.0, 10.0])
    )
    x0: np.ndarray = dataclasses.field(
        default_factory=lambda: np.array([0.0, 0.5, 0.1, 3.0, 4.5, 0.0])
    )

    n = 6
    m = 2

    def __post_init__(self) -> None:
        for name, length in (("noise_std", 3), ("weights", 5), ("x0", 6)):
            vector = _freeze_vector(name, getattr(self, name), length)
            if name != "x0" and (vector < 0).any():
                raise ValueError(f"{name} must be >= 0, got {vector}")
            object.__setattr__(self, name, vector)
        for name in (*POSITIVE, "speed_low", "speed_high", "curvature_std", *PROBABILITIES):
            value = checked_scalar(name, getattr(self, name), positive=name in POSITIVE)
            object.__setattr__(self, name, value)
        for name in PROBABILITIES:
            if getattr(self, name) > 1:
                raise ValueError(
                    f"{name} must be a probability in [0, 1], got {getattr(self, name)}"
                )
        if self.speed_low > self.speed_high:
            raise ValueError(
                f"speed_low must be <= speed_high, got {self.speed_low} > {self.speed_high}"
            )

    @property
    def Q(self) -> np.ndarray:  # noqa: N802 (the weight's name in every control text)
        """The stage cost's state weight: ``xᵀQx = (v − v_des)² + e² + Δψ²`` (weighted)."""
        speed, lateral, heading = self.weights[:3]
        Q = np.zeros((self.n, self.n))
        Q[E, E], Q[HEADING, HEADING] = lateral, heading
        Q[np.ix_([SPEED, DESIRED], [SPEED, DESIRED])] = speed * np.array([[1, -1], [-1, 1]])
        return Q

    @property
    def R(self) -> np.ndarray:  # noqa: N802
        """The stage cost's input weight ``diag(10, 10)``."""
        return np.diag(self.weights[3:])

    @property
    def terminal_weight(self) -> np.ndarray:
        """Model predictive control's weight on its last predicted state: the stage's ``Q``
        (the path has no equilibrium to take a Riccati cost-to-go at: ``s`` grows and
        ``v_des`` cannot be steered)."""
        return self.Q

    def jacobians(self, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(A, B)`` of :meth:`step` at states ``(..., 6)`` and inputs ``(..., 2)``, by the
        complex step (:func:`~mbdl_control.models.state_space.complex_step_jacobians`)."""
        return complex_step_jacobians(self.step, x, u)

    @property
    def mean_desired_speed(self) -> float:
        """The mean of a redrawn desired speed, ``(v_lo + v_hi)/2``."""
        return 0.5 * (self.speed_low + self.speed_high)

    def kinematics(self, x: Array, u: Array) -> Array:
        """The noise-free ``(s, e, Δψ, v)⁺`` ``(..., 4)`` at states ``(..., 6)`` and inputs
        ``(..., 2)`` (module docstring)."""
        xp = array_namespace(x)
        e, heading, speed, curvature = x[..., E], x[..., HEADING], x[..., SPEED], x[..., CURVATURE]
        along = 1 - e * curvature
        h = self.dt
        return xp.stack(
            (
                x[..., S] + h * speed * xp.cos(heading) / along,
                e + h * speed * xp.sin(heading),
                heading
                + h
                * speed
                * (curvature + u[..., 1] / self.wheelbase - curvature * xp.cos(heading) / along),
                speed + h * self.acceleration_gain * u[..., 0],
            ),
            -1,
        )

    def step(self, x: Array, u: Array, wrap: bool = True) -> Array:
        """The expected next state: the kinematics, ``E v_des⁺ = p_v v_des + (1 − p_v) v̄`` and
        ``E κ⁺ = p_κ κ`` (``wrap`` is accepted for the nonlinear-MPC protocol; no angle is
        wrapped)."""
        xp = array_namespace(x)
        desired = (
            self.speed_keep * x[..., DESIRED] + (1 - self.speed_keep) * self.mean_desired_speed
        )
        return _join(
            xp,
            (
                self.kinematics(x, u),
                desired[..., None],
                self.curvature_keep * x[..., CURVATURE : CURVATURE + 1],
            ),
        )

    def transition(self, x: Array, u: Array, z: Array) -> Array:
        """The next state ``(..., 6)`` drawn from the 7 standard normals ``z`` ``(..., 7)``: the
        desired speed jumps when ``Φ(z₁) ≥ p_v``, to ``v_lo + (v_hi − v_lo)Φ(z₂)``; the curvature
        when ``Φ(z₃) ≥ p_κ``, to ``σ_κ z₄``; ``z₅₋₇`` scale the noise on ``(e, Δψ, v)``."""
        xp = array_namespace(x)
        uniform = _normal_cdf(z[..., [0, 1, 2]])
        redrawn_speed = self.speed_low + (self.speed_high - self.speed_low) * uniform[..., 1]
        desired = xp.where(uniform[..., 0] < self.speed_keep, x[..., DESIRED], redrawn_speed)
        curvature = xp.where(
            uniform[..., 2] < self.curvature_keep,
            x[..., CURVATURE],
            self.curvature_std * z[..., 3],
        )
        moved = self.kinematics(x, u)
        noise = z[..., 4:7] * matrix_like(self.noise_std, z)
        return _join(
            xp, (moved[..., :1], moved[..., 1:] + noise, desired[..., None], curvature[..., None])
        )

    def stage_cost(self, x: Array, u: Array) -> Array:
        """``(v − v_des)² + e² + Δψ² + 10a² + 10z²`` per row (the published weights)."""
        w = self.weights
        return (
            w[0] * (x[..., SPEED] - x[..., DESIRED]) ** 2
            + w[1] * x[..., E] ** 2
            + w[2] * x[..., HEADING] ** 2
            + w[3] * u[..., 0] ** 2
            + w[4] * u[..., 1] ** 2
        )

    def input_bounds(self, x: Array) -> tuple[Array, Array]:
        """``(lower, upper)`` ``(..., 2)`` of the inputs at states ``x``: ``|a| ≤ a_max`` and
        ``|z + Lκ| ≤ steer_max``."""
        xp = array_namespace(x)
        shift = self.wheelbase * x[..., CURVATURE]
        accel = xp.full_like(shift, self.accel_max)
        upper = xp.stack((accel, self.steer_max - shift), -1)
        lower = xp.stack((-accel, -self.steer_max - shift), -1)
        return lower, upper

    def saturate(self, x: Array, u: Array) -> Array:
        """``u`` clipped to :meth:`input_bounds` at ``x`` (what the vehicle applies)."""
        lower, upper = self.input_bounds(x)
        xp = array_namespace(x)
        return xp.minimum(xp.maximum(u, lower), upper)

    def initial_states(self, count: int, like: Array | None = None) -> Array:
        """``count`` copies of ``x0``, as numpy rows or as torch rows of ``like``'s dtype."""
        if like is None or array_namespace(like) is np:
            return np.tile(self.x0, (count, 1))
        return matrix_like(self.x0, like).repeat(count, 1)

    def structure(self) -> LinearStructure:
        """The form without the numbers: 6 observed states, 2 inputs, the acceleration bound
        and the largest steering offset the action box allows."""
        return LinearStructure(self.n, self.m, 0, np.array([self.accel_max, STEER_OFFSET_MAX]))


def require_vehicle(owner: str, model: object) -> VehicleModel:
    """``model``, or a ``TypeError`` saying that ``owner`` is built on a vehicle model."""
    return required(owner, model, VehicleModel, "a mbdl/VehiclePathTracking-v0 model")
