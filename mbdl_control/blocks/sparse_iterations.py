r"""ISTA, FISTA and ADMM on the LASSO, written once for numpy and torch: the iterations that the
model-based solvers run on a nominal ``H``, the learned optimizers tune and the unfolded
networks turn into layers.

The LASSO for ``x = Hs + w`` (:mod:`mbdl_control.models.sparse`) is

.. math::

    \min_s\ \tfrac12\|x − Hs\|² + λ\|s\|_1 .

**ISTA** (Daubechies, Defrise & De Mol 2004): ``s_{k+1} = T_{μλ}(s_k + μHᵀ(x − Hs_k))``, the
soft threshold ``T_θ(v) = sign(v)·max(|v| − θ, 0)`` (:func:`soft_threshold`) after a gradient
step of size ``μ ≤ 1/‖H‖₂²``. Written as ``s_{k+1} = T_θ(W¹x + W²s_k)`` with
``W¹ = μHᵀ``, ``W² = I − μHᵀH``, ``θ = μλ`` (:func:`ista_matrices`) it is a LISTA layer at its
ISTA initialization (Gregor & LeCun, ICML 2010). **FISTA** (Beck & Teboulle 2009) adds
Nesterov's momentum: the step is taken from ``y_k = s_k + ((t_{k−1} − 1)/t_k)(s_k − s_{k−1})``,
``t_k = (1 + √(1 + 4t_{k−1}²))/2``, ``t_0 = 1`` (:func:`momentum_weights`).

**ADMM** (Boyd et al. 2011, scaled form) splits ``s = z`` with penalty ``ρ``:

.. math::

    s_{k+1} &= (HᵀH + ρI)^{−1}\big(Hᵀx + ρ(z_k − u_k)\big),\\
    z_{k+1} &= T_{λ/ρ}(s_{k+1} + u_k),\qquad u_{k+1} = u_k + s_{k+1} − z_{k+1},

from ``z_0 = u_0 = 0``; the estimate is ``z``. The ``s``-update is ``W¹x + W²(z_k − u_k)``
with ``W¹ = (HᵀH + ρI)^{−1}Hᵀ``, ``W² = ρ(HᵀH + ρI)^{−1}`` (:func:`admm_matrices`: the
per-layer matrices of unfolded ADMM at their ADMM initialization). With a learned ``ρ`` the
inverse is applied through the thin SVD ``H = UΣVᵀ`` (:class:`Resolvent`),
``(HᵀH + ρI)^{−1}v = (v − V\,\mathrm{diag}(σ_i²/(σ_i² + ρ))\,Vᵀv)/ρ``, differentiable in
``ρ`` and as cheap as one product with ``H``.

Every function here takes numpy arrays or torch tensors alike (``@``, ``.clip`` and
arithmetic only), batched over rows: ``x`` is ``(B, m)``, ``s``, ``z``, ``u`` are ``(B, n)``.
No library offers a batched, differentiable ISTA/ADMM on one fixed ``H`` (cvxpy solves one
LASSO at a time: it is these iterations' test reference).

The regularization ``λ`` of the model-based solvers (:func:`lasso_lambda`) is the universal
threshold ``σ√(2 log n)`` for unit-norm columns (Donoho & Johnstone 1994; Bickel, Ritov &
Tsybakov 2009), floored at :data:`NOISELESS_LAMBDA` = 0.01 (the benchmark's noiseless
setting, where ``σ = 0`` and the LASSO tends to basis pursuit as ``λ → 0`` but ISTA slows
down as ``1/λ``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

#: ``λ`` where the noise gives none (noiseless measurements; unit-variance non-zeros)
NOISELESS_LAMBDA = 0.01
#: ADMM's default penalty ``ρ`` per unit of ``λ``, measured best or near best at 16–32
#: iterations on the LISTA benchmark at every SNR
#: (:mod:`mbdl_control.agents.model_based.sparse_solvers`)
PENALTY_PER_REGULARIZATION = 3.0

Array = Any  # a numpy array or a torch tensor


def soft_threshold(v: Array, threshold: Array) -> Array:
    """``T_θ(v) = sign(v)·max(|v| − θ, 0)`` elementwise, as ``v − clip(v, −θ, θ)`` (numpy or
    torch; ``θ`` a scalar or broadcastable; its gradient in ``θ`` is ``−sign(T_θ(v))``)."""
    return v - v.clip(-threshold, threshold)


def lasso_lambda(noise_std: float, unknowns: int) -> float:
    """``λ = max(σ√(2 log n), NOISELESS_LAMBDA)`` (module docstring)."""
    return max(noise_std * math.sqrt(2.0 * math.log(max(unknowns, 2))), NOISELESS_LAMBDA)


def lipschitz_step(sensing: np.ndarray) -> float:
    """``μ = 1/‖H‖₂²``: the inverse of the gradient's Lipschitz constant, ISTA's largest safe
    step."""
    return 1.0 / float(np.linalg.norm(sensing, 2)) ** 2


def ista_matrices(sensing: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """``(W¹, W²) = (μHᵀ, I − μHᵀH)``: one ISTA step as ``T_θ(W¹x + W²s)``."""
    return step * sensing.T, np.eye(sensing.shape[1]) - step * (sensing.T @ sensing)


def admm_matrices(sensing: np.ndarray, penalty: float) -> tuple[np.ndarray, np.ndarray]:
    """``(W¹, W²) = ((HᵀH + ρI)⁻¹Hᵀ, ρ(HᵀH + ρI)⁻¹)``: ADMM's ``s``-update as
    ``W¹x + W²(z − u)``."""
    inverse = np.linalg.inv(sensing.T @ sensing + penalty * np.eye(sensing.shape[1]))
    return inverse @ sensing.T, penalty * inverse


def ista_iteration(s: Array, gradient_step: Callable[[Array], Array], threshold: Array) -> Array:
    """``T_θ(g(s))``: one ISTA (or LISTA) iteration, ``g`` its gradient step
    (``s + μHᵀ(x − Hs)``, or ``W¹x + W²s``)."""
    return soft_threshold(gradient_step(s), threshold)


def admm_iteration(
    z: Array, u: Array, least_squares: Callable[[Array], Array], threshold: Array
) -> tuple[Array, Array]:
    """One ADMM iteration ``(z, u) → (z', u')`` (module docstring), ``least_squares(v)`` its
    ``s``-update from ``v = z − u`` and ``threshold`` ``λ/ρ``."""
    s = least_squares(z - u)
    new_z = soft_threshold(s + u, threshold)
    return new_z, u + s - new_z


def momentum_weights(iterations: int) -> list[float]:
    """FISTA's extrapolation weights ``(t_{k−1} − 1)/t_k`` for ``k = 1 … iterations``
    (module docstring): 0 first, rising towards 1."""
    weights, t = [], 1.0
    for _ in range(iterations):
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        weights.append((t - 1.0) / t_next)
        t = t_next
    return weights


@dataclass(frozen=True)
class Resolvent:
    """``(HᵀH + ρI)⁻¹`` for any ``ρ > 0`` through the thin SVD of ``H`` (module docstring):
    ``right`` ``V`` ``(n, r)`` and ``squares`` ``σ_i²`` ``(r,)``, numpy arrays or tensors."""

    right: Array
    squares: Array

    @staticmethod
    def of(sensing: np.ndarray) -> Resolvent:
        """The resolvent of ``H`` (numpy, float64)."""
        _, singular, right_t = np.linalg.svd(sensing, full_matrices=False)
        return Resolvent(right_t.T, singular**2)

    def apply(self, v: Array, penalty: Array) -> Array:
        """``(HᵀH + ρI)⁻¹v`` for rows ``v`` ``(B, n)``; ``ρ`` a positive scalar (or tensor)."""
        shrink = self.squares / (self.squares + penalty)
        return (v - ((v @ self.right) * shrink) @ self.right.T) / penalty

    def least_squares(self, matched: Array, penalty: Array) -> Callable[[Array], Array]:
        """ADMM's ``s``-update ``v ↦ (HᵀH + ρI)⁻¹(Hᵀx + ρv)``, ``matched`` the rows ``Hᵀx``
        (for :func:`admm_iteration`)."""
        return lambda v: self.apply(matched + penalty * v, penalty)


def ista_iterates(
    measurements: np.ndarray,
    sensing: np.ndarray,
    regularization: float,
    step: float,
    iterations: int,
    momentum: bool = False,
) -> Iterator[np.ndarray]:
    """The estimates ``(B, n)`` after each of ``iterations`` of ISTA (FISTA with
    ``momentum``) from ``s_0 = 0`` on rows of ``measurements`` ``(B, m)``."""
    matched = step * (measurements @ sensing)  # μHᵀx per row
    gram = step * (sensing.T @ sensing)
    threshold = step * regularization
    estimate = np.zeros((len(measurements), sensing.shape[1]))
    previous = estimate
    weights = momentum_weights(iterations) if momentum else [0.0] * iterations
    for weight in weights:
        point = estimate + weight * (estimate - previous) if weight else estimate
        previous = estimate
        estimate = ista_iteration(point, lambda s: s + matched - s @ gram, threshold)
        yield estimate


def admm_iterates(
    measurements: np.ndarray,
    sensing: np.ndarray,
    regularization: float,
    penalty: float,
    iterations: int,
) -> Iterator[np.ndarray]:
    """The estimates ``z`` ``(B, n)`` after each of ``iterations`` of ADMM from
    ``z_0 = u_0 = 0`` on rows of ``measurements`` ``(B, m)``."""
    input_matrix, feedback = admm_matrices(sensing, penalty)
    direct = measurements @ input_matrix.T
    z = np.zeros((len(measurements), sensing.shape[1]))
    u = np.zeros_like(z)
    for _ in range(iterations):
        z, u = admm_iteration(z, u, lambda v: direct + v @ feedback.T, regularization / penalty)
        yield z


def _last(iterates: Iterator[np.ndarray], start: np.ndarray) -> np.ndarray:
    """The last of ``iterates`` (``start`` if there are none)."""
    return next(iter(deque(iterates, maxlen=1)), start)


def ista(
    measurements: np.ndarray,
    sensing: np.ndarray,
    regularization: float,
    step: float,
    iterations: int,
    momentum: bool = False,
) -> np.ndarray:
    """``iterations`` of ISTA (FISTA with ``momentum``) from ``s_0 = 0``: the last of
    :func:`ista_iterates`."""
    start = np.zeros((len(measurements), sensing.shape[1]))
    iterates = ista_iterates(measurements, sensing, regularization, step, iterations, momentum)
    return _last(iterates, start)


def admm(
    measurements: np.ndarray,
    sensing: np.ndarray,
    regularization: float,
    penalty: float,
    iterations: int,
) -> np.ndarray:
    """``iterations`` of ADMM from ``z_0 = u_0 = 0``: the last of :func:`admm_iterates`."""
    start = np.zeros((len(measurements), sensing.shape[1]))
    return _last(admm_iterates(measurements, sensing, regularization, penalty, iterations), start)
