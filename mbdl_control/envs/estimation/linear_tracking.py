"""``mbdl/LinearTracking-v0``: KalmanNet's linear canonical tracking task."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mbdl_control.envs.arguments import Choice, Integer, Real, checked_arguments
from mbdl_control.envs.estimation.tracking import TrackingEnv, TrackingVectorEnv, map_errors
from mbdl_control.models import LinearMap, StateSpaceModel, rotation

#: ``inverse_r2_db``: ``1/r²`` in dB, KalmanNet's measurement-noise axis (−10 … 30 published)
INVERSE_R2_DB = Real(-60.0, 80.0, meaning="1/r² in dB; r² = 10^(-value/10) stays positive")
#: ``nu_db``: ``ν = q²/r²`` in dB (−20 published)
NU_DB = Real(-100.0, 60.0, meaning="q²/r² in dB")
#: the state dimension of the canonical model
STATES = Integer(1, 100, "the state dimension")
#: which of the designer's matrices ``mismatch`` rotates
ROTATED = Choice(("H", "F", "FH"), "the nominal matrices rotated by mismatch radians")


def canonical_model(n: int, p: int, inverse_r2_db: float, nu_db: float) -> StateSpaceModel:
    """KalmanNet's linear canonical model: ``F = I`` with its first row all ones; ``H = I``
    for 2 × 2, else the "reverse canonical" ``H`` (``p × n``: ones on the anti-diagonal,
    continued cyclically past ``n`` rows, and in the first row); ``W = q² I``, ``V = r² I``;
    the first observed state ``x_0 ~ N(0, q² I)`` (the published start ``0`` moved one step)."""
    F = np.eye(n)
    F[0, :] = 1.0
    if n == p == 2:
        H = np.eye(2)
    else:
        H = np.zeros((p, n))
        H[np.arange(p), (n - 1 - np.arange(p)) % n] = 1.0
        H[0, :] = 1.0
    r2 = 10.0 ** (-inverse_r2_db / 10.0)
    q2 = r2 * 10.0 ** (nu_db / 10.0)
    return StateSpaceModel(
        LinearMap(F), LinearMap(H), q2 * np.eye(n), r2 * np.eye(p), np.zeros(n), q2 * np.eye(n)
    )


class LinearTrackingEnv(TrackingEnv):
    """
    ## Description

    Track the state of a linear-Gaussian system from noisy measurements: the linear canonical
    model of KalmanNet (Revach, Shlezinger, Ni, Escoriza, van Sloun & Eldar, "KalmanNet:
    Neural Network Aided Kalman Filtering for Partially Known Dynamics", IEEE TSP 70, 2022,
    §V-A), the running example of a DNN-aided estimator in Shlezinger, Eldar & Boyd,
    "Model-Based Deep Learning" (2022), Examples 18–19. Each step the agent observes ``y_t``
    and acts with its estimate ``x̂_t`` of ``x_t``.

    ## Action Space

    ``Box(-inf, inf, (n,), float64)``: the estimate ``x̂_t``.

    ## Observation Space

    ``Box(-inf, inf, (p,), float64)``: the measurement ``y_t = H x_t + v_t``.

    ## Transition Dynamics

    ``x_{t+1} = F x_t + w_t`` with ``F = I`` whose first row is all ones (2 × 2:
    ``[[1, 1], [0, 1]]``); ``H = I`` when ``n = p = 2``, else the published "reverse
    canonical" ``H`` (``p × n``: ones on the anti-diagonal, continued cyclically past ``n``
    rows, and in the first row; fewer measurements than states are allowed).

    ## Noise Model

    ``w_t ~ N(0, q² I)``, ``v_t ~ N(0, r² I)`` from ``self.np_random``, with
    ``r² = 10^(−inverse_r2_db/10)`` and ``q² = r² 10^(nu_db/10)`` (KalmanNet's axes: 1/r² in
    dB and ``ν = q²/r²``, −20 dB published).

    ## Known vs Unknown

    The nominal model is the truth with ``H`` (``rotated="H"``, the default: the published
    stored "partial" results), ``F`` (``"F"``) or both (``"FH"``) multiplied on the right by
    the rotation ``R(α)`` by ``α = mismatch`` radians in the plane of the first two
    coordinates (``M̂ = M R(α)``, as in the reference code). ``α`` in radians makes
    ``mismatch`` about the relative error of the rotated matrix (``‖R(α) − I‖_F/√2 =
    2 sin(α/2)`` in 2-D); the published 10° is ``mismatch = π/18 ≈ 0.1745``. The noise
    statistics and the prior are known exactly; KalmanNet uses neither.

    ## Reward

    ``−‖x̂_t − x_t‖²/n``, the squared error per state component (KalmanNet's MSE, which the
    report shows in dB); ``info["cost"]`` is that error and ``info["state"]`` the true state
    ``x_{t+1}`` behind the returned measurement (``reset``'s info holds ``x_0``): the label a
    learned estimator is trained on.

    ## Starting State

    ``x_0 ~ N(0, q² I)``: the published start ``0`` one step on, so that the ``T`` estimates
    of an episode are those of the published ``t = 1 … T``. The first observation is
    ``y_0 = H x_0 + v_0``.

    ## Episode End

    Truncation after ``max_episode_steps = 100`` steps (the registry; ``T = 100`` published).

    ## Oracle and Bound

    ``oracle()``: the time-varying Kalman filter of the true model from the prior, the exact
    MMSE estimator. ``performance_bound()``: its expected squared error per component and step,
    ``Σ_t tr(Σ_{t|t}) / (T n)`` from the Riccati recursion — attained by the oracle.

    ## Arguments

    ``mismatch`` (≥ 0, radians), ``n`` (2, 1 to 100), ``p`` (``None``: ``n``; 1 to 100),
    ``inverse_r2_db`` (0.0, in [−60, 80]), ``nu_db`` (−20.0, in [−100, 60]), ``rotated``
    (``"H"``, ``"F"`` or ``"FH"``), ``render_mode`` (``None``, ``"ansi"`` or ``"rgb_array"``);
    each checked at construction (``ValueError`` naming it).

    >>> import gymnasium as gym, mbdl_control
    >>> env = gym.make("mbdl/LinearTracking-v0", inverse_r2_db=10.0)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, info["state"].shape
    ((2,), (2,))

    ## Version History

    * v0: initial version, with a native batched version (``gym.make_vec``).
    """

    @checked_arguments(
        n=STATES,
        p=Integer(1, 100, "the measurement dimension", none_means="p = n"),
        inverse_r2_db=INVERSE_R2_DB,
        nu_db=NU_DB,
        rotated=ROTATED,
    )
    def __init__(
        self,
        mismatch: float = 0.0,
        n: int = 2,
        p: int | None = None,
        inverse_r2_db: float = 0.0,
        nu_db: float = -20.0,
        rotated: str = "H",
        render_mode: str | None = None,
    ) -> None:
        super().__init__(mismatch, render_mode)
        p = n if p is None else p
        if n < 2 and self.mismatch > 0:
            raise ValueError(
                f"mismatch rotates the plane of the first two states: it needs n >= 2, got "
                f"n = {n} with mismatch = {self.mismatch}"
            )
        self.rotated = rotated
        true = canonical_model(n, p, inverse_r2_db, nu_db)
        turn = rotation(n, self.mismatch)
        changes = {}
        if "F" in rotated:
            changes["transition"] = LinearMap(true.transition.matrix @ turn)
        if "H" in rotated:
            changes["observation"] = LinearMap(true.observation.matrix @ turn)
        self._track(true, true.replace(**changes))

    def oracle(self, horizon: int | None = None) -> Any:
        from mbdl_control.agents.model_based.filters import KalmanFilter  # lazily

        return KalmanFilter(self.true_model, knowledge="true")

    def _compute_bound(self, horizon: int) -> float:
        from mbdl_control.blocks.kalman_filters import kalman_mse  # lazily

        return kalman_mse(self.true_model, horizon)

    def mismatch_report(self) -> dict[str, float]:
        """The rotation angle (degrees) and the relative Frobenius errors of ``F`` and ``H``."""
        return {
            "rotation_deg": math.degrees(self.mismatch),
            **map_errors(self.true_model, self.nominal_model),
        }


class LinearTrackingVectorEnv(TrackingVectorEnv):
    """``mbdl/LinearTracking-v0`` batched, built by ``gym.make_vec(id, num_envs)``."""

    single_env_class = LinearTrackingEnv
