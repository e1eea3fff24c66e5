"""Estimation MSE (dB) of the Kalman filter with learned noise covariances on LQG-v0.

The paper's Example 13 on ``mbdl/LQG-v0`` with wrong noise statistics in the nominal model
(``noise_mismatch``): the filter with the true covariances, with the nominal ones, and with
covariances learned by backpropagation through time from ``--steps`` labelled env steps,
all measured on the same held-out episodes.

    .venv/bin/python experiments/kalman_noise.py [--noise-mismatch 2.0] [--steps 2000]
"""

from __future__ import annotations

import argparse

import gymnasium as gym

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import LQG, Budget, LearnedNoiseLQG
from mbdl_control.agents.learned_optimizer.kalman import decibels, estimation_mse
from mbdl_control.blocks.trajectories import collect_trajectories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise-mismatch", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--test-episodes", type=int, default=200)
    arguments = parser.parse_args()
    env = gym.make("mbdl/LQG-v0", noise_mismatch=arguments.noise_mismatch)
    base = env.unwrapped
    agent = LearnedNoiseLQG(base.nominal_model)
    agent.fit(env, Budget(steps=arguments.steps, samples=arguments.steps), seed=0)
    test = collect_trajectories(
        env, arguments.test_episodes, seed=99, policy=LQG(base.nominal_model).law.act
    )
    print(f"| filter (noise_mismatch {arguments.noise_mismatch}) | MSE (dB) |")
    print("|---|---|")
    for name, model in (
        ("true W, V", base.true_model),
        ("nominal W, V", base.nominal_model),
        (f"learned W, V ({arguments.steps} steps)", agent.filter.learned_model),
    ):
        print(f"| {name} | {decibels(estimation_mse(model, test)):.3f} |")


if __name__ == "__main__":
    main()
