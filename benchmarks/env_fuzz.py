"""Fuzz every registered env, single and batched, for 10⁵ random steps each.

The long version of ``tests/test_env_fuzz.py``. Each episode makes the env with random valid
arguments (each argument's domain in a sensible range: any seed, dimensions and counts up to
5 above their minimum, reals up to 10, a domain's lower end one time in five) and a random
seed; a single env gets a random time limit of 1 to 200 steps. Each step's action is drawn in
the action space (uniform in a box, ``N(0, 10²)`` where unbounded), and one step in twenty
overwrites some entries (one env of a batch) with values far outside it: ±1e3 times the bound
(±1e3 unbounded), ±1e150, ±1e154 or ±1e200, NaN or ±inf; one in a hundred is of a wrong dtype
(complex or strings). A step must return finite observations, rewards and costs, or raise
the documented ``ValueError``; the env then goes on from where it was, without a reset.

The table, per env and class: step calls (env-steps for a batch), steps refused by kind
("state only": an overflow of the next state's cost ``xᵀQx`` alone, the stage cost finite),
in-space actions refused (from a state that huge but accepted inputs pushed so far that even
they overflow), the longest run of refused steps in a row (how long an env stayed stuck
before a random action brought it back), non-finite outputs and unexpected exceptions (both
must be 0), wall time.

    .venv/bin/python benchmarks/env_fuzz.py [--steps 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import platform
import re
import time
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator

import mbdl_control  # noqa: F401  (registers the envs)
from mbdl_control.envs import ENV_SPECS
from mbdl_control.envs.arguments import LEGACY_SEED, SEED, Domain, Integer, Real, argument_domains

#: reals are drawn up to this (or their domain's maximum); other integers but seeds span 6
SENSIBLE_SCALE = 10.0
SENSIBLE_SPAN = 5
#: the longest time limit given to a single env
LONGEST_EPISODE = 200
#: how the action of a step is drawn, and how often
ACTION_KINDS = {"in space": 0.94, "far": 0.02, "huge": 0.02, "non-finite": 0.01, "dtype": 0.01}
#: the documented refusals, by the message that names them
REFUSALS = {
    "non-finite action": "must be finite",
    "overflow": r"non-finite \(overflow\)",
    "dtype": "must hold real numbers",
}


def sensible(domain: Domain, rng: np.random.Generator) -> Any:
    """A valid value of ``domain`` an experiment would use (as ``tests/test_env_fuzz.py``)."""
    if domain in (SEED, LEGACY_SEED):
        return int(rng.integers(0, LEGACY_SEED.maximum, endpoint=True))
    if isinstance(domain, Integer):
        if domain.none_means and rng.random() < 0.2:
            return None
        return int(rng.integers(domain.minimum, domain.minimum + SENSIBLE_SPAN, endpoint=True))
    if isinstance(domain, Real):
        if not domain.open_minimum and rng.random() < 0.2:
            return domain.minimum
        low = np.nextafter(domain.minimum, np.inf)
        return float(rng.uniform(low, min(domain.maximum, SENSIBLE_SCALE)))
    return domain.choices[rng.integers(len(domain.choices))]


def random_arguments(env_id: str, kind: str, rng: np.random.Generator) -> dict[str, Any]:
    spec = gym.registry[env_id]
    single = argument_domains(load_env_creator(spec.entry_point))
    if kind == "single":
        kwargs = {name: sensible(domain, rng) for name, domain in single.items()}
        return {**kwargs, "max_episode_steps": int(rng.integers(1, LONGEST_EPISODE + 1))}
    domains = {**single, **argument_domains(load_env_creator(spec.vector_entry_point))}
    return {name: sensible(domain, rng) for name, domain in domains.items()}


def make(env_id: str, kind: str, kwargs: dict[str, Any]) -> Any:
    if kind == "single":
        return gym.make(env_id, **kwargs)
    kwargs = dict(kwargs)
    return gym.make_vec(env_id, kwargs.pop("num_envs"), "vector_entry_point", **kwargs)


def _outside(kind: str, bound: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` entries of a kind of value far outside the action space."""
    values = {
        "far": 1e3 * (bound if np.isfinite(bound) else 1.0) * np.array([1.0, -1.0]),
        "huge": np.array([1e150, -1e150, 1e154, -1e154, 1e200, -1e200]),
        "non-finite": np.array([np.nan, np.inf, -np.inf]),
    }[kind]
    return rng.choice(values, size)


def random_action(space: gym.spaces.Box, batch: int | None, rng: np.random.Generator):
    """An action (a batch of them) and the kind it was drawn as."""
    kinds = list(ACTION_KINDS)
    kind = kinds[rng.choice(len(kinds), p=list(ACTION_KINDS.values()))]
    shape = space.shape if batch is None else (batch, *space.shape)
    bound = float(np.max(space.high))
    if np.isfinite(bound):
        action = rng.uniform(space.low, space.high, shape)
    else:
        action = SENSIBLE_SCALE * rng.standard_normal(shape)
    if kind == "dtype":
        return (action + 1j if rng.random() < 0.5 else action.astype(str)), kind
    if kind != "in space":
        row = action if batch is None else action[rng.integers(batch)]
        entries = rng.random(row.shape) < 0.5
        entries[rng.integers(row.size)] = True
        row[entries] = _outside(kind, bound, int(entries.sum()), rng)
    return action, kind


def finite(observation: Any, reward: Any, info: dict[str, Any]) -> bool:
    costs = np.asarray(info.get("cost", 0.0))[info.get("_cost", ...)]
    return bool(
        np.isfinite(observation).all() and np.isfinite(reward).all() and np.isfinite(costs).all()
    )


def refusal(error: ValueError) -> str:
    """The kind of a documented refusal, or ``"unexpected"``."""
    for kind, pattern in REFUSALS.items():
        if re.search(pattern, str(error)):
            return kind
    return "unexpected"


def fuzz(env_id: str, kind: str, steps: int, rng: np.random.Generator) -> collections.Counter:
    """Counts of what ``steps`` random step calls did, over as many episodes as they fill."""
    counts: collections.Counter = collections.Counter()
    while counts["steps"] < steps:
        env = make(env_id, kind, random_arguments(env_id, kind, rng))
        batch = getattr(env, "num_envs", None) if kind == "batched" else None
        space = getattr(env, "single_action_space", env.action_space)
        env.reset(seed=int(rng.integers(2**32)))
        counts["envs made"] += 1
        refusals_in_a_row = 0
        for _ in range(int(rng.integers(1, LONGEST_EPISODE + 1))):
            action, drawn = random_action(space, batch, rng)
            counts.update(steps=1, env_steps=batch or 1)
            outcome = _step(env, action, drawn, counts)
            refusals_in_a_row = refusals_in_a_row + 1 if outcome == "refused" else 0
            counts["longest refusal run"] = max(counts["longest refusal run"], refusals_in_a_row)
            if outcome == "truncated":
                break
    return counts


def _step(env: Any, action: np.ndarray, drawn: str, counts: collections.Counter) -> str:
    """One step, counted: ``"accepted"``, ``"truncated"`` (a single env's episode ended),
    ``"refused"`` or ``"unexpected"``."""
    try:
        observation, reward, _, truncated, info = env.step(action)
    except ValueError as error:
        counts[refusal(error)] += 1
        counts["state only"] += "make the next state non-finite" in str(error)
        counts["in-space refused"] += drawn == "in space"
        return "refused"
    except Exception:  # counted: there must be none
        counts["unexpected"] += 1
        return "unexpected"
    counts["accepted"] += 1
    counts["non-finite outputs"] += not finite(observation, reward, info)
    return "truncated" if np.ndim(truncated) == 0 and truncated else "accepted"


COLUMNS = (
    "envs made",
    "steps",
    "env_steps",
    "accepted",
    *REFUSALS,
    "state only",
    "in-space refused",
    "longest refusal run",
    "non-finite outputs",
    "unexpected",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="step calls per env and class")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, numpy "
        f"{np.__version__}, gymnasium {gym.__version__}; {arguments.steps} steps, seed "
        f"{arguments.seed}"
    )
    print("| env | class | " + " | ".join(COLUMNS) + " | wall s |")
    print("|---|---|" + "---|" * (len(COLUMNS) + 1))
    rng = np.random.default_rng(arguments.seed)
    warnings.filterwarnings("ignore", "(overflow|invalid value) encountered", RuntimeWarning)
    for env_id in sorted(ENV_SPECS):
        for kind in ("single", "batched"):
            start = time.perf_counter()
            counts = fuzz(env_id, kind, arguments.steps, rng)
            cells = " | ".join(str(counts[column]) for column in COLUMNS)
            print(f"| {env_id} | {kind} | {cells} | {time.perf_counter() - start:.1f} |")


if __name__ == "__main__":
    main()
