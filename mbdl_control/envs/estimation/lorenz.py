"""``mbdl/Lorenz-v0``: tracking the Lorenz attractor, KalmanNet's nonlinear task."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mbdl_control.envs.arguments import Choice, Integer, Real, checked_arguments
from mbdl_control.envs.estimation.tracking import TrackingEnv, TrackingVectorEnv
from mbdl_control.models import LinearMap, LorenzFlow, Spherical, StateSpaceModel, roll_pitch_yaw

#: the observation functions: ``h = I``, ``I`` rotated 1° about every axis, or spherical
OBSERVATIONS = ("identity", "rotated", "spherical")
#: a Taylor order of the designer's matrix exponential
ORDER = Integer(1, 10, "terms of the Taylor expansion of the matrix exponential")
#: the truth's Taylor order: from 3 on, its steps of at most 0.05 s stay stable on the attractor
#: (orders 1 and 2 amplify its rotation a little every step and blow up within an episode)
TRUE_ORDER = Integer(3, 10, "terms of the truth's Taylor expansion; at least 3 stays stable")
#: ``1/r²`` (dB) and ``ν`` (dB) keep ``q² ≤ 10 r² ≤ 10``: a larger process noise throws the
#: state off the attractor, where the discretized flow diverges
LORENZ_INVERSE_R2_DB = Real(0.0, 80.0, meaning="1/r² in dB: r ≤ 1")
LORENZ_NU_DB = Real(-100.0, 10.0, meaning="q²/r² in dB: q² ≤ 10 r²", none_means="q = 0")


def designer_order(mismatch: float, order: int, model_order: int) -> int:
    """The designer's Taylor order ``J − ⌈mismatch·(J − J_model)⌉``, at least 1."""
    return max(1, order - math.ceil(mismatch * max(order - model_order, 0)))


class LorenzEnv(TrackingEnv):
    """
    ## Description

    Track the Lorenz attractor from noisy measurements: KalmanNet's nonlinear example (Revach
    et al., "KalmanNet", IEEE TSP 70, 2022, §V-C/D), where the designer's process model is a
    coarse discretization of a chaotic flow. Each step the agent observes ``y_t`` and acts
    with its estimate ``x̂_t``.

    ## Action Space

    ``Box(-inf, inf, (3,), float64)``: the estimate ``x̂_t``.

    ## Observation Space

    ``Box(-inf, inf, (3,), float64)``: ``y_t = h(x_t) + v_t``.

    ## Transition Dynamics

    ``ẋ = A(x) x`` with ``A(x) = [[−10, 10, 0], [28 − x_3, −1, 0], [x_2, 0, −8/3]]``, sampled
    every ``dt`` (0.02): ``x_{t+1} = f(x_t) + w_t`` with ``f`` the order-``order`` (5) Taylor
    expansion of the matrix exponential applied in ``substeps`` (1) steps of ``dt/substeps``
    (:class:`~mbdl_control.models.LorenzFlow`). ``substeps > 1`` is the published decimation
    case: the truth integrated finely and sampled at ``dt`` (``10⁻⁵`` and 2000 substeps
    published, noise-free: ``nu_db=None``). Freezing ``A(x)`` over a substep makes the
    integration first order. Relative to the step ``‖φ(x) − x‖`` of the exact flow ``φ`` over
    ``dt``, at ``x = (1, 1, 1)``: 100 substeps are 1e-4 from it, 2000 are 5e-6, and one step
    (order 5 or 2 alike) 1e-2 — the designer's error, a hundred times the truth's at 100
    substeps (on the attractor, where steps are longer: about 4.5e-4, 2e-5 and 4.5e-2).
    ``observation``: ``"identity"`` (``h = I``), ``"rotated"`` (``I`` rotated by 1° of roll,
    pitch and yaw) or ``"spherical"`` (range, azimuth, polar angle).

    ## Noise Model

    ``w_t ~ N(0, q² I)``, ``v_t ~ N(0, r² I)`` from ``self.np_random``, ``r² =
    10^(−inverse_r2_db/10)``, ``q² = r² 10^(nu_db/10)`` (KalmanNet's axes); ``nu_db=None``:
    ``q = 0``, the noise-free flow of the published decimation case.

    ## Known vs Unknown

    The designer knows ``h``, the noise statistics and the prior; its process model is the
    flow discretized coarsely (the published process mismatch): one step of ``dt`` at Taylor
    order ``J̃ = max(1, order − ⌈mismatch·(order − model_order)⌉)``. ``mismatch = 0`` hands
    over the truth itself; any ``mismatch > 0`` a single step over ``dt`` (no substeps), and
    ``mismatch = 1`` the published designer ``J̃ = model_order`` (2); between 0 and 1 the
    Taylor terms go one at a time, and past 1 down to order 1. With ``model_order ≥ order``
    no term is dropped: the coarse step is then the whole mismatch.

    ## Reward

    ``−‖x̂_t − x_t‖²/3`` (the MSE per component, shown in dB); ``info["cost"]`` is that error and
    ``info["state"]`` the true state behind the returned measurement, the label.

    ## Starting State

    ``x_0 ~ N(f(1), (q² + x0_std²) I)``: the published start ``(1, 1, 1)`` one step on, spread
    by ``x0_std`` (0 published; with a noise-free flow every episode would otherwise follow one
    trajectory).

    ## Episode End

    Truncation after ``max_episode_steps = 100`` steps (2 s of the flow).

    ## Oracle and Bound

    ``oracle()``: the unscented Kalman filter on the true model — the best known estimator
    here, not an optimal one (no finite-dimensional filter is exact for this system).
    ``performance_bound()``: ``None``; no bound is computed (a posterior Cramér–Rao bound would
    be one).

    ## Arguments

    ``mismatch`` (≥ 0), ``inverse_r2_db`` (0.0, in [0, 80]: ``r ≤ 1``), ``nu_db`` (−20.0, in
    [−100, 10]: ``q² ≤ 10 r²``, or ``None``), ``observation`` (``"identity"``), ``dt`` (0.02, in
    (0, 0.05]), ``order`` (5, 3 to 10: lower orders blow up), ``substeps`` (1, 1 to 10000),
    ``model_order`` (2, 1 to 10), ``x0_std`` (0.0, in [0, 20]), ``render_mode``; each checked at
    construction (``ValueError`` naming it). The bounds keep the truth on the attractor, where
    its discretization is stable.

    >>> import gymnasium as gym, mbdl_control
    >>> env = gym.make("mbdl/Lorenz-v0", mismatch=1.0, substeps=100)
    >>> env.unwrapped.nominal_model.transition.order
    2

    ## Version History

    * v0: initial version, with a native batched version (``gym.make_vec``).
    """

    @checked_arguments(
        inverse_r2_db=LORENZ_INVERSE_R2_DB,
        nu_db=LORENZ_NU_DB,
        observation=Choice(OBSERVATIONS),
        dt=Real(0.0, 0.05, open_minimum=True, meaning="the sampling period, s"),
        order=TRUE_ORDER,
        substeps=Integer(1, 10_000, "integration steps of the truth per sample"),
        model_order=ORDER,
        x0_std=Real(0.0, 20.0, meaning="the initial spread; the attractor spans about 20"),
    )
    def __init__(
        self,
        mismatch: float = 0.0,
        inverse_r2_db: float = 0.0,
        nu_db: float | None = -20.0,
        observation: str = "identity",
        dt: float = 0.02,
        order: int = 5,
        substeps: int = 1,
        model_order: int = 2,
        x0_std: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(mismatch, render_mode)
        flow = LorenzFlow(dt, order, substeps)
        h = {
            "identity": LinearMap(np.eye(3)),
            "rotated": LinearMap(roll_pitch_yaw(math.radians(1.0))),
            "spherical": Spherical(),
        }[observation]
        r2 = 10.0 ** (-inverse_r2_db / 10.0)
        q2 = 0.0 if nu_db is None else r2 * 10.0 ** (nu_db / 10.0)
        spread = (q2 + x0_std**2) * np.eye(3)
        true = StateSpaceModel(flow, h, q2 * np.eye(3), r2 * np.eye(3), flow(np.ones(3)), spread)
        nominal = true
        if self.mismatch > 0:
            coarse = LorenzFlow(dt, designer_order(self.mismatch, order, model_order), 1)
            nominal = true.replace(transition=coarse)
        self._track(true, nominal)

    def oracle(self, horizon: int | None = None) -> Any:
        from mbdl_control.agents.model_based.filters import UnscentedKalmanFilter  # lazily

        return UnscentedKalmanFilter(self.true_model, knowledge="true")

    def _compute_bound(self, horizon: int) -> None:
        return None

    def mismatch_report(self) -> dict[str, float]:
        """The designer's Taylor order and substeps against the truth's, and the relative error
        of its one-step map ``‖f̂(x) − f(x)‖/‖f(x) − x‖`` averaged over a true trajectory."""
        true, nominal = self.true_model.transition, self.nominal_model.transition
        x = [self.true_model.x0_mean]
        for _ in range(self.horizon):
            x.append(true(x[-1]))
        states = np.array(x)
        moved = true(states) - states
        gap = np.linalg.norm(nominal(states) - true(states), axis=-1)
        return {
            "model_order": float(nominal.order),
            "true_order": float(true.order),
            "model_substeps": float(nominal.substeps),
            "true_substeps": float(true.substeps),
            "rel_error_step": float(np.mean(gap / np.linalg.norm(moved, axis=-1))),
        }


class LorenzVectorEnv(TrackingVectorEnv):
    """``mbdl/Lorenz-v0`` batched, built by ``gym.make_vec(id, num_envs)``."""

    single_env_class = LorenzEnv
