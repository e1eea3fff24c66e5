"""Peak memory of a study against its number of trials: it should stay flat (goal: ≤ 1 GiB for
1000 trials), because rows are streamed to the store and only a few trials are in flight.

Each (trials, workers) case runs in a fresh Python process (the high-water marks below only
grow), on a generated study of cheap trials: ``mbdl/LinearQuadratic-v0`` (20 steps), LQR and
finite-horizon LQR on the nominal model, 5 mismatch values, ``trials / 10`` seeds, 2 episodes,
with the local executor. Two measures of the process tree (the study process and its pool
workers), in MiB:

- **RSS bound**: ``getrusage(RUSAGE_SELF).ru_maxrss`` of the study process plus ``workers`` times
  ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the largest worker's peak). Exact high-water marks,
  but their sum over-counts: pool workers are forked from the study process and share its
  pages (the imported libraries, torch above all) until they write to them. An upper bound.
- **tree memory**: the peak, sampled every 50 ms by a thread of the study process, of the
  tree's anonymous memory summed over its processes (``Pss_Anon`` from
  ``/proc/PID/smaps_rollup``: a page still shared copy-on-write after the fork is split among
  the processes sharing it, so it counts once) plus the largest file-backed resident set of one
  process (``Rss - Anonymous``: the libraries' code, mapped by every process but in memory
  once). What the tree really takes, and unlike the plain proportional set size it does not
  shrink when unrelated processes on the machine map the same libraries. Linux only; psutil is
  not a dependency of the project, so ``/proc`` is read directly.

The ratio 1000/100 close to 1 is what "flat" means; most of the memory is the imported
libraries, which every study pays once per process.

    .venv/bin/python benchmarks/study_memory.py [--trials 100 1000] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

STUDY = """\
name = "memory"
seeds = {seeds}
mismatch = [0.0, 0.05, 0.1, 0.2, 0.3]

[evaluation]
episodes = 2

[[envs]]
id = "mbdl/LinearQuadratic-v0"
max_episode_steps = 20

[[agents]]
class = "LQR"
knowledge = "nominal"

[[agents]]
class = "LQR"
knowledge = "nominal"
kwargs = {{ horizon = 20 }}
label = "LQR T=20"
"""
TRIALS_PER_SEED = 10  # 2 agents x 5 mismatch values


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # the process ended meanwhile
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:  # the field after the name: ppid
                found.append(int(entry.name))
    return found


def tree_memory_kib(root: int) -> int:
    """Anonymous memory of ``root`` and its descendants plus their largest file-backed
    resident set, in KiB (see the module docstring)."""
    anonymous, files, pending = 0, 0, [root]
    while pending:
        pid = pending.pop()
        pending.extend(_children(pid))
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        kib = {line.split(":")[0]: int(line.split()[1]) for line in rollup.splitlines()[1:]}
        anonymous += kib["Pss_Anon"]
        files = max(files, kib["Rss"] - kib["Anonymous"])
    return anonymous + files


class PeakSampler(threading.Thread):
    """Samples :func:`tree_memory_kib` of this process until stopped; keeps the peak."""

    def __init__(self, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.every, self.peak_kib, self._finished = every, 0, threading.Event()

    def run(self) -> None:
        while not self._finished.wait(self.every):
            self.peak_kib = max(self.peak_kib, tree_memory_kib(os.getpid()))

    def stop(self) -> int:
        self._finished.set()
        self.join()
        return self.peak_kib


def measure(trials: int, workers: int) -> dict[str, float]:
    """Run the generated study of ``trials`` trials in this process; its peak memory (MiB)."""
    from mbdl_control.evaluation.executors import LocalExecutor
    from mbdl_control.evaluation.runner import run_study
    from mbdl_control.evaluation.study import load_study

    sampler = PeakSampler()
    sampler.start()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "memory.toml"
        path.write_text(STUDY.format(seeds=list(range(trials // TRIALS_PER_SEED))))
        study = load_study(path)
        start = time.perf_counter()
        summary = run_study(
            study, Path(folder) / "memory.sqlite", LocalExecutor(workers), quiet=True
        )
        seconds = time.perf_counter() - start
    if summary.ran != trials or summary.failed:
        raise RuntimeError(f"the study did not run cleanly: {summary}")
    tree_kib = sampler.stop()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "seconds": seconds,
        "parent_rss": own / 1024,
        "worker_rss": child / 1024,
        "rss_bound": (own + (workers if workers > 1 else 0) * child) / 1024,
        "tree_memory": tree_kib / 1024,
    }


def measure_in_fresh_process(trials: int, workers: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", str(trials), str(workers)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--measure", type=int, nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.measure:
        print(json.dumps(measure(*arguments.measure)))
        return
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f"; load average {os.getloadavg()[0]:.1f} at start"
    )
    print(
        "| workers | trials | wall s | study process RSS | largest worker RSS | RSS bound "
        "| tree memory | tree memory / at fewest trials |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for workers in arguments.workers:
        first = None
        for trials in arguments.trials:
            m = measure_in_fresh_process(trials, workers)
            first = first or m["tree_memory"]
            worker = f"{m['worker_rss']:.0f}" if workers > 1 else "—"
            print(
                f"| {workers} | {trials} | {m['seconds']:.1f} | {m['parent_rss']:.0f} "
                f"| {worker} | {m['rss_bound']:.0f} | {m['tree_memory']:.0f} "
                f"| {m['tree_memory'] / first:.2f} |",
                flush=True,
            )
    print("(memory in MiB)")


if __name__ == "__main__":
    main()
