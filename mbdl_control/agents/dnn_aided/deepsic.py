r"""DeepSIC: soft interference cancellation with a learned soft detector per stream and
iteration.

Shlezinger, Fu & Eldar, "DeepSIC: Deep Soft Interference Cancellation for Multiuser MIMO
Detection", IEEE Trans. Wireless Commun. 20(2), 2021.

Iterative soft interference cancellation (SIC) refines, over ``Q`` iterations, a probability
vector ``p_k^{(q)}`` over the ``L`` levels of every real dimension ``k`` (a *stream*: a user's
symbol, or its real or imaginary part). Iteration ``q`` estimates each stream from ``y`` with
the others' soft symbols ``x̄_j = Σ_l p_{jl} a_l`` (variance ``v_j``) cancelled, and maps the
result to ``p_k^{(q)}``; ``p^{(0)}`` is uniform (published: ``x̄ = 0``, ``v = E_s``). The
published DeepSIC learns that map per user and iteration with a small classifier fed
``[y; p_{−k}^{(q−1)}]``, for one fixed channel. Over a channel drawn anew every use, ``y``
and the soft symbols mean nothing without ``Ĥ``, so here the cancellation itself is the
model-based one, on the receiver's estimate, and the classifier learns the soft detection
from its output. Per use, with ``G = ĤᵀĤ``, ``V = diag(v)``, one solve

.. math::

    M = GV + σ²I,\qquad q_k = [M^{-1}G]_{kk},\qquad
    μ_k = \bar x_k + [M^{-1}(Ĥᵀy − G\bar x)]_k / q_k,\qquad γ_k = 1/q_k − v_k

gives every stream's unbiased LMMSE estimate ``μ_k`` from ``y − Σ_{j≠k} ĥ_j x̄_j`` (the filter
``C⁻¹ĥ_k``, ``C = ĤVĤᵀ + σ²I``, by the push-through identity ``ĤᵀC⁻¹ = M⁻¹Ĥᵀ``) and its
interference-plus-noise variance ``γ_k``: the extrinsic statistics of soft LMMSE-PIC (Wang &
Poor, IEEE Trans. Commun. 1999). Stream ``k``'s classifier at iteration ``q`` reads
``[μ_k, log γ_k]`` and gives ``p_k^{(q)}`` (softmax). At ``q = 1`` (uniform prior) ``μ`` is
the unbiased LMMSE estimate. A Gaussian demapper ``p_{kl} ∝ exp(−(μ_k − a_l)²/2γ_k)``
would make this the model-based LMMSE-PIC; the learned one may correct it where the residual
interference is not Gaussian or ``Ĥ`` is off (trained on the same ``Ĥ`` quality, it learns
how far to trust ``γ``). On i.i.d. Gaussian channels there is little to correct, and it
matches the Gaussian one rather than beating it: at 20 × 30 BPSK (trained at
``snr_db=[7, 14]`` from 100 000 labelled uses, 10⁶ test bits per point) the BER at 8 / 10 /
12 dB was 1.8e-2 / 3.7e-3 / 4.3e-4, LMMSE-PIC's 1.8e-2 / 3.3e-3 / 3.9e-4, and with ``Ĥ`` off
by ``ε = 0.2`` 1.1e-2 against 9.8e-3 at 10 dB (a learned correction added to the Gaussian
logits did no better); LMMSE's is 2.1e-2 at 10 dB, exact ML's 2.5e-3 (1.15e-4 against
5.4e-5 at 13 dB: about 0.5 dB from ML). A matched-filter cancellation
(``ĥ_kᵀ(y − Σ_{j≠k}ĥ_j x̄_j)/‖ĥ_k‖²`` and its variance, no solve) was measured too: it stays
above LMMSE (BER 0.042 at 10 dB after 3 iterations).

The classifiers are one hidden layer of ``hidden`` ReLU units and ``L`` logits each; the
``n_t`` streams of an iteration are one grouped network (stacked weights, an ``einsum``).
Training is sequential, iteration by iteration, as published: iteration ``q``'s classifiers
learn (cross entropy) on the labelled uses with the soft symbols that the trained iterations
before it give on those uses, by the minibatch Adam loop of
:mod:`mbdl_control.blocks.mimo_training` (``iterations`` steps per SIC iteration). The cost is
the solve, ``n_t × n_t`` with ``n_t + 1`` right-hand sides per use and iteration: about 2 s per
100 000 uses at ``n_t = 20`` on one core, so detecting 10⁵ vectors takes about 5 s; the
default fit (3 SIC iterations of 1000 steps) at 20 × 30 BPSK from 100 000 labelled uses
takes 30–40 s, a third of it drawing the episodes. If an iteration's training diverges, it
keeps its best weights (``diverged`` is reported) and the next iterations train on its
output.
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from mbdl_control.blocks.mimo_training import (
    LearnedMIMODetector,
    UseStatistics,
    chunked,
    detection_score,
)
from mbdl_control.blocks.training import Features, Training, TrainingRecipe, train
from mbdl_control.core import positive_int
from mbdl_control.models import MIMOSystem

#: the statistics each classifier reads: ``μ_k`` and ``log γ_k``
FEATURES = 2
#: the least ``γ_k`` (rounding can take ``1/q_k − v_k`` to or below 0)
VARIANCE_FLOOR = 1e-12

SoftSymbols = tuple[torch.Tensor, torch.Tensor]


def soft_ic_features(statistics: UseStatistics, mean: torch.Tensor, var: torch.Tensor):
    """``[μ_k, log γ_k]`` of every use and stream ``(U, n_t, 2)`` (module docstring), from
    the soft symbols ``mean``, ``var`` ``(U, n_t)``; float32."""
    gram = statistics.gram
    identity = torch.eye(gram.shape[-1], dtype=gram.dtype)
    system = gram * var[:, None, :] + statistics.noise_var[:, None, None] * identity
    residual = statistics.matched - (gram @ mean[..., None])[..., 0]
    solved = torch.linalg.solve(system, torch.cat([residual[..., None], gram], -1))
    gain = torch.diagonal(solved[..., 1:], dim1=-2, dim2=-1)
    estimate = mean + solved[..., 0] / gain
    variance = (1.0 / gain - var).clamp(min=VARIANCE_FLOOR)
    return torch.stack([estimate, variance.log()], -1).float()


class StreamClassifiers(nn.Module):
    """``streams`` one-hidden-layer classifiers at once: ``(U, streams, features)`` →
    logits ``(U, streams, classes)``, stream ``k`` by its own weights."""

    def __init__(self, streams: int, features: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.first = nn.Parameter(_uniform((streams, features, hidden), features))
        self.first_bias = nn.Parameter(_uniform((streams, hidden), features))
        self.second = nn.Parameter(_uniform((streams, hidden, classes), hidden))
        self.second_bias = nn.Parameter(_uniform((streams, classes), hidden))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(torch.einsum("usf,sfh->ush", features, self.first) + self.first_bias)
        return torch.einsum("ush,shc->usc", hidden, self.second) + self.second_bias


def _uniform(shape: tuple[int, ...], fan_in: int) -> torch.Tensor:
    """``U(−1/√fan_in, 1/√fan_in)``, ``nn.Linear``'s initialization."""
    bound = 1.0 / math.sqrt(fan_in)
    return torch.empty(shape).uniform_(-bound, bound)


class DeepSIC(LearnedMIMODetector):
    """DeepSIC on ``Ĥ``: iterative soft LMMSE interference cancellation, each stream's soft
    symbol from a learned classifier per iteration (module docstring).

    Arguments: ``system`` — the env's ``structure()``; ``sic_iterations`` — ``Q``;
    ``hidden`` — the classifiers' hidden units; the recipe of every iteration's training,
    ``learning_rate`` (Adam), ``iterations``, ``batch_size`` (uses per step) and
    ``validation_fraction``.
    """

    family = "dnn-aided"
    architecture = ("sic_iterations", "hidden")

    def __init__(
        self,
        system: MIMOSystem,
        sic_iterations: int = 3,
        hidden: int = 64,
        learning_rate: float = 1e-2,
        iterations: int = 1000,
        batch_size: int = 500,
        validation_fraction: float = 0.1,
        knowledge: str = "structure",
    ) -> None:
        recipe = TrainingRecipe(learning_rate, iterations, batch_size, validation_fraction)
        super().__init__(system, recipe, knowledge)
        self.sic_iterations = positive_int("sic_iterations", sic_iterations)
        self.hidden = positive_int("hidden", hidden)
        self.levels = torch.as_tensor(self.system.levels, dtype=torch.float64)
        self._initialize(0)

    def _build(self) -> nn.Module:
        streams, classes = self.system.transmit_dim, self.system.level_count
        return nn.ModuleList(
            StreamClassifiers(streams, FEATURES, self.hidden, classes)
            for _ in range(self.sic_iterations)
        )

    def _prior(self, count: int) -> SoftSymbols:
        """The uniform prior's soft symbols: the levels' mean and variance, every stream."""
        shape = (count, self.system.transmit_dim)
        mean = float(self.levels.mean())
        variance = self.system.symbol_energy - mean**2
        return (
            torch.full(shape, mean, dtype=torch.float64),
            torch.full(shape, variance, dtype=torch.float64),
        )

    def _soft_symbols(self, logits: torch.Tensor) -> SoftSymbols:
        """The mean and variance ``(U, n_t)`` of the levels under ``softmax(logits)``."""
        probabilities = torch.softmax(logits.double(), -1)
        mean = probabilities @ self.levels
        return mean, (probabilities @ self.levels**2 - mean**2).clamp(min=0.0)

    @staticmethod
    def _stage_loss(stage: nn.Module, features: Features, symbols: torch.Tensor) -> torch.Tensor:
        logits = stage(features[0])
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), symbols.ravel())

    @staticmethod
    def _stage_decide(stage: nn.Module, features: Features) -> torch.Tensor:
        return stage(features[0]).argmax(-1)

    def _train(
        self, statistics: UseStatistics, symbols: torch.Tensor, generator: torch.Generator
    ) -> Training:
        """Iteration by iteration (module docstring); the curve runs through every one."""
        soft = self._prior(len(statistics))
        curve: list[float] = []
        diverged = False
        for stage in self.network:
            features = self._stage_features(statistics, soft)
            training = train(
                stage,
                (features,),
                symbols,
                partial(self._stage_loss, stage),
                detection_score(
                    partial(self._stage_loss, stage), partial(self._stage_decide, stage)
                ),
                self.recipe,
                generator,
            )
            curve += training.curve
            diverged = diverged or training.diverged
            soft = self._stage_output(stage, features)
        return Training(curve, diverged)

    def _stage_output(self, stage: nn.Module, features: torch.Tensor) -> SoftSymbols:
        """The soft symbols a trained iteration gives on the training uses."""
        with torch.no_grad():
            return self._soft_symbols(chunked(lambda rows: stage(features[rows]), len(features)))

    @staticmethod
    def _stage_features(statistics: UseStatistics, soft: SoftSymbols) -> torch.Tensor:
        mean, var = soft
        return chunked(
            lambda rows: soft_ic_features(statistics.rows(rows), mean[rows], var[rows]),
            len(statistics),
        )

    def _detect(self, statistics: UseStatistics) -> torch.Tensor:
        soft = self._prior(len(statistics))
        for stage in self.network:
            logits = stage(soft_ic_features(statistics, *soft))
            soft = self._soft_symbols(logits)
        return logits.argmax(-1)
