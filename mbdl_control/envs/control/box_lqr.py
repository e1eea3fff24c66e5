"""``mbdl/BoxLQR-v0``: the published box-constrained stochastic LQR example."""

from __future__ import annotations

from typing import Any

from mbdl_control.blocks.bounds import finite_horizon_bound
from mbdl_control.envs.arguments import (
    DIMENSION,
    INPUT_BOUND,
    LEGACY_SEED,
    SEED,
    STD,
    checked_arguments,
)
from mbdl_control.envs.control.control_vector import ControlVectorEnv
from mbdl_control.envs.control.linear_control import LinearControlEnv
from mbdl_control.envs.control.oracle_selection import best_known_policy
from mbdl_control.envs.control.random_systems import published_random_model


class BoxLQREnv(LinearControlEnv):
    """
    ## Description

    Regulate a random linear system with small, bounded inputs: the box-constrained LQR example
    of Agrawal, Barratt, Boyd & Stellato, "Learning Convex Optimization Control Policies"
    (L4DC 2020, §6.2). The default true system is generated exactly as the published code does
    it (numpy's legacy generator seeded with 1, ``n = 8``, ``m = 2``), so the published figures
    apply: unconstrained LQR ``Tr(PW) = 6.0376``; stationary SDP bound 10.697 when solved to
    tight accuracy (the published 10.79 is a low-accuracy solve of the same SDP); untuned convex
    policy ``θ = P^½`` 16.94 on the published 6 episodes, about 18.0 in expectation.

    ## Action Space

    ``Box(-u_max, u_max, (m,), float64)`` with ``u_max = 0.1``. Inputs outside it are clipped
    to it (the actuator saturates) and ``info["saturated"]`` is 1.0.

    ## Observation Space

    ``Box(-inf, inf, (n,), float64)``: the full state ``x``.

    ## Transition Dynamics

    ``x_{t+1} = A x_t + B clip(u_t) + w_t``, ``A`` standard normal scaled to spectral radius 1,
    then ``B`` standard normal, from ``RandomState(system_seed)``.

    ## Noise Model

    ``w_t ~ N(0, noise_std² I)``, ``x_0 ~ N(0, x0_std² I)``, drawn from ``self.np_random``.

    ## Known vs Unknown

    The nominal model holds ``Â = A + ε‖A‖_F E_A/‖E_A‖_F`` and ``B̂`` likewise (``E`` standard
    normal from ``mismatch_seed``): relative Frobenius error of ``A`` and of ``B`` exactly
    ``mismatch = ε``. Noise, cost and input bounds are known exactly.

    ## Reward

    ``−(xᵀQx + uᵀRu)`` with ``Q = I``, ``R = I`` and the clipped input; ``info["cost"]`` is that
    cost and ``info["state"]`` the new true state.

    ## Starting State

    ``x_0 ~ N(0, x0_std² I)``.

    ## Episode End

    Truncation after ``max_episode_steps = 100`` steps (the registry); no termination.

    ## Oracle and Bound

    ``oracle()``: the best known policy on the true model, chosen per system and episode
    length among the convex policy with ``θ = P^½`` where ``P`` certifies the stationary SDP
    bound (published 12.97 on 6 episodes), MPC with horizon 30, and the convex policy tuned on
    the truth, by the lowest mean cost on 300 common selection episodes
    (:mod:`~mbdl_control.envs.control.oracle_selection`; ``oracle_label()`` names the winner).
    On the default system at ``T = 100`` the tuned convex policy wins (13.457 against 13.505
    for the bound's, paired s.e. 0.012, and 13.671 for MPC); on ``system_seed=9302, n=4,
    m=1, u_max=0.5`` at ``T = 30``, MPC (6.670 against 6.704 ± 0.017).
    ``performance_bound()``: the *finite-horizon* S-procedure bound of Wang & Boyd (2009) for
    the episode, with time-varying ``P_t`` and ``P_T = 0`` from ``x_0 ~ N(0, Σ_0)``: 10.30 per
    step for the default system. It bounds the expected cost per step of an episode; the
    stationary bound (10.697, :func:`mbdl_control.blocks.bounds.stationary_bound`) bounds the
    steady-state average, which a 100-step episode from a small ``x_0`` does not reach.

    ## Arguments

    ``mismatch`` (≥ 0), ``system_seed`` (1), ``n`` (8), ``m`` (2), ``u_max`` (0.1),
    ``noise_std`` (0.5), ``x0_std`` (0.5), ``mismatch_seed`` (0), ``render_mode``
    (``None``, ``"ansi"`` or ``"rgb_array"``). Each is checked at construction, a
    ``ValueError`` naming a bad one (:mod:`mbdl_control.envs.arguments`): integers for the
    seeds (``system_seed < 2³²``) and for the dimensions (1 to 1000); finite floats, not
    bools, for the rest: the standard deviations in ``[0, 1e100]``, ``mismatch`` in
    ``[0, 1e6]``, ``u_max`` in ``(0, 1e100]``. ``check_env`` warns that the state space is
    unbounded (the state of a noise-driven linear system is) and recommends a normalized
    ``[-1, 1]`` action space: the published problem's units are kept so its figures apply.

    >>> import gymnasium as gym, mbdl_control
    >>> env = gym.make("mbdl/BoxLQR-v0", mismatch=0.2)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, env.action_space.high.tolist()
    ((8,), [0.1, 0.1])
    >>> round(env.unwrapped.mismatch_report()["rel_error_A"], 6)
    0.2

    ## Version History

    * v0: initial version; a native batched version (``gym.make_vec(id, num_envs)``, the
      same trajectories as single envs seeded alike) added without changing the single env's
      draws or dynamics; later, every argument checked at construction and every action at
      its step (``ValueError``), valid ones unchanged; ``rgb_array`` rendering added; the
      oracle chosen per system among three true-model policies (it was the bound's convex
      policy alone, which two systems were found to beat).
    """

    @checked_arguments(
        system_seed=LEGACY_SEED,
        n=DIMENSION,
        m=DIMENSION,
        u_max=INPUT_BOUND,
        noise_std=STD,
        x0_std=STD,
        mismatch_seed=SEED,
    )
    def __init__(
        self,
        mismatch: float = 0.0,
        system_seed: int = 1,
        n: int = 8,
        m: int = 2,
        u_max: float = 0.1,
        noise_std: float = 0.5,
        x0_std: float = 0.5,
        mismatch_seed: int = 0,
        render_mode: str | None = None,
    ) -> None:
        true_model = published_random_model(
            system_seed, n, m, noise_std=noise_std, x0_std=x0_std, u_max=u_max
        )
        super().__init__(true_model, mismatch, mismatch_seed, render_mode)

    def oracle(self, horizon: int | None = None) -> Any:
        """The best known true-model policy for ``horizon``-step episodes, chosen by a paired
        evaluation (:mod:`~mbdl_control.envs.control.oracle_selection`; ``oracle_label`` names
        it)."""
        _, agent = best_known_policy(self.true_model, horizon or self.horizon)
        return agent

    def oracle_label(self, horizon: int | None = None) -> str:
        """Which candidate :meth:`oracle` chose."""
        return best_known_policy(self.true_model, horizon or self.horizon)[0]

    def _compute_bound(self, horizon: int) -> float:
        return finite_horizon_bound(self.true_model, horizon).value


class BoxLQRVectorEnv(ControlVectorEnv):
    """``mbdl/BoxLQR-v0`` batched, built by ``gym.make_vec("mbdl/BoxLQR-v0", num_envs)``."""

    single_env_class = BoxLQREnv
