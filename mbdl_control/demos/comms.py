"""The communications demo: Viterbi, BCJR and the linear MMSE equalizer on the nominal CSI,
next to the true-CSI Viterbi (the oracle) and the matched-filter bound."""

from __future__ import annotations

import gymnasium as gym

from mbdl_control.agents import BCJR, LinearMMSE, Viterbi
from mbdl_control.core import BaseAgent
from mbdl_control.demos.classical import DemoRow, evaluate_classical


def classical_agents(env: gym.Env) -> dict[str, BaseAgent]:
    """The detectors of the env's nominal channel model, built from it alone."""
    model = env.unwrapped.nominal_model
    agents = {"Viterbi": Viterbi(model), "BCJR": BCJR(model)}
    if model.kind == "gaussian":  # the linear equalizer assumes additive noise
        agents["linear MMSE"] = LinearMMSE(model)
    return agents


def run_demo(env_id: str, mismatch: float, n_episodes: int, seed: int) -> list[DemoRow]:
    """Evaluate the oracle and every classical detector on the same seeded blocks."""
    return evaluate_classical(env_id, mismatch, n_episodes, seed, classical_agents)
