"""Query tables read a slice at a time, for writing a query file within bounded memory.

query_file.write_query_file asks its tables for each level's keys, adj, B and ln P as
sequences it slices front to back (`len(seq)`, `seq[a:b]` -> a numpy array). In-memory
QueryTables hand it arrays; `ColumnLevels` hands it `Sliced` views of columns on disk
(columns.Column: a model file's stored members, the levels of a model estimated within
a memory budget, an ARPA file's levels spilled by arpa_stream), so the memory a
conversion takes is a few slices, whatever the model's size. Nothing is mapped: a mapped
file's pages count in the process's resident memory once touched.

ln P of a window is adj + B of its context; the contexts of a slice of sorted keys are
ascending, so their B are read a window of the level below at a time (`gather_ascending`).
"""

import numpy as np

# Rows read at once.
SLICE = 1 << 20


class Sliced:
    """A sequence made a slice at a time by a function of (start, stop)."""

    def __init__(self, n, make):
        self.n, self.make = int(n), make

    def __len__(self):
        return self.n

    def __getitem__(self, part):
        if not isinstance(part, slice):
            raise TypeError("a Sliced sequence is read by slices")
        start, stop, _ = part.indices(self.n)
        return self.make(start, max(start, stop))


def whole(values):
    """A sequence (an array, a memmap, a Sliced) as one array in memory."""
    if isinstance(values, np.ndarray):
        return values
    parts = [values[start:start + SLICE] for start in range(0, len(values), SLICE)]
    return np.concatenate(parts) if parts else np.zeros(0)


def gather_ascending(read, length, rows, window=None):
    """The values at ascending `rows` of a sequence of `length` values that `read(start,
    stop)` reads: a window of at most `window` rows at a time, each read once, windows
    with no row asked skipped."""
    rows, window = np.asarray(rows, dtype=np.int64), window or SLICE
    out = None
    done = 0
    while done < len(rows):
        low = int(rows[done])
        high = min(low + window, length)
        end = done + int(np.searchsorted(rows[done:], high, side="left"))
        values = read(low, high)
        if out is None:
            out = np.empty(len(rows), dtype=values.dtype)
        out[done:end] = values[rows[done:end] - low]
        done = end
    return out if out is not None else np.zeros(0)


class ChildStarts:
    """Per row of a level (and one past the last), the first row of the next level whose
    key's parent is that row or comes after it: a trie's offsets, from the next level's
    sorted keys (parent row * size + token) read front to back.

    Slices are meant to be asked in order (as write_packed does); a slice asked out of
    order is answered too, by reading the keys again from the start."""

    def __init__(self, child_keys, rows, size, window=None):
        self.keys, self.rows, self.size = child_keys, int(rows), int(size)
        self.window = window or SLICE
        self.children = len(child_keys)
        self._next, self._position = 0, 0   # child rows before parent `_next`

    def __len__(self):
        return self.rows + 1

    def __getitem__(self, part):
        start, stop, _ = part.indices(self.rows + 1)
        if start != self._next:
            self._next, self._position = 0, 0
            if start:
                self[0:start]
        targets = np.arange(start, max(start, stop), dtype=np.int64) * self.size
        out = np.empty(len(targets), dtype=np.int64)
        done, position = 0, self._position
        while done < len(targets):
            keys = self.keys[position:position + self.window]
            if not len(keys):
                out[done:] = position
                break
            # The targets up to the last key read are answered within these keys.
            end = done + int(np.searchsorted(targets[done:], keys[-1], side="right"))
            out[done:end] = position + np.searchsorted(keys, targets[done:end])
            done = end
            if done < len(targets):
                position += len(keys)
        if len(out):
            self._next, self._position = stop, int(out[-1])
        return out


class ColumnLevels:
    """Query tables (order, size, padding, level_keys, level_values, level_logprob) over
    columns: `keys[k]` (k >= 2), `adj[k]` and `below[k]` (k < order) are columns.Column.
    `check(what, k, start, values)` may look at each slice read (a model file's values
    are checked as they are read) and raise."""

    def __init__(self, order, size, padding, keys, adj, below, check=None):
        self.order, self.size, self.padding = int(order), int(size), padding
        self.keys, self.adj, self.below = keys, adj, below
        self.check = check

    def _sliced(self, what, k):
        column = {"keys": self.keys, "adj": self.adj, "below": self.below}[what][k]

        def read(start, stop):
            values = column.read(start, stop)
            if self.check is not None:
                self.check(what, k, start, values)
            return values

        return Sliced(len(column), read)

    def level_keys(self, k):
        """Level k's sorted keys (parent row * size + token), a slice at a time."""
        return self._sliced("keys", k)

    def level_values(self, what, k):
        """Level k's adj or B ("adj" or "below"), a slice at a time."""
        return self._sliced(what, k)

    def level_logprob(self, k):
        """Level k's ln P (adj + B of the context), a slice at a time."""
        adj = self.level_values("adj", k)
        if k == 1:
            return adj
        keys, below = self.level_keys(k), self.level_values("below", k - 1)

        def logprob(start, stop):
            parents = keys[start:stop] // self.size
            return adj[start:stop] + gather_ascending(
                lambda a, b: below[a:b], len(below), parents)

        return Sliced(len(adj), logprob)

    def child_starts(self, k):
        """Per row of level k (and one past), the first row of level k+1 it is parent of
        or before."""
        return ChildStarts(self.level_keys(k + 1), len(self.adj[k]), self.size)
