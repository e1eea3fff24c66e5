"""Two runs of one study on one store share its trials: none runs twice, every row once."""

import collections
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from mbdl_control.agents import LQR
from mbdl_control.evaluation.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
SEEDS, MISMATCH = 10, (0.0, 0.2)


class LoggedLQR(LQR):
    """The nominal LQR, fitted by sleeping a little, that logs which process fitted which
    trial (one line, appended in one write)."""

    def __init__(self, model, log, knowledge="nominal"):
        super().__init__(model, knowledge=knowledge)
        self.log = log

    def fit(self, env, budget=None, seed=None):
        time.sleep(0.2)
        line = f"{os.getppid() if self.pooled() else os.getpid()} {seed} {env.unwrapped.mismatch}\n"
        descriptor = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(descriptor, line.encode())
        os.close(descriptor)
        return super().fit(env, budget, seed)

    @staticmethod
    def pooled() -> bool:
        """Whether this runs in a pool worker (then its run is the parent process)."""
        import multiprocessing

        return multiprocessing.parent_process() is not None


def test_two_runs_on_one_store_share_the_trials(tmp_path):
    log = tmp_path / "fits.log"
    toml = tmp_path / "shared.toml"
    toml.write_text(
        f'name = "shared"\nseeds = {list(range(SEEDS))}\nmismatch = {list(MISMATCH)}\n'
        "[evaluation]\nepisodes = 2\n"
        '[[envs]]\nid = "mbdl/LinearQuadratic-v0"\nmax_episode_steps = 5\n'
        '[[agents]]\nclass = "tests.test_concurrent_runs:LoggedLQR"\nknowledge = "nominal"\n'
        f'kwargs = {{ log = "{log}" }}\n'
    )
    results = tmp_path / "shared.sqlite"
    command = [sys.executable, "-m", "mbdl_control", "run", str(toml), "--quiet"]
    command += ["--results", str(results)]
    runs = [  # one with a pool of two workers, one in its process
        subprocess.Popen([*command, *workers], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for workers in (["--workers", "2"], [])
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs

    fits = [line.split() for line in log.read_text().splitlines()]
    per_trial = collections.Counter((seed, float(mismatch)) for _, seed, mismatch in fits)
    trials = SEEDS * len(MISMATCH)
    assert len(per_trial) == trials and set(per_trial.values()) == {1}  # none ran twice
    by_run = collections.Counter(pid for pid, _, _ in fits)
    assert set(by_run) == {str(run.pid) for run in runs}  # both did some of the work
    assert sum(by_run.values()) == trials

    rows = ResultStore(results).read()
    assert len(rows) == trials and (rows["status"] == "ok").all()
    with sqlite3.connect(results) as db:
        assert db.execute("SELECT count(*), count(DISTINCT trial) FROM trials").fetchone() == (
            trials,
            trials,
        )
        assert db.execute("SELECT count(*) FROM claims").fetchone() == (0,)
    said = [" ".join(output.split()) for output in outputs]
    done = [output for output in said if "left to another run sharing the store" in output]
    assert done, outputs  # the run that ended first says it left trials to the other
