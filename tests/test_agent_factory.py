import gymnasium as gym
import numpy as np
import pytest

from mbdl_control.agents import LQR, Budget
from mbdl_control.evaluation.agent_factory import (
    build_agent,
    resolve_agent_class,
    spectrum_of,
)
from mbdl_control.evaluation.study import AgentSpec, StudyError
from mbdl_control.models import LinearStructure


class Recorder:
    """Keeps what the harness handed it."""

    def __init__(self, *given, **kwargs):
        self.given, self.kwargs = given, kwargs

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        return np.zeros(2), None


@pytest.fixture
def env():
    return gym.make("mbdl/BoxLQR-v0", mismatch=0.3)


def test_agents_get_exactly_the_knowledge_they_declare(env):
    true = build_agent(AgentSpec(LQR, "true"), env, seed=0)
    nominal = build_agent(AgentSpec(LQR, "nominal"), env, seed=0)
    assert true.model == env.unwrapped.true_model and true.spectrum.knowledge == "true"
    assert nominal.model == env.unwrapped.nominal_model != env.unwrapped.true_model
    structure = build_agent(AgentSpec(Recorder, "structure", family="dnn-aided"), env, seed=0)
    (given,) = structure.given
    assert isinstance(given, LinearStructure) and (given.n, given.m, given.p) == (8, 2, 0)
    blind = build_agent(AgentSpec(Recorder, "none", {"width": 3}, family="deep-learning"), env, 0)
    assert blind.given == (env.observation_space, env.action_space) and blind.kwargs == {"width": 3}
    assert spectrum_of(blind, AgentSpec(Recorder, "none", family="deep-learning")).n_parameters == 0


def test_factory_errors_name_the_problem(env):
    with pytest.raises(
        StudyError, match=r"unknown agent class 'Kalman'; valid: \['ADMM', 'BCJR', 'BCJRNet'"
    ):
        resolve_agent_class("Kalman")
    with pytest.raises(StudyError, match="cannot import agent class 'nowhere:Agent'"):
        resolve_agent_class("nowhere:Agent")
    with pytest.raises(StudyError, match="is not a class"):
        resolve_agent_class("numpy:zeros")
    with pytest.raises(StudyError, match="an SB3 algorithm uses no model"):
        build_agent(AgentSpec("PPO", "nominal"), env, seed=0)
    with pytest.raises(StudyError, match="the oracle's knowledge is 'true'"):
        build_agent(AgentSpec("oracle", "nominal"), env, seed=0)
    with pytest.raises(StudyError, match="give its `family`"):
        spectrum_of(Recorder(), AgentSpec(Recorder, "none"))
    unbounded = gym.make("mbdl/LinearQuadratic-v0")
    with pytest.raises(StudyError, match=r"set kwargs\.action_bound"):
        build_agent(AgentSpec("PPO", "none"), unbounded, seed=0)


def test_sb3_algorithms_learn_in_normalized_actions_and_act_in_the_envs_units():
    env = gym.make("mbdl/CartPole-v0")
    agent = build_agent(AgentSpec("SAC", "none", {"learning_starts": 10}), env, seed=0)
    assert agent.model.action_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float64)
    observations = np.random.default_rng(0).normal(0, 0.5, (64, 4))
    learned, _ = agent.model.predict(observations, deterministic=True)
    actions, _ = agent.predict(observations)
    np.testing.assert_allclose(actions, 10.0 * learned, rtol=1e-6)
    assert np.abs(actions).max() <= 10.0
    bounded = build_agent(
        AgentSpec("PPO", "none", {"action_bound": 2.0}), gym.make("mbdl/LQG-v0"), seed=0
    )
    np.testing.assert_allclose(bounded.action_space.high, [2.0, 2.0])


def test_sb3_agents_save_and_load_through_sb3_with_their_action_box(tmp_path):
    from mbdl_control.agents.deep_learning import SB3Agent

    env = gym.make("mbdl/CartPole-v0")
    agent = build_agent(AgentSpec("TD3", "none", {"learning_starts": 10}), env, seed=0)
    agent.fit(env, Budget(steps=40), seed=0)
    agent.save(tmp_path / "td3.zip")
    loaded = SB3Agent.load(tmp_path / "td3.zip", "TD3")
    observations = np.random.default_rng(2).normal(0, 0.5, (16, 4))
    np.testing.assert_array_equal(loaded.predict(observations)[0], agent.predict(observations)[0])
    assert loaded.action_space == env.action_space
    with pytest.raises(ValueError, match="algorithm must name a stable-baselines3 algorithm"):
        SB3Agent.load(tmp_path / "td3.zip", "NotAnAlgorithm")
