"""Random linear systems drawn the way the published examples draw them.

Agrawal, Barratt, Boyd, Stellato, "Learning Convex Optimization Control Policies", L4DC 2020
(code: cvxgrp/cocp): numpy's legacy global generator seeded with ``seed``; ``A`` an ``n × n``
standard-normal draw divided by its spectral radius (so ``ρ(A) = 1``); then ``B`` an ``n × m``
standard-normal draw. ``np.random.RandomState(seed)`` gives the same stream as
``np.random.seed(seed)`` followed by ``np.random.randn``, without touching global state.
The envs check the arguments (:mod:`mbdl_control.envs.arguments`) before they get here.
"""

from __future__ import annotations

import numpy as np

from mbdl_control.models import LinearGaussianModel


def published_random_model(
    seed: int,
    n: int,
    m: int,
    *,
    noise_std: float,
    x0_std: float,
    p: int = 0,
    measurement_std: float = 1.0,
    u_max: float | None = None,
) -> LinearGaussianModel:
    """``A`` scaled to spectral radius 1, then ``B``, then (``p > 0``) ``C`` ``(p, n)``, all
    from ``RandomState(seed)`` in that order; ``W = noise_std² I``, ``V = measurement_std² I``,
    ``x_0 ~ N(0, x0_std² I)``, ``Q = I``, ``R = I``."""
    generator = np.random.RandomState(seed)
    A = generator.randn(n, n)
    A /= np.max(np.abs(np.linalg.eigvals(A)))
    B = generator.randn(n, m)
    measurements = {}
    if p:
        measurements = {"C": generator.randn(p, n), "V": measurement_std**2 * np.eye(p)}
    return LinearGaussianModel(
        A=A,
        B=B,
        W=noise_std**2 * np.eye(n),
        Q=np.eye(n),
        R=np.eye(m),
        x0_cov=x0_std**2 * np.eye(n),
        u_max=u_max,
        **measurements,
    )
