"""Labelled blocks drawn from a block env within a budget: the training data of every learned
detector, whatever its family (ViterbiNet's likelihood, the SBRNN end to end)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mbdl_control.core import Budget

#: the label key of the ISI channel env: the transmitted data symbol indices
SYMBOLS = "symbols"


@dataclass(frozen=True)
class LabelledBlocks:
    """Blocks drawn in ``fit``: received data ``samples`` and transmitted ``symbols``
    ``(N, D)``, and each block's ``pilot_symbols`` ``(N, P)``."""

    samples: np.ndarray
    symbols: np.ndarray
    pilot_symbols: np.ndarray

    @property
    def steps(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> int:
        return int(self.symbols.size)


def collect_labelled_blocks(env: Any, budget: Budget, seed: int) -> LabelledBlocks:
    """Whole blocks of ``env`` while the budget's steps and labelled samples cover one more
    (a block of ``D`` symbols is ``D`` samples), until the env withholds the labels."""
    samples: list[np.ndarray] = []
    symbols: list[np.ndarray] = []
    pilots: list[np.ndarray] = []
    labels_used = 0
    while len(samples) < budget.steps:
        observation, _ = env.reset(seed=seed * 100_003 + len(samples))
        block = np.asarray(observation["samples"], dtype=np.float64)
        if labels_used + block.size > budget.samples:
            break
        _, _, _, _, info = env.step(np.zeros(block.size, dtype=np.int64))
        if SYMBOLS not in info:
            break
        samples.append(block)
        symbols.append(np.asarray(info[SYMBOLS], dtype=np.int64))
        pilots.append(np.asarray(observation["pilot_symbols"], dtype=np.int64))
        labels_used += block.size
    if not samples:
        raise ValueError(
            f"learning a detector needs a budget of at least one labelled block (one step and "
            f"a block's symbols as samples), got {budget.steps} steps and {budget.samples} "
            "samples"
        )
    return LabelledBlocks(np.array(samples), np.array(symbols), np.array(pilots))
