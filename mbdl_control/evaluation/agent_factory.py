"""Build a study's agent from the model knowledge it declares, and nothing more.

The harness, not the agent, decides what the agent is handed:

============  ================================================================================
knowledge     constructor call
============  ================================================================================
``true``      ``Class(env.true_model, **kwargs)`` (``class = "oracle"``: ``env.oracle()``)
``nominal``   ``Class(env.nominal_model, **kwargs)``
``structure`` ``Class(env.structure(), **kwargs)``: the model's form, none of its numbers
``none``      ``Class(observation_space, action_space, **kwargs)``; a stable-baselines3
              algorithm: ``Class(policy, fit_env, seed=seed, **kwargs)``, its actions
              normalized to ``[-1, 1]`` by a wrapper (SB3's advice: its Gaussian policies
              start with unit spread) and mapped back to the env's box when it acts
============  ================================================================================

Library agents also receive ``knowledge=...`` so that their spectrum says what they were given.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control import agents as library_agents
from mbdl_control.core import KNOWLEDGE, SpectrumInfo, episode_length
from mbdl_control.evaluation.study import AgentSpec, StudyError

SB3_ALGORITHMS = ("A2C", "DDPG", "PPO", "SAC", "TD3")


def _is_sb3_algorithm(cls: type) -> bool:
    """Whether ``cls`` is a stable-baselines3 algorithm (SB3 is imported only if it is)."""
    if not cls.__module__.partition(".")[0] == "stable_baselines3":
        return False
    from stable_baselines3.common.base_class import BaseAlgorithm

    return issubclass(cls, BaseAlgorithm)


def resolve_agent_class(name: str | type) -> type:
    """A library agent by name, an SB3 algorithm by name, or ``package.module:Class``."""
    if isinstance(name, type):
        return name
    if ":" in name:
        module, _, attribute = name.partition(":")
        try:
            found = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as error:
            raise StudyError(f"cannot import agent class {name!r}: {error}") from error
        if not isinstance(found, type):
            raise StudyError(f"{name!r} is not a class but {type(found).__name__}")
        return found
    if name in library_agents.AGENTS:
        return getattr(library_agents, name)
    if name in SB3_ALGORITHMS:
        return getattr(importlib.import_module("stable_baselines3"), name)
    valid = sorted(library_agents.AGENTS)
    raise StudyError(
        f"unknown agent class {name!r}; valid: {valid}, 'oracle', SB3 {list(SB3_ALGORITHMS)}, "
        "or an import path 'package.module:Class'"
    )


class _DeclaredActionBounds(gym.ActionWrapper):
    """Declares ``[-bound, bound]`` to an agent on an env that accepts any input."""

    def __init__(self, env: gym.Env, bound: float) -> None:
        super().__init__(env)
        shape = env.action_space.shape
        self.action_space = gym.spaces.Box(-bound, bound, shape, env.action_space.dtype)

    def action(self, action: Any) -> Any:
        return action


def _finite_action_bounds(env: gym.Env, bound: float | None, spec: AgentSpec) -> gym.Env:
    """SB3 needs a finite action box: an unbounded env gets ``[-action_bound, action_bound]``
    declared (the agent's actions are then clipped to it; the env itself is unchanged)."""
    space = env.action_space
    if np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)):
        return env
    if bound is None or not bound > 0:
        raise StudyError(
            f"agent {spec.label!r}: SB3 needs finite action bounds and this env has none; "
            f"set kwargs.action_bound to a positive number (got {bound!r})"
        )
    return _DeclaredActionBounds(env, float(bound))


def _with_knowledge(cls: type, knowledge: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    accepts = "knowledge" in inspect.signature(cls).parameters
    return {**kwargs, "knowledge": knowledge} if accepts else dict(kwargs)


def build_agent(spec: AgentSpec, fit_env: gym.Env, seed: int) -> Any:
    """The agent of ``spec``, built from the knowledge it declares of ``fit_env``."""
    base = fit_env.unwrapped
    if spec.cls == "oracle":
        if spec.knowledge != "true":
            raise StudyError(f"agent {spec.label!r}: the oracle's knowledge is 'true'")
        return base.oracle(episode_length(fit_env))
    cls = resolve_agent_class(spec.cls)
    if _is_sb3_algorithm(cls):
        if spec.knowledge != "none":
            raise StudyError(
                f"agent {spec.label!r}: an SB3 algorithm uses no model; set knowledge = 'none'"
            )
        kwargs = {"verbose": 0, "device": "cpu", **spec.kwargs}
        policy = kwargs.pop("policy", "MlpPolicy")
        learn_env = _finite_action_bounds(fit_env, kwargs.pop("action_bound", None), spec)
        normalized = gym.wrappers.RescaleAction(learn_env, -1.0, 1.0)
        from mbdl_control.agents.deep_learning import SB3Agent

        return SB3Agent(cls(policy, normalized, seed=seed, **kwargs), learn_env.action_space)
    kwargs = _with_knowledge(cls, spec.knowledge, spec.kwargs)
    if spec.knowledge == "true":
        return cls(base.true_model, **kwargs)
    if spec.knowledge == "nominal":
        return cls(base.nominal_model, **kwargs)
    if spec.knowledge == "structure":
        return cls(base.structure(), **kwargs)
    return cls(fit_env.observation_space, fit_env.action_space, **kwargs)


def agent_problems(spec: AgentSpec, env: gym.Env | None) -> list[str]:
    """What would stop ``spec`` from being built on ``env`` (one of the envs it runs on, or
    ``None`` if none could be made), found before any trial runs: its class, its knowledge,
    arguments its constructor does not take, an SB3 algorithm without action bounds."""
    where = f"agent {spec.label!r}"
    if spec.cls == "oracle":
        wrong = [] if spec.knowledge == "true" else [f"{where}: the oracle's knowledge is 'true'"]
        return wrong + ([f"{where}: the oracle takes no kwargs"] if spec.kwargs else [])
    try:
        cls = resolve_agent_class(spec.cls)
    except StudyError as error:
        return [f"{where}: {error}"]
    if _is_sb3_algorithm(cls):
        return _sb3_problems(spec, cls, env)
    options = getattr(cls, "knowledge_options", KNOWLEDGE)
    if spec.knowledge not in options:
        return [
            f"{where}: {cls.__name__} is built from {' or '.join(options)} knowledge, "
            f"not {spec.knowledge!r}"
        ]
    given = (None, None) if spec.knowledge == "none" else (None,)
    return _binding_problem(where, cls, given, _with_knowledge(cls, spec.knowledge, spec.kwargs))


def _sb3_problems(spec: AgentSpec, cls: type, env: gym.Env | None) -> list[str]:
    where = f"agent {spec.label!r}"
    if spec.knowledge != "none":
        return [f"{where}: an SB3 algorithm uses no model; set knowledge = 'none'"]
    kwargs = dict(spec.kwargs)
    bound, _ = kwargs.pop("action_bound", None), kwargs.pop("policy", None)
    problems = _binding_problem(where, cls, (None, None), kwargs)
    if env is not None:
        try:
            _finite_action_bounds(env, bound, spec)
        except StudyError as error:
            problems.append(str(error))
    return problems


def _binding_problem(where: str, cls: type, given: tuple, kwargs: dict[str, Any]) -> list[str]:
    """The constructor's refusal of ``kwargs`` (after the positional arguments the harness
    passes), if any."""
    try:
        inspect.signature(cls).bind(*given, **kwargs)
    except TypeError as error:
        return [
            f"{where}: {cls.__name__}({', '.join(kwargs)}) does not fit its constructor: {error}"
        ]
    return []


def spectrum_of(agent: Any, spec: AgentSpec) -> SpectrumInfo:
    """The agent's own spectrum, or (for a user's agent without one) the study's family."""
    if hasattr(agent, "spectrum"):
        return agent.spectrum
    if spec.family is None:
        raise StudyError(
            f"agent {spec.label!r} has no `spectrum`; give its `family` in the study "
            "(one of the SpectrumInfo families)"
        )
    learned = getattr(agent, "learned_parameters", dict)()
    return SpectrumInfo(spec.family, spec.knowledge, sum(int(np.size(v)) for v in learned.values()))


__all__ = ["SB3_ALGORITHMS", "agent_problems", "build_agent", "resolve_agent_class", "spectrum_of"]
