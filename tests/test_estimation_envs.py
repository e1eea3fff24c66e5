"""The estimation envs simulate the documented models, against independent answers: the
published matrices, an ODE solver for the Lorenz flow, the rotation's closed-form distance,
and the measurement equations of the documented draws."""

import math

import gymnasium as gym
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import mbdl_control  # noqa: F401
from mbdl_control.envs.estimation.lorenz import designer_order
from mbdl_control.models import LorenzFlow, Spherical, roll_pitch_yaw


def _lorenz(_, x):
    return [10 * (x[1] - x[0]), x[0] * (28 - x[2]) - x[1], x[0] * x[1] - 8 / 3 * x[2]]


def test_the_canonical_model_is_the_published_one():
    model = gym.make("mbdl/LinearTracking-v0", inverse_r2_db=10.0).unwrapped.true_model
    np.testing.assert_array_equal(model.transition.matrix, [[1, 1], [0, 1]])
    np.testing.assert_array_equal(model.observation.matrix, np.eye(2))
    np.testing.assert_allclose(model.V, 0.1 * np.eye(2))  # 1/r² = 10 dB
    np.testing.assert_allclose(model.W, 0.001 * np.eye(2))  # ν = q²/r² = −20 dB
    bigger = gym.make("mbdl/LinearTracking-v0", n=3, p=2).unwrapped.true_model
    np.testing.assert_array_equal(bigger.transition.matrix, [[1, 1, 1], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(bigger.observation.matrix, [[1, 1, 1], [0, 1, 0]])


@pytest.mark.parametrize("rotated", ["H", "F", "FH"])
def test_mismatch_rotates_the_chosen_matrices_by_that_many_radians(rotated):
    angle = math.radians(10)
    env = gym.make("mbdl/LinearTracking-v0", mismatch=angle, rotated=rotated).unwrapped
    true, nominal = env.true_model, env.nominal_model
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    for name, field in (("F", "transition"), ("H", "observation")):
        expected = getattr(true, field).matrix @ (turn if name in rotated else np.eye(2))
        np.testing.assert_allclose(getattr(nominal, field).matrix, expected, atol=1e-15)
    report = env.mismatch_report()
    assert report["rotation_deg"] == pytest.approx(10.0)
    if rotated == "H":  # H = I: ‖R − I‖_F/‖I‖_F = 2 sin(α/2)
        assert report["rel_error_H"] == pytest.approx(2 * math.sin(angle / 2))
    np.testing.assert_array_equal(nominal.W, true.W)
    np.testing.assert_array_equal(nominal.V, true.V)


def test_a_rotation_of_a_scalar_state_is_refused():
    gym.make("mbdl/LinearTracking-v0", n=1)  # no mismatch: fine
    with pytest.raises(ValueError, match=r"needs n >= 2, got n = 1 with mismatch = 0\.1"):
        gym.make("mbdl/LinearTracking-v0", n=1, mismatch=0.1)


def test_measurements_and_states_follow_the_documented_draws():
    env = gym.make("mbdl/LinearTracking-v0", inverse_r2_db=0.0).unwrapped
    model = env.true_model
    y, info = env.reset(seed=3)
    generator = np.random.default_rng(3)  # Gymnasium seeds np_random like this
    z = generator.standard_normal(4)
    x = np.sqrt(model.x0_cov[0, 0]) * z[:2]
    np.testing.assert_allclose(info["state"], x)
    np.testing.assert_allclose(y, x + z[2:])  # r = 1
    y, reward, _, _, info = env.step(np.array([0.5, -0.5]))
    z = generator.standard_normal(4)
    assert reward == pytest.approx(-np.mean((np.array([0.5, -0.5]) - x) ** 2))
    x = model.transition.matrix @ x + np.sqrt(model.W[0, 0]) * z[:2]
    np.testing.assert_allclose(info["state"], x)
    np.testing.assert_allclose(y, x + z[2:])


def test_the_lorenz_flow_follows_the_ode():
    x = np.array([1.0, 2.0, 20.0])
    exact = solve_ivp(_lorenz, (0, 0.02), x, rtol=1e-12, atol=1e-12).y[:, -1]
    fine = LorenzFlow(order=5, substeps=100)(x)
    published = LorenzFlow(order=5)(x)
    coarse = LorenzFlow(order=2)(x)
    assert np.linalg.norm(fine - exact) < 2e-4 * np.linalg.norm(exact - x)  # first order
    for one_step in (published, coarse):  # the designer's error: 100 times the truth's
        assert np.linalg.norm(one_step - exact) > 50 * np.linalg.norm(fine - exact)
    assert np.linalg.norm(published - coarse) > 1e-4


def test_the_lorenz_flow_is_row_wise_and_the_same_in_torch():
    torch = pytest.importorskip("torch")
    rows = np.random.default_rng(0).normal(0, 10, (5, 3))
    flow = LorenzFlow(order=5, substeps=3)
    batch = flow(rows)
    np.testing.assert_array_equal(batch[2], flow(rows[2]))
    np.testing.assert_allclose(flow(torch.tensor(rows)).numpy(), batch, rtol=1e-14)
    spherical = Spherical()(rows)
    radius = np.linalg.norm(rows, axis=1)
    np.testing.assert_allclose(spherical[:, 0], radius)
    np.testing.assert_allclose(spherical[:, 1], np.arctan2(rows[:, 1], rows[:, 0]))
    np.testing.assert_allclose(spherical[:, 2], np.arccos(rows[:, 2] / radius))


@pytest.mark.parametrize(
    ("mismatch", "order"), [(0.0, 5), (0.2, 4), (0.5, 3), (1.0, 2), (1.5, 1), (100.0, 1)]
)
def test_the_designer_loses_taylor_terms_with_the_mismatch(mismatch, order):
    assert designer_order(mismatch, 5, 2) == order
    env = gym.make("mbdl/Lorenz-v0", mismatch=mismatch, substeps=10).unwrapped
    nominal = env.nominal_model.transition
    if mismatch == 0:
        assert env.nominal_model == env.true_model
    else:
        assert (nominal.order, nominal.substeps, nominal.dt) == (order, 1, 0.02)
        assert env.nominal_model.observation == env.true_model.observation
    error = env.mismatch_report()["rel_error_step"]
    assert error > 1e-3 if mismatch else error == pytest.approx(0.0, abs=1e-9)


def test_lorenz_starts_one_published_step_from_ones_and_observes_as_documented():
    env = gym.make("mbdl/Lorenz-v0", observation="rotated", inverse_r2_db=20.0).unwrapped
    model = env.true_model
    np.testing.assert_allclose(model.x0_mean, LorenzFlow()(np.ones(3)))
    np.testing.assert_allclose(model.x0_cov, 0.0001 * np.eye(3))  # q² = r²·10^(−2), r² = 0.01
    y, info = env.reset(seed=5)
    z = np.random.default_rng(5).standard_normal(6)
    np.testing.assert_allclose(info["state"], model.x0_mean + 0.01 * z[:3])
    np.testing.assert_allclose(y, roll_pitch_yaw(math.radians(1)) @ info["state"] + 0.1 * z[3:])


@pytest.mark.parametrize("env_id", ["mbdl/LinearTracking-v0", "mbdl/Lorenz-v0"])
def test_an_estimate_that_overflows_is_refused_and_changes_nothing(env_id):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    before = env._state.copy()
    with pytest.raises(ValueError, match="non-finite"):
        env.step(np.full(env.action_space.shape, 1e200))
    np.testing.assert_array_equal(env._state, before)
    vector = gym.make_vec(env_id, 3)
    vector.reset(seed=0)
    actions = np.zeros((3, *env.action_space.shape))
    actions[1] = 1e200
    with pytest.raises(ValueError, match=r"envs \[1\]"):
        vector.step(actions)
