r"""The ISI channel's physics, shared by ``mbdl/ISIChannel-v0`` and its batched twin.

The channel as pure functions of a *list of generators* and arrays with a leading batch axis
(:class:`ISIChannelDynamics`), the channel an env simulates, and its matched-filter bound. The
single env calls them with its one generator (a batch of one), so a batched env whose env
``i`` owns the generator a single env seeded alike owns draws exactly the same symbols and
noise and computes the same samples, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from mbdl_control.models import CONSTELLATIONS, ISIChannelModel

#: the relative standard deviation of a block-faded tap, ``h_l (1 + √0.1 n_l)`` (ViterbiNet's
#: CSI-uncertainty frames)
FADING_STD = math.sqrt(0.1)
#: the Poisson channel's dark count: the rate of a sample when every symbol is "off"
DARK_RATE = 1.0


def q_function(x: float) -> float:
    """The Gaussian tail ``Q(x) = P(N(0, 1) > x)``."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def exponential_taps(memory: int, gamma: float) -> np.ndarray:
    """``h_l = e^{−γ l}``, ``l = 0 … L−1``: ViterbiNet's channel, not normalized."""
    return np.exp(-gamma * np.arange(memory))


def poisson_gain(snr_db: float, constellation: np.ndarray) -> float:
    """The Poisson channel's taps are ``g h_l`` with ``g = √SNR / (max c − min c)``: the
    symbol of the highest intensity then adds ``√SNR h_l`` to the rate."""
    return math.sqrt(10.0 ** (snr_db / 10.0)) / float(np.ptp(constellation))


def true_channel(
    memory: int, gamma: float, snr_db: float, constellation: str, kind: str
) -> ISIChannelModel:
    """The channel an env simulates (its mean channel where it fades)."""
    points = CONSTELLATIONS[constellation]
    taps = exponential_taps(memory, gamma)
    if kind == "poisson":
        taps = poisson_gain(snr_db, points) * taps
    return ISIChannelModel(taps, 10.0 ** (-snr_db / 10.0), points, kind)


def matched_filter_bound(model: ISIChannelModel, fading: str | None) -> float | None:
    r"""The SER of a genie that knows every other symbol, a lower bound on any detector's.

    The genie's sufficient statistic for ``s_i`` is ``‖h‖ s_i + N(0, σ_w²)``, so for M-PAM of
    minimum distance ``d`` it errs with probability ``2(1 − 1/M) Q(d‖h‖/(2σ_w))`` (BPSK:
    ``Q(‖h‖/σ_w)``). Under block fading ``Q(a√x)`` is convex in ``x = ‖h‖²``, so by Jensen its
    mean is at least its value at ``E‖h‖² = (1 + 0.1)‖h̄‖²``. ``None`` for the Poisson
    channel: no closed form, and an estimate would not be a bound.
    """
    if model.kind != "gaussian":
        return None
    points = np.sort(model.constellation)
    size, distance = len(points), float(np.min(np.diff(points)))
    energy = float(model.taps @ model.taps) * (1.0 + FADING_STD**2 if fading else 1.0)
    argument = distance * math.sqrt(energy) / (2.0 * math.sqrt(model.noise_var))
    return 2.0 * (1.0 - 1.0 / size) * q_function(argument)


def channel_output(taps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``Σ_{l<L} h_l s_{i−l}`` for every ``i`` whose ``L−1`` predecessors are in ``values``:
    taps ``(B, L)`` and symbol values ``(B, S)`` give ``(B, S − L + 1)``; the same sum order
    for every batch size."""
    memory = taps.shape[1]
    count = values.shape[1] - memory + 1
    output = np.zeros((values.shape[0], count))
    for lag in range(memory):
        start = memory - 1 - lag
        output += taps[:, lag : lag + 1] * values[:, start : start + count]
    return output


@dataclass(frozen=True)
class BlockLayout:
    """What an episode's block sends: ``L − 1`` unknown symbols, the pilots, the data."""

    memory: int
    pilot_length: int
    block_length: int

    @property
    def preamble(self) -> int:
        """The unknown symbols before the pilots: the first received sample's predecessors."""
        return self.memory - 1

    @property
    def sent(self) -> int:
        return self.preamble + self.pilot_length + self.block_length

    @property
    def received(self) -> int:
        """Samples received: one per pilot and data symbol."""
        return self.pilot_length + self.block_length


@dataclass(frozen=True)
class Block:
    """Every env's symbols ``(B, sent)`` (indices) and samples ``(B, received)``."""

    symbols: np.ndarray
    samples: np.ndarray


@dataclass(frozen=True, eq=False)
class ISIChannelDynamics:
    """The channel of an env, drawing from one generator per row of a batch.

    Per episode an env's generator gives, in this order: with block fading, ``L`` standard
    normals (the taps); then per block ``sent`` symbol indices (``integers(0, M)``) and the
    noise: ``received`` standard normals, or one Poisson draw per sample given its rate.
    """

    model: ISIChannelModel
    layout: BlockLayout
    fading: str | None

    def episode_taps(self, generators: Sequence[np.random.Generator]) -> np.ndarray:
        """The taps of a new episode per generator, ``(B, L)``: the model's, or block faded
        ``h_l (1 + √0.1 n_l)`` (clipped at 0 for the Poisson channel, whose rate must stay
        non-negative)."""
        taps = np.tile(self.model.taps, (len(generators), 1))
        if self.fading is None:
            return taps
        draws = np.stack([rng.standard_normal(self.model.memory) for rng in generators])
        faded = taps * (1.0 + FADING_STD * draws)
        return np.maximum(faded, 0.0) if self.model.kind == "poisson" else faded

    def levels(self) -> np.ndarray:
        """What each symbol index puts on the channel: its constellation point, or for the
        Poisson channel its intensity ``c − min c ≥ 0`` (BPSK: ``s + 1 ∈ {0, 2}``)."""
        points = self.model.constellation
        return points - points.min() if self.model.kind == "poisson" else points

    def transmit(self, generators: Sequence[np.random.Generator], taps: np.ndarray) -> Block:
        """A block per generator through its taps ``(B, L)``."""
        layout = self.layout
        symbols = np.stack([rng.integers(0, self.model.size, layout.sent) for rng in generators])
        mean = channel_output(taps, self.levels()[symbols])
        return Block(symbols, self._add_noise(generators, mean))

    def _add_noise(self, generators: Sequence[np.random.Generator], mean: np.ndarray) -> np.ndarray:
        if self.model.kind == "poisson":
            rates = DARK_RATE + mean
            counts = [rng.poisson(rate) for rng, rate in zip(generators, rates, strict=True)]
            return np.stack(counts).astype(np.float64)
        noise = np.stack([rng.standard_normal(self.layout.received) for rng in generators])
        return mean + math.sqrt(self.model.noise_var) * noise

    def observations(self, block: Block) -> dict[str, np.ndarray]:
        """A batch of observations: the data samples, the pilot samples and symbols."""
        pilots = self.layout.pilot_length
        first = self.layout.preamble
        return {
            "samples": block.samples[:, pilots:].copy(),
            "pilot_samples": block.samples[:, :pilots].copy(),
            "pilot_symbols": block.symbols[:, first : first + pilots].copy(),
        }

    def data_symbols(self, block: Block) -> np.ndarray:
        """The transmitted data symbol indices, ``(B, block_length)``."""
        return block.symbols[:, self.layout.preamble + self.layout.pilot_length :]

    def observation_space(self) -> gym.spaces.Dict:
        layout, size = self.layout, self.model.size
        low = 0.0 if self.model.kind == "poisson" else -np.inf

        def samples(count: int) -> gym.spaces.Box:
            return gym.spaces.Box(low, np.inf, (count,), np.float64)

        return gym.spaces.Dict(
            {
                "samples": samples(layout.block_length),
                "pilot_samples": samples(layout.pilot_length),
                "pilot_symbols": gym.spaces.MultiDiscrete(
                    np.full(layout.pilot_length, size, dtype=np.int64)
                ),
            }
        )

    def action_space(self) -> gym.spaces.MultiDiscrete:
        return gym.spaces.MultiDiscrete(
            np.full(self.layout.block_length, self.model.size, dtype=np.int64)
        )
