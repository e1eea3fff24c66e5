import pytest

from mbdl_control.evaluation.store import ResultStore

COLUMNS = ("trial", "status", "value", "error")


def test_rows_round_trip_and_latest_row_wins(tmp_path):
    store = ResultStore(tmp_path / "r.csv", COLUMNS)
    store.append({"trial": "a", "status": "failed", "error": "ValueError: bad\nvalue, with comma"})
    store.append({"trial": "b", "status": "ok", "value": 1.5})
    store.append({"trial": "a", "status": "ok", "value": 2.0})
    frame = ResultStore(tmp_path / "r.csv", COLUMNS).read()
    assert list(frame["trial"]) == ["b", "a"]
    assert store.statuses() == {"a": "ok", "b": "ok"}
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert len(lines) == 4 and "bad value, with comma" in lines[1]


def test_partial_last_row_from_a_crash_is_cut(tmp_path):
    path = tmp_path / "r.csv"
    store = ResultStore(path, COLUMNS)
    store.append({"trial": "a", "status": "ok", "value": 1.0})
    with path.open("a") as handle:
        handle.write("b,ok,3.")  # killed mid-write: no newline
    reopened = ResultStore(path, COLUMNS)
    assert reopened.statuses() == {"a": "ok"}
    reopened.append({"trial": "b", "status": "ok", "value": 3.25})
    assert reopened.read()["value"].tolist() == [1.0, 3.25]


def test_other_files_are_refused(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(ValueError, match="not those of a result store"):
        ResultStore(path, COLUMNS)
    with pytest.raises(ValueError, match="unknown columns"):
        ResultStore(tmp_path / "s.csv", COLUMNS).append({"trial": "a", "wrong": 1})
