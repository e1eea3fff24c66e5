"""Transitions of a system explored under a dithered saturated LQR: the data a learner of
dynamics fits (system identification, residual networks).

Episode ``k`` starts from ``env.reset(seed=seed·100003 + k)``; each step applies
``u = clip(−K x + exploration · u_max · ε)`` (``u_max = 1`` without bounds), ``K`` the LQR
gain of the designer's (linear or linearized) model and ``ε`` standard normal from
``default_rng(seed)``: the persistent excitation a regression needs, around the closed loop
the designer would run (Ljung, *System Identification*, 2nd ed., §13.2). Any other
controller explores the same way through :func:`dithered_transitions`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mbdl_control.blocks.riccati import lqr_steady_state
from mbdl_control.models import LinearGaussianModel, saturate


def dithered_lqr_transitions(
    env: Any, model: LinearGaussianModel, steps: int, exploration: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``steps`` transitions ``(x_t, u_t, x_{t+1})``, the applied inputs as the env reports
    them, over as many episodes as they take (the last one cut short)."""
    gain, _ = lqr_steady_state(model)
    scale = exploration * (1.0 if model.u_max is None else model.u_max)
    return dithered_transitions(
        env, lambda x, noise: saturate(model, -gain @ x + scale * noise), model.m, steps, seed
    )


def dithered_transitions(
    env: Any,
    act: Callable[[np.ndarray, np.ndarray], np.ndarray],
    m: int,
    steps: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``steps`` transitions ``(x_t, u_t, x_{t+1})`` with ``u_t = act(x_t, ε_t)``, ``ε_t``
    ``m`` standard normals (the dither any controller adds), the applied inputs as the env
    reports them."""
    rng = np.random.default_rng(seed)
    states, inputs, next_states = [], [], []
    episode, done = 0, True
    while len(states) < steps:
        if done:
            x, _ = env.reset(seed=seed * 100_003 + episode)
            episode += 1
        u = act(x, rng.standard_normal(m))
        x_next, _, terminated, truncated, info = env.step(u)
        states.append(x)
        inputs.append(info.get("applied_action", u))
        next_states.append(x_next)
        x, done = x_next, terminated or truncated
    return np.array(states), np.array(inputs), np.array(next_states)
