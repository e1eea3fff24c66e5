r"""The linear-Gaussian model: what a control designer may know about a linear system.

.. math::

    x_{t+1} = A x_t + B u_t + w_t,\quad w_t \sim \mathcal N(0, W)

    y_t = C x_t + v_t,\quad v_t \sim \mathcal N(0, V)\qquad\text{(when } C \text{ is given)}

    \ell(x, u) = x^\top Q x + u^\top R u,\qquad x_0 \sim \mathcal N(\bar x_0, \Sigma_0),
    \qquad |u_i| \le u_{\max,i}.

The same frozen dataclass describes the truth an env simulates and the nominal model a designer
is handed; "partially known" means ``env.true_model != env.nominal_model``. The pure functions
:func:`linear_step` and :func:`quadratic_cost` are the physics shared by the envs and by the
agents that plan with a model; they act on one state ``(n,)`` or a batch ``(batch, n)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from mbdl_control.models.required import required

_SYMMETRY_TOL = 1e-9
_PSD_TOL = 1e-10


def _as_matrix(name: str, value: object, shape: tuple[int, int] | None = None) -> np.ndarray:
    array = np.array(value, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got an array of shape {array.shape}")
    if shape is not None and array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} has non-finite entries (NaN or inf); all entries must be finite")
    array.setflags(write=False)
    return array


def _as_covariance(name: str, value: object, size: int, *, definite: bool) -> np.ndarray:
    array = _as_matrix(name, value, (size, size))
    asymmetry = np.max(np.abs(array - array.T)) if size else 0.0
    if asymmetry > _SYMMETRY_TOL * max(1.0, np.max(np.abs(array))):
        raise ValueError(f"{name} must be symmetric; max |{name} - {name}ᵀ| = {asymmetry:.3g}")
    smallest = np.min(np.linalg.eigvalsh(array)) if size else 0.0
    scale = max(1.0, float(np.max(np.abs(array)))) if size else 1.0
    if definite and smallest <= _PSD_TOL * scale:
        raise ValueError(
            f"{name} must be positive definite; its smallest eigenvalue is {smallest:.3g}"
        )
    if smallest < -_PSD_TOL * scale:
        raise ValueError(
            f"{name} must be positive semi-definite; its smallest eigenvalue is {smallest:.3g}"
        )
    return array


def _freeze_vector(name: str, value: object, size: int) -> np.ndarray:
    array = np.array(value, dtype=np.float64).reshape(-1)
    if array.shape != (size,):
        raise ValueError(f"{name} must have {size} entries, got {array.size}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} has non-finite entries; all entries must be finite")
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class LinearStructure:
    """The form of a linear-Gaussian model without its numbers: state, input and measurement
    dimensions (``p = 0``: the state is observed) and the input bounds (part of the physics
    a designer is told, not of the model it must learn)."""

    n: int
    m: int
    p: int
    u_max: np.ndarray | None


@dataclass(frozen=True, eq=False)
class LinearGaussianModel:
    """A linear-Gaussian system with quadratic stage cost, validated at construction.

    Parameters
    ----------
    A, B:
        Dynamics ``(n, n)`` and input ``(n, m)`` matrices.
    W:
        Process noise covariance ``(n, n)``, positive semi-definite.
    Q, R:
        Stage cost weights: ``Q`` ``(n, n)`` positive semi-definite, ``R`` ``(m, m)`` positive
        definite.
    C, V:
        Optional measurement matrix ``(p, n)`` and measurement noise covariance ``(p, p)``
        (positive definite); both or neither.
    x0_mean, x0_cov:
        Initial-state distribution; default zero mean and ``W``.
    u_max:
        Optional input bound, ``|u_i| ≤ u_max_i``: a positive scalar or one positive entry
        per input.

    Raises
    ------
    ValueError
        Naming the field and the problem: wrong shape, non-finite entries, asymmetric or
        indefinite covariance or weight, non-positive bound.
    """

    A: np.ndarray
    B: np.ndarray
    W: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    C: np.ndarray | None = None
    V: np.ndarray | None = None
    x0_mean: np.ndarray | None = None
    x0_cov: np.ndarray | None = None
    u_max: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        A = _as_matrix("A", self.A)
        n = A.shape[0]
        if A.shape != (n, n):
            raise ValueError(f"A must be square, got shape {A.shape}")
        B = _as_matrix("B", self.B)
        if B.shape[0] != n:
            raise ValueError(f"B must have {n} rows (the state dimension of A), got {B.shape}")
        m = B.shape[1]
        values = {
            "A": A,
            "B": B,
            "W": _as_covariance("W", self.W, n, definite=False),
            "Q": _as_covariance("Q", self.Q, n, definite=False),
            "R": _as_covariance("R", self.R, m, definite=True),
        }
        if (self.C is None) != (self.V is None):
            raise ValueError("C and V must be given together (a measurement model needs both)")
        if self.C is not None:
            C = _as_matrix("C", self.C)
            if C.shape[1] != n:
                raise ValueError(f"C must have {n} columns (the state dimension), got {C.shape}")
            values["C"] = C
            values["V"] = _as_covariance("V", self.V, C.shape[0], definite=True)
        mean = np.zeros(n) if self.x0_mean is None else self.x0_mean
        values["x0_mean"] = _freeze_vector("x0_mean", mean, n)
        cov = values["W"] if self.x0_cov is None else self.x0_cov
        values["x0_cov"] = _as_covariance("x0_cov", cov, n, definite=False)
        if self.u_max is not None:
            bound = np.broadcast_to(np.asarray(self.u_max, dtype=np.float64), (m,))
            if not np.all(bound > 0):
                raise ValueError(f"u_max must be positive (or None for no bound), got {bound}")
            values["u_max"] = _freeze_vector("u_max", bound, m)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def n(self) -> int:
        """State dimension."""
        return self.A.shape[0]

    @property
    def m(self) -> int:
        """Input dimension."""
        return self.B.shape[1]

    @property
    def p(self) -> int:
        """Measurement dimension (0 when the state is observed)."""
        return 0 if self.C is None else self.C.shape[0]

    def structure(self) -> LinearStructure:
        """What ``structure`` knowledge holds of this model: its form, not its numbers."""
        return LinearStructure(self.n, self.m, self.p, self.u_max)

    def replace(self, **changes: object) -> LinearGaussianModel:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LinearGaussianModel):
            return NotImplemented
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if (mine is None) != (theirs is None):
                return False
            if mine is not None and not np.array_equal(mine, theirs):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


def require_linear_gaussian(owner: str, model: object) -> LinearGaussianModel:
    """``model``, or a ``TypeError`` saying that ``owner`` is built on a linear-Gaussian model.

    A nonlinear control model (one with ``linearized()``, such as the cart-pole's) stands for
    its linearization at its equilibrium: the linear agents (LQR, MPC, the convex policies)
    are built on that, as a designer linearizes a plant to use them."""
    if not isinstance(model, LinearGaussianModel) and callable(getattr(model, "linearized", None)):
        model = model.linearized()
    return required(owner, model, LinearGaussianModel, "an env's true_model or nominal_model")


def linear_step(model: LinearGaussianModel, x: np.ndarray, u: np.ndarray, w: np.ndarray):
    """``A x + B u + w`` for one state ``(n,)`` or a batch ``(batch, n)``."""
    x_next = x @ model.A.T
    x_next += u @ model.B.T
    x_next += w
    return x_next


def quadratic_cost(model: LinearGaussianModel, x: np.ndarray, u: np.ndarray):
    """Stage cost ``xᵀQx + uᵀRu`` for one pair or a batch (returns ``()`` or ``(batch,)``).

    Rows are summed by a product with ones: numpy reduces a short last axis several times
    slower, and this runs once per step of a batch of envs."""
    return ((x @ model.Q) * x) @ np.ones(model.n) + ((u @ model.R) * u) @ np.ones(model.m)


def saturate(model: LinearGaussianModel, u: np.ndarray) -> np.ndarray:
    """Clip ``u`` to the input bounds ``[-u_max, u_max]`` (unchanged when there are none)."""
    if model.u_max is None:
        return u
    return np.minimum(np.maximum(u, -model.u_max), model.u_max)
