"""The path-tracking vehicle: its dynamics against the published equations, its convex policy
against cvxpy, the published figures, and the identification of what a designer gets wrong."""

import functools

import cvxpy as cp
import gymnasium as gym
import numpy as np
import pytest
import scipy.optimize
import torch
from scipy.special import ndtr

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import LearnedVehicleCOCP, NonlinearMPC, VehicleCOCP
from mbdl_control.blocks.exploration import dithered_transitions
from mbdl_control.blocks.grey_box_identification import identify_vehicle
from mbdl_control.blocks.nonlinear_mpc import NonlinearMPCPolicy
from mbdl_control.blocks.vehicle_policy import vehicle_inputs
from mbdl_control.envs.control.vehicle_dynamics import VehicleDynamics
from mbdl_control.evaluation import evaluate
from mbdl_control.models.vehicle import VehicleModel

MODEL = VehicleModel()
L, H = 2.8, 0.2


def _states(count, seed=0):
    """States spread over what an episode visits (curves, speeds, errors)."""
    rng = np.random.default_rng(seed)
    return np.column_stack(
        (
            rng.uniform(0, 50, count),
            rng.normal(0, 0.5, count),
            rng.normal(0, 0.1, count),
            rng.uniform(2, 7, count),
            rng.uniform(3, 6, count),
            rng.normal(0, 0.1, count),
        )
    )


def test_a_step_is_the_published_simulator_with_its_draws():
    x, z = _states(50), np.random.default_rng(1).standard_normal((50, 7))
    u = np.random.default_rng(2).normal(0, 0.3, (50, 2))
    s, e, dpsi, v, vdes, kappa = x.T
    keep_speed, keep_curve = ndtr(z[:, 0]) < 0.98, ndtr(z[:, 2]) < 0.95
    expected = np.column_stack(
        (
            s + H * v / (1 - e * kappa) * np.cos(dpsi),
            e + H * v * np.sin(dpsi) + 0.1 * z[:, 4],
            dpsi
            + H * v * (kappa + u[:, 1] / L - kappa / (1 - e * kappa) * np.cos(dpsi))
            + 0.01 * z[:, 5],
            v + H * u[:, 0] + 0.1 * z[:, 6],
            np.where(keep_speed, vdes, 3 + 3 * ndtr(z[:, 1])),
            np.where(keep_curve, kappa, 0.1 * z[:, 3]),
        )
    )
    np.testing.assert_allclose(MODEL.transition(x, u, z), expected, rtol=1e-14, atol=1e-14)
    in_torch = MODEL.transition(*(torch.from_numpy(a) for a in (x, u, z)))
    np.testing.assert_allclose(in_torch.numpy(), expected, rtol=1e-14, atol=1e-14)
    cost = (v - vdes) ** 2 + e**2 + dpsi**2 + 10 * u[:, 0] ** 2 + 10 * u[:, 1] ** 2
    np.testing.assert_allclose(MODEL.stage_cost(x, u), cost, rtol=1e-14)


def test_the_path_changes_as_often_as_published():
    rng = np.random.default_rng(3)
    x = np.tile(MODEL.x0, (200_000, 1))
    x[:, 5] = 0.05
    after = MODEL.transition(x, np.zeros((len(x), 2)), rng.standard_normal((len(x), 7)))
    curve_changed, speed_changed = np.mean(after[:, 5] != 0.05), np.mean(after[:, 4] != 4.5)
    assert abs(curve_changed - 0.05) < 4 * np.sqrt(0.05 * 0.95 / len(x))
    assert abs(speed_changed - 0.02) < 4 * np.sqrt(0.02 * 0.98 / len(x))
    redrawn = after[after[:, 4] != 4.5, 4]
    assert redrawn.min() >= 3 and redrawn.max() <= 6


def test_the_vehicle_saturates_to_its_bounds():
    dynamics = VehicleDynamics(MODEL)
    x = MODEL.x0.copy()
    x[5] = 0.1
    u, _, flag, _, _ = dynamics.step(x, np.array([3.0, 1.0]), np.zeros(7))
    np.testing.assert_allclose(u, [2.0, 0.68 - L * 0.1])
    assert flag == 1.0
    u, _, flag, _, _ = dynamics.step(x, np.array([0.5, 0.1]), np.zeros(7))
    assert flag == 0.0 and np.array_equal(u, [0.5, 0.1])


def test_the_convex_policy_solves_the_published_problem():
    rng = np.random.default_rng(4)
    P, q = np.eye(4) + 0.3 * rng.standard_normal((4, 4)), rng.standard_normal(4)
    states = _states(12, seed=5)
    actions = VehicleCOCP(MODEL, P, q).predict(states)[0]
    for x, action in zip(states, actions, strict=True):
        _, e, dpsi, v, vdes, kappa = x
        e_next = e + H * v * np.sin(dpsi)
        dpsi_next = dpsi + H * v * (kappa - kappa / (1 - e * kappa) * np.cos(dpsi))
        f = np.array(
            [e_next, dpsi_next, v - 0.98 * vdes - 0.02 * 4.5, e_next + H * v * np.sin(dpsi_next)]
        )
        B = np.array([[0, 0], [0, H * v / L], [H, 0], [0, H * H * v * v / L]])
        u = cp.Variable(2)
        y = f + B @ u
        objective = 10 * cp.square(u[0]) + 10 * cp.square(u[1]) + cp.sum_squares(P @ y) + q @ y
        constraints = [cp.abs(u[0]) <= 2, cp.abs(u[1] + L * kappa) <= 0.68]
        cp.Problem(cp.Minimize(objective), constraints).solve(solver="CLARABEL")
        np.testing.assert_allclose(action, u.value, atol=1e-6)


def test_the_published_untuned_cost_is_reproduced():
    """The published code's 100-episode Monte Carlo: 4.055 (an s.e. of about 0.3); 300 of
    ours, within 3 standard errors."""
    env = gym.make("mbdl/VehiclePathTracking-v0")
    result = evaluate(VehicleCOCP(MODEL), env, 300, seed=0, compare_to_oracle=False)
    assert abs(result.mean_cost - 4.055) < 3 * result.std_error


@functools.cache
def _tuned_on_the_truth():
    agent = LearnedVehicleCOCP(MODEL, knowledge="true")
    agent.fit(None, seed=0, horizon=100)
    return agent


def test_tuning_through_the_exact_layer_reaches_the_published_cost():
    """The published recipe (SGD 0.1, 100 episodes, clipping at 10) in the true model: the
    published 0.912; measured 0.945 on 500 fresh episodes, from 4.15 untuned."""
    env = gym.make("mbdl/VehiclePathTracking-v0")
    tuned = _tuned_on_the_truth()
    start = evaluate(VehicleCOCP(MODEL), env, 200, seed=1, compare_to_oracle=False)
    result = evaluate(tuned, env, 200, seed=1, oracle_result=start)
    assert result.mean_cost < 1.0 and not tuned.diverged
    assert -result.gap_to_oracle > 2.5 and -result.gap_to_oracle > 10 * result.gap_to_oracle_se


def test_the_oracle_is_mpc_on_the_truth_and_beats_the_tuned_convex_policy():
    """Nonlinear MPC (H = 20) beats the convex policy tuned on the truth on fresh episodes,
    paired (measured: 0.871 against 0.939 per step, 200 episodes)."""
    env = gym.make("mbdl/VehiclePathTracking-v0")
    oracle = env.unwrapped.oracle()
    assert isinstance(oracle, NonlinearMPC) and oracle.policy.horizon == 20
    tuned = evaluate(_tuned_on_the_truth(), env, 100, seed=2, compare_to_oracle=False)
    mpc = evaluate(oracle, env, 100, seed=2, oracle_result=tuned)
    assert -mpc.gap_to_oracle > 3 * mpc.gap_to_oracle_se


def _plan_cost(policy, x, flat):
    states = policy.rollout(x[None], flat.reshape(1, policy.horizon, 2))[0]
    stages = sum(s @ MODEL.Q @ s for s in states[1:-1]) + flat @ np.kron(np.eye(10), MODEL.R) @ flat
    return stages + states[-1] @ MODEL.Q @ states[-1]


def test_converged_mpc_plans_match_scipy_slsqp():
    """Iterated to convergence, SCP on the vehicle reaches the cost of SLSQP's local optimum
    of the same problem, the steering bounds moving with the predicted curvature."""
    policy = NonlinearMPCPolicy(MODEL, horizon=10, iterations=30)
    for x in _states(3, seed=8):
        plan = policy.initial_plans(1)
        for _ in range(30):
            plan, solved = policy.improve(x[None], plan)
            assert solved.all()
        ours = _plan_cost(policy, x, plan.ravel())
        curvatures = policy.rollout(x[None], plan)[0, :-1, 5]  # independent of the plan
        bounds = [pair for k in curvatures for pair in ((-2.0, 2.0), (-0.68 - L * k, 0.68 - L * k))]
        reference = scipy.optimize.minimize(
            lambda flat, x=x: _plan_cost(policy, x, flat),
            np.zeros(20),
            method="SLSQP",
            bounds=bounds,
            options={"ftol": 1e-12, "maxiter": 500},
        )
        assert reference.success
        assert ours <= reference.fun * (1 + 1e-6)
        assert ours == pytest.approx(reference.fun, rel=1e-4)


def test_identification_recovers_the_truth_from_the_wrong_start():
    env = gym.make("mbdl/VehiclePathTracking-v0", mismatch=0.5)
    nominal, agent = env.unwrapped.nominal_model, VehicleCOCP(env.unwrapped.nominal_model)

    def act(x, noise):
        return agent.predict(x)[0] + 0.1 * noise * np.array([2.0, 2.0])

    states, inputs, next_states = dithered_transitions(env, act, 2, 3000, seed=0)
    fitted = identify_vehicle(nominal, states, inputs, next_states)
    # the regressions against numpy's least squares on the same data
    gain = np.linalg.lstsq(H * inputs[:, :1], next_states[:, 3] - states[:, 3], rcond=None)[0]
    assert fitted.acceleration_gain == pytest.approx(gain[0], rel=1e-10)
    # the truth within 4 standard errors of each regression (σ / ‖regressor‖)
    gain_se = fitted.noise_std[2] / np.linalg.norm(H * inputs[:, 0])
    steering_se = fitted.noise_std[1] / np.linalg.norm(H * states[:, 3] * inputs[:, 1])
    assert abs(fitted.acceleration_gain - 1.0) < 4 * gain_se
    assert abs(1 / fitted.wheelbase - 1 / 2.8) < 4 * steering_se
    np.testing.assert_allclose(fitted.noise_std, MODEL.noise_std, rtol=0.05)


def test_bad_parameters_are_refused_by_name():
    with pytest.raises(ValueError, match="wheelbase must be a positive finite float"):
        VehicleModel(wheelbase=0.0)
    with pytest.raises(ValueError, match="speed_keep must be a probability"):
        VehicleModel(speed_keep=1.5)
    with pytest.raises(ValueError, match="speed_low must be <= speed_high"):
        VehicleModel(speed_low=7.0)
    with pytest.raises(ValueError, match="P must have shape"):
        VehicleCOCP(MODEL, P=np.eye(3))
    with pytest.raises(ValueError, match="learn_from must be one of"):
        LearnedVehicleCOCP(MODEL, learn_from="data")
    with pytest.raises(ValueError, match="at least one episode"):
        LearnedVehicleCOCP(MODEL, learn_from="system").fit(
            gym.make("mbdl/VehiclePathTracking-v0"), None
        )


def test_the_published_monte_carlo_is_reproduced_on_its_own_draws():
    """The published code's 100 episodes (torch seeds 1000–1099, its order of draws, written
    here as it is in the notebook): our untuned policy costs 4.0553 per step, the published
    figure to its four decimals; our tuned one (the published recipe on our training draws)
    0.9118, the published 0.9117 (the episodes' standard error is 0.04)."""
    tuned = _tuned_on_the_truth()
    torch_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        with torch.no_grad():
            untuned = [
                _published_episode(1000 + k, torch.eye(4), torch.zeros(4)) for k in range(100)
            ]
            learned = [_published_episode(1000 + k, tuned.P, tuned.q) for k in range(100)]
    finally:
        torch.set_default_dtype(torch_dtype)
    assert np.mean(untuned) == pytest.approx(4.0553, abs=5e-5)
    assert np.mean(learned) == pytest.approx(0.9117, abs=0.01)


def _published_episode(seed, P, q, steps=100):
    torch.manual_seed(seed)
    x = torch.tensor([[0.0, 0.5, 0.1, 3.0, 4.5, 0.0]])
    total = 0.0
    for _ in range(steps):
        u = vehicle_inputs(MODEL, P, q, x)
        total += float(MODEL.stage_cost(x, u)[0])
        s, e, dpsi, v, vdes, kappa = x.T
        keep = torch.rand_like(kappa) < 0.95
        kappa_next = keep * kappa + ~keep * 0.1 * torch.randn_like(kappa)
        keep = torch.rand_like(vdes) < 0.98
        redrawn = torch.distributions.Uniform(3, 6).sample(sample_shape=vdes.shape)
        vdes_next = keep * vdes + ~keep * redrawn
        a, z = u[:, 0], u[:, 1]
        x = torch.stack(
            [
                s + H * v / (1 - e * kappa) * torch.cos(dpsi),
                e + H * v * torch.sin(dpsi),
                dpsi + H * v * (kappa + z / L - kappa / (1 - e * kappa) * torch.cos(dpsi)),
                v + H * a,
                vdes_next,
                kappa_next,
            ],
            1,
        )
        x[:, 1] += 0.1 * torch.randn(1)
        x[:, 2] += 0.01 * torch.randn(1)
        x[:, 3] += 0.1 * torch.randn(1)
    return total / steps


def test_the_mismatch_is_exact():
    env = gym.make("mbdl/VehiclePathTracking-v0", mismatch=0.5).unwrapped
    nominal = env.nominal_model
    assert nominal.wheelbase == pytest.approx(2.8 * 1.5)
    assert nominal.acceleration_gain == pytest.approx(1 / 1.5)
    np.testing.assert_allclose(nominal.noise_std, 1.5 * MODEL.noise_std)
    report = env.mismatch_report()
    assert report["rel_error_wheelbase"] == pytest.approx(0.5)
    assert report["rel_error_noise_std"] == pytest.approx(0.5)
    assert gym.make("mbdl/VehiclePathTracking-v0").unwrapped.nominal_model == MODEL
