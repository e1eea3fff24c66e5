"""A study file is checked whole before any trial runs: every bad input a clear error, all at once.

The table of inputs tried (``BAD_FILES``) is the study-file row of the reliability table.
"""

import pytest

from mbdl_control.evaluation.study import StudyError, load_study, study_from_dict
from mbdl_control.evaluation.study_checks import study_problems

BASE = {
    "name": "v",
    "envs": [{"id": "mbdl/BoxLQR-v0", "label": "box"}],
    "agents": [{"class": "LQR", "knowledge": "nominal"}],
}

#: (change to a valid file, the words the error must contain: where and what)
BAD_FILES = [
    ({"evaluation": {"episodes": "ten"}}, "evaluation.episodes: Input should be a valid integer"),
    ({"evaluation": {"episodes": 2.7}}, "evaluation.episodes: Input should be a valid integer"),
    ({"evaluation": {"episodes": True}}, "evaluation.episodes: Input should be a valid integer"),
    ({"evaluation": 5}, "evaluation: Input should be a valid dictionary"),
    ({"name": 5}, "name: Input should be a valid string"),
    ({"description": 5}, "description: Input should be a valid string"),
    ({"agents": [{"class": 5, "knowledge": "nominal"}]}, "agents[0].class: Value error"),
    ({"seeds": [0.5]}, "seeds[0]: Input should be a valid integer"),
    ({"seeds": [-1]}, "seeds[0]: Input should be greater than or equal to 0"),
    ({"seeds": []}, "seeds: List should have at least 1 item"),
    ({"envs": "lq"}, "envs: Input should be a valid list"),
    ({"envs": []}, "envs: List should have at least 1 item"),
    ({"mismatch": [float("nan")]}, "mismatch[0]: Input should be a finite number"),
    ({"mismatch": [True]}, "mismatch[0]: Input should be a valid number"),
    ({"mismatch": ["0.1"]}, "mismatch[0]: Input should be a valid number"),
    ({"budgets": [{"steps": 1.5}]}, "budgets[0].steps: Input should be a valid integer"),
    ({"budgets": [{"sample": 3}]}, "budgets[0]: unknown key(s) ['sample']"),
    ({"envs": [{"id": 3}]}, "envs[0].id: Input should be a valid string"),
    ({"envs": [{"id": "mbdl/BoxLQR-v0", "sweep": {"n": []}}]}, "envs[0].sweep.n: List should"),
    ({"envs": [{"id": "mbdl/BoxLQR-v0", "max_episode_steps": 0}]}, "max_episode_steps: Input"),
    ({"agents": [{"class": "LQR", "knowledge": "nominal", "family": "x"}]}, "agents[0].family"),
    ({"agents": [{"class": "LQR", "knowledge": "nominal", "kwargs": 3}]}, "agents[0].kwargs"),
    ({"agents": [{"class": "LQR", "knowledge": "nominal", "fit_env": 1}]}, "agents[0].fit_env"),
    (
        {"agents": [{"class": "LQR", "knowledge": "nominal", "fit_env": {"mismatch": 0.1}}]},
        "fit_env cannot set 'mismatch'",
    ),
    ({"quick": {"episodes": "few"}}, "quick.episodes: Input should be a valid integer"),
    ({"quick": {"agents": {"nobody": {}}}}, "quick.agents: no agents labelled ['nobody']"),
]

#: (change, words of the error) for files whose shape is right but cannot run
UNRUNNABLE = [
    ({"envs": [{"id": "mbdl/Nope-v0", "label": "box"}]}, "'mbdl/Nope-v0' is not a registered"),
    ({"envs": [{"id": "mbdl/BoxLQR-v0", "label": "box", "kwargs": {"n": 0}}]}, "n must be"),
    ({"agents": [{"class": "Kalman", "knowledge": "nominal"}]}, "unknown agent class 'Kalman'"),
    ({"agents": [{"class": "LQR", "knowledge": "nominal", "kwargs": {"horizn": 3}}]}, "horizn"),
    ({"agents": [{"class": "LQR", "knowledge": "structure"}]}, "not 'structure'"),
    ({"agents": [{"class": "PPO", "knowledge": "nominal"}]}, "SB3 algorithm uses no model"),
    ({"agents": [{"class": "oracle", "knowledge": "true", "kwargs": {"h": 1}}]}, "takes no kwargs"),
    ({"agents": [{"class": "PPO", "knowledge": "none"}], "envs": [{"id": "mbdl/LQG-v0"}]}, "bound"),
    (
        {"agents": [{"class": "LQR", "knowledge": "nominal", "fit_env": {"noise_std": -1.0}}]},
        "fit_env on env 'box': ValueError: noise_std must be",
    ),
]


@pytest.mark.parametrize(("change", "words"), BAD_FILES)
def test_every_bad_file_gives_a_clear_error_naming_the_place(change, words):
    with pytest.raises(StudyError) as raised:
        study_from_dict({**BASE, **change})
    assert words in str(raised.value)


@pytest.mark.parametrize(("change", "words"), UNRUNNABLE)
def test_unrunnable_studies_are_refused_before_any_trial(change, words):
    problems = study_problems(study_from_dict({**BASE, **change}))
    assert any(words in problem for problem in problems), problems


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        'name = "v"\nseeds = [0.5]\n[evaluation]\nepisodes = "ten"\n'
        '[[envs]]\nid = "mbdl/BoxLQR-v0"\nkwarg = 1\n'
        '[[agents]]\nclass = "LQR"\nknowledge = "nominal"\n'
    )
    with pytest.raises(StudyError, match=r"has 3 problem\(s\)") as raised:
        load_study(path)
    for words in ("seeds[0]", "evaluation.episodes", "envs[0]: unknown key(s) ['kwarg']"):
        assert words in str(raised.value)
    path.write_text(
        'name = "v"\n[[envs]]\nid = "mbdl/Nope-v0"\n'
        '[[agents]]\nclass = "Kalman"\nknowledge = "nominal"\n'
    )
    with pytest.raises(StudyError, match=r"study 'v' has 2 problem\(s\)"):
        load_study(path)
    path.write_bytes(b"name = \xff\xfe")
    with pytest.raises(StudyError, match=r"not UTF-8 text|not valid TOML"):
        load_study(path)


def test_the_shipped_studies_have_no_problem():
    from pathlib import Path

    for path in sorted((Path(__file__).parents[1] / "experiments").glob("*.toml")):
        load_study(path)
