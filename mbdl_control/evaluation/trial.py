"""One trial: build the agent from its knowledge, fit within the counted budget, evaluate.

A trial is a pure function of (study, trial key): the env's models come from its own seeds,
fitting uses the trial seed, evaluation uses ``seed + seed_offset`` shared by every agent of
the same (env, mismatch, seed), and torch and BLAS run single-threaded, so that reductions
happen in one order and parallel workers do not fight over the cores (on a loaded 2-core
machine, two OpenBLAS threads made the small Riccati solves of a trial ~15x slower). Rerunning
a trial gives the same row apart from its timings, in any process, local or on Ray. A trial
that raises becomes a ``failed`` row carrying the error; it never stops a study.

An agent with a ``fit_env`` may train on the same env at many grid points (DetNet trains on
a range of SNRs and is tested at each SNR of the sweep): its fit is a pure function of the
training env's arguments, the agent's configuration, the budget and the seed, so a process
keeps its last few such fitted agents (:data:`FIT_CACHE_SIZE`) and evaluates them again at
the next point instead of training the same network anew; the row carries the time of that
one fit.
"""

from __future__ import annotations

import functools
import json
import math
import platform
import time
import traceback
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import gymnasium as gym
from threadpoolctl import threadpool_limits

from mbdl_control.core import episode_length
from mbdl_control.envs.base import PartiallyKnownEnv
from mbdl_control.evaluation.agent_factory import build_agent, spectrum_of
from mbdl_control.evaluation.budget import CountingEnv
from mbdl_control.evaluation.evaluate import EvaluationResult, evaluate
from mbdl_control.evaluation.study import EnvSpec, Study, TrialKey

#: the columns of a result row, in order
COLUMNS = (
    "trial",
    "study",
    "env",
    "env_id",
    "axes",
    "mismatch",
    "agent",
    "agent_class",
    "family",
    "knowledge",
    "n_parameters",
    "budget_steps",
    "budget_samples",
    "seed",
    "eval_seed",
    "episodes",
    "mean_cost",
    "std_error",
    "oracle_cost",
    "gap_to_oracle",
    "gap_to_oracle_se",
    "bound",
    "gap_to_bound",
    "steps_used",
    "samples_used",
    "simulated_steps",
    "metrics",
    "cost_display",
    "curve",
    "config",
    "fit_seconds",
    "eval_seconds",
    "versions",
    "status",
    "error",
)
#: columns that may differ between two runs of the same trial
TIMING_COLUMNS = ("fit_seconds", "eval_seconds")
PACKAGES = ("mbdl_control", "numpy", "scipy", "gymnasium", "cvxpy", "torch", "stable_baselines3")


@functools.cache
def versions() -> str:
    """The versions a row was computed with (JSON)."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return json.dumps(found, sort_keys=True)


#: the most points of a training curve a row keeps (evenly spaced, the last one included)
CURVE_POINTS = 200


def _make(env: EnvSpec, key: TrialKey, overrides: dict[str, Any] | None = None) -> gym.Env:
    """The env of ``key``'s grid point; ``overrides`` (an agent's ``fit_env``) replace some of
    its arguments."""
    return gym.make(env.id, **{**env.make_kwargs(key.mismatch, key.axes), **(overrides or {})})


def _curve(report: Any) -> str:
    """The fit's training curve as JSON (``null`` for skipped steps), thinned to at most
    :data:`CURVE_POINTS` points."""
    curve = list(getattr(report, "curve", ()) or ())
    if len(curve) > CURVE_POINTS:
        step = (len(curve) - 1) / (CURVE_POINTS - 1)
        curve = [curve[round(i * step)] for i in range(CURVE_POINTS)]
    return json.dumps([value if math.isfinite(value) else None for value in map(float, curve)])


@functools.lru_cache(maxsize=64)
def _cached_oracle_result(env_id: str, kwargs: str, episodes: int, seed: int) -> EvaluationResult:
    made = gym.make(env_id, **json.loads(kwargs))
    oracle = made.unwrapped.oracle(episode_length(made))
    return evaluate(oracle, made, episodes, seed, compare_to_oracle=False)


def _oracle_result(env: EnvSpec, key: TrialKey, episodes: int, seed: int) -> EvaluationResult:
    """The oracle's evaluation, cached per process: the oracle sees the truth, which no
    mismatch changes, so one evaluation serves every agent and mismatch of an env (at each
    point of its swept arguments)."""
    kwargs = json.dumps(env.make_kwargs(0.0, key.axes), sort_keys=True)
    return _cached_oracle_result(env.id, kwargs, episodes, seed)


def empty_row(study: Study, key: TrialKey) -> dict[str, Any]:
    spec = study.agent(key.agent)
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(
        trial=key.id,
        study=study.name,
        env=key.env,
        env_id=study.env(key.env).id,
        axes=json.dumps(key.all_axes(), sort_keys=True),
        mismatch=key.mismatch,
        agent=key.agent,
        agent_class=spec.cls
        if isinstance(spec.cls, str)
        else f"{spec.cls.__module__}:{spec.cls.__qualname__}",
        knowledge=spec.knowledge,
        budget_steps=key.budget.steps,
        budget_samples=key.budget.samples,
        seed=key.seed,
        eval_seed=key.seed + study.seed_offset,
        episodes=study.episodes,
        config=key.config,
        versions=versions(),
        status="failed",
        error="",
    )
    return row


def run_trial(study: Study, key: TrialKey) -> dict[str, Any]:
    """The result row of one trial (``status`` ``ok``, or ``failed`` with ``error``)."""
    import torch

    torch.set_num_threads(1)
    threadpool_limits(1)
    row = empty_row(study, key)
    try:
        _fill(row, study, key)
        row["status"] = "ok"
    except Exception as error:  # a trial's failure is data, not a crash of the study
        last = traceback.extract_tb(error.__traceback__)[-1]
        where = f" (at {last.filename.rpartition('/')[2]}:{last.lineno})"
        row["error"] = " ".join(f"{type(error).__name__}: {error}{where}".split())
    return row


#: fitted agents with a ``fit_env`` a process keeps for the next grid points (module docstring)
FIT_CACHE_SIZE = 4


@dataclass(frozen=True)
class Fitted:
    """An agent after its fit, and what the row records of the fit."""

    agent: Any
    report: Any
    steps_used: int
    samples_used: int
    fit_seconds: float
    cost_display: str


_fitted_agents: dict[tuple, Fitted] = {}


def _fit(study: Study, key: TrialKey) -> Fitted:
    """Build ``key``'s agent and fit it in its counted training env."""
    env_spec, agent_spec = study.env(key.env), study.agent(key.agent)
    fit_env = CountingEnv(_make(env_spec, key, agent_spec.fit_env), key.budget)
    agent = build_agent(agent_spec.at(key.agent_axes), fit_env, key.seed)
    start = time.perf_counter()
    learns = hasattr(agent, "fit") and agent_spec.cls != "oracle"  # the env's, built as is
    report = agent.fit(fit_env, key.budget, key.seed) if learns else None
    seconds = time.perf_counter() - start
    base = fit_env.unwrapped
    display = base.cost_display if isinstance(base, PartiallyKnownEnv) else "linear"
    return Fitted(agent, report, fit_env.steps_used, fit_env.samples_used, seconds, display)


def _fitted(study: Study, key: TrialKey) -> Fitted:
    """``key``'s fitted agent: fitted now, or, for an agent with a ``fit_env``, taken from
    this process's last fits where one had the same training env, configuration, budget and
    seed."""
    env_spec, agent_spec = study.env(key.env), study.agent(key.agent)
    if not agent_spec.fit_env:
        return _fit(study, key)
    kwargs = {**env_spec.make_kwargs(key.mismatch, key.axes), **agent_spec.fit_env}
    cache_key = (
        key.agent,
        key.agent_axes,
        key.config,
        json.dumps(kwargs, sort_keys=True, default=repr),
    )
    cache_key += (key.budget, key.seed)
    if cache_key not in _fitted_agents:
        if len(_fitted_agents) >= FIT_CACHE_SIZE:
            _fitted_agents.pop(next(iter(_fitted_agents)))
        _fitted_agents[cache_key] = _fit(study, key)
    return _fitted_agents[cache_key]


def _fill(row: dict[str, Any], study: Study, key: TrialKey) -> None:
    env_spec, agent_spec = study.env(key.env), study.agent(key.agent)
    fitted = _fitted(study, key)
    agent, report = fitted.agent, fitted.report
    row["fit_seconds"] = fitted.fit_seconds
    row["steps_used"], row["samples_used"] = fitted.steps_used, fitted.samples_used
    row["simulated_steps"] = getattr(report, "simulated_steps", 0)
    row["curve"] = _curve(report)
    row["cost_display"] = fitted.cost_display
    spectrum = spectrum_of(agent, agent_spec)
    row.update(family=spectrum.family, n_parameters=spectrum.n_parameters)
    start = time.perf_counter()
    oracle = _oracle_result(env_spec, key, study.episodes, row["eval_seed"])
    result = evaluate(
        agent, _make(env_spec, key), study.episodes, row["eval_seed"], oracle_result=oracle
    )
    row["eval_seconds"] = time.perf_counter() - start
    row.update(
        mean_cost=result.mean_cost,
        std_error=result.std_error,
        oracle_cost=result.oracle_cost,
        gap_to_oracle=result.gap_to_oracle,
        gap_to_oracle_se=result.gap_to_oracle_se,
        bound=result.bound,
        gap_to_bound=result.gap_to_bound,
        metrics=json.dumps(result.metrics, sort_keys=True),
    )
