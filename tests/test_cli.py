from typer.testing import CliRunner

from mbdl_control.agents import LearnedCOCP
from mbdl_control.cli import app

runner = CliRunner()


def test_demo_prints_table_and_bound():
    result = runner.invoke(app, ["demo", "--episodes", "3", "--mismatch", "0.2"])
    assert result.exit_code == 0, result.output
    for text in ("oracle (COCP)", "saturated LQR", "MPC (H=10)", "COCP"):
        assert text in result.output
    assert "bound on the expected cost per step: 10.3" in result.output
    assert "(a sample mean may fall below it)" in result.output


def test_demo_on_lqg():
    result = runner.invoke(app, ["demo", "--env", "mbdl/LQG-v0", "--episodes", "3"])
    assert result.exit_code == 0, result.output
    assert "oracle (LQG)" in result.output


def test_demo_rejects_bad_input():
    unknown = runner.invoke(app, ["demo", "--env", "CartPole-v1"])
    assert unknown.exit_code == 2 and "is not an mbdl env" in unknown.output
    negative = runner.invoke(app, ["demo", "--mismatch", "-1"])
    assert negative.exit_code == 2


def test_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "demo" in result.output


def test_list_envs_and_agents():
    envs = runner.invoke(app, ["list", "envs"])
    assert envs.exit_code == 0 and "mbdl/BoxLQR-v0" in envs.output
    agents = runner.invoke(app, ["list", "agents"])
    assert agents.exit_code == 0
    for name in ("MPC", "COCP", "model-based", "PPO", "oracle"):
        assert name in agents.output


def wide_listing(what: str) -> str:
    """``mbdl-control list WHAT`` on a terminal wide enough that no row wraps."""
    result = runner.invoke(app, ["list", what], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.output


def test_list_shows_whole_first_paragraphs_without_rst_markup():
    envs = wide_listing("envs")
    # the last sentence of LQG-v0's first paragraph, its ``literals`` shown as plain code
    assert "Defaults: n = 4 states, m = 2 inputs, p = 2 measurements" in envs
    assert "W = 0.25 I, V = I, x_0 ~ N(0, I), Q = R = I." in envs
    assert "Action Space" not in envs  # the Description section's first paragraph only
    agents = wide_listing("agents")
    assert "LQG whose Kalman filter has noise covariances learned from labelled episodes." in agents
    assert "spends the budget" not in agents  # LearnedNoiseLQG's second paragraph
    narrow = runner.invoke(app, ["list", "envs"]).output  # 80 columns: wrapped, not cut
    for output in (envs, agents, narrow):
        assert "``" not in output and "…" not in output


def test_list_agents_shows_the_knowledge_each_builds_on():
    (row,) = [line for line in wide_listing("agents").splitlines() if "LearnedCOCP" in line]
    assert "learned-optimizer" in row and " or ".join(LearnedCOCP.knowledge_options) in row


TINY = """name = "tiny"
mismatch = [0.0, 0.2]
[evaluation]
episodes = 3
[[envs]]
id = "mbdl/LinearQuadratic-v0"
max_episode_steps = 10
[[agents]]
class = "LQR"
knowledge = "nominal"
[quick]
episodes = 2
"""


def test_reproduce_runs_every_study_and_writes_reports(tmp_path):
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    (experiments / "tiny.toml").write_text(TINY)
    results = tmp_path / "results"
    command = [
        "reproduce",
        "--quick",
        "--experiments",
        str(experiments),
        "--results-dir",
        str(results),
    ]
    outcome = runner.invoke(app, [*command, "--workers", "1", "--quiet"])
    assert outcome.exit_code == 0, outcome.output
    assert (results / "tiny-quick" / "report.md").exists()
    assert "2 trials" in outcome.output


def test_run_and_report_exit_codes(tmp_path):
    study = tmp_path / "tiny.toml"
    study.write_text(TINY.replace('class = "LQR"', 'class = "LQG"'))  # LQG needs measurements
    log = tmp_path / "study.log"
    arguments = ["run", str(study), "--results", str(tmp_path / "r.csv"), "--log-file", str(log)]
    failed = runner.invoke(app, [*arguments, "--quiet"])
    assert failed.exit_code == 1 and "2 failed" in failed.output
    assert log.read_text().count("WARNING failed mbdl/LinearQuadratic-v0|mismatch=") == 2
    study.write_text(TINY.replace("mismatch", "mismatches"))
    bad = runner.invoke(app, ["run", str(study)])
    assert bad.exit_code == 2 and "unknown key(s) ['mismatches']" in bad.output
    missing = runner.invoke(app, ["report", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "no results at" in missing.output
