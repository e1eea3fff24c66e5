r"""Viterbi and BCJR on the trellis of a finite-memory channel, batched, in numpy.

The algorithms are written once and shared by every family: the model-based detectors feed
them the channel's log-likelihoods (:mod:`mbdl_control.blocks.channel_likelihood`), the
DNN-aided ones (ViterbiNet, BCJRNet) feed them a network's; only the likelihood changes.

**Conventions** (the one place they are defined). The channel has memory ``L`` (taps) and
``M`` symbols (indices ``0 … M−1``). A *hypothesis* at time ``i`` is the last ``L`` symbols
``(s_i, s_{i−1}, …, s_{i−L+1})``, numbered

.. math::

    k = \sum_{j=0}^{L-1} \operatorname{idx}(s_{i-j})\, M^j \qquad (0 \le k < M^L),

the current symbol the least significant digit (:func:`hypothesis_symbols` maps ``k`` back).
A trellis *state* is the last ``L−1`` symbols, numbered the same way; there are
``S = M^{L−1}``. Hypothesis ``k`` is the branch from state ``k // M`` (time ``i−1``) to
state ``k mod S`` (time ``i``), with ``k mod M = idx(s_i)``. The initial state of a block is
that of the ``L−1`` symbols before it (the last pilots, :func:`state_index`).

Given per-time log-likelihoods ``ℓ_i(k) = log p(y_i | hypothesis k)`` (any function of the
observations that is additive over time), with the symbols i.i.d. uniform:

* :func:`viterbi` returns the maximum-likelihood sequence
  ``argmax_s Σ_i ℓ_i(k_i(s))`` (Forney, "The Viterbi algorithm", Proc. IEEE 61(3), 1973);
* :func:`bcjr` returns the log posteriors ``log P(s_i = a | y)`` of every symbol, by the
  forward–backward recursion of Bahl, Cocke, Jelinek and Raviv, "Optimal decoding of linear
  codes for minimizing symbol error rate", IEEE Trans. IT 20(2), 1974; their argmax is the
  symbol-wise MAP decision, which minimizes the symbol error rate.

Without a known initial state every state is equally likely (the symbols before the block
are unknown and uniform); the block ends free (no tail).

**Why by hand.** No well-kept Python library offers a batched Viterbi/BCJR over the trellis
of an ISI channel with arbitrary per-hypothesis likelihoods: Sionna's ``ViterbiDecoder`` and
``BCJRDecoder`` decode convolutional codes (bit LLRs on an encoder's trellis), as does the
``viterbi`` package of PyPI; MATLAB's ``mlseeq`` is an MLSE equalizer, but MATLAB, one
sequence at a time and with Euclidean metrics only (checked in their documentation).

**Layout.** ``k = n + S d`` with ``n`` the new state and ``d`` the digit of the symbol that
leaves the memory, and the previous state is ``p = q + (S/M) d`` with ``q = n // M``. So
reshaping the ``M^L`` hypotheses as ``(d, q, a)``, the previous states as ``(d, q)`` and
the new ones as ``(q, a)`` (reshapes of the same numbering) makes a trellis step a broadcast
sum over ``(batch, M, S/M, M)`` and a reduction over ``d``: a few array operations per time
step, vectorized over the batch and the trellis. With ``L = 1`` there is no state, and both
algorithms reduce to a decision per symbol.
"""

from __future__ import annotations

import numpy as np

from mbdl_control.core import positive_int

#: clamps a maximum of ``−inf`` (no path) so that ``x − max`` stays ``−inf``, not NaN
_NO_PATH = -1e300
#: the path metrics are shifted back to a maximum of 0 every this many steps
_SHIFT_EVERY = 16


def hypothesis_symbols(size: int, memory: int) -> np.ndarray:
    """``(M**L, L)`` int64: row ``k`` holds ``(idx(s_i), idx(s_{i−1}), …, idx(s_{i−L+1}))``.

    >>> hypothesis_symbols(2, 2)
    array([[0, 0],
           [1, 0],
           [0, 1],
           [1, 1]])
    """
    size, memory = positive_int("size", size), positive_int("memory", memory)
    k = np.arange(size**memory)[:, None]
    return k // size ** np.arange(memory) % size


def state_index(symbols: np.ndarray, size: int) -> np.ndarray:
    """``(batch,)`` state numbers of ``symbols`` ``(batch, L−1)``, given in time order (the
    oldest first, as sent): ``Σ_j idx(s_{i−j}) M^j`` with ``s_i`` the last column."""
    symbols = np.asarray(symbols)
    weights = positive_int("size", size) ** np.arange(symbols.shape[-1])[::-1]
    return symbols @ weights


def viterbi(
    log_likelihoods: np.ndarray, size: int, memory: int, initial: np.ndarray | None = None
) -> np.ndarray:
    r"""``(batch, T)`` int64: the maximum-likelihood symbol sequence of each row.

    ``log_likelihoods`` ``(batch, T, M**L)``: ``ℓ_i(k)`` of every hypothesis (module
    docstring; ``−inf`` marks an impossible one). ``initial`` ``(batch,)``: the known state
    before the block, or ``None`` for all states equally likely (the path's start is then
    chosen with it). The path metric ``m_i(n) = max_d [m_{i−1}(p(n, d)) + ℓ_i(n + S d)]``
    is kept with the arg max ``d`` as a backpointer (``uint8`` for ``M ≤ 256``); memory
    ``O(batch · T · S)``.

    ``ValueError`` for a wrong shape, a size/memory mismatch, NaN or ``+inf``, an initial
    state out of range, or a row whose every sequence is impossible.
    """
    ll, initial = _checked(log_likelihoods, size, memory, initial)
    if memory == 1:
        _require_paths(ll.max(axis=-1))
        return ll.argmax(axis=-1)
    branches = _time_major(ll, size)
    steps, batch, states = len(branches), len(ll), size ** (memory - 1)
    metric = _start(batch, states, initial)
    back = np.empty((steps, batch, states), dtype=np.min_scalar_type(size - 1))
    for t in range(steps):
        candidates = metric.reshape(batch, size, states // size, 1) + branches[t]
        choice = back[t].reshape(batch, states // size, size)
        metric = _best_of(candidates.swapaxes(0, 1), choice).reshape(batch, states)
        if t % _SHIFT_EVERY == 0:
            metric = _shifted(metric)
    _require_paths(metric.max(axis=1))
    return _trace_back(back, metric.argmax(axis=1), size) % size


def _best_of(parts: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """The maximum over the first axis of ``parts`` (``M`` terms); the first arg max goes
    into ``choice``. ``M − 1`` elementwise passes: numpy's ``max``/``argmax`` along a short
    axis cost several times more, and this loop is the detector's inner loop."""
    np.greater(parts[1], parts[0], out=choice)
    best = np.maximum(parts[0], parts[1])
    for d in range(2, len(parts)):
        np.copyto(choice, d, where=parts[d] > best)
        np.maximum(best, parts[d], out=best)
    return best


def _trace_back(back: np.ndarray, last: np.ndarray, size: int) -> np.ndarray:
    """``(batch, T)`` states of the survivors ending in ``last``: ``n ← n // M + (S/M) d``."""
    steps, batch, states = back.shape
    flat = back.reshape(steps, batch * states)
    offsets = np.arange(batch) * states
    path = np.empty((steps, batch), dtype=np.int64)
    state = last.astype(np.int64)
    for t in range(steps - 1, -1, -1):
        path[t] = state
        state = state // size + states // size * flat[t, offsets + state]
    return path.T


def bcjr(
    log_likelihoods: np.ndarray, size: int, memory: int, initial: np.ndarray | None = None
) -> np.ndarray:
    r"""``(batch, T, M)``: ``log P(s_i = a | y_0 … y_{T−1})`` of every symbol (log-MAP).

    Forward ``α_i(n) = logsumexp_d [α_{i−1}(p(n, d)) + ℓ_i(n + S d)]`` from the initial
    state(s), backward ``β_{i−1}(p) = logsumexp_a [ℓ_i(p M + a) + β_i((p M + a) mod S)]``
    from ``β_{T−1} = 0`` (free end); state ``n`` at time ``i`` holds ``s_i = n mod M``, so

    .. math::

        \log P(s_i = a \mid y) = \operatorname{logsumexp}_{n \bmod M = a}
        [\alpha_i(n) + \beta_i(n)] - \operatorname{logsumexp}_{n} [\alpha_i(n) + \beta_i(n)].

    ``α`` and ``β`` are shifted by their maximum over the states every :data:`_SHIFT_EVERY`
    steps (a constant per row, which the normalization removes). Arguments and errors as
    :func:`viterbi`.
    """
    ll, initial = _checked(log_likelihoods, size, memory, initial)
    if memory == 1:
        return _normalized(ll)
    branches = _time_major(ll, size)
    forward = _forward(branches, _start(len(ll), size ** (memory - 1), initial))
    scores = _logsumexp((forward + _backward(branches)).transpose(2, 0, 1, 3))
    return _normalized(scores.transpose(1, 0, 2))


def _forward(branches: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``(T, batch, S/M, M)``: ``α_i`` after each step (shifted), states as ``(q, a)``."""
    steps, batch, size, quotient = branches.shape[:4]
    alphas = np.empty((steps, batch, quotient, size))
    alpha = start
    for t in range(steps):
        terms = alpha.reshape(batch, size, quotient, 1) + branches[t]
        alpha = _logsumexp(terms.swapaxes(0, 1))
        if t % _SHIFT_EVERY == 0:
            alpha = _shifted(alpha)
        alphas[t] = alpha
    _require_paths(alpha.reshape(batch, -1).max(axis=1))
    return alphas


def _backward(branches: np.ndarray) -> np.ndarray:
    """``(T, batch, S/M, M)``: ``β_i`` after each step (shifted), states as ``(q, a)``."""
    steps, batch, size, quotient = branches.shape[:4]
    betas = np.empty((steps, batch, quotient, size))
    beta = np.zeros((batch, quotient, size))
    for t in range(steps - 1, -1, -1):
        betas[t] = beta
        beta = _logsumexp((branches[t] + beta[:, None]).transpose(3, 0, 1, 2))
        beta = beta.reshape(batch, quotient, size)
        if t % _SHIFT_EVERY == 0:
            beta = _shifted(beta)
    return betas


def _logsumexp(parts: np.ndarray) -> np.ndarray:
    """``log Σ exp`` over the first (short) axis of ``parts``, stable, ``−inf`` where every
    term is; folded in elementwise passes like :func:`_best_of` (callers bring the axis
    first by a transposed view)."""
    peak = parts[0].copy()
    for part in parts[1:]:
        np.maximum(peak, part, out=peak)
    np.maximum(peak, _NO_PATH, out=peak)
    terms = np.exp(parts - peak)
    total = terms[0]
    for term in terms[1:]:
        total += term
    with np.errstate(divide="ignore"):
        return np.log(total) + peak


def _shifted(metric: np.ndarray) -> np.ndarray:
    """``metric`` ``(batch, …)`` less its maximum over each row's states.

    Only differences of metrics matter; shifting every :data:`_SHIFT_EVERY` steps keeps them
    near 0, where float64 keeps the digits that tell paths apart, at little cost."""
    axes = tuple(range(1, metric.ndim))
    return metric - np.maximum(metric.max(axis=axes, keepdims=True), _NO_PATH)


def _normalized(scores: np.ndarray) -> np.ndarray:
    """Log posteriors ``scores − logsumexp(scores)`` over the last axis."""
    total = _logsumexp(np.moveaxis(scores, -1, 0))
    _require_paths(total)
    return scores - total[..., None]


def _time_major(ll: np.ndarray, size: int) -> np.ndarray:
    """``(T, batch, M, S/M, M)``: hypotheses as ``(d, q, a)``, each step's slice contiguous
    (a strided one costs more per step than this copy does in all)."""
    batch, steps, count = ll.shape
    return np.ascontiguousarray(ll.transpose(1, 0, 2)).reshape(
        steps, batch, size, count // size**2, size
    )


def _start(batch: int, states: int, initial: np.ndarray | None) -> np.ndarray:
    """``(batch, S)`` initial log-metric: 0 for every state, or 0 at the known one."""
    if initial is None:
        return np.zeros((batch, states))
    start = np.full((batch, states), -np.inf)
    start[np.arange(batch), initial] = 0.0
    return start


def _require_paths(best: np.ndarray) -> None:
    """``ValueError`` where every path of a row has log-likelihood ``−inf``."""
    if not np.all(np.isfinite(best)):
        rows = np.unique(np.nonzero(~np.isfinite(best))[0]).tolist()
        raise ValueError(
            f"every symbol sequence has log-likelihood -inf in rows {rows} of the batch "
            "(an observation no hypothesis can explain)"
        )


def _checked(
    log_likelihoods: np.ndarray, size: int, memory: int, initial: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The log-likelihoods as float64 and the initial states as int64, or a ``ValueError``."""
    size, memory = positive_int("size", size), positive_int("memory", memory)
    if size < 2:
        raise ValueError(f"size must be at least 2 (symbols in the constellation), got {size}")
    ll = np.asarray(log_likelihoods, dtype=np.float64)
    if ll.ndim != 3 or ll.shape[-1] != size**memory:
        raise ValueError(
            f"log_likelihoods must have shape (batch, T, size**memory) = (batch, T, "
            f"{size**memory}) for size={size}, memory={memory}; got {ll.shape}"
        )
    if ll.size and not ll.max() < np.inf:  # the max of an array is NaN if any entry is
        raise ValueError("log_likelihoods must be finite or -inf (impossible), got NaN or +inf")
    return ll, _checked_initial(initial, len(ll), size ** (memory - 1))


def _checked_initial(initial: np.ndarray | None, batch: int, states: int) -> np.ndarray | None:
    if initial is None:
        return None
    initial = np.asarray(initial)
    if initial.shape != (batch,) or not np.issubdtype(initial.dtype, np.integer):
        raise ValueError(
            f"initial must be None or ({batch},) integer state numbers, got {initial!r}"
        )
    if np.any((initial < 0) | (initial >= states)):
        raise ValueError(f"initial states must be in [0, {states}), got {initial}")
    return initial.astype(np.int64)
