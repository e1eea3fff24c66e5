r"""The ``mismatch`` knob: a nominal model at an exact relative distance from the truth.

For each perturbed matrix ``M`` the nominal model holds

.. math::

    \hat M = M + \varepsilon\,\|M\|_F\,\frac{E}{\|E\|_F},\qquad E_{ij} \sim \mathcal N(0, 1),

so that ``‖M̂ − M‖_F / ‖M‖_F = ε`` exactly: the relative Frobenius error of every perturbed
matrix equals ``mismatch``. The direction ``E`` comes from its own generator, so episode seeds
never change the models.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def check_mismatch(mismatch: float, name: str = "mismatch") -> float:
    """Return ``mismatch`` as a float, or raise ``ValueError`` unless it is finite and ≥ 0."""
    value = float(mismatch)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite float >= 0 (0: nominal = true), got {mismatch}")
    return value


def perturb(
    model: Any,
    mismatch: float,
    rng: np.random.Generator,
    fields: Sequence[str] = ("A", "B"),
) -> Any:
    """The model (any frozen model dataclass with a validating ``replace``) with each array in
    ``fields`` at relative Frobenius error ``mismatch``."""
    mismatch = check_mismatch(mismatch)
    changes = {}
    for name in fields:
        matrix = getattr(model, name)
        direction = rng.standard_normal(matrix.shape)
        scale = mismatch * np.linalg.norm(matrix) / np.linalg.norm(direction)
        changes[name] = matrix + scale * direction
    return model.replace(**changes)


def relative_errors(true: Any, nominal: Any) -> dict[str, float]:
    """``‖M̂ − M‖_F / ‖M‖_F`` for every array field the two models (dataclasses of one kind)
    both hold, keyed ``rel_error_<field>`` (``‖M̂ − M‖_F`` where ``M = 0``)."""
    errors = {}
    for field in dataclasses.fields(true):
        matrix, estimate = getattr(true, field.name), getattr(nominal, field.name)
        if not isinstance(matrix, np.ndarray) or not isinstance(estimate, np.ndarray):
            continue
        norm = np.linalg.norm(matrix)
        gap = np.linalg.norm(estimate - matrix)
        errors[f"rel_error_{field.name}"] = float(gap / norm) if norm > 0 else float(gap)
    return errors
