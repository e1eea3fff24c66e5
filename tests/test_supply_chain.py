"""The supply chain: its flows, its projection of infeasible orders and its convex policy, each
against cvxpy solving the same problem."""

import functools

import cvxpy as cp
import gymnasium as gym
import numpy as np
import pytest

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.agents import SupplyChainCOCP
from mbdl_control.envs.control.supply_chain_dynamics import SupplyChainDynamics
from mbdl_control.evaluation import evaluate
from mbdl_control.models.supply_chain import POLICY_RIDGE, SupplyChainModel, incidence

MODEL = SupplyChainModel()
DYNAMICS = SupplyChainDynamics(MODEL)


def _states(count, seed=0):
    return DYNAMICS.reset(np.random.default_rng(seed).standard_normal((count, 8)))[0]


def test_stocks_move_by_the_links_and_the_next_price_is_paid():
    x = _states(1)[0]
    u = np.zeros(8)
    u[0], u[2], u[6] = 0.5, 0.3, min(0.2, x[6])  # buy into node 1, ship 1 -> 3, sell from 3
    z = np.random.default_rng(1).standard_normal(8)
    applied, cost, flag, x_next, _ = DYNAMICS.step(x, u, z)
    assert flag == 0.0 and np.array_equal(applied, u)
    np.testing.assert_allclose(x_next[:4] - x[:4], [0.5 - 0.3, 0.0, 0.3 - u[6], 0.0])
    next_price = np.exp(MODEL.price_log_mean + MODEL.price_log_std * z[:2])
    np.testing.assert_allclose(x_next[4:6], next_price)
    stocks = x_next[:4]
    expected = (
        next_price[0] * 0.5 + 0.05 * 0.3 - 1.3 * u[6] + 0.01 * stocks.sum() + 0.01 * stocks @ stocks
    )
    assert cost == pytest.approx(expected, rel=1e-12)


def _feasible_set(u, x):
    into, out_of = incidence()
    stocks, demands = x[:4], x[6:]
    return [
        u >= 0,
        u <= MODEL.flow_max,
        out_of @ u <= stocks,
        stocks + (into - out_of) @ u <= MODEL.stock_max,
        u[6:] <= demands,
    ]


def test_infeasible_orders_become_their_projection_onto_the_feasible_flows():
    rng = np.random.default_rng(2)
    for x in _states(10, seed=3):
        requested = rng.uniform(-0.5, 2.5, 8)
        applied, flag = DYNAMICS.project(x, requested)
        u = cp.Variable(8)
        clipped = np.clip(requested, 0.0, MODEL.flow_max)
        cp.Problem(cp.Minimize(cp.sum_squares(u - clipped)), _feasible_set(u, x)).solve(
            solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12
        )
        np.testing.assert_allclose(applied, u.value, atol=1e-6)
        assert flag == 1.0


def test_the_convex_policy_solves_the_published_problem():
    agent = SupplyChainCOCP(MODEL)
    into, out_of = incidence()
    states = _states(8, seed=4)
    actions = agent.predict(states)[0]
    for x, action in zip(states, actions, strict=True):
        u = cp.Variable(8)
        stocks_next = x[:4] + (into - out_of) @ u
        costs = MODEL.flow_costs(x[4:6])
        objective = (
            costs @ u
            + cp.sum_squares(stocks_next)
            - 3 * cp.sum(stocks_next)
            + POLICY_RIDGE * cp.sum_squares(u)
        )
        problem = cp.Problem(cp.Minimize(objective), _feasible_set(u, x))
        problem.solve(solver="CLARABEL")
        value = costs @ action + np.sum((x[:4] + (into - out_of) @ action) ** 2)
        value += -3 * np.sum(x[:4] + (into - out_of) @ action) + POLICY_RIDGE * action @ action
        assert value == pytest.approx(problem.value, abs=1e-6)
    assert agent.diagnostics()["failed_solves"] == 0


def test_the_policy_makes_a_profit_where_doing_nothing_only_pays_storage():
    env = gym.make("mbdl/SupplyChain-v0")
    policy = evaluate(env.unwrapped.oracle(), env, 200, seed=0, compare_to_oracle=False)

    class Idle:
        def predict(self, observation, state=None, episode_start=None, deterministic=True):
            return np.zeros((*np.shape(observation)[:-1], 8)), None

    idle = evaluate(Idle(), env, 200, seed=0, compare_to_oracle=False)
    assert policy.mean_cost < 0 < idle.mean_cost


def test_the_market_mismatch_is_exact():
    env = gym.make("mbdl/SupplyChain-v0", mismatch=0.5).unwrapped
    nominal = env.nominal_model
    np.testing.assert_allclose(nominal.price_log_mean, MODEL.price_log_mean + 0.1)
    np.testing.assert_allclose(nominal.demand_log_mean, MODEL.demand_log_mean - 0.1)
    assert env.mismatch_report()["rel_error_price_log_std"] == pytest.approx(0.5)
    assert gym.make("mbdl/SupplyChain-v0").unwrapped.nominal_model == MODEL


def test_tuning_through_the_exact_layer_improves_on_the_published_start():
    """The published recipe (SGD 0.05, 200 iterations of 5 episodes) in the true model lowers
    the cost on fresh episodes by more than 0.05 per period (measured: −0.333 → −0.406,
    0.072 ± 0.003 paired over 500 episodes; published −0.279 → −0.341)."""
    env = gym.make("mbdl/SupplyChain-v0")
    start = evaluate(SupplyChainCOCP(MODEL), env, 300, seed=0, compare_to_oracle=False)
    tuned = _tuned_on_the_truth()
    assert tuned.learned_parameters()["q"].tolist() != [-3.0] * 4 and not tuned.diverged
    result = evaluate(tuned, env, 300, seed=0, oracle_result=start)
    assert -result.gap_to_oracle > 0.05 and -result.gap_to_oracle > 10 * result.gap_to_oracle_se


@functools.cache
def _tuned_on_the_truth():
    from mbdl_control.agents import LearnedSupplyChainCOCP

    agent = LearnedSupplyChainCOCP(MODEL, knowledge="true")
    agent.fit(None, seed=0, horizon=20)
    return agent


def test_the_oracle_is_mpc_on_the_truth_and_beats_the_tuned_convex_policy():
    """MPC (H = 5, shrinking at the episode's end) beats the convex policy tuned on the truth
    on fresh episodes, paired (measured: −0.679 against −0.413 per period, 1000 episodes);
    so does the receding-horizon MPC, by less (−0.422)."""
    from mbdl_control.agents import SupplyChainMPC

    env = gym.make("mbdl/SupplyChain-v0")
    oracle = env.unwrapped.oracle()
    assert isinstance(oracle, SupplyChainMPC) and oracle.episode_steps == 20
    tuned = evaluate(_tuned_on_the_truth(), env, 300, seed=2, compare_to_oracle=False)
    for agent in (oracle, SupplyChainMPC(MODEL, 5, knowledge="true")):
        mpc = evaluate(agent, env, 300, seed=2, oracle_result=tuned)
        assert -mpc.gap_to_oracle > 3 * mpc.gap_to_oracle_se


def test_bad_parameters_are_refused_by_name():
    with pytest.raises(ValueError, match="flow_max must be a positive finite float"):
        SupplyChainModel(flow_max=0.0)
    with pytest.raises(ValueError, match="shipping_cost must be a finite float >= 0"):
        SupplyChainModel(shipping_cost=-1.0)
    with pytest.raises(ValueError, match="P must have shape"):
        SupplyChainCOCP(MODEL, P=np.eye(3))


def test_mpc_solves_the_multi_period_problem():
    """The condensed QP against cvxpy on the problem with the stocks as variables."""
    from mbdl_control.agents import SupplyChainMPC

    horizon = 4
    agent = SupplyChainMPC(MODEL, horizon=horizon)
    into, out_of = incidence()
    price = np.exp(MODEL.price_log_mean + MODEL.price_log_std**2 / 2)
    demand = np.exp(MODEL.demand_log_mean + MODEL.demand_log_std**2 / 2)
    for x in _states(5, seed=6):
        u, h = cp.Variable((horizon, 8)), cp.Variable((horizon + 1, 4))
        constraints, objective = [h[0] == x[:4]], 0
        for k in range(horizon):
            demands = x[6:] if k == 0 else demand
            constraints += [
                h[k + 1] == h[k] + (into - out_of) @ u[k],
                u[k] >= 0,
                u[k] <= MODEL.flow_max,
                out_of @ u[k] <= h[k],
                h[k + 1] <= MODEL.stock_max,
                u[k, 6:] <= demands,
            ]
            objective += MODEL.flow_costs(price) @ u[k] + 0.01 * cp.sum(h[k + 1])
            objective += 0.01 * cp.sum_squares(h[k + 1]) + POLICY_RIDGE * cp.sum_squares(u[k])
        cp.Problem(cp.Minimize(objective), constraints).solve(
            solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12
        )
        np.testing.assert_allclose(agent.predict(x)[0], u.value[0], atol=1e-6)
    assert agent.diagnostics()["failed_solves"] == 0


def test_the_market_fit_is_the_log_normal_maximum_likelihood():
    """Against scipy's maximum-likelihood fit of each price and demand (location 0): the
    log-means exactly, the pooled spread as the root mean square of the two."""
    from scipy import stats

    from mbdl_control.blocks.grey_box_identification import identify_market

    states = _states(5000, seed=7)
    fitted = identify_market(MODEL, states)
    fits = [stats.lognorm.fit(states[:, column], floc=0) for column in range(4, 8)]
    np.testing.assert_allclose(
        np.r_[fitted.price_log_mean, fitted.demand_log_mean],
        [np.log(scale) for _, _, scale in fits],
        atol=1e-6,
    )
    spreads = np.array([shape for shape, _, _ in fits])
    assert fitted.price_log_std == pytest.approx(np.sqrt(np.mean(spreads[:2] ** 2)), rel=1e-5)
    assert fitted.demand_log_std == pytest.approx(np.sqrt(np.mean(spreads[2:] ** 2)), rel=1e-5)
    np.testing.assert_allclose(fitted.price_log_mean, MODEL.price_log_mean, atol=0.01)


def test_mpc_plans_no_further_than_the_episode_end():
    """At period t of a T-period episode the plan covers min(H, T − t) periods."""
    from mbdl_control.agents import SupplyChainMPC

    states = _states(6, seed=9)
    shrinking = SupplyChainMPC(MODEL, horizon=5, episode_steps=20)
    for t, length in ((0, 5), (16, 4), (19, 1)):
        steps = np.full(len(states), t)
        actions, after = shrinking.predict(states, steps, np.zeros(len(states), dtype=bool))
        np.testing.assert_array_equal(actions, SupplyChainMPC(MODEL, length).predict(states)[0])
        np.testing.assert_array_equal(after, steps + 1)
    last = SupplyChainMPC(MODEL, 1).predict(states)[0]
    np.testing.assert_allclose(last[:, :2], 0.0, atol=1e-9)  # nothing bought too late to sell


def test_the_published_validation_episode_is_reproduced_on_its_own_draws():
    """The published −0.279 is one episode: torch seed 0, batch 1, its order of draws (written
    here as in the notebook), repeated 10 times. Our untuned policy on that episode costs
    −0.27863 per period, the published −0.27864; episodes have a spread of 0.12 per period,
    so the published figure says little of the mean (ours −0.332 ± 0.004 on 1000)."""
    import torch

    into, out_of = incidence()
    market = torch.distributions.LogNormal(
        torch.tensor([0.0, 0.1, 0.0, 0.4], dtype=torch.float64),
        torch.full((4,), 0.2, dtype=torch.float64),
    )
    agent = SupplyChainCOCP(MODEL)
    torch.manual_seed(0)
    stocks = (3 * torch.rand(1, 4, 1).double()).numpy().ravel()
    x = np.r_[stocks, market.sample((1,)).numpy().ravel()]
    total = 0.0
    for _ in range(20):
        u = agent.predict(x)[0]
        draw = market.sample((1,)).numpy().ravel()
        x = np.r_[x[:4] + (into - out_of) @ u, draw]
        total += MODEL.flow_costs(draw[:2]) @ u + MODEL.storage_cost(x[:4])
    assert total / 20 == pytest.approx(-0.27864, abs=2e-5)
