"""Evaluation: ``evaluate()`` with common random numbers, against the oracle and the bound."""

from mbdl_control.evaluation.evaluate import EvaluationResult, episode_seeds, evaluate

__all__ = ["EvaluationResult", "episode_seeds", "evaluate"]
