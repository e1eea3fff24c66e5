r"""State estimation on the given model, nothing learned: the Kalman filter and its nonlinear
extensions, each an agent whose action is its estimate ``x̂_{t|t}``.

For ``x_{t+1} = f(x_t) + G u_t + w_t``, ``y_t = h(x_t) + v_t`` (``w ~ N(0, W)``,
``v ~ N(0, V)``, ``x_0 ~ N(x̄_0, Σ_0)``: a :class:`~mbdl_control.models.StateSpaceModel`, or a
:class:`~mbdl_control.models.LinearGaussianModel` with measurements), each filter starts from
the prior, updates with ``y_0``, then predicts and updates at every step; memories are per
episode, so a batch of episodes starting at different times is filtered at once.

* :class:`KalmanFilter` (Kalman, J. Basic Eng. 82, 1960): the exact posterior mean of a
  linear model, ``x̂_{t|t} = x̂_{t|t−1} + K_t (y_t − H x̂_{t|t−1})`` with
  ``K_t = Σ_{t|t−1} Hᵀ (H Σ_{t|t−1} Hᵀ + V)⁻¹``; the MMSE estimator, whose error is
  :func:`~mbdl_control.blocks.kalman_filters.kalman_mse`. A nonlinear model is refused.
* :class:`ExtendedKalmanFilter` (Jazwinski 1970; Anderson & Moore 1979, §8.2): the same with
  ``F_t = ∂f/∂x(x̂_{t|t})`` and ``H_t = ∂h/∂x(x̂_{t|t−1})`` (autograd), and ``f``, ``h``
  themselves for the means; exact on a linear model.
* :class:`UnscentedKalmanFilter` (Julier & Uhlmann 1997; Wan & van der Merwe 2000): the belief
  carried through ``f`` and ``h`` by ``2n + 1`` scaled sigma points, ``α = 1, β = 2, κ = 0``
  by default (:mod:`~mbdl_control.blocks.unscented_filter` says why).
* :class:`ParticleFilter` (Gordon, Salmond & Smith, IEE Proc. F 140, 1993): the bootstrap
  filter, ``particles`` per episode propagated through the model, weighted by the Gaussian
  likelihood of ``V``, resampled systematically every step; its generator seeded at
  construction.

The blocks (:mod:`~mbdl_control.blocks.kalman_filters`,
:mod:`~mbdl_control.blocks.unscented_filter`, :mod:`~mbdl_control.blocks.particle_filter`)
hold the math; these agents build them on the model they are given.
"""

from __future__ import annotations

from typing import Any

from mbdl_control.blocks.estimation import FilterAgent
from mbdl_control.blocks.kalman_filters import ExtendedKalmanEstimator, KalmanEstimator
from mbdl_control.blocks.particle_filter import ParticleEstimator
from mbdl_control.blocks.unscented_filter import UnscentedKalmanEstimator
from mbdl_control.models import LinearGaussianModel, StateSpaceModel, require_state_space

Model = StateSpaceModel | LinearGaussianModel


class ModelFilter(FilterAgent):
    """A filter built on the given model (a linear-Gaussian one converted), nothing learned."""

    family = "model-based"

    def __init__(self, model: Model, knowledge: str) -> None:
        super().__init__(knowledge)
        self.model = require_state_space(type(self).__name__, model)

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, **self._settings(), "knowledge": self.knowledge}

    def _settings(self) -> dict[str, Any]:
        """The filter's own constructor arguments."""
        return {}


class KalmanFilter(ModelFilter):
    """The time-varying Kalman filter (module docstring); ``ValueError`` for a nonlinear
    model."""

    def __init__(self, model: Model, knowledge: str = "nominal") -> None:
        super().__init__(model, knowledge)
        self._set_estimator(KalmanEstimator(self.model))


class ExtendedKalmanFilter(ModelFilter):
    """The extended Kalman filter (module docstring)."""

    def __init__(self, model: Model, knowledge: str = "nominal") -> None:
        super().__init__(model, knowledge)
        self._set_estimator(ExtendedKalmanEstimator(self.model))


class UnscentedKalmanFilter(ModelFilter):
    """The unscented Kalman filter with van der Merwe's scaled sigma points (``alpha``,
    ``beta``, ``kappa``; module docstring). ``diagnostics()`` counts the Cholesky
    factorizations that needed jitter."""

    estimator: UnscentedKalmanEstimator

    def __init__(
        self,
        model: Model,
        alpha: float = 1.0,
        beta: float = 2.0,
        kappa: float = 0.0,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(model, knowledge)
        self._set_estimator(UnscentedKalmanEstimator(self.model, alpha, beta, kappa))

    def _settings(self) -> dict[str, Any]:
        e = self.estimator
        return {"alpha": e.alpha, "beta": e.beta, "kappa": e.kappa}

    def diagnostics(self) -> dict[str, float]:
        return {"jittered_factorizations": float(self.estimator.jittered)}


class ParticleFilter(ModelFilter):
    """The bootstrap particle filter with ``particles`` per episode, its generator seeded with
    ``seed`` (module docstring)."""

    estimator: ParticleEstimator

    def __init__(
        self, model: Model, particles: int = 1000, seed: int = 0, knowledge: str = "nominal"
    ) -> None:
        super().__init__(model, knowledge)
        self._set_estimator(ParticleEstimator(self.model, particles, seed))

    def _settings(self) -> dict[str, Any]:
        return {"particles": self.estimator.particles, "seed": self.estimator.seed}
