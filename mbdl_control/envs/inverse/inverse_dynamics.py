r"""The draws and the scoring of the sparse inverse envs, shared by the single envs and their
batched twins.

Pure functions of a *list of generators* and arrays with a leading batch axis: a single env
calls them with its one generator (a batch of one), so a batched env whose env ``i`` owns the
generator a single env seeded alike owns draws exactly the same signals and noise and
computes exactly the same measurements and scores, bit for bit.

Per signal an env's generator gives, in this order: ``n`` uniforms ``u`` (entry ``i`` is in
the support where ``u_i < p``), ``n`` standard normals ``g`` (the amplitudes: ``s_i = g_i``
on the support, 0 elsewhere) and ``m`` standard normals ``z`` (the noise ``w = σ z``, drawn
even when ``σ = 0``). Nothing depends on the action or on the nominal model. The
measurements ``x = Hs + σz`` sum ``H``'s columns over the support in index order, entry by
entry (a product and a sum of rows, no BLAS, whose blocking depends on the batch size): the
same numbers whatever the batch, in ``O(m·|S|)`` per signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mbdl_control.models import SparseLinearModel


@dataclass(frozen=True)
class Signals:
    """A batch of signals ``signal`` ``(B, n)`` and their measurements ``measurements``
    ``(B, m)``."""

    signal: np.ndarray
    measurements: np.ndarray


@dataclass(frozen=True)
class Scores:
    """Per estimate ``(B,)``: ``error_energy`` ``‖ŝ − s‖²``, ``signal_energy`` ``‖s‖²`` and
    ``cost``, the squared error over the prior's ``E‖s‖² = p·n``."""

    error_energy: np.ndarray
    signal_energy: np.ndarray
    cost: np.ndarray


@dataclass(frozen=True, eq=False)
class SparseDynamics:
    """The draws of one sparse linear model (module docstring); ``columns`` is ``Hᵀ``, its row
    ``j`` the column ``j`` of ``H``, contiguous."""

    model: SparseLinearModel
    columns: np.ndarray

    @classmethod
    def of(cls, model: SparseLinearModel) -> SparseDynamics:
        return cls(model, np.ascontiguousarray(model.sensing.T))

    def draw(self, generators: Sequence[np.random.Generator]) -> Signals:
        """A new signal and its measurements per generator."""
        model = self.model
        n, rows = model.unknowns, len(generators)
        uniforms = np.empty((rows, n))
        normals = np.empty((rows, n + model.measurements))
        for row, rng in enumerate(generators):
            rng.random(out=uniforms[row])
            rng.standard_normal(out=normals[row])  # the amplitudes, then the noise
        support = uniforms < model.sparsity
        signal = np.where(support, normals[:, :n], 0.0)
        _, indices = np.nonzero(support)  # row by row, each row's in index order
        counts = np.count_nonzero(support, axis=1)
        ends = np.cumsum(counts)
        clean = np.empty((rows, model.measurements))
        for row, (start, end) in enumerate(
            zip((ends - counts).tolist(), ends.tolist(), strict=True)
        ):
            entries = indices[start:end]
            terms = np.take(self.columns, entries, axis=0)
            terms *= signal[row, entries, None]
            np.add.reduce(terms, axis=0, out=clean[row])
        return Signals(signal, clean + model.noise_std * normals[:, n:])

    def score(self, estimates: np.ndarray, signal: np.ndarray) -> Scores:
        """The scores of estimates ``(B, n)`` of signals ``(B, n)``; a cost that overflows is
        ``inf``, for the env to refuse."""
        with np.errstate(over="ignore", invalid="ignore"):
            error_energy = np.sum(np.square(estimates - signal), axis=1)
            cost = error_energy / self.model.signal_energy
        return Scores(error_energy, np.sum(np.square(signal), axis=1), cost)
