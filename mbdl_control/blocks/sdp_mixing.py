r"""Thousands of small semidefinite programs with a unit diagonal, solved at once in numpy by
the low-rank *mixing method*.

**The problem.** For a batch of symmetric ``C ∈ ℝ^{m×m}`` (one per channel use, say),

.. math::

    \min_{Z \succeq 0}\ \operatorname{tr}(C Z) \quad \text{s.t.}\ Z_{ii} = 1,\ i = 1 … m,

the relaxation of ``min z̃ᵀCz̃`` over ``z̃ ∈ {±1}^m`` (MAX-CUT, SDR detection). Only the
symmetric part of ``C`` enters ``tr(CZ)``, so ``C`` is symmetrized first.

**Burer–Monteiro factorization.** Write ``Z = VᵀV`` with ``V = [v_1 … v_m] ∈ ℝ^{k×m}``;
``Z_ii = 1`` becomes ``‖v_i‖ = 1`` and ``Z ⪰ 0`` holds by construction, so the program is

.. math::

    \min_{\lVert v_i\rVert = 1}\ f(V) = \sum_{i,j} C_{ij}\, v_i^\top v_j .

Some optimal ``Z`` has rank ``r`` with ``r(r+1)/2 ≤ m`` (Barvinok–Pataki), so a rank
``k ≥ √(2m)`` loses nothing, and for ``k(k+1)/2 > m`` every second-order stationary point of
the factorized problem is globally optimal for almost every ``C`` (Boumal, Voroninski and
Bandeira). The default is :func:`factor_rank` ``k = ⌈√(2m)⌉ + 1``.

**The mixing method.** ``f`` restricted to one column is linear:
``f = 2 v_iᵀg_i + const`` with ``g_i = Σ_{j≠i} C_ij v_j``, minimized over the unit sphere by

.. math::

    v_i \leftarrow -\,g_i / \lVert g_i\rVert

(kept as it is when ``g_i = 0``: then every unit ``v_i`` is optimal). One *sweep* updates
``i = 1 … m`` in turn; the update lowers ``f`` by exactly ``2(v_iᵀg_i + ‖g_i‖) ≥ 0``
(Cauchy–Schwarz), so the decrease of a sweep is summed without cancellation. From a random
start the sweeps converge to the global optimum almost surely, linearly near it (Wang, Chang
and Kolter). A vector *converges* when a sweep lowers ``f`` by at most ``tolerance · |f|``
(or by less than the round-off of evaluating ``f``, ``ε Σ_ij |C_ij|``); it then drops out
of the batch, and one that has not after ``max_sweeps`` sweeps keeps its last iterate and
is flagged (``converged`` false). ``f`` is monotone, so any iterate is a feasible ``Z`` whose
value upper-bounds the SDP's (the interior-point value, within that solver's accuracy, is the
SDP's); a sweep's decrease understates the gap left, so ``tolerance`` sits well below the
accuracy wanted (1e-8 gives values within about 3e-6 of Clarabel's at 20 × 30 BPSK).

**Batching, and why by hand.** The columns live as rows ``(B, m, k)``; each coordinate
update is one batched product ``(B, 1, m) @ (B, m, k)`` and a few ``(B, k)`` operations
over the vectors still running, so a sweep costs ``O(m)`` numpy calls whatever the batch.
Conic solvers (Clarabel, SCS, through cvxpy) solve one program per call, at tens of
programs per second for ``m = 21``, and no maintained numpy library batches the mixing
method or a Burer–Monteiro solver over thousands of small problems; the method is a few
lines, so it is written here and checked against Clarabel in the tests.

References: S. Burer and R. D. C. Monteiro, "A nonlinear programming algorithm for solving
semidefinite programs via low-rank factorization", Math. Programming 95, 2003; A. Barvinok,
"Problems of distance geometry and convex properties of quadratic maps", Discrete Comput.
Geom. 13, 1995, and G. Pataki, "On the rank of extreme matrices in semidefinite programs",
Math. Oper. Res. 23(2), 1998; N. Boumal, V. Voroninski and A. S. Bandeira, "The non-convex
Burer–Monteiro approach works on smooth semidefinite programs", NeurIPS 2016; P.-W. Wang,
W.-C. Chang and J. Z. Kolter, "The mixing method: low-rank coordinate descent for
semidefinite programming with diagonal constraints", arXiv:1706.00476, 2017/2018.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mbdl_control.core import positive_float, positive_int


@dataclass(frozen=True)
class MixingSolution:
    """The mixing method's answer for a batch of ``B`` programs of size ``m``: ``factors``
    ``V`` ``(B, k, m)`` with unit columns (``Z = VᵀV``), ``values`` ``tr(CZ)`` ``(B,)``,
    ``converged`` ``(B,)`` and the ``sweeps`` ``(B,)`` each took."""

    factors: np.ndarray
    values: np.ndarray
    converged: np.ndarray
    sweeps: np.ndarray


def factor_rank(size: int) -> int:
    """``k = ⌈√(2m)⌉ + 1`` for ``m = size``: ``k(k+1)/2 > m``, the rank at which the
    factorized program has no spurious second-order stationary points (module docstring)."""
    return int(np.ceil(np.sqrt(2.0 * positive_int("size", size)))) + 1


def mixing_sdp(
    costs: np.ndarray,
    rng: np.random.Generator,
    rank: int | None = None,
    tolerance: float = 1e-8,
    max_sweeps: int = 2000,
) -> MixingSolution:
    """``min tr(CZ)`` s.t. ``diag Z = 1``, ``Z ⪰ 0`` for each of ``costs`` ``(B, m, m)`` by
    the mixing method from a random start drawn from ``rng`` (module docstring); ``rank``
    defaults to :func:`factor_rank`. A ``ValueError`` names a bad argument."""
    costs = _symmetric(costs)
    count, size, _ = costs.shape
    rank = factor_rank(size) if rank is None else positive_int("rank", rank)
    tolerance = positive_float("tolerance", tolerance)
    max_sweeps = positive_int("max_sweeps", max_sweeps)
    rows = _unit_rows(rng.standard_normal((count, size, rank)))
    converged, sweeps = _mix(costs, rows, tolerance, max_sweeps)
    return MixingSolution(rows.transpose(0, 2, 1), sdp_values(costs, rows), converged, sweeps)


def sdp_values(costs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``tr(C VᵀV) = Σ_ij C_ij v_iᵀv_j`` of each program, from the rows ``v_i`` ``(B, m, k)``."""
    return np.einsum("bik,bik->b", costs @ rows, rows)


def _mix(
    costs: np.ndarray, rows: np.ndarray, tolerance: float, max_sweeps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sweeps over the programs still running until each converges or ``max_sweeps``; the
    final iterates are written into ``rows``. Returns ``converged`` and ``sweeps``."""
    count, size, _ = costs.shape
    converged, sweeps = np.zeros(count, bool), np.zeros(count, np.int64)
    running = np.arange(count)
    work, values = rows.copy(), sdp_values(costs, rows)
    off_diagonal = costs * (1.0 - np.eye(size))
    floor = np.finfo(np.float64).eps * np.abs(costs).sum(axis=(1, 2))
    for sweep in range(1, max_sweeps + 1):
        decrease = _sweep(off_diagonal, work)
        values -= decrease
        done = decrease <= tolerance * np.abs(values) + floor
        sweeps[running], converged[running] = sweep, done
        rows[running[done]] = work[done]
        kept = ~done
        running, work, values = running[kept], work[kept], values[kept]
        off_diagonal, floor = off_diagonal[kept], floor[kept]
        if running.size == 0:
            break
    rows[running] = work
    return converged, sweeps


def _sweep(off_diagonal: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One mixing sweep ``v_i ← −g_i/‖g_i‖``, ``i = 1 … m``, in place on ``rows``
    ``(B, m, k)``; returns the decrease of ``f`` of each program, ``Σ_i 2(v_iᵀg_i + ‖g_i‖)``."""
    decrease = np.zeros(len(rows))
    for i in range(rows.shape[1]):
        pull = (off_diagonal[:, i, None, :] @ rows)[:, 0]
        norm = np.sqrt(np.einsum("bk,bk->b", pull, pull))
        decrease += 2.0 * (np.einsum("bk,bk->b", rows[:, i], pull) + norm)
        moved = norm > 0.0
        scale = np.where(moved, norm, 1.0)
        rows[:, i] = np.where(moved[:, None], -pull / scale[:, None], rows[:, i])
    return decrease


def _unit_rows(draws: np.ndarray) -> np.ndarray:
    """``draws`` ``(B, m, k)`` with each row scaled to unit norm (a random start)."""
    return draws / np.linalg.norm(draws, axis=-1, keepdims=True)


def _symmetric(costs: np.ndarray) -> np.ndarray:
    """``(C + Cᵀ)/2`` of finite ``costs`` ``(B, m, m)``, or a ``ValueError`` naming them."""
    costs = np.asarray(costs, dtype=np.float64)
    if costs.ndim != 3 or costs.shape[1] != costs.shape[2] or costs.shape[1] < 1:
        raise ValueError(f"costs must be square matrices (B, m, m), got shape {costs.shape}")
    if not np.all(np.isfinite(costs)):
        raise ValueError(f"costs must be finite; {np.sum(~np.isfinite(costs))} entries are not")
    return 0.5 * (costs + costs.transpose(0, 2, 1))
