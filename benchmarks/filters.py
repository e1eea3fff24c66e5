"""The batched model-based filters against filterpy run trajectory by trajectory.

Each filter tracks 1000 trajectories of T = 100 measurements (drawn from its model in numpy)
from the prior, update first:

* ``KF``, KalmanNet's linear canonical 2 × 2 system (``F = [[1, 1], [0, 1]]``, ``H = I``,
  ``1/r² = 0 dB``, ``ν = q²/r² = −20 dB``, ``x_0 ~ N(0, q² I)``):
  :class:`~mbdl_control.blocks.kalman_filters.KalmanEstimator` on the whole batch against
  filterpy's ``KalmanFilter``;
* ``EKF``, KalmanNet's Lorenz model (``Δt = 0.02``, Taylor order 5, ``h = I``,
  ``1/r² = 10 dB``, ``ν = −20 dB``, ``x_0 ~ N(1, I)``):
  :class:`~mbdl_control.blocks.kalman_filters.ExtendedKalmanEstimator` (Jacobians by
  ``torch.func``, batched) against filterpy's ``ExtendedKalmanFilter`` given the Jacobian of
  the flow in closed form per trajectory (numpy, :func:`lorenz_jacobian`: the fastest baseline
  there is, checked against autograd);
* ``UKF``, the same Lorenz system with the spherical observation (range and two angles):
  :class:`~mbdl_control.blocks.unscented_filter.UnscentedKalmanEstimator` (``α = 1, β = 2,
  κ = 0``) against filterpy's ``UnscentedKalmanFilter`` with ``MerweScaledSigmaPoints`` of the
  same parameters.

filterpy is timed on the first ``--baseline`` trajectories (100 by default) and its time scaled
to 1000 (its cost is the same for every trajectory); its estimates are compared with ours on
those. numpy's BLAS and torch on one thread. The table: median, min and max of ``--repeats``
timed runs (after one untimed warm-up), the ratio of medians, the largest ``|Δx̂|``.

    .venv/bin/python benchmarks/filters.py [--repeats 5] [--baseline 100]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from filterpy.kalman import (
    ExtendedKalmanFilter,
    KalmanFilter,
    MerweScaledSigmaPoints,
    UnscentedKalmanFilter,
)
from threadpoolctl import threadpool_limits

from mbdl_control.blocks.kalman_filters import (
    ExtendedKalmanEstimator,
    KalmanEstimator,
    filter_trajectories,
    jacobians,
)
from mbdl_control.blocks.unscented_filter import UnscentedKalmanEstimator
from mbdl_control.envs.estimation.linear_tracking import canonical_model
from mbdl_control.models import LinearMap, LorenzFlow, Spherical, StateSpaceModel

TRAJECTORIES, STEPS = 1000, 100


def lorenz(observation: LinearMap | Spherical) -> StateSpaceModel:
    r2 = 10 ** (-10 / 10)
    q2 = r2 * 10 ** (-20 / 10)
    return StateSpaceModel(
        LorenzFlow(), observation, q2 * np.eye(3), r2 * np.eye(3), np.ones(3), np.eye(3)
    )


def simulate(model: StateSpaceModel, seed: int) -> np.ndarray:
    """Measurements ``(TRAJECTORIES, STEPS, p)`` of ``model``."""
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(model.x0_mean, model.x0_cov, TRAJECTORIES)
    ys = []
    for _ in range(STEPS):
        ys.append(model.h(x) + rng.multivariate_normal(np.zeros(model.p), model.V, TRAJECTORIES))
        x = model.f(x) + rng.multivariate_normal(np.zeros(model.n), model.W, TRAJECTORIES)
    return np.stack(ys, 1)


def lorenz_jacobian(flow: LorenzFlow, x: np.ndarray) -> np.ndarray:
    """``∂f/∂x`` of the Taylor-expanded Lorenz flow at one state, in closed form: with
    ``t_0 = x``, ``t_j = (δ/j) A(x) t_{j−1}``, ``∂t_j = (δ/j)(A(x) ∂t_{j−1} + M(t_{j−1}))``
    where ``M(v) = ∂(A(x) v)/∂x = [[0, 0, 0], [0, 0, −v_1], [0, v_1, 0]]``."""
    step, total = flow.dt / flow.substeps, np.eye(3)
    for _ in range(flow.substeps):
        a = np.array(
            [[-flow.sigma, flow.sigma, 0.0], [flow.rho - x[2], -1.0, 0.0], [x[1], 0.0, -flow.beta]]
        )
        term, d_term, value, d_value = x, np.eye(3), x, np.eye(3)
        for j in range(1, flow.order + 1):
            bend = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, -term[0]], [0.0, term[0], 0.0]])
            d_term = (a @ d_term + bend) * (step / j)
            term = a @ term * (step / j)
            value, d_value = value + term, d_value + d_term
        x, total = value, d_value @ total
    return total


def filterpy_kf(model: StateSpaceModel, ys: np.ndarray) -> np.ndarray:
    estimates = np.empty((len(ys), STEPS, model.n))
    for k, episode in enumerate(ys):
        kf = KalmanFilter(dim_x=model.n, dim_z=model.p)
        kf.x, kf.P = model.x0_mean.copy(), model.x0_cov.copy()
        kf.F, kf.H = model.transition.matrix, model.observation.matrix
        kf.Q, kf.R = model.W, model.V
        for t, y in enumerate(episode):
            kf.update(y)
            estimates[k, t] = kf.x
            kf.predict()
    return estimates


class LorenzEKF(ExtendedKalmanFilter):
    """filterpy's EKF, its predicted mean through the flow and ``F`` its Jacobian."""

    def __init__(self, model: StateSpaceModel) -> None:
        super().__init__(dim_x=model.n, dim_z=model.p)
        self.model = model

    def predict_x(self, u: object = 0) -> None:
        self.F = lorenz_jacobian(self.model.transition, self.x)
        self.x = self.model.f(self.x)


def filterpy_ekf(model: StateSpaceModel, ys: np.ndarray) -> np.ndarray:
    H = model.observation.matrix
    estimates = np.empty((len(ys), STEPS, model.n))
    for k, episode in enumerate(ys):
        ekf = LorenzEKF(model)
        ekf.x, ekf.P, ekf.Q, ekf.R = model.x0_mean.copy(), model.x0_cov.copy(), model.W, model.V
        for t, y in enumerate(episode):
            ekf.update(y, HJacobian=lambda x: H, Hx=model.h)
            estimates[k, t] = ekf.x
            ekf.predict()
    return estimates


def filterpy_ukf(model: StateSpaceModel, ys: np.ndarray) -> np.ndarray:
    estimates = np.empty((len(ys), STEPS, model.n))
    for k, episode in enumerate(ys):
        points = MerweScaledSigmaPoints(model.n, alpha=1.0, beta=2.0, kappa=0.0)
        ukf = UnscentedKalmanFilter(
            dim_x=model.n,
            dim_z=model.p,
            dt=1.0,
            hx=model.h,
            fx=lambda x, dt: model.f(x),
            points=points,
        )
        ukf.x, ukf.P, ukf.Q, ukf.R = model.x0_mean.copy(), model.x0_cov.copy(), model.W, model.V
        ukf.sigmas_f = points.sigma_points(ukf.x, ukf.P)
        for t, y in enumerate(episode):
            ukf.update(y)
            estimates[k, t] = ukf.x
            ukf.predict()
    return estimates


def seconds(run: Callable[[], object], repeats: int) -> list[float]:
    """Wall times of ``repeats`` runs after one untimed warm-up."""
    run()
    measured = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        measured.append(time.perf_counter() - start)
    return measured


def row(name: str, system: str, ours: Callable, theirs: Callable, ys: np.ndarray, args) -> None:
    few = ys[: args.baseline]
    difference = np.abs(ours(ys)[: args.baseline] - theirs(few)).max()
    fast = seconds(lambda: ours(ys), args.repeats)
    slow = [s * TRAJECTORIES / len(few) for s in seconds(lambda: theirs(few), args.repeats)]
    print(
        f"| {name} | {system} | {statistics.median(fast):.3f} | {min(fast):.3f} | "
        f"{max(fast):.3f} | {statistics.median(slow):.2f} | {min(slow):.2f} | {max(slow):.2f} | "
        f"{statistics.median(slow) / statistics.median(fast):.0f}x | {difference:.1e} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, numpy "
        f"{np.__version__}, torch {torch.__version__}; {TRAJECTORIES} trajectories x T = "
        f"{STEPS}; filterpy on {args.baseline}, scaled to {TRAJECTORIES}\n"
    )
    flow, state = LorenzFlow(), np.array([1.0, -2.0, 20.0])
    closed = lorenz_jacobian(flow, state)
    assert np.abs(closed - jacobians(flow, state[None])[0]).max() < 1e-12
    print(
        "| filter | system | ours, batched (s, median) | min | max | filterpy, per trajectory "
        "(s, median) | min | max | speed-up | max abs Δx̂ |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with threadpool_limits(1):
        linear, full = canonical_model(2, 2, 0.0, -20.0), lorenz(LinearMap(np.eye(3)))
        spherical = lorenz(Spherical())
        cases = (
            ("KF", "linear 2 x 2", KalmanEstimator(linear), filterpy_kf, linear),
            ("EKF", "Lorenz, h = I", ExtendedKalmanEstimator(full), filterpy_ekf, full),
            (
                "UKF",
                "Lorenz, spherical h",
                UnscentedKalmanEstimator(spherical),
                filterpy_ukf,
                spherical,
            ),
        )
        for seed, (name, system, estimator, baseline, model) in enumerate(cases):
            ys = simulate(model, seed)
            row(
                name,
                system,
                lambda y, e=estimator: filter_trajectories(e, y),
                lambda y, b=baseline, m=model: b(m, y),
                ys,
                args,
            )


if __name__ == "__main__":
    main()
