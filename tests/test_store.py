"""The result store: one row per trial in SQLite, claims shared between runs, the old CSV
format kept, exports."""

import math
import socket
import sqlite3
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

from mbdl_control.evaluation.runner import run_study
from mbdl_control.evaluation.store import (
    CsvStore,
    ResultStore,
    StoreError,
    export_store,
)
from mbdl_control.evaluation.study import study_from_dict
from mbdl_control.evaluation.trial import TIMING_COLUMNS

COLUMNS = ("trial", "status", "value", "error")


def _table(path):
    """Every row of the store's table, superseded ones included (there should be none)."""
    with sqlite3.connect(path) as db:
        return db.execute("SELECT trial, status FROM trials ORDER BY seq").fetchall()


def test_a_rerun_replaces_the_row_and_moves_it_last(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite", COLUMNS)
    store.write({"trial": "a", "status": "failed", "error": "ValueError: bad\nvalue, with comma"})
    store.write({"trial": "b", "status": "ok", "value": np.float64(1.5)})
    assert ResultStore(tmp_path / "r.sqlite", COLUMNS).read()["error"][0] == (
        "ValueError: bad\nvalue, with comma"  # text is kept as it was
    )
    store.write({"trial": "a", "status": "ok", "value": np.int64(2)})
    frame = ResultStore(tmp_path / "r.sqlite", COLUMNS).read()
    assert list(frame["trial"]) == ["b", "a"]  # in the order of the last writes
    assert frame["value"].tolist() == [1.5, 2]
    assert store.statuses() == {"a": "ok", "b": "ok"}
    assert _table(tmp_path / "r.sqlite") == [("b", "ok"), ("a", "ok")]


def test_trial_rows_keep_their_types(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.write({"trial": "a", "mismatch": 0, "seed": np.int64(3), "mean_cost": math.nan})
    row = store.read().iloc[0]
    assert row["mismatch"] == 0.0 and row["seed"] == 3 and math.isnan(row["mean_cost"])
    assert store.read()["n_parameters"].dtype.kind == "f"  # all NULL: NaN, as from CSV


def test_paths_that_are_not_stores_are_refused_by_name(tmp_path):
    text = tmp_path / "notes.sqlite"
    text.write_text("not a store\n" * 100)
    with pytest.raises(StoreError, match=f"{text} is not a result store"):
        ResultStore(text)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="has no `trials` table"):
        ResultStore(other)
    ResultStore(tmp_path / "r.sqlite", COLUMNS)
    with pytest.raises(StoreError, match="not those of a result store"):
        ResultStore(tmp_path / "r.sqlite")
    with pytest.raises(ValueError, match="unknown columns"):
        ResultStore(tmp_path / "r.sqlite", COLUMNS).write({"trial": "a", "wrong": 1})


def test_a_claim_is_one_runs_until_it_writes_the_row(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite", COLUMNS)
    with store.session() as first, store.session() as second:
        assert first.claim("a") and not second.claim("a")
        assert first.claim("a")  # its own claim
        first.write({"trial": "a", "status": "ok"})
        assert not second.claim("a")  # written since the second run began: not again
        assert second.claim("b") and not first.claim("b")
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        assert db.execute("SELECT count(*) FROM claims").fetchone() == (0,)  # all released


def _leave_claim(path, trial, owner, age):
    with sqlite3.connect(path) as db:
        then = time.time() - age
        db.execute("INSERT INTO claims VALUES (?, ?, ?, ?)", (trial, owner, then, then))


def test_claims_of_dead_or_silent_runs_are_taken_over(tmp_path):
    path = tmp_path / "r.sqlite"
    store = ResultStore(path, COLUMNS)
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    _leave_claim(path, "dead here", f"{host}:{dead.pid}:0", age=0)
    _leave_claim(path, "silent", "elsewhere:1:0", age=120)
    _leave_claim(path, "alive elsewhere", "elsewhere:1:0", age=10)
    with store.session(timeout=60) as session:
        assert session.claim("dead here")  # its process is gone
        assert session.claim("silent")  # not refreshed for longer than the timeout
        assert not session.claim("alive elsewhere")


def test_a_session_refreshes_its_claims(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite", COLUMNS)
    with store.session(timeout=0.5) as holder:
        assert holder.claim("a")
        time.sleep(1.0)  # twice the timeout, five heartbeats
        with store.session(timeout=0.5) as other:
            assert not other.claim("a")


def test_csv_store_cuts_a_partial_last_row_and_appends(tmp_path):
    path = tmp_path / "r.csv"
    store = ResultStore(path, COLUMNS)
    assert isinstance(store, CsvStore)
    store.write({"trial": "a", "status": "ok", "value": 1.0})
    with path.open("a") as handle:
        handle.write("b,ok,3.")  # killed mid-write: no newline
    reopened = ResultStore(path, COLUMNS)
    assert reopened.statuses() == {"a": "ok"}
    reopened.write({"trial": "a", "status": "failed", "error": "bad\nvalue, with comma"})
    reopened.write({"trial": "b", "status": "ok", "value": 3.25})
    assert reopened.read()["trial"].tolist() == ["a", "b"]
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and "bad value, with comma" in lines[2]


def test_csv_store_takes_one_run_at_a_time_and_refuses_other_files(tmp_path):
    store = ResultStore(tmp_path / "r.csv", COLUMNS)
    with store.session() as session:
        assert session.claim("a")
        with pytest.raises(StoreError, match=r"export .*r\.csv --format sqlite"):
            with ResultStore(tmp_path / "r.csv", COLUMNS).session():
                pass
    path = tmp_path / "x.csv"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(StoreError, match="not those of a result store"):
        ResultStore(path, COLUMNS)


def test_export_as_csv_and_as_a_new_store(tmp_path):
    old = ResultStore(tmp_path / "old.csv", COLUMNS)
    old.write({"trial": "a", "status": "failed", "error": "bad"})
    old.write({"trial": "b", "status": "ok", "value": 2.5})
    old.write({"trial": "a", "status": "ok", "value": 1.0})
    assert export_store(tmp_path / "old.csv", tmp_path / "new.sqlite", "sqlite", COLUMNS) == 2
    new = ResultStore(tmp_path / "new.sqlite", COLUMNS)
    plain = [frame.astype(object).where(frame.notna(), None) for frame in (new.read(), old.read())]
    pd.testing.assert_frame_equal(*plain)
    with pytest.raises(StoreError, match="exists; give another --out"):
        export_store(tmp_path / "old.csv", tmp_path / "new.sqlite", "sqlite", COLUMNS)
    export_store(tmp_path / "new.sqlite", tmp_path / "shared.csv", "csv", COLUMNS)
    shared = pd.read_csv(tmp_path / "shared.csv")
    assert shared["trial"].tolist() == ["b", "a"] and list(shared.columns) == list(COLUMNS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.sqlite", "old.csv", "shared.csv"]


def test_export_as_parquet_says_what_it_needs(tmp_path):
    ResultStore(tmp_path / "r.sqlite", COLUMNS).write({"trial": "a", "status": "ok"})
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="Parquet needs pyarrow"):
            export_store(tmp_path / "r.sqlite", tmp_path / "r.parquet", "parquet", COLUMNS)
        assert not (tmp_path / "r.parquet").exists()
    else:
        export_store(tmp_path / "r.sqlite", tmp_path / "r.parquet", "parquet", COLUMNS)
        assert pd.read_parquet(tmp_path / "r.parquet")["trial"].tolist() == ["a"]


def test_a_study_reads_back_the_same_from_sqlite_and_from_csv(tmp_path):
    study = study_from_dict(
        {
            "name": "same",
            "mismatch": [0.0, 0.2],
            "evaluation": {"episodes": 2},
            "envs": [{"id": "mbdl/BoxLQR-v0", "max_episode_steps": 5}],
            "agents": [
                {"class": "SaturatedLQR", "knowledge": "nominal"},
                {"class": "LQG", "knowledge": "nominal"},  # fails: a row with NULLs
            ],
        }
    )
    frames = []
    for name in ("r.sqlite", "r.csv"):
        run_study(study, tmp_path / name, quiet=True)
        frame = ResultStore(tmp_path / name).read().drop(columns=list(TIMING_COLUMNS))
        frames.append(frame.astype(object).where(frame.notna() & (frame != ""), None))
    pd.testing.assert_frame_equal(*frames)
    assert frames[0]["status"].tolist() == ["ok", "ok", "failed", "failed"]
