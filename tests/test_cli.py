from typer.testing import CliRunner

from mbdl_control.cli import app

runner = CliRunner()


def test_demo_prints_table_and_bound():
    result = runner.invoke(app, ["demo", "--episodes", "3", "--mismatch", "0.2"])
    assert result.exit_code == 0, result.output
    for text in ("oracle (COCP)", "saturated LQR", "MPC (H=10)", "COCP", "performance bound"):
        assert text in result.output


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
