"""Every env renders: ``rgb_array`` strip charts (what SB3's helpers and ``RecordVideo`` ask
for) and the ``ansi`` line, through the generic ``_record`` hook of ``PartiallyKnownEnv``."""

import warnings
from itertools import pairwise

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import AddRenderObservation, HumanRendering, RenderCollection

from mbdl_control.envs import ENV_SPECS
from mbdl_control.envs.base import PartiallyKnownEnv
from mbdl_control.envs.rendering import FRAME_SIZE, RENDER_HISTORY, strip_chart

ENV_IDS = sorted(ENV_SPECS)
FRAME_SHAPE = (*FRAME_SIZE, 3)


def frames_of(env: gym.Env, steps: int, seed: int = 0) -> list[np.ndarray]:
    """The frame after ``reset`` and after each of ``steps`` random actions."""
    env.reset(seed=seed)
    env.action_space.seed(seed)
    frames = [env.render()]
    for _ in range(steps):
        env.step(env.action_space.sample())
        frames.append(env.render())
    return frames


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rgb_array_frames_chart_the_episode(env_id):
    frames = frames_of(gym.make(env_id, render_mode="rgb_array"), steps=5)
    for frame in frames:
        assert frame.dtype == np.uint8 and frame.shape == FRAME_SHAPE
        assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 2  # traces, not a blank frame
    for before, after in pairwise(frames):
        assert not np.array_equal(before, after)
    again = frames_of(gym.make(env_id, render_mode="rgb_array"), steps=5)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_when_rendering_rgb_array(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught if "render" in str(w.message).lower()] == []


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_wrong_render_mode_names_the_valid_ones(env_id):
    with pytest.raises(ValueError, match=r"\['ansi', 'rgb_array'\], got 'video'"):
        with pytest.warns(UserWarning, match="not in the possible render_modes"):
            gym.make(env_id, render_mode="video")
    with pytest.raises(ValueError, match=r"\['ansi', 'rgb_array'\], got 'human'"):
        type(gym.make(env_id).unwrapped)(render_mode="human")


def test_human_mode_is_gymnasiums_window_on_the_frames():
    # an env that draws rgb_array gets "human" from gym.make: the frames shown by pygame
    with pytest.warns(UserWarning, match="HumanRendering wrapper is being applied"):
        env = gym.make("mbdl/BoxLQR-v0", render_mode="human")
    assert isinstance(env, HumanRendering) and env.unwrapped.render_mode == "rgb_array"


def test_render_wrappers_take_the_frames():
    collected = RenderCollection(gym.make("mbdl/BoxLQR-v0", render_mode="rgb_array"))
    collected.reset(seed=0)
    for _ in range(3):
        collected.step(collected.action_space.sample())
    frames = collected.render()  # one per reset and step
    assert len(frames) == 4 and all(frame.shape == FRAME_SHAPE for frame in frames)
    pixels = AddRenderObservation(gym.make("mbdl/LQG-v0", render_mode="rgb_array"))
    observation, _ = pixels.reset(seed=0)
    assert observation.shape == FRAME_SHAPE and pixels.observation_space.contains(observation)


def test_ansi_line_is_the_state_and_the_last_cost():
    env = gym.make("mbdl/LinearQuadratic-v0", render_mode="ansi")
    _, info = env.reset(seed=0)
    state = np.array2string(info["state"], precision=3, suppress_small=True)
    assert env.render() == f"x = {state}, last cost = 0.000"
    _, _, _, _, info = env.step(np.zeros(2))
    state = np.array2string(info["state"], precision=3, suppress_small=True)
    assert env.render() == f"x = {state}, last cost = {info['cost']:.3f}"


def test_nothing_is_recorded_without_a_render_mode():
    env = gym.make("mbdl/BoxLQR-v0")
    frames_of(env, steps=3)
    assert env.render() is None and env.unwrapped._history == {}


class Detector(PartiallyKnownEnv):
    """A toy env of another domain: it records each received sample and decision."""

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)
        self.true_model = self.nominal_model = None
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float64)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._receive(), {}

    def step(self, action):
        self._record(decision=int(action))
        return self._receive(), 0.0, False, False, {"cost": 0.0}

    def _receive(self) -> np.ndarray:
        sample = self.np_random.standard_normal(2)
        self._record(sample=sample)
        return sample

    def oracle(self, horizon=None):
        return None

    def _compute_bound(self, horizon):
        return None


def test_any_env_renders_what_it_records():
    text = Detector(render_mode="ansi")
    assert text.render() is None  # before reset
    text.reset(seed=0)
    text.step(1)
    assert text.render().startswith("sample = [") and text.render().endswith("decision = [1.]")
    chart = Detector(render_mode="rgb_array")
    assert np.all(chart.render() == 255)  # before reset: a blank frame
    chart.reset(seed=0)
    for _ in range(2 * RENDER_HISTORY):  # past the history: the chart scrolls
        chart.step(0)
    assert len(chart._history["sample"]) == RENDER_HISTORY
    frame = chart.render()
    edge = {tuple(pixel) for pixel in frame[:, -1]} - {(255, 255, 255), (200, 200, 200)}
    assert frame.shape == FRAME_SHAPE and edge  # traces reach the right edge, past the rules


def test_a_diverging_signal_still_draws():
    values = [np.array([np.inf, 1.0]), np.array([np.nan, -1e300]), np.array([0.0, 2.0])]
    frame = strip_chart({"x": values, "empty": []})
    assert frame.dtype == np.uint8 and frame.shape == FRAME_SHAPE
    assert len(np.unique(frame[: FRAME_SIZE[0] // 2].reshape(-1, 3), axis=0)) > 2
