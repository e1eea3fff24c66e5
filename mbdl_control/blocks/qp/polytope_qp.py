r"""An exact, batched, differentiable layer for the quadratic program over a polytope.

.. math::

    u^\star(H, f, G, h) = \operatorname*{argmin}_{G u \le h}\;
        \tfrac12 u^\top H u + f^\top u, \qquad H = H^\top \succ 0,

for a batch of problems (each of ``H``, ``f``, ``G``, ``h`` batched or shared), in float64 or
float32. The box of :func:`~mbdl_control.blocks.qp.box_qp.box_qp` is the case
``G = [I; −I]``; this layer takes any rows, at the price of one solver call per problem.

**Forward.** DAQP, the dual active-set solver of Arnström, Bemporad & Axehill (IEEE TAC 2022),
solves each problem in double precision and names its active set ``A`` (the rows with a
positive multiplier; a dual active-set method keeps them linearly independent). One batched
solve of the KKT system on ``A``,

.. math::

    \begin{bmatrix} H & G_A^\top \\ G_A & 0 \end{bmatrix}
    \begin{bmatrix} u \\ \lambda_A \end{bmatrix} =
    \begin{bmatrix} -f \\ h_A \end{bmatrix},

with the inactive rows replaced by the identity (``λ`` zero there), gives ``u⋆`` and ``λ``
exactly; the KKT conditions (``Gu⋆ ≤ h``, ``λ ≥ 0``) are verified to a few ulps of the data.

**Backward** (OptNet; Amos & Kolter, ICML 2017). With ``v = ∂ℓ/∂u⋆`` and the same (symmetric)
matrix, solve for ``[-d; b]`` with right-hand side ``[v; 0]``; then

.. math::

    \frac{\partial \ell}{\partial f} = d, \quad
    \frac{\partial \ell}{\partial H} = \tfrac12 (d\, u^{\star\top} + u^\star d^\top), \quad
    \frac{\partial \ell}{\partial G_A} = \lambda_A d^\top - b_A u^{\star\top}, \quad
    \frac{\partial \ell}{\partial h_A} = b_A,

and zero for the inactive rows. At a weakly active row (``G_i u⋆ = h_i`` with ``λ_i = 0``)
``u⋆`` is not differentiable; the layer treats such a row as inactive.
"""

from __future__ import annotations

import daqp
import numpy as np
import torch

from mbdl_control.blocks.qp.parametric_qp import DAQP_OPTIMAL

#: DAQP's primal feasibility tolerance here (its default, 1e-6, is meant for control loops)
PRIMAL_TOLERANCE = 1e-12
#: the tolerances DAQP is tried at, tightest first: a feasible set without interior (an
#: equality written as two rows) can be refused as infeasible at 1e-12 and solved at 1e-9;
#: the KKT check after the solve holds the answer to the data's rounding either way
PRIMAL_TOLERANCES = (PRIMAL_TOLERANCE, 1e-9)
#: the KKT verification's slack, in units of the dtype's machine epsilon
_ROUNDING_ULPS = 1024


def polytope_qp(H: torch.Tensor, f: torch.Tensor, G: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``argmin_{G u ≤ h} ½ uᵀHu + fᵀu`` for each problem of a batch, differentiable.

    Parameters
    ----------
    H:
        ``(m, m)`` or ``(batch, m, m)``; symmetric positive definite.
    f:
        ``(m,)`` or ``(batch, m)``.
    G, h:
        The rows ``G u ≤ h``: ``G`` ``(p, m)`` or ``(batch, p, m)``, ``h`` ``(p,)`` or
        ``(batch, p)``.

    Returns
    -------
    ``(batch, m)``, or ``(m,)`` when nothing is batched.

    Raises
    ------
    ValueError
        On shapes or dtypes that do not fit.
    RuntimeError
        Naming the problem, when DAQP finds no optimum (infeasible rows, ``H`` not positive
        definite) or the solution fails the KKT check.
    """
    m = f.shape[-1]
    expected = {"H": (m, m), "f": (m,), "G": (G.shape[-2], m), "h": (G.shape[-2],)}
    batches = set()
    for name, tensor in zip("HfGh", (H, f, G, h), strict=True):
        core = expected[name]
        if tuple(tensor.shape[-len(core) :]) != core or tensor.ndim - len(core) not in (0, 1):
            batched = ", ".join(("batch", *map(str, core)))
            raise ValueError(
                f"{name} must have shape {core} or ({batched}), got {tuple(tensor.shape)}"
            )
        if tensor.dtype != f.dtype or not f.dtype.is_floating_point:
            raise ValueError(
                f"H, f, G, h must share one floating dtype, got {name}: {tensor.dtype}"
            )
        if tensor.ndim > len(core):
            batches.add(tensor.shape[0])
    if len(batches) > 1:
        raise ValueError(f"H, f, G, h have different batch sizes: {sorted(batches)}")
    batch = batches.pop() if batches else None
    size = batch or 1
    u = _PolytopeQPFunction.apply(
        H.expand(size, m, m), f.expand(size, m), G.expand(size, -1, m), h.expand(size, -1)
    )
    return u if batch else u.squeeze(0)


def _active_sets(H, f, G, h) -> torch.Tensor:
    """The rows with a positive multiplier at DAQP's optimum, one problem at a time."""
    arrays = [
        np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float64) for t in (H, f, G, h)
    ]
    active = np.zeros(h.shape, dtype=bool)
    for index, problem in enumerate(zip(*arrays, strict=True)):
        active[index] = _active_set(index, *problem)
    return torch.as_tensor(active, device=h.device)


def _active_set(index: int, H, f, G, h) -> np.ndarray:
    """One problem's active rows: DAQP at each of :data:`PRIMAL_TOLERANCES` until one gives
    an optimum; of identical active rows only the first is kept (a duplicate would make the
    KKT system singular)."""
    for tolerance in PRIMAL_TOLERANCES:
        _, _, exitflag, info = daqp.solve(H, f, G, h, primal_tol=tolerance)
        if exitflag == DAQP_OPTIMAL:
            active = info["lam"] > 0
            rows = np.hstack([G, h[:, None]])
            for row in np.flatnonzero(active):
                active[row] = not any((rows[row] == rows[:row][active[:row]]).all(axis=1))
            return active
    raise RuntimeError(
        f"DAQP found no optimum for problem {index} (exit flag {exitflag}) at primal "
        f"tolerances {PRIMAL_TOLERANCES}: the rows G u <= h may be infeasible, or H not "
        "positive definite"
    )


class _PolytopeQPFunction(torch.autograd.Function):
    """Forward by DAQP and the KKT solve on its active set, backward through the same KKT."""

    @staticmethod
    def forward(ctx, H, f, G, h):
        active = _active_sets(H, f, G, h)
        m, p = f.shape[-1], h.shape[-1]
        active_rows = torch.where(active.unsqueeze(-1), G, 0.0)
        kkt = torch.cat(
            (
                torch.cat((H, active_rows.mT), dim=-1),
                torch.cat((active_rows, torch.diag_embed((~active).to(f.dtype))), dim=-1),
            ),
            dim=-2,
        )
        factor = torch.linalg.lu_factor(kkt)
        rhs = torch.cat((-f, torch.where(active, h, 0.0)), dim=-1).unsqueeze(-1)
        u, multipliers = torch.linalg.lu_solve(*factor, rhs).squeeze(-1).split((m, p), dim=-1)
        _verify_kkt(H, f, G, h, u, multipliers)
        ctx.save_for_backward(u, multipliers, active, *factor)
        return u

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_u):
        u, multipliers, active, *factor = ctx.saved_tensors
        p = multipliers.shape[-1]
        rhs = torch.cat((grad_u, grad_u.new_zeros(grad_u.shape[0], p)), dim=-1).unsqueeze(-1)
        minus_d, b = torch.linalg.lu_solve(*factor, rhs).squeeze(-1).split((u.shape[-1], p), -1)
        d = -minus_d
        outer = d.unsqueeze(-1) * u.unsqueeze(-2)
        grad_H = 0.5 * (outer + outer.mT)
        grad_G = multipliers.unsqueeze(-1) * d.unsqueeze(-2) - b.unsqueeze(-1) * u.unsqueeze(-2)
        grad_G = torch.where(active.unsqueeze(-1), grad_G, 0.0)
        return grad_H, d, grad_G, torch.where(active, b, 0.0)


def _verify_kkt(H, f, G, h, u, multipliers) -> None:
    """Primal feasibility and dual sign, to a few ulps of the data (stationarity holds by the
    KKT solve)."""
    rounding = _ROUNDING_ULPS * torch.finfo(f.dtype).eps
    slack = h - (G @ u.unsqueeze(-1)).squeeze(-1)
    scale = h.abs() + (G.abs() @ u.abs().unsqueeze(-1)).squeeze(-1)
    multiplier_scale = (H.abs() @ u.abs().unsqueeze(-1)).squeeze(-1).amax(-1, keepdim=True)
    multiplier_scale = multiplier_scale + f.abs().amax(-1, keepdim=True)
    infeasible = (slack < -rounding * (1 + scale)).any(-1)
    wrong_sign = (multipliers < -rounding * (1 + multiplier_scale)).any(-1)
    failed = (infeasible | wrong_sign).nonzero().flatten().tolist()
    if failed:
        raise RuntimeError(
            f"the KKT check failed for problems {failed}: DAQP's active set does not give a "
            "feasible optimum (degenerate or badly scaled rows?)"
        )
