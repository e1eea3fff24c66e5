"""The native batched envs: the same trajectories as Gymnasium's sync vector env of single envs."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from mbdl_control.envs import ENV_SPECS
from mbdl_control.envs.control import ControlVectorEnv
from mbdl_control.envs.estimation.tracking import TrackingVectorEnv
from mbdl_control.envs.normal_streams import NormalStreams

ENV_IDS = sorted(ENV_SPECS)
#: the control envs (the block envs' batched twins are tested in tests/test_isi_channel.py,
#: tests/test_mimo_detection.py and tests/test_sparse_envs.py)
CONTROL_IDS = [env_id for env_id in ENV_IDS if ENV_SPECS[env_id][0].startswith("control:")]
#: the envs whose episodes are trajectories of a state (control and estimation)
TRAJECTORY_IDS = [
    env_id for env_id in ENV_IDS if ENV_SPECS[env_id][0].startswith(("control:", "estimation:"))
]
#: BLAS sums a batch's products in another order than one row's: equal to rounding
CLOSE = {"rtol": 1e-12, "atol": 1e-12}


def assert_same_step(batched, reference):
    for ours, theirs in zip(batched[:4], reference[:4], strict=True):
        np.testing.assert_allclose(ours, theirs, **CLOSE)
    assert batched[4].keys() == reference[4].keys()
    for key in ("state", "cost", "applied_action", "saturated"):
        if key not in reference[4]:  # every env restarted: no step info
            continue
        mask = reference[4][f"_{key}"]
        np.testing.assert_array_equal(batched[4][f"_{key}"], mask)
        np.testing.assert_allclose(batched[4][key][mask], reference[4][key][mask], **CLOSE)


@pytest.mark.parametrize("env_id", TRAJECTORY_IDS)
def test_batched_env_matches_sync_vector_env_through_autoresets(env_id):
    kwargs = {"mismatch": 0.3, "max_episode_steps": 7}
    batched = gym.make_vec(env_id, 4, vectorization_mode="vector_entry_point", **kwargs)
    reference = gym.make_vec(env_id, 4, vectorization_mode="sync", **kwargs)
    assert isinstance(batched.unwrapped, ControlVectorEnv | TrackingVectorEnv)
    assert batched.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert batched.observation_space == reference.observation_space
    assert batched.action_space == reference.action_space
    (ours, our_info), (theirs, their_info) = batched.reset(seed=11), reference.reset(seed=11)
    np.testing.assert_allclose(ours, theirs, **CLOSE)
    np.testing.assert_allclose(our_info["state"], their_info["state"], **CLOSE)
    rng = np.random.default_rng(0)
    for t in range(30):  # four episodes and their restarts, inputs often clipped
        if t == 12:  # restart two envs mid-episode: their streams move apart from the others'
            mask = np.array([True, False, True, False])
            ours, _ = batched.reset(options={"reset_mask": mask})
            theirs, _ = reference.reset(options={"reset_mask": mask})
            np.testing.assert_allclose(ours, theirs, **CLOSE)
        actions = rng.uniform(-0.3, 0.3, batched.action_space.shape)
        assert_same_step(batched.step(actions), reference.step(actions))


def test_registered_default_is_the_native_batch_with_the_single_envs_models():
    batched = gym.make_vec("mbdl/BoxLQR-v0", 3, mismatch=0.2)
    single = gym.make("mbdl/BoxLQR-v0", mismatch=0.2).unwrapped
    vector = batched.unwrapped
    assert isinstance(vector, ControlVectorEnv) and vector.num_envs == 3
    assert vector.true_model == single.true_model and vector.nominal_model == single.nominal_model
    assert vector.max_episode_steps == 100
    assert vector.performance_bound() == single.performance_bound()
    assert vector.mismatch_report() == single.mismatch_report()
    assert vector.oracle().knowledge == "true"


def test_seed_lists_and_the_int_convention_agree():
    batched = gym.make_vec("mbdl/LQG-v0", 3)
    from_int, _ = batched.reset(seed=5)
    from_list, _ = batched.reset(seed=[5, 6, 7])
    np.testing.assert_array_equal(from_int, from_list)
    single, _ = gym.make("mbdl/LQG-v0").reset(seed=6)
    np.testing.assert_allclose(from_list[1], single, **CLOSE)


def test_bad_input_raises_clear_errors():
    batched = gym.make_vec("mbdl/BoxLQR-v0", 2)
    with pytest.raises(RuntimeError, match="reset"):
        batched.step(np.zeros((2, 2)))
    batched.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must have shape \(2, 2\)"):
        batched.step(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        batched.step(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="2 seeds, got 3"):
        batched.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match="reset_mask"):
        batched.reset(options={"reset_mask": [True]})
    with pytest.raises(ValueError, match="render_mode must be None"):
        gym.make_vec("mbdl/BoxLQR-v0", 2, render_mode="ansi")
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        gym.make_vec("mbdl/BoxLQR-v0", 0)


def test_normal_streams_equal_one_generator_per_env_drawn_call_by_call():
    streams = NormalStreams(num_envs=3, width=2, block=4)
    rows = np.arange(3)
    streams.seed(rows, [7, 8, None])
    generators = [np.random.default_rng(7), np.random.default_rng(8)]
    for call in range(11):  # several blocks; rows 0 and 1 drift apart in between
        drawn = rows if call % 3 else np.array([0])
        draws = streams.draw(drawn)
        for row, values in zip(drawn, draws, strict=True):
            if row < 2:
                np.testing.assert_array_equal(values, generators[row].standard_normal(2))
