import numpy as np
import pytest

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.models import LinearGaussianModel


def random_model(seed: int, n: int = 3, m: int = 2, p: int = 0, u_max=None):
    """A random stabilizable model with PD costs (and measurements when ``p > 0``)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    A /= 0.9 * np.max(np.abs(np.linalg.eigvals(A)))
    B = rng.standard_normal((n, m))
    G = rng.standard_normal((n, n))
    H = rng.standard_normal((m, m))
    extra = {}
    if p:
        extra = {"C": rng.standard_normal((p, n)), "V": 0.5 * np.eye(p)}
    return LinearGaussianModel(
        A=A,
        B=B,
        W=0.1 * np.eye(n),
        Q=G @ G.T + 0.1 * np.eye(n),
        R=H @ H.T + 0.1 * np.eye(m),
        u_max=u_max,
        **extra,
    )


@pytest.fixture
def model():
    return random_model(0)


@pytest.fixture
def one_torch_thread():
    """torch on one thread, as the harness's trials run it: no oversubscription of the cores
    (Sionna's batched inverses slowed ~100x with two threads on a loaded 2-core machine)."""
    import torch  # here, not at the top: importing the package must not load torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
