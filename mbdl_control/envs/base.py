"""The contract of every env of the suite: a task whose model is only partially known.

An env holds two models of one kind (a frozen dataclass of :mod:`mbdl_control.models`): the
``true_model`` it simulates and the ``nominal_model`` a designer is handed, ``mismatch`` apart
(each env's docstring defines the distance exactly; 0 means they are equal). ``mismatch``
changes the nominal model only (and, below, what an env with ``mismatch_observed`` shows),
never the truth or the env's random draws, so one evaluation of the oracle serves every
mismatch value and agents are compared on common random numbers (the harness relies on it).
It names the best known decision rule on the truth (``oracle``), a number no policy's
*expected* cost can beat (``performance_bound``, or ``None``), and what ``structure``
knowledge hands an agent. Every step puts the stage cost in ``info["cost"]``;
``task_metrics`` are the ``info`` keys averaged next to it; ``label_keys`` the ``info`` keys
a learner may use as supervision, counted against its budget's ``samples``; ``cost_display``
how the cost reads best in a report (``"linear"``; ``"log"`` for error rates; ``"dB"`` for
squared errors). ``evaluate``, the study harness and the CLI use this contract and nothing
else.

Where the mismatch reaches the observations (``mismatch_observed``: a receiver's channel
estimate, off by ``mismatch``, is part of what it observes), every agent, whatever its
knowledge, depends on ``mismatch``, and so would an oracle evaluated on that env: the oracle
decides on what it observes. Its evaluation is then that of the env at ``mismatch = 0``,
where the observation holds the truth (``evaluate`` and the study harness do so); the draws
are still common to every mismatch value, so the paired comparison with it stands.

Rendering is generic, so every env renders the same way: an env hands the vectors worth
watching (state, input, received samples, decisions) to ``_record`` on ``reset`` and ``step``,
and ``render`` shows the latest of them as a line (``"ansi"``) or the last
:data:`RENDER_HISTORY` of them as a strip chart (``"rgb_array"``, drawn with numpy alone, fast
enough for ``RecordVideo`` and the ``rgb_array`` that stable-baselines3's helpers ask for).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from mbdl_control.envs.arguments import MISMATCH, render_mode_domain
from mbdl_control.envs.rendering import RENDER_HISTORY, strip_chart
from mbdl_control.models import relative_errors

#: the ways a cost is displayed: as is, on a log scale (error rates), in decibels (MSE)
COST_DISPLAYS = ("linear", "log", "dB")


class PartiallyKnownEnv(gym.Env, ABC):
    """Base class: validates ``mismatch`` and ``render_mode`` once, caches the bound, renders.

    A subclass declares the domains of its other constructor arguments with
    :func:`~mbdl_control.envs.arguments.checked_arguments`, sets ``true_model`` and
    ``nominal_model`` in its ``__init__``, implements ``oracle`` and ``_compute_bound``, calls
    ``super().reset(seed=seed)`` first in ``reset``, and hands what is worth watching to
    ``_record``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 10}
    #: ``info`` keys that :func:`mbdl_control.evaluation.evaluate` averages per step
    task_metrics: ClassVar[tuple[str, ...]] = ()
    #: ``info`` keys that supervise a learner (true state, symbols); each step carrying them
    #: is one labelled sample of the budget
    label_keys: ClassVar[tuple[str, ...]] = ()
    #: how the cost reads best: one of :data:`COST_DISPLAYS`
    cost_display: ClassVar[str] = "linear"
    #: the episode length when the env is built without the registry
    default_horizon: ClassVar[int] = 1
    #: whether ``mismatch`` reaches the observations (a channel estimate the receiver
    #: observes), not only the nominal model: every agent then depends on it, whatever its
    #: knowledge, and the oracle is evaluated on the env at ``mismatch = 0``
    mismatch_observed: ClassVar[bool] = False

    true_model: Any
    nominal_model: Any

    def __init__(self, mismatch: float = 0.0, render_mode: str | None = None) -> None:
        modes = render_mode_domain(self.metadata["render_modes"])
        self.render_mode = modes.check("render_mode", render_mode)
        self.mismatch = MISMATCH.check("mismatch", mismatch)
        self._bound_cache: dict[int, float | None] = {}
        #: why the last bound computation failed ("" when none did)
        self.bound_failure = ""
        self._history: dict[str, deque[np.ndarray]] = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        """Seed ``np_random`` (Gymnasium's) and empty the recorded history. The signals keep
        their bands, so the frames of an episode after the first have one layout."""
        super().reset(seed=seed, options=options)
        for values in self._history.values():
            values.clear()

    def _record(self, **signals: Any) -> None:
        """Keep the latest values of named vectors (a fixed length per name) for ``render``.

        A no-op unless the env renders, so training and evaluation pay nothing for it."""
        if self.render_mode is None:
            return
        for name, value in signals.items():
            values = self._history.setdefault(name, deque(maxlen=RENDER_HISTORY))
            values.append(np.array(value, dtype=np.float64).ravel())  # a copy

    def render(self) -> np.ndarray | str | None:
        """``"rgb_array"``: a strip chart of the recorded history (:func:`strip_chart`; blank
        before the first ``reset``); ``"ansi"``: a line of the latest values (``None`` before
        the first ``reset``)."""
        if self.render_mode == "rgb_array":
            return strip_chart(self._history)
        if self.render_mode == "ansi" and any(self._history.values()):
            return self._render_text()
        return None

    def _render_text(self) -> str:
        """The latest value of each recorded signal, ``name = [...]``; an env may say it
        better."""
        return ", ".join(
            f"{name} = {np.array2string(values[-1], precision=3, suppress_small=True)}"
            for name, values in self._history.items()
            if values
        )

    @property
    def horizon(self) -> int:
        """The registered episode length (``max_episode_steps`` of this id in the registry).

        ``gym.make(id, max_episode_steps=T)`` truncates at ``T`` in a wrapper the env cannot
        see: pass that ``T`` to ``oracle`` and ``performance_bound`` (``evaluate`` does)."""
        registered = gym.registry.get(self.spec.id) if self.spec is not None else None
        if registered is not None and registered.max_episode_steps is not None:
            return int(registered.max_episode_steps)
        return self.default_horizon

    def mismatch_report(self) -> dict[str, float]:
        """Distances between the true and nominal models: the relative Frobenius error of
        every array they hold (``rel_error_<field>``); subclasses add what their domain
        measures."""
        return relative_errors(self.true_model, self.nominal_model)

    def label_count(self, info: dict[str, Any]) -> int:
        """How many labelled samples a step's ``info`` hands a learner: one (a true state),
        unless the env labels many at once (a block of transmitted symbols)."""
        return 1

    def structure(self) -> Any:
        """What ``structure`` knowledge hands an agent: the nominal model's form (dimensions,
        bounds), none of its numbers."""
        return self.nominal_model.structure()

    @abstractmethod
    def oracle(self, horizon: int | None = None) -> Any:
        """The best known decision rule built on the true model (``knowledge == "true"``) for
        ``horizon``-step episodes (default: the registered length)."""

    def performance_bound(self, horizon: int | None = None) -> float | None:
        """A number the *expected* cost per step over a ``horizon``-step episode (default: the
        registered one) cannot beat, or ``None``; cached per horizon. A sample mean over
        finitely many episodes may fall below it. A bound whose computation fails (an SDP the
        solver does not solve to optimality) is ``None``, and ``bound_failure`` says why: a
        missing bound is no reason to lose a trial."""
        horizon = self.horizon if horizon is None else horizon
        if horizon not in self._bound_cache:
            try:
                self._bound_cache[horizon] = self._compute_bound(horizon)
            except (RuntimeError, ValueError, ArithmeticError) as error:
                self.bound_failure = f"{type(error).__name__}: {error}"
                self._bound_cache[horizon] = None
        return self._bound_cache[horizon]

    @abstractmethod
    def _compute_bound(self, horizon: int) -> float | None: ...
