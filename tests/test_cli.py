import importlib.util
import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from mbdl_control.agents import LearnedCOCP
from mbdl_control.cli import app
from mbdl_control.evaluation.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_demo_prints_table_and_bound():
    result = runner.invoke(app, ["demo", "--episodes", "3", "--mismatch", "0.2"])
    assert result.exit_code == 0, result.output
    for text in ("oracle", "(LearnedCOCP)", "saturated LQR", "MPC (H=10)", "COCP"):
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
    assert len(ResultStore(results / "tiny-quick.sqlite").read()) == 2
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


def test_a_rerun_counts_the_failed_trials_still_in_the_store(tmp_path):
    study = tmp_path / "tiny.toml"
    study.write_text(TINY.replace('class = "LQR"', 'class = "LQG"'))
    arguments = ["run", str(study), "--results", str(tmp_path / "r.sqlite"), "--quiet"]
    first = runner.invoke(app, arguments)
    assert first.exit_code == 1 and "2 run now, 2 failed; 2 failed in the store" in first.output
    again = runner.invoke(app, arguments)
    assert again.exit_code == 1, again.output
    assert "0 run now, 0 failed; 2 failed in the store (--rerun-failed to retry them)" in (
        again.output
    )


#: trials of the interrupted study: enough that a loaded machine cannot finish them all
#: between the first stored row and the interrupt (0.3 s each, 2 workers)
TRIALS = 16


def test_ctrl_c_says_what_is_stored_and_how_to_resume(tmp_path):
    study = tmp_path / "slow.toml"
    study.write_text(
        'name = "slow"\nseeds = [' + ", ".join(map(str, range(TRIALS))) + "]\n"
        "[evaluation]\nepisodes = 2\n"
        '[[envs]]\nid = "mbdl/LinearQuadratic-v0"\nmax_episode_steps = 5\n'
        '[[agents]]\nclass = "tests.test_scale:SleepingLQR"\nknowledge = "nominal"\n'
        f'kwargs = {{ log = "{tmp_path / "fits.log"}" }}\n'
    )
    results = tmp_path / "r.sqlite"
    command = [sys.executable, "-m", "mbdl_control", "run", str(study)]
    command += ["--results", str(results), "--quiet"]
    # Ctrl-C as a terminal delivers it: SIGINT at its default disposition in the child (a
    # disposition ignored in the test process would be inherited, and Python then installs
    # no KeyboardInterrupt handler)
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    inherited = signal.getsignal(signal.SIGINT)
    deadline = time.time() + 120
    while time.time() < deadline and not (results.exists() and ResultStore(results).statuses()):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    output = " ".join(process.communicate(timeout=60)[0].split())
    assert process.returncode == 130, f"{output} (SIGINT in the test process: {inherited})"
    stored = len(ResultStore(results).statuses())
    assert 1 <= stored < TRIALS
    assert f"slow: interrupted; {stored} of {TRIALS} trials are stored in {results}." in output
    resume = output.partition("Resume with: ")[2]
    assert shlex.split(resume) == ["mbdl-control", *command[3:]]
    resumed = runner.invoke(app, shlex.split(resume)[1:])
    assert resumed.exit_code == 0 and f"{stored} already done" in resumed.output


def test_export_writes_csv_and_converts_an_old_csv_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(TINY)
    old = runner.invoke(app, ["run", "tiny.toml", "--results", "results/tiny.csv", "--quiet"])
    assert old.exit_code == 0, old.output
    assert (tmp_path / "results" / "tiny.csv").read_text().count("\n") == 3
    # the default store is now results/tiny.sqlite: the old CSV is imported, not run again
    default = runner.invoke(app, ["run", "tiny.toml", "--quiet"])
    assert default.exit_code == 0, default.output
    assert "imported the 2 rows of the old CSV store results/tiny.csv" in default.output
    assert "2 already done, 0 run now" in default.output
    meta = json.loads((tmp_path / "results" / "tiny.sqlite.meta.json").read_text())
    assert len(meta["runs"]) == 2  # the CSV store's run, and this one

    exported = runner.invoke(app, ["export", "results/tiny.sqlite", "--out", "shared.csv"])
    assert exported.exit_code == 0 and "exported 2 rows" in exported.output
    assert len(pd.read_csv(tmp_path / "shared.csv")) == 2
    again = runner.invoke(app, ["export", "results/tiny.csv", "--format", "sqlite"])
    assert again.exit_code == 2 and "tiny.sqlite exists; give another --out" in again.output
    parquet = runner.invoke(app, ["export", "results/tiny.sqlite", "--format", "parquet"])
    if importlib.util.find_spec("pyarrow") is None:
        assert parquet.exit_code == 2 and "Parquet needs pyarrow" in parquet.output
    else:
        assert parquet.exit_code == 0
    missing = runner.invoke(app, ["export", "results/none.sqlite"])
    assert missing.exit_code == 2 and "no results at" in missing.output


def test_demo_of_the_communications_domain():
    outcome = runner.invoke(
        app, ["demo", "--env", "mbdl/ISIChannel-v0", "--mismatch", "0.3", "--episodes", "5"]
    )
    assert outcome.exit_code == 0, outcome.output
    for name in ("oracle", "Viterbi", "BCJR", "linear MMSE", "bound on the expected cost"):
        assert name in outcome.output


def test_demo_of_mimo_detection_evaluates_the_oracle_on_the_true_channel():
    outcome = runner.invoke(
        app, ["demo", "--env", "mbdl/MIMODetection-v0", "--mismatch", "0.3", "--episodes", "20"]
    )
    assert outcome.exit_code == 0, outcome.output
    for name in ("oracle", "zero forcing", "LMMSE", "K-best", "EP", "bound on the"):
        assert name in outcome.output


def test_the_demo_oracle_sees_the_truth_whatever_the_mismatch():
    from mbdl_control.demos.comms import run_demo

    exact, estimated = (run_demo("mbdl/MIMODetection-v0", m, 20, 0) for m in (0.0, 0.5))
    assert exact[0].result.episode_costs.tolist() == estimated[0].result.episode_costs.tolist()
    # the detectors on the estimate do worse with a worse estimate
    assert estimated[2].result.mean_cost > exact[2].result.mean_cost


def test_demo_of_sparse_recovery_shows_the_lasso_solvers():
    outcome = runner.invoke(
        app, ["demo", "--env", "mbdl/SuperResolution-v0", "--mismatch", "0.3", "--episodes", "5"]
    )
    assert outcome.exit_code == 0, outcome.output
    for name in ("oracle", "ISTA", "FISTA", "ADMM", "bound on the expected cost"):
        assert name in outcome.output
