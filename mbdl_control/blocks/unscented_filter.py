r"""The unscented Kalman filter as a recursive estimator, on a batch of episodes.

Julier & Uhlmann, "A New Extension of the Kalman Filter to Nonlinear Systems", SPIE 3068
(1997); Wan & van der Merwe, "The Unscented Kalman Filter for Nonlinear Estimation", IEEE
AS-SPCC (2000), with van der Merwe's scaled sigma points. For a belief ``N(x̂, Σ)`` of an
``n``-state, ``λ = α²(n + κ) − n`` and ``L Lᵀ = (n + λ) Σ`` (Cholesky), the ``2n + 1`` points

.. math::

    \mathcal X_0 = \hat x,\quad \mathcal X_{\pm i} = \hat x \pm L_{:,i},\qquad
    w^m_0 = \frac{\lambda}{n+\lambda},\quad w^c_0 = w^m_0 + 1 - \alpha^2 + \beta,\quad
    w^m_{\pm i} = w^c_{\pm i} = \frac{1}{2(n+\lambda)},

carry the belief through a map ``g`` (the unscented transform): ``ḡ = Σ_k w^m_k g(𝒳_k)``,
``P = Σ_k w^c_k (g(𝒳_k) − ḡ)(g(𝒳_k) − ḡ)ᵀ`` plus the additive noise. Predict: through ``f``
(with ``G u``), plus ``W``. Update: the points of the prediction through ``h``, giving
``ŷ`` and ``S`` (plus ``V``) and the cross-covariance ``P_{xy} = Σ_k w^c_k (𝒳_k − x̂)(h(𝒳_k)
− ŷ)ᵀ``; then ``K = P_{xy} S⁻¹``, ``x̂ ← x̂ + K (y − ŷ)``, ``Σ ← Σ − K S Kᵀ``. This is
filterpy's ``UnscentedKalmanFilter`` with ``MerweScaledSigmaPoints`` (points redrawn from the
prediction before an update), on ``(batch, 2n + 1, n)`` arrays of points.

**Defaults** ``α = 1, β = 2, κ = 0``: then ``λ = 0``, ``w^m_0 = 0`` and every covariance
weight is non-negative (``w^c_0 = 2``), so the transformed covariance is a PSD sum whatever
the map, and the points lie ``√n`` standard deviations out, where they sample the curvature
of the Lorenz flow over the belief's own spread. ``β = 2`` is optimal for a Gaussian prior;
``κ = 0 = 3 − n`` for ``n = 3`` is Julier's heuristic. The often-quoted ``α = 10⁻³`` puts the
points ``10⁻³`` standard deviations out with ``w^m_0 ≈ −1 + 1/(α²n) ≈ −3·10⁵``: the mean
and covariance are then differences of numbers 10⁵ times larger (about 11 digits lost), and
``w^c_0 < 0`` can make the covariance indefinite. Small points also see only the local
slope, as the EKF does. Measured (Lorenz, ``Δt = 0.02``, order 5, spherical ``h``,
``x̄_0 = (1, 1, 1)``, ``Σ_0 = I``, 200 episodes of 100 measurements; MSE in dB, EKF / UKF at
``α = 1``, ``0.1``, ``10⁻³`` / bootstrap PF with 500 particles): ``r² = 0.1, q² = 0.01``:
+8.5 / −11.7, +6.6, +7.7 / −12.1; ``r² = 0.01, q² = 0.1``: +3.7 / −3.9, +3.4, +3.7 / −7.1;
with ``h = I`` and ``r² = 1`` all four Gaussian filters give −9.6.

**Numerics.** float64 numpy; ``S`` is solved, not inverted; covariances are symmetrized after
every step. ``Σ − K S Kᵀ`` can lose definiteness to rounding: a Cholesky factorization that
fails is retried with jitter ``ε · tr(Σ)/n · I``, ``ε = 10⁻¹², 10⁻¹⁰, …, 10⁻²`` (counted in
``jittered``); a covariance with non-finite entries, or one that still fails, raises
``FloatingPointError`` (the filter diverged).
"""

from __future__ import annotations

import numpy as np

from mbdl_control.blocks import kalman
from mbdl_control.blocks.estimation import Memory
from mbdl_control.blocks.kalman_filters import GaussianEstimator, symmetrized
from mbdl_control.core import finite_float, positive_float
from mbdl_control.models import StateSpaceModel

#: relative jitters tried, in order, when a Cholesky factorization fails
JITTERS = tuple(10.0**exponent for exponent in range(-12, -1, 2))


def merwe_weights(
    n: int, alpha: float, beta: float, kappa: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """``(n + λ, w^m, w^c)`` of van der Merwe's scaled sigma points (module docstring)."""
    spread = alpha**2 * (n + kappa)
    weights = np.full(2 * n + 1, 0.5 / spread)
    mean_weights, cov_weights = weights.copy(), weights.copy()
    mean_weights[0] = (spread - n) / spread
    cov_weights[0] = mean_weights[0] + 1 - alpha**2 + beta
    return spread, mean_weights, cov_weights


def cholesky(matrices: np.ndarray) -> tuple[np.ndarray, bool]:
    """Lower Cholesky factors of a batch of PSD matrices, and whether jitter was needed
    (module docstring)."""
    if not np.isfinite(matrices).all():
        raise FloatingPointError(
            "the unscented filter's covariance has non-finite entries: the filter diverged"
        )
    try:
        return np.linalg.cholesky(matrices), False
    except np.linalg.LinAlgError:
        pass
    n = matrices.shape[-1]
    factors = np.empty_like(matrices)
    for row, matrix in zip(factors.reshape(-1, n, n), matrices.reshape(-1, n, n), strict=True):
        row[...] = _jittered_cholesky(matrix)  # the rows that factor keep their exact factor
    return factors, True


def _jittered_cholesky(matrix: np.ndarray) -> np.ndarray:
    """The Cholesky factor of one matrix, with the least jitter of :data:`JITTERS` that
    makes it positive definite where it is not."""
    scale = np.trace(matrix) / len(matrix)
    scale = scale if scale > 0 else 1.0
    for jitter in (0.0, *JITTERS):
        try:
            return np.linalg.cholesky(matrix + jitter * scale * np.eye(len(matrix)))
        except np.linalg.LinAlgError:
            continue
    raise FloatingPointError(
        "the unscented filter's covariance is not positive definite even with jitter "
        f"{JITTERS[-1]:g}·tr/n (far from PSD: the filter diverged)"
    )


class UnscentedKalmanEstimator(GaussianEstimator):
    """The unscented Kalman filter (module docstring); ``ValueError`` unless ``alpha > 0``,
    ``beta`` is finite and ``n + κ > 0``."""

    def __init__(
        self,
        model: StateSpaceModel,
        alpha: float = 1.0,
        beta: float = 2.0,
        kappa: float = 0.0,
        W: np.ndarray | None = None,
        V: np.ndarray | None = None,
    ) -> None:
        super().__init__(model, W, V)
        self.alpha = positive_float("alpha", alpha)
        self.beta = finite_float("beta", beta)
        self.kappa = finite_float("kappa", kappa)
        if model.n + self.kappa <= 0:
            raise ValueError(f"kappa must have n + kappa > 0 (n = {model.n}), got {kappa!r}")
        self.spread, self.mean_weights, self.cov_weights = merwe_weights(
            model.n, self.alpha, self.beta, self.kappa
        )
        #: how many factorizations needed jitter
        self.jittered = 0

    def sigma_points(self, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
        """The ``(batch, 2n + 1, n)`` points of beliefs ``N(mean, cov)``."""
        factor, jittered = cholesky(self.spread * cov)
        self.jittered += jittered
        columns = factor.swapaxes(-1, -2)
        center = mean[:, None]
        return np.concatenate([center, center + columns, center - columns], axis=1)

    def transform(
        self, points: np.ndarray, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The weighted mean ``(batch, d)`` and covariance ``(batch, d, d)`` (plus ``noise``) of
        transformed points ``(batch, 2n + 1, d)``, and the points' deviations from the mean."""
        mean = np.einsum("k,bkd->bd", self.mean_weights, points)
        deviations = points - mean[:, None]
        cov = (deviations.swapaxes(-1, -2) * self.cov_weights) @ deviations + noise
        return mean, symmetrized(cov), deviations

    def update(self, memory: Memory, y: np.ndarray) -> tuple[np.ndarray, Memory]:
        mean, cov = memory["mean"], memory["cov"]
        points = self.sigma_points(mean, cov)
        predicted, S, measured = self.transform(self.model.h(points), self.V)
        cross = ((points - mean[:, None]).swapaxes(-1, -2) * self.cov_weights) @ measured
        gain = np.linalg.solve(S, cross.swapaxes(-1, -2)).swapaxes(-1, -2)
        mean = kalman.correct(mean, y - predicted, gain)
        cov = symmetrized(cov - gain @ S @ gain.swapaxes(-1, -2))
        return mean, {"mean": mean, "cov": cov}

    def advance(self, memory: Memory, u: np.ndarray | None = None) -> Memory:
        points = self.sigma_points(memory["mean"], memory["cov"])
        u = self.inputs(u)
        moved = self.model.f(points, None if u is None else u[:, None])
        mean, cov, _ = self.transform(moved, self.W)
        return {"mean": mean, "cov": cov}
