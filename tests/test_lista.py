"""LISTA (deep unfolding) on ``mbdl/SparseRecovery-v0``: untrained it is ISTA on the nominal
matrix, trained it beats ISTA, and the agent keeps its budget, its seed and its checkpoint."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from mbdl_control.agents import AGENTS, BaseAgent, Budget
from mbdl_control.agents.deep_unfolding.lista import LISTA
from mbdl_control.blocks.sparse_iterations import ista, lipschitz_step
from mbdl_control.evaluation.budget import CountingEnv
from mbdl_control.models import SparseLinearModel, gaussian_sensing_matrix

ID = "mbdl/SparseRecovery-v0"
SMALL = {"measurements": 20, "unknowns": 40}
#: a recipe small enough for the structural tests
QUICK = {"layers": 4, "iterations": 20, "batch_size": 64}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def signals(count: int, seed: int, **env_kwargs) -> tuple[np.ndarray, np.ndarray]:
    """``count`` fresh episodes of the batched env: the measurements and the signals."""
    env = gym.make_vec(ID, count, **{**SMALL, **env_kwargs})
    measurements, _ = env.reset(seed=seed)
    _, _, _, _, info = env.step(np.zeros((count, env.single_action_space.shape[0])))
    return measurements, info["signal"]


def nmse_db(estimates: np.ndarray, truth: np.ndarray) -> float:
    return 10 * np.log10(np.sum((estimates - truth) ** 2) / np.sum(truth**2))


def fitted(budget: Budget, seed: int = 0, **kwargs):
    env = CountingEnv(gym.make(ID, **SMALL), budget)
    agent = LISTA(env.unwrapped.nominal_model, **{**QUICK, **kwargs})
    return agent, agent.fit(env, budget, seed), env


# --- the start: ISTA on the nominal matrix ---------------------------------------------------


@pytest.mark.parametrize("regularization", [0.4, 0.01])
def test_untrained_lista_is_ista_on_the_nominal_matrix_layer_by_layer(regularization):
    env = gym.make(ID, mismatch=0.3, **SMALL)
    nominal, true = env.unwrapped.nominal_model, env.unwrapped.true_model
    measurements, _ = signals(200, seed=1, mismatch=0.3)
    step = lipschitz_step(nominal.sensing)
    agent = LISTA(nominal, layers=7, regularization=regularization)
    with torch.no_grad():
        layers = agent.network.layer_estimates(torch.as_tensor(measurements, dtype=torch.float32))
    for k, estimate in enumerate(layers, start=1):
        expected = ista(measurements, nominal.sensing, regularization, step, k)
        np.testing.assert_allclose(estimate.double().numpy(), expected, rtol=1e-4, atol=2e-6)
    final = agent.predict(measurements)[0]
    np.testing.assert_allclose(final, layers[-1].double().numpy(), rtol=0, atol=0)
    # the nominal matrix, not the true one: ISTA on the truth is another answer
    on_truth = ista(measurements, true.sensing, regularization, lipschitz_step(true.sensing), 7)
    assert np.max(np.abs(final - on_truth)) > 1e-2


def test_the_layers_hold_the_published_parameters():
    model = SparseLinearModel(gaussian_sensing_matrix(20, 40, 3))
    layers = 5
    agent = LISTA(model, layers=layers)
    count = layers * 40 * 20 + (layers - 1) * 40 * 40 + layers  # W¹_k, W²_k (k ≥ 1), θ_k
    assert sum(p.numel() for p in agent.network.parameters()) == count
    network = agent.network
    step = 1 / np.linalg.norm(model.sensing, 2) ** 2
    np.testing.assert_allclose(
        network.input_weights[2].detach().numpy(), step * model.sensing.T, rtol=1e-6
    )
    np.testing.assert_allclose(
        network.feedback[1].detach().numpy(),
        np.eye(40) - step * model.sensing.T @ model.sensing,
        atol=1e-7,
    )
    np.testing.assert_allclose(network.thresholds.detach().numpy(), 0.4 * step, rtol=1e-6)
    assert agent.spectrum.family == "deep-unfolding" and agent.spectrum.knowledge == "nominal"
    assert AGENTS["LISTA"] == ".deep_unfolding.lista" and LISTA.knowledge_options == ("nominal",)


# --- learning ------------------------------------------------------------------------------


def test_training_beats_ista_run_many_more_iterations():
    # measured: 4 trained layers -9.8 dB; ISTA (lambda = 0.01) -2.5 dB at 4 iterations, -3.9 at
    # 40, -9.9 at 400; the ISTA start (lambda = 0.4) -2.9
    agent, report, _ = fitted(Budget(4000, 4000), iterations=400, learning_rate=1e-2)
    assert not report.diverged and len(report.curve) == 400
    measurements, truth = signals(2000, seed=99)
    model = agent.model
    step = lipschitz_step(model.sensing)
    trained = nmse_db(agent.predict(measurements)[0], truth)
    start = nmse_db(ista(measurements, model.sensing, 0.4, step, 4), truth)
    forty = nmse_db(ista(measurements, model.sensing, 0.01, step, 40), truth)
    assert trained < start - 5.0 and trained < forty - 4.0, (trained, start, forty)


def test_trained_on_the_true_system_it_beats_ista_on_the_wrong_matrix():
    # built on a nominal matrix 30 % off, trained on the env's signals: measured -9.7 dB, where
    # ISTA on the nominal matrix stalls at -6.0 dB (4000 iterations) and on the truth gives -9.9
    env = gym.make(ID, mismatch=0.3, **SMALL)
    nominal = env.unwrapped.nominal_model
    agent = LISTA(nominal, layers=4, iterations=400, learning_rate=1e-2, batch_size=64)
    agent.fit(env, Budget(4000, 4000), seed=0)
    measurements, truth = signals(2000, seed=99, mismatch=0.3)
    step = lipschitz_step(nominal.sensing)
    stalled = nmse_db(ista(measurements, nominal.sensing, 0.01, step, 4000), truth)
    trained = nmse_db(agent.predict(measurements)[0], truth)
    assert trained < stalled - 2.5, (trained, stalled)


def test_early_stopping_keeps_the_ista_start_when_training_only_hurts():
    agent, _, _ = fitted(Budget(500, 500), learning_rate=5.0, iterations=100)
    measurements, _ = signals(300, seed=5)
    model = agent.model
    expected = ista(measurements, model.sensing, 0.4, lipschitz_step(model.sensing), 4)
    np.testing.assert_allclose(agent.predict(measurements)[0], expected, rtol=1e-4, atol=2e-6)


# --- the budget, seeding and checkpoints ----------------------------------------------------


def test_the_budget_is_respected_and_reported():
    _, report, counted = fitted(Budget(steps=100, samples=23))
    assert (report.steps, report.samples) == (23, 23) == (counted.steps_used, counted.samples_used)
    _, report, counted = fitted(Budget(steps=5, samples=10**6))
    assert (report.steps, report.samples, counted.steps_used) == (5, 5, 5)
    # the harness withholds labels past its budget: the agent stops at the first such episode
    env = CountingEnv(gym.make(ID, **SMALL), Budget(steps=100, samples=12))
    report = LISTA(env.unwrapped.nominal_model, **QUICK).fit(env, Budget(100, 10**6), seed=0)
    assert (report.samples, env.samples_used, env.steps_used) == (12, 12, 13)
    with pytest.raises(ValueError, match="at least one labelled episode"):
        fitted(Budget(steps=0, samples=0))


def test_seeded_training_is_reproducible():
    budget = Budget(300, 300)
    first, _, _ = fitted(budget, seed=7)
    again, _, _ = fitted(budget, seed=7)
    other, _, _ = fitted(budget, seed=8)
    for name, value in first.learned_parameters().items():
        np.testing.assert_array_equal(value, again.learned_parameters()[name])
    weights = "network.feedback"
    assert not np.array_equal(
        first.learned_parameters()[weights], other.learned_parameters()[weights]
    )


def test_a_checkpoint_gives_the_same_estimates(tmp_path):
    agent, _, _ = fitted(Budget(300, 300), seed=3)
    agent.save(tmp_path / "lista")
    loaded = BaseAgent.load(tmp_path / "lista")
    assert isinstance(loaded, LISTA) and loaded.config["layers"] == QUICK["layers"]
    measurements, _ = signals(50, seed=11)
    np.testing.assert_array_equal(loaded.predict(measurements)[0], agent.predict(measurements)[0])
    assert loaded.spectrum == agent.spectrum


def test_one_measurement_or_a_batch():
    agent = LISTA(gym.make(ID, **SMALL).unwrapped.nominal_model, **QUICK)
    measurements, _ = signals(6, seed=2)
    batch, state = agent.predict(measurements)
    one, _ = agent.predict(measurements[3])
    assert batch.shape == (6, 40) and one.shape == (40,) and state is None
    assert batch.dtype == np.float64
    np.testing.assert_allclose(one, batch[3], rtol=1e-6, atol=1e-7)
    assert agent.predict(measurements[:0])[0].shape == (0, 40)


# --- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layers": 0}, "layers must be a positive integer, got 0"),
        ({"layers": 2.5}, "layers must be a positive integer"),
        ({"layers": True}, "layers must be a positive integer"),
        ({"regularization": 0.0}, "regularization must be a positive finite number, got 0.0"),
        ({"regularization": float("nan")}, "regularization must be a positive finite number"),
        ({"learning_rate": -1e-3}, "learning_rate must be a positive finite number"),
        ({"iterations": 0}, "iterations must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"validation_fraction": 1.0}, r"validation_fraction must be in \[0, 1\)"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    model = SparseLinearModel(gaussian_sensing_matrix(4, 8, 0))
    with pytest.raises(ValueError, match=match):
        LISTA(model, **kwargs)


def test_lista_needs_the_nominal_matrix_not_the_form():
    env = gym.make(ID, **SMALL)
    with pytest.raises(TypeError, match="LISTA"):
        LISTA(env.unwrapped.structure())
