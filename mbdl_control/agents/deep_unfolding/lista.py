r"""LISTA: ISTA on the LASSO unfolded into layers with their own matrices and thresholds.

Gregor & LeCun, "Learning Fast Approximations of Sparse Coding", ICML 2010; the source paper's
Example 17; the benchmark of Chen, Liu, Wang & Yin, NeurIPS 2018 (the ALISTA code).

ISTA on ``½‖x − Hs‖² + λ‖s‖₁`` (:mod:`mbdl_control.blocks.sparse_iterations`) is
``s_{k+1} = T_{μλ}(μHᵀx + (I − μHᵀH)s_k)``. LISTA keeps the form and learns every piece of
every layer:

.. math::

    s_{k+1} = T_{θ_k}\big(W^1_k x + W^2_k s_k\big),\qquad k = 0, …, K − 1,\qquad s_0 = 0,

``T_θ`` the soft threshold, ``W¹_k`` ``n × m``, ``W²_k`` ``n × n``, ``θ_k`` a scalar, ``K`` =
``layers``; the estimate is ``s_K``. As ``s_0 = 0``, ``W²_0`` multiplies nothing and is not a
parameter: ``K·nm + (K − 1)n² + K`` learned numbers (6.0 M at 16 layers, 250 × 500).

**The start: ISTA on the nominal** ``Ĥ``. Every layer starts as an ISTA iteration on the
designer's ``Ĥ`` (:func:`~mbdl_control.blocks.sparse_iterations.ista_matrices`): ``W¹ = μĤᵀ``,
``W² = I − μĤᵀĤ``, ``θ = μλ``, with ``μ = 1/‖Ĥ‖₂²``
(:func:`~mbdl_control.blocks.sparse_iterations.lipschitz_step`), so the untrained network is
ISTA run ``K`` iterations, computed by the same
:func:`~mbdl_control.blocks.sparse_iterations.ista_iteration`. ``λ`` (``regularization``) is
the ALISTA code's initial 0.4 by default (its ``s = 1.001‖H‖₂²`` is ``μ``'s 1/‖H‖₂² to 0.1 %),
not the model-based solvers' ``λ`` of
:func:`~mbdl_control.blocks.sparse_iterations.lasso_lambda` (0.01 without noise): see the
recipe. Trained on data from the true system, the layers learn what the nominal ``Ĥ`` misses.

**The recipe**, the simplest one: end to end from the ISTA start on the last layer's NMSE
(:mod:`mbdl_control.blocks.sparse_training`), Adam at ``learning_rate`` annealed to 0 on a
cosine over ``iterations`` minibatches of ``batch_size`` labelled signals (reused over
epochs: fresh ones cost budget), early stopping on a held-out tenth that scores the start
too. The published layer-wise schedule (per layer: Adam 5e-4 on the new layer, then 1e-4
and 1e-5 on all layers so far, fresh batches of 64; the ALISTA code) is not implemented.

**Measured** on the benchmark (250 × 500, noiseless, ``p = 0.1``; 1000 fresh test signals;
one core of a loaded two-core machine), 16 layers: with 10⁵ labelled signals the default
2500 steps take about 15 minutes and reach −20.7 dB (per layer −1.1, −2.7, −5.1, −8.5,
−14.7, −20.7 dB at layers 1, 3, 7, 12, 15, 16), where 16 ISTA iterations give −3.2 dB and
ISTA needs about 600 iterations for −20.7 dB (about 37× the layers); with 10⁴ signals
−9.4 dB (a non-finite gradient stopped the training at step 815; the best weights kept);
``iterations=50`` (the quick recipe, 9 s) −8.6 dB. **Missed: the issue's −30 dB at 16
layers.** Trained end to end, the 6 M weights move slowly from a start whose thresholds are
sized for hundreds of iterations; the layer-wise schedule, which fits one layer at a time,
is the published way to −40 dB, and is the next thing to build.
"""

from __future__ import annotations

import torch
from torch import nn

from mbdl_control.blocks.sparse_iterations import (
    ista_iteration,
    ista_matrices,
    lipschitz_step,
    soft_threshold,
)
from mbdl_control.blocks.sparse_training import LearnedSparseRecovery
from mbdl_control.blocks.training import TrainingRecipe
from mbdl_control.core import positive_float, positive_int
from mbdl_control.models import SparseLinearModel, require_sparse

#: the ALISTA code's initial ``λ`` of LISTA's thresholds (its ``--lam``)
ALISTA_LAMBDA = 0.4


class LISTANetwork(nn.Module):
    """Measurements ``(B, m)`` → the estimates ``s_1 … s_K`` ``(B, n)`` of every layer (module
    docstring): ``input_weights`` ``W¹_k`` ``(K, n, m)``, ``feedback`` ``W²_k`` for ``k ≥ 1``
    ``(K − 1, n, n)``, ``thresholds`` ``θ_k`` ``(K,)``."""

    def __init__(
        self, input_weight: torch.Tensor, feedback: torch.Tensor, threshold: float, layers: int
    ) -> None:
        super().__init__()
        self.input_weights = nn.Parameter(input_weight.repeat(layers, 1, 1))
        self.feedback = nn.Parameter(feedback.repeat(layers - 1, 1, 1))
        self.thresholds = nn.Parameter(torch.full((layers,), threshold))

    def layer_estimates(self, measurements: torch.Tensor) -> list[torch.Tensor]:
        """``s_1, …, s_K``; the ``K`` products ``W¹_k x`` taken in one matrix product."""
        layers, unknowns, _ = self.input_weights.shape
        direct = (measurements @ self.input_weights.reshape(layers * unknowns, -1).T).view(
            len(measurements), layers, unknowns
        )
        estimate = soft_threshold(direct[:, 0], self.thresholds[0])  # from s_0 = 0
        estimates = [estimate]
        for k in range(1, layers):
            estimate = ista_iteration(
                estimate,
                lambda s, k=k: direct[:, k] + s @ self.feedback[k - 1].T,
                self.thresholds[k],
            )
            estimates.append(estimate)
        return estimates

    def forward(self, measurements: torch.Tensor) -> torch.Tensor:
        return self.layer_estimates(measurements)[-1]


class LISTA(LearnedSparseRecovery):
    """LISTA: ``layers`` ISTA iterations on the nominal ``Ĥ`` with per-layer ``W¹_k``,
    ``W²_k``, ``θ_k`` trained on labelled signals (module docstring).

    Arguments: ``model`` — the env's ``nominal_model``; ``layers`` — ``K``;
    ``regularization`` — the ``λ`` of the initial thresholds ``θ_k = μλ``; the training
    recipe ``learning_rate`` (Adam), ``iterations``, ``batch_size`` (signals per step),
    ``validation_fraction``.
    """

    family = "deep-unfolding"
    knowledge_options = ("nominal",)
    architecture = ("layers", "regularization")
    starts_as_algorithm = True

    def __init__(
        self,
        model: SparseLinearModel,
        layers: int = 16,
        regularization: float = ALISTA_LAMBDA,
        learning_rate: float = 5e-4,
        iterations: int = 2500,
        batch_size: int = 256,
        validation_fraction: float = 0.1,
        knowledge: str = "nominal",
    ) -> None:
        recipe = TrainingRecipe(learning_rate, iterations, batch_size, validation_fraction)
        super().__init__(require_sparse("LISTA", model), recipe, knowledge)
        self.layers = positive_int("layers", layers)
        self.regularization = positive_float("regularization", regularization)
        self.step = lipschitz_step(model.sensing)
        self._initialize(0)

    def _build(self) -> nn.Module:
        input_weight, feedback = ista_matrices(self.model.sensing, self.step)
        return LISTANetwork(
            torch.as_tensor(input_weight, dtype=torch.float32),
            torch.as_tensor(feedback, dtype=torch.float32),
            self.step * self.regularization,
            self.layers,
        )
