"""``predict`` tells one observation from a batch by the agent's observation space, any space."""

import gymnasium as gym
import numpy as np
import pytest

from mbdl_control.core import BaseAgent, as_batch

#: MIMO detection's observation: received samples and the channel estimate (a matrix)
MIMO = gym.spaces.Dict(
    {
        "y": gym.spaces.Box(-np.inf, np.inf, (6,), np.float64),
        "H": gym.spaces.Box(-np.inf, np.inf, (6, 4), np.float64),
    }
)


class SignDetector(BaseAgent):
    """Detects ±1 symbols by the sign of the matched filter ``Hᵀy``: integer actions."""

    family = "model-based"
    action_dtype = np.int64
    observation_space = MIMO

    @property
    def config(self):
        return {"knowledge": self.knowledge}

    def _act(self, observations, state, episode_start):
        matched = np.einsum("bij,bi->bj", observations["H"], observations["y"])
        return np.where(matched >= 0, 1, -1), None


def _mimo(batch=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = () if batch is None else (batch,)
    return {"y": rng.standard_normal((*shape, 6)), "H": rng.standard_normal((*shape, 6, 4))}


def test_dict_observations_one_or_a_batch():
    agent = SignDetector()
    one, _ = agent.predict(_mimo())
    many, _ = agent.predict(_mimo(batch=5))
    assert one.shape == (4,) and many.shape == (5, 4)
    assert one.dtype == np.int64 and set(np.unique(many)) <= {-1, 1}
    batch = _mimo(batch=3)
    rows = [agent.predict({key: value[i] for key, value in batch.items()})[0] for i in range(3)]
    np.testing.assert_array_equal(agent.predict(batch)[0], np.stack(rows))


def test_matrix_observations_are_not_taken_for_a_batch():
    space = gym.spaces.Box(-1.0, 1.0, (6, 4), np.float32)
    batch, single = as_batch(np.zeros((6, 4), np.float32), space)
    assert single and batch.shape == (1, 6, 4) and batch.dtype == np.float64
    batch, single = as_batch(np.zeros((2, 6, 4)), space)
    assert not single and batch.shape == (2, 6, 4)
    symbols = gym.spaces.Box(0, 3, (5,), np.int64)
    assert as_batch([0, 1, 2, 3, 0], symbols)[0].dtype == np.int64


def test_bad_observations_name_what_is_expected():
    agent = SignDetector()
    with pytest.raises(ValueError, match=r"observation\['H'\] must have shape \(6, 4\)"):
        agent.predict({"y": np.zeros(6), "H": np.zeros((4, 6))})
    with pytest.raises(ValueError, match=r"a dict with keys \['H', 'y'\]"):
        agent.predict(np.zeros(6))
    with pytest.raises(ValueError, match="all be one observation or all a batch"):
        agent.predict({"y": np.zeros((2, 6)), "H": np.zeros((6, 4))})
