"""Wall time of a CPU-bound study with the Ray executor at 1 and 2 workers on one local Ray
cluster (goal: ≥ 1.7x faster with 2 workers on a 2-CPU cluster).

The cluster is started once (``ray.init(num_cpus=2)``) and both worker counts run on it:
``RayExecutor(workers=w)`` keeps ``w`` trials in flight. Not timed: the cluster's start-up,
and a warm-up study of 2 trials that has both Ray worker processes import the package. Timed:
``run_study`` from first submission to last row written.

The study: MPC (horizon 10) through cvxpy (Clarabel, a few ms per solve: the slow, general
path, chosen here because it is CPU-bound) on the nominal model of ``mbdl/BoxLQR-v0`` at
mismatch 0.1, one trial per seed, each evaluating a few 100-step episodes and the oracle (a
few seconds per trial). Every run gets its own seeds: a worker caches oracle evaluations
by evaluation seed, and a run must not reuse those of an earlier one. Each trial limits torch
and BLAS to one thread itself (``run_trial``), so two workers do not fight over the two cores;
the benchmark checks that in a worker.

Runs alternate between the worker counts so that a load change on the machine hits both. On a
shared machine other processes can only add time, so the ratio of the minima is the better
estimate of the speed-up on idle cores; the load average is printed alongside.

    .venv/bin/python benchmarks/ray_scaling.py [--trials 8] [--episodes 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import ray

from mbdl_control.evaluation.executors import RayExecutor
from mbdl_control.evaluation.runner import run_study
from mbdl_control.evaluation.study import Study, study_from_dict


def mpc_study(seeds: range, episodes: int) -> Study:
    return study_from_dict(
        {
            "name": "ray-scaling",
            "seeds": list(seeds),
            "mismatch": [0.1],
            "evaluation": {"episodes": episodes},
            "envs": [{"id": "mbdl/BoxLQR-v0"}],
            "agents": [
                {
                    "class": "MPC",
                    "knowledge": "nominal",
                    "kwargs": {"horizon": 10, "solver": "CLARABEL"},
                }
            ],
        }
    )


def seconds_to_run(study: Study, workers: int, results: Path) -> float:
    start = time.perf_counter()
    summary = run_study(study, results, RayExecutor(workers=workers), quiet=True)
    seconds = time.perf_counter() - start
    if summary.failed:
        raise RuntimeError(f"{summary.failed} trials failed; see {summary.results}")
    return seconds


@ray.remote(num_cpus=1)
def worker_threads() -> tuple[int, list[int]]:
    """Torch threads and BLAS/OpenMP pool sizes in a Ray worker that has run trials."""
    import torch
    from threadpoolctl import threadpool_info

    return torch.get_num_threads(), sorted({pool["num_threads"] for pool in threadpool_info()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    load = os.getloadavg()[0]
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - start
    times: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as folder:
        seconds_to_run(mpc_study(range(10**6, 10**6 + 2), 2), 2, Path(folder) / "warm-up.sqlite")
        for run in range(arguments.repeats * len(times)):
            workers = 1 + run % len(times)
            seeds = range(run * arguments.trials, (run + 1) * arguments.trials)
            study = mpc_study(seeds, arguments.episodes)
            times[workers].append(seconds_to_run(study, workers, Path(folder) / f"{run}.sqlite"))
    torch_threads, blas_threads = ray.get(worker_threads.remote())
    ray.shutdown()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f", Ray {ray.__version__}"
    )
    print(
        f"local cluster of 2 CPUs, started in {startup:.1f} s (not timed); "
        f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    )
    print(
        f"{arguments.trials} trials of MPC H=10 (cvxpy, Clarabel) on BoxLQR, "
        f"{arguments.episodes} episodes each; "
        f"{arguments.repeats} runs per worker count; in a worker: torch threads {torch_threads}, "
        f"BLAS/OpenMP threads {blas_threads}"
    )
    print(
        "| workers | s per study (median) | min | max | speedup vs 1 worker: of medians "
        "| of minima |"
    )
    print("|---|---|---|---|---|---|")
    for workers, seconds in times.items():
        median = statistics.median(seconds)
        print(
            f"| {workers} | {median:.1f} | {min(seconds):.1f} | {max(seconds):.1f} "
            f"| {statistics.median(times[1]) / median:.2f} | {min(times[1]) / min(seconds):.2f} |"
        )


if __name__ == "__main__":
    main()
