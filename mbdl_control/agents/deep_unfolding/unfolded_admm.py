r"""Unfolded ADMM: ``K`` ADMM iterations on the nominal ``H`` turned into layers with their own
weights, trained end to end on labelled signals.

Shlezinger, Eldar & Boyd, "Model-Based Deep Learning" (2022), Examples 15 and 16; the
ADMM-Net of Yang, Sun, Li & Xu (NeurIPS 2016). ADMM on the LASSO ``min ½‖x − Hs‖² + λ‖s‖₁``
(scaled form, :mod:`mbdl_control.blocks.sparse_iterations`) runs, from ``z_0 = u_0 = 0``,

.. math::

    s_{k+1} &= W^1_k x + W^2_k (z_k − u_k),\\
    z_{k+1} &= T_{θ_k}(s_{k+1} + u_k),\qquad u_{k+1} = u_k + s_{k+1} − z_{k+1},

and the estimate is ``z_K``. ADMM itself has ``W¹ = (HᵀH + ρI)⁻¹Hᵀ``, ``W² = ρ(HᵀH + ρI)⁻¹``
and ``θ = λ/ρ`` in every layer (:func:`admm_matrices`; the paper writes its penalty ``2λ``).
Unfolding frees them layer by layer:

* ``matrices=False`` (Example 15): a regularization ``λ_k = e^{a_k}`` and a penalty
  ``ρ_k = e^{b_k}`` per layer (``2K`` scalars, positive whatever the step), the
  ``s``-update applied through the thin SVD of the nominal ``H`` (:class:`Resolvent`,
  differentiable in ``ρ_k``);
* ``matrices=True`` (Example 16): ``W¹_k`` (``n × m``), ``W²_k`` (``n × n``) and
  ``θ_k = e^{c_k}`` per layer, ``K(nm + n² + 1)`` parameters. The matrices are ADMM's plus
  ``ε`` (``matrix_rate``) times learned corrections ``D¹_k``, ``D²_k`` that start at 0, so
  that Adam moves them ``ε`` times as fast as the thresholds: one learning rate cannot serve
  both (on the benchmark below, Adam at 3e-4 or 1e-3 on everything lost to the start, while
  the thresholds learn at 1e-2 to 1e-1). ``ε = 1e-3`` gives the matrices 1e-4.

Both start as ADMM on the nominal ``H`` with ``λ`` (:func:`lasso_lambda` of the model's
noise, or ``regularization``) and ``ρ`` (``penalty``, 0.1), ``starts_as_algorithm``, so early
stopping keeps plain ADMM unless training does better on the held-out signals. The start
matters: the model-based ADMM's ``ρ = 3λ`` (0.03 on the benchmark) is better untrained
(−30.3 dB against −28.6 at 16 iterations), but from it the same recipe trains the per-layer
scalars to −39.0 dB against −43.8 from ``ρ = 0.1``, and the matrices to −36.5 against −40.4;
on the PSF the two starts nearly coincide (``3λ = 0.107``). The loss is the normalized
squared error of the last layer (:mod:`mbdl_control.blocks.sparse_training`) on the env's
labelled signals, i.e. from the true system while the weights start on the nominal ``H``.

**Recipe** (defaults): Adam at 0.1 (10 % of a scalar a step), annealed to 0 on a cosine,
500 steps of 64 signals, a tenth held out. ``iterations=100`` is the quick recipe (with 1000
signals: −40.3 dB per-layer and −38.0 with matrices on the benchmark, 1–7 s).

**Measured** (one core; 1000 fresh test signals; NMSE in dB; ``K = 16``; trained with
100 / 1000 / 10⁴ labelled signals; ADMM at ``ρ = 0.1`` on the nominal ``H`` for 16
iterations, and the LASSO itself, i.e. ADMM run 1000; the settings of
:mod:`mbdl_control.agents.learned_optimizer.sparse`, where learned ADMM, one ``λ`` and one
``ρ`` for all iterations, gets −34.2, −14.2, −12.9 and −8.9 dB with 10⁴ signals):

======================  =====  =====  =====================  =====================
setting                  ADMM  LASSO  per-layer λ_k, ρ_k     per-layer matrices
======================  =====  =====  =====================  =====================
benchmark 250 × 500     −28.6  −35.6  −41.6 / −43.3 / −43.8  −35.3 / −37.9 / −40.4
PSF, mismatch 0         −12.0  −13.6  −14.1 / −13.9 / −14.0  −12.0 / −12.1 / −12.4
PSF, mismatch 0.1       −11.7  −12.3  −13.4 / −13.5 / −13.6  −11.8 / −11.9 / −12.2
PSF, mismatch 0.3        −8.7   −8.9  −10.0 / −10.4 / −10.8   −9.0 /  −9.3 /  −9.7
======================  =====  =====  =====================  =====================

The per-layer scalars beat the LASSO they start from by 8 dB on the benchmark (a two-phase
schedule: ``λ_k ≈ 0.015``, ``ρ_k ≈ 0.05`` in the first eleven layers, then ``λ_k ≈ 0.005``,
``ρ_k ≈ 0.15``), and at mismatch 0.1 and 0.3 they gain 1.2 and 1.9 dB over the LASSO on the
nominal PSF, part of the way to the true PSF's −13.6 (ADMM on it: −12.0 in 16 iterations).
The free matrices do worse: they overfit 10⁴ signals. On the benchmark (6·10⁶ parameters)
they end at −46.8 dB on their 9000 training signals against −40.4 on fresh ones; on the PSF
(4·10⁵ parameters) at −14.0 against −12.4 (mismatch 0) and −10.9 against −9.7 (0.3).
Training takes 12–17 s (scalars) and 29–37 s (matrices) on the benchmark, 4–6 s on the PSF
(CPU time, drawing the data included).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from mbdl_control.blocks.sparse_iterations import (
    Resolvent,
    admm_iteration,
    admm_matrices,
    lasso_lambda,
)
from mbdl_control.blocks.sparse_training import LearnedSparseRecovery
from mbdl_control.blocks.training import TrainingRecipe
from mbdl_control.core import positive_float, positive_int
from mbdl_control.models import SparseLinearModel, require_sparse


def _float32(value: np.ndarray | list[float]) -> torch.Tensor:
    return torch.from_numpy(np.array(value, dtype=np.float32))


def _linear_least_squares(
    direct: torch.Tensor, feedback: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A layer's ``s``-update ``v ↦ W¹x + W²v``, ``direct`` the rows ``W¹x``."""
    return lambda v: direct + v @ feedback.T


class PenaltyADMMLayers(nn.Module):
    """ADMM on ``H`` with ``λ_k``, ``ρ_k`` per layer (Example 15): measurements ``(B, m)`` →
    ``z_K`` ``(B, n)``."""

    def __init__(
        self, sensing: np.ndarray, regularization: float, penalty: float, layers: int
    ) -> None:
        super().__init__()
        resolvent = Resolvent.of(sensing)
        self.register_buffer("sensing", _float32(sensing), persistent=False)
        self.register_buffer("right", _float32(resolvent.right), persistent=False)
        self.register_buffer("squares", _float32(resolvent.squares), persistent=False)
        self.log_regularization = nn.Parameter(_float32([math.log(regularization)] * layers))
        self.log_penalty = nn.Parameter(_float32([math.log(penalty)] * layers))

    def forward(self, measurements: torch.Tensor) -> torch.Tensor:
        resolvent = Resolvent(self.right, self.squares)
        matched = measurements @ self.sensing
        z = measurements.new_zeros(len(measurements), self.sensing.shape[1])
        u = torch.zeros_like(z)
        for log_regularization, log_penalty in zip(
            self.log_regularization, self.log_penalty, strict=True
        ):
            penalty = log_penalty.exp()
            least_squares = resolvent.least_squares(matched, penalty)
            z, u = admm_iteration(z, u, least_squares, log_regularization.exp() / penalty)
        return z


class MatrixADMMLayers(nn.Module):
    """ADMM with ``W¹_k``, ``W²_k``, ``θ_k`` per layer (Example 16), started at ADMM's with
    ``λ``, ``ρ``: measurements ``(B, m)`` → ``z_K`` ``(B, n)``. The matrices are ADMM's plus
    ``ε`` (``matrix_rate``) times learned corrections that start at 0."""

    def __init__(
        self,
        sensing: np.ndarray,
        regularization: float,
        penalty: float,
        layers: int,
        matrix_rate: float,
    ) -> None:
        super().__init__()
        input_matrix, feedback = admm_matrices(sensing, penalty)
        self.register_buffer("input_start", _float32(input_matrix), persistent=False)
        self.register_buffer("feedback_start", _float32(feedback), persistent=False)
        self.input_corrections = nn.Parameter(torch.zeros(layers, *input_matrix.shape))
        self.feedback_corrections = nn.Parameter(torch.zeros(layers, *feedback.shape))
        self.log_threshold = nn.Parameter(_float32([math.log(regularization / penalty)] * layers))
        self.matrix_rate = matrix_rate

    def matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``W¹_k`` ``(K, n, m)`` and ``W²_k`` ``(K, n, n)``."""
        rate = self.matrix_rate
        return (
            self.input_start + rate * self.input_corrections,
            self.feedback_start + rate * self.feedback_corrections,
        )

    def forward(self, measurements: torch.Tensor) -> torch.Tensor:
        z = measurements.new_zeros(len(measurements), self.input_start.shape[0])
        u = torch.zeros_like(z)
        for input_matrix, feedback, log_threshold in zip(
            *self.matrices(), self.log_threshold, strict=True
        ):
            least_squares = _linear_least_squares(measurements @ input_matrix.T, feedback)
            z, u = admm_iteration(z, u, least_squares, log_threshold.exp())
        return z


class UnfoldedADMM(LearnedSparseRecovery):
    """ADMM on the nominal ``H`` unfolded into ``layers`` layers with per-layer ``λ_k, ρ_k``
    (``matrices=False``) or ``W¹_k, W²_k, θ_k`` (``matrices=True``), trained end to end
    (module docstring).

    Arguments: ``model`` — the env's nominal ``SparseLinearModel``; ``layers`` — ``K``;
    ``matrices`` — which weights each layer learns; ``regularization`` — the initial ``λ``
    (``None``: :func:`lasso_lambda`); ``penalty`` — the initial ``ρ``; ``matrix_rate`` —
    ``ε``, the matrices' Adam step relative to the scalars' (``matrices=True`` only); the
    training recipe ``learning_rate`` (Adam), ``iterations``, ``batch_size`` (signals per
    step), ``validation_fraction``.
    """

    family = "deep-unfolding"
    knowledge_options = ("nominal",)
    starts_as_algorithm = True
    architecture = ("layers", "matrices", "regularization", "penalty", "matrix_rate")

    def __init__(
        self,
        model: SparseLinearModel,
        layers: int = 16,
        matrices: bool = False,
        regularization: float | None = None,
        penalty: float = 0.1,
        matrix_rate: float = 1e-3,
        learning_rate: float = 0.1,
        iterations: int = 500,
        batch_size: int = 64,
        validation_fraction: float = 0.1,
        knowledge: str = "nominal",
    ) -> None:
        recipe = TrainingRecipe(learning_rate, iterations, batch_size, validation_fraction)
        super().__init__(require_sparse("UnfoldedADMM", model), recipe, knowledge)
        self.layers = positive_int("layers", layers)
        if not isinstance(matrices, bool | np.bool_):
            raise ValueError(f"matrices must be True or False, got {matrices!r}")
        self.matrices = bool(matrices)
        self.regularization = None
        if regularization is not None:
            self.regularization = positive_float("regularization", regularization)
        self.penalty = positive_float("penalty", penalty)
        self.matrix_rate = positive_float("matrix_rate", matrix_rate)
        self._initialize(0)

    def _build(self) -> nn.Module:
        regularization = self.regularization or lasso_lambda(
            self.model.noise_std, self.model.unknowns
        )
        arguments = (self.model.sensing, regularization, self.penalty, self.layers)
        if self.matrices:
            return MatrixADMMLayers(*arguments, self.matrix_rate)
        return PenaltyADMMLayers(*arguments)

    def hyperparameters(self) -> dict[str, np.ndarray]:
        """The per-layer scalars learned (or initial): ``regularization`` and ``penalty``
        (``matrices=False``) or ``threshold`` (``matrices=True``), each ``(layers,)``."""
        return {
            name.removeprefix("log_"): value.detach().exp().numpy()
            for name, value in self.network.named_parameters()
            if name.startswith("log_")
        }
