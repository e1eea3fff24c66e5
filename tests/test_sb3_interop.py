"""Our agents and stable-baselines3 models are interchangeable in either evaluation."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

from mbdl_control.agents import LQG, LQR, MPC
from mbdl_control.envs import ENV_SPECS
from mbdl_control.envs.rendering import FRAME_SIZE
from mbdl_control.evaluation import evaluate

CONTROL_IDS = sorted(env_id for env_id in ENV_SPECS if ENV_SPECS[env_id][0].startswith("control:"))


@pytest.mark.parametrize(
    ("env_id", "agent_cls"), [("mbdl/LinearQuadratic-v0", LQR), ("mbdl/LQG-v0", LQG)]
)
def test_our_agents_work_with_sb3_evaluate_policy(env_id, agent_cls):
    env = Monitor(gym.make(env_id))
    agent = agent_cls(env.unwrapped.nominal_model)
    rewards, lengths = evaluate_policy(agent, env, n_eval_episodes=4, return_episode_rewards=True)
    assert lengths == [100] * 4
    theory = env.unwrapped.performance_bound()  # the oracle's exact cost; LQR is near it
    assert np.mean(rewards) / -100 == pytest.approx(theory, rel=0.3)


def test_sb3_model_works_with_our_evaluate():
    env = gym.make("mbdl/BoxLQR-v0")
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, seed=0, device="cpu")
    result = evaluate(model, env, n_episodes=2, seed=0, compare_to_oracle=False)
    assert np.isfinite(result.mean_cost) and result.mean_cost > env.unwrapped.performance_bound()


@pytest.fixture
def sb3_vec_env():
    """SB3's own helper, as a user calls it: it asks for ``render_mode="rgb_array"``."""
    return make_vec_env("mbdl/BoxLQR-v0", n_envs=4, seed=0)


def test_sb3_make_vec_env_builds_rendering_envs_ppo_learns_on(sb3_vec_env):
    assert sb3_vec_env.num_envs == 4 and sb3_vec_env.reset().shape == (4, 8)
    assert sb3_vec_env.get_attr("render_mode") == ["rgb_array"] * 4
    assert [frame.shape for frame in sb3_vec_env.get_images()] == [(*FRAME_SIZE, 3)] * 4
    model = PPO("MlpPolicy", sb3_vec_env, n_steps=64, batch_size=64, seed=0, device="cpu")
    model.learn(total_timesteps=512)  # two rollouts and updates
    assert model.num_timesteps == 512


@pytest.mark.parametrize("agent_cls", [MPC, LQR])
def test_sb3_evaluate_policy_runs_our_agents_on_vec_and_single_envs(sb3_vec_env, agent_cls):
    nominal = sb3_vec_env.get_attr("nominal_model")[0]
    for env in (sb3_vec_env, Monitor(gym.make("mbdl/BoxLQR-v0"))):
        rewards, lengths = evaluate_policy(
            agent_cls(nominal), env, n_eval_episodes=4, return_episode_rewards=True
        )
        rewards = np.asarray(rewards)
        assert lengths == [100] * 4 and np.all(np.isfinite(rewards)) and np.all(rewards < 0)


def test_our_evaluate_refuses_a_vector_env(sb3_vec_env):
    envs = gym.make_vec("mbdl/BoxLQR-v0", num_envs=2)
    agent = LQR(envs.nominal_model)
    for vector in (envs, sb3_vec_env):  # Gymnasium's and stable-baselines3's
        with pytest.raises(TypeError, match=r"evaluate takes one env .* pass gym.make\(id, ...\)"):
            evaluate(agent, vector, n_episodes=2)


#: the opt-in input bound of the unconstrained control envs, which SB3 needs
SB3_KWARGS = {"mbdl/LinearQuadratic-v0": {"u_max": 5.0}, "mbdl/LQG-v0": {"u_max": 5.0}}


@pytest.mark.parametrize("env_id", CONTROL_IDS)
def test_sb3_check_env_passes_on_every_control_env(env_id):
    env = gym.make(env_id, **SB3_KWARGS.get(env_id, {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unbounded states, unnormalized units
        sb3_check_env(env.unwrapped)
    if env_id in SB3_KWARGS:  # without the bound, SB3 refuses the unbounded action box
        with pytest.raises(AssertionError, match="finite lower and upper bound"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                sb3_check_env(gym.make(env_id).unwrapped)


def test_the_opt_in_bound_clips_and_keeps_the_bound_valid():
    env = gym.make("mbdl/LinearQuadratic-v0", u_max=0.5)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([3.0, -0.2]))
    assert info["applied_action"].tolist() == [0.5, -0.2] and info["saturated"] == 1.0
    unbounded = gym.make("mbdl/LinearQuadratic-v0").unwrapped.performance_bound()
    assert env.unwrapped.performance_bound() == unbounded
    clipped = evaluate(env.unwrapped.oracle(), env, n_episodes=200, seed=0)
    assert clipped.mean_cost > unbounded
