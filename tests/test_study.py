import pytest

from mbdl_control.evaluation.study import StudyError, load_study, study_from_dict


def _raw(**changes):
    raw = {
        "name": "s",
        "seeds": [0, 1],
        "mismatch": [0.0, 0.2],
        "budgets": [{"steps": 0}, {"steps": 100}],
        "envs": [{"id": "mbdl/LinearQuadratic-v0", "label": "lq"}, {"id": "mbdl/LQG-v0"}],
        "agents": [
            {"class": "LQR", "knowledge": "nominal", "envs": ["lq"]},
            {"class": "oracle", "knowledge": "true"},
        ],
    }
    raw.update(changes)
    return raw


def test_trials_enumerate_the_grid_with_env_filters():
    study = study_from_dict(_raw())
    keys = study.trials()
    assert len(keys) == (1 + 2) * 2 * 2 * 2  # LQR on one env, oracle on two
    assert len({key.id for key in keys}) == len(keys)
    config = study.config_hash(study.env("lq"), study.agent("LQR"))
    assert keys[0].id == f"lq|mismatch=0|LQR|steps=0,samples=0|seed=0|config={config}"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seed": [0]}, r"unknown key\(s\) \['seed'\]; valid keys: \['agents', 'budgets'"),
        ({"agents": [{"class": "LQR"}]}, r"agents\[0\]: missing key\(s\) \['knowledge'\]"),
        (
            {"agents": [{"class": "LQR", "knowledge": "some"}]},
            r"agents\[0\].knowledge: Input should be 'true'",
        ),
        (
            {"agents": [{"class": "LQR", "knowledge": "true", "envs": ["x"]}]},
            r"envs \['x'\] are not in the study",
        ),
        ({"envs": [{"id": "a", "kwarg": {}}]}, r"envs\[0\]: unknown key\(s\) \['kwarg'\]"),
        ({"mismatch": [-0.1]}, r"mismatch\[0\]: Input should be greater than or equal to 0"),
        (
            {"budgets": [{"steps": -5}]},
            r"budgets\[0\].steps: Input should be greater than or equal",
        ),
        (
            {"evaluation": {"episodes": 1}},
            "evaluation.episodes: Input should be greater than or equal to 2",
        ),
        ({"seeds": "0"}, "seeds: Input should be a valid list"),
        ({"name": "a b"}, "name: String should match pattern"),
        (
            {
                "agents": [
                    {"class": "LQR", "knowledge": "true"},
                    {"class": "LQR", "knowledge": "nominal"},
                ]
            },
            "agent labels must be unique",
        ),
    ],
)
def test_bad_study_names_the_key(changes, message):
    with pytest.raises(StudyError, match=message):
        study_from_dict(_raw(**changes))


def test_quick_overrides_and_toml(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "t"\nseeds = [0, 1, 2]\n[quick]\nseeds = [0]\nepisodes = 3\n'
        '[[envs]]\nid = "mbdl/BoxLQR-v0"\n[[agents]]\nclass = "MPC"\nknowledge = "nominal"\n'
        "kwargs = { horizon = 5 }\n"
    )
    study = load_study(path)
    assert study.seeds == (0, 1, 2) and study.agents[0].kwargs == {"horizon": 5}
    quick = study.quick_version()
    assert quick.seeds == (0,) and quick.episodes == 3
    with pytest.raises(StudyError, match="not valid TOML"):
        path.write_text("name = ")
        load_study(path)
    with pytest.raises(StudyError, match="no study file"):
        load_study(tmp_path / "missing.toml")


def test_every_experiment_file_is_valid():
    from pathlib import Path

    files = sorted((Path(__file__).parents[1] / "experiments").glob("**/*.toml"))
    assert files
    for path in files:
        study = load_study(path)
        assert study.trials() and study.quick_version().trials()
