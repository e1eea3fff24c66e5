r"""A dense quadratic program whose linear term and constraint bounds move with a parameter.

Linear MPC and the convex control policy both solve, at every state ``x``, the condensed QP in
the stacked decision ``z`` (Borrelli, Bemporad, Morari, *Predictive Control for Linear and
Hybrid Systems*, 2017, §8.2 and §11.3; Rawlings, Mayne, Diehl, *Model Predictive Control*,
2017, §6.1):

.. math::

    \min_z\; \tfrac12 z^\top H z + (F x + f_0)^\top z
    \quad\text{s.t.}\quad l_b \le z \le u_b,\qquad
    h_l + E x \le G z \le h_u + E x,

with ``H ≻ 0``, ``F``, ``f₀``, the bounds, ``G``, ``E``, ``h_l`` and ``h_u`` fixed; one-sided rows
take an infinite ``h_l`` or ``h_u``. Only ``F x + f₀`` and the row bounds change with ``x``.

The QP goes to DAQP, the dual active-set solver of Arnström, Bemporad, Axehill, "A dual
active-set solver for embedded quadratic programming using recursive LDLᵀ updates", IEEE TAC
67(8), 2022. Its workspace is set up once (the factor ``H = RᵀR`` and ``G R⁻¹`` are computed
there); a solve only updates the vectors. An active-set method ends on the exact
optimum of its final active set, so the answer carries no iterative tolerance beyond the
primal feasibility tolerance (``primal_tol``, default 1e-6, a violation DAQP accepts).

*No warm start, by measurement.* DAQP takes a starting active set as ``sense`` flags in
``update`` (``primal_start``/``dual_start`` only in ``setup``, which factors ``H`` again).
Measured with DAQP's workspace on the states of a 100-step ``BoxLQR`` closed loop: starting
from the previous active set shifted by one stage halves DAQP's iterations (about 13 → 7 at
H = 10 and H = 30), but a solve there takes only 10–20 µs and building the shifted set in
Python costs about what it saves (median step 13.4 vs 11.6 µs cold at H = 10, 20.7 vs
21.7 µs at H = 30); DAQP's own reuse of the last, unshifted active set needs *more*
iterations than a cold start (17 vs 13). Every solve therefore starts from the empty active
set, which also makes ``z*(x)`` a function of ``x`` alone, whatever was solved before.
"""

from __future__ import annotations

from typing import Any

import daqp
import numpy as np

#: DAQP's exit flag for an optimum; every other flag (soft optimum, infeasible, cycling,
#: unbounded, iteration limit, non-convex, overdetermined initial active set) is a failure.
DAQP_OPTIMAL = 1
#: The names of DAQP's settings (``primal_tol``, ``iter_limit``, ...).
SETTINGS = tuple(daqp.Model().settings)


def _vector(name: str, value: Any, size: int, default: float) -> np.ndarray:
    array = np.full(size, default) if value is None else np.asarray(value, dtype=np.float64)
    array = np.broadcast_to(array, (size,)) if array.ndim == 0 else array
    if array.shape != (size,):
        raise ValueError(f"{name} must have {size} entries, got shape {array.shape}")
    return np.array(array, dtype=np.float64)


def _matrix(name: str, value: Any, shape: tuple[int, int]) -> np.ndarray:
    array = np.zeros(shape) if value is None else np.asarray(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    return np.ascontiguousarray(array)


class ParametricQP:
    """``z*(x)`` of the QP in the module docstring, solved by a persistent DAQP workspace.

    Parameters
    ----------
    H, F:
        Hessian ``(N, N)`` (positive definite) and parameter gain ``(N, n)``.
    f0:
        Constant linear term ``(N,)``; default zero.
    lb, ub:
        Bounds on ``z`` (scalars or ``(N,)``); ``None`` leaves that side unbounded.
    G, E, h_lower, h_upper:
        Rows ``h_lower + E x ≤ G z ≤ h_upper + E x``: ``G`` ``(r, N)``, ``E`` ``(r, n)``
        (default zero), ``h_lower``/``h_upper`` ``(r,)`` (``None``: unbounded on that side).
    settings:
        DAQP settings (``primal_tol``, ``iter_limit``, ...; see :data:`SETTINGS`).
    box_qp_batches:
        Solve batches of a bounds-only QP with :func:`box_qp` (see :meth:`solve_batch`): it
        pays for a one-stage policy such as COCP (block pivoting ends in one to three batched
        solves), not for a condensed MPC horizon, where pivoting cycles into its slower
        fallback and DAQP per state is faster (measured: 9.2 s against 6.4 s to evaluate 1000
        BoxLQR episodes with H = 10).
    """

    def __init__(
        self,
        H: np.ndarray,
        F: np.ndarray,
        f0: np.ndarray | None = None,
        *,
        lb: Any = None,
        ub: Any = None,
        G: np.ndarray | None = None,
        E: np.ndarray | None = None,
        h_lower: Any = None,
        h_upper: Any = None,
        settings: dict[str, float] | None = None,
        box_qp_batches: bool = False,
    ) -> None:
        size, parameters = np.shape(F)
        self.H = _matrix("H", H, (size, size))
        self.F = _matrix("F", F, (size, parameters))
        self.f0 = _vector("f0", f0, size, 0.0)
        bounded = lb is not None or ub is not None
        self._bound_lower = _vector("lb", lb, size if bounded else 0, -np.inf)
        self._bound_upper = _vector("ub", ub, size if bounded else 0, np.inf)
        rows = 0 if G is None else np.shape(G)[0]
        self.G = _matrix("G", G, (rows, size))
        self.E = _matrix("E", E, (rows, parameters))
        self.h_lower = _vector("h_lower", h_lower, rows, -np.inf)
        self.h_upper = _vector("h_upper", h_upper, rows, np.inf)
        self._empty_active_set = np.zeros(len(self._bound_lower) + rows, dtype=np.intc)
        self.box_qp_batches = bool(box_qp_batches)
        self.settings = dict(settings or {})
        unknown = sorted(set(self.settings) - set(SETTINGS))
        if unknown:
            raise ValueError(f"unknown DAQP settings {unknown}; valid: {list(SETTINGS)}")
        self._set_up_solver()

    def _set_up_solver(self) -> None:
        self._solver = daqp.Model()
        self._solver.settings = self.settings
        lower, upper = self._constraint_bounds(np.zeros(self.F.shape[1]))
        exitflag, _ = self._solver.setup(self.H, self.f0, self.G, upper, lower)
        if exitflag < 0:
            raise ValueError(f"DAQP could not set up the QP (exit flag {exitflag}); H must be ≻ 0")

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the QP's data; the DAQP workspace (not picklable) is set up again on load."""
        return {name: value for name, value in self.__dict__.items() if name != "_solver"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._set_up_solver()

    def _constraint_bounds(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shift = self.E @ x
        lower = np.concatenate((self._bound_lower, self.h_lower + shift))
        upper = np.concatenate((self._bound_upper, self.h_upper + shift))
        return lower, upper

    def solve(self, x: np.ndarray) -> np.ndarray | None:
        """The minimizer ``z*(x)``, or ``None`` unless DAQP reports an optimum."""
        data = {"f": self.F @ x + self.f0}
        if len(self._empty_active_set):
            data["sense"] = self._empty_active_set
        if len(self.G):
            data["blower"], data["bupper"] = self._constraint_bounds(x)
        self._solver.update(**data)
        z, _, exitflag, _ = self._solver.solve()
        return z if exitflag == DAQP_OPTIMAL else None

    def solve_batch(self, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``z*(x)`` for each row of ``states`` ``(batch, N)`` (zero rows where a solve failed)
        and whether each succeeded.

        With ``box_qp_batches`` and bounds only (no rows ``G``), the whole batch is solved at
        once by :func:`~mbdl_control.blocks.qp.box_qp.box_qp` (exact block
        pivoting in torch): one call instead of a DAQP solve per state, which is what lets
        ``evaluate`` run many episodes of a convex policy at once. The two agree to rounding
        (``tests/test_fast_qp.py``). Otherwise, or should the batched solve refuse the data,
        every state goes to DAQP."""
        if self.box_qp_batches and len(self.G) == 0 and len(states) > 1:
            import torch  # the DAQP path needs no torch

            from mbdl_control.blocks.qp.box_qp import box_qp

            f = states @ self.F.T + self.f0
            lower, upper = (
                torch.from_numpy(bound) if len(bound) else None
                for bound in (self._bound_lower, self._bound_upper)
            )
            try:
                with torch.no_grad():
                    z = box_qp(torch.from_numpy(self.H), torch.from_numpy(f), lower, upper)
                return z.numpy(), np.ones(len(states), dtype=bool)
            except (ValueError, RuntimeError):
                pass
        inputs = np.zeros((len(states), self.H.shape[0]))
        solved = np.zeros(len(states), dtype=bool)
        for row, x in enumerate(states):
            solution = self.solve(x)
            if solution is not None:
                inputs[row], solved[row] = solution, True
        return inputs, solved
