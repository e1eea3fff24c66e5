"""The exact box-QP layer: forward against Clarabel and the KKT conditions, gradients against
finite differences and cvxpylayers, and the convex policy trained through it."""

import importlib

import cvxpy as cp
import gymnasium as gym
import numpy as np
import pytest
import torch
from cvxpylayers.torch import CvxpyLayer

from mbdl_control.agents import LearnedCOCP
from mbdl_control.blocks.convex_policy import box_qp_policy_layer, convex_policy_layer
from mbdl_control.blocks.qp.box_qp import box_qp
from mbdl_control.blocks.qp.polytope_qp import polytope_qp
from mbdl_control.blocks.riccati import lqr_steady_state
from mbdl_control.models import LinearGaussianModel, symmetric_sqrt

box_qp_module = importlib.import_module("mbdl_control.blocks.qp.box_qp")

#: Clarabel tight enough to check 1e-8 (its defaults stop at about 1e-6)
TIGHT_CLARABEL = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}
#: cvxpylayers' derivative is exact to ~1e-11 only with SCS at 1e-12 and diffcp's dense mode;
#: its defaults (LSQR) and the published eps 1e-8 agree with the exact one to ~1e-6
TIGHT_CVXPYLAYERS = {
    "eps_abs": 1e-12,
    "eps_rel": 1e-12,
    "max_iters": 100_000,
    "acceleration_lookback": 0,
    "mode": "dense",
}


def _random_problems(rng, batch, m, condition=100.0, scale=3.0):
    """SPD ``H`` with the given condition number, ``f`` large enough for many active bounds,
    bounds of both signs and a few infinite ones."""
    H = []
    for _ in range(batch):
        rotation, _ = np.linalg.qr(rng.standard_normal((m, m)))
        H.append(rotation @ np.diag(np.logspace(0, np.log10(condition), m)) @ rotation.T)
    H = (np.array(H) + np.array(H).transpose(0, 2, 1)) / 2
    f = scale * np.sqrt(condition) * rng.standard_normal((batch, m))
    lower, upper = -rng.uniform(0.1, 1.0, (batch, m)), rng.uniform(0.1, 1.0, (batch, m))
    lower[rng.random((batch, m)) < 0.1] = -np.inf
    upper[rng.random((batch, m)) < 0.1] = np.inf
    return H, f, lower, upper


def _solve(H, f, lower, upper, **kwargs):
    return box_qp(*(torch.tensor(a) for a in (H, f, lower, upper)), **kwargs).numpy()


def _clarabel(H, f, lower, upper):
    u = cp.Variable(len(f))
    constraints = [u[finite] >= lower[finite] for finite in [np.isfinite(lower)] if finite.any()]
    constraints += [u[finite] <= upper[finite] for finite in [np.isfinite(upper)] if finite.any()]
    objective = 0.5 * cp.quad_form(u, cp.psd_wrap(H)) + f @ u
    cp.Problem(cp.Minimize(objective), constraints).solve(solver="CLARABEL", **TIGHT_CLARABEL)
    return u.value


def _kkt_residual(H, f, lower, upper, u):
    """Infeasibility and the scaled projected-gradient step ``u − P(u − g/diag H)``: both zero
    exactly at the solution."""
    gradient = np.einsum("bij,bj->bi", H, u) + f
    infeasibility = np.maximum(lower - u, 0).max() + np.maximum(u - upper, 0).max()
    step = u - np.clip(u - gradient / np.einsum("bii->bi", H), lower, upper)
    return infeasibility, (np.abs(step) / (1 + np.abs(u))).max()


@pytest.mark.parametrize("m", [3, 6])
def test_forward_matches_clarabel_with_many_active_bounds(m):
    rng = np.random.default_rng(m)
    H, f, lower, upper = _random_problems(rng, 20, m)
    u = _solve(H, f, lower, upper)
    at_bound = np.isclose(u, lower, rtol=0, atol=1e-12) | np.isclose(u, upper, rtol=0, atol=1e-12)
    assert at_bound.mean() > 0.4 and (~at_bound).any()
    reference = np.array([_clarabel(*problem) for problem in zip(H, f, lower, upper, strict=True)])
    np.testing.assert_allclose(u, reference, atol=1e-8)


@pytest.mark.parametrize("from_the_start", [False, True])
def test_hard_problems_are_solved_exactly(monkeypatch, from_the_start):
    # ill-conditioned H, far from an M-matrix: a few block pivots leave some problems
    # infeasible, and the primal active-set method finishes them; from the start, it alone
    # solves them all
    calls = []
    fallback = box_qp_module._primal_active_set
    monkeypatch.setattr(
        box_qp_module, "_primal_active_set", lambda *args: calls.append(1) or fallback(*args)
    )
    if from_the_start:
        monkeypatch.setattr(box_qp_module, "_BLOCK_PIVOTING_ITERATIONS", 0)
    rng = np.random.default_rng(7)
    H, f, lower, upper = _random_problems(rng, 100, 20, condition=1e6, scale=10.0)
    u = _solve(H, f, lower, upper)
    assert calls
    infeasibility, step = _kkt_residual(H, f, lower, upper, u)
    assert infeasibility == 0.0 and step < 1e-12
    assert (
        np.abs(u[:5] - [_clarabel(H[i], f[i], lower[i], upper[i]) for i in range(5)]).max() < 1e-6
    )


def test_float32_matches_float64():
    H, f, lower, upper = _random_problems(np.random.default_rng(3), 50, 4, condition=10.0)
    exact = _solve(H, f, lower, upper)
    single = box_qp(*(torch.tensor(a, dtype=torch.float32) for a in (H, f, lower, upper)))
    assert single.dtype == torch.float32
    np.testing.assert_allclose(single.numpy(), exact, atol=2e-5)


def test_unconstrained_is_the_linear_solve():
    rng = np.random.default_rng(4)
    H, f, _, _ = _random_problems(rng, 8, 5)
    H, f = torch.tensor(H, requires_grad=True), torch.tensor(f, requires_grad=True)
    u = box_qp(H, f)
    solve = torch.linalg.solve(H, -f)
    torch.testing.assert_close(u, solve, rtol=0, atol=1e-12)
    weights = torch.tensor(rng.standard_normal((8, 5)))
    gradients = torch.autograd.grad((u * weights).sum(), (H, f))
    expected = torch.autograd.grad((solve * weights).sum(), (H, f))
    torch.testing.assert_close(gradients[1], expected[1], rtol=0, atol=1e-12)
    symmetric = (expected[0] + expected[0].mT) / 2  # the gradient among symmetric matrices
    torch.testing.assert_close(gradients[0], symmetric, rtol=0, atol=1e-12)


def _with_margins(rng, H, batch, bound_shape):
    """``f`` and bounds for which each solution coordinate is free with room to its bounds, or
    at a bound with a multiplier of at least 0.5: small perturbations keep the active set."""
    m = H.shape[-1]
    side = rng.integers(-1, 2, (batch, m))
    lower, upper = -rng.uniform(0.5, 1.0, bound_shape), rng.uniform(0.5, 1.0, bound_shape)
    free = rng.uniform(-0.3, 0.3, (batch, m))
    u = np.where(side < 0, lower, np.where(side > 0, upper, free))
    gradient = -side * rng.uniform(0.5, 2.0, (batch, m))  # ≥ 0 at lower, ≤ 0 at upper
    return gradient - np.einsum("...ij,...j->...i", H, u), lower, upper


@pytest.mark.parametrize("shared", [False, True])
def test_gradcheck(shared):
    # shared: one H and one pair of bound vectors for the batch, so gradients are summed
    rng = np.random.default_rng(5)
    batch, m = 3, 4
    factor = rng.standard_normal((m, m) if shared else (batch, m, m))
    H = factor @ factor.swapaxes(-1, -2) + m * np.eye(m)
    f, lower, upper = _with_margins(rng, H, batch, (m,) if shared else (batch, m))
    inputs = tuple(torch.tensor(a, requires_grad=True) for a in (factor, f, lower, upper))

    def layer(factor, f, lower, upper):
        return box_qp(factor @ factor.mT + m * torch.eye(m, dtype=torch.float64), f, lower, upper)

    assert torch.autograd.gradcheck(layer, inputs, eps=1e-6, atol=1e-8, rtol=1e-6)


def _box_lqr_inputs(scale):
    model = gym.make("mbdl/BoxLQR-v0").unwrapped.true_model
    generator = torch.Generator().manual_seed(0)
    x = scale * torch.randn(12, model.n, generator=generator, dtype=torch.float64)
    theta = torch.tensor(symmetric_sqrt(lqr_steady_state(model)[1]))
    theta = theta + 0.05 * torch.randn(model.n, model.n, generator=generator, dtype=torch.float64)
    q = 0.1 * torch.randn(model.n, generator=generator, dtype=torch.float64)
    return model, tuple(t.requires_grad_() for t in (x, theta, q))


def test_policy_layer_gradients_match_cvxpylayers():
    model, inputs = _box_lqr_inputs(scale=0.5)
    fast = box_qp_policy_layer(model)(*inputs)
    reference = convex_policy_layer(model)(*inputs, solver_args=TIGHT_CVXPYLAYERS)[0]
    saturated = (fast.abs() > model.u_max[0] - 1e-9).sum().item()
    assert 0 < saturated < fast.numel()
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-8)
    weights = torch.randn(fast.shape, generator=torch.Generator().manual_seed(1), dtype=fast.dtype)
    gradients = torch.autograd.grad((fast * weights).sum(), inputs)
    expected = torch.autograd.grad((reference * weights).sum(), inputs)
    for gradient, reference_gradient in zip(gradients, expected, strict=True):
        torch.testing.assert_close(gradient, reference_gradient, rtol=0, atol=1e-6)


def test_policy_layer_gradcheck_and_unbatched_state():
    model, (x, theta, q) = _box_lqr_inputs(scale=0.5)
    layer = box_qp_policy_layer(model)
    assert torch.autograd.gradcheck(layer, (x, theta, q), eps=1e-6, atol=1e-8, rtol=1e-6)
    torch.testing.assert_close(layer(x[3], theta, q), layer(x, theta, q)[3], rtol=0, atol=0)


def test_policy_layer_without_bounds_is_the_lqr_gain():
    model = LinearGaussianModel(
        A=[[1.0, 0.2], [0.0, 0.9]], B=[[0.0], [0.5]], W=np.eye(2), Q=np.eye(2), R=np.eye(1)
    )
    gain, P = lqr_steady_state(model)
    x = torch.tensor([[1.0, -2.0], [0.3, 0.4]], dtype=torch.float64)
    theta, q = torch.tensor(symmetric_sqrt(P)), torch.zeros(2, dtype=torch.float64)
    u = box_qp_policy_layer(model)(x, theta, q)
    np.testing.assert_allclose(u.numpy(), -x.numpy() @ gain.T, atol=1e-10)


def test_training_through_box_qp_matches_cvxpylayers():
    env = gym.make("mbdl/BoxLQR-v0", max_episode_steps=10)
    settings = {"iterations": 3, "batch_size": 3, "solver_args": TIGHT_CVXPYLAYERS}
    agents = {
        layer: LearnedCOCP(env.unwrapped.true_model, layer=layer, **settings)
        for layer in ("box_qp", "cvxpylayers")
    }
    curves = {layer: agent.fit(env, seed=0).curve for layer, agent in agents.items()}
    np.testing.assert_allclose(curves["box_qp"], curves["cvxpylayers"], rtol=1e-9)
    for name in ("theta", "q"):
        np.testing.assert_allclose(
            getattr(agents["box_qp"], name), getattr(agents["cvxpylayers"], name), atol=1e-9
        )
    assert agents["box_qp"].skipped_steps == 0 and agents["box_qp"].config["layer"] == "box_qp"


def test_polytope_qp_matches_cvxpylayers():
    # ½‖Lu‖² + fᵀu over G u ≤ h, u = 0 strictly feasible, f large enough for active rows
    rng = np.random.default_rng(0)
    batch, m, p = 5, 4, 8
    L = rng.standard_normal((batch, m, m)) + 2 * np.eye(m)
    f, G = 3 * rng.standard_normal((batch, m)), rng.standard_normal((batch, p, m))
    h = rng.uniform(0.2, 1.0, (batch, p))
    inputs = tuple(torch.tensor(a, requires_grad=True) for a in (L, f, G, h))
    parameters = [cp.Parameter((m, m)), cp.Parameter(m), cp.Parameter((p, m)), cp.Parameter(p)]
    u = cp.Variable(m)
    objective = 0.5 * cp.sum_squares(parameters[0] @ u) + parameters[1] @ u
    problem = cp.Problem(cp.Minimize(objective), [parameters[2] @ u <= parameters[3]])
    reference = CvxpyLayer(problem, parameters, [u])(*inputs, solver_args=TIGHT_CVXPYLAYERS)[0]

    def layer(L, f, G, h):
        return polytope_qp(L.mT @ L, f, G, h)

    solution = layer(*inputs)
    active = (torch.einsum("bpm,bm->bp", inputs[2], solution) > inputs[3] - 1e-9).sum(-1)
    assert (active >= 1).all() and (active >= 2).any()
    torch.testing.assert_close(solution, reference, rtol=0, atol=1e-8)
    weights = torch.tensor(rng.standard_normal((batch, m)))
    gradients = torch.autograd.grad((solution * weights).sum(), inputs)
    expected = torch.autograd.grad((reference * weights).sum(), inputs)
    for gradient, reference_gradient in zip(gradients, expected, strict=True):
        torch.testing.assert_close(gradient, reference_gradient, rtol=0, atol=1e-6)
    assert torch.autograd.gradcheck(layer, inputs, eps=1e-6, atol=1e-8, rtol=1e-6)


def test_polytope_qp_is_box_qp_on_a_box():
    H, f, lower, upper = _random_problems(np.random.default_rng(8), 10, 3, condition=10.0)
    lower, upper = np.maximum(lower, -5.0), np.minimum(upper, 5.0)  # finite rows only
    rows = torch.cat((torch.eye(3), -torch.eye(3))).double()
    bounds = torch.tensor(np.hstack((upper, -lower)))
    on_box = polytope_qp(torch.tensor(H), torch.tensor(f), rows, bounds)
    np.testing.assert_allclose(on_box.numpy(), _solve(H, f, lower, upper), atol=1e-12)


def test_bad_input():
    H, f = torch.eye(2, dtype=torch.float64), torch.ones(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="layer must be one of"):
        LearnedCOCP(gym.make("mbdl/BoxLQR-v0").unwrapped.true_model, layer="scs")
    with pytest.raises(ValueError, match=r"H must have shape \(2, 2\) or \(batch, 2, 2\)"):
        box_qp(torch.eye(3, dtype=torch.float64), f)
    with pytest.raises(ValueError, match="different batch sizes"):
        box_qp(torch.eye(2, dtype=torch.float64).expand(4, 2, 2), f)
    with pytest.raises(ValueError, match="share one floating dtype"):
        box_qp(H.float(), f)
    with pytest.raises(ValueError, match=r"lower must broadcast to \(3, 2\)"):
        box_qp(H, f, lower=torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"at index \(1,\) lower is 2.0 and upper is 1.0"):
        box_qp(H, f, lower=torch.tensor([0.0, 2.0]), upper=1.0)
    with pytest.raises(ValueError, match="positive definite"):
        box_qp(torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64), f)
    with pytest.raises(ValueError, match="non-finite"):
        box_qp(H, torch.full((3, 2), torch.nan, dtype=torch.float64), -1.0, 1.0)
    with pytest.raises(ValueError, match="max_iterations must be a positive integer"):
        box_qp(H, f, max_iterations=0)
    rows, bounds = torch.tensor([[1.0, 0.0], [-1.0, 0.0]]).double(), torch.tensor([-1.0, -1.0])
    with pytest.raises(RuntimeError, match="DAQP found no optimum for problem 0"):
        polytope_qp(H, f[0], rows, bounds.double())
    with pytest.raises(ValueError, match=r"G must have shape \(2, 2\) or \(batch, 2, 2\)"):
        polytope_qp(H, f, rows[:, :1], bounds.double())


def _equality_problem():
    """min ½‖u‖² − 1ᵀu with u₀ + u₁ = 1 written as two rows (no interior) and u₂ ≤ 0.5,
    whose row u₂ ≤ 0.5 is also given twice: the solution is (0.5, 0.5, 0.5)."""
    G = torch.tensor([[1.0, 1.0, 0.0], [-1.0, -1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    h = torch.tensor([1.0, -1.0, 0.5, 0.5])
    return (
        torch.eye(3, dtype=torch.float64),
        -torch.ones(3, dtype=torch.float64),
        G.double(),
        h.double(),
    )


def test_polytope_qp_retries_a_looser_tolerance_when_daqp_refuses(monkeypatch):
    import mbdl_control.blocks.qp.polytope_qp as module

    solve, tolerances = module.daqp.solve, []

    def refusing_the_tight_tolerance(*args, primal_tol):
        tolerances.append(primal_tol)
        if primal_tol < 1e-10:  # as DAQP does on some sets without interior
            return None, None, -1, {}
        return solve(*args, primal_tol=primal_tol)

    monkeypatch.setattr(module.daqp, "solve", refusing_the_tight_tolerance)
    H, f, G, h = _equality_problem()
    u = polytope_qp(H, f, G, h)
    np.testing.assert_allclose(u.numpy(), [0.5, 0.5, 0.5], atol=1e-12)
    assert tolerances == list(module.PRIMAL_TOLERANCES)


def test_polytope_qp_on_a_set_without_interior_and_duplicated_rows():
    H, f, G, h = _equality_problem()
    f.requires_grad_(True)
    u = polytope_qp(H, f, G, h)
    np.testing.assert_allclose(u.detach().numpy(), [0.5, 0.5, 0.5], atol=1e-12)
    u[0].backward()
    # on the equality u₀ = (1 − f₀ + f₁)/2; u₂ is held by its bound
    np.testing.assert_allclose(f.grad.numpy(), [-0.5, 0.5, 0.0], atol=1e-12)
