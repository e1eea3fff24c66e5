"""A trial's identity holds everything that changes its result; model-free agents run once."""

import json

import numpy as np

from mbdl_control.evaluation.runner import run_study
from mbdl_control.evaluation.store import ResultStore
from mbdl_control.evaluation.study import study_from_dict


def _raw(horizon: int) -> dict:
    return {
        "name": "identity",
        "mismatch": [0.0, 0.2, 0.4],
        "evaluation": {"episodes": 2},
        "envs": [{"id": "mbdl/BoxLQR-v0", "label": "box", "max_episode_steps": 5}],
        "agents": [
            {"class": "MPC", "knowledge": "nominal", "kwargs": {"horizon": horizon}},
            {
                "class": "PPO",
                "knowledge": "none",
                "budgets": [{"steps": 32}],
                "kwargs": {"n_steps": 16, "batch_size": 16, "n_epochs": 1},
            },
        ],
    }


def test_editing_an_agent_makes_new_trials_and_counts_the_stale_rows(tmp_path):
    results = tmp_path / "r.csv"
    first = run_study(study_from_dict(_raw(horizon=10)), results, quiet=True)
    assert (first.ran, first.stale) == (6, 0)
    again = run_study(study_from_dict(_raw(horizon=10)), results, quiet=True)
    assert (again.skipped, again.ran, again.stale) == (6, 0, 0)
    edited = run_study(study_from_dict(_raw(horizon=3)), results, quiet=True)
    # MPC's three trials are new (another configuration); PPO's are unchanged
    assert (edited.skipped, edited.ran, edited.stale) == (3, 3, 3)
    rows = ResultStore(results).read()
    mpc = rows[rows["agent"] == "MPC"]
    assert mpc["config"].nunique() == 2 and len(mpc) == 6


def test_an_agent_without_a_model_runs_once_across_mismatch(tmp_path):
    summary = run_study(study_from_dict(_raw(horizon=10)), tmp_path / "r.csv", quiet=True)
    assert summary.failed == 0
    rows = ResultStore(tmp_path / "r.csv").read()
    ppo = rows[rows["agent"] == "PPO"].sort_values("mismatch")
    assert list(ppo["mismatch"]) == [0.0, 0.2, 0.4] and ppo["trial"].nunique() == 3
    # one fit, copied: even the timings agree to the last digit, which three fits never would
    for column in ("fit_seconds", "eval_seconds", "mean_cost", "gap_to_oracle"):
        assert ppo[column].nunique() == 1, column
    mpc = rows[rows["agent"] == "MPC"]
    assert mpc["mean_cost"].nunique() == 3  # MPC uses the nominal model: it differs
    assert np.isfinite(ppo["mean_cost"]).all()


def test_fit_env_changes_the_training_env_only(tmp_path):
    raw = {
        "name": "fit-env",
        "evaluation": {"episodes": 2},
        "envs": [{"id": "mbdl/BoxLQR-v0", "label": "box", "kwargs": {"noise_std": 0.5}}],
        "agents": [
            {"class": "tests.custom_agents:TrainingEnvProbe", "knowledge": "nominal"},
            {
                "class": "tests.custom_agents:TrainingEnvProbe",
                "knowledge": "nominal",
                "label": "trained elsewhere",
                "fit_env": {"noise_std": 2.0},
            },
        ],
    }
    run_study(study_from_dict(raw), tmp_path / "r.csv", quiet=True)
    rows = ResultStore(tmp_path / "r.csv").read().set_index("agent")
    n = 8  # BoxLQR's default state dimension: trace(W) = n σ²
    assert json.loads(rows.loc["TrainingEnvProbe", "curve"]) == [n * 0.25]
    assert json.loads(rows.loc["trained elsewhere", "curve"]) == [n * 4.0]
    # both are evaluated on the study's env: the same episodes, the same LQR, the same cost
    assert rows.loc["trained elsewhere", "mean_cost"] == rows.loc["TrainingEnvProbe", "mean_cost"]
    assert rows.loc["trained elsewhere", "config"] != rows.loc["TrainingEnvProbe", "config"]
