r"""The ISI channel's log-likelihood of every trellis hypothesis, and the block observation.

For the channel of :class:`~mbdl_control.models.ISIChannelModel` and hypothesis ``k``
(the last ``L`` symbols, numbered as in :mod:`mbdl_control.blocks.trellis`), the noiseless
output is ``μ_k = Σ_{l<L} h_l c(s_{i−l})`` with ``c`` the constellation values, and

.. math::

    \ell_i(k) = \log p(y_i \mid k) =
    \begin{cases}
        -\dfrac{(y_i - \mu_k)^2}{2\sigma_w^2} - \tfrac12 \log(2\pi\sigma_w^2)
            & \text{Gaussian,} \\[1ex]
        y_i \log \lambda_k - \lambda_k - \log y_i! & \text{Poisson, mean } \lambda_k.
    \end{cases}

These are what the model-based Viterbi and BCJR detectors feed the trellis; a DNN-aided one
(ViterbiNet, BCJRNet) feeds it a network's estimate of the same ``(batch, T, M**L)`` array.

The second half is the env's block observation (``mbdl/ISIChannel-v0``), shared by every
detector of a block: its ``Dict`` space, read from an observation of any length, and the
trellis state the pilots leave before the first data symbol.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from scipy.special import gammaln, xlogy

from mbdl_control.blocks.trellis import hypothesis_symbols, state_index
from mbdl_control.models import ISIChannelModel

#: the least noise variance the Gaussian likelihood divides by: a noiseless model
#: (``noise_var = 0``) gives finite, extremely peaked likelihoods, so the detectors choose
#: the hypotheses nearest to the samples (the ``σ → 0`` limit) instead of dividing by zero
NOISE_VAR_FLOOR = 1e-12
#: the entries of the block observation
BLOCK_KEYS = ("samples", "pilot_samples", "pilot_symbols")


def hypothesis_means(model: ISIChannelModel) -> np.ndarray:
    """``(M**L,)``: the noiseless output ``μ_k = Σ_l h_l c(s_{i−l})`` of every hypothesis."""
    values = model.constellation[hypothesis_symbols(model.size, model.memory)]
    return values @ model.taps


def gaussian_log_likelihoods(samples: np.ndarray, model: ISIChannelModel) -> np.ndarray:
    """``(batch, T, M**L)``: ``log N(y_i; μ_k, σ_w²)`` of ``samples`` ``(batch, T)``, with
    ``σ_w²`` floored at :data:`NOISE_VAR_FLOOR`. The symbols before a block enter through
    the trellis' initial state, not here."""
    y = _samples(samples)
    variance = max(model.noise_var, NOISE_VAR_FLOOR)
    residuals = y[..., None] - hypothesis_means(model)
    return residuals**2 * (-0.5 / variance) - 0.5 * np.log(2 * np.pi * variance)


def poisson_intensities(model: ISIChannelModel) -> np.ndarray:
    """``(M**L,)``: the env's rate ``λ_k = 1 + Σ_l h_l (c(s_{i−l}) − min c)``: each symbol
    puts its intensity ``c − min c ≥ 0`` on the channel (BPSK: ``s + 1``), plus a dark count
    of 1 (``mbdl/ISIChannel-v0``, whose model taps already carry the ``√SNR`` gain)."""
    points = model.constellation
    levels = (points - points.min())[hypothesis_symbols(model.size, model.memory)]
    return 1.0 + levels @ model.taps


def poisson_log_likelihoods(
    counts: np.ndarray, model: ISIChannelModel, intensities: np.ndarray | None = None
) -> np.ndarray:
    """``(batch, T, M**L)``: ``log Poisson(y_i; λ_k)`` of ``counts`` ``(batch, T)``.

    ``intensities`` ``(M**L,)``: the mean count ``λ_k ≥ 0`` of every hypothesis, by default
    :func:`poisson_intensities`. A count ``> 0`` under ``λ_k = 0`` is impossible (``−inf``).
    """
    y = _samples(counts)
    if np.any(y < 0):
        raise ValueError("counts of the Poisson channel must be >= 0, got a negative one")
    means = poisson_intensities(model) if intensities is None else np.asarray(intensities)
    if means.shape != (model.size**model.memory,) or not np.all(means >= 0):
        raise ValueError(
            f"intensities must be ({model.size**model.memory},) means >= 0 (one per "
            f"hypothesis), got {means!r}"
        )
    y = y[..., None]
    with np.errstate(divide="ignore"):
        return xlogy(y, means) - means - gammaln(y + 1.0)


def channel_log_likelihoods(samples: np.ndarray, model: ISIChannelModel) -> np.ndarray:
    """``(batch, T, M**L)`` log-likelihoods by the model's kind (Gaussian or Poisson)."""
    if model.kind == "poisson":
        return poisson_log_likelihoods(samples, model)
    return gaussian_log_likelihoods(samples, model)


def _samples(samples: np.ndarray) -> np.ndarray:
    y = np.asarray(samples, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"samples must be (batch, T), got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("samples must be finite, got NaN or inf")
    return y


def block_space(data_length: int, pilot_length: int, size: int) -> gym.spaces.Dict:
    """The observation of one block, as ``mbdl/ISIChannel-v0`` declares it: ``samples``
    ``(D,)`` and ``pilot_samples`` ``(P,)`` (float64), ``pilot_symbols`` ``(P,)`` (int64
    indices ``0 … M−1``)."""
    samples = gym.spaces.Box(-np.inf, np.inf, (data_length,), np.float64)
    pilots = gym.spaces.Box(-np.inf, np.inf, (pilot_length,), np.float64)
    symbols = gym.spaces.MultiDiscrete(np.full(pilot_length, size, dtype=np.int64))
    return gym.spaces.Dict({"samples": samples, "pilot_samples": pilots, "pilot_symbols": symbols})


def block_space_of(observation: Any, size: int) -> gym.spaces.Dict:
    """The :func:`block_space` of the blocks in ``observation``, whatever their lengths:
    ``samples`` 1-D is one block, 2-D a batch of blocks (the rule of vector observations).

    A detector of blocks of any length sets this as its ``observation_space`` before
    ``predict`` (:mod:`mbdl_control.core.observations` then checks the rest of the entries).
    """
    if not isinstance(observation, dict) or set(observation) != set(BLOCK_KEYS):
        raise ValueError(
            f"a block observation is a dict with keys {sorted(BLOCK_KEYS)}, got {observation!r}"
        )
    shapes = {key: np.shape(observation[key]) for key in BLOCK_KEYS}
    if len(shapes["samples"]) not in (1, 2) or len(shapes["pilot_symbols"]) < 1:
        raise ValueError(
            "observation['samples'] must be (D,) (one block) or (batch, D), and the pilots "
            f"(P,) or (batch, P); got shapes {shapes}"
        )
    return block_space(shapes["samples"][-1], shapes["pilot_symbols"][-1], size)


def initial_states(pilot_symbols: np.ndarray, size: int, memory: int) -> np.ndarray | None:
    """``(batch,)``: the trellis state of the last ``L − 1`` pilots ``(batch, P)``, sent just
    before the data; ``None`` (every state equally likely) when ``P < L − 1``."""
    pilots = np.asarray(pilot_symbols)
    if pilots.shape[-1] < memory - 1:
        return None
    if np.any((pilots < 0) | (pilots >= size)):
        raise ValueError(f"pilot_symbols must be indices in [0, {size}), got {pilots}")
    return state_index(pilots[:, pilots.shape[-1] - (memory - 1) :], size)
