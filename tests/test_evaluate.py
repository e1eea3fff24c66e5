import importlib

import gymnasium as gym
import numpy as np
import pytest

from mbdl_control.agents import COCP, LQG, LQR, MPC, Budget, SaturatedLQR
from mbdl_control.evaluation import episode_seeds, evaluate
from mbdl_control.evaluation.budget import CountingEnv
from mbdl_control.evaluation.evaluate import batched_env

evaluate_module = importlib.import_module("mbdl_control.evaluation.evaluate")  # not the function


def test_common_random_numbers_make_paired_gaps_precise():
    env = gym.make("mbdl/LinearQuadratic-v0", mismatch=0.1)
    nominal = LQR(env.unwrapped.nominal_model)
    result = evaluate(nominal, env, n_episodes=40, seed=5)
    again = evaluate(nominal, env, n_episodes=40, seed=5)
    np.testing.assert_array_equal(result.episode_costs, again.episode_costs)
    assert result.gap_to_oracle_se < result.std_error / 3
    assert result.gap_to_oracle > 3 * result.gap_to_oracle_se  # 40 episodes resolve the gap
    assert result.gap_to_oracle == pytest.approx(result.mean_cost - result.oracle_cost)
    assert result.gap_to_bound == pytest.approx(result.mean_cost - result.bound)
    assert result.n_episodes == 40 and result.episode_seeds == episode_seeds(5, 40)


def test_oracle_gap_of_oracle_is_zero_and_results_can_be_reused():
    env = gym.make("mbdl/LQG-v0")
    oracle = evaluate(env.unwrapped.oracle(), env, 10, seed=0, compare_to_oracle=False)
    result = evaluate(env.unwrapped.oracle(), env, 10, seed=0, oracle_result=oracle)
    assert result.gap_to_oracle == 0.0 and result.gap_to_oracle_se == 0.0
    with pytest.raises(ValueError, match="oracle_result was evaluated on other episodes"):
        evaluate(env.unwrapped.oracle(), env, 10, seed=1, oracle_result=oracle)


def test_evaluate_accepts_an_id_and_rejects_bad_arguments():
    env = gym.make("mbdl/LinearQuadratic-v0")
    result = evaluate(env.unwrapped.oracle(), "mbdl/LinearQuadratic-v0", 2, compare_to_oracle=False)
    assert np.isfinite(result.mean_cost) and result.metrics == {"saturated": 0.0}
    with pytest.raises(ValueError, match="n_episodes must be a positive integer"):
        evaluate(env.unwrapped.oracle(), env, 0)
    with pytest.raises(TypeError, match="predict"):
        evaluate(object(), env, 1)


@pytest.mark.parametrize("env_id", ["mbdl/LinearQuadratic-v0", "mbdl/LQG-v0", "mbdl/BoxLQR-v0"])
def test_shortened_episodes_get_their_own_oracle_and_bound(env_id):
    env = gym.make(env_id, max_episode_steps=10)
    result = evaluate(env.unwrapped.oracle(10), env, 300, seed=2)
    assert result.bound == env.unwrapped.performance_bound(10) != env.unwrapped.performance_bound()
    assert result.oracle_cost > result.bound - 3 * result.std_error
    if env_id != "mbdl/BoxLQR-v0":  # the LQ bounds are attained by the oracle
        assert abs(result.oracle_cost - result.bound) < 4 * result.std_error


@pytest.mark.parametrize(
    ("env_id", "make_agent"),
    [
        ("mbdl/LinearQuadratic-v0", lambda model: LQR(model, horizon=100)),
        ("mbdl/LQG-v0", lambda model: LQG(model, horizon=100)),
        ("mbdl/BoxLQR-v0", lambda model: SaturatedLQR(model)),
        ("mbdl/BoxLQR-v0", lambda model: COCP(model)),  # batches solved by box_qp
        ("mbdl/BoxLQR-v0", lambda model: MPC(model, horizon=5)),
    ],
)
def test_batched_evaluation_equals_episode_by_episode(env_id, make_agent, monkeypatch):
    monkeypatch.setattr(evaluate_module, "MAX_BATCH", 7)  # 20 episodes: batches of 7, 7, 6
    env = gym.make(env_id, mismatch=0.2)
    agent = make_agent(env.unwrapped.nominal_model)
    batched = evaluate(agent, env, 20, seed=3, batched=True)
    one_by_one = evaluate(agent, env, 20, seed=3, batched=False)
    np.testing.assert_allclose(batched.episode_costs, one_by_one.episode_costs, rtol=1e-12)
    assert batched.gap_to_oracle == pytest.approx(one_by_one.gap_to_oracle, rel=1e-9)
    for key in env.unwrapped.task_metrics:  # (the agent's counters add up over both runs)
        assert batched.metrics[key] == pytest.approx(one_by_one.metrics[key], rel=1e-12)


def test_batched_evaluation_only_where_it_is_the_same_env_and_agent():
    env = gym.make("mbdl/LinearQuadratic-v0")
    agent = LQR(env.unwrapped.nominal_model)
    assert batched_env(env, 2) is not None
    assert batched_env(gym.wrappers.ClipReward(env, -1.0, 1.0), 2) is None
    assert batched_env(CountingEnv(env, Budget(steps=10)), 2) is None
    with pytest.raises(ValueError, match="no batched version"):
        evaluate(agent, CountingEnv(env, Budget(steps=10**6)), 2, batched=True)

    class OneAtATime(LQR):
        acts_on_batches = False

    with pytest.raises(ValueError, match="OneAtATime does not act on batches"):
        evaluate(OneAtATime(env.unwrapped.nominal_model), env, 2, batched=True)
    fallback = evaluate(OneAtATime(env.unwrapped.nominal_model), env, 3, seed=1)
    np.testing.assert_allclose(
        fallback.episode_costs, evaluate(agent, env, 3, seed=1).episode_costs
    )


def test_a_bound_that_cannot_be_computed_is_none_and_says_why(monkeypatch):
    env = gym.make("mbdl/BoxLQR-v0", max_episode_steps=10)

    def unsolved(horizon):
        raise RuntimeError("the bound's SDP was not solved to optimality: infeasible")

    monkeypatch.setattr(env.unwrapped, "_compute_bound", unsolved)
    result = evaluate(env.unwrapped.oracle(10), env, n_episodes=2, seed=0)
    assert result.bound is None and result.gap_to_bound is None and result.gap_to_oracle == 0
    assert "not solved to optimality" in env.unwrapped.bound_failure
