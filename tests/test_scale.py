"""Scale: executors keep a bounded number of trials in flight and survive a dying worker, a
trial runs single-threaded, and the Ray executor joins a running cluster (``RAY_ADDRESS``)."""

import concurrent.futures
import itertools
import os
import subprocess
import sys
import time

import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from mbdl_control.agents import LQR
from mbdl_control.evaluation.executors import LocalExecutor, RayExecutor, ray_init_options
from mbdl_control.evaluation.runner import run_study
from mbdl_control.evaluation.store import ResultStore
from mbdl_control.evaluation.study import study_from_dict
from mbdl_control.evaluation.trial import run_trial


def _study(n_seeds, *agents):
    return study_from_dict(
        {
            "name": "scale",
            "seeds": list(range(n_seeds)),
            "evaluation": {"episodes": 2},
            "envs": [{"id": "mbdl/LinearQuadratic-v0", "max_episode_steps": 5}],
            "agents": list(agents) or [{"class": "LQR", "knowledge": "nominal"}],
        }
    )


class DyingLQR(LQR):
    """The nominal LQR, except that fitting with seed 2 kills the process it runs in (after
    noting it in ``log``)."""

    def __init__(self, model, log, knowledge="nominal"):
        super().__init__(model, knowledge=knowledge)
        self.log = log

    def fit(self, env, budget=None, seed=None):
        if seed == 2:
            with open(self.log, "a") as handle:
                handle.write(f"{os.getpid()}\n")
            os._exit(1)
        return super().fit(env, budget, seed)


class SleepingLQR(LQR):
    """The nominal LQR, fitted by sleeping, that logs when its fit ran (to see overlaps)."""

    def __init__(self, model, log, knowledge="nominal"):
        super().__init__(model, knowledge=knowledge)
        self.log = log

    def fit(self, env, budget=None, seed=None):
        start = time.time()
        time.sleep(0.3)
        with open(self.log, "a") as handle:
            handle.write(f"{start} {time.time()}\n")
        return super().fit(env, budget, seed)


def test_local_pool_keeps_two_trials_per_worker_in_flight(monkeypatch):
    class CountingPool(concurrent.futures.ProcessPoolExecutor):
        submitted = 0

        def submit(self, *args, **kwargs):
            CountingPool.submitted += 1
            return super().submit(*args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", CountingPool)
    study = _study(40)
    rows = []
    for row in LocalExecutor(2).run(study, study.trials()):
        assert CountingPool.submitted - len(rows) <= 4
        rows.append(row)
    assert sorted(row["trial"] for row in rows) == sorted(key.id for key in study.trials())
    assert [row["error"] for row in rows if row["status"] != "ok"] == []


def test_a_dying_worker_fails_only_its_own_trial(tmp_path):
    log = tmp_path / "deaths.log"
    study = _study(
        5,
        {
            "class": "tests.test_scale:DyingLQR",
            "knowledge": "nominal",
            "label": "dies",
            "kwargs": {"log": str(log)},
        },
        {"class": "LQR", "knowledge": "nominal"},
    )
    summary = run_study(study, tmp_path / "r.sqlite", LocalExecutor(2), quiet=True)
    rows = ResultStore(tmp_path / "r.sqlite").read().set_index("trial")
    assert summary.ran == len(rows) == 10
    dead = study.trials()[2]
    assert dead.seed == 2
    # the trials in flight with it were retried alone and succeeded; it died each time
    assert summary.failed == summary.failed_stored == 1
    assert (rows.drop(index=dead.id)["status"] == "ok").all()
    assert rows.loc[dead.id, "error"].startswith("worker crashed in all 3 attempts, 2 of them")
    deaths = log.read_text().split()
    assert len(deaths) == 3 and len(set(deaths)) == 3  # three processes: pooled, then alone


def test_a_trial_runs_torch_and_blas_single_threaded():
    study = _study(1)
    with threadpool_limits(2):  # restores this process's limits afterwards
        assert run_trial(study, study.trials()[0])["status"] == "ok"
        assert {pool["num_threads"] for pool in threadpool_info()} == {1}
        assert torch.get_num_threads() == 1


def test_ray_init_options_prefer_the_address_then_ray_address(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert ray_init_options(None, 2) == {"num_cpus": 2}
    assert ray_init_options("auto", 2) == {"address": "auto"}
    monkeypatch.setenv("RAY_ADDRESS", "head:6379")
    assert ray_init_options(None, 2) == {"address": "head:6379"}
    assert ray_init_options("other:6379", None) == {"address": "other:6379"}


def test_ray_study_joins_a_running_cluster_and_runs_workers_trials_at_once(tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        toml = tmp_path / "tiny.toml"
        toml.write_text(
            'name = "tiny"\nseeds = [0, 1]\n[evaluation]\nepisodes = 2\n'
            '[[envs]]\nid = "mbdl/LinearQuadratic-v0"\nmax_episode_steps = 5\n'
            '[[agents]]\nclass = "LQR"\nknowledge = "nominal"\n'
        )
        results = tmp_path / "joined.sqlite"
        command = [sys.executable, "-m", "mbdl_control", "run", str(toml), "--quiet"]
        joined = subprocess.run(
            [*command, "--results", str(results), "--executor", "ray"],
            env={**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address},
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert joined.returncode == 0, joined.stderr[-2000:]
        assert (ResultStore(results).read()["status"] == "ok").sum() == 2

        log = tmp_path / "fits.log"
        agent = {
            "class": "tests.test_scale:SleepingLQR",
            "knowledge": "nominal",
            "kwargs": {"log": str(log)},
        }
        summary = run_study(_study(4, agent), tmp_path / "one.sqlite", RayExecutor(workers=1))
        assert summary.failed == 0
        spans = sorted(tuple(map(float, line.split())) for line in log.read_text().splitlines())
        assert len(spans) == 4
        assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
        assert ray.is_initialized()  # the executor leaves a Ray it did not start running
    finally:
        ray.shutdown()
