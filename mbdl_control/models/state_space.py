r"""The Gaussian state-space model: what an estimation designer may know about a tracked system.

.. math::

    x_{t+1} = f(x_t) + G u_t + w_t,\quad w_t \sim \mathcal N(0, W),\qquad
    y_t = h(x_t) + v_t,\quad v_t \sim \mathcal N(0, V),\qquad
    x_0 \sim \mathcal N(\bar x_0, \Sigma_0),

with the transition ``f`` and the observation ``h`` one of the maps below: :class:`LinearMap`
(``f(x) = F x``, ``h(x) = H x``: the linear canonical model of KalmanNet), :class:`LorenzFlow`
(the Lorenz attractor discretized by a Taylor expansion of the matrix exponential, as in
KalmanNet: Revach, Shlezinger, Ni, Escoriza, van Sloun & Eldar, IEEE TSP 70, 2022) and
:class:`Spherical` (``h`` = range and two angles). The input term ``G u`` is there so that a
controlled linear system (:class:`~mbdl_control.models.LinearGaussianModel`, by
:func:`state_space_of`) is a state-space model too: its estimators then serve inside LQG.

Every map takes one row ``(n,)`` or a batch ``(..., n)`` of numpy arrays *or* torch tensors
and answers in kind, so the same model drives the numpy envs, the numpy filters, autograd
Jacobians (EKF) and networks trained through the filter (KalmanNet).

The same frozen dataclass is the truth an env simulates and the nominal model a designer is
handed; each env's docstring says how ``mismatch`` changes ``f`` or ``h``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from mbdl_control.models.linear_gaussian import (
    LinearGaussianModel,
    _as_covariance,
    _as_matrix,
    _freeze_vector,
)
from mbdl_control.models.required import required

Array = Any  # np.ndarray or torch.Tensor


def array_namespace(array: Array) -> ModuleType:
    """``numpy`` or ``torch``, whichever ``array`` belongs to (both have ``stack``, ``sqrt``,
    ``arctan2``, ``arccos``)."""
    if isinstance(array, np.ndarray | np.generic | float | int):
        return np
    import torch  # only when given tensors

    return torch


def complex_step_jacobians(
    step: Callable[[np.ndarray, np.ndarray], np.ndarray], x: np.ndarray, u: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)``: ``∂f/∂x`` ``(..., n, n)`` and ``∂f/∂u`` ``(..., n, m)`` of ``step(x, u)`` at
    states ``(..., n)`` and inputs ``(..., m)``, by the complex step ``Im f(x + i h e_j)/h``
    with ``h = 1e-30`` (Squire & Trapp, SIAM Review 40(1), 1998): no difference is taken, so
    no cancellation, and the result is exact to rounding for any ``f`` written in analytic
    numpy operations; all directions in one call (about 30 times faster than torch autograd
    on a 20-step plan of the cart-pole)."""
    n, m = x.shape[-1], u.shape[-1]
    h = 1e-30
    directions = np.eye(n + m) * 1j * h
    points = np.concatenate((x, u), -1)[..., None, :] + directions  # (..., n + m, n + m)
    images = np.imag(step(points[..., :n], points[..., n:])) / h
    jacobian = np.swapaxes(images, -1, -2)  # (..., n, n + m): column j is ∂f/∂(x, u)_j
    return jacobian[..., :n], jacobian[..., n:]


def matrix_like(matrix: np.ndarray, like: Array) -> Array:
    """``matrix`` as an array of ``like``'s kind (a tensor of its dtype and device)."""
    if array_namespace(like) is np:
        return matrix
    import torch

    return torch.tensor(matrix, dtype=like.dtype, device=like.device)  # a copy: ours is frozen


@dataclass(frozen=True, eq=False)
class LinearMap:
    """``x ↦ M x`` for a ``(rows, n)`` matrix ``M``."""

    matrix: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "matrix", _as_matrix("matrix", self.matrix))

    @property
    def outputs(self) -> int:
        return self.matrix.shape[0]

    def __call__(self, x: Array) -> Array:
        return x @ matrix_like(self.matrix, x).T

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinearMap) and np.array_equal(self.matrix, other.matrix)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class LorenzFlow:
    r"""One sampling interval ``Δt`` of the Lorenz attractor ``ẋ = A(x) x``,

    .. math::

        A(x) = \begin{pmatrix} -\sigma & \sigma & 0\\ \rho - x_3 & -1 & 0\\ x_2 & 0 & -\beta
        \end{pmatrix},\qquad
        x \mapsto \Big(\sum_{j=0}^{J} \frac{(A(x)\,\delta)^j}{j!}\Big) x\quad
        \text{applied } k \text{ times},\ \delta = \Delta t / k,

    the order-``J`` Taylor expansion of the matrix exponential of KalmanNet's Lorenz model
    (``J = 5``, ``Δt = 0.02`` published; ``k = substeps = 1``). ``k > 1`` integrates the same
    interval in finer steps: the truth of the published decimation case (``Δt = 10⁻⁵``,
    ``k = 2000``); the designer's model there is ``J = 2``, ``k = 1``. Only the products
    ``A(x) v`` are formed (three multiplications per row), never the matrix.
    """

    dt: float = 0.02
    order: int = 5
    substeps: int = 1
    sigma: float = 10.0
    rho: float = 28.0
    beta: float = 8.0 / 3.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"dt must be a positive finite float, got {self.dt!r}")
        for name in ("order", "substeps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("sigma", "rho", "beta"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)!r}")

    outputs = 3

    def _times_a(self, x: Array, v: Array) -> Array:
        """``A(x) v`` for rows ``x``, ``v``."""
        xp = array_namespace(x)
        v1, v2, v3 = v[..., 0], v[..., 1], v[..., 2]
        return xp.stack(
            [
                self.sigma * (v2 - v1),
                (self.rho - x[..., 2]) * v1 - v2,
                x[..., 1] * v1 - self.beta * v3,
            ],
            -1,
        )

    def __call__(self, x: Array) -> Array:
        if x.shape[-1] != 3:
            raise ValueError(f"the Lorenz state has 3 entries, got rows of {x.shape[-1]}")
        step = self.dt / self.substeps
        for _ in range(self.substeps):
            term, total = x, x
            for j in range(1, self.order + 1):
                term = self._times_a(x, term) * (step / j)
                total = total + term
            x = total
        return x


@dataclass(frozen=True)
class Spherical:
    """``h(x) = (‖x‖, atan2(x_2, x_1), arccos(x_3/‖x‖))``: range, azimuth and polar angle
    of a 3-D position, KalmanNet's nonlinear Lorenz observation (its azimuth wrapped to
    ``[0, 2π)``; here ``atan2``'s ``(−π, π]``, one jump fewer near the attractor's lobes)."""

    outputs = 3

    def __call__(self, x: Array) -> Array:
        xp = array_namespace(x)
        radius = xp.sqrt((x * x).sum(-1))
        polar = xp.arccos(xp.clip(x[..., 2] / (radius + 1e-12), -1.0, 1.0))
        return xp.stack([radius, xp.arctan2(x[..., 1], x[..., 0]), polar], -1)


Map = LinearMap | LorenzFlow | Spherical


def rotation(dimension: int, angle: float) -> np.ndarray:
    """The ``dimension × dimension`` rotation by ``angle`` (radians) in the plane of the first
    two coordinates (``[[cos, −sin], [sin, cos]]`` there, identity elsewhere)."""
    matrix = np.eye(dimension)
    if dimension >= 2:
        c, s = math.cos(angle), math.sin(angle)
        matrix[:2, :2] = [[c, -s], [s, c]]
    return matrix


def roll_pitch_yaw(angle: float) -> np.ndarray:
    """``R_z(α) R_y(α) R_x(α)``: the 3-D rotation by ``angle`` about every axis, KalmanNet's
    rotated Lorenz observation (α = 1°)."""
    c, s = math.cos(angle), math.sin(angle)
    roll = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    pitch = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    yaw = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return yaw @ pitch @ roll


@dataclass(frozen=True)
class StateSpaceStructure:
    """The form of a state-space model without its numbers: state, measurement and input
    dimensions (``m = 0``: no input)."""

    n: int
    p: int
    m: int = 0


@dataclass(frozen=True, eq=False)
class StateSpaceModel:
    """``f`` (``transition``), ``h`` (``observation``), the noise covariances ``W`` and ``V``,
    the prior ``N(x0_mean, x0_cov)`` and the optional input matrix ``G`` of the module
    docstring, validated at construction.

    Raises ``ValueError`` naming the field: a map that is not one of :data:`Map`, a map whose
    output size disagrees with ``W`` or ``V``, a covariance that is not symmetric PSD (``V``
    positive definite), a non-finite entry.
    """

    transition: Map
    observation: Map
    W: np.ndarray
    V: np.ndarray
    x0_mean: np.ndarray
    x0_cov: np.ndarray
    G: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("transition", "observation"):
            if not isinstance(getattr(self, name), LinearMap | LorenzFlow | Spherical):
                raise ValueError(
                    f"{name} must be a LinearMap, LorenzFlow or Spherical, "
                    f"got {type(getattr(self, name)).__name__}"
                )
        n = np.shape(self.W)[0] if np.ndim(self.W) == 2 else -1
        if self.transition.outputs != n:
            raise ValueError(
                f"the transition maps to {self.transition.outputs} states but W is "
                f"{np.shape(self.W)}"
            )
        if isinstance(self.transition, LinearMap) and self.transition.matrix.shape != (n, n):
            raise ValueError(f"F must be square ({n} by {n}), got {self.transition.matrix.shape}")
        if isinstance(self.observation, LinearMap) and self.observation.matrix.shape[1] != n:
            raise ValueError(
                f"H must have {n} columns (the state dimension), got "
                f"{self.observation.matrix.shape}"
            )
        if isinstance(self.observation, LorenzFlow | Spherical) and n != 3:
            raise ValueError(
                f"a {type(self.observation).__name__} observation reads 3 states, the model has {n}"
            )
        p = self.observation.outputs
        values = {
            "W": _as_covariance("W", self.W, n, definite=False),
            "V": _as_covariance("V", self.V, p, definite=True),
            "x0_mean": _freeze_vector("x0_mean", self.x0_mean, n),
            "x0_cov": _as_covariance("x0_cov", self.x0_cov, n, definite=False),
        }
        if self.G is not None:
            G = _as_matrix("G", self.G)
            if G.shape[0] != n:
                raise ValueError(f"G must have {n} rows (the state dimension), got {G.shape}")
            values["G"] = G
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def n(self) -> int:
        """State dimension."""
        return self.W.shape[0]

    @property
    def p(self) -> int:
        """Measurement dimension."""
        return self.V.shape[0]

    @property
    def m(self) -> int:
        """Input dimension (0 without ``G``)."""
        return 0 if self.G is None else self.G.shape[1]

    @property
    def is_linear(self) -> bool:
        """Whether ``f`` and ``h`` are both linear (the Kalman filter is then exact)."""
        return isinstance(self.transition, LinearMap) and isinstance(self.observation, LinearMap)

    def f(self, x: Array, u: Array | None = None) -> Array:
        """``f(x) + G u`` (``f(x)`` without an input)."""
        moved = self.transition(x)
        return moved if u is None or self.G is None else moved + u @ matrix_like(self.G, u).T

    def h(self, x: Array) -> Array:
        """``h(x)``."""
        return self.observation(x)

    def structure(self) -> StateSpaceStructure:
        """What ``structure`` knowledge holds of this model: its dimensions."""
        return StateSpaceStructure(self.n, self.p, self.m)

    def replace(self, **changes: object) -> StateSpaceModel:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StateSpaceModel):
            return NotImplemented
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, np.ndarray) or isinstance(theirs, np.ndarray):
                if mine is None or theirs is None or not np.array_equal(mine, theirs):
                    return False
            elif mine != theirs:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


def state_space_of(model: LinearGaussianModel | StateSpaceModel) -> StateSpaceModel:
    """``model`` as a state-space model: a linear-Gaussian one with measurements becomes
    ``f(x) = A x``, ``G = B``, ``h(x) = C x`` (its cost and input bounds are not part of
    estimation); a state-space model is returned as is."""
    if isinstance(model, StateSpaceModel):
        return model
    if isinstance(model, LinearGaussianModel):
        if model.C is None:
            raise ValueError(
                "an estimator needs a measurement model: this linear-Gaussian model's C and V "
                "are None (its state is observed)"
            )
        return StateSpaceModel(
            LinearMap(model.A),
            LinearMap(model.C),
            model.W,
            model.V,
            model.x0_mean,
            model.x0_cov,
            G=model.B,
        )
    raise TypeError(
        "an estimator is built on a StateSpaceModel or a LinearGaussianModel with measurements "
        f"(an env's true_model or nominal_model), got {type(model).__name__}"
    )


def require_state_space(owner: str, model: object) -> StateSpaceModel:
    """``model`` as a :class:`StateSpaceModel` (a linear-Gaussian one with measurements is
    converted by :func:`state_space_of`), or a ``TypeError`` saying what ``owner`` is built on."""
    if isinstance(model, LinearGaussianModel):
        return state_space_of(model)
    return required(owner, model, StateSpaceModel, "an env's true_model or nominal_model")


def require_state_space_structure(owner: str, structure: object) -> StateSpaceStructure:
    """``structure``, or a ``TypeError`` saying that ``owner`` is built on an env's
    ``structure()`` of a state-space model."""
    return required(owner, structure, StateSpaceStructure, "an env's structure()")
