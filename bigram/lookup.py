"""Finding many windows at once in a level of the index: key -> row, for a whole block.

A level's rows are sorted by key `parent * V + token` (ngrams.py). Scoring text
asks each level for the rows of millions of keys, most of them in no particular
order, and numpy's binary search is slow on those (every probe a cache miss).
Two ways, picked per level (dense tables for short vocabularies live in
query.py):

* a hash table with open addressing, built from the sorted keys with one sort
  once a level has been asked about more keys than a quarter of its rows
  (building it costs about what half as many searches do, and each later key
  costs a third of a search): about one gather per key;
* otherwise the keys asked are sorted first, and a binary search for ascending
  keys walks the same path as its neighbour's and stays in cache.

The hash table packs each key with its row into one int64 slot, so a probe is
one memory access, and places keys in order of their home slot (a cumulative
maximum does the linear probing for all keys at once): a search can stop at
the first slot whose key has a later home. Levels whose keys and rows do not
fit in 63 bits together (or of 2**31 rows or more) keep the sorted search.
"""

import numpy as np

# Fibonacci hashing: the key times 2**64 / golden ratio, top bits.
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


class LevelFinder:
    """Rows of keys in one level's sorted keys (int64 queries, all >= 0; -1 where absent)."""

    def __init__(self, keys, span):
        self.keys = keys
        self.span = int(span)              # keys are below this (rows below x V)
        self.asked = 0
        self._hash = None
        key_bits = max(self.span - 1, 1).bit_length()
        self._row_bits = max(len(keys) - 1, 1).bit_length()
        self.hashable = key_bits + self._row_bits <= 63 and 0 < len(keys) < 1 << 31

    def find(self, queries):
        """int32 rows of `queries` (int64 keys in [0, span)); -1 where absent."""
        self.asked += len(queries)
        if self._hash is None and self.hashable and self.asked > len(self.keys) // 4:
            self._hash = _HashTable(self.keys, self._row_bits)
        if self._hash is not None:
            return self._hash.find(queries)
        return sorted_search(self.keys, queries)


class _HashTable:
    """Open addressing, one int64 (key, row) per slot, three slots for every two keys.

    A key's home slot is its Fibonacci hash scaled to the number of home slots
    (the top 32 bits of the product times the slot count, over 2**32: no power of
    two needed); the keys are placed in order of home slot, each in its home or
    the slot after the previous key's, so a search can stop at the first slot
    whose key has a later home.
    """

    def __init__(self, keys, row_bits):
        n = len(keys)
        self.row_bits = row_bits
        self.row_mask = (1 << row_bits) - 1
        self.homes = np.uint64(max(n + n // 2, 1))
        home = self.home(keys)
        packed = home << row_bits
        packed |= np.arange(n, dtype=np.int64)
        packed.sort()                                   # by home slot, then row
        rows = packed & self.row_mask
        packed >>= row_bits                             # the home slots, ascending
        # Linear probing in home order: each key takes its home or the slot after the
        # previous key's, whichever is later.
        step = np.arange(n, dtype=np.int64)
        packed -= step
        np.maximum.accumulate(packed, out=packed)
        packed += step
        # Every home slot is in the table, and an empty slot follows the last key.
        self.table = np.full(max(int(packed[-1]) + 2, int(self.homes) + 1), -1,
                             dtype=np.int64)
        values = keys[rows]
        values <<= row_bits
        values |= rows
        self.table[packed] = values

    def home(self, keys):
        hashed = keys.view(np.uint64) * _MULTIPLIER
        hashed >>= np.uint64(32)
        hashed *= self.homes
        hashed >>= np.uint64(32)
        return hashed.view(np.int64)

    def find(self, queries):
        home = self.home(queries)
        slot = self.table[home]
        out = np.where((slot >> self.row_bits) == queries, slot & self.row_mask, -1)
        # Go on where the slot holds another key whose home is not later than ours.
        at = np.flatnonzero((out < 0) & (slot >= 0))
        if len(at):
            at = at[self.home(slot[at] >> self.row_bits) <= home[at]]
        probe = home[at] + 1
        while len(at):
            slot = self.table[probe]
            key = slot >> self.row_bits
            hit = key == queries[at]
            out[at[hit]] = slot[hit] & self.row_mask
            going = ~hit & (slot >= 0)
            going &= self.home(key) <= home[at]
            at, probe = at[going], probe[going] + 1
        return out.astype(np.int32)


def sorted_search(keys, queries):
    """Rows of `queries` (int64, >= 0) in sorted `keys`; -1 where absent.

    The queries are sorted first: a binary search for ascending keys walks the
    same path as its neighbour's and stays in cache, ten times faster than in
    the text's order. The position rides in the low bits, so one sort does it.
    """
    out = np.full(len(queries), -1, dtype=np.int32)
    if not len(queries) or not len(keys):
        return out
    bits = len(queries).bit_length()
    if int(queries.max()) < 1 << (62 - bits):
        packed = queries << bits
        packed |= np.arange(len(queries))
        packed.sort()
        order = packed & ((1 << bits) - 1)
        packed >>= bits
        ordered = packed
    else:
        order = np.argsort(queries, kind="stable")
        ordered = queries[order]
    rows = np.minimum(np.searchsorted(keys, ordered), len(keys) - 1)
    hit = keys[rows] == ordered
    out[order[hit]] = rows[hit]
    return out
