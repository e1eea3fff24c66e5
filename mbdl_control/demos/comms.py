"""The communications demo: each channel's model-based detectors on the nominal model, next to
the oracle and the bound. ISI channel: Viterbi, BCJR and the linear MMSE equalizer on the
nominal CSI (the oracle: the true-CSI Viterbi). MIMO: zero forcing, LMMSE, K-best and EP on
the receiver's channel estimate (the oracle: the sphere decoder, exact ML, on the true
channel)."""

from __future__ import annotations

import gymnasium as gym

from mbdl_control.agents import (
    BCJR,
    ExpectationPropagation,
    KBest,
    LinearMMSE,
    LinearMMSEDetector,
    Viterbi,
    ZeroForcing,
)
from mbdl_control.core import BaseAgent
from mbdl_control.demos.classical import DemoRow, evaluate_classical
from mbdl_control.models import MIMOSystem


def classical_agents(env: gym.Env) -> dict[str, BaseAgent]:
    """The detectors of the env's nominal model, built from it alone."""
    model = env.unwrapped.nominal_model
    if isinstance(model, MIMOSystem):
        return {
            "zero forcing": ZeroForcing(model),
            "LMMSE": LinearMMSEDetector(model),
            "K-best": KBest(model),
            "EP": ExpectationPropagation(model),
        }
    agents = {"Viterbi": Viterbi(model), "BCJR": BCJR(model)}
    if model.kind == "gaussian":  # the linear equalizer assumes additive noise
        agents["linear MMSE"] = LinearMMSE(model)
    return agents


def run_demo(env_id: str, mismatch: float, n_episodes: int, seed: int) -> list[DemoRow]:
    """Evaluate the oracle and every classical detector on the same seeded episodes."""
    return evaluate_classical(env_id, mismatch, n_episodes, seed, classical_agents)
