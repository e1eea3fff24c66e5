"""The published convex policies beyond LQR, tuned in a model: the nominal one, or one
identified from the system first.

Agrawal, Barratt, Boyd & Stellato (L4DC 2020) tune a convex policy's ``P`` and ``q`` by SGD on
the mean cost of episodes simulated in a model, differentiating each argmin. An agent built on
:class:`IdentifyThenTune` does the same through :func:`~mbdl_control.blocks.policy_training
.train_on_loss` (the tuning kept only if it lowers a validation batch's cost), in one of two
models (``learn_from``):

* ``"model"``: the agent's own (nominal); no env step is used.
* ``"system"``: identify-then-tune (certainty equivalence; Mania, Tu & Recht, NeurIPS 2019):
  the agent spends its step budget on whole episodes of the env under its untuned policy
  plus Gaussian dither (``exploration`` × the action box), fits the numbers its model gets
  wrong (:mod:`~mbdl_control.blocks.grey_box_identification`), then tunes and acts in the
  identified model. The identified numbers count as learned parameters.

A subclass gives the starting ``P`` and ``q``, the differentiable ``policy(model, x)``, the
simulated ``episode_cost`` and the ``identify`` step.
"""

from __future__ import annotations

import dataclasses
import time
from abc import abstractmethod
from typing import Any

import numpy as np
import torch

from mbdl_control.blocks.exploration import dithered_transitions
from mbdl_control.blocks.policy_training import train_on_loss
from mbdl_control.core import (
    BaseAgent,
    Budget,
    FitReport,
    episode_length,
    finite_float,
    positive_float,
    positive_int,
)

LEARN_FROM = ("model", "system")


class IdentifyThenTune(BaseAgent):
    """A convex policy ``π_{P,q}`` tuned in the nominal or the identified model."""

    family = "learned-optimizer"
    #: the model fields that identification fits
    identified_fields: tuple[str, ...] = ()

    def __init__(
        self,
        model: Any,
        P: np.ndarray,
        q: np.ndarray,
        iterations: int,
        batch_size: int,
        learning_rate: float,
        clip_norm: float | None,
        learn_from: str,
        exploration: float,
        knowledge: str,
    ) -> None:
        super().__init__(knowledge)
        self.model = self.policy_model = model
        self.iterations = positive_int("iterations", iterations)
        self.batch_size = positive_int("batch_size", batch_size)
        self.learning_rate = positive_float("learning_rate", learning_rate)
        self.clip_norm = None if clip_norm is None else positive_float("clip_norm", clip_norm)
        if learn_from not in LEARN_FROM:
            raise ValueError(f"learn_from must be one of {LEARN_FROM}, got {learn_from!r}")
        if finite_float("exploration", exploration) < 0:
            raise ValueError(f"exploration must be >= 0, got {exploration!r}")
        self.learn_from, self.exploration = learn_from, float(exploration)
        self.P = torch.nn.Parameter(torch.tensor(P, dtype=torch.float64))
        self.q = torch.nn.Parameter(torch.tensor(q, dtype=torch.float64))
        self.diverged = False

    @property
    def config(self) -> dict[str, Any]:
        names = "model iterations batch_size learning_rate clip_norm learn_from exploration"
        return {name: getattr(self, name) for name in (*names.split(), "knowledge")}

    @abstractmethod
    def policy(self, model: Any, x: torch.Tensor) -> torch.Tensor:
        """The inputs ``(batch, m)`` at states ``(batch, n)`` of the policy written on
        ``model``, differentiable in ``P`` and ``q``."""

    @abstractmethod
    def episode_cost(
        self, model: Any, batch: int, horizon: int, generator: torch.Generator
    ) -> torch.Tensor:
        """The mean cost per period of ``batch`` episodes of ``model`` under :meth:`policy`."""

    @abstractmethod
    def identify(self, states: np.ndarray, inputs: np.ndarray, next_states: np.ndarray) -> Any:
        """The agent's model with :attr:`identified_fields` fitted to the transitions."""

    def learned_parameters(self) -> dict[str, np.ndarray]:
        fitted = {
            name: np.array(getattr(self.policy_model, name)) for name in self.identified_fields
        }
        return {"P": self.P.detach().numpy().copy(), "q": self.q.detach().numpy().copy(), **fitted}

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            for name in ("P", "q"):
                target = getattr(self, name)
                if np.shape(parameters[name]) != tuple(target.shape):
                    raise ValueError(f"{name} must have shape {tuple(target.shape)}")
                target.copy_(torch.as_tensor(np.array(parameters[name])))
        fitted = {
            name: float(np.squeeze(value))
            if isinstance(getattr(self.model, name), float)
            else np.array(value)
            for name in self.identified_fields
            if (value := parameters.get(name)) is not None
        }
        self.policy_model = dataclasses.replace(self.model, **fitted)

    def diagnostics(self) -> dict[str, float]:
        return {"diverged": float(self.diverged)}

    def fit(
        self,
        env: Any,
        budget: Budget | None = None,
        seed: int | None = None,
        horizon: int | None = None,
    ) -> FitReport:
        """Identify (``learn_from="system"``) and tune ``P`` and ``q`` on episodes of the env's
        length (or ``horizon``; module docstring)."""
        started = time.perf_counter()
        seed = 0 if seed is None else int(seed)
        horizon = horizon or episode_length(env) or 100
        steps = 0
        if self.learn_from == "system":
            episodes = (budget or Budget()).steps // horizon
            if episodes < 1:
                raise ValueError(
                    f"learning from the system needs a budget of at least one episode "
                    f"({horizon} steps), got {(budget or Budget()).steps}"
                )
            steps = episodes * horizon
            transitions = self._explore(env, steps, seed)
            self.policy_model = self.identify(*transitions)
        curve, self.diverged = train_on_loss(
            lambda size, generator: self.episode_cost(self.policy_model, size, horizon, generator),
            [self.P, self.q],
            self.iterations,
            self.batch_size,
            self.learning_rate,
            seed,
            optimizer=torch.optim.SGD,
            clip_norm=self.clip_norm,
        )
        return FitReport(
            steps=steps,
            simulated_steps=len(curve) * self.batch_size * horizon,
            wall_time=time.perf_counter() - started,
            curve=tuple(curve),
            diverged=self.diverged,
        )

    def _explore(self, env: Any, steps: int, seed: int):
        box = env.action_space
        scale = self.exploration * np.maximum(np.abs(box.low), np.abs(box.high))

        def act(x: np.ndarray, noise: np.ndarray) -> np.ndarray:
            return np.clip(self.predict(x[None])[0][0] + scale * noise, box.low, box.high)

        return dithered_transitions(env, act, box.shape[0], steps, seed)

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        with torch.no_grad():
            x = torch.from_numpy(np.array(observations, dtype=np.float64))
            return self.policy(self.policy_model, x).numpy(), None
