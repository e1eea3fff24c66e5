"""Forward + backward time of the convex policy layer: the exact box QP against cvxpylayers.

The layer ``(x, θ, q) ↦ u`` of the learned convex policy on the published box LQR's true model
(``θ`` the Riccati square root, ``q = 0``, states drawn from the initial-state distribution),
at the training batch (6) and a large one (256): milliseconds per call of the forward pass and
the backward pass of ``Σ w·u`` (random weights ``w``), for :func:`box_qp_policy_layer` and for
cvxpylayers with the published solver settings; the median over ``--repeats`` runs with min
and max, the ratio of medians, and the largest difference between the two layers' gradients
in ``x``, ``θ`` and ``q`` (against cvxpylayers at the published settings, whose derivative is
diffcp's LSQR, and at SCS eps 1e-12 with the dense derivative). torch and BLAS run on one
thread, as in the harness's workers: on a loaded machine, MKL's threaded factorization of tiny
batched matrices can wait milliseconds for a second core.

    .venv/bin/python benchmarks/convex_layer.py [--repeats 5]
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
from mbdl_control.agents.learned_optimizer.cocp import PUBLISHED_SOLVER_ARGS
from mbdl_control.blocks.convex_policy import box_qp_policy_layer, convex_policy_layer
from mbdl_control.blocks.riccati import lqr_steady_state
from mbdl_control.models import symmetric_sqrt

BATCHES = (6, 256)
#: seconds each timed run lasts at least, so that fast calls are timed in bulk
RUN_SECONDS = 0.5
#: cvxpylayers as exact as it gets: SCS at 1e-12, diffcp's dense derivative (not LSQR)
TIGHT_SOLVER_ARGS = {**PUBLISHED_SOLVER_ARGS, "eps_abs": 1e-12, "eps_rel": 1e-12}
TIGHT_SOLVER_ARGS.update(max_iters=100_000, mode="dense")


def layers(model):
    """``(x, θ, q) ↦ u`` for each path: box_qp, and cvxpylayers at published and tight settings."""
    cvxpy_layer = convex_policy_layer(model)

    def cvxpylayers(solver_args):
        return lambda x, theta, q: cvxpy_layer(x, theta, q, solver_args=solver_args)[0]

    return {
        "box_qp": box_qp_policy_layer(model),
        "cvxpylayers": cvxpylayers(PUBLISHED_SOLVER_ARGS),
        "tight cvxpylayers": cvxpylayers(TIGHT_SOLVER_ARGS),
    }


def inputs(model, batch: int):
    generator = torch.Generator().manual_seed(batch)
    noise = torch.randn(batch, model.n, generator=generator, dtype=torch.float64)
    x = torch.tensor(model.x0_mean) + noise @ torch.tensor(symmetric_sqrt(model.x0_cov)).T
    theta = torch.tensor(symmetric_sqrt(lqr_steady_state(model)[1]))
    q = torch.zeros(model.n, dtype=torch.float64)
    weights = torch.randn(batch, model.m, generator=generator, dtype=torch.float64)
    return tuple(t.requires_grad_() for t in (x, theta, q)), weights


def forward_backward(layer, arguments, weights):
    u = layer(*arguments)
    return u, torch.autograd.grad((u * weights).sum(), arguments)


def milliseconds_per_call(layer, arguments, weights, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < RUN_SECONDS:
            forward_backward(layer, arguments, weights)
            calls += 1
        times.append(1e3 * (time.perf_counter() - start) / calls)
    return times


def largest_difference(first, second) -> float:
    return max(float((a - b).abs().max()) for a, b in zip(first, second, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    model = gym.make("mbdl/BoxLQR-v0").unwrapped.true_model
    paths = layers(model)
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python "
        f"{platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} "
        "thread)"
    )
    print(
        "| batch | box_qp ms / call (median) | min | max | cvxpylayers ms / call (median) | min "
        "| max | ratio | saturated inputs | max abs gradient difference: published / tight |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with threadpool_limits(1):
        for batch in BATCHES:
            layer_inputs, weights = inputs(model, batch)
            u, gradients = forward_backward(paths["box_qp"], layer_inputs, weights)
            published, tight = (
                largest_difference(
                    gradients, forward_backward(paths[name], layer_inputs, weights)[1]
                )
                for name in ("cvxpylayers", "tight cvxpylayers")
            )
            fast, slow = (
                milliseconds_per_call(paths[name], layer_inputs, weights, arguments.repeats)
                for name in ("box_qp", "cvxpylayers")
            )
            saturated = np.mean(np.abs(u.detach().numpy()) >= model.u_max - 1e-9)
            print(
                f"| {batch} | {statistics.median(fast):.3f} | {min(fast):.3f} | {max(fast):.3f} | "
                f"{statistics.median(slow):.1f} | {min(slow):.1f} | {max(slow):.1f} | "
                f"{statistics.median(slow) / statistics.median(fast):.0f}x | {saturated:.0%} | "
                f"{published:.1e} / {tight:.1e} |"
            )


if __name__ == "__main__":
    main()
