"""Sparse inverse problems: recover a sparse signal from linear measurements, single and
batched."""

from mbdl_control.envs.inverse.sparse_inverse import SparseInverseEnv
from mbdl_control.envs.inverse.sparse_inverse_vector import (
    SparseInverseVectorEnv,
    SparseRecoveryVectorEnv,
    SuperResolutionVectorEnv,
)
from mbdl_control.envs.inverse.sparse_recovery import SparseRecoveryEnv
from mbdl_control.envs.inverse.super_resolution import SuperResolutionEnv

__all__ = [
    "SparseInverseEnv",
    "SparseInverseVectorEnv",
    "SparseRecoveryEnv",
    "SparseRecoveryVectorEnv",
    "SuperResolutionEnv",
    "SuperResolutionVectorEnv",
]
