"""Every registered env refuses every bad constructor argument and every bad action clearly.

The arguments are found by ``inspect.signature`` of each id's entry points (single and
batched); each has a domain (:func:`mbdl_control.envs.arguments.argument_domains`), from which
:func:`bad_values` builds the values to try: wrong types, non-finite numbers, values out of
range. A clear error is a ``ValueError`` saying ``<argument> must be ..., got <value>``.
:func:`validation_table` counts them per env, class and argument; print it with
``.venv/bin/python -m tests.test_env_validation``. A new env is covered by being registered.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import load_env_creator

from mbdl_control.envs import ENV_SPECS
from mbdl_control.envs.arguments import (
    MAX_DIMENSION,
    Choice,
    Domain,
    Integer,
    Real,
    RealOrRange,
    argument_domains,
    checked_arguments,
)

ENV_IDS = sorted(ENV_SPECS)
#: the envs whose actions are real vectors in a Box (the dtype tests read it): control inputs,
#: state and sparse estimates; the detection envs' integer actions are tested in
#: tests/test_isi_channel.py and tests/test_mimo_detection.py
BOX_ACTION_IDS = [
    env_id
    for env_id in ENV_IDS
    if ENV_SPECS[env_id][0].startswith(("control:", "estimation:", "inverse:"))
]
#: the control envs, whose overflow tests read their state
CONTROL_IDS = [env_id for env_id in ENV_IDS if ENV_SPECS[env_id][0].startswith("control:")]
#: numpy warns of the overflows a refused step computes; the refusal is what is tested
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
#: how a batched env is built when the argument tried is not its own
BATCH = {"num_envs": 2}
#: the other arguments some valid values need (an argument bounded by another one)
VALID_WITH = {
    ("mbdl/MIMODetection-v0", "antennas"): {"users": 1},  # antennas >= users
    ("mbdl/SuperResolution-v0", "unknowns"): {"decimation": 1},  # decimation divides unknowns
}

#: neither an integer nor a real number, whatever the domain
NOT_NUMBERS = (
    True,
    False,
    None,
    "1",
    b"1",
    [1, 2],
    [[1, 2], [3, 4]],
    np.eye(2),
    np.array([1]),
    1 + 1j,
    1 + 0j,
    np.complex128(1),
    Decimal("1"),
    object(),
)
NON_FINITE = (math.nan, math.inf, -math.inf, float("1e400"), np.float64("nan"))


def _integer_bad_values(domain: Integer) -> Iterator[tuple[str, Any]]:
    for value in NOT_NUMBERS:
        if value is not None or not domain.none_means:
            yield "type", value
    for value in (1.5, 2.0, np.float64(2.0), "2"):
        yield "type", value
    for value in NON_FINITE:
        yield "non-finite", value
    for value in {domain.minimum - 1, -1}:
        yield "range", value
    yield "range", np.int64(domain.minimum - 1)
    if domain.maximum is not None:
        yield "range", domain.maximum + 1
        yield "range", 10**30


def _real_bad_values(domain: Real) -> Iterator[tuple[str, Any]]:
    for value in (*NOT_NUMBERS, "0.5"):
        if value is not None or not domain.none_means:
            yield "type", value
    for value in (*NON_FINITE, 10**400):
        yield "non-finite", value
    yield "range", domain.minimum - 1
    yield "range", float(np.nextafter(domain.minimum, -np.inf))
    if domain.open_minimum:
        yield "range", domain.minimum
    yield "range", float(np.nextafter(domain.maximum, np.inf))
    if domain.open_maximum:
        yield "range", domain.maximum
    yield "range", domain.maximum * 10


def _range_bad_values(domain: RealOrRange) -> Iterator[tuple[str, Any]]:
    """A bad number, or a pair that is not a range of good numbers."""
    yield from (
        (category, value)
        for category, value in _real_bad_values(domain.numbers)
        if not (isinstance(value, list) and value == [1, 2])  # a range
    )
    low, high = domain.numbers.minimum, domain.numbers.maximum
    for value in ([high, low], (1.0, 0.0), [low, high * 10], [low - 1, high]):
        yield "range", value
    for value in ([low], [low, low, high], [True, high], [low, "1"], (low, None), [low, [high]]):
        yield "type", value
    for value in ([low, math.nan], (math.inf, math.inf)):
        yield "non-finite", value


def _choice_bad_values(domain: Choice) -> Iterator[tuple[str, Any]]:
    for value in (True, 1, 0, math.nan, ["ansi"], np.array(["ansi", "rgb_array"]), b"ansi"):
        yield "type", value
    for value in ("video", "", "ANSI", "human", "ansi", "rgb_array"):
        if value not in domain.choices:
            yield "range", value


def bad_values(domain: Domain) -> list[tuple[str, Any]]:
    """``(category, value)`` pairs outside ``domain``: ``"type"`` (not a number, or not an
    integer where one is needed), ``"non-finite"``, ``"range"``."""
    if isinstance(domain, Integer):
        return list(_integer_bad_values(domain))
    if isinstance(domain, Real):
        return list(_real_bad_values(domain))
    if isinstance(domain, RealOrRange):
        return list(_range_bad_values(domain))
    return list(_choice_bad_values(domain))


def valid_values(domain: Domain) -> list[Any]:
    """Edge values inside ``domain`` (its ends, numpy scalars), which must construct. A
    dimension's maximum is left to :func:`test_largest_cheap_dimensions_construct`: ``n =
    1000`` takes 15 s."""
    if isinstance(domain, Integer):
        values = [domain.minimum, np.int64(domain.minimum)]
        if domain.maximum is not None and domain.maximum != MAX_DIMENSION:
            values.append(domain.maximum)
        return [*values, *([None] if domain.none_means else [])]
    if isinstance(domain, Real):
        low = domain.minimum
        low = float(np.nextafter(low, np.inf)) if domain.open_minimum else low
        high = domain.maximum
        high = float(np.nextafter(high, -np.inf)) if domain.open_maximum else high
        middle = [1, np.float32(0.5), np.float64(0.5)]
        optional = [None] if domain.none_means else []
        return [low, high, *(value for value in middle if domain.contains(float(value))), *optional]
    if isinstance(domain, RealOrRange):
        numbers = valid_values(domain.numbers)
        return [*numbers, [numbers[0], numbers[1]], (numbers[0], numbers[0]), [numbers[2]] * 2]
    return list(domain.choices)


def env_classes(env_id: str) -> dict[str, type]:
    """The id's entry-point classes: ``"single"`` and, where registered, ``"batched"``."""
    spec = gym.registry[env_id]
    classes = {"single": load_env_creator(spec.entry_point)}
    if spec.vector_entry_point is not None:
        classes["batched"] = load_env_creator(spec.vector_entry_point)
    return classes


def domains(env_id: str, kind: str) -> dict[str, Domain]:
    """Every argument the class takes: a batched env takes the single env's too."""
    classes = env_classes(env_id)
    single = dict(argument_domains(classes["single"]))
    return single if kind == "single" else {**single, **argument_domains(classes[kind])}


def build(env_id: str, kind: str, **kwargs: Any) -> Any:
    cls = env_classes(env_id)[kind]
    return cls(**kwargs) if kind == "single" else cls(**{**BATCH, **kwargs})


def outcome(env_id: str, kind: str, name: str, value: Any) -> str:
    """``"clear"``: a ``ValueError`` saying ``<name> must be ..., got ...``; ``"accepted"``;
    or ``"unclear: <the error>"``."""
    try:
        build(env_id, kind, **{name: value})
    except ValueError as error:
        if re.search(rf"(^|\W){name} must be .*, got ", str(error)):
            return "clear"
        return f"unclear: {error!r}"
    except Exception as error:
        return f"unclear: {error!r}"
    return "accepted"


CASES = [
    (env_id, kind, name)
    for env_id in ENV_IDS
    for kind in env_classes(env_id)
    for name in domains(env_id, kind)
]


def validation_table() -> list[dict[str, Any]]:
    """Per env, class and argument: bad values tried, per category, and how many gave a
    clear error."""
    rows = []
    for env_id, kind, name in CASES:
        domain = domains(env_id, kind)[name]
        tried = bad_values(domain)
        outcomes = [outcome(env_id, kind, name, value) for _, value in tried]
        categories = [category for category, _ in tried]
        rows.append(
            {
                "env": env_id,
                "class": kind,
                "argument": name,
                "domain": type(domain).__name__,
                "tried": len(tried),
                **{
                    category: categories.count(category)
                    for category in ("type", "non-finite", "range")
                },
                "clear": outcomes.count("clear"),
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """The table as markdown, one row per env, class and kind of domain, then the total."""
    print("| env | class | domain | arguments | tried | type | non-finite | range | clear |")
    print("|---|---|---|---|---|---|---|---|---|")
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["env"], row["class"], row["domain"]), []).append(row)
    for (env_id, kind, domain), group in groups.items():
        sums = {
            key: sum(row[key] for row in group)
            for key in ("tried", "type", "non-finite", "range", "clear")
        }
        print(
            f"| {env_id} | {kind} | {domain} | {len(group)} | {sums['tried']} | {sums['type']} "
            f"| {sums['non-finite']} | {sums['range']} | {sums['clear']} |"
        )
    tried, clear = sum(row["tried"] for row in rows), sum(row["clear"] for row in rows)
    print(f"| all | | | {len(rows)} | {tried} | | | | {clear} |")


@pytest.mark.parametrize(("env_id", "kind", "name"), CASES)
def test_bad_values_give_errors_naming_the_argument(env_id, kind, name):
    tried = bad_values(domains(env_id, kind)[name])
    failures = {
        repr(value): result
        for _, value in tried
        if (result := outcome(env_id, kind, name, value)) != "clear"
    }
    assert failures == {}
    assert len(tried) >= 10


@pytest.mark.parametrize(("env_id", "kind", "name"), CASES)
def test_valid_edge_values_construct(env_id, kind, name):
    others = VALID_WITH.get((env_id, name), {})
    for value in valid_values(domains(env_id, kind)[name]):
        build(env_id, kind, **others, **{name: value})


def test_validation_table_counts_every_bad_value_as_a_clear_error():
    rows = validation_table()
    print_table(rows)  # shown with -s, or when the test fails
    assert {(row["env"], row["class"], row["argument"]) for row in rows} == set(CASES)
    assert all(row["clear"] == row["tried"] for row in rows)
    assert sum(row["tried"] for row in rows) > 1000


def test_named_edge_values_construct():  # mismatch 0, a tiny input bound, p = n
    assert gym.make("mbdl/LinearQuadratic-v0", mismatch=0).unwrapped.mismatch == 0.0
    assert gym.make("mbdl/BoxLQR-v0", u_max=1e-12).action_space.high.tolist() == [1e-12] * 2
    env = gym.make("mbdl/LQG-v0", n=3, p=3)
    assert env.observation_space.shape == (3,)


def test_largest_cheap_dimensions_construct():
    env = gym.make("mbdl/LQG-v0", m=MAX_DIMENSION, p=MAX_DIMENSION)
    assert env.action_space.shape == env.observation_space.shape == (MAX_DIMENSION,)


def test_batched_env_refuses_zero_steps_instead_of_the_default():
    with pytest.raises(
        ValueError, match=r"max_episode_steps must be a positive integer or .*, got 0"
    ):
        gym.make_vec("mbdl/BoxLQR-v0", 2, max_episode_steps=0)
    assert gym.make_vec("mbdl/BoxLQR-v0", 2, max_episode_steps=1).unwrapped.max_episode_steps == 1


def test_unknown_arguments_stay_type_errors_naming_the_env():
    with pytest.raises(TypeError, match="LQGEnv: got an unexpected keyword argument 'q'"):
        gym.make("mbdl/LQG-v0", q=1)
    with pytest.raises(TypeError, match="BoxLQREnv: got an unexpected keyword argument 'q'"):
        gym.make_vec("mbdl/BoxLQR-v0", 2, q=1)


def test_a_constructor_cannot_leave_an_argument_unchecked():
    with pytest.raises(TypeError, match=r"none for \['horizon'\]"):

        @checked_arguments()
        def init(self, mismatch=0.0, horizon=10): ...

    with pytest.raises(TypeError, match=r"domains of \['n'\]"):

        @checked_arguments(n=Integer(1))
        def init_without_n(self, mismatch=0.0): ...


@pytest.mark.parametrize("env_id", BOX_ACTION_IDS)
@pytest.mark.parametrize("kind", ["single", "batched"])
def test_actions_that_are_not_real_numbers_are_refused(env_id, kind):
    env = build(env_id, kind)
    env.reset(seed=0)
    shape = env.action_space.shape
    for bad in (
        np.full(shape, "0.1"),
        np.full(shape, 0.1 + 0.1j),
        np.full(shape, True),
        np.full(shape, None, dtype=object),
    ):
        with pytest.raises(ValueError, match=rf"must hold real numbers .* got dtype {bad.dtype}"):
            env.step(bad)
        with pytest.raises(ValueError, match=r"for Box\("):
            env.step(bad.tolist())
    env.step(np.zeros(shape, dtype=np.int64))  # integers are real numbers


def _zero_noise(env_id: str) -> dict[str, float]:
    """Arguments that make the dynamics deterministic: ``x⁺ = A x + B u``."""
    return {"noise_std": 0.0} if "noise_std" in domains(env_id, "single") else {}


@pytest.mark.parametrize("env_id", CONTROL_IDS)
def test_an_overflowing_action_is_refused_and_leaves_the_state(env_id):
    env = gym.make(env_id, max_episode_steps=2, **_zero_noise(env_id))
    _, info = env.reset(seed=0)
    huge = np.full(env.action_space.shape, 1e200)
    if np.all(np.isfinite(env.action_space.high)):  # the actuator clips it: a valid input
        _, reward, _, _, info = env.step(huge)
        assert np.isfinite(reward) and info["saturated"] == 1.0
        return
    with pytest.raises(ValueError, match=r"would make the cost .*non-finite .* must keep"):
        env.step(huge)
    zero = np.zeros(env.action_space.shape)
    _, _, _, truncated, after = env.step(zero)  # from x_0: the refused step moved nothing
    np.testing.assert_array_equal(after["state"], info["state"] @ env.unwrapped.true_model.A.T)
    assert not truncated and env.step(zero)[3]  # nor counted towards the time limit


@pytest.mark.parametrize("env_id", CONTROL_IDS)
def test_batched_env_refuses_a_batch_with_an_overflowing_env(env_id):
    envs = gym.make_vec(env_id, 3, max_episode_steps=2, **_zero_noise(env_id))
    _, info = envs.reset(seed=0)
    zero = np.zeros(envs.action_space.shape)
    huge = zero.copy()
    huge[1] = 1e200
    if np.all(np.isfinite(envs.single_action_space.high)):
        assert np.all(np.isfinite(envs.step(huge)[1]))
        return
    with pytest.raises(ValueError, match=r"actions of envs \[1\] .* would make the cost"):
        envs.step(huge)
    _, _, _, truncated, after = envs.step(zero)
    np.testing.assert_array_equal(after["state"], info["state"] @ envs.unwrapped.true_model.A.T)
    assert not truncated.any() and envs.step(zero)[3].all()
    _, rewards, _, _, _ = envs.step(huge)  # every env restarts: their actions are ignored
    np.testing.assert_array_equal(rewards, 0.0)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_non_finite_actions_stay_refused(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    for value in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="action must be finite"):
            env.step(np.full(env.action_space.shape, value))


if __name__ == "__main__":
    print_table(validation_table())
