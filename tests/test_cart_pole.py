"""The cart-pole's physics, its linearization and nonlinear MPC, each against an independent
answer (the Euler-Lagrange equations, finite differences, linear MPC, SciPy's SLSQP), and
neural-augmented MPC against the nominal model it corrects."""

import gymnasium as gym
import numpy as np
import pytest
import scipy.optimize
import torch

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import MPC, Budget, NeuralAugmentedMPC, NonlinearMPC
from mbdl_control.blocks.exploration import dithered_lqr_transitions
from mbdl_control.blocks.nonlinear_mpc import NonlinearMPCPolicy, autograd_jacobians
from mbdl_control.blocks.residual_dynamics import residuals
from mbdl_control.evaluation import evaluate
from mbdl_control.evaluation.budget import CountingEnv
from mbdl_control.models import LinearGaussianModel, matrix_like
from mbdl_control.models.cart_pole import CartPoleModel

MODEL = CartPoleModel(cart_friction=0.5, pole_friction=0.01)


def _random_states(count, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=[1.0, 1.0, 2.0, 2.0], size=(count, 4)), rng.normal(0, 5, (count, 1))


def test_accelerations_solve_the_euler_lagrange_equations():
    """(M+m)ẍ + mlcθ̈ = F − b_c ẋ + mlθ̇²s and mlcẍ + (4/3)ml²θ̈ = mgls − b_p θ̇, solved as a
    2 x 2 linear system per state."""
    states, forces = _random_states(50)
    x_acc, theta_acc = MODEL.accelerations(states, forces)
    M, m, length, g = MODEL.cart_mass, MODEL.pole_mass, MODEL.pole_length, MODEL.gravity
    for (_, v, theta, rate), force, a, alpha in zip(states, forces, x_acc, theta_acc, strict=True):
        s, c = np.sin(theta), np.cos(theta)
        mass = np.array([[M + m, m * length * c], [m * length * c, 4 / 3 * m * length**2]])
        generalized = np.array(
            [
                force[0] - MODEL.cart_friction * v + m * length * rate**2 * s,
                m * g * length * s - MODEL.pole_friction * rate,
            ]
        )
        np.testing.assert_allclose([a, alpha], np.linalg.solve(mass, generalized), rtol=1e-12)


def test_step_takes_numpy_and_torch_alike_and_wraps_the_angle():
    states, forces = _random_states(20, seed=1)
    stepped = MODEL.step(states, forces)
    in_torch = MODEL.step(torch.from_numpy(states), torch.from_numpy(forces)).numpy()
    np.testing.assert_allclose(in_torch, stepped, rtol=1e-12, atol=1e-12)
    assert np.all((stepped[:, 2] >= -np.pi) & (stepped[:, 2] < np.pi))
    np.testing.assert_allclose(MODEL.step(states[0], forces[0]), stepped[0])


def test_linearization_equals_central_differences():
    linear = MODEL.linearized()
    h = 1e-6
    columns = []
    for j in range(5):
        e = np.zeros(5)
        e[j] = h
        plus = MODEL.step(e[:4], e[4:], wrap=False)
        minus = MODEL.step(-e[:4], -e[4:], wrap=False)
        columns.append((plus - minus) / (2 * h))
    np.testing.assert_allclose(np.hstack([linear.A, linear.B]), np.array(columns).T, atol=1e-8)
    assert linear.u_max.tolist() == [10.0] and np.array_equal(linear.Q, MODEL.Q)


def test_both_jacobians_equal_central_differences_along_a_trajectory():
    states, forces = _random_states(8, seed=2)
    A, B = autograd_jacobians(MODEL, states, forces)
    complex_A, complex_B = MODEL.jacobians(states, forces)
    np.testing.assert_allclose(complex_A, A, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(complex_B, B, rtol=1e-12, atol=1e-14)
    h = 1e-6
    for row in range(len(states)):
        for j in range(4):
            e = np.zeros(4)
            e[j] = h
            difference = MODEL.step(states[row] + e, forces[row], False) - MODEL.step(
                states[row] - e, forces[row], False
            )
            np.testing.assert_allclose(A[row, :, j], difference / (2 * h), atol=1e-7)
        difference = MODEL.step(states[row], forces[row] + h, False) - MODEL.step(
            states[row], forces[row] - h, False
        )
        np.testing.assert_allclose(B[row, :, 0], difference / (2 * h), atol=1e-7)


class _LinearPlant:
    """A linear-Gaussian model seen through the nonlinear-model protocol."""

    def __init__(self, model):
        self.model, self.n, self.m = model, model.n, model.m
        self.Q, self.R, self.u_max = model.Q, model.R, model.u_max

    def step(self, x, u, wrap=True):
        return x @ matrix_like(self.model.A, x).T + u @ matrix_like(self.model.B, x).T

    def jacobians(self, x, u):
        shape = x.shape[:-1]
        return np.broadcast_to(self.model.A, (*shape, self.n, self.n)), np.broadcast_to(
            self.model.B, (*shape, self.n, self.m)
        )

    def linearized(self):
        return self.model


def test_on_a_linear_model_one_iteration_is_linear_mpc():
    """From an empty plan, one SCP step solves exactly the linear MPC's condensed QP."""
    env = gym.make("mbdl/BoxLQR-v0")
    model = env.unwrapped.true_model
    policy = NonlinearMPCPolicy(_LinearPlant(model), horizon=10)
    mpc = MPC(model, horizon=10)
    for x in np.random.default_rng(3).normal(0, 2, (10, model.n)):
        action, _ = policy.act(x[None], None, np.array([True]))
        np.testing.assert_allclose(action[0], mpc.predict(x)[0], atol=1e-6)


def _plan_cost(policy, x, flat):
    states = policy.rollout(x[None], flat.reshape(1, policy.horizon, 1))[0]
    model = policy.model
    stages = sum(s @ model.Q @ s for s in states[:-1]) + model.R[0, 0] * flat @ flat
    return stages + states[-1] @ policy.P @ states[-1]


def test_converged_plans_match_scipy_slsqp_on_the_nonlinear_problem():
    """Iterated to convergence, SCP reaches the cost of SLSQP's local optimum of the same
    problem (single shooting, the force bounds as box constraints)."""
    policy = NonlinearMPCPolicy(MODEL, horizon=15, iterations=30)
    bound = MODEL.force_max
    for x in (np.array([0.2, 0.0, 0.4, 0.0]), np.array([-0.5, 0.3, -0.6, 0.5])):
        plan = policy.initial_plans(1)
        for _ in range(30):
            plan, solved = policy.improve(x[None], plan)
            assert solved.all()
        ours = _plan_cost(policy, x, plan.ravel())
        reference = scipy.optimize.minimize(
            lambda flat, x=x: _plan_cost(policy, x, flat),
            np.zeros(policy.horizon),
            method="SLSQP",
            bounds=[(-bound, bound)] * policy.horizon,
            options={"ftol": 1e-12, "maxiter": 500},
        )
        assert reference.success
        assert ours <= reference.fun * (1 + 1e-6)
        assert ours == pytest.approx(reference.fun, rel=1e-4)


def test_nonlinear_mpc_stabilizes_where_its_plan_needs_the_bound():
    """From 0.5 rad the force saturates; NMPC on the truth brings the pole back up."""
    env = gym.make("mbdl/CartPole-v0", noise_std=0.0, x0_std=0.0)
    agent = env.unwrapped.oracle()
    env.reset(seed=0)
    env.unwrapped._state = np.array([0.0, 0.0, 0.5, 0.0])
    x, state, at_bound = env.unwrapped._state.copy(), None, 0
    for t in range(200):
        action, state = agent.predict(x, state, np.array([t == 0]))
        x, _, _, _, _ = env.step(action)
        at_bound += abs(action[0]) >= 10.0 - 1e-9
        assert abs(x[2]) < 1.0
    assert at_bound > 0 and abs(x[2]) < 0.02 and agent.diagnostics()["failed_solves"] == 0


def test_nominal_model_and_mismatch_report():
    env = gym.make("mbdl/CartPole-v0", mismatch=0.5).unwrapped
    assert gym.make("mbdl/CartPole-v0").unwrapped.nominal_model == env.true_model
    report = env.mismatch_report()
    assert report["rel_error_cart_mass"] == pytest.approx(0.5)
    assert report["rel_error_pole_mass"] == pytest.approx(0.5 / 1.5)
    assert report["rel_error_cart_friction"] == 1.0
    assert env.performance_bound() is None


def test_bad_models_and_agents_are_refused_by_name():
    with pytest.raises(ValueError, match="pole_length must be a positive finite float"):
        CartPoleModel(pole_length=-1.0)
    with pytest.raises(ValueError, match="cart_friction must be a finite float >= 0"):
        CartPoleModel(cart_friction=float("nan"))
    with pytest.raises(TypeError, match="NonlinearMPC is built on a nonlinear control model"):
        NonlinearMPC(gym.make("mbdl/BoxLQR-v0").unwrapped.true_model)
    with pytest.raises(ValueError, match="trust_region must be a positive float"):
        NonlinearMPC(MODEL, trust_region=0.0)
    with pytest.raises(ValueError, match="task must be one of"):
        gym.make("mbdl/CartPole-v0", task="juggle")
    assert isinstance(MPC(MODEL).model, LinearGaussianModel)


def test_an_unfitted_neural_augmented_mpc_is_nmpc_on_the_nominal_model():
    env = gym.make("mbdl/CartPole-v0", mismatch=0.5)
    nominal = env.unwrapped.nominal_model
    states = np.random.default_rng(4).normal(0, 0.3, (8, 4))
    starts = np.ones(8, dtype=bool)
    augmented = NeuralAugmentedMPC(nominal).predict(states, None, starts)[0]
    nmpc = NonlinearMPC(nominal).predict(states, None, starts)[0]
    np.testing.assert_allclose(augmented, nmpc, atol=1e-9)  # autograd vs complex-step Jacobians


def test_the_hybrid_linearization_equals_central_differences():
    from mbdl_control.blocks.residual_dynamics import ResidualModel, residual_network

    torch.manual_seed(0)
    network = residual_network(4, 1, 8)
    torch.nn.init.normal_(network[-1].weight, std=0.1)
    hybrid = ResidualModel(MODEL, network, np.stack((np.zeros(5), np.ones(5), np.ones(5))))
    linear, h = hybrid.linearized(), 1e-6
    for j in range(5):
        e = np.zeros(5)
        e[j] = h
        column = (hybrid.step(e[:4], e[4:], False) - hybrid.step(-e[:4], -e[4:], False)) / (2 * h)
        np.testing.assert_allclose(np.hstack([linear.A, linear.B])[:, j], column, atol=1e-8)


def test_neural_augmented_mpc_learns_what_the_nominal_model_misses():
    """At mismatch 0.5 (wrong masses and length, no friction), 1000 env steps make the hybrid
    predict the system's transitions far better than the nominal physics, and close most of
    NMPC's gap to the oracle (measured: 0.050 ± 0.013 -> 0.003 ± 0.001 per step)."""
    env = gym.make("mbdl/CartPole-v0", mismatch=0.5)
    base = env.unwrapped
    agent = NeuralAugmentedMPC(base.nominal_model)
    counted = CountingEnv(gym.make("mbdl/CartPole-v0", mismatch=0.5), Budget(steps=1000))
    report = agent.fit(counted, Budget(steps=1000), seed=0)
    assert report.steps == counted.steps_used == 1000 and agent.spectrum.n_parameters > 0
    states, inputs, next_states = dithered_lqr_transitions(
        gym.make("mbdl/CartPole-v0"), base.nominal_model.linearized(), 500, 0.3, seed=7
    )
    truth = residuals(base.true_model, states, inputs, next_states)  # the noise alone
    errors = {
        name: np.mean((residuals(model, states, inputs, next_states) - truth) ** 2)
        for name, model in (("nominal", base.nominal_model), ("hybrid", agent.hybrid))
    }
    assert errors["hybrid"] < errors["nominal"] / 20
    learned = evaluate(agent, env, n_episodes=30, seed=1000)
    nominal = evaluate(NonlinearMPC(base.nominal_model), env, n_episodes=30, seed=1000)
    assert nominal.gap_to_oracle > 2 * nominal.gap_to_oracle_se
    assert learned.gap_to_oracle < nominal.gap_to_oracle / 3


def test_the_convex_policy_is_tuned_on_the_nonlinear_closed_loop():
    """On the cart-pole, LearnedCOCP writes its problem on the linearization but simulates the
    nonlinear model itself; its checkpoint names the model it was given."""
    from mbdl_control.agents import LearnedCOCP

    agent = LearnedCOCP(MODEL, iterations=2)
    simulator = agent._simulator(agent.model)
    x, u = torch.zeros(1, 4, dtype=torch.float64), torch.full((1, 1), 3.0, dtype=torch.float64)
    x[0, 2] = 0.8  # far from upright, where the linearization is wrong
    np.testing.assert_allclose(simulator.transition(x, u).numpy(), MODEL.step(x.numpy(), u.numpy()))
    assert isinstance(agent.model, LinearGaussianModel) and agent.config["model"] == MODEL


def test_the_swing_up_oracle_brings_the_pole_over_the_top_and_holds_it():
    env = gym.make("mbdl/CartPole-v0", task="swing_up", max_episode_steps=250)
    agent = env.unwrapped.oracle()
    x, _ = env.reset(seed=0)
    assert abs(x[2]) > 2.5  # hanging down
    state, angles = None, []
    for t in range(250):
        action, state = agent.predict(x, state, np.array([t == 0]))
        x, _, _, _, _ = env.step(action)
        angles.append(abs(x[2]))
    assert max(angles[-50:]) < 0.2


def test_the_hybrid_wraps_after_its_correction_in_numpy_and_torch():
    from mbdl_control.blocks.residual_dynamics import ResidualModel, residual_network

    network = residual_network(4, 1, 4)
    torch.nn.init.constant_(network[-1].bias, 1.0)  # a correction of +1 rad on the angle
    hybrid = ResidualModel(MODEL, network, np.stack((np.zeros(5), np.ones(5), np.ones(5))))
    x, u = np.array([[0.0, 0.0, 3.0, 0.0]]), np.zeros((1, 1))
    stepped = hybrid.step(x, u)
    assert -np.pi <= stepped[0, 2] < np.pi
    np.testing.assert_allclose(
        hybrid.step(torch.from_numpy(x), torch.from_numpy(u)).detach(), stepped
    )
