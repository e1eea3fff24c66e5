"""Studies end to end: a spectrum study with its report, kill and resume, local against Ray."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from mbdl_control.evaluation.executors import LocalExecutor, RayExecutor
from mbdl_control.evaluation.report import write_report
from mbdl_control.evaluation.runner import run_study
from mbdl_control.evaluation.store import ResultStore
from mbdl_control.evaluation.study import study_from_dict
from mbdl_control.evaluation.trial import TIMING_COLUMNS, run_trial

SPECTRUM = {
    "name": "tiny-spectrum",
    "seeds": [0, 1, 2],
    "mismatch": [0.0, 0.1, 0.3],
    "budgets": [{"steps": 0}, {"steps": 64}],
    "evaluation": {"episodes": 2},
    "envs": [
        {"id": "mbdl/LinearQuadratic-v0", "label": "lq", "max_episode_steps": 10},
        {"id": "mbdl/BoxLQR-v0", "label": "box", "max_episode_steps": 10},
    ],
    "agents": [
        {"class": "oracle", "knowledge": "true"},
        {"class": "LQR", "knowledge": "nominal"},
        {"class": "MPC", "knowledge": "nominal", "kwargs": {"horizon": 3}},
        {"class": "tests.custom_agents:ScaledLQR", "knowledge": "nominal", "label": "scaled"},
        {
            "class": "PPO",
            "knowledge": "none",
            "kwargs": {"action_bound": 3.0, "n_steps": 32, "batch_size": 32, "n_epochs": 1},
        },
    ],
}


def _comparable(path):
    frame = ResultStore(path).read().drop(columns=list(TIMING_COLUMNS))
    return frame.sort_values("trial").reset_index(drop=True)


def test_spectrum_study_runs_end_to_end_with_report(tmp_path):
    study = study_from_dict(SPECTRUM)
    summary = run_study(study, tmp_path / "r.csv", LocalExecutor(2), quiet=True)
    assert (summary.total, summary.ran, summary.failed) == (180, 180, 0)
    rows = ResultStore(tmp_path / "r.csv").read()
    assert set(rows["family"]) == {"model-based", "learned-optimizer", "deep-learning"}
    assert (rows["steps_used"] <= rows["budget_steps"]).all()
    learners = rows[rows["agent"].isin(["PPO", "scaled"]) & (rows["budget_steps"] == 64)]
    assert (learners["steps_used"] > 0).all()
    assert (rows.loc[rows["agent"] == "scaled", "n_parameters"] == 1).all()
    assert (rows.loc[rows["agent"] == "PPO", "n_parameters"] > 1000).all()
    assert (rows.loc[rows["agent"] == "oracle", "gap_to_oracle"] == 0).all()

    again = run_trial(study, study.trials()[100])
    stored = rows.set_index("trial").loc[again["trial"]]
    for column in ("mean_cost", "gap_to_oracle", "n_parameters", "steps_used"):
        assert again[column] == pytest.approx(stored[column], rel=1e-12)

    report = write_report(tmp_path / "r.csv")
    assert [p.name for p in report.figures] == [
        "spectrum_map.png",
        "cost_vs_mismatch.png",
        "cost_vs_budget.png",
    ]
    for figure in report.figures:
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000
    text = report.markdown.read_text()
    assert "## lq" in text and "## box" in text and "How the study was run" in text
    assert "<table" in report.html.read_text()


SMALL = {
    "name": "small",
    "seeds": [0, 1],
    "mismatch": [0.0, 0.2],
    "evaluation": {"episodes": 6},
    "envs": [{"id": "mbdl/BoxLQR-v0", "max_episode_steps": 20}],
    "agents": [
        {"class": "MPC", "knowledge": "nominal", "kwargs": {"horizon": 5}},
        {"class": "COCP", "knowledge": "nominal"},
        {"class": "SaturatedLQR", "knowledge": "nominal"},
    ],
}


def test_killed_study_resumes_to_the_uninterrupted_result(tmp_path):
    toml = tmp_path / "small.toml"
    toml.write_text(
        'name = "small"\nseeds = [0, 1]\nmismatch = [0.0, 0.2]\n[evaluation]\nepisodes = 6\n'
        '[[envs]]\nid = "mbdl/BoxLQR-v0"\nmax_episode_steps = 20\n'
        '[[agents]]\nclass = "MPC"\nknowledge = "nominal"\nkwargs = { horizon = 5 }\n'
        '[[agents]]\nclass = "COCP"\nknowledge = "nominal"\n'
        '[[agents]]\nclass = "SaturatedLQR"\nknowledge = "nominal"\n'
    )
    killed = tmp_path / "killed.csv"
    command = [
        sys.executable,
        "-m",
        "mbdl_control",
        "run",
        str(toml),
        "--results",
        str(killed),
        "--quiet",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if killed.exists() and len(killed.read_text().splitlines()) >= 4:  # header + 3 rows
            break
        time.sleep(0.05)
    assert process.poll() is None, "the study finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done_before = len(ResultStore(killed).read())
    assert 3 <= done_before < 12

    summary = run_study(study_from_dict(SMALL), killed, quiet=True)
    assert summary.skipped == done_before and summary.ran == 12 - done_before
    run_study(study_from_dict(SMALL), tmp_path / "whole.csv", quiet=True)
    pd.testing.assert_frame_equal(_comparable(killed), _comparable(tmp_path / "whole.csv"))


def test_ray_and_local_executors_give_identical_rows(tmp_path):
    pytest.importorskip("ray")
    study = study_from_dict(
        {
            **SMALL,
            "agents": [
                *SMALL["agents"][:1],
                {"class": "PPO", "knowledge": "none", "kwargs": {"n_steps": 32, "batch_size": 32}},
            ],
            "budgets": [{"steps": 64}],
        }
    )
    run_study(study, tmp_path / "local.csv", LocalExecutor(2), quiet=True)
    run_study(study, tmp_path / "ray.csv", RayExecutor(workers=2), quiet=True)
    local, on_ray = _comparable(tmp_path / "local.csv"), _comparable(tmp_path / "ray.csv")
    assert (local["status"] == "ok").all() and len(local) == 8
    pd.testing.assert_frame_equal(local, on_ray)


def test_failed_trials_are_recorded_and_rerun_on_request(tmp_path):
    study = study_from_dict(
        {**SMALL, "agents": [{"class": "LQG", "knowledge": "nominal"}], "seeds": [0]}
    )
    summary = run_study(study, tmp_path / "r.csv", quiet=True)
    rows = ResultStore(tmp_path / "r.csv").read()
    assert summary.failed == 2 and (rows["status"] == "failed").all()
    assert rows["error"].str.contains("LQG needs a measurement model").all()
    assert run_study(study, tmp_path / "r.csv", quiet=True).ran == 0
    assert run_study(study, tmp_path / "r.csv", rerun_failed=True, quiet=True).ran == 2
