"""KalmanNet on the linear canonical 2 × 2 model (Revach et al., IEEE TSP 2022, §V-A).

Estimation MSE in dB on ``mbdl/LinearTracking-v0`` (``F = [[1, 1], [0, 1]]``, ``H = I``,
``ν = q²/r² = −20 dB``, ``T`` steps) for each ``1/r²``: the Kalman filter of the true model
(the MMSE), the Kalman filter of the designer's model ``H·R(10°)`` with its own and with
grid-tuned noise (:class:`~mbdl_control.agents.TunedNoiseKalman`), the learned-noise Kalman
filter on the designer's model, KalmanNet on the true and on the designer's model, and the GRU
(structure only). The learners train on ``--train-episodes`` labelled episodes drawn from the
env with each ``--seeds`` seed; all are scored on the same ``--test-episodes`` fresh episodes
(the ``T`` estimates an episode charges, ``t = 0 … T−1``). Learned rows: mean ± standard
deviation over the seeds, and the mean wall time of one fit.

    .venv/bin/python experiments/kalmannet_linear.py [--inverse-r2-db -10 0 10 20 30]
        [--seeds 0] [--train-episodes 200] [--test-episodes 500] [--iterations 300]
"""

from __future__ import annotations

import argparse
import math
import time

import gymnasium as gym
import numpy as np
import torch

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import (
    Budget,
    GRUEstimator,
    KalmanNet,
    LearnedNoiseKalman,
    TunedNoiseKalman,
)
from mbdl_control.blocks.kalman_filters import KalmanEstimator, filter_trajectories
from mbdl_control.blocks.trajectories import Trajectories, collect_trajectories

#: the test episodes' seed (training episodes use the fit seeds: disjoint env seeds)
TEST_SEED = 10_000


def decibels(estimator, test: Trajectories) -> float:
    """MSE per component (dB) of ``estimator`` on the ``T`` charged estimates of ``test``."""
    estimates = filter_trajectories(estimator, test.observations)[:, :-1]
    return 10.0 * math.log10(float(((estimates - test.states[:, :-1]) ** 2).mean()))


def learners(env: gym.Env, mismatched: gym.Env, iterations: int) -> dict:
    """Each learner's name → (agent, the env it learns on)."""
    truth, nominal = env.unwrapped.true_model, mismatched.unwrapped.nominal_model
    return {
        "KF, mismatched, tuned noise": (TunedNoiseKalman(nominal), mismatched),
        "learned-noise KF, mismatched": (LearnedNoiseKalman(nominal), mismatched),
        "KalmanNet, true model": (
            KalmanNet(truth, iterations=iterations, knowledge="true"),
            env,
        ),
        "KalmanNet, mismatched": (KalmanNet(nominal, iterations=iterations), mismatched),
        "GRU": (GRUEstimator(env.unwrapped.structure()), env),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inverse-r2-db", type=float, nargs="+", default=[-10, 0, 10, 20, 30])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--train-episodes", type=int, default=200)
    parser.add_argument("--test-episodes", type=int, default=500)
    parser.add_argument("--iterations", type=int, default=300, help="KalmanNet's Adam steps")
    parser.add_argument("--steps", type=int, default=100, help="T, steps per episode")
    parser.add_argument("--rotation-deg", type=float, default=10.0)
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    budget = Budget(
        steps=arguments.train_episodes * arguments.steps,
        samples=arguments.train_episodes * arguments.steps,
    )
    print(
        f"T = {arguments.steps}, {arguments.train_episodes} training and "
        f"{arguments.test_episodes} test episodes, seeds {arguments.seeds}"
    )
    print("| 1/r² (dB) | estimator | MSE (dB) | fit wall time (s) |")
    print("|---|---|---|---|")
    for inverse_r2_db in arguments.inverse_r2_db:
        settings = {"inverse_r2_db": inverse_r2_db, "max_episode_steps": arguments.steps}
        env = gym.make("mbdl/LinearTracking-v0", **settings)
        mismatched = gym.make(
            "mbdl/LinearTracking-v0", mismatch=math.radians(arguments.rotation_deg), **settings
        )
        test = collect_trajectories(env, arguments.test_episodes, TEST_SEED)
        for name, model in (
            ("KF, true model", env.unwrapped.true_model),
            ("KF, mismatched", mismatched.unwrapped.nominal_model),
        ):
            print(
                f"| {inverse_r2_db:g} | {name} | {decibels(KalmanEstimator(model), test):.2f} | |"
            )
        scores: dict[str, list[float]] = {}
        walls: dict[str, list[float]] = {}
        for seed in arguments.seeds:
            for name, (agent, learn_on) in learners(env, mismatched, arguments.iterations).items():
                start = time.perf_counter()
                agent.fit(learn_on, budget, seed=seed)
                walls.setdefault(name, []).append(time.perf_counter() - start)
                scores.setdefault(name, []).append(decibels(agent.estimator, test))
        for name, values in scores.items():
            spread = f" ± {np.std(values):.2f}" if len(values) > 1 else ""
            print(
                f"| {inverse_r2_db:g} | {name} | {np.mean(values):.2f}{spread} | "
                f"{np.mean(walls[name]):.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
