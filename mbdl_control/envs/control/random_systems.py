"""Random linear systems drawn the way the published examples draw them.

Agrawal, Barratt, Boyd, Stellato, "Learning Convex Optimization Control Policies", L4DC 2020
(code: cvxgrp/cocp): numpy's legacy global generator seeded with ``seed``; ``A`` an ``n × n``
standard-normal draw divided by its spectral radius (so ``ρ(A) = 1``); then ``B`` an ``n × m``
standard-normal draw. ``np.random.RandomState(seed)`` gives the same stream as
``np.random.seed(seed)`` followed by ``np.random.randn``, without touching global state.
"""

from __future__ import annotations

import numpy as np


def published_random_system(
    seed: int, n: int, m: int, p: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(A, B, C)``: ``A`` scaled to spectral radius 1, then ``B``, then (``p > 0``) ``C``
    ``(p, n)``, all from ``RandomState(seed)`` in that order."""
    for name, value in (("n", n), ("m", m)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
    if int(p) != p or p < 0:
        raise ValueError(f"p must be a non-negative integer, got {p}")
    generator = np.random.RandomState(seed)
    A = generator.randn(n, n)
    A /= np.max(np.abs(np.linalg.eigvals(A)))
    B = generator.randn(n, m)
    C = generator.randn(p, n) if p else None
    return A, B, C
