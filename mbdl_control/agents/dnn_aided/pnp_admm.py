r"""Plug-and-play ADMM: ADMM on the nominal ``H`` whose proximal step is a learned denoiser.

Venkatakrishnan, Bouman & Wohlberg, "Plug-and-Play Priors for Model Based Reconstruction",
IEEE GlobalSIP 2013; the source paper's Example 20.

ADMM on the LASSO (:mod:`mbdl_control.blocks.sparse_iterations`) alternates a least-squares
step on the model and a proximal step on the prior,

.. math::

    s_{k+1} = (ĤᵀĤ + ρI)^{−1}\big(Ĥᵀx + ρ(z_k − u_k)\big),\qquad
    z_{k+1} = D(s_{k+1} + u_k),\qquad u_{k+1} = u_k + s_{k+1} − z_{k+1},

from ``z_0 = u_0 = 0``, the estimate ``z_K``; with ``D = T_{λ/ρ}`` (the soft threshold,
the proximal operator of ``(λ/ρ)‖·‖_1``) it is ADMM. Plug-and-play keeps the model's step on
the nominal ``Ĥ`` and replaces the prior's by a denoiser, here a soft threshold with a
learned threshold plus a small residual 1-D convolutional network, one ``D`` shared by all
``K`` iterations:

.. math::

    D(v) = T_θ(v) + r(v),\qquad
    r = \mathrm{conv}_{c→1} ∘ (\mathrm{ReLU} ∘ \mathrm{conv}_{c→c})^{L−1}
        ∘ \mathrm{ReLU} ∘ \mathrm{conv}_{1→c},

convolutions of ``kernel`` taps along the signal's index (zero padded, ``c`` = ``channels``
maps, ``L`` = ``hidden_layers``). The convolutions are what the prior asks for on both
envs: the signal's entries are i.i.d., so a denoiser equivariant to shifts along the index
is no loss, and the local context lets it undo the correlated errors of the blurred
least-squares step (super-resolution: a spike smeared over neighbouring grid points). Each
iteration is the ADMM iteration of the blocks (the soft threshold at ``θ``) followed by the
residual: ``z`` moves by ``r(v)``, ``u`` by ``−r(v)``, which keeps ``z + u = s_{k+1} + u_k
= v`` (so the input ``v`` of ``D`` is read back as ``z + u``).

**The start: ADMM.** ``θ = λ/ρ`` (``θ`` parametrized by its logarithm) and the last
convolution zero (weights and bias): the untrained agent *is* ``K`` iterations of ADMM on
``Ĥ`` (:func:`~mbdl_control.blocks.sparse_iterations.admm`, to float32 rounding), and early
stopping scores that start, so training keeps it unless it does better. ``λ`` is the
solvers' rule :func:`~mbdl_control.blocks.sparse_iterations.lasso_lambda` on the nominal
noise level (0.01 noiseless) unless ``regularization`` is given; ``ρ`` = ``penalty``
(default 0.1: on the 250 × 500 benchmark ADMM reaches −32.6 dB in 20 iterations with it, and
on the super-resolution env's defaults its 20-iteration NMSE is best at 0.03–0.1 among
0.01 … 1).

**Training: end to end through the unrolled iterations**, not the classic plug-and-play
way (a denoiser trained on ``s + `` white Gaussian noise, then plugged in). The input of
``D`` at iteration ``k`` is not ``s`` plus white noise: its error is the least-squares
step's, coloured by ``Ĥ`` (on the super-resolution grid, smooth and local), shrinking over
the iterations, and biased where ``Ĥ`` is not the true ``H``. Trained through the ``K``
iterations on the labelled signals of the env (the true system), the denoiser learns the
errors it will actually see, mismatch included, and the loss is the one the agent is
scored on (:func:`~mbdl_control.blocks.sparse_training.nmse` of ``z_K``). The recipe:
Adam from ``learning_rate`` annealed to 0 on a cosine, minibatches of ``batch_size``
signals, early stopping on a held-out ``validation_fraction``
(:mod:`mbdl_control.blocks.training`). Defaults: ``K = 20``, ``r`` of 2 hidden layers of 16
maps, kernel 9 (2 626 learned numbers), 600 Adam steps of 64 signals at 1e-2; kernel 9
rather than 5 gained 0.9 dB on a super-resolution grid of 32 → 128 samples (``d = 4``,
``w = 2``: there, from 10⁴ signals, −6.7 dB against ADMM's −4.9 at convergence).
``iterations=50`` is a quick recipe (about 5 s at the super-resolution defaults: −13.0 dB
from 10³ signals).

**Measured** (one core, ``torch.set_num_threads(1)``; NMSE on 1000 fresh test signals, fit
seed 0). ``mbdl/SuperResolution-v0`` at its defaults (``n = 128``, ``m = 64``, ``w = 1.5``,
``p = 0.05``, 30 dB), built on the nominal PSF (``mismatch`` 0 / 0.1 / 0.3), trained on the
true system:

* ADMM on ``Ĥ``, 20 iterations (the untrained agent): −11.9 / −11.5 / −8.6 dB; 1000
  iterations −13.2 / −11.9 / −8.6 (FISTA the same, ISTA −11.6 / −11.2 / −8.3); the env's
  oracle (debiased LASSO on the true ``H``) −11.6; the linear MMSE on the true ``H`` −3.0;
* plug-and-play ADMM from 10² signals −12.0 / −11.1 / −9.1, from 10³ −13.9 / −13.0 / −9.9,
  from 10⁴ −14.5 / −13.8 / −12.0 dB: 1.3 / 1.9 / 3.4 dB better than ADMM run to convergence
  on the same ``Ĥ``, the more so the more ``Ĥ`` is off (trained on the true system, the
  denoiser learns to undo the wrong PSF's errors). From 10² signals (10 held out) early
  stopping is a coin toss: at mismatch 0.1 it kept weights 0.4 dB worse than the start.

``mbdl/SparseRecovery-v0`` (250 × 500 Gaussian, noiseless): ADMM 20 iterations −32.6 dB,
1000 iterations −35.6; plug-and-play from 10² / 10³ / 10⁴ signals −32.7 / −32.6 (the start
kept) / −32.7 dB: on an i.i.d. Gaussian ``H`` the soft threshold is already the right
denoiser, and 600 steps through 20 iterations leave it nearly so.

From 10⁴ signals the fit takes about 40 s of one core at the super-resolution defaults and
2.5 min at 250 × 500 (``iterations=250`` for a minute there), drawing the signals included.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mbdl_control.blocks.sparse_iterations import admm_iteration, admm_matrices, lasso_lambda
from mbdl_control.blocks.sparse_training import LearnedSparseRecovery, convolutions
from mbdl_control.blocks.training import TrainingRecipe
from mbdl_control.core import positive_float, positive_int
from mbdl_control.models import SparseLinearModel, require_sparse


def residual_convolutions(channels: int, hidden_layers: int, kernel: int) -> nn.Sequential:
    """``r`` of the module docstring on ``(B, 1, n)``, its last convolution zero (``r = 0``)."""
    residual = convolutions(channels, hidden_layers, kernel)
    nn.init.zeros_(residual[-1].weight)
    nn.init.zeros_(residual[-1].get_parameter("bias"))
    return residual


class PlugAndPlayNetwork(nn.Module):
    """Measurements ``(B, m)`` → ``z_K`` ``(B, n)``: ``K`` iterations of ADMM with the
    denoiser ``D = T_θ + r`` (module docstring). The matrices of the ``s``-update,
    ``(ĤᵀĤ + ρI)^{−1}Ĥᵀ`` and ``ρ(ĤᵀĤ + ρI)^{−1}``, are buffers rebuilt from the model, not
    learned parameters."""

    input_matrix: torch.Tensor
    feedback: torch.Tensor

    def __init__(
        self,
        sensing: np.ndarray,
        penalty: float,
        threshold: float,
        iterations: int,
        residual: nn.Module,
    ) -> None:
        super().__init__()
        input_matrix, feedback = admm_matrices(sensing, penalty)
        self.register_buffer(
            "input_matrix", torch.as_tensor(input_matrix, dtype=torch.float32), persistent=False
        )
        self.register_buffer(
            "feedback", torch.as_tensor(feedback, dtype=torch.float32), persistent=False
        )
        self.log_threshold = nn.Parameter(torch.tensor(math.log(threshold)))
        self.unknowns = sensing.shape[1]
        self.iterations = iterations
        self.residual = residual

    def forward(self, measurements: torch.Tensor) -> torch.Tensor:
        direct = measurements @ self.input_matrix.T
        z = measurements.new_zeros(len(measurements), self.unknowns)
        u = torch.zeros_like(z)
        threshold = self.log_threshold.exp()
        for _ in range(self.iterations):
            z, u = admm_iteration(z, u, lambda v: direct + v @ self.feedback.T, threshold)
            correction = self.residual((z + u)[:, None])[:, 0]
            z, u = z + correction, u - correction
        return z


class PlugAndPlayADMM(LearnedSparseRecovery):
    """Plug-and-play ADMM on the nominal ``Ĥ`` with a learned denoiser, trained end to end on
    labelled signals (module docstring).

    Arguments: ``model`` — the env's ``nominal_model``; ``admm_iterations`` — ``K``; ``penalty`` —
    ``ρ``; ``regularization`` — ``λ`` of the starting threshold ``λ/ρ`` (``None``: the
    solvers' rule on the model's noise level); ``channels``, ``hidden_layers``, ``kernel``
    — the residual network ``r``; the training recipe ``learning_rate`` (Adam),
    ``iterations`` (Adam steps), ``batch_size`` (signals per step), ``validation_fraction``.
    """

    family = "dnn-aided"
    knowledge_options = ("nominal",)
    model: SparseLinearModel
    starts_as_algorithm = True
    architecture = (
        "admm_iterations",
        "penalty",
        "regularization",
        "channels",
        "hidden_layers",
        "kernel",
    )

    def __init__(
        self,
        model: SparseLinearModel,
        admm_iterations: int = 20,
        penalty: float = 0.1,
        regularization: float | None = None,
        channels: int = 16,
        hidden_layers: int = 2,
        kernel: int = 9,
        learning_rate: float = 1e-2,
        iterations: int = 600,
        batch_size: int = 64,
        validation_fraction: float = 0.1,
        knowledge: str = "nominal",
    ) -> None:
        model = require_sparse(type(self).__name__, model)
        recipe = TrainingRecipe(learning_rate, iterations, batch_size, validation_fraction)
        super().__init__(model, recipe, knowledge)
        self.admm_iterations = positive_int("admm_iterations", admm_iterations)
        self.penalty = positive_float("penalty", penalty)
        self.regularization = (
            None if regularization is None else positive_float("regularization", regularization)
        )
        self.channels = positive_int("channels", channels)
        self.hidden_layers = positive_int("hidden_layers", hidden_layers)
        self.kernel = positive_int("kernel", kernel)
        self._initialize(0)

    @property
    def threshold(self) -> float:
        """``λ/ρ``: the soft threshold ADMM starts from."""
        regularization = self.regularization
        if regularization is None:
            regularization = lasso_lambda(self.model.noise_std, self.unknowns)
        return regularization / self.penalty

    def _build(self) -> nn.Module:
        residual = residual_convolutions(self.channels, self.hidden_layers, self.kernel)
        return PlugAndPlayNetwork(
            self.model.sensing, self.penalty, self.threshold, self.admm_iterations, residual
        )
