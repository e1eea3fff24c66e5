"""Riccati solutions against closed forms, python-control, and Monte Carlo."""

import control
import gymnasium as gym
import numpy as np
import pytest

from mbdl_control.blocks.riccati import (
    kalman_steady_state,
    lq_optimal_cost,
    lqr_finite_horizon,
    lqr_steady_state,
)
from mbdl_control.evaluation import evaluate
from mbdl_control.models import LinearGaussianModel

from .conftest import random_model


@pytest.mark.parametrize(("a", "b", "q", "r"), [(1.0, 1.0, 1.0, 1.0), (1.2, 0.5, 2.0, 0.3)])
def test_scalar_riccati_closed_form(a, b, q, r):
    # b²P² + (r − a²r − qb²)P − qr = 0, positive root
    linear = r - a**2 * r - q * b**2
    expected = (-linear + np.sqrt(linear**2 + 4 * b**2 * q * r)) / (2 * b**2)
    model = LinearGaussianModel(A=[[a]], B=[[b]], W=[[1.0]], Q=[[q]], R=[[r]])
    gain, P = lqr_steady_state(model)
    assert P[0, 0] == pytest.approx(expected, rel=1e-10)
    assert gain[0, 0] == pytest.approx(a * b * expected / (r + b**2 * expected), rel=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_lqr_matches_python_control_dlqr(seed):
    model = random_model(seed, n=4, m=2)
    gain, P = lqr_steady_state(model)
    K_ref, S_ref, _ = control.dlqr(model.A, model.B, model.Q, model.R)
    np.testing.assert_allclose(gain, K_ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(P, S_ref, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_kalman_matches_python_control_dlqe(seed):
    model = random_model(seed, n=4, m=2, p=2)
    L, Sigma = kalman_steady_state(model)
    L_ref, P_ref, _ = control.dlqe(model.A, np.eye(4), model.C, model.W, model.V)
    np.testing.assert_allclose(Sigma, P_ref, rtol=1e-8, atol=1e-10)
    # python-control's gain maps the innovation onto x̂_{t+1|t}: A L
    np.testing.assert_allclose(model.A @ L, L_ref, rtol=1e-6, atol=1e-10)


def test_finite_horizon_converges_to_steady_state():
    model = random_model(2, n=4, m=2)
    finite = lqr_finite_horizon(model, 400)
    gain, P = lqr_steady_state(model)
    np.testing.assert_allclose(finite.P[0], P, rtol=1e-8)
    np.testing.assert_allclose(finite.gains[0], gain, rtol=1e-8)
    np.testing.assert_allclose(finite.gains[-1], 0.0)  # no terminal cost: last input is free


def test_scalar_finite_horizon_cost_by_hand():
    # one step: only x_0 is costed, u_0 = 0, J = qΣ_0
    # two steps: P_1 = q, P_0 = q + a²q r/(r + b²q)
    model = LinearGaussianModel(A=[[0.9]], B=[[0.5]], W=[[0.2]], Q=[[2.0]], R=[[1.0]])
    assert lq_optimal_cost(model, 1) == pytest.approx(2.0 * 0.2)
    P0 = 2.0 + 0.81 * 2.0 * 1.0 / (1.0 + 0.25 * 2.0)
    assert lq_optimal_cost(model, 2) == pytest.approx((P0 * 0.2 + 2.0 * 0.2) / 2)


@pytest.mark.parametrize("env_id", ["mbdl/LinearQuadratic-v0", "mbdl/LQG-v0"])
def test_oracle_simulated_cost_matches_theory(env_id):
    env = gym.make(env_id)
    result = evaluate(env.unwrapped.oracle(), env, n_episodes=300, seed=7, compare_to_oracle=False)
    theory = env.unwrapped.performance_bound()
    assert abs(result.mean_cost - theory) < 4 * result.std_error, (result.mean_cost, theory)
    assert result.std_error < 0.03 * theory  # the check has power: the error is small
