"""An agent's constructor arguments swept as axes of a study's grid (ISTA's iterations,
LISTA's layers): the trials, their ids, the quick values, the checks, the rows and the
report's figure and table."""

import json

import pytest

from mbdl_control.evaluation.report import _at_smallest_axes, summarize, write_report
from mbdl_control.evaluation.runner import run_study
from mbdl_control.evaluation.store import ResultStore
from mbdl_control.evaluation.study import StudyError, study_from_dict
from mbdl_control.evaluation.study_checks import study_problems


def _raw(**agent_changes):
    agent = {"class": "MPC", "knowledge": "nominal", "sweep": {"horizon": [2, 4]}}
    agent.update(agent_changes)
    return {
        "name": "s",
        "seeds": [0],
        "mismatch": [0.0, 0.3],
        "evaluation": {"episodes": 3},
        "envs": [{"id": "mbdl/BoxLQR-v0", "label": "box", "max_episode_steps": 5}],
        "agents": [agent, {"class": "oracle", "knowledge": "true"}],
        "quick": {"agents": {"MPC": {"horizon": [3]}}},
    }


def test_every_swept_value_is_a_trial_named_by_it():
    study = study_from_dict(_raw())
    mpc = [key for key in study.trials() if key.agent == "MPC"]
    assert [dict(key.agent_axes)["horizon"] for key in mpc] == [2, 2, 4, 4]
    assert [key.mismatch for key in mpc] == [0.0, 0.3, 0.0, 0.3]
    assert "|MPC|horizon=4|steps=0" in mpc[-1].id
    assert mpc[-1].all_axes() == {"agent.horizon": 4}
    assert study.agent("MPC").at(mpc[-1].agent_axes).kwargs == {"horizon": 4}
    oracle = [key for key in study.trials() if key.agent == "oracle"]
    assert all(key.agent_axes == () and "horizon" not in key.id for key in oracle)


def test_quick_values_replace_the_sweep_and_the_config_hash_ignores_it():
    study = study_from_dict(_raw())
    quick = study.quick_version()
    assert quick.agent("MPC").sweep == {"horizon": (3,)} and quick.agent("MPC").kwargs == {}
    wider = study_from_dict(_raw(sweep={"horizon": [2, 4, 8]}))
    assert study.config_hash(study.envs[0], study.agent("MPC")) == wider.config_hash(
        wider.envs[0], wider.agent("MPC")
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kwargs": {"horizon": 3}}, "cannot sweep 'horizon'; it is in kwargs"),
        ({"sweep": {"mismatch": [0.1]}}, "the study's own `mismatch` axis"),
        ({"sweep": {"horizon": []}}, "sweep.horizon"),
    ],
)
def test_a_bad_sweep_is_refused_naming_it(changes, message):
    with pytest.raises(StudyError, match=message):
        study_from_dict(_raw(**changes))


def test_a_swept_argument_the_agent_does_not_take_is_found_before_any_trial():
    problems = study_problems(study_from_dict(_raw(sweep={"depth": [1, 2]})))
    assert len(problems) == 1 and "depth" in problems[0]


def test_rows_carry_the_swept_value_and_the_report_plots_against_it(tmp_path):
    study = study_from_dict(_raw())
    run_study(study, tmp_path / "r.db", quiet=True)
    rows = ResultStore(tmp_path / "r.db").read()
    assert (rows["status"] == "ok").all()
    mpc = rows[rows["agent"] == "MPC"]
    assert sorted(json.loads(text)["agent.horizon"] for text in mpc["axes"]) == [2, 2, 4, 4]
    assert len(set(mpc["mean_cost"])) > 1  # the horizons act differently
    report = write_report(tmp_path / "r.db", tmp_path / "report")
    markdown = report.markdown.read_text()
    assert (tmp_path / "report" / "cost_vs_horizon.png").exists()
    assert "Cost against horizon" in markdown and "| horizon |" in markdown
    # the mismatch and budget figures show each agent at the most it was run with
    shown = _at_smallest_axes(summarize(rows))
    assert set(shown[shown["agent"] == "MPC"]["agent.horizon"]) == {4}
    assert len(shown[shown["agent"] == "oracle"]) == 2
