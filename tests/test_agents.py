"""Model-based agents against each other and against the closed-form LQR."""

import gymnasium as gym
import numpy as np
import pytest

from mbdl_control.agents import (
    AGENTS,
    COCP,
    LQG,
    LQR,
    MPC,
    BaseAgent,
    Budget,
    SaturatedLQR,
    SpectrumInfo,
)
from mbdl_control.models import LinearStructure

from .conftest import random_model


def test_mpc_with_inactive_constraints_equals_lqr():
    model = random_model(4, n=4, m=2, u_max=1e3)
    states = np.random.default_rng(0).standard_normal((10, 4))
    lqr_actions, _ = LQR(model).predict(states)
    for horizon in (1, 5):
        mpc = MPC(model, horizon=horizon, state_bound=1e4)
        np.testing.assert_allclose(mpc.predict(states)[0], lqr_actions, atol=1e-6)
        assert mpc.diagnostics()["failed_solves"] == 0


@pytest.mark.parametrize("solver", ["CLARABEL", "OSQP", "SCS"])
def test_mpc_solvers_agree_on_active_constraints(solver):
    env = gym.make("mbdl/BoxLQR-v0")
    x = 3 * env.unwrapped.true_model.x0_cov.diagonal() ** 0.5
    options = {"eps_abs": 1e-9, "eps_rel": 1e-9} if solver != "CLARABEL" else {}
    reference = MPC(env.unwrapped.true_model, horizon=10).predict(x)[0]
    action = MPC(env.unwrapped.true_model, 10, solver=solver, solver_options=options).predict(x)[0]
    assert np.max(np.abs(reference)) == pytest.approx(0.1)  # the bound is active here
    np.testing.assert_allclose(action, reference, atol=1e-4)


def test_cocp_untuned_without_bounds_equals_lqr():
    model = random_model(5, n=4, m=2)
    states = np.random.default_rng(1).standard_normal((8, 4))
    np.testing.assert_allclose(
        COCP(model).predict(states)[0], LQR(model).predict(states)[0], atol=1e-6
    )


def test_failed_solve_falls_back_to_safe_action_and_is_counted():
    model = random_model(6, n=3, m=2, u_max=0.01)
    mpc = MPC(model, horizon=5, state_bound=1e-3)  # infeasible from any ordinary state
    x = np.array([1.0, -1.0, 0.5])
    action, _ = mpc.predict(x)
    np.testing.assert_allclose(action, np.clip(-mpc.policy.gain @ x, -0.01, 0.01))
    assert mpc.diagnostics() == {"solves": 1, "failed_solves": 1, "failure_rate": 1.0}


def test_saturated_lqr_clips_to_model_bounds():
    model = random_model(7, u_max=0.2)
    states = 10 * np.random.default_rng(2).standard_normal((5, 3))
    actions, _ = SaturatedLQR(model).predict(states)
    np.testing.assert_allclose(actions, np.clip(LQR(model).predict(states)[0], -0.2, 0.2))


def test_time_varying_agents_restart_at_episode_start():
    model = random_model(8, n=3, m=2, p=2)
    agent = LQG(model, horizon=5)
    y = np.ones((2, 2))
    first, state = agent.predict(y, episode_start=np.array([True, True]))
    second, state = agent.predict(y, state=state, episode_start=np.array([False, True]))
    np.testing.assert_allclose(second[1], first[1])
    assert not np.allclose(second[0], first[0])
    np.testing.assert_array_equal(state[1], [2, 1])


def test_spectrum_and_save_load_roundtrip(tmp_path):
    model = random_model(9, u_max=0.5)
    for agent in (LQR(model, horizon=10), SaturatedLQR(model), MPC(model, horizon=3), COCP(model)):
        assert agent.spectrum == SpectrumInfo("model-based", "nominal", 0)
        agent.save(tmp_path / "agent.safetensors")
        loaded = BaseAgent.load(tmp_path / "agent.safetensors")
        assert type(loaded) is type(agent)
        x = np.array([0.3, -0.2, 0.1])
        np.testing.assert_allclose(loaded.predict(x)[0], agent.predict(x)[0], atol=1e-7)
        assert agent.fit(None, Budget(steps=10)).steps == 0


def test_agent_bad_input_errors():
    model = random_model(10)
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        MPC(model, horizon=0)
    with pytest.raises(ValueError, match="solver must be one of"):
        MPC(model, solver="GUROBI")
    with pytest.raises(ValueError, match="theta must have shape"):
        COCP(model, theta=np.eye(2))
    with pytest.raises(
        ValueError, match=r"observation must have shape \(3,\) \(one\) or \(batch, 3\)"
    ):
        LQR(model).predict(np.zeros(4))
    with pytest.raises(ValueError, match="LQG needs a measurement model"):
        LQG(model)
    with pytest.raises(ValueError, match="knowledge must be one of"):
        LQR(model, knowledge="partial")
    with pytest.raises(ValueError, match=r"Budget\.steps must be an integer >= 0"):
        Budget(steps=-1)
    with pytest.raises(ValueError, match="family must be one of"):
        SpectrumInfo("magic", "true", 0)


@pytest.mark.parametrize("solver", ["DAQP", "CLARABEL", "OSQP", "SCS"])
def test_every_solver_path_falls_back_when_every_solve_of_a_batch_fails(solver):
    model = random_model(6, n=3, m=2, u_max=0.01)
    mpc = MPC(model, horizon=5, state_bound=1e-3, solver=solver)
    states = np.array([[1.0, -1.0, 0.5], [0.5, 0.5, 0.5]])
    actions, _ = mpc.predict(states)
    np.testing.assert_allclose(actions, np.clip(states @ -mpc.policy.gain.T, -0.01, 0.01))
    assert mpc.diagnostics()["failed_solves"] == 2
    for bad in (
        MPC(model, horizon=5, solver=solver, solver_options={"no_such_option": 1})
        if solver != "DAQP"
        else None,
        COCP(model, theta=1e150 * np.eye(3), solver=solver) if solver != "DAQP" else None,
    ):
        if bad is not None:
            action, _ = bad.predict(states[0])
            assert np.all(np.isfinite(action)) and bad.diagnostics()["failed_solves"] == 1


@pytest.mark.parametrize("solver", ["DAQP", "CLARABEL"])
def test_one_state_takes_the_short_path_to_the_same_action(solver):
    model = random_model(8, n=3, m=2, u_max=0.05)
    states = np.random.default_rng(3).normal(size=(6, 3))
    for make in (lambda: MPC(model, horizon=4, solver=solver), lambda: COCP(model, solver=solver)):
        batched, single = make(), make()
        actions, _ = batched.predict(states)
        for row, x in enumerate(states):
            np.testing.assert_allclose(single.predict(x)[0], actions[row], atol=1e-7)
        assert single.diagnostics() == batched.diagnostics()
    failing = MPC(model, horizon=4, state_bound=1e-4, solver=solver)  # every solve infeasible
    action, _ = failing.predict(states[0])
    np.testing.assert_allclose(action, failing.policy.safe_action(states[0]))
    assert failing.diagnostics()["failed_solves"] == 1


@pytest.mark.parametrize("name", ["COCP", "LQG", "LQR", "MPC", "SaturatedLQR"])
def test_a_non_finite_observation_is_refused_by_every_agent(name):
    import mbdl_control.agents as library

    model = random_model(7, n=3, m=2, p=2 if name == "LQG" else 0, u_max=0.5)
    agent = getattr(library, name)(model)
    size = model.p or model.n
    for value in (np.nan, np.inf):
        with pytest.raises(ValueError, match="must be finite"):
            agent.predict(np.full(size, value))


ESTIMATORS = (
    "ExtendedKalmanFilter",
    "GRUEstimator",
    "KalmanFilter",
    "KalmanNet",
    "LearnedNoiseKalman",
    "ParticleFilter",
    "TunedNoiseKalman",
    "UnscentedKalmanFilter",
)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_a_non_finite_measurement_is_refused_by_every_estimator(name):
    import mbdl_control.agents as library

    env = gym.make("mbdl/LinearTracking-v0").unwrapped
    built_on = env.structure() if name == "GRUEstimator" else env.nominal_model
    agent = getattr(library, name)(built_on)
    for value in (np.nan, np.inf):
        with pytest.raises(ValueError, match="must be finite"):
            agent.predict(np.full(env.true_model.p, value))


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_every_agent_refuses_what_is_not_a_model(name):
    import mbdl_control.agents as library

    for given in (None, {"A": [[1.0]]}, LinearStructure(2, 1, 0, None)):
        with pytest.raises(TypeError, match=r"is built on an? [A-Za-z]+ "):
            getattr(library, name)(given)
