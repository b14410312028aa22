"""The vectorised sampler against drawing names one at a time from the same stream."""

import numpy as np
import pytest

import bigram.tensor as torch
from bigram.models import CountModel
from bigram.sampling import (InverseCdf, normalised_cdf, sample, sample_names,
                             sample_one_at_a_time, tempered, uniform_integers)
from bigram.vocabulary import Vocabulary
from conftest import lecture_counts, names


@pytest.fixture(scope="module")
def model():
    N, chars = lecture_counts(names())
    return CountModel(Vocabulary(chars), N, 1.0)


def as_lists(samples):
    return [samples.tokens[a:b].tolist() for a, b in zip(samples.offsets[:-1],
                                                            samples.offsets[1:])]


@pytest.mark.parametrize("n, start, max_steps, seed", [
    (3000, 0, 100, 1), (4000, 0, 100, 2147483647), (2500, 5, 100, 3), (3000, 0, 4, 4),
    (1, 0, 100, 5), (70000, 0, 100, 6),
])
def test_vectorised_sampling_equals_one_at_a_time(model, n, start, max_steps, seed):
    g = torch.Generator().manual_seed(seed)
    fast = sample(model.probabilities, n, g, start, max_steps)
    after_fast = g.words(4)
    g_ref = torch.Generator().manual_seed(seed)
    reference = sample_one_at_a_time(model, n, g_ref, start, max_steps)
    assert as_lists(fast) == reference
    assert fast.cut == sum(len(r) == max_steps for r in reference)
    np.testing.assert_array_equal(after_fast, g_ref.words(4))  # same stream consumed


def test_one_at_a_time_reference_is_torch_multinomial_draw(model):
    # ATen's with-replacement rule for one sample: cumulative float32 sum, 53-bit uniform.
    g = torch.Generator().manual_seed(11)
    row = model.probabilities[0]
    expected = torch.multinomial(torch.tensor(row), 2, replacement=True, generator=g).tolist()
    g = torch.Generator().manual_seed(11)
    cdf = normalised_cdf(row)
    u = g.uniform64(2)
    assert np.searchsorted(cdf.astype(np.float64), u, side="left").tolist() == expected


def test_inverse_cdf_table_and_exact_search_agree(model):
    g = torch.Generator().manual_seed(5)
    k = uniform_integers(g, 200000)
    states = np.asarray(g.words(200000) % 27, dtype=np.int64)
    with_table = InverseCdf(model.probabilities, table=True).draw(states, k)
    exact = InverseCdf(model.probabilities, table=False).draw(states, k)
    cdf = normalised_cdf(model.probabilities).astype(np.float64)
    plain = (cdf[states] < (k * 2.0 ** -53)[:, None]).sum(1)
    np.testing.assert_array_equal(with_table, exact)
    np.testing.assert_array_equal(exact, plain)


def test_temperature_reshapes_rows(model):
    P = model.probabilities.astype(np.float64)
    for t in (0.5, 2.0):
        expected = P ** (1 / t)
        expected /= expected.sum(1, keepdims=True)
        np.testing.assert_allclose(tempered(model.probabilities, t), expected, rtol=1e-5)
    assert tempered(model.probabilities, 1.0) is model.probabilities


def test_names_with_prefix_and_exclusion(model):
    g = torch.Generator().manual_seed(9)
    result = sample_names(model, 200, g, prefix="ka")
    assert len(result.names) == 200 and all(n.startswith("ka") for n in result.names)
    training = set(names())
    novel = sample_names(model, 300, torch.Generator().manual_seed(9), exclude=training)
    assert len(novel.names) == 300 and not set(novel.names) & training
