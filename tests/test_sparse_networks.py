"""Plug-and-play ADMM (DNN-aided) and the end-to-end recovery networks (deep learning) on the
sparse inverse envs: the untrained PnP is ADMM, its iteration is PnP-ADMM with its denoiser,
each learns (against its start, and against the best linear estimator), and the budget,
seeding, checkpoints (the input scale included), shapes and arguments."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from mbdl_control.agents import AGENTS, BaseAgent, Budget
from mbdl_control.agents.deep_learning.sparse_networks import ConvolutionalRecovery, MLPRecovery
from mbdl_control.agents.dnn_aided.pnp_admm import PlugAndPlayADMM
from mbdl_control.blocks.sparse_iterations import admm, admm_matrices, lasso_lambda, soft_threshold
from mbdl_control.blocks.sparse_training import collect_labelled_signals
from mbdl_control.evaluation.budget import CountingEnv
from mbdl_control.models import SparseLinearModel, SparseStructure

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RECOVERY = "mbdl/SparseRecovery-v0"
RESOLUTION = "mbdl/SuperResolution-v0"
#: small instances of both envs: a 20 × 40 Gaussian H, and a 32-point grid sampled every 2nd
SMALL = {
    RECOVERY: {"measurements": 20, "unknowns": 40},
    RESOLUTION: {"unknowns": 32, "decimation": 2},
}
#: training settings small enough for the structural tests
QUICK = {
    PlugAndPlayADMM: {"admm_iterations": 5, "channels": 4, "iterations": 20},
    ConvolutionalRecovery: {"channels": 4, "hidden_layers": 2, "iterations": 20},
    MLPRecovery: {"width": 32, "iterations": 20},
}
CLASSES = list(QUICK)


def built(cls, env, **kwargs):
    """``cls`` from the knowledge it declares: the nominal model, or the structure."""
    base = env.unwrapped
    knowledge = base.nominal_model if cls is PlugAndPlayADMM else base.structure()
    return cls(knowledge, **{**QUICK[cls], **kwargs})


def fitted(cls, env_id, budget, seed=0, env_kwargs=None, **kwargs):
    env = CountingEnv(gym.make(env_id, **(env_kwargs or SMALL[env_id])), budget)
    agent = built(cls, env, **kwargs)
    return agent, agent.fit(env, budget, seed), env


def fresh_signals(env_id, count=2000, seed=99, **env_kwargs):
    """A batched env and its first measurements, seeded apart from every fit."""
    env = gym.make_vec(env_id, count, **(env_kwargs or SMALL[env_id]))
    observations, _ = env.reset(seed=seed)
    return env, observations


def nmse_db(agent, env_id, count=2000, seed=99, **env_kwargs):
    """``10 log10(Σ‖ŝ − s‖²/Σ‖s‖²)`` of ``agent`` on fresh signals, by the env's own scoring."""
    env, observations = fresh_signals(env_id, count, seed, **env_kwargs)
    _, _, _, _, info = env.step(agent.predict(observations)[0])
    return 10 * np.log10(info["error_energy"].sum() / info["signal_energy"].sum())


class LinearMMSE:
    """``ŝ = pHᵀ(pHHᵀ + σ²I)⁻¹x``: the best linear estimator under the signal's law
    (``E ssᵀ = pI``), in closed form on the true model (the test's reference)."""

    def __init__(self, model):
        sensing, sparsity = model.sensing, model.sparsity
        covariance = sparsity * sensing @ sensing.T + model.noise_std**2 * np.eye(len(sensing))
        self.gain = sparsity * sensing.T @ np.linalg.inv(covariance)

    def predict(self, observations):
        return observations @ self.gain.T, None


# --- plug-and-play ADMM: the algorithm it starts as, and its iteration ----------------------


@pytest.mark.parametrize("env_id", [RECOVERY, RESOLUTION])
def test_the_untrained_plug_and_play_admm_is_admm_on_the_nominal_model(env_id):
    nominal = gym.make(env_id, mismatch=0.2, **SMALL[env_id]).unwrapped.nominal_model
    _, observations = fresh_signals(env_id, 50, mismatch=0.2, **SMALL[env_id])
    sensing, unknowns = nominal.sensing, nominal.unknowns
    for arguments, regularization in [
        ({}, lasso_lambda(nominal.noise_std, unknowns)),
        ({"penalty": 0.3, "regularization": 0.05, "admm_iterations": 15}, 0.05),
    ]:
        agent = PlugAndPlayADMM(nominal, **arguments)
        reference = admm(
            observations, sensing, regularization, agent.penalty, agent.admm_iterations
        )
        assert np.abs(reference).max() > 0.5  # a non-trivial estimate
        np.testing.assert_allclose(agent.predict(observations)[0], reference, atol=2e-5, rtol=0)


def test_a_plug_and_play_iteration_is_admm_with_the_denoiser_in_place_of_the_threshold():
    # the reference: s = W¹x + W²(z − u), z = D(s + u) with D = T_θ + r, u = u + s − z, written
    # out here with the network's own r (given random weights) and θ
    rng = np.random.default_rng(0)
    sensing = rng.standard_normal((6, 12)) / np.sqrt(6)
    agent = PlugAndPlayADMM(SparseLinearModel(sensing, 0.2), admm_iterations=4, channels=3)
    network = agent.network
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in network.residual.parameters():
            parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))
        network.log_threshold.fill_(np.log(0.3))
    input_matrix, feedback = (
        torch.tensor(w, dtype=torch.float64) for w in admm_matrices(sensing, 0.1)
    )
    residual = network.residual.double()
    x = torch.tensor(rng.standard_normal((7, 6)))
    z = u = torch.zeros(7, 12, dtype=torch.float64)
    with torch.no_grad():
        for _ in range(4):
            s = x @ input_matrix.T + (z - u) @ feedback.T
            z = soft_threshold(s + u, 0.3) + residual((s + u)[:, None])[:, 0]
            u = u + s - z
        network.float()
        found = network(x.float())
    assert 0.5 < z.abs().max() < 10  # the residual does move the estimate
    torch.testing.assert_close(found, z.float(), atol=1e-4, rtol=1e-4)


def test_a_diverging_plug_and_play_training_keeps_admm_and_says_so():
    env_id = RESOLUTION
    agent, report, _ = fitted(PlugAndPlayADMM, env_id, Budget(200, 200), learning_rate=1e30)
    assert report.diverged and agent.diagnostics() == {"training_diverged": 1.0}
    nominal = gym.make(env_id, **SMALL[env_id]).unwrapped.nominal_model
    _, observations = fresh_signals(env_id, 20)
    reference = admm(
        observations,
        nominal.sensing,
        lasso_lambda(nominal.noise_std, nominal.unknowns),
        agent.penalty,
        agent.admm_iterations,
    )
    np.testing.assert_allclose(agent.predict(observations)[0], reference, atol=2e-5, rtol=0)


# --- what they learn ------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", [RECOVERY, RESOLUTION])
def test_training_the_denoiser_improves_on_admm(env_id):
    # measured (2000 signals, 150 Adam steps; 2000 test signals): Gaussian 20 × 40 noiseless
    # from −11.0 dB (10 ADMM iterations) to −15.8 dB; super-resolution 16 → 32 from −10.2 to
    # −11.9
    env = gym.make(env_id, **SMALL[env_id])
    agent = PlugAndPlayADMM(
        env.unwrapped.nominal_model, admm_iterations=10, channels=8, iterations=150
    )
    untrained = nmse_db(agent, env_id)
    agent.fit(env, Budget(2000, 2000), seed=0)
    assert nmse_db(agent, env_id) < untrained - 1.0


@pytest.mark.parametrize(
    ("cls", "env_id", "margin"),
    [
        (ConvolutionalRecovery, RECOVERY, 1.5),
        (ConvolutionalRecovery, RESOLUTION, 3.0),
        (MLPRecovery, RECOVERY, 0.4),
    ],
)
def test_the_networks_learn_a_better_estimator_than_any_linear_one(cls, env_id, margin):
    # measured (2000 signals, 1000 Adam steps; 2000 test signals), against the linear MMSE:
    # conv −5.7 dB vs −3.1 (Gaussian 20 × 40), −8.6 vs −2.9 (super-resolution 16 → 32);
    # MLP −3.8 vs −3.1 (Gaussian; on the super-resolution grid −3.6 vs −2.9)
    env = gym.make(env_id, **SMALL[env_id])
    settings = {"iterations": 1000}
    if cls is ConvolutionalRecovery:
        settings.update(channels=8, hidden_layers=2, learning_rate=1e-2)
    else:
        settings.update(width=None, learning_rate=3e-3)
    agent = cls(env.unwrapped.structure(), **settings)
    agent.fit(env, Budget(2000, 2000), seed=0)
    linear = nmse_db(LinearMMSE(env.unwrapped.true_model), env_id)
    assert nmse_db(agent, env_id) < linear - margin


# --- the budget, seeding and checkpoints ----------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES)
def test_the_budget_is_respected_and_reported(cls):
    _, report, counted = fitted(cls, RECOVERY, Budget(steps=100, samples=23))
    assert (report.steps, report.samples) == (23, 23) == (counted.steps_used, counted.samples_used)
    _, report, counted = fitted(cls, RECOVERY, Budget(steps=7, samples=10**6))
    assert (report.steps, report.samples, counted.steps_used) == (7, 7, 7)
    # the harness withholds labels past its budget: the agent stops at the first such episode
    env = CountingEnv(gym.make(RECOVERY, **SMALL[RECOVERY]), Budget(steps=100, samples=12))
    report = built(cls, env).fit(env, Budget(100, 10**6), seed=0)
    assert (report.samples, env.samples_used, env.steps_used) == (12, 12, 13)
    with pytest.raises(ValueError, match="at least one labelled episode"):
        fitted(cls, RECOVERY, Budget(steps=100, samples=0))


@pytest.mark.parametrize("cls", CLASSES)
def test_seeded_training_is_reproducible(cls):
    budget = Budget(steps=200, samples=200)
    first, report, _ = fitted(cls, RESOLUTION, budget, seed=7)
    torch.manual_seed(12345)  # the global RNG plays no part
    second, again, _ = fitted(cls, RESOLUTION, budget, seed=7)
    _, different, _ = fitted(cls, RESOLUTION, budget, seed=8)
    assert report.curve == again.curve != different.curve
    for name, value in first.learned_parameters().items():
        np.testing.assert_array_equal(value, second.learned_parameters()[name])


@pytest.mark.parametrize("cls", CLASSES)
def test_a_saved_agent_recovers_identically_one_signal_and_a_batch(cls, tmp_path):
    agent, _, _ = fitted(cls, RESOLUTION, Budget(300, 300))
    assert AGENTS[cls.__name__].endswith(cls.__module__.rpartition("agents")[2])
    path = tmp_path / "recovery.safetensors"
    agent.save(path)
    loaded = BaseAgent.load(path)
    assert type(loaded) is cls and loaded.config == agent.config
    assert loaded.spectrum == agent.spectrum
    _, observations = fresh_signals(RESOLUTION, 5)
    estimates, _ = agent.predict(observations)
    np.testing.assert_array_equal(loaded.predict(observations)[0], estimates)
    # one signal is a batch of one: the same up to float32 rounding (another BLAS blocking)
    np.testing.assert_allclose(loaded.predict(observations[0])[0], estimates[0], atol=1e-6)
    assert estimates.dtype == np.float64 and estimates.shape == (5, 32)


@pytest.mark.parametrize("cls", [ConvolutionalRecovery, MLPRecovery])
def test_the_input_scale_is_the_training_measurements_rms_and_the_checkpoint_carries_it(
    cls, tmp_path
):
    # noiseless, unit-norm columns: E x_i² = p·n/m = 0.2, far from the initial scale 1
    env = gym.make(RECOVERY, **SMALL[RECOVERY])
    agent = built(cls, env)
    assert float(agent.network.scale) == 1.0
    budget = Budget(50, 50)
    agent.fit(env, budget, seed=3)
    data = collect_labelled_signals(gym.make(RECOVERY, **SMALL[RECOVERY]), budget, seed=3)
    rms = np.sqrt(np.mean(data.measurements**2))
    np.testing.assert_allclose(float(agent.network.scale), rms, rtol=1e-6)
    assert abs(rms - 1.0) > 0.05
    path = tmp_path / "scaled.safetensors"
    agent.save(path)
    loaded = BaseAgent.load(path)
    assert float(loaded.network.scale) == float(agent.network.scale)
    # the scale is applied: rescaling it changes the estimates
    _, observations = fresh_signals(RECOVERY, 5)
    with torch.no_grad():
        loaded.network.scale.mul_(2.0)
    assert not np.allclose(loaded.predict(observations)[0], agent.predict(observations)[0])


# --- the shapes, the spectrum and the arguments ---------------------------------------------


@pytest.mark.parametrize("env_id", [RECOVERY, RESOLUTION])
@pytest.mark.parametrize("cls", CLASSES)
def test_estimates_have_the_signal_shape_for_both_envs(cls, env_id):
    env = gym.make(env_id, **SMALL[env_id])
    agent = built(cls, env)
    _, observations = fresh_signals(env_id, 3)
    estimates, state = agent.predict(observations)
    assert state is None and estimates.shape == (3, env.action_space.shape[0])
    assert np.all(np.isfinite(estimates))
    one, _ = agent.predict(observations[1])
    assert one.shape == env.action_space.shape
    np.testing.assert_allclose(one, estimates[1], rtol=1e-6, atol=1e-7)
    assert agent.predict(np.zeros((0, observations.shape[1])))[0].shape == (0, estimates.shape[1])


def test_the_spectrum_counts_what_is_learned():
    model = SparseLinearModel(np.eye(4, 8), 0.1)
    pnp = PlugAndPlayADMM(model, channels=3, hidden_layers=2, kernel=5)
    # θ, then r: conv 1→3 (15 + 3), conv 3→3 (45 + 3), conv 3→1 (15 + 1); H's matrices are
    # rebuilt from the model, not learned; the checkpoint's input_scaling adds 2
    assert pnp.spectrum.family == "dnn-aided" and pnp.spectrum.knowledge == "nominal"
    assert pnp.spectrum.n_parameters == 1 + 18 + 48 + 16 + 2
    assert not any("matrix" in name or "feedback" in name for name in pnp.learned_parameters())
    assert PlugAndPlayADMM.knowledge_options == ("nominal",)
    for cls in (ConvolutionalRecovery, MLPRecovery):
        agent = cls(model.structure())
        assert cls.knowledge_options == ("structure",)
        assert (agent.spectrum.family, agent.spectrum.knowledge) == ("deep-learning", "structure")
    mlp = MLPRecovery(SparseStructure(4, 8), hidden_layers=1, width=5)
    assert mlp.spectrum.n_parameters == (4 * 5 + 5) + (5 * 8 + 8) + 1 + 2  # and the scale


def test_bad_arguments_are_refused():
    model = SparseLinearModel(np.eye(4, 8), 0.1)
    structure = model.structure()
    for cls, knowledge, arguments, message in [
        (PlugAndPlayADMM, model, {"admm_iterations": 0}, "admm_iterations must be a positive"),
        (PlugAndPlayADMM, model, {"penalty": -1.0}, "penalty must be a positive finite"),
        (PlugAndPlayADMM, model, {"regularization": 0.0}, "regularization must be a positive"),
        (PlugAndPlayADMM, model, {"channels": 1.5}, "channels must be a positive integer"),
        (PlugAndPlayADMM, model, {"kernel": 0}, "kernel must be a positive integer"),
        (ConvolutionalRecovery, structure, {"hidden_layers": 0}, "hidden_layers must be a"),
        (ConvolutionalRecovery, structure, {"batch_size": 0}, "batch_size must be a positive"),
        (MLPRecovery, structure, {"width": 0}, "width must be a positive integer"),
        (MLPRecovery, structure, {"learning_rate": float("nan")}, "learning_rate must be a"),
        (MLPRecovery, structure, {"validation_fraction": 1.0}, r"must be in \[0, 1\)"),
        (MLPRecovery, structure, {"knowledge": "magic"}, "knowledge must be one of"),
    ]:
        with pytest.raises(ValueError, match=message):
            cls(knowledge, **arguments)
    with pytest.raises(TypeError, match="is built on a SparseLinearModel"):
        PlugAndPlayADMM(structure)
    for cls in (ConvolutionalRecovery, MLPRecovery):
        with pytest.raises(TypeError, match="is built on a SparseStructure"):
            cls(model)
    agent = MLPRecovery(structure)
    with pytest.raises(ValueError, match="must be finite"):
        agent.predict(np.full(4, np.nan))
