"""``mbdl/LQG-v0``: partially observed linear-Gaussian control."""

from __future__ import annotations

from typing import Any

from mbdl_control.blocks.riccati import lqg_optimal_cost
from mbdl_control.envs.arguments import (
    DIMENSION,
    LEGACY_SEED,
    MAX_RELATIVE_ERROR,
    OPTIONAL_INPUT_BOUND,
    SEED,
    STD,
    Integer,
    Real,
    checked_arguments,
)
from mbdl_control.envs.control.control_vector import ControlVectorEnv
from mbdl_control.envs.control.linear_control import LinearControlEnv
from mbdl_control.envs.control.random_systems import published_random_model

#: ``p``: LQG observes through at least one measurement
MEASUREMENTS = Integer(1, DIMENSION.maximum, "the measurement dimension; LQG needs measurements")
#: ``measurement_std``: ``V = measurement_std² I`` must be positive definite to the model's
#: tolerance (eigenvalues above 1e-10)
MEASUREMENT_STD = Real(
    1e-5, open_minimum=True, meaning="V = measurement_std² I must be positive definite"
)
#: ``noise_mismatch``: the relative error of the nominal noise statistics
NOISE_MISMATCH = Real(
    maximum=MAX_RELATIVE_ERROR, meaning="the nominal noise statistics' error; 0: known exactly"
)


class LQGEnv(LinearControlEnv):
    """
    ## Description

    Regulate a random linear system seen only through noisy measurements ``y = Cx + v``: the
    linear-quadratic-Gaussian running example of Shlezinger, Eldar & Boyd, "Model-Based Deep
    Learning" (2022), where the controller needs a state estimate (a Kalman filter, or a
    learned one). Defaults: ``n = 4`` states, ``m = 2`` inputs, ``p = 2`` measurements (fewer
    than states, so the filter must use the dynamics), ``W = 0.25 I``, ``V = I``,
    ``x_0 ~ N(0, I)``, ``Q = R = I``.

    ## Action Space

    ``Box(-inf, inf, (m,), float64)``: the input ``u``; it is unconstrained, unless the opt-in
    ``u_max`` bounds it to ``Box(-u_max, u_max)`` (inputs outside are then clipped, as the
    actuator saturates): stable-baselines3's ``check_env`` and its algorithms need a finite
    action box.

    ## Observation Space

    ``Box(-inf, inf, (p,), float64)``: the measurement ``y_t = C x_t + v_t``.

    ## Transition Dynamics

    ``x_{t+1} = A x_t + B u_t + w_t``; ``A`` standard normal scaled to spectral radius 1, then
    ``B`` and ``C`` standard normal, from ``RandomState(system_seed)`` in that order.

    ## Noise Model

    ``w_t ~ N(0, noise_std² I)``, ``v_t ~ N(0, measurement_std² I)``,
    ``x_0 ~ N(0, x0_std² I)``, all from ``self.np_random``.

    ## Known vs Unknown

    The nominal model holds ``Â``, ``B̂``, ``Ĉ``, each at relative Frobenius error exactly
    ``mismatch`` (``M̂ = M + ε‖M‖_F E/‖E‖_F``, ``E`` standard normal from ``mismatch_seed``).
    With ``noise_mismatch = η > 0`` the nominal noise statistics are wrong too:
    ``Ŵ = W/(1+η)²`` and ``V̂ = V(1+η)²``, a designer who believes the process quieter and the
    sensor noisier than they are (so a filter on the nominal model trusts its prediction too
    much). Cost and the initial distribution are known exactly.

    ## Reward

    ``−(xᵀQx + uᵀRu)`` at the true state; ``info["cost"]`` is that cost and ``info["state"]``
    the true state ``x_{t+1}`` behind the returned measurement (``reset``'s info holds
    ``x_0``): the label a learned estimator may be trained on.

    ## Starting State

    ``x_0 ~ N(0, x0_std² I)``; the first observation is ``y_0 = C x_0 + v_0``.

    ## Episode End

    Truncation after ``max_episode_steps = 100`` steps (the registry); no termination.

    ## Oracle and Bound

    ``oracle()``: LQG of the true model with the time-varying Kalman filter from the prior
    ``N(0, Σ_0)`` and the time-varying LQR gains of the horizon, the exact optimal output
    feedback (separation principle). ``performance_bound()``: its exact expected cost per step,
    ``J*_LQ/T + Σ_t tr(K_tᵀ(R + BᵀP_{t+1}B)K_t Σ_{t|t})/T`` — the bound is attained.

    With ``u_max``, the oracle is the same LQG with its inputs clipped: the best known
    policy, no longer an optimal one; the bound, that of the unconstrained problem, still bounds.

    ## Arguments

    ``mismatch`` (≥ 0), ``system_seed`` (0), ``n`` (4), ``m`` (2), ``p`` (2), ``noise_std``
    (0.5), ``measurement_std`` (1.0), ``x0_std`` (1.0), ``mismatch_seed`` (0),
    ``noise_mismatch`` (0.0, ≥ 0), ``u_max`` (``None``; a positive float bounds the inputs),
    ``render_mode`` (``None``, ``"ansi"`` or ``"rgb_array"``). Each is checked at construction,
    a ``ValueError`` naming a bad one (:mod:`mbdl_control.envs.arguments`): integers for the
    seeds (``system_seed < 2³²``) and for the dimensions (1 to 1000); finite floats, not bools,
    for the rest: the standard deviations in ``[0, 1e100]``, ``mismatch`` in ``[0, 1e6]`` and
    ``noise_mismatch`` too, ``measurement_std`` in ``(1e-5, 1e100]`` (``V`` must be
    positive definite). ``check_env`` warns that the observation and action spaces are
    unbounded and not normalized: Gaussian measurements are unbounded, and the LQG problem has
    no input bounds (stable-baselines3's ``check_env`` refuses the unbounded action box: pass
    ``u_max``).

    >>> import gymnasium as gym, mbdl_control
    >>> env = gym.make("mbdl/LQG-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, info["state"].shape
    ((2,), (4,))

    ## Version History

    * v0: initial version; a native batched version (``gym.make_vec(id, num_envs)``, the
      same trajectories as single envs seeded alike) added without changing the single env's
      draws or dynamics; later, every argument checked at construction and every action at
      its step (``ValueError``), valid ones unchanged; ``rgb_array`` rendering added; the
      opt-in input bound ``u_max`` added (default ``None``: unchanged).
    """

    perturbed_fields = ("A", "B", "C")

    @checked_arguments(
        system_seed=LEGACY_SEED,
        n=DIMENSION,
        m=DIMENSION,
        p=MEASUREMENTS,
        noise_std=STD,
        measurement_std=MEASUREMENT_STD,
        x0_std=STD,
        mismatch_seed=SEED,
        noise_mismatch=NOISE_MISMATCH,
        u_max=OPTIONAL_INPUT_BOUND,
    )
    def __init__(
        self,
        mismatch: float = 0.0,
        system_seed: int = 0,
        n: int = 4,
        m: int = 2,
        p: int = 2,
        noise_std: float = 0.5,
        measurement_std: float = 1.0,
        x0_std: float = 1.0,
        mismatch_seed: int = 0,
        u_max: float | None = None,
        noise_mismatch: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        true_model = published_random_model(
            system_seed,
            n,
            m,
            p=p,
            noise_std=noise_std,
            measurement_std=measurement_std,
            x0_std=x0_std,
            u_max=u_max,
        )
        super().__init__(true_model, mismatch, mismatch_seed, render_mode)
        scale = (1.0 + noise_mismatch) ** 2
        nominal = self.nominal_model
        self.nominal_model = nominal.replace(W=nominal.W / scale, V=nominal.V * scale)

    def oracle(self, horizon: int | None = None) -> Any:
        from mbdl_control.agents.model_based.lqg import LQG  # lazily: gym.make loads no agent

        return LQG(self.true_model, horizon=horizon or self.horizon, knowledge="true")

    def _compute_bound(self, horizon: int) -> float:
        return lqg_optimal_cost(self.true_model, horizon)


class LQGVectorEnv(ControlVectorEnv):
    """``mbdl/LQG-v0`` batched, built by ``gym.make_vec("mbdl/LQG-v0", num_envs)``."""

    single_env_class = LQGEnv
