r"""The convex-optimization control policy with its parameters learned through the convex problem.

Agrawal, Barratt, Boyd, Stellato, "Learning Convex Optimization Control Policies", L4DC 2020:

.. math::

    \pi_{\theta,q}(x) = \operatorname*{argmin}_{u \in \mathcal U}\;
        u^\top R u + \|\theta (A x + B u)\|_2^2 + q^\top (A x + B u),

with ``θ`` and ``q`` tuned by stochastic gradient descent on the closed-loop cost of simulated
episodes (:func:`~mbdl_control.blocks.closed_loop.closed_loop_cost`), differentiating the
argmin through one of two layers (``layer``) of :mod:`mbdl_control.blocks.convex_policy`:

* ``"box_qp"`` (default): the problem is a quadratic program in ``u`` with box constraints,
  solved exactly and differentiated on its active set (``box_qp_policy_layer``); the same
  curve as cvxpylayers to its solver's accuracy, tens of times faster
  (``benchmarks/convex_layer.py``, ``benchmarks/cocp_training.py``).
* ``"cvxpylayers"``: the general backend for any DPP problem (Agrawal, Amos, Barratt, Boyd,
  Diamond, Kolter, "Differentiable Convex Optimization Layers", NeurIPS 2019), with the
  published solver settings (``solver_args``). The problem is built once and is DPP; ``x``,
  ``θ`` and ``q`` are its parameters.

Two ways to learn, both through ``fit(env, budget, seed)``:

* ``learn_from="model"``: simulate the agent's own (nominal) model; no env step is used, and
  the simulated steps are reported separately (``FitReport.simulated_steps``). Given a
  nonlinear model (the cart-pole's), the policy's problem is written on its linearization and
  tuned on the closed loop of the nonlinear model itself.
* ``learn_from="system"``: the env's dynamics are not differentiable to the agent, so it
  learns *identify-then-tune* (certainty equivalence; Mania, Tu & Recht, NeurIPS 2019): it
  spends its step budget on whole episodes of the env under the saturated LQR of its model
  plus Gaussian dither (``exploration`` × the input bound, or × 1 without bounds), fits
  ``A``, ``B`` and ``W`` by least squares shrunk toward its model
  (:func:`identify_linear_model`), then tunes ``θ`` and ``q`` in the identified model and acts
  with it. The identified matrices count as learned parameters.

Training follows the published schedule: SGD at ``learning_rate``, then
``learning_rate_after`` once ``drop_after`` iterations are done; iteration ``k`` draws its
episodes from a torch generator seeded with ``(seed, k)``, so the same seed gives the same
curve. A step whose solve fails is skipped and counted (``skipped_training_steps``). A loss
that is not finite, or :data:`DIVERGENCE_FACTOR` times the first one, means the training
diverged, and so did a training whose final parameters make no solvable problem or do worse
than the starting ones on a validation batch (:data:`VALIDATION_BATCHES` training batches of
the same episodes for both, from a stream no iteration draws): then the starting parameters,
the last ones known good, are kept, and ``FitReport.diverged`` and the diagnostics say so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from rich.progress import Progress

from mbdl_control.blocks.closed_loop import TorchModel, closed_loop_cost
from mbdl_control.blocks.convex_policy import (
    ConvexPolicy,
    box_qp_policy_layer,
    convex_policy_layer,
)
from mbdl_control.blocks.exploration import dithered_lqr_transitions
from mbdl_control.blocks.identification import identify_linear_model
from mbdl_control.blocks.riccati import lqr_steady_state
from mbdl_control.core import (
    BaseAgent,
    Budget,
    FitReport,
    episode_length,
    positive_int,
    vector_space,
)
from mbdl_control.models import (
    LinearGaussianModel,
    require_linear_gaussian,
    symmetric_sqrt,
)

LEARN_FROM = ("model", "system")
#: a training loss this many times the first one means the training diverged
DIVERGENCE_FACTOR = 10.0
#: the validation batch that checks a trained policy against its start, in training batches
VALIDATION_BATCHES = 4
INITS = ("riccati", "identity")
LAYERS = ("box_qp", "cvxpylayers")
#: SCS settings of the published code (diffcp's default backend)
PUBLISHED_SOLVER_ARGS = {
    "eps_abs": 1e-8,
    "eps_rel": 1e-8,
    "max_iters": 10_000,
    "acceleration_lookback": 0,
}


class LearnedCOCP(BaseAgent):
    """The convex policy with ``θ`` and ``q`` learned in a model or from the system."""

    family = "learned-optimizer"

    def __init__(
        self,
        model: LinearGaussianModel,
        learn_from: str = "model",
        iterations: int = 100,
        batch_size: int = 6,
        horizon: int | None = None,
        learning_rate: float = 0.1,
        drop_after: int | None = 50,
        learning_rate_after: float = 0.01,
        init: str = "riccati",
        learn_q: bool = True,
        exploration: float = 0.5,
        prior_weight: float = 1.0,
        solver_args: dict[str, Any] | None = None,
        layer: str = "box_qp",
        progress: bool = False,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self._plant = model  # what ``learn_from="model"`` simulates: nonlinear, if it is
        model = require_linear_gaussian("LearnedCOCP", model)
        if learn_from not in LEARN_FROM:
            raise ValueError(f"learn_from must be one of {LEARN_FROM}, got {learn_from!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        if layer not in LAYERS:
            raise ValueError(f"layer must be one of {LAYERS}, got {layer!r}")
        for name, value in (
            ("learning_rate", learning_rate),
            ("learning_rate_after", learning_rate_after),
        ):
            if isinstance(value, bool) or not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        self.model = model
        self.learn_from = learn_from
        self.iterations = positive_int("iterations", iterations)
        self.batch_size = positive_int("batch_size", batch_size)
        self.horizon = None if horizon is None else positive_int("horizon", horizon)
        self.learning_rate, self.learning_rate_after = learning_rate, learning_rate_after
        self.drop_after = drop_after
        self.init = init
        self.learn_q = bool(learn_q)
        self.exploration = exploration
        self.prior_weight = prior_weight
        self.solver_args = dict(PUBLISHED_SOLVER_ARGS if solver_args is None else solver_args)
        self.layer = layer
        self.progress = progress
        self.skipped_steps = 0
        self.last_skip_reason = ""
        self.diverged = False
        self._identified: LinearGaussianModel | None = None
        self._policy = ConvexPolicy(model, theta=self._initial_theta(model))
        self.observation_space = vector_space(model.n)

    @property
    def config(self) -> dict[str, Any]:
        names = (
            "learn_from iterations batch_size horizon learning_rate drop_after "
            "learning_rate_after init learn_q exploration prior_weight solver_args layer "
            "progress knowledge"
        )
        return {"model": self._plant, **{name: getattr(self, name) for name in names.split()}}

    @property
    def theta(self) -> np.ndarray:
        return self._policy.theta

    @property
    def q(self) -> np.ndarray:
        return self._policy.q

    @property
    def policy_model(self) -> LinearGaussianModel:
        """The model inside the policy's argmin: the agent's own, or the identified one."""
        return self._identified or self.model

    def _initial_theta(self, model: LinearGaussianModel) -> np.ndarray:
        if self.init == "identity":
            return np.eye(model.n)
        return symmetric_sqrt(lqr_steady_state(model)[1])

    def learned_parameters(self) -> dict[str, np.ndarray]:
        parameters = {"theta": self.theta, "q": self.q}
        if self._identified is not None:
            identified = self._identified
            parameters.update(A=identified.A, B=identified.B, W=identified.W)
        return parameters

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        if "A" in parameters:
            self._identified = self.model.replace(
                A=parameters["A"], B=parameters["B"], W=parameters["W"]
            )
        self._policy = ConvexPolicy(self.policy_model, parameters["theta"], parameters["q"])

    def diagnostics(self) -> dict[str, float]:
        return {
            **self._policy.diagnostics(),
            "skipped_training_steps": self.skipped_steps,
            "training_diverged": float(self.diverged),
        }

    def _act(self, observations: np.ndarray, state: Any, episode_start: np.ndarray):
        return self._policy.act(observations), None

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        """Tune ``θ`` and ``q`` (see the module docstring); returns the loss per iteration."""
        start = time.perf_counter()
        seed = 0 if seed is None else int(seed)
        budget = budget or Budget()
        horizon = self.horizon or episode_length(env) or 100
        steps = 0
        training_model = self.model
        if self.learn_from == "system":
            transitions = self._explore(env, budget, horizon, seed)
            steps = len(transitions[0])
            training_model = identify_linear_model(
                self.model, *transitions, prior_weight=self.prior_weight
            )
            self._identified = training_model
        curve = self._train(training_model, horizon, seed)
        return FitReport(
            steps=steps,
            simulated_steps=self.iterations * self.batch_size * horizon,
            wall_time=time.perf_counter() - start,
            curve=tuple(curve),
            diverged=self.diverged,
        )

    def _explore(self, env: Any, budget: Budget, horizon: int, seed: int):
        """Whole episodes of the env within the step budget: ``(x_t, u_t, x_{t+1})``."""
        episodes = budget.steps // horizon
        if episodes < 1:
            raise ValueError(
                f"learning from the system needs a budget of at least one episode ({horizon} "
                f"steps), got {budget.steps}"
            )
        steps = episodes * horizon
        return dithered_lqr_transitions(env, self.model, steps, self.exploration, seed)

    def _train(self, training_model: LinearGaussianModel, horizon: int, seed: int) -> list[float]:
        layer = self._policy_layer(training_model)
        simulator = self._simulator(training_model)
        theta = torch.tensor(self._initial_theta(training_model), requires_grad=True)
        q = torch.zeros(training_model.n, dtype=torch.float64, requires_grad=self.learn_q)
        optimizer = torch.optim.SGD([theta, q] if self.learn_q else [theta], lr=self.learning_rate)

        def policy(x: torch.Tensor) -> torch.Tensor:
            return layer(x, theta, q)

        start = _copies(theta, q)
        curve: list[float] = []
        self.diverged = False
        with Progress(disable=not self.progress, transient=True) as progress:
            task = progress.add_task("training the convex policy", total=self.iterations)
            for iteration in range(self.iterations):
                if self.drop_after is not None and iteration == self.drop_after + 1:
                    optimizer.param_groups[0]["lr"] = self.learning_rate_after
                generator = torch.Generator().manual_seed(seed * 100_003 + iteration + 1)
                loss = self._loss(policy, simulator, horizon, generator)
                if loss is not None and _diverging(float(loss.detach()), curve):
                    self.diverged = True
                    break
                curve.append(self._sgd_step(loss, optimizer))
                progress.update(task, advance=1, description=f"loss {curve[-1]:.3f}")
        final = _copies(theta, q)
        if not self.diverged:
            self.diverged = not self._improves(training_model, start, final, horizon, seed)
        self._policy = ConvexPolicy(training_model, *(start if self.diverged else final))
        return curve

    def _simulator(self, training_model: LinearGaussianModel) -> TorchModel:
        """The closed loop the parameters are tuned on: the agent's own model as given (the
        nonlinear cart-pole itself, not its linearization), or the identified one."""
        return TorchModel.of(self._plant if training_model is self.model else training_model)

    def _improves(self, model: LinearGaussianModel, start, final, horizon: int, seed: int) -> bool:
        """Whether the trained parameters make a solvable problem and do no worse than the
        starting ones on a validation batch (the same episodes for both, from a stream no
        training iteration draws)."""
        try:
            ConvexPolicy(model, *final)
        except ValueError:  # e.g. a θ so large that H is numerically singular
            return False
        layer, simulator = self._policy_layer(model), self._simulator(model)
        batch = VALIDATION_BATCHES * self.batch_size
        costs = []
        for theta, q in (start, final):
            generator = torch.Generator().manual_seed(seed * 100_003)
            parameters = torch.from_numpy(theta), torch.from_numpy(q)
            with torch.no_grad():
                cost = self._loss(
                    lambda x, p=parameters: layer(x, *p), simulator, horizon, generator, batch
                )
            costs.append(math.inf if cost is None else float(cost))
        return math.isfinite(costs[1]) and costs[1] <= costs[0]

    def _policy_layer(self, model: LinearGaussianModel) -> Callable[..., torch.Tensor]:
        """``(x, θ, q) ↦ u`` through the chosen layer (module docstring)."""
        if self.layer == "box_qp":
            return box_qp_policy_layer(model)
        cvxpy_layer = convex_policy_layer(model)
        return lambda x, theta, q: cvxpy_layer(x, theta, q, solver_args=self.solver_args)[0]

    def _loss(self, policy, simulator, horizon, generator, batch=None) -> torch.Tensor | None:
        """The closed-loop cost of a batch (``batch_size`` episodes by default), or ``None``
        (a skipped step, counted) when a solve inside the layer failed."""
        try:
            return closed_loop_cost(policy, simulator, batch or self.batch_size, horizon, generator)
        except Exception as error:  # a failed solve inside the layer: skip the step
            self.skipped_steps += 1
            self.last_skip_reason = f"{type(error).__name__}: {error}"
            return None

    @staticmethod
    def _sgd_step(loss: torch.Tensor | None, optimizer: torch.optim.Optimizer) -> float:
        """One step down ``loss`` (none for a skipped step); the loss, or NaN."""
        optimizer.zero_grad()
        if loss is None:
            return float("nan")
        loss.backward()
        optimizer.step()
        return float(loss.detach())


def _diverging(loss: float, curve: list[float]) -> bool:
    """A non-finite loss, or one :data:`DIVERGENCE_FACTOR` times the first sound one."""
    if not math.isfinite(loss):
        return True
    first = next((value for value in curve if math.isfinite(value)), None)
    return first is not None and loss > DIVERGENCE_FACTOR * first


def _copies(*tensors: torch.Tensor) -> tuple[np.ndarray, ...]:
    return tuple(tensor.detach().numpy().copy() for tensor in tensors)
