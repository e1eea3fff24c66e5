"""LISTA on the LISTA benchmark (250 × 500, noiseless, p = 0.1): recovery speed against ISTA
and FISTA run to the same NMSE, its training, and what the published recipe would cost here.

The problem is ``mbdl/SparseRecovery-v0`` at its defaults (training draws its episodes);
test signals are drawn by the env's own law as ``benchmarks/sparse_recovery.py`` draws them
(its ``signals_of``, seeds apart from any fit), whose helpers this script shares (run it from
the repository root). NMSE is ``10 log10(Σ‖ŝ − s‖²/Σ‖s‖²)``.

* default: signals recovered per second by a 16-layer :class:`~mbdl_control.agents.LISTA`
  (``predict``, float32, chunks of 4096; and under torch's bfloat16 autocast) over 10^4
  signals, next to ISTA and FISTA
  (:func:`~mbdl_control.blocks.sparse_iterations.ista`, ``λ = 0.01``, step ``1/‖H‖₂²``,
  float64 numpy) run for the fewest iterations that reach LISTA's NMSE on the first 10^3 of
  them (every iterate scored in one pass; their rates on those 10^3, which do not depend on
  the batch): the table of ratios. LISTA's NMSE is ``--target-db`` (default
  :data:`DEFAULT_RECIPE_DB`, what ``--train`` measured); its speed does not depend on its
  weights.
* ``--train``: LISTA's default recipe fitted on :data:`TRAINING_SIGNALS` labelled signals,
  the held-out NMSE at every validation against the time since ``fit`` began (the time to
  −30 dB, or the best reached), its NMSE on 1000 fresh signals and per layer; then the table
  above for the trained network at its own NMSE.
* ``--published``: the published layer-wise recipe's cost here (ALISTA code: per layer ``t``
  three stages of at least :data:`BETTER_WAIT` Adam steps on 64 fresh signals, the first on
  layer ``t`` alone, the others on layers ``1 … t``; the 1000 validation signals scored every
  10 steps): each stage's time per step at depths 1 … 16, and the total at the least steps a
  stage may take (a stage stops only after 4000 steps without improvement).
* ``--sweep``: the default recipe's NMSE on 1000 fresh signals at 16 layers for 10^2 … 10^5
  labelled signals, at 1 … 16 layers for 10^5, and the quick recipe (``iterations=50``).
  About 40 minutes of training on one idle core.

torch and numpy's BLAS on one thread.

    .venv/bin/python benchmarks/lista.py [--repeats 5] [--target-db DB] [--train]
        [--published] [--sweep]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from functools import partial

import gymnasium as gym
import numpy as np
import torch
from sparse_recovery import REGULARIZATION, nmse_db, rates, signals_of
from threadpoolctl import threadpool_limits

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import LISTA
from mbdl_control.blocks.sparse_iterations import (
    ista,
    ista_iterates,
    ista_iteration,
    lipschitz_step,
)
from mbdl_control.blocks.training import Features
from mbdl_control.core import Budget
from mbdl_control.models import SparseLinearModel

ID = "mbdl/SparseRecovery-v0"
MANY, FEW = 10_000, 1000
TRAINING_SIGNALS = 100_000
GOAL_DB = -30.0
#: the 16-layer NMSE of the default recipe on 10^5 signals (``--train``, 2026-12-02)
DEFAULT_RECIPE_DB = -19.4
#: the published recipe (ALISTA code): minibatch, steps without improvement before a stage
#: ends, steps between validations, validation signals
PUBLISHED_BATCH, BETTER_WAIT, VALIDATE_EVERY, VALIDATION = 64, 4000, 10, 1000
#: the most ISTA iterations tried to reach LISTA's NMSE
MAX_ITERATIONS = 4096

Recoverer = Callable[[np.ndarray], np.ndarray]


def iterations_to_reach(
    target_db: float, model: SparseLinearModel, x: np.ndarray, s: np.ndarray, momentum: bool
) -> int | None:
    """The fewest ISTA (FISTA) iterations whose NMSE on ``(x, s)`` is at most ``target_db``
    (every iterate scored in one pass), ``None`` beyond :data:`MAX_ITERATIONS`."""
    step = lipschitz_step(model.sensing)
    iterates = ista_iterates(x, model.sensing, REGULARIZATION, step, MAX_ITERATIONS, momentum)
    return next((k for k, e in enumerate(iterates, 1) if nmse_db(e, s) <= target_db), None)


def bfloat16(lista: LISTA, measurements: np.ndarray) -> np.ndarray:
    """``lista.predict`` with its products in bfloat16 (torch's CPU autocast; fast where the
    CPU has bfloat16 instructions, as AVX512-BF16), float32 accumulation."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return lista.predict(measurements)[0]


def speed(lista: LISTA, target_db: float, repeats: int, trained: bool) -> None:
    """The table of the module docstring; ``trained``: LISTA's NMSE is its own, else
    ``target_db`` stands for it (the untrained network is as fast)."""
    model = lista.model
    x, s = signals_of(model, MANY, seed=2)
    paths = [
        (f"LISTA, {lista.layers} layers (torch float32)", lambda v: lista.predict(v)[0], MANY),
        (f"LISTA, {lista.layers} layers, bfloat16 autocast", partial(bfloat16, lista), MANY),
    ]
    for name, momentum in (("ISTA", False), ("FISTA", True)):
        iterations = iterations_to_reach(target_db, model, x[:FEW], s[:FEW], momentum)
        if iterations is None:
            print(f"{name} does not reach {target_db:.1f} dB in {MAX_ITERATIONS} iterations\n")
            continue
        run = partial(
            ista,
            sensing=model.sensing,
            regularization=REGULARIZATION,
            step=lipschitz_step(model.sensing),
            iterations=iterations,
            momentum=momentum,
        )
        paths.append((f"{name}, {iterations} iterations (numpy float64)", run, FEW))
    rows = []
    for name, run, count in paths:
        found, estimates = rates(run, x[:count], repeats if count == MANY else 1)
        error = f"{nmse_db(estimates, s[:count]):.1f}"
        if name.startswith("LISTA") and not trained:
            error = f"{target_db:.1f} trained (--train); untrained {error}"
        rows.append((name, count, found, error))
    single, half = (statistics.median(found) for _, _, found, _ in rows[:2])
    print(f"## Recovery speed at LISTA's NMSE ({target_db:.1f} dB), 250 x 500, one core\n")
    print(
        "| path | signals | signals/s (median) | min | max | LISTA float32 / path | "
        "LISTA bfloat16 / path | NMSE (dB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, count, found, error in rows:
        median = statistics.median(found)
        print(
            f"| {name} | {count} | {median:,.0f} | {min(found):,.0f} | {max(found):,.0f} | "
            f"{single / median:.1f}x | {half / median:.1f}x | {error} |"
        )
    print()


class TimedLISTA(LISTA):
    """LISTA that notes the time and the held-out NMSE of every validation."""

    def fit(self, env, budget=None, seed=None):
        self.validations, self.started = [], time.perf_counter()
        return super().fit(env, budget, seed)

    def _score(self, features: Features, signals: torch.Tensor) -> tuple[float]:
        score = super()._score(features, signals)
        self.validations.append((time.perf_counter() - self.started, score[0]))
        return score


def train() -> LISTA:
    env = gym.make(ID)
    lista = TimedLISTA(env.unwrapped.nominal_model)
    report = lista.fit(env, Budget(TRAINING_SIGNALS, TRAINING_SIGNALS), seed=0)
    seconds, scores = zip(*lista.validations, strict=True)
    decibels = 10 * np.log10(scores)
    print(f"## Training the default recipe on {TRAINING_SIGNALS:,} signals\n")
    print(
        f"fit: {report.wall_time:.0f} s ({len(report.curve)} Adam steps; the first validation, "
        f"of the ISTA start, at {seconds[0]:.0f} s, after drawing the signals)\n"
    )
    print("| s since fit began | held-out NMSE (dB) |\n|---|---|")
    for second, decibel in list(zip(seconds, decibels, strict=True))[:: max(1, len(seconds) // 12)]:
        print(f"| {second:.0f} | {decibel:.2f} |")
    reached = next((t for t, d in zip(seconds, decibels, strict=True) if d <= GOAL_DB), None)
    verdict = (
        f"{GOAL_DB:.0f} dB reached at {reached:.0f} s"
        if reached is not None
        else f"{GOAL_DB:.0f} dB not reached: best held-out {decibels.min():.2f} dB"
    )
    x, s = signals_of(lista.model, FEW, seed=1)
    with torch.no_grad():
        layers = lista.network.layer_estimates(torch.as_tensor(x, dtype=torch.float32))
    per_layer = ", ".join(f"{nmse_db(e.double().numpy(), s):.1f}" for e in layers)
    print(f"\n{verdict}; on {FEW} fresh signals {nmse_db(lista.predict(x)[0], s):.2f} dB")
    print(f"per layer (dB): {per_layer}\n")
    return lista


def stage_seconds(depth: int, repeats: int = 10) -> tuple[float, float, float]:
    """Seconds per published step at ``depth``: layer ``depth`` alone (the layers before it
    without gradients), all ``depth`` layers; and one validation."""
    model = gym.make(ID).unwrapped.nominal_model
    x, s = (torch.as_tensor(a, dtype=torch.float32) for a in signals_of(model, VALIDATION, 3))
    batch, target = x[:PUBLISHED_BATCH], s[:PUBLISHED_BATCH]
    deep = LISTA(model, layers=depth).network
    before = LISTA(model, layers=depth - 1).network if depth > 1 else None
    newest = [
        p.detach().clone().requires_grad_() for p in (deep.input_weights[-1], deep.thresholds[-1])
    ]
    feedback = deep.feedback[-1].detach().clone().requires_grad_() if depth > 1 else None
    alone = torch.optim.Adam(newest + ([feedback] if feedback is not None else []))
    together = torch.optim.Adam(deep.parameters())

    def new_layer_step() -> None:
        with torch.no_grad():
            previous = before(batch) if before is not None else torch.zeros_like(target)
        input_weight, threshold = newest
        estimate = ista_iteration(
            previous,
            lambda v: batch @ input_weight.T + (v @ feedback.T if feedback is not None else 0),
            threshold,
        )
        alone.zero_grad()
        ((estimate - target) ** 2).sum().backward()
        alone.step()

    def all_layers_step() -> None:
        together.zero_grad()
        ((deep(batch) - target) ** 2).sum().backward()
        together.step()

    def validate() -> None:
        with torch.no_grad():
            deep(x)

    def seconds(step: Callable[[], None]) -> float:
        step()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    return seconds(new_layer_step), seconds(all_layers_step), seconds(validate)


def published() -> None:
    depths = (1, 2, 4, 8, 12, 16)
    measured = np.array([stage_seconds(depth) for depth in depths])
    print("## The published layer-wise recipe here: time per step\n")
    print("| depth t | layer t alone, ms/step | layers 1..t, ms/step | validation of 1000, ms |")
    print("|---|---|---|---|")
    for depth, (alone, together, validation) in zip(depths, measured, strict=True):
        print(f"| {depth} | {1e3 * alone:.1f} | {1e3 * together:.1f} | {1e3 * validation:.1f} |")
    every = np.arange(1, 17)
    alone, together, validation = (np.interp(every, depths, column) for column in measured.T)
    per_stage = BETTER_WAIT * np.array([alone, together, together]).sum(0)
    validations = 3 * BETTER_WAIT / VALIDATE_EVERY * validation
    total = float((per_stage + validations).sum())
    print(
        f"\nat least {total / 3600:.1f} h on one core: 16 layers x 3 stages x at least "
        f"{BETTER_WAIT} steps of {PUBLISHED_BATCH} fresh signals (a stage ends after "
        f"{BETTER_WAIT} steps without a better validation, or at 200 000), of which "
        f"{validations.sum() / 3600:.1f} h scoring the validation signals every "
        f"{VALIDATE_EVERY} steps\n"
    )


def sweep() -> None:
    env = gym.make(ID)
    model = env.unwrapped.nominal_model
    x, s = signals_of(model, FEW, seed=1)
    runs = [(16, count, {}) for count in (100, 1000, 10_000, TRAINING_SIGNALS)]
    runs += [(layers, TRAINING_SIGNALS, {}) for layers in (1, 2, 4, 8, 12)]
    runs.append((16, 10_000, {"iterations": 50}))
    print("## NMSE on 1000 fresh signals after training (default recipe unless said)\n")
    print("| layers | labelled signals | recipe | fit, s | NMSE (dB) | untrained (ISTA) |")
    print("|---|---|---|---|---|---|")
    for layers, count, recipe in runs:
        lista = LISTA(model, layers=layers, **recipe)
        untrained = nmse_db(lista.predict(x)[0], s)
        report = lista.fit(env, Budget(count, count), seed=0)
        label = ", ".join(f"{k}={v}" for k, v in recipe.items()) or "default"
        print(
            f"| {layers} | {count:,} | {label} | {report.wall_time:.0f} | "
            f"{nmse_db(lista.predict(x)[0], s):.2f} | {untrained:.2f} |",
            flush=True,
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target-db", type=float, default=DEFAULT_RECIPE_DB)
    parser.add_argument("--train", action="store_true", help="train the default recipe")
    parser.add_argument("--published", action="store_true", help="the published recipe's cost")
    parser.add_argument("--sweep", action="store_true", help="NMSE against layers and data")
    arguments = parser.parse_args()
    print(
        f"{platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__} (1 thread)\n"
    )
    torch.set_num_threads(1)
    with threadpool_limits(1):
        if arguments.published:
            published()
        elif arguments.sweep:
            sweep()
        elif arguments.train:
            lista = train()
            x, s = signals_of(lista.model, FEW, seed=1)
            speed(lista, nmse_db(lista.predict(x)[0], s), arguments.repeats, trained=True)
        else:
            untrained = LISTA(gym.make(ID).unwrapped.nominal_model)
            speed(untrained, arguments.target_db, arguments.repeats, trained=False)


if __name__ == "__main__":
    main()
