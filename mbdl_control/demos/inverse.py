"""The sparse-recovery demo: ISTA, FISTA and ADMM on the LASSO for the nominal sensing matrix
(or PSF), 100 iterations each, next to the oracle (the debiased LASSO on the true one) and
the bound."""

from __future__ import annotations

import gymnasium as gym

from mbdl_control.agents import ADMM, FISTA, ISTA
from mbdl_control.core import BaseAgent
from mbdl_control.demos.classical import DemoRow, evaluate_classical

#: the iterations every solver of the demo runs
ITERATIONS = 100


def classical_agents(env: gym.Env) -> dict[str, BaseAgent]:
    """The LASSO solvers on the env's nominal model, built from it alone."""
    model = env.unwrapped.nominal_model
    return {
        f"ISTA ({ITERATIONS} iterations)": ISTA(model, iterations=ITERATIONS),
        f"FISTA ({ITERATIONS} iterations)": FISTA(model, iterations=ITERATIONS),
        f"ADMM ({ITERATIONS} iterations)": ADMM(model, iterations=ITERATIONS),
    }


def run_demo(env_id: str, mismatch: float, n_episodes: int, seed: int) -> list[DemoRow]:
    """Evaluate the oracle and every solver on the same seeded signals."""
    return evaluate_classical(env_id, mismatch, n_episodes, seed, classical_agents)
