"""Policies trained through a differentiable model: the deep-unfolded MPC against the MPC it
unrolls, and the differentiable-predictive-control MLP against its own start."""

import gymnasium as gym
import numpy as np
import torch

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import DPC, MPC, Budget, UnfoldedMPC
from mbdl_control.blocks.closed_loop import TorchModel, closed_loop_cost


def test_untrained_unfolded_mpc_with_many_layers_is_the_mpc_it_unrolls():
    """Projected gradient converges to the QP's solution: 3000 layers give DAQP's action."""
    for env_id in ("mbdl/BoxLQR-v0", "mbdl/CartPole-v0"):
        model = gym.make(env_id).unwrapped.nominal_model
        unfolded = UnfoldedMPC(model, horizon=10, layers=3000)
        states = np.random.default_rng(0).normal(0, 0.5, (6, unfolded.observation_space.shape[0]))
        expected = MPC(model, horizon=10).predict(states)[0]
        np.testing.assert_allclose(unfolded.predict(states)[0], expected, atol=1e-5)


def test_unfolded_mpc_learns_on_the_closed_loop_and_keeps_only_an_improvement():
    env = gym.make("mbdl/BoxLQR-v0", mismatch=0.2, max_episode_steps=30)
    agent = UnfoldedMPC(env.unwrapped.nominal_model, iterations=40)
    before = agent.learned_parameters()
    report = agent.fit(env, Budget(), seed=0)
    assert report.steps == 0 and report.simulated_steps == 40 * 32 * 30
    assert not report.diverged and min(report.curve) < 0.85 * report.curve[0]
    assert any(np.any(before[k] != v) for k, v in agent.learned_parameters().items())


def test_a_training_that_worsens_the_policy_is_undone():
    env = gym.make("mbdl/BoxLQR-v0", max_episode_steps=20)
    agent = UnfoldedMPC(env.unwrapped.nominal_model, iterations=3, learning_rate=50.0)
    start = agent.learned_parameters()
    report = agent.fit(env, Budget(), seed=0)
    assert report.diverged and agent.diagnostics()["diverged"] == 1.0
    for name, value in agent.learned_parameters().items():
        np.testing.assert_array_equal(value, start[name])


def test_dpc_trains_through_the_nonlinear_cart_pole_and_respects_the_bound():
    env = gym.make("mbdl/CartPole-v0", max_episode_steps=40)
    agent = DPC(env.unwrapped.nominal_model, hidden=16, iterations=40)
    report = agent.fit(env, Budget(), seed=0)
    assert not report.diverged and report.curve[-1] < 0.5 * report.curve[0]
    actions = agent.predict(np.random.default_rng(1).normal(0, 3, (50, 4)))[0]
    assert np.abs(actions).max() <= 10.0
    simulator = TorchModel.of(env.unwrapped.nominal_model)
    with torch.no_grad():  # the trained policy's simulated cost is the curve's last stretch
        cost = closed_loop_cost(agent.policy, simulator, 64, 40, torch.Generator().manual_seed(5))
    assert float(cost) < 0.5 * report.curve[0]
