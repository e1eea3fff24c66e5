"""MIMO detection at 20 × 30 BPSK (DetNet's setting): time per detected vector and error rate.

The paths, on the same channel uses of ``mbdl/MIMODetection-v0``'s physics (i.i.d. Gaussian
channels, one per vector, DetNet's SNR definition), each detecting a whole batch at once:

* ``DetNet`` — :class:`mbdl_control.agents.DetNet` with its default recipe, trained in this
  run on 10^5 channel uses drawn at 7…14 dB (its fit time is printed);
* ``SDR, interior point`` — :class:`SemidefiniteRelaxation` with ``solver="CLARABEL"``: one
  cvxpy/Clarabel solve per vector, the published SDR baseline (on :data:`SDR_VECTORS`
  vectors: its speed does not depend on the batch);
* ``SDR, mixing method`` — the same relaxation solved by the batched low-rank mixing method
  (the suite's default);
* ``sphere decoder`` — exact ML (:class:`SphereDecoder`), against Sionna's ``K-best``
  (``k = 32`` and ``16``) at 10 dB, with their error rates side by side;
* 10^5 vectors detected by ``LMMSE`` and by ``DetNet`` (in chunks of 10^4 vectors), the
  detection alone timed.

numpy's BLAS and torch on one thread. Per repeat, vectors / second; the tables give the
median, min and max over repeats and the ratio of medians.

    .venv/bin/python benchmarks/mimo_detection.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from threadpoolctl import threadpool_limits

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import (
    DetNet,
    KBest,
    LinearMMSEDetector,
    SemidefiniteRelaxation,
    SphereDecoder,
)
from mbdl_control.core import Budget
from mbdl_control.envs.comms.mimo_dynamics import MIMODynamics
from mbdl_control.evaluation.budget import CountingEnv
from mbdl_control.models import MIMOSystem

SYSTEM = MIMOSystem(20, 30)
VECTORS, SDR_VECTORS, MANY, CHUNK = 2000, 100, 10**5, 10**4
TRAINING_USES = 100_000


def channel_uses(count: int, snr_db: float, seed: int) -> tuple[dict, np.ndarray]:
    """``count`` episodes of one channel use each: the observation batch and the symbols."""
    dynamics = MIMODynamics(SYSTEM, (snr_db, snr_db), 1, 0.5, 0.0)
    sent = dynamics.transmit([np.random.default_rng([seed, i]) for i in range(count)])
    observation = {
        "received": sent.received,
        "channel": sent.estimate,
        "noise_var": sent.noise_var[:, None],
    }
    return observation, sent.symbols


def timed(run: Callable[[], np.ndarray], vectors: int, repeats: int) -> tuple[list, np.ndarray]:
    """Vectors per second of each repeat, and the last decisions."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        decisions = run()
        rates.append(vectors / (time.perf_counter() - start))
    return rates, decisions


def row(name: str, rates: list[float], baseline: float, ber: float | None) -> str:
    median = statistics.median(rates)
    error = "—" if ber is None else f"{ber:.2e}"
    return (
        f"| {name} | {median:,.0f} | {min(rates):,.0f} | {max(rates):,.0f} | "
        f"{median / baseline:.1f}x | {error} |"
    )


def trained_detnet() -> DetNet:
    env = CountingEnv(
        gym.make("mbdl/MIMODetection-v0", users=20, antennas=30, snr_db=[7.0, 14.0]),
        Budget(TRAINING_USES, TRAINING_USES),
    )
    detnet = DetNet(SYSTEM)
    start = time.perf_counter()
    detnet.fit(env, Budget(TRAINING_USES, TRAINING_USES), seed=0)
    print(f"DetNet fit on {TRAINING_USES} channel uses: {time.perf_counter() - start:.1f} s\n")
    return detnet


def detnet_vs_sdr(detnet: DetNet, repeats: int) -> None:
    observation, symbols = channel_uses(VECTORS, 10.0, 1)
    head = {key: value[:SDR_VECTORS] for key, value in observation.items()}
    paths = {
        "SDR, interior point (Clarabel; published baseline)": (
            SemidefiniteRelaxation(SYSTEM, solver="CLARABEL"),
            head,
            1,
        ),
        "SDR, mixing method (batched)": (SemidefiniteRelaxation(SYSTEM), observation, repeats),
        "DetNet (batched torch)": (detnet, observation, repeats),
    }
    print("## DetNet against SDR, 20 x 30 BPSK, 10 dB\n")
    print("| path | vectors/s (median) | min | max | ratio to interior-point SDR | BER |")
    print("|---|---|---|---|---|---|")
    baseline = None
    for name, (agent, batch, times) in paths.items():
        count = len(batch["received"])
        rates, decisions = timed(lambda a=agent, b=batch: a.predict(b)[0], count, times)
        baseline = baseline or statistics.median(rates)
        ber = float(np.mean(decisions != symbols[:count]))
        print(row(f"{name}, {count} vectors", rates, baseline, ber))


def sphere_vs_kbest(repeats: int) -> None:
    observation, symbols = channel_uses(VECTORS, 10.0, 2)
    sphere = SphereDecoder(SYSTEM)
    paths = {
        "sphere decoder (exact ML)": sphere,
        "Sionna K-best, k = 32": KBest(SYSTEM, k=32),
        "Sionna K-best, k = 16": KBest(SYSTEM, k=16),
    }
    print(f"\n## Sphere decoder against K-best, 20 x 30 BPSK, 10 dB, {VECTORS} vectors\n")
    print("| path | vectors/s (median) | min | max | ratio to the sphere decoder | BER |")
    print("|---|---|---|---|---|---|")
    baseline = None
    for name, agent in paths.items():
        rates, decisions = timed(lambda a=agent: a.predict(observation)[0], VECTORS, repeats)
        baseline = baseline or statistics.median(rates)
        print(row(name, rates, baseline, float(np.mean(decisions != symbols))))
    nodes = sphere.diagnostics().get("nodes_per_vector")
    print(f"\nsphere decoder: {nodes:.1f} nodes examined per vector")


def many_vectors(detnet: DetNet) -> None:
    print(f"\n## {MANY:,} vectors, 20 x 30 BPSK, 10 dB, one core (goal ≤ 5 s each)\n")
    print("| detector | detection time (s) | BER |\n|---|---|---|")
    chunks = [channel_uses(CHUNK, 10.0, 100 + index) for index in range(MANY // CHUNK)]
    for name, agent in (("LMMSE", LinearMMSEDetector(SYSTEM)), ("DetNet", detnet)):
        seconds, errors = 0.0, 0
        for observation, symbols in chunks:
            start = time.perf_counter()
            decisions = agent.predict(observation)[0]
            seconds += time.perf_counter() - start
            errors += int(np.count_nonzero(decisions != symbols))
        print(f"| {name} | {seconds:.2f} | {errors / (MANY * SYSTEM.users):.2e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    print(
        f"{platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__} (1 thread)\n"
    )
    torch.set_num_threads(1)
    with threadpool_limits(1):
        detnet = trained_detnet()
        detnet_vs_sdr(detnet, repeats)
        sphere_vs_kbest(repeats)
        many_vectors(detnet)


if __name__ == "__main__":
    main()
