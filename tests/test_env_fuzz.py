"""Property-based tests of every registered env, single and batched, with hypothesis.

Random valid arguments (drawn from each argument's domain, in a sensible range) and random
actions, inside the action space and far outside it (±1e3 times its bounds, ±1e150, ±1e154,
±1e200, NaN, ±inf): observations, rewards and ``info["cost"]`` stay finite, or the step raises the
documented ``ValueError`` and the env can be reset and stepped again. Seeded episodes repeat
exactly, and Gymnasium's ``check_env`` passes, for random arguments. Short here (a few
seconds per env); ``benchmarks/env_fuzz.py`` runs 10⁵ steps per env.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mbdl_control.envs.arguments import LEGACY_SEED, SEED, Domain, Integer, Real, RealOrRange
from tests.test_env_validation import BOX_ACTION_IDS, ENV_IDS, domains

#: the messages of the two ways a step may refuse an action it is given
REFUSED = r"must be finite|non-finite \(overflow\)"
#: check_env's warnings that each env's docstring explains (as in tests/test_envs.py)
EXPLAINED = ("infinity", "symmetric and normalized")
#: reals are drawn up to this (or their domain's maximum); other integers but seeds span 6
SENSIBLE_SCALE = 10.0
SENSIBLE_SPAN = 5

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


def fuzz(max_examples: int) -> settings:
    """Reproducible (derandomized, no example database in the working tree), no deadline."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def sensible(domain: Domain) -> st.SearchStrategy[Any]:
    """Valid values of ``domain`` an experiment would use: any seed, small dimensions and
    counts, reals up to :data:`SENSIBLE_SCALE`."""
    if domain in (SEED, LEGACY_SEED):
        return st.integers(domain.minimum, LEGACY_SEED.maximum)
    if isinstance(domain, Integer):
        values = st.integers(domain.minimum, domain.minimum + SENSIBLE_SPAN)
        return values | st.none() if domain.none_means else values
    if isinstance(domain, Real):
        top = min(domain.maximum, SENSIBLE_SCALE)
        exclude_max = domain.open_maximum and top == domain.maximum
        reals = st.floats(
            domain.minimum, top, exclude_min=domain.open_minimum, exclude_max=exclude_max
        )
        return reals | st.none() if domain.none_means else reals
    if isinstance(domain, RealOrRange):
        numbers = sensible(domain.numbers)
        return numbers | st.lists(numbers, min_size=2, max_size=2).map(sorted)
    return st.sampled_from(domain.choices)


#: what some envs need of their arguments together, beyond each one's domain
VALID_TOGETHER = {
    "mbdl/MIMODetection-v0": lambda kwargs: kwargs["antennas"] >= kwargs["users"],
    "mbdl/SuperResolution-v0": lambda kwargs: kwargs["unknowns"] % kwargs["decimation"] == 0,
    "mbdl/LinearTracking-v0": lambda kwargs: kwargs["n"] >= 2 or kwargs["mismatch"] == 0,
}


def arguments(env_id: str, kind: str) -> st.SearchStrategy[dict[str, Any]]:
    drawn = st.fixed_dictionaries(
        {name: sensible(domain) for name, domain in domains(env_id, kind).items()}
    )
    together = VALID_TOGETHER.get(env_id)
    return drawn if together is None else drawn.filter(together)


def make(env_id: str, kind: str, kwargs: dict[str, Any]) -> Any:
    """As a user makes it: ``gym.make`` (with its wrappers) or ``gym.make_vec``."""
    if kind == "single":
        return gym.make(env_id, **kwargs)
    kwargs = dict(kwargs)
    return gym.make_vec(env_id, kwargs.pop("num_envs"), "vector_entry_point", **kwargs)


def action_entries(space: gym.spaces.Box) -> st.SearchStrategy[float]:
    """Entries inside the box (or within ±10 where it is unbounded), ±1e3 times its bounds
    (or ±1e3), huge and non-finite values."""
    bound = float(np.max(space.high))
    scale = bound if np.isfinite(bound) else SENSIBLE_SCALE
    far = 1e3 * (bound if np.isfinite(bound) else 1.0)
    return st.one_of(
        st.floats(-scale, scale),
        st.sampled_from([far, -far]),
        st.sampled_from([1e150, -1e150, 1e154, -1e154, 1e200, -1e200]),
        st.sampled_from([np.nan, np.inf, -np.inf]),
    )


def single_space(env: Any) -> gym.spaces.Box:
    """The action space of one env of a batch, or of the env."""
    return getattr(env, "single_action_space", env.action_space)


def assert_finite(observation: Any, reward: Any, info: dict[str, Any]) -> None:
    assert np.all(np.isfinite(observation)) and np.all(np.isfinite(reward))
    if "cost" in info:  # absent where every env of a batch restarted
        assert np.all(np.isfinite(np.asarray(info["cost"])[info.get("_cost", ...)]))


def step_or_refuse(env: Any, action: np.ndarray, seed: int) -> None:
    """Step; the outputs are finite, or the step raises a documented refusal and the env
    resets and steps again."""
    try:
        assert_finite(*_outputs(env.step(action)))
    except ValueError as error:
        assert re.search(REFUSED, str(error)), error
        env.reset(seed=seed)
        assert_finite(*_outputs(env.step(np.zeros(env.action_space.shape))))


def _outputs(step: tuple) -> tuple[Any, Any, dict[str, Any]]:
    observation, reward, _, _, info = step
    return observation, reward, info


@pytest.mark.parametrize("env_id", BOX_ACTION_IDS)
@pytest.mark.parametrize("kind", ["single", "batched"])
def test_random_arguments_and_actions_keep_outputs_finite_or_refuse(env_id, kind):
    @fuzz(100)
    @given(kwargs=arguments(env_id, kind), seed=st.integers(0, 2**32 - 1), data=st.data())
    def episode(kwargs, seed, data):
        env = make(env_id, kind, kwargs)
        assert np.all(np.isfinite(env.reset(seed=seed)[0]))
        entries = action_entries(single_space(env))
        actions = hnp.arrays(np.float64, env.action_space.shape, elements=entries)
        for action in data.draw(st.lists(actions, min_size=1, max_size=12)):
            step_or_refuse(env, action, seed)

    episode()


def trajectory(env: Any, seed: int, steps: int = 8) -> list[np.ndarray]:
    """Observations, rewards, labels (states, signals) and costs of a seeded episode of
    in-space actions."""
    env.action_space.seed(seed)
    keys = env.unwrapped.label_keys

    def labels(info: dict[str, Any]) -> list[np.ndarray]:
        return [np.asarray(info[key]) for key in keys if key in info]  # none on a restart

    observation, info = env.reset(seed=seed)
    trace = [observation, *labels(info)]
    for _ in range(steps):
        observation, reward, _, _, info = env.step(env.action_space.sample())
        trace += [observation, np.asarray(reward), *labels(info)]
        trace.append(np.asarray(info.get("cost", 0)))
    return trace


@pytest.mark.parametrize("env_id", BOX_ACTION_IDS)
@pytest.mark.parametrize("kind", ["single", "batched"])
def test_same_seed_same_trajectory_for_random_arguments(env_id, kind):
    @fuzz(20)
    @given(kwargs=arguments(env_id, kind), seed=st.integers(0, 2**32 - 1))
    def twice(kwargs, seed):
        first = trajectory(make(env_id, kind, kwargs), seed)
        second = trajectory(make(env_id, kind, kwargs), seed)
        assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))

    twice()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_for_random_arguments(env_id):
    @fuzz(10)
    @given(kwargs=arguments(env_id, "single"))
    def checked(kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(gym.make(env_id, **kwargs).unwrapped)
        messages = [str(warning.message) for warning in caught]
        assert [m for m in messages if not any(e in m for e in EXPLAINED)] == []

    checked()


#: the envs whose actions are integer indices in a MultiDiscrete (symbol detection)
INDEX_ACTION_IDS = [env_id for env_id in ENV_IDS if env_id not in BOX_ACTION_IDS]


@pytest.mark.parametrize("env_id", INDEX_ACTION_IDS)
def test_detection_envs_give_finite_outputs_or_refuse_bad_decisions(env_id):
    """Random valid arguments (small blocks), decisions in range, out of range, fractional
    and non-finite: the observation (flattened), reward and cost stay finite, or the step is
    refused with a ValueError naming the bad entry and the env steps again."""
    small = {"block_length": 16, "pilot_length": 3}

    @fuzz(60)
    @given(kwargs=arguments(env_id, "single"), seed=st.integers(0, 2**32 - 1), data=st.data())
    def episode(kwargs, seed, data):
        blocks = {name: value for name, value in small.items() if name in kwargs}
        env = make(env_id, "single", {**kwargs, **blocks})
        observation, _ = env.reset(seed=seed)
        assert np.all(np.isfinite(gym.spaces.flatten(env.observation_space, observation)))
        size = int(env.action_space.nvec.flat[0])
        entries = st.one_of(
            st.integers(0, size - 1).map(float),
            st.sampled_from([-1.0, float(size), 0.5, np.nan, np.inf, 1e200]),
        )
        decisions = hnp.arrays(np.float64, env.action_space.shape, elements=entries)
        for action in data.draw(st.lists(decisions, min_size=1, max_size=6)):
            try:
                observation, reward, _, _, info = env.step(action)
            except ValueError as error:
                assert "action must be" in str(error), error
                observation, reward, _, _, info = env.step(np.zeros(env.action_space.shape))
            flat = gym.spaces.flatten(env.observation_space, observation)
            assert np.all(np.isfinite(flat)) and np.isfinite(reward)
            assert 0.0 <= info["cost"] <= 1.0

    episode()
