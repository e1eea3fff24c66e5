r"""ISTA, FISTA and ADMM on the LASSO, and the debiased LASSO (the sparse inverse envs' oracle):
model-based recovery of a sparse ``s`` from ``x = Hs + w`` on a (nominal or true) ``H``.

Every solver minimizes the LASSO

.. math::

    \min_s\ \tfrac12\|x − Hs\|² + λ\|s\|_1

by the iterations of :mod:`mbdl_control.blocks.sparse_iterations` (written once there, for
these solvers, the learned optimizers and the unfolded networks alike), from ``s_0 = 0``, on a
whole batch of measurements at once:

* :class:`ISTA` (Daubechies, Defrise & De Mol, Comm. Pure Appl. Math. 57, 2004):
  ``s_{k+1} = T_{μλ}(s_k + μHᵀ(x − Hs_k))``, step ``μ = 1/‖H‖₂²`` unless given (it converges
  for ``0 < μ < 2/‖H‖₂²``, Combettes & Wajs 2005, which is checked);
* :class:`FISTA` (Beck & Teboulle, SIAM J. Imaging Sci. 2, 2009): the same step taken from
  Nesterov's extrapolated point; its ``O(1/k²)`` guarantee needs ``μ ≤ 1/‖H‖₂²`` (checked);
* :class:`ADMM` (Boyd et al., Found. Trends Mach. Learn. 3, 2011): the splitting ``s = z``
  with penalty ``ρ``; an exact ``(HᵀH + ρI)⁻¹`` solve per iteration, then a soft threshold
  ``λ/ρ``.

**The regularization** ``λ`` (``regularization=None``) is
:func:`~mbdl_control.blocks.sparse_iterations.lasso_lambda`:
``λ = max(σ√(2 log n), 0.01)``, the universal threshold of the noise ``σ`` of the model
(Donoho & Johnstone 1994) floored at 0.01 for noiseless measurements (the benchmark's value).

**ADMM's penalty** (``penalty=None``) is ``ρ = 3λ`` (``PENALTY_PER_REGULARIZATION``),
so the threshold ``λ/ρ`` is a third of the non-zeros' unit standard deviation whatever the
noise. Measured (300 signals; distance to the LASSO solution, dB of ``‖s‖²``, after 16 / 32
iterations), ``ρ = λ, 2λ, 3λ, 5λ``: on the 250 × 500 benchmark noiseless −26 / −36, −32 / −43,
−34 / −47, −36 / −50; at 30 dB −27 / −36, −34 / −45, −37 / −50, −37 / −56; at 20 dB −28 / −40,
−37 / −55, −39 / −65, −39 / −69; on the ill-conditioned 128-point super-resolution PSF (30 dB)
−4.8 / −7.5, −5.0 / −7.0, −4.6 / −6.3, −4.0 / −5.3, where smaller is better. ``3λ`` takes
most of the benchmark's gain at 16 iterations at little cost to the PSF; the fixed ``ρ = 0.1``
is ``10λ`` noiseless (−29 / −52: slower at first, faster to the plateau).

**Measured** on the benchmark (``H`` 250 × 500, ``gaussian_sensing_matrix(250, 500, 0)``,
noiseless, ``p = 0.1``, 1000 test signals drawn with the env's law, ``λ = 0.01``,
``μ = 1/‖H‖₂²``, ``ρ = 3λ``; ``benchmarks/sparse_recovery.py --curve``), NMSE
``10 log₁₀(Σ‖ŝ − s‖²/Σ‖s‖²)`` in dB after 1, 2, 4, …, 1024 iterations:

======  =====  =====  =====  =====  =====  =====  =====  =====  =====  =====  =====
 it.      1      2      4      8     16     32     64     128    256    512   1024
======  =====  =====  =====  =====  =====  =====  =====  =====  =====  =====  =====
ISTA    −1.3   −1.9   −2.4   −2.8   −3.2   −3.7   −4.4   −5.9   −8.9   −16.1  −31.5
FISTA   −1.3   −2.0   −2.7   −3.2   −4.1   −6.6   −18.4  −35.2  −35.5  −35.6  −35.6
ADMM    −2.3   −7.2   −14.0  −22.4  −30.2  −34.3  −35.1  −35.4  −35.5  −35.6  −35.6
======  =====  =====  =====  =====  =====  =====  =====  =====  =====  =====  =====

−30 dB is reached after 957 (ISTA), 84 (FISTA) and 16 (ADMM) iterations; all three end at
the LASSO's bias, −35.6 dB. Throughput: ``benchmarks/README.md``.

**The debiased LASSO** (:class:`DebiasedLASSO`, the envs' oracle, built on the true model):
the LASSO only selects; the values are then re-estimated on the support it found, without its
shrinkage. The LASSO alone misses small entries (any ``|s_i|`` below about ``λ`` is set to 0:
at ``λ = 0.01`` noiseless, least squares on its support recovers only 55 % of the benchmark's
signals exactly, −36 dB over all) and keeps false ones (about 25 per signal at 30 dB, from its
bias), so the support is refined before the final estimate, by tests on the posterior a genie
would use: with ``G_S = H_SᵀH_S + σ²I`` and the envs' prior ``s_S ~ N(0, I)``, the posterior
of ``s_S`` given the support has mean ``β = G_S⁻¹H_Sᵀx`` and covariance ``σ²G_S⁻¹``. The tests
use the noise ``σ̂ = max(σ, ‖r‖/√(m − |S|))`` of the residual ``r = x − H_Sβ``: what a support
leaves unexplained counts as noise, so an incomplete support is tested leniently.

1. ``S`` = the entries FISTA leaves non-zero, at most ``⌊m/2⌋`` (the largest): a sparser
   explanation of ``x`` than that is not unique for any ``H`` (``spark(H) ≤ m + 1``;
   Donoho & Elad, PNAS 100, 2003), and a support as large as ``m`` explains any ``x``;
2. *prune*: keep the ``i ∈ S`` with ``|β_i| > t·σ̂(G_S⁻¹)_{ii}^{1/2}``
   (``t`` = :data:`SIGNIFICANCE` = 3);
3. *grow*: add the ``j ∉ S`` with ``|h_jᵀr| > t·σ̂‖h_j‖``, the largest first, at most a
   quarter of the room left (:data:`GROWTH_SHARE` of ``⌊m/2⌋ − |S|``, rounded up); repeat
   2–3 ``refinements`` times, or until nothing is added;
4. prune once more; the estimate is ``β`` on ``S``, 0 elsewhere.

Wherever the support is found the estimate is the genie's (support-aware MMSE) estimate,
whose mean error is the envs' ``performance_bound``; ``σ = 0`` makes it least squares on the
support. A noiseless problem is given the noise :data:`NOISE_FLOOR` ``·‖H‖₂`` (it keeps
``G_S`` regular; entries below about ``10⁻⁵`` are noise to it).

Measured (``benchmarks/sparse_recovery.py --oracle``: 1000 signals of the env's law; NMSE in
dB; the defaults, 100 FISTA iterations, ``refinements = 3``; about 2 s per 1000 signals on one
core), LASSO (FISTA, 100 iterations) / least squares on its support / this / least squares on
the true support / the genie bound:

* ``mbdl/SparseRecovery-v0``, noiseless: −33.5 / −35.9 / **−222** (every signal to machine
  precision) / −294 / −∞;
* at 30 dB: −21.5 / −29.3 / **−34.5** / −36.0 / −36.0;
* at 20 dB: −12.8 / −18.5 / **−22.8** / −26.0 / −26.0: the refined support still misses
  entries of the size of the noise, which the support oracle is handed;
* ``mbdl/SuperResolution-v0`` (128-point grid, decimation 4, PSF width 2, 30 dB): −3.9 /
  +209 / **+2.4** (worse than answering 0; −3.9 with 1000 FISTA iterations, where FISTA
  alone reaches −4.9) / +57 / −25.1. Neighbouring columns of this ``H`` are 0.94 correlated:
  the LASSO splits a spike between grid points, a support placed one sample off costs twice
  the spike's energy, and least squares on a support without the prior's ``σ²I`` diverges.
  No support-selecting estimator tried here does well on it (orthogonal matching pursuit with
  the noise-level stop: −2.9 dB).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, NamedTuple

import numpy as np

from mbdl_control.blocks.sparse_iterations import (
    PENALTY_PER_REGULARIZATION,
    admm,
    ista,
    lasso_lambda,
    lipschitz_step,
)
from mbdl_control.core import BaseAgent, positive_float, positive_int, vector_space
from mbdl_control.models import SparseLinearModel, require_sparse

#: posterior (or noise) standard deviations an entry must clear to enter or stay in the
#: debiased LASSO's support
SIGNIFICANCE = 3.0
#: the share of the room left, ``⌊m/2⌋ − |S|``, that one grow step of the debiased LASSO may
#: fill (the largest scores first): a round never fills the support up, so a later round can
#: still add what an earlier one missed
GROWTH_SHARE = 0.25
#: the noise the debiased LASSO assumes at least, times ``‖H‖₂`` (noiseless problems)
NOISE_FLOOR = 1e-6
#: measurements per call of a solver (bounds the memory of one call)
CHUNK = 4096


class SparseSolver(BaseAgent):
    """A LASSO solver on a :class:`~mbdl_control.models.SparseLinearModel`: measurements
    ``(B, m)`` in, estimates ``(B, n)`` out (float64), ``CHUNK`` rows at a time; nothing
    learned.

    ``regularization=None`` is :func:`~mbdl_control.blocks.sparse_iterations.lasso_lambda`
    of the model's noise; ``config`` holds the resolved numbers. ``TypeError`` unless built on
    a ``SparseLinearModel``; ``ValueError`` naming a non-positive ``iterations`` or
    ``regularization``.
    """

    family = "model-based"
    knowledge_options = ("true", "nominal")

    def __init__(
        self,
        model: SparseLinearModel,
        iterations: int,
        regularization: float | None,
        knowledge: str,
    ) -> None:
        super().__init__(knowledge)
        self.model = require_sparse(type(self).__name__, model)
        self.iterations = positive_int("iterations", iterations)
        self.regularization = (
            lasso_lambda(self.model.noise_std, self.model.unknowns)
            if regularization is None
            else positive_float("regularization", regularization)
        )
        self.observation_space = vector_space(self.model.measurements)

    @property
    def config(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "iterations": self.iterations,
            "regularization": self.regularization,
            **self._settings(),
            "knowledge": self.knowledge,
        }

    def _settings(self) -> dict[str, Any]:
        """The solver's own constructor arguments (beyond the shared ones), resolved."""
        return {}

    @abstractmethod
    def recover(self, measurements: np.ndarray) -> np.ndarray:
        """Estimates ``(B, n)`` of measurements ``(B, m)``."""

    def _act(self, observations: np.ndarray, state: Any, episode_start: np.ndarray):
        chunks = [
            self.recover(observations[i : i + CHUNK]) for i in range(0, len(observations), CHUNK)
        ]
        return (np.concatenate(chunks) if chunks else np.zeros((0, self.model.unknowns))), None


class ISTA(SparseSolver):
    """``iterations`` of ISTA on the LASSO (module docstring); ``step=None`` is
    ``1/‖H‖₂²``, and a step of ``2/‖H‖₂²`` or more (where ISTA may diverge) a ``ValueError``."""

    momentum = False

    def __init__(
        self,
        model: SparseLinearModel,
        iterations: int = 100,
        regularization: float | None = None,
        step: float | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(model, iterations, regularization, knowledge)
        inverse_lipschitz = lipschitz_step(self.model.sensing)
        self.step = (
            inverse_lipschitz if step is None else self._checked_step(step, inverse_lipschitz)
        )

    @staticmethod
    def _checked_step(step: float, inverse_lipschitz: float) -> float:
        step = positive_float("step", step)
        if step >= 2.0 * inverse_lipschitz:
            raise ValueError(
                f"step must be below 2/‖H‖² = {2.0 * inverse_lipschitz:.6g} (ISTA converges for "
                f"0 < step < 2/‖H‖²), got {step!r}"
            )
        return step

    def _settings(self) -> dict[str, Any]:
        return {"step": self.step}

    def recover(self, measurements: np.ndarray) -> np.ndarray:
        sensing = self.model.sensing
        return ista(
            measurements, sensing, self.regularization, self.step, self.iterations, self.momentum
        )


class FISTA(ISTA):
    """``iterations`` of FISTA on the LASSO (module docstring); ``step=None`` is
    ``1/‖H‖₂²``, and a larger step (beyond FISTA's guarantee) a ``ValueError``."""

    momentum = True

    @staticmethod
    def _checked_step(step: float, inverse_lipschitz: float) -> float:
        step = positive_float("step", step)
        if step > inverse_lipschitz * (1.0 + 1e-9):  # 1/‖H‖² computed another way passes
            raise ValueError(
                f"step must be at most 1/‖H‖² = {inverse_lipschitz:.6g} (FISTA's convergence "
                f"guarantee), got {step!r}"
            )
        return step


class ADMM(SparseSolver):
    """``iterations`` of ADMM on the LASSO (module docstring); ``penalty=None`` is
    ``ρ = 3λ`` (the block's :data:`PENALTY_PER_REGULARIZATION`); ``ValueError`` for a
    non-positive one."""

    def __init__(
        self,
        model: SparseLinearModel,
        iterations: int = 100,
        regularization: float | None = None,
        penalty: float | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(model, iterations, regularization, knowledge)
        self.penalty = (
            PENALTY_PER_REGULARIZATION * self.regularization
            if penalty is None
            else positive_float("penalty", penalty)
        )

    def _settings(self) -> dict[str, Any]:
        return {"penalty": self.penalty}

    def recover(self, measurements: np.ndarray) -> np.ndarray:
        sensing = self.model.sensing
        return admm(measurements, sensing, self.regularization, self.penalty, self.iterations)


class DebiasedLASSO(FISTA):
    """FISTA on the LASSO, then the posterior mean on a refined support (module docstring):
    the sparse inverse envs' oracle, built on the true model.

    ``refinements`` (≥ 0) bounds the prune-and-grow rounds; 0 prunes the LASSO's support
    once. ``ValueError`` for a negative or non-integer one.
    """

    def __init__(
        self,
        model: SparseLinearModel,
        iterations: int = 100,
        regularization: float | None = None,
        step: float | None = None,
        refinements: int = 3,
        knowledge: str = "true",
    ) -> None:
        super().__init__(model, iterations, regularization, step, knowledge)
        if isinstance(refinements, bool) or not isinstance(refinements, int | np.integer):
            raise ValueError(f"refinements must be an integer >= 0, got {refinements!r}")
        if refinements < 0:
            raise ValueError(f"refinements must be an integer >= 0, got {refinements!r}")
        self.refinements = int(refinements)
        sensing = self.model.sensing
        self.noise = max(self.model.noise_std, NOISE_FLOOR * float(np.linalg.norm(sensing, 2)))
        self._gram = sensing.T @ sensing
        self._column_norms = np.linalg.norm(sensing, axis=0)

    def _settings(self) -> dict[str, Any]:
        return {"step": self.step, "refinements": self.refinements}

    def recover(self, measurements: np.ndarray) -> np.ndarray:
        lasso = super().recover(measurements)
        correlations = measurements @ self.model.sensing  # Hᵀx per row
        estimates = np.zeros_like(lasso)
        for row, selected in enumerate(lasso):
            support = largest(np.flatnonzero(selected), np.abs(selected), self.largest_support)
            fit = self._refined(support, measurements[row], correlations[row])
            estimates[row, fit.support] = fit.mean
        return estimates

    @property
    def largest_support(self) -> int:
        """``⌊m/2⌋``: no sparser explanation of ``x`` is unique (module docstring)."""
        return self.model.measurements // 2

    def _refined(self, support: np.ndarray, x: np.ndarray, matched: np.ndarray) -> SupportFit:
        """Prune and grow ``support`` (steps 2–4 of the module docstring): the final fit."""
        fit = self._fit(support, x, matched)
        for _ in range(self.refinements):
            fit = self._fit(self._pruned(fit), x, matched)
            grown = self._grown(fit)
            if len(grown) == len(fit.support):
                break
            fit = self._fit(grown, x, matched)
        return self._fit(self._pruned(fit), x, matched)

    def _fit(self, support: np.ndarray, x: np.ndarray, matched: np.ndarray) -> SupportFit:
        """The posterior on ``support`` and its residual (module docstring)."""
        gram = self._gram[np.ix_(support, support)] + self.noise**2 * np.eye(len(support))
        inverse = np.linalg.inv(gram)
        mean = inverse @ matched[support]
        residual = x - self.model.sensing[:, support] @ mean
        unexplained = float(np.linalg.norm(residual)) / np.sqrt(len(x) - len(support))
        noise = max(self.noise, unexplained)
        return SupportFit(support, mean, noise * np.sqrt(np.diag(inverse)), noise, residual)

    @staticmethod
    def _pruned(fit: SupportFit) -> np.ndarray:
        """The entries of the support whose mean clears ``t`` standard deviations."""
        return fit.support[np.abs(fit.mean) > SIGNIFICANCE * fit.deviation]

    def _grown(self, fit: SupportFit) -> np.ndarray:
        """The support and the columns ``j`` outside it with ``|h_jᵀr| > t·σ̂‖h_j‖``."""
        score = np.abs(fit.residual @ self.model.sensing) / (fit.noise * self._column_norms)
        score[fit.support] = 0.0
        room = math.ceil(GROWTH_SHARE * (self.largest_support - len(fit.support)))
        added = largest(np.flatnonzero(score > SIGNIFICANCE), score, room)
        return np.sort(np.concatenate([fit.support, added]))


class SupportFit(NamedTuple):
    """The debiased LASSO's posterior on one support: ``support`` (indices), ``mean`` and
    ``deviation`` per entry of it, the ``noise`` level of its tests and the ``residual``
    ``x − H_S·mean``."""

    support: np.ndarray
    mean: np.ndarray
    deviation: np.ndarray
    noise: float
    residual: np.ndarray


def largest(indices: np.ndarray, magnitude: np.ndarray, count: int) -> np.ndarray:
    """The (at most) ``count`` of ``indices`` of largest ``magnitude``, in index order."""
    if len(indices) <= count:
        return indices
    return np.sort(indices[np.argsort(-magnitude[indices], kind="stable")[:count]])
