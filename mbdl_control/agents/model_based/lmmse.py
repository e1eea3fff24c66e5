r"""The linear MMSE equalizer of an ISI channel: a Wiener FIR filter, then the nearest symbol.

Symbol ``s_i`` is estimated from the ``N`` samples ``Y_i = (y_{i+Δ−N+1}, …, y_{i+Δ})``
(a window of ``N`` taps ending ``Δ`` samples after it, the delay). With ``Y_i = H S_i + W_i``
(``H`` the ``N × (N+L−1)`` convolution matrix of the taps, ``S_i`` the symbols the window
sees), i.i.d. symbols of mean ``μ_c`` and variance ``v`` and white noise ``σ_w²``, the Wiener
solution is

.. math::

    w = (v H H^\top + \sigma_w^2 I)^{-1} v\, h_\Delta, \qquad
    \hat s_i = \mu_c + w^\top (Y_i - \mathbb E Y_i), \qquad
    \text{MMSE}(\Delta) = v\,(1 - h_\Delta^\top w),

``h_Δ`` the column of ``H`` that multiplies ``s_i``. The estimate is biased towards ``μ_c`` by
the factor ``α = h_Δᵀ w``; the decision is the constellation point nearest to
``μ_c + (ŝ_i − μ_c)/α`` (the unbiased MMSE equalizer, Cioffi et al., "MMSE decision-feedback
equalizers and coding", IEEE Trans. Comm. 43(10), 1995), which matters for 4-PAM, not BPSK.
Haykin, *Adaptive Filter Theory*, ch. 2 (Wiener filters); Proakis & Salehi, *Digital
Communications*, 5th ed., §9.4.

**Window and delay.** ``taps_window`` defaults to ``4 L`` (beyond it the MMSE at
``γ = 0.2, L = 4`` improves by little); ``delay`` defaults to the ``Δ ∈ [0, N + L − 2]``
of least MMSE, computed for all delays at once in closed form: a fixed ``Δ`` is a guess that
depends on where the channel's energy lies, the least-MMSE one is not.

At the edges of a block the window reaches beyond the samples: before the data it sees the
pilots' samples, and where there are none (and after the data) the samples' mean, which is
the MMSE guess of a sample not seen. The Poisson channel is not linear-Gaussian, and is
refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.agents.model_based.viterbi import BlockDetector
from mbdl_control.blocks.channel_likelihood import NOISE_VAR_FLOOR
from mbdl_control.core import positive_int
from mbdl_control.models import ISIChannelModel


def convolution_matrix(taps: np.ndarray, window: int) -> np.ndarray:
    """``(N, N + L − 1)``: ``H[r, c] = h_{r + L − 1 − c}``, so that ``Y = H S`` for the
    window's samples and symbols, both oldest first."""
    memory = len(taps)
    lags = np.arange(window)[:, None] + memory - 1 - np.arange(window + memory - 1)
    inside = (lags >= 0) & (lags < memory)
    return np.where(inside, taps[np.clip(lags, 0, memory - 1)], 0.0)


def wiener_filters(model: ISIChannelModel, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``(filters, mmse)``: column ``c`` of ``filters`` ``(N, N + L − 1)`` is the Wiener
    filter of the delay ``Δ = N + L − 2 − c``, and ``mmse[c]`` its mean squared error."""
    H = convolution_matrix(model.taps, window)
    spread = np.var(model.constellation)
    covariance = spread * H @ H.T + max(model.noise_var, NOISE_VAR_FLOOR) * np.eye(window)
    filters = np.linalg.solve(covariance, spread * H)
    return filters, spread * (1.0 - np.einsum("rc,rc->c", H, filters))


class LinearMMSE(BlockDetector):
    """A linear MMSE (Wiener) equalizer followed by the nearest constellation point."""

    def __init__(
        self,
        model: ISIChannelModel,
        taps_window: int | None = None,
        delay: int | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(model, knowledge)
        if self.model.kind != "gaussian":
            raise ValueError(
                f"LinearMMSE equalizes the Gaussian channel; got a {self.model.kind!r} model"
            )
        memory = self.model.memory
        self.taps_window = None if taps_window is None else positive_int("taps_window", taps_window)
        window = 4 * memory if taps_window is None else self.taps_window
        filters, mmse = wiener_filters(self.model, window)
        self.delay = None if delay is None else _checked_delay(delay, window + memory - 2)
        column = int(np.argmin(mmse)) if delay is None else window + memory - 2 - self.delay
        self.weights = filters[:, column]
        self.lag = window + memory - 2 - column
        self.gain = float(convolution_matrix(self.model.taps, window)[:, column] @ self.weights)
        if not self.gain > 0:
            raise ValueError("LinearMMSE: the model's taps carry no signal (all zero)")

    @property
    def config(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "taps_window": self.taps_window,
            "delay": self.delay,
            "knowledge": self.knowledge,
        }

    def equalize(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        """``(batch, D)``: the unbiased estimates ``μ_c + (ŝ_i − μ_c)/α`` of the data symbols."""
        model, window = self.model, len(self.weights)
        symbol_mean = np.mean(model.constellation)
        sample_mean = symbol_mean * np.sum(model.taps)
        data, pilots = observations["samples"], observations["pilot_samples"]
        batch, length = data.shape
        padded = np.concatenate(
            [
                np.zeros((batch, window)),
                pilots - sample_mean,
                data - sample_mean,
                np.zeros((batch, window + model.memory)),
            ],
            axis=1,
        )
        first = pilots.shape[1] + 1 + self.lag
        estimate = sum(
            weight * padded[:, first + r : first + r + length]
            for r, weight in enumerate(self.weights)
        )
        return symbol_mean + estimate / self.gain

    def _act(
        self, observations: dict[str, np.ndarray], state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        estimates = self.equalize(observations)
        distances = np.abs(estimates[..., None] - self.model.constellation)
        return distances.argmin(axis=-1), None


def _checked_delay(delay: int, largest: int) -> int:
    if isinstance(delay, bool) or not isinstance(delay, int | np.integer):
        raise ValueError(f"delay must be an integer in [0, {largest}], got {delay!r}")
    if not 0 <= delay <= largest:
        raise ValueError(f"delay must be in [0, {largest}] (taps_window + memory - 2), got {delay}")
    return int(delay)
