r"""The cart-pole: a pole hinged on a cart pushed by a bounded force, with viscous friction.

The equations of Barto, Sutton & Anderson, "Neuronlike adaptive elements that can solve
difficult learning control problems" (IEEE SMC 13(5), 1983), as corrected by Florian
("Correct equations for the dynamics of the cart-pole system", 2007), with the pole a uniform
rod of half-length ``l`` (moment of inertia ``(4/3) m l²`` about the hinge) and *viscous*
friction (``b_c ẋ`` on the cart, ``b_p θ̇`` at the hinge) instead of Coulomb friction, so that
the dynamics are smooth and their Jacobians exist everywhere. With ``θ = 0`` upright,
``s = sin θ``, ``c = cos θ``, force ``F`` and total mass ``M + m``:

.. math::

    \tau = \frac{F + m l \dot\theta^2 s - b_c \dot x}{M + m},\qquad
    \ddot\theta = \frac{g s - c\,\tau - b_p \dot\theta / (m l)}
        {l\,\big(\tfrac43 - \tfrac{m c^2}{M + m}\big)},\qquad
    \ddot x = \tau - \frac{m l \ddot\theta c}{M + m},

integrated by semi-implicit Euler over ``dt`` (velocities first, then the positions with the
new velocities: Gymnasium's ``CartPole`` option, which keeps the energy of the undamped
pendulum bounded where explicit Euler lets it grow). The angle is wrapped to ``[-π, π)``.

The state is ``x = (x, ẋ, θ, θ̇)``, the input ``u = (F,)``. :meth:`CartPoleModel.step` takes one
row or a batch, of numpy arrays or torch tensors, and answers in kind: the same function drives
the env, the controllers' predictions and autograd Jacobians. :meth:`CartPoleModel.linearized`
is the linear-Gaussian model of the upright equilibrium, which the linear agents (LQR, MPC, the
convex policies) are built on; :meth:`CartPoleModel.jacobians` linearizes anywhere, by the
complex step, exact to rounding (Squire & Trapp, SIAM Review 40(1), 1998).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mbdl_control.models.linear_gaussian import (
    LinearGaussianModel,
    LinearStructure,
    _as_covariance,
    _freeze_vector,
)
from mbdl_control.models.required import required
from mbdl_control.models.state_space import array_namespace, complex_step_jacobians
from mbdl_control.models.value_model import ValueModel, checked_scalar

Array = Any  # np.ndarray or torch.Tensor

#: the physical parameters, each a positive finite float
PARAMETERS = ("cart_mass", "pole_mass", "pole_length", "gravity", "dt", "force_max")
#: the friction coefficients, each a finite float ≥ 0
FRICTIONS = ("cart_friction", "pole_friction")
#: the index of the angle in the state
ANGLE = 2


def wrap_angle(theta: Array) -> Array:
    """``θ`` wrapped to ``[-π, π)``, for numpy arrays and torch tensors alike."""
    return (theta + math.pi) % (2 * math.pi) - math.pi


def with_wrapped_angle(x: Array) -> Array:
    """States ``(..., 4)`` with the angle wrapped, a new array or tensor (out of place, so an
    autograd graph through ``x`` stays intact)."""
    xp = array_namespace(x)
    join = np.concatenate if xp is np else xp.cat
    return join((x[..., :ANGLE], wrap_angle(x[..., ANGLE : ANGLE + 1]), x[..., ANGLE + 1 :]), -1)


@dataclass(frozen=True, eq=False)
class CartPoleModel(ValueModel):
    """A cart-pole with its stage cost ``xᵀQx + uᵀRu``, process noise and initial state.

    Parameters
    ----------
    cart_mass, pole_mass, pole_length:
        ``M`` (kg), ``m`` (kg) and the pole's half-length ``l`` (m).
    cart_friction, pole_friction:
        Viscous coefficients ``b_c`` (N·s/m) and ``b_p`` (N·m·s/rad); zero omits them.
    gravity, dt, force_max:
        ``g`` (m/s²), the sampling period (s) and the actuator's bound ``|F| ≤ force_max`` (N).
    Q, R:
        Stage cost weights ``(4, 4)`` and ``(1, 1)``.
    W:
        Process noise covariance ``(4, 4)``, added to the state after each step.
    x0_mean, x0_cov:
        The initial state's distribution (the angle of ``x0_mean`` is taken as given).
    """

    cart_mass: float = 1.0
    pole_mass: float = 0.1
    pole_length: float = 0.5
    cart_friction: float = 0.0
    pole_friction: float = 0.0
    gravity: float = 9.81
    dt: float = 0.02
    force_max: float = 10.0
    Q: np.ndarray = dataclasses.field(default_factory=lambda: np.diag([1.0, 0.1, 10.0, 0.1]))
    R: np.ndarray = dataclasses.field(default_factory=lambda: np.array([[0.01]]))
    W: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((4, 4)))
    x0_mean: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(4))
    x0_cov: np.ndarray = dataclasses.field(default_factory=lambda: np.eye(4) * 0.01)

    def __post_init__(self) -> None:
        for name in (*PARAMETERS, *FRICTIONS):
            value = checked_scalar(name, getattr(self, name), positive=name in PARAMETERS)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "Q", _as_covariance("Q", self.Q, 4, definite=False))
        object.__setattr__(self, "R", _as_covariance("R", self.R, 1, definite=True))
        object.__setattr__(self, "W", _as_covariance("W", self.W, 4, definite=False))
        object.__setattr__(self, "x0_mean", _freeze_vector("x0_mean", self.x0_mean, 4))
        object.__setattr__(self, "x0_cov", _as_covariance("x0_cov", self.x0_cov, 4, definite=False))

    n = 4
    m = 1

    @property
    def u_max(self) -> np.ndarray:
        return np.array([self.force_max])

    def accelerations(self, x: Array, u: Array) -> tuple[Array, Array]:
        """``(ẍ, θ̈)`` at states ``(..., 4)`` and forces ``(..., 1)`` (module docstring)."""
        xp = array_namespace(x)
        velocity, theta, rate = x[..., 1], x[..., ANGLE], x[..., 3]
        sin, cos = xp.sin(theta), xp.cos(theta)
        total = self.cart_mass + self.pole_mass
        arm = self.pole_mass * self.pole_length
        tau = (u[..., 0] + arm * rate**2 * sin - self.cart_friction * velocity) / total
        theta_acc = (self.gravity * sin - cos * tau - self.pole_friction * rate / arm) / (
            self.pole_length * (4.0 / 3.0 - self.pole_mass * cos**2 / total)
        )
        return tau - arm * theta_acc * cos / total, theta_acc

    def step(self, x: Array, u: Array, wrap: bool = True) -> Array:
        """The next state (noise-free) by semi-implicit Euler, the angle wrapped unless
        ``wrap=False`` (a controller's prediction keeps it continuous)."""
        xp = array_namespace(x)
        x_acc, theta_acc = self.accelerations(x, u)
        velocity = x[..., 1] + self.dt * x_acc
        rate = x[..., 3] + self.dt * theta_acc
        theta = x[..., ANGLE] + self.dt * rate
        if wrap:
            theta = wrap_angle(theta)
        return xp.stack((x[..., 0] + self.dt * velocity, velocity, theta, rate), -1)

    def jacobians(self, x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(A, B)``: ``∂f/∂x`` ``(..., 4, 4)`` and ``∂f/∂u`` ``(..., 4, 1)`` of the step
        (angle unwrapped) at states ``(..., 4)`` and forces ``(..., 1)``, by the complex step
        (:func:`~mbdl_control.models.state_space.complex_step_jacobians`)."""
        return complex_step_jacobians(lambda x, u: self.step(x, u, False), x, u)

    def linearized(self) -> LinearGaussianModel:
        """The linear-Gaussian model of the upright equilibrium ``x = 0, F = 0`` (``A``, ``B``
        from :meth:`jacobians`), with the same cost, noise, initial state and input bound."""
        A, B = self.jacobians(np.zeros(self.n), np.zeros(self.m))
        return LinearGaussianModel(
            A=A,
            B=B,
            W=self.W,
            Q=self.Q,
            R=self.R,
            x0_mean=self.x0_mean,
            x0_cov=self.x0_cov,
            u_max=self.u_max,
        )

    def structure(self) -> LinearStructure:
        """The form without the numbers: 4 states, one force, its bound; the state observed."""
        return LinearStructure(self.n, self.m, 0, self.u_max)


def require_cart_pole(owner: str, model: object) -> CartPoleModel:
    """``model``, or a ``TypeError`` saying that ``owner`` is built on a cart-pole model."""
    return required(owner, model, CartPoleModel, "a mbdl/CartPole-v0 true_model or nominal_model")
