"""Evaluation: ``evaluate()`` with common random numbers, studies, executors, reports."""

from mbdl_control.evaluation.evaluate import EvaluationResult, episode_seeds, evaluate
from mbdl_control.evaluation.executors import LocalExecutor, RayExecutor
from mbdl_control.evaluation.report import write_report
from mbdl_control.evaluation.runner import run_study
from mbdl_control.evaluation.study import Study, load_study, study_from_dict

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
