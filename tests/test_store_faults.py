"""Faults: a study killed again and again ends with every row exactly once and as an
uninterrupted run's; a write cut short or torn leaves no partial row; a damaged store stops a
run with a message, not a traceback."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mbdl_control.evaluation.runner import run_study
from mbdl_control.evaluation.store import ResultStore, StoreError
from mbdl_control.evaluation.study import load_study
from mbdl_control.evaluation.trial import TIMING_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
STUDY = """name = "faults"
seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
mismatch = [0.0, 0.2]
[evaluation]
episodes = 2
[[envs]]
id = "mbdl/BoxLQR-v0"
max_episode_steps = 5
[[agents]]
class = "SaturatedLQR"
knowledge = "nominal"
[[agents]]
class = "MPC"
knowledge = "nominal"
kwargs = { horizon = 3 }
"""
TRIALS = 40  # enough that 10 kills land before a run finishes it
KILLS = 10


def _created(path: Path) -> bool:
    """Whether the store's table exists (read without creating the file)."""
    if not path.exists():
        return False
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        query = "SELECT count(*) FROM sqlite_master WHERE name = 'trials'"
        return db.execute(query).fetchone()[0] == 1


def _stored(path: Path) -> int:
    """Rows in the store as another process sees them (0 before it exists)."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT count(*) FROM trials").fetchone()[0]
    except sqlite3.OperationalError:  # the table not created yet
        return 0


def _kill_at_a_random_point(command, results: Path, rng: random.Random, early: bool) -> bool:
    """Start ``command`` and SIGKILL it: ``early``, at a random moment of its first seconds
    (imports, opening the store, the first claims and trials), else a moment after its first
    new row (between or inside trials and writes). Whether it was killed (not done first)."""
    before = _stored(results)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    if early:
        time.sleep(rng.uniform(0.1, 2.0))
    else:
        deadline = time.time() + 60
        while process.poll() is None and _stored(results) == before and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.15))
    killed = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    return killed


def _comparable(frame):
    frame = frame.drop(columns=list(TIMING_COLUMNS))
    return frame.sort_values("trial").reset_index(drop=True)


def test_a_study_killed_at_random_points_ends_as_an_uninterrupted_one(tmp_path):
    toml = tmp_path / "faults.toml"
    toml.write_text(STUDY)
    results = tmp_path / "killed.sqlite"
    command = [sys.executable, "-m", "mbdl_control", "run", str(toml), "--quiet"]
    command += ["--results", str(results)]
    rng = random.Random(0)
    kills = attempts = 0
    while kills < KILLS and _stored(results) < TRIALS and attempts < 3 * KILLS:
        kills += _kill_at_a_random_point(command, results, rng, early=attempts % 2 == 0)
        attempts += 1
        if not _created(results):  # killed before it made its store (a slow start)
            continue
        with sqlite3.connect(results) as db:  # after every kill: no row twice, none partial
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows, trials = db.execute(
                "SELECT count(*), count(DISTINCT trial) FROM trials"
            ).fetchone()
            assert rows == trials
    assert kills >= 10, f"only {kills} kills landed before the study was done"
    assert _stored(results) < TRIALS  # the last kill left trials to resume

    summary = run_study(load_study(toml), results, quiet=True)
    assert summary.total == TRIALS and summary.failed_stored == 0 and summary.elsewhere == 0
    assert summary.skipped + summary.ran == TRIALS
    with sqlite3.connect(results) as db:
        assert db.execute("SELECT count(*), count(DISTINCT trial) FROM trials").fetchone() == (
            TRIALS,
            TRIALS,
        )
        assert db.execute("SELECT count(*) FROM claims").fetchone() == (0,)
    killed = ResultStore(results).read()
    assert (killed["status"] == "ok").all()
    run_study(load_study(toml), tmp_path / "whole.sqlite", quiet=True)
    whole = ResultStore(tmp_path / "whole.sqlite").read()
    pd.testing.assert_frame_equal(_comparable(killed), _comparable(whole))


def _run_killed(code: str, path: Path) -> None:
    """Run ``code`` (``store``: a store at ``path``) in a process that then SIGKILLs itself
    before its connection closes, so SQLite gets no chance to tidy up."""
    program = (
        "import os, signal, sys\n"
        "from mbdl_control.evaluation.store import ResultStore\n"
        "store = ResultStore(sys.argv[1], ('trial', 'status', 'value'))\n"
        f"{code}\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    process = subprocess.run([sys.executable, "-c", program, str(path)], cwd=ROOT, check=False)
    assert process.returncode == -signal.SIGKILL


def test_a_write_killed_before_its_commit_leaves_no_row(tmp_path):
    path = tmp_path / "r.sqlite"
    _run_killed(
        "for i in range(3):\n"
        "    store.write({'trial': str(i), 'status': 'ok', 'value': i})\n"
        "with store._transaction() as db:\n"
        "    store._insert(db, [{'trial': '3', 'status': 'ok', 'value': 3}])\n"
        "    os.kill(os.getpid(), signal.SIGKILL)",
        path,
    )
    store = ResultStore(path, ("trial", "status", "value"))
    assert store.read()["value"].tolist() == [0, 1, 2]
    store.write({"trial": "3", "status": "ok", "value": 3})  # the resume writes it
    assert store.read()["value"].tolist() == [0, 1, 2, 3]


def test_a_torn_last_write_loses_only_that_row(tmp_path):
    path = tmp_path / "r.sqlite"
    _run_killed(
        "import sqlite3\n"
        "reader = sqlite3.connect(sys.argv[1])  # open, as a report's: the log stays apart\n"
        "reader.execute('SELECT count(*) FROM trials').fetchone()\n"
        "for i in range(5):\n"
        "    store.write({'trial': str(i), 'status': 'ok', 'value': i})",
        path,
    )
    wal = path.with_name(path.name + "-wal")
    assert wal.stat().st_size > 0  # the rows are in the write-ahead log, not yet in the file
    os.truncate(wal, wal.stat().st_size - 100)  # the last write torn: cut in its last frame
    store = ResultStore(path, ("trial", "status", "value"))
    assert store.read()["value"].tolist() == [0, 1, 2, 3]


def _damaged_store(tmp_path) -> Path:
    toml = tmp_path / "faults.toml"
    toml.write_text(STUDY.replace("seeds = [0, 1, 2, 3, 4]", "seeds = [0]"))
    results = tmp_path / "r.sqlite"
    run_study(load_study(toml), results, quiet=True)
    with sqlite3.connect(results) as db:
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'trials'").fetchone()
        size = db.execute("PRAGMA page_size").fetchone()[0]
    with results.open("r+b") as handle:  # garble the table's root page
        handle.seek((root - 1) * size)
        handle.write(random.Random(1).randbytes(size))
    return results


def test_a_damaged_store_stops_a_run_with_a_message_not_a_traceback(tmp_path):
    results = _damaged_store(tmp_path)
    with pytest.raises(StoreError, match="is damaged"):
        ResultStore(results)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(random.Random(2).randbytes(10_000))
    command = [sys.executable, "-m", "mbdl_control", "run", str(tmp_path / "faults.toml")]
    for store, says in ((results, "is damaged"), (garbage, "is not a result store")):
        outcome = subprocess.run(
            [*command, "--results", str(store), "--quiet"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert outcome.returncode == 2, outcome.stderr[-2000:]
        assert f"{store} {says}" in " ".join(outcome.stdout.split())
        assert "Traceback" not in outcome.stdout + outcome.stderr
