"""The check every env with real-valued (``Box``) actions makes of an action: a control input,
a signal estimate. Integer decisions (detected symbols) have theirs in
:mod:`mbdl_control.envs.comms.decisions`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.envs.arguments import shown

#: numpy's dtype kinds of real numbers: floats, signed and unsigned integers
REAL_KINDS = "fiu"


def as_actions(name: str, actions: Any, space: gym.spaces.Space[Any]) -> np.ndarray:
    """``actions`` as a new float64 array, or a ``ValueError`` naming ``name`` unless it is
    an array of real numbers of ``space``'s shape, all finite. ``np.asarray(..., float64)``
    alone would parse strings and drop imaginary parts; a bool is no input either."""
    try:
        array = np.asarray(actions)
    except ValueError:  # a ragged nesting of lists
        raise ValueError(f"{name} must be an array for {space}, got {shown(actions)}") from None
    if array.dtype.kind not in REAL_KINDS:
        raise ValueError(
            f"{name} must hold real numbers (floats or integers) for {space}, got dtype "
            f"{array.dtype}: {shown(actions)}"
        )
    if array.shape != space.shape:
        raise ValueError(f"{name} must have shape {space.shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {array}")
    return np.array(array, dtype=np.float64)
