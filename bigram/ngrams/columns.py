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

# Rows of a column read at once by the sequential readers, at most.
SLICE_ROWS = 1 << 22


class Column:
    """A 1-D array of `length` values of `dtype` in the raw file at `path`, from byte
    `offset` on (a stored member of a model file is one too)."""

    def __init__(self, path, dtype, length, offset=0):
        self.path, self.dtype, self.length = path, np.dtype(dtype), int(length)
        self.offset = int(offset)

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

    def slices(self, rows=SLICE_ROWS):
        """(start, values) of consecutive slices of at most `rows` values."""
        for start in range(0, self.length, rows):
            yield start, self.read(start, start + rows)

    def npy_chunks(self, rows=SLICE_ROWS):
        """The column's bytes, a slice at a time (a model file's member written from it)."""
        for _, values in self.slices(rows):
            yield memoryview(values).cast("B")


class ColumnWriter:
    """Appends arrays to a new column in `space` (a spill.TempSpace)."""

    def __init__(self, space, stem, dtype):
        self.space, self.dtype, self.length = space, np.dtype(dtype), 0
        self.path = space.path(stem)
        try:
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        except OSError as error:
            raise space.full_disk(error) from None

    def append(self, values):
        """Write values (cast to the column's dtype) at the end."""
        values = np.ascontiguousarray(values, dtype=self.dtype)
        try:
            self._file.write(memoryview(values).cast("B"))
        except OSError as error:
            self._file.close()
            raise self.space.full_disk(error) from None
        self.length += len(values)
        self.space.written += values.nbytes
        self.space.peak = max(self.space.peak, self.space.written)

    def close(self):
        """The finished Column."""
        try:
            self._file.close()
        except OSError as error:
            raise self.space.full_disk(error) from None
        return Column(self.path, self.dtype, self.length)


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
    """Rows per window of a sweep within `memory` bytes."""
    return max(1 << 12, int(memory) // max(1, column.dtype.itemsize))


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
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        first, last = int(ordered[0]), int(ordered[-1])
        for start in range(first - first % self.window, last + 1, self.window):
            low, high = np.searchsorted(ordered, [start, start + self.window])
            if high > low:
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
        # Whole, with the hash table a LevelFinder may build (twice the keys' bytes).
        self.whole = LevelFinder(column.load(), span) if column.nbytes <= memory // 3 \
            else None

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


def aligned_slices(keys, size, rows=SLICE_ROWS):
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


