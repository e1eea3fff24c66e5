"""The checks of a detector's decisions, shared by every detection env, single and batched.

A detection env's action is an array of symbol (or level) indices. Any array of real numbers
of the action space's shape whose entries are integers in range is accepted (``1.0`` is
``1``); anything else is refused with a ``ValueError`` that names the first bad entry, and
the env keeps waiting for a valid answer.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.envs.arguments import shown

#: numpy's dtype kinds of real numbers: floats, signed and unsigned integers
REAL_KINDS = "fiu"


def space_text(space: gym.spaces.Space[Any]) -> str:
    """A space as an error shows it: ``MultiDiscrete([2] * 1000)`` rather than a thousand 2s."""
    if not isinstance(space, gym.spaces.MultiDiscrete) or len(np.unique(space.nvec)) != 1:
        return " ".join(str(space).split())
    text = str(int(space.nvec.flat[0]))
    for length in reversed(space.shape):
        text = f"[{text}] * {length}"
    return f"MultiDiscrete({text})"


def as_decisions(name: str, actions: Any, space: gym.spaces.Space[Any]) -> np.ndarray:
    """``actions`` as a new array of real numbers of ``space``'s shape, or a ``ValueError``
    naming ``name``; :func:`check_symbol_indices` checks the values."""
    try:
        array = np.asarray(actions)
    except ValueError:  # a ragged nesting of lists
        raise ValueError(
            f"{name} must be an array for {space_text(space)}, got {shown(actions)}"
        ) from None
    if array.dtype.kind not in REAL_KINDS:
        raise ValueError(
            f"{name} must hold real numbers (integer symbol indices) for {space_text(space)}, "
            f"got dtype {array.dtype}: {shown(actions)}"
        )
    if array.shape != space.shape:
        raise ValueError(f"{name} must have shape {space.shape}, got {array.shape}")
    return array.copy()


def valid_symbol_indices(decisions: np.ndarray, size: int) -> np.ndarray:
    """Which entries are finite integers in ``0 … size−1`` (``2.0`` is ``2``)."""
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(decisions) & (decisions == np.round(decisions))
        return valid & (decisions >= 0) & (decisions < size)


def check_symbol_indices(
    name: str, decisions: np.ndarray, size: int, rows: np.ndarray | None = None
) -> np.ndarray:
    """``decisions`` as int64, or a ``ValueError`` naming ``name`` and the first bad entry
    unless every entry is a symbol index (:func:`valid_symbol_indices`); ``rows`` numbers the
    rows of a batch in the message."""
    valid = valid_symbol_indices(decisions, size)
    if not valid.all():
        where = [int(index) for index in np.argwhere(~valid)[0]]
        value = decisions[tuple(where)].item()
        if rows is not None:
            where[0] = int(rows[where[0]])
        raise ValueError(
            f"{name} must be finite integers in 0 ... {size - 1} (indices into the "
            f"{size}-point constellation), got {value!r} at index {where}"
        )
    return decisions.astype(np.int64)


def check_batch_decisions(requested: np.ndarray, stepped: np.ndarray, size: int) -> np.ndarray:
    """The decisions of the envs of a batch that step (rows ``stepped`` of ``requested``), as
    int64; a ``ValueError`` naming the envs whose decisions are not symbol indices (the whole
    batch is refused)."""
    decisions = requested[stepped]
    per_entry = valid_symbol_indices(decisions, size)
    valid = per_entry.all(axis=tuple(range(1, per_entry.ndim)))
    if not valid.all():
        bad = stepped[~valid]
        check_symbol_indices(f"actions of envs {bad.tolist()}", requested[bad], size, rows=bad)
    return decisions.astype(np.int64)
