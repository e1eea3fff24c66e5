"""The condensed-QP fast path (DAQP) against the cvxpy problem it replaces, and its failures."""

import copy

import gymnasium as gym
import numpy as np
import pytest

from mbdl_control.agents import COCP, MPC
from mbdl_control.blocks.mpc import prediction_matrices
from mbdl_control.blocks.qp.parametric_qp import ParametricQP
from mbdl_control.models import linear_step, quadratic_cost

from .conftest import random_model

TIGHT_CLARABEL = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


def box_lqr_model(**kwargs):
    return gym.make("mbdl/BoxLQR-v0", **kwargs).unwrapped.true_model


def test_prediction_matrices_match_simulated_dynamics():
    model = random_model(0, n=4, m=2)
    rng = np.random.default_rng(0)
    x, inputs = rng.standard_normal(4), rng.standard_normal((6, 2))
    Phi, Gamma = prediction_matrices(model, 6)
    states = [x]
    for u in inputs:
        states.append(linear_step(model, states[-1], u, np.zeros(4)))
    np.testing.assert_allclose(Phi @ x + Gamma @ inputs.reshape(-1), np.concatenate(states[1:]))


def test_condensed_objective_is_the_mpc_cost_up_to_a_constant():
    model = random_model(1, n=4, m=2)
    mpc = MPC(model, horizon=5)
    H, F = mpc.policy._qp.H, mpc.policy._qp.F
    x = np.random.default_rng(1).standard_normal(4)

    def mpc_cost(inputs):
        states, cost = [x], 0.0
        for u in inputs:
            cost += quadratic_cost(model, states[-1], u)
            states.append(linear_step(model, states[-1], u, np.zeros(4)))
        return cost + states[-1] @ mpc.policy.P @ states[-1]

    offsets = []
    for z in np.random.default_rng(2).standard_normal((4, 10)):
        offsets.append(mpc_cost(z.reshape(5, 2)) - (0.5 * z @ H @ z + (F @ x) @ z))
    np.testing.assert_allclose(offsets, offsets[0], rtol=1e-10)


def _states_with_active_and_inactive_bounds(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([scale * rng.standard_normal((6, n)) for scale in (0.02, 0.5, 2.0)])


@pytest.mark.parametrize("horizon", [10, 30])
def test_mpc_fast_path_equals_cvxpy_on_box_lqr(horizon):
    model = box_lqr_model()
    states = _states_with_active_and_inactive_bounds(model.n, horizon)
    fast = MPC(model, horizon).predict(states)[0]
    reference = MPC(model, horizon, solver="CLARABEL", solver_options=TIGHT_CLARABEL)
    np.testing.assert_allclose(fast, reference.predict(states)[0], atol=1e-6)
    saturated = np.isclose(np.abs(fast), 0.1, atol=1e-9)
    assert saturated.any() and not saturated.all()


@pytest.mark.parametrize("horizon", [10, 30])
def test_mpc_fast_path_equals_cvxpy_with_state_bounds(horizon):
    model, x_max = box_lqr_model(u_max=1.0), 1.0
    states = 0.5 * np.random.default_rng(horizon).standard_normal((16, model.n))
    fast = MPC(model, horizon, state_bound=x_max)
    reference = MPC(model, horizon, x_max, solver="CLARABEL", solver_options=TIGHT_CLARABEL)
    np.testing.assert_allclose(fast.predict(states)[0], reference.predict(states)[0], atol=1e-6)
    assert fast.diagnostics() == reference.diagnostics()
    assert 0 < fast.diagnostics()["failed_solves"] < len(states)  # infeasible states included
    Phi, Gamma = prediction_matrices(model, horizon)
    plans = {i: fast.policy._qp.solve(x) for i, x in enumerate(states)}
    peaks = [np.max(np.abs(Phi @ states[i] + Gamma @ z)) for i, z in plans.items() if z is not None]
    assert np.isclose(peaks, x_max, atol=1e-7).any()  # a state bound is active somewhere


def test_cocp_fast_path_equals_cvxpy_with_learned_parameters():
    model = box_lqr_model()
    rng = np.random.default_rng(3)
    theta, q = rng.standard_normal((model.n, model.n)), rng.standard_normal(model.n)
    states = _states_with_active_and_inactive_bounds(model.n, 4)
    fast = COCP(model, theta, q).predict(states)[0]
    reference = COCP(model, theta, q, solver="CLARABEL", solver_options=TIGHT_CLARABEL)
    np.testing.assert_allclose(fast, reference.predict(states)[0], atol=1e-6)
    saturated = np.isclose(np.abs(fast), 0.1, atol=1e-9)
    assert saturated.any() and not saturated.all()


def test_failed_fast_solve_falls_back_to_safe_action_and_is_counted():
    model = random_model(6, n=3, m=2, u_max=0.01)
    mpc = MPC(model, horizon=5, state_bound=1e-3, solver="DAQP")
    x = np.array([1.0, -1.0, 0.5])
    np.testing.assert_allclose(mpc.predict(x)[0], np.clip(-mpc.policy.gain @ x, -0.01, 0.01))
    assert mpc.diagnostics() == {"solves": 1, "failed_solves": 1, "failure_rate": 1.0}
    mpc.predict(np.zeros(3))  # the workspace recovers: the origin is feasible
    assert mpc.diagnostics()["failed_solves"] == 1


def test_fast_path_survives_pickling():
    model = random_model(7, u_max=0.5)
    mpc = MPC(model, horizon=4, state_bound=2.0)
    x = np.array([0.3, -0.2, 0.1])
    np.testing.assert_array_equal(copy.deepcopy(mpc).predict(x)[0], mpc.predict(x)[0])


def test_bad_solver_and_settings_name_the_valid_ones():
    model = random_model(8)
    valid = r"\('DAQP', 'CLARABEL', 'OSQP', 'SCS'\), got 'GUROBI'"
    with pytest.raises(ValueError, match=f"solver must be one of {valid}"):
        MPC(model, solver="GUROBI")
    with pytest.raises(ValueError, match=r"unknown DAQP settings \['tol'\]; valid: \['primal_tol'"):
        COCP(model, solver_options={"tol": 1e-9})
    with pytest.raises(ValueError, match=r"E must have shape \(1, 3\), got \(1, 4\)"):
        ParametricQP(np.eye(2), np.zeros((2, 3)), G=np.zeros((1, 2)), E=np.zeros((1, 4)))
    with pytest.raises(ValueError, match="H must be ≻ 0"):
        ParametricQP(-np.eye(2), np.zeros((2, 3)))


@pytest.mark.parametrize("horizon", [1, 10, 30])
def test_batched_box_solve_equals_daqp_row_by_row(horizon):
    mpc = MPC(box_lqr_model(), horizon).policy._qp
    bound = np.full(2 * horizon, 0.1)
    qp = ParametricQP(mpc.H, mpc.F, lb=-bound, ub=bound, box_qp_batches=True)
    states = _states_with_active_and_inactive_bounds(8, seed=horizon + 1)
    together, solved = qp.solve_batch(states)
    one_by_one = np.stack([qp.solve(x) for x in states])
    assert solved.all()
    np.testing.assert_allclose(together, one_by_one, atol=1e-9)
    assert np.isclose(np.abs(together), 0.1).any()
