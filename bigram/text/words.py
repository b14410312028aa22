"""Words of items, split as KenLM's lmplz splits them, and compact ids for them, vectorised.

An item (a stripped, non-blank line) is split into words at runs of the bytes
lmplz treats as delimiters: NUL, tab, line feed, carriage return and space.
Every other character, other Unicode spaces included (U+00A0, U+3000, ...),
belongs to a word. The reader never leaves NUL or a line break inside an item,
so in practice words are separated by spaces, tabs and carriage returns.

Words get ids without a Python loop over tokens: each token is hashed to 64
bits by a polynomial over its code points, computed for a whole block at once
from prefix sums; a sorted array of the known hashes answers lookups with
`searchsorted`. Hashes are never trusted alone: every token is compared, code
point by code point, with the word its hash stands for, and a token whose hash
belongs to another word (a collision) is resolved by an exact dictionary.
"""

import threading
from dataclasses import dataclass

import numpy as np

from bigram.arrays import distinct, sort_with_positions
from bigram.errors import InputError

# lmplz's delimiters (lm/builder/corpus_count.cc), as code points.
DELIMITERS = (0x00, 0x09, 0x0A, 0x0D, 0x20)
_IS_DELIMITER = np.zeros(256, dtype=bool)
_IS_DELIMITER[list(DELIMITERS)] = True

# The polynomial hash: sum of (code point + 1) * BASE**(position in the token), modulo 2**64.
# Adding 1 keeps code point 0 from vanishing; an odd base has an inverse modulo 2**64,
# which shifts a prefix-sum difference back to the token's own start. Such hashes can be
# made to collide on purpose (Thue-Morse strings of a few thousand characters); the exact
# comparison keeps ids right, and only such words take the slower dictionary path.
_BASE = 0x9E3779B97F4A7C15
_INVERSE = pow(_BASE, -1, 1 << 64)
_HASH_BITS = 64
# Spans are hashed at most this many code points at a time, so the table of powers stays
# small (1 MiB: it lives as long as the process, a build's counting included) when a block
# or a whole vocabulary is hashed.
_WINDOW = 1 << 16


def delimiter_table():
    """Which bytes are lmplz's delimiters (a copy of the 256-entry table)."""
    return _IS_DELIMITER.copy()


def _delimiter_mask(codepoints):
    if codepoints.dtype == np.uint8:
        return _IS_DELIMITER[codepoints]
    return _IS_DELIMITER[np.minimum(codepoints, 0xFF)]


# Training refuses words longer than this. Such a "word" is a blob in the data (base64, a
# minified file, a line with no spaces), and it would be carried whole into the
# vocabulary, the model file and every ARPA line that names it. Evaluation only looks
# tokens up, so there a long token is just an unknown one.
MAX_WORD_CHARS = 4096


class WordTooLong(InputError):
    """A word of training text longer than MAX_WORD_CHARS."""

    def __init__(self, length, beginning, where="the training text"):
        self.length, self.beginning = length, beginning
        super().__init__(f"{where} has a word of {length:,} characters ({beginning!r}...); "
                         f"words are at most {MAX_WORD_CHARS:,} characters (they are split at "
                         "spaces and tabs)")

    def naming(self, where):
        """The same error, saying where the word is."""
        return WordTooLong(self.length, self.beginning, where)


# The words lmplz reserves: `--skip_symbols` reads them as whitespace.
SYMBOLS = ("<s>", "</s>", "<unk>")


def words_equal_to(codepoints, starts, ends, word):
    """Which of the words (spans of code points) are exactly `word`."""
    target = np.frombuffer(word.encode("utf-32-le"), dtype=np.uint32)
    same = (ends - starts) == len(target)
    for offset, code in enumerate(target.tolist()):   # a few characters, not the tokens
        at = np.flatnonzero(same)
        same[at] = codepoints[starts[at] + offset] == code
    return same


def drop_words(starts, ends, offsets, dropped):
    """The word spans without the `dropped` ones, and each item's new word offsets."""
    kept = ~dropped
    before = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum(kept, out=before[1:])
    return starts[kept], ends[kept], before[offsets]


def check_word_lengths(codepoints, starts, ends):
    """Raise WordTooLong for the first span longer than MAX_WORD_CHARS."""
    lengths = np.asarray(ends) - np.asarray(starts)
    if not len(lengths) or lengths.max() <= MAX_WORD_CHARS:
        return
    first = int(np.flatnonzero(lengths > MAX_WORD_CHARS)[0])
    start = int(starts[first])
    beginning = np.asarray(codepoints[start:start + 20], dtype="<u4").tobytes()
    raise WordTooLong(int(lengths[first]), beginning.decode("utf-32-le"))


def check_utf8_word_lengths(data, starts, ends):
    """check_word_lengths for spans of UTF-8 bytes (a character takes 1 to 4 of them)."""
    lengths = np.asarray(ends) - np.asarray(starts)
    if not len(lengths) or lengths.max() <= MAX_WORD_CHARS:
        return
    long = np.flatnonzero(lengths > MAX_WORD_CHARS)   # in bytes: the only candidates
    check_word_lengths(*decode_spans(data, starts[long], ends[long]))


def decode_spans(data, starts, ends):
    """Spans of UTF-8 bytes (each whole characters) as code points: (uint32 code points,
    starts, ends), the spans one after the other in the order given."""
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    lengths = ends - starts
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    filled = lengths > 0
    if not filled.any():
        empty = np.zeros(len(starts), dtype=np.int64)
        return np.zeros(0, dtype=np.uint32), empty, empty
    gathered = data[_positions(starts[filled], lengths[filled],
                               _index_dtype(int(offsets[-1]), len(data)))]
    codepoints = np.frombuffer(gathered.tobytes().decode("utf-8").encode("utf-32-le"),
                               dtype=np.uint32)
    # A character begins at every byte but the continuation bytes (10xxxxxx).
    begins = np.zeros(len(gathered) + 1, dtype=np.int64)
    np.cumsum((gathered & 0xC0) != 0x80, out=begins[1:])
    at = begins[offsets]
    return codepoints, at[:-1], at[1:]


def split_text_words(data):
    """(starts, ends) of every word of one text (bytes or code points): the runs of
    non-delimiters. As split_words with one item, from one comparison per byte: the
    delimiter mask, padded with a delimiter at each end, changes value exactly at the
    words' starts and ends, which alternate."""
    delimiter = np.ones(len(data) + 2, dtype=bool)
    delimiter[1:-1] = _delimiter_mask(data)
    edges = np.flatnonzero(delimiter[1:] != delimiter[:-1])
    return np.ascontiguousarray(edges[0::2]), np.ascontiguousarray(edges[1::2])


def split_words(codepoints, offsets):
    """Words of items given as concatenated code points, split at lmplz's delimiters.

    `codepoints` (uint8 or uint32) holds the items one after the other and
    `offsets` (n_items + 1) where each begins. Returns (starts, ends,
    word_offsets): the span of every word in `codepoints`, in order, and
    where each item's words begin in those arrays (n_items + 1, int64).
    """
    codepoints = np.asarray(codepoints)
    offsets = np.asarray(offsets, dtype=np.int64)
    size = len(codepoints)
    if size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(len(offsets), dtype=np.int64)
    inside = ~_delimiter_mask(codepoints)
    item_edge = np.zeros(size + 1, dtype=bool)
    item_edge[offsets] = True
    # A word starts at a word character after a delimiter or at an item's start,
    # and ends before a delimiter or at an item's end.
    opens = np.empty(size, dtype=bool)
    opens[0] = True
    np.logical_not(inside[:-1], out=opens[1:])
    opens |= item_edge[:-1]
    opens &= inside
    closes = np.empty(size, dtype=bool)
    closes[-1] = True
    np.logical_not(inside[1:], out=closes[:-1])
    closes |= item_edge[1:]
    closes &= inside
    starts = np.flatnonzero(opens)
    ends = np.flatnonzero(closes) + 1
    word_offsets = np.searchsorted(starts, offsets).astype(np.int64)
    return starts.astype(np.int64), ends.astype(np.int64), word_offsets


class _Powers:
    """BASE**k and BASE**-k modulo 2**64 for k below a length that grows on demand."""

    def __init__(self):
        self.tables = (np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64))
        self._lock = threading.Lock()   # scoring threads share it

    def up_to(self, length):
        """(forward, inverse), each at least `length` long."""
        tables = self.tables
        if len(tables[0]) >= length:
            return tables
        with self._lock:
            forward, inverse = self.tables
            while len(forward) < length:
                have = len(forward)
                # Doubling: the powers from `have` on are the first `have` times BASE**have.
                step = np.uint64(pow(_BASE, have, 1 << 64))
                back = np.uint64(pow(_INVERSE, have, 1 << 64))
                forward = np.concatenate([forward, forward * step])
                inverse = np.concatenate([inverse, inverse * back])
            self.tables = (forward, inverse)   # both at once
            return self.tables


_POWERS = _Powers()


def word_hashes(codepoints, starts, ends, bits=_HASH_BITS):
    """64-bit polynomial hashes of the spans [starts, ends) of `codepoints` (uint64).

    Equal words hash equally wherever they lie; `bits` below 64 keeps only the
    low bits (tests use it to force collisions).
    """
    hashes = np.zeros(len(starts), dtype=np.uint64)
    if not len(starts):
        return hashes
    lengths = ends - starts
    total = int(lengths.sum())
    if 0 < 2 * total < int(ends.max()) - int(starts.min()):
        # Spans scattered over a larger text (the long words of a block): hashing runs over
        # every code point between them, so the spans are gathered first. A word hashes
        # the same wherever it lies.
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        filled = lengths > 0
        gathered = codepoints[_positions(starts[filled], lengths[filled],
                                         _index_dtype(total, len(codepoints)))]
        return word_hashes(gathered, offsets[:-1], offsets[1:], bits)
    order = np.argsort(starts, kind="stable") if np.any(starts[1:] < starts[:-1]) else None
    sorted_starts = starts if order is None else starts[order]
    sorted_ends = ends if order is None else ends[order]
    first = 0
    while first < len(sorted_starts):
        # Take as many spans as fit in one window (at least one).
        lo = sorted_starts[first]
        last = max(first + 1, int(np.searchsorted(sorted_ends, lo + _WINDOW, side="right")))
        last = min(last, len(sorted_starts))
        hi = int(sorted_ends[first:last].max())
        chunk = slice(first, last)
        values = _span_hashes(codepoints[lo:hi], sorted_starts[chunk] - lo, sorted_ends[chunk] - lo)
        if order is None:
            hashes[chunk] = values
        else:
            hashes[order[chunk]] = values
        first = last
    if bits < 64:
        hashes &= np.uint64((1 << bits) - 1)
    return hashes


def _span_hashes(codepoints, starts, ends):
    forward, inverse = _POWERS.up_to(len(codepoints) + 1)
    weighted = codepoints.astype(np.uint64)
    weighted += np.uint64(1)
    weighted *= forward[:len(codepoints)]
    prefix = np.zeros(len(codepoints) + 1, dtype=np.uint64)
    np.cumsum(weighted, out=prefix[1:])  # wraps modulo 2**64, as intended
    return (prefix[ends] - prefix[starts]) * inverse[starts]


def same_words(codepoints, starts, ends, other, other_starts, other_ends):
    """For each i, whether codepoints[starts[i]:ends[i]] equals other[other_starts[i]:other_ends[i]]."""
    lengths = ends - starts
    same = lengths == other_ends - other_starts
    pairs = np.flatnonzero(same & (lengths > 0))
    same[pairs] = same_spans(codepoints, starts[pairs], lengths[pairs], other,
                             other_starts[pairs])
    return same


class _HashBuckets:
    """The claimed hashes in an open-addressing table of about eight slots per hash: a
    lookup is one gather in a table small enough to stay in cache (a binary search takes
    twenty steps). Home slots are the top bits of the hash after a mixing step (the
    polynomial hashes of similar short words share their top bits); keys sorted by home
    slot are placed (linear probing) all at once by a cumulative maximum, as in
    lookup.HashTable, which packs key and row into one int64: 64-bit hashes leave no
    room for that, so ids sit in an array of their own here."""

    def __init__(self, hashes, ids):
        self.hashes = hashes
        self.shift = np.uint64(64 - max((8 * len(hashes)).bit_length(), 1))
        home, order = sort_with_positions(self.home(hashes), in_place=True)
        step = np.arange(len(hashes), dtype=np.int64)
        place = np.maximum.accumulate(home - step) + step if len(hashes) else step
        size = max(int(place[-1]) + 2 if len(place) else 1, (1 << (64 - int(self.shift))) + 1)
        self.slots = np.zeros(size, dtype=np.uint64)
        self.slots[place] = hashes[order]
        self.ids = np.full(size, -1, dtype=np.int64)
        self.ids[place] = ids[order]
        self.displaced = bool(len(place)) and bool((place != home).any())

    def home(self, hashes):
        mixed = hashes ^ (hashes >> np.uint64(31))
        mixed *= np.uint64(0xBF58476D1CE4E5B9)
        mixed >>= self.shift
        return mixed.view(np.int64)

    def find(self, queries):
        """The id standing for each query hash; -1 where none does."""
        if not len(self.hashes):
            return np.full(len(queries), -1, dtype=np.int64)
        slot = self.home(queries)
        hit = self.slots[slot] == queries
        out = np.where(hit, self.ids[slot], -1)
        if not self.displaced:
            return out
        # A hash placed past its home: walk on while slots hold hashes (ids >= 0).
        at = np.flatnonzero(~hit & (self.ids[slot] >= 0))
        slot = slot[at] + 1
        while len(at):
            hit = self.slots[slot] == queries[at]
            out[at[hit]] = self.ids[slot[hit]]
            going = ~hit & (self.ids[slot] >= 0)
            at, slot = at[going], slot[going] + 1
        return out


# Masks of the low 1..8 bytes of a uint64.
_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [(1 << 64) - 1],
                      dtype=np.uint64)


def _windows(values):
    """Every 8 bytes of `values` as a uint64, one starting at each element (unaligned
    reads of a zero-padded copy): element i's window holds elements i, i+1, ... ."""
    raw = np.concatenate([np.ascontiguousarray(values).view(np.uint8),
                          np.zeros(8, dtype=np.uint8)])
    return np.ndarray((len(values),), dtype=np.uint64, buffer=raw,
                      strides=(values.dtype.itemsize,))


def chunk_hashes(windows, starts, lengths):
    """64-bit hashes of byte spans from their eight-byte windows (`_windows` of the text):
    the length, then each eight bytes of the span in turn, mixed in (multiply, shift).
    Reads only the spans' own bytes, a step per eight of them."""
    hashes = lengths.astype(np.uint64) * _MULTIPLY
    at = np.arange(len(starts))
    done = 0
    while len(at):
        left = lengths[at] - done
        chunk = windows[starts[at] + done] & _LOW_BYTES[np.minimum(left, 8)]
        mixed = hashes[at] ^ chunk
        mixed *= _MULTIPLY
        mixed ^= mixed >> np.uint64(29)
        hashes[at] = mixed
        done += 8
        at = at[left > 8]
    return hashes


_MULTIPLY = np.uint64(0x94D049BB133111EB)


def increasing_spans(data, starts, ends):
    """Whether the byte spans [starts, ends) of `data` (uint8; no span holds a NUL byte)
    are in strictly increasing byte order, each after the one before. For UTF-8 that is
    code-point order, Python's order of the decoded strings, so a vocabulary stored as
    UTF-8 is checked sorted and distinct without a string per word: every span's first
    eight bytes as one big-endian integer, neighbours compared at once; only pairs that
    agree so far go on, eight bytes a step."""
    if len(starts) < 2:
        return True
    windows = _windows(data)
    last = len(data) - 1
    lengths = ends - starts

    def keys(spans, done):
        """Bytes done .. done + 7 of the spans, those past a span's end as 0 (below every
        byte a word holds, so a word that begins the next comes first, as in Python)."""
        left = np.clip(lengths[spans] - done, 0, 8)
        out = windows[np.minimum(starts[spans] + done, last)]
        out &= _LOW_BYTES[left]
        return out.byteswap(inplace=True)

    # The first step, for every span: written out to allocate as little as it can (fresh
    # pages cost more than the arithmetic here).
    heads = windows[np.minimum(starts, last)]
    heads &= _LOW_BYTES[np.minimum(lengths, 8)]
    heads.byteswap(inplace=True)
    if (heads[:-1] > heads[1:]).any():
        return False
    at = np.flatnonzero(heads[:-1] == heads[1:])
    done = 0
    while len(at):
        # Tied so far. A word that ends within these eight bytes is equal to the next if
        # that ends too, else the next's beginning (in order).
        ended = lengths[at] - done <= 8
        if (ended & (lengths[at + 1] - done <= 8)).any():
            return False
        at = at[~ended]
        done += 8
        mine, theirs = keys(at, done), keys(at + 1, done)
        if (mine > theirs).any():
            return False
        at = at[mine == theirs]
    return True


def same_spans(codepoints, starts, lengths, other, other_starts):
    """For each i, whether codepoints[starts[i]:][:lengths[i]] equals
    other[other_starts[i]:][:lengths[i]]: eight bytes per step, all spans at once."""
    if not len(starts):
        return np.ones(0, dtype=bool)
    # uint8 text is pure ASCII (bigram keeps other text as uint32 code points): compared
    # as bytes, with the other side's code points past ASCII made a byte it never holds.
    kind = np.uint8 if codepoints.dtype == np.uint8 else np.uint32
    item = np.dtype(kind).itemsize
    if codepoints.dtype != kind:
        codepoints = codepoints.astype(kind)
    if other.dtype != kind:
        other = np.where(other < 0x80, other, 0xFF).astype(kind) if kind == np.uint8 \
            else other.astype(kind)
    mine, theirs = _windows(codepoints), _windows(other)
    per = 8 // item
    # The first eight bytes of every span at once; longer spans go on, a step at a time.
    chunk = _LOW_BYTES[np.minimum(lengths, per) * item]
    same = ((mine[starts] ^ theirs[other_starts]) & chunk) == 0
    at = np.flatnonzero(same & (lengths > per))
    done = per
    while len(at):
        left = lengths[at] - done
        chunk = _LOW_BYTES[np.minimum(left, per) * item]
        differ = ((mine[starts[at] + done] ^ theirs[other_starts[at] + done]) & chunk) != 0
        same[at[differ]] = False
        at = at[~differ & (left > per)]
        done += per
    return same


def _index_dtype(*sizes):
    # int32 indices halve the memory traffic of the gathers, which dominate here.
    return np.int32 if max(sizes) < 1 << 31 else np.int64


def _positions(starts, lengths, dtype=np.int64):
    """The index of every code point of the spans (all non-empty), concatenated."""
    steps = np.ones(int(lengths.sum()), dtype=dtype)
    heads = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=heads[1:])
    # Each span jumps from the previous span's last position to its own start.
    steps[heads[0]] = starts[0]
    steps[heads[1:]] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
    return np.cumsum(steps, dtype=dtype)


def _gather(codepoints, starts, ends):
    """The spans' code points concatenated (uint32), and their offsets."""
    lengths = ends - starts
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    filled = lengths > 0
    if not filled.any():
        return np.zeros(0, dtype=np.uint32), offsets
    index = _positions(starts[filled], lengths[filled],
                       _index_dtype(int(offsets[-1]), len(codepoints)))
    return codepoints[index].astype(np.uint32), offsets


def _decoded_words(text, starts, ends):
    """Words given as spans of UTF-8 bytes, as (code points, starts, ends): laid end to end
    with a line feed between them (no word holds one) and decoded in one go."""
    chars, offsets = _gather(text, starts, ends)
    joined = np.insert(chars.astype(np.uint8), offsets[1:-1], 0x0A)
    codepoints = np.frombuffer(joined.tobytes().decode("utf-8").encode("utf-32-le"),
                               dtype=np.uint32)
    breaks = np.flatnonzero(codepoints == 0x0A)
    return (codepoints, np.concatenate([[0], breaks + 1]).astype(np.int64),
            np.concatenate([breaks, [len(codepoints)]]).astype(np.int64))


def _strings(codepoints, starts, ends):
    """The spans as Python strings (for the few words that need one)."""
    chars, offsets = _gather(codepoints, starts, ends)
    text = chars.astype("<u4").tobytes().decode("utf-32-le", errors="surrogatepass")
    return [text[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]


def _codepoints_of(words):
    """Code points of a list of strings, concatenated (uint32), and their offsets."""
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    offsets = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = "".join(words).encode("utf-32-le", errors="surrogatepass")
    return np.frombuffer(data, dtype=np.uint32), offsets


class _GrowingArray:
    """A 1-D numpy array that is appended to, with amortised doubling."""

    def __init__(self, dtype, initial=()):
        self._data = np.zeros(16, dtype=dtype)
        self._size = 0
        self.extend(np.asarray(initial, dtype=dtype))

    @classmethod
    def adopting(cls, values):
        """The array holding `values` (a new 1-D array its caller gives up), not copied."""
        grown = cls(values.dtype)
        grown._data, grown._size = values, len(values)
        return grown

    def extend(self, values):
        """Append `values` at the end."""
        need = self._size + len(values)
        if need > len(self._data):
            grown = np.zeros(max(need, 2 * len(self._data)), dtype=self._data.dtype)
            grown[:self._size] = self._data[:self._size]
            self._data = grown
        self._data[self._size:need] = values
        self._size = need

    @property
    def values(self):
        """The array's contents (a view: valid until the next `extend`)."""
        return self._data[:self._size]


class WordIndex:
    """Compact ids for words (0, 1, 2, ...) in order of first appearance, grown block by block.

    Holds each word's code points once, the sorted hashes of the words that
    stand for their hash, and a dictionary for the rare words whose hash
    another word had first. `hash_bits` narrows the hash (tests force
    collisions with it); results never depend on it, only speed does.
    """

    def __init__(self, hash_bits=_HASH_BITS):
        self.hash_bits = int(hash_bits)
        self._hashes = np.zeros(0, dtype=np.uint64)     # sorted
        self._hash_ids = np.zeros(0, dtype=np.int64)    # the word each hash stands for
        self._chars = _GrowingArray(np.uint32)          # every word's code points, by id
        # The same as bytes, those past ASCII as 0xFF (which no ASCII byte equals): what
        # words read from bytes are compared with, made once rather than per lookup.
        self._narrow = _GrowingArray(np.uint8)
        self._offsets = _GrowingArray(np.int64, [0])
        self._collided = {}                              # word -> id, when its hash is taken
        self._stored = False        # the hashes came from a file (from_joined)
        self._tables_lock = threading.Lock()   # scoring threads share the lookup tables

    @classmethod
    def from_words(cls, words, hash_bits=_HASH_BITS):
        """The index of a list of distinct words, whose ids are their positions in the list."""
        index = cls(hash_bits)
        chars, offsets = _codepoints_of(list(words))
        starts, ends = offsets[:-1], offsets[1:]
        # The ids are known (the positions): no matching, one sort of the hashes. In each
        # group of words sharing a hash the first stands for it (as ids() would choose)
        # and the others are found by their strings; equal words are refused.
        hashes = word_hashes(chars, starts, ends, hash_bits)
        order = np.argsort(hashes, kind="stable")
        ranked = hashes[order]
        stands = np.ones(len(order), dtype=bool)
        np.not_equal(ranked[1:], ranked[:-1], out=stands[1:])
        index._store((chars, offsets))
        index._hashes, index._hash_ids = ranked[stands], order[stands]
        others = np.flatnonzero(~stands)
        if len(others):
            standing = order[np.maximum.accumulate(np.where(stands, np.arange(len(order)), 0))]
            ids, firsts = order[others], standing[others]
            strings = _strings(chars, starts[ids], ends[ids])
            if len(set(strings)) != len(strings) or any(
                    same_words(chars, starts[ids], ends[ids], chars, starts[firsts],
                               ends[firsts])):
                raise ValueError("the words of a vocabulary must be distinct")
            index._collided = dict(zip(strings, ids.tolist()))
        return index

    @classmethod
    def from_joined(cls, text, hashes, hash_ids, collided, hash_bits=_HASH_BITS):
        """The index of words given as one string, joined by line feeds (distinct and
        non-empty, none holding a line feed; ids their positions), whose hashes were
        computed before and stored (a query file's, mapped): `hashes` the sorted hashes the
        words stand for, `hash_ids` the word standing for each, `collided` the ids of the
        words whose hash an earlier word has. Nothing is hashed or sorted here, and no
        Python string is made per word: the code points are taken from the string at
        once. A batch of fewer tokens than a quarter of the words is looked up by a binary
        search in the stored hashes; the first larger batch makes the lookup tables, as
        from_words' index does, so a few lines cost what they read, not what the
        vocabulary holds. The stored hashes are trusted only to name a candidate: every
        token is compared with its candidate's code points, so a damaged table loses
        words, never mixes them up. `hash_bits` must be the one the hashes were made
        with."""
        index = cls(hash_bits)
        if text.isascii():
            codepoints = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        else:
            codepoints = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"),
                                       dtype=np.uint32)
        breaks = np.flatnonzero(codepoints == 0x0A) if text else np.zeros(0, np.int64)
        count = len(breaks) + 1 if text else 0
        kept = codepoints != 0x0A
        chars = codepoints[kept]
        # Word i starts after i line feeds: its offset among the kept code points is its
        # position less i.
        offsets = np.zeros(count + 1, dtype=np.int64)
        if count:
            offsets[1:-1] = breaks - np.arange(len(breaks))
            offsets[-1] = len(chars)
        # The arrays are the index's own (adopted, not copied into the growing ones).
        wide = chars.astype(np.uint32)
        index._chars = _GrowingArray.adopting(wide)
        index._narrow = _GrowingArray.adopting(
            chars if codepoints.dtype == np.uint8 else
            np.where(wide < 0x80, wide, 0xFF).astype(np.uint8))
        index._offsets = _GrowingArray.adopting(offsets)
        index._hashes, index._hash_ids = hashes, hash_ids
        collided = np.asarray(collided, dtype=np.int64)
        index._collided = dict(zip(_strings(index._chars.values, offsets[collided],
                                            offsets[collided + 1]), collided.tolist()))
        index._stored = True
        return index

    def stored_form(self):
        """(hashes, hash_ids, collided ids): what from_joined needs besides the words."""
        return self._hashes, self._hash_ids, sorted(self._collided.values())

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["_tables_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._tables_lock = threading.Lock()

    def __len__(self):
        return len(self._offsets.values) - 1

    def words(self):
        """Every word, in id order."""
        chars, offsets = self._chars.values, self._offsets.values
        text = chars.astype("<u4").tobytes().decode("utf-32-le", errors="surrogatepass")
        return [text[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]

    def positions(self, vocabulary_words):
        """Each id's index in `vocabulary_words` (a list of strings holding every word seen)."""
        where = {word: i for i, word in enumerate(vocabulary_words)}
        positions = np.zeros(len(self), dtype=np.int64)
        for i, word in enumerate(self.words()):
            if word not in where:
                raise ValueError(f"the vocabulary lacks the word {word!r}")
            positions[i] = where[word]
        return positions

    def find(self, codepoints, starts, ends):
        """Ids of the words at the spans [starts, ends) of `codepoints`; -1 for unknown words.

        In ASCII text a word of at most eight bytes is its own key (its bytes as one
        integer), looked up exactly in a table of the vocabulary's short words. Other
        words go by their hash, which names at most one candidate (the word standing for
        it); the word is compared with it eight bytes at a time, and only a word that
        differs from its candidate (a hash collision) is looked up by its string.
        """
        return self._find(*_spans(codepoints, starts, ends))

    def find_utf8(self, text, starts, ends):
        """find() for words given as spans of UTF-8 bytes (uint8; split at ASCII delimiters, so
        every span holds whole characters). A word of ASCII bytes is its own code points;
        the few words holding other characters are decoded together and looked up as
        code points."""
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        high = np.flatnonzero(text >= 0x80)
        if not len(high) or not len(starts):
            return self._find(text, starts, ends)
        # The word holding each byte past ASCII (one outside every word belongs to none).
        word = np.searchsorted(starts, high, side="right") - 1
        inside = word >= 0
        inside[inside] = high[inside] < ends[word[inside]]
        word = word[inside]
        wide = np.zeros(len(starts), dtype=bool)
        wide[word] = True
        ids = np.empty(len(starts), dtype=np.int64)
        narrow = np.flatnonzero(~wide)
        ids[narrow] = self._find(text, starts[narrow], ends[narrow])
        wide = np.flatnonzero(wide)
        if len(wide):
            ids[wide] = self._find(*_decoded_words(text, starts[wide], ends[wide]))
        return ids

    def _find(self, codepoints, starts, ends, stale=False):
        """find(); with `stale`, the lookup tables may lack the words added since they
        were last built (those words then read as -1: callers match them again)."""
        if not len(starts):
            return np.zeros(0, dtype=np.int64)
        if self._searching(len(starts)):
            return self._find_hashed(codepoints, starts, ends)
        lengths = ends - starts
        ids = np.empty(len(starts), dtype=np.int64)
        # Code points past ASCII become 0xFF, a byte no short key holds: such words take the
        # hashed road below, as do words longer than eight.
        narrow = codepoints if codepoints.dtype == np.uint8 else \
            np.where(codepoints < 0x80, codepoints, 0xFF).astype(np.uint8)
        short = np.flatnonzero(lengths <= 8)
        windows = _windows(narrow)
        packed = windows[starts[short]] & _LOW_BYTES[lengths[short]]
        if narrow is not codepoints:
            ascii_word = (packed & np.uint64(0x8080808080808080)) == 0
            short, packed = short[ascii_word], packed[ascii_word]
        ids[short] = self._short_words(stale).find(packed)
        hashed = np.ones(len(starts), dtype=bool)
        hashed[short] = False
        hashed = np.flatnonzero(hashed)
        if not len(hashed):
            return ids
        long_words = self._long_words(stale) if narrow is codepoints else None
        if long_words is not None:
            # ASCII text: hashed eight bytes at a time, only the words' own bytes read.
            ids[hashed] = self._find_long(long_words, windows, codepoints, starts[hashed],
                                          lengths[hashed])
        else:
            ids[hashed] = self._find_hashed(codepoints, starts[hashed], ends[hashed], stale)
        return ids

    def _long_words(self, stale=False):
        """The words of more than eight ASCII characters, by their chunk_hashes; None when
        two of them share one (then every word goes by its polynomial hash)."""
        return self._table("_long_cache", stale, self._make_long_words)

    def _make_long_words(self):
        ids, chars, offsets, lengths = self._ascii_words(short=False)
        text, starts = _gather(chars, offsets[ids], offsets[ids + 1])
        hashes = chunk_hashes(_windows(text.astype(np.uint8)), starts[:-1], lengths[ids])
        ranked = np.sort(hashes)
        if (ranked[1:] == ranked[:-1]).any():
            return None
        return _HashBuckets(hashes, ids.astype(np.int64))

    def _find_long(self, table, windows, text, starts, lengths):
        """Ids of ASCII words of more than eight bytes (spans of uint8 text): the word with
        their chunk hash, if it is the same word (-1 otherwise: no other word of the
        vocabulary has that hash)."""
        ids = table.find(chunk_hashes(windows, starts, lengths))
        at = np.flatnonzero(ids >= 0)
        offsets = self._offsets.values
        fits = lengths[at] == offsets[ids[at] + 1] - offsets[ids[at]]
        same = np.zeros(len(at), dtype=bool)
        same[fits] = same_spans(text, starts[at[fits]], lengths[at[fits]], self._chars.values,
                                offsets[ids[at[fits]]])
        ids[at[~same]] = -1
        return ids

    def _searching(self, tokens):
        """Whether `tokens` lookups go by binary search in stored hashes (from_joined), the
        lookup tables not yet made: cheaper than making them while the tokens are few."""
        return self._stored and 4 * tokens < len(self._hashes) and \
            getattr(self, "_bucket_cache", None) is None

    def _short_words(self, stale=False):
        """The words of at most eight ASCII bytes, keyed by those bytes (little-endian).
        With `stale`, a table made before the last few words were added is good enough
        until the vocabulary has grown by an eighth (the table is made from every word)."""
        return self._table("_short_cache", stale, self._make_short_words)

    def _make_short_words(self):
        # All words at once: those of at most 8 code points, all below 128, packed.
        ids, chars, offsets, lengths = self._ascii_words(short=True)
        keys = np.zeros(len(ids), dtype=np.uint64)
        for j in range(8):
            has = np.flatnonzero(lengths[ids] > j)
            keys[has] |= chars[offsets[ids[has]] + j].astype(np.uint64) << np.uint64(8 * j)
        return _HashBuckets(keys, ids.astype(np.int64))

    def _table(self, name, stale, make):
        """The lookup table cached as `name`, made by make() from every word: once, under
        the lock (scoring threads share it); again after words were added (with `stale`,
        only once the vocabulary has grown by an eighth)."""
        with self._tables_lock:
            cache = getattr(self, name, None)
            if cache is None or (cache[0] != len(self)
                                 and not (stale and 8 * len(self) <= 9 * cache[0])):
                cache = (len(self), make())
                setattr(self, name, cache)
            return cache[1]

    def _ascii_words(self, short):
        """Ids of the words all of ASCII, of at most eight characters (`short`) or more;
        with every word's code points, offsets and lengths."""
        chars, offsets = self._chars.values, self._offsets.values
        lengths = np.diff(offsets)
        wide = np.zeros(len(chars) + 1, dtype=np.int64)
        np.cumsum(chars >= 128, out=wide[1:])
        fits = lengths <= 8 if short else lengths > 8
        return np.flatnonzero(fits & (wide[offsets[1:]] == wide[offsets[:-1]])), chars, \
            offsets, lengths

    def _find_hashed(self, codepoints, starts, ends, stale=False):
        hashes = word_hashes(codepoints, starts, ends, self.hash_bits)
        if self._searching(len(hashes)):
            where = np.minimum(np.searchsorted(self._hashes, hashes), len(self._hashes) - 1)
            ids = np.where(self._hashes[where] == hashes,
                           self._hash_ids[where].astype(np.int64), -1)
        else:
            ids = self._buckets(stale).find(hashes)
        at = np.flatnonzero(ids >= 0)
        offsets = self._offsets.values
        lengths = ends[at] - starts[at]
        fits = lengths == offsets[ids[at] + 1] - offsets[ids[at]]
        same = np.zeros(len(at), dtype=bool)
        words = self._narrow if codepoints.dtype == np.uint8 else self._chars
        same[fits] = same_spans(codepoints, starts[at[fits]], lengths[fits], words.values,
                                offsets[ids[at[fits]]])
        ids[at[~same]] = -1
        if self._collided:
            clashes = at[~same]
            for token, word in zip(clashes.tolist(),
                                   _strings(codepoints, starts[clashes], ends[clashes])):
                ids[token] = self._collided.get(word, -1)
        return ids

    def release_tables(self):
        """Let the lookup tables go (they are made again when words are looked up next):
        a build within a memory budget has read its text, and counts in their place."""
        with self._tables_lock:
            for name in ("_short_cache", "_long_cache", "_bucket_cache"):
                if hasattr(self, name):
                    setattr(self, name, None)

    def _buckets(self, stale=False):
        """The lookup structure of the claimed hashes (rebuilt after new words claim some;
        with `stale`, only once they have grown by an eighth)."""
        with self._tables_lock:
            cache = getattr(self, "_bucket_cache", None)
            if cache is None or (cache.hashes is not self._hashes and not (
                    stale and 8 * len(self._hashes) <= 9 * len(cache.hashes))):
                self._bucket_cache = cache = _HashBuckets(self._hashes, self._hash_ids)
            return cache

    def ids(self, codepoints, starts, ends):
        """Ids of the words at the spans [starts, ends), giving new words new ids.

        New words are numbered in the order in which they first appear in the
        spans (spans are read in the order given).

        Once words are known, most tokens of a block are: those are found exactly at
        once (`find`'s lookups, which may lag a few words behind), and only the rest are
        grouped and matched, which costs a sort of their hashes.
        """
        codepoints, starts, ends = _spans(codepoints, starts, ends)
        if not len(self):
            return self._new_ids(codepoints, starts, ends)
        ids = self._find(codepoints, starts, ends, stale=True)
        rest = np.flatnonzero(ids < 0)
        if len(rest):
            ids[rest] = self._new_ids(codepoints, starts[rest], ends[rest])
        return ids

    def ids_utf8(self, data, starts, ends):
        """ids() of spans of UTF-8 bytes (valid, each whole characters, in ascending order
        and not overlapping, as split_words finds them): the same ids as for the same words
        given as code points. Words of ASCII bytes are found in the bytes; only the others
        (and the words new to the index) are decoded to code points."""
        data, starts, ends = _spans(data, starts, ends)
        wide = np.zeros(len(starts), dtype=bool)
        high = np.flatnonzero(data >= 0x80)
        if len(high) and len(starts):
            # The span each byte past ASCII lies in (if any): the last to start at or before it.
            span = np.searchsorted(starts, high, side="right") - 1
            inside = (span >= 0) & (high < ends[np.maximum(span, 0)])
            wide[span[inside]] = True
        if not wide.any():
            return self.ids(data, starts, ends)
        ids = np.full(len(starts), -1, dtype=np.int64)
        if len(self):
            narrow = np.flatnonzero(~wide)
            ids[narrow] = self._find(data, starts[narrow], ends[narrow], stale=True)
            wide = np.flatnonzero(wide)
            ids[wide] = self._find(*decode_spans(data, starts[wide], ends[wide]), stale=True)
        rest = np.flatnonzero(ids < 0)
        if len(rest):
            # In token order, so that new words are numbered by first appearance as ids() does.
            ids[rest] = self._new_ids(*decode_spans(data, starts[rest], ends[rest]))
        return ids

    def _new_ids(self, codepoints, starts, ends):
        """ids() by matching every span: grouped by hash, checked code point by code point."""
        match = self._match(codepoints, starts, ends)
        ids = match.ids
        # A new word is labelled, until it has an id, by the first token that shows it.
        label = np.full(len(ids), -1, dtype=np.int64)
        fresh = match.fresh_group[match.group_of] & ~match.odd
        label[fresh] = match.first[match.group_of[fresh]]
        by_string = {}
        for token, word in zip(match.by_string.tolist(), match.strings):
            known = self._collided.get(word)
            if known is None:
                label[token] = by_string.setdefault(word, token)
            else:
                ids[token] = known
        new_tokens = np.flatnonzero(label >= 0)
        if not len(new_tokens):
            return ids
        firsts = distinct(label[new_tokens])   # token positions, so first-appearance order
        base = len(self)
        ids[new_tokens] = base + np.searchsorted(firsts, label[new_tokens])
        self._store(_gather(codepoints, starts[firsts], ends[firsts]))
        # Words first seen through a hash group stand for its hash; the others collided.
        stands = ~np.isin(firsts, np.fromiter(by_string.values(), dtype=np.int64))
        self._claim(match.hashes[firsts[stands]], base + np.flatnonzero(stands))
        for word, token in by_string.items():
            self._collided[word] = base + int(np.searchsorted(firsts, token))
        return ids

    def _match(self, codepoints, starts, ends):
        """Tokens matched against the index, checked code point by code point.

        Tokens are grouped by hash. Each token is compared with the first token
        of its group, and that token with the word its hash stands for, so the
        comparisons stay within the block except for one per distinct hash.
        """
        hashes = word_hashes(codepoints, starts, ends, self.hash_bits)
        count = len(hashes)
        groups, group_of = np.unique(hashes, return_inverse=True)
        group_of = group_of.reshape(-1)
        first = np.full(len(groups), count, dtype=np.int64)
        np.minimum.at(first, group_of, np.arange(count, dtype=np.int64))
        rep = first[group_of]
        odd = ~same_words(codepoints, starts, ends, codepoints, starts[rep], ends[rep])
        candidate = np.full(len(groups), -1, dtype=np.int64)
        if len(self._hashes) and len(groups):
            at = np.minimum(np.searchsorted(self._hashes, groups), len(self._hashes) - 1)
            found = self._hashes[at] == groups
            candidate[found] = self._hash_ids[at[found]]
        known = np.flatnonzero(candidate >= 0)
        agrees = self._is_word(codepoints, starts[first[known]], ends[first[known]],
                               candidate[known])
        group_id = np.full(len(groups), -1, dtype=np.int64)
        group_id[known[agrees]] = candidate[known[agrees]]
        clash_group = np.zeros(len(groups), dtype=bool)
        clash_group[known[~agrees]] = True
        ids = group_id[group_of]
        ids[odd] = -1
        # A token unlike its group's first may still be the word its hash stands for.
        odd_tokens = np.flatnonzero(odd)
        odd_tokens = odd_tokens[candidate[group_of[odd_tokens]] >= 0]
        odd_candidate = candidate[group_of[odd_tokens]]
        is_word = self._is_word(codepoints, starts[odd_tokens], ends[odd_tokens], odd_candidate)
        ids[odd_tokens[is_word]] = odd_candidate[is_word]
        # What is left is a word whose hash another word has: found by its string.
        by_string = np.flatnonzero((odd | clash_group[group_of]) & (ids < 0))
        return _Match(hashes, ids, group_of, first, candidate < 0, odd, by_string,
                      _strings(codepoints, starts[by_string], ends[by_string]))

    def _is_word(self, codepoints, starts, ends, ids):
        """Whether each span holds exactly the word with the given id."""
        offsets = self._offsets.values
        words = self._narrow if codepoints.dtype == np.uint8 else self._chars
        return same_words(codepoints, starts, ends, words.values, offsets[ids],
                          offsets[ids + 1])

    def _store(self, gathered):
        """Append new words' code points, in id order."""
        chars, offsets = gathered
        self._chars.extend(chars)
        self._narrow.extend(np.where(chars < 0x80, chars, 0xFF).astype(np.uint8))
        self._offsets.extend(self._offsets.values[-1] + offsets[1:])

    def _claim(self, hashes, ids):
        """Let words stand for their (distinct, unclaimed) hashes."""
        order = np.argsort(hashes)
        hashes, ids = hashes[order], ids[order]
        where = np.searchsorted(self._hashes, hashes)
        self._hashes = np.insert(self._hashes, where, hashes)
        self._hash_ids = np.insert(self._hash_ids, where, ids)


@dataclass
class _Match:
    """How the tokens of some spans relate to an index (see WordIndex._match)."""

    hashes: np.ndarray       # each token's hash
    ids: np.ndarray          # each token's id, -1 when unknown or still to be found by string
    group_of: np.ndarray     # each token's hash group
    first: np.ndarray        # each group's first token
    fresh_group: np.ndarray  # groups whose hash no word of the index stands for
    odd: np.ndarray          # tokens unlike the first token of their group
    by_string: np.ndarray    # tokens to be found by their string (hash collisions)
    strings: list            # those tokens' strings


def _spans(codepoints, starts, ends):
    return (np.asarray(codepoints), np.asarray(starts, dtype=np.int64),
            np.asarray(ends, dtype=np.int64))


def encode_words(codepoints, starts, ends, vocabulary_words):
    """Positions of the words at the spans in a fixed list of words, and the mask of unknown ones.

    Unknown words get -1. To encode many blocks with one vocabulary, build
    `WordIndex.from_words(vocabulary_words)` once and call its `find`.
    """
    ids = WordIndex.from_words(vocabulary_words).find(codepoints, starts, ends)
    return ids, ids < 0
