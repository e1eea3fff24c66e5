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

**The recipe: end to end from the ISTA start**, the simplest tried and the best of them per
minute of training: Adam at the published 5e-4, annealed to 0 on a cosine, on the NMSE of the
last layer (:mod:`mbdl_control.blocks.sparse_training`), 2500 steps of 256 labelled signals
drawn from the budget's (reused over epochs: fresh ones cost budget), early stopping on a
held-out tenth that scores the ISTA start too, so training keeps the start unless it does
better. ``iterations=50`` is the quick recipe. What else was measured (the last three at
125 × 250, the same ``m/n`` and ``p``, on fresh signals unless said):

* Adam at 1e-3: −20.7 dB instead of −19.7 on 10⁵ signals, but on 10⁴ the held-out NMSE
  went from −9.2 dB to +63 dB between steps 400 and 500 and the loss non-finite at step 815
  (at 5e-4: −11.5 dB, stable);
* the published layer-wise schedule (per layer: Adam 5e-4 on the new layer, then 1e-4 and
  1e-5 on all layers so far, each stage until 4000 steps bring no better validation, batches
  of 64 fresh signals; the ALISTA code): at least 192 000 steps, at least 1.7 hours on an
  idle core (``benchmarks/lista.py --published``); not implemented;
* its first stage alone (each new layer trained by itself on its cached input, the layers
  before it frozen: one layer per step, cheap; Adam 5e-4, 1000 steps of 64 a layer):
  −14.0 dB at 16 layers even on 10⁵ signals, each layer greedy for its own output (0.3 dB a
  layer at the end);
* the sum of the layers' NMSEs as the loss: −13.3 dB against −13.1 (10⁴ signals, 1500
  steps of 64, Adam 3e-4 on the matrices, 3e-3 on the thresholds);
* the initial ``λ`` 0.01, 0.1 or 0.4: −14.5, −14.6, −14.7 dB after 1500 steps (likewise):
  training forgets it. 0.4 is the better start: 16 untrained layers give −5.8 dB against ISTA's
  −3.2 at ``λ = 0.01``.

**Measured** on the benchmark (250 × 500, noiseless, ``p = 0.1``; 1000 fresh test signals;
seed 0; one core; ``benchmarks/lista.py``), against ISTA (``λ = 0.01``, ``μ = 1/‖H‖₂²``)
on the same signals:

* 16 layers on 10⁵ labelled signals: **−19.7 dB** (−19.4 on another 1000 signals, −19.6 on
  the 10⁴ held out), from the start's −5.8; per layer −1.3, −2.3, −3.0, −3.6, −4.1, −4.8,
  −5.4, −6.1, −6.9, −7.8, −8.8, −10.0, −11.5, −13.6, −16.5, −19.7 dB. ISTA needs 600
  iterations for it, **37× the layers** (FISTA 65). The fit takes 398 s on an idle core
  (14 s drawing the signals and scoring the start, 0.15 s a step), 907 s with the machine
  loaded by other jobs;
* against the layers (10⁵ signals): 1, 2, 4, 8, 12, 16 layers give −6.0, −9.5, −12.9,
  −16.2, −18.2, −19.7 dB (ISTA's iterations for as much: 129, 276, 397, 498, 556, 600,
  100× the layers at 4, 37× at 16); the fits 27 … 314 s (loaded);
* against the labelled signals (16 layers): 10² −5.8 dB (the start kept), 10³ −6.4, 10⁴
  −11.5, 10⁵ −19.7. The 6.0 M weights are as many numbers as the labels of 1.2 · 10⁴
  signals; below 10⁵ they learn the training signals more than the law (10⁴: the held-out
  NMSE best at step 1000, −11.5 dB, then rising). Every fit runs its 2500 steps: 6 and
  10 minutes (loaded) for no or little gain at 10² and 10³;
* the quick recipe (``iterations=50``, 10⁴ signals): −8.4 dB in 11 s;
* recovering: 7 400 signals a second (float32; 23 500 under torch's bfloat16 autocast, at
  −19.5 dB against −19.6), 40× ISTA and 5× FISTA at the same NMSE.

**Missed: the issue's −30 dB at 16 layers** (−19.7 dB, 10 dB short). The class holds it:
at 125 × 250 the 16 layers at ALISTA's analytic weights (Liu, Chen, Wang & Yin, ICLR 2019:
``W¹_k = γ_k W̃ᵀ``, ``W²_k = I − γ_k W̃ᵀH``, ``W̃`` the columns of ``(HHᵀ)⁻¹H`` scaled to
``w̃_iᵀh_i = 1``), with only their 32 scalars ``γ_k, θ_k`` trained, reach −30.5 dB in 1500
steps of 64 fresh signals; on the benchmark itself so does ADMM at 16 iterations (−30.2 dB,
``benchmarks/sparse_recovery.py``), whose step is the same kind of ``(HᵀH + ρI)⁻¹``
preconditioning. From the ISTA start the matrices have to travel
there: ``diag W²`` from ``1 − μ`` ≈ 0.82 to about 0, the off-diagonals to a preconditioned
pattern, while Adam moves each weight by at most about the step size per step; the thresholds
alone (ISTA's matrices kept) reach −7.2 dB, a step size and threshold per layer −12 dB. End to
end at 125 × 250 the NMSE still falls about 1 dB per 1000 steps of 256 fresh signals (−15.8,
−17.8, −19.3, −20.7, −21.9, −22.2 dB at 1000 … 6000 steps, annealed over 6000): the
published recipe's hundreds of thousands of steps are what this start needs.
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
