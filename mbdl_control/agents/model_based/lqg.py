"""Linear-quadratic-Gaussian control on the given model: the LQG law of
:mod:`mbdl_control.blocks.lqg` (a state estimator feeding LQR gains), with the model's Kalman
filter or any estimator agent of the suite in its place (separation)."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.blocks.estimation import FilterAgent
from mbdl_control.blocks.lqg import OutputFeedback
from mbdl_control.core import BaseAgent, Budget, FitReport, vector_space
from mbdl_control.models import LinearGaussianModel, state_space_of


def estimator_agent(spec: FilterAgent | dict[str, Any], model: LinearGaussianModel, knowledge: str):
    """An estimator agent, or one built from ``{"class": name, **kwargs}`` (a library agent
    by name, on ``model`` — or on its ``structure`` for an estimator built from one, as the
    GRU — unless the kwargs name another); ``ValueError`` unless its state, measurement and
    input dimensions are ``model``'s."""
    agent = spec if isinstance(spec, FilterAgent) else _built_estimator(spec, model, knowledge)
    inner = agent.estimator
    if (inner.n, inner.p, inner.m) != (model.n, model.p, model.m):
        raise ValueError(
            f"the estimator {type(agent).__name__} has n, p, m = {inner.n}, {inner.p}, "
            f"{inner.m}; LQG's model has {model.n}, {model.p}, {model.m}"
        )
    return agent


def _built_estimator(spec: Any, model: LinearGaussianModel, knowledge: str) -> FilterAgent:
    if not isinstance(spec, dict) or not isinstance(spec.get("class"), str):
        raise ValueError(
            "estimator must be an estimator agent (KalmanNet(model), ...) or a table "
            f"{{class = 'KalmanNet', ...}} of its arguments, got {spec!r}"
        )
    library = importlib.import_module("mbdl_control.agents")  # by name: no family imported
    kwargs = dict(spec)
    name = kwargs.pop("class")
    cls = getattr(library, name) if name in library.AGENTS else None
    if cls is None or not issubclass(cls, FilterAgent):
        raise ValueError(f"estimator class {name!r} is not one of the library's estimator agents")
    if "structure" in inspect.signature(cls).parameters:
        return cls(**{"structure": state_space_of(model).structure(), **kwargs})
    return cls(**{"model": model, "knowledge": knowledge, **kwargs})


class _ClosedLoop(gym.Wrapper):
    """The env driven by an LQG law from its own measurements, whatever action it is handed:
    an estimator learning on it collects closed-loop trajectories (``info["applied_action"]``
    holds the inputs), as it will be used."""

    def __init__(self, env: gym.Env, law: OutputFeedback) -> None:
        super().__init__(env)
        self.law = law
        self.action_space = vector_space(law.model.n)

    def reset(self, **kwargs: Any):
        self._observation, info = self.env.reset(**kwargs)
        self._memory, self._start = None, np.ones(1, dtype=bool)
        return self._observation, info

    def step(self, action: Any):
        inputs, self._memory = self.law.act(self._observation[None], self._memory, self._start)
        self._start = np.zeros(1, dtype=bool)
        self._observation, *rest, info = self.env.step(inputs[0])
        return self._observation, *rest, {"applied_action": inputs[0], **info}


class LQG(BaseAgent):
    """Output feedback ``u_t = −K_t x̂_{t|t}`` on the given model.

    ``horizon=None``: steady-state gains; ``horizon=T``: the time-varying filter and gains of a
    ``T``-step episode (the exact optimum on the true model), steady state past ``T``.
    ``estimator``: another estimator in the Kalman filter's place — an estimator agent
    (``KalmanNet(model)``, ``ParticleFilter(model)``, ...) or a table ``{"class": name,
    **kwargs}`` of one built on the same model. The agent's family and learned parameters are
    then the estimator's, and ``fit`` trains it on closed-loop trajectories under the model's
    own LQG law.
    """

    family = "model-based"

    def __init__(
        self,
        model: LinearGaussianModel,
        horizon: int | None = None,
        estimator: FilterAgent | dict[str, Any] | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = model
        self.estimator = None if estimator is None else estimator_agent(estimator, model, knowledge)
        self.horizon = horizon
        self._connect()
        self.observation_space = vector_space(model.p)
        if self.estimator is not None:
            self.family = self.estimator.family

    def _connect(self) -> None:
        """The law on the estimator agent's current estimator (a fit or a load may replace
        it: a learner starts each fit from fresh weights)."""
        inner = None if self.estimator is None else self.estimator.estimator
        self.law = OutputFeedback(self.model, self.horizon, inner)
        self.horizon = self.law.horizon

    @property
    def config(self) -> dict[str, Any]:
        estimator, spec = self.estimator, None
        if estimator is not None:
            spec = {"class": type(estimator).__name__, **estimator.config}
        return {
            "model": self.model,
            "horizon": self.horizon,
            "estimator": spec,
            "knowledge": self.knowledge,
        }

    def learned_parameters(self) -> dict[str, np.ndarray]:
        return {} if self.estimator is None else self.estimator.learned_parameters()

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        if self.estimator is None:
            super().set_learned_parameters(parameters)
        else:
            self.estimator.set_learned_parameters(parameters)
            self._connect()

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        """Train the estimator (if it learns) on trajectories of ``env`` in closed loop with
        this model's Kalman-filter LQG law; nothing to do otherwise."""
        if self.estimator is None:
            return FitReport()
        report = self.estimator.fit(_ClosedLoop(env, OutputFeedback(self.model)), budget, seed)
        self._connect()
        return report

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        return self.law.act(observations, state, episode_start)
