"""N-gram counts of any order, stored as what was seen (never as a dense V**N array).

A context of m tokens is one integer, its tokens as digits in base V (the first
token most significant), so the context of a longer history is `key % V**m`
and appending a token is `(key * V + token) % V**m`. An `NgramTable` holds,
for one order n, the seen contexts of n-1 tokens (sorted keys) and, per
context, the tokens seen next with their counts, in CSR form.

Each item is padded with n-1 boundary tokens in front and one behind, so an
item of L characters gives L + 1 predictions, the last being the boundary.
"""

from dataclasses import dataclass

import numpy as np

from .errors import OptionError
from .vocabulary import BOUNDARY

KEY_LIMIT = 1 << 62
DENSE_KEYS = 1 << 20


def check_order(order, size):
    """Orders of 2 and more whose context keys fit in 64-bit integers."""
    if order < 2:
        raise OptionError(f"--order must be 2 or more, not {order}")
    if size ** (order - 1) * size >= KEY_LIMIT:
        raise OptionError(f"--order {order} is too long for a vocabulary of {size} tokens "
                          "(its contexts would not fit in 64-bit keys)")


def find_keys(sorted_keys, keys):
    """Index of each key in a sorted array of unique keys, and whether it is there."""
    keys = np.asarray(keys, dtype=np.int64)
    if not len(sorted_keys):
        return np.zeros(keys.shape, dtype=np.int64), np.zeros(keys.shape, dtype=bool)
    index = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return index, sorted_keys[index] == keys


@dataclass
class NgramTable:
    """Counts of one order: seen contexts (sorted keys) and, per context, next tokens."""

    order: int
    size: int                 # vocabulary size V
    contexts: np.ndarray      # (M,) int64 sorted unique context keys
    indptr: np.ndarray        # (M + 1,) offsets into next / count
    next: np.ndarray          # (E,) int64 next tokens, ascending within a context
    count: np.ndarray         # (E,) int64 (or float64 for weighted counts)

    @classmethod
    def from_pairs(cls, order, size, context_keys, next_tokens, counts=None):
        """Aggregate (context, next[, count]) triples into a table."""
        context_keys = np.asarray(context_keys, dtype=np.int64)
        next_tokens = np.asarray(next_tokens, dtype=np.int64)
        if counts is None:
            counts = np.ones(len(context_keys), dtype=np.int64)
        joint = context_keys * size + next_tokens
        if size ** order <= DENSE_KEYS:
            # Small key spaces (bigrams, short contexts): one bincount instead of a sort.
            dense = np.bincount(joint, weights=counts, minlength=size ** order)
            unique = np.flatnonzero(dense)
            summed = dense[unique]
        else:
            unique, inverse = np.unique(joint, return_inverse=True)
            summed = np.bincount(inverse.ravel(), weights=counts, minlength=len(unique))
        summed = summed.astype(np.asarray(counts).dtype if np.asarray(counts).dtype.kind == "f"
                               else np.int64)
        keep = summed > 0
        unique, summed = unique[keep], summed[keep]
        contexts_all = unique // size
        contexts, starts = np.unique(contexts_all, return_index=True)
        indptr = np.append(starts, len(unique)).astype(np.int64)
        return cls(order, size, contexts, indptr, unique % size, summed)

    @classmethod
    def empty(cls, order, size):
        """A table with nothing seen."""
        zero = np.zeros(0, dtype=np.int64)
        return cls(order, size, zero, np.zeros(1, dtype=np.int64), zero, zero)

    def __len__(self):
        return len(self.next)

    @property
    def entry_contexts(self):
        """The context key of every entry."""
        return np.repeat(self.contexts, np.diff(self.indptr))

    def totals(self):
        """c(h): the total count of each context."""
        return np.add.reduceat(self.count, self.indptr[:-1]) if len(self.count) else \
            np.zeros(0, dtype=self.count.dtype)

    def types(self):
        """T(h): the number of distinct tokens seen after each context."""
        return np.diff(self.indptr)

    def find(self, keys):
        """Index of each key among the contexts, and whether it was seen."""
        return find_keys(self.contexts, keys)

    def lower(self):
        """The table of order - 1: contexts shortened by their first token, counts summed."""
        shorter = self.size ** (self.order - 2)
        return NgramTable.from_pairs(self.order - 1, self.size, self.entry_contexts % shorter,
                                     self.next, self.count)

    def continuation(self):
        """Order - 1 continuation counts: N1+(. h' w), distinct tokens seen before h' w."""
        shorter = self.size ** (self.order - 2)
        return NgramTable.from_pairs(self.order - 1, self.size, self.entry_contexts % shorter,
                                     self.next)

    def dense(self):
        """Order 2 only: the V x V count matrix."""
        matrix = np.zeros((self.size, self.size), dtype=self.count.dtype)
        matrix[self.entry_contexts, self.next] = self.count
        return matrix

    @classmethod
    def from_dense(cls, matrix):
        """The order-2 table of a V x V count matrix."""
        rows, cols = np.nonzero(matrix)
        return cls.from_pairs(2, matrix.shape[0], rows, cols, matrix[rows, cols])

    def merged(self, other):
        """The sum of two tables of the same order and vocabulary size."""
        return NgramTable.from_pairs(
            self.order, self.size, np.concatenate([self.entry_contexts, other.entry_contexts]),
            np.concatenate([self.next, other.next]), np.concatenate([self.count, other.count]))

    def arrays(self, prefix):
        """The table as named arrays, for a model file."""
        return {f"{prefix}contexts": self.contexts, f"{prefix}indptr": self.indptr,
                f"{prefix}next": self.next, f"{prefix}count": self.count}


def padded_windows(tokens, offsets, order):
    """Items padded with boundaries, and where each prediction sits in them.

    tokens/offsets: the items' token indices, concatenated, and where each item
    starts. Each item becomes [boundary] * (order - 1) + tokens + [boundary];
    returns that padded sequence and the index of every predicted token in it
    (each character, then the closing boundary), in reading order. The context
    of the prediction at index a is padded[a - order + 1 : a].
    """
    n_items = len(offsets) - 1
    lengths = np.diff(offsets)
    width = order - 1
    starts = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(lengths + width + 1, out=starts[1:])
    padded = np.full(starts[-1], BOUNDARY, dtype=np.int64)
    owner = np.repeat(np.arange(n_items), lengths)
    padded[starts[owner] + width + np.arange(len(tokens)) - offsets[owner]] = tokens
    per_item = lengths + 1
    item = np.repeat(np.arange(n_items), per_item)
    step = np.arange(len(item)) - np.repeat(np.cumsum(per_item) - per_item, per_item)
    return padded, starts[item] + width + step


def known_windows(tokens, unknown, offsets, order):
    """Like padded_windows, keeping only predictions whose whole window (the context and the
    token predicted) avoids the characters flagged `unknown` (out of the vocabulary)."""
    padded, at = padded_windows(np.where(unknown, BOUNDARY, tokens), offsets, order)
    if unknown.any():
        bad, _ = padded_windows(unknown.astype(np.int64), offsets, order)
        keep = np.ones(len(at), dtype=bool)
        for back in range(order):
            keep &= bad[at - back] == 0
        at = at[keep]
    return padded, at


def window_keys(padded, at, order, size):
    """Context key (the order-1 tokens before) of each prediction index `at`."""
    keys = np.zeros(len(at), dtype=np.int64)
    for back in range(order - 1, 0, -1):
        keys = keys * size + padded[at - back]
    return keys


def count_ngrams(tokens, offsets, order, size):
    """The table of order `order` of items given as token indices and offsets."""
    padded, at = padded_windows(tokens, offsets, order)
    return NgramTable.from_pairs(order, size, window_keys(padded, at, order, size), padded[at])


def history_key(tokens, order, size):
    """Key of the context after `tokens`, which follow order-1 boundary tokens."""
    history = np.concatenate([np.full(order - 1, BOUNDARY, dtype=np.int64),
                              np.asarray(tokens, dtype=np.int64)])[-(order - 1):]
    powers = size ** np.arange(order - 2, -1, -1, dtype=np.int64)
    return int((history * powers).sum())


def advance(keys, tokens, order, size):
    """Contexts after appending `tokens` to contexts `keys` (the oldest token drops off)."""
    return (keys * size + tokens) % (size ** (order - 1))


def split_key(keys, order, size):
    """The tokens of context keys, oldest first: shape (len(keys), order - 1)."""
    powers = size ** np.arange(order - 2, -1, -1, dtype=np.int64)
    return (np.asarray(keys, dtype=np.int64)[:, None] // powers) % size


def reindex(table, mapping, size):
    """The table with every token t renamed mapping[t], in a vocabulary of `size` tokens."""
    order = table.order
    mapping = np.asarray(mapping, dtype=np.int64)
    tokens = mapping[split_key(table.entry_contexts, order, table.size)]
    powers = size ** np.arange(order - 2, -1, -1, dtype=np.int64)
    contexts = (tokens * powers).sum(axis=1)
    return NgramTable.from_pairs(order, size, contexts, mapping[table.next], table.count)
