"""``mbdl/SparseRecovery-v0`` and ``mbdl/SuperResolution-v0``: the measurements replayed from
the documented draws, the support's fraction, the noise level, the exact mismatch that changes
no draw, the cost, bad actions, the batched twin, Gymnasium's checker, rendering, and the
genie bound against a closed form, a quadrature and simulated estimators."""

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils import seeding
from gymnasium.utils.env_checker import check_env
from scipy import integrate, special, stats

from mbdl_control.envs.inverse import (
    SparseRecoveryEnv,
    SparseRecoveryVectorEnv,
    SuperResolutionEnv,
    SuperResolutionVectorEnv,
)
from mbdl_control.envs.inverse.sparse_bounds import genie_mmse, support_oracle_nmse
from mbdl_control.envs.inverse.sparse_recovery import mismatch_generator
from mbdl_control.envs.rendering import FRAME_SIZE
from mbdl_control.evaluation import evaluate
from mbdl_control.models import (
    SparseLinearModel,
    gaussian_sensing_matrix,
    noise_std_for_snr,
    psf_sensing_matrix,
)
from tests.batched_twins import assert_batched_equals_sync

RECOVERY, SUPER = "mbdl/SparseRecovery-v0", "mbdl/SuperResolution-v0"
#: small configurations of both envs, noisy, with a grid on which s = 0 happens
CONFIGS = {
    "recovery": (RECOVERY, {"measurements": 6, "unknowns": 10, "sparsity": 0.3, "snr_db": 10}),
    "recovery-noiseless": (RECOVERY, {"measurements": 3, "unknowns": 5, "sensing_seed": 4}),
    "super": (SUPER, {"unknowns": 24, "decimation": 3, "psf_width": 1.5, "snr_db": 5.0}),
    "super-noiseless": (SUPER, {"unknowns": 8, "decimation": 2, "snr_db": None}),
}
#: check_env's warnings the docstrings explain: unbounded spaces, an estimate in the signal's
#: units rather than [-1, 1]
EXPLAINED = ("infinity", "symmetric and normalized")


def make(config, **kwargs):
    env_id, defaults = CONFIGS[config]
    return gym.make(env_id, **{**defaults, **kwargs})


def zeros(env):
    return np.zeros(env.action_space.shape)


# --- the draws, replayed -------------------------------------------------------------------


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_measurements_are_the_sensing_equation_of_the_documented_draws(config):
    env = make(config, mismatch=0.4)
    model = env.unwrapped.true_model
    m, n, p, sigma = model.measurements, model.unknowns, model.sparsity, model.noise_std
    rng = seeding.np_random(7)[0]
    x, info = env.reset(seed=7)
    assert info == {}
    for _ in range(4):  # the first signal, then those the steps draw
        u, g, z = rng.random(n), rng.standard_normal(n), rng.standard_normal(m)
        signal = np.where(u < p, g, 0.0)
        np.testing.assert_array_equal(env.unwrapped.episode_signal, signal)
        np.testing.assert_allclose(x, model.sensing @ signal + sigma * z, rtol=0, atol=1e-12)
        x, _, terminated, _, info = env.unwrapped.step(zeros(env))
        np.testing.assert_array_equal(info["signal"], signal)
        assert not terminated and info["signal"].dtype == np.float64


def test_the_support_has_the_sparsity_and_standard_normal_amplitudes():
    envs = gym.make_vec(RECOVERY, 512, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    signals = envs.unwrapped.episode_signal
    count, p = signals.size, 0.1
    support = signals != 0.0
    assert abs(support.mean() - p) < 4 * math.sqrt(p * (1 - p) / count)
    amplitudes = signals[support]
    assert abs(amplitudes.mean()) < 4 / math.sqrt(amplitudes.size)
    assert amplitudes.var() == pytest.approx(1.0, abs=4 * math.sqrt(2 / amplitudes.size))


@pytest.mark.parametrize("snr_db", [0.0, 20.0])
def test_the_noise_level_is_the_snr_definition(snr_db):
    envs = gym.make_vec(RECOVERY, 256, vectorization_mode="vector_entry_point", snr_db=snr_db)
    model = envs.unwrapped.true_model
    expected = model.sparsity * np.sum(model.sensing**2) / model.measurements
    assert expected / model.noise_std**2 == pytest.approx(10 ** (snr_db / 10), rel=1e-12)
    assert expected == pytest.approx(model.sparsity * model.unknowns / model.measurements)
    x, _ = envs.reset(seed=1)
    noise = x - envs.unwrapped.episode_signal @ model.sensing.T
    assert abs(noise.mean()) < 4 * model.noise_std / math.sqrt(noise.size)
    assert noise.var() == pytest.approx(model.noise_std**2, rel=4 * math.sqrt(2 / noise.size))


def test_noiseless_measurements_are_the_clean_ones():
    env = make("recovery-noiseless")
    x, _ = env.reset(seed=3)
    assert env.unwrapped.true_model.noise_std == 0.0
    expected = env.unwrapped.true_model.sensing @ env.unwrapped.episode_signal
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-15)


# --- the mismatch --------------------------------------------------------------------------


@pytest.mark.parametrize("mismatch", [0.0, 0.05, 0.7])
def test_sparse_recovery_perturbs_the_sensing_matrix_by_exactly_the_mismatch(mismatch):
    env = gym.make(RECOVERY, mismatch=mismatch, measurements=20, unknowns=30, sensing_seed=3)
    true, nominal = env.unwrapped.true_model, env.unwrapped.nominal_model
    np.testing.assert_array_equal(true.sensing, gaussian_sensing_matrix(20, 30, 3))
    direction = mismatch_generator(3).standard_normal((20, 30))
    shift = mismatch * np.linalg.norm(true.sensing) * direction / np.linalg.norm(direction)
    np.testing.assert_allclose(nominal.sensing, true.sensing + shift, rtol=0, atol=1e-15)
    report = env.unwrapped.mismatch_report()
    assert report == {"rel_error_sensing": pytest.approx(mismatch, abs=1e-12)}
    assert (nominal.sparsity, nominal.noise_std) == (true.sparsity, true.noise_std)
    assert (nominal == true) == (mismatch == 0.0)


def test_the_perturbation_has_a_stream_of_its_own():
    own = mismatch_generator(0).standard_normal(50)
    for seed in range(3):  # no sensing seed's stream
        assert not np.allclose(own, np.random.default_rng(seed).standard_normal(50))


@pytest.mark.parametrize("mismatch", [0.0, 0.1, 2.0])
def test_super_resolution_widens_the_designers_psf_by_the_mismatch(mismatch):
    env = gym.make(SUPER, mismatch=mismatch, unknowns=40, decimation=5, psf_width=1.5)
    true, nominal = env.unwrapped.true_model, env.unwrapped.nominal_model
    np.testing.assert_array_equal(true.sensing, psf_sensing_matrix(40, 5, 1.5))
    np.testing.assert_array_equal(nominal.sensing, psf_sensing_matrix(40, 5, 1.5 * (1 + mismatch)))
    assert (nominal.sparsity, nominal.noise_std) == (true.sparsity, true.noise_std)
    assert true.noise_std == noise_std_for_snr(true.sensing, 0.05, 30.0)
    report = env.unwrapped.mismatch_report()
    assert report["rel_error_psf_width"] == mismatch
    gap = np.linalg.norm(nominal.sensing - true.sensing) / np.linalg.norm(true.sensing)
    assert report["rel_error_sensing"] == pytest.approx(gap)
    assert (report["rel_error_sensing"] > 0) == (mismatch > 0)


@pytest.mark.parametrize("config", ["recovery", "super"])
def test_mismatch_changes_no_draw_and_not_the_truth(config):
    def episode(mismatch):
        env = make(config, mismatch=mismatch)
        x, _ = env.reset(seed=5)
        _, _, _, _, info = env.step(zeros(env))
        return env.unwrapped.true_model, [x, info["signal"]]

    truth, draws = episode(0.0)
    for mismatch in (0.3, 5.0):
        other_truth, other_draws = episode(mismatch)
        assert other_truth == truth
        assert all(np.array_equal(a, b) for a, b in zip(draws, other_draws, strict=True))


# --- the cost, the labels, bad actions -----------------------------------------------------


def test_the_cost_is_the_squared_error_over_the_expected_signal_energy():
    env = make("recovery", mismatch=0.2)
    base = env.unwrapped
    assert (base.task_metrics, base.label_keys, base.cost_display) == (
        ("error_energy", "signal_energy"),
        ("signal",),
        "dB",
    )
    assert base.default_horizon == 1 and not base.mismatch_observed
    env.reset(seed=2)
    signal = base.episode_signal
    estimate = signal + np.linspace(-1.0, 1.0, signal.size)
    _, reward, _, truncated, info = env.step(estimate)
    error = float(np.sum((estimate - signal) ** 2))
    assert info["error_energy"] == pytest.approx(error, rel=1e-14)
    assert info["signal_energy"] == pytest.approx(float(np.sum(signal**2)), rel=1e-14)
    assert info["cost"] == pytest.approx(error / (0.3 * 10), rel=1e-14) and reward == -info["cost"]
    assert truncated and base.label_count(info) == 1


def test_a_zero_signal_has_a_finite_cost():
    env = gym.make(RECOVERY, measurements=1, unknowns=2, sparsity=0.01)
    env.reset(seed=0)
    assert not env.unwrapped.episode_signal.any()  # (1 − p)² ≈ 98 % of signals
    _, _, _, _, info = env.step(np.array([0.3, -0.4]))
    assert info["signal_energy"] == 0.0
    assert info["cost"] == pytest.approx(0.25 / 0.02, rel=1e-14)


def test_bad_actions_are_refused_and_the_signal_waits():
    env = make("recovery")
    env.reset(seed=0)
    signal = env.unwrapped.episode_signal
    for bad, message in (
        (np.zeros(9), r"action must have shape \(10,\), got \(9,\)"),
        (np.zeros((1, 10)), r"action must have shape \(10,\), got \(1, 10\)"),
        (np.full(10, np.nan), "action must be finite, got"),
        (np.full(10, -np.inf), "action must be finite, got"),
        (np.full(10, "0"), r"must hold real numbers .* got dtype <U1"),
        (np.full(10, 1j), r"must hold real numbers .* got dtype complex128"),
        (np.ones(10, dtype=bool), r"must hold real numbers .* got dtype bool"),
        ([[1, 2], [3]], r"action must be an array for Box\("),
        (np.full(10, 1e200), r"would make the cost non-finite \(overflow\): estimates must"),
    ):
        with pytest.raises(ValueError, match=message):
            env.step(bad)
    np.testing.assert_array_equal(env.unwrapped.episode_signal, signal)
    _, _, _, _, info = env.step(np.zeros(10, dtype=np.int64))  # integers are real numbers
    np.testing.assert_array_equal(info["signal"], signal)
    with pytest.raises(RuntimeError, match="reset"):
        SparseRecoveryEnv().step(np.zeros(500))


def test_bad_arguments_name_themselves():
    for env_id, kwargs, message in (
        (SUPER, {"decimation": 3}, r"decimation must be a divisor of unknowns = 128 .*, got 3"),
        (SUPER, {"psf_width": 0.0}, r"psf_width must be a finite float >= 0.1"),
        (RECOVERY, {"snr_db": 90}, r"snr_db must be .* <= 80 or None \(noiseless\)"),
        (RECOVERY, {"snr_db": "30"}, r"snr_db must be .*, got '30'"),
        (RECOVERY, {"sparsity": 1e-7}, r"sparsity must be a finite float >= 1e-06 and <= 1"),
        (RECOVERY, {"measurements": 1001}, r"measurements must be a positive integer <= 1000"),
        (RECOVERY, {"sensing_seed": -1}, r"sensing_seed must be a non-negative integer"),
    ):
        with pytest.raises(ValueError, match=message):
            gym.make(env_id, **kwargs)
    assert gym.make(RECOVERY, snr_db=None).unwrapped.true_model.noise_std == 0.0
    assert gym.make(SUPER, unknowns=7, decimation=7).observation_space.shape == (1,)


# --- the batched twin ----------------------------------------------------------------------


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_batched_env_equals_sync_vector_env_through_autoresets(config):
    env_id, kwargs = CONFIGS[config]
    vector_class = SparseRecoveryVectorEnv if env_id == RECOVERY else SuperResolutionVectorEnv
    for steps in (1, 3):
        kwargs = {**kwargs, "mismatch": 0.3, "max_episode_steps": steps}
        assert_batched_equals_sync(env_id, kwargs, vector_class)


def test_batched_env_at_the_defaults_equals_the_sync_one_bit_for_bit():
    assert_batched_equals_sync(RECOVERY, {"snr_db": 20.0}, SparseRecoveryVectorEnv)


def test_batched_env_has_the_single_envs_contract():
    kwargs = {"mismatch": 0.2, "unknowns": 16, "decimation": 2, "snr_db": 10.0}
    batched = gym.make_vec(SUPER, 3, **kwargs).unwrapped
    single = gym.make(SUPER, **kwargs).unwrapped
    assert isinstance(batched, SuperResolutionVectorEnv) and batched.max_episode_steps == 1
    assert batched.true_model == single.true_model
    assert batched.nominal_model == single.nominal_model
    assert batched.structure() == single.structure() == single.true_model.structure()
    assert batched.performance_bound() == single.performance_bound()
    assert batched.mismatch_report() == single.mismatch_report()
    assert (batched.task_metrics, batched.label_keys, batched.cost_display) == (
        single.task_metrics,
        single.label_keys,
        single.cost_display,
    )
    from_int, _ = batched.reset(seed=5)
    signals = batched.episode_signal
    from_list, _ = batched.reset(seed=[5, 6, 7])
    np.testing.assert_array_equal(from_int, from_list)
    single.reset(seed=6)
    np.testing.assert_array_equal(signals[1], single.episode_signal)
    _, _, _, _, info = batched.step(np.zeros((3, 16)))
    assert batched.label_count(info) == 3
    np.testing.assert_array_equal(info["signal"], signals)
    _, _, _, _, info = batched.step(np.zeros((3, 16)))  # every env restarts
    assert info == {} and batched.label_count(info) == 0


def test_batched_env_refuses_bad_actions_naming_the_envs():
    envs = gym.make_vec(RECOVERY, 3, measurements=4, unknowns=6)
    with pytest.raises(RuntimeError, match="reset"):
        envs.step(np.zeros((3, 6)))
    envs.reset(seed=0)
    signals = envs.unwrapped.episode_signal
    huge = np.zeros((3, 6))
    huge[1] = 1e200
    with pytest.raises(ValueError, match=r"actions of envs \[1\] .* non-finite \(overflow\)"):
        envs.step(huge)
    with pytest.raises(ValueError, match="actions must be finite"):
        envs.step(np.full((3, 6), np.nan))
    with pytest.raises(ValueError, match=r"actions must have shape \(3, 6\)"):
        envs.step(np.zeros((3, 5)))
    np.testing.assert_array_equal(envs.unwrapped.episode_signal, signals)
    _, _, _, _, info = envs.step(np.zeros((3, 6)))
    np.testing.assert_array_equal(info["signal"], signals)
    _, rewards, _, _, info = envs.step(huge)  # every env restarts: the actions are ignored
    assert info == {} and np.all(rewards == 0.0)


# --- Gymnasium's checker, rendering --------------------------------------------------------


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_check_env_passes(config):
    env = make(config, mismatch=0.1, render_mode="rgb_array")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    messages = [str(w.message) for w in caught]
    assert [m for m in messages if not any(e in m for e in EXPLAINED)] == []


def test_seeded_signals_repeat_and_seeds_differ():
    def episode(seed):
        env = make("super")
        x, _ = env.reset(seed=seed)
        return x, env.step(zeros(env))[4]["signal"]

    first, again, other = episode(4), episode(4), episode(5)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_frames_chart_the_measurements_and_the_costs():
    env = make("super", render_mode="rgb_array")
    env.reset(seed=0)
    before = env.render()
    env.step(zeros(env))
    after = env.render()
    assert before.shape == after.shape == (*FRAME_SIZE, 3) and not np.array_equal(before, after)
    assert list(env.unwrapped._history) == ["measurements", "cost"]
    text = make("super", render_mode="ansi")
    text.reset(seed=0)
    assert text.render() == "8 measurements received"
    _, _, _, _, info = text.step(zeros(text))
    expected = f"last estimate: squared error / (p n) = {info['cost']:.3g} (signal energy "
    assert text.render().startswith(expected) and text.render().endswith(
        "; next 8 measurements received"
    )


# --- the bound -----------------------------------------------------------------------------


def scalar_model(h, sigma, p):
    return SparseLinearModel(np.array([[h]]), p, sigma)


def bernoulli_gaussian_mmse(h, sigma, p):
    """The Bayes MMSE of ``s = b g`` from ``x = h s + σ z``, by quadrature: ``E s² − E
    E[s|x]²``, with ``E[s|x] = P(b = 1 | x) h x / (h² + σ²)`` and ``x`` a mixture of
    ``N(0, h² + σ²)`` (weight ``p``) and ``N(0, σ²)``."""
    spread = math.hypot(h, sigma)

    def mean_square(x):
        on = math.log(p) + stats.norm.logpdf(x, scale=spread)
        off = math.log1p(-p) + stats.norm.logpdf(x, scale=sigma)
        posterior_mean = special.expit(on - off) * h * x / spread**2
        return posterior_mean**2 * math.exp(np.logaddexp(on, off))

    reach = 40 * spread
    total, _ = integrate.quad(mean_square, -reach, reach, points=[0.0], limit=200)
    return p - total


@pytest.mark.parametrize(("h", "sigma", "p"), [(1.0, 0.5, 0.3), (0.7, 1.3, 0.05)])
def test_scalar_genie_bound_is_the_closed_form_below_the_bayes_mmse(h, sigma, p):
    model = scalar_model(h, sigma, p)
    genie = genie_mmse(model)
    assert genie.mean == pytest.approx(sigma**2 / (sigma**2 + h**2), rel=1e-13)
    assert genie.standard_error == 0.0  # one support of each size: no Monte Carlo error
    assert support_oracle_nmse(model).mean == pytest.approx(sigma**2 / h**2, rel=1e-13)
    bayes = bernoulli_gaussian_mmse(h, sigma, p) / p
    assert genie.mean < bayes < 1.0  # the genie knows b; 1 is the zero estimate's


def test_noiseless_bound_counts_the_dimensions_the_measurements_miss():
    assert genie_mmse(gym.make(RECOVERY, measurements=40, unknowns=80).unwrapped.true_model) == (
        0.0,
        0.0,
    )
    model = gym.make(RECOVERY, measurements=2, unknowns=6, sparsity=0.5).unwrapped.true_model
    sizes = np.arange(7)
    expected = np.sum(stats.binom.pmf(sizes, 6, 0.5) * np.maximum(sizes - 2, 0)) / 3.0
    assert genie_mmse(model).mean == pytest.approx(expected, rel=1e-12)  # rank min(k, 2)
    assert support_oracle_nmse(model).mean == pytest.approx(expected, rel=1e-12)  # σ = 0


@pytest.mark.parametrize("sigma", [0.0, 0.6])
def test_bound_of_two_equal_columns_is_the_closed_form(sigma):
    model = SparseLinearModel(np.array([[1.0, 1.0], [0.0, 0.0]]), 0.3, sigma)
    alone = sigma**2 / (sigma**2 + 1) if sigma else 0.0  # one spike, seen through h = e_1
    together = 1 + (sigma**2 / (sigma**2 + 2) if sigma else 0.0)  # the Gram has eigenvalues 0, 2
    expected = (2 * 0.3 * 0.7 * alone + 0.3**2 * together) / (2 * 0.3)
    assert genie_mmse(model) == (pytest.approx(expected, rel=1e-12), 0.0)


def simulated_costs(env_id, kwargs, estimator, count=4096):
    """The costs of ``estimator(H, σ, x, support)`` on ``count`` signals of the batched env."""
    envs = gym.make_vec(env_id, count, max_episode_steps=2, **kwargs)
    model = envs.unwrapped.true_model
    x, _ = envs.reset(seed=0)
    estimates = np.zeros(envs.action_space.shape)
    for row, signal in enumerate(envs.unwrapped.episode_signal):
        support = np.flatnonzero(signal)
        estimates[row, support] = estimator(model.sensing[:, support], model.noise_std, x[row])
    return envs.step(estimates)[4]["cost"], model


def least_squares(columns, sigma, x):
    return np.linalg.lstsq(columns, x, rcond=None)[0]


def genie(columns, sigma, x):
    gram = columns.T @ columns + sigma**2 * np.eye(columns.shape[1])
    return np.linalg.solve(gram, columns.T @ x)


def agrees(costs, estimate):
    """The mean of simulated costs within 4 standard errors (both) of an estimate."""
    error = math.hypot(costs.std(ddof=1) / math.sqrt(costs.size), estimate.standard_error)
    return abs(costs.mean() - estimate.mean) < 4 * error


def test_least_squares_on_the_true_support_scores_its_formula_above_the_genie():
    kwargs = {"measurements": 30, "unknowns": 60, "snr_db": 3.0}
    ls_costs, model = simulated_costs(RECOVERY, kwargs, least_squares)
    genie_costs, _ = simulated_costs(RECOVERY, kwargs, genie)
    oracle, bound = support_oracle_nmse(model, draws=20_000), genie_mmse(model, draws=20_000)
    assert agrees(ls_costs, oracle) and agrees(genie_costs, bound)
    assert oracle.mean > bound.mean + 4 * math.hypot(oracle.standard_error, bound.standard_error)
    error = ls_costs.std(ddof=1) / math.sqrt(ls_costs.size)
    assert ls_costs.mean() - 4 * error > bound.mean


def test_the_genie_scores_the_super_resolution_bound():
    kwargs = {"unknowns": 32, "decimation": 2, "snr_db": 10.0}
    costs, model = simulated_costs(SUPER, kwargs, genie)
    bound = genie_mmse(model, draws=20_000)
    assert agrees(costs, bound)
    env = gym.make(SUPER, **kwargs).unwrapped
    assert env.performance_bound() == genie_mmse(model, SuperResolutionEnv.bound_draws).mean


def test_the_bound_at_the_defaults_has_the_documented_precision():
    env = gym.make(RECOVERY, snr_db=30.0).unwrapped
    bound = genie_mmse(env.true_model, env.bound_draws)
    assert env.performance_bound() == bound.mean
    assert 10 * math.log10(bound.mean) == pytest.approx(-36.0, abs=0.05)
    assert bound.standard_error < 5e-4 * bound.mean  # 0.03 % documented


def test_the_oracle_is_no_better_than_the_bound():
    env = gym.make(RECOVERY, measurements=30, unknowns=60, snr_db=20.0)
    oracle = env.unwrapped.oracle()
    assert oracle.spectrum.knowledge == "true"
    result = evaluate(oracle, env, n_episodes=200, seed=0)
    assert (
        result.mean_cost + 4 * result.std_error > result.bound == env.unwrapped.performance_bound()
    )
