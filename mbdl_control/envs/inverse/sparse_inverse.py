r"""The shared machinery of the sparse inverse envs (the docstrings live in the envs).

A subclass builds the true and nominal :class:`~mbdl_control.models.SparseLinearModel` from
its arguments and hands them to :meth:`SparseInverseEnv._build`; this base holds the spaces,
the one-step episodes (a signal drawn, answered, scored, the next one drawn), the action check,
the oracle and the bound. The draws and the scoring are
:class:`~mbdl_control.envs.inverse.inverse_dynamics.SparseDynamics`, shared with the batched
twins (:mod:`~mbdl_control.envs.inverse.sparse_inverse_vector`); the bound is
:mod:`~mbdl_control.envs.inverse.sparse_bounds`.

The cost is the squared error over the prior's expected signal energy, ``‖ŝ − s‖² / (p·n)``,
not over the episode's ``‖s‖²``: on a small grid ``s = 0`` has positive probability
(``(1 − p)ⁿ``), and the mean of this cost over episodes is an unbiased estimate of
``E‖ŝ − s‖² / E‖s‖²``, the limit of the benchmark's NMSE ``Σ‖ŝ − s‖² / Σ‖s‖²`` over many
signals (a mean of per-signal ratios ``‖ŝ − s‖² / ‖s‖²`` is undefined where ``s = 0``, and
estimates another number).

An action must be an array of real numbers (floats or integers) of the action space's shape,
finite (:func:`~mbdl_control.envs.actions.as_actions`, the check every Box
action of the suite gets), whose squared error stays finite; anything else raises a
``ValueError`` naming it, and the signal waits for a valid answer.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from mbdl_control.envs.actions import as_actions
from mbdl_control.envs.arguments import MAX_DIMENSION, Integer, Real
from mbdl_control.envs.base import PartiallyKnownEnv
from mbdl_control.envs.inverse.inverse_dynamics import Scores, SparseDynamics
from mbdl_control.envs.inverse.sparse_bounds import genie_mmse
from mbdl_control.models import SparseLinearModel

#: ``p``, the probability that an entry of ``s`` is non-zero; the cost divides by ``p·n``,
#: which a smaller ``p`` would make overflow for any estimate but 0
MIN_SPARSITY = 1e-6
SPARSITY = Real(
    MIN_SPARSITY,
    1.0,
    meaning="p, the probability that an entry is non-zero; the cost divides by p n",
)
#: the SNR in dB: ``E‖Hs‖²/m`` over ``σ²`` (:func:`~mbdl_control.models.noise_std_for_snr`)
SNR_DB = Real(-10.0, 80.0, none_means="noiseless", meaning="E||Hs||^2/m over sigma^2")
#: ``n``, the entries of ``s``
UNKNOWNS = Integer(1, MAX_DIMENSION, "n, the entries of the sparse signal")


def overflow_error(name: str, estimates: np.ndarray) -> ValueError:
    """Why a step was refused: its estimates' squared error overflows."""
    return ValueError(
        f"{name} {estimates} would make the cost non-finite (overflow): estimates must keep "
        "||estimate - signal||^2 / (p n) finite; the signal waits for a valid answer"
    )


@functools.lru_cache(maxsize=16)
def _genie_mmse(
    sensing: bytes, shape: tuple[int, int], sparsity: float, noise_std: float, draws: int
) -> float:
    """:func:`genie_mmse` of a model, cached per process: each env a study makes computes its
    bound, and the Monte Carlo over supports is the same for every env of one truth."""
    matrix = np.frombuffer(sensing, dtype=np.float64).reshape(shape)
    return genie_mmse(SparseLinearModel(matrix, sparsity, noise_std), draws).mean


class SparseInverseEnv(PartiallyKnownEnv):
    """Base class: one-step episodes of recovering ``s`` from ``x = Hs + w`` (module
    docstring)."""

    task_metrics = ("error_energy", "signal_energy")
    label_keys = ("signal",)
    cost_display = "dB"
    default_horizon = 1
    mismatch_observed = False
    #: the supports the bound's Monte Carlo draws (:func:`genie_mmse`)
    bound_draws: ClassVar[int]

    true_model: SparseLinearModel
    nominal_model: SparseLinearModel

    def _build(self, true_model: SparseLinearModel, nominal_model: SparseLinearModel) -> None:
        """Set the models, the spaces and the draws (the subclass's ``__init__`` calls it)."""
        self.true_model, self.nominal_model = true_model, nominal_model
        shape = (true_model.measurements,)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape, np.float64)
        self.action_space = gym.spaces.Box(-np.inf, np.inf, (true_model.unknowns,), np.float64)
        self.dynamics = SparseDynamics.of(true_model)
        self._signal: np.ndarray | None = None
        self._last_scores: Scores | None = None

    @property
    def episode_signal(self) -> np.ndarray | None:
        """The signal ``s`` of the measurements waiting for an answer, for analysis; ``None``
        before the first ``reset``. No agent sees it (its label comes after the answer)."""
        return None if self._signal is None else self._signal.copy()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed, options=options)
        self._last_scores = None
        return self._send(), {}

    def _send(self) -> np.ndarray:
        """Draw the next signal; its measurements."""
        drawn = self.dynamics.draw([self.np_random])
        self._signal = drawn.signal[0]
        self._record(measurements=drawn.measurements[0])
        return drawn.measurements[0]

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._signal is None:
            raise RuntimeError("call reset() before step()")
        estimate = as_actions("action", action, self.action_space)
        scores = self.dynamics.score(estimate[None], self._signal[None])
        if not np.isfinite(scores.cost[0]):
            raise overflow_error("action", estimate)
        cost = float(scores.cost[0])
        info = {
            "cost": cost,
            "error_energy": float(scores.error_energy[0]),
            "signal_energy": float(scores.signal_energy[0]),
            "signal": self._signal,
        }
        self._last_scores = scores
        self._record(cost=cost)  # a trace per entry of s would be hundreds of dots
        return self._send(), -cost, False, False, info

    def oracle(self, horizon: int | None = None) -> Any:
        """LASSO on the true ``H`` then least squares on the support it finds, for every
        horizon (the signals are independent)."""
        from mbdl_control.agents.model_based.sparse_solvers import DebiasedLASSO  # lazily

        return DebiasedLASSO(self.true_model, knowledge="true")

    def _compute_bound(self, horizon: int) -> float | None:
        model = self.true_model
        key = (model.sensing.tobytes(), model.sensing.shape, model.sparsity, model.noise_std)
        return _genie_mmse(*key, self.bound_draws)

    def _render_text(self) -> str:
        """The measurements received and the last estimate's score; the ``rgb_array`` frame
        charts the measurements and the costs."""
        received = f"{self.true_model.measurements} measurements received"
        if self._last_scores is None:
            return received
        cost, energy = self._last_scores.cost[0], self._last_scores.signal_energy[0]
        return (
            f"last estimate: squared error / (p n) = {cost:.3g} (signal energy {energy:.3g}); "
            f"next {received}"
        )
