r"""The sparse linear inverse problem ``x = Hs + w``: what a recovery designer may know about it.

.. math::

    x = H s + w,\qquad s_i = b_i g_i,\quad b_i \sim \mathrm{Bernoulli}(p),\
    g_i \sim \mathcal N(0, 1),\qquad w \sim \mathcal N(0, \sigma^2 I_m),

with ``H`` ``m × n`` (``sensing``), ``p`` the probability that an entry is non-zero
(``sparsity``) and ``σ`` the noise's standard deviation per measurement (``noise_std``; 0 is
noiseless). The SNR is the expected energy of ``Hs`` per measurement over ``σ²``:
``E‖Hs‖²/m = p‖H‖_F²/m`` (:func:`noise_std_for_snr`).

Two sensing operators are built here, for the envs and for a designer alike:
:func:`gaussian_sensing_matrix`, the standard LISTA benchmark's (Chen, Liu, Wang & Yin,
NeurIPS 2018: i.i.d. ``N(0, 1/m)`` entries, columns scaled to unit norm), and
:func:`psf_sensing_matrix`, 1-D super-resolution (a spike train on a fine grid, blurred by a
Gaussian point-spread function and sampled on a coarse grid).

The same frozen dataclass is the truth an env simulates and the nominal model a designer is
handed; ``mismatch`` changes ``sensing`` (each env says how).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from mbdl_control.models.required import required


@dataclass(frozen=True)
class SparseStructure:
    """The form of a sparse inverse problem without its numbers: ``m`` measurements of ``n``
    unknowns."""

    measurements: int
    unknowns: int


@dataclass(frozen=True, eq=False)
class SparseLinearModel:
    """``H`` (``sensing``, ``m × n``), the non-zero probability ``p`` (``sparsity``) and the
    noise standard deviation ``σ`` (``noise_std``) of the module docstring.

    Raises ``ValueError`` naming the field for a sensing matrix that is not a finite, non-empty
    2-D array, a sparsity outside ``(0, 1]`` or a negative or non-finite noise level.
    """

    sensing: np.ndarray
    sparsity: float = 0.1
    noise_std: float = 0.0

    def __post_init__(self) -> None:
        sensing = np.array(self.sensing, dtype=np.float64)
        if sensing.ndim != 2 or sensing.size == 0 or not np.all(np.isfinite(sensing)):
            raise ValueError(
                f"sensing must be a finite non-empty 2-D array, got shape {np.shape(self.sensing)}"
            )
        sparsity = float(self.sparsity)
        if not 0.0 < sparsity <= 1.0:
            raise ValueError(f"sparsity must be in (0, 1], got {self.sparsity!r}")
        noise_std = float(self.noise_std)
        if not (np.isfinite(noise_std) and noise_std >= 0):
            raise ValueError(f"noise_std must be a finite number >= 0, got {self.noise_std!r}")
        sensing.setflags(write=False)
        object.__setattr__(self, "sensing", sensing)
        object.__setattr__(self, "sparsity", sparsity)
        object.__setattr__(self, "noise_std", noise_std)

    @property
    def measurements(self) -> int:
        """``m``: the rows of ``H``."""
        return self.sensing.shape[0]

    @property
    def unknowns(self) -> int:
        """``n``: the columns of ``H``, the length of ``s``."""
        return self.sensing.shape[1]

    @property
    def signal_energy(self) -> float:
        """``E‖s‖² = p·n``: the denominator of the normalized squared error."""
        return self.sparsity * self.unknowns

    def structure(self) -> SparseStructure:
        """What ``structure`` knowledge holds: the dimensions, not ``H``."""
        return SparseStructure(self.measurements, self.unknowns)

    def replace(self, **changes: object) -> SparseLinearModel:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SparseLinearModel):
            return NotImplemented
        return (
            np.array_equal(self.sensing, other.sensing)
            and self.sparsity == other.sparsity
            and self.noise_std == other.noise_std
        )

    __hash__ = None  # type: ignore[assignment]


def noise_std_for_snr(sensing: np.ndarray, sparsity: float, snr_db: float | None) -> float:
    """``σ = √(p‖H‖_F²/m · 10^{−SNR/10})``: the noise at ``snr_db`` dB below the expected
    energy of ``Hs`` per measurement; 0 for ``None`` (noiseless)."""
    if snr_db is None:
        return 0.0
    signal_power = sparsity * float(np.sum(np.square(sensing))) / sensing.shape[0]
    return float(np.sqrt(signal_power * 10.0 ** (-snr_db / 10.0)))


def gaussian_sensing_matrix(measurements: int, unknowns: int, seed: int) -> np.ndarray:
    """The LISTA benchmark's ``H``: i.i.d. ``N(0, 1/m)`` entries from
    ``numpy.random.default_rng(seed)``, each column then scaled to unit norm."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, 1.0 / np.sqrt(measurements), (measurements, unknowns))
    return matrix / np.linalg.norm(matrix, axis=0)


def psf_sensing_matrix(unknowns: int, decimation: int, width: float) -> np.ndarray:
    r"""1-D super-resolution: ``H_{ij} = exp(−(c_i − j)²/(2w²))``, the Gaussian point-spread
    function of standard deviation ``w`` (``width``, in fine-grid samples, peak 1) centred on
    coarse sample ``i``'s position ``c_i = d·i + (d − 1)/2`` on the fine grid of ``n``
    (``unknowns``) points; ``m = n / d`` coarse samples (``d`` = ``decimation`` divides
    ``n``). Blurring and decimating the spike train ``s`` gives ``Hs``."""
    if unknowns % decimation:
        raise ValueError(
            f"decimation must divide the fine grid, got {unknowns} points and decimation "
            f"{decimation}"
        )
    centres = decimation * np.arange(unknowns // decimation) + (decimation - 1) / 2
    offsets = centres[:, None] - np.arange(unknowns)[None, :]
    return np.exp(-(offsets**2) / (2.0 * width**2))


def require_sparse(owner: str, model: object) -> SparseLinearModel:
    """``model``, or a ``TypeError`` saying that ``owner`` is built on a sparse linear model."""
    return required(owner, model, SparseLinearModel, "an env's true_model or nominal_model")


def require_sparse_structure(owner: str, structure: object) -> SparseStructure:
    """``structure``, or a ``TypeError`` saying that ``owner`` is built on a sparse problem's
    form."""
    return required(owner, structure, SparseStructure, "a sparse inverse env's structure()")
