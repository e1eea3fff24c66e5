"""Nonlinear MPC on the cart-pole: our SCP step against CasADi/IPOPT on the same problem.

Both controllers solve, at every state of a closed loop on ``mbdl/CartPole-v0`` (mismatch 0,
so both plan on the true model), the horizon-``H`` problem of
:mod:`mbdl_control.blocks.nonlinear_mpc`: stage cost ``xᵀQx + uᵀRu``, terminal ``xᵀPx``
(``P`` the Riccati solution of the linearization), the semi-implicit Euler dynamics of
:class:`~mbdl_control.models.cart_pole.CartPoleModel` and the force bound.

* ``SCP (ours), k iterations``: :class:`~mbdl_control.agents.NonlinearMPC` stepping one plant
  (``predict`` on one state): rollout, autograd Jacobians, condensed QP by DAQP, warm-started
  from the shifted plan.
* ``CasADi/IPOPT``: the same problem in multiple-shooting form (states and inputs as
  variables, the dynamics as equality constraints), built once as an ``nlpsol`` with
  ``expand=True`` (SX functions), IPOPT to its default tolerance (1e-8), warm-started from the
  previous solution shifted by one stage. The dynamics are written again in CasADi symbols
  here (CasADi cannot trace our numpy/torch function); the script checks them equal to
  ``CartPoleModel.step`` at random points before timing.

Each controller runs the same seeded episodes (common random numbers); the table gives the
median and 90th percentile of the per-step latency over all steps, the mean closed-loop cost
per step with its standard error, and each path's cost gap to CasADi's with the paired
standard error. The issue's goal: SCP's median at or below CasADi's, the cost within its
standard error. CasADi is the optional extra ``nmpc`` (``pip install -e '.[nmpc]'``); without
it the CasADi row is skipped with the reason.

    .venv/bin/python benchmarks/nmpc_latency.py [--horizon 20] [--episodes 10]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import gymnasium as gym
import numpy as np
import torch
from threadpoolctl import threadpool_limits

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import NonlinearMPC
from mbdl_control.models.cart_pole import CartPoleModel


class CasadiNMPC:
    """The NMPC problem of the module docstring as a CasADi ``nlpsol`` (IPOPT)."""

    def __init__(self, model: CartPoleModel, horizon: int, P: np.ndarray) -> None:
        import casadi as ca

        self.horizon, self.n = horizon, model.n
        x, u = ca.SX.sym("x", 4), ca.SX.sym("u", 1)
        self.step = ca.Function("f", [x, u], [self._dynamics(ca, model, x, u)])
        states = ca.SX.sym("X", 4, horizon + 1)
        inputs = ca.SX.sym("U", 1, horizon)
        start = ca.SX.sym("x0", 4)
        cost, constraints = 0, [states[:, 0] - start]
        for k in range(horizon):
            xk, uk = states[:, k], inputs[:, k]
            cost += ca.mtimes([xk.T, model.Q, xk]) + model.R[0, 0] * uk**2
            constraints.append(states[:, k + 1] - self.step(xk, uk))
        cost += ca.mtimes([states[:, -1].T, P, states[:, -1]])
        variables = ca.vertcat(ca.vec(states), ca.vec(inputs))
        problem = {"x": variables, "f": cost, "g": ca.vertcat(*constraints), "p": start}
        options = {"expand": True, "print_time": 0, "ipopt.print_level": 0, "ipopt.sb": "yes"}
        self.solver = ca.nlpsol("nmpc", "ipopt", problem, options)
        count = 4 * (horizon + 1)
        bound = model.force_max
        self.lower = np.concatenate((np.full(count, -np.inf), np.full(horizon, -bound)))
        self.upper = np.concatenate((np.full(count, np.inf), np.full(horizon, bound)))
        self.constraint_count = 4 * (horizon + 1)
        self.guess: np.ndarray | None = None

    @staticmethod
    def _dynamics(ca, model: CartPoleModel, x, u):
        """``CartPoleModel.step`` (without the angle wrap) in CasADi symbols."""
        velocity, theta, rate = x[1], x[2], x[3]
        sin, cos = ca.sin(theta), ca.cos(theta)
        total = model.cart_mass + model.pole_mass
        arm = model.pole_mass * model.pole_length
        tau = (u[0] + arm * rate**2 * sin - model.cart_friction * velocity) / total
        theta_acc = (model.gravity * sin - cos * tau - model.pole_friction * rate / arm) / (
            model.pole_length * (4.0 / 3.0 - model.pole_mass * cos**2 / total)
        )
        x_acc = tau - arm * theta_acc * cos / total
        new_velocity = velocity + model.dt * x_acc
        new_rate = rate + model.dt * theta_acc
        return ca.vertcat(
            x[0] + model.dt * new_velocity, new_velocity, theta + model.dt * new_rate, new_rate
        )

    def reset(self) -> None:
        self.guess = None

    def act(self, x: np.ndarray) -> np.ndarray:
        count = 4 * (self.horizon + 1)
        if self.guess is None:
            self.guess = np.concatenate((np.tile(x, self.horizon + 1), np.zeros(self.horizon)))
        solution = self.solver(
            x0=self.guess,
            p=x,
            lbx=self.lower,
            ubx=self.upper,
            lbg=np.zeros(self.constraint_count),
            ubg=np.zeros(self.constraint_count),
        )
        w = np.array(solution["x"]).ravel()
        states, inputs = w[:count].reshape(self.horizon + 1, 4), w[count:]
        shifted_states = np.vstack((states[1:], states[-1:]))
        shifted_inputs = np.concatenate((inputs[1:], inputs[-1:]))
        self.guess = np.concatenate((shifted_states.ravel(), shifted_inputs))
        return inputs[:1].copy()


def closed_loop(act, reset, env, episodes: int) -> tuple[np.ndarray, list[float]]:
    """Cost per step of each episode and every step's latency (s)."""
    costs, latencies = [], []
    for episode in range(episodes):
        x, _ = env.reset(seed=1000 + episode)
        reset()
        total, done = 0.0, False
        while not done:
            start = time.perf_counter()
            u = act(x)
            latencies.append(time.perf_counter() - start)
            x, _, terminated, truncated, info = env.step(u)
            total += info["cost"]
            done = terminated or truncated
        costs.append(total / env.unwrapped.horizon)
    return np.array(costs), latencies


def ours(model: CartPoleModel, horizon: int, iterations: int):
    agent = NonlinearMPC(model, horizon=horizon, iterations=iterations, knowledge="true")
    memory = {"state": None, "start": np.array([True])}

    def act(x):
        action, memory["state"] = agent.predict(x, memory["state"], memory["start"])
        memory["start"] = np.array([False])
        return action

    def reset():
        memory["state"], memory["start"] = None, np.array([True])

    return act, reset, agent.policy.P


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=int, default=20)
    parser.add_argument("--episodes", type=int, default=10)
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    env = gym.make("mbdl/CartPole-v0")
    model = env.unwrapped.true_model
    horizon = arguments.horizon
    rows, skipped = {}, []
    with threadpool_limits(1):
        for iterations in (1, 2):
            act, reset, P = ours(model, horizon, iterations)
            rows[f"SCP (ours), {iterations} iteration{'s' * (iterations > 1)}"] = closed_loop(
                act, reset, env, arguments.episodes
            )
        try:
            peer = CasadiNMPC(model, horizon, P)
        except ImportError as error:
            skipped.append(f"CasADi/IPOPT: skipped, casadi is not installed ({error})")
        else:
            points = np.random.default_rng(0).normal(0, 1, (20, 5))
            for point in points:
                expected = model.step(point[:4], point[4:], wrap=False)
                actual = np.array(peer.step(point[:4], point[4:])).ravel()
                np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12)
            rows["CasADi/IPOPT (expand=True)"] = closed_loop(
                peer.act, peer.reset, env, arguments.episodes
            )
    reference = rows.get("CasADi/IPOPT (expand=True)")
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    print(
        f"mbdl/CartPole-v0, mismatch 0, H = {horizon}, {arguments.episodes} episodes x 100 steps\n"
    )
    print(
        "| path | median ms/step | p90 ms/step | cost/step ± s.e. | gap to CasADi ± paired s.e. |"
    )
    print("|---|---|---|---|---|")
    for name, (costs, latencies) in rows.items():
        median = statistics.median(latencies) * 1e3
        p90 = float(np.percentile(latencies, 90)) * 1e3
        se = costs.std(ddof=1) / np.sqrt(len(costs))
        gap = "—"
        if reference is not None and name != "CasADi/IPOPT (expand=True)":
            difference = costs - reference[0]
            gap = f"{difference.mean():+.5f} ± {difference.std(ddof=1) / np.sqrt(len(costs)):.5f}"
        print(f"| {name} | {median:.3f} | {p90:.3f} | {costs.mean():.5f} ± {se:.5f} | {gap} |")
    if reference is not None:
        ratio = statistics.median(rows["SCP (ours), 1 iteration"][1]) / statistics.median(
            reference[1]
        )
        print(f"\nSCP (1 iteration) median / CasADi median: {ratio:.2f}")
    for line in skipped:
        print(line)


if __name__ == "__main__":
    main()
