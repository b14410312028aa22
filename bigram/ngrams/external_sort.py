"""Sorting and combining windows that do not fit in memory: sorted runs on disk, merged.

A record is one window of a level: its trie key (int64, >= 0), its suffix row (the
same for every record of a key) and a count. Records arrive in blocks; each block's
repeats are combined at once (by hashing in a `BlockCombiner`, then sorting what is
distinct; or by one sort of the block with `add`), and blocks wait in memory until
they fill the sorter's share of the budget. Then they are combined into one run and
written to the temporary folder. At the end the runs are merged block by block: from
every run take what is at most the smallest of the runs' current last keys, combine
that slice, hand it on. When there are more runs than one merge may open (each open run
holds one frame in memory), groups of runs are first merged into longer runs, in as
many passes as that takes.
"""

import numpy as np

from bigram.ngrams.spill import FrameWriter, read_frames

RECORD_BYTES = 8 + 4 + 8     # key, suffix, count
WORK_FACTOR = 3              # a sort and a combine hold about three copies of a buffer


def sort_keys(keys):
    """(keys sorted, where each came from), equal keys in their order.

    numpy's stable sort (timsort here) beats its default quicksort on these keys, twice
    over on a chunk's windows and five times on slices of sorted runs laid end to end,
    which it merges as the runs they are. Where key and position fit in 63 bits the
    position rides in the low bits, so the sort moves one array, not an argsort's two.
    """
    n = len(keys)
    bits = max(n - 1, 1).bit_length()
    if int(keys.max()) >= 1 << (63 - bits):
        order = np.argsort(keys, kind="stable")
        return keys[order], order
    packed = keys << bits
    packed |= np.arange(n, dtype=np.int64)
    packed.sort(kind="stable")
    order = packed & ((1 << bits) - 1)
    packed >>= bits
    return packed, order


def combine(keys, suffix, count):
    """Records sorted by key, the counts of equal keys added (suffix of the first)."""
    if not len(keys):
        return (np.asarray(keys, dtype=np.int64), np.asarray(suffix, dtype=np.int32),
                np.asarray(count, dtype=np.int64))
    keys, order = sort_keys(np.asarray(keys, dtype=np.int64))
    new = np.empty(len(keys), dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    count = np.add.reduceat(np.asarray(count, dtype=np.int64)[order], starts)
    return keys[starts], np.asarray(suffix, dtype=np.int32)[order[starts]], count


def _sorted_distinct(keys):
    """The sorted distinct keys, and each key's index in them, by one sort."""
    ordered, order = sort_keys(keys)
    new = np.empty(len(ordered), dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    rank = np.cumsum(new)
    rank -= 1
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = rank
    return ordered[new], inverse


# A block of records is combined by one sort instead of by hashing when the block before
# had more distinct keys than this share of its records (generated text, high orders).
SORT_ABOVE = 0.6
# The direct round of a combiner (BlockCombiner._direct_distinct) is given up for a level
# once it places fewer than this share of a block's records (real text, level 2: a fifth).
DIRECT_ABOVE = 0.5
# Slots of the combiner's first table (8 MiB), before it knows what a block holds.
FIRST_TABLE = 1 << 20
# Fibonacci hashing for the combiner's home slots (as lookup.HashTable's).
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def _pair_keys(parent, token, size):
    """Keys `parent * size + token` (int64) of (parent, token) pairs."""
    keys = parent.astype(np.int64)
    keys *= size
    keys += token
    return keys


class BlockCombiner:
    """Combines the repeats of a block of records by hashing, before anything is sorted.

    On text whose windows repeat (real text: a chunk of two million windows holds a
    tenth to a fifth as many distinct ones), sorting every window is most of a level's
    work. Here each record finds its key's slot in an open-addressing table (linear
    probing, all records a step at a time: a slot, once it holds a key, keeps it, so
    equal keys walk in step and end in one slot), and only the distinct keys are
    sorted. The table is kept between blocks (cleared slot by slot) and sized from the
    distinct keys of the block before (a quarter full or less), so on repeated text it
    stays small enough for the cache; a block with more distinct keys than that is
    done again in a table four times larger (at most twice its records, half full).
    Keys given with their (parent, token) pairs, parents dense, first go through a
    direct round by parent (`_direct_distinct`), which leaves the table only the rest.
    """

    # Probing steps after which the table is taken as too full for the block.
    MAX_STEPS = 48

    def __init__(self, shared_with=None):
        # The table's storage: one list shared by combiners that take turns (one per level
        # of a chunk), so that they hold one table (the largest any of them needs), not one
        # each; a combiner uses the first 2**bits slots of it.
        self._storage = shared_with._storage if shared_with is not None else [
            np.zeros(0, dtype=np.int64)]
        self.expected = None      # distinct keys of the block before
        self.direct_share = None  # how many records the direct round placed, the block before

    @property
    def table(self):
        return self._storage[0]

    def combine(self, keys, suffix, count, pairs=None):
        """(keys, suffix, count) as `combine` makes them, and each record's index in them
        (an int array); `count` may be bool (a record counted or not). `pairs` (parent,
        token, size: int arrays and an int) say that keys[i] = parent[i] * size + token[i]
        with parents dense (a chunk's local ids, or tokens), which allows a direct round
        first (`_direct_distinct`); with pairs, `keys` may be None (made only when and
        where the records need them: a chunk's records hold no int64 key each)."""
        records = len(keys) if keys is not None else len(pairs[0])
        if not records:
            empty = combine(np.zeros(0, np.int64), suffix, np.zeros(0, np.int64))
            return (*empty, np.zeros(0, dtype=np.int64))
        direct = pairs is not None and (self.direct_share is None
                                        or self.direct_share >= DIRECT_ABOVE)
        if keys is None and not direct:
            keys = _pair_keys(*pairs)
        if keys is not None:
            keys = np.asarray(keys, dtype=np.int64)
        if direct:
            distinct, inverse = self._direct_distinct(keys, *pairs)
        elif self.expected is not None and self.expected > SORT_ABOVE * records:
            # Few repeats (the block before was mostly distinct): one sort does it all.
            distinct, inverse = _sorted_distinct(keys)
        else:
            distinct, inverse = self._hashed_distinct(keys)
        del keys
        self.expected = len(distinct)
        count = np.asarray(count)
        if count.dtype == bool:
            # Every record, less the few not counted (a chunk's windows at an item's start):
            # no copy of the indices of those counted, the largest array here.
            counts = np.bincount(inverse, minlength=len(distinct)).astype(np.int64)
            counts -= np.bincount(inverse[~count], minlength=len(distinct))
        else:
            counts = np.zeros(len(distinct), dtype=np.int64)
            np.add.at(counts, inverse, count.astype(np.int64))
        rows = np.empty(len(distinct), dtype=np.int32)
        rows[inverse] = suffix          # the same for every record of a key
        return distinct, rows, counts, inverse

    def _direct_distinct(self, keys, parent, token, size):
        """_hashed_distinct of keys `parent * size + token` (parents dense and >= 0), most
        of them placed without hashing: one token per parent is written to an array
        indexed by parent (whichever write lands), and every record holding its parent's
        token is that pair. On text whose windows repeat most parents of the higher levels
        have one next token (real text, levels 4-5: 85-95% of the records), and almost all
        do on generated text, whose pairs then need no sort either (parents come in
        order). The other records are hashed, and the two sorted sets merged. `keys` may be
        None: the others' keys are made from their pairs. Indices are int32 (a block holds
        fewer than 2**31 records): half the memory of a chunk's largest array."""
        heads = np.full(int(parent.max()) + 1, -1, dtype=token.dtype)
        heads[parent] = token
        rest = np.flatnonzero(heads[parent] != token)
        self.direct_share = 1 - len(rest) / len(parent)
        present = np.flatnonzero(heads >= 0)
        distinct = present * size
        distinct += heads[present]               # ascending: parents in order
        by_parent = np.empty(len(heads), dtype=np.int32)   # each parent's pair's rank
        if len(rest):
            rest_keys = (keys[rest] if keys is not None
                         else _pair_keys(parent[rest], token[rest], size))
            others, placed = self._hashed_distinct(rest_keys)
            del rest_keys
            # Two sorted, disjoint sets: their merge, and where each element went.
            distinct, order = sort_keys(np.concatenate([distinct, others]))
            rank = np.empty(len(order), dtype=np.int32)
            rank[order] = np.arange(len(order), dtype=np.int32)
            by_parent[present] = rank[:len(present)]
            inverse = by_parent[parent]
            inverse[rest] = rank[len(present):][placed]
        else:
            by_parent[present] = np.arange(len(present), dtype=np.int32)
            inverse = by_parent[parent]
        return distinct, inverse

    def _hashed_distinct(self, keys):
        """The sorted distinct keys, and each key's index in them."""
        most = max(2 * len(keys) - 1, 1).bit_length()          # at most half full
        expected = FIRST_TABLE if self.expected is None else 4 * self.expected
        bits = min(most, max(expected, 1 << 12).bit_length())
        while True:   # a table too full for the block: done again in one four times larger
            slots = self._slots(keys, bits, self.MAX_STEPS if bits < most else None)
            if slots is not None:
                break
            bits = min(most, bits + 2)
        table = self.table[:1 << bits]
        occupied = np.flatnonzero(table >= 0)
        distinct, order = sort_keys(table[occupied])
        # The table now says, for every slot, the rank of its key among the distinct ones.
        table[occupied[order]] = np.arange(len(order), dtype=np.int64)
        inverse = table[slots]
        table[occupied] = -1
        return distinct, inverse

    def _slots(self, keys, bits, steps):
        """Each key's slot in a table of 2**bits slots (more than the distinct keys) that
        then holds every distinct key; None (the table cleared) when probing takes more
        than `steps` steps (None: no limit), the table being too full for the block."""
        size = 1 << bits
        if len(self.table) < size:
            self._storage[0] = np.zeros(0, dtype=np.int64)     # the old one goes first
            self._storage[0] = np.full(size, -1, dtype=np.int64)
        table = self.table[:size]                 # every slot of it is empty (-1)
        slots = keys.view(np.uint64) * _MULTIPLIER
        slots >>= np.uint64(64 - bits)
        slots = slots.view(np.int64)
        table[slots] = keys                       # the table is empty: one key wins each
        at, where, wanted = None, slots, keys     # records still looking, their slots
        step = 0
        while steps is None or step < steps:
            step += 1
            missed = np.flatnonzero(table[where] != wanted)
            if not len(missed):
                return slots
            at = missed if at is None else at[missed]
            where = where[missed] + 1
            where &= size - 1
            slots[at] = where
            wanted = keys[at]
            held = table[where]
            empty = held < 0
            # Of several records writing one empty slot, one key wins it.
            table[where[empty]] = wanted[empty]
        table.fill(-1)
        return None


class WindowSorter:
    """Sorts and combines records within `memory` bytes, spilling runs to `space`.

    `frame_records` records are read from a run at a time while merging, so a merge
    opens at most memory / (frame bytes) runs at once (at least 2).
    """

    def __init__(self, space, memory, name="windows"):
        self.space = space
        self.name = name
        self.buffer_records = max(1 << 8, int(memory) // (RECORD_BYTES * WORK_FACTOR))
        self.frame_records = max(1 << 6, min(1 << 16, self.buffer_records // 16))
        self.fan_in = max(2, self.buffer_records // (self.frame_records * 2))
        self.pending, self.pending_records = [], 0
        # Combining what waits pays when blocks repeat each other (real text): memory then
        # holds what is distinct once, not every block's copy. Tried at twice the size of
        # the last combination; given up once it stops shrinking the records by a quarter.
        self.compacted = self.buffer_records // 8
        self.repeats_pay = True
        self.runs = []
        self.merge_passes = 0

    def add(self, keys, suffix, count):
        """Records in any order, repeats allowed."""
        self.add_combined(*combine(keys, suffix, count))

    def add_combined(self, keys, suffix, count):
        """Records sorted by key with no key twice (as `combine` returns them)."""
        block = (keys, suffix, count)
        if self.pending and self.pending_records + len(keys) > self.buffer_records:
            # What waits is written first: the buffer never holds more than it was given.
            self._spill()
        self.pending.append(block)
        self.pending_records += len(block[0])
        if self.pending_records >= self.buffer_records:
            self._spill()
        elif (self.repeats_pay and len(self.pending) > 1
              and self.pending_records >= 2 * self.compacted):
            waiting = self.pending_records
            block = self._combined_pending()
            self.pending, self.pending_records = [block], len(block[0])
            self.compacted = len(block[0])
            self.repeats_pay = len(block[0]) <= 0.75 * waiting

    def _combined_pending(self):
        blocks = self.pending
        self.pending, self.pending_records = [], 0
        if len(blocks) == 1:
            return blocks[0]
        joined = [np.concatenate(parts) for parts in zip(*blocks)]
        del blocks   # the blocks go before the sort's copies are made
        return combine(*joined)

    def _spill(self):
        """Write what waits as runs: one combined run when blocks repeat each other, else
        each (already sorted) block as its own run, which saves sorting them again."""
        blocks = [self._combined_pending()] if self.repeats_pay else self.pending
        self.pending, self.pending_records = [], 0
        for keys, suffix, count in blocks:
            writer = FrameWriter(self.space, f"{self.name}-run")
            for start in range(0, len(keys), self.frame_records):
                end = start + self.frame_records
                writer.write(keys[start:end], suffix[start:end], count[start:end],
                             sorted_first=True)
            self.runs.append(writer.close())

    def finish(self):
        """Every record, sorted and combined: (keys int64, suffix int32, count int64)."""
        if not self.runs:
            return self._combined_pending()
        parts = list(self._merged())
        if not parts:
            return combine(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64))
        return tuple(np.concatenate(column) for column in zip(*parts))

    def sorted_slices(self):
        """Every record, sorted and combined, a slice at a time (keys, suffix, count): what
        waits in memory if nothing was spilled, else the merge of the runs."""
        if not self.runs:
            yield self._combined_pending()
            return
        yield from self._merged()

    def finish_columns(self):
        """Every record, sorted and combined, written to three columns of the temporary
        folder (bigram.ngrams.columns) a merged slice at a time: (keys, suffix, count)."""
        from bigram.ngrams.columns import ColumnWriter

        writers = [ColumnWriter(self.space, f"{self.name}-{what}", dtype)
                   for what, dtype in (("keys", np.int64), ("suffix", np.int32),
                                       ("count", np.int64))]
        parts = [self._combined_pending()] if not self.runs else self._merged()
        for part in parts:
            for writer, column in zip(writers, part):
                writer.append(column)
        return tuple(writer.close() for writer in writers)

    def _merged(self):
        """Yield the merge of every run, slice by slice (merging groups of runs first when
        there are more than one merge may open), removing the runs as they are read."""
        if self.pending:
            self._spill()
        while len(self.runs) > self.fan_in:
            self.merge_passes += 1
            merged = []
            for start in range(0, len(self.runs), self.fan_in):
                group = self.runs[start:start + self.fan_in]
                if len(group) == 1:
                    merged.append(group[0])
                    continue
                writer = FrameWriter(self.space, f"{self.name}-merged")
                for keys, suffix, count in merge_runs(group):
                    writer.write(keys, suffix, count, sorted_first=True)
                merged.append(writer.close())
                for path in group:
                    self.space.removed(path)
            self.runs = merged
        self.merge_passes += 1
        yield from merge_runs(self.runs)
        for path in self.runs:
            self.space.removed(path)
        self.runs = []


class _Run:
    """A run being merged: its current frame and how much of it was taken."""

    def __init__(self, path):
        self.frames = read_frames(path)
        self.frame = None
        self.at = 0
        self.advance()

    def advance(self):
        """Load the next frame (None at the end)."""
        frame = next(self.frames, None)
        if frame is not None:
            frame = (frame[0], frame[1].astype(np.int32), frame[2])
        self.frame, self.at = frame, 0

    @property
    def last(self):
        return self.frame[0][-1]


def merge_runs(paths):
    """Yield (keys, suffix, count) slices of the merge of sorted, combined runs, in order."""
    runs = [_Run(path) for path in paths]
    runs = [run for run in runs if run.frame is not None]
    while runs:
        cutoff = min(run.last for run in runs)
        pieces = []
        for run in runs:
            keys = run.frame[0]
            end = int(np.searchsorted(keys, cutoff, side="right"))
            if end > run.at:
                pieces.append(tuple(column[run.at:end] for column in run.frame))
            run.at = end
            if end == len(keys):
                run.advance()
        runs = [run for run in runs if run.frame is not None]
        if len(pieces) == 1:
            yield pieces[0]
        else:
            yield combine(*(np.concatenate(column) for column in zip(*pieces)))
