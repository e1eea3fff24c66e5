"""The learned optimizers (ISTA with a learned step and threshold, ADMM with a learned
regularization and penalty) and unfolded ADMM (per-layer scalars or matrices) on the sparse
inverse envs: each starts as the numpy algorithm it learns on, training improves it (to a
brute-force grid's optimum, for the two scalars) and corrects a wrong nominal ``H``, and the
budget, seeding, checkpoints and argument checks."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from mbdl_control.agents import ADMM, AGENTS, ISTA, BaseAgent, Budget
from mbdl_control.agents.deep_unfolding.unfolded_admm import UnfoldedADMM
from mbdl_control.agents.learned_optimizer.sparse import LearnedADMM, LearnedISTA
from mbdl_control.blocks.sparse_iterations import admm, ista, lasso_lambda, lipschitz_step
from mbdl_control.blocks.sparse_training import collect_labelled_signals
from mbdl_control.evaluation.budget import CountingEnv

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPARSE = "mbdl/SparseRecovery-v0"
SUPER = "mbdl/SuperResolution-v0"
#: small problems: 20 × 40 Gaussian (noisy, so that λ is not the noiseless floor), and the
#: 8 × 32 super-resolution grid
SMALL = {"measurements": 20, "unknowns": 40, "snr_db": 20.0}
SMALL_SUPER = {"unknowns": 32, "decimation": 4}
#: the four agents, each with a short recipe
AGENT_KWARGS = {
    "LearnedISTA": (LearnedISTA, {}),
    "LearnedADMM": (LearnedADMM, {}),
    "UnfoldedADMM": (UnfoldedADMM, {}),
    "UnfoldedADMM-matrices": (UnfoldedADMM, {"matrices": True}),
}
QUICK = {"layers": 8, "iterations": 100}


def build(key, model, **kwargs):
    cls, defaults = AGENT_KWARGS[key]
    return cls(model, **{**defaults, **QUICK, **kwargs})


def signals(env_id, env_kwargs, count, seed):
    return collect_labelled_signals(gym.make(env_id, **env_kwargs), Budget(count, count), seed)


def nmse_db(agent, data):
    estimates = agent.predict(data.measurements)[0]
    return 10 * np.log10(((estimates - data.signals) ** 2).sum() / (data.signals**2).sum())


# --- untrained, each is the algorithm it learns on -----------------------------------------


@pytest.mark.parametrize("initial", [{}, {"regularization": 0.05, "step": 0.3}])
def test_an_untrained_learned_ista_is_ista(initial):
    model = gym.make(SPARSE, **SMALL).unwrapped.nominal_model
    data = signals(SPARSE, SMALL, 50, seed=1)
    agent = LearnedISTA(model, layers=12, **initial)
    regularization = initial.get("regularization", lasso_lambda(model.noise_std, 40))
    step = initial.get("step", lipschitz_step(model.sensing))
    reference = ista(data.measurements, model.sensing, regularization, step, 12)
    estimates = agent.predict(data.measurements)[0]
    np.testing.assert_allclose(estimates, reference, atol=2e-5)
    solver = ISTA(model, iterations=12, **initial)  # the model-based agent, same defaults
    np.testing.assert_allclose(estimates, solver.predict(data.measurements)[0], atol=2e-5)
    found = agent.hyperparameters()
    np.testing.assert_allclose(
        [found["step"], found["threshold"]], [step, step * regularization], rtol=1e-6
    )


@pytest.mark.parametrize("key", ["LearnedADMM", "UnfoldedADMM", "UnfoldedADMM-matrices"])
@pytest.mark.parametrize("initial", [{}, {"regularization": 0.05, "penalty": 0.5}])
def test_an_untrained_admm_agent_is_admm(key, initial):
    for env_id, kwargs in [(SPARSE, SMALL), (SUPER, SMALL_SUPER)]:
        model = gym.make(env_id, **kwargs).unwrapped.nominal_model
        data = signals(env_id, kwargs, 50, seed=1)
        agent = build(key, model, layers=12, **initial)
        default = lasso_lambda(model.noise_std, model.unknowns)
        regularization = initial.get("regularization", default)
        # learned ADMM starts at the model-based ADMM's ρ = 3λ, unfolded ADMM at ρ = 0.1
        penalty = initial.get("penalty", 3 * regularization if key == "LearnedADMM" else 0.1)
        reference = admm(data.measurements, model.sensing, regularization, penalty, 12)
        estimates = agent.predict(data.measurements)[0]
        # float32 through (HᵀH + ρI)⁻¹, whose condition number (σ²_max + ρ)/ρ is up to ~100
        tolerance = {"atol": 1e-4 * np.abs(reference).max(), "rtol": 0}
        np.testing.assert_allclose(estimates, reference, **tolerance)
        if key == "LearnedADMM":  # the model-based agent, with the same defaults
            solver = ADMM(model, iterations=12, **initial)
            np.testing.assert_allclose(estimates, solver.predict(data.measurements)[0], **tolerance)


# --- training -------------------------------------------------------------------------------


def ista_grid(data, sensing, layers):
    """ISTA over a grid of steps in ``(0, 2/‖H‖₂²)`` and thresholds."""
    largest = 2 * lipschitz_step(sensing)
    for step in np.linspace(0.1, 0.99, 10) * largest:
        for threshold in np.geomspace(1e-3, 0.3, 12):
            yield ista(data.measurements, sensing, threshold / step, step, layers)


def admm_grid(data, sensing, layers):
    """ADMM over a grid of regularizations and penalties."""
    for regularization in np.geomspace(1e-3, 0.3, 12):
        for penalty in np.geomspace(0.01, 3.0, 12):
            yield admm(data.measurements, sensing, regularization, penalty, layers)


@pytest.mark.parametrize("cls, grid", [(LearnedISTA, ista_grid), (LearnedADMM, admm_grid)])
def test_the_two_learned_scalars_reach_the_optimum_of_a_brute_force_grid(cls, grid):
    env = gym.make(SPARSE, **SMALL)
    model = env.unwrapped.nominal_model
    agent = cls(model, layers=8, iterations=200, validation_fraction=0.0)
    before = agent.hyperparameters()
    agent.fit(env, Budget(500, 500), seed=0)
    data = signals(SPARSE, SMALL, 500, seed=0)  # the training signals
    best = min(
        10 * np.log10(((estimates - data.signals) ** 2).sum() / (data.signals**2).sum())
        for estimates in grid(data, model.sensing, 8)
    )
    trained = nmse_db(agent, data)
    assert trained < nmse_db(cls(model, layers=8), data) - 1.5
    assert trained < best + 0.02  # measured: ISTA 0.001 dB above, ADMM 0.04 dB below
    for name, value in agent.hyperparameters().items():
        assert abs(np.log(value / before[name])) > 0.2, name


@pytest.mark.parametrize("key", list(AGENT_KWARGS))
def test_training_improves_on_the_nominal_start_and_moves_the_hyperparameters(key):
    env = gym.make(SPARSE, **SMALL)
    agent = build(key, env.unwrapped.nominal_model)
    before = {name: np.array(value) for name, value in agent.hyperparameters().items()}
    test = signals(SPARSE, SMALL, 500, seed=99)
    start = nmse_db(agent, test)
    agent.fit(env, Budget(1000, 1000), seed=0)
    # measured: ISTA -3.9 → -6.0 dB, ADMM -11.1 → -13.8, per layer -10.5 → -13.3, matrices
    # -10.5 → -13.5
    assert nmse_db(agent, test) < start - 1.5
    for name, value in agent.hyperparameters().items():
        assert np.abs(np.log(value / before[name])).max() > 0.05, name


@pytest.mark.parametrize("key", list(AGENT_KWARGS))
def test_trained_on_the_true_system_it_beats_its_start_on_a_wrong_nominal_model(key):
    mismatched = {**SMALL, "mismatch": 0.3}
    env = gym.make(SPARSE, **mismatched)
    nominal, true = env.unwrapped.nominal_model, env.unwrapped.true_model
    assert not np.array_equal(nominal.sensing, true.sensing)
    agent = build(key, nominal)
    test = signals(SPARSE, mismatched, 500, seed=99)
    start = nmse_db(agent, test)
    agent.fit(env, Budget(1000, 1000), seed=0)
    # measured: ISTA -3.4 → -5.0 dB, ADMM -7.5 → -7.8, per layer -7.7 → -8.0, matrices
    # -7.7 → -8.3 (ADMM on the true H: -11.1)
    assert nmse_db(agent, test) < start - 0.25


def test_a_training_that_does_worse_keeps_the_algorithm_it_started_as():
    # from near the best λ, ρ (the grid test's), one Adam step of 3 in log space scales them
    # by e^{±3}: the held-out signals score the start better, and early stopping keeps it
    env = gym.make(SPARSE, **SMALL)
    model = env.unwrapped.nominal_model
    recipe = {"regularization": 0.02, "penalty": 0.04, "iterations": 1, "learning_rate": 3.0}
    agent = LearnedADMM(model, **recipe)
    start = agent.hyperparameters()
    report = agent.fit(env, Budget(200, 200), seed=0)
    assert len(report.curve) == 1 and not report.diverged
    assert agent.hyperparameters() == start
    moved = LearnedADMM(model, **recipe, validation_fraction=0.0)  # none held out: it moves
    moved.fit(env, Budget(200, 200), seed=0)
    ratios = np.array(list(moved.hyperparameters().values())) / np.array(list(start.values()))
    np.testing.assert_allclose(np.abs(np.log(ratios)), 3.0, rtol=1e-4)


# --- budget, seeding, checkpoints -----------------------------------------------------------


@pytest.mark.parametrize("key", list(AGENT_KWARGS))
def test_the_budget_is_respected_and_reported(key):
    env = CountingEnv(gym.make(SUPER, **SMALL_SUPER), Budget(steps=100, samples=37))
    agent = build(key, env.unwrapped.nominal_model, iterations=5)
    report = agent.fit(env, Budget(steps=100, samples=37), seed=0)
    assert (report.steps, report.samples) == (37, 37) == (env.steps_used, env.samples_used)
    with pytest.raises(ValueError, match="at least one labelled episode"):
        agent.fit(gym.make(SUPER, **SMALL_SUPER), Budget(steps=0, samples=10), seed=0)


@pytest.mark.parametrize("key", list(AGENT_KWARGS))
def test_seeded_training_is_reproducible(key):
    def fitted(seed):
        env = gym.make(SUPER, **SMALL_SUPER)
        agent = build(key, env.unwrapped.nominal_model, iterations=20)
        return agent, agent.fit(env, Budget(300, 300), seed=seed)

    first, report = fitted(7)
    torch.manual_seed(12345)  # the global RNG plays no part
    second, again = fitted(7)
    _, different = fitted(8)
    assert report.curve == again.curve != different.curve
    for name, value in first.learned_parameters().items():
        np.testing.assert_array_equal(value, second.learned_parameters()[name])


@pytest.mark.parametrize("key", list(AGENT_KWARGS))
def test_a_saved_agent_recovers_identically_one_signal_and_a_batch(key, tmp_path):
    env = gym.make(SUPER, **{**SMALL_SUPER, "mismatch": 0.1})
    agent = build(key, env.unwrapped.nominal_model, iterations=30)
    agent.fit(env, Budget(300, 300), seed=0)
    cls = AGENT_KWARGS[key][0]
    assert AGENTS[cls.__name__].endswith(cls.__module__.rpartition("agents")[2])
    path = tmp_path / "agent.safetensors"
    agent.save(path)
    loaded = BaseAgent.load(path)
    assert type(loaded) is cls and loaded.config == agent.config
    assert loaded.spectrum == agent.spectrum
    measurements = signals(SUPER, SMALL_SUPER, 5, seed=3).measurements
    estimates, _ = agent.predict(measurements)
    np.testing.assert_array_equal(loaded.predict(measurements)[0], estimates)
    # one measurement is a batch of one (float32 products of another shape: rounding apart)
    np.testing.assert_allclose(loaded.predict(measurements[0])[0], estimates[0], atol=1e-5)
    assert estimates.dtype == np.float64 and estimates.shape == (5, 32)
    assert loaded.hyperparameters().keys() == agent.hyperparameters().keys()


def test_spectrum_learned_parameter_counts_and_hyperparameters():
    model = gym.make(SPARSE, **SMALL).unwrapped.nominal_model
    expected = {
        "LearnedISTA": ("learned-optimizer", 2, {"step": (), "threshold": ()}),
        "LearnedADMM": ("learned-optimizer", 2, {"regularization": (), "penalty": ()}),
        "UnfoldedADMM": ("deep-unfolding", 2 * 8, {"regularization": (8,), "penalty": (8,)}),
        "UnfoldedADMM-matrices": (
            "deep-unfolding",
            8 * (40 * 20 + 40 * 40 + 1),
            {"threshold": (8,)},
        ),
    }
    for key, (family, count, shapes) in expected.items():
        agent = build(key, model)
        assert type(agent).knowledge_options == ("nominal",)
        assert (agent.spectrum.family, agent.spectrum.knowledge) == (family, "nominal")
        # the base class's checkpoint adds the input scaling (0, 1): two more numbers
        assert agent.spectrum.n_parameters == count + 2
        hyperparameters = agent.hyperparameters()
        assert {name: np.shape(value) for name, value in hyperparameters.items()} == shapes
        if family == "learned-optimizer":  # reported next to the cost by evaluate()
            diagnostics = agent.diagnostics()
            assert diagnostics["training_diverged"] == 0.0
            for name, value in hyperparameters.items():
                assert diagnostics[f"learned_{name}"] == value


# --- bad arguments ----------------------------------------------------------------------


def test_bad_arguments_are_refused():
    model = gym.make(SPARSE, **SMALL).unwrapped.nominal_model
    largest = 2 * lipschitz_step(model.sensing)
    for cls, arguments, message in [
        (LearnedISTA, {"layers": 0}, "layers must be a positive integer"),
        (LearnedISTA, {"step": largest}, r"step must be in \(0, 2/‖H‖₂²\)"),
        (LearnedISTA, {"step": -1.0}, "step must be a positive finite number"),
        (LearnedISTA, {"regularization": 0.0}, "regularization must be a positive finite"),
        (LearnedADMM, {"penalty": float("inf")}, "penalty must be a positive finite number"),
        (LearnedADMM, {"learning_rate": float("nan")}, "learning_rate must be a positive"),
        (LearnedADMM, {"batch_size": 0}, "batch_size must be a positive integer"),
        (UnfoldedADMM, {"layers": 2.5}, "layers must be a positive integer"),
        (UnfoldedADMM, {"matrices": "yes"}, "matrices must be True or False"),
        (UnfoldedADMM, {"matrix_rate": 0.0}, "matrix_rate must be a positive finite number"),
        (UnfoldedADMM, {"validation_fraction": 1.0}, r"validation_fraction must be in \[0, 1\)"),
        (UnfoldedADMM, {"knowledge": "oracle"}, "knowledge must be one of"),
    ]:
        with pytest.raises(ValueError, match=message):
            cls(model, **arguments)
    for cls in (LearnedISTA, LearnedADMM, UnfoldedADMM):
        with pytest.raises(TypeError, match="is built on a SparseLinearModel"):
            cls(model.structure())
