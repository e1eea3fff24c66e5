"""Where trials run: in this process, in a local process pool, or as tasks on a Ray cluster.

Each executor maps :func:`run_trial` over trial keys and yields rows as trials finish; the rows
are the same whichever runs them (a trial is a pure function of its key). Only the caller
writes to the result store, so there is one writer whatever the parallelism.

Ray: ``RayExecutor(address="auto")`` (or ``ray://head:10001``) joins an existing cluster,
started on its machines with ``ray start --head`` and ``ray start --address=HEAD:6379``, where
this package is installed on every node; with no address a local instance is started with
``workers`` CPUs. One trial is one task asking for one CPU.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator, Sequence
from typing import Any

from mbdl_control.evaluation.study import Study, TrialKey
from mbdl_control.evaluation.trial import empty_row, run_trial


def _crashed_row(study: Study, key: TrialKey, error: BaseException) -> dict[str, Any]:
    row = empty_row(study, key)
    row["error"] = f"worker crashed: {type(error).__name__}: {error}"
    return row


class LocalExecutor:
    """``workers == 1``: trials run in this process; more: a process pool of that size."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def run(self, study: Study, keys: Sequence[TrialKey]) -> Iterator[dict[str, Any]]:
        if self.workers == 1:
            for key in keys:
                yield run_trial(study, key)
            return
        with concurrent.futures.ProcessPoolExecutor(self.workers) as pool:
            futures = {pool.submit(run_trial, study, key): key for key in keys}
            for future in concurrent.futures.as_completed(futures):
                try:
                    yield future.result()
                except concurrent.futures.process.BrokenProcessPool as error:
                    yield _crashed_row(study, futures[future], error)


class RayExecutor:
    """One Ray task per trial, on the cluster at ``address`` or on a local instance."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError as error:
            raise RuntimeError(
                "the Ray executor needs Ray: pip install 'mbdl_control[ray]'"
            ) from error
        self._ray = ray
        self.address = address
        self.workers = workers

    def run(self, study: Study, keys: Sequence[TrialKey]) -> Iterator[dict[str, Any]]:
        ray = self._ray
        started_here = not ray.is_initialized()
        if started_here:
            options = {"address": self.address} if self.address else {"num_cpus": self.workers}
            ray.init(include_dashboard=False, log_to_driver=False, **options)
        try:
            task = ray.remote(num_cpus=1)(run_trial)
            study_ref = ray.put(study)
            pending = {task.remote(study_ref, key): key for key in keys}
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                key = pending.pop(done[0])
                try:
                    yield ray.get(done[0])
                except ray.exceptions.RayError as error:
                    yield _crashed_row(study, key, error)
        finally:
            if started_here:
                ray.shutdown()
