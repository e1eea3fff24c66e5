"""KalmanNet on the Lorenz attractor with the decimation mismatch (Revach et al., IEEE TSP 2022,
§V-D), its run-to-run spread, and its data efficiency against a GRU.

Estimation MSE per component in dB (``10·log10`` of :func:`mbdl_control.evaluation.evaluate`'s
mean cost over ``--test-episodes`` fresh episodes of seed ``TEST_SEED``; the training episodes
come from the fit seeds, disjoint env seeds). The Lorenz setting is that of
``experiments/lorenz.toml``: the truth integrated finely (20 substeps) and noise-free, the
designer's model one order-2 Taylor step (``mismatch = 1``), ``1/r² = 0 dB``, ``T = 100``;
``--task linear`` is ``mbdl/LinearTracking-v0`` at ``1/r² = 0 dB`` with the designer's
``H·R(10°)``. Published (Lorenz, ``T = 3000``): KalmanNet −11.28 dB, EKF with searched noise
−6.43 dB.

Modes:

* ``compare``: the model-based filters (EKF, UKF, particle filter on the nominal model; the UKF
  on the true model, the oracle) and the learners (EKF with grid-tuned noise, KalmanNet on the
  nominal model, GRU) on ``--train-episodes`` labelled episodes;
* ``seeds``: KalmanNet over the fit ``--seeds`` (mean ± standard deviation);
* ``data``: KalmanNet and the GRU for each ``--train-episodes`` count (one fit per seed).

    .venv/bin/python experiments/kalmannet_lorenz.py --mode compare --train-episodes 1000
    .venv/bin/python experiments/kalmannet_lorenz.py --mode seeds --seeds 0 1 2 3 4 \
        --train-episodes 1000
    .venv/bin/python experiments/kalmannet_lorenz.py --task linear --mode data \
        --train-episodes 10 30 100 300

KalmanNet's recipe: ``--iterations``, ``--learning-rate``, ``--batch-size``,
``--max-gradient-norm`` (the constructor's defaults unless given).
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
    ExtendedKalmanFilter,
    GRUEstimator,
    KalmanNet,
    ParticleFilter,
    TunedNoiseKalman,
    UnscentedKalmanFilter,
)
from mbdl_control.evaluation import evaluate

#: the test episodes' seed (training episodes use the fit seeds: disjoint env seeds)
TEST_SEED = 10_000
STEPS = 100


def make_env(task: str) -> gym.Env:
    """The mismatched env of ``task`` (its ``nominal_model`` the designer's)."""
    if task == "lorenz":
        return gym.make(
            "mbdl/Lorenz-v0",
            mismatch=1.0,
            substeps=20,
            nu_db=-100.0,
            x0_std=5.0,
            max_episode_steps=STEPS,
        )
    return gym.make(
        "mbdl/LinearTracking-v0",
        mismatch=math.radians(10.0),
        inverse_r2_db=0.0,
        max_episode_steps=STEPS,
    )


def decibels(agent, env: gym.Env, episodes: int) -> float:
    """MSE per component (dB) of ``agent`` on the test episodes."""
    result = evaluate(agent, env, episodes, seed=TEST_SEED, compare_to_oracle=False)
    return 10.0 * math.log10(result.mean_cost)


def kalmannet(env: gym.Env, arguments: argparse.Namespace) -> KalmanNet:
    recipe = {
        key: value
        for key, value in (
            ("iterations", arguments.iterations),
            ("learning_rate", arguments.learning_rate),
            ("batch_size", arguments.batch_size),
            ("max_gradient_norm", arguments.max_gradient_norm),
        )
        if value is not None
    }
    return KalmanNet(env.unwrapped.nominal_model, **recipe)


def gru(env: gym.Env, arguments: argparse.Namespace) -> GRUEstimator:
    return GRUEstimator(env.unwrapped.structure())


def tuned(env: gym.Env, arguments: argparse.Namespace) -> TunedNoiseKalman:
    return TunedNoiseKalman(env.unwrapped.nominal_model)


#: the learners of each mode, by name
LEARNERS = {
    "compare": {"EKF, tuned noise": tuned, "KalmanNet, nominal": kalmannet, "GRU": gru},
    "seeds": {"KalmanNet, nominal": kalmannet},
    "data": {"KalmanNet, nominal": kalmannet, "GRU": gru},
}


def fitted(agent, env: gym.Env, episodes: int, seed: int) -> tuple[object, float]:
    """``agent`` fitted on ``episodes`` labelled episodes with ``seed``, and the wall time."""
    budget = Budget(steps=episodes * STEPS, samples=episodes * STEPS)
    start = time.perf_counter()
    agent.fit(env, budget, seed=seed)
    return agent, time.perf_counter() - start


def row(out, *cells) -> None:
    line = "| " + " | ".join(str(cell) for cell in cells) + " |"
    print(line, flush=True)
    if out is not None:
        out.write(line + "\n")
        out.flush()


def summary(values: list[float]) -> str:
    return f"{np.mean(values):.2f}" + (f" ± {np.std(values):.2f}" if len(values) > 1 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("lorenz", "linear"), default="lorenz")
    parser.add_argument("--mode", choices=("compare", "seeds", "data"), default="compare")
    parser.add_argument("--train-episodes", type=int, nargs="+", default=[100])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--test-episodes", type=int, default=200)
    parser.add_argument("--iterations", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--max-gradient-norm", type=float)
    parser.add_argument("--no-baselines", action="store_true", help="compare: learners only")
    parser.add_argument("--output", help="also append the table to this file")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    env = make_env(arguments.task)
    out = open(arguments.output, "a") if arguments.output else None
    header = (
        f"{arguments.task}, mode {arguments.mode}, T = {STEPS}, {arguments.test_episodes} test "
        f"episodes (seed {TEST_SEED}), fit seeds {arguments.seeds}, KalmanNet recipe "
        f"{kalmannet(env, arguments).config | {'model': '-'}}"
    )
    print(header)
    if out is not None:
        out.write("\n" + header + "\n\n")
    row(out, "estimator", "trajectories", "MSE (dB)", "fit wall time (s)")
    row(out, "---", "---", "---", "---")
    if arguments.mode == "compare" and not arguments.no_baselines:
        base = env.unwrapped
        for name, agent in (
            ("UKF, true model (oracle)", UnscentedKalmanFilter(base.true_model, knowledge="true")),
            ("EKF, nominal", ExtendedKalmanFilter(base.nominal_model)),
            ("UKF, nominal", UnscentedKalmanFilter(base.nominal_model)),
            ("particle filter, nominal", ParticleFilter(base.nominal_model)),
        ):
            row(out, name, 0, f"{decibels(agent, env, arguments.test_episodes):.2f}", "")
    for episodes in arguments.train_episodes:
        for name, build in LEARNERS[arguments.mode].items():
            scores, walls = [], []
            for seed in arguments.seeds:
                agent, wall = fitted(build(env, arguments), env, episodes, seed)
                scores.append(decibels(agent, env, arguments.test_episodes))
                walls.append(wall)
                if len(arguments.seeds) > 1:
                    print(f"  {name}, seed {seed}: {scores[-1]:.2f} dB, {wall:.1f} s", flush=True)
            row(out, name, episodes, summary(scores), f"{np.mean(walls):.1f}")
    if out is not None:
        out.close()


if __name__ == "__main__":
    main()
