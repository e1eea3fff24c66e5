r"""The fully connected MIMO detector: DetNet's data-driven baseline, no model structure used.

Samuel, Diskin & Wiesel, "Learning to Detect", IEEE Trans. Signal Process. 67(10), 2019
(§V: the fully connected network, which detects well on one fixed channel and fails on
channels drawn anew every use, where DetNet does not).

A multilayer perceptron reads the same statistics as DetNet — ``c Ĥᵀy`` and the upper
triangle of ``c ĤᵀĤ`` (``n_t + n_t(n_t + 1)/2`` numbers; sufficient for ``x`` given ``Ĥ``
and ``σ²`` under Gaussian noise, fewer than ``y`` and ``vec Ĥ``'s ``n_r(n_t + 1)``, and
scaled by ``c = n_t / tr(ĤᵀĤ)`` as DetNet's are) — through ``layers`` hidden ReLU layers of
``hidden_per_unknown · n_t`` units, and gives ``L`` logits per real dimension; it learns by
cross entropy, and decides each dimension's most probable level. It is told nothing of how
``y`` came about: where DetNet's layers compute ``ĤᵀĤ x̂`` and project onto the levels, this
network must learn them. Defaults: 3 layers of ``8·n_t``, 4000 Adam steps of 500 uses at
1e-3 annealed to 0 on a cosine (:mod:`mbdl_control.blocks.mimo_training`): 15–25 s of
training at 20 × 30 on one core, besides drawing the episodes. There, from 100 000 labelled
uses drawn at ``snr_db=[7, 14]``, it stays far above LMMSE, as published: BER 0.12 / 0.11 /
0.105 at 8 / 10 / 13 dB against LMMSE's 0.043 / 0.021 / 0.0046. Wider layers (512) fit the
training uses better (BER 0.056) and the test ones hardly so (0.088 at 10 dB).
"""

from __future__ import annotations

import torch
from torch import nn

from mbdl_control.blocks.mimo_training import (
    LearnedMIMODetector,
    UseStatistics,
    detection_score,
)
from mbdl_control.blocks.training import Features, Training, TrainingRecipe, train
from mbdl_control.core import positive_int
from mbdl_control.models import MIMOSystem


def perceptron(inputs: int, width: int, layers: int, outputs: int) -> nn.Sequential:
    """``inputs → width → … → outputs``: ``layers`` hidden ReLU layers."""
    modules: list[nn.Module] = []
    for _ in range(layers):
        modules += [nn.Linear(inputs, width), nn.ReLU()]
        inputs = width
    modules.append(nn.Linear(inputs, outputs))
    return nn.Sequential(*modules)


class MLPDetector(LearnedMIMODetector):
    """A fully connected network from ``[c Ĥᵀy; triu(c ĤᵀĤ)]`` to each dimension's level
    (module docstring).

    Arguments: ``system`` — the env's ``structure()``; ``layers`` and ``hidden_per_unknown``
    (width per real unknown); the recipe ``learning_rate`` (Adam), ``iterations``,
    ``batch_size`` (uses per step) and ``validation_fraction``.
    """

    family = "deep-learning"
    architecture = ("layers", "hidden_per_unknown")

    def __init__(
        self,
        system: MIMOSystem,
        layers: int = 3,
        hidden_per_unknown: int = 8,
        learning_rate: float = 1e-3,
        iterations: int = 4000,
        batch_size: int = 500,
        validation_fraction: float = 0.1,
        knowledge: str = "structure",
    ) -> None:
        recipe = TrainingRecipe(learning_rate, iterations, batch_size, validation_fraction)
        super().__init__(system, recipe, knowledge)
        self.layers = positive_int("layers", layers)
        self.hidden_per_unknown = positive_int("hidden_per_unknown", hidden_per_unknown)
        self.upper = torch.triu_indices(self.system.transmit_dim, self.system.transmit_dim)
        self._initialize(0)

    def _build(self) -> nn.Module:
        unknowns = self.system.transmit_dim
        inputs = unknowns + unknowns * (unknowns + 1) // 2
        width = self.hidden_per_unknown * unknowns
        return perceptron(inputs, width, self.layers, unknowns * self.system.level_count)

    def _features(self, statistics: UseStatistics) -> Features:
        """``[c Ĥᵀy; triu(c ĤᵀĤ)]`` ``(U, n_t + n_t(n_t + 1)/2)`` in float32."""
        scale = statistics.scale
        gram = statistics.gram[:, self.upper[0], self.upper[1]]
        return (torch.cat([statistics.matched, gram], -1).mul(scale[:, None]).float(),)

    def _logits(self, features: Features) -> torch.Tensor:
        """``(U, n_t, L)``."""
        logits = self.network(features[0])
        return logits.reshape(len(logits), self.system.transmit_dim, self.system.level_count)

    def _loss(self, features: Features, symbols: torch.Tensor) -> torch.Tensor:
        logits = self._logits(features)
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), symbols.ravel())

    def _decide(self, features: Features) -> torch.Tensor:
        return self._logits(features).argmax(-1)

    def _train(
        self, statistics: UseStatistics, symbols: torch.Tensor, generator: torch.Generator
    ) -> Training:
        features = self._features(statistics)
        return train(
            self.network,
            features,
            symbols,
            self._loss,
            detection_score(self._loss, self._decide),
            self.recipe,
            generator,
        )

    def _detect(self, statistics: UseStatistics) -> torch.Tensor:
        return self._decide(self._features(statistics))
