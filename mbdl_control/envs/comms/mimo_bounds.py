r"""The genie-aided (single-user, matched-filter) bound of ``mbdl/MIMODetection-v0``.

A genie that knows the true channel ``H`` and every other user's symbol subtracts their
contribution; what is left of real dimension ``j`` is ``h_j x_j + w`` (the two real
dimensions of a complex user are orthogonal columns, so the user's own other part drops out of
the projection on ``h_j``), whose sufficient statistic is ``‖h_j‖ x_j + N(0, σ²)``. For
``L``-PAM levels of spacing ``d`` its ML decision errs with probability

.. math::

    p_j = 2\,(1 - 1/L)\; Q\!\left(\frac{d\,\|h_j\|}{2\sigma}\right),

and a complex user symbol (real dimensions ``k`` and ``K + k``) with probability
``1 − (1 − p_k)(1 − p_{K+k})``. More information cannot hurt the per-user MAP decision, so
the genie's expected user-symbol error rate, averaged over the channel and the SNR laws, is a
lower bound on every detector's expected SER (the receiver's Ĥ is no better than ``H``).

With the noise variance ``σ² = E_s ‖H‖_F² / (n_t · SNR)`` of DetNet (Samuel, Diskin &
Wiesel, "Learning to Detect", IEEE Trans. Signal Process. 2019), ``‖h_j‖²/σ²`` depends on the
channel only through the share ``‖h_j‖² / ‖H‖_F²`` of one column. For the i.i.d. Gaussian
channel that share is Beta distributed, independent of ``‖H‖_F²`` (a ``χ²`` over a sum of
independent ``χ²``): BPSK (``N(0, 1)`` entries) ``‖h_j‖²/σ² = K · SNR · B`` with
``B ~ Beta(N/2, N(K−1)/2)``; a complex constellation (``CN(0, 1)`` entries, a real column
holding ``‖h_{c,k}‖²`` of ``‖H‖_F² = 2‖H_c‖_F²``) ``‖h_j‖²/σ² = 2K · SNR · B`` with
``B ~ Beta(N, N(K−1))``, the same for both real dimensions of a user. The bound is then a
1-D integral over the Beta law (:func:`iid_symbol_error`; ``B = 1`` when ``K = 1``), and over
the uniform law of the linear SNR where ``snr_db`` is a range (a quad of quads). For the
fixed Toeplitz channel it is the closed form on that channel. For the Kronecker channel
``‖h_j‖²`` and ``‖H‖_F²`` are correlated quadratic forms of one Gaussian matrix, the share has
no closed law (only Imhof's inversion integral), and :func:`genie_bound` returns ``None``: a
Monte-Carlo estimate is not a bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import integrate, optimize, special

from mbdl_control.envs.comms.mimo_dynamics import linear_snr, toeplitz_channel
from mbdl_control.models import MIMOSystem

#: the relative accuracy asked of every quadrature
RELATIVE_TOLERANCE = 1e-10
#: how far below its peak (in natural-log units) the Beta integrand is left out: e^{-800}
#: underflows a float anyway
LOG_RANGE = 800.0


def level_spacing(system: MIMOSystem) -> float:
    """The distance ``d`` between neighbouring levels of one real dimension."""
    return float(np.min(np.diff(system.levels)))


def level_error(system: MIMOSystem, ratio: np.ndarray | float) -> np.ndarray:
    """``2(1 − 1/L) Q(d √ratio / 2)``: the genie's error on one real dimension whose
    ``‖h_j‖²/σ²`` is ``ratio``."""
    argument = level_spacing(system) * np.sqrt(ratio) / 2.0
    return 2.0 * (1.0 - 1.0 / system.level_count) * special.ndtr(-argument)


def genie_user_errors(system: MIMOSystem, channel: np.ndarray, noise_var: np.ndarray) -> np.ndarray:
    """The genie's error probability of each user on each given channel: channels
    ``(..., n_r, n_t)`` and noise variances ``(...)`` give ``(..., K)``."""
    norms = np.sum(np.asarray(channel) ** 2, axis=-2)
    errors = level_error(system, norms / np.asarray(noise_var)[..., None])
    if not system.is_complex:
        return errors
    users = system.users
    return 1.0 - (1.0 - errors[..., :users]) * (1.0 - errors[..., users:])


def genie_symbol_error(system: MIMOSystem, channel: np.ndarray, snr: float) -> float:
    """The genie's mean user-symbol error rate on one channel at a linear ``snr``."""
    noise_var = system.symbol_energy * float(np.sum(channel**2)) / (system.transmit_dim * snr)
    return float(np.mean(genie_user_errors(system, channel, np.asarray(noise_var))))


def _log_user_error(system: MIMOSystem, ratio: float) -> float:
    """``log`` of the genie's user error when each real dimension of the user has ``ratio``
    (``log_ndtr`` keeps tails of ``10^{-300}`` and below finite)."""
    argument = level_spacing(system) * math.sqrt(ratio) / 2.0
    log_level = math.log(2.0 * (1.0 - 1.0 / system.level_count)) + special.log_ndtr(-argument)
    if not system.is_complex:
        return log_level
    return log_level + math.log(2.0 - math.exp(log_level))  # 1 − (1 − p)² = p (2 − p)


def share_law(system: MIMOSystem) -> tuple[float, float, float]:
    """``(gain, a, b)``: ``‖h_j‖²/σ² = gain · SNR · B`` with ``B ~ Beta(a, b)`` on the i.i.d.
    channel (module docstring)."""
    users, antennas = system.users, system.antennas
    if system.is_complex:
        return 2.0 * users, float(antennas), float(antennas * (users - 1))
    return float(users), antennas / 2.0, antennas * (users - 1) / 2.0


def iid_symbol_error(system: MIMOSystem, snr: float) -> float:
    """The genie's expected SER on the i.i.d. channel at a linear ``snr``: ``E u(gain·snr·B)``
    over ``B ~ Beta(a, b)`` (:func:`share_law`).

    The integral is taken over ``t = log B``, where the integrand
    ``exp(a t + (b − 1) log(1 − e^t) + log u)`` is one smooth bump (log-concave for BPSK, and
    ``a, b ≥ 1`` since ``N ≥ K``), located first, so that quad resolves it at any SNR, however
    far in the Beta law's tail the errors come from."""
    gain, a, b = share_law(system)
    if system.users == 1:  # no other user: the column is the whole channel
        return math.exp(_log_user_error(system, gain * snr))
    log_beta = special.betaln(a, b)

    def log_integrand(t: float) -> float:
        return (
            a * t
            + (b - 1.0) * math.log1p(-math.exp(t))
            + _log_user_error(system, gain * snr * math.exp(t))
        )

    peak = optimize.minimize_scalar(
        lambda t: -log_integrand(t), bounds=(-LOG_RANGE, -1e-12), method="bounded"
    ).x
    top = log_integrand(peak)
    lowest = max(peak - LOG_RANGE / a, -2.0 * LOG_RANGE)
    mass, _ = integrate.quad(
        lambda t: math.exp(log_integrand(t) - top),
        lowest,
        0.0,
        points=[peak],
        epsabs=0.0,
        epsrel=RELATIVE_TOLERANCE,
        limit=200,
    )
    return math.exp(top - log_beta) * mass


def averaged_over_snr(error_at: Callable[[float], float], snr_db: tuple[float, float]) -> float:
    """``error_at`` at the SNR, or its mean over the linear SNR uniform on the range."""
    low, high = (float(linear_snr(value)) for value in snr_db)
    if low == high:
        return error_at(low)
    total, _ = integrate.quad(error_at, low, high, epsabs=0.0, epsrel=RELATIVE_TOLERANCE)
    return total / (high - low)


def genie_bound(system: MIMOSystem, snr_db: tuple[float, float]) -> float | None:
    """The genie's expected user-symbol error rate (module docstring): i.i.d. and Toeplitz
    channels; ``None`` for the Kronecker channel."""
    if system.channel == "kronecker":
        return None
    if system.channel == "iid":
        return averaged_over_snr(lambda snr: iid_symbol_error(system, snr), snr_db)
    channel = toeplitz_channel(system)
    return averaged_over_snr(lambda snr: genie_symbol_error(system, channel, snr), snr_db)
