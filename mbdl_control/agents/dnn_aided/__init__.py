"""DNN-aided inference: the model-based algorithm kept, a network learns the part of the model
it lacks (ViterbiNet and BCJRNet: the trellis with a learned per-time likelihood; DeepSIC:
soft interference cancellation with a learned soft detector per stream and iteration;
plug-and-play ADMM: the LASSO's proximal step replaced by a learned denoiser; KalmanNet: the
Kalman filter's predict and update with a gain computed by recurrent networks;
neural-augmented MPC: nonlinear MPC on the nominal physics plus a learned residual;
residual SAC: MPC plus a bounded correction learned by reinforcement).

The names load lazily (:func:`~mbdl_control.core.lazy.lazy_exports`): importing the learned
likelihood alone does not import the trellis."""

from mbdl_control.core.lazy import lazy_exports

_EXPORTS = {
    "BCJRNet": ".viterbinet",
    "DeepSIC": ".deepsic",
    "ViterbiNet": ".viterbinet",
    "GaussianMixture": ".learned_likelihood",
    "KalmanNet": ".kalmannet",
    "LearnedLikelihood": ".learned_likelihood",
    "NeuralAugmentedMPC": ".neural_mpc",
    "ResidualSAC": ".residual_rl",
    "PlugAndPlayADMM": ".pnp_admm",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
