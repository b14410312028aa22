"""Smoothing methods: rows sum to one, the formulas hold cell by cell, the back-off form is exact."""

import numpy as np
import pytest
from conftest import bigram_index_of
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bigram.errors import OptionError
from bigram.ngrams.backoff import BackoffModel
from bigram.ngrams.smoothing import DEFAULT_DISCOUNT, estimate, estimated_discount


def smooth(counts, method, strength=None):
    """The smoothing.Estimate of a bigram count matrix, and its rows P[h] = P(. | h) in float64
    (the back-off query for the state of each token h, which is 1 + h)."""
    index = bigram_index_of(counts)
    estimated = estimate(index, method, strength)
    model = BackoffModel.from_probabilities(index, estimated.prob, estimated.backoff)
    return estimated, model.rows(1 + np.arange(counts.shape[0]))

count_matrices = st.integers(2, 9).flatmap(
    lambda v: arrays(np.int64, (v, v), elements=st.integers(0, 6)))


@settings(max_examples=150, deadline=None)
@given(count_matrices, st.sampled_from(["add-k", "witten-bell", "kneser-ney"]),
       st.floats(0.05, 1.0))
def test_rows_sum_to_one_and_back_off_form_is_exact(counts, method, strength):
    counts[:, 0] += counts.sum(1) == 0  # every history seen at least once
    estimated, P = smooth(counts, method, strength)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-6)
    # Zero only where a token is never predicted at all (not so in real data: every
    # character is predicted by the one before it, and every item ends).
    reachable = (counts.sum(0) > 0) | (method == "add-k")
    assert ((P > 0) == (reachable[None, :] | (counts > 0))).all()
    unseen = counts == 0
    # An unseen bigram is lambda(h) * P_1(w): the back-off weight of h times the unigram.
    assert len(estimated.backoff[1]) == len(estimated.prob[1]) == counts.shape[0]
    expected = estimated.backoff[1][:, None] * estimated.prob[1][None, :]
    np.testing.assert_allclose(P[unseen], expected[unseen], rtol=1e-6)
    np.testing.assert_allclose(estimated.prob[1].sum(), 1.0)


def cellwise(counts, method, strength):
    """The textbook formulas, one cell at a time (the independent reference)."""
    V = counts.shape[0]
    P = np.zeros((V, V))
    total = counts.sum()
    for h in range(V):
        c = counts[h].sum()
        types = (counts[h] > 0).sum()
        for w in range(V):
            n = counts[h, w]
            if method == "add-k":
                # In float32, as the lecture's (N + k) / (N + k).sum(1, keepdim=True).
                P[h, w] = np.float32(n + strength) / np.float32(c + strength * V)
            elif method == "witten-bell":
                p1 = counts[:, w].sum() / total
                P[h, w] = (n + strength * types * p1) / (c + strength * types)
            else:
                continuation = (counts[:, w] > 0).sum() / (counts > 0).sum()
                P[h, w] = max(n - strength, 0) / c + strength * types / c * continuation
    return P


@pytest.mark.parametrize("method, strength", [("add-k", 1.0), ("add-k", 0.1),
                                              ("witten-bell", 1.0), ("witten-bell", 0.3),
                                              ("kneser-ney", 0.75), ("kneser-ney", 0.2)])
def test_formulas_cell_by_cell(method, strength):
    counts = np.random.default_rng(4).integers(0, 5, (6, 6))
    counts[:, 0] += 1
    np.testing.assert_allclose(smooth(counts, method, strength)[1],
                               cellwise(counts, method, strength), rtol=1e-9)


def test_kneser_ney_discount_from_count_of_counts():
    counts = np.array([[0, 1, 1, 2], [3, 1, 2, 0], [1, 0, 0, 5], [2, 2, 1, 0]])
    n1, n2 = 5, 4
    assert estimated_discount(counts) == pytest.approx(n1 / (n1 + 2 * n2))
    assert smooth(counts, "kneser-ney")[0].discounts[2] == pytest.approx(n1 / (n1 + 2 * n2))
    no_twos = np.array([[1, 3], [3, 1]])
    assert estimated_discount(no_twos) == DEFAULT_DISCOUNT


def test_out_of_range_strengths():
    with pytest.raises(OptionError, match="discount D, which must lie in"):
        smooth(np.ones((3, 3), dtype=np.int64), "kneser-ney", 1.5)
    with pytest.raises(OptionError, match="unknown method"):
        smooth(np.ones((3, 3), dtype=np.int64), "good-turing")
