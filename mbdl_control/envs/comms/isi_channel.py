r"""``mbdl/ISIChannel-v0``: detect symbols sent through a finite-memory channel (ViterbiNet).

The env's docstring is its documentation. The channel's physics, which the single env and its
batched twin (:mod:`mbdl_control.envs.comms.isi_channel_vector`) share, is in
:mod:`mbdl_control.envs.comms.isi_dynamics`; the checks of a detector's decisions, which
every detection env shares, in :mod:`mbdl_control.envs.comms.decisions`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mbdl_control.envs.arguments import SEED, Choice, Integer, Real, checked_arguments
from mbdl_control.envs.base import PartiallyKnownEnv
from mbdl_control.envs.comms.decisions import as_decisions, check_symbol_indices
from mbdl_control.envs.comms.isi_dynamics import (
    Block,
    BlockLayout,
    ISIChannelDynamics,
    matched_filter_bound,
    true_channel,
)
from mbdl_control.envs.rendering import RENDER_HISTORY
from mbdl_control.models import CHANNEL_KINDS, CONSTELLATIONS, perturb

#: the most data or pilot symbols in a block (a block's arrays stay a few megabytes)
MAX_SYMBOLS = 10**6
MEMORY = Integer(1, 64, "the channel memory L, its number of taps; a trellis has M^(L-1) states")
DECAY = Real(0.0, 100.0, meaning="the taps' decay rate: h_l = exp(-gamma l)")
SNR_DB = Real(-30.0, 60.0, meaning="the SNR in dB: sigma_w^2 = 10^(-snr_db/10)")
BLOCK_LENGTH = Integer(1, MAX_SYMBOLS, "the data symbols of a block")
PILOT_LENGTH = Integer(0, MAX_SYMBOLS, "the known pilot symbols sent before the data")
CONSTELLATION = Choice(tuple(CONSTELLATIONS), "the symbols' constellation")
CHANNEL = Choice(CHANNEL_KINDS, "additive Gaussian noise, or Poisson counts")
FADING = Choice((None, "block"), "None: fixed taps; 'block': taps redrawn every episode")


class ISIChannelEnv(PartiallyKnownEnv):
    r"""
    ## Description

    Detect the symbols of a block sent through a causal channel with memory, from the received
    samples: the setting of ViterbiNet (Shlezinger, Farsad, Eldar & Goldsmith, "ViterbiNet: A
    Deep Learning Based Viterbi Algorithm for Symbol Detection", IEEE Trans. Wireless Commun.
    2020). Equiprobable, independent symbols ``s_i`` of a unit-energy constellation (BPSK
    ``±1``; 4-PAM ``{±1, ±3}/√5``) pass through ``L`` taps ``h_l = e^{−γ l}`` (exponentially
    decaying, not normalized, as published: ``‖h‖² = 2.42`` for the defaults ``L = 4``,
    ``γ = 0.2``). An episode is one block: the agent sees it, answers with its decisions, and
    is scored by the symbol error rate. The published experiments average ``γ`` over
    0.1 to 2.0; here ``γ`` is one argument, swept by a study.

    ## Action Space

    ``MultiDiscrete([M] * block_length)`` (int64): the detected data symbols as indices
    ``0 … M−1`` into the constellation (``M = 2`` or ``4``). Any array of real numbers of that
    shape whose entries are integers in range is accepted (``1.0`` is ``1``); anything else
    raises a ``ValueError`` naming the first bad entry, and the block waits for a valid answer.

    ## Observation Space

    ``Dict`` of ``samples`` (``Box(-inf, inf, (block_length,), float64)``: the received data
    section), ``pilot_samples`` (``Box(-inf, inf, (pilot_length,), float64)``) and
    ``pilot_symbols`` (``MultiDiscrete([M] * pilot_length)``, int64) of a pilot section sent
    just before the data. The last ``L − 1`` pilots are the first data symbols' predecessors;
    with fewer pilots than that (the default ``pilot_length = 0``) those predecessors are
    random symbols the receiver does not know. For the Poisson channel the samples are counts
    (as floats, ``Box(0, inf)``).

    ## Transition Dynamics

    Per block the env sends ``L − 1`` unknown symbols, ``pilot_length`` pilots, then
    ``block_length`` data symbols, and receives one sample per pilot and data symbol:
    ``y_i = Σ_{l<L} h_l s_{i−l} + w_i``. A step scores the block it answers and sends the next
    one, whose samples are the step's observation: the registry ends an episode after one
    block (``max_episode_steps = 1``); a longer episode is a run of blocks over one channel.

    ## Noise Model

    Gaussian (``channel="gaussian"``): ``w_i ~ N(0, σ_w²)``, white, with
    ``σ_w² = 10^{−SNR/10}``: the **SNR** (``snr_db``, in dB) is the symbol energy (1) over the
    noise variance. Poisson (``channel="poisson"``, ViterbiNet's non-Gaussian channel):
    ``y_i ~ Poisson(1 + √SNR Σ_l h_l b_{i−l})`` with intensities
    ``b = (s − min c)/(max c − min c) ∈ [0, 1]`` (BPSK: on-off keying ``b = (s + 1)/2``) and a
    dark count of 1; the model's taps are ``g h_l`` with ``g = √SNR/(max c − min c)``, so the
    rate is ``1 + Σ_l taps_l (s_{i−l} − min c)`` (BPSK: ``1 + Σ_l taps_l (s_{i−l} + 1)``), a
    function of the model alone; ``noise_var`` keeps ``10^{−SNR/10}`` there but the Poisson law
    does not use it. A Gaussian-assuming detector is then mis-specified (the noise is
    signal-dependent and the mean offset by the dark count). Block fading (``fading="block"``):
    each episode's taps are ``h_l (1 + √0.1 n_l)``, ``n_l ~ N(0, 1)``, drawn at ``reset``
    (clipped at 0 for the Poisson channel) and kept for the episode's blocks. Every draw comes
    from ``self.np_random``, per episode in this order: the ``L`` fading normals (with
    fading), then per block the ``L − 1 + pilot_length + block_length`` symbol indices
    (``integers(0, M)``) and the noise (``pilot_length + block_length`` standard normals, or
    one Poisson draw per sample); none depends on the action or on ``mismatch``.

    ## Known vs Unknown

    The receiver knows the constellation, ``L``, the channel kind, the noise variance and the
    pilots. It is handed nominal taps ``ĥ = h + ε‖h‖ e/‖e‖`` (``e ~ N(0, I_L)`` from
    ``default_rng(mismatch_seed)``): relative ℓ2 CSI error exactly ``mismatch = ε``
    (``mismatch_report()["rel_error_taps"]``); the nominal noise variance is the true one.
    ViterbiNet's "CSI uncertainty" trains on frames of 500 symbols through taps
    ``h_l (1 + √0.1 n_l)``: a relative ℓ2 error of RMS ``√0.1 ≈ 0.32`` (mean 0.29 at the
    defaults), so ``mismatch ≈ 0.3`` is that uncertainty frozen into one wrong channel; its
    Viterbi with CSI uncertainty adds ``√0.1 n_l`` to each tap per symbol, an RMS relative
    error of ``√(0.1 L)/‖h‖ ≈ 0.41`` at the defaults. Under fading the nominal taps are the
    perturbed *mean* taps.

    ## Reward

    ``−SER`` of the block: ``info["cost"]`` is the fraction of data symbols detected wrongly,
    ``info["errors"]`` and ``info["trials"]`` (``block_length``, the symbols scored) the
    counts behind it (a report shows a zero error rate as the bound ``< 3/trials``),
    and ``info["symbols"]`` (int64, ``(block_length,)``) the transmitted data symbol indices:
    the label, given only after the action. ``label_count(info)`` is the number of labelled
    symbols, so a learner's budget of samples counts symbols; pilots come with every block.
    ``cost_display`` is ``"log"``.

    ## Starting State

    ``reset`` draws the episode's taps (with fading) and sends the first block;
    its ``info`` is empty (no label before the action).

    ## Episode End

    Truncation after ``max_episode_steps = 1`` block (the registry); no termination.

    ## Oracle and Bound

    ``oracle()``: ``Viterbi`` (maximum-likelihood sequence detection) with the true CSI,
    ``mbdl_control.agents.model_based.viterbi.Viterbi(true_model, knowledge="true")``. With
    block fading the oracle is **not** a genie: it is the Viterbi on the *mean* taps (agents
    see only observations, so no agent, the oracle included, sees an episode's taps; they are
    in ``env.unwrapped.episode_taps`` for analysis), and a pilot-aided learner may beat it.
    ``performance_bound()``: the matched-filter bound, the SER of a genie knowing every other
    symbol, ``2(1 − 1/M) Q(d_min‖h‖/(2σ_w))`` (BPSK ``Q(‖h‖/σ_w)``; ``d_min`` the
    constellation's minimum distance), a lower bound on any detector's expected SER; with
    fading ``‖h‖²`` becomes ``1.1‖h‖²`` (Jensen: a lower bound still). ``None`` for the Poisson
    channel, which has no such closed form.

    ## Arguments

    ``mismatch`` (≥ 0), ``memory`` (4, ``L`` in 1 … 64), ``gamma`` (0.2, in [0, 100]),
    ``snr_db`` (10, in [−30, 60]), ``block_length`` (1000, in 1 … 10⁶), ``pilot_length``
    (0, in 0 … 10⁶), ``constellation`` (``"bpsk"`` or ``"4pam"``), ``channel``
    (``"gaussian"`` or ``"poisson"``), ``fading`` (``None`` or ``"block"``),
    ``mismatch_seed`` (0), ``render_mode`` (``None``, ``"ansi"`` or ``"rgb_array"``). Each is
    checked at construction, a ``ValueError`` naming a bad one
    (:mod:`mbdl_control.envs.arguments`). ``fading`` is a name rather than a bool: the checks
    refuse bools wherever an argument takes a number or a name, and other kinds of fading
    may come. A block of 1000 symbols makes a 10-episode
    evaluation 10⁴ symbols (SERs to about 10⁻³, a zero-error bound of 3·10⁻⁴), leaves the
    block's edges (its first and last ``L − 1`` symbols) under 1 % of it, and keeps a Viterbi
    pass over it in milliseconds. ``check_env`` warns that the sample spaces are unbounded
    (Gaussian samples and counts are).

    >>> import gymnasium as gym, numpy as np, mbdl_control
    >>> env = gym.make("mbdl/ISIChannel-v0", pilot_length=8)
    >>> obs, info = env.reset(seed=0)
    >>> sorted(obs), obs["samples"].shape, obs["pilot_symbols"].dtype, info
    (['pilot_samples', 'pilot_symbols', 'samples'], (1000,), dtype('int64'), {})
    >>> slicer = (obs["samples"] > 0).astype(np.int64)  # symbol by symbol, blind to the ISI
    >>> _, reward, _, truncated, info = env.step(slicer)
    >>> truncated, info["trials"], info["errors"], reward, info["symbols"].shape
    (True, 1000, 190, -0.19, (1000,))
    >>> f"{env.unwrapped.performance_bound():.3g}"  # Q(‖h‖/σ_w) = Q(4.92)
    '4.32e-07'

    ## Version History

    * v0: initial version, with a native batched version (``gym.make_vec(id, num_envs)``,
      the same blocks as single envs seeded alike). ``info["symbols_sent"]`` is now
      ``info["trials"]``, the name every error-rate env gives its count of scored symbols.
    """

    task_metrics = ("errors", "trials")
    label_keys = ("symbols",)
    cost_display = "log"
    default_horizon = 1
    #: fields of the true model that ``mismatch`` perturbs in the nominal model
    perturbed_fields = ("taps",)

    @checked_arguments(
        memory=MEMORY,
        gamma=DECAY,
        snr_db=SNR_DB,
        block_length=BLOCK_LENGTH,
        pilot_length=PILOT_LENGTH,
        constellation=CONSTELLATION,
        channel=CHANNEL,
        fading=FADING,
        mismatch_seed=SEED,
    )
    def __init__(
        self,
        mismatch: float = 0.0,
        memory: int = 4,
        gamma: float = 0.2,
        snr_db: float = 10.0,
        block_length: int = 1000,
        pilot_length: int = 0,
        constellation: str = "bpsk",
        channel: str = "gaussian",
        fading: str | None = None,
        mismatch_seed: int = 0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(mismatch, render_mode)
        self.true_model = true_channel(memory, gamma, snr_db, constellation, channel)
        self.nominal_model = perturb(
            self.true_model,
            self.mismatch,
            np.random.default_rng(mismatch_seed),
            self.perturbed_fields,
        )
        self.fading = fading
        layout = BlockLayout(memory, pilot_length, block_length)
        self.dynamics = ISIChannelDynamics(self.true_model, layout, fading)
        self.observation_space = self.dynamics.observation_space()
        self.action_space = self.dynamics.action_space()
        self._taps: np.ndarray | None = None
        self._block: Block | None = None
        self._last_errors: int | None = None

    @property
    def episode_taps(self) -> np.ndarray | None:
        """The taps of the current episode (the true ones, or this episode's faded ones), for
        analysis; ``None`` before the first ``reset``. No agent sees them."""
        return None if self._taps is None else self._taps[0].copy()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed, options=options)
        self._taps = self.dynamics.episode_taps([self.np_random])
        self._last_errors = None
        return self._send(self._taps), {}

    def _send(self, taps: np.ndarray) -> dict[str, np.ndarray]:
        """Send the next block over the episode's ``taps`` ``(1, L)``; its observation."""
        self._block = self.dynamics.transmit([self.np_random], taps)
        batch = self.dynamics.observations(self._block)
        observation = {key: value[0] for key, value in batch.items()}
        self._record_samples(observation["samples"])
        return observation

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self._block is None or self._taps is None:
            raise RuntimeError("call reset() before step()")
        decisions = as_decisions("action", action, self.action_space)
        decisions = check_symbol_indices("action", decisions, self.true_model.size)
        symbols = self.dynamics.data_symbols(self._block)[0].copy()
        errors = int(np.count_nonzero(decisions != symbols))
        cost = errors / len(symbols)
        self._last_errors = errors
        self._record_decisions(symbols, decisions)
        info = {
            "cost": cost,
            "errors": errors,
            "trials": len(symbols),
            "symbols": symbols,
        }
        return self._send(self._taps), -cost, False, False, info

    def label_count(self, info: dict[str, Any]) -> int:
        """The labelled symbols of a step: its block's data symbols."""
        return len(info["symbols"])

    def oracle(self, horizon: int | None = None) -> Any:
        """Viterbi with the true CSI (the mean taps under fading), for every horizon."""
        from mbdl_control.agents.model_based.viterbi import Viterbi  # lazily: gym.make loads none

        return Viterbi(self.true_model, knowledge="true")

    def _compute_bound(self, horizon: int) -> float | None:
        return matched_filter_bound(self.true_model, self.fading)

    def _record_samples(self, samples: np.ndarray) -> None:
        """The last :data:`RENDER_HISTORY` received samples of the block, one value each."""
        if self.render_mode is None:
            return
        for sample in samples[-RENDER_HISTORY:]:
            self._record(received=sample)

    def _record_decisions(self, symbols: np.ndarray, decisions: np.ndarray) -> None:
        """The last sent and detected symbols of the block (their constellation points), two
        traces that part where the detector erred."""
        if self.render_mode is None:
            return
        points = self.true_model.constellation
        last = slice(-RENDER_HISTORY, None)
        for sent, detected in zip(symbols[last], decisions[last], strict=True):
            self._record(sent_and_detected=(points[sent], points[detected]))

    def _render_text(self) -> str:
        """The block received and the last block's errors."""
        received = f"block of {self.dynamics.layout.block_length} samples received"
        if self._last_errors is None:
            return received
        size = self.dynamics.layout.block_length
        return f"last block: {self._last_errors} errors in {size} symbols; next {received}"
