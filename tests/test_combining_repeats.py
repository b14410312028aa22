"""Repeats combined before sorting (external_sort.BlockCombiner, the chunk loop of
budgeted_counting.count_spilled): against np.unique and the in-memory counter.

- the combiner's keys, counts, suffixes and each record's index equal np.unique's on
  blocks with many repeats, few repeats (the sort road), keys chosen to crowd one
  region of the table, and a block far more varied than the one before (its small
  table overflows and the block is done again in a large one);
- text made of a few sentences repeated many times, counted within budgets small enough
  for many chunks and runs, gives the in-memory index, level for level.
"""

import gc
from pathlib import Path

import numpy as np
import pytest

from bigram.ngrams.budgeted_training_data import load_training_data_budgeted
from bigram.ngrams.external_sort import BlockCombiner
from bigram.ngrams.training_data import load_training_data
from bigram.settings import Reading


def reference(keys, suffix, count):
    """np.unique's combination: distinct keys, suffix of each, summed counts, inverse."""
    distinct, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=np.asarray(count, dtype=np.float64),
                         minlength=len(distinct)).astype(np.int64)
    return distinct, suffix[first], counts, inverse.ravel()


def assert_combines(combiner, keys, count):
    suffix = (keys % 977).astype(np.int32)        # a function of the key, as in the trie
    got = combiner.combine(keys, suffix, count)
    want = reference(keys, suffix, count)
    for name, a, b in zip(("keys", "suffix", "count", "inverse"), got, want, strict=True):
        assert np.array_equal(a, b), name
    assert got[0].dtype == np.int64 and got[1].dtype == np.int32 and got[2].dtype == np.int64


@pytest.mark.parametrize("seed", range(4))
def test_blocks_with_many_and_few_repeats(seed):
    rng = np.random.default_rng(seed)
    combiner = BlockCombiner()
    for distinct in (50, 3000, 40, 20_000, 20_000, 7, 1):
        n = int(rng.integers(1, 30_000))
        pool = rng.integers(0, 1 << 40, distinct)
        keys = pool[rng.integers(0, distinct, n)]
        counted = rng.random(n) < 0.8
        assert_combines(combiner, keys, counted if seed % 2 else counted.astype(np.int64) * 3)


@pytest.mark.parametrize("seed", range(4))
def test_keys_of_dense_parents_placed_directly_equal_np_unique(seed):
    """Keys `parent * size + token` (a chunk's windows): the direct round by parent, the
    rest hashed, the two merged; parents with one next token, with several, and blocks
    where the round places few records (then given up for hashing). A second combiner
    is given the pairs alone (keys None: made only where needed), as a chunk's are."""
    rng = np.random.default_rng(seed)
    combiner, keyless = BlockCombiner(), BlockCombiner()
    size = 1000
    for parents, branching in ((300, 1), (2000, 3), (50, 200), (5000, 1), (10, 900), (700, 2)):
        n = int(rng.integers(1, 30_000))
        parent = rng.integers(0, parents, n)
        # Each parent's possible next tokens: `branching` of them, fixed per parent.
        choices = rng.integers(0, size, (parents, branching))
        token = choices[parent, rng.integers(0, branching, n)]
        keys = parent * size + token
        counted = rng.random(n) < 0.9
        assert_combines_sized(combiner, keys, counted, (parent, token, size))
        assert_combines_sized(keyless, keys, counted, (parent, token, size), given=False)
        assert keyless.direct_share == combiner.direct_share


def assert_combines_sized(combiner, keys, count, pairs, given=True):
    suffix = (keys % 977).astype(np.int32)
    got = combiner.combine(keys if given else None, suffix, count, pairs)
    want = reference(keys, suffix, count)
    for name, a, b in zip(("keys", "suffix", "count", "inverse"), got, want, strict=True):
        assert np.array_equal(a, b), name


def test_a_block_far_more_varied_than_the_one_before_overflows_its_small_table(monkeypatch):
    rng = np.random.default_rng(5)
    combiner = BlockCombiner()
    sizes = []
    slots = combiner._slots

    def recorded(keys, bits, steps):
        result = slots(keys, bits, steps)
        sizes.append((bits, result is None))
        return result

    monkeypatch.setattr(combiner, "_slots", recorded)
    assert_combines(combiner, rng.integers(0, 10, 50_000), np.ones(50_000, bool))
    # The table sized for ten keys cannot hold 30,000: done again at twice the block.
    assert_combines(combiner, rng.integers(0, 1 << 50, 60_000), np.ones(60_000, bool))
    assert sizes[-2][1] and not sizes[-1][1] and sizes[-1][0] > sizes[-2][0]


def test_keys_that_crowd_one_region_of_the_table():
    combiner = BlockCombiner()
    for shift in (0, 20, 40, 50):
        keys = np.repeat(np.arange(4000, dtype=np.int64) << shift, 3)
        np.random.default_rng(shift).shuffle(keys)
        assert_combines(combiner, keys, np.ones(len(keys), bool))


def test_mostly_distinct_blocks_take_one_sort(monkeypatch):
    combiner = BlockCombiner()
    rng = np.random.default_rng(9)
    hashed = []
    monkeypatch.setattr(combiner, "_hashed_distinct",
                        lambda keys: hashed.append(1) or BlockCombiner._hashed_distinct(
                            combiner, keys))
    for _ in range(3):
        keys = rng.integers(0, 1 << 45, 20_000)
        assert_combines(combiner, keys, rng.random(20_000) < 0.5)
    assert len(hashed) == 1                       # only the first block, not knowing
    assert_combines(combiner, np.zeros(0, np.int64), np.zeros(0, bool))


def repeated_sentences(path, seed, copies, unit):
    """A few dozen random sentences, each repeated `copies` times in random order."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(60)] if unit == "word" else list("abcdefghij")
    joiner = " " if unit == "word" else ""
    sentences = [joiner.join(rng.choice(words, rng.integers(1, 12))) for _ in range(40)]
    lines = [sentences[i] for i in rng.integers(0, len(sentences), 40 * copies)]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("unit,order,padding", [
    ("word", 5, "sentence"), ("word", 3, "makemore"), ("char", 4, "makemore")])
@pytest.mark.parametrize("memory", [1 << 14, 1 << 17])
def test_repeated_text_counted_within_small_budgets_equals_in_memory(
        tmp_path, monkeypatch, unit, order, padding, memory):
    combined = []
    combine = BlockCombiner.combine

    def recorded(self, keys, suffix, count, pairs=None):
        result = combine(self, keys, suffix, count, pairs)
        combined.append((len(result[3]), len(result[0])))   # records, distinct
        return result

    monkeypatch.setattr(BlockCombiner, "combine", recorded)
    path = repeated_sentences(tmp_path / "c.txt", memory, 120, unit)
    reading = Reading(unit=unit, test_size=0)
    a = load_training_data([path], reading, order, padding)
    b = load_training_data_budgeted([path], memory, reading, order, padding, tmp_path)
    counted = b.counts["train"].in_memory()     # the levels were written to disk
    for k in range(1, order + 1):
        for field in ("keys", "suffix", "count"):
            x = getattr(a.counts["train"].level(k), field)
            y = getattr(counted.level(k), field)
            assert x.dtype == y.dtype and np.array_equal(x, y), (k, field)
    del b, counted
    gc.collect()
    # Several chunks a level, and repeats combined within each: far fewer distinct than records.
    assert len(combined) >= 2 * (order - 1)
    assert sum(d for _, d in combined) * 4 < sum(n for n, _ in combined)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("bigram-build-")]

