"""The batched trellis (Viterbi, BCJR) against brute-force enumeration of every sequence."""

import itertools

import numpy as np
import pytest
from scipy.special import logsumexp

from mbdl_control.blocks.trellis import bcjr, hypothesis_symbols, state_index, viterbi

CASES = [(2, 1, 5), (2, 2, 6), (2, 3, 6), (3, 2, 4), (4, 2, 3), (2, 4, 5), (3, 3, 3)]


def _sequence_scores(ll, size, memory, initial):
    """Every (initial state, data sequence) of one row and its summed log-likelihood."""
    sequences, scores = [], []
    for before in itertools.product(range(size), repeat=memory - 1):
        if initial is not None and state_index(np.array([before]), size)[0] != initial:
            continue
        for data in itertools.product(range(size), repeat=len(ll)):
            sent = (*before, *data)
            hypotheses = [
                sum(sent[t + memory - 1 - j] * size**j for j in range(memory))
                for t in range(len(ll))
            ]
            sequences.append(data)
            scores.append(ll[np.arange(len(ll)), hypotheses].sum())
    return np.array(sequences), np.array(scores)


def _brute_force(ll, size, memory, initial=None):
    """The ML sequences ``(batch, T)`` and the log posteriors ``(batch, T, M)``."""
    best, posteriors = [], []
    for row in range(len(ll)):
        start = None if initial is None else initial[row]
        sequences, scores = _sequence_scores(ll[row], size, memory, start)
        best.append(sequences[scores.argmax()])
        marginal = [
            [logsumexp(scores[sequences[:, t] == a]) for a in range(size)]
            for t in range(ll.shape[1])
        ]
        posteriors.append(np.array(marginal) - logsumexp(scores))
    return np.array(best), np.array(posteriors)


def test_hypothesis_numbering():
    """``k = Σ_j idx(s_{i−j}) M^j``: from state ``k // M`` to state ``k mod M^{L−1}``."""
    size, memory = 3, 3
    table = hypothesis_symbols(size, memory)
    assert table.shape == (27, 3) and table.dtype == np.int64
    np.testing.assert_array_equal(table @ size ** np.arange(memory), np.arange(27))
    oldest_first = table[:, ::-1]
    np.testing.assert_array_equal(state_index(oldest_first[:, :-1], size), np.arange(27) // 3)
    np.testing.assert_array_equal(state_index(oldest_first[:, 1:], size), np.arange(27) % 9)
    np.testing.assert_array_equal(table[:, 0], np.arange(27) % 3)


@pytest.mark.parametrize(("size", "memory", "steps"), CASES)
@pytest.mark.parametrize("known_start", [False, True])
def test_viterbi_and_bcjr_equal_brute_force(size, memory, steps, known_start):
    rng = np.random.default_rng(size * 100 + memory * 10 + steps)
    ll = 2.0 * rng.standard_normal((3, steps, size**memory))
    initial = rng.integers(0, size ** (memory - 1), 3) if known_start else None
    sequences, posteriors = _brute_force(ll, size, memory, initial)
    detected = viterbi(ll, size, memory, initial)
    assert detected.dtype == np.int64
    np.testing.assert_array_equal(detected, sequences)
    np.testing.assert_allclose(bcjr(ll, size, memory, initial), posteriors, atol=1e-9, rtol=0)


def test_impossible_hypotheses_are_never_chosen():
    rng = np.random.default_rng(7)
    size, memory = 2, 3
    ll = rng.standard_normal((4, 6, 8))
    ll[rng.random(ll.shape) < 0.3] = -np.inf
    ll[..., 0] = 0.0  # the all-zeros sequence stays possible
    sequences, posteriors = _brute_force(ll, size, memory)
    np.testing.assert_array_equal(viterbi(ll, size, memory), sequences)
    np.testing.assert_allclose(bcjr(ll, size, memory), posteriors, atol=1e-9, rtol=0)


def test_a_constant_per_step_changes_nothing_over_a_long_block():
    """Only differences count, however large the metrics grow (they are shifted in range)."""
    rng = np.random.default_rng(3)
    ll = 1e6 * rng.standard_normal((2, 20000, 16))
    offset = 1e9 * rng.standard_normal((2, 20000, 1))
    np.testing.assert_array_equal(viterbi(ll + offset, 2, 4), viterbi(ll, 2, 4))
    posteriors = bcjr(ll, 2, 4)
    np.testing.assert_allclose(bcjr(ll + offset, 2, 4), posteriors, atol=1e-6)
    np.testing.assert_allclose(np.exp(posteriors).sum(-1), 1.0)


def test_empty_blocks():
    ll = np.zeros((3, 0, 8))
    assert viterbi(ll, 2, 3).shape == (3, 0)
    assert bcjr(ll, 2, 3).shape == (3, 0, 2)


@pytest.mark.parametrize("detector", [viterbi, bcjr])
def test_bad_inputs_name_the_problem(detector):
    ll = np.zeros((2, 5, 8))
    with pytest.raises(ValueError, match=r"shape \(batch, T, size\*\*memory\) = \(batch, T, 16\)"):
        detector(ll, 2, 4)
    with pytest.raises(ValueError, match=r"got \(5, 8\)"):
        detector(ll[0], 2, 3)
    with pytest.raises(ValueError, match="size must be at least 2"):
        detector(np.zeros((2, 5, 1)), 1, 3)
    with pytest.raises(ValueError, match="memory must be a positive integer"):
        detector(ll, 2, 0)
    for bad in (np.nan, np.inf):
        broken = ll.copy()
        broken[1, 2, 3] = bad
        with pytest.raises(ValueError, match="finite or -inf"):
            detector(broken, 2, 3)
    with pytest.raises(ValueError, match=r"initial states must be in \[0, 4\)"):
        detector(ll, 2, 3, np.array([0, 4]))
    with pytest.raises(ValueError, match=r"initial must be None or \(2,\) integer"):
        detector(ll, 2, 3, np.array([0.0, 1.0]))
    impossible = ll.copy()
    impossible[1, 3] = -np.inf
    with pytest.raises(ValueError, match=r"log-likelihood -inf in rows \[1\]"):
        detector(impossible, 2, 3)
