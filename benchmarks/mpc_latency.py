"""Milliseconds per MPC step on the published box LQR: cvxpy, OSQP on the condensed QP, DAQP.

One seeded 100-step episode of ``mbdl/BoxLQR-v0`` is run under the exact MPC (true model) at
each horizon; every path then solves the MPC problem at those states in order, so a warm start
carries over from step to step as in closed loop. The paths:

* ``cvxpy solve() (CLARABEL)``: ``MPC(solver="CLARABEL")``, the readable cvxpy problem;
* ``OSQP direct``: OSQP's own API on the condensed QP (default settings, warm-started from the
  previous solution), without cvxpy;
* ``DAQP (MPC default)``: ``MPC()``, the condensed QP solved exactly by DAQP.

Setup (problem build, first solve) is excluded. Per repeat the mean latency over the episode;
the table gives its median, min and max over repeats, the speed-up over cvxpy, and the largest
action difference from cvxpy with tight Clarabel tolerances (1e-10) over the episode.

    .venv/bin/python benchmarks/mpc_latency.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import osqp
import scipy.sparse

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import MPC
from mbdl_control.models import LinearGaussianModel

HORIZONS = (10, 30)
TIGHT_CLARABEL = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}

Policy = Callable[[np.ndarray], np.ndarray]


def episode_states(env: gym.Env, horizon: int, seed: int = 0) -> np.ndarray:
    """The states of one seeded episode under the exact MPC."""
    mpc = MPC(env.unwrapped.true_model, horizon)
    x, _ = env.reset(seed=seed)
    states, done = [], False
    while not done:
        states.append(x)
        x, _, terminated, truncated, _ = env.step(mpc.predict(x)[0])
        done = terminated or truncated
    return np.array(states)


def osqp_on_condensed_qp(model: LinearGaussianModel, horizon: int) -> Policy:
    """OSQP's API on the DAQP path's condensed QP (the same ``H``, ``F`` and input bounds)."""
    qp = MPC(model, horizon)._qp
    solver = osqp.OSQP()
    solver.setup(
        P=scipy.sparse.csc_matrix(np.triu(qp.H)),
        q=np.zeros(len(qp.H)),
        A=scipy.sparse.identity(len(qp.H), format="csc"),
        l=np.tile(-model.u_max, horizon),
        u=np.tile(model.u_max, horizon),
        verbose=False,
    )

    def policy(x: np.ndarray) -> np.ndarray:
        solver.update(q=qp.F @ x)
        return solver.solve().x[: model.m]

    return policy


def agent_policy(model: LinearGaussianModel, horizon: int, **settings) -> Policy:
    mpc = MPC(model, horizon, **settings)
    return lambda x: mpc.predict(x)[0]


def policy_builders(model: LinearGaussianModel, horizon: int) -> dict[str, Callable[[], Policy]]:
    """A fresh policy per path and repeat, so no repeat inherits another's warm start."""
    return {
        "cvxpy solve() (CLARABEL)": lambda: agent_policy(model, horizon, solver="CLARABEL"),
        "OSQP direct": lambda: osqp_on_condensed_qp(model, horizon),
        "DAQP (MPC default)": lambda: agent_policy(model, horizon),
    }


def episode_latency(policy: Policy, states: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean seconds per step along the episode, and the actions."""
    policy(np.zeros_like(states[0]))  # setup and first solve are not per-step latency
    actions = []
    start = time.perf_counter()
    for x in states:
        actions.append(policy(x))
    return (time.perf_counter() - start) / len(states), np.array(actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    env = gym.make("mbdl/BoxLQR-v0")
    model = env.unwrapped.true_model
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print("| H | path | ms / step (median) | min | max | speed-up vs cvxpy | max abs Δu |")
    print("|---|---|---|---|---|---|---|")
    notes = []
    for horizon in HORIZONS:
        states = episode_states(env, horizon)
        exact_mpc = MPC(model, horizon, solver="CLARABEL", solver_options=TIGHT_CLARABEL)
        exact = exact_mpc.predict(states)[0]
        saturated = np.mean(np.any(np.isclose(np.abs(exact), model.u_max, atol=1e-8), axis=1))
        notes.append(f"H = {horizon}: an input is at its bound in {saturated:.0%} of the steps")
        cvxpy_median = None
        for path, build in policy_builders(model, horizon).items():
            runs = [episode_latency(build(), states) for _ in range(arguments.repeats)]
            times = [1e3 * seconds for seconds, _ in runs]
            median = statistics.median(times)
            cvxpy_median = cvxpy_median or median
            error = max(np.max(np.abs(actions - exact)) for _, actions in runs)
            print(
                f"| {horizon} | {path} | {median:.3f} | {min(times):.3f} | {max(times):.3f} | "
                f"{cvxpy_median / median:.1f}x | {error:.1e} |"
            )
    print("\n".join(["", *notes]))


if __name__ == "__main__":
    main()
