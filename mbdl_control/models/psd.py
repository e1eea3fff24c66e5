"""The square root of a positive semi-definite matrix."""

from __future__ import annotations

import numpy as np


def symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric PSD square root ``S = M^½`` of a symmetric PSD ``M`` (eigendecomposition).

    ``S Sᵀ = M``, so ``S`` also serves as a factor: ``xᵀ M x = ‖S x‖²`` and ``S z`` with
    ``z ~ N(0, I)`` has covariance ``M``; unlike a Cholesky factor it exists for singular ``M``.
    """
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
