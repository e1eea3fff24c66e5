"""LQG takes any estimator agent in its Kalman filter's place (separation), by instance or by a
table of arguments, and saves, loads and learns through it."""

import gymnasium as gym
import numpy as np
import pytest

from mbdl_control.agents import LQG, BaseAgent, Budget, KalmanFilter, ParticleFilter
from mbdl_control.evaluation import evaluate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_kalman_filter_agent_in_lqg_is_the_exact_lqg_law():
    env = gym.make("mbdl/LQG-v0", max_episode_steps=30)
    model = env.unwrapped.true_model
    exact = LQG(model, horizon=30)
    swapped = LQG(model, horizon=30, estimator=KalmanFilter(model))
    observations = np.random.default_rng(0).normal(size=(8, model.p))
    state, swapped_state = None, None
    starts = np.array([True] * 8)
    for t in range(12):  # rows restart at different times
        actions, state = exact.predict(observations, state, starts)
        others, swapped_state = swapped.predict(observations, swapped_state, starts)
        np.testing.assert_allclose(others, actions, rtol=1e-9, atol=1e-12)
        starts = np.arange(8) == t % 8


def test_a_particle_filter_lqg_costs_about_what_the_exact_one_does():
    env = gym.make("mbdl/LQG-v0")
    model = env.unwrapped.true_model
    particles = LQG(model, estimator={"class": "ParticleFilter", "particles": 2000})
    assert isinstance(particles.estimator, ParticleFilter)
    result = evaluate(particles, env, 50, seed=0)
    assert 0 <= result.gap_to_oracle < 0.05 * result.mean_cost


@pytest.mark.parametrize(
    ("name", "family"),
    [("LearnedNoiseKalman", "learned-optimizer"), ("KalmanNet", "dnn-aided")],
)
def test_a_learning_estimator_makes_lqg_learn_and_round_trips(tmp_path, name, family):
    env = gym.make("mbdl/LQG-v0", max_episode_steps=20, noise_mismatch=1.0)
    model = env.unwrapped.nominal_model
    agent = LQG(model, estimator={"class": name, "iterations": 20})
    assert agent.spectrum.family == family
    report = agent.fit(env, Budget(steps=200, samples=200), seed=0)
    assert report.steps == report.samples == 200
    assert agent.spectrum.n_parameters > 0
    assert agent.law.estimator is agent.estimator.estimator  # the law acts with what was fitted
    agent.save(tmp_path / "lqg.safetensors")
    loaded = BaseAgent.load(tmp_path / "lqg.safetensors")
    observations = np.random.default_rng(1).normal(size=(4, model.p))
    np.testing.assert_array_equal(loaded.predict(observations)[0], agent.predict(observations)[0])


def test_a_model_free_estimator_is_built_on_the_structure_and_rebuilt_from_its_config():
    env = gym.make("mbdl/LQG-v0", max_episode_steps=20)
    model = env.unwrapped.nominal_model
    agent = LQG(model, estimator={"class": "GRUEstimator", "hidden": 8, "iterations": 2})
    assert agent.spectrum.family == "deep-learning"
    agent.fit(env, Budget(steps=100, samples=100), seed=0)
    rebuilt = LQG(**agent.config)
    rebuilt.set_learned_parameters(agent.learned_parameters())
    observations = np.random.default_rng(2).normal(size=(3, model.p))
    np.testing.assert_array_equal(rebuilt.predict(observations)[0], agent.predict(observations)[0])


def test_an_estimator_of_other_dimensions_is_refused():
    lqg_model = gym.make("mbdl/LQG-v0").unwrapped.nominal_model
    tracking = gym.make("mbdl/LinearTracking-v0").unwrapped.nominal_model  # n = p = 2, no input
    with pytest.raises(ValueError, match=r"n, p, m = 2, 2, 0; LQG's model has 4, 2, 2"):
        LQG(lqg_model, estimator=KalmanFilter(tracking))


@pytest.mark.parametrize("name", ["KalmanNet", "GRUEstimator", "ParticleFilter", "KalmanFilter"])
def test_inputs_to_an_estimator_without_inputs_are_refused(name):
    import mbdl_control.agents as library

    base = gym.make("mbdl/LinearTracking-v0").unwrapped
    built_on = base.structure() if name == "GRUEstimator" else base.nominal_model
    estimator = getattr(library, name)(built_on).estimator
    memory = estimator.start(2)
    with pytest.raises(ValueError, match=r"inputs must be rows of 0 entries"):
        estimator.advance(memory, np.ones((2, 1)))


def test_a_bad_estimator_is_named():
    model = gym.make("mbdl/LQG-v0").unwrapped.nominal_model
    with pytest.raises(ValueError, match="estimator must be"):
        LQG(model, estimator="KalmanNet")
    with pytest.raises(ValueError, match="'LQR' is not one of the library's estimator"):
        LQG(model, estimator={"class": "LQR"})
