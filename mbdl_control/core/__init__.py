"""The contracts every layer builds on: agents, their place on the spectrum, budgets, episodes.

Nothing here knows a model, an env or a family: ``core`` imports only numpy and gymnasium.
"""

from mbdl_control.core.agent import Agent, BaseAgent, time_index
from mbdl_control.core.budget import Budget, FitReport
from mbdl_control.core.checks import finite_float, positive_float, positive_int
from mbdl_control.core.episodes import episode_length
from mbdl_control.core.observations import as_batch, batch_size, vector_space
from mbdl_control.core.spectrum import FAMILIES, KNOWLEDGE, SpectrumInfo

__all__ = [
    "FAMILIES",
    "KNOWLEDGE",
    "Agent",
    "BaseAgent",
    "Budget",
    "FitReport",
    "SpectrumInfo",
    "as_batch",
    "batch_size",
    "episode_length",
    "finite_float",
    "positive_float",
    "positive_int",
    "time_index",
    "vector_space",
]
