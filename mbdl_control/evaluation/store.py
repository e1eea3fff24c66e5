"""The result store: one row per trial in a SQLite file that a crash, a kill or a second run
cannot corrupt, and the claims by which several runs of one study share its trials.

Why SQLite (the standard library's ``sqlite3``): a row is written in a transaction, so it is
in the store whole or not at all, whatever stops the process; several processes can read and
write one file safely; and it needs no server and no extra dependency.

- **One row per trial.** ``trial`` is unique: writing a trial's row replaces its previous row
  (a rerun of a failed trial) in the same transaction, so a trial never has two rows.
  :meth:`ResultStore.read` returns the rows in the order they were last written (a rerun moves
  its trial to the end), as the append-only CSV store did.
- **WAL journal, ``synchronous=FULL``.** Every commit is synced to disk before the run counts
  the trial done, so a kill, or even a power cut, loses at most the trials still running. A
  write cut short is a transaction that never committed, and SQLite rolls it back when the
  store is next opened. ``NORMAL`` with WAL would be as safe against a killed process but
  could lose the last commits on a power cut; one commit per trial (seconds to hours of
  compute each) makes the sync's milliseconds free. WAL lets a report or an export read while
  a study writes. SQLite's locks need a local disk (not NFS): share a store between runs on
  one machine, and spread one run's trials over machines with Ray.
- **Claims.** A run claims a trial just before running it (:meth:`ResultStore.session`). A
  claim fails while another run holds a live claim on the trial, or when the trial's row was
  written since this run read the store. A claim is live while its run refreshes it (a
  heartbeat every ``timeout / 5``): a run that died leaves claims that another takes over at
  once when the dead run was on this machine (its process is gone), else once the claim is
  ``timeout`` old (:data:`CLAIM_TIMEOUT`). Writing a trial's row releases its claim in the same
  transaction; ending the session releases the rest.

A results path ending in ``.csv`` is the previous format (:class:`CsvStore`): an append-only
CSV, kept so that old stores and scripts go on working. It takes one run at a time; convert it
with ``mbdl-control export OLD.csv --format sqlite`` to share it between runs.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from mbdl_control.evaluation.trial import COLUMNS

LOGGER = logging.getLogger(__name__)

#: seconds after which a claim not refreshed by its run can be taken over by another run
CLAIM_TIMEOUT = 600.0
#: seconds a write waits for another process's transaction before giving up
BUSY_TIMEOUT = 60.0
#: the first bytes of every SQLite database file
SQLITE_MAGIC = b"SQLite format 3\x00"
REAL_COLUMNS = (
    *("mismatch", "mean_cost", "std_error", "oracle_cost", "gap_to_oracle", "gap_to_oracle_se"),
    *("bound", "gap_to_bound", "fit_seconds", "eval_seconds"),
)
INTEGER_COLUMNS = (
    *("n_parameters", "budget_steps", "budget_samples", "seed", "eval_seed", "episodes"),
    *("steps_used", "samples_used", "simulated_steps"),
)
#: SQL types of the trial columns: numbers, else text (nested values are JSON text); a column
#: not listed keeps the type of its values
TYPES = {
    **dict.fromkeys(COLUMNS, "TEXT"),
    **dict.fromkeys(REAL_COLUMNS, "REAL"),
    **dict.fromkeys(INTEGER_COLUMNS, "INTEGER"),
}
EXPORT_FORMATS = ("csv", "parquet", "sqlite")


class StoreError(ValueError):
    """A results path that is not a result store, or a damaged or locked one."""


def _cell(value: Any) -> Any:
    """``value`` as SQLite stores it: numbers and text as they are (numpy scalars as Python
    ones, which ``sqlite3`` would otherwise store as bytes), NaN as NULL, anything else as
    text."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    return str(value)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_csv(path: Path) -> bool:
    """Whether ``path`` holds (or, new, is to hold) a CSV store: by its first bytes when it
    has any, else by its suffix."""
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC and path.suffix == ".csv"
    return path.suffix == ".csv"


def _owner() -> str:
    """``host:pid:nonce``: names one run, and lets another run on the host see it died."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _gone(owner: str) -> bool:
    """Whether ``owner`` was a process of this host that no longer exists (POSIX only; a run
    on another host is known dead only by its claim's age)."""
    host, pid, _ = owner.rsplit(":", 2)
    if os.name != "posix" or host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class ResultStore:
    """The rows of one study in the SQLite file ``path`` (created when missing); a ``.csv``
    path gives a :class:`CsvStore`."""

    def __new__(cls, path: str | Path, columns: Iterable[str] = COLUMNS) -> ResultStore:
        if cls is ResultStore and _is_csv(Path(path)):
            cls = CsvStore
        return super().__new__(cls)

    def __init__(self, path: str | Path, columns: Iterable[str] = COLUMNS) -> None:
        self.path = Path(path)
        self.columns = tuple(columns)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._errors_explained():
            self._open()

    @contextlib.contextmanager
    def _errors_explained(self) -> Iterator[None]:
        """SQLite's errors as :class:`StoreError` saying what the file is and what to do."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            raise self._explained(error) from error

    def _explained(self, error: sqlite3.Error) -> StoreError:
        text = str(error)
        if "locked" in text:
            return StoreError(
                f"{self.path} stayed locked by another process for {BUSY_TIMEOUT:.0f} s "
                f"({error}); try again when the process writing it is done"
            )
        if "unable to open" in text or "readonly" in text:
            return StoreError(
                f"{self.path} cannot be opened for writing ({error}); check the path and "
                "its permissions"
            )
        if "not a database" in text:
            return StoreError(
                f"{self.path} is not a result store (neither a SQLite database nor a .csv "
                "store); give another results path"
            )
        return StoreError(
            f"{self.path} is damaged ({error}); move it aside and run again (its trials run "
            f"anew), after saving what it still holds with: mbdl-control export {self.path}"
        )

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection per operation: any thread may use the store, and no open
        connection is inherited by the worker processes a pool forks."""
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous = FULL")
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taking the write lock at once (``IMMEDIATE``) so that two
        processes never both read, then both fail to upgrade; rolled back on any exception,
        Ctrl-C included."""
        with self._errors_explained(), self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _open(self) -> None:
        with self._connection() as db:
            db.execute("PRAGMA journal_mode = WAL")  # kept in the file once set
        with self._transaction() as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            if not tables:
                self._create(db)
            elif "trials" not in tables:
                raise StoreError(
                    f"{self.path} is a SQLite database but not a result store (it has no "
                    "`trials` table); give another results path"
                )
            found = [row[1] for row in db.execute("PRAGMA table_info(trials)")][1:]
            if tuple(found) != self.columns:
                raise StoreError(
                    f"{self.path} has columns {found}, not those of a result store "
                    f"({list(self.columns)}); give another results path"
                )
        with self._connection() as db:
            check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise self._explained(sqlite3.DatabaseError(check))

    def _create(self, db: sqlite3.Connection) -> None:
        columns = [
            f"{_quoted(name)} {TYPES.get(name, '')}".strip()
            + (" NOT NULL UNIQUE" if name == "trial" else "")
            for name in self.columns
        ]
        db.execute(
            f"CREATE TABLE trials (seq INTEGER PRIMARY KEY AUTOINCREMENT, {', '.join(columns)})"
        )
        db.execute(
            "CREATE TABLE claims (trial TEXT PRIMARY KEY, owner TEXT NOT NULL, "
            "claimed_at REAL NOT NULL, heartbeat_at REAL NOT NULL)"
        )

    def _values(self, row: dict[str, Any]) -> list[Any]:
        unknown = set(row) - set(self.columns)
        if unknown:
            raise ValueError(f"row has unknown columns {sorted(unknown)}")
        return [_cell(row.get(column)) for column in self.columns]

    def _insert(self, db: sqlite3.Connection, rows: Iterable[dict[str, Any]]) -> None:
        names = ", ".join(map(_quoted, self.columns))
        marks = ", ".join("?" * len(self.columns))
        sql = f"INSERT OR REPLACE INTO trials ({names}) VALUES ({marks})"
        db.executemany(sql, [self._values(row) for row in rows])

    def write(self, row: dict[str, Any]) -> None:
        """Store one trial's row, replacing any previous row of that trial."""
        self.write_many([row])

    def write_many(self, rows: Iterable[dict[str, Any]]) -> None:
        """Store rows in one transaction: all of them, or none if it is cut short."""
        with self._transaction() as db:
            self._insert(db, rows)

    def read(self) -> pd.DataFrame:
        """The row of every trial, in the order the rows were last written."""
        names = ", ".join(map(_quoted, self.columns))
        with self._errors_explained(), self._connection() as db:
            records = db.execute(f"SELECT {names} FROM trials ORDER BY seq").fetchall()
        frame = pd.DataFrame.from_records(records, columns=list(self.columns))
        for name in frame.columns:
            if TYPES.get(name) in ("REAL", "INTEGER"):  # NULL as NaN, as read from CSV
                frame[name] = pd.to_numeric(frame[name])
        return frame

    def statuses(self) -> dict[str, str]:
        """``trial id → status`` of every stored trial."""
        with self._errors_explained(), self._connection() as db:
            return dict(db.execute("SELECT trial, status FROM trials").fetchall())

    def last_write(self) -> int:
        """The sequence number of the latest write (0 for an empty store)."""
        with self._errors_explained(), self._connection() as db:
            return db.execute("SELECT coalesce(max(seq), 0) FROM trials").fetchone()[0]

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's write lock, so that runs ending together update files next to it
        (the run log) one after the other."""
        with self._transaction():
            yield

    @contextlib.contextmanager
    def session(self, timeout: float = CLAIM_TIMEOUT) -> Iterator[Session]:
        """One run's :class:`Session`, its claims refreshed in a background thread, every
        claim left released at the end."""
        session = Session(self, timeout)
        stop = threading.Event()
        beat = threading.Thread(target=session.beat, args=(stop,), daemon=True)
        beat.start()
        try:
            yield session
        finally:
            stop.set()
            beat.join()
            session.release_all()


class Session:
    """One run's claims on a store's trials, and its writes (module docstring).

    A claim also fails for a trial whose row was written since the session began (by another
    run: this one claims a trial once), so a trial another run has finished is not run again.
    """

    def __init__(self, store: ResultStore, timeout: float) -> None:
        self.store = store
        self.timeout = timeout
        self.owner = _owner()
        self.since = store.last_write()

    def _live(self, owner: str, heartbeat_at: float, now: float) -> bool:
        return now - heartbeat_at < self.timeout and not _gone(owner)

    def claim(self, trial: str) -> bool:
        """Claim ``trial`` for this run: ``False`` if another run holds it or has written it."""
        now = time.time()
        with self.store._transaction() as db:
            written = db.execute("SELECT seq FROM trials WHERE trial = ?", (trial,)).fetchone()
            if written is not None and written[0] > self.since:
                return False
            held = db.execute(
                "SELECT owner, heartbeat_at FROM claims WHERE trial = ?", (trial,)
            ).fetchone()
            if held is not None and held[0] != self.owner and self._live(*held, now):
                return False
            db.execute(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?)", (trial, self.owner, now, now)
            )
        return True

    def write(self, row: dict[str, Any]) -> None:
        """Store a trial's row and release its claim, in one transaction."""
        with self.store._transaction() as db:
            self.store._insert(db, [row])
            db.execute(
                "DELETE FROM claims WHERE trial = ? AND owner = ?", (row["trial"], self.owner)
            )

    def refresh(self) -> None:
        """Mark this run's claims live now."""
        with self.store._transaction() as db:
            db.execute(
                "UPDATE claims SET heartbeat_at = ? WHERE owner = ?", (time.time(), self.owner)
            )

    def beat(self, stop: threading.Event) -> None:
        """Refresh the claims every ``timeout / 5`` until ``stop``; a refresh that fails (the
        store locked for long) is retried at the next beat."""
        while not stop.wait(self.timeout / 5):
            try:
                self.refresh()
            except StoreError as error:
                LOGGER.warning("claims of %s not refreshed: %s", self.owner, error)

    def release_all(self) -> None:
        with self.store._transaction() as db:
            db.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))


class CsvStore(ResultStore):
    """The previous store, for ``.csv`` paths: an append-only CSV, one line per row.

    A row is one ``write`` of one line on the file opened in append mode, then ``fsync``; a
    rerun appends, and the latest row of a trial counts. A process killed mid-write leaves at
    most a last line without its newline, which opening the store cuts off. Text is kept to
    one line. A run holds an exclusive lock on the file, so a second run is refused rather
    than running the same trials again.
    """

    def __init__(self, path: str | Path, columns: Iterable[str] = COLUMNS) -> None:
        self.path = Path(path)
        self.columns = tuple(columns)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._append(self._line(self.columns))
        self._cut_partial_tail()
        header = self.path.open(newline="").readline().rstrip("\r\n").split(",")
        if tuple(header) != self.columns:
            raise StoreError(
                f"{self.path} has columns {header}, not those of a result store "
                f"({list(self.columns)}); give another results path"
            )

    def _cut_partial_tail(self) -> None:
        with self.path.open("rb+") as handle:
            data = handle.read()
            if data.endswith(b"\n"):
                return
            handle.truncate(data.rfind(b"\n") + 1)

    @staticmethod
    def _line(values: Iterable[Any]) -> str:
        buffer = io.StringIO()
        cells = ["" if v is None else " ".join(str(v).split()) for v in values]
        csv.writer(buffer, lineterminator="\n").writerow(cells)
        return buffer.getvalue()

    def _append(self, text: str) -> None:
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, text.encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def write_many(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows, each in a single write."""
        for row in rows:
            self._append(self._line(self._values(row)))

    def read(self) -> pd.DataFrame:
        """The latest row of every trial, in the file order of those latest rows."""
        try:
            frame = pd.read_csv(self.path, keep_default_na=False, na_values=[""])
        except pd.errors.ParserError as error:
            raise StoreError(
                f"{self.path} is damaged ({error}); delete or fix its bad lines, or move it "
                "aside and run again"
            ) from error
        return frame.drop_duplicates("trial", keep="last").reset_index(drop=True)

    def statuses(self) -> dict[str, str]:
        frame = self.read()
        return dict(zip(frame["trial"], frame["status"], strict=True))

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        yield  # a run's session already holds the file's lock

    @contextlib.contextmanager
    def session(self, timeout: float = CLAIM_TIMEOUT) -> Iterator[CsvSession]:
        """The only run on this file, until it ends (another is refused)."""
        with self.path.open("rb") as handle:
            if os.name == "posix":
                import fcntl

                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError as error:
                    raise StoreError(
                        f"another run is writing {self.path}; a .csv store takes one run at a "
                        "time. To share a study between runs, convert it: mbdl-control export "
                        f"{self.path} --format sqlite"
                    ) from error
            yield CsvSession(self)


class CsvSession:
    """A run on a :class:`CsvStore`: it is the only one, so every claim succeeds."""

    def __init__(self, store: CsvStore) -> None:
        self.store = store

    def claim(self, trial: str) -> bool:
        return True

    def write(self, row: dict[str, Any]) -> None:
        self.store.write(row)


def export_store(
    results: str | Path, out: str | Path, format: str, columns: Iterable[str] = COLUMNS
) -> int:
    """Write the rows of the store ``results`` to ``out`` as ``csv``, ``parquet`` (with
    pyarrow or fastparquet installed) or ``sqlite`` (a store of its own; ``out`` must not
    exist); returns the number of rows. The file is written aside and moved into place, so
    an export cut short leaves nothing at ``out``."""
    results, out = Path(results), Path(out)
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {EXPORT_FORMATS}, got {format!r}")
    if out.resolve() == results.resolve() or (format == "sqlite" and out.exists()):
        raise StoreError(f"{out} exists; give another --out path")
    if not results.exists():
        raise FileNotFoundError(f"no results at {results}")
    frame = ResultStore(results, columns).read()
    aside = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        _write_as(frame, aside, format)
        if format == "sqlite":
            os.link(aside, out)  # fails if a store appeared at ``out`` meanwhile
        else:
            os.replace(aside, out)
    finally:
        aside.unlink(missing_ok=True)
    return len(frame)


def _write_as(frame: pd.DataFrame, path: Path, format: str) -> None:
    if format == "csv":
        frame.to_csv(path, index=False)
    elif format == "sqlite":
        rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
        ResultStore(path, frame.columns).write_many(rows)
    else:
        try:
            frame.to_parquet(path, index=False)
        except ImportError as error:
            raise RuntimeError(
                "Parquet needs pyarrow, which is not installed: pip install pyarrow, or "
                "export --format csv"
            ) from error
