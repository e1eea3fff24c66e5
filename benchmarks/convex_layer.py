"""Forward + backward time of the convex policy layer: the exact box QP against its peers.

The layer ``(x, θ, q) ↦ u`` of the learned convex policy on the published box LQR's true model
(``θ`` the Riccati square root, ``q = 0``, states drawn from the initial-state distribution),
at the training batch (6) and a large one (256): milliseconds per call of the forward pass and
the backward pass of ``Σ w·u`` (random weights ``w``), for :func:`box_qp_policy_layer`, for
proxsuite's differentiable ``QPFunction`` (ProxQP, eps 1e-9, on the same box QP: ``H``, ``F x
+ f₀`` and the bounds formed in torch as our layer forms them) and for cvxpylayers with the
published solver settings; the median over ``--repeats`` runs with min and max, the time
against box_qp's, and the largest difference between each layer's gradients in ``x``, ``θ``
and ``q`` and ours (for cvxpylayers at the published settings, whose derivative is diffcp's
LSQR, and at SCS eps 1e-12 with the dense derivative). proxsuite is optional (``pip install
-e '.[bench]'``): without it its rows are skipped and the reason printed. torch and BLAS run on
one thread, as in the harness's workers: on a loaded machine, MKL's threaded factorization of
tiny batched matrices can wait milliseconds for a second core.

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
from mbdl_control.blocks.convex_policy import (
    box_qp_policy_layer,
    convex_policy_layer,
    policy_qp,
)
from mbdl_control.blocks.riccati import lqr_steady_state
from mbdl_control.models import symmetric_sqrt

BATCHES = (6, 256)
#: seconds each timed run lasts at least, so that fast calls are timed in bulk
RUN_SECONDS = 0.5
#: cvxpylayers as exact as it gets: SCS at 1e-12, diffcp's dense derivative (not LSQR)
TIGHT_SOLVER_ARGS = {**PUBLISHED_SOLVER_ARGS, "eps_abs": 1e-12, "eps_rel": 1e-12}
TIGHT_SOLVER_ARGS.update(max_iters=100_000, mode="dense")
PROXSUITE = "proxsuite QPFunction (eps 1e-9)"
CVXPYLAYERS = "cvxpylayers (SCS eps 1e-8, LSQR)"


def proxsuite_layer(model):
    """``(x, θ, q) ↦ u`` by proxsuite's ``QPFunction`` on the box QP of :func:`policy_qp`."""
    from proxsuite.torch.qplayer import QPFunction

    A, B, R, u_max = (torch.tensor(np.array(a)) for a in (model.A, model.B, model.R, model.u_max))
    rows, no_equalities = torch.eye(model.m, dtype=torch.float64), torch.empty(0)

    def layer(x, theta, q):
        H, F, f0 = policy_qp(A, B, R, theta, q)
        p = x @ F.T + f0
        return QPFunction(eps=1e-9)(H, p, no_equalities, no_equalities, rows, -u_max, u_max)[0]

    return layer


def layers(model) -> tuple[dict, list[str]]:
    """``(x, θ, q) ↦ u`` for each path: box_qp, proxsuite, and cvxpylayers at published and
    tight settings; and why a path was skipped."""
    cvxpy_layer = convex_policy_layer(model)

    def cvxpylayers(solver_args):
        return lambda x, theta, q: cvxpy_layer(x, theta, q, solver_args=solver_args)[0]

    paths, skipped = {"box_qp": box_qp_policy_layer(model)}, []
    try:
        paths[PROXSUITE] = proxsuite_layer(model)
    except ImportError as error:
        skipped.append(f"{PROXSUITE}: skipped, proxsuite is not installed ({error})")
    paths[CVXPYLAYERS] = cvxpylayers(PUBLISHED_SOLVER_ARGS)
    paths["tight cvxpylayers"] = cvxpylayers(TIGHT_SOLVER_ARGS)
    return paths, skipped


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


def batch_rows(paths, model, batch: int, repeats: int) -> tuple[list[str], str]:
    """The table rows at one batch size, and the share of saturated inputs."""
    layer_inputs, weights = inputs(model, batch)
    u, gradients = forward_backward(paths["box_qp"], layer_inputs, weights)
    error = {
        name: largest_difference(gradients, forward_backward(layer, layer_inputs, weights)[1])
        for name, layer in paths.items()
        if name != "box_qp"
    }
    differences = {"box_qp": "—"}
    if PROXSUITE in error:
        differences[PROXSUITE] = f"{error[PROXSUITE]:.1e}"
    differences[CVXPYLAYERS] = f"{error[CVXPYLAYERS]:.1e} / {error['tight cvxpylayers']:.1e}"
    times = {
        name: milliseconds_per_call(paths[name], layer_inputs, weights, repeats)
        for name in differences
    }
    ours = statistics.median(times["box_qp"])
    rows = [
        f"| {batch} | {name} | {statistics.median(runs):.3f} | {min(runs):.3f} | "
        f"{max(runs):.3f} | {statistics.median(runs) / ours:.3g}x | {differences[name]} |"
        for name, runs in times.items()
    ]
    saturated = np.mean(np.abs(u.detach().numpy()) >= model.u_max - 1e-9)
    return rows, f"batch {batch}: {saturated:.0%} of the inputs at their bound"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    model = gym.make("mbdl/BoxLQR-v0").unwrapped.true_model
    paths, skipped = layers(model)
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python "
        f"{platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} "
        "thread)"
    )
    print(
        "| batch | layer | ms / call (median) | min | max | time / box_qp "
        "| max abs gradient difference to box_qp (cvxpylayers: published / tight) |"
    )
    print("|---|---|---|---|---|---|---|")
    notes = []
    with threadpool_limits(1):
        for batch in BATCHES:
            rows, note = batch_rows(paths, model, batch, arguments.repeats)
            print("\n".join(rows))
            notes.append(note)
    print("\n".join(["", *notes, *skipped]))


if __name__ == "__main__":
    main()
