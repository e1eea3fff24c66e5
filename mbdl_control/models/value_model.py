"""What every frozen model dataclass of physical parameters shares: equality by value (arrays
compared element-wise) and ``replace`` (a validated copy with some fields changed)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import numpy as np

Model = TypeVar("Model", bound="ValueModel")


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
