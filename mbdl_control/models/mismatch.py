r"""The ``mismatch`` knob: a nominal model at an exact relative distance from the truth.

For each perturbed matrix ``M`` the nominal model holds

.. math::

    \hat M = M + \varepsilon\,\|M\|_F\,\frac{E}{\|E\|_F},\qquad E_{ij} \sim \mathcal N(0, 1),

so that ``‖M̂ − M‖_F / ‖M‖_F = ε`` exactly: the relative Frobenius error of every perturbed
matrix equals ``mismatch``. The direction ``E`` comes from its own generator, so episode seeds
never change the models.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mbdl_control.models.linear_gaussian import LinearGaussianModel


def check_mismatch(mismatch: float, name: str = "mismatch") -> float:
    """Return ``mismatch`` as a float, or raise ``ValueError`` unless it is finite and ≥ 0."""
    value = float(mismatch)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite float >= 0 (0: nominal = true), got {mismatch}")
    return value


def perturb(
    model: LinearGaussianModel,
    mismatch: float,
    rng: np.random.Generator,
    fields: Sequence[str] = ("A", "B"),
) -> LinearGaussianModel:
    """The model with each matrix in ``fields`` at relative Frobenius error ``mismatch``."""
    mismatch = check_mismatch(mismatch)
    changes = {}
    for name in fields:
        matrix = getattr(model, name)
        direction = rng.standard_normal(matrix.shape)
        scale = mismatch * np.linalg.norm(matrix) / np.linalg.norm(direction)
        changes[name] = matrix + scale * direction
    return model.replace(**changes)


def relative_errors(true: LinearGaussianModel, nominal: LinearGaussianModel) -> dict[str, float]:
    """``‖M̂ − M‖_F / ‖M‖_F`` for every matrix the two models hold (0/0 counts as 0)."""
    errors = {}
    for name in ("A", "B", "C", "W", "V", "Q", "R", "x0_cov"):
        matrix, estimate = getattr(true, name), getattr(nominal, name)
        if matrix is None or estimate is None:
            continue
        norm = np.linalg.norm(matrix)
        gap = np.linalg.norm(estimate - matrix)
        errors[f"rel_error_{name}"] = float(gap / norm) if norm > 0 else float(gap)
    return errors
