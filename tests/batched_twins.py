"""The check every block env's batched twin passes: equal to Gymnasium's sync vector env of
single envs, bit for bit, through episodes, autoresets and a partial reset. Observations are
``Dict`` spaces compared at ``keys``, or arrays (``keys=None``)."""

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode


def assert_same_observations(ours, theirs, keys):
    """Two batches of observations equal: at ``keys`` of a ``Dict``, or whole arrays."""
    if keys is None:
        np.testing.assert_array_equal(ours, theirs)
    for key in keys or ():
        np.testing.assert_array_equal(ours[key], theirs[key])


def assert_same_step(ours, theirs, keys):
    """Two vector-env step results equal: observations (``keys``), rewards, terminations,
    truncations, and infos with their dtypes."""
    assert_same_observations(ours[0], theirs[0], keys)
    for mine, reference in zip(ours[1:4], theirs[1:4], strict=True):
        np.testing.assert_array_equal(mine, reference)
    assert sorted(ours[4]) == sorted(theirs[4])
    for key, value in theirs[4].items():
        np.testing.assert_array_equal(ours[4][key], value)
        assert ours[4][key].dtype == value.dtype, key


def assert_batched_equals_sync(env_id, kwargs, vector_class, keys=None):
    """``make_vec(env_id, 4, "vector_entry_point")`` is a ``vector_class`` that steps as
    ``make_vec(env_id, 4, "sync")`` with the same seeds and random actions."""
    batched = gym.make_vec(env_id, 4, vectorization_mode="vector_entry_point", **kwargs)
    reference = gym.make_vec(env_id, 4, vectorization_mode="sync", **kwargs)
    assert isinstance(batched.unwrapped, vector_class)
    assert batched.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert batched.observation_space == reference.observation_space
    assert batched.action_space == reference.action_space
    (ours, our_info), (theirs, their_info) = batched.reset(seed=11), reference.reset(seed=11)
    assert our_info == their_info == {}
    assert_same_observations(ours, theirs, keys)
    batched.action_space.seed(0)
    for t in range(9):  # episodes, their restarts, and a partial reset in between
        if t == 4:
            mask = np.array([True, False, True, False])
            ours, _ = batched.reset(options={"reset_mask": mask})
            theirs, _ = reference.reset(options={"reset_mask": mask})
            assert_same_observations(ours, theirs, keys)
        actions = batched.action_space.sample()
        assert_same_step(batched.step(actions), reference.step(actions), keys)
