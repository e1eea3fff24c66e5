"""Where trials run: in this process, in a local process pool, or as tasks on a Ray cluster.

Each executor maps :func:`run_trial` over trial keys and yields rows as trials finish; the rows
are the same whichever runs them (a trial is a pure function of its key). Only the caller
writes to the result store, so there is one writer whatever the parallelism.

Neither executor submits a whole study at once: a few trials per worker are in flight, the
next is submitted as one finishes, and a finished trial's row is handed on and forgotten. So
the memory a study holds does not grow with its number of trials.

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
from collections.abc import Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from mbdl_control.evaluation.study import Study, TrialKey
from mbdl_control.evaluation.trial import empty_row, run_trial


def _crashed_row(study: Study, key: TrialKey, error: BaseException) -> dict[str, Any]:
    row = empty_row(study, key)
    row["error"] = f"worker crashed: {type(error).__name__}: {error}"
    return row


class LocalExecutor:
    """``workers == 1``: trials run in this process; more: a process pool of that size.

    The pool is fed ``2 * workers`` trials at a time, enough to keep every worker busy. A
    worker that dies (killed, out of memory, a crash in native code) breaks the pool: the
    trials in flight get ``failed`` rows saying so, and a fresh pool runs the rest.
    """

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def run(self, study: Study, keys: Sequence[TrialKey]) -> Iterator[dict[str, Any]]:
        if self.workers == 1:
            for key in keys:
                yield run_trial(study, key)
            return
        queued = collections.deque(keys)
        while queued:
            yield from self._run_pool(study, queued)

    def _run_pool(self, study: Study, queued: collections.deque) -> Iterator[dict[str, Any]]:
        """Rows of the trials taken from ``queued`` by one pool, until it is empty or broken."""
        running: dict[concurrent.futures.Future, TrialKey] = {}
        broken = False
        with concurrent.futures.ProcessPoolExecutor(self.workers) as pool:
            while running or (queued and not broken):
                while queued and not broken and len(running) < 2 * self.workers:
                    try:
                        running[pool.submit(run_trial, study, queued[0])] = queued[0]
                    except BrokenProcessPool:
                        broken = True
                    else:
                        queued.popleft()
                done, _ = concurrent.futures.wait(
                    running, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    key = running.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool as error:
                        broken = True
                        yield _crashed_row(study, key, error)


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

    def run(self, study: Study, keys: Sequence[TrialKey]) -> Iterator[dict[str, Any]]:
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
