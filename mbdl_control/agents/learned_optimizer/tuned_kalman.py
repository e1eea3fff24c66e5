r"""The Kalman filter (or EKF) of the given model with its noise covariances tuned on labelled
data by grid search: the baseline a learned filter must beat.

The filter keeps the designer's ``f``, ``h``, ``G`` and prior, and replaces the noise
covariances by isotropic ones, ``W = q² I`` and ``V = r² I``. The two variances are chosen on
labelled episodes (measurements ``y_t`` and true states ``x_t`` from the env's
``info["state"]``) by exhaustive search over a log grid ``𝒢`` (``grid``, used for both):

.. math::

    (q^2, r^2) = \arg\min_{(q^2, r^2) \in \mathcal G^2}
    \frac{1}{N (T+1) n} \sum_{i, t} \|\hat x^i_{t|t}(q^2, r^2) - x^i_t\|^2,

with the time-varying Kalman filter for a linear model and the extended one otherwise
(:mod:`~mbdl_control.blocks.kalman_filters`). A mismatched model's best filter is rarely its
own noise: a wrong ``F`` is partly made up for by trusting the measurements more (a larger
``q²``), a wrong ``h`` by trusting them less. KalmanNet (Revach et al., IEEE TSP 70, 2022)
compares against a filter whose noise was searched so; this makes that baseline reproducible.
The search is cheap: every candidate pair filters all episodes in one batched run, rows
``(pair, episode)``, the covariances one per row.

Before ``fit``, the variances are the isotropic parts of the model's, ``q² = tr W / n`` and
``r² = tr V / p``. ``fit``'s ``curve`` holds the score of every pair, ``q²`` major; a pair
whose filter diverged scores ``inf``, and if all do, the variances stay and the report says
``diverged``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from mbdl_control.blocks.estimation import FilterAgent, RecursiveEstimator
from mbdl_control.blocks.kalman_filters import (
    ExtendedKalmanEstimator,
    KalmanEstimator,
    filter_trajectories,
)
from mbdl_control.blocks.sequence_training import labelled_trajectories
from mbdl_control.blocks.trajectories import Trajectories
from mbdl_control.core import Budget, FitReport, positive_float
from mbdl_control.models import LinearGaussianModel, StateSpaceModel, require_state_space

#: the default grid of both variances: half decades from 10⁻⁶ to 10²
GRID = tuple(10.0 ** (k / 2) for k in range(-12, 5))
#: most rows (candidate pairs × episodes) filtered in one batched run
CHUNK_ROWS = 8192


class TunedNoiseKalman(FilterAgent):
    """A Kalman filter (extended where the model is nonlinear) whose noise variances ``q²``
    and ``r²`` are tuned by grid search on labelled episodes.

    ``grid`` holds the candidate variances (positive, finite). ``fit`` uses the budget for
    whole labelled episodes (each step one env step and one labelled sample) and keeps the
    pair of least MSE on them."""

    family = "learned-optimizer"

    def __init__(
        self,
        model: StateSpaceModel | LinearGaussianModel,
        grid: tuple[float, ...] = GRID,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = require_state_space(type(self).__name__, model)
        if isinstance(grid, str) or not hasattr(grid, "__iter__"):
            raise ValueError(f"grid must be a sequence of positive variances, got {grid!r}")
        self.grid = tuple(positive_float("grid value", value) for value in grid)
        if not self.grid:
            raise ValueError("grid must hold at least one variance")
        self.process_variance = float(np.trace(self.model.W)) / self.model.n
        self.measurement_variance = float(np.trace(self.model.V)) / self.model.p
        self._rebuild()

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "grid": self.grid, "knowledge": self.knowledge}

    def _filter(self, W: np.ndarray, V: np.ndarray) -> RecursiveEstimator:
        if self.model.is_linear:
            return KalmanEstimator(self.model, W, V)
        return ExtendedKalmanEstimator(self.model, W, V)

    def _rebuild(self) -> None:
        q2, r2 = self.process_variance, self.measurement_variance
        self._set_estimator(self._filter(q2 * np.eye(self.model.n), r2 * np.eye(self.model.p)))

    def learned_parameters(self) -> dict[str, np.ndarray]:
        """``q²`` and ``r²``."""
        return {
            "process_variance": np.array([self.process_variance]),
            "measurement_variance": np.array([self.measurement_variance]),
        }

    def set_learned_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        if set(parameters) != {"process_variance", "measurement_variance"}:
            raise ValueError(
                "TunedNoiseKalman's parameters are process_variance and measurement_variance, "
                f"got {sorted(parameters)}"
            )
        q2 = float(np.asarray(parameters["process_variance"]).reshape(-1)[0])
        if not (np.isfinite(q2) and q2 >= 0):
            raise ValueError(f"process_variance must be finite and >= 0, got {q2!r}")
        self.process_variance = q2
        self.measurement_variance = positive_float(
            "measurement_variance", float(np.asarray(parameters["measurement_variance"]).ravel()[0])
        )
        self._rebuild()

    def scores(self, data: Trajectories) -> np.ndarray:
        """The MSE on ``data`` of the filter with every pair of the grid, ``(len(grid),
        len(grid))`` (``q²`` along the rows); ``inf`` where a filter diverged."""
        grid = np.array(self.grid)
        pairs = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
        episodes = data.episodes
        per_run = max(1, CHUNK_ROWS // episodes)
        errors = []
        for chunk in np.array_split(pairs, -(-len(pairs) // per_run)):
            q2, r2 = (np.repeat(chunk[:, k], episodes)[:, None, None] for k in (0, 1))
            estimator = self._filter(q2 * np.eye(self.model.n), r2 * np.eye(self.model.p))
            inputs = None if data.inputs is None else np.tile(data.inputs, (len(chunk), 1, 1))
            with np.errstate(over="ignore", invalid="ignore"):
                estimates = filter_trajectories(
                    estimator, np.tile(data.observations, (len(chunk), 1, 1)), inputs
                )
                squared = (estimates.reshape(len(chunk), *data.states.shape) - data.states) ** 2
                errors.append(squared.mean(axis=(1, 2, 3)))
        mse = np.concatenate(errors)
        return np.where(np.isfinite(mse), mse, np.inf).reshape(len(grid), len(grid))

    def fit(self, env: Any, budget: Budget | None = None, seed: int | None = None) -> FitReport:
        start = time.perf_counter()
        seed = 0 if seed is None else int(seed)
        data = labelled_trajectories("TunedNoiseKalman", env, budget or Budget(), seed)
        scores = self.scores(data)
        diverged = not np.isfinite(scores).any()
        if not diverged:
            best_q, best_r = np.unravel_index(np.argmin(scores), scores.shape)
            self.process_variance = self.grid[best_q]
            self.measurement_variance = self.grid[best_r]
            self._rebuild()
        return FitReport(
            steps=data.steps,
            samples=data.samples,
            wall_time=time.perf_counter() - start,
            curve=tuple(float(score) for score in scores.ravel()),
            diverged=diverged,
        )
