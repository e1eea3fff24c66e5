r"""DetNet: projected gradient descent on the MIMO least squares, unfolded into learned layers.

Samuel, Diskin & Wiesel, "Learning to Detect", IEEE Trans. Signal Process. 67(10), 2019.

The ML detector minimizes ``‖y − Hx‖²`` over the alphabet; a projected gradient step is
``x̂_k = Π[x̂_{k−1} + δ_k Hᵀy − δ_k HᵀH x̂_{k−1}]``. DetNet lifts each step into a layer that
reads the same quantities and learns what to do with them:

.. math::

    z_k &= \mathrm{ReLU}\big(W_{1k}\,[Hᵀy;\ \hat x_{k−1};\ HᵀH\hat x_{k−1};\ v_{k−1}]
          + b_{1k}\big),\\
    \hat x_k &= (1 − α)\,ψ_{t_k}(W_{2k} z_k + b_{2k}) + α\,\hat x_{k−1},\qquad
    v_k = W_{3k} z_k + b_{3k},

from ``x̂_0 = 0``, ``v_0 = 0``, with the residual weight ``α`` (``residual``; 0.9 in the
published code, 0.7 here: see the recipe). The projection ``ψ_t`` is the published
piecewise-linear soft sign ``ψ_t(x) = −1 + ρ(x + t)/|t| − ρ(x − t)/|t|`` (``ρ`` the ReLU), a
learned ``t_k`` per layer (from 0.5), generalized to the ``L`` equally spaced levels
``a_0 < … < a_{L−1}`` of a PAM dimension (QPSK, 16-QAM: :mod:`mbdl_control.models.mimo`) as
a soft staircase,

.. math::

    ψ_t(x) = a_0 + \sum_{j=1}^{L−1} 2d\;\mathrm{clip}\Big(\frac{x − m_j}{2|t|d} + \tfrac12,
        0, 1\Big),

``m_j`` the midpoints between levels, ``2d`` their spacing: for BPSK (``a = ±1``, ``d = 1``)
it is the published ``ψ_t``; each riser has slope ``1/|t|`` over ``2|t|d`` around its
midpoint, so ``x̂_k`` stays in level units and the decision is the nearest level of the last
layer's ``x̂_L``. (The paper's other multi-level variant, a one-hot output per level, is not
implemented.) The loss weights the layers as published,

.. math::

    \mathcal L = \sum_{k=1}^{D} \log(k)\;
        \frac{‖x − \hat x_k‖²}{‖x − \hat x_{\mathrm{ZF}}‖²}

(averaged over the uses of a minibatch; ``x̂_ZF = (HᵀH)⁻¹Hᵀy``, the ratio's denominator
floored at :data:`ZF_ERROR_FLOOR`; ``D = layers``), so the first layer carries no weight
and ``layers ≥ 2``.

What the network reads is the receiver's estimate: ``Ĥᵀy`` and ``ĤᵀĤ``, each scaled by
``c = n_t / tr(ĤᵀĤ)`` (:func:`~mbdl_control.blocks.mimo_training.use_statistics`; ZF is
unchanged by it, and the inputs are O(1) whatever the channel law and ``n_r``). Like the
published DetNet it does not read ``σ²``: trained over a range of SNRs, it detects blind to
the noise level. Trained on a mismatched env it learns the ``Ĥ`` quality it will see.

**The start: projected gradient descent.** The published layers start from random weights,
an untrained DetNet guessing at chance. Here (``initial_step`` ``η > 0``, the default 0.5)
each layer starts as the step it unfolds: the first ``2·n_t`` hidden units are the pair
``ReLU(±u)`` of ``u = x̂_{k−1} + δ(c Ĥᵀy − c ĤᵀĤ x̂_{k−1})``, ``δ = η/(1 − α)``, and the
estimate head reads their difference ``u`` alone (the other hidden units and the ``v`` head
keep their random start), so ``x̂_k = α x̂_{k−1} + (1 − α) ψ_t(u)`` is a damped projected
gradient step of size ``η`` (in units of ``c ĤᵀĤ``, mean diagonal 1) before any training.
``initial_step=0`` is the published random start.

**The recipe, scaled for a CPU.** Published: 89 layers (the code), hidden ``8·n_t``,
``v`` of ``2·n_t``, ``α = 0.9``, Adam at 1e-4 decayed by 0.97 every 1000 steps on
minibatches of 5000 fresh vectors (hundreds of millions of vector-passes), SNR ``U(7, 14)``
dB. Here (defaults): 20 layers, hidden ``4·n_t``, ``v`` of ``2·n_t``, ``α = 0.7`` (with 20
layers, ``α = 0.9`` lets an estimate move at most ``0.1·2`` per layer, too slow to
converge: untrained at 10 dB, 20 × 30 BPSK, BER 1.1e-2 with ``α = 0.9`` against 4.9e-3 with
``α = 0.7``), the projected-gradient start above, then 1200 Adam steps of 500 uses from the
budget's labelled uses (reused over epochs: fresh data costs budget), the step size 1e-4
annealed to 0 on a cosine, early stopping on a held-out tenth that scores the start too
(:mod:`mbdl_control.blocks.mimo_training`), so training keeps the start unless it does better.
``iterations`` sizes it (``iterations=200`` is a quick recipe, about 6 s of training).

**Measured** at 20 × 30 BPSK, i.i.d., trained with ``Budget(100_000, 100_000)`` on
``snr_db=[7, 14]``, one core, tested on 10⁵ fresh vectors per SNR (2·10⁶ bits). The fit
takes about 60 s (17–22 s drawing the episodes, the rest training); detecting 10⁵ vectors
about 2 s. BER at 8 / 9 / 10 / 11 / 12 / 13 dB:

* this default: 1.96e-2 / 1.01e-2 / 4.55e-3 / 1.79e-3 / 7.0e-4 / 2.6e-4, 1e-3 at 11.6 dB;
* the former default (random start, ``α = 0.9``, Adam at 2e-3, same steps; 2·10⁴ vectors):
  2.44e-2 / 1.45e-2 / 8.3e-3 / 4.8e-3 / 2.7e-3 / 1.7e-3, 1e-3 beyond 13 dB;
* exact ML (the sphere decoder, the same data): 1.54e-2 / 6.7e-3 / 2.47e-3 / 8.0e-4 /
  2.3e-4 / 5.1e-5, 1e-3 at 10.8 dB; LMMSE 4.3e-2 at 8 dB, 4.6e-3 at 13 dB.

So 0.8 dB from ML at 1e-3 (the former default about 3 dB), where the published DetNet, with
89 layers and its training, is close to the SDR detector and so to ML. Honestly measured,
the gain is the start, not the training: on 10⁵ labelled uses the early stopping kept the
projected-gradient start (the quick and the full recipe give the same weights), and every
training tried from it (Adam at 1e-4, 2e-4, 5e-4 or 2e-3, 1200 steps; the ``log k`` or a
quadratic layer weighting; 20 or 30 layers) lowered the loss but raised the BER (1e-3 at
12.0–12.4 dB instead of 11.6): the normalized squared error of the soft estimates is not
the error rate at high SNR, and a few 10⁵ vector-passes do not find what the published
millions of fresh vectors do. With ``α = 0.9`` the start and the former training moved 1e-3
from beyond 13 dB to 12.4 dB (20 layers) and 11.8 dB (30 layers); with ``α = 0.7``, 30
layers (``layers=30``, ~1.5× the cost) reach it at 11.4 dB.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mbdl_control.blocks.mimo_training import (
    LearnedMIMODetector,
    UseStatistics,
    chunked,
    detection_score,
)
from mbdl_control.blocks.training import Features, Training, TrainingRecipe, take, train
from mbdl_control.core import positive_int
from mbdl_control.models import MIMOSystem

#: the published initial softness ``t`` of ``ψ_t``
INITIAL_SOFTNESS = 0.5
#: keeps ``|t|`` away from 0 in ``ψ_t``
SOFTNESS_FLOOR = 1e-6
#: the least ``‖x − x̂_ZF‖²`` the loss divides by (an exact ZF estimate would weigh infinitely)
ZF_ERROR_FLOOR = 1e-6
#: the ridge added to ``c ĤᵀĤ`` (mean diagonal 1) for the ZF reference, so a singular Gram
#: still gives one
ZF_RIDGE = 1e-6


class SoftStaircase(nn.Module):
    """``ψ_t`` of the module docstring on the levels of one real dimension."""

    def __init__(self, levels: np.ndarray) -> None:
        super().__init__()
        levels = torch.as_tensor(levels, dtype=torch.float32)
        self.register_buffer("low", levels[0], persistent=False)
        self.register_buffer("midpoints", (levels[1:] + levels[:-1]) / 2, persistent=False)
        self.register_buffer("half_spacing", (levels[1] - levels[0]) / 2, persistent=False)

    def forward(self, x: torch.Tensor, softness: torch.Tensor) -> torch.Tensor:
        width = 2 * (softness.abs() + SOFTNESS_FLOOR) * self.half_spacing
        ramps = ((x[..., None] - self.midpoints) / width + 0.5).clamp(0.0, 1.0)
        return self.low + 2 * self.half_spacing * ramps.sum(-1)


class DetNetLayer(nn.Module):
    """One unfolded step: ``z = ReLU(W₁[·] + b₁)``, then the heads ``W₂z + b₂`` (the new
    estimate, before ``ψ_t``) and ``W₃z + b₃`` (the next ``v``; none after the last layer)."""

    def __init__(self, unknowns: int, hidden: int, auxiliary: int, last: bool) -> None:
        super().__init__()
        self.hidden = nn.Linear(3 * unknowns + auxiliary, hidden)
        self.heads = nn.Linear(hidden, unknowns + (0 if last else auxiliary))
        self.softness = nn.Parameter(torch.tensor(INITIAL_SOFTNESS))

    @torch.no_grad()
    def start_as_gradient_step(self, unknowns: int, step: float) -> None:
        """Set the weights so that the estimate head gives ``x̂ + δ(c Ĥᵀy − c ĤᵀĤ x̂)``: the
        first ``2·n_t`` hidden units are the pair ``ReLU(±u)`` of that ``u`` (``u`` their
        difference), the estimate head reads them alone; the other hidden units and the
        ``v`` head keep their random weights (as many pairs as ``hidden`` holds)."""
        pairs = min(unknowns, self.hidden.out_features // 2)
        eye = torch.eye(unknowns)[:pairs]
        rows = torch.cat([step * eye, eye, -step * eye], -1)  # on [Ĥᵀy; x̂; ĤᵀĤx̂]
        self.hidden.weight[: 2 * pairs] = 0.0
        self.hidden.weight[:pairs, : 3 * unknowns] = rows
        self.hidden.weight[pairs : 2 * pairs, : 3 * unknowns] = -rows
        self.hidden.bias[: 2 * pairs] = 0.0
        self.heads.weight[:unknowns] = 0.0
        self.heads.weight[:pairs, :pairs] = torch.eye(pairs)
        self.heads.weight[:pairs, pairs : 2 * pairs] = -torch.eye(pairs)
        self.heads.bias[:unknowns] = 0.0


class DetNetwork(nn.Module):
    """``(c Ĥᵀy, c ĤᵀĤ)`` ``(U, n_t)``, ``(U, n_t, n_t)`` → the estimates ``x̂_k`` of every
    layer, each ``(U, n_t)``."""

    def __init__(
        self,
        levels: np.ndarray,
        unknowns: int,
        layers: int,
        hidden: int,
        auxiliary: int,
        residual: float,
        initial_step: float = 0.0,
    ) -> None:
        super().__init__()
        self.unknowns, self.auxiliary, self.residual = unknowns, auxiliary, residual
        self.project = SoftStaircase(levels)
        self.layers = nn.ModuleList(
            DetNetLayer(unknowns, hidden, auxiliary, last=k == layers - 1) for k in range(layers)
        )
        if initial_step > 0:
            for layer in self.layers:
                layer.start_as_gradient_step(unknowns, initial_step / (1 - residual))

    def forward(self, matched: torch.Tensor, gram: torch.Tensor) -> list[torch.Tensor]:
        estimate = matched.new_zeros(matched.shape)
        auxiliary = matched.new_zeros(len(matched), self.auxiliary)
        estimates = []
        for layer in self.layers:
            gradient = (gram * estimate[:, None, :]).sum(-1)  # ĤᵀĤ x̂: faster than a bmm
            z = torch.relu(layer.hidden(torch.cat([matched, estimate, gradient, auxiliary], -1)))
            heads = layer.heads(z)
            new = self.project(heads[:, : self.unknowns], layer.softness)
            estimate = (1 - self.residual) * new + self.residual * estimate
            auxiliary = heads[:, self.unknowns :]
            estimates.append(estimate)
        return estimates


class DetNet(LearnedMIMODetector):
    """DetNet: projected gradient descent on ``Ĥ`` unfolded into learned layers, trained end
    to end on labelled channel uses (module docstring).

    Arguments: ``system`` — the env's ``structure()``; ``layers``; ``hidden_per_unknown`` and
    ``auxiliary_per_unknown`` — the widths of ``z`` and ``v`` per real unknown ``n_t``
    (published 8 and 2); ``residual`` — ``α``; ``initial_step`` — ``η`` of the
    projected-gradient start (0: the published random start); the training recipe
    ``learning_rate`` (Adam), ``iterations``, ``batch_size`` (uses per step),
    ``validation_fraction``.
    """

    family = "deep-unfolding"
    architecture = (
        "layers",
        "hidden_per_unknown",
        "auxiliary_per_unknown",
        "residual",
        "initial_step",
    )

    def __init__(
        self,
        system: MIMOSystem,
        layers: int = 20,
        hidden_per_unknown: int = 4,
        auxiliary_per_unknown: int = 2,
        residual: float = 0.7,
        initial_step: float = 0.5,
        learning_rate: float = 1e-4,
        iterations: int = 1200,
        batch_size: int = 500,
        validation_fraction: float = 0.1,
        knowledge: str = "structure",
    ) -> None:
        recipe = TrainingRecipe(learning_rate, iterations, batch_size, validation_fraction)
        super().__init__(system, recipe, knowledge)
        if positive_int("layers", layers) < 2:
            raise ValueError(f"layers must be at least 2 (the first has no weight), got {layers}")
        self.layers = int(layers)
        self.hidden_per_unknown = positive_int("hidden_per_unknown", hidden_per_unknown)
        self.auxiliary_per_unknown = positive_int("auxiliary_per_unknown", auxiliary_per_unknown)
        if isinstance(residual, bool) or not 0.0 <= residual < 1.0:
            raise ValueError(f"residual must be in [0, 1), got {residual!r}")
        self.residual = float(residual)
        if isinstance(initial_step, bool) or not 0.0 <= initial_step < math.inf:
            raise ValueError(f"initial_step must be a finite number >= 0, got {initial_step!r}")
        self.initial_step = float(initial_step)
        self.levels = torch.as_tensor(self.system.levels, dtype=torch.float32)
        self.weights = [math.log(k) for k in range(1, self.layers + 1)]
        self._initialize(0)

    def _build(self) -> nn.Module:
        unknowns = self.system.transmit_dim
        return DetNetwork(
            self.system.levels,
            unknowns,
            self.layers,
            self.hidden_per_unknown * unknowns,
            self.auxiliary_per_unknown * unknowns,
            self.residual,
            self.initial_step,
        )

    @staticmethod
    def _features(statistics: UseStatistics) -> Features:
        """``(c Ĥᵀy, c ĤᵀĤ)`` in float32."""
        scale = statistics.scale
        return (
            (statistics.matched * scale[:, None]).float(),
            (statistics.gram * scale[:, None, None]).float(),
        )

    @staticmethod
    def _zero_forcing(features: Features) -> torch.Tensor:
        """``x̂_ZF = (ĤᵀĤ)⁻¹Ĥᵀy`` of every use (from the scaled statistics, which ZF ignores)."""
        matched, gram = features
        ridge = ZF_RIDGE * torch.eye(gram.shape[-1])
        return torch.linalg.solve(gram + ridge, matched)

    def _loss(self, features: Features, symbols: torch.Tensor) -> torch.Tensor:
        """The layers' weighted errors relative to ZF's (module docstring); ``features``
        ``(c Ĥᵀy, c ĤᵀĤ, x̂_ZF)``."""
        matched, gram, zero_forcing = features
        sent = self.levels[symbols]
        reference = ((sent - zero_forcing) ** 2).sum(-1).clamp(min=ZF_ERROR_FLOOR)
        estimates = self.network(matched, gram)
        return sum(
            weight * (((sent - estimate) ** 2).sum(-1) / reference).mean()
            for weight, estimate in zip(self.weights, estimates, strict=True)
        )

    def _decide(self, features: Features) -> torch.Tensor:
        """The nearest level of the last layer's estimate (ties to the lower); ``features``
        begin with ``(c Ĥᵀy, c ĤᵀĤ)``."""
        estimate = self.network(*features[:2])[-1]
        return (estimate[..., None] - self.levels).abs().argmin(-1)

    def _train(
        self, statistics: UseStatistics, symbols: torch.Tensor, generator: torch.Generator
    ) -> Training:
        """End to end, ``x̂_ZF`` of every labelled use computed once for the loss."""
        features = self._features(statistics)
        zero_forcing = chunked(lambda rows: self._zero_forcing(take(features, rows)), len(symbols))
        return train(
            self.network,
            (*features, zero_forcing),
            symbols,
            self._loss,
            detection_score(self._loss, self._decide),
            self.recipe,
            generator,
            score_initial=True,
        )

    def _detect(self, statistics: UseStatistics) -> torch.Tensor:
        return self._decide(self._features(statistics))
