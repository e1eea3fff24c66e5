"""Learned optimizers: gradients of the policy layer, learning that improves, reproducibility."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from mbdl_control.agents import COCP, LQG, BaseAgent, Budget, LearnedCOCP, LearnedNoiseLQG
from mbdl_control.agents.learned_optimizer.cocp import PUBLISHED_SOLVER_ARGS
from mbdl_control.agents.learned_optimizer.kalman import (
    decibels,
    estimation_mse,
    kalman_estimates,
)
from mbdl_control.blocks.convex_policy import convex_policy_layer
from mbdl_control.blocks.identification import identify_linear_model
from mbdl_control.blocks.trajectories import Trajectories, collect_trajectories
from mbdl_control.evaluation import evaluate
from mbdl_control.evaluation.study import study_from_dict
from mbdl_control.evaluation.trial import run_trial
from mbdl_control.models import LinearGaussianModel

SMALL = LinearGaussianModel(
    A=[[1.0, 0.2], [0.0, 0.9]],
    B=[[0.0], [0.5]],
    W=0.1 * np.eye(2),
    Q=np.eye(2),
    R=np.eye(1),
    u_max=0.3,
)


def _layer_inputs(x):
    states = torch.tensor(x, dtype=torch.float64)
    theta = torch.tensor([[1.2, 0.1], [0.3, 0.9]], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([0.1, -0.2], dtype=torch.float64, requires_grad=True)
    return states, theta, q


def test_policy_layer_gradients_pass_gradcheck():
    layer = convex_policy_layer(SMALL)
    states, theta, q = _layer_inputs([[1.0, -0.5], [0.2, 0.1]])  # bounds inactive

    def policy(theta, q):
        return layer(states, theta, q, solver_args=PUBLISHED_SOLVER_ARGS)[0]

    assert torch.autograd.gradcheck(policy, (theta, q), eps=1e-6, atol=1e-5, rtol=1e-3)
    action = policy(theta, q).detach().numpy()
    reference = COCP(SMALL, theta.detach().numpy(), q.detach().numpy()).predict(states.numpy())[0]
    np.testing.assert_allclose(action, reference, atol=1e-6)


def test_saturated_input_has_zero_gradient():
    # finite differences through SCS are noisy at an active bound (~1e-4), so the active case
    # is checked against its exact answer: a saturated input does not move with θ or q
    layer = convex_policy_layer(SMALL)
    states, theta, q = _layer_inputs([[0.0, 8.0], [0.2, 0.1]])
    actions = layer(states, theta, q, solver_args=PUBLISHED_SOLVER_ARGS)[0]
    assert actions[0, 0].item() == pytest.approx(-0.3, abs=1e-6)
    saturated = torch.autograd.grad(actions[0, 0], (theta, q), retain_graph=True)
    free = torch.autograd.grad(actions[1, 0], (theta, q))
    assert max(float(g.abs().max()) for g in saturated) < 1e-6  # SCS accuracy: eps 1e-8
    assert min(float(g.abs().max()) for g in free) > 1e-3


def _short(model, **kwargs):
    settings = {"iterations": 8, "batch_size": 4, "learning_rate": 0.1, **kwargs}
    return LearnedCOCP(model, **settings)


def test_learning_in_the_model_improves_the_box_policy():
    env = gym.make("mbdl/BoxLQR-v0", max_episode_steps=30)
    agent = _short(env.unwrapped.true_model)
    report = agent.fit(env, seed=0)
    assert report.steps == 0 and report.simulated_steps == 8 * 4 * 30 and len(report.curve) == 8
    untuned = evaluate(COCP(env.unwrapped.true_model), env, 40, seed=3)
    learned = evaluate(agent, env, 40, seed=3)
    gain = untuned.episode_costs - learned.episode_costs
    assert gain.mean() > 3 * gain.std(ddof=1) / np.sqrt(len(gain)), gain.mean()
    assert agent.spectrum.family == "learned-optimizer" and agent.spectrum.n_parameters == 72


def test_seeded_training_is_reproducible():
    env = gym.make("mbdl/BoxLQR-v0", max_episode_steps=10)
    curves = [
        _short(env.unwrapped.true_model, iterations=3).fit(env, seed=seed).curve
        for seed in (4, 4, 5)
    ]
    assert curves[0] == curves[1] != curves[2]


def test_learning_from_the_system_identifies_then_tunes(tmp_path):
    env = gym.make("mbdl/BoxLQR-v0", mismatch=0.3, max_episode_steps=30)
    nominal, true = env.unwrapped.nominal_model, env.unwrapped.true_model
    agent = _short(nominal, learn_from="system")
    report = agent.fit(env, Budget(steps=1000), seed=0)
    assert report.steps == 990  # 33 whole episodes
    identified = agent.policy_model
    assert np.linalg.norm(identified.A - true.A) < 0.2 * np.linalg.norm(nominal.A - true.A)
    assert agent.spectrum.n_parameters == 64 + 8 + 64 + 16 + 64
    from_model = evaluate(COCP(nominal), env, 100, seed=3, compare_to_oracle=False)
    learned = evaluate(agent, env, 100, seed=3, compare_to_oracle=False)
    gain = from_model.episode_costs - learned.episode_costs
    assert gain.mean() > 3 * gain.std(ddof=1) / np.sqrt(len(gain))
    agent.save(tmp_path / "agent.safetensors")
    loaded = BaseAgent.load(tmp_path / "agent.safetensors")
    x = np.full(8, 0.3)
    np.testing.assert_allclose(loaded.predict(x)[0], agent.predict(x)[0], atol=1e-8)
    assert loaded.policy_model == identified


def test_identification_matches_least_squares_and_the_prior():
    rng = np.random.default_rng(0)
    states, inputs = rng.standard_normal((200, 2)), rng.standard_normal((200, 1))
    next_states = (
        states @ np.array([[0.9, 0.1], [0.0, 0.8]]).T + inputs @ np.array([[0.0], [1.0]]).T
    )
    next_states += 0.1 * rng.standard_normal((200, 2))
    exact = identify_linear_model(SMALL, states, inputs, next_states, prior_weight=0.0)
    solution, *_ = np.linalg.lstsq(np.hstack([states, inputs]), next_states, rcond=None)
    np.testing.assert_allclose(np.hstack([exact.A, exact.B]), solution.T, atol=1e-12)
    assert np.allclose(exact.W, 0.01 * np.eye(2), atol=0.006)
    stubborn = identify_linear_model(SMALL, states, inputs, next_states, prior_weight=1e12)
    np.testing.assert_allclose(stubborn.A, SMALL.A, atol=1e-8)


def test_learned_cocp_bad_input():
    with pytest.raises(ValueError, match="learn_from must be one of"):
        LearnedCOCP(SMALL, learn_from="data")
    with pytest.raises(ValueError, match="init must be one of"):
        LearnedCOCP(SMALL, init="zeros")
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        LearnedCOCP(SMALL, learning_rate=0.0)
    env = gym.make("mbdl/BoxLQR-v0", max_episode_steps=30)
    with pytest.raises(ValueError, match="at least one episode"):
        _short(env.unwrapped.nominal_model, learn_from="system").fit(env, Budget(steps=10))


def test_torch_filter_matches_a_scalar_kalman_filter_by_hand():
    model = LinearGaussianModel(
        A=[[0.9]], B=[[1.0]], C=[[2.0]], W=[[0.3]], V=[[0.5]], Q=[[1.0]], R=[[1.0]]
    )
    rng = np.random.default_rng(1)
    y, u = rng.standard_normal((1, 4, 1)), rng.standard_normal((1, 3, 1))
    data = Trajectories(y, u, np.zeros((1, 4, 1)))
    estimates = kalman_estimates(
        model, torch.tensor([[0.3]]).double(), torch.tensor([[0.5]]).double(), data
    )
    mean, variance, expected = 0.0, 0.3, []
    for t in range(4):
        gain = variance * 2.0 / (4.0 * variance + 0.5)
        mean += gain * (y[0, t, 0] - 2.0 * mean)
        variance *= 1 - 2.0 * gain
        expected.append(mean)
        if t < 3:
            mean, variance = 0.9 * mean + u[0, t, 0], 0.81 * variance + 0.3
    np.testing.assert_allclose(estimates[0, :, 0].numpy(), expected, atol=1e-12)


def test_learned_noise_filter_approaches_the_true_covariances(tmp_path):
    env = gym.make("mbdl/LQG-v0", noise_mismatch=2.0)
    base = env.unwrapped
    agent = LearnedNoiseLQG(base.nominal_model, iterations=150)
    report = agent.fit(env, Budget(steps=2000, samples=2000), seed=0)
    assert report.samples == 2000 and report.curve[-1] < report.curve[0]
    test = collect_trajectories(env, 30, seed=99, policy=LQG(base.nominal_model).law.act)
    true_db = decibels(estimation_mse(base.true_model, test))
    nominal_db = decibels(estimation_mse(base.nominal_model, test))
    learned_db = decibels(estimation_mse(agent.filter.learned_model, test))
    assert learned_db - true_db < 0.2 and nominal_db - learned_db > 1.0, (
        true_db,
        nominal_db,
        learned_db,
    )
    nominal = evaluate(LQG(base.nominal_model), env, 60, seed=5)
    learned = evaluate(agent, env, 60, seed=5)
    gain = nominal.episode_costs - learned.episode_costs
    assert gain.mean() > 3 * gain.std(ddof=1) / np.sqrt(len(gain))
    assert agent.spectrum.n_parameters == 10 + 3
    agent.save(tmp_path / "agent.safetensors")
    loaded = BaseAgent.load(tmp_path / "agent.safetensors")
    np.testing.assert_allclose(loaded.filter.W, agent.filter.W)
    y = np.array([[0.5, -1.0]])
    np.testing.assert_allclose(loaded.predict(y)[0], agent.predict(y)[0])
    with pytest.raises(ValueError, match="at least one labelled episode"):
        LearnedNoiseLQG(base.nominal_model).fit(env, Budget(steps=50, samples=50))
    with pytest.raises(ValueError, match="got 1000 steps and 0 samples"):
        LearnedNoiseLQG(base.nominal_model).fit(env, Budget(steps=1000))


def test_learned_agents_run_in_a_study():
    study = study_from_dict(
        {
            "name": "learned",
            "evaluation": {"episodes": 2},
            "budgets": [{"steps": 60}],
            "envs": [{"id": "mbdl/BoxLQR-v0", "max_episode_steps": 30}],
            "agents": [
                {
                    "class": "LearnedCOCP",
                    "knowledge": "nominal",
                    "kwargs": {"learn_from": "system", "iterations": 2, "batch_size": 2},
                }
            ],
        }
    )
    row = run_trial(study, study.trials()[0])
    assert row["status"] == "ok", row["error"]
    assert row["steps_used"] == 60 and row["simulated_steps"] == 2 * 2 * 30
    assert row["family"] == "learned-optimizer"


@pytest.mark.parametrize("learning_rate", [1e3, 1e30])
def test_diverging_training_keeps_the_last_sound_parameters_and_says_so(learning_rate):
    env = gym.make("mbdl/BoxLQR-v0", max_episode_steps=20)
    model = env.unwrapped.nominal_model
    untrained = LearnedCOCP(model)
    agent = LearnedCOCP(model, iterations=10, learning_rate=learning_rate, drop_after=None)
    report = agent.fit(env, seed=0)
    assert report.diverged and agent.diagnostics()["training_diverged"] == 1.0
    assert np.all(np.isfinite(agent.theta))
    cost = evaluate(agent, env, n_episodes=50, seed=1, compare_to_oracle=False).mean_cost
    start = evaluate(untrained, env, n_episodes=50, seed=1, compare_to_oracle=False).mean_cost
    assert cost <= 1.05 * start  # never worse than where it started, beyond noise


def test_sound_training_does_not_report_divergence():
    env = gym.make("mbdl/BoxLQR-v0", max_episode_steps=20)
    agent = LearnedCOCP(env.unwrapped.nominal_model, iterations=5)
    report = agent.fit(env, seed=0)
    assert not report.diverged and len(report.curve) == 5


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 0.0, -1.0, True])
def test_learning_rates_must_be_finite_and_positive(bad):
    model = gym.make("mbdl/BoxLQR-v0").unwrapped.nominal_model
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        LearnedCOCP(model, learning_rate=bad)
