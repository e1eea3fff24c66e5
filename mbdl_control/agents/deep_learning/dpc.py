"""Differentiable predictive control: an MLP policy trained through the differentiable model.

Drgoňa, Kiš, Tuor, Vrabie & Klaučo, "Differentiable predictive control: Deep learning
alternative to explicit model predictive control for unknown nonlinear systems", J. Process
Control 116 (2022). The policy ``u = u_max · tanh(g_φ(x))`` (``g_φ`` an MLP; no ``tanh`` where
the model has no input bound) is trained offline by Adam on the closed-loop cost of episodes
simulated in the agent's model, differentiating through every step of the simulation
(:mod:`mbdl_control.blocks.policy_training`): explicit MPC learned by gradient, no solver online.
The network is generic (the deep-learning family); what it learns from is the model, so its
knowledge is the model's (nominal or true), and it uses no env step. The published MLP policy
of the box-constrained LQR example (Agrawal et al., L4DC 2020, §6.2) is of this kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mbdl_control.blocks.network_arrays import load_network_arrays, network_arrays
from mbdl_control.blocks.policy_training import TrainedInModel
from mbdl_control.core import positive_int, vector_space


class DPC(TrainedInModel):
    """An MLP policy trained by backpropagation through the model's closed loop."""

    family = "deep-learning"

    def __init__(
        self,
        model: Any,
        hidden: int = 64,
        iterations: int = 300,
        batch_size: int = 32,
        episode_horizon: int | None = None,
        learning_rate: float = 3e-3,
        knowledge: str = "nominal",
    ) -> None:
        if not hasattr(model, "Q") or not hasattr(model, "n"):
            raise TypeError(f"DPC is built on a control model, got {type(model).__name__}")
        super().__init__(model, iterations, batch_size, episode_horizon, learning_rate, knowledge)
        self.hidden = positive_int("hidden", hidden)
        self.network = torch.nn.Sequential(
            torch.nn.Linear(model.n, hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(hidden, model.m),
        ).double()
        u_max = model.u_max
        self._bound = None if u_max is None else torch.as_tensor(np.array(u_max, dtype=float))
        self.observation_space = vector_space(model.n)

    @property
    def config(self) -> dict[str, Any]:
        names = "model hidden iterations batch_size episode_horizon learning_rate knowledge"
        return {name: getattr(self, name) for name in names.split()}

    def policy(self, x: torch.Tensor) -> torch.Tensor:
        output = self.network(x)
        return output if self._bound is None else self._bound * torch.tanh(output)

    def learned_parameters(self) -> dict[str, np.ndarray]:
        arrays = network_arrays(self.network, 0.0, 1.0)
        del arrays["input_scaling"]
        return arrays

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        load_network_arrays(self.network, {**parameters, "input_scaling": [0.0, 1.0]})

    def trained_parameters(self, seed: int) -> list[torch.nn.Parameter]:
        """The network's weights, drawn afresh from ``seed``."""
        torch.manual_seed(seed)
        for layer in self.network:
            if isinstance(layer, torch.nn.Linear):
                layer.reset_parameters()
        return list(self.network.parameters())
