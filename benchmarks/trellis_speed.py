"""Detected symbols per second of the batched trellis (Viterbi, BCJR) against pure Python.

The paths, on the same random log-likelihoods ``(blocks, T, M**L)`` of BPSK at ``L = 4``:

* ``numpy, batched`` — :func:`mbdl_control.blocks.trellis.viterbi` / ``bcjr``, a batch of
  ``64 × 5000`` symbols (the log-likelihoods given; input checks included);
* ``pure Python`` — the same algorithms written per symbol, per state and per branch in
  plain Python (the baseline), on 4 of the blocks (its speed does not depend on the batch);
  its decisions are checked equal to the batched path's on those blocks.

numpy's BLAS on one thread (threadpoolctl). Per repeat, symbols / second; the table gives
the median, min and max over repeats and the ratio of medians to the baseline. Then a full
SER-vs-SNR curve of the Viterbi detector (9 SNRs × 10^6 symbols, ``h_l = exp(−0.2 l)``,
the model's likelihoods, pilots giving the initial state): simulation, likelihoods and
detection, timed as a whole.

    .venv/bin/python benchmarks/trellis_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from mbdl_control.blocks.channel_likelihood import gaussian_log_likelihoods
from mbdl_control.blocks.trellis import bcjr, state_index, viterbi
from mbdl_control.models import CONSTELLATIONS, ISIChannelModel

SIZE, MEMORY, BLOCKS, LENGTH, BASELINE_BLOCKS = 2, 4, 64, 5000, 4
SNRS_DB = tuple(range(0, 17, 2))
CURVE_BLOCKS = 200  # × LENGTH = 10^6 symbols per SNR


def python_viterbi(ll: list[list[float]], size: int, memory: int) -> list[int]:
    """One block's ML sequence, per symbol and state: the textbook recursion (Forney 1973)."""
    states = size ** (memory - 1)
    metric = [0.0] * states
    back = []
    for branches in ll:
        new, choice = [-math.inf] * states, [0] * states
        for k, value in enumerate(branches):
            previous, state = k // size, k % states
            candidate = metric[previous] + value
            if candidate > new[state]:
                new[state], choice[state] = candidate, previous
        metric = new
        back.append(choice)
    state = max(range(states), key=metric.__getitem__)
    path = []
    for choice in reversed(back):
        path.append(state % size)
        state = choice[state]
    return path[::-1]


def python_bcjr(ll: list[list[float]], size: int, memory: int) -> list[int]:
    """One block's symbol-wise MAP decisions by forward–backward in the log domain."""
    states = size ** (memory - 1)

    def add(a: float, b: float) -> float:
        if a == -math.inf:
            return b
        high, low = max(a, b), min(a, b)
        return high + math.log1p(math.exp(low - high))

    alphas, alpha = [], [0.0] * states
    for branches in ll:
        new = [-math.inf] * states
        for k, value in enumerate(branches):
            new[k % states] = add(new[k % states], alpha[k // size] + value)
        alpha = new
        alphas.append(alpha)
    decisions, beta = [], [0.0] * states
    for alpha, branches in zip(reversed(alphas), reversed(ll), strict=True):
        scores = [-math.inf] * size
        for state in range(states):
            scores[state % size] = add(scores[state % size], alpha[state] + beta[state])
        decisions.append(max(range(size), key=scores.__getitem__))
        new = [-math.inf] * states
        for k, value in enumerate(branches):
            new[k // size] = add(new[k // size], value + beta[k % states])
        beta = new
    return decisions[::-1]


def rates(run: Callable[[], object], symbols: int, repeats: int) -> list[float]:
    """Symbols per second of ``repeats`` timed runs, after one untimed warm-up."""
    run()
    measured = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        measured.append(symbols / (time.perf_counter() - start))
    return measured


def speed_rows(name: str, batched: Callable, python: Callable, ll: np.ndarray, repeats: int):
    """The baseline's row and the batched path's, after checking they decide alike."""
    few = ll[:BASELINE_BLOCKS]
    expected = np.array([python(block.tolist(), SIZE, MEMORY) for block in few])
    assert np.array_equal(batched(few, SIZE, MEMORY), expected), name
    baseline = rates(
        lambda: [python(block.tolist(), SIZE, MEMORY) for block in few], few[..., 0].size, repeats
    )
    fast = rates(lambda: batched(ll, SIZE, MEMORY), ll[..., 0].size, repeats)
    base = statistics.median(baseline)
    for path, runs, count in (
        ("pure Python", baseline, few[..., 0].size),
        ("numpy, batched", fast, ll[..., 0].size),
    ):
        print(
            f"| {name} | {path} | {count} | {statistics.median(runs) / 1e6:.3f} M | "
            f"{min(runs) / 1e6:.3f} M | {max(runs) / 1e6:.3f} M | "
            f"{statistics.median(runs) / base:.0f}x |"
        )


def bcjr_decisions(ll: np.ndarray, size: int, memory: int) -> np.ndarray:
    return bcjr(ll, size, memory).argmax(axis=-1)


def speed_table(repeats: int) -> None:
    ll = np.random.default_rng(0).standard_normal((BLOCKS, LENGTH, SIZE**MEMORY))
    print("| algorithm | path | symbols | symbols/s (median) | min | max | ratio |")
    print("|---|---|---|---|---|---|---|")
    speed_rows("Viterbi", viterbi, python_viterbi, ll, repeats)
    speed_rows("BCJR", bcjr_decisions, python_bcjr, ll, repeats)


def ser_curve() -> None:
    """Viterbi's SER at 9 SNRs on 10^6 symbols each, timed as a whole."""
    rng = np.random.default_rng(1)
    taps, points = np.exp(-0.2 * np.arange(MEMORY)), CONSTELLATIONS["bpsk"]
    start = time.perf_counter()
    print("\n| SNR (dB) | Viterbi SER |\n|---|---|")
    for snr in SNRS_DB:
        model = ISIChannelModel(taps, 10 ** (-snr / 10), points)
        symbols = rng.integers(0, SIZE, (CURVE_BLOCKS, LENGTH + MEMORY - 1))
        values = points[symbols]
        clean = sum(
            h * values[:, MEMORY - 1 - lag : values.shape[1] - lag] for lag, h in enumerate(taps)
        )
        samples = clean + rng.standard_normal(clean.shape) * math.sqrt(model.noise_var)
        initial = state_index(symbols[:, : MEMORY - 1], SIZE)
        ll = gaussian_log_likelihoods(samples, model)
        detected = viterbi(ll, SIZE, MEMORY, initial)
        print(f"| {snr} | {np.mean(detected != symbols[:, MEMORY - 1 :]):.2e} |")
    print(f"\nSER curve, 9 SNRs x 10^6 symbols: {time.perf_counter() - start:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, numpy "
        f"{np.__version__}; BPSK, L = {MEMORY}, {BLOCKS} blocks x {LENGTH}\n"
    )
    with threadpool_limits(1):
        speed_table(arguments.repeats)
        ser_curve()


if __name__ == "__main__":
    main()
