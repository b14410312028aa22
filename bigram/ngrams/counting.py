"""From blocks of items to token ids, per split, while the vocabulary is being discovered.

During training the vocabulary is not known until all the data has been read,
so tokens get compact ids in order of first appearance (`CodepointIndex` for
characters, `bigram.text.words.WordIndex` for words; id 0 is the boundary), and
each split keeps its items as int32 ids. Once everything is read, the ids are
renamed into the final vocabulary (with `<unk>` for tokens it leaves out) and
counted into an NgramIndex.

Bigrams of characters in plain ASCII blocks take a faster road: they are
counted from the block's byte pairs (two bincounts, no items materialised),
into a 257 x 257 matrix in byte space, so a gigabyte of names needs no
per-token memory at all.
"""


import numpy as np

from bigram.memory import return_freed_memory
from bigram.ngrams.index import BOUNDARY, Level, NgramIndex, compact_counts, count_items
from bigram.text.sources import IS_BREAK

IS_LINE_BREAK = IS_BREAK[:256]
_UNICODE_SIZE = 0x110000
BYTE_SPACE = 257        # the boundary, then one id per byte value (byte + 1)


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
            # New code points are numbered in the order they first appear (lmplz numbers
            # words that way, and modified Kneser-Ney reproduces it).
            new, first = np.unique(codepoints[missing], return_index=True)
            new = new[np.argsort(first, kind="stable")].astype(np.uint32)
            self._table[new] = np.arange(len(self), len(self) + len(new), dtype=np.int32)
            self.codepoints = np.concatenate([self.codepoints, new])
            ids = self._table[codepoints]
        return ids

    def tokens(self):
        """The token string of every id from 1 on."""
        return [chr(int(c)) for c in self.codepoints]

    def release_tables(self):
        """Nothing to let go: the table is the ids themselves (WordIds has caches)."""


class WordIds:
    """Compact ids for words (id 0 is the boundary), as CodepointIndex is for characters."""

    def __init__(self):
        from bigram.text.words import WordIndex

        self.index = WordIndex()

    def __len__(self):
        return len(self.index) + 1

    def ids(self, codepoints, starts, ends):
        """Ids (from 1) of the words at the spans, giving new words new ids; a word longer
        than bigram.text.words.MAX_WORD_CHARS raises WordTooLong."""
        from bigram.text.words import check_word_lengths

        check_word_lengths(codepoints, starts, ends)
        return self.index.ids(codepoints, starts, ends) + 1

    def ids_utf8(self, data, starts, ends):
        """ids() of words given as spans of UTF-8 bytes (see WordIndex.ids_utf8)."""
        from bigram.text.words import check_utf8_word_lengths

        check_utf8_word_lengths(data, starts, ends)
        return self.index.ids_utf8(data, starts, ends) + 1

    def tokens(self):
        """The token string of every id from 1 on."""
        return self.index.words()

    def release_tables(self):
        """Let the word lookup tables go until words are looked up again."""
        self.index.release_tables()


class SplitTokens:
    """Items of one split as compact ids (int32) and offsets, block by block."""

    def __init__(self):
        self.parts = []
        self.items = 0

    def add(self, ids, offsets):
        self.parts.append((np.asarray(ids, dtype=np.int32), np.diff(offsets)))
        self.items += len(offsets) - 1

    def arrays(self):
        """All ids, and item offsets (the blocks' arrays become one, kept in their place)."""
        if not self.parts:
            return np.zeros(0, np.int32), np.zeros(1, np.int64)
        if len(self.parts) > 1:
            ids = np.concatenate([i for i, _ in self.parts])
            lengths = np.concatenate([n for _, n in self.parts])
            self.parts = [(ids, lengths)]
        ids, lengths = self.parts[0]
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return ids, offsets


class SparsePairs:
    """Bigram counts of one split as sorted pair keys (first id << 21 | second id, in
    compact-id space) with counts: what a block of non-ASCII text adds, kept as what was
    seen rather than as its tokens."""

    def __init__(self):
        self.keys, self.counts, self.pending = [], [], 0

    def add(self, ids, offsets):
        sequence = token_sequence(np.asarray(ids, dtype=np.int64), offsets)
        keys, counts = np.unique((sequence[:-1] << 21) | sequence[1:], return_counts=True)
        self.keys.append(keys)
        self.counts.append(counts)
        self.pending += len(keys)
        if self.pending > 1 << 22:
            self.compact()

    def compact(self):
        """The pairs so far as one sorted, summed array."""
        if len(self.keys) > 1:
            keys, inverse = np.unique(np.concatenate(self.keys), return_inverse=True)
            counts = np.bincount(inverse.ravel(), weights=np.concatenate(self.counts),
                                 minlength=len(keys)).astype(np.int64)
            self.keys, self.counts = [keys], [counts]
        self.pending = 0
        if not self.keys:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return self.keys[0], self.counts[0]


class TokenCollector:
    """Token ids of every split, and the bigram byte-pair counts of plain ASCII blocks."""

    def __init__(self, unit="char", byte_pairs=False, skip_symbols=False):
        self.unit = unit
        self.skip_symbols = skip_symbols  # read <s>, </s>, <unk> as spaces, as lmplz's option
        self.literal_unk = 0              # the word <unk> met in the text (it is kept)
        self.index = CodepointIndex() if unit == "char" else WordIds()
        self.splits = {}
        self.byte_pairs = byte_pairs      # count plain ASCII blocks from their byte pairs
        self.pair_counts = {}             # split -> (257, 257) counts in byte space
        self.sparse_pairs = {}            # split -> SparsePairs of the other blocks
        self.pair_items = {}

    def items(self, split):
        """Items of a split read so far."""
        return self.splits.get(split, SplitTokens()).items + self.pair_items.get(split, 0)

    def add_items(self, chars, offsets, split, source="the training text", utf8=False,
                  words=None):
        """Items given as code points and offsets (from `source`, named in errors); with
        `utf8` (words only), as UTF-8 bytes and offsets in bytes (Block.item_utf8). `words`:
        the items' words already split, (starts, ends, word_offsets) as split_words gives
        them (then `offsets` is not needed)."""
        if self.unit == "char":
            assert not utf8
            ids = self.index.ids(chars)
            if self.byte_pairs:   # bigrams: count the block's pairs now, keep no tokens
                self.sparse_pairs.setdefault(split, SparsePairs()).add(ids, offsets)
                self.pair_items[split] = self.pair_items.get(split, 0) + len(offsets) - 1
                return
            self.splits.setdefault(split, SplitTokens()).add(ids, offsets)
            return
        from bigram.text.words import (
            SYMBOLS,
            WordTooLong,
            drop_words,
            split_words,
            words_equal_to,
        )

        starts, ends, word_offsets = split_words(chars, offsets) if words is None else words
        if self.skip_symbols:
            symbols = np.zeros(len(starts), dtype=bool)
            for symbol in SYMBOLS:
                symbols |= words_equal_to(chars, starts, ends, symbol)
            starts, ends, word_offsets = drop_words(starts, ends, word_offsets, symbols)
        else:
            self.literal_unk += int(words_equal_to(chars, starts, ends, "<unk>").sum())
        try:
            ids = (self.index.ids_utf8 if utf8 else self.index.ids)(chars, starts, ends)
        except WordTooLong as error:
            raise error.naming(source) from None
        self.splits.setdefault(split, SplitTokens()).add(ids, word_offsets)

    def add_plain_block(self, block, split, held_out=()):
        """Count every item of a plain ASCII block from its byte pairs, except `held_out`."""
        pairs = block.byte_pairs()
        present = pairs.sum(0) + pairs.sum(1)
        present[block.raw[[0, -1]]] += 1  # a one-byte block has no pairs, only its edges
        seen = np.flatnonzero(present)
        self.index.ids(seen[~IS_LINE_BREAK[seen]].astype(np.uint8))
        counts = byte_pairs_to_tokens(pairs, block.raw)
        if len(held_out):
            chars, offsets = block.item_chars(held_out)
            sequence = token_sequence(chars.astype(np.int64) + 1, offsets)
            counts -= np.bincount(sequence[:-1] * BYTE_SPACE + sequence[1:],
                                  minlength=BYTE_SPACE ** 2).reshape(BYTE_SPACE, BYTE_SPACE)
        total = self.pair_counts.get(split)
        self.pair_counts[split] = counts if total is None else total + counts
        self.pair_items[split] = self.pair_items.get(split, 0) + block.n_items - len(held_out)

    def tokens(self):
        """Every token seen (in id order, from id 1)."""
        return self.index.tokens()

    def _byte_ids(self, pairs, mapping):
        """Each byte-space id's token id (-1 for bytes never seen)."""
        byte_to_id = np.full(BYTE_SPACE, -1, dtype=np.int64)
        byte_to_id[0] = BOUNDARY
        known = np.flatnonzero(pairs.sum(0) + pairs.sum(1))
        known = known[known > 0]
        byte_to_id[known] = mapping[self.index.ids((known - 1).astype(np.uint8))]
        return byte_to_id

    def train_frequencies(self):
        """How often each compact id occurs in the training split (for vocabulary control)."""
        size = len(self.index)
        frequency = np.zeros(size, dtype=np.int64)
        if "train" in self.splits:
            ids, _ = self.splits["train"].arrays()
            frequency += np.bincount(ids, minlength=size)
        pairs = self.pair_counts.get("train")
        if pairs is not None:
            byte_count = pairs[:, 1:].sum(0)      # each character, counted as predicted
            used = np.flatnonzero(byte_count)
            frequency[self.index.ids(used.astype(np.uint8))] += byte_count[used]
        if "train" in self.sparse_pairs:
            keys, counts = self.sparse_pairs["train"].compact()
            frequency += np.bincount(keys & ((1 << 21) - 1), weights=counts,
                                     minlength=size).astype(np.int64)
            frequency[BOUNDARY] = 0
        return frequency

    def count(self, split, mapping, size, order, padding, consume=False):
        """The NgramIndex of a split, its compact ids renamed by `mapping` (-1: unknown).

        With consume, the ids are renamed in place and then let go (nothing will count
        this split again): no copy of the text's tokens is made.
        """
        tokens = self.splits.get(split, SplitTokens())
        if self.byte_pairs:   # every block was counted as pairs
            return self._pair_index(split, mapping, size, padding)
        ids, offsets = tokens.arrays()
        if consume:
            renamed = mapping.astype(np.int32)
            for start in range(0, len(ids), 1 << 20):   # in place, a slice at a time
                ids[start:start + (1 << 20)] = renamed[ids[start:start + (1 << 20)]]
            tokens.parts = []
        else:
            ids = mapping.astype(np.int32)[ids]
        index = count_items(ids, offsets, order, size, padding)
        del ids
        return_freed_memory()
        return index

    def _pair_index(self, split, mapping, size, padding):
        """The order-2 index of a split counted as byte pairs and sparse pairs."""
        rows, cols, counts = [], [], []
        pairs = self.pair_counts.get(split)
        if pairs is not None:
            byte_rows, byte_cols = np.nonzero(pairs)
            byte_ids = self._byte_ids(pairs, mapping)
            rows.append(byte_ids[byte_rows])
            cols.append(byte_ids[byte_cols])
            counts.append(pairs[byte_rows, byte_cols])
        if split in self.sparse_pairs:
            keys, count = self.sparse_pairs[split].compact()
            rows.append(mapping[keys >> 21])
            cols.append(mapping[keys & ((1 << 21) - 1)])
            counts.append(count)
        if not rows:
            return bigram_index(np.zeros(0, np.int64), np.zeros(0, np.int64),
                                np.zeros(0, np.int64), size, padding)
        return bigram_index(np.concatenate(rows), np.concatenate(cols),
                            np.concatenate(counts), size, padding)


def bigram_index(rows, cols, counts, size, padding="makemore"):
    """The order-2 NgramIndex of bigram counts given as (first token, next token, count)
    triples over a vocabulary of `size` tokens (repeats add up). At order 2 both paddings
    put one boundary before an item and one after, so the windows are the same."""
    keys = np.asarray(rows, dtype=np.int64) * size + cols
    unique, inverse = np.unique(keys, return_inverse=True)
    count = np.bincount(inverse.ravel(), weights=counts,
                        minlength=len(unique)).astype(np.int64)
    first = np.bincount(unique % size, weights=count, minlength=size).astype(np.int64)
    levels = [None, Level(np.arange(size, dtype=np.int64), np.zeros(size, np.int32),
                          compact_counts(first)),
              Level(unique, (unique % size).astype(np.int32), compact_counts(count))]
    return NgramIndex(2, size, levels, padding)


def token_sequence(ids, offsets):
    """Tokens of items with one shared boundary between neighbours and at both ends."""
    n_items = len(offsets) - 1
    sequence = np.zeros(len(ids) + n_items + 1, dtype=np.int64)
    is_char = np.ones(len(sequence), dtype=bool)
    is_char[offsets + np.arange(n_items + 1)] = False
    sequence[is_char] = ids
    return sequence


BYTE_IDS = np.where(IS_LINE_BREAK, BOUNDARY, np.arange(1, 257))   # each byte's id


def byte_pairs_to_tokens(pairs, raw):
    """Pair counts of a plain ASCII block in byte space (byte b is id b + 1, a line break
    the boundary 0) from its byte-pair counts.

    The pairs land shifted by one, then rows and columns of line breaks fold into the
    boundary's. Runs of breaks (blank lines, CRLF) become boundary-boundary pairs, which no
    item produces, so that cell is cleared; the block's own edges add the pair into its
    first byte and, when it ends without a newline, out of its last.
    """
    counts = np.zeros((BYTE_SPACE, BYTE_SPACE), dtype=np.int64)
    counts[1:, 1:] = pairs
    breaks = np.flatnonzero(IS_LINE_BREAK) + 1
    counts[0] += counts[breaks].sum(0)
    counts[breaks] = 0
    counts[:, 0] += counts[:, breaks].sum(1)
    counts[:, breaks] = 0
    if len(raw):
        counts[0, BYTE_IDS[raw[0]]] += 1
        if not IS_LINE_BREAK[raw[-1]]:
            counts[BYTE_IDS[raw[-1]], 0] += 1
    counts[0, 0] = 0
    return counts
