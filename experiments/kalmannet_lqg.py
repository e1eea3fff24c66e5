"""KalmanNet inside LQG (separation) on ``mbdl/LQG-v0`` with wrong noise statistics.

The LQR gain of the designer's model acts on the estimate of each estimator: the Kalman filter
of the nominal model (its noise covariances wrong: ``noise_mismatch = 2``), the Kalman filter
with ``W`` and ``V`` learned from labelled episodes, and KalmanNet, which uses no noise
statistics at all; the oracle is LQG on the true model. Cost per step (mean ± standard error)
over ``--test-episodes`` episodes of seed ``TEST_SEED``, the learners fitted in closed loop on
``--train-episodes`` labelled episodes of 100 steps (fit seed 0).

    .venv/bin/python experiments/kalmannet_lqg.py [--train-episodes 100] [--test-episodes 500]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import torch

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import LQG, Budget
from mbdl_control.evaluation import evaluate

TEST_SEED = 10_000
STEPS = 100
ESTIMATORS = {
    "Kalman filter, nominal noise": None,
    "Kalman filter, learned noise": {"class": "LearnedNoiseKalman"},
    "KalmanNet": {"class": "KalmanNet"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-episodes", type=int, default=100)
    parser.add_argument("--test-episodes", type=int, default=500)
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    env = gym.make("mbdl/LQG-v0", noise_mismatch=2.0, max_episode_steps=STEPS)
    labelled = arguments.train_episodes * STEPS
    budget = Budget(steps=labelled, samples=labelled)
    print(f"mbdl/LQG-v0, noise_mismatch = 2, {arguments.test_episodes} test episodes")
    print("| estimator in LQG | cost per step | gap to the oracle (paired) | fit (s) |")
    print("|---|---|---|---|")
    for name, estimator in ESTIMATORS.items():
        agent = LQG(env.unwrapped.nominal_model, estimator=estimator)
        start = time.perf_counter()
        if estimator is not None:
            agent.fit(env, budget, seed=0)
        wall = time.perf_counter() - start
        result = evaluate(agent, env, arguments.test_episodes, seed=TEST_SEED)
        print(
            f"| {name} | {result.mean_cost:.3f} ± {result.std_error:.3f} | "
            f"{result.gap_to_oracle:.3f} ± {result.gap_to_oracle_se:.3f} | {wall:.0f} |",
            flush=True,
        )
    print(f"oracle (LQG on the true model): {result.oracle_cost:.3f}")


if __name__ == "__main__":
    main()
