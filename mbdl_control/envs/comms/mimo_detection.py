r"""``mbdl/MIMODetection-v0``: detect the symbols K users send to N antennas (DetNet).

The env's docstring is its documentation. The link's physics, which the single env and its
batched twin (:mod:`mbdl_control.envs.comms.mimo_detection_vector`) share, is in
:mod:`mbdl_control.envs.comms.mimo_dynamics`, its bound in
:mod:`mbdl_control.envs.comms.mimo_bounds`, what a detector reads in
:mod:`mbdl_control.blocks.mimo_observations`; this module also holds the observation of a
transmission and the scoring of decisions, which both envs share.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.blocks.mimo_observations import mimo_action_space, mimo_space
from mbdl_control.envs.arguments import (
    MAX_DIMENSION,
    Choice,
    Integer,
    Real,
    RealOrRange,
    checked_arguments,
)
from mbdl_control.envs.base import PartiallyKnownEnv
from mbdl_control.envs.comms.decisions import as_decisions, check_symbol_indices
from mbdl_control.envs.comms.mimo_bounds import genie_bound
from mbdl_control.envs.comms.mimo_dynamics import MIMODynamics, Transmission
from mbdl_control.envs.rendering import RENDER_HISTORY
from mbdl_control.models import CONSTELLATION_LEVELS, MIMO_CHANNELS, MIMOSystem, gray_bits

#: the most channel uses in an episode (a block of 10⁴ uses of a 1000-antenna complex link
#: is 160 MB)
MAX_BLOCK_LENGTH = 10**4

USERS = Integer(1, MAX_DIMENSION, "K, the single-antenna users")
ANTENNAS = Integer(1, MAX_DIMENSION, "N, the receive antennas; at least K")
CONSTELLATION = Choice(tuple(CONSTELLATION_LEVELS), "the users' constellation")
CHANNEL = Choice(MIMO_CHANNELS, "the channel law")
CORRELATION = Real(
    0.0, 1.0, open_maximum=True, meaning="the Kronecker channel's rho: R_ij = rho^|i-j|"
)
SNR_DB = RealOrRange(
    Real(-30.0, 60.0),
    "the SNR in dB; a range draws the linear SNR uniformly per episode",
)
BLOCK_LENGTH = Integer(1, MAX_BLOCK_LENGTH, "T, the channel uses of an episode, one channel")


def observations(transmission: Transmission) -> dict[str, np.ndarray]:
    """A batch of observations ``(B, …)``: the samples received, the receiver's channel
    estimate and the noise variance (copies)."""
    return {
        "received": transmission.received.copy(),
        "channel": transmission.estimate.copy(),
        "noise_var": transmission.noise_var[:, None].copy(),
    }


def user_symbol_errors(system: MIMOSystem, sent: np.ndarray, decided: np.ndarray) -> np.ndarray:
    """The user symbols detected wrongly per episode: level indices ``(B, T, n_t)`` give
    ``(B,)``; a complex user symbol (real dimensions ``k`` and ``K + k``) is wrong if either
    part is."""
    wrong = sent != decided
    if system.is_complex:
        wrong = wrong[..., : system.users] | wrong[..., system.users :]
    return np.count_nonzero(wrong, axis=(1, 2))


def bit_errors(system: MIMOSystem, sent: np.ndarray, decided: np.ndarray) -> np.ndarray:
    """The Gray-coded bits detected wrongly per episode (``(B, T, n_t)`` give ``(B,)``)."""
    bits = gray_bits(system.level_count)
    return np.count_nonzero(bits[sent] != bits[decided], axis=(1, 2, 3))


class MIMODetectionEnv(PartiallyKnownEnv):
    r"""
    ## Description

    Detect the symbols that ``K`` single-antenna users send at once to a receiver with ``N``
    antennas over a flat channel, ``y = Hx + w``, from ``y`` and an estimate of ``H``: the
    setting of DetNet (Samuel, Diskin & Wiesel, "Learning to Detect", IEEE Trans. Signal
    Process. 2019), whose defaults are here: ``K = 20`` users, ``N = 30`` antennas, BPSK, an
    i.i.d. Gaussian channel drawn anew for every transmitted vector. Everything is in the
    real-valued representation of :mod:`mbdl_control.models.mimo`: ``n_t = K`` real unknowns
    and ``n_r = N`` real samples for BPSK, ``2K`` and ``2N`` for QPSK and 16-QAM (a square
    QAM symbol is two PAM levels, real part ``k``, imaginary part ``K + k``). An episode is
    one transmission: ``T`` channel uses (``block_length``) over one channel, answered at
    once and scored by the symbol error rate.

    ## Action Space

    ``MultiDiscrete`` of shape ``(T, n_t)`` (int64), every entry ``L``: the detected level
    indices ``0 … L−1`` into ``true_model.levels`` (sorted ascending; ``L = 2`` for BPSK and
    QPSK, 4 for 16-QAM) of each real dimension of each channel use. Any array of real numbers
    of that shape whose entries are integers in range is accepted (``1.0`` is ``1``);
    anything else raises a ``ValueError`` naming the first bad entry, and the transmission
    waits for a valid answer.

    ## Observation Space

    ``Dict`` (float64, :func:`mbdl_control.blocks.mimo_observations.mimo_space`) of
    ``received`` (``Box(-inf, inf, (T, n_r))``: the samples of each channel use),
    ``channel`` (``Box(-inf, inf, (n_r, n_t))``: the receiver's estimate ``Ĥ`` of the
    episode's channel) and ``noise_var`` (``Box(0, inf, (1,))``: ``σ²`` per real dimension,
    known exactly).

    ## Transition Dynamics

    Channel use ``t`` receives ``y_t = H x_t + w_t`` with ``x_t = levels[a_t]``, the sent
    level indices ``a_t`` equiprobable and independent. Channel laws (``channel``): ``"iid"``
    (DetNet's varying channel: ``N(0, 1)`` entries for BPSK, ``CN(0, 1)`` otherwise),
    ``"kronecker"`` (``H = R_r^{1/2} G R_t^{1/2}`` with ``G`` i.i.d. and exponential
    correlations ``ρ^{|i−j|}`` at both ends, ``ρ = correlation``) and ``"toeplitz"``
    (DetNet's fixed channel: ``HᵀH = N·0.55^{|i−j|}``, the same every episode). A step
    scores the transmission it answers and sends the next one, with a channel of its own,
    whose samples are the step's observation: the registry ends an episode after one
    transmission (``max_episode_steps = 1``); a longer episode is a run of independent
    transmissions. The channel uses of one transmission share its channel.

    ## Noise Model

    ``w_t ~ N(0, σ² I)``, white, with DetNet's definition of the SNR as the received signal
    energy over the noise: ``σ² = E_s ‖H‖_F² / (n_t · SNR)`` (``E_s`` the mean energy of one
    real dimension's level: 1 for BPSK, 1/2 for QPSK and 16-QAM, whose complex symbols have
    unit energy), ``SNR = 10^{snr_db/10}``. With ``snr_db = [low, high]`` the linear SNR of
    each episode is drawn uniformly between ``10^{low/10}`` and ``10^{high/10}`` (DetNet
    trains on ``U(7, 14)`` dB). Every draw comes from ``self.np_random``, per transmission in
    this order (:mod:`~mbdl_control.envs.comms.mimo_dynamics`): the SNR (one uniform, only for
    a range with ``low < high``), the channel (none for Toeplitz), the direction of the
    channel-estimation error (drawn whatever ``mismatch`` is), ``T × n_t`` level indices and
    ``T × n_r`` standard normals of noise; none depends on the action or on ``mismatch``.

    ## Known vs Unknown

    The receiver knows the link's form (``K``, ``N``, the constellation, the channel law: the
    ``MIMOSystem`` that is both ``true_model`` and ``nominal_model``), ``σ²``, and an estimate
    ``Ĥ = H + ε ‖H‖_F E/‖E‖_F`` of the episode's channel, ``E`` drawn from the i.i.d. law
    (keeping the complex structure): relative Frobenius error exactly ``ε = mismatch`` in
    every episode (``mismatch_report()["rel_error_channel"]``). The mismatch is in the
    *observation* (``mismatch_observed = True``), so every detector depends on it, whatever
    its knowledge; the harness runs each at each mismatch value. The true channel of the
    transmission waiting for an answer is ``env.unwrapped.episode_channel``, for analysis; no
    agent sees it.

    ## Reward

    ``−SER``: ``info["cost"]`` is the fraction of the ``T·K`` user symbols detected wrongly
    (a complex symbol is wrong if either of its real parts is; for BPSK the SER is the BER).
    ``info`` also holds ``errors`` (the wrong user symbols), ``trials`` (``T·K``),
    ``bit_errors`` and ``bits`` (``T·n_t·log2 L`` Gray-coded bits,
    :func:`~mbdl_control.models.gray_bits`) and ``symbols`` (int64, ``(T, n_t)``: the sent
    level indices, the label, given only after the action). ``task_metrics`` are ``errors``,
    ``trials``, ``bit_errors`` and ``bits``; ``label_count(info)`` is ``T``: one labelled
    sample is one channel use (one transmitted vector with its channel). ``cost_display`` is
    ``"log"``.

    ## Starting State

    ``reset`` sends the first transmission; its ``info`` is empty (no label before the
    action).

    ## Episode End

    Truncation after ``max_episode_steps = 1`` transmission (the registry); no termination.

    ## Oracle and Bound

    ``oracle()``: the sphere decoder, exact maximum-likelihood detection on the observation's
    channel,
    ``mbdl_control.agents.model_based.sphere_decoder.SphereDecoder(true_model,
    knowledge="true")``. It detects on ``Ĥ``, so it is the oracle at ``mismatch = 0`` only,
    where ``Ĥ = H``: ``evaluate`` and the study harness evaluate it on the env made with
    ``mismatch = 0`` (the same draws), whatever the mismatch of the agent compared with it.
    ``performance_bound()``: the genie-aided single-user (matched-filter) bound, the expected
    SER of a genie knowing ``H`` and every other user's symbol,
    ``E[1 − Π(1 − 2(1 − 1/L) Q(d‖h_j‖/(2σ)))]`` over the user's real dimensions ``j``
    (``d`` the level spacing), a lower bound on any detector's expected SER: for the i.i.d.
    channel an exact integral over the Beta law of ``‖h_j‖²/‖H‖_F²`` (and over the SNR's law
    for a range), for the Toeplitz channel its closed form; ``None`` for the Kronecker channel,
    whose column shares have no closed law (:mod:`~mbdl_control.envs.comms.mimo_bounds`).

    ## Arguments

    ``mismatch`` (≥ 0), ``users`` (20, ``K`` in 1 … 1000), ``antennas`` (30, ``N`` in
    1 … 1000, at least ``K``: zero-forcing and the sphere decoder's QR need ``N ≥ K``),
    ``constellation`` (``"bpsk"``, ``"qpsk"`` or ``"16qam"``), ``channel`` (``"iid"``,
    ``"kronecker"`` or ``"toeplitz"``), ``correlation`` (0.5, ``ρ`` in [0, 1), Kronecker
    only), ``snr_db`` (10, in [−30, 60], or a range ``[low, high]`` of such numbers),
    ``block_length`` (1, ``T`` in 1 … 10⁴), ``render_mode`` (``None``, ``"ansi"`` or
    ``"rgb_array"``). Each is checked at construction, a ``ValueError`` naming a bad one
    (:mod:`mbdl_control.envs.arguments`). ``T = 1`` is DetNet's setting, every vector with a
    channel of its own; a longer block models block fading (a channel that stays for ``T``
    uses), makes each symbol cheaper for detectors that factor ``H`` once per episode (QR,
    a zero-forcing or MMSE filter), and puts more bits in each episode, so an evaluation of a
    few episodes measures smaller error rates. ``check_env`` warns that the sample spaces are
    unbounded (Gaussian samples are).

    >>> import gymnasium as gym, numpy as np, mbdl_control
    >>> env = gym.make("mbdl/MIMODetection-v0", block_length=100)  # 100 uses of one channel
    >>> obs, info = env.reset(seed=0)
    >>> {key: value.shape for key, value in sorted(obs.items())}, info
    ({'channel': (30, 20), 'noise_var': (1,), 'received': (100, 30)}, {})
    >>> estimates = np.linalg.lstsq(obs["channel"], obs["received"].T, rcond=None)[0].T
    >>> zero_forcing = (estimates > 0).astype(np.int64)  # level 1 is +1
    >>> _, reward, _, truncated, info = env.step(zero_forcing)
    >>> truncated, info["trials"], info["errors"], info["bit_errors"], reward
    (True, 2000, 93, 93, -0.0465)
    >>> f"{env.unwrapped.performance_bound():.3g}"  # the genie's SER at 10 dB
    '0.00173'

    ## Version History

    * v0: initial version, with a native batched version (``gym.make_vec(id, num_envs)``,
      the same transmissions as single envs seeded alike).
    """

    task_metrics = ("errors", "trials", "bit_errors", "bits")
    label_keys = ("symbols",)
    cost_display = "log"
    default_horizon = 1
    mismatch_observed = True

    @checked_arguments(
        users=USERS,
        antennas=ANTENNAS,
        constellation=CONSTELLATION,
        channel=CHANNEL,
        correlation=CORRELATION,
        snr_db=SNR_DB,
        block_length=BLOCK_LENGTH,
    )
    def __init__(
        self,
        mismatch: float = 0.0,
        users: int = 20,
        antennas: int = 30,
        constellation: str = "bpsk",
        channel: str = "iid",
        correlation: float = 0.5,
        snr_db: float | tuple[float, float] = 10.0,
        block_length: int = 1,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(mismatch, render_mode)
        if antennas < users:
            raise ValueError(
                f"antennas must be at least users (zero-forcing and the sphere decoder's QR "
                f"need N >= K), got antennas={antennas} < users={users}"
            )
        self.true_model = self.nominal_model = MIMOSystem(users, antennas, constellation, channel)
        #: ``(low, high)`` in dB, one SNR where they are equal (the default, which the
        #: decorator does not see, is a number too: checked here into its pair)
        self.snr_db = SNR_DB.check("snr_db", snr_db)
        self.dynamics = MIMODynamics(
            self.true_model, self.snr_db, block_length, correlation, self.mismatch
        )
        self.observation_space = mimo_space(self.true_model, block_length)
        self.action_space = mimo_action_space(self.true_model, block_length)
        self._transmission: Transmission | None = None
        self._last_score: tuple[int, int] | None = None

    @property
    def episode_channel(self) -> np.ndarray | None:
        """The true channel ``H`` ``(n_r, n_t)`` of the transmission waiting for an answer, for
        analysis; ``None`` before the first ``reset``. No agent sees it."""
        return None if self._transmission is None else self._transmission.channel[0].copy()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed, options=options)
        self._last_score = None
        return self._send(), {}

    def _send(self) -> dict[str, np.ndarray]:
        """Send the next transmission; its observation."""
        self._transmission = self.dynamics.transmit([self.np_random])
        observation = {key: value[0] for key, value in observations(self._transmission).items()}
        self._record_received(observation["received"])
        return observation

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self._transmission is None:
            raise RuntimeError("call reset() before step()")
        decisions = as_decisions("action", action, self.action_space)
        decisions = check_symbol_indices("action", decisions, self.true_model.level_count)
        system, symbols = self.true_model, self._transmission.symbols
        length = symbols.shape[1]
        errors = int(user_symbol_errors(system, symbols, decisions[None])[0])
        trials = length * system.users
        info = {
            "cost": errors / trials,
            "errors": errors,
            "trials": trials,
            "bit_errors": int(bit_errors(system, symbols, decisions[None])[0]),
            "bits": length * system.transmit_dim * system.bits_per_level,
            "symbols": symbols[0].copy(),
        }
        self._last_score = (errors, trials)
        self._record_errors(symbols[0], decisions)
        return self._send(), -info["cost"], False, False, info

    def label_count(self, info: dict[str, Any]) -> int:
        """The labelled samples of a step: its transmission's channel uses."""
        return len(info["symbols"])

    def mismatch_report(self) -> dict[str, float]:
        """The relative Frobenius error of the channel estimate, the same in every episode."""
        return {"rel_error_channel": self.mismatch}

    def oracle(self, horizon: int | None = None) -> Any:
        """The sphere decoder on the observation's channel, for every horizon (it is the
        oracle where ``Ĥ = H``: at ``mismatch = 0``)."""
        from mbdl_control.agents.model_based.sphere_decoder import SphereDecoder  # lazily

        return SphereDecoder(self.true_model, knowledge="true")

    def _compute_bound(self, horizon: int) -> float | None:
        return genie_bound(self.true_model, self.snr_db)

    def _record_received(self, received: np.ndarray) -> None:
        """The samples of the last :data:`RENDER_HISTORY` channel uses, one trace per real
        receive dimension."""
        if self.render_mode is None:
            return
        for samples in received[-RENDER_HISTORY:]:
            self._record(received=samples)

    def _record_errors(self, symbols: np.ndarray, decisions: np.ndarray) -> None:
        """The user symbols detected wrongly in each of the last channel uses."""
        if self.render_mode is None:
            return
        last = slice(-RENDER_HISTORY, None)
        for sent, detected in zip(symbols[last], decisions[last], strict=True):
            errors = user_symbol_errors(self.true_model, sent[None, None], detected[None, None])
            self._record(symbol_errors=errors)

    def _render_text(self) -> str:
        """The transmission received and the last one's errors."""
        length = self.observation_space["received"].shape[0]
        received = f"{length} channel uses received"
        if self._last_score is None:
            return received
        errors, trials = self._last_score
        return f"last transmission: {errors} errors in {trials} user symbols; next {received}"
