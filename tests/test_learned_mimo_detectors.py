"""DetNet (deep unfolding), DeepSIC (DNN-aided) and the MLP detector (deep learning) on
``mbdl/MIMODetection-v0``: the budget, seeding, checkpoints, divergence, the math of their
pieces, and that each learns (against zero-forcing and chance) on small systems."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from mbdl_control.agents import AGENTS, BaseAgent, Budget
from mbdl_control.agents.deep_learning.mlp_detector import MLPDetector
from mbdl_control.agents.deep_unfolding.detnet import DetNet, SoftStaircase
from mbdl_control.agents.dnn_aided.deepsic import DeepSIC, soft_ic_features
from mbdl_control.blocks.labelled_channel_uses import collect_labelled_channel_uses
from mbdl_control.blocks.mimo_observations import channel_uses
from mbdl_control.blocks.mimo_training import use_statistics
from mbdl_control.evaluation.budget import CountingEnv
from mbdl_control.models import ISIChannelModel, MIMOSystem

ID = "mbdl/MIMODetection-v0"
#: training settings small enough for the structural tests
QUICK = {
    DetNet: {"layers": 4, "iterations": 20},
    DeepSIC: {"sic_iterations": 2, "iterations": 20},
    MLPDetector: {"iterations": 20},
}
CLASSES = list(QUICK)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fitted(cls, env_kwargs, budget, seed=0, **kwargs):
    env = CountingEnv(gym.make(ID, **env_kwargs), budget)
    agent = cls(env.unwrapped.structure(), **{**QUICK[cls], **kwargs})
    report = agent.fit(env, budget, seed)
    return agent, report, env


def bit_error_rate(agent, env_kwargs, vectors, seed):
    """The BER of ``agent`` on ``vectors`` fresh episodes (a batched env, seeded apart from
    every fit), by the env's own scoring."""
    env = gym.make_vec(ID, vectors, **env_kwargs)
    observations, _ = env.reset(seed=seed)
    _, _, _, _, info = env.step(agent.predict(observations)[0])
    return info["bit_errors"].sum() / info["bits"].sum()


class ZeroForcingBaseline:
    """``(ĤᵀĤ)⁻¹Ĥᵀy`` sliced to the nearest BPSK level, in numpy (the test's own reference)."""

    def predict(self, observations):
        channel, received = observations["channel"], observations["received"]
        estimates = np.linalg.solve(
            np.swapaxes(channel, 1, 2) @ channel, np.swapaxes(received @ channel, 1, 2)
        )
        return (np.swapaxes(estimates, 1, 2) > 0).astype(np.int64), None


# --- the pieces ---------------------------------------------------------------------------


def test_use_statistics_follow_the_order_of_channel_uses():
    env = gym.make_vec(ID, 3, users=3, antennas=5, block_length=4)
    observations, _ = env.reset(seed=0)
    uses = channel_uses(observations)
    statistics = use_statistics(
        observations["received"], observations["channel"], observations["noise_var"]
    )
    np.testing.assert_allclose(
        statistics.matched.numpy(), np.einsum("urt,ur->ut", uses.channel, uses.received)
    )
    np.testing.assert_allclose(
        statistics.gram.numpy(), np.swapaxes(uses.channel, 1, 2) @ uses.channel
    )
    np.testing.assert_array_equal(statistics.noise_var.numpy(), uses.noise_var)
    np.testing.assert_allclose(
        (statistics.scale[:, None, None] * statistics.gram).diagonal(0, 1, 2).mean(-1), 1.0
    )


def test_the_soft_staircase_is_the_published_soft_sign_and_keeps_the_levels():
    x = torch.linspace(-3.0, 3.0, 601)
    for t in (0.5, 0.2, 1.3):
        softness = torch.tensor(t)
        published = -1 + torch.relu(x + t) / t - torch.relu(x - t) / t
        bpsk = SoftStaircase(np.array([-1.0, 1.0]))(x, softness)
        torch.testing.assert_close(bpsk, published, atol=1e-5, rtol=0)
    levels = MIMOSystem(2, 2, "16qam").levels
    staircase = SoftStaircase(levels)
    sharp = staircase(torch.as_tensor(levels, dtype=torch.float32), torch.tensor(0.3))
    np.testing.assert_allclose(sharp.numpy(), levels, atol=1e-6)
    between = staircase(torch.tensor([-2.0, 2.0]) / np.sqrt(10), torch.tensor(0.5))
    np.testing.assert_allclose(between.numpy(), [-2 / np.sqrt(10), 2 / np.sqrt(10)], atol=1e-6)


def test_soft_ic_features_are_the_lmmse_pic_estimates_of_the_receive_filter():
    # the K-dimensional solve of DeepSIC against the N-dimensional filter C⁻¹ĥ_k of its
    # docstring, computed directly: μ_k = ĥ_kᵀC⁻¹(y − Ĥx̄ + ĥ_k x̄_k)/q_k, γ_k = 1/q_k − v_k
    rng = np.random.default_rng(0)
    users, antennas = 4, 6
    channel = rng.standard_normal((antennas, users))
    received = rng.standard_normal(antennas)
    mean, var, noise_var = rng.uniform(-1, 1, users), rng.uniform(0.05, 1, users), 0.3
    statistics = use_statistics(received[None, None], channel[None], np.array([[noise_var]]))
    found = soft_ic_features(statistics, torch.tensor(mean[None]), torch.tensor(var[None]))
    found = found[0].numpy()
    covariance = channel @ np.diag(var) @ channel.T + noise_var * np.eye(antennas)
    for k in range(users):
        filtered = np.linalg.solve(covariance, channel[:, k])
        gain = filtered @ channel[:, k]
        cancelled = received - channel @ mean + channel[:, k] * mean[k]
        np.testing.assert_allclose(found[k, 0], filtered @ cancelled / gain, rtol=1e-5)
        np.testing.assert_allclose(np.exp(found[k, 1]), 1 / gain - var[k], rtol=1e-5)


# --- the budget, seeding and checkpoints ----------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES)
def test_the_budget_is_respected_and_reported(cls):
    small = {"users": 2, "antennas": 4, "block_length": 5}
    _, report, counted = fitted(cls, small, Budget(steps=100, samples=23))
    assert (report.steps, report.samples) == (4, 20) == (counted.steps_used, counted.samples_used)
    _, report, counted = fitted(cls, small, Budget(steps=2, samples=10**6))
    assert (report.steps, report.samples, counted.steps_used) == (2, 10, 2)
    # the harness withholds labels past its budget: the agent stops at the first such episode
    env = CountingEnv(gym.make(ID, **small), Budget(steps=100, samples=12))
    report = cls(env.unwrapped.structure(), **QUICK[cls]).fit(env, Budget(100, 10**6), seed=0)
    assert (report.samples, env.samples_used, env.steps_used) == (10, 10, 3)
    with pytest.raises(ValueError, match="at least one labelled episode"):
        fitted(cls, small, Budget(steps=100, samples=4))


def test_collected_uses_are_the_episodes_of_the_seeded_env():
    env = gym.make(ID, users=2, antennas=3, block_length=2)
    data = collect_labelled_channel_uses(env, Budget(steps=3, samples=100), seed=4)
    observation, _ = env.reset(seed=4)
    np.testing.assert_array_equal(data.received[0], observation["received"])
    np.testing.assert_array_equal(data.channel[0], observation["channel"])
    _, _, _, _, info = env.step(np.zeros((2, 2), dtype=np.int64))
    np.testing.assert_array_equal(data.symbols[0], info["symbols"])
    assert data.use_symbols().shape == (6, 2) and data.noise_var.shape == (3, 1)


@pytest.mark.parametrize("cls", CLASSES)
def test_seeded_training_is_reproducible(cls):
    small = {"users": 3, "antennas": 5, "snr_db": 5.0}
    budget = Budget(steps=300, samples=300)
    first, report, _ = fitted(cls, small, budget, seed=7)
    torch.manual_seed(12345)  # the global RNG plays no part
    second, again, _ = fitted(cls, small, budget, seed=7)
    _, different, _ = fitted(cls, small, budget, seed=8)
    assert report.curve == again.curve != different.curve
    for name, value in first.learned_parameters().items():
        np.testing.assert_array_equal(value, second.learned_parameters()[name])


@pytest.mark.parametrize("cls", CLASSES)
def test_a_saved_detector_acts_identically_on_one_episode_and_a_batch(cls, tmp_path):
    small = {"users": 3, "antennas": 4, "constellation": "16qam", "block_length": 3}
    agent, _, _ = fitted(cls, small, Budget(steps=100, samples=300))
    assert AGENTS[cls.__name__].endswith(cls.__module__.rpartition("agents")[2])
    path = tmp_path / "detector.safetensors"
    agent.save(path)
    loaded = BaseAgent.load(path)
    assert type(loaded) is cls and loaded.config == agent.config
    assert loaded.spectrum == agent.spectrum
    observations, _ = gym.make_vec(ID, 5, **small).reset(seed=5)
    actions, _ = agent.predict(observations)
    np.testing.assert_array_equal(loaded.predict(observations)[0], actions)
    one = {key: value[0] for key, value in observations.items()}
    np.testing.assert_array_equal(loaded.predict(one)[0], actions[0])
    assert actions.dtype == np.int64 and actions.shape == (5, 3, 6)
    assert actions.min() >= 0 and actions.max() <= 3


@pytest.mark.parametrize("cls", CLASSES)
def test_the_detectors_are_built_from_the_mimo_system_alone(cls):
    agent = cls(MIMOSystem(4, 8), **QUICK[cls])
    family = {DetNet: "deep-unfolding", DeepSIC: "dnn-aided", MLPDetector: "deep-learning"}
    assert cls.knowledge_options == ("structure",)
    assert (agent.spectrum.family, agent.spectrum.knowledge) == (family[cls], "structure")
    assert agent.spectrum.n_parameters > 100
    with pytest.raises(TypeError, match="is built on a MIMOSystem"):
        cls(ISIChannelModel(np.ones(2), 0.1, np.array([-1.0, 1.0])))


def test_bad_arguments_and_observations_are_refused():
    system = MIMOSystem(2, 4)
    for cls, arguments, message in [
        (DetNet, {"layers": 1}, "layers must be at least 2"),
        (DetNet, {"residual": 1.0}, r"residual must be in \[0, 1\)"),
        (DetNet, {"initial_step": -1.0}, "initial_step must be a finite number"),
        (DetNet, {"hidden_per_unknown": 0}, "hidden_per_unknown must be a positive integer"),
        (DeepSIC, {"sic_iterations": 0}, "sic_iterations must be a positive integer"),
        (
            DeepSIC,
            {"learning_rate": float("nan")},
            "learning_rate must be a positive finite number",
        ),
        (MLPDetector, {"validation_fraction": 1.0}, r"validation_fraction must be in \[0, 1\)"),
        (MLPDetector, {"iterations": 0}, "iterations must be a positive integer"),
        (MLPDetector, {"knowledge": "magic"}, "knowledge must be one of"),
    ]:
        with pytest.raises(ValueError, match=message):
            cls(system, **arguments)
    agent = DetNet(system, layers=2)
    observation, _ = gym.make(ID, users=2, antennas=4).reset(seed=0)
    with pytest.raises(ValueError, match="a MIMO observation is a dict with keys"):
        agent.predict(observation["received"])
    with pytest.raises(ValueError, match=r"observation\['channel'\] \(…, 4, 2\)"):
        agent.predict({**observation, "channel": np.zeros((4, 3))})
    with pytest.raises(ValueError, match="must be finite"):
        agent.predict({**observation, "received": np.full((1, 4), np.nan)})


@pytest.mark.parametrize("cls", CLASSES)
def test_a_diverging_training_keeps_sound_weights_and_says_so(cls):
    small = {"users": 3, "antennas": 5, "snr_db": 10.0}
    agent, report, _ = fitted(cls, small, Budget(steps=200, samples=200), learning_rate=1e30)
    assert report.diverged and agent.diagnostics() == {"training_diverged": 1.0}
    assert len(report.curve) < QUICK[cls].get("iterations", 20) * agent.config.get(
        "sic_iterations", 1
    )
    assert all(np.isfinite(value).all() for value in agent.learned_parameters().values())
    observations, _ = gym.make_vec(ID, 50, **small).reset(seed=1)
    actions, _ = agent.predict(observations)
    assert actions.min() >= 0 and actions.max() <= 1


# --- what they learn ----------------------------------------------------------------------

#: a loaded small system, where zero-forcing's noise enhancement is large: 6 users, 8 antennas
LOADED = {"users": 6, "antennas": 8, "snr_db": 10.0}
#: the test vectors below, 10 000 of 6 bits: ZF's BER there is 0.073 (≈ 4400 bit errors), so
#: each BER compared is known to about 2–3 % (one standard deviation, the bits of a vector
#: counted as correlated), and every margin asserted is 5 or more of those


def test_a_trained_detnet_beats_the_untrained_one_and_zero_forcing():
    # from the published random start (initial_step=0, residual 0.9) — measured: untrained
    # 0.50, trained (10 layers, 500 steps, 3000 labelled uses) 0.050, ZF 0.073
    env = CountingEnv(gym.make(ID, **LOADED), Budget(steps=3000, samples=3000))
    agent = DetNet(
        env.unwrapped.structure(),
        layers=10,
        iterations=500,
        learning_rate=5e-3,
        residual=0.9,
        initial_step=0.0,
    )
    untrained = bit_error_rate(agent, LOADED, 10_000, seed=99)
    agent.fit(env, Budget(steps=3000, samples=3000), seed=0)
    trained = bit_error_rate(agent, LOADED, 10_000, seed=99)
    zero_forcing = bit_error_rate(ZeroForcingBaseline(), LOADED, 10_000, seed=99)
    assert untrained > 0.4 and trained < 0.8 * zero_forcing


def test_the_default_detnet_starts_as_projected_gradient_descent():
    # the untrained default is 20 damped projected-gradient steps: it beats ZF from the start
    agent = DetNet(MIMOSystem(6, 8))
    untrained = bit_error_rate(agent, LOADED, 10_000, seed=99)
    zero_forcing = bit_error_rate(ZeroForcingBaseline(), LOADED, 10_000, seed=99)
    assert untrained < 0.8 * zero_forcing


def test_deepsic_iterations_improve_on_the_first_and_beat_zero_forcing():
    # measured: after the first SIC iteration (LMMSE-like) 0.038, after three 0.016, ZF 0.073
    agent, _, _ = fitted(
        DeepSIC, LOADED, Budget(steps=3000, samples=3000), sic_iterations=3, iterations=200
    )
    first = DeepSIC(agent.system, sic_iterations=1)
    first.set_learned_parameters(
        {
            name: value
            for name, value in agent.learned_parameters().items()
            if not name.startswith(("network.1.", "network.2."))
        }
    )
    after_one = bit_error_rate(first, LOADED, 10_000, seed=99)
    after_three = bit_error_rate(agent, LOADED, 10_000, seed=99)
    zero_forcing = bit_error_rate(ZeroForcingBaseline(), LOADED, 10_000, seed=99)
    assert after_three < 0.6 * after_one and after_one < 0.7 * zero_forcing


def test_the_mlp_detector_beats_chance_by_far():
    # measured on 2 users, 4 antennas at 10 dB: 0.083 after 300 steps (ZF 0.026, chance 0.5);
    # the cross entropy from 0.70 to 0.22
    tiny = {"users": 2, "antennas": 4, "snr_db": 10.0}
    agent, report, _ = fitted(MLPDetector, tiny, Budget(steps=3000, samples=3000), iterations=300)
    assert report.curve[-1] < 0.5 * report.curve[0]
    assert bit_error_rate(agent, tiny, 10_000, seed=99) < 0.15
