"""The model-based filters (KF, EKF, UKF, PF) against filterpy and the exact KF error, their
batching over episodes, and the noise-tuned Kalman filter."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from filterpy import kalman as filterpy

from mbdl_control.agents import (
    ExtendedKalmanFilter,
    KalmanFilter,
    ParticleFilter,
    TunedNoiseKalman,
    UnscentedKalmanFilter,
)
from mbdl_control.blocks.kalman_filters import (
    ExtendedKalmanEstimator,
    KalmanEstimator,
    filter_trajectories,
    kalman_mse,
)
from mbdl_control.blocks.particle_filter import ParticleEstimator, systematic_resample
from mbdl_control.blocks.unscented_filter import UnscentedKalmanEstimator, cholesky
from mbdl_control.core import BaseAgent, Budget, vector_space
from mbdl_control.models import LinearMap, LorenzFlow, Spherical, StateSpaceModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_psd(rng, size, scale):
    root = rng.standard_normal((size, size))
    return scale * (root @ root.T / size + 0.2 * np.eye(size))


def random_linear(seed, n, p, m=0):
    """A random stable linear model (inputs ``G`` when ``m > 0``)."""
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n, n))
    F *= 0.95 / np.max(np.abs(np.linalg.eigvals(F)))
    return StateSpaceModel(
        LinearMap(F),
        LinearMap(rng.standard_normal((p, n))),
        random_psd(rng, n, 0.1),
        random_psd(rng, p, 0.5),
        rng.standard_normal(n),
        random_psd(rng, n, 1.0),
        G=rng.standard_normal((n, m)) if m else None,
    )


def lorenz(observation):
    return StateSpaceModel(
        LorenzFlow(),
        observation,
        1e-2 * np.eye(3),
        1e-1 * np.eye(3),
        np.array([1.0, 1.0, 1.0]),
        0.5 * np.eye(3),
    )


def simulate(model, episodes, steps, seed, inputs=None):
    """Measurements ``(N, T, p)`` and states ``(N, T, n)`` of ``model``, drawn in numpy."""
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal(model.x0_mean, model.x0_cov, episodes)
    ys, xs = [], []
    for t in range(steps):
        xs.append(x)
        ys.append(model.h(x) + rng.multivariate_normal(np.zeros(model.p), model.V, episodes))
        u = None if inputs is None else inputs[:, t]
        x = model.f(x, u) + rng.multivariate_normal(np.zeros(model.n), model.W, episodes)
    return np.stack(ys, 1), np.stack(xs, 1)


def filterpy_kf(model, ys, us=None):
    """filterpy's KalmanFilter on one episode: update with ``y_0`` first, then predict."""
    kf = filterpy.KalmanFilter(dim_x=model.n, dim_z=model.p, dim_u=model.m)
    kf.x, kf.P = model.x0_mean.copy(), model.x0_cov.copy()
    kf.F, kf.H, kf.Q, kf.R = model.transition.matrix, model.observation.matrix, model.W, model.V
    kf.B = model.G
    estimates = []
    for t, y in enumerate(ys):
        kf.update(y)
        estimates.append(kf.x.copy())
        kf.predict(u=None if us is None else us[t])
    return np.array(estimates), kf.P_post


def jacobian(mapping, x):
    return torch.autograd.functional.jacobian(mapping, torch.tensor(x)).numpy()


def spherical_jacobian(x):
    """∂(‖x‖, atan2(x₂, x₁), arccos(x₃/‖x‖))/∂x by hand."""
    r, rho2 = np.linalg.norm(x), x[0] ** 2 + x[1] ** 2
    rho = np.sqrt(rho2)
    return np.array(
        [
            x / r,
            [-x[1] / rho2, x[0] / rho2, 0.0],
            [x[0] * x[2] / (r**2 * rho), x[1] * x[2] / (r**2 * rho), -rho / r**2],
        ]
    )


class FilterpyLorenzEKF(filterpy.ExtendedKalmanFilter):
    """filterpy's EKF with the model's ``f`` for the predicted mean (its ``F`` set by the
    caller to the Jacobian at the estimate)."""

    def __init__(self, model):
        super().__init__(dim_x=model.n, dim_z=model.p)
        self.model = model

    def predict_x(self, u=0):
        self.x = self.model.f(self.x)


def filterpy_ekf(model, ys, h_jacobian):
    ekf = FilterpyLorenzEKF(model)
    ekf.x, ekf.P, ekf.Q, ekf.R = model.x0_mean.copy(), model.x0_cov.copy(), model.W, model.V
    estimates = []
    for y in ys:
        ekf.update(y, HJacobian=h_jacobian, Hx=model.h)
        estimates.append(ekf.x.copy())
        ekf.F = jacobian(model.transition, ekf.x)
        ekf.predict()
    return np.array(estimates)


def filterpy_ukf(model, ys, alpha, beta, kappa):
    points = filterpy.MerweScaledSigmaPoints(model.n, alpha=alpha, beta=beta, kappa=kappa)
    ukf = filterpy.UnscentedKalmanFilter(
        dim_x=model.n, dim_z=model.p, dt=1.0, hx=model.h, fx=lambda x, dt: model.f(x), points=points
    )
    ukf.x, ukf.P, ukf.Q, ukf.R = model.x0_mean.copy(), model.x0_cov.copy(), model.W, model.V
    ukf.sigmas_f = points.sigma_points(ukf.x, ukf.P)  # its update uses the predicted points
    estimates = []
    for y in ys:
        ukf.update(y)
        estimates.append(ukf.x.copy())
        ukf.predict()
    return np.array(estimates)


@pytest.mark.parametrize(("n", "p", "m"), [(2, 2, 0), (4, 2, 1), (3, 1, 0), (2, 3, 2)])
def test_kalman_and_extended_filters_equal_filterpy_on_linear_systems(n, p, m):
    model = random_linear(n * 10 + p, n, p, m)
    inputs = np.random.default_rng(1).standard_normal((4, 30, m)) if m else None
    ys, _ = simulate(model, 4, 30, seed=2, inputs=inputs)
    for estimator in (KalmanEstimator(model), ExtendedKalmanEstimator(model)):
        ours = filter_trajectories(estimator, ys, inputs)
        for k in range(4):
            expected, _ = filterpy_kf(model, ys[k], None if inputs is None else inputs[k])
            np.testing.assert_allclose(ours[k], expected, rtol=0, atol=1e-8)
    _, posterior = filterpy_kf(model, ys[0], None if inputs is None else inputs[0])
    estimator = KalmanEstimator(model)
    memory = estimator.start(1)
    for t, y in enumerate(ys[0]):
        _, memory = estimator.update(memory, y[None])
        if t + 1 < len(ys[0]):
            memory = estimator.advance(memory, None if inputs is None else inputs[0, t : t + 1])
    np.testing.assert_allclose(memory["cov"][0], posterior, rtol=0, atol=1e-10)


@pytest.mark.parametrize("observation", ["identity", "spherical"])
def test_extended_filter_equals_filterpy_on_lorenz(observation):
    if observation == "identity":
        model, h_jacobian = lorenz(LinearMap(np.eye(3))), lambda x: np.eye(3)
    else:
        model, h_jacobian = lorenz(Spherical()), spherical_jacobian
    ys, _ = simulate(model, 3, 40, seed=3)
    ours = filter_trajectories(ExtendedKalmanEstimator(model), ys)
    for k in range(3):
        expected = filterpy_ekf(model, ys[k], h_jacobian)
        np.testing.assert_allclose(ours[k], expected, rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    ("alpha", "beta", "kappa"), [(1.0, 2.0, 0.0), (0.5, 2.0, 1.0), (1e-3, 2.0, 0.0)]
)
def test_unscented_filter_equals_filterpy(alpha, beta, kappa):
    model = lorenz(Spherical())
    ys, _ = simulate(model, 3, 40, seed=4)
    ours = filter_trajectories(UnscentedKalmanEstimator(model, alpha, beta, kappa), ys)
    for k in range(3):
        expected = filterpy_ukf(model, ys[k], alpha, beta, kappa)
        np.testing.assert_allclose(ours[k], expected, rtol=0, atol=1e-8 if alpha > 0.1 else 1e-6)


def test_unscented_filter_of_a_linear_model_is_the_kalman_filter():
    model = random_linear(5, 3, 2)
    ys, _ = simulate(model, 5, 30, seed=5)
    np.testing.assert_allclose(
        filter_trajectories(UnscentedKalmanEstimator(model), ys),
        filter_trajectories(KalmanEstimator(model), ys),
        rtol=0,
        atol=1e-9,
    )


def test_a_failed_factorization_gets_jitter_and_a_diverged_one_an_error():
    nearly = np.array([[[1.0, 1.0], [1.0, 1.0 - 1e-15]], [[2.0, 0.0], [0.0, 1.0]]])
    factor, jittered = cholesky(nearly)
    assert jittered and np.allclose(factor @ factor.swapaxes(-1, -2), nearly, atol=1e-9)
    np.testing.assert_array_equal(factor[1], np.linalg.cholesky(nearly[1]))  # no jitter there
    assert not cholesky(np.eye(2)[None])[1]
    with pytest.raises(FloatingPointError, match="diverged"):
        cholesky(np.full((1, 2, 2), np.nan))


def test_particle_filter_approaches_the_kalman_filter():
    model = random_linear(6, 2, 1)
    ys, xs = simulate(model, 200, 20, seed=6)
    kf = np.mean((filter_trajectories(KalmanEstimator(model), ys) - xs) ** 2)
    pf = np.mean((filter_trajectories(ParticleEstimator(model, 2000, seed=0), ys) - xs) ** 2)
    assert kf <= pf < 1.03 * kf
    again = filter_trajectories(ParticleEstimator(model, 50, seed=1), ys[:3])
    np.testing.assert_array_equal(
        again, filter_trajectories(ParticleEstimator(model, 50, seed=1), ys[:3])
    )


def test_systematic_resampling_keeps_each_particle_about_its_weight():
    rng = np.random.default_rng(0)
    weights = rng.random((50, 40)) ** 4
    weights /= weights.sum(1, keepdims=True)
    chosen = systematic_resample(weights, rng)
    copies = np.stack([np.bincount(row, minlength=40) for row in chosen])
    assert np.all(np.abs(copies - 40 * weights) < 1)
    assert np.all(np.diff(chosen, axis=1) >= 0)


def test_kalman_mse_equals_a_monte_carlo_of_the_filter_error():
    model = random_linear(7, 3, 2)
    horizon, episodes = 10, 4000
    ys, xs = simulate(model, episodes, horizon, seed=7)
    errors = ((filter_trajectories(KalmanEstimator(model), ys) - xs) ** 2).mean(axis=(1, 2))
    standard_error = errors.std(ddof=1) / np.sqrt(episodes)
    assert abs(errors.mean() - kalman_mse(model, horizon)) < 3 * standard_error


@pytest.mark.parametrize("name", ["KalmanFilter", "ExtendedKalmanFilter", "UnscentedKalmanFilter"])
def test_a_batch_restarting_at_different_times_equals_episodes_one_by_one(name):
    import mbdl_control.agents as library

    model = random_linear(8, 3, 2) if name == "KalmanFilter" else lorenz(Spherical())
    agent = getattr(library, name)(model)
    ys, _ = simulate(model, 3, 12, seed=8)
    restarts = {0: 0, 1: 3, 2: 7}  # row k starts its episode at step restarts[k]
    state, batched = None, []
    for t in range(12):
        starts = np.array([restarts[k] == t or t == 0 for k in range(3)])
        estimates, state = agent.predict(ys[:, t], state, starts)
        batched.append(estimates)
    batched = np.stack(batched, 1)
    for k, first in restarts.items():
        alone, state = [], None
        for t in range(first, 12):
            estimate, state = agent.predict(ys[k, t], state, np.array([t == first]))
            alone.append(estimate)
        np.testing.assert_allclose(batched[k, first:], np.array(alone), rtol=0, atol=1e-12)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="needs a linear model"):
        KalmanFilter(lorenz(Spherical()))
    with pytest.raises(TypeError, match="is built on a"):
        ExtendedKalmanFilter({"A": [[1.0]]})
    with pytest.raises(ValueError, match="alpha"):
        UnscentedKalmanFilter(lorenz(Spherical()), alpha=0.0)
    with pytest.raises(ValueError, match="kappa"):
        UnscentedKalmanFilter(lorenz(Spherical()), kappa=-3.0)
    with pytest.raises(ValueError, match="beta must be a finite number, got 'two'"):
        UnscentedKalmanFilter(lorenz(Spherical()), beta="two")
    with pytest.raises(ValueError, match="grid must be a sequence of positive variances"):
        TunedNoiseKalman(random_linear(0, 2, 2), grid=0.1)
    with pytest.raises(ValueError, match="a Spherical observation reads 3 states, the model has 2"):
        random_linear(0, 2, 2).replace(observation=Spherical())
    with pytest.raises(ValueError, match="particles"):
        ParticleFilter(lorenz(Spherical()), particles=0)
    with pytest.raises(ValueError, match="inputs must be rows of 0 entries"):
        KalmanEstimator(random_linear(0, 2, 1)).advance(
            KalmanEstimator(random_linear(0, 2, 1)).start(1), np.ones((1, 1))
        )
    model = random_linear(9, 2, 2)
    for agent in (
        KalmanFilter(model),
        ExtendedKalmanFilter(model),
        UnscentedKalmanFilter(model),
        ParticleFilter(model, particles=10),
        TunedNoiseKalman(model),
    ):
        for value in (np.nan, np.inf):
            with pytest.raises(ValueError, match="must be finite"):
                agent.predict(np.full(2, value))


def test_filters_round_trip_through_checkpoints_on_nonlinear_models(tmp_path):
    model = lorenz(Spherical())
    ys, _ = simulate(model, 4, 3, seed=10)
    for agent in (
        ExtendedKalmanFilter(model, knowledge="true"),
        UnscentedKalmanFilter(model, alpha=0.5),
        ParticleFilter(model, particles=100, seed=3),
    ):
        agent.save(tmp_path / "filter.safetensors")
        loaded = BaseAgent.load(tmp_path / "filter.safetensors")
        assert loaded.config == agent.config and loaded.spectrum == agent.spectrum
        state, loaded_state = None, None
        for t in range(3):
            action, state = agent.predict(ys[:, t], state)
            again, loaded_state = loaded.predict(ys[:, t], loaded_state)
            np.testing.assert_array_equal(again, action)


class ModelEnv(gym.Env):
    """A tracking env simulating ``model`` for ``horizon`` steps (``info["state"]``)."""

    def __init__(self, model, horizon):
        self.model, self.horizon = model, horizon
        self.observation_space = vector_space(model.p)
        self.action_space = vector_space(model.n)

    def _measure(self):
        noise = self.np_random.multivariate_normal(np.zeros(self.model.p), self.model.V)
        return self.model.h(self.x) + noise

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.multivariate_normal(self.model.x0_mean, self.model.x0_cov)
        self.t = 0
        return self._measure(), {"state": self.x.copy()}

    def step(self, action):
        noise = self.np_random.multivariate_normal(np.zeros(self.model.n), self.model.W)
        self.x, self.t = self.model.f(self.x) + noise, self.t + 1
        y = self._measure()
        return y, 0.0, False, self.t >= self.horizon, {"state": self.x.copy()}


def agent_mse(agent, ys, xs):
    """The agent's squared error per component, tracking the episodes ``ys`` from their start."""
    state, estimates = None, []
    for t in range(ys.shape[1]):
        estimate, state = agent.predict(ys[:, t], state)
        estimates.append(estimate)
    return np.mean((np.stack(estimates, 1) - xs) ** 2)


def test_tuned_noise_kalman_beats_the_filter_of_the_wrong_noise():
    truth = random_linear(11, 2, 2).replace(W=0.5 * np.eye(2), V=0.05 * np.eye(2))
    nominal = truth.replace(W=0.01 * np.eye(2), V=1.0 * np.eye(2))
    env = ModelEnv(truth, horizon=20)
    tuned = TunedNoiseKalman(nominal)
    with pytest.raises(ValueError, match="at least one labelled episode"):
        tuned.fit(env, Budget(steps=19, samples=100), seed=0)
    report = tuned.fit(env, Budget(steps=400, samples=400), seed=0)
    assert report.steps == report.samples == 400 and len(report.curve) == len(tuned.grid) ** 2
    assert tuned.spectrum.n_parameters == 2 and tuned.spectrum.family == "learned-optimizer"
    ys, xs = simulate(truth, 200, 21, seed=12)
    tuned_mse, untuned_mse = agent_mse(tuned, ys, xs), agent_mse(KalmanFilter(nominal), ys, xs)
    assert tuned_mse < 0.8 * untuned_mse and tuned_mse < 1.1 * kalman_mse(truth, 21)
    restored = TunedNoiseKalman(nominal)
    restored.set_learned_parameters(tuned.learned_parameters())
    for key, value in tuned.learned_parameters().items():
        np.testing.assert_array_equal(restored.learned_parameters()[key], value)
    np.testing.assert_array_equal(restored.predict(ys[:, 0])[0], tuned.predict(ys[:, 0])[0])
