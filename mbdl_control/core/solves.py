"""What every optimization-based policy reports: how many solves it ran and how many failed."""

from __future__ import annotations

import numpy as np


class SolveCounts:
    """Mixin counting an optimization policy's solves and failures (a failed solve is answered
    by a fallback action and counted, never raised)."""

    solves: int = 0
    failed_solves: int = 0

    def count_solves(self, solved: np.ndarray) -> None:
        """Count a batch of solves, ``solved`` true where each succeeded."""
        self.solves += int(np.size(solved))
        self.failed_solves += int(np.size(solved) - np.count_nonzero(solved))

    def diagnostics(self) -> dict[str, float]:
        """Solves, failed solves and their rate."""
        rate = self.failed_solves / self.solves if self.solves else 0.0
        return {"solves": self.solves, "failed_solves": self.failed_solves, "failure_rate": rate}
