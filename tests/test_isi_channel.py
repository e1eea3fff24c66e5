"""``mbdl/ISIChannel-v0``: the channel equation, the SNR, the mismatch knob, the labels and their
budget, the batched twin, Gymnasium's checker, and the bound against genie and oracle SERs."""

import math
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils import seeding
from gymnasium.utils.env_checker import check_env

from mbdl_control.core import Budget
from mbdl_control.envs.comms import ISIChannelEnv, ISIChannelVectorEnv
from mbdl_control.envs.comms.isi_dynamics import FADING_STD, q_function
from mbdl_control.envs.rendering import FRAME_SIZE
from mbdl_control.evaluation import evaluate
from mbdl_control.evaluation.budget import BudgetExceededError, CountingEnv
from mbdl_control.models import CONSTELLATIONS
from tests.batched_twins import assert_batched_equals_sync

ID = "mbdl/ISIChannel-v0"
KEYS = ("pilot_samples", "pilot_symbols", "samples")
#: the configurations every structural test runs: the default, and every option at once
CONFIGS = {
    "default": {},
    "4pam-pilots": {"constellation": "4pam", "memory": 3, "pilot_length": 5, "block_length": 40},
    "poisson-fading": {
        "channel": "poisson",
        "fading": "block",
        "constellation": "4pam",
        "pilot_length": 2,
        "block_length": 30,
        "snr_db": 12.0,
    },
    "gaussian-fading": {"fading": "block", "pilot_length": 1, "block_length": 25},
}
#: check_env's warnings the env's docstring explains: unbounded sample spaces
EXPLAINED = ("infinity",)


def taps_of(memory, gamma=0.2):
    return np.exp(-gamma * np.arange(memory))


def step_zeros(env):
    return env.step(np.zeros(env.action_space.shape, dtype=np.int64))


# --- the channel, replayed from the documented draws -------------------------------------


def test_gaussian_channel_is_the_convolution_of_the_documented_draws():
    L, P, N, snr_db = 3, 5, 50, 7.0
    env = gym.make(
        ID,
        memory=L,
        pilot_length=P,
        block_length=N,
        snr_db=snr_db,
        constellation="4pam",
        mismatch=0.4,
    )
    points, sigma = CONSTELLATIONS["4pam"], math.sqrt(10 ** (-snr_db / 10))
    rng = seeding.np_random(7)[0]
    obs, _ = env.reset(seed=7)
    for _ in range(3):  # the first block, then the blocks that the steps send
        symbols = rng.integers(0, 4, L - 1 + P + N)
        y = np.convolve(points[symbols], taps_of(L), "valid") + sigma * rng.standard_normal(P + N)
        np.testing.assert_allclose(obs["pilot_samples"], y[:P], rtol=0, atol=1e-12)
        np.testing.assert_allclose(obs["samples"], y[P:], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(obs["pilot_symbols"], symbols[L - 1 : L - 1 + P])
        obs, _, _, _, info = step_zeros(env)
        np.testing.assert_array_equal(info["symbols"], symbols[L - 1 + P :])


def test_poisson_channel_counts_photons_of_the_symbol_intensities():
    L, P, N, snr_db = 4, 3, 60, 10.0
    env = gym.make(ID, memory=L, pilot_length=P, block_length=N, snr_db=snr_db, channel="poisson")
    obs, _ = env.reset(seed=3)
    rng = seeding.np_random(3)[0]
    symbols = rng.integers(0, 2, L - 1 + P + N)
    on_off = (CONSTELLATIONS["bpsk"][symbols] + 1) / 2  # BPSK as on-off keying
    rate = 1 + math.sqrt(10 ** (snr_db / 10)) * np.convolve(on_off, taps_of(L), "valid")
    counts = rng.poisson(rate)
    np.testing.assert_array_equal(obs["samples"], counts[P:])
    np.testing.assert_array_equal(obs["pilot_samples"], counts[:P])
    model = env.unwrapped.true_model
    assert model.kind == "poisson" and env.observation_space["samples"].low.min() == 0.0
    np.testing.assert_allclose(model.taps, math.sqrt(10 ** (snr_db / 10)) / 2 * taps_of(L))
    assert env.unwrapped.performance_bound() is None


def test_block_fading_draws_the_taps_first_and_keeps_them_for_the_episode():
    env = gym.make(ID, fading="block", block_length=20, max_episode_steps=3)
    obs, _ = env.reset(seed=5)
    rng = seeding.np_random(5)[0]
    taps = taps_of(4) * (1 + FADING_STD * rng.standard_normal(4))
    np.testing.assert_array_equal(env.unwrapped.episode_taps, taps)
    symbols = rng.integers(0, 2, 3 + 20)
    y = np.convolve(CONSTELLATIONS["bpsk"][symbols], taps, "valid")
    y += math.sqrt(0.1) * rng.standard_normal(20)
    np.testing.assert_allclose(obs["samples"], y, rtol=0, atol=1e-12)
    step_zeros(env)
    np.testing.assert_array_equal(env.unwrapped.episode_taps, taps)  # one channel per episode
    env.reset()
    assert not np.array_equal(env.unwrapped.episode_taps, taps)
    np.testing.assert_array_equal(env.unwrapped.true_model.taps, taps_of(4))  # the mean


@pytest.mark.parametrize("snr_db", [-5.0, 3.0, 20.0])
def test_snr_is_the_inverse_noise_variance(snr_db):
    L, N = 4, 20000
    env = gym.make(ID, snr_db=snr_db, pilot_length=L - 1, block_length=N)  # pilots: known past
    obs, _ = env.reset(seed=1)
    _, _, _, _, info = step_zeros(env)
    values = CONSTELLATIONS["bpsk"][np.concatenate([obs["pilot_symbols"], info["symbols"]])]
    noise = obs["samples"] - np.convolve(values, taps_of(L), "valid")
    variance = 10 ** (-snr_db / 10)
    assert env.unwrapped.true_model.noise_var == pytest.approx(variance)
    assert abs(noise.mean()) < 4 * math.sqrt(variance / N)
    assert np.var(noise) == pytest.approx(variance, rel=4 * math.sqrt(2 / N))


# --- the mismatch knob ---------------------------------------------------------------------


@pytest.mark.parametrize("mismatch", [0.0, 0.05, 0.32, 2.0])
def test_mismatch_is_the_exact_relative_csi_error_of_the_nominal_taps(mismatch):
    env = gym.make(ID, mismatch=mismatch, channel="poisson" if mismatch > 1 else "gaussian")
    base = env.unwrapped
    true, nominal = base.true_model, base.nominal_model
    error = np.linalg.norm(nominal.taps - true.taps) / np.linalg.norm(true.taps)
    assert error == pytest.approx(mismatch, abs=1e-12)
    assert base.mismatch_report()["rel_error_taps"] == pytest.approx(mismatch, abs=1e-12)
    assert nominal.noise_var == true.noise_var and nominal.kind == true.kind
    np.testing.assert_array_equal(nominal.constellation, true.constellation)
    assert base.structure().memory == 4 and base.structure().kind == true.kind


def test_mismatch_changes_neither_the_truth_nor_the_draws():
    exact, wrong = gym.make(ID), gym.make(ID, mismatch=0.5)
    assert exact.unwrapped.true_model == wrong.unwrapped.true_model
    assert exact.unwrapped.nominal_model == exact.unwrapped.true_model
    assert gym.make(ID, mismatch=0.5).unwrapped.nominal_model == wrong.unwrapped.nominal_model
    other_seed = gym.make(ID, mismatch=0.5, mismatch_seed=1).unwrapped.nominal_model
    assert other_seed != wrong.unwrapped.nominal_model
    first, second = exact.reset(seed=9)[0], wrong.reset(seed=9)[0]
    for key in KEYS:
        np.testing.assert_array_equal(first[key], second[key])
    assert exact.unwrapped.performance_bound() == wrong.unwrapped.performance_bound()


# --- labels, budget, actions ---------------------------------------------------------------


def test_labels_come_after_the_action_and_the_budget_counts_symbols():
    env = CountingEnv(gym.make(ID, block_length=100), Budget(steps=3, samples=250))
    assert env.labels == ("symbols",)
    used = []
    for _ in range(3):
        obs, info = env.reset(seed=len(used))
        assert sorted(obs) == list(KEYS) and "symbols" not in info  # nothing before the action
        _, _, _, truncated, info = step_zeros(env)
        assert truncated and info["trials"] == 100 and "cost" in info
        used.append((env.samples_used, "symbols" in info))
    assert used == [(100, True), (200, True), (200, False)]  # a third block would pass 250
    with pytest.raises(BudgetExceededError):
        step_zeros(env)
    assert env.unwrapped.label_count({"symbols": np.zeros(7)}) == 7


def test_cost_is_the_symbol_error_rate_of_the_decisions():
    env = gym.make(ID, block_length=200, constellation="4pam")
    env.reset(seed=0)
    _, reward, _, _, info = step_zeros(env)
    errors = int(np.count_nonzero(info["symbols"] != 0))
    assert info["errors"] == errors and info["cost"] == errors / 200 == -reward
    env.reset(seed=0)
    _, _, _, _, again = env.step(info["symbols"].astype(np.float64))  # integral floats do
    assert again["errors"] == 0 and again["cost"] == 0.0
    assert env.unwrapped.task_metrics == ("errors", "trials")
    assert env.unwrapped.cost_display == "log"


def test_bad_decisions_are_refused_naming_the_first_bad_entry():
    env = gym.make(ID, block_length=4)
    with pytest.raises(RuntimeError, match="reset"):
        ISIChannelEnv(block_length=4).step(np.zeros(4))
    env.reset(seed=0)
    for bad, shown in (
        ([0, 1, 2, 0], "2 at index [2]"),
        ([0, 0.5, 1, 1], "0.5 at index [1]"),
        ([-1, 0, 0, 0], "-1 at index [0]"),
        ([0, 0, 0, np.nan], "nan at index [3]"),
    ):
        with pytest.raises(
            ValueError,
            match=rf"action must be finite integers in 0 \.\.\. 1 .*"
            rf"got {re.escape(shown)}",
        ):
            env.step(np.array(bad))
    with pytest.raises(ValueError, match=r"action must have shape \(4,\), got \(5,\)"):
        env.step(np.zeros(5))
    with pytest.raises(ValueError, match=r"must hold real numbers .* got dtype bool"):
        env.step(np.ones(4, dtype=bool))
    step_zeros(env)  # the refusals left the block waiting


def test_bad_arguments_name_themselves():
    for kwargs, message in (
        ({"memory": 0}, "memory must be a positive integer"),
        ({"fading": True}, r"fading must be None or one of \['block'\] .*, got True \(bool\)"),
        ({"snr_db": 61}, "snr_db must be a finite float >= -30"),
        ({"constellation": "qpsk"}, r"constellation must be one of \['bpsk', '4pam'\]"),
        ({"channel": "rayleigh"}, "channel must be one of"),
        ({"pilot_length": -1}, "pilot_length must be a non-negative integer"),
        ({"block_length": 0}, "block_length must be a positive integer"),
        ({"gamma": -0.1}, "gamma must be a finite float >= 0"),
    ):
        with pytest.raises(ValueError, match=message):
            gym.make(ID, **kwargs)


# --- the batched twin ----------------------------------------------------------------------


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_batched_env_equals_sync_vector_env_through_autoresets(config):
    kwargs = {**CONFIGS[config], "mismatch": 0.3, "max_episode_steps": 2}
    assert_batched_equals_sync(ID, kwargs, ISIChannelVectorEnv, KEYS)


def test_batched_env_has_the_single_envs_contract():
    batched = gym.make_vec(ID, 3, mismatch=0.2, fading="block").unwrapped
    single = gym.make(ID, mismatch=0.2, fading="block").unwrapped
    assert isinstance(batched, ISIChannelVectorEnv) and batched.max_episode_steps == 1
    assert batched.true_model == single.true_model
    assert batched.nominal_model == single.nominal_model
    assert batched.performance_bound() == single.performance_bound()
    assert batched.mismatch_report() == single.mismatch_report()
    assert (batched.task_metrics, batched.label_keys, batched.cost_display) == (
        single.task_metrics,
        single.label_keys,
        single.cost_display,
    )
    from_int, _ = batched.reset(seed=5)
    taps = batched.episode_taps
    from_list, _ = batched.reset(seed=[5, 6, 7])
    np.testing.assert_array_equal(from_int["samples"], from_list["samples"])
    single.reset(seed=6)
    np.testing.assert_array_equal(taps[1], single.episode_taps)
    _, _, _, _, info = batched.step(np.zeros((3, 1000), dtype=np.int64))
    assert batched.label_count(info) == 3000


def test_batched_env_refuses_bad_decisions_naming_the_envs():
    batched = gym.make_vec(ID, 3, block_length=4, max_episode_steps=1)
    with pytest.raises(RuntimeError, match="reset"):
        batched.step(np.zeros((3, 4)))
    batched.reset(seed=0)
    actions = np.zeros((3, 4))
    actions[1, 2] = 7
    with pytest.raises(
        ValueError, match=r"actions of envs \[1\] must be finite integers .* 7\.0 at index \[1, 2\]"
    ):
        batched.step(actions)
    with pytest.raises(ValueError, match=r"actions must have shape \(3, 4\)"):
        batched.step(np.zeros((3, 5)))
    batched.step(np.zeros((3, 4)))
    _, rewards, _, _, info = batched.step(actions)  # every env restarts: actions ignored
    assert info == {} and np.all(rewards == 0.0)


# --- Gymnasium's checker, rendering --------------------------------------------------------


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_check_env_passes(config):
    env = gym.make(ID, mismatch=0.1, render_mode="rgb_array", **CONFIGS[config])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    messages = [str(w.message) for w in caught]
    assert [m for m in messages if not any(e in m for e in EXPLAINED)] == []


def test_frames_chart_the_samples_and_the_decisions():
    env = gym.make(ID, render_mode="rgb_array")
    env.reset(seed=0)
    before = env.render()
    step_zeros(env)
    after = env.render()
    assert before.shape == after.shape == (*FRAME_SIZE, 3) and not np.array_equal(before, after)
    assert list(env.unwrapped._history) == ["received", "sent_and_detected"]
    text = gym.make(ID, render_mode="ansi")
    text.reset(seed=0)
    assert text.render() == "block of 1000 samples received"
    _, _, _, _, info = step_zeros(text)
    assert text.render().startswith(f"last block: {info['errors']} errors in 1000 symbols")


# --- the bound, against a genie and the oracle ---------------------------------------------


def test_matched_filter_bound_formulas():
    sigma = math.sqrt(10 ** (-1.0))
    energy = float(np.sum(taps_of(4) ** 2))
    assert gym.make(ID).unwrapped.performance_bound() == pytest.approx(
        q_function(math.sqrt(energy) / sigma), rel=1e-12
    )
    pam = gym.make(ID, constellation="4pam", memory=2, snr_db=5.0).unwrapped
    d, sigma = 2 / math.sqrt(5), math.sqrt(10 ** (-0.5))
    expected = 1.5 * q_function(d * math.sqrt(1 + math.exp(-0.4)) / (2 * sigma))
    assert pam.performance_bound() == pytest.approx(expected, rel=1e-12)
    sigma = math.sqrt(10 ** (-1.0))
    faded = gym.make(ID, fading="block").unwrapped.performance_bound()
    assert faded == pytest.approx(q_function(math.sqrt(1.1 * energy) / sigma), rel=1e-12)
    assert faded < gym.make(ID).unwrapped.performance_bound()


@pytest.mark.parametrize("constellation", ["bpsk", "4pam"])
def test_bound_is_the_ser_of_symbol_by_symbol_detection_without_memory(constellation):
    """With ``L = 1`` the nearest constellation point is the ML decision and the genie's:
    its SER is the matched-filter bound, within 3 Monte-Carlo standard errors."""
    N = 40000
    env = gym.make(ID, memory=1, snr_db=4.0, block_length=N, constellation=constellation)
    obs, _ = env.reset(seed=2)
    points = CONSTELLATIONS[constellation]
    decisions = np.argmin(np.abs(obs["samples"][:, None] - points[None, :]), axis=1)
    _, _, _, _, info = env.step(decisions)
    bound = env.unwrapped.performance_bound()
    assert abs(info["cost"] - bound) < 3 * math.sqrt(bound * (1 - bound) / N)


def test_oracle_ser_without_memory_is_q_of_one_over_sigma():
    """Needs the Viterbi agent (``mbdl_control.agents.model_based.viterbi``)."""
    env = gym.make(ID, memory=1, snr_db=4.0)
    result = evaluate(env.unwrapped.oracle(), env, n_episodes=20, compare_to_oracle=False)
    expected = q_function(1 / math.sqrt(10 ** (-0.4)))
    assert env.unwrapped.oracle().knowledge == "true"
    assert result.bound == pytest.approx(expected, rel=1e-12)
    assert abs(result.mean_cost - expected) < 3 * math.sqrt(expected * (1 - expected) / 20000)


@pytest.mark.parametrize("snr_db", [0.0, 3.0, 6.0])
def test_bound_lies_below_the_oracle_ser_with_memory(snr_db):
    """Needs the Viterbi agent."""
    env = gym.make(ID, snr_db=snr_db)
    result = evaluate(env.unwrapped.oracle(), env, n_episodes=20, compare_to_oracle=False)
    assert 0.0 < result.bound < result.mean_cost
    assert result.metrics["trials"] == 1000.0
