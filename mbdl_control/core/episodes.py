"""Facts about an env's episodes that wrappers hide from the env itself."""

from __future__ import annotations

import gymnasium as gym


def episode_length(env: gym.Env) -> int | None:
    """Where ``env`` truncates: its outermost ``max_episode_steps`` (the ``TimeLimit`` that
    ``gym.make`` adds), else the env's own ``horizon``, else ``None``."""
    if env.spec is not None and env.spec.max_episode_steps is not None:
        return int(env.spec.max_episode_steps)
    return getattr(env.unwrapped, "horizon", None)
