import gymnasium as gym
import numpy as np
import pytest

from mbdl_control.agents import LQR
from mbdl_control.evaluation import episode_seeds, evaluate


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
