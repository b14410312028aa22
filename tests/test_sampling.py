"""The vectorised sampler against drawing names one at a time from the same stream."""

import numpy as np
import pytest
from conftest import bigram_index_of, bigram_rows, bigram_states, lecture_counts, names

import bigram.tensor as torch
from bigram.models.language_models import CountModel
from bigram.models.sampling import (
    InverseCdf,
    LazyChain,
    chain_for,
    normalised_cdf,
    sample,
    sample_names,
    sample_one_at_a_time,
    tempered,
    uniform_integers,
)
from bigram.text.vocabulary import Vocabulary


@pytest.fixture(scope="module")
def model():
    N, chars = lecture_counts(names())
    return CountModel(Vocabulary(chars), bigram_index_of(N), 1.0)


@pytest.fixture(scope="module")
def P(model):
    """The lecture's 27 x 27 float32 matrix: row h is P(next | h)."""
    return bigram_rows(model)


def lecture_sampling(P, n, generator, after=0, max_steps=100):
    """The lecture's loop over the rows of P: ix = multinomial(P[ix]) until the boundary,
    one uniform drawn per token (ATen's rule: first float32-cumulative entry >= u)."""
    cdf = normalised_cdf(P).astype(np.float64)
    items = []
    for _ in range(n):
        ix, item = after, []
        while len(item) < max_steps:
            ix = int(np.searchsorted(cdf[ix], generator.uniform64(1)[0], side="left"))
            if ix == 0:
                break
            item.append(ix)
        items.append(item)
    return items


def as_lists(samples):
    return [samples.tokens[a:b].tolist() for a, b in zip(samples.offsets[:-1],
                                                            samples.offsets[1:])]


@pytest.mark.parametrize("n, after, max_steps, seed", [
    (3000, 0, 100, 1), (4000, 0, 100, 2147483647), (2500, 5, 100, 3), (3000, 0, 4, 4),
    (1, 0, 100, 5), (70000, 0, 100, 6),
])
def test_vectorised_sampling_equals_one_at_a_time(model, P, n, after, max_steps, seed):
    start = int(bigram_states(model)[after])   # items continue after token `after`
    g = torch.Generator().manual_seed(seed)
    fast = sample(chain_for(model, draws=16 * n), n, g, start, max_steps)
    after_fast = g.words(4)
    g_ref = torch.Generator().manual_seed(seed)
    reference = lecture_sampling(P, n, g_ref, after, max_steps)
    assert as_lists(fast) == reference
    assert fast.cut == sum(len(r) == max_steps for r in reference)
    np.testing.assert_array_equal(after_fast, g_ref.words(4))  # same stream consumed
    if n <= 3000:   # the library's state-walking reference (slow: one query per token)
        g_states = torch.Generator().manual_seed(seed)
        assert sample_one_at_a_time(model, n, g_states, start, max_steps) == reference
        np.testing.assert_array_equal(after_fast, g_states.words(4))


def test_lazy_chain_equals_one_at_a_time(model):
    # The chain for models too large for a table of every state's row.
    fast = sample(LazyChain(model), 2000, torch.Generator().manual_seed(7), model.start_state())
    reference = sample_one_at_a_time(model, 2000, torch.Generator().manual_seed(7))
    assert as_lists(fast) == reference


def test_one_at_a_time_reference_is_torch_multinomial_draw(P):
    # ATen's with-replacement rule for one sample: cumulative float32 sum, 53-bit uniform.
    g = torch.Generator().manual_seed(11)
    row = P[0]
    expected = torch.multinomial(torch.tensor(row), 2, replacement=True, generator=g).tolist()
    g = torch.Generator().manual_seed(11)
    cdf = normalised_cdf(row)
    u = g.uniform64(2)
    assert np.searchsorted(cdf.astype(np.float64), u, side="left").tolist() == expected


def test_inverse_cdf_table_and_exact_search_agree(P):
    g = torch.Generator().manual_seed(5)
    k = uniform_integers(g, 200000)
    states = np.asarray(g.words(200000) % 27, dtype=np.int64)
    with_table = InverseCdf(P, table=True).draw(states, k)
    exact = InverseCdf(P, table=False).draw(states, k)
    cdf = normalised_cdf(P).astype(np.float64)
    plain = (cdf[states] < (k * 2.0 ** -53)[:, None]).sum(1)
    np.testing.assert_array_equal(with_table, exact)
    np.testing.assert_array_equal(exact, plain)


def test_temperature_reshapes_rows(P):
    for t in (0.5, 2.0):
        expected = P.astype(np.float64) ** (1 / t)
        expected /= expected.sum(1, keepdims=True)
        np.testing.assert_allclose(tempered(P, t), expected, rtol=1e-5)
    assert tempered(P, 1.0) is P


def test_names_with_prefix_and_exclusion(model):
    g = torch.Generator().manual_seed(9)
    result = sample_names(model, 200, g, prefix="ka")
    assert len(result.names) == 200 and all(n.startswith("ka") for n in result.names)
    training = set(names())
    novel = sample_names(model, 300, torch.Generator().manual_seed(9), exclude=training)
    assert len(novel.names) == 300 and not set(novel.names) & training
