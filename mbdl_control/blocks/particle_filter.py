r"""The bootstrap particle filter as a recursive estimator, on a batch of episodes.

Gordon, Salmond & Smith, "Novel approach to nonlinear/non-Gaussian Bayesian state
estimation", IEE Proc. F 140 (1993). Each episode keeps ``N`` equally weighted particles
``x^{(i)}`` (memory ``{"particles": (batch, N, n)}``), drawn from the prior ``N(x̄_0, Σ_0)``
at the start. Update with ``y_t``: weights from the Gaussian likelihood of the model's ``V``,

.. math::

    w^{(i)} \propto \exp\!\big(-\tfrac12 \|L_V^{-1}(y_t - h(x^{(i)}))\|^2\big),\qquad
    \hat x_{t|t} = \sum_i w^{(i)} x^{(i)},

(normalized by their largest logarithm first, so they never all underflow), then systematic
resampling (Kitagawa, J. Comput. Graph. Stat. 5, 1996; one uniform ``U`` per episode,
``u_j = (U + j)/N``), every step as in the bootstrap filter. Advance: every particle through
the model, ``x^{(i)} ← f(x^{(i)}) + G u_t + w^{(i)}``, ``w^{(i)} ~ N(0, W)`` (drawn with the
symmetric square root of ``W``, so a singular ``W`` is fine). The estimate is the weighted
mean before resampling (lower variance than the mean after it).

The random generator is seeded at construction: the estimates are a deterministic function of
the seed and the sequence of calls. Its error decreases as ``O(1/N)`` towards the MMSE (for a
linear-Gaussian model, towards the Kalman filter's).
"""

from __future__ import annotations

import numpy as np

from mbdl_control.blocks.estimation import Memory, RecursiveEstimator
from mbdl_control.core import positive_int
from mbdl_control.models import StateSpaceModel, symmetric_sqrt


def systematic_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices ``(batch, N)`` of systematic resampling of normalized weights ``(batch, N)``:
    row ``b`` takes particle ``i`` once for each ``u_j = (U_b + j)/N`` in ``[c_{i−1}, c_i)``
    of its cumulative weights ``c``, that is ``⌈N c_i − U_b⌉ − ⌈N c_{i−1} − U_b⌉`` times (in
    order, so no search is needed)."""
    batch, count = weights.shape
    cumulative = np.cumsum(weights, axis=1)
    cumulative[:, -1] = 1.0
    below = np.ceil(cumulative * count - rng.random((batch, 1)))
    copies = np.diff(np.clip(below, 0, count).astype(np.int64), axis=1, prepend=0)
    particles = np.broadcast_to(np.arange(count), (batch, count))
    return np.repeat(particles.ravel(), copies.ravel()).reshape(batch, count)


class ParticleEstimator(RecursiveEstimator):
    """The bootstrap particle filter (module docstring) with ``particles`` per episode and
    its generator seeded with ``seed``."""

    def __init__(self, model: StateSpaceModel, particles: int = 1000, seed: int = 0) -> None:
        self.model = model
        self.n, self.p, self.m = model.n, model.p, model.m
        self.particles = positive_int("particles", particles)
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self._prior_root = symmetric_sqrt(model.x0_cov)
        self._noise_root = symmetric_sqrt(model.W)
        self._whiten = np.linalg.inv(np.linalg.cholesky(model.V))

    def _normal(self, batch: int, root: np.ndarray) -> np.ndarray:
        """``(batch, N, n)`` draws of ``N(0, root rootᵀ)`` (``root`` symmetric)."""
        return self.rng.standard_normal((batch, self.particles, self.n)) @ root

    def start(self, batch: int) -> Memory:
        return {"particles": self.model.x0_mean + self._normal(batch, self._prior_root)}

    def update(self, memory: Memory, y: np.ndarray) -> tuple[np.ndarray, Memory]:
        particles = memory["particles"]
        residuals = (y[:, None] - self.model.h(particles)) @ self._whiten.T
        log_weights = -0.5 * (residuals**2).sum(-1)
        weights = np.exp(log_weights - log_weights.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        estimates = np.einsum("bi,bin->bn", weights, particles)
        chosen = systematic_resample(weights, self.rng)
        return estimates, {"particles": np.take_along_axis(particles, chosen[..., None], 1)}

    def advance(self, memory: Memory, u: np.ndarray | None = None) -> Memory:
        u = self.inputs(u)
        inputs = None if u is None else u[:, None]
        moved = self.model.f(memory["particles"], inputs)
        return {"particles": moved + self._normal(len(moved), self._noise_root)}
