"""Labelled channel uses drawn from a MIMO detection env within a budget: the training data of
every learned MIMO detector, whatever its family (DetNet, DeepSIC, the MLP detector).

An episode of ``mbdl/MIMODetection-v0`` is one step: the observation holds ``T`` channel uses
sharing a channel estimate (:mod:`mbdl_control.blocks.mimo_observations`), and the step's
``info`` hands back the level indices sent, ``T`` labelled samples of the budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mbdl_control.core import Budget

#: the label key of the MIMO detection env: the level indices sent, ``(T, n_t)``
SYMBOLS = "symbols"


@dataclass(frozen=True)
class LabelledChannelUses:
    """Episodes drawn in ``fit``, as the batch of observations a detector acts on —
    ``received`` ``(B, T, n_r)``, the channel estimates ``channel`` ``(B, n_r, n_t)``,
    ``noise_var`` ``(B, 1)`` — and the level indices sent, ``symbols`` ``(B, T, n_t)``."""

    received: np.ndarray
    channel: np.ndarray
    noise_var: np.ndarray
    symbols: np.ndarray

    @property
    def steps(self) -> int:
        """Env steps drawn: one per episode."""
        return len(self.received)

    @property
    def labels(self) -> int:
        """Labelled channel uses drawn: ``B·T``."""
        return self.received.shape[0] * self.received.shape[1]

    def use_symbols(self) -> np.ndarray:
        """The level indices sent in each channel use ``u = b·T + t``, ``(B·T, n_t)`` (the
        order of :func:`~mbdl_control.blocks.mimo_observations.channel_uses`)."""
        return self.symbols.reshape(self.labels, -1)


def collect_labelled_channel_uses(env: Any, budget: Budget, seed: int) -> LabelledChannelUses:
    """Whole episodes of ``env`` while the budget's steps and labelled samples cover one more
    (an episode of ``T`` channel uses is one step and ``T`` samples), until the env withholds
    the labels. The first ``reset`` is seeded with ``seed`` and the env's generator runs on
    from there: a seed gives one training set, and two seeds two independent ones."""
    received: list[np.ndarray] = []
    channels: list[np.ndarray] = []
    noise_vars: list[np.ndarray] = []
    symbols: list[np.ndarray] = []
    labels_used = 0
    while len(received) < budget.steps:
        observation, _ = env.reset(seed=seed if not received else None)
        uses = np.asarray(observation["received"], dtype=np.float64)
        channel = np.asarray(observation["channel"], dtype=np.float64)
        if labels_used + len(uses) > budget.samples:
            break
        _, _, _, _, info = env.step(np.zeros((len(uses), channel.shape[1]), dtype=np.int64))
        if SYMBOLS not in info:
            break
        received.append(uses)
        channels.append(channel)
        noise_vars.append(np.asarray(observation["noise_var"], dtype=np.float64))
        symbols.append(np.asarray(info[SYMBOLS], dtype=np.int64))
        labels_used += len(uses)
    if not received:
        raise ValueError(
            "learning a MIMO detector needs a budget of at least one labelled episode (one "
            f"step and its T channel uses as samples), got {budget.steps} steps and "
            f"{budget.samples} samples"
        )
    return LabelledChannelUses(
        np.array(received), np.array(channels), np.array(noise_vars), np.array(symbols)
    )
