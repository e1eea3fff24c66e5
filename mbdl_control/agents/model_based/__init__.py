"""Model-based agents: a principled optimizer on a (nominal or true) model, nothing learned."""

from mbdl_control.agents.model_based.bcjr import BCJR
from mbdl_control.agents.model_based.cocp import COCP
from mbdl_control.agents.model_based.filters import (
    ExtendedKalmanFilter,
    KalmanFilter,
    ParticleFilter,
    UnscentedKalmanFilter,
)
from mbdl_control.agents.model_based.linear_detectors import LinearMMSEDetector, ZeroForcing
from mbdl_control.agents.model_based.lmmse import LinearMMSE
from mbdl_control.agents.model_based.lqg import LQG
from mbdl_control.agents.model_based.lqr import LQR, SaturatedLQR
from mbdl_control.agents.model_based.mpc import MPC
from mbdl_control.agents.model_based.sdr import SemidefiniteRelaxation
from mbdl_control.agents.model_based.sionna_detectors import ExpectationPropagation, KBest
from mbdl_control.agents.model_based.sparse_solvers import ADMM, FISTA, ISTA, DebiasedLASSO
from mbdl_control.agents.model_based.sphere_decoder import SphereDecoder
from mbdl_control.agents.model_based.viterbi import Viterbi

__all__ = [
    "ADMM",
    "BCJR",
    "COCP",
    "FISTA",
    "ISTA",
    "LQG",
    "LQR",
    "MPC",
    "DebiasedLASSO",
    "ExpectationPropagation",
    "ExtendedKalmanFilter",
    "KBest",
    "KalmanFilter",
    "LinearMMSE",
    "LinearMMSEDetector",
    "ParticleFilter",
    "SaturatedLQR",
    "SemidefiniteRelaxation",
    "SphereDecoder",
    "UnscentedKalmanFilter",
    "Viterbi",
    "ZeroForcing",
]
