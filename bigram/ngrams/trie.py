"""Query tables held as a trie of bit-packed arrays (a query file, mapped), not as keys.

Level k's windows are sorted by (parent row, last token), as the index's keys
are, so the children of a level k-1 window are one contiguous range of level k:
instead of a 64-bit key per window, level k stores each window's last token in
ceil(log2 V) bits, and level k-1 stores, per window, where its children begin
in level k (offsets, rows + 1 of them, in as few bits as level k's length
needs). Window (p, t) is found by an interpolation search for t among the
tokens of p's range (search_ranges), for a whole block of windows at once: every
step is one gather per window still searching. A level asked about more windows
than it has (a small model scoring a large text) gets lookup.py's hash table,
built once from its keys, as the model file's tables do.

Values are adj and B (query.py) as float32, or as codes of `bits` bits into a
level's table of bin centres (quantized). Every array may be a numpy.memmap:
nothing here reads more of it than the rows asked about, and no offset read
from the file is trusted: ranges are clipped to the level before any search,
so a damaged file gives wrong numbers, never a read out of bounds.
"""

import threading

import numpy as np

from bigram.ngrams.bitpack import unpack, unpack_range
from bigram.ngrams.lookup import HashTable
from bigram.ngrams.query import QueryTables

# A level gets a hash table once it has been asked about this many times as many windows
# as it holds (building one costs about as much as that many searches).
HASH_AFTER = 1.0
# Levels of at most this many windows (read whole: a few megabytes of the file) may get
# query.py's dense tables, where those fit; larger levels are searched where they lie.
DENSE_ROWS = 1 << 18

class PackedArray:
    """n values of `bits` bits in packed uint64 words (bitpack.py)."""

    def __init__(self, words, bits, n):
        self.words, self.bits, self.n = words, int(bits), int(n)
        # Values of 8, 16 or 32 bits are plain little-endian integers side by side: one
        # gather reads them.
        self.plain = words.view(f"<u{self.bits // 8}") if self.bits in (8, 16, 32) else None
        # Others, up to 57 bits, lie inside the eight bytes from the byte holding their first
        # bit: one unaligned read each (the spare word at the end covers the last value).
        self.windows = None
        if self.plain is None and self.bits <= 57 and len(words) >= 2:
            self.windows = np.ndarray((8 * len(words) - 7,), dtype="<u8", buffer=words,
                                      strides=(1,))

    def __len__(self):
        return self.n

    def __getitem__(self, positions):
        if self.plain is not None:
            return self.plain[positions].astype(np.int64)
        if self.windows is not None:
            bit = np.asarray(positions, dtype=np.int64) * self.bits
            values = self.windows[bit >> 3]
            values >>= (bit & 7).view(np.uint64)
            values &= np.uint64((1 << self.bits) - 1)
            return values.view(np.int64)
        return unpack(self.words, self.bits, positions)

    def pairs(self, positions):
        """(values at positions, values at positions + 1), int64: a node's child range is two
        neighbouring offsets. Where both lie in the eight bytes from the first's byte (up
        to 28 bits each), one read gets both: half the reads and no concatenation."""
        positions = np.asarray(positions, dtype=np.int64)
        if self.windows is None or 2 * self.bits > 57:
            ends = self[np.concatenate([positions, positions + 1])]
            return ends[:len(positions)], ends[len(positions):]
        bit = positions * self.bits
        values = self.windows[bit >> 3]
        values >>= (bit & 7).view(np.uint64)
        mask = np.uint64((1 << self.bits) - 1)
        second = values >> np.uint64(self.bits)
        second &= mask
        values &= mask
        return values.view(np.int64), second.view(np.int64)

    def all(self):
        """Every value, int64."""
        return unpack_range(self.words, self.bits, 0, self.n)


class LevelValues:
    """A level's ln P or B: float32 values; float32 values of known sign, all <= 0, in 31
    bits (the sign bit left out, as KenLM stores probabilities: exact); or packed codes
    into bin centres (quantized)."""

    def __init__(self, floats=None, codes=None, centres=None, negative=False):
        self.floats, self.codes, self.centres = floats, codes, centres
        self.negative = negative

    def __len__(self):
        return len(self.floats) if self.floats is not None else len(self.codes)

    def __getitem__(self, rows):
        if self.floats is not None:
            return self.floats[rows].astype(np.float64)
        if self.negative:
            return _with_sign(self.codes[rows])
        return self.centres[self.codes[rows]]

    def all(self):
        """Every value, float64."""
        if self.floats is not None:
            return np.asarray(self.floats, dtype=np.float64)
        if self.negative:
            return _with_sign(self.codes.all())
        return self.centres[self.codes.all()]


SIGN = 1 << 31


def _with_sign(low_bits):
    """float64 of float32 values <= 0 stored without their sign bit."""
    return (low_bits | SIGN).astype(np.uint32).view(np.float32).astype(np.float64)


class TrieTables(QueryTables):
    """QueryTables over a trie: per level, packed tokens (k >= 2), packed child offsets
    (k < order) and LevelValues of ln P (or adj) and B. Where ln P is stored, a window's
    adj is its ln P less B of its context (its parent): made where it is read, from
    the parent's B the scorer has already read."""

    def __init__(self, order, size, padding, rows, tokens, offsets, logprob, below,
                 stored="prob"):
        self._tokens, self._offsets = tokens, offsets   # [k]: PackedArray (None where none)
        # [k]: LevelValues; levels 2 and up hold adj itself where `stored` is "adj"
        # (quantized files).
        self._prob_values, self._below_values = logprob, below
        self._stored = stored
        self._keys, self._tables, self._asked = {}, {}, {}
        self._trie_lock = threading.Lock()
        # Level 1's adj is its ln P (no context).
        super().__init__(order, size, padding, [None, None] + [_Rows(n) for n in rows[2:]],
                         [None, logprob[1].floats] + [None] * (order - 1), [None] * order)

    # Called before each batch of queries (query_file sets it): refuses to read a file
    # that has shrunk since it was mapped, where reading its pages would stop the
    # process with SIGBUS.
    guard = staticmethod(lambda: None)

    def _dense_fits(self, k):
        return self.rows[k] <= DENSE_ROWS and super()._dense_fits(k)

    def score(self, text):
        self.guard()
        return super().score(text)

    def score_index(self, text):
        self.guard()
        return super().score_index(text)

    def values(self, what, k, rows):
        if what == "adj" and k > 1 and self._stored == "prob":
            raise ValueError("a trie's adj needs its parents' B: window_adj")
        return (self._prob_values if what == "adj" else self._below_values)[k][rows]

    def window_adj(self, k, rows, parent_below):
        if k == 1 or self._stored == "adj":
            return self._prob_values[k][rows]
        return self._prob_values[k][rows] - parent_below

    def window_logprob(self, k, rows, parent_below):
        """ln P of level k's `rows` (k >= 2) whose parents' B is `parent_below`, float64: the
        values level_logprob gives them."""
        if self._stored == "prob":
            return self._prob_values[k][rows]
        return self._prob_values[k][rows] + parent_below

    def child_ranges(self, k, rows):
        """(low, high): where the children of level k's `rows` lie in level k + 1, clipped to
        it (a damaged file's offsets give wrong ranges, never ones outside the level)."""
        self.guard()
        low, high = self._offsets[k].pairs(rows)
        np.clip(low, 0, self.rows[k + 1], out=low)
        np.clip(high, 0, self.rows[k + 1], out=high)
        return low, np.maximum(high, low)

    def level_tokens(self, k, rows):
        """The last tokens of level k's `rows` (k >= 2), below V."""
        return np.minimum(self._tokens[k][rows], self.size - 1)

    def level_logprob(self, k):
        self.guard()
        if k == 1 or self._stored == "prob":
            return self._prob_values[k].all()
        return self._prob_values[k].all() + self._below_values[k - 1].all()[
            self.level_keys(k) // self.size]

    def level_values(self, what, k):
        self.guard()
        if what == "below":
            return self._below_values[k].all()
        if k == 1 or self._stored == "adj":
            return self._prob_values[k].all()
        return self._prob_values[k].all() - self._below_values[k - 1].all()[
            self.level_keys(k) // self.size]

    def level_parents_tokens(self, k):
        """(parent rows, tokens) of level k's windows; only which parents have children
        is used, so the parents are the rows whose child range is not empty."""
        self.guard()
        starts = self._offsets[k - 1].all()
        return (np.flatnonzero(starts[1:] > starts[:-1]),
                np.minimum(self._tokens[k].all(), self.size - 1))

    def level_keys(self, k):
        """Level k's keys, made from the trie (a pass over the level) and kept."""
        self.guard()
        with self._trie_lock:
            if k not in self._keys:
                starts = self._offsets[k - 1].all()
                n = self.rows[k]
                np.clip(starts, 0, n, out=starts)
                np.maximum.accumulate(starts, out=starts)
                parents = np.repeat(np.arange(self.rows[k - 1], dtype=np.int64),
                                    np.diff(starts))
                keys = np.zeros(n, dtype=np.int64)
                keys[:len(parents)] = parents
                keys *= self.size
                keys += np.minimum(self._tokens[k].all(), self.size - 1)
                self._keys[k] = keys
        return self._keys[k]

    def find(self, k, parents, tokens):
        """Rows at level k of the windows (level k-1 row, token); -1 where absent."""
        parents = np.asarray(parents, dtype=np.int64)
        tokens = np.asarray(tokens, dtype=np.int64)
        table = self._table(k, len(parents))
        if table is not None:
            queries = parents * self.size
            queries += tokens
            return table.find(queries)
        n = self.rows[k]
        low, high = self._offsets[k - 1].pairs(parents)
        np.clip(low, 0, n, out=low)
        np.clip(high, 0, n, out=high)
        rows = np.full(len(parents), -1, dtype=np.int64)
        at = np.flatnonzero(low < high)
        if len(at):
            found, where = search_ranges(self._tokens[k], low[at], high[at], tokens[at],
                                         self.size)
            rows[at[where]] = found
        return rows

    def _table(self, k, asked):
        """Level k's hash table, once it has been asked about HASH_AFTER times its windows."""
        with self._trie_lock:
            if k in self._tables:
                return self._tables[k]
            self._asked[k] = self._asked.get(k, 0) + asked
            if self._asked[k] <= HASH_AFTER * self.rows[k] or not HashTable.fits(self.rows[k],
                                                                    self.span(k)):
                return None
        table = HashTable.build(self.level_keys(k))
        with self._trie_lock:
            self._tables[k] = table
        return table


# Interpolation steps before a search goes on by halving (ranges far from uniform). Each
# step reads strictly inside the range left, so interpolation always ends; halving
# bounds the worst case. On Zipf text, twelve steps left ~16% fewer reads than four
# (children of a frequent word are nearly uniform; of a rare one, few).
INTERPOLATION_STEPS = 12


def search_ranges(words, low, high, wanted, top):
    """(rows, which): for each query i, the row of wanted[i] among the ascending, distinct
    values words[low[i]:high[i]] (every range non-empty and inside `words`, every value
    and every wanted[i] in [0, top)), for the queries `which` that find theirs.

    Children's tokens are distinct and spread over the vocabulary much as uniformly as
    their ids are, so the search interpolates, as KenLM's trie does: each step reads
    one value per query still searching, at the place where the wanted token would lie
    were the range's values evenly spaced between its two known ends; a few steps
    settle nearly every query, and the rest go on by halving. The ends start as
    stand-ins, -1 before the range and `top` after it (no reads), and the invariant,
    for the queries left, is values[lo] < wanted < values[hi], the search strictly
    between; a read always falls strictly between, so inside the range.
    """
    n = len(low)
    lo, hi = low - 1, high.copy()
    wanted = np.asarray(wanted)
    want = wanted.astype(np.float64)
    first = last = None   # the ends' values: the stand-ins -1 and top until a read
    at = np.arange(n)
    found = np.full(n, -1, dtype=np.int64)
    step = 0
    # The arrays are long and the steps short: the updates are np.where (a masked copyto
    # was 3-4x slower here), a query's row is written where it is found (no list of hits
    # per step), and the queries left are gathered only when some are done.
    while len(at):
        if step < INTERPOLATION_STEPS:
            if first is None:   # every end a stand-in: fewer passes on the widest step
                guess = want + 1.0
                guess /= float(top) + 1.0
            else:
                guess = want - first
                guess /= last - first
            guess *= (hi - lo).astype(np.float64)
            middle = guess.astype(np.int64)
            middle += lo
            np.maximum(middle, lo + 1, out=middle)
            np.minimum(middle, hi - 1, out=middle)
        else:
            middle = lo + hi
            middle >>= 1
        step += 1
        value = words[middle]
        right = value < wanted
        hit = value == wanted
        lo = np.where(right, middle, lo)
        hi = np.where(right, hi, middle)
        if step < INTERPOLATION_STEPS:   # the next guess needs the ends' values
            value = value.astype(np.float64)
            first = np.where(right, value, -1.0 if first is None else first)
            last = np.where(right, float(top) if last is None else last, value)
        hits = np.flatnonzero(hit)
        if len(hits):
            found[at[hits]] = middle[hits]
        going = hi - lo > 1
        going &= ~hit
        keep = np.flatnonzero(going)
        if len(keep) < len(at):
            at, lo, hi, wanted, want = at[keep], lo[keep], hi[keep], wanted[keep], want[keep]
            if step < INTERPOLATION_STEPS:
                first, last = first[keep], last[keep]
    which = np.flatnonzero(found >= 0)
    return found[which], which


class _Rows:
    """Stands for a level's keys where only their number is asked (QueryTables.rows)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n
