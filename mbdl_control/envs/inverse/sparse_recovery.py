r"""``mbdl/SparseRecovery-v0``: recover a sparse vector from compressed measurements (LISTA).

The env's docstring is its documentation. What it shares with ``mbdl/SuperResolution-v0``
(the episodes, the scoring, the action check) is
:class:`~mbdl_control.envs.inverse.sparse_inverse.SparseInverseEnv`; the draws are in
:mod:`~mbdl_control.envs.inverse.inverse_dynamics`, the bound in
:mod:`~mbdl_control.envs.inverse.sparse_bounds`, the batched twin in
:mod:`~mbdl_control.envs.inverse.sparse_inverse_vector`.
"""

from __future__ import annotations

import numpy as np

from mbdl_control.envs.arguments import MAX_DIMENSION, SEED, Integer, checked_arguments
from mbdl_control.envs.inverse.sparse_inverse import (
    SNR_DB,
    SPARSITY,
    UNKNOWNS,
    SparseInverseEnv,
)
from mbdl_control.models import (
    SparseLinearModel,
    gaussian_sensing_matrix,
    noise_std_for_snr,
    perturb,
)

MEASUREMENTS = Integer(1, MAX_DIMENSION, "m, the measurements")
#: the spawn key that gives the nominal model's perturbation a stream of its own
MISMATCH_STREAM = (1,)


def mismatch_generator(sensing_seed: int) -> np.random.Generator:
    """The generator of the nominal sensing matrix's error direction:
    ``default_rng(SeedSequence(sensing_seed, spawn_key=(1,)))``, a stream of its own, never
    that of any ``sensing_seed``'s ``H`` (a plain seed has no spawn key)."""
    return np.random.default_rng(np.random.SeedSequence(sensing_seed, spawn_key=MISMATCH_STREAM))


class SparseRecoveryEnv(SparseInverseEnv):
    r"""
    ## Description

    Recover a sparse vector ``s ∈ ℝⁿ`` from ``m < n`` noisy linear measurements
    ``x = Hs + w``: the standard benchmark of learned ISTA, in the setting of Chen, Liu, Wang
    & Yin ("Theoretical Linear Convergence of Unfolded ISTA and Its Practical Weights and
    Thresholds", NeurIPS 2018) and of their ALISTA code, whose defaults are here: ``m = 250``,
    ``n = 500``, ``H`` with i.i.d. ``N(0, 1/m)`` entries and unit-norm columns, the same in
    every episode, ``s`` Bernoulli–Gaussian with ``p = 0.1``, noiseless (their noisy variants
    are ``snr_db`` 20, 30 and 40). An episode is one signal: its measurements are observed,
    the estimate ``ŝ`` is the action, scored by its squared error.

    ## Action Space

    ``Box(-inf, inf, (n,), float64)``: the estimate ``ŝ``. An array of real numbers (floats or
    integers) of that shape, finite, whose squared error stays finite; anything else raises a
    ``ValueError`` naming it, and the signal waits for a valid answer.

    ## Observation Space

    ``Box(-inf, inf, (m,), float64)``: the measurements ``x``.

    ## Transition Dynamics

    ``s_i = b_i g_i`` with ``b_i ~ Bernoulli(p)`` and ``g_i ~ N(0, 1)``, all independent, and
    ``x = Hs + w`` (:mod:`mbdl_control.models.sparse`). A step scores the signal it answers
    and draws the next one, whose measurements are the step's observation: the registry ends
    an episode after one signal (``max_episode_steps = 1``); a longer episode is a run of
    independent signals.

    ## Noise Model

    ``w ~ N(0, σ² I_m)``, with the SNR the expected energy of ``Hs`` per measurement over
    ``σ²``: ``σ² = p‖H‖_F² / m · 10^{−snr_db/10}`` (``= p n / m · 10^{−snr_db/10}``, the
    columns having unit norm; :func:`~mbdl_control.models.noise_std_for_snr`), ``σ = 0`` for
    ``snr_db = None``. Every draw comes from ``self.np_random``, per signal in this order
    (:mod:`~mbdl_control.envs.inverse.inverse_dynamics`): ``n`` uniforms ``u`` (``b_i = 1``
    where ``u_i < p``), ``n`` standard normals (the amplitudes ``g``) and ``m`` standard
    normals ``z`` (``w = σz``, drawn even when ``σ = 0``); none depends on the action or on
    ``mismatch``.

    ## Known vs Unknown

    The designer knows the form (``m`` and ``n``: ``structure()``), ``p``, ``σ``, and a
    nominal sensing matrix ``Ĥ = H + ε ‖H‖_F E/‖E‖_F`` (``nominal_model.sensing``), ``E``
    i.i.d. ``N(0, 1)`` from :func:`mismatch_generator` (a stream of its own, derived from
    ``sensing_seed``): relative Frobenius error exactly ``ε = mismatch``
    (``mismatch_report()["rel_error_sensing"]``), the same ``Ĥ`` in every episode. The
    mismatch is in the nominal model only (``mismatch_observed = False``): it changes nothing
    the env draws or shows. The true signal of the measurements waiting for an answer is
    ``env.unwrapped.episode_signal``, for analysis; no agent sees it.

    ## Reward

    ``−cost``, with ``info["cost"] = ‖ŝ − s‖² / (p·n)``: the squared error over the prior's
    expected signal energy ``E‖s‖² = p·n``, not over this signal's ``‖s‖²``, which is 0 with
    probability ``(1 − p)ⁿ`` (positive on a small grid); the mean of this cost over episodes
    is an unbiased estimate of ``E‖ŝ − s‖² / E‖s‖²``, the limit of the benchmark's NMSE
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
    posterior mean on that support: the genie's estimate wherever it finds the support
    (noiseless: least squares on the true support, every signal recovered to about
    −220 dB).
    ``performance_bound()``: the genie (support-aware) MMSE, ``E_S tr((I +
    H_SᵀH_S/σ²)⁻¹) / (p·n)``, below every estimator's expected cost
    (:mod:`~mbdl_control.envs.inverse.sparse_bounds`), by Monte Carlo over 1000 supports
    (``bound_draws``), stratified by the support's size: relative standard error about
    0.03 %. At the defaults: 0 noiseless (every ``H_S`` drawn has full column rank; ``|S| >
    m`` has negligible probability); −26.02, −36.01 and −46.01 dB at 20, 30 and 40 dB. Least
    squares on the true support
    (:func:`~mbdl_control.envs.inverse.sparse_bounds.support_oracle_nmse`) is within 0.02 dB
    of it: the supports are small, and the prior of ``s_S`` adds little to the data.

    ## Arguments

    ``mismatch`` (≥ 0), ``measurements`` (250, ``m`` in 1 … 1000), ``unknowns`` (500, ``n``
    in 1 … 1000: the suite's largest dimension), ``sparsity`` (0.1, ``p`` in [10⁻⁶, 1]),
    ``snr_db`` (``None``: noiseless; or in [−10, 80]), ``sensing_seed`` (0, ≥ 0:
    ``H = gaussian_sensing_matrix(m, n, sensing_seed)``, i.i.d. ``N(0, 1/m)`` entries from
    ``numpy.random.default_rng(sensing_seed)``, each column then scaled to unit norm),
    ``render_mode`` (``None``, ``"ansi"`` or ``"rgb_array"``). Each is checked at
    construction, a ``ValueError`` naming a bad one (:mod:`mbdl_control.envs.arguments`).
    ``check_env`` warns that the spaces are unbounded (Gaussian samples are) and that the
    action space is not normalized to [−1, 1] (an estimate is in the signal's units).

    >>> import gymnasium as gym, numpy as np, mbdl_control
    >>> env = gym.make("mbdl/SparseRecovery-v0", snr_db=30.0)
    >>> x, info = env.reset(seed=0)
    >>> x.shape, info
    ((250,), {})
    >>> H = env.unwrapped.nominal_model.sensing
    >>> minimum_norm = np.linalg.pinv(H) @ x  # sparsity unused: -3 dB on average
    >>> _, reward, _, truncated, info = env.step(minimum_norm)
    >>> truncated, f"{10 * np.log10(info['cost']):.2f} dB", sorted(info)
    (True, '-4.00 dB', ['cost', 'error_energy', 'signal', 'signal_energy'])
    >>> f"{10 * np.log10(env.unwrapped.performance_bound()):.2f} dB"  # the genie at 30 dB
    '-36.01 dB'

    ## Version History

    * v0: initial version, with a native batched version (``gym.make_vec(id, num_envs)``,
      the same signals as single envs seeded alike).
    """

    bound_draws = 1000

    @checked_arguments(
        measurements=MEASUREMENTS,
        unknowns=UNKNOWNS,
        sparsity=SPARSITY,
        snr_db=SNR_DB,
        sensing_seed=SEED,
    )
    def __init__(
        self,
        mismatch: float = 0.0,
        measurements: int = 250,
        unknowns: int = 500,
        sparsity: float = 0.1,
        snr_db: float | None = None,
        sensing_seed: int = 0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(mismatch, render_mode)
        sensing = gaussian_sensing_matrix(measurements, unknowns, sensing_seed)
        true_model = SparseLinearModel(
            sensing, sparsity, noise_std_for_snr(sensing, sparsity, snr_db)
        )
        nominal_model = perturb(
            true_model, self.mismatch, mismatch_generator(sensing_seed), fields=("sensing",)
        )
        self._build(true_model, nominal_model)
