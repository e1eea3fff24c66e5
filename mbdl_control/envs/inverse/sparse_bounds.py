r"""The genie (support-aware) bound of the sparse inverse envs, and least squares on the true
support.

A genie that knows the support ``S`` of ``s`` faces a linear-Gaussian problem: ``s_S ~ N(0,
I)``, ``x = H_S s_S + w`` with ``w ~ N(0, σ²I)`` (and ``s = 0`` off ``S``). Its conditional
mean is the MMSE estimator, whose error is

.. math::

    \mathbb E\left[\|\hat s - s\|^2 \mid S\right]
    = \operatorname{tr}\left(I + H_S^{\mathsf T} H_S / \sigma^2\right)^{-1}
    = (|S| - r) + \sum_{i=1}^{r} \frac{\sigma^2}{\sigma^2 + \lambda_i},

``λ_i`` the ``r = min(|S|, m)`` eigenvalues of the smaller Gram matrix of ``H_S``. Knowing
more cannot hurt, so ``E_S`` of it over ``p·n`` (:func:`genie_mmse`) is below the expected
normalized squared error of every estimator: the envs' ``performance_bound``. Noiseless
(``σ = 0``), the trace is ``|S| − rank(H_S)``, the dimension of what ``x`` does not see: 0
while ``H_S`` has full column rank. Least squares on the true support (the support oracle,
what a recovery that finds ``S`` does at best without the prior on ``s_S``) has the expected
error ``σ² tr((H_SᵀH_S)⁻¹)`` where ``H_S`` has full column rank (the minimum-norm solution
adds the ``|S| − rank(H_S)`` dimensions it misses where not; :func:`support_oracle_nmse`), at
least the genie's.

Both are expectations over the support, which has no closed form for a general ``H``: they are
estimated by Monte Carlo, stratified by the support's size ``k ~ Binomial(n, p)``. Each size of
non-negligible weight (its share ``k P(k)/(p·n)`` of ``E|S|`` above :data:`NEGLIGIBLE`; the
empty support contributes 0) gets that share of the draws (at least two) of uniformly drawn
supports of that size (every support, where there are fewer of them than that), from
``numpy.random.default_rng(BOUND_SEED)``: the same estimate at every call. Stratifying takes
the support size's variance out of the estimate (in the scalar case it is exact); what is left
is the variation of the trace between supports of one size. The standard error comes with the
estimate (:class:`SupportMean`). With the envs' draws (``bound_draws``), on one core:
``mbdl/SparseRecovery-v0`` at its defaults (250 × 500, ``p = 0.1``, 1000 supports) has a
relative standard error of 0.03 % from 20 to 40 dB (noiseless: 0, every ``H_S`` drawn having
full column rank), in 0.2 s; ``mbdl/SuperResolution-v0`` at its defaults (128 points,
decimation 2, width 1.5, ``p = 0.05``, 30 dB, 10⁵ supports) 1.1 %: its genie's
error comes mostly from rare supports with spikes a sample or two apart. The work grows as
``draws · (m k² + min(m, k)³)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import stats
from threadpoolctl import threadpool_limits

from mbdl_control.models import SparseLinearModel

#: the supports a Monte-Carlo estimate draws in all
SUPPORT_DRAWS = 2000
#: the seed of the supports' own generator
BOUND_SEED = 0
#: a support size whose share of ``E|S|`` is below this is left out (its share of the
#: normalized mean is at most that, the trace being at most the size)
NEGLIGIBLE = 1e-16
#: a Gram matrix whose eigenvalues are all above this times the largest is regular beyond
#: doubt (its singular values above ``10⁻⁴`` times the largest, far above ``matrix_rank``'s
#: cut-off; the eigenvalues' rounding is ``10⁻¹⁶`` times the largest)
CLEARLY_REGULAR = 1e-8
#: the most floats of a stack of ``H_S`` held at once
CHUNK_FLOATS = 2**22


class SupportMean(NamedTuple):
    """A Monte-Carlo estimate over supports, normalized by ``p·n``, and its standard error."""

    mean: float
    standard_error: float


def genie_traces(model: SparseLinearModel, columns: np.ndarray) -> np.ndarray:
    """``tr((I + H_SᵀH_S/σ²)⁻¹)`` for a stack of ``H_Sᵀ`` ``(N, k, m)`` (module docstring); for
    ``σ = 0``, ``k − rank(H_S)``."""
    size, measurements = columns.shape[1:]
    transposed = np.swapaxes(columns, 1, 2)
    gram = columns @ transposed if size <= measurements else transposed @ columns
    eigenvalues = np.clip(np.linalg.eigvalsh(gram), 0.0, None)  # ascending
    if model.noise_std == 0.0:
        return size - _ranks(columns, eigenvalues)
    variance = model.noise_std**2
    nulls = size - min(size, measurements)
    return nulls + np.sum(variance / (variance + eigenvalues), axis=1)


def _ranks(columns: np.ndarray, eigenvalues: np.ndarray) -> np.ndarray:
    """The ranks of a stack of ``H_Sᵀ``, as numpy's ``matrix_rank`` (singular values) finds
    them: ``min(k, m)`` where the smaller Gram matrix's eigenvalues ``eigenvalues`` are clearly
    away from 0 (:data:`CLEARLY_REGULAR`), and ``matrix_rank`` itself, which costs twice as
    much, for the others."""
    ranks = np.full(len(columns), float(min(columns.shape[1:])))
    unclear = eigenvalues[:, 0] <= eigenvalues[:, -1] * CLEARLY_REGULAR
    if unclear.any():
        ranks[unclear] = np.linalg.matrix_rank(columns[unclear])
    return ranks


def least_squares_traces(model: SparseLinearModel, columns: np.ndarray) -> np.ndarray:
    """The expected squared error of least squares on ``S`` (the minimum-norm solution
    ``H_S⁺x``, numpy's ``lstsq``) for a stack of ``H_Sᵀ`` ``(N, k, m)``: ``(k − r) + σ² Σ 1/ς_i²``
    over the ``r`` singular values ``ς_i`` of ``H_S`` above ``lstsq``'s cut-off, ``σ²
    tr((H_SᵀH_S)⁻¹)`` where ``H_S`` has full column rank. From the singular values, which keep
    their accuracy where the Gram matrix is ill-conditioned."""
    size, measurements = columns.shape[1:]
    singular = np.linalg.svd(columns, compute_uv=False)
    kept = singular > singular[:, :1] * max(size, measurements) * np.finfo(float).eps
    inverses = np.divide(1.0, singular**2, out=np.zeros_like(singular), where=kept)
    return size - np.sum(kept, axis=1) + model.noise_std**2 * np.sum(inverses, axis=1)


def support_sizes(unknowns: int, sparsity: float) -> tuple[np.ndarray, np.ndarray]:
    """The support sizes ``k ≥ 1`` whose share of ``E|S| = p·n``, ``k P(|S| = k) / (p·n)``, is
    above :data:`NEGLIGIBLE`, and those shares: ``k C(n, k) pᵏ (1 − p)ⁿ⁻ᵏ / (p·n)`` is the
    ``Binomial(n − 1, p)`` probability of ``k − 1``, accurate for any ``p``."""
    sizes = np.arange(1, unknowns + 1)
    shares = stats.binom.pmf(sizes - 1, unknowns - 1, sparsity)
    keep = shares > NEGLIGIBLE
    return sizes[keep], shares[keep]


def _supports(
    unknowns: int, size: int, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """``count`` uniform supports of ``size`` entries ``(count, size)``, or every one of them
    where there are fewer; and whether they are every one."""
    if math.comb(unknowns, size) <= count:
        every = np.array(list(itertools.combinations(range(unknowns), size)))
        return every.reshape(-1, size), True
    order = np.argsort(rng.random((count, unknowns)), axis=1)
    return np.sort(order[:, :size], axis=1), False


def _traces(
    model: SparseLinearModel,
    trace: Callable[[SparseLinearModel, np.ndarray], np.ndarray],
    columns: np.ndarray,
    supports: np.ndarray,
) -> np.ndarray:
    """``trace`` of each support's ``H_Sᵀ``, a chunk of stacks at a time."""
    chunk = max(1, CHUNK_FLOATS // (supports.shape[1] * columns.shape[1]))
    return np.concatenate(
        [trace(model, columns[supports[i : i + chunk]]) for i in range(0, len(supports), chunk)]
    )


def support_mean(
    model: SparseLinearModel,
    trace: Callable[[SparseLinearModel, np.ndarray], np.ndarray],
    draws: int = SUPPORT_DRAWS,
    seed: int = BOUND_SEED,
) -> SupportMean:
    """``E_S trace(H_S) / (p·n)``, stratified by the support's size (module docstring): the
    sum over sizes ``k`` of their share of ``p·n`` times the mean of ``trace / k``. On one
    BLAS thread: the matrices are small, and threads only contend (a stack of 50 × 250 SVDs
    ran ten times slower on two threads of a loaded two-core machine than on one)."""
    with threadpool_limits(1):
        return _support_mean(model, trace, draws, seed)


def _support_mean(
    model: SparseLinearModel,
    trace: Callable[[SparseLinearModel, np.ndarray], np.ndarray],
    draws: int,
    seed: int,
) -> SupportMean:
    columns = np.ascontiguousarray(model.sensing.T)
    rng = np.random.default_rng(seed)
    mean = variance = 0.0
    for size, share in zip(*support_sizes(model.unknowns, model.sparsity), strict=True):
        supports, every = _supports(model.unknowns, int(size), max(2, round(draws * share)), rng)
        values = _traces(model, trace, columns, supports) / size
        if not np.all(np.isfinite(values)):
            return SupportMean(math.inf, math.inf)
        mean += share * float(np.mean(values))
        if not every:
            variance += share**2 * float(np.var(values, ddof=1)) / len(values)
    return SupportMean(mean, math.sqrt(variance))


def genie_mmse(
    model: SparseLinearModel, draws: int = SUPPORT_DRAWS, seed: int = BOUND_SEED
) -> SupportMean:
    """The genie's expected normalized squared error ``E_S tr((I + H_SᵀH_S/σ²)⁻¹) / (p·n)``:
    the envs' ``performance_bound`` (module docstring)."""
    return support_mean(model, genie_traces, draws, seed)


def support_oracle_nmse(
    model: SparseLinearModel, draws: int = SUPPORT_DRAWS, seed: int = BOUND_SEED
) -> SupportMean:
    """The expected normalized squared error of least squares on the true support,
    ``σ² E_S tr((H_SᵀH_S)⁻¹) / (p·n)`` (with the minimum-norm solution's missed dimensions
    where ``H_S`` has no full column rank: :func:`least_squares_traces`)."""
    return support_mean(model, least_squares_traces, draws, seed)
