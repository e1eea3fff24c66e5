"""What every frozen model dataclass of physical parameters shares: equality by value (arrays
compared element-wise), ``replace`` (a validated copy with some fields changed), and the check
of a scalar parameter."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypeVar

import numpy as np

Model = TypeVar("Model", bound="ValueModel")


def checked_scalar(name: str, value: Any, positive: bool) -> float:
    """``value`` as a float, or a ``ValueError`` naming ``name`` unless it is a finite real
    number (not a bool) that is positive, or ``>= 0`` where ``positive`` is false."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.floating | np.integer)
        or not math.isfinite(value)
        or (value <= 0 if positive else value < 0)
    ):
        valid = "a positive finite float" if positive else "a finite float >= 0"
        raise ValueError(f"{name} must be {valid}, got {value!r}")
    return float(value)


class ValueModel:
    """Mixin of the cart-pole's and the supply chain's models (frozen dataclasses)."""

    def replace(self: Model, **changes: Any) -> Model:
        """A copy with ``changes``, validated again by the dataclass."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, field.name), getattr(other, field.name))
            for field in dataclasses.fields(self)  # type: ignore[arg-type]
        )

    __hash__ = None  # type: ignore[assignment]
