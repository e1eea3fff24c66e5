"""What a designer may know: one frozen, validated dataclass per model kind, the ``mismatch``
knob generic over their fields, and the physics shared by envs and agents."""

from mbdl_control.models.channel import (
    CHANNEL_KINDS,
    CONSTELLATIONS,
    ChannelStructure,
    ISIChannelModel,
    require_channel,
    require_structure,
)
from mbdl_control.models.linear_gaussian import (
    LinearGaussianModel,
    LinearStructure,
    linear_step,
    quadratic_cost,
    require_linear_gaussian,
    saturate,
)
from mbdl_control.models.mimo import (
    COMPLEX_CONSTELLATIONS,
    CONSTELLATION_LEVELS,
    MIMO_CHANNELS,
    MIMOSystem,
    complex_channel,
    complex_vector,
    gray_bits,
    real_channel,
    require_mimo,
)
from mbdl_control.models.mismatch import check_mismatch, perturb, relative_errors
from mbdl_control.models.psd import symmetric_sqrt
from mbdl_control.models.sparse import (
    SparseLinearModel,
    SparseStructure,
    gaussian_sensing_matrix,
    noise_std_for_snr,
    psf_sensing_matrix,
    require_sparse,
    require_sparse_structure,
)

__all__ = [
    "CHANNEL_KINDS",
    "COMPLEX_CONSTELLATIONS",
    "CONSTELLATIONS",
    "CONSTELLATION_LEVELS",
    "MIMO_CHANNELS",
    "ChannelStructure",
    "ISIChannelModel",
    "LinearGaussianModel",
    "LinearStructure",
    "MIMOSystem",
    "SparseLinearModel",
    "SparseStructure",
    "check_mismatch",
    "complex_channel",
    "complex_vector",
    "gaussian_sensing_matrix",
    "gray_bits",
    "linear_step",
    "noise_std_for_snr",
    "perturb",
    "psf_sensing_matrix",
    "quadratic_cost",
    "real_channel",
    "relative_errors",
    "require_channel",
    "require_linear_gaussian",
    "require_mimo",
    "require_sparse",
    "require_sparse_structure",
    "require_structure",
    "saturate",
    "symmetric_sqrt",
]
