r"""End-to-end sparse recovery networks: ``x ↦ ŝ`` learned from labelled signals, no model used.

The source paper's Example 11 (a deep convolutional network recovers super-resolved spikes
from blurred, decimated measurements); the baselines every unfolded network is measured
against (Gregor & LeCun, ICML 2010; Chen, Liu, Wang & Yin, NeurIPS 2018). Both networks are
built from the env's ``structure()`` alone (``m`` measurements, ``n`` unknowns): they are
told nothing of ``H``, the sparsity or the noise, and learn all of it from the signals.

**Input scaling.** A network reads ``x/c``, ``c`` the root mean square of the entries of
the labelled signals' measurements (fitted in ``fit``, 1 before; a buffer of the network, so the
checkpoint carries it), so the first layer sees O(1) inputs whatever ``H``'s scale. The
output is in the signal's units (non-zeros ``N(0, 1)``), unscaled.

:class:`ConvolutionalRecovery`: a dense linear upsampling to the signal's grid, then a
residual 1-D convolutional network on that grid,

.. math::

    a = W\,x/c + b\ \ (n),\qquad
    ŝ = a + \mathrm{conv}_{c→1} ∘ (\mathrm{ReLU} ∘ \mathrm{conv}_{c→c})^{L−1}
        ∘ \mathrm{ReLU} ∘ \mathrm{conv}_{1→c}(a),

``W`` ``n × m`` (it may learn a back-projection such as a regularized pseudo-inverse of
``H``), convolutions of ``kernel`` taps (zero padded, ``channels`` maps, ``L`` =
``hidden_layers``). The convolutions share their weights along the signal's index: on the
super-resolution grid (a shift of the spikes shifts the measurements, up to the edges and
the decimation) the error of a linear estimate is local and the same everywhere, so a small
kernel can sharpen it; for an unstructured Gaussian ``H`` the linear estimate's error is
spread over every entry and the convolutions can only act as a (shared, local) shrinkage, so
the network is little more than a learned linear estimator with a denoiser there, and worse
than the model-based solvers (measured below).

:class:`MLPRecovery`: a multilayer perceptron ``x/c → ŝ`` of ``hidden_layers`` ReLU
layers of ``width`` units (default ``2n``).

**The recipe** (both): Adam from ``learning_rate`` annealed to 0 on a cosine,
``iterations`` minibatches of ``batch_size`` signals from the budget's labelled ones
(reused over epochs), early stopping on a held-out ``validation_fraction``, the loss the
benchmark's normalized squared error (:mod:`mbdl_control.blocks.sparse_training`).
Defaults: the convolutional network with 4 hidden layers of 32 maps, kernel 9, 2000 steps of
64 signals at 3e-3 (on a grid of 32 → 128 samples, kernel 9 gained 0.4 dB over 5; 64 maps
rather than 32 nothing); the perceptron with 2 hidden layers of ``2n``, 2000 steps at 1e-3.
``iterations=200`` is a quick recipe (a few seconds), good only for a smoke test (the
convolutional network at −1.4 dB on the super-resolution defaults from 10³ signals).

**Measured** (one core, ``torch.set_num_threads(1)``; NMSE on 1000 fresh test signals, fit
seed 0; 10² / 10³ / 10⁴ training signals):

* ``mbdl/SuperResolution-v0`` defaults (``n = 128``, ``m = 64``): convolutional −0.4 / −7.5
  / −11.4 dB, perceptron +0.5 / −1.0 / −2.9. For comparison, on the true PSF: ADMM −11.9 dB
  in 20 iterations, −13.2 at convergence; the linear MMSE −3.0.
* ``mbdl/SparseRecovery-v0`` (250 × 500 Gaussian, noiseless): convolutional +3.3 / −2.5 /
  −5.6 dB, perceptron +0.2 / −0.5 / −2.0; ADMM −32.6 dB in 20 iterations, the linear MMSE
  −3.0.

From 10⁴ signals the fit (drawing them included) takes 32 s / 3 s of one core (convolutional
/ perceptron) at the super-resolution defaults, 2 min / 30 s at 250 × 500 (the convolutions
over 500 points: ``iterations=1000`` for a minute there).

So, told nothing of ``H``, the convolutional network comes within 0.5 dB of 20 ADMM
iterations on the super-resolution grid from 10⁴ signals, where the shared convolutions
have a structure to exploit, and stays 27 dB short of ADMM on the Gaussian benchmark,
where they have none. The perceptron learns no more than a linear estimator: it reaches the
linear MMSE on the super-resolution grid and stays 1 dB above it on the benchmark (1.75 M
weights from 9000 signals). On a grid of 32 → 128 samples, where the linear MMSE is −1.25 dB,
six variants (1–3 layers of 128–512 units, step sizes 3e-4 and 1e-3, minibatches of 64 and
256) all ended between −1.0 and −1.4 dB on held-out signals; for four of them the training
loss was no lower (for the other two −2.2 and −5.4 dB: overfitting), so it is mostly not
overfitting that holds them back but a dense network that finds little better than linear.
From 10²
signals (10 held out for early stopping) neither network beats answering 0 (0 dB).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mbdl_control.agents.deep_learning.mlp_detector import perceptron
from mbdl_control.blocks.sparse_training import LearnedSparseRecovery, convolutions
from mbdl_control.blocks.training import Training, TrainingRecipe
from mbdl_control.core import positive_int
from mbdl_control.models import SparseStructure, require_sparse_structure

#: the least input scale ``c`` (training measurements all zero)
SCALE_FLOOR = 1e-12


class ScaledInput(nn.Module):
    """``network(x / c)``, ``c`` the buffer ``scale`` (module docstring)."""

    scale: torch.Tensor

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(()))
        self.network = network

    def forward(self, measurements: torch.Tensor) -> torch.Tensor:
        return self.network(measurements / self.scale)


class UpsampledConvolutions(nn.Module):
    """``(B, m)`` → ``(B, n)``: the dense upsampling ``a``, then ``a`` plus the convolutions
    (module docstring)."""

    def __init__(
        self, measurements: int, unknowns: int, channels: int, hidden_layers: int, kernel: int
    ) -> None:
        super().__init__()
        self.upsample = nn.Linear(measurements, unknowns)
        self.convolutions = convolutions(channels, hidden_layers, kernel)

    def forward(self, measurements: torch.Tensor) -> torch.Tensor:
        upsampled = self.upsample(measurements)
        return upsampled + self.convolutions(upsampled[:, None])[:, 0]


class _EndToEndRecovery(LearnedSparseRecovery):
    """What both networks share: built from a :class:`~mbdl_control.models.SparseStructure`,
    the input scale fitted to the training measurements."""

    family = "deep-learning"
    knowledge_options = ("structure",)

    def __init__(self, structure: SparseStructure, recipe: TrainingRecipe, knowledge: str):
        super().__init__(
            require_sparse_structure(type(self).__name__, structure), recipe, knowledge
        )

    @property
    def config(self) -> dict[str, Any]:
        config = super().config
        return {"structure": config.pop("model"), **config}

    def _train(
        self, measurements: torch.Tensor, signals: torch.Tensor, generator: torch.Generator
    ) -> Training:
        """The input scale ``c`` from the labelled measurements (module docstring), then the
        end-to-end training."""
        scale = measurements.square().mean().sqrt().clamp(min=SCALE_FLOOR)
        self.network.get_buffer("scale").copy_(scale)
        return super()._train(measurements, signals, generator)


class ConvolutionalRecovery(_EndToEndRecovery):
    """A dense upsampling and a residual 1-D convolutional network, ``x ↦ ŝ`` (module
    docstring).

    Arguments: ``structure`` — the env's ``structure()``; ``channels``, ``hidden_layers``,
    ``kernel`` — the convolutions; the recipe ``learning_rate`` (Adam), ``iterations``,
    ``batch_size`` (signals per step), ``validation_fraction``.
    """

    architecture = ("channels", "hidden_layers", "kernel")

    def __init__(
        self,
        structure: SparseStructure,
        channels: int = 32,
        hidden_layers: int = 4,
        kernel: int = 9,
        learning_rate: float = 3e-3,
        iterations: int = 2000,
        batch_size: int = 64,
        validation_fraction: float = 0.1,
        knowledge: str = "structure",
    ) -> None:
        recipe = TrainingRecipe(learning_rate, iterations, batch_size, validation_fraction)
        super().__init__(structure, recipe, knowledge)
        self.channels = positive_int("channels", channels)
        self.hidden_layers = positive_int("hidden_layers", hidden_layers)
        self.kernel = positive_int("kernel", kernel)
        self._initialize(0)

    def _build(self) -> nn.Module:
        structure = self.model
        return ScaledInput(
            UpsampledConvolutions(
                structure.measurements,
                structure.unknowns,
                self.channels,
                self.hidden_layers,
                self.kernel,
            )
        )


class MLPRecovery(_EndToEndRecovery):
    """A multilayer perceptron ``x/c ↦ ŝ`` (module docstring).

    Arguments: ``structure`` — the env's ``structure()``; ``hidden_layers`` and ``width``
    (``None``: ``2n``); the recipe ``learning_rate`` (Adam), ``iterations``, ``batch_size``
    (signals per step), ``validation_fraction``.
    """

    architecture = ("hidden_layers", "width")

    def __init__(
        self,
        structure: SparseStructure,
        hidden_layers: int = 2,
        width: int | None = None,
        learning_rate: float = 1e-3,
        iterations: int = 2000,
        batch_size: int = 64,
        validation_fraction: float = 0.1,
        knowledge: str = "structure",
    ) -> None:
        recipe = TrainingRecipe(learning_rate, iterations, batch_size, validation_fraction)
        super().__init__(structure, recipe, knowledge)
        self.hidden_layers = positive_int("hidden_layers", hidden_layers)
        self.width = None if width is None else positive_int("width", width)
        self._initialize(0)

    def _build(self) -> nn.Module:
        structure = self.model
        width = 2 * structure.unknowns if self.width is None else self.width
        return ScaledInput(
            perceptron(structure.measurements, width, self.hidden_layers, structure.unknowns)
        )
