"""``mbdl/MIMODetection-v0``: the channel equation, the SNR and its range, the channel
estimate's error, the error counting, the batched twin, Gymnasium's checker, the genie bound
against Monte Carlo and a simulated genie, the oracle's twin at mismatch 0, and the runner."""

import math
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils import seeding
from gymnasium.utils.env_checker import check_env

from mbdl_control.core import Budget
from mbdl_control.envs.comms import MIMODetectionEnv, MIMODetectionVectorEnv
from mbdl_control.envs.comms.mimo_bounds import genie_user_errors
from mbdl_control.envs.comms.mimo_dynamics import MIMODynamics
from mbdl_control.envs.rendering import FRAME_SIZE
from mbdl_control.evaluation import evaluate
from mbdl_control.evaluation.budget import CountingEnv
from mbdl_control.evaluation.evaluate import oracle_env
from mbdl_control.evaluation.runner import _siblings, observes_mismatch
from mbdl_control.evaluation.study import study_from_dict
from mbdl_control.models import complex_channel, real_channel
from tests.batched_twins import assert_batched_equals_sync

ID = "mbdl/MIMODetection-v0"
KEYS = ("channel", "noise_var", "received")
#: the configurations every structural test runs: the default, and every option
CONFIGS = {
    "default": {},
    "qpsk-kronecker-range": {
        "users": 3,
        "antennas": 5,
        "constellation": "qpsk",
        "channel": "kronecker",
        "correlation": 0.7,
        "snr_db": [7.0, 14.0],
        "block_length": 4,
    },
    "16qam-toeplitz": {
        "users": 4,
        "antennas": 4,
        "constellation": "16qam",
        "channel": "toeplitz",
        "block_length": 3,
    },
}
#: check_env's warnings the env's docstring explains: unbounded sample spaces
EXPLAINED = ("infinity",)


def q_function(x):
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def step_zeros(env):
    return env.step(np.zeros(env.action_space.shape, dtype=np.int64))


def residual_noise(env, obs, channel, info):
    """``y − H x`` of a transmission, from its true channel and the sent levels."""
    levels = env.unwrapped.true_model.levels
    return obs["received"] - levels[info["symbols"]] @ channel.T


# --- the link, replayed from the documented draws ------------------------------------------


@pytest.mark.parametrize("constellation", ["bpsk", "qpsk"])
def test_received_samples_are_the_channel_equation_of_the_documented_draws(constellation):
    K, N, T, snr_db = 3, 4, 6, 8.0
    env = gym.make(
        ID, users=K, antennas=N, constellation=constellation, snr_db=snr_db, block_length=T
    )
    system = env.unwrapped.true_model
    n_t, n_r, levels = system.transmit_dim, system.receive_dim, system.levels
    rng = seeding.np_random(7)[0]
    obs, _ = env.reset(seed=7)
    for _ in range(3):  # the first transmission, then those the steps send
        if constellation == "bpsk":
            channel = rng.standard_normal((N, K))
            rng.standard_normal((N, K))  # the estimate's direction
        else:
            parts = rng.standard_normal((2, N, K)) / math.sqrt(2.0)
            channel = real_channel(parts[0] + 1j * parts[1])
            rng.standard_normal((2, N, K))
        symbols = rng.integers(0, system.level_count, (T, n_t))
        noise_var = system.symbol_energy * np.sum(channel**2) / (n_t * 10 ** (snr_db / 10))
        received = levels[symbols] @ channel.T + math.sqrt(noise_var) * rng.standard_normal(
            (T, n_r)
        )
        np.testing.assert_array_equal(env.unwrapped.episode_channel, channel)
        np.testing.assert_allclose(obs["received"], received, rtol=0, atol=1e-12)
        np.testing.assert_allclose(obs["noise_var"], [noise_var], rtol=1e-14)
        np.testing.assert_array_equal(obs["channel"], channel)  # mismatch 0: Ĥ = H
        obs, _, _, _, info = step_zeros(env)
        np.testing.assert_array_equal(info["symbols"], symbols)


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_the_noise_variance_is_the_snr_definition(config):
    kwargs = {**CONFIGS[config], "block_length": 4000}
    env = gym.make(ID, **kwargs)
    system = env.unwrapped.true_model
    low, high = (10 ** (value / 10) for value in env.unwrapped.snr_db)
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        channel = env.unwrapped.episode_channel
        _, _, _, _, info = step_zeros(env)
        snr = system.symbol_energy * np.sum(channel**2) / (system.transmit_dim * obs["noise_var"])
        assert low * (1 - 1e-12) <= snr[0] <= high * (1 + 1e-12)
        if low == high:
            assert snr[0] == pytest.approx(low, rel=1e-12)
        noise = residual_noise(env, obs, channel, info)
        count = noise.size
        assert abs(noise.mean()) < 4 * math.sqrt(obs["noise_var"][0] / count)
        assert np.var(noise) == pytest.approx(obs["noise_var"][0], rel=4 * math.sqrt(2 / count))


def test_an_snr_range_draws_the_linear_snr_uniformly_per_episode():
    episodes = 4000
    envs = gym.make_vec(ID, episodes, users=2, antennas=2, snr_db=[7.0, 14.0])
    obs, _ = envs.reset(seed=3)
    system = envs.unwrapped.true_model
    channels = envs.unwrapped.episode_channel
    energy = system.symbol_energy * np.sum(channels**2, axis=(1, 2))
    snrs = energy / (system.transmit_dim * obs["noise_var"][:, 0])
    low, high = 10**0.7, 10**1.4
    assert snrs.min() >= low * (1 - 1e-12) and snrs.max() <= high * (1 + 1e-12)
    uniform_se = (high - low) / math.sqrt(12 * episodes)
    assert abs(snrs.mean() - (low + high) / 2) < 3 * uniform_se
    below_middle = np.mean(snrs < (low + high) / 2)  # linear, not dB: half below the middle
    assert abs(below_middle - 0.5) < 3 * math.sqrt(0.25 / episodes)
    assert len(np.unique(snrs)) == episodes  # one draw per episode


def test_a_block_shares_one_channel_and_a_step_sends_a_new_one():
    env = gym.make(ID, users=2, antennas=3, block_length=5, max_episode_steps=2)
    obs, _ = env.reset(seed=0)
    first = env.unwrapped.episode_channel
    next_obs, _, _, truncated, info = step_zeros(env)
    assert not truncated and not np.array_equal(env.unwrapped.episode_channel, first)
    noise = residual_noise(env, obs, first, info)  # every use, through one channel
    assert np.all(np.abs(noise) < 6 * math.sqrt(obs["noise_var"][0]))
    assert not np.array_equal(next_obs["received"], obs["received"])


# --- the mismatch knob: the channel estimate --------------------------------------------


@pytest.mark.parametrize("constellation", ["bpsk", "16qam"])
@pytest.mark.parametrize("mismatch", [0.0, 0.05, 0.3, 2.0])
def test_the_estimate_has_relative_frobenius_error_mismatch_exactly(mismatch, constellation):
    env = gym.make(ID, mismatch=mismatch, users=3, antennas=4, constellation=constellation)
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        channel = env.unwrapped.episode_channel
        error = np.linalg.norm(obs["channel"] - channel) / np.linalg.norm(channel)
        assert error == pytest.approx(mismatch, abs=1e-12)
        if constellation == "16qam":  # Ĥ keeps the real representation's structure
            np.testing.assert_array_equal(
                real_channel(complex_channel(obs["channel"])), obs["channel"]
            )
    base = env.unwrapped
    assert base.mismatch_report() == {"rel_error_channel": mismatch}
    assert base.true_model == base.nominal_model == base.structure()
    assert base.mismatch_observed and type(base).mismatch_observed


def test_mismatch_changes_no_draw_but_the_estimates_length():
    runs = {}
    for mismatch in (0.0, 0.1, 0.4):
        env = gym.make(ID, mismatch=mismatch, users=3, antennas=5, constellation="qpsk")
        obs, _ = env.reset(seed=11)
        channel = env.unwrapped.episode_channel
        next_obs, _, _, _, info = step_zeros(env)
        runs[mismatch] = (obs, channel, info["symbols"], next_obs)
    exact = runs[0.0]
    for mismatch in (0.1, 0.4):
        obs, channel, symbols, next_obs = runs[mismatch]
        np.testing.assert_array_equal(channel, exact[1])
        np.testing.assert_array_equal(symbols, exact[2])
        for key in ("received", "noise_var"):
            np.testing.assert_array_equal(obs[key], exact[0][key])
            np.testing.assert_array_equal(next_obs[key], exact[3][key])
        direction = (obs["channel"] - channel) / mismatch  # one direction, scaled
        np.testing.assert_allclose(direction, (runs[0.4][0]["channel"] - channel) / 0.4, atol=1e-12)
    bounds = {gym.make(ID, mismatch=m).unwrapped.performance_bound() for m in (0.0, 0.5)}
    assert len(bounds) == 1


# --- scoring, labels, actions -------------------------------------------------------------


def test_errors_count_user_symbols_and_gray_bits():
    bpsk = gym.make(ID, users=4, antennas=4, block_length=2)
    bpsk.reset(seed=0)
    _, _, _, _, sent = step_zeros(bpsk)  # learn the symbols, then answer them again, wrongly
    bpsk.reset(seed=0)
    wrong = sent["symbols"].copy()
    wrong[0, 1] ^= 1
    wrong[1, [0, 3]] ^= 1
    _, reward, _, _, info = bpsk.step(wrong)
    assert (info["errors"], info["trials"], info["bit_errors"], info["bits"]) == (3, 8, 3, 8)
    assert info["cost"] == 3 / 8 == -reward

    qam = gym.make(ID, users=3, antennas=3, constellation="16qam")  # n_t = 6, Gray 00 01 11 10
    qam.reset(seed=1)
    _, _, _, _, sent = step_zeros(qam)
    qam.reset(seed=1)
    wrong = sent["symbols"].copy()
    wrong[0, 0] = (wrong[0, 0] + 2) % 4  # two levels away: both bits; user 0
    wrong[0, 3] ^= 1  # user 0's imaginary part, a neighbour: one bit, still one user symbol
    wrong[0, 4] = 3 - wrong[0, 4]  # user 1's imaginary part mirrored: 00↔10 or 01↔11
    _, _, _, _, info = qam.step(wrong)
    assert (info["errors"], info["trials"], info["bit_errors"], info["bits"]) == (2, 3, 4, 12)
    qam.reset(seed=1)
    _, _, _, _, right = qam.step(sent["symbols"].astype(np.float64))  # integral floats do
    assert right["errors"] == right["bit_errors"] == 0 and right["cost"] == 0.0


def test_labels_come_after_the_action_and_count_channel_uses():
    env = CountingEnv(
        gym.make(ID, users=2, antennas=2, block_length=10), Budget(steps=3, samples=25)
    )
    assert env.labels == ("symbols",)
    used = []
    for episode in range(3):
        obs, info = env.reset(seed=episode)
        assert sorted(obs) == list(KEYS) and info == {}
        _, _, _, truncated, info = step_zeros(env)
        assert truncated and info["trials"] == 20
        used.append((env.samples_used, "symbols" in info))
    assert used == [(10, True), (20, True), (20, False)]  # a third block would pass 25
    base = env.unwrapped
    assert base.label_count({"symbols": np.zeros((7, 4))}) == 7
    assert base.task_metrics == ("errors", "trials", "bit_errors", "bits")
    assert (base.label_keys, base.cost_display, base.horizon) == (("symbols",), "log", 1)


def test_bad_decisions_are_refused_naming_the_first_bad_entry():
    with pytest.raises(RuntimeError, match="reset"):
        MIMODetectionEnv(users=2, antennas=2).step(np.zeros((1, 2)))
    env = gym.make(ID, users=2, antennas=3, constellation="qpsk", block_length=2)
    env.reset(seed=0)
    for bad, shown in (
        ([[0, 1, 2, 0], [0, 0, 0, 0]], "2 at index [0, 2]"),
        ([[0, 0, 0, 0], [0, 0.5, 1, 1]], "0.5 at index [1, 1]"),
        ([[-1, 0, 0, 0], [0, 0, 0, 0]], "-1 at index [0, 0]"),
        ([[0, 0, 0, 0], [0, 0, 0, np.nan]], "nan at index [1, 3]"),
    ):
        with pytest.raises(
            ValueError,
            match=rf"action must be finite integers in 0 \.\.\. 1 .*got {re.escape(shown)}",
        ):
            env.step(np.array(bad))
    with pytest.raises(ValueError, match=r"action must have shape \(2, 4\), got \(4,\)"):
        env.step(np.zeros(4))
    with pytest.raises(ValueError, match=r"must hold real numbers .* got dtype bool"):
        env.step(np.ones((2, 4), dtype=bool))
    step_zeros(env)  # the refusals left the transmission waiting


def test_bad_arguments_name_themselves():
    for kwargs, message in (
        (
            {"users": 5, "antennas": 4},
            r"antennas must be at least users .*, got antennas=4 < users=5",
        ),
        ({"constellation": "8psk"}, r"constellation must be one of \['bpsk', 'qpsk', '16qam'\]"),
        ({"channel": "rayleigh"}, r"channel must be one of \['iid', 'kronecker', 'toeplitz'\]"),
        ({"snr_db": [14.0, 7.0]}, r"snr_db must be .* low <= high.*, got \[14.0, 7.0\]"),
        ({"snr_db": True}, r"snr_db must be a finite float .*, got True \(bool\)"),
        ({"snr_db": [7.0, True]}, r"snr_db must be .*, got \[7.0, True\]"),
        ({"snr_db": [7.0, 61.0]}, r"snr_db must be a finite float >= -30 and <= 60"),
        ({"snr_db": [1.0, 2.0, 3.0]}, r"snr_db must be .*, got \[1.0, 2.0, 3.0\]"),
        ({"correlation": 1.0}, r"correlation must be a finite float >= 0 and < 1"),
        ({"block_length": 0}, "block_length must be a positive integer <= 10000"),
        ({"users": 0}, "users must be a positive integer"),
    ):
        with pytest.raises(ValueError, match=message):
            gym.make(ID, **kwargs)
    assert gym.make(ID, snr_db=(7, 14)).unwrapped.snr_db == (7.0, 14.0)
    assert gym.make(ID, snr_db=12).unwrapped.snr_db == (12.0, 12.0)


# --- the batched twin ----------------------------------------------------------------------


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_batched_env_equals_sync_vector_env_through_autoresets(config):
    kwargs = {**CONFIGS[config], "mismatch": 0.3, "max_episode_steps": 2}
    assert_batched_equals_sync(ID, kwargs, MIMODetectionVectorEnv, KEYS)


def test_batched_env_has_the_single_envs_contract():
    kwargs = {"mismatch": 0.2, "users": 3, "antennas": 4, "block_length": 5}
    batched = gym.make_vec(ID, 3, **kwargs).unwrapped
    single = gym.make(ID, **kwargs).unwrapped
    assert isinstance(batched, MIMODetectionVectorEnv) and batched.max_episode_steps == 1
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
    channels = batched.episode_channel
    from_list, _ = batched.reset(seed=[5, 6, 7])
    np.testing.assert_array_equal(from_int["received"], from_list["received"])
    single.reset(seed=6)
    np.testing.assert_array_equal(channels[1], single.episode_channel)
    _, _, _, _, info = batched.step(np.zeros((3, 5, 3), dtype=np.int64))
    assert batched.label_count(info) == 15


def test_batched_env_refuses_bad_decisions_naming_the_envs():
    batched = gym.make_vec(ID, 3, users=2, antennas=2, block_length=2)
    with pytest.raises(RuntimeError, match="reset"):
        batched.step(np.zeros((3, 2, 2)))
    batched.reset(seed=0)
    actions = np.zeros((3, 2, 2))
    actions[1, 1, 0] = 7
    with pytest.raises(
        ValueError,
        match=r"actions of envs \[1\] must be finite integers .* 7\.0 at index \[1, 1, 0\]",
    ):
        batched.step(actions)
    with pytest.raises(ValueError, match=r"actions must have shape \(3, 2, 2\)"):
        batched.step(np.zeros((3, 2, 3)))
    batched.step(np.zeros((3, 2, 2)))
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


def test_seeded_episodes_repeat():
    def episode(seed):
        env = gym.make(ID, mismatch=0.2, **CONFIGS["qpsk-kronecker-range"])
        obs, _ = env.reset(seed=seed)
        _, _, _, _, info = step_zeros(env)
        return [obs[key] for key in KEYS] + [info["symbols"]]

    first, again, other = episode(4), episode(4), episode(5)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_frames_chart_the_samples_and_the_errors():
    env = gym.make(ID, render_mode="rgb_array", block_length=3)
    env.reset(seed=0)
    before = env.render()
    step_zeros(env)
    after = env.render()
    assert before.shape == after.shape == (*FRAME_SIZE, 3) and not np.array_equal(before, after)
    assert list(env.unwrapped._history) == ["received", "symbol_errors"]
    text = gym.make(ID, render_mode="ansi", block_length=3)
    text.reset(seed=0)
    assert text.render() == "3 channel uses received"
    _, _, _, _, info = step_zeros(text)
    assert text.render().startswith(f"last transmission: {info['errors']} errors in 60 user")


# --- the genie bound ---------------------------------------------------------------------


def test_bound_on_the_fixed_toeplitz_channel_is_q_of_root_snr():
    """Every column of DetNet's Toeplitz channel has ``‖h_k‖² = N``, ``‖H‖_F² = NK``: the
    genie's statistic has SNR exactly ``SNR``."""
    snr = 10**0.8
    bpsk = gym.make(ID, channel="toeplitz", snr_db=8.0).unwrapped.performance_bound()
    assert bpsk == pytest.approx(q_function(math.sqrt(snr)), rel=1e-12)
    p = 1.5 * q_function(math.sqrt(snr / 5))  # ‖h_j‖²/σ² = 2 SNR, level spacing 2/√10
    qam = gym.make(ID, channel="toeplitz", constellation="16qam", snr_db=8.0)
    assert qam.unwrapped.performance_bound() == pytest.approx(1 - (1 - p) ** 2, rel=1e-12)
    ranged = gym.make(ID, channel="toeplitz", snr_db=[7.0, 14.0]).unwrapped.performance_bound()
    low, high = 10**0.7, 10**1.4  # ∫ Q(√s) ds = s Q(√s) + Φ(√s) − √s φ(√s)

    def primitive(s):
        root = math.sqrt(s)
        return (
            s * q_function(root)
            + 1
            - q_function(root)
            - root * math.exp(-s / 2) / math.sqrt(2 * math.pi)
        )

    assert ranged == pytest.approx((primitive(high) - primitive(low)) / (high - low), rel=1e-9)


def test_bound_of_the_kronecker_channel_is_none():
    env = gym.make(ID, channel="kronecker").unwrapped
    assert env.performance_bound() is None and env.bound_failure == ""


@pytest.mark.parametrize(
    ("constellation", "snr_db"),
    [("bpsk", 10.0), ("qpsk", [7.0, 14.0]), ("16qam", 14.0)],
)
def test_iid_bound_is_the_mean_genie_error_over_drawn_channels(constellation, snr_db):
    """The closed form against the genie's exact error on each of 20000 drawn channels: equal
    within 3 Monte-Carlo standard errors (at SNRs where the mean is not a rare-event tail)."""
    env = gym.make(ID, users=4, antennas=6, constellation=constellation, snr_db=snr_db)
    base = env.unwrapped
    dynamics = MIMODynamics(base.true_model, base.snr_db, 1, 0.5, 0.0)
    drawn = dynamics.transmit([np.random.default_rng([9, row]) for row in range(20000)])
    errors = genie_user_errors(base.true_model, drawn.channel, drawn.noise_var).mean(axis=1)
    standard_error = errors.std(ddof=1) / math.sqrt(len(errors))
    assert abs(errors.mean() - base.performance_bound()) < 3 * standard_error


def genie_decisions(system, received, channel, symbols):
    """The genie: subtract every other user's true contribution, then detect each real part of
    the user by the matched filter of its true column, to the nearest level."""
    levels, users = system.levels, system.users
    sent = levels[symbols]  # (T, n_t)
    decisions = np.zeros_like(symbols)
    for user in range(users):
        own = [user, users + user] if system.is_complex else [user]
        others = np.setdiff1d(np.arange(system.transmit_dim), own)
        left = received - sent[:, others] @ channel[:, others].T
        for dim in own:
            column = channel[:, dim]
            statistic = left @ column / (column @ column)
            decisions[:, dim] = np.abs(statistic[:, None] - levels).argmin(axis=1)
    return decisions


@pytest.mark.parametrize(("constellation", "snr_db"), [("bpsk", 8.0), ("16qam", [12.0, 16.0])])
def test_a_simulated_genie_scores_the_bound(constellation, snr_db):
    """A genie detector stepping the env (its true channel and symbols read off the env)
    scores the bound within 3 standard errors of its mean SER over episodes."""
    episodes, length = 3000, 4
    envs = gym.make_vec(
        ID,
        episodes,
        users=3,
        antennas=4,
        constellation=constellation,
        snr_db=snr_db,
        block_length=length,
    )
    base = envs.unwrapped
    envs.reset(seed=2)
    symbols = envs.step(np.zeros(envs.action_space.shape, dtype=np.int64))[4]["symbols"]
    observations, _ = envs.reset(seed=2)  # the same transmissions again, now for the genie
    channels = base.episode_channel
    actions = np.stack(
        [
            genie_decisions(base.true_model, observations["received"][row], channels[row], sent)
            for row, sent in enumerate(symbols)
        ]
    )
    _, _, _, _, info = envs.step(actions)
    bound = base.performance_bound()
    assert abs(info["cost"].mean() - bound) < 3 * info["cost"].std(ddof=1) / math.sqrt(episodes)


# --- the oracle, evaluated at mismatch 0 ----------------------------------------------------


class ZeroForcing:
    """``Ĥ⁺ y`` to the nearest level, on the observation's channel: an agent whose cost
    depends on the channel estimate's error."""

    def __init__(self, system):
        self.levels = system.levels

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        estimates = np.linalg.pinv(observation["channel"]) @ observation["received"].T
        return np.abs(estimates.T[..., None] - self.levels).argmin(axis=-1), None


def test_the_oracle_is_evaluated_on_the_env_at_mismatch_zero(monkeypatch):
    kwargs = {"users": 4, "antennas": 5, "snr_db": 12.0}
    system = gym.make(ID, **kwargs).unwrapped.true_model
    monkeypatch.setattr(MIMODetectionEnv, "oracle", lambda self, horizon=None: ZeroForcing(system))
    agent = ZeroForcing(system)
    mismatched = evaluate(agent, gym.make(ID, mismatch=0.5, **kwargs), n_episodes=60)
    exact = evaluate(agent, gym.make(ID, **kwargs), n_episodes=60, compare_to_oracle=False)
    assert mismatched.oracle_cost == exact.mean_cost < mismatched.mean_cost
    assert mismatched.gap_to_oracle == pytest.approx(mismatched.mean_cost - exact.mean_cost)

    twin = oracle_env(gym.make(ID, mismatch=0.5, render_mode="ansi", max_episode_steps=3, **kwargs))
    assert twin.unwrapped.mismatch == 0.0 and twin.spec.max_episode_steps == 3
    assert twin.unwrapped.render_mode is None and twin.unwrapped.true_model == system
    same = gym.make(ID, **kwargs)
    assert oracle_env(same) is same
    isi = gym.make("mbdl/ISIChannel-v0", mismatch=0.5)
    assert oracle_env(isi) is isi  # its mismatch is in the nominal model only
    with pytest.raises(ValueError, match=r"made with mismatch 0; make the env with gym\.make"):
        oracle_env(MIMODetectionEnv(mismatch=0.5, **kwargs))


def test_the_oracle_is_the_sphere_decoder_and_no_better_than_the_bound():
    """Needs the sphere decoder (``mbdl_control.agents.model_based.sphere_decoder``)."""
    pytest.importorskip("mbdl_control.agents.model_based.sphere_decoder")
    env = gym.make(ID, mismatch=0.3, users=4, antennas=4, snr_db=6.0, block_length=50)
    oracle = env.unwrapped.oracle()
    assert type(oracle).__name__ == "SphereDecoder" and oracle.knowledge == "true"
    result = evaluate(oracle, env, n_episodes=40)
    assert result.gap_to_oracle > 0.0  # on Ĥ it detects worse than on H
    episodes = evaluate(oracle, oracle_env(env), n_episodes=40, compare_to_oracle=False)
    assert result.oracle_cost == episodes.mean_cost
    errors = episodes.episode_costs
    assert result.bound < errors.mean() + 3 * errors.std(ddof=1) / math.sqrt(len(errors))


# --- the runner: no shared rows across mismatch ----------------------------------------------


def test_no_agent_shares_a_row_across_mismatch_on_an_env_that_shows_it():
    assert observes_mismatch(ID) and not observes_mismatch("mbdl/ISIChannel-v0")
    study = study_from_dict(
        {
            "name": "shares",
            "seeds": [0],
            "mismatch": [0.0, 0.2],
            "envs": [{"id": ID, "label": "mimo"}, {"id": "mbdl/ISIChannel-v0", "label": "isi"}],
            "agents": [{"class": "tests.test_mimo_detection:ZeroForcing", "knowledge": "none"}],
        }
    )
    by_env = {}
    for key in study.trials():
        by_env.setdefault(key.env, []).append(len(_siblings(study, key)))
    assert by_env == {"mimo": [1, 1], "isi": [2, 2]}
