"""An NgramIndex whose levels are columns on disk (bigram.ngrams.columns): what counting
within a memory budget hands on when the levels themselves do not fit in it.

The levels are those of index.NgramIndex, array for array: keys (parent * V + token,
sorted), suffix links and counts. Estimation reads them a slice at a time
(ngrams.streaming_kneser_ney); `in_memory` reads them whole for the methods that are
estimated in memory.
"""

from dataclasses import dataclass

import numpy as np

from bigram.ngrams.columns import Column, ColumnWriter, remove, write_column
from bigram.ngrams.index import BOUNDARY, Level, NgramIndex, compact_counts


@dataclass
class DiskLevel:
    """The distinct windows of one length, as columns: sorted keys, suffix links, counts."""

    keys: Column
    suffix: Column
    count: Column

    def __len__(self):
        return len(self.keys)

    def columns(self):
        return (self.keys, self.suffix, self.count)


class DiskIndex:
    """Levels 1..order of windows over `size` tokens, on disk in `space` (a TempSpace that
    lives as long as the index)."""

    def __init__(self, order, size, levels, padding, space):
        self.order, self.size, self.padding = int(order), int(size), padding
        self.levels = levels          # levels[k] for k = 1..order; levels[0] is None
        self.space = space
        self._starts = {}

    def level(self, k):
        """Level k (a DiskLevel)."""
        return self.levels[k]

    def __len__(self):
        return sum(len(self.levels[k]) for k in range(1, self.order + 1))

    def starts(self, k):
        """A uint8 column: whether each level-k window begins with the boundary token
        (made on first use from level k-1's, through each window's parent)."""
        if k not in self._starts:
            if k == 1:
                first = np.zeros(self.size, np.uint8)
                first[BOUNDARY] = 1
                self._starts[1] = write_column(self.space, "starts1", first)
            else:
                below = self.starts(k - 1)
                writer = ColumnWriter(self.space, f"starts{k}", np.uint8)
                for _, keys in self.levels[k].keys.slices():
                    parents = keys // self.size
                    low = int(parents[0])
                    writer.append(below.read(low, int(parents[-1]) + 1)[parents - low])
                self._starts[k] = writer.close()
        return self._starts[k]

    def final_slices(self, k, rows=None):
        """(start, counts) of the predictions each level-k window scores, a slice at a
        time (index.NgramIndex.final)."""
        count = self.levels[k].count
        if k == self.order:
            yield from count.slices(rows)
            return
        if self.padding != "sentence" or k == 1:
            for start, values in count.slices(rows):
                yield start, np.zeros_like(values)
            return
        starts = self.starts(k)
        for start, values in count.slices(rows):
            values[starts.read(start, start + len(values)) == 0] = 0
            yield start, values

    def predictions(self):
        """Predictions counted in the index."""
        return int(sum(int(values.sum(dtype=np.int64))
                       for k in range(1, self.order + 1) for _, values in self.final_slices(k)))

    def arrays(self, prefix):
        """The index as named columns, for a model file."""
        out = {}
        for k in range(1, self.order + 1):
            for name, column in zip(("keys", "suffix", "count"), self.levels[k].columns()):
                out[f"{prefix}{k}_{name}"] = column
        return out

    def in_memory(self):
        """The same index read whole into memory (an index.NgramIndex)."""
        levels = [None] + [Level(level.keys.load(), level.suffix.load(),
                                 compact_counts(level.count.load()))
                           for level in self.levels[1:]]
        return NgramIndex(self.order, self.size, levels, self.padding)

    def remove(self):
        """Delete the columns."""
        for level in self.levels[1:]:
            remove(self.space, *level.columns())
        remove(self.space, *self._starts.values())


def level_columns(space, name, keys, suffix, count):
    """A DiskLevel of arrays in memory."""
    return DiskLevel(write_column(space, f"{name}-keys", np.asarray(keys, np.int64)),
                     write_column(space, f"{name}-suffix", np.asarray(suffix, np.int32)),
                     write_column(space, f"{name}-count", compact_counts(count)))


def compact_count_column(space, column):
    """The counts as int32 when they fit (as index.compact_counts), else the column."""
    if column.dtype == np.int32:
        return column
    largest = max((int(values.max()) for _, values in column.slices() if len(values)),
                  default=0)
    if largest >= 1 << 31:
        return column
    writer = ColumnWriter(space, "count32", np.int32)
    for _, values in column.slices():
        writer.append(values)
    remove(space, column)
    return writer.close()
