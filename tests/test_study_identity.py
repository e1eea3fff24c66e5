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


def test_fit_env_changes_the_training_env_only_and_is_fitted_once(tmp_path):
    raw = {
        "name": "fit-env",
        "evaluation": {"episodes": 2},
        "envs": [{"id": "mbdl/BoxLQR-v0", "label": "box", "sweep": {"noise_std": [0.5, 1.0]}}],
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
    rows = ResultStore(tmp_path / "r.csv").read().sort_values("axes")
    probe, elsewhere = (
        rows[rows["agent"] == label] for label in ("TrainingEnvProbe", "trained elsewhere")
    )
    n = 8  # BoxLQR's default state dimension: trace(W) = n σ²
    assert [json.loads(curve) for curve in probe["curve"]] == [[n * 0.25], [n * 1.0]]
    assert [json.loads(curve) for curve in elsewhere["curve"]] == [[n * 4.0], [n * 4.0]]
    # both are tested on the grid's env: the same episodes, the same LQR, the same costs
    assert list(elsewhere["mean_cost"]) == list(probe["mean_cost"])
    assert elsewhere["config"].iloc[0] != probe["config"].iloc[0]
    # the training env is the same at both points: one fit, whose time both rows carry
    assert elsewhere["fit_seconds"].nunique() == 1


def test_trials_that_share_a_fit_run_one_after_another():
    from mbdl_control.evaluation.runner import _by_fit

    raw = {
        "name": "order",
        "mismatch": [0.0, 0.2],
        "envs": [{"id": "mbdl/BoxLQR-v0", "label": "box", "sweep": {"noise_std": [0.5, 1, 2]}}],
        "agents": [
            {"class": "LQR", "knowledge": "nominal"},
            {"class": "LQR", "knowledge": "nominal", "label": "L", "fit_env": {"x0_std": 1.0}},
        ],
    }
    keys = study_from_dict(raw).trials()
    ordered = _by_fit(study_from_dict(raw), keys)
    assert sorted(key.id for key in ordered) == sorted(key.id for key in keys)
    shared = [key.mismatch for key in ordered if key.agent == "L"]
    positions = [index for index, key in enumerate(ordered) if key.agent == "L"]
    # each mismatch's three sweep points are adjacent; the other agent keeps its order
    assert shared == [0.0] * 3 + [0.2] * 3 or shared == [0.2] * 3 + [0.0] * 3
    assert positions[2] - positions[0] == 2 and positions[5] - positions[3] == 2
    others = [key for key in ordered if key.agent != "L"]
    assert others == [key for key in keys if key.agent != "L"]
