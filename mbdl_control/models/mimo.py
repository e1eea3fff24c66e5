r"""The MIMO link ``y = Hx + w``: what a detector designer may know about it.

K users each send one symbol to a receiver with N antennas over a flat channel ``H``. Every
detector of the suite works on the **real-valued representation** (as DetNet does): a complex
system ``y_c = H_c x_c + w_c`` is

.. math::

    \underbrace{\begin{bmatrix}\Re y_c\\ \Im y_c\end{bmatrix}}_{y\in\mathbb R^{2N}}
    = \underbrace{\begin{bmatrix}\Re H_c & -\Im H_c\\ \Im H_c & \Re H_c\end{bmatrix}}_{H}
      \underbrace{\begin{bmatrix}\Re x_c\\ \Im x_c\end{bmatrix}}_{x\in\mathcal A^{2K}}
    + w,

so that a square QAM symbol is two PAM symbols of the alphabet ``𝒜`` (``levels``): QPSK
``{±1}/√2``, 16-QAM ``{±1, ±3}/√10`` per real dimension, unit average energy per complex
symbol. BPSK (the default, DetNet's setting) is real from the start: ``x ∈ {±1}^K``, a real
``N × K`` channel, no imaginary part. So a system has ``transmit_dim`` real unknowns
(``K``, or ``2K``) and ``receive_dim`` real observations (``N``, or ``2N``); user ``k``'s
symbol is real dimension ``k`` (and ``K + k``, its imaginary part).

Detectors decide *level indices* ``0 … L−1`` into ``levels`` (sorted ascending) per real
dimension. Each level carries ``log2 L`` bits in a binary reflected Gray code
(:func:`gray_bits`), so a square QAM symbol is Gray-coded too and neighbouring points differ
in one bit.

The same frozen dataclass is the truth an env simulates and the nominal model a designer is
handed: the link's form (dimensions, constellation, channel law) is known; the channel of an
episode is not, and reaches the receiver only as its estimate in the observation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from mbdl_control.models.required import required

#: the per-real-dimension levels of each constellation (unit energy per complex symbol; BPSK
#: is real, one dimension per user)
CONSTELLATION_LEVELS = {
    "bpsk": np.array([-1.0, 1.0]),
    "qpsk": np.array([-1.0, 1.0]) / np.sqrt(2.0),
    "16qam": np.array([-3.0, -1.0, 1.0, 3.0]) / np.sqrt(10.0),
}
#: the constellations sent as complex symbols (two real dimensions per user)
COMPLEX_CONSTELLATIONS = ("qpsk", "16qam")
#: the channel laws: i.i.d. Gaussian, Kronecker-correlated Gaussian, DetNet's fixed channel
MIMO_CHANNELS = ("iid", "kronecker", "toeplitz")


def gray_bits(levels: int) -> np.ndarray:
    """``(levels, log2 levels)`` bits of each level index in the binary reflected Gray code
    (``i ^ (i >> 1)``), most significant first: neighbouring levels differ in one bit."""
    width = max(round(np.log2(levels)), 1)
    codes = np.arange(levels) ^ (np.arange(levels) >> 1)
    return ((codes[:, None] >> np.arange(width - 1, -1, -1)) & 1).astype(np.int8)


def real_channel(complex_channel: np.ndarray) -> np.ndarray:
    """``[[Re H, −Im H], [Im H, Re H]]`` of complex channels ``(..., N, K)``: ``(..., 2N, 2K)``."""
    re, im = complex_channel.real, complex_channel.imag
    return np.concatenate(
        [np.concatenate([re, -im], axis=-1), np.concatenate([im, re], axis=-1)], axis=-2
    )


def complex_channel(channel: np.ndarray) -> np.ndarray:
    """The complex ``(..., N, K)`` channel whose real representation is ``channel``
    ``(..., 2N, 2K)`` (its upper-left and lower-left blocks): the inverse of
    :func:`real_channel`."""
    rows, columns = channel.shape[-2] // 2, channel.shape[-1] // 2
    return channel[..., :rows, :columns] + 1j * channel[..., rows:, :columns]


def complex_vector(vector: np.ndarray) -> np.ndarray:
    """``[Re; Im]`` stacked on the last axis ``(..., 2n)`` as the complex ``(..., n)``."""
    half = vector.shape[-1] // 2
    return vector[..., :half] + 1j * vector[..., half:]


@dataclass(frozen=True, eq=False)
class MIMOSystem:
    """The form of a MIMO link: ``users`` K, receive ``antennas`` N, the constellation and the
    channel law; the real-valued dimensions and alphabet follow from them.

    Raises ``ValueError`` naming the field for a non-positive dimension, an unknown
    constellation or channel law. (The envs further need ``N ≥ K``; a detector that needs it,
    ZF or the sphere decoder's QR, says so itself.)
    """

    users: int
    antennas: int
    constellation: str = "bpsk"
    channel: str = "iid"

    def __post_init__(self) -> None:
        for name in ("users", "antennas"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.constellation not in CONSTELLATION_LEVELS:
            raise ValueError(
                f"constellation must be one of {tuple(CONSTELLATION_LEVELS)}, "
                f"got {self.constellation!r}"
            )
        if self.channel not in MIMO_CHANNELS:
            raise ValueError(f"channel must be one of {MIMO_CHANNELS}, got {self.channel!r}")

    @property
    def is_complex(self) -> bool:
        """Whether users send complex symbols (two real dimensions each)."""
        return self.constellation in COMPLEX_CONSTELLATIONS

    @property
    def transmit_dim(self) -> int:
        """Real unknowns per channel use: ``K``, or ``2K`` for a complex constellation."""
        return self.users * (2 if self.is_complex else 1)

    @property
    def receive_dim(self) -> int:
        """Real observations per channel use: ``N``, or ``2N``."""
        return self.antennas * (2 if self.is_complex else 1)

    @property
    def levels(self) -> np.ndarray:
        """The sorted real alphabet of one real dimension (a copy)."""
        return CONSTELLATION_LEVELS[self.constellation].copy()

    @property
    def level_count(self) -> int:
        return len(CONSTELLATION_LEVELS[self.constellation])

    @property
    def bits_per_level(self) -> int:
        """Gray-coded bits per real dimension: ``log2`` of the number of levels."""
        return gray_bits(self.level_count).shape[1]

    @property
    def symbol_energy(self) -> float:
        """The mean energy of one real dimension's symbol (1 for BPSK, 1/2 otherwise)."""
        return float(np.mean(CONSTELLATION_LEVELS[self.constellation] ** 2))

    def structure(self) -> MIMOSystem:
        """What ``structure`` knowledge holds: the whole form; the system has no numbers that
        a designer could get wrong (the channel's error is in the observation)."""
        return self

    def replace(self, **changes: object) -> MIMOSystem:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MIMOSystem):
            return NotImplemented
        return dataclasses.astuple(self) == dataclasses.astuple(other)

    def __hash__(self) -> int:
        return hash(dataclasses.astuple(self))


def require_mimo(owner: str, model: object) -> MIMOSystem:
    """``model``, or a ``TypeError`` saying that ``owner`` is built on a MIMO system."""
    return required(owner, model, MIMOSystem, "a MIMO detection env's model or structure()")
