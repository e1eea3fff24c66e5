"""Run a study into its result store: resume where it stopped, show progress, log to a file.

Trials whose row is ``ok`` are skipped; ``failed`` ones are skipped too unless
``rerun_failed``. Every finished trial is written at once, in a transaction, so a study killed
at any moment loses at most the trials that were running. A side file ``<results>.meta.json``
records each run (executor, workers, wall time) for the report.

Several runs can share one study's store (two ``mbdl-control run`` on one machine): a run
claims each trial just before running it, as the executor takes its key, and leaves a trial
that another run holds or has finished meanwhile to that run (``StudySummary.elsewhere``). A
run that died leaves its claims to be taken over (:mod:`mbdl_control.evaluation.store`).

An agent that uses no model, or only its form (``knowledge = "none"`` or ``"structure"``),
meets the same true env and is handed the same thing at every mismatch value, so it runs once
per (env point, budget, seed) and its row is copied to the other mismatch values (a mismatch
changes only the nominal model's numbers, which it never sees), except on an env that shows
its mismatch in the observations (``mismatch_observed``: a channel estimate), where it runs at
each. Rows of trials the study no longer has (an agent's or env's arguments changed: another
configuration hash) are kept in the store and counted in the summary as ``stale``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mbdl_control.evaluation.executors import LocalExecutor, RayExecutor
from mbdl_control.evaluation.store import CLAIM_TIMEOUT, ResultStore
from mbdl_control.evaluation.study import Study, TrialKey
from mbdl_control.evaluation.study_checks import check_study

LOGGER = logging.getLogger("mbdl_control.study")
LOGGER.addHandler(logging.NullHandler())
LOGGER.propagate = False


@dataclass(frozen=True)
class StudySummary:
    """What a run did: trials in the study, already done before, written now (run or copied
    from a sibling trial), failed now, and rows in the results from trials the study no
    longer has (``stale``: its file changed). ``failed_stored``: trials of the study whose
    stored row is ``failed`` at the end, this run's and earlier ones (``--rerun-failed``
    retries them); ``elsewhere``: trials left to another run sharing the store."""

    total: int
    skipped: int
    ran: int
    failed: int
    results: Path
    stale: int = 0
    failed_stored: int = 0
    elsewhere: int = 0


def meta_path(results: Path) -> Path:
    return results.with_name(results.name + ".meta.json")


def _record_run(results: Path, study: Study, run: dict[str, Any]) -> None:
    path = meta_path(results)
    meta = json.loads(path.read_text()) if path.exists() else {"runs": []}
    meta["study"] = json.loads(study.describe())
    meta["description"] = study.description
    meta["runs"].append(run)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(meta, indent=2))
    os.replace(temporary, path)  # atomic: the meta file is whole or absent


#: the knowledge an agent may have that no mismatch changes: no model, or only its form
MISMATCH_FREE = ("none", "structure")


@functools.cache
def _class_observes_mismatch(entry_point: str | Callable[..., Any]) -> bool:
    """Whether the env an entry point makes shows its mismatch in the observations
    (``mismatch_observed``), read off its class (a ``"module:attr"`` string is imported, not
    called): no env is constructed."""
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    return bool(getattr(creator, "mismatch_observed", False))


def observes_mismatch(env_id: str) -> bool:
    """Whether the registered env ``env_id`` shows its mismatch in the observations; cached
    per entry point, so an id registered again with another class is read again."""
    return _class_observes_mismatch(gym.registry[env_id].entry_point)


def _siblings(study: Study, key: TrialKey) -> list[TrialKey]:
    """The trials that must give ``key``'s row: itself, and for an agent that uses no model's
    numbers the same trial at every other mismatch value of that agent, unless the env shows
    its mismatch in the observations (then every agent depends on it)."""
    agent = study.agent(key.agent)
    if agent.knowledge not in MISMATCH_FREE or observes_mismatch(study.env(key.env).id):
        return [key]
    return [replace(key, mismatch=value) for value in agent.mismatch or study.mismatch]


def _copied(row: dict[str, Any], key: TrialKey) -> dict[str, Any]:
    """``row`` as the row of its sibling ``key`` (module docstring)."""
    copy = {name: None if isinstance(v, float) and math.isnan(v) else v for name, v in row.items()}
    copy.update(trial=key.id, mismatch=key.mismatch)
    return copy


def _plan(study: Study, todo: list[TrialKey], store: ResultStore):
    """``(to run, copies, rows ready now)``: of each group of siblings in ``todo``, the first
    runs and the others wait for its row (``copies``: run trial id → siblings), unless an
    ``ok`` row of the group is stored already, which they all copy."""
    stored = store.read()
    ok_rows = {row["trial"]: row for row in stored[stored["status"] == "ok"].to_dict("records")}
    groups: dict[str, list[TrialKey]] = defaultdict(list)
    for key in todo:
        groups[_siblings(study, key)[0].id].append(key)
    to_run, copies, ready = [], {}, []
    for keys in groups.values():
        siblings = _siblings(study, keys[0])
        done = next((ok_rows[sibling.id] for sibling in siblings if sibling.id in ok_rows), None)
        if done is not None:
            ready += [_copied(done, key) for key in keys]
        else:
            to_run.append(keys[0])
            copies[keys[0].id] = keys[1:]
    return _by_fit(study, to_run), copies, ready


def _by_fit(study: Study, keys: list[TrialKey]) -> list[TrialKey]:
    """``keys`` with the trials that share a fit (an agent with a ``fit_env``, at one
    mismatch, budget and seed: the same training env at every point of the env's sweep) run
    one after another, where a worker's last fits are still kept
    (:data:`~mbdl_control.evaluation.trial.FIT_CACHE_SIZE`); the other trials keep their
    order."""
    groups = [
        (key.env, key.agent, key.agent_axes, key.mismatch, key.budget, key.seed)
        if study.agent(key.agent).fit_env
        else index
        for index, key in enumerate(keys)
    ]
    first: dict[Any, int] = {}
    for index, group in enumerate(groups):
        first.setdefault(group, index)
    order = sorted(range(len(keys)), key=lambda index: (first[groups[index]], index))
    return [keys[index] for index in order]


def _claimed(session, keys: list[TrialKey], copies, on_skip) -> Iterator[TrialKey]:
    """The keys of ``keys`` this run claims, each claimed only as the executor takes it; a
    trial another run holds or has written is passed over (``on_skip(trials it stands
    for)``)."""
    for key in keys:
        if session.claim(key.id):
            yield key
        else:
            on_skip(1 + len(copies.get(key.id, ())))


def _rows(study, executor, keys, copies, ready) -> Iterator[dict[str, Any]]:
    yield from ready
    for row in executor.run(study, keys):
        yield row
        for sibling in copies.get(row["trial"], ()):
            yield _copied(row, sibling)


@contextlib.contextmanager
def _logging_to(log_file: str | Path | None) -> Iterator[None]:
    if log_file is None:
        yield
        return
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    try:
        yield
    finally:
        LOGGER.removeHandler(handler)
        handler.close()


def _write_rows(session, study, executor, todo, plan, quiet: bool) -> tuple[int, int]:
    """Run the ``plan`` of ``todo`` and write each row as it comes: ``(rows, failed)``."""
    to_run, copies, ready = plan
    written = failed = 0
    with _progress(quiet) as progress:
        task = progress.add_task(study.name, total=len(todo), failed=0)
        keys = _claimed(session, to_run, copies, lambda n: progress.advance(task, n))
        for row in _rows(study, executor, keys, copies, ready):
            session.write(row)
            written, failed = written + 1, failed + (row["status"] != "ok")
            progress.update(task, advance=1, failed=failed)
            level = logging.INFO if row["status"] == "ok" else logging.WARNING
            LOGGER.log(level, "%s %s %s", row["status"], row["trial"], row["error"] or "")
    return written, failed


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
    claim_timeout: float = CLAIM_TIMEOUT,
) -> StudySummary:
    """Run every trial of ``study`` that ``results`` does not hold yet (and that no other run
    sharing ``results`` holds); ``claim_timeout``: see :mod:`mbdl_control.evaluation.store`."""
    check_study(study)  # every problem of the study at once, before any trial runs
    results = Path(results)
    executor = executor or LocalExecutor()
    store = ResultStore(results)
    keys = study.trials()
    ids = {key.id for key in keys}
    start = time.time()
    with store.session(claim_timeout) as session, _logging_to(log_file):
        statuses = store.statuses()  # after the session began: see Session
        redo = {"failed"} if rerun_failed else set()
        todo = [key for key in keys if key.id not in statuses or statuses[key.id] in redo]
        LOGGER.info("study %s: %d trials, %d to run", study.name, len(keys), len(todo))
        plan = _plan(study, todo, store)
        written, failed = _write_rows(session, study, executor, todo, plan, quiet)
        run = {
            "executor": type(executor).__name__,
            "workers": getattr(executor, "workers", None),
            "started": start,
            "wall_seconds": time.time() - start,
            "trials_run": written,
            "failed": failed,
        }
        with store.locked():
            _record_run(results, study, run)
    final = store.statuses()
    return StudySummary(
        total=len(keys),
        skipped=len(keys) - len(todo),
        ran=written,
        failed=failed,
        results=results,
        stale=len(set(statuses) - ids),
        failed_stored=sum(final.get(trial) == "failed" for trial in ids),
        elsewhere=len(todo) - written,
    )
