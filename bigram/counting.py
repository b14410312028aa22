"""Counting bigrams of items, vectorised, one block at a time.

Items are turned into one token sequence in which consecutive items share a
boundary token (`. e m m a . o l i v i a .`), so every bigram of every item,
including start and end, is a consecutive pair of that sequence; one
`np.bincount` over pair keys counts them all.

During training the vocabulary is not known until the data has been read, so
code points get compact ids in order of first appearance (`CodepointIndex`),
and the final count matrix is permuted into the vocabulary's sorted order.
"""

import numpy as np

from .corpus import IS_BREAK
from .vocabulary import Vocabulary

IS_LINE_BREAK = IS_BREAK[:256]

_UNICODE_SIZE = 0x110000
DENSE_LIMIT = 1024      # above this many distinct tokens counts are kept sparse per block


class CodepointIndex:
    """Compact ids for code points in order of first appearance; id 0 is the boundary."""

    def __init__(self):
        self._table = np.full(_UNICODE_SIZE, -1, dtype=np.int32)
        self.codepoints = np.zeros(0, dtype=np.uint32)

    def __len__(self):
        return len(self.codepoints) + 1

    def ids(self, codepoints):
        """Ids of the code points, giving new ones ids as they appear."""
        ids = self._table[codepoints]
        missing = ids < 0
        if missing.any():
            new = np.unique(codepoints[missing]).astype(np.uint32)
            self._table[new] = np.arange(len(self), len(self) + len(new), dtype=np.int32)
            self.codepoints = np.concatenate([self.codepoints, new])
            ids = self._table[codepoints]
        return ids

    def vocabulary(self):
        """The vocabulary of every code point seen."""
        return Vocabulary.from_codepoints(self.codepoints)

    def positions(self, vocabulary):
        """Each id's index in `vocabulary` (which must hold every code point seen)."""
        positions = np.zeros(len(self), dtype=np.int64)
        positions[1:] = np.searchsorted(vocabulary.codepoints, self.codepoints) + 1
        return positions


def token_sequence(ids, offsets):
    """Tokens of items with one shared boundary between neighbours and at both ends."""
    n_items = len(offsets) - 1
    sequence = np.zeros(len(ids) + n_items + 1, dtype=np.int64)
    is_char = np.ones(len(sequence), dtype=bool)
    is_char[offsets + np.arange(n_items + 1)] = False
    sequence[is_char] = ids
    return sequence


def pair_counts(sequence, size):
    """size x size matrix of consecutive pairs in a token sequence."""
    if len(sequence) < 2:
        return np.zeros((size, size), dtype=np.int64)
    keys = sequence[:-1] * size + sequence[1:]
    if size <= DENSE_LIMIT:
        return np.bincount(keys, minlength=size * size).reshape(size, size)
    unique, counts = np.unique(keys, return_counts=True)
    matrix = np.zeros((size, size), dtype=np.int64)
    matrix.flat[unique] = counts
    return matrix


class BigramCounter:
    """Accumulates bigram counts of items, per split, while discovering the vocabulary."""

    def __init__(self):
        self.index = CodepointIndex()
        self._counts = {}
        self.items = {}

    def _matrix(self, split):
        size = len(self.index)
        counts = self._counts.get(split)
        if counts is None or counts.shape[0] < size:
            grown = np.zeros((size, size), dtype=np.int64)
            if counts is not None:
                grown[:counts.shape[0], :counts.shape[0]] = counts
            counts = self._counts[split] = grown
        return counts

    def add(self, chars, offsets, split="train", sign=1):
        """Count (or, with sign=-1, uncount) the bigrams of items given as code points."""
        ids = self.index.ids(chars)
        counts = self._matrix(split)
        counts += sign * pair_counts(token_sequence(ids, offsets), counts.shape[0])
        self.items[split] = self.items.get(split, 0) + sign * (len(offsets) - 1)

    def add_plain_block(self, block, split="train"):
        """Count every item of a plain ASCII block from its byte pairs (the fast path)."""
        pairs = block.byte_pairs()
        present = pairs.sum(0) + pairs.sum(1)
        present[block.raw[[0, -1]]] += 1  # a one-byte block has no pairs, only its edges
        seen = np.flatnonzero(present)
        chars = seen[~IS_LINE_BREAK[seen]].astype(np.uint8)
        ids = np.zeros(256, dtype=np.int64)
        ids[chars] = self.index.ids(chars)
        counts = self._matrix(split)
        counts += byte_pairs_to_tokens(pairs, ids, counts.shape[0], block.raw)
        self.items[split] = self.items.get(split, 0) + block.n_items

    def vocabulary(self):
        """Every character seen, in any split."""
        return self.index.vocabulary()

    def counts(self, split, vocabulary=None):
        """The split's counts, rows and columns in `vocabulary`'s order."""
        vocabulary = vocabulary or self.vocabulary()
        out = np.zeros((len(vocabulary), len(vocabulary)), dtype=np.int64)
        counts = self._counts.get(split)
        if counts is not None:
            where = self.index.positions(vocabulary)[:counts.shape[0]]
            out[np.ix_(where, where)] = counts
        return out


def byte_pairs_to_tokens(pairs, ids, size, raw):
    """Token-pair counts of a plain ASCII block from its byte-pair counts.

    `ids` maps each byte to a token (line breaks to the boundary, 0). Runs of
    breaks (blank lines, CRLF) become boundary-boundary pairs, which no item
    produces, so that cell is cleared; the block's own edges add the pair into
    its first byte and, when it ends without a newline, out of its last.
    """
    onehot = np.zeros((256, size), dtype=np.int64)
    onehot[np.arange(256), ids] = 1
    counts = onehot.T @ pairs @ onehot
    if len(raw):
        counts[0, ids[raw[0]]] += 1
        if not IS_LINE_BREAK[raw[-1]]:
            counts[ids[raw[-1]], 0] += 1
    counts[0, 0] = 0
    return counts


def count_with_vocabulary(vocabulary, chars, offsets, order=2):
    """N-gram counts of items under a fixed vocabulary, skipping out-of-vocabulary characters.

    An n-gram whose window (its context or its next token) holds an unknown
    character is not counted. Returns the NgramTable, the number of unknown
    characters, and their distinct code points.
    """
    from .ngrams import NgramTable, known_windows, window_keys

    size = len(vocabulary)
    tokens, unknown = vocabulary.encode(chars)
    padded, at = known_windows(tokens, unknown, offsets, order)
    keys = window_keys(padded, at, order, size)
    table = NgramTable.from_pairs(order, size, keys, padded[at])
    return table, int(unknown.sum()), np.unique(chars[unknown]).astype(np.uint32)
