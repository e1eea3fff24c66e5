r"""The finite-memory (ISI) channel: what a receiver designer may know about it.

.. math::

    y_i = \sum_{l=0}^{L-1} h_l\, s_{i-l} + w_i, \qquad w_i \sim \mathcal N(0, \sigma_w^2)
    \quad\text{(Gaussian)},

or, for the Poisson channel (the published non-Gaussian case), ``y_i ~ Poisson(Σ_l h_l s_{i−l}
+ 1)`` with the symbols mapped to intensities ``s + 1`` (documented by the env). Symbols come
from a real constellation of unit average energy (BPSK ``±1``; 4-PAM ``{±1, ±3}/√5``), so the
SNR is ``1/σ_w²`` (``σ_w² = 10^{−SNR/10}``). Detectors work on symbol *indices* ``0 … M−1``
into ``constellation``.

The same frozen dataclass is the truth an env simulates and the nominal CSI a designer is
handed; ``mismatch`` perturbs ``taps`` (:func:`mbdl_control.models.perturb`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from mbdl_control.models.required import required

#: the channel kinds: additive white Gaussian noise, or Poisson counts
CHANNEL_KINDS = ("gaussian", "poisson")
#: the constellations by name, unit average energy
CONSTELLATIONS = {
    "bpsk": np.array([-1.0, 1.0]),
    "4pam": np.array([-3.0, -1.0, 1.0, 3.0]) / np.sqrt(5.0),
}


@dataclass(frozen=True, eq=False)
class ChannelStructure:
    """The form of an ISI channel without its numbers: memory, constellation, noise kind."""

    memory: int
    constellation: np.ndarray
    kind: str


@dataclass(frozen=True, eq=False)
class ISIChannelModel:
    """Taps ``h_0 … h_{L−1}``, noise variance ``σ_w²``, constellation, channel kind.

    Raises ``ValueError`` naming the field for taps that are not a finite non-empty vector, a
    negative or non-finite noise variance, a constellation that is not a finite vector of at
    least two distinct points, or an unknown kind.
    """

    taps: np.ndarray
    noise_var: float
    constellation: np.ndarray
    kind: str = "gaussian"

    def __post_init__(self) -> None:
        taps = np.array(self.taps, dtype=np.float64)
        if taps.ndim != 1 or taps.size < 1 or not np.all(np.isfinite(taps)):
            raise ValueError(f"taps must be a finite non-empty vector, got {self.taps!r}")
        noise_var = float(self.noise_var)
        if not (np.isfinite(noise_var) and noise_var >= 0):
            raise ValueError(f"noise_var must be a finite number >= 0, got {self.noise_var!r}")
        points = np.array(self.constellation, dtype=np.float64)
        if points.ndim != 1 or len(np.unique(points)) != len(points) or len(points) < 2:
            raise ValueError(
                "constellation must be a vector of >= 2 distinct points, "
                f"got {self.constellation!r}"
            )
        if self.kind not in CHANNEL_KINDS:
            raise ValueError(f"kind must be one of {CHANNEL_KINDS}, got {self.kind!r}")
        for array in (taps, points):
            array.setflags(write=False)
        object.__setattr__(self, "taps", taps)
        object.__setattr__(self, "noise_var", noise_var)
        object.__setattr__(self, "constellation", points)

    @property
    def memory(self) -> int:
        """``L``: the number of taps."""
        return len(self.taps)

    @property
    def size(self) -> int:
        """``M``: the number of constellation points."""
        return len(self.constellation)

    def structure(self) -> ChannelStructure:
        """What ``structure`` knowledge holds: memory, constellation and kind, no taps."""
        return ChannelStructure(self.memory, self.constellation, self.kind)

    def replace(self, **changes: object) -> ISIChannelModel:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ISIChannelModel):
            return NotImplemented
        return (
            np.array_equal(self.taps, other.taps)
            and self.noise_var == other.noise_var
            and np.array_equal(self.constellation, other.constellation)
            and self.kind == other.kind
        )

    __hash__ = None  # type: ignore[assignment]


def require_channel(owner: str, model: object) -> ISIChannelModel:
    """``model``, or a ``TypeError`` saying that ``owner`` is built on an ISI channel model."""
    return required(owner, model, ISIChannelModel, "an env's true_model or nominal_model")


def require_structure(owner: str, structure: object) -> ChannelStructure:
    """``structure``, or a ``TypeError`` saying that ``owner`` is built on a channel's form."""
    return required(owner, structure, ChannelStructure, "an ISI channel env's structure()")
