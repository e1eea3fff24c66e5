r"""An exact, batched, differentiable layer for the box-constrained quadratic program.

.. math::

    u^\star(H, f, l, h) = \operatorname*{argmin}_{l \le u \le h}\;
        \tfrac12 u^\top H u + f^\top u, \qquad H = H^\top \succ 0,

for a batch of problems at once (``H`` batched or shared, ``f`` batched, bounds broadcast,
infinite bounds allowed), in float64 or float32. It is the convex control policy's problem
(:func:`~mbdl_control.blocks.convex_policy.box_qp_policy_layer`) without the
generality, and the overhead, of a conic solver.

**Forward: block principal pivoting.** The KKT conditions split the coordinates into the free
set ``F`` (``l_i ≤ u_i ≤ h_i`` and gradient ``g_i = (Hu + f)_i = 0``), the lower set ``L``
(``u_i = l_i``, ``g_i ≥ 0``) and the upper set ``U`` (``u_i = h_i``, ``g_i ≤ 0``). For a guess
of the sets, the candidate is the exact solution of the reduced system

.. math::

    u_A = b_A, \qquad H_{FF}\, u_F = -f_F - H_{FA}\, b_A \qquad (A = L \cup U),

with ``b_A`` the bounds the active coordinates sit at: one batched Cholesky solve of ``H`` with
its active rows and columns replaced by the identity. A coordinate is *infeasible* when it
breaks its set's condition: a free one outside its bounds, an active one whose multiplier has
the wrong sign. Each iteration pivots every infeasible coordinate (free → the bound it
violates, bound → free): the block principal pivoting of Júdice & Pires (Comput. Oper. Res.
1994), the primal-dual active-set method of Hintermüller, Ito & Kunisch (SIAM J. Optim. 2003),
which starts from the unconstrained minimizer and usually stops after one to three solves.
Block pivots can cycle when ``H`` is not an M-matrix, so the problems still infeasible after
a few of them finish with the primal active-set method (Nocedal & Wright, *Numerical
Optimization*, Alg. 16.3), which never raises the objective and so, barring degenerate
ties, never revisits a set. The iteration stops when no coordinate of any problem is
infeasible (a multiplier counts as wrong beyond a few ulps of ``|H||u| + |f|``): the KKT
conditions hold, and the answer is the reduced solve on the identified sets, exact to the
accuracy of one Cholesky solve.

**Backward: implicit differentiation on the active set** (OptNet; Amos & Kolter, ICML 2017).
Differentiating the reduced system, with ``v = ∂ℓ/∂u⋆`` and ``d_F = -H_{FF}^{-1} v_F``,
``d_A = 0``:

.. math::

    \frac{\partial \ell}{\partial f} = d, \qquad
    \frac{\partial \ell}{\partial H} = \tfrac12 (d\, u^{\star\top} + u^\star d^\top), \qquad
    \frac{\partial \ell}{\partial l_i} = [v + H d]_i \;(i \in L), \qquad
    \frac{\partial \ell}{\partial h_i} = [v + H d]_i \;(i \in U),

and zero for the bounds of the other coordinates; the gradient in ``H`` is the one in the space
of symmetric matrices. One more solve with the forward's Cholesky factor; no autograd graph is
built through the iterations. At a weakly active coordinate (at a bound with a zero
multiplier) ``u⋆`` is not differentiable; the layer returns the derivative for the sets it
identified.
"""

from __future__ import annotations

import torch

#: iterations of block pivoting before the primal active-set method takes over
_BLOCK_PIVOTING_ITERATIONS = 5
#: the KKT tests' slack, in units of the dtype's machine epsilon
_ROUNDING_ULPS = 64


def box_qp(
    H: torch.Tensor,
    f: torch.Tensor,
    lower: torch.Tensor | float | None = None,
    upper: torch.Tensor | float | None = None,
    *,
    max_iterations: int | None = None,
) -> torch.Tensor:
    """``argmin_{lower ≤ u ≤ upper} ½ uᵀHu + fᵀu`` for each problem of a batch, differentiable.

    Parameters
    ----------
    H:
        ``(m, m)`` shared or ``(batch, m, m)``; symmetric positive definite.
    f:
        ``(m,)`` or ``(batch, m)``.
    lower, upper:
        Bounds broadcastable to ``(batch, m)``; ``None`` for none (``∓inf``); ``lower ≤ upper``.
    max_iterations:
        Cap on the pivoting iterations (default ``50 + 10 m``; it terminates well before).

    Returns
    -------
    ``(batch, m)``, or ``(m,)`` when neither ``H`` nor ``f`` is batched.

    Raises
    ------
    ValueError
        On shapes or dtypes that do not fit, ``lower > upper``, an ``H`` that is not positive
        definite, or non-finite input.
    RuntimeError
        If the active set is not identified within ``max_iterations``.
    """
    batch, m = _batch_and_size(H, f)
    bounds = [
        _as_bound(name, value, default, f, (batch or 1, m))
        for name, value, default in (("lower", lower, -torch.inf), ("upper", upper, torch.inf))
    ]
    _check_ordered(*bounds)
    if max_iterations is None:
        max_iterations = 50 + 10 * m
    elif not isinstance(max_iterations, int) or max_iterations < 1:
        raise ValueError(f"max_iterations must be a positive integer, got {max_iterations}")
    u = _BoxQPFunction.apply(H, f.expand(batch or 1, m), *bounds, max_iterations)
    return u if batch else u.squeeze(0)


def _batch_and_size(H: torch.Tensor, f: torch.Tensor) -> tuple[int | None, int]:
    """The batch size (``None`` when nothing is batched) and ``m``; checks shapes and dtypes."""
    if f.ndim not in (1, 2):
        raise ValueError(f"f must have shape (m,) or (batch, m), got {tuple(f.shape)}")
    m = f.shape[-1]
    if H.ndim not in (2, 3) or H.shape[-2:] != (m, m):
        raise ValueError(f"H must have shape ({m}, {m}) or (batch, {m}, {m}), got {tuple(H.shape)}")
    if not f.dtype.is_floating_point or H.dtype != f.dtype:
        raise ValueError(
            f"H and f must share one floating dtype (float64 or float32), got {H.dtype}, {f.dtype}"
        )
    batches = {H.shape[0]} if H.ndim == 3 else set()
    batches |= {f.shape[0]} if f.ndim == 2 else set()
    if len(batches) > 1:
        raise ValueError(f"H and f have different batch sizes: {sorted(batches)}")
    return (batches.pop() if batches else None), m


def _as_bound(name, value, default, f, shape) -> torch.Tensor:
    bound = torch.as_tensor(default if value is None else value, dtype=f.dtype, device=f.device)
    trailing = shape[len(shape) - bound.ndim :]
    if bound.ndim > len(shape) or any(
        b not in (1, s) for b, s in zip(bound.shape, trailing, strict=True)
    ):
        raise ValueError(f"{name} must broadcast to {shape}, got shape {tuple(bound.shape)}")
    return bound


def _check_ordered(lower: torch.Tensor, upper: torch.Tensor) -> None:
    disordered = ~(lower <= upper)
    if disordered.any():
        where = tuple(disordered.nonzero()[0].tolist())
        lower, upper = (bound.expand_as(disordered)[where].item() for bound in (lower, upper))
        raise ValueError(
            f"lower must be <= upper (and not NaN) in every coordinate; at index {where} lower "
            f"is {lower} and upper is {upper}"
        )


class _Problems:
    """A batch of box QPs in column form: ``H`` ``(batch, m, m)``; ``f``, ``lower``, ``upper``
    ``(batch, m, 1)`` (the bounds may broadcast); with the rounding slack of the KKT tests."""

    def __init__(self, H, f, lower, upper) -> None:
        batch, m = f.shape[0], f.shape[1]
        self.H, self.f, self.lower, self.upper = H.expand(batch, m, m), f, lower, upper
        self.abs_H, self.abs_f = self.H.abs(), f.abs()
        self.eye = torch.eye(m, dtype=f.dtype, device=f.device)
        self.rounding = _ROUNDING_ULPS * torch.finfo(f.dtype).eps

    def reduced_solve(self, side: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The minimizer with the coordinates of ``side`` −1 / +1 held at their lower / upper
        bound and the others free, and the Cholesky factor of its reduced system."""
        free = side == 0
        factor = torch.linalg.cholesky_ex(torch.where(free & free.mT, self.H, self.eye))[0]
        at_bound = torch.where(free, 0.0, torch.where(side < 0, self.lower, self.upper))
        reduced = torch.baddbmm(self.f, self.H, at_bound, beta=-1, alpha=-1)
        return torch.cholesky_solve(torch.where(free, reduced, at_bound), factor), factor

    def wrong_multipliers(self, u: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
        """How far each active coordinate's multiplier is on the wrong side (``> 0``: wrong
        beyond rounding): ``±(Hu + f)`` less a few ulps of ``|H||u| + |f|``."""
        gradient = torch.baddbmm(self.f, self.H, u)
        rounding = torch.baddbmm(
            self.abs_f, self.abs_H, u.abs(), beta=self.rounding, alpha=self.rounding
        )
        return side * gradient - rounding


def _solve(H, f, lower, upper, max_iterations):
    """``u``, each coordinate's side (−1 lower, 0 free, +1 upper) and the Cholesky factor of
    the final reduced system: block pivoting, then the primal active-set method if needed."""
    factor, info = torch.linalg.cholesky_ex(H)
    if info.any():
        raise ValueError("H must be symmetric positive definite; its Cholesky factorization failed")
    u = torch.cholesky_solve(-f, factor)
    problems = _Problems(H, f, lower, upper)
    side = torch.zeros_like(f)
    for iteration in range(_BLOCK_PIVOTING_ITERATIONS + 1):
        target = torch.where(problems.wrong_multipliers(u, side) > 0, 0.0, side)
        target = torch.where(u < lower, -1.0, torch.where(u > upper, 1.0, target))
        pivot = target != side
        if not pivot.any():
            return u.clamp(lower, upper), side, factor
        if iteration == _BLOCK_PIVOTING_ITERATIONS:
            return _primal_active_set(problems, u.clamp(lower, upper), target, max_iterations)
        side = torch.where(pivot, target, side)
        u, factor = problems.reduced_solve(side)


def _primal_active_set(problems: _Problems, u, side, max_iterations):
    """The primal active-set method (Nocedal & Wright, *Numerical Optimization*, Alg. 16.3) on
    the bounds, from a feasible ``u`` whose active coordinates sit at their bounds: step toward
    the minimizer with the active set held, adding the first bound that blocks; at the
    minimizer, release the coordinate whose multiplier is most wrong. The objective never
    rises and falls at every step that moves, so a set recurs only through degenerate ties."""
    lower, upper = problems.lower, problems.upper
    for _ in range(max_iterations):
        minimizer, factor = problems.reduced_solve(side)
        step = minimizer - u
        room = torch.where(step < 0, lower - u, upper - u) / step
        alpha, blocking = torch.where(step != 0, room, torch.inf).min(1, keepdim=True)
        blocked = alpha < 1
        u = torch.where(blocked, u + alpha * step, minimizer).clamp(lower, upper)
        violation, releasing = problems.wrong_multipliers(u, side).max(1, keepdim=True)
        released = ~blocked & (violation > 0)
        if not (blocked | released).any():
            return u, side, factor
        side = torch.where(
            blocked, side.scatter(1, blocking, step.gather(1, blocking).sign()), side
        )
        side = torch.where(released, side.scatter(1, releasing, 0.0), side)
        u = torch.where(side < 0, lower, torch.where(side > 0, upper, u))
    raise RuntimeError(
        f"box_qp did not identify the active set in {max_iterations} iterations of the primal "
        "active-set method; raise max_iterations, or check that H is well conditioned"
    )


class _BoxQPFunction(torch.autograd.Function):
    """Forward by pivoting, backward by the KKT conditions on the identified active set."""

    @staticmethod
    def forward(ctx, H, f, lower, upper, max_iterations):
        u, side, factor = _solve(
            H, f.unsqueeze(-1), lower.unsqueeze(-1), upper.unsqueeze(-1), max_iterations
        )
        if not torch.isfinite(u).all():
            raise ValueError("box_qp got non-finite H, f or bounds; all entries must be finite")
        ctx.save_for_backward(H, u, side, factor)
        ctx.bound_shapes = lower.shape, upper.shape
        return u.squeeze(-1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_u):
        H, u, side, factor = ctx.saved_tensors
        need_H, need_f, need_lower, need_upper, _ = ctx.needs_input_grad
        v = grad_u.unsqueeze(-1)
        d = torch.cholesky_solve(torch.where(side == 0, -v, 0.0), factor)
        grad_H = grad_f = grad_lower = grad_upper = None
        if need_f:
            grad_f = d.squeeze(-1)
        if need_H:
            outer = d @ u.mT
            grad_H = (0.5 * (outer + outer.mT)).sum_to_size(H.shape)
        if need_lower or need_upper:
            residual = v + H @ d
            lower_shape, upper_shape = ctx.bound_shapes
            if need_lower:
                grad_lower = torch.where(side < 0, residual, 0.0).squeeze(-1)
                grad_lower = grad_lower.sum_to_size(lower_shape)
            if need_upper:
                grad_upper = torch.where(side > 0, residual, 0.0).squeeze(-1)
                grad_upper = grad_upper.sum_to_size(upper_shape)
        return grad_H, grad_f, grad_lower, grad_upper, None
