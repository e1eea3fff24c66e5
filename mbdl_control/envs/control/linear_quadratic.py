"""``mbdl/LinearQuadratic-v0``: the published stochastic LQR example."""

from __future__ import annotations

from typing import Any

from mbdl_control.blocks.riccati import lq_optimal_cost
from mbdl_control.envs.arguments import (
    DIMENSION,
    LEGACY_SEED,
    OPTIONAL_INPUT_BOUND,
    SEED,
    STD,
    checked_arguments,
)
from mbdl_control.envs.control.control_vector import ControlVectorEnv
from mbdl_control.envs.control.linear_control import LinearControlEnv
from mbdl_control.envs.control.random_systems import published_random_model


class LinearQuadraticEnv(LinearControlEnv):
    """
    ## Description

    Regulate a random linear system driven by Gaussian noise to the origin, paying a quadratic
    cost: the LQR example of Agrawal, Barratt, Boyd & Stellato, "Learning Convex Optimization
    Control Policies" (L4DC 2020, §6.1). With the default arguments the true system is the
    published one (``n = 4``, ``m = 2``, seed 0, ``W = 0.25 I``, ``x_0 ~ N(0, I)``, ``Q = R = I``).

    ## Action Space

    ``Box(-inf, inf, (m,), float64)``: the input ``u``; it is unconstrained, unless the opt-in
    ``u_max`` bounds it to ``Box(-u_max, u_max)`` (inputs outside are then clipped, as the
    actuator saturates): stable-baselines3's ``check_env`` and its algorithms need a finite
    action box.

    ## Observation Space

    ``Box(-inf, inf, (n,), float64)``: the full state ``x``.

    ## Transition Dynamics

    ``x_{t+1} = A x_t + B u_t + w_t`` with ``A`` a standard-normal draw scaled to spectral
    radius 1 and ``B`` a standard-normal draw (numpy ``RandomState(system_seed)``, as in the
    published code).

    ## Noise Model

    ``w_t ~ N(0, noise_std² I)``, ``x_0 ~ N(0, x0_std² I)``, drawn from ``self.np_random``.

    ## Known vs Unknown

    The nominal model holds ``Â = A + ε‖A‖_F E_A/‖E_A‖_F`` and ``B̂`` likewise (``E`` standard
    normal from ``mismatch_seed``), so the relative Frobenius error of ``A`` and of ``B`` is
    exactly ``mismatch = ε``. ``W``, ``Q``, ``R`` and the initial distribution are known exactly.

    ## Reward

    ``−(xᵀQx + uᵀRu)`` at the current state and input; ``info["cost"]`` is that cost,
    ``info["state"]`` the new true state, ``info["saturated"]`` whether the input was clipped
    (never, here).

    ## Starting State

    ``x_0 ~ N(0, x0_std² I)``.

    ## Episode End

    Truncation after ``max_episode_steps = 100`` steps (the registry); no termination.

    ## Oracle and Bound

    ``oracle()``: the time-varying LQR of the true model over the episode's horizon, the exact
    optimal policy. ``performance_bound()``: its exact expected cost per step,
    ``(tr(P_0Σ_0) + Σ_t tr(P_{t+1}W)) / T`` — the bound is attained.

    With ``u_max``, the oracle is the same LQR with its inputs clipped: the best known
    policy, no longer an optimal one; the bound, that of the unconstrained problem, still bounds.

    ## Arguments

    ``mismatch`` (≥ 0), ``system_seed`` (0), ``n`` (4), ``m`` (2), ``noise_std`` (0.5),
    ``x0_std`` (1.0), ``mismatch_seed`` (0), ``u_max`` (``None``; a positive float bounds the
    inputs), ``render_mode`` (``None``, ``"ansi"`` or ``"rgb_array"``). Each is checked at
    construction, a ``ValueError`` naming a bad one
    (:mod:`mbdl_control.envs.arguments`): integers for the seeds (``system_seed < 2³²``) and
    for the dimensions (1 to 1000); finite floats, not bools, for the rest: the standard
    deviations in ``[0, 1e100]``, ``mismatch`` in ``[0, 1e6]``.
    ``check_env`` warns that the state and action spaces are unbounded and not normalized: a
    linear system driven by Gaussian noise has an unbounded state, and the LQ problem has no
    input bounds (stable-baselines3's ``check_env`` refuses the unbounded action box: pass
    ``u_max``).

    >>> import gymnasium as gym, mbdl_control
    >>> env = gym.make("mbdl/LinearQuadratic-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, bool((obs == info["state"]).all())
    ((4,), True)

    ## Version History

    * v0: initial version; a native batched version (``gym.make_vec(id, num_envs)``, the
      same trajectories as single envs seeded alike) added without changing the single env's
      draws or dynamics; later, every argument checked at construction and every action at
      its step (``ValueError``), valid ones unchanged; ``rgb_array`` rendering added; the
      opt-in input bound ``u_max`` added (default ``None``: unchanged).
    """

    @checked_arguments(
        system_seed=LEGACY_SEED,
        n=DIMENSION,
        m=DIMENSION,
        noise_std=STD,
        x0_std=STD,
        mismatch_seed=SEED,
        u_max=OPTIONAL_INPUT_BOUND,
    )
    def __init__(
        self,
        mismatch: float = 0.0,
        system_seed: int = 0,
        n: int = 4,
        m: int = 2,
        noise_std: float = 0.5,
        x0_std: float = 1.0,
        mismatch_seed: int = 0,
        u_max: float | None = None,
        render_mode: str | None = None,
    ) -> None:
        true_model = published_random_model(
            system_seed, n, m, noise_std=noise_std, x0_std=x0_std, u_max=u_max
        )
        super().__init__(true_model, mismatch, mismatch_seed, render_mode)

    def oracle(self, horizon: int | None = None) -> Any:
        from mbdl_control.agents.model_based.lqr import LQR  # lazily: gym.make loads no agent

        return LQR(self.true_model, horizon=horizon or self.horizon, knowledge="true")

    def _compute_bound(self, horizon: int) -> float:
        return lq_optimal_cost(self.true_model, horizon)


class LinearQuadraticVectorEnv(ControlVectorEnv):
    """``mbdl/LinearQuadratic-v0`` batched: ``gym.make_vec("mbdl/LinearQuadratic-v0", n)``."""

    single_env_class = LinearQuadraticEnv
