"""One observation or a batch of them: told apart by the observation space, for any space.

An agent acts on batches (its ``_act`` takes one row per episode), and ``predict`` takes one
observation or a batch, as stable-baselines3's does. The space of *one* observation decides
which it was given: an array of the space's shape is one observation, an array with one more
leading axis is a batch; a ``Dict`` observation is a batch when every entry is. Without a
space (``None``) the rule of vector observations holds: 1-D is one, 2-D a batch.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


def vector_space(size: int) -> gym.spaces.Box:
    """The unbounded ``float64`` vectors of ``size`` entries (a state, a measurement)."""
    return gym.spaces.Box(-np.inf, np.inf, (size,), np.float64)


def _check_finite(array: np.ndarray, name: str) -> None:
    """No action is meaningful for a NaN or infinite observation; a silent one would spread."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, got NaN or inf in {array}")


def _array_batch(observation: Any, space: gym.spaces.Box | None, name: str):
    if space is None:
        array = np.asarray(observation, dtype=np.float64)
        _check_finite(array, name)
        if array.ndim not in (1, 2):
            raise ValueError(f"{name} must be 1-D or 2-D (batch), got shape {array.shape}")
        return (array[None], True) if array.ndim == 1 else (array, False)
    floating = space.dtype.kind == "f"
    array = np.asarray(observation, dtype=np.float64 if floating else space.dtype)
    _check_finite(array, name)
    if array.shape == space.shape:
        return array[None], True
    if array.shape[1:] == space.shape:
        return array, False
    batched = ", ".join(("batch", *map(str, space.shape)))
    raise ValueError(
        f"{name} must have shape {space.shape} (one) or ({batched}) (a batch), got {array.shape}"
    )


def as_batch(observation: Any, space: gym.Space | None) -> tuple[Any, bool]:
    """``(batch, single)``: the observation(s) with a leading batch axis, and whether one
    observation was given. ``ValueError`` for a shape that is neither."""
    if not isinstance(space, gym.spaces.Dict):
        return _array_batch(observation, space, "observation")
    if not isinstance(observation, dict) or set(observation) != set(space.spaces):
        keys = sorted(space.spaces)
        raise ValueError(f"observation must be a dict with keys {keys}, got {observation!r}")
    parts = {
        key: _array_batch(observation[key], sub, f"observation[{key!r}]")
        for key, sub in space.spaces.items()
    }
    singles = {single for _, single in parts.values()}
    sizes = {len(batch) for batch, _ in parts.values()}
    if len(singles) > 1 or len(sizes) > 1:
        raise ValueError(
            f"the entries of a Dict observation must all be one observation or all a batch of "
            f"the same size; got batch sizes {sorted(sizes)}"
        )
    return {key: batch for key, (batch, _) in parts.items()}, singles.pop()


def batch_size(batch: Any) -> int:
    """The number of rows of a batch from :func:`as_batch`."""
    if isinstance(batch, dict):
        return len(next(iter(batch.values())))
    return len(batch)
