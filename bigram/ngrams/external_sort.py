"""Sorting and combining windows that do not fit in memory: sorted runs on disk, merged.

A record is one window of a level: its trie key (int64, >= 0), its suffix row (the
same for every record of a key) and a count. Records arrive in blocks; each block's
repeats are combined at once (one sort of the block), and blocks wait in memory until
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
        block = combine(keys, suffix, count)
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
        if len(self.pending) == 1:
            block = self.pending[0]
        else:
            block = combine(*(np.concatenate(parts) for parts in zip(*self.pending)))
        self.pending, self.pending_records = [], 0
        return block

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
