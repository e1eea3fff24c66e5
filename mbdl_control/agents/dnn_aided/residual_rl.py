"""Residual reinforcement learning: SAC learns a bounded correction on top of MPC.

Johannink, Bahl, Nair, Luo, Kumar, Loskyll, Ojea, Solowjow & Levine, "Residual reinforcement
learning for robot control" (ICRA 2019); Silver, Allen, Tenenbaum & Kaelbling, "Residual policy
learning" (2018). The applied input is

.. math::

    u = \\operatorname{clip}\\big(u_{\\rm MPC}(x) + \\beta\\, u_{\\max}\\, a\\big),\\qquad
    a = \\pi_\\phi(x) \\in [-1, 1]^m,

with ``u_MPC`` the linear MPC of the model's linearization (the existing DAQP fast path,
:class:`~mbdl_control.blocks.mpc.MPCPolicy`), ``β = correction`` and ``π_φ`` the actor of
stable-baselines3's SAC (Haarnoja et al., ICML 2018), trained on the env's reward through a
wrapper that adds the MPC input to its action: the model-based controller keeps the loop
stable from the first step and the network learns only what the model gets wrong. The actor's
output layer starts at zero, so an unfitted agent is the MPC itself. It uses the nominal model
(the MPC) and env steps (the budget, one SAC step each): dnn-aided. The actor's weights are
its learned parameters (the critics serve only the training).
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from mbdl_control.blocks.mpc import MPCPolicy
from mbdl_control.core import BaseAgent, Budget, FitReport, positive_int, vector_space
from mbdl_control.models import require_linear_gaussian


class _Spaces(gym.Env):
    """An env that only declares spaces: SAC is built on it to hold an actor between fits."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.observation_space, self.action_space = observation_space, action_space


class _ResidualActions(gym.Wrapper):
    """The env seen by the residual learner: its action in ``[-1, 1]`` is added, scaled, to
    the MPC input at the current state."""

    def __init__(self, env: gym.Env, agent: ResidualSAC) -> None:
        super().__init__(env)
        self.agent = agent
        self.action_space = gym.spaces.Box(-1.0, 1.0, env.action_space.shape, np.float64)
        self._observation: np.ndarray | None = None

    def reset(self, **kwargs: Any):
        self._observation, info = self.env.reset(**kwargs)
        return self._observation, info

    def step(self, action: Any):
        u = self.agent.applied(self._observation[None], np.asarray(action)[None])[0]
        self._observation, *rest = self.env.step(u)
        return (self._observation, *rest)


class ResidualSAC(BaseAgent):
    """MPC on the nominal model plus a SAC-learned correction of at most ``correction · u_max``."""

    family = "dnn-aided"
    knowledge_options = ("nominal", "true")

    def __init__(
        self,
        model: Any,
        correction: float = 0.3,
        horizon: int = 10,
        hidden: int = 64,
        sac_options: dict[str, Any] | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = model
        linear = require_linear_gaussian("ResidualSAC", model)
        if linear.u_max is None:
            raise ValueError("ResidualSAC needs input bounds: its correction is a share of u_max")
        if not (np.isfinite(correction) and 0 < correction <= 2):
            raise ValueError(f"correction must be in (0, 2] (a share of u_max), got {correction}")
        self.correction, self.horizon = float(correction), positive_int("horizon", horizon)
        self.hidden = positive_int("hidden", hidden)
        self.sac_options = dict(sac_options or {})
        self.mpc = MPCPolicy(linear, self.horizon)
        self._scale = self.correction * linear.u_max
        self.observation_space = vector_space(linear.n)
        self._action_space = gym.spaces.Box(-1.0, 1.0, (linear.m,), np.float64)
        self.sac = self._new_sac(_Spaces(self.observation_space, self._action_space), 1, 0)

    @property
    def config(self) -> dict[str, Any]:
        names = "model correction horizon hidden sac_options knowledge"
        return {name: getattr(self, name) for name in names.split()}

    def _new_sac(self, env: gym.Env, buffer_size: int, seed: int) -> Any:
        from stable_baselines3 import SAC  # only the agents that learn with SB3 import it

        options = {"learning_starts": 1000, **self.sac_options}
        sac = SAC(
            "MlpPolicy",
            env,
            buffer_size=buffer_size,
            policy_kwargs={"net_arch": [self.hidden, self.hidden]},
            seed=seed,
            device="cpu",
            verbose=0,
            **options,
        )
        with torch.no_grad():  # start from no correction: the MPC itself
            sac.actor.mu.weight.zero_()
            sac.actor.mu.bias.zero_()
        return sac

    def applied(self, states: np.ndarray, corrections: np.ndarray) -> np.ndarray:
        """The MPC inputs at ``states`` plus the scaled ``corrections`` (``[-1, 1]``), clipped."""
        u_max = self.mpc.model.u_max
        return np.clip(self.mpc.act(states) + self._scale * corrections, -u_max, u_max)

    def learned_parameters(self) -> dict[str, np.ndarray]:
        return {
            f"actor.{name}": value.detach().numpy().copy()
            for name, value in self.sac.actor.state_dict().items()
        }

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        weights = {
            name.partition(".")[2]: torch.as_tensor(np.array(value))
            for name, value in parameters.items()
        }
        self.sac.actor.load_state_dict(weights)

    def diagnostics(self) -> dict[str, float]:
        return self.mpc.diagnostics()

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        """SAC on the residual for the budget's env steps."""
        steps = 0 if budget is None else budget.steps
        if steps < 1:
            return FitReport()
        started = time.perf_counter()
        self.sac = self._new_sac(_ResidualActions(env, self), steps, 0 if seed is None else seed)
        self.sac.learn(total_timesteps=steps)
        return FitReport(steps=steps, wall_time=time.perf_counter() - started)

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        corrections, _ = self.sac.predict(observations, deterministic=True)
        return self.applied(observations, np.asarray(corrections, dtype=np.float64)), None
