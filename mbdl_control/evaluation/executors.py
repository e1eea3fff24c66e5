"""Where trials run: in this process, in a local process pool, or as tasks on a Ray cluster.

Each executor maps :func:`run_trial` over trial keys and yields rows as trials finish; the rows
are the same whichever runs them (a trial is a pure function of its key). Only the caller
writes to the result store, so a run has one writer whatever its parallelism.

Neither executor submits a whole study at once: a few trials per worker are in flight, the
next key is taken from ``keys`` only as one finishes, and a finished trial's row is handed on
and forgotten. So the memory a study holds does not grow with its number of trials, and a
caller that claims each trial as its key is taken (the runner) claims only what runs next,
which lets several runs share a study's trials.

Ray: ``RayExecutor(address="auto")`` (or ``HEAD:6379``, or ``ray://HEAD:10001``) joins an
existing cluster, started on its machines with ``ray start --head`` and
``ray start --address=HEAD:6379``, where this package is installed on every node; with no
address, ``RAY_ADDRESS`` is honoured as by ``ray.init``, and failing that a local instance is
started with ``workers`` CPUs. One trial is one task asking for one CPU. See
``docs/ray_cluster.md``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import os
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from mbdl_control.evaluation.study import Study, TrialKey
from mbdl_control.evaluation.trial import empty_row, run_trial

#: a pool's trials whose worker died with them, and the error each got
Crashed = list[tuple[TrialKey, BaseException]]


def _crashed_row(
    study: Study, key: TrialKey, error: BaseException, attempts: int = 1
) -> dict[str, Any]:
    row = empty_row(study, key)
    tries = "" if attempts == 1 else f" in all {attempts} attempts, {attempts - 1} of them alone"
    row["error"] = f"worker crashed{tries}: {type(error).__name__}: {error}"
    return row


class _Keys:
    """Trial keys taken one at a time from an iterable, with room to put one back (a key
    taken for a pool that broke before it could be submitted)."""

    def __init__(self, keys: Iterable[TrialKey]) -> None:
        self._keys = iter(keys)
        self._back: collections.deque[TrialKey] = collections.deque()

    def take(self) -> TrialKey | None:
        return self._back.popleft() if self._back else next(self._keys, None)

    def put_back(self, key: TrialKey) -> None:
        self._back.appendleft(key)


def _fill(pool, study: Study, keys: _Keys, running: dict, size: int) -> bool:
    """Submit trials until ``size`` run; ``False`` if the pool turned out broken."""
    while len(running) < size and (key := keys.take()) is not None:
        try:
            running[pool.submit(run_trial, study, key)] = key
        except BrokenProcessPool:
            keys.put_back(key)
            return False
    return True


class LocalExecutor:
    """``workers == 1``: trials run in this process; more: a process pool of that size.

    The pool is fed ``2 * workers`` trials at a time, enough to keep every worker busy. A
    worker that dies (killed, out of memory, a crash in native code) breaks the pool, and every
    trial in flight fails with it: the pool cannot tell whose trial killed it. So each of those
    trials runs again alone, in a fresh process, up to ``crash_retries`` times: the innocent
    ones then succeed, and only a trial that kills its worker every time ends as a ``failed``
    row saying so. A fresh pool runs the rest.
    """

    def __init__(self, workers: int = 1, crash_retries: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if crash_retries < 0:
            raise ValueError(f"crash_retries must be >= 0, got {crash_retries}")
        self.workers = workers
        self.crash_retries = crash_retries

    def run(self, study: Study, keys: Iterable[TrialKey]) -> Iterator[dict[str, Any]]:
        if self.workers == 1:
            for key in keys:
                yield run_trial(study, key)
            return
        taken = _Keys(keys)
        while True:
            crashed = yield from self._run_pool(study, taken)
            if crashed is None:
                return
            for key, error in crashed:
                yield self._alone(study, key, error)

    def _run_pool(
        self, study: Study, keys: _Keys
    ) -> Generator[dict[str, Any], None, Crashed | None]:
        """Rows of the trials one pool takes from ``keys``; returns ``None`` once ``keys`` is
        used up, or, if the pool broke, the trials that were in flight with their errors."""
        running: dict[concurrent.futures.Future, TrialKey] = {}
        crashed: Crashed = []
        broken = False
        with concurrent.futures.ProcessPoolExecutor(self.workers) as pool:
            while True:
                broken = broken or not _fill(pool, study, keys, running, 2 * self.workers)
                if not running:
                    return crashed if broken else None
                done, _ = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    key = running.pop(future)
                    try:
                        row = future.result()
                    except BrokenProcessPool as error:
                        broken = True
                        crashed.append((key, error))
                        continue
                    yield row

    def _alone(self, study: Study, key: TrialKey, error: BaseException) -> dict[str, Any]:
        """The row of ``key``, whose worker died with others' (``error``), run alone in a
        fresh process up to ``crash_retries`` times."""
        for _ in range(self.crash_retries):
            with concurrent.futures.ProcessPoolExecutor(1) as pool:
                try:
                    return pool.submit(run_trial, study, key).result()
                except BrokenProcessPool as crash:
                    error = crash
        return _crashed_row(study, key, error, 1 + self.crash_retries)


def ray_init_options(address: str | None, workers: int | None) -> dict[str, Any]:
    """``ray.init`` arguments: join ``address``, else ``RAY_ADDRESS``, else start a local
    instance with ``workers`` CPUs (all of them for ``None``). Ray refuses a CPU count when
    joining a cluster, whose nodes declare their own."""
    address = address or os.environ.get("RAY_ADDRESS")
    return {"address": address} if address else {"num_cpus": workers}


class RayExecutor:
    """One Ray task per trial, on the cluster at ``address`` or on a local instance.

    ``workers`` trials run at once (``None``: as many as the cluster has CPUs when the study
    starts); the next is submitted as one finishes. On a Ray instance already initialized in
    this process (``ray.init`` called before), the executor uses it and leaves it running.
    Each task runs in a worker of its own, so a dying worker takes no other trial with it, and
    Ray reruns its task (``max_retries``, 3 by default) before the trial gets a ``failed`` row.
    """

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError as error:
            raise RuntimeError(
                "the Ray executor needs Ray: pip install 'mbdl_control[ray]'"
            ) from error
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1 or None (every CPU), got {workers}")
        self._ray = ray
        self.address = address
        self.workers = workers

    def run(self, study: Study, keys: Iterable[TrialKey]) -> Iterator[dict[str, Any]]:
        ray = self._ray
        started_here = not ray.is_initialized()
        if started_here:
            options = ray_init_options(self.address, self.workers)
            ray.init(include_dashboard=False, log_to_driver=False, **options)
        try:
            task = ray.remote(num_cpus=1)(run_trial)
            study_ref = ray.put(study)
            at_once = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            queued = iter(keys)
            running: dict[Any, TrialKey] = {}
            while True:
                for key in itertools.islice(queued, at_once - len(running)):
                    running[task.remote(study_ref, key)] = key
                if not running:
                    return
                done, _ = ray.wait(list(running), num_returns=1)
                key = running.pop(done[0])
                try:
                    yield ray.get(done[0])
                except ray.exceptions.RayError as error:
                    yield _crashed_row(study, key, error)
        finally:
            if started_here:
                ray.shutdown()
