"""The result store: an append-only CSV file, one row per trial, that a crash cannot corrupt.

Why CSV: a row is one line, so appending a trial is one ``write`` of one line on a file opened
in append mode, followed by ``fsync``; pandas reads it with no extra dependency; people read
and diff it. (Parquet cannot be appended to without rewriting the file or keeping a part-file
per trial.) Nested values (metrics, versions) are JSON strings in their column, and text is
kept to one line.

Crash safety: a process killed mid-write can leave at most a last line without its newline.
Opening the store cuts such a tail off, so a partial row is never read; the trial it belonged
to simply runs again on resume. Rows are never rewritten: a rerun appends, and the latest row
of a trial is the one that counts.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from mbdl_control.evaluation.trial import COLUMNS


class ResultStore:
    """Rows of one study in ``path`` (created with a header when missing)."""

    def __init__(self, path: str | Path, columns: Iterable[str] = COLUMNS) -> None:
        self.path = Path(path)
        self.columns = tuple(columns)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._write(self._line(self.columns))
        self._cut_partial_tail()
        header = self.path.open(newline="").readline().rstrip("\r\n").split(",")
        if tuple(header) != self.columns:
            raise ValueError(
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

    def _write(self, line: str) -> None:
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line.encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def append(self, row: dict[str, Any]) -> None:
        """Append one trial's row in a single write."""
        unknown = set(row) - set(self.columns)
        if unknown:
            raise ValueError(f"row has unknown columns {sorted(unknown)}")
        self._write(self._line(row.get(column) for column in self.columns))

    def read(self) -> pd.DataFrame:
        """The latest row of every trial, in the file order of those latest rows."""
        frame = pd.read_csv(self.path, keep_default_na=False, na_values=[""])
        return frame.drop_duplicates("trial", keep="last").reset_index(drop=True)

    def statuses(self) -> dict[str, str]:
        """``trial id → status`` of the latest row of each trial."""
        frame = self.read()
        return dict(zip(frame["trial"], frame["status"], strict=True))
