"""Run a study into its result store: resume where it stopped, show progress, log to a file.

Trials whose latest row is ``ok`` are skipped; ``failed`` ones are skipped too unless
``rerun_failed``. Every finished trial is appended at once, so a study killed at any moment
loses at most the trials that were running. A side file ``<results>.meta.json`` records each
run (executor, workers, wall time) for the report.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mbdl_control.evaluation.executors import LocalExecutor, RayExecutor
from mbdl_control.evaluation.store import ResultStore
from mbdl_control.evaluation.study import Study

LOGGER = logging.getLogger("mbdl_control.study")
LOGGER.addHandler(logging.NullHandler())
LOGGER.propagate = False


@dataclass(frozen=True)
class StudySummary:
    """What a run did: trials in the study, already done before, run now, failed now."""

    total: int
    skipped: int
    ran: int
    failed: int
    results: Path


def meta_path(results: Path) -> Path:
    return results.with_name(results.name + ".meta.json")


def _record_run(results: Path, study: Study, run: dict[str, Any]) -> None:
    path = meta_path(results)
    meta = json.loads(path.read_text()) if path.exists() else {"runs": []}
    meta["study"] = json.loads(study.describe())
    meta["description"] = study.description
    meta["runs"].append(run)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(meta, indent=2))
    os.replace(temporary, path)  # atomic: the meta file is whole or absent


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        disable=quiet,
    )


def run_study(
    study: Study,
    results: str | Path,
    executor: LocalExecutor | RayExecutor | None = None,
    rerun_failed: bool = False,
    quiet: bool = False,
    log_file: str | Path | None = None,
) -> StudySummary:
    """Run every trial of ``study`` that ``results`` does not hold yet."""
    results = Path(results)
    executor = executor or LocalExecutor()
    store = ResultStore(results)
    statuses = store.statuses()
    keys = study.trials()
    redo = {"failed"} if rerun_failed else set()
    todo = [key for key in keys if key.id not in statuses or statuses[key.id] in redo]
    handler = None
    if log_file is not None:
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        LOGGER.addHandler(handler)
        LOGGER.setLevel(logging.INFO)
    start, failed = time.time(), 0
    LOGGER.info("study %s: %d trials, %d to run", study.name, len(keys), len(todo))
    try:
        with _progress(quiet) as progress:
            task = progress.add_task(study.name, total=len(todo), failed=0)
            for row in executor.run(study, todo):
                store.append(row)
                failed += row["status"] != "ok"
                progress.update(task, advance=1, failed=failed)
                level = logging.INFO if row["status"] == "ok" else logging.WARNING
                LOGGER.log(level, "%s %s %s", row["status"], row["trial"], row["error"] or "")
    finally:
        if handler is not None:
            LOGGER.removeHandler(handler)
            handler.close()
    _record_run(
        results,
        study,
        {
            "executor": type(executor).__name__,
            "workers": getattr(executor, "workers", None),
            "started": start,
            "wall_seconds": time.time() - start,
            "trials_run": len(todo),
            "failed": failed,
        },
    )
    return StudySummary(len(keys), len(keys) - len(todo), len(todo), failed, results)
