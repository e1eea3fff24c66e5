r"""The MIMO link's physics, shared by ``mbdl/MIMODetection-v0`` and its batched twin.

Pure functions of a *list of generators* and arrays with a leading batch axis
(:class:`MIMODynamics`): a single env calls them with its one generator (a batch of one), so a
batched env whose env ``i`` owns the generator a single env seeded alike owns draws exactly
the same channels, symbols and noise, bit for bit. Everything is in the real-valued
representation of :mod:`mbdl_control.models.mimo`.

Per episode an env's generator gives, in this order: the episode's SNR (one uniform draw,
only when ``snr_db`` is a range), the channel (``2 × N × K`` standard normals for a complex
constellation, ``N × K`` for BPSK; none for the fixed Toeplitz channel), the direction of the
channel-estimation error (as many normals as the channel has, drawn whatever ``mismatch`` is,
so that no mismatch changes the draws), then ``T × transmit_dim`` level indices
(``integers(0, L)``) and ``T × receive_dim`` standard normals of noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mbdl_control.models import MIMOSystem, real_channel, symmetric_sqrt

#: the correlation of DetNet's fixed channel: its Gram is ``N`` times the Toeplitz matrix
#: ``0.55^{|i−j|}``
TOEPLITZ_CORRELATION = 0.55


def exponential_correlation(size: int, rho: float) -> np.ndarray:
    """The Toeplitz correlation matrix ``R_ij = ρ^{|i−j|}`` of ``size × size``."""
    lags = np.abs(np.arange(size)[:, None] - np.arange(size))
    return rho**lags


def toeplitz_channel(system: MIMOSystem) -> np.ndarray:
    r"""DetNet's fixed channel in the real representation: the ``N × K`` matrix
    ``√N [T^{1/2}; 0]`` with ``T_ij = 0.55^{|i−j|}``, so that ``HᵀH = N T`` (the Gram, which
    is all that detection depends on, is that of the published 0.55-Toeplitz channel; the
    published matrix itself is a file that is not reproduced). Real for every constellation."""
    users, antennas = system.users, system.antennas
    root = symmetric_sqrt(exponential_correlation(users, TOEPLITZ_CORRELATION))
    channel = np.zeros((antennas, users))
    channel[:users] = math.sqrt(antennas) * root
    return real_channel(channel + 0j) if system.is_complex else channel


def linear_snr(snr_db: np.ndarray) -> np.ndarray:
    return 10.0 ** (np.asarray(snr_db, dtype=np.float64) / 10.0)


@dataclass(frozen=True)
class Transmission:
    """A batch of episodes: each row's true ``channel`` and the receiver's ``estimate``
    ``(B, n_r, n_t)``, the noise variance per real dimension ``noise_var`` ``(B,)``, the
    level indices sent ``symbols`` ``(B, T, n_t)`` and the samples received ``received``
    ``(B, T, n_r)``."""

    channel: np.ndarray
    estimate: np.ndarray
    noise_var: np.ndarray
    symbols: np.ndarray
    received: np.ndarray


@dataclass(frozen=True, eq=False)
class MIMODynamics:
    r"""The link of an env, drawing from one generator per row of a batch (module docstring).

    ``snr_db`` is ``(low, high)``: one SNR, or a range whose linear SNR is drawn uniformly per
    episode (DetNet's training draws ``U(10^{0.7}, 10^{1.4})``). The noise variance per real
    dimension is ``σ² = E_s ‖H‖_F² / (n_t · SNR)`` (``E_s`` the mean energy of one real
    dimension's symbol): DetNet's definition for BPSK, ``y = Hx + w √(tr(HᵀH)/K) / √SNR``,
    kept for every constellation (for a complex one the complex noise variance is
    ``‖H_c‖_F² / (K · SNR)``).
    ``correlation`` is the Kronecker channel's ``ρ``: ``H = R^{1/2} G R^{1/2}`` with
    exponential correlation ``ρ^{|i−j|}`` at both ends.
    """

    system: MIMOSystem
    snr_db: tuple[float, float]
    block_length: int
    correlation: float
    mismatch: float

    def snrs(self, generators: Sequence[np.random.Generator]) -> np.ndarray:
        """The linear SNR of each row's episode ``(B,)``."""
        low, high = linear_snr(self.snr_db[0]), linear_snr(self.snr_db[1])
        if low == high:
            return np.full(len(generators), float(low))
        return np.array([rng.uniform(low, high) for rng in generators])

    def _gaussian_channel(self, rng: np.random.Generator) -> np.ndarray:
        """One channel of the i.i.d. law (``CN(0, 1)`` entries; ``N(0, 1)`` for BPSK) in
        the real representation."""
        system = self.system
        if not system.is_complex:
            return rng.standard_normal((system.antennas, system.users))
        parts = rng.standard_normal((2, system.antennas, system.users)) / math.sqrt(2.0)
        return real_channel(parts[0] + 1j * parts[1])

    def _draw_channel(self, rng: np.random.Generator) -> np.ndarray:
        system = self.system
        if system.channel == "toeplitz":
            return toeplitz_channel(system)
        channel = self._gaussian_channel(rng)
        if system.channel == "kronecker":
            receive = symmetric_sqrt(exponential_correlation(system.antennas, self.correlation))
            transmit = symmetric_sqrt(exponential_correlation(system.users, self.correlation))
            if system.is_complex:
                receive, transmit = real_channel(receive + 0j), real_channel(transmit + 0j)
            channel = receive @ channel @ transmit
        return channel

    def _estimate(self, channel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``Ĥ = H + ε ‖H‖_F E / ‖E‖_F``: ``E`` from the channel's own law of i.i.d. entries
        (complex Gaussian for a complex constellation, so ``Ĥ`` keeps the real
        representation's structure), relative Frobenius error exactly ``ε = mismatch``."""
        direction = self._gaussian_channel(rng)
        scale = self.mismatch * np.linalg.norm(channel) / np.linalg.norm(direction)
        return channel + scale * direction

    def transmit(self, generators: Sequence[np.random.Generator]) -> Transmission:
        """A new episode per generator: its channel, estimate, noise level and block."""
        system, length = self.system, self.block_length
        snrs = self.snrs(generators)
        channels, estimates, symbols, received, noise_vars = [], [], [], [], []
        levels = system.levels
        for rng, snr in zip(generators, snrs, strict=True):
            channel = self._draw_channel(rng)
            estimate = self._estimate(channel, rng)
            noise_var = (
                system.symbol_energy * float(np.sum(channel**2)) / (system.transmit_dim * snr)
            )
            sent = rng.integers(0, system.level_count, size=(length, system.transmit_dim))
            noise = rng.standard_normal((length, system.receive_dim))
            channels.append(channel)
            estimates.append(estimate)
            noise_vars.append(noise_var)
            symbols.append(sent)
            received.append(levels[sent] @ channel.T + math.sqrt(noise_var) * noise)
        return Transmission(
            np.array(channels),
            np.array(estimates),
            np.array(noise_vars),
            np.array(symbols, dtype=np.int64),
            np.array(received),
        )
