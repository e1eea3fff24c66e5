"""A network's weights and its input scaling as numpy arrays, and back: what a learned agent
hands its checkpoint (safetensors holds arrays, not modules), whatever its family."""

from __future__ import annotations

import numpy as np
import torch


def network_arrays(network: torch.nn.Module, input_mean: float, input_std: float) -> dict:
    """``network.<name>`` for every tensor of the state dict, and ``input_scaling``."""
    arrays = {
        f"network.{name}": value.detach().numpy().copy()
        for name, value in network.state_dict().items()
    }
    arrays["input_scaling"] = np.array([input_mean, input_std])
    return arrays


def load_network_arrays(network: torch.nn.Module, arrays: dict) -> tuple[float, float]:
    """Load what :func:`network_arrays` gave into ``network``; the input mean and std."""
    weights = {
        name.partition(".")[2]: torch.as_tensor(np.array(value))
        for name, value in arrays.items()
        if name.startswith("network.")
    }
    network.load_state_dict(weights)
    mean, std = map(float, arrays["input_scaling"])
    return mean, std
