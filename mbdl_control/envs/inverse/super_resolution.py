r"""``mbdl/SuperResolution-v0``: locate spikes on a fine grid from blurred, decimated samples.

The env's docstring is its documentation. What it shares with ``mbdl/SparseRecovery-v0``
(the episodes, the scoring, the action check) is
:class:`~mbdl_control.envs.inverse.sparse_inverse.SparseInverseEnv`; the draws are in
:mod:`~mbdl_control.envs.inverse.inverse_dynamics`, the bound in
:mod:`~mbdl_control.envs.inverse.sparse_bounds`, the batched twin in
:mod:`~mbdl_control.envs.inverse.sparse_inverse_vector`.
"""

from __future__ import annotations

from mbdl_control.envs.arguments import MAX_DIMENSION, Integer, Real, checked_arguments
from mbdl_control.envs.inverse.sparse_inverse import (
    SNR_DB,
    SPARSITY,
    UNKNOWNS,
    SparseInverseEnv,
)
from mbdl_control.models import SparseLinearModel, noise_std_for_snr, psf_sensing_matrix

DECIMATION = Integer(1, MAX_DIMENSION, "d, fine-grid points per coarse sample; divides unknowns")
PSF_WIDTH = Real(0.1, 1000.0, meaning="w, the PSF's standard deviation in fine-grid samples")


class SuperResolutionEnv(SparseInverseEnv):
    r"""
    ## Description

    Recover a sparse spike train ``s`` on a fine grid of ``n`` points from ``m = n/d`` samples
    on a coarse grid of what an instrument shows of it: ``s`` blurred by a Gaussian
    point-spread function (PSF) of standard deviation ``w`` fine-grid samples, sampled at every
    ``d``-th fine position, plus noise. It is the 1-D form of super-resolution (and of sparse
    deconvolution) that unfolded ISTA was made for in microscopy (e.g. Learned SPARCOM,
    Dardikman-Yoffe & Eldar, Optics Express 2020); defaults ``n = 128``, ``d = 2``
    (``m = 64``), ``w = 1.5``, ``p = 0.05``, 30 dB (with ``d = 4``, ``w = 2`` the LASSO on
    the true PSF ends above −5 dB, 20 dB from the genie: too little signal per spike for any
    model-based solver to be a yardstick). Spikes closer than the PSF's width are hard to
    tell apart: columns of ``H`` a fine sample apart are nearly parallel. An episode is one
    signal: its samples are observed, the estimate ``ŝ`` is the action, scored by its squared
    error.

    ## Action Space

    ``Box(-inf, inf, (n,), float64)``: the estimate ``ŝ`` on the fine grid. An array of real
    numbers (floats or integers) of that shape, finite, whose squared error stays finite;
    anything else raises a ``ValueError`` naming it, and the signal waits for a valid answer.

    ## Observation Space

    ``Box(-inf, inf, (m,), float64)``: the coarse samples ``x``.

    ## Transition Dynamics

    ``x = Hs + w`` with ``H_ij = exp(−(c_i − j)²/(2w²))``, the PSF (peak 1) centred on coarse
    sample ``i``'s fine position ``c_i = d·i + (d − 1)/2``
    (:func:`~mbdl_control.models.psf_sensing_matrix`); ``s_j = b_j g_j``, ``b_j ~
    Bernoulli(p)``, ``g_j ~ N(0, 1)``, all independent. A step scores the signal it answers
    and draws the next one, whose samples are the step's observation: the registry ends an
    episode after one signal (``max_episode_steps = 1``); a longer episode is a run of
    independent signals.

    ## Noise Model

    ``w ~ N(0, σ² I_m)``, with the SNR the expected energy of ``Hs`` per sample over ``σ²``:
    ``σ² = p‖H‖_F² / m · 10^{−snr_db/10}`` on the true ``H``
    (:func:`~mbdl_control.models.noise_std_for_snr`), ``σ = 0`` for ``snr_db = None``. Every
    draw comes from ``self.np_random``, per signal in this order
    (:mod:`~mbdl_control.envs.inverse.inverse_dynamics`): ``n`` uniforms ``u`` (``b_j = 1``
    where ``u_j < p``), ``n`` standard normals (the amplitudes ``g``) and ``m`` standard
    normals ``z`` (``w = σz``, drawn even when ``σ = 0``); none depends on the action or on
    ``mismatch``.

    ## Known vs Unknown

    The designer knows the form (``m`` and ``n``: ``structure()``), ``p``, ``σ``, the grids
    and that the PSF is Gaussian, but not its exact width: the nominal model's sensing matrix
    is ``psf_sensing_matrix(n, d, w (1 + ε))`` with ``ε = mismatch``, a PSF wider than the true
    one by the relative error ``ε`` (the designer overestimates the blur), with the true
    ``σ`` and ``p``. ``mismatch_report()`` holds ``rel_error_psf_width`` (``= ε``) and
    ``rel_error_sensing`` (the relative Frobenius error of ``H`` that follows from it). The
    mismatch is in the nominal model only (``mismatch_observed = False``): it changes nothing
    the env draws or shows. The true signal of the samples waiting for an answer is
    ``env.unwrapped.episode_signal``, for analysis; no agent sees it.

    ## Reward

    ``−cost``, with ``info["cost"] = ‖ŝ − s‖² / (p·n)``: the squared error over the prior's
    expected signal energy ``E‖s‖² = p·n``, not over this signal's ``‖s‖²``, which is 0 with
    probability ``(1 − p)ⁿ`` (0.14 % at the defaults); the mean of this cost over episodes is
    an unbiased estimate of ``E‖ŝ − s‖² / E‖s‖²``, the limit of the NMSE
    ``Σ‖ŝ − s‖² / Σ‖s‖²``. ``info`` also holds ``error_energy`` (``‖ŝ − s‖²``) and
    ``signal_energy`` (``‖s‖²``), the ``task_metrics``, and ``signal`` (``s``, float64,
    ``(n,)``: the label, given only after the action; one labelled sample per step).
    ``cost_display`` is ``"dB"``: reports show ``10 log10`` of the mean cost, the NMSE in dB.

    ## Starting State

    ``reset`` draws the first signal; its ``info`` is empty (no label before the action).

    ## Episode End

    Truncation after ``max_episode_steps = 1`` signal (the registry); no termination.

    ## Oracle and Bound

    ``oracle()``: ``mbdl_control.agents.model_based.sparse_solvers.DebiasedLASSO(true_model,
    knowledge="true")``: LASSO (by FISTA) on the true ``H``, its support refined, then the
    posterior mean on that support (the genie's estimate wherever it finds the support).
    ``performance_bound()``: the genie (support-aware) MMSE, ``E_S tr((I +
    H_SᵀH_S/σ²)⁻¹) / (p·n)``, below every estimator's expected cost
    (:mod:`~mbdl_control.envs.inverse.sparse_bounds`), by Monte Carlo over 10⁵ supports
    (``bound_draws``), stratified by the support's size: relative standard error about
    1.1 %, the genie's error coming mostly from rare supports with spikes a sample or two
    apart. At the defaults about −37.4 dB, where the oracle reaches about −12 dB: spikes a
    fine sample or two apart are not resolved by any LASSO solver. Least squares on the true
    support is no yardstick here: close spikes make ``H_SᵀH_S`` nearly singular, and its
    expected error, dominated by them, is astronomically large.

    ## Arguments

    ``mismatch`` (≥ 0), ``unknowns`` (128, ``n`` in 1 … 1000), ``decimation`` (2, ``d`` in
    1 … 1000, a divisor of ``n``), ``psf_width`` (1.5, ``w`` in [0.1, 1000] fine-grid
    samples), ``sparsity`` (0.05, ``p`` in [10⁻⁶, 1]), ``snr_db`` (30.0; ``None``: noiseless;
    or in [−10, 80]), ``render_mode`` (``None``, ``"ansi"`` or ``"rgb_array"``). Each is
    checked at construction, a ``ValueError`` naming a bad one
    (:mod:`mbdl_control.envs.arguments`). ``check_env`` warns that the spaces are unbounded
    (Gaussian samples are) and that the action space is not normalized to [−1, 1] (an
    estimate is in the signal's units).

    >>> import gymnasium as gym, numpy as np, mbdl_control
    >>> env = gym.make("mbdl/SuperResolution-v0", mismatch=0.1)
    >>> x, info = env.reset(seed=0)
    >>> x.shape, env.action_space.shape, env.unwrapped.mismatch_report()["rel_error_psf_width"]
    ((64,), (128,), 0.1)
    >>> H = env.unwrapped.nominal_model.sensing  # the designer's PSF, 10 % too wide
    >>> inverted = np.linalg.pinv(H) @ x  # about as good as answering 0 (0 dB)
    >>> _, reward, _, truncated, info = env.step(inverted)
    >>> truncated, f"{10 * np.log10(info['cost']):.2f} dB"
    (True, '-0.15 dB')
    >>> f"{10 * np.log10(env.unwrapped.performance_bound()):.1f} dB"  # the genie at 30 dB
    '-37.4 dB'

    ## Version History

    * v0: initial version, with a native batched version (``gym.make_vec(id, num_envs)``,
      the same signals as single envs seeded alike).
    """

    bound_draws = 100_000

    @checked_arguments(
        unknowns=UNKNOWNS,
        decimation=DECIMATION,
        psf_width=PSF_WIDTH,
        sparsity=SPARSITY,
        snr_db=SNR_DB,
    )
    def __init__(
        self,
        mismatch: float = 0.0,
        unknowns: int = 128,
        decimation: int = 2,
        psf_width: float = 1.5,
        sparsity: float = 0.05,
        snr_db: float | None = 30.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(mismatch, render_mode)
        if unknowns % decimation:
            raise ValueError(
                f"decimation must be a divisor of unknowns = {unknowns} (m = n / d coarse "
                f"samples), got {decimation}"
            )
        sensing = psf_sensing_matrix(unknowns, decimation, psf_width)
        noise_std = noise_std_for_snr(sensing, sparsity, snr_db)
        true_model = SparseLinearModel(sensing, sparsity, noise_std)
        designed = psf_sensing_matrix(unknowns, decimation, psf_width * (1.0 + self.mismatch))
        self._build(true_model, true_model.replace(sensing=designed))

    def mismatch_report(self) -> dict[str, float]:
        """The relative Frobenius error of ``H`` and the relative error of the PSF's width
        (``= mismatch``)."""
        return {**super().mismatch_report(), "rel_error_psf_width": self.mismatch}
