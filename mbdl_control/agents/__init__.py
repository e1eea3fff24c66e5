"""Agents across the spectrum; one sub-package per family (see ``SpectrumInfo.family``).

Every agent is importable from here, lazily: ``from mbdl_control.agents import MPC`` loads
the model-based family alone, no torch. The contracts (``BaseAgent``, ``Budget``, ...) live in
:mod:`mbdl_control.core` and are re-exported here for convenience.
"""

from mbdl_control.core import Agent, BaseAgent, Budget, FitReport, SpectrumInfo
from mbdl_control.core.lazy import lazy_exports

#: every agent class of the library, by name, and the module that defines it
AGENTS = {
    "COCP": ".model_based.cocp",
    "LQG": ".model_based.lqg",
    "LQR": ".model_based.lqr",
    "MPC": ".model_based.mpc",
    "NonlinearMPC": ".model_based.nonlinear_mpc",
    "SupplyChainCOCP": ".model_based.supply_chain_policy",
    "SupplyChainMPC": ".model_based.supply_chain_mpc",
    "VehicleCOCP": ".model_based.vehicle_policy",
    "SaturatedLQR": ".model_based.lqr",
    "Viterbi": ".model_based.viterbi",
    "BCJR": ".model_based.bcjr",
    "LinearMMSE": ".model_based.lmmse",
    "SphereDecoder": ".model_based.sphere_decoder",
    "ZeroForcing": ".model_based.linear_detectors",
    "LinearMMSEDetector": ".model_based.linear_detectors",
    "KBest": ".model_based.sionna_detectors",
    "ExpectationPropagation": ".model_based.sionna_detectors",
    "SemidefiniteRelaxation": ".model_based.sdr",
    "ISTA": ".model_based.sparse_solvers",
    "FISTA": ".model_based.sparse_solvers",
    "ADMM": ".model_based.sparse_solvers",
    "DebiasedLASSO": ".model_based.sparse_solvers",
    "KalmanFilter": ".model_based.filters",
    "ExtendedKalmanFilter": ".model_based.filters",
    "UnscentedKalmanFilter": ".model_based.filters",
    "ParticleFilter": ".model_based.filters",
    "LearnedCOCP": ".learned_optimizer.cocp",
    "LearnedSupplyChainCOCP": ".learned_optimizer.supply_chain_cocp",
    "LearnedVehicleCOCP": ".learned_optimizer.vehicle_cocp",
    "LearnedNoiseLQG": ".learned_optimizer.kalman",
    "LearnedNoiseKalman": ".learned_optimizer.kalman",
    "LearnedISTA": ".learned_optimizer.sparse",
    "LearnedADMM": ".learned_optimizer.sparse",
    "TunedNoiseKalman": ".learned_optimizer.tuned_kalman",
    "DetNet": ".deep_unfolding.detnet",
    "LISTA": ".deep_unfolding.lista",
    "UnfoldedADMM": ".deep_unfolding.unfolded_admm",
    "UnfoldedMPC": ".deep_unfolding.unfolded_mpc",
    "ViterbiNet": ".dnn_aided.viterbinet",
    "BCJRNet": ".dnn_aided.viterbinet",
    "DeepSIC": ".dnn_aided.deepsic",
    "PlugAndPlayADMM": ".dnn_aided.pnp_admm",
    "KalmanNet": ".dnn_aided.kalmannet",
    "NeuralAugmentedMPC": ".dnn_aided.neural_mpc",
    "ResidualSAC": ".dnn_aided.residual_rl",
    "SBRNN": ".deep_learning.sbrnn",
    "MLPDetector": ".deep_learning.mlp_detector",
    "ConvolutionalRecovery": ".deep_learning.sparse_networks",
    "MLPRecovery": ".deep_learning.sparse_networks",
    "GRUEstimator": ".deep_learning.gru_estimator",
    "DPC": ".deep_learning.dpc",
}

__getattr__, _dir_agents = lazy_exports(__name__, AGENTS)


def __dir__() -> list[str]:
    return sorted([*_dir_agents(), *__all__])


__all__ = ["AGENTS", "Agent", "BaseAgent", "Budget", "FitReport", "SpectrumInfo", *AGENTS]
