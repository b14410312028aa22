"""The trie's search within child ranges (ngrams/trie.py), against a plain reference."""

import numpy as np
import pytest

from bigram.ngrams import trie
from bigram.ngrams.bitpack import packed_words, write_packed


def packed(values, bits):
    import io

    stream = io.BytesIO()
    write_packed(stream, np.asarray(values, dtype=np.int64), bits)
    words = np.frombuffer(stream.getvalue(), dtype=np.uint64)
    assert len(words) == packed_words(len(values), bits)
    return trie.PackedArray(words, bits, len(values))


@pytest.mark.parametrize("bits", [5, 16, 17])
@pytest.mark.parametrize("spread", ["uniform", "clustered"])
def test_search_ranges_finds_what_a_plain_search_finds(bits, spread):
    """Ranges of distinct ascending values (evenly spread, or bunched so interpolation
    guesses badly and halving must finish), queries present and absent, ranges of one
    value; every answer checked against list.index."""
    rng = np.random.default_rng(bits)
    top = 1 << bits
    values, ranges = [], []
    for _ in range(300):
        n = int(rng.integers(1, min(top, 3000)))
        if spread == "uniform":
            chosen = rng.choice(top, n, replace=False)
        else:   # most values in a narrow band, a few far out
            band = rng.choice(min(top, 4 * n), n, replace=False)
            chosen = np.unique(np.concatenate([band, rng.integers(0, top, 3)]))
        chosen = np.sort(chosen)
        ranges.append((len(values), len(values) + len(chosen)))
        values.extend(chosen.tolist())
    words = packed(values, bits)
    which = rng.integers(0, len(ranges), 20000)
    low = np.array([ranges[i][0] for i in which], dtype=np.int64)
    high = np.array([ranges[i][1] for i in which], dtype=np.int64)
    present = rng.random(len(which)) < 0.6
    wanted = np.where(present, np.array(values)[rng.integers(low, high)],
                      rng.integers(0, top, len(which)))
    rows, found = trie.search_ranges(words, low, high, wanted, top)
    expected = np.full(len(which), -1)
    for i, (a, b) in enumerate(zip(low.tolist(), high.tolist())):
        part = values[a:b]
        if wanted[i] in part:
            expected[i] = a + part.index(int(wanted[i]))
    got = np.full(len(which), -1)
    got[found] = rows
    assert (got == expected).all()
    assert len(np.unique(found)) == len(found)


def test_search_ranges_ends_on_unsorted_values():
    """A damaged table (values not ascending) gives wrong rows, never a read outside the
    ranges or a search that does not end."""
    rng = np.random.default_rng(3)
    values = rng.integers(0, 1 << 16, 5000)
    words = packed(values, 16)
    low = rng.integers(0, 4000, 10000)
    high = low + rng.integers(1, 1000, 10000)
    wanted = rng.integers(0, 1 << 16, 10000)
    rows, found = trie.search_ranges(words, low, high, wanted, 1 << 16)
    assert ((rows >= low[found]) & (rows < high[found])).all()
    assert (values[rows] == wanted[found]).all()


@pytest.mark.parametrize("bits", [1, 3, 8, 13, 16, 23, 28, 29, 32, 40])
def test_pairs_are_each_value_and_the_next(bits):
    """A child range's two offsets read at once (PackedArray.pairs, one unaligned read up to
    28 bits) equal the values read one by one (plain integers, windows or bitpack)."""
    rng = np.random.default_rng(bits)
    values = np.sort(rng.integers(0, 1 << bits, 1000, dtype=np.uint64))
    array = packed(values.astype(np.int64), bits)
    positions = np.concatenate([rng.integers(0, 999, 500), [0, 998]])
    first, second = array.pairs(positions)
    assert first.tolist() == values[positions].astype(np.int64).tolist()
    assert second.tolist() == values[positions + 1].astype(np.int64).tolist()
