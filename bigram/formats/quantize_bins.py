"""The bins of `convert --quantize` (KenLM's -q/-b), cut from a level of any size.

A level's values are sorted and cut into 2**bits groups of equal counts; each bin's
centre is the mean of its group; -inf (a probability of zero) keeps a bin of its own;
NaN and +inf are left out. Where the values have no more distinct finite values than
bins, the centres are those values.

Nothing here holds a level whole. The centres need only the sums of the E smallest
values at the bin edges E, and those follow from the level's distinct values and their
counts read in ascending order: negative and positive values apart, each by magnitude
(their float64 bits with the sign cleared are non-negative int64 keys that sort as the
magnitudes do), so the sum of the E smallest values is S- - H(N- - E) below the
negatives' count N- (H: the sum of the m negatives of smallest magnitude, S- all of
them) and S- + P(E - N-) above it (P: the sum of the smallest positives). A level of at
most IN_MEMORY values is combined in memory; a larger one goes through an external
sorter's runs on the temporary disk (external_sort.WindowSorter), read back a slice at
a time. Both give the same distinct values in the same order and add them up in the
same sequence (one running cumulative sum), so the bins are the same bits either way.
"""

import numpy as np

from bigram.arrays import distinct
from bigram.ngrams.external_sort import RECORD_BYTES, WindowSorter, combine

SLICE = 1 << 20
# Levels up to this many values are combined in memory (their 8-byte keys, then a sort
# and its copies: about 150 MB at most); larger ones are sorted on disk within
# SORTER_MEMORY.
IN_MEMORY = 1 << 22
SORTER_MEMORY = 128 << 20


def bins(values, bits, temp_dir=None):
    """2**bits bin centres, ascending float64, for `values`: an array or any sequence read
    by slices (a memmap, column_levels.Sliced)."""
    count = 1 << bits
    infinite = False
    sides = [_Side(len(values), temp_dir, f"bins-{name}") for name in ("negative", "positive")]
    try:
        for start in range(0, len(values), SLICE):
            chunk = np.asarray(values[start:start + SLICE], dtype=np.float64)
            infinite |= bool((chunk == -np.inf).any())
            finite = chunk[np.isfinite(chunk)] + 0.0   # -0.0 is 0.0, as in a sort
            below = finite < 0
            sides[0].add(-finite[below])
            sides[1].add(finite[~below])
        centres = _centres(*sides, count - infinite)
    finally:
        for side in sides:
            side.close()
    centres = np.concatenate([[-np.inf] if infinite else [], centres])
    if not len(centres):
        centres = np.zeros(1)
    out = np.full(count, centres[-1])
    out[:len(centres)] = centres
    return out


def codes_of(values, centres):
    """The code of the nearest bin centre for each value."""
    middles = (centres[1:] + centres[:-1]) / 2
    with np.errstate(invalid="ignore"):
        return np.searchsorted(middles, values, side="left")


class _Side:
    """The magnitudes of one sign's values (non-negative float64), combined into distinct
    values and counts, read back ascending by `slices()`."""

    def __init__(self, level_values, temp_dir, name):
        self.on_disk = level_values > IN_MEMORY
        # At most every value distinct, a sorter record each: what a full disk's
        # message quotes as needed.
        self.needed = level_values * RECORD_BYTES
        self.temp_dir, self.name = temp_dir, name
        self.space = self.sorter = None
        self.parts = []
        self.total = 0          # values seen

    def add(self, magnitudes):
        if not len(magnitudes):
            return
        self.total += len(magnitudes)
        keys = magnitudes.view(np.int64)
        if not self.on_disk:
            self.parts.append(keys)
            return
        if self.sorter is None:
            from bigram.ngrams.spill import TempSpace

            self.space = TempSpace(self.temp_dir, self.needed)
            self.sorter = WindowSorter(self.space, SORTER_MEMORY, name=self.name)
        self.sorter.add(*_records(keys))

    def slices(self):
        """(distinct magnitudes ascending, their counts), slice by slice."""
        if self.sorter is not None:
            for keys, _, counts in self.sorter.sorted_slices():
                yield keys.view(np.float64), counts
        elif self.parts:
            keys = np.concatenate(self.parts)
            self.parts = []
            keys, _, counts = combine(*_records(keys))
            yield keys.view(np.float64), counts

    def close(self):
        if self.space is not None:
            self.space.close()


def _records(keys):
    """Each key as a record of the sorter (no suffix, a count of one)."""
    return keys, np.zeros(len(keys), dtype=np.int32), np.ones(len(keys), dtype=np.int64)


def _centres(negative, positive, slots):
    """The centres of the finite values of both sides (see the module's docstring)."""
    n_neg, n = negative.total, negative.total + positive.total
    edges = distinct(np.linspace(0, n, slots + 1).astype(np.int64)[:-1])
    edges = np.append(edges, n) if n else np.zeros(0, dtype=np.int64)
    low = edges <= n_neg
    # H at N- - E for the edges among the negatives (ascending in m); P above them.
    h_ranks = (n_neg - edges[low])[::-1]
    h, s_neg, few_neg = _prefix_sums(negative.slices(), h_ranks, slots)
    p, _, few_pos = _prefix_sums(positive.slices(), edges[~low] - n_neg, slots)
    if few_neg is not None and few_pos is not None and len(few_neg) + len(few_pos) <= slots:
        return np.concatenate([-few_neg[::-1], few_pos])   # no more values than bins
    sums = np.concatenate([-s_neg + h[::-1], -s_neg + p])  # the sums of the E smallest
    return np.diff(sums) / np.diff(edges)


def _prefix_sums(slices, ranks, slots):
    """The sums of the first r magnitudes of a stream of (distinct magnitudes ascending,
    counts), for each r of `ranks` (ascending); the sum of all; and the distinct
    magnitudes themselves if there are at most slots of them (else None)."""
    out = np.zeros(len(ranks))
    done_count, done_sum, asked = 0, 0.0, 0
    few = []
    distinct = 0
    for magnitudes, counts in slices:
        distinct += len(magnitudes)
        if distinct <= slots:
            few.append(magnitudes)
        ends = done_count + np.cumsum(counts)
        sums = np.cumsum(np.concatenate([[done_sum], magnitudes * counts]))[1:]
        # The ranks that end in this slice: the value holding rank r, less its copies past r.
        stop = int(np.searchsorted(ranks, ends[-1], side="right"))
        here = ranks[asked:stop]
        at = np.searchsorted(ends, here, side="left")
        out[asked:stop] = sums[at] - (ends[at] - here) * magnitudes[at]
        asked = stop
        done_count, done_sum = int(ends[-1]), float(sums[-1])
    out[asked:] = done_sum   # ranks of 0 (or of every value) past the last slice
    return out, done_sum, (np.concatenate(few) if few else np.zeros(0)) \
        if distinct <= slots else None
