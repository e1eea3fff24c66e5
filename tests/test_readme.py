"""The README stays true: its test command is what CI runs, and its quick start runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _bash_blocks():
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_two_setup_commands_and_ci_runs_the_test_one():
    blocks = _bash_blocks()
    commands = [
        line for block in blocks[:2] for line in block.splitlines() if not line.startswith("#")
    ]
    assert len(commands) == 2
    main_job, tests = commands
    assert main_job.endswith("mbdl-control reproduce --quick")
    assert tests.endswith("python -m pytest")
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci_lines[-1] == tests


def test_quick_start_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = re.search(r"```python\n(.*?)```", README, flags=re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README quick start", "exec"), namespace)
    assert namespace["summary"].failed == 0 and namespace["summary"].ran == 6
    assert "CautiousLQR" in namespace["report"].markdown.read_text()
    assert namespace["model"] != namespace["env"].unwrapped.true_model
    result = namespace["result"]
    assert result.bound < result.oracle_cost < result.mean_cost
    assert namespace["CautiousLQR"](namespace["model"]).spectrum.n_parameters == 0


def test_other_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)[1:]
    assert blocks
    for index, code in enumerate(blocks):
        exec(compile(code, f"README example {index + 1}", "exec"), {})
