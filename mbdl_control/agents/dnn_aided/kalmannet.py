r"""KalmanNet: the Kalman filter's predict and update kept, its gain computed by recurrent networks.

Revach, Shlezinger, Ni, Escoriza, van Sloun & Eldar, "KalmanNet: Neural Network Aided Kalman
Filtering for Partially Known Dynamics", IEEE Trans. Signal Process. 70 (2022); the source
paper's Example 18 (§V-C). The filter knows the designer's ``f`` and ``h`` (possibly wrong:
``knowledge="nominal"``) and nothing of the noise statistics; at each step

.. math::

    \hat x_{t|t-1} = f(\hat x_{t-1|t-1}, u_{t-1}),\qquad
    \hat x_{t|t} = \hat x_{t|t-1} + \mathcal K_t\,\big(y_t - h(\hat x_{t|t-1})\big),

the update of :func:`mbdl_control.blocks.kalman.correct`, with the gain ``𝒦_t`` ``(n × p)``
output by the network below from four differences, each divided by its Euclidean norm
(features F1–F4 of the paper):

.. math::

    \Delta\tilde y_t = y_t - y_{t-1},\quad
    \Delta y_t = y_t - h(\hat x_{t|t-1}),\quad
    \Delta\tilde x_t = \hat x_{t-1|t-1} - \hat x_{t-2|t-2},\quad
    \Delta\hat x_t = \hat x_{t-1|t-1} - \hat x_{t-1|t-2}.

**The network: architecture #2** of the paper (Fig. 4) and of the reference code's main
branch (``KalmanNet/KalmanNet_TSP``, ``KNet/KalmanNet_nn.py``), written anew: three GRUs track
the process noise covariance (``Q``, hidden ``n²``), the prior covariance (``Σ``, ``n²``) and
the innovation covariance (``S``, ``p²``); with ``a = input_multiplier`` (5 published) and
``b = output_multiplier`` (40 published), every FC layer a ReLU one unless said:

* ``Δx̃ → FC5 (n → a n) → GRU_Q``;  ``[GRU_Q, FC6(Δx̂) (n → a n)] → GRU_Σ``;
* ``[FC1(GRU_Σ) (n² → p²), FC7([Δỹ, Δy]) (2p → 2a p)] → GRU_S``;
* the gain ``FC2([GRU_Σ, GRU_S])``: ``(n² + p²) → b (n² + p²)`` ReLU ``→ n p`` linear;
* backward flow: ``FC3([GRU_S, 𝒦]) (p² + np → n²)``, ``FC4([GRU_Σ, FC3]) (2n² → n²)``,
  which becomes GRU_Σ's hidden state at the next step.

The GRUs start from the reference code's defaults ``vec(I_n)``, ``0`` and ``vec(I_p)``; every
previous estimate starts at the prior mean ``x̄_0`` and the previous measurement at
``h(x̄_0)``, so that at the first step ``Δx̃`` and ``Δx̂`` are zero and ``Δỹ`` equals the
innovation ``Δy``. The published sizes are kept, nothing scaled down (5 208 weights for
``n = p = 2``). Two departures from the reference code: the step on the first measurement uses
the prior ``x̂_{0|−1} = x̄_0`` of the env convention (``y_0`` observes ``x_0``), where the
reference code predicts ``f(x̄_0)`` first; and the last layer of FC2 starts at zero, so the
untrained filter is the model's open-loop prediction (``𝒦 = 0``). With PyTorch's default
initialization there, the random gain makes ``(I − 𝒦H)F`` unstable for the canonical ``F``:
the first loss was ≈ 10²⁰ (+203 dB; the reference run above started at +199 dB) and its
float32 gradient overflowed.

**Training**: backpropagation through time on labelled episodes
(:mod:`mbdl_control.blocks.sequence_training`: the MSE over the whole sequence, Adam, the best
weights on held-out episodes kept). The reference recipe (linear case) is 4000 steps of 30
sequences at Adam 1e-4 with weight decay 1e-3 and no clipping, from 1000 training sequences
(652–666 s on this kind of machine; of two unseeded runs at 0 dB one ended 3 dB above the KF).
Ours: Adam at 2e-3 annealed to 0 on a cosine over 300 steps of 16 sequences, the gradient
clipped at norm 1, no weight decay, a tenth of the episodes held out, weights seeded by the fit
seed: 300 steps instead of 4000, about 50 s on one core.

**Measured** (``experiments/kalmannet_linear.py``: ``mbdl/LinearTracking-v0``, 2 × 2,
``ν = −20 dB``, ``T = 100``, 200 training episodes, 500 test episodes; MSE in dB):

==========  ========  ==============  =================  =================
1/r² (dB)   KF true   KF on H·R(10°)  KalmanNet, true    KalmanNet, H·R(10°)
==========  ========  ==============  =================  =================
−10         2.65      14.78           2.71               2.89
0           −7.35     4.78            −7.30              −7.12
10          −17.35    −5.22           −17.30 ± 0.02      −17.11 ± 0.02
20          −27.35    −15.22          −27.30             −27.09
30          −37.35    −25.22          −37.29             −37.04
==========  ========  ==============  =================  =================

(± over 5 training seeds at 10 dB, one seed elsewhere; published at 10 dB: KF −17.34,
KalmanNet −17.21, KF on H·R(10°) −4.90, KalmanNet on it −16.35.) On the Lorenz attractor with
the decimation mismatch (``experiments/kalmannet_lorenz.py``, 1000 training episodes, 300 test
episodes, 0 dB): −8.88 ± 0.22 dB over 5 seeds, against −4.80 for the EKF of the designer's
model with its noise tuned by grid search and −13.32 for the UKF of the truth (published,
``T = 3000``: −11.28 against −6.43).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from mbdl_control.blocks import kalman
from mbdl_control.blocks.estimation import Memory, RecursiveEstimator
from mbdl_control.blocks.sequence_training import NetworkEstimator, as_tensor
from mbdl_control.blocks.training import seeded
from mbdl_control.core import positive_int
from mbdl_control.models import LinearGaussianModel, StateSpaceModel, require_state_space

State = dict[str, torch.Tensor]
#: the memory of one step: priors and posteriors before it, the last measurement, the GRUs
MEMORY_KEYS = (
    "prior",
    "posterior",
    "posterior_before",
    "prior_before",
    "y_before",
    "hidden_q",
    "hidden_sigma",
    "hidden_s",
)


def unit(difference: torch.Tensor) -> torch.Tensor:
    """``d / max(‖d‖, 10⁻¹²)`` along the last axis (``torch.nn.functional.normalize``'s value)
    with a finite gradient at ``d = 0`` (the first steps' differences)."""
    squared = (difference * difference).sum(-1, keepdim=True)
    return difference * torch.rsqrt(squared.clamp_min(1e-24))


def _relu_layer(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, outputs), nn.ReLU())


class KalmanGainNetwork(nn.Module):
    """Architecture #2 (module docstring): normalized differences and the three GRUs' hidden
    states → the gain ``(B, n, p)`` and the next hidden states."""

    def __init__(self, n: int, p: int, input_multiplier: int, output_multiplier: int) -> None:
        super().__init__()
        self.n, self.p = n, p
        a = input_multiplier
        self.fc5 = _relu_layer(n, a * n)
        self.gru_q = nn.GRUCell(a * n, n * n)
        self.fc6 = _relu_layer(n, a * n)
        self.gru_sigma = nn.GRUCell(n * n + a * n, n * n)
        self.fc1 = _relu_layer(n * n, p * p)
        self.fc7 = _relu_layer(2 * p, 2 * a * p)
        self.gru_s = nn.GRUCell(p * p + 2 * a * p, p * p)
        covariances = n * n + p * p
        self.fc2 = nn.Sequential(
            nn.Linear(covariances, output_multiplier * covariances),
            nn.ReLU(),
            nn.Linear(output_multiplier * covariances, n * p),
        )
        self.fc3 = _relu_layer(p * p + n * p, n * n)
        self.fc4 = _relu_layer(2 * n * n, n * n)
        nn.init.zeros_(self.fc2[2].weight)  # the gain starts at 0: the model's own prediction
        nn.init.zeros_(self.fc2[2].bias)

    def forward(
        self,
        evolution: torch.Tensor,
        update: torch.Tensor,
        observation: torch.Tensor,
        innovation: torch.Tensor,
        hidden: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """The features ``Δx̃``, ``Δx̂``, ``Δỹ``, ``Δy`` (normalized) and the hidden states of
        GRU_Q, GRU_Σ, GRU_S → the gain and the next hidden states."""
        hidden_q, hidden_sigma, hidden_s = hidden
        q = self.gru_q(self.fc5(evolution), hidden_q)
        sigma = self.gru_sigma(torch.cat([q, self.fc6(update)], -1), hidden_sigma)
        observed = self.fc7(torch.cat([observation, innovation], -1))
        s = self.gru_s(torch.cat([self.fc1(sigma), observed], -1), hidden_s)
        gain = self.fc2(torch.cat([sigma, s], -1))
        backward = self.fc3(torch.cat([s, gain], -1))
        sigma_next = self.fc4(torch.cat([sigma, backward], -1))
        return gain.view(-1, self.n, self.p), (q, sigma_next, s)


def _memory(state: State) -> Memory:
    """A torch state as the numpy memory of :class:`KalmanNetFilter` (float64 copies)."""
    return {key: value.double().numpy().copy() for key, value in state.items()}


class KalmanNetFilter(RecursiveEstimator):
    """KalmanNet's recursion (module docstring) on ``model``'s ``f`` and ``h`` with the gains
    of ``network``: in torch (:meth:`step`, :meth:`predict`, :meth:`unroll`, differentiable),
    and as a :class:`RecursiveEstimator` on numpy memories (without gradients)."""

    def __init__(self, model: StateSpaceModel, network: KalmanGainNetwork) -> None:
        self.model, self.network = model, network
        self.n, self.p, self.m = model.n, model.p, model.m
        self.dtype = next(network.parameters()).dtype

    def initial(self, batch: int) -> State:
        """The state before ``y_0``: every estimate ``x̄_0``, the measurement ``h(x̄_0)``, the
        GRUs at ``vec(I_n)``, ``0``, ``vec(I_p)``."""
        mean = torch.tensor(np.array(self.model.x0_mean), dtype=self.dtype).expand(batch, self.n)
        state = {key: mean for key in ("prior", "posterior", "posterior_before", "prior_before")}
        state["y_before"] = self.model.h(mean)
        eye_n = torch.eye(self.n, dtype=self.dtype).reshape(1, -1)
        state["hidden_q"] = eye_n.expand(batch, -1)
        state["hidden_sigma"] = torch.zeros(batch, self.n * self.n, dtype=self.dtype)
        state["hidden_s"] = torch.eye(self.p, dtype=self.dtype).reshape(1, -1).expand(batch, -1)
        return state

    def step(self, state: State, y: torch.Tensor) -> tuple[torch.Tensor, State]:
        """``x̂_{t|t}`` ``(B, n)`` from ``y_t`` ``(B, p)``, and the state after the update."""
        prior, posterior = state["prior"], state["posterior"]
        innovation = y - self.model.h(prior)
        gain, hidden = self.network(
            unit(posterior - state["posterior_before"]),
            unit(posterior - state["prior_before"]),
            unit(y - state["y_before"]),
            unit(innovation),
            (state["hidden_q"], state["hidden_sigma"], state["hidden_s"]),
        )
        estimate = kalman.correct(prior, innovation, gain)
        after = {
            "prior": prior,
            "posterior": estimate,
            "posterior_before": posterior,
            "prior_before": prior,
            "y_before": y,
        }
        after.update(zip(("hidden_q", "hidden_sigma", "hidden_s"), hidden, strict=True))
        return estimate, after

    def predict(self, state: State, u: torch.Tensor | None) -> State:
        """The state with the prior ``x̂_{t+1|t} = f(x̂_{t|t}, u_t)``."""
        return {**state, "prior": self.model.f(state["posterior"], u)}

    def unroll(self, observations: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Estimates ``(B, T+1, n)`` of episodes ``(B, T+1, p)`` with inputs ``(B, T, m)``."""
        state, estimates = self.initial(observations.shape[0]), []
        for t in range(observations.shape[1]):
            estimate, state = self.step(state, observations[:, t])
            estimates.append(estimate)
            if t < inputs.shape[1]:
                state = self.predict(state, inputs[:, t] if self.model.m else None)
        return torch.stack(estimates, 1)

    def start(self, batch: int) -> Memory:
        with torch.no_grad():
            return _memory(self.initial(batch))

    def update(self, memory: Memory, y: np.ndarray) -> tuple[np.ndarray, Memory]:
        state = {key: as_tensor(memory[key], self.dtype) for key in MEMORY_KEYS}
        with torch.no_grad():
            estimate, state = self.step(state, as_tensor(y, self.dtype))
        return estimate.double().numpy(), _memory(state)

    def advance(self, memory: Memory, u: np.ndarray | None = None) -> Memory:
        u = self.inputs(u)
        inputs = None if u is None else as_tensor(u, self.dtype)
        with torch.no_grad():
            prior = self.model.f(as_tensor(memory["posterior"], self.dtype), inputs)
        return {**memory, "prior": prior.double().numpy()}


class KalmanNet(NetworkEstimator):
    """KalmanNet: the Kalman filter's update on the designer's ``f`` and ``h`` with a gain
    computed by three GRUs (architecture #2), trained through time on labelled episodes
    (module docstring).

    Arguments: ``model`` — a :class:`StateSpaceModel` or a linear-Gaussian model with
    measurements (an env's ``nominal_model``, or ``true_model`` with ``knowledge="true"``);
    its noise covariances are not used, its prior mean ``x̄_0`` is; ``input_multiplier``,
    ``output_multiplier`` — the widths ``a`` and ``b`` of the network; the training recipe of
    :class:`~mbdl_control.blocks.sequence_training.NetworkEstimator`.
    """

    family = "dnn-aided"
    estimator: KalmanNetFilter

    def __init__(
        self,
        model: StateSpaceModel | LinearGaussianModel,
        input_multiplier: int = 5,
        output_multiplier: int = 40,
        learning_rate: float = 2e-3,
        iterations: int = 300,
        batch_size: int = 16,
        validation_fraction: float = 0.1,
        max_gradient_norm: float = 1.0,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(
            knowledge, learning_rate, iterations, batch_size, validation_fraction, max_gradient_norm
        )
        self.model = model
        self.state_space = require_state_space("KalmanNet", model)
        self.input_multiplier = positive_int("input_multiplier", input_multiplier)
        self.output_multiplier = positive_int("output_multiplier", output_multiplier)
        self._initialize(0)

    def _initialize(self, seed: int) -> None:
        network = seeded(
            lambda: KalmanGainNetwork(
                self.state_space.n,
                self.state_space.p,
                self.input_multiplier,
                self.output_multiplier,
            ),
            seed,
        )
        self._set_estimator(KalmanNetFilter(self.state_space, network))

    @property
    def config(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input_multiplier": self.input_multiplier,
            "output_multiplier": self.output_multiplier,
            **self.recipe_config(),
            "knowledge": self.knowledge,
        }
