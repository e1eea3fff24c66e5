"""Model objects a designer may know, and the physics shared by envs and agents."""

from mbdl_control.models.linear_gaussian import (
    LinearGaussianModel,
    linear_step,
    quadratic_cost,
    saturate,
)
from mbdl_control.models.mismatch import check_mismatch, perturb, relative_errors
from mbdl_control.models.psd import symmetric_sqrt

__all__ = [
    "LinearGaussianModel",
    "check_mismatch",
    "linear_step",
    "perturb",
    "quadratic_cost",
    "relative_errors",
    "saturate",
    "symmetric_sqrt",
]
