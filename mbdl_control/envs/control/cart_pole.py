"""``mbdl/CartPole-v0``: the cart-pole with friction, controlled through a wrong model."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from mbdl_control.envs.arguments import Choice, Real, checked_arguments
from mbdl_control.envs.control.cart_pole_dynamics import CartPoleDynamics
from mbdl_control.envs.control.control_env import ControlEnv
from mbdl_control.envs.control.control_vector import ControlVectorEnv
from mbdl_control.models import relative_errors
from mbdl_control.models.cart_pole import CartPoleModel

#: the two tasks: hold the pole up from near upright, or swing it up from hanging down
TASKS = ("stabilize", "swing_up")
#: the true plant's viscous friction: the cart's (N·s/m) and the hinge's (N·m·s/rad)
TRUE_FRICTION = {"cart_friction": 0.5, "pole_friction": 0.01}
#: the oracle's horizon (steps of 0.02 s) and SCP iterations per step, per task: a swing-up
#: needs a plan of 1.6 s to see the pole over the top (0.8 and 1.2 s plans keep it pumping)
ORACLE_SETTINGS = {"stabilize": (40, 2), "swing_up": (80, 3)}


def nominal_cart_pole(true: CartPoleModel, mismatch: float) -> CartPoleModel:
    """The designer's model: the truth at ``mismatch = 0``; otherwise without friction, with the
    cart mass and the pole length over-estimated and the pole mass under-estimated by the factor
    ``1 + mismatch``."""
    if mismatch == 0:
        return true
    factor = 1.0 + mismatch
    return true.replace(
        cart_mass=true.cart_mass * factor,
        pole_mass=true.pole_mass / factor,
        pole_length=true.pole_length * factor,
        cart_friction=0.0,
        pole_friction=0.0,
    )


class CartPoleEnv(ControlEnv):
    """
    ## Description

    Balance a pole on a cart, or swing it up, with a bounded horizontal force, given a model
    that has the wrong masses and length and no friction. The cart-pole of Barto, Sutton &
    Anderson (1983) with Florian's corrected equations (2007), Gymnasium's ``CartPole``
    physics made continuous, stochastic and frictional: the nonlinear benchmark every control
    engineer knows, small enough to solve a nonlinear MPC on in milliseconds, and nonlinear
    enough (a swing-up crosses every angle) that a linearization is not the answer.

    ## Action Space

    ``Box(-force_max, force_max, (1,), float64)``, ``force_max = 10`` N. A force outside it is
    clipped (the motor saturates) and ``info["saturated"]`` is 1.0.

    ## Observation Space

    ``Box(-inf, inf, (4,), float64)``: the full state ``(x, ẋ, θ, θ̇)``, cart position (m) and
    velocity, pole angle (rad, 0 upright, wrapped to ``[-π, π)``) and rate.

    ## Transition Dynamics

    ``x_{t+1} = f(x_t, F_t) + w_t``: :class:`~mbdl_control.models.cart_pole.CartPoleModel`'s
    semi-implicit Euler step over ``dt = 0.02`` s with ``M = 1`` kg, ``m = 0.1`` kg, half-length
    ``l = 0.5`` m, ``g = 9.81``, viscous friction ``b_c = 0.5`` N·s/m on the cart and
    ``b_p = 0.01`` N·m·s/rad at the hinge; the angle wrapped after the noise.

    ## Noise Model

    ``w_t ~ N(0, noise_std² diag(0, 1, 0, 1))`` (velocity kicks, ``noise_std = 0.02``) and the
    initial state, from ``self.np_random``; 4 normals per reset and per step, whatever the
    action (common random numbers).

    ## Known vs Unknown

    ``mismatch = ε``: ``0`` hands the truth itself; any ``ε > 0`` a model *without friction*
    whose cart mass and pole length are ``1 + ε`` times the truth's and whose pole mass is
    ``1/(1 + ε)`` of it (relative errors ``ε``, ``ε`` and ``ε/(1 + ε)``). The cost, the noise,
    the initial distribution, ``g``, ``dt`` and the force bound are known exactly.

    ## Reward

    ``−(xᵀQx + F²R)`` with ``Q = diag(1, 0.1, 10, 0.1)``, ``R = 0.01`` and the clipped force, on
    the wrapped angle; ``info["cost"]`` is that cost and ``info["state"]`` the new state.

    ## Starting State

    ``"stabilize"``: ``x_0 ~ N(0, x0_std² I)`` (``x0_std = 0.2``: every start recoverable, so
    the mean cost is not ruled by a few lost poles; at 0.25 one episode in a hundred is lost
    by some controllers and its cost dominates every gap); ``"swing_up"``: ``x_0 ~
    N((0, 0, −π, 0), x0_std² I)``, the pole hanging down.

    ## Episode End

    Truncation after ``max_episode_steps = 100`` steps (2 s); no termination. A swing-up
    needs longer episodes: ``gym.make(id, task="swing_up", max_episode_steps=250)``.

    ## Oracle and Bound

    ``oracle()``: nonlinear MPC on the true model (sequential convex programming, warm-started;
    :class:`~mbdl_control.agents.NonlinearMPC`): horizon 40 (0.8 s) and 2 iterations per step
    for ``"stabilize"``, horizon 80 (1.6 s) and 3 iterations for ``"swing_up"``, which shorter
    plans do not achieve. The best known policy, not an optimal one. ``performance_bound()``:
    ``None``: no lower bound is known for this constrained nonlinear stochastic problem (the
    LQ bound of the linearization is not one: the plant is not linear).

    ## Arguments

    ``mismatch`` (≥ 0), ``task`` (``"stabilize"`` or ``"swing_up"``), ``force_max`` (10.0, in
    (0, 1000]), ``noise_std`` (0.02, in [0, 1]), ``x0_std`` (0.2, in [0, 1]), ``render_mode``
    (``None``, ``"ansi"`` or ``"rgb_array"``); each checked at construction (``ValueError``
    naming it).

    >>> import gymnasium as gym, mbdl_control
    >>> env = gym.make("mbdl/CartPole-v0", mismatch=0.2)
    >>> env.unwrapped.nominal_model.cart_mass, env.unwrapped.nominal_model.cart_friction
    (1.2, 0.0)

    ## Version History

    * v0: initial version, with a native batched version (``gym.make_vec``).
    """

    @checked_arguments(
        task=Choice(TASKS),
        force_max=Real(0.0, 1000.0, open_minimum=True, meaning="the force bound, N"),
        noise_std=Real(0.0, 1.0, meaning="the velocity kicks' standard deviation"),
        x0_std=Real(0.0, 1.0, meaning="the initial state's spread"),
    )
    def __init__(
        self,
        mismatch: float = 0.0,
        task: str = "stabilize",
        force_max: float = 10.0,
        noise_std: float = 0.02,
        x0_std: float = 0.2,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(mismatch, render_mode)
        self.task = task
        start = np.zeros(4) if task == "stabilize" else np.array([0.0, 0.0, -np.pi, 0.0])
        self.true_model = CartPoleModel(
            **TRUE_FRICTION,
            force_max=force_max,
            W=noise_std**2 * np.diag([0.0, 1.0, 0.0, 1.0]),
            x0_mean=start,
            x0_cov=x0_std**2 * np.eye(4),
        )
        self.nominal_model = nominal_cart_pole(self.true_model, self.mismatch)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float64)
        self.action_space = gym.spaces.Box(-force_max, force_max, (1,), np.float64)
        self.dynamics = CartPoleDynamics.of(self.true_model)

    def oracle(self, horizon: int | None = None) -> Any:
        """The same receding-horizon policy for every episode length."""
        from mbdl_control.agents.model_based.nonlinear_mpc import NonlinearMPC  # lazily

        horizon, iterations = ORACLE_SETTINGS[self.task]
        return NonlinearMPC(
            self.true_model, horizon=horizon, iterations=iterations, knowledge="true"
        )

    def _compute_bound(self, horizon: int) -> None:
        return None

    def mismatch_report(self) -> dict[str, float]:
        """Relative errors of every parameter (friction included: 1 where it is omitted)."""
        report = relative_errors(self.true_model, self.nominal_model)
        for name in ("cart_mass", "pole_mass", "pole_length", "cart_friction", "pole_friction"):
            true, nominal = getattr(self.true_model, name), getattr(self.nominal_model, name)
            report[f"rel_error_{name}"] = abs(nominal - true) / true
        return report


class CartPoleVectorEnv(ControlVectorEnv):
    """``mbdl/CartPole-v0`` batched, built by ``gym.make_vec(id, num_envs)``."""

    single_env_class = CartPoleEnv
