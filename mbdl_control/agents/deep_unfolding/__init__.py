"""Deep unfolding: an iterative model-based algorithm unrolled into layers whose parameters are
learned end to end (DetNet: projected gradient descent on the MIMO least squares; LISTA:
ISTA on the LASSO; unfolded ADMM; unfolded MPC: projected gradient on the MPC problem).

The names load lazily (:func:`~mbdl_control.core.lazy.lazy_exports`): they import torch."""

from mbdl_control.core.lazy import lazy_exports

_EXPORTS = {
    "DetNet": ".detnet",
    "LISTA": ".lista",
    "UnfoldedADMM": ".unfolded_admm",
    "UnfoldedMPC": ".unfolded_mpc",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
