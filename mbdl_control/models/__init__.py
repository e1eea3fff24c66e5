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
from mbdl_control.models.mismatch import check_mismatch, perturb, relative_errors
from mbdl_control.models.psd import symmetric_sqrt

__all__ = [
    "CHANNEL_KINDS",
    "CONSTELLATIONS",
    "ChannelStructure",
    "ISIChannelModel",
    "LinearGaussianModel",
    "LinearStructure",
    "check_mismatch",
    "linear_step",
    "perturb",
    "quadratic_cost",
    "relative_errors",
    "require_channel",
    "require_linear_gaussian",
    "require_structure",
    "saturate",
    "symmetric_sqrt",
]
