"""The agent base of a published convex policy with its parameters given, untuned: the
vehicle's and the supply chain's (Agrawal, Barratt, Boyd & Stellato, L4DC 2020, §6.2-6.3).

The policy's problem is the subclass's (``_act``); this base checks the model, takes ``P`` and
``q`` (the published start where ``None``) and reports them as its configuration. The learned
versions start from the same ``published_start`` (each example's block gives it).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from mbdl_control.core import BaseAgent, vector_space


class GivenConvexPolicy(BaseAgent):
    """A convex policy ``π_{P,q}`` with ``P`` and ``q`` given."""

    family = "model-based"

    def __init__(
        self,
        model: Any,
        P: np.ndarray | None = None,
        q: np.ndarray | None = None,
        knowledge: str = "nominal",
    ) -> None:
        super().__init__(knowledge)
        self.model = self.required_model(model)
        start_P, start_q = self.published_start()
        self.P = start_P if P is None else np.array(P, dtype=np.float64)
        self.q = start_q if q is None else np.array(q, dtype=np.float64)
        if self.P.shape != start_P.shape or self.q.shape != start_q.shape:
            raise ValueError(
                f"P must have shape {start_P.shape} and q {start_q.shape}, got {self.P.shape}, "
                f"{self.q.shape}"
            )
        self.observation_space = vector_space(self.model.n)

    @staticmethod
    @abstractmethod
    def required_model(model: Any) -> Any:
        """``model``, or a ``TypeError`` unless it is the kind the policy is written on."""

    @staticmethod
    @abstractmethod
    def published_start() -> tuple[np.ndarray, np.ndarray]:
        """The published ``(P, q)``."""

    @property
    def config(self) -> dict[str, Any]:
        return {"model": self.model, "P": self.P, "q": self.q, "knowledge": self.knowledge}
