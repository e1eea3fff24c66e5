"""Deep learning: generic networks and model-free RL, no model used."""

from mbdl_control.agents.deep_learning.sb3 import SB3Agent

__all__ = ["SB3Agent"]
