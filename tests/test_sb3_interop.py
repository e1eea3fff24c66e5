"""Our agents and stable-baselines3 models are interchangeable in either evaluation."""

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

from mbdl_control.agents import LQG, LQR
from mbdl_control.evaluation import evaluate


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
