"""Evaluation: ``evaluate()`` with common random numbers, studies, executors, reports.

``evaluate`` is light; the harness's names load lazily, so importing this package loads no
learner.
"""

from mbdl_control.core.lazy import lazy_exports

# eager, and so bound to the function: the submodule of the same name would shadow it
from mbdl_control.evaluation.evaluate import EvaluationResult, episode_seeds, evaluate

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "LocalExecutor": ".executors",
        "RayExecutor": ".executors",
        "write_report": ".report",
        "run_study": ".runner",
        "Study": ".study",
        "load_study": ".study",
        "study_from_dict": ".study",
    },
)

__all__ = [
    "EvaluationResult",
    "LocalExecutor",
    "RayExecutor",
    "Study",
    "episode_seeds",
    "evaluate",
    "load_study",
    "run_study",
    "study_from_dict",
    "write_report",
]
