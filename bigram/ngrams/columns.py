"""Arrays too large for the memory budget: columns in raw files of the temporary folder.

A column is one array written front to back and read a slice at a time (a read copies
the slice into memory of the process's own; nothing stays mapped, so the resident memory
is what the slices hold, however large the file). Two ways of reading it out of order,
both bounded by the memory they are given:

* `ColumnGather`: the values at any rows. A column that fits in the memory given is read
  once and kept; a larger one is swept, a window at a time, for each batch of rows asked
  (the rows sorted first, so every window is read once per batch);
* `ColumnFinder`: the rows of keys in a sorted column (a level's keys), the same way.

The page cache keeps recently written columns, so a sweep mostly copies memory; its
cost is (rows asked / batch) x (column bytes), which is why batches are as large as the
budget allows.
"""

import numpy as np

from bigram.ngrams.lookup import sampled_rows
from bigram.ngrams.spill import SpilledFile
from bigram.read_ahead import read_ahead

# Rows of a column read at once by the sequential readers, at most.
SLICE_ROWS = 1 << 22


# Bytes a LevelFinder holds at its peak (building its hash table) per byte of keys.
FINDER_FACTOR = 8
# Bytes a binary search of sorted queries holds per byte of keys: the keys, and a batch of
# queries with its rows beside them (a batch is far smaller than the keys).
SORTED_FACTOR = 2
# An external join's key range is searched through every RANGE_SAMPLE-th key first (an
# array that stays in cache), then within the RANGE_SAMPLE keys found: 2.8x faster than
# numpy's binary search of the whole range for 125,000 sorted queries into 19 M keys,
# where every search's last steps miss the cache (a 1.28 GB build spent a fifth of its
# time there).
RANGE_SAMPLE = 8


def rows_for(budget):
    """Rows a sequential reader takes at once within a budget of `budget` bytes (a slice
    and its temporaries: a few hundred bytes per row at most, a fraction of the budget)."""
    return int(min(SLICE_ROWS, max(1 << 12, int(budget) // 256)))


class Column:
    """A 1-D array of `length` values of `dtype` in the raw file at `path`, from byte
    `offset` on (a stored member of a model file is one too)."""

    def __init__(self, path, dtype, length, offset=0, rows=SLICE_ROWS):
        self.path, self.dtype, self.length = path, np.dtype(dtype), int(length)
        self.offset = int(offset)
        self.rows = int(rows)     # rows per slice of the sequential readers

    def __len__(self):
        return self.length

    @property
    def nbytes(self):
        return self.length * self.dtype.itemsize

    def read(self, start, stop):
        """Values start..stop-1 (clipped to the column), a fresh array."""
        start, stop = max(0, int(start)), min(self.length, int(stop))
        if stop <= start:
            return np.zeros(0, self.dtype)
        with open(self.path, "rb") as handle:
            handle.seek(self.offset + start * self.dtype.itemsize)
            out = np.fromfile(handle, dtype=self.dtype, count=stop - start)
        if len(out) != stop - start:
            raise OSError(f"{self.path} is shorter than it was when it was opened")
        return out

    def load(self):
        """The whole column in memory."""
        return self.read(0, self.length)

    def slices(self, rows=None):
        """(start, values) of consecutive slices of at most `rows` values (the column's
        own slice size by default); the next slice is read by a thread while the caller
        works on this one (bigram.read_ahead) when there is more than one."""
        rows = rows or self.rows
        slices = ((start, self.read(start, start + rows))
                  for start in range(0, self.length, rows))
        return read_ahead(slices) if self.length > rows else slices

    def npy_chunks(self):
        """The column's bytes, a slice at a time (a model file's member written from it)."""
        for _, values in self.slices():
            yield memoryview(values).cast("B")


class ColumnWriter(SpilledFile):
    """Appends arrays to a new column in `space` (a spill.TempSpace)."""

    def __init__(self, space, stem, dtype):
        super().__init__(space, stem)
        self.dtype, self.length = np.dtype(dtype), 0

    def append(self, values):
        """Write values (cast to the column's dtype) at the end."""
        given = values
        values = np.ascontiguousarray(values, dtype=self.dtype)
        if np.may_share_memory(values, given):
            # Written later by the write-behind thread: the caller may change its array.
            values = values.copy()
        self._write(memoryview(values).cast("B"))
        self.length += len(values)

    def close(self):
        """The finished Column."""
        self._finish()
        return Column(self.path, self.dtype, self.length,
                      rows=getattr(self.space, "slice_rows", SLICE_ROWS))


def write_column(space, stem, values):
    """A column holding `values`."""
    writer = ColumnWriter(space, stem, np.asarray(values).dtype)
    writer.append(values)
    return writer.close()


def remove(space, *columns):
    """Delete columns no longer needed (None is skipped)."""
    for column in columns:
        if column is not None:
            space.removed(column.path)


def _windows(column, memory):
    """Rows per window of a sweep within `memory` bytes: an eighth of it (every batch
    reads the whole column whatever the window, so a small one costs nothing, and the
    rest of `memory` is the batch's)."""
    return max(1 << 12, int(memory) // (8 * max(1, column.dtype.itemsize)))


class ColumnGather:
    """Values of a column at any rows, within `memory` bytes of the column's own."""

    def __init__(self, column, memory):
        self.column = column
        self.whole = column.load() if column.nbytes <= memory else None
        self.window = _windows(column, memory)

    def __call__(self, rows):
        """column[rows] (rows: int array, all within the column)."""
        rows = np.asarray(rows)
        if self.whole is not None:
            return self.whole[rows]
        out = np.empty(len(rows), self.column.dtype)
        if not len(rows):
            return out
        # The rows grouped by the window they fall in (not sorted: within a window the
        # gather reads an array that is in memory). A stable argsort of 16-bit window
        # numbers is a radix sort: 5-7 times faster than sorting the rows themselves,
        # which was a third of a 1.28 GB build's gathers.
        first = int(rows.min()) // self.window
        window = rows // self.window
        window -= first
        windows = int(window.max()) + 1
        window = window.astype(np.uint16 if windows <= 1 << 16 else np.int64)
        order = np.argsort(window, kind="stable")
        bounds = np.zeros(windows + 1, np.int64)
        np.cumsum(np.bincount(window, minlength=windows), out=bounds[1:])
        del window
        ordered = rows[order]
        for w, (low, high) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist())):
            if high > low:
                start = (first + w) * self.window
                values = self.column.read(start, start + self.window)
                out[order[low:high]] = values[ordered[low:high] - start]
        return out


class ColumnFinder:
    """Rows of keys in a sorted int64 column of unique keys, all below `span` (-1 where
    absent), within `memory` bytes; `find` as lookup.LevelFinder's."""

    def __init__(self, column, memory, span):
        from bigram.ngrams.lookup import LevelFinder

        self.column = column
        self.window = _windows(column, memory)
        # Whole, with the hash table a LevelFinder may build (see FINDER_FACTOR).
        self.whole = LevelFinder(column.load(), span) \
            if column.nbytes <= memory // FINDER_FACTOR else None

    def find(self, queries):
        """int64 rows of `queries` (int64 keys); -1 where absent."""
        if self.whole is not None:
            return self.whole.find(queries)
        queries = np.asarray(queries, dtype=np.int64)
        out = np.full(len(queries), -1, dtype=np.int64)
        if not len(queries) or not self.column.length:
            return out
        order = np.argsort(queries, kind="stable")
        ordered = queries[order]
        low = 0
        for start in range(0, self.column.length, self.window):
            keys = self.column.read(start, start + self.window)
            high = int(np.searchsorted(ordered, keys[-1], side="right"))
            if high > low:
                part = ordered[low:high]
                at = np.minimum(np.searchsorted(keys, part), len(keys) - 1)
                hit = keys[at] == part
                out[order[low:high][hit]] = at[hit] + start
            low = high
            if low == len(ordered):
                break
        return out


def aligned_slices(keys, size, rows):
    """Slices of a level whose rows are sorted by key = parent * size + token, cut where
    the parent changes (every context's windows in one slice): yields (start, stop)."""
    length, start = keys.length, 0
    while start < length:
        stop = min(length, start + rows)
        if stop < length:
            window = keys.read(stop - 1, min(length, stop - 1 + rows))
            parents = window // size
            # The first row past `stop - 1` whose parent differs from row stop-1's.
            cut = int(np.searchsorted(parents, parents[0], side="right"))
            if cut < len(parents):
                stop = stop - 1 + cut
            else:   # one context longer than a slice: take all of it
                stop = _end_of_parent(keys, size, stop - 1 + len(parents), parents[0], rows)
        yield start, stop
        start = stop


def _end_of_parent(keys, size, at, parent, rows):
    """The first row from `at` on whose parent is not `parent`."""
    while at < keys.length:
        parents = keys.read(at, at + rows) // size
        cut = int(np.searchsorted(parents, parent, side="right"))
        at += cut
        if cut < len(parents):
            break
    return at




class BucketedLookup:
    """Rows of a stream of keys in a sorted key column too large for memory, as an external
    join (a sweep of the whole column for every batch of keys would read it once per
    batch): the keys are asked first, in order, and spilled to buckets by key range
    (`ask`); each bucket is answered with its range of the column in memory (`resolve`);
    then the rows come back in the order the keys were asked (`find`, given the same keys
    again, batch by batch). Within `memory` bytes for the column's ranges."""

    def __init__(self, space, column, memory, span):
        from bigram.ngrams.spill import FrameWriter

        self.space, self.column, self.span = space, column, span
        # A range's keys in memory (with every RANGE_SAMPLE-th of them), searched by each
        # batch of sorted queries.
        parts = max(1, -(-column.nbytes // max(1, range_bytes(memory))))
        rows = -(-column.length // parts)
        self.starts = list(range(0, column.length, rows)) or [0]
        # The first key of each range but the first: a key's bucket by searchsorted.
        self.bounds = np.array([column.read(s, s + 1)[0] for s in self.starts[1:]], np.int64)
        self.asked = self.answered = 0
        self._writers = [FrameWriter(space, "asked") for _ in self.starts]
        self._answers = None

    def ask(self, queries):
        """The next keys (int64), in order."""
        queries = np.asarray(queries, dtype=np.int64)
        bucket = np.searchsorted(self.bounds, queries, side="right")
        number = np.arange(self.asked, self.asked + len(queries), dtype=np.int64)
        self.asked += len(queries)
        for b, writer in enumerate(self._writers):
            pick = bucket == b
            if pick.any():
                writer.write(number[pick], queries[pick], sorted_first=True)

    def resolve(self):
        """Answer every bucket: (query number, row) frames, in query order per bucket."""
        from bigram.ngrams.spill import FrameWriter, read_frames

        answers = []
        for b, writer in enumerate(self._writers):
            asked = writer.close()
            start = self.starts[b]
            stop = self.starts[b + 1] if b + 1 < len(self.starts) else self.column.length
            keys = self.column.read(start, stop)
            samples = keys[::RANGE_SAMPLE].copy()
            out = FrameWriter(self.space, "answered")
            for number, queries in read_frames(asked):
                out.write(number, sorted_rows(keys, queries, start, samples),
                          sorted_first=True)
            del keys, samples
            self.space.removed(asked)
            answers.append(_Answers(out.close()))
        self._writers, self._answers = None, answers

    def find(self, queries):
        """Rows of the next len(queries) keys asked (the same keys, in the same order)."""
        end = self.answered + len(queries)
        out = np.full(len(queries), -1, dtype=np.int64)
        for answers in self._answers:
            number, rows = answers.upto(end)
            out[number - self.answered] = rows
        self.answered = end
        return out

    def close(self):
        """Remove the answers."""
        for answers in self._answers or ():
            answers.close(self.space)


def range_bytes(memory):
    """Bytes of keys in one range of an external join within `memory` bytes: the keys,
    their samples, and a batch of queries with its rows beside them."""
    return int(memory) // SORTED_FACTOR * RANGE_SAMPLE // (RANGE_SAMPLE + 1)


def sorted_rows(keys, queries, start=0, samples=None):
    """Rows (+ start) of `queries` in sorted `keys`, -1 where absent. The queries of a
    build's frames come sorted (a chunk's distinct windows): a binary search for each
    walks much of its neighbour's path and stays in cache, several times faster than
    hashing them, and it builds nothing. Others are sorted first. With `samples`
    (keys[::RANGE_SAMPLE]) the search goes through them first."""
    if not len(keys):
        return np.full(len(queries), -1, dtype=np.int64)
    if len(queries) > 1 and not (queries[1:] >= queries[:-1]).all():
        order = np.argsort(queries, kind="stable")
        out = np.empty(len(queries), dtype=np.int64)
        out[order] = sorted_rows(keys, queries[order], start, samples)
        return out
    if samples is None:
        rows = np.searchsorted(keys, queries)
    else:
        rows = sampled_rows(keys, samples, queries, RANGE_SAMPLE)
    np.minimum(rows, len(keys) - 1, out=rows)
    found = keys[rows] == queries
    rows += start
    return np.where(found, rows, -1)


class _Answers:
    """A bucket's answers, read in query order as they are asked for."""

    def __init__(self, path):
        from bigram.ngrams.spill import read_frames

        self.path = path
        self.frames = read_frames(path)
        self.number = np.zeros(0, np.int64)
        self.rows = np.zeros(0, np.int64)

    def upto(self, end):
        """(query numbers, rows) of the answers to the queries numbered below `end`."""
        parts_n, parts_r = [], []
        while True:
            cut = int(np.searchsorted(self.number, end))
            parts_n.append(self.number[:cut])
            parts_r.append(self.rows[:cut])
            self.number, self.rows = self.number[cut:], self.rows[cut:]
            if len(self.number):
                break
            frame = next(self.frames, None)
            if frame is None:
                break
            self.number, self.rows = frame
        return np.concatenate(parts_n), np.concatenate(parts_r)

    def close(self, space):
        self.frames.close()
        space.removed(self.path)
