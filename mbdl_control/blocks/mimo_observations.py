r"""What a MIMO detector reads and answers, written once for every family of detectors.

An observation of ``mbdl/MIMODetection-v0`` is a ``Dict`` of ``received`` ``(T, n_r)`` (``T``
channel uses sharing one channel), ``channel`` ``(n_r, n_t)`` (the receiver's estimate ``Ĥ``)
and ``noise_var`` ``(1,)`` (``σ²`` per real dimension), in the real representation of
:mod:`mbdl_control.models.mimo`; the action is ``(T, n_t)`` level indices. A detector works
on *channel uses*: :func:`channel_uses` flattens a batch of episodes ``(B, …)`` into
``B·T`` rows, each with its ``y``, ``Ĥ`` and ``σ²``, and :func:`as_actions` folds the
decisions back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.models import MIMOSystem

#: the keys of a MIMO detection observation
MIMO_KEYS = ("received", "channel", "noise_var")


def mimo_space(system: MIMOSystem, block_length: int) -> gym.spaces.Dict:
    """The observation space of one episode of ``block_length`` channel uses of ``system``."""
    unbounded = np.inf
    return gym.spaces.Dict(
        {
            "received": gym.spaces.Box(
                -unbounded, unbounded, (block_length, system.receive_dim), np.float64
            ),
            "channel": gym.spaces.Box(
                -unbounded, unbounded, (system.receive_dim, system.transmit_dim), np.float64
            ),
            "noise_var": gym.spaces.Box(0.0, unbounded, (1,), np.float64),
        }
    )


def mimo_action_space(system: MIMOSystem, block_length: int) -> gym.spaces.MultiDiscrete:
    """Level indices ``(T, n_t)``, int64."""
    shape = (block_length, system.transmit_dim)
    return gym.spaces.MultiDiscrete(np.full(shape, system.level_count), dtype=np.int64)


def mimo_space_of(observation: Any, system: MIMOSystem) -> gym.spaces.Dict:
    """The :func:`mimo_space` of the episodes in ``observation``, whatever their number of
    channel uses ``T``: ``channel`` 2-D is one episode, 3-D a batch. A detector takes blocks
    of any length, so it reads the space off each observation
    (``BaseAgent.observation_space_of``); :mod:`mbdl_control.core.observations` checks the
    rest. A ``ValueError`` names what is wrong."""
    if not isinstance(observation, dict) or set(observation) != set(MIMO_KEYS):
        raise ValueError(
            f"a MIMO observation is a dict with keys {sorted(MIMO_KEYS)}, got {observation!r}"
        )
    shapes = {key: np.shape(observation[key]) for key in MIMO_KEYS}
    expected = (system.receive_dim, system.transmit_dim)
    if len(shapes["received"]) not in (2, 3) or shapes["channel"][-2:] != expected:
        raise ValueError(
            f"observation['received'] must be (T, {system.receive_dim}) or (batch, T, "
            f"{system.receive_dim}) and observation['channel'] (…, {expected[0]}, {expected[1]}) "
            f"for {system}; got shapes {shapes}"
        )
    return mimo_space(system, shapes["received"][-2])


@dataclass(frozen=True)
class ChannelUses:
    """A batch of episodes as ``B·T`` channel uses: ``received`` ``(U, n_r)``, ``channel``
    ``(U, n_r, n_t)`` and ``noise_var`` ``(U,)``, use ``u = b·T + t``; ``episodes`` ``B`` and
    ``block_length`` ``T`` fold the decisions back."""

    received: np.ndarray
    channel: np.ndarray
    noise_var: np.ndarray
    episodes: int
    block_length: int


def channel_uses(observations: dict[str, np.ndarray]) -> ChannelUses:
    """The channel uses of a batch of episodes (``received`` ``(B, T, n_r)``, ``channel``
    ``(B, n_r, n_t)``, ``noise_var`` ``(B, 1)``); the channel and noise level of an episode
    are repeated for each of its uses (a copy, unless ``T = 1``)."""
    received = np.asarray(observations["received"], dtype=np.float64)
    episodes, length, receive_dim = received.shape
    channel = np.asarray(observations["channel"], dtype=np.float64)
    noise_var = np.asarray(observations["noise_var"], dtype=np.float64).reshape(episodes)
    repeated = np.broadcast_to(channel[:, None], (episodes, length, *channel.shape[1:]))
    return ChannelUses(
        received.reshape(episodes * length, receive_dim),
        repeated.reshape(episodes * length, *channel.shape[1:]),
        np.repeat(noise_var, length),
        episodes,
        length,
    )


def as_actions(decisions: np.ndarray, uses: ChannelUses) -> np.ndarray:
    """Level indices ``(U, n_t)`` of the channel uses as the actions ``(B, T, n_t)``."""
    return np.asarray(decisions, dtype=np.int64).reshape(uses.episodes, uses.block_length, -1)


def nearest_levels(estimates: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The index of the level nearest to each real estimate (ties to the lower level)."""
    return np.abs(np.asarray(estimates)[..., None] - levels).argmin(axis=-1)
