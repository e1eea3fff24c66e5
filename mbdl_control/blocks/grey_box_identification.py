r"""Grey-box identification: the unknown numbers of a model whose form is known, from a system's
transitions, the step "identify" of identify-then-tune (certainty equivalence; Mania, Tu &
Recht, NeurIPS 2019) for the published convex-policy examples.

**Vehicle** (:class:`~mbdl_control.models.vehicle.VehicleModel`). Two of its equations are
linear in an unknown, with the residual the noise:

.. math::

    v^+ - v = (h a)\, g + \sigma_v w,\qquad
    \Delta\psi^+ - \Delta\psi - h v\Big(\kappa - \frac{\kappa\cos\Delta\psi}{1 - e\kappa}\Big)
        = (h v z)\, \frac1L + \sigma_\psi w,

so ``g`` and ``1/L`` are scalar least squares (``θ̂ = Σ φ y / Σ φ²``) and ``σ_v``, ``σ_ψ`` the
root mean square of the residuals; ``σ_e`` is that of ``e⁺ − e − h v sin Δψ``. The path's
statistics (jumps of ``κ`` and ``v_des``) are the designer's as given.

**Supply-chain market** (:class:`~mbdl_control.models.supply_chain.SupplyChainModel`). The
prices and demands are observed every period and log-normal, so their maximum-likelihood
fit is the mean of each log (per link) and the root mean square of the centred logs (pooled
over the two prices, and over the two demands, as the model has one spread each).
"""

from __future__ import annotations

import numpy as np

from mbdl_control.models.supply_chain import NODES, SupplyChainModel
from mbdl_control.models.vehicle import CURVATURE, HEADING, SPEED, VehicleModel


def _least_squares(regressor: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """``(θ̂, σ̂)`` of ``target = θ regressor + σ w``: the scalar fit and the residuals' RMS."""
    energy = float(regressor @ regressor)
    if energy <= 0:
        raise ValueError("the transitions do not excite the input (its regressor is all zero)")
    theta = float(regressor @ target) / energy
    return theta, float(np.sqrt(np.mean((target - theta * regressor) ** 2)))


def identify_vehicle(
    model: VehicleModel, states: np.ndarray, inputs: np.ndarray, next_states: np.ndarray
) -> VehicleModel:
    """``model`` with its acceleration gain, wheelbase and noise levels fitted to the
    transitions ``(x_t, u_t, x_{t+1})`` (the applied inputs; module docstring)."""
    h = model.dt
    e, heading, speed, curvature = (
        states[:, 1],
        states[:, HEADING],
        states[:, SPEED],
        states[:, CURVATURE],
    )
    gain, speed_std = _least_squares(h * inputs[:, 0], next_states[:, SPEED] - speed)
    drift = h * speed * (curvature - curvature * np.cos(heading) / (1 - e * curvature))
    steering, heading_std = _least_squares(
        h * speed * inputs[:, 1], next_states[:, HEADING] - heading - drift
    )
    if gain <= 0 or steering <= 0:
        raise ValueError(
            f"the fitted acceleration gain {gain} and inverse wheelbase {steering} must be "
            "positive: too few or too poorly excited transitions"
        )
    lateral = next_states[:, 1] - e - h * speed * np.sin(heading)
    lateral_std = float(np.sqrt(np.mean(lateral**2)))
    return model.replace(
        acceleration_gain=gain,
        wheelbase=1.0 / steering,
        noise_std=np.array([lateral_std, heading_std, speed_std]),
    )


def identify_market(model: SupplyChainModel, observations: np.ndarray) -> SupplyChainModel:
    """``model`` with its price and demand distributions fitted to observed states ``(h, p,
    d)`` ``(count, 8)`` (module docstring)."""
    logs = np.log(observations[:, NODES:])
    if len(logs) < 2 or not np.all(np.isfinite(logs)):
        raise ValueError("the market fit needs at least two observations of positive prices")
    means = logs.mean(0)
    spread = np.sqrt(((logs - means) ** 2).reshape(len(logs), 2, 2).mean((0, 2)))
    return model.replace(
        price_log_mean=means[:2],
        demand_log_mean=means[2:],
        price_log_std=float(spread[0]),
        demand_log_std=float(spread[1]),
    )
