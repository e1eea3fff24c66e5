"""Sparse recovery on the LISTA benchmark: NMSE against iterations, throughput and
time-to-accuracy of ISTA, FISTA and ADMM against cvxpy's LASSO, and the debiased LASSO.

The problem is ``mbdl/SparseRecovery-v0`` at its defaults (``H`` 250 × 500,
``gaussian_sensing_matrix(250, 500, 0)``, ``p = 0.1``, noiseless), its signals drawn by the
env's own :class:`~mbdl_control.envs.inverse.inverse_dynamics.SparseDynamics` (signal ``i``
of a set from ``default_rng([seed, i])``). The LASSO's ``λ = 0.01``, ISTA's step
``1/‖H‖₂²``, ADMM's penalty its default ``ρ = 3λ``. NMSE is ``10 log10(Σ‖ŝ − s‖²/Σ‖s‖²)``.

* ``--curve``: NMSE at 1, 2, 4, …, 1024 iterations on 1000 signals, and the iterations each
  method needs to reach −30 dB (every iterate scored: one pass of 1024 iterations per
  method, with the blocks' own iteration functions; the last iterate is checked equal to the
  solvers' ``ista``/``admm``).
* default: signals recovered per second by the batched solvers at 16 iterations and at their
  −30 dB iteration counts (:data:`TO_30_DB`) over 10^4 signals (ISTA's 957 iterations over
  10^3: its rate does not depend on the batch); then cvxpy's LASSO (built once, a parameter
  per signal) solved one signal at a time by Clarabel and by OSQP on :data:`CVXPY_SIGNALS`
  signals, each solve reaching the LASSO's −35.6 dB; the time per signal to reach −30 dB and
  the ratio to cvxpy/Clarabel. :func:`extra_paths` is where further recoverers (the trained
  16-layer LISTA) join the same table.
* ``--oracle``: the debiased LASSO (the envs' oracle) against the LASSO, least squares on the
  LASSO's support, least squares on the true support and the genie bound, noiseless and at
  30 and 20 dB, on 1000 signals; and at ``mbdl/SuperResolution-v0``'s defaults.

numpy's BLAS on one thread (threadpoolctl). Rates: median, min and max over repeats.

    .venv/bin/python benchmarks/sparse_recovery.py [--repeats 3] [--curve] [--oracle]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import cvxpy as cp
import gymnasium as gym
import numpy as np
from threadpoolctl import threadpool_limits

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import ADMM, FISTA, ISTA
from mbdl_control.blocks.sparse_iterations import admm_iterates, ista_iterates, lipschitz_step
from mbdl_control.envs.inverse.inverse_dynamics import SparseDynamics
from mbdl_control.models import SparseLinearModel, noise_std_for_snr

REGULARIZATION = 0.01
CURVE_ITERATIONS = tuple(2**k for k in range(11))
CURVE_SIGNALS, MANY, CVXPY_SIGNALS = 1000, 10_000, 20
TARGET_DB = -30.0
#: the iterations each method needs to reach −30 dB on the benchmark (``--curve``)
TO_30_DB = {"ISTA": 957, "FISTA": 84, "ADMM": 16}

Recoverer = Callable[[np.ndarray], np.ndarray]


def benchmark_model(snr_db: float | None = None) -> SparseLinearModel:
    """The env's true model at its defaults (noiseless, or at ``snr_db``)."""
    model = gym.make("mbdl/SparseRecovery-v0").unwrapped.true_model
    return model.replace(noise_std=noise_std_for_snr(model.sensing, model.sparsity, snr_db))


def signals_of(model: SparseLinearModel, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` measurements ``(count, m)`` and signals ``(count, n)`` of the env's law."""
    drawn = SparseDynamics.of(model).draw([np.random.default_rng([seed, i]) for i in range(count)])
    return drawn.measurements, drawn.signal


def nmse_db(estimates: np.ndarray, signals: np.ndarray) -> float:
    return float(10 * np.log10(np.sum((estimates - signals) ** 2) / np.sum(signals**2)))


def curve(model: SparseLinearModel) -> None:
    """NMSE against iterations, every iterate scored in one pass of each solver."""
    x, s = signals_of(model, CURVE_SIGNALS, seed=1)
    penalty = ADMM(model, regularization=REGULARIZATION).penalty
    step, last = lipschitz_step(model.sensing), CURVE_ITERATIONS[-1]
    passes = {
        "ISTA": ista_iterates(x, model.sensing, REGULARIZATION, step, last),
        "FISTA": ista_iterates(x, model.sensing, REGULARIZATION, step, last, momentum=True),
        f"ADMM (rho = {penalty:g})": admm_iterates(x, model.sensing, REGULARIZATION, penalty, last),
    }
    print(f"## NMSE (dB) against iterations, {CURVE_SIGNALS} noiseless signals, λ = 0.01\n")
    print("| method | " + " | ".join(map(str, CURVE_ITERATIONS)) + " | iterations to -30 dB |")
    print("|---|" + "---|" * (len(CURVE_ITERATIONS) + 1))
    for name, iterates in passes.items():
        errors = [nmse_db(estimate, s) for estimate in iterates]
        reached = next((k + 1 for k, e in enumerate(errors) if e <= TARGET_DB), None)
        cells = " | ".join(f"{errors[k - 1]:.1f}" for k in CURVE_ITERATIONS)
        print(f"| {name} | {cells} | {reached or f'> {last}'} |")
    print()


def rates(run: Recoverer, x: np.ndarray, repeats: int) -> tuple[list[float], np.ndarray]:
    """Signals per second of each repeat, and the last estimates."""
    found = []
    for _ in range(repeats):
        start = time.perf_counter()
        estimates = run(x)
        found.append(len(x) / (time.perf_counter() - start))
    return found, estimates


def solver_paths(model: SparseLinearModel) -> list[tuple[str, Recoverer, int]]:
    """(label, recoverer, signals) of the batched model-based solvers."""
    paths = []
    for name, cls in (("ISTA", ISTA), ("FISTA", FISTA), ("ADMM", ADMM)):
        for iterations in sorted({16, TO_30_DB[name]}):
            agent = cls(model, iterations=iterations, regularization=REGULARIZATION)
            count = CURVE_SIGNALS if iterations > 500 else MANY
            paths.append((f"{name}, {iterations} iterations", agent.recover, count))
    return paths


def extra_paths(model: SparseLinearModel) -> list[tuple[str, Recoverer, int]]:
    """Further recoverers for the same table: (label, measurements ``(B, m)`` → estimates
    ``(B, n)``, signals). The place for the trained 16-layer LISTA (train it here, return
    ``("LISTA, 16 layers", agent.predict-like callable, MANY)``)."""
    return []


def cvxpy_recoverer(sensing: np.ndarray, solver: str) -> Recoverer:
    """cvxpy's LASSO, built once, solved one signal at a time by ``solver``."""
    s, x = cp.Variable(sensing.shape[1]), cp.Parameter(sensing.shape[0])
    problem = cp.Problem(
        cp.Minimize(0.5 * cp.sum_squares(x - sensing @ s) + REGULARIZATION * cp.norm1(s))
    )
    assert problem.is_dpp()

    def recover(measurements: np.ndarray) -> np.ndarray:
        solutions = []
        for row in measurements:
            x.value = row
            problem.solve(solver=solver)
            solutions.append(s.value)
        return np.array(solutions)

    return recover


def throughput(model: SparseLinearModel, repeats: int) -> None:
    x, s = signals_of(model, MANY, seed=2)
    rows = []
    for solver in ("CLARABEL", "OSQP"):
        recover = cvxpy_recoverer(model.sensing, solver)
        found, estimates = rates(recover, x[:CVXPY_SIGNALS], 1)
        error = nmse_db(estimates, s[:CVXPY_SIGNALS])
        rows.append((f"cvxpy + {solver}, one at a time, {CVXPY_SIGNALS} signals", found, error))
    for name, recover, count in solver_paths(model) + extra_paths(model):
        found, estimates = rates(recover, x[:count], repeats if count == MANY else 1)
        rows.append((f"{name}, {count} signals", found, nmse_db(estimates, s[:count])))
    clarabel, osqp = (statistics.median(found) for _, found, _ in rows[:2])
    print("## Throughput, 250 x 500 noiseless, λ = 0.01, one core\n")
    print("| path | signals/s (median) | min | max | ratio to cvxpy + Clarabel | NMSE (dB) |")
    print("|---|---|---|---|---|---|")
    for name, found, error in rows:
        median = statistics.median(found)
        print(
            f"| {name} | {median:,.0f} | {min(found):,.0f} | {max(found):,.0f} | "
            f"{median / clarabel:,.1f}x | {error:.1f} |"
        )
    print(f"\n## Time per signal to {TARGET_DB:.0f} dB (the paths that reach it)\n")
    print("| path | ms per signal | speed-up over cvxpy + Clarabel | over cvxpy + OSQP |")
    print("|---|---|---|---|")
    for name, found, error in rows:
        if error <= TARGET_DB:
            median = statistics.median(found)
            print(
                f"| {name} | {1e3 / median:.3g} | {median / clarabel:,.1f}x | "
                f"{median / osqp:,.1f}x |"
            )
    print()


ORACLE_PROBLEMS = (
    ("mbdl/SparseRecovery-v0", None),
    ("mbdl/SparseRecovery-v0", 30.0),
    ("mbdl/SparseRecovery-v0", 20.0),
    ("mbdl/SuperResolution-v0", 30.0),
)


def least_squares_on(model: SparseLinearModel, x: np.ndarray, supports: np.ndarray) -> np.ndarray:
    """Least squares (minimum norm) per row on the non-zeros of ``supports`` ``(B, n)``."""
    estimates = np.zeros(supports.shape)
    for row, support in enumerate(supports != 0):
        columns = model.sensing[:, support]
        estimates[row, support] = np.linalg.lstsq(columns, x[row], rcond=None)[0]
    return estimates


def oracle() -> None:
    print(f"## The debiased LASSO (the envs' oracle), {CURVE_SIGNALS} signals, NMSE (dB)\n")
    print(
        "| problem | LASSO (FISTA, 100 it.) | least squares on its support | debiased LASSO | "
        "least squares on the true support | genie bound | debiased LASSO, s |"
    )
    print("|---|---|---|---|---|---|---|")
    for env_id, snr_db in ORACLE_PROBLEMS:
        env = gym.make(env_id, snr_db=snr_db).unwrapped
        model = env.true_model
        x, s = signals_of(model, CURVE_SIGNALS, seed=3)
        lasso = FISTA(model).recover(x)
        start = time.perf_counter()
        debiased = env.oracle().recover(x)
        seconds = time.perf_counter() - start
        errors = [
            nmse_db(estimate, s)
            for estimate in (lasso, least_squares_on(model, x, lasso), debiased)
        ]
        errors.append(nmse_db(least_squares_on(model, x, s), s))
        bound = env.performance_bound()
        bound_db = f"{10 * np.log10(bound):.1f}" if bound > 0 else "-inf (0)"
        cells = " | ".join(f"{error:.1f}" for error in errors)
        print(f"| {env_id}, SNR {snr_db or '∞'} dB | {cells} | {bound_db} | {seconds:.1f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--curve", action="store_true", help="NMSE against iterations")
    parser.add_argument("--oracle", action="store_true", help="the debiased LASSO's accuracy")
    arguments = parser.parse_args()
    print(
        f"{platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}, "
        f"cvxpy {cp.__version__} (BLAS on 1 thread)\n"
    )
    with threadpool_limits(1):
        model = benchmark_model()
        if arguments.curve:
            curve(model)
        elif arguments.oracle:
            oracle()
        else:
            throughput(model, arguments.repeats)


if __name__ == "__main__":
    main()
