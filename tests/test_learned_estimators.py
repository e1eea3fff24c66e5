"""The estimators that learn from labelled trajectories: the learned-noise Kalman filter,
KalmanNet and the GRU; what they learn, checkpoints, budgets, seeds, batches of episodes."""

import gymnasium as gym
import numpy as np
import pytest

from mbdl_control.agents import BaseAgent, Budget, GRUEstimator, KalmanNet, LearnedNoiseKalman
from mbdl_control.blocks.kalman_filters import KalmanEstimator, filter_trajectories
from mbdl_control.blocks.trajectories import collect_trajectories

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STEPS = 30  # short episodes of the canonical 2 × 2 model at 1/r² = 10 dB
QUICK = {
    KalmanNet: {"iterations": 60, "batch_size": 8, "learning_rate": 3e-3},
    GRUEstimator: {"iterations": 60, "hidden": 32, "batch_size": 8, "learning_rate": 1e-2},
    LearnedNoiseKalman: {"iterations": 40},
}


def tracking(**kwargs):
    return gym.make("mbdl/LinearTracking-v0", inverse_r2_db=10.0, max_episode_steps=STEPS, **kwargs)


def build(cls, env, **kwargs):
    base = env.unwrapped
    settings = {**QUICK[cls], **kwargs}
    if cls is GRUEstimator:
        return cls(base.structure(), **settings)
    return cls(base.true_model, knowledge="true", **settings)


def mse(estimator, data):
    return float(((filter_trajectories(estimator, data.observations) - data.states) ** 2).mean())


@pytest.fixture(scope="module")
def test_data():
    return collect_trajectories(tracking(), 100, seed=99)


def test_kalmannet_on_the_true_model_nearly_matches_the_kalman_filter(test_data):
    env = tracking()
    agent = build(KalmanNet, env)
    report = agent.fit(env, Budget(steps=40 * STEPS, samples=40 * STEPS), seed=0)
    assert report.samples == 40 * STEPS and not report.diverged
    kalman = mse(KalmanEstimator(env.unwrapped.true_model), test_data)
    learned = mse(agent.estimator, test_data)
    assert 10 * np.log10(learned / kalman) < 1.0, (kalman, learned)
    assert agent.spectrum.family == "dnn-aided" and agent.spectrum.n_parameters == 5208


def test_the_gru_learns_more_than_the_mean_state(test_data):
    env = tracking()
    agent = build(GRUEstimator, env)
    agent.fit(env, Budget(steps=40 * STEPS, samples=40 * STEPS), seed=0)
    mean = ((test_data.states - test_data.states.mean((0, 1))) ** 2).mean()
    assert mse(agent.estimator, test_data) < 0.1 * mean
    assert agent.spectrum.family == "deep-learning" and agent.spectrum.knowledge == "structure"


def test_learned_noise_filter_recovers_from_wrong_noise_levels(test_data):
    env = tracking()
    truth = env.unwrapped.true_model
    wrong = truth.replace(W=truth.W / 30, V=truth.V * 30)
    agent = LearnedNoiseKalman(wrong, iterations=80)
    agent.fit(env, Budget(steps=20 * STEPS, samples=20 * STEPS), seed=0)
    untuned = mse(KalmanEstimator(wrong), test_data)
    learned, best = mse(agent.estimator, test_data), mse(KalmanEstimator(truth), test_data)
    assert 10 * np.log10(untuned / learned) > 3 and 10 * np.log10(learned / best) < 0.5
    assert agent.spectrum.family == "learned-optimizer" and agent.spectrum.n_parameters == 6


def test_learned_noise_covariances_that_are_not_covariances_are_refused():
    model = tracking().unwrapped.true_model
    with pytest.raises(ValueError, match="the model's W must be positive definite"):
        LearnedNoiseKalman(model.replace(W=np.zeros((2, 2))))
    agent = LearnedNoiseKalman(model)
    good = agent.learned_parameters()
    for bad, message in (
        ({"W": good["W"]}, "parameters are W and V, got"),
        ({**good, "W": good["W"][:2]}, "W must be the 3 finite entries of a 2 by 2"),
        ({**good, "V": np.array([1.0, 2.0, -1.0])}, "V must be positive definite"),
    ):
        with pytest.raises(ValueError, match=message):
            agent.set_learned_parameters(bad)


@pytest.mark.parametrize("cls", [KalmanNet, GRUEstimator, LearnedNoiseKalman])
def test_a_checkpoint_acts_identically(cls, tmp_path, test_data):
    env = tracking()
    agent = build(cls, env, iterations=3)
    agent.fit(env, Budget(steps=4 * STEPS, samples=4 * STEPS), seed=1)
    agent.save(tmp_path / "agent.safetensors")
    loaded = BaseAgent.load(tmp_path / "agent.safetensors")
    observations = test_data.observations[:3]
    np.testing.assert_array_equal(
        filter_trajectories(loaded.estimator, observations),
        filter_trajectories(agent.estimator, observations),
    )


@pytest.mark.parametrize("cls", [KalmanNet, GRUEstimator, LearnedNoiseKalman])
def test_a_budget_below_one_episode_is_refused(cls):
    env = tracking()
    with pytest.raises(ValueError, match=f"got {STEPS - 1} steps and {STEPS} samples"):
        build(cls, env).fit(env, Budget(steps=STEPS - 1, samples=STEPS))


@pytest.mark.parametrize("cls", [KalmanNet, GRUEstimator])
def test_a_diverging_fit_is_reported_and_leaves_finite_estimates(cls, test_data):
    env = tracking()
    agent = build(cls, env, learning_rate=1e30, max_gradient_norm=1e30, iterations=5)
    report = agent.fit(env, Budget(steps=6 * STEPS, samples=6 * STEPS))
    assert report.diverged and agent.diagnostics() == {"training_diverged": 1.0}
    assert np.all(np.isfinite(filter_trajectories(agent.estimator, test_data.observations)))


@pytest.mark.parametrize("cls", [KalmanNet, GRUEstimator, LearnedNoiseKalman])
def test_a_seeded_fit_is_reproducible(cls):
    env = tracking()
    budget = Budget(steps=6 * STEPS, samples=6 * STEPS)
    fits = []
    for seed in (3, 3, 4):
        agent = build(cls, env, iterations=4)
        agent.fit(env, budget, seed=seed)
        fits.append(agent.learned_parameters())
    for name, value in fits[0].items():
        np.testing.assert_array_equal(value, fits[1][name])
    assert any(not np.array_equal(value, fits[2][name]) for name, value in fits[0].items())


@pytest.mark.parametrize("cls", [KalmanNet, GRUEstimator, LearnedNoiseKalman])
def test_rows_restart_where_their_episodes_start(cls, test_data):
    agent = build(cls, tracking(), iterations=2)
    agent.fit(tracking(), Budget(steps=2 * STEPS, samples=2 * STEPS), seed=0)
    y = test_data.observations[:2, :10]
    alone = [filter_trajectories(agent.estimator, y[i : i + 1])[0] for i in range(2)]
    state, together = None, []
    for t in range(10):  # row 1 starts its episode at step 4, row 0 at step 0
        rows = np.array([y[0, t], y[1, max(t - 4, 0)]])
        action, state = agent.predict(rows, state, episode_start=np.array([t == 0, t in (0, 4)]))
        together.append(action)
    together = np.array(together)
    np.testing.assert_allclose(together[:, 0], alone[0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(together[4:, 1], alone[1][:6], rtol=1e-6, atol=1e-9)


def test_learners_with_inputs_follow_the_applied_inputs():
    env = gym.make("mbdl/LQG-v0", max_episode_steps=STEPS)
    model = env.unwrapped.nominal_model
    data = collect_trajectories(env, 3, seed=0, policy=lambda y, *_: (np.ones((1, model.m)), None))
    assert data.inputs.shape == (3, STEPS, model.m)
    agent = KalmanNet(model, iterations=2)
    agent.learn(data, seed=0)
    memory = agent.estimator.start(3)
    _, memory = agent.estimator.update(memory, data.observations[:, 0])
    moved = agent.estimator.advance(memory, data.inputs[:, 0])
    still = agent.estimator.advance(memory, np.zeros_like(data.inputs[:, 0]))
    shift = moved["prior"] - still["prior"]
    np.testing.assert_allclose(shift, data.inputs[:, 0] @ model.B.T, atol=1e-5)
