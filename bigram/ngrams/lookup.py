"""Finding many windows at once in a level of the index: key -> row, for a whole block.

A level's rows are sorted by key `parent * V + token` (ngrams.py). Scoring text
asks each level for the rows of millions of keys, most of them in no particular
order, and numpy's binary search is slow on those (every probe a cache miss).
Two ways, picked per level (dense tables for short vocabularies live in
query.py):

* a hash table with open addressing, built from the sorted keys with one sort:
  about one gather per key. Built while the model is read for level 2 (which
  every token asks about), on demand for the others once a level has been
  asked about as many keys as it has rows:
  building costs about as much as that many searches, so at worst a level
  costs twice its searches, and a level asked about a lot costs far less;
* otherwise the keys asked are sorted first, and a binary search for ascending
  keys walks the same path as its neighbour's and stays in cache.

The hash table packs each key with its row into one int64 slot, so a probe is
one memory access, and places keys in order of their home slot (a cumulative
maximum does the linear probing for all keys at once): a search can stop at
the first slot whose key has a later home. Levels whose keys and rows do not
fit in 63 bits together (or of 2**31 rows or more) keep the sorted search.
"""

import threading

import numpy as np

from bigram.arrays import sort_with_positions

# Keys per run of the sampled search (sorted_search).
SAMPLE = 8
# Fibonacci hashing: the key times 2**64 / golden ratio, top bits.
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


class LevelFinder:
    """Rows of keys in one level's sorted keys (int64 queries, all >= 0; -1 where absent).

    `table`: a HashTable of the keys made beforehand; without one, a table is built once
    the level has been asked about as many keys as it has rows, if the keys can have one.
    """

    def __init__(self, keys, span, table=None):
        self.keys = keys
        self.asked = 0
        self._hash = table
        self._samples = None
        self._building = False
        self._lock = threading.Lock()
        self.hashable = HashTable.fits(len(keys), span)

    def find(self, queries):
        """int64 rows of `queries` (int64 keys below the span); -1 where absent."""
        table = self._hash
        if table is None and self.hashable:
            # Scoring threads share the finder: one of them builds the table while the
            # others go on searching.
            with self._lock:
                self.asked += len(queries)
                build = not self._building and self.asked > len(self.keys)
                self._building |= build
            if build:
                table = self._hash = HashTable.build(self.keys)
        if table is not None:
            return table.find(queries)
        if self._samples is None:
            self._samples = np.ascontiguousarray(self.keys[::SAMPLE])
        return sorted_search(self.keys, queries, self._samples)


class HashTable:
    """Open addressing, one int64 (key << row bits | row) per slot, 3 slots per 2 keys.

    A key's home slot is its Fibonacci hash scaled to the number of home slots
    (the top 32 bits of the product times the slot count, over 2**32: no power of
    two needed); the keys are placed in order of home slot, each in its home or
    the slot after the previous key's, so a search can stop at the first slot
    whose key has a later home.
    """

    def __init__(self, slots, n):
        self.slots = slots
        self.row_bits = _row_bits(n)
        self.row_mask = (1 << self.row_bits) - 1
        self.homes = np.uint64(_homes(n))

    @staticmethod
    def fits(n, span):
        """Whether n keys below `span` can have a table: key and row in 63 bits, and
        fewer than 2**31 keys (home slots are scaled in 32 bits)."""
        return 0 < n < 1 << 31 and max(int(span) - 1, 1).bit_length() + _row_bits(n) <= 63

    @classmethod
    def build(cls, keys):
        """The table of sorted, distinct keys."""
        n = len(keys)
        table = cls(None, n)
        packed = table.home(keys)
        packed <<= table.row_bits
        packed |= np.arange(n, dtype=np.int64)
        packed.sort()                                   # by home slot, then row
        rows = packed & table.row_mask
        packed >>= table.row_bits                       # the home slots, ascending
        # Linear probing in home order: each key takes its home or the slot after the
        # previous key's, whichever is later.
        step = np.arange(n, dtype=np.int64)
        packed -= step
        np.maximum.accumulate(packed, out=packed)
        packed += step
        # Every home slot is in the table, and an empty slot follows the last key.
        table.slots = np.full(max(int(packed[-1]) + 2, _homes(n) + 1), -1, dtype=np.int64)
        values = keys[rows]
        values <<= table.row_bits
        values |= rows
        table.slots[packed] = values
        return table

    def home(self, keys):
        hashed = keys.view(np.uint64) * _MULTIPLIER
        hashed >>= np.uint64(32)
        hashed *= self.homes
        hashed >>= np.uint64(32)
        return hashed.view(np.int64)

    def find(self, queries):
        """Rows of `queries`; -1 where absent."""
        home = self.home(queries)
        slot = self.slots[home]
        out = slot >> self.row_bits
        found = out == queries
        np.bitwise_and(slot, self.row_mask, out=out)
        out[~found] = -1
        # Go on where the slot holds another key whose home is not later than ours.
        at = np.flatnonzero(~found & (slot >= 0))
        if len(at):
            at = at[self.home(slot[at] >> self.row_bits) <= home[at]]
        probe = home[at] + 1
        while len(at):
            slot = self.slots[probe]
            key = slot >> self.row_bits
            hit = key == queries[at]
            out[at[hit]] = slot[hit] & self.row_mask
            going = ~hit & (slot >= 0)
            going &= self.home(key) <= home[at]
            at, probe = at[going], probe[going] + 1
        return out


def _row_bits(n):
    return max(n - 1, 1).bit_length()


def _homes(n):
    return max(n + n // 2, 1)


def sorted_search(keys, queries, samples=None):
    """Rows of `queries` (int64, >= 0) in sorted `keys`; -1 where absent.

    The queries are sorted first: a binary search for ascending keys walks the
    same path as its neighbour's and stays in cache, ten times faster than in
    the text's order. With `samples` (every SAMPLE-th key), each query first finds its run of
    SAMPLE keys among the samples (an array SAMPLE times smaller), then its key in
    the run, all queries a step at a time.
    """
    out = np.full(len(queries), -1, dtype=np.int64)
    if not len(queries) or not len(keys):
        return out
    ordered, order = sort_with_positions(queries)
    if samples is None:
        rows = np.minimum(np.searchsorted(keys, ordered), len(keys) - 1)
    else:
        rows = sampled_rows(keys, samples, ordered)
    hit = keys[rows] == ordered
    out[order[hit]] = rows[hit]
    return out


def sampled_rows(keys, samples, ordered, sample=SAMPLE):
    """The row of the last key of sorted `keys` not above each of the ascending `ordered`
    (row 0 when none is), found through `samples` (keys[::sample], an array small enough
    to stay in cache): the query's run of `sample` keys among the samples, then halving
    steps within the run, every query a step at a time."""
    rows = np.searchsorted(samples, ordered, side="right")
    rows -= 1
    np.maximum(rows, 0, out=rows)
    rows *= sample
    step = sample // 2
    while step:
        probe = rows + step
        np.minimum(probe, len(keys) - 1, out=probe)
        rows = np.where(keys[probe] <= ordered, probe, rows)
        step //= 2
    return rows
