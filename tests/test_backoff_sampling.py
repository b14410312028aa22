"""The back-off chain sampler draws what the full distributions draw.

backoff_chain.BackoffChain finds the inverse CDF of a back-off model by walking its
back-off chain (never building a row over the vocabulary); the reference builds each
state's full row (BackoffModel.rows) and takes the first token whose float64 cumulative
probability reaches u times the row total. Whole samples are compared with the sampler
that builds rows (LazyChain, float32 as before) under the same seed, on small
vocabularies where float32 sums are exact enough to agree.
"""

from pathlib import Path

import numpy as np
import pytest

import bigram
from bigram.models.backoff_chain import BackoffChain
from bigram.models.sampling import (
    LazyChain,
    boundary_limit,
    sample,
    sample_one_at_a_time,
)
from bigram.tensor.random import Generator

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kenlm"
WORDS = (FIXTURES / "words.train.txt").read_text().splitlines()


def full_distribution_draws(model, states, k):
    rows = model.backoff.rows(states)
    cdf = np.cumsum(rows, axis=1)
    target = k.astype(np.float64) * 2.0 ** -53 * cdf[:, -1]
    return np.minimum((cdf < target[:, None]).sum(axis=1), model.size - 1)


def models():
    names = (Path(__file__).resolve().parent.parent / "data" / "names.txt").read_text().split()
    return {
        "arpa words o4": bigram.load(FIXTURES / "words.o4.arpa.gz"),
        "arpa words o4 pruned": bigram.load(FIXTURES / "words.o4.prune-0-0-1-2.arpa.gz"),
        "arpa chars o6": bigram.load(FIXTURES / "chars.o6.arpa.gz"),
        "arpa edge o2 (a back-off of 0)": bigram.load(FIXTURES / "edge.o2.arpa.gz"),
        "words witten-bell o3": bigram.train(WORDS, order=3, unit="word",
                                             method="witten-bell"),
        "words add-k o2 unk": bigram.train(WORDS, order=2, unit="word", min_count=2),
        "chars kneser-ney o4": bigram.train(names[:2000], order=4, method="kneser-ney"),
    }


@pytest.mark.parametrize("name", list(models()))
def test_draws_equal_full_distribution_draws(name):
    model = models()[name].saved.model
    chain = BackoffChain(model)
    rng = np.random.default_rng(5)
    states = rng.integers(0, model.n_states(), 4000)
    states[:300] = model.start_state()
    k = rng.integers(0, 1 << 53, 4000)
    k[:20] = [0, 1, (1 << 53) - 1] + [1 << 52] * 17
    drawn = chain.draw(states, k)
    assert (drawn == full_distribution_draws(model, states, k)).all()
    # The states found while drawing are BackoffModel.advance's.
    assert (chain.advance(states, drawn) == model.advance(states, drawn)).all()


@pytest.mark.parametrize("name", ["arpa words o4", "words witten-bell o3",
                                  "chars kneser-ney o4"])
def test_samples_equal_full_distribution_samples(name):
    model = models()[name].saved.model
    start = model.start_state()
    fast = BackoffChain(model)
    fast.boundary_limit = boundary_limit(model, 1.0)
    for seed in (1, 2147483647):
        ours = sample(fast, 200, Generator().manual_seed(seed), start, 40)
        rows = sample(LazyChain(model), 200, Generator().manual_seed(seed), start, 40)
        assert (ours.tokens == rows.tokens).all() and (ours.offsets == rows.offsets).all()
        assert ours.draws == rows.draws
    plain = sample_one_at_a_time(model, 20, Generator().manual_seed(3), max_steps=40)
    ours = sample(fast, 20, Generator().manual_seed(3), start, 40)
    assert [ours.tokens[a:b].tolist() for a, b in zip(ours.offsets, ours.offsets[1:])] == plain


def test_model_sample_uses_the_chain_for_large_models(monkeypatch):
    """A word model too large for every row at once samples through the back-off chain,
    and gives what the rows give."""
    from bigram.models import sampling

    model = bigram.train(WORDS, order=4, unit="word", method="modified-kneser-ney")
    monkeypatch.setattr(sampling, "TABLE_LIMIT", 0)
    chain = sampling.chain_for(model.saved.model)
    assert isinstance(chain, BackoffChain)
    fast = model.sample(50, seed=7)
    rows = sample(LazyChain(model.saved.model), 50, Generator().manual_seed(7),
                  model.saved.model.start_state(), 100)
    assert fast == sampling.decode(model.saved.vocabulary, rows)
