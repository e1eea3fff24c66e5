r"""The minibatch Adam loop every supervised learner of the suite shares, whatever its task
(MIMO detectors, sparse recovery networks): a recipe, early stopping on held-out data, and
seeded initial weights.

:func:`train`, CleanRL-style: the last ``validation_fraction`` of the labelled examples is
held out; every iteration takes the next minibatch of an epoch's random permutation of the
others (a ``torch.Generator`` seeded by the fit seed), an Adam step on the learner's loss
with the step size annealed from ``learning_rate`` to 0 on a cosine. Labelled examples cost
budget, so training goes over them for as many epochs as the iterations take. Every
:data:`VALIDATE_EVERY` iterations, and after the last, the held-out examples are scored by
the learner's ``score`` (a tuple, lower is better: an error rate then a loss, a normalized
squared error) and the best weights kept (early stopping). A non-finite loss or gradient
stops the training with those best weights (the initial ones before the first check):
``diverged``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from mbdl_control.core import positive_float, positive_int

#: training iterations between two scores of the held-out examples
VALIDATE_EVERY = 100

Features = tuple[torch.Tensor, ...]
Loss = Callable[[Features, torch.Tensor], torch.Tensor]
Score = Callable[[Features, torch.Tensor], tuple[float, ...]]


@dataclass(frozen=True)
class TrainingRecipe:
    """The minibatch Adam recipe of :func:`train`: the initial step size, the iterations
    (minibatch steps), the examples per minibatch, and the held-out fraction (0: none, the
    last weights are kept)."""

    learning_rate: float
    iterations: int
    batch_size: int
    validation_fraction: float

    def __post_init__(self) -> None:
        rate = positive_float("learning_rate", self.learning_rate)
        object.__setattr__(self, "learning_rate", rate)
        object.__setattr__(self, "iterations", positive_int("iterations", self.iterations))
        object.__setattr__(self, "batch_size", positive_int("batch_size", self.batch_size))
        fraction = self.validation_fraction
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not (0.0 <= fraction < 1.0)
        ):
            raise ValueError(f"validation_fraction must be in [0, 1), got {fraction!r}")
        object.__setattr__(self, "validation_fraction", float(fraction))

    def step_size(self, iteration: int) -> float:
        """Adam's step size: ``learning_rate`` annealed to 0 on a cosine over the iterations."""
        return self.learning_rate * 0.5 * (1.0 + math.cos(math.pi * iteration / self.iterations))


@dataclass(frozen=True)
class Training:
    """The loss of every iteration, and whether a non-finite one stopped the training."""

    curve: list[float]
    diverged: bool


def take(features: Features, rows: slice | torch.Tensor) -> Features:
    """The rows ``rows`` of every feature tensor."""
    return tuple(feature[rows] for feature in features)


def seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``build()`` with torch's RNG seeded by ``seed`` in a fork: initial weights that depend
    on the seed alone, the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _minibatches(count: int, size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Rows ``0 … count−1`` in minibatches of ``size``, epoch after epoch of random order."""
    while True:
        yield from torch.randperm(count, generator=generator).split(size)


def _copy(network: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in network.state_dict().items()}


def _finite_gradient(network: nn.Module) -> bool:
    gradients = [p.grad for p in network.parameters() if p.grad is not None]
    return math.isfinite(float(nn.utils.get_total_norm(gradients)))


def train(
    network: nn.Module,
    features: Features,
    targets: torch.Tensor,
    loss: Loss,
    score: Score,
    recipe: TrainingRecipe,
    generator: torch.Generator,
    score_initial: bool = False,
    max_gradient_norm: float | None = None,
) -> Training:
    """Train ``network`` (module docstring) on labelled examples: ``features``, tensors whose
    first axis is the example, and their ``targets``. ``loss(features, targets)`` of a
    minibatch is what Adam descends; ``score(features, targets)`` of the held-out examples
    (called without gradients) is what early stopping minimizes; ``score_initial`` scores the
    initial weights too, so that early stopping can keep them (for a network that starts as
    a working model-based algorithm). ``max_gradient_norm``: the gradient (of all weights
    together) is scaled down to that norm before a step where it exceeds it (for recurrent
    networks trained through time)."""
    count = len(targets)
    held = round(recipe.validation_fraction * count)
    cut = count - held if 0 < held < count else count
    held_out, held_targets = take(features, slice(cut, None)), targets[cut:]
    optimizer = torch.optim.Adam(network.parameters(), lr=recipe.learning_rate, foreach=True)
    batches = _minibatches(cut, recipe.batch_size, generator)
    best, best_score = _copy(network), (math.inf,)

    def validate() -> tuple[float, ...]:
        with torch.no_grad():
            return score(held_out, held_targets)

    if score_initial:
        best_score = validate()
    curve: list[float] = []
    for iteration in range(recipe.iterations):
        rows = next(batches)
        value = loss(take(features, rows), targets[rows])
        optimizer.zero_grad()
        value.backward()
        if not (math.isfinite(float(value.detach())) and _finite_gradient(network)):
            network.load_state_dict(best)
            return Training(curve, diverged=True)
        if max_gradient_norm is not None:
            nn.utils.clip_grad_norm_(network.parameters(), max_gradient_norm)
        optimizer.param_groups[0]["lr"] = recipe.step_size(iteration)
        optimizer.step()
        curve.append(float(value.detach()))
        if (iteration + 1) % VALIDATE_EVERY == 0 or iteration + 1 == recipe.iterations:
            candidate = validate()
            if candidate <= best_score:
                best, best_score = _copy(network), candidate
    network.load_state_dict(best)
    return Training(curve, diverged=False)
