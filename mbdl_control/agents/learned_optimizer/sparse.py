r"""ISTA and ADMM on the nominal ``H`` with their hyperparameters learned from labelled signals.

The learned optimizers of Shlezinger, Eldar & Boyd, "Model-Based Deep Learning" (2022, §V-A;
ADMM: Example 14): the iterations stay the model-based ones of
:mod:`mbdl_control.blocks.sparse_iterations` on the designer's (nominal) ``H``, run for a
fixed number ``K`` (``layers``) from ``s_0 = 0`` (ISTA) or ``z_0 = u_0 = 0`` (ADMM); only the
two scalars a designer would tune by hand are learned, shared by every iteration, by
backpropagation through the ``K`` unrolled iterations:

* :class:`LearnedISTA`: ``s_{k+1} = T_θ(s_k + μHᵀ(x − Hs_k))`` with the step ``μ`` and the
  threshold ``θ`` learned, from ISTA's ``μ = 1/‖H‖₂²`` (:func:`lipschitz_step`) and
  ``θ = μλ`` (``λ``: :func:`lasso_lambda` of the model's noise). ``μ = μ_max σ(a)`` with
  ``μ_max = 2/‖H‖₂²`` (``σ`` the logistic function, ``a = 0`` at the start), so that the
  learned iteration stays in ISTA's convergent range; ``θ = e^b``.
* :class:`LearnedADMM`: ADMM on the LASSO ``min ½‖x − Hs‖² + λ‖s‖₁`` (scaled form,
  ``s_{k+1} = (HᵀH + ρI)⁻¹(Hᵀx + ρ(z_k − u_k))``, ``z_{k+1} = T_{λ/ρ}(s_{k+1} + u_k)``,
  ``u_{k+1} = u_k + s_{k+1} − z_{k+1}``) with the regularization ``λ = e^a`` and the penalty
  ``ρ = e^b`` learned, from :func:`lasso_lambda` and the model-based ADMM's ``ρ = 3λ``
  (:data:`PENALTY_PER_REGULARIZATION`), so that the untrained agent is that ADMM. The
  ``s``-update goes through the thin SVD of ``H`` (:class:`Resolvent`), differentiable in
  ``ρ``. Notation: the paper's unfolded ADMM reduces to ADMM at ``W¹ = (HᵀH + 2λI)⁻¹Hᵀ``
  (its Example 16), so its ``λ`` is ``ρ/2`` here, and its ISTA threshold ``T_{μρ}`` makes its
  ``ρ`` the ℓ₁ weight, ``λ`` here.

The loss is the normalized squared error ``Σ‖ŝ_K − s‖²/Σ‖s‖²`` of the last iterate on the
budget's labelled signals from the env, i.e. from the true system while ``H`` is the nominal
one (:mod:`mbdl_control.blocks.sparse_training`). Early stopping scores the start too
(``starts_as_algorithm``): training keeps the plain algorithm unless it does better on the
held-out signals.

**Why the step is bounded.** Learned freely (Adam at 0.02), ``μ`` went to 0.44 on the
benchmark below, beyond ``2/‖H‖₂² = 0.359``: 16 iterations then reach about −10 dB on most
sets of 1000 test signals, but the direction of ``H``'s largest singular value grows by
``|1 − μ‖H‖₂²|^{16} ≈ 400`` and the rare signal that excites it is lost (one in 1000: squared
error 1276 against about 15), so the test NMSE swung between −7.9 and −9.1 dB. Bounded, it
ends at ``μ = 0.3586`` and −9.2 dB, the best of a grid over ``(μ, θ)`` with ``μ < μ_max``.

**Recipe** (defaults): Adam at 0.1 in the scalars' ``a``, ``b`` (10 % a step), annealed to 0
on a cosine, 500 steps of 64 signals, a tenth held out. ``iterations=100`` is the quick
recipe: with 1000 signals it ends within 0.3 dB of the full one in every setting below
(learned ISTA −9.1 dB, learned ADMM −33.8 on the benchmark; 0.4–5 s).

**Measured** (one core; 1000 fresh test signals; NMSE ``10 log₁₀(Σ‖ŝ − s‖²/Σ‖s‖²)``, dB;
``K = 16``; trained with 100 / 1000 / 10⁴ labelled signals; ISTA, FISTA and ADMM (``ρ = 3λ``)
on the nominal ``H`` at 16 iterations):

======================  =====  =====  =====  ===================  =====================
setting                  ISTA  FISTA   ADMM  learned ISTA         learned ADMM
======================  =====  =====  =====  ===================  =====================
benchmark 250 × 500      −3.2   −4.1  −30.3  −9.2 / −9.2 / −9.2   −34.1 / −34.0 / −34.2
PSF, mismatch 0          −2.6   −3.3  −12.0  −3.5 / −3.5 / −3.5   −14.2 / −14.2 / −14.2
PSF, mismatch 0.1        −2.4   −3.1  −11.6  −3.2 / −3.2 / −3.2   −12.8 / −12.9 / −12.9
PSF, mismatch 0.3        −2.0   −2.6   −8.7  −2.7 / −2.7 / −2.7    −8.6 /  −8.7 /  −8.9
======================  =====  =====  =====  ===================  =====================

The benchmark is ``mbdl/SparseRecovery-v0``'s default (LISTA's, noiseless, ``p = 0.1``,
``λ = 0.01``: the LASSO −35.6 dB, ISTA −32.1 after 1000 iterations); "PSF" is
``mbdl/SuperResolution-v0``'s default (128-point grid, 64 samples, PSF width 1.5,
``p = 0.05``, 30 dB; ``λ = 0.036``; the LASSO −13.6 dB on the true PSF, −12.3 and −8.9 on the
nominal one at mismatch 0.1 and 0.3, where ADMM on the true PSF gets −12.0 in 16
iterations). Learned ISTA goes from −3.2 to −9.2 dB on the benchmark (``μ`` at 99.9 % of
``μ_max``, ``θ`` 37 times ``μλ``) but stays far from ADMM: a step bounded by ``2/‖H‖₂²`` and
one threshold cannot make 16 gradient steps converge. Learned ADMM beats, where nothing is
mismatched, the LASSO it starts from (−14.2 dB against −13.6 on the PSF: its ``λ`` falls to
0.003, less bias than the universal threshold's 0.036, and ``ρ`` with it) but not on the
benchmark (−34.2 against −35.6: 16 iterations are too few for the LASSO there). A hundred
labelled signals suffice for both. But two scalars cannot undo a wrong PSF: at mismatch 0.3
learned ADMM gains 0.2 dB of the 3.3 dB that the true PSF would give, and with 100 or 1000
signals (10 or 100 held out) early stopping kept a point no better than the start on fresh
signals. Training takes 11–17 s on the benchmark, 2–6 s on the PSF (CPU time, drawing the
data included).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from mbdl_control.blocks.sparse_iterations import (
    PENALTY_PER_REGULARIZATION,
    Resolvent,
    admm_iteration,
    ista_iteration,
    lasso_lambda,
    lipschitz_step,
)
from mbdl_control.blocks.sparse_training import LearnedSparseRecovery
from mbdl_control.blocks.training import TrainingRecipe
from mbdl_control.core import positive_float, positive_int
from mbdl_control.models import SparseLinearModel, require_sparse


def _float32(value: np.ndarray | float) -> torch.Tensor:
    return torch.from_numpy(np.array(value, dtype=np.float32))


class SharedStepISTA(nn.Module):
    """``K`` ISTA iterations on ``H`` from ``s_0 = 0``, one learned step ``μ = μ_max σ(a)``
    and threshold ``θ = e^b`` for all: measurements ``(B, m)`` → estimates ``(B, n)``."""

    def __init__(self, sensing: np.ndarray, step: float, threshold: float, layers: int) -> None:
        super().__init__()
        self.register_buffer("sensing", _float32(sensing), persistent=False)
        self.largest_step = 2.0 * lipschitz_step(sensing)
        fraction = step / self.largest_step
        self.logit_step = nn.Parameter(_float32(math.log(fraction / (1.0 - fraction))))
        self.log_threshold = nn.Parameter(_float32(math.log(threshold)))
        self.layers = layers

    def step(self) -> torch.Tensor:
        """``μ = μ_max σ(a)``."""
        return self.largest_step * torch.sigmoid(self.logit_step)

    def forward(self, measurements: torch.Tensor) -> torch.Tensor:
        sensing, step, threshold = self.sensing, self.step(), self.log_threshold.exp()
        estimate = measurements.new_zeros(len(measurements), sensing.shape[1])

        def gradient_step(s: torch.Tensor) -> torch.Tensor:
            return s + step * ((measurements - s @ sensing.T) @ sensing)

        for _ in range(self.layers):
            estimate = ista_iteration(estimate, gradient_step, threshold)
        return estimate

    def hyperparameters(self) -> dict[str, float]:
        return {"step": float(self.step()), "threshold": float(self.log_threshold.exp())}


class SharedPenaltyADMM(nn.Module):
    """``K`` ADMM iterations on ``H`` from ``z_0 = u_0 = 0``, one learned regularization ``λ``
    and penalty ``ρ`` for all: measurements ``(B, m)`` → the estimates ``z_K`` ``(B, n)``."""

    def __init__(
        self, sensing: np.ndarray, regularization: float, penalty: float, layers: int
    ) -> None:
        super().__init__()
        resolvent = Resolvent.of(sensing)
        self.register_buffer("sensing", _float32(sensing), persistent=False)
        self.register_buffer("right", _float32(resolvent.right), persistent=False)
        self.register_buffer("squares", _float32(resolvent.squares), persistent=False)
        self.log_regularization = nn.Parameter(_float32(math.log(regularization)))
        self.log_penalty = nn.Parameter(_float32(math.log(penalty)))
        self.layers = layers

    def forward(self, measurements: torch.Tensor) -> torch.Tensor:
        regularization, penalty = self.log_regularization.exp(), self.log_penalty.exp()
        resolvent = Resolvent(self.right, self.squares)
        least_squares = resolvent.least_squares(measurements @ self.sensing, penalty)
        z = measurements.new_zeros(len(measurements), self.sensing.shape[1])
        u = torch.zeros_like(z)
        for _ in range(self.layers):
            z, u = admm_iteration(z, u, least_squares, regularization / penalty)
        return z

    def hyperparameters(self) -> dict[str, float]:
        return {
            "regularization": float(self.log_regularization.exp()),
            "penalty": float(self.log_penalty.exp()),
        }


class LearnedSparseOptimizer(LearnedSparseRecovery):
    """What :class:`LearnedISTA` and :class:`LearnedADMM` share: built on the nominal model,
    ``layers`` iterations, ``λ`` (``regularization``; ``None``: :func:`lasso_lambda` of the
    model's noise), the recipe."""

    family = "learned-optimizer"
    knowledge_options = ("nominal",)
    starts_as_algorithm = True

    def __init__(
        self,
        model: SparseLinearModel,
        layers: int,
        regularization: float | None,
        recipe: TrainingRecipe,
        knowledge: str,
    ) -> None:
        model = require_sparse(type(self).__name__, model)
        super().__init__(model, recipe, knowledge)
        self.layers = positive_int("layers", layers)
        self.regularization = None
        if regularization is not None:
            self.regularization = positive_float("regularization", regularization)
        self.initial_regularization = self.regularization or lasso_lambda(
            model.noise_std, model.unknowns
        )

    def hyperparameters(self) -> dict[str, float]:
        """The current (learned or initial) hyperparameters, by name."""
        with torch.no_grad():
            return self.network.hyperparameters()

    def diagnostics(self) -> dict[str, Any]:
        """The base class's, and each hyperparameter as ``learned_<name>``."""
        learned = {f"learned_{name}": value for name, value in self.hyperparameters().items()}
        return {**super().diagnostics(), **learned}


class LearnedISTA(LearnedSparseOptimizer):
    """ISTA on the nominal ``H`` with a learned step ``μ`` and threshold ``θ`` shared by its
    ``layers`` iterations (module docstring).

    Arguments: ``model`` — the env's nominal ``SparseLinearModel``; ``layers`` — the
    iterations ``K``; ``regularization`` — the initial ``λ`` (``θ = μλ``; ``None``:
    :func:`lasso_lambda`); ``step`` — the initial ``μ`` (``None``: ``1/‖H‖₂²``); the training
    recipe ``learning_rate`` (Adam), ``iterations``, ``batch_size`` (signals per step),
    ``validation_fraction``.
    """

    architecture = ("layers", "regularization", "step")

    def __init__(
        self,
        model: SparseLinearModel,
        layers: int = 16,
        regularization: float | None = None,
        step: float | None = None,
        learning_rate: float = 0.1,
        iterations: int = 500,
        batch_size: int = 64,
        validation_fraction: float = 0.1,
        knowledge: str = "nominal",
    ) -> None:
        recipe = TrainingRecipe(learning_rate, iterations, batch_size, validation_fraction)
        super().__init__(model, layers, regularization, recipe, knowledge)
        self.step = None if step is None else positive_float("step", step)
        largest = 2.0 * lipschitz_step(self.model.sensing)
        if self.step is not None and self.step >= largest:
            raise ValueError(
                f"step must be in (0, 2/‖H‖₂²) = (0, {largest:.6g}), where ISTA converges; "
                f"got {step!r}"
            )
        self.initial_step = self.step or largest / 2.0
        self._initialize(0)

    def _build(self) -> nn.Module:
        threshold = self.initial_step * self.initial_regularization
        return SharedStepISTA(self.model.sensing, self.initial_step, threshold, self.layers)


class LearnedADMM(LearnedSparseOptimizer):
    """ADMM on the nominal ``H`` with a learned regularization ``λ`` and penalty ``ρ``
    shared by its ``layers`` iterations (module docstring; the paper's Example 14).

    Arguments: ``model`` — the env's nominal ``SparseLinearModel``; ``layers`` — the
    iterations ``K``; ``regularization`` — the initial ``λ`` (``None``: :func:`lasso_lambda`);
    ``penalty`` — the initial ``ρ`` (``None``: ``3λ``); the training recipe
    ``learning_rate`` (Adam), ``iterations``, ``batch_size`` (signals per step),
    ``validation_fraction``.
    """

    architecture = ("layers", "regularization", "penalty")

    def __init__(
        self,
        model: SparseLinearModel,
        layers: int = 16,
        regularization: float | None = None,
        penalty: float | None = None,
        learning_rate: float = 0.1,
        iterations: int = 500,
        batch_size: int = 64,
        validation_fraction: float = 0.1,
        knowledge: str = "nominal",
    ) -> None:
        recipe = TrainingRecipe(learning_rate, iterations, batch_size, validation_fraction)
        super().__init__(model, layers, regularization, recipe, knowledge)
        self.penalty = None if penalty is None else positive_float("penalty", penalty)
        self._initialize(0)

    def _build(self) -> nn.Module:
        regularization = self.initial_regularization
        penalty = self.penalty or PENALTY_PER_REGULARIZATION * regularization
        return SharedPenaltyADMM(self.model.sensing, regularization, penalty, self.layers)
