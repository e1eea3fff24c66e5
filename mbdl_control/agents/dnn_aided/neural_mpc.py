"""Neural-augmented MPC: nonlinear MPC on the nominal model plus a network fitted to its errors.

The model-based controller is kept whole (:mod:`mbdl_control.blocks.nonlinear_mpc`: SCP,
DAQP, the warm-started plan); only its prediction model changes, to the nominal physics plus
a residual network (:class:`~mbdl_control.blocks.residual_dynamics.ResidualModel`) fitted to
the system's transitions. ``fit(env, budget, seed)`` spends the step budget on whole or partial
episodes of the env under the saturated LQR of the nominal linearization with Gaussian dither
(``exploration`` × the force bound: the excitation a regression needs), fits the network by
Adam on the residuals, and acts by NMPC on the hybrid. Before ``fit`` the network is zero and
the agent is NMPC on the nominal model. The network's weights and scalings are its learned
parameters.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from mbdl_control.blocks.exploration import dithered_lqr_transitions
from mbdl_control.blocks.network_arrays import load_network_arrays, network_arrays
from mbdl_control.blocks.nonlinear_mpc import NonlinearMPCPolicy
from mbdl_control.blocks.residual_dynamics import ResidualModel, fit_residual, residual_network
from mbdl_control.core import BaseAgent, Budget, FitReport, positive_int, vector_space
from mbdl_control.models.cart_pole import require_cart_pole


class NeuralAugmentedMPC(BaseAgent):
    """NMPC on the nominal model plus a residual network learned from the system."""

    family = "dnn-aided"
    knowledge_options = ("nominal", "true")

    def __init__(
        self,
        model: Any,
        horizon: int = 20,
        iterations: int = 1,
        hidden: int = 32,
        epochs: int = 60,
        learning_rate: float = 3e-3,
        exploration: float = 0.3,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = require_cart_pole("NeuralAugmentedMPC", model)
        self.horizon, self.iterations = horizon, iterations
        self.hidden = positive_int("hidden", hidden)
        self.epochs = positive_int("epochs", epochs)
        if not (np.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive float, got {learning_rate!r}")
        if not (np.isfinite(exploration) and exploration >= 0):
            raise ValueError(f"exploration must be a float >= 0, got {exploration!r}")
        self.learning_rate, self.exploration = learning_rate, exploration
        width = model.n + model.m
        scaling = np.stack((np.zeros(width), np.ones(width), np.ones(width)))
        network = residual_network(model.n, model.m, self.hidden)
        self.hybrid = ResidualModel(model, network, scaling)
        self.policy = NonlinearMPCPolicy(self.hybrid, horizon, iterations)
        self.observation_space = vector_space(model.n)

    @property
    def config(self) -> dict[str, Any]:
        names = "model horizon iterations hidden epochs learning_rate exploration knowledge"
        return {name: getattr(self, name) for name in names.split()}

    def learned_parameters(self) -> dict[str, np.ndarray]:
        arrays = network_arrays(self.hybrid.network, 0.0, 1.0)
        del arrays["input_scaling"]
        return {**arrays, "scaling": self.hybrid.scaling.copy()}

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        load_network_arrays(self.hybrid.network, {**parameters, "input_scaling": [0.0, 1.0]})
        self.hybrid.set_scaling(parameters["scaling"])
        self.policy = NonlinearMPCPolicy(self.hybrid, self.horizon, self.iterations)

    def diagnostics(self) -> dict[str, float]:
        return self.policy.diagnostics()

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        budget = budget or Budget()
        seed = 0 if seed is None else seed
        if budget.steps < 2:
            return FitReport()
        started = time.perf_counter()
        states, inputs, next_states = dithered_lqr_transitions(
            env, self.model.linearized(), budget.steps, self.exploration, seed
        )
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        curve = fit_residual(
            self.hybrid, states, inputs, next_states, self.epochs, self.learning_rate, generator
        )
        self.set_learned_parameters(self.learned_parameters())  # a policy on the fitted model
        return FitReport(
            steps=len(states), wall_time=time.perf_counter() - started, curve=tuple(curve)
        )

    def _act(
        self, observations: np.ndarray, state: Any, episode_start: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        return self.policy.act(observations, state, episode_start)
