"""Residual SAC: the MPC it corrects, the bounded correction, the budget."""

import gymnasium as gym
import numpy as np
import pytest

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import MPC, Budget, ResidualSAC
from mbdl_control.evaluation.budget import CountingEnv


def test_an_unfitted_residual_agent_is_the_mpc_it_corrects():
    model = gym.make("mbdl/CartPole-v0", mismatch=0.2).unwrapped.nominal_model
    states = np.random.default_rng(0).normal(0, 0.4, (16, 4))
    np.testing.assert_array_equal(
        ResidualSAC(model).predict(states)[0], MPC(model, horizon=10).predict(states)[0]
    )


def test_the_correction_is_bounded_and_added_to_the_mpc_input():
    model = gym.make("mbdl/BoxLQR-v0").unwrapped.nominal_model
    agent = ResidualSAC(model, correction=0.5)
    states = np.random.default_rng(1).normal(0, 0.1, (8, model.n))
    base = MPC(model, horizon=10).predict(states)[0]
    for correction in (-1.0, 1.0):
        applied = agent.applied(states, np.full((8, model.m), correction))
        expected = np.clip(base + correction * 0.5 * model.u_max, -model.u_max, model.u_max)
        np.testing.assert_allclose(applied, expected)


def test_fit_spends_the_budget_on_the_env_and_learns_a_correction():
    env = CountingEnv(gym.make("mbdl/CartPole-v0", mismatch=0.5), Budget(steps=300))
    agent = ResidualSAC(env.unwrapped.nominal_model, sac_options={"learning_starts": 100})
    before = agent.learned_parameters()
    report = agent.fit(env, Budget(steps=300), seed=0)
    assert report.steps == env.steps_used == 300
    after = agent.learned_parameters()
    assert not np.array_equal(after["actor.mu.weight"], before["actor.mu.weight"])


def test_bad_arguments_are_refused_by_name():
    model = gym.make("mbdl/CartPole-v0").unwrapped.nominal_model
    with pytest.raises(ValueError, match="correction must be in"):
        ResidualSAC(model, correction=0.0)
    with pytest.raises(ValueError, match="ResidualSAC needs input bounds"):
        ResidualSAC(gym.make("mbdl/LinearQuadratic-v0").unwrapped.nominal_model)
