"""Agents across the spectrum; one sub-package per family (see ``SpectrumInfo.family``)."""

from mbdl_control.agents.base import Agent, BaseAgent, Budget, FitReport, SpectrumInfo
from mbdl_control.agents.learned_optimizer import LearnedCOCP, LearnedNoiseLQG
from mbdl_control.agents.model_based import COCP, LQG, LQR, MPC, SaturatedLQR

__all__ = [
    "COCP",
    "LQG",
    "LQR",
    "MPC",
    "Agent",
    "BaseAgent",
    "Budget",
    "FitReport",
    "LearnedCOCP",
    "LearnedNoiseLQG",
    "SaturatedLQR",
    "SpectrumInfo",
]
