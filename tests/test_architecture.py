"""The layers of ARCHITECTURE.md hold, and importing the package stays light."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from mbdl_control.envs import ENV_SPECS

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "cvxpylayers", "stable_baselines3")


def test_import_contracts_are_kept():
    """The import-linter contracts of pyproject.toml: layers, and no family imports another."""
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert command is not None, "import-linter is a dev dependency: pip install -e '.[dev]'"
    result = subprocess.run([command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_import_and_make_load_no_learner():
    """``import mbdl_control`` and ``gym.make`` + a step of every env load no torch,
    cvxpylayers or stable-baselines3, and no agent (envs import theirs only for the oracle)."""
    code = f"""
import json, sys
import gymnasium as gym
import mbdl_control
for env_id in {sorted(ENV_SPECS)!r}:
    env = gym.make(env_id)
    env.reset(seed=0)
    env.step(env.action_space.sample())
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r}
                        or m.startswith("mbdl_control.agents."))))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
