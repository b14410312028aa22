"""Every distinct window of 1..N tokens of a text, as a trie with suffix links.

Level k holds the distinct windows of k tokens. Its rows are sorted by the
integer key `parent * V + token`, where `parent` is the row of the window's
first k-1 tokens at level k-1 and `token` its last one (level 1 is simply
the V tokens, row = token id). So a window is found by walking its tokens
left to right, one `searchsorted` per level, and the next tokens of a context
are one contiguous run of the level above. Each row also points to its suffix
(the window without its oldest token) at level k-1, which is what back-off
and Kneser-Ney's continuation counts need. Keys never grow with V**k: a key
is below (rows of level k-1) * V.

Texts are items (names, lines, sentences) padded at the start:

* `makemore` padding (the lecture's): N-1 boundary tokens before the item's
  tokens and one after, so every prediction sees a full context;
* `sentence` padding (KenLM's): one `<s>` before and `</s>` after.

The boundary token (id 0) is both the start and the end; a window that
starts with it begins at the start of an item, one that ends with it at the
end. Positions after the padding are predicted. A level holds every window
that fits inside an item (so every context of a prediction is a row, and the
index is closed under taking prefixes and suffixes); `count` is how often
the window ends at a predicted position. A prediction is scored with its
whole window: the full N tokens, or with `sentence` padding fewer where the
item's start cuts it short (exactly the windows that begin with `<s>`), so
`final(k)`, how many predictions level k scores, follows from the counts.

Memory per window: an int64 key, an int32 suffix link and an int32 count
(int64 when a count needs it).
"""

from dataclasses import dataclass

import numpy as np

from bigram.arrays import distinct, sort_with_positions
from bigram.ngrams.lookup import sorted_search

BOUNDARY = 0
PADDINGS = ("makemore", "sentence")
MAX_ORDER = 32   # the index has no limit of its own; a ceiling on what files may claim
# Below this many possible keys a level is counted with one bincount instead of a sort.
DENSE_KEYS = 1 << 22


@dataclass
class Level:
    """The distinct windows of one length: sorted keys, suffix links, counts."""

    keys: np.ndarray      # (E,) int64 parent * V + token, sorted unique
    suffix: np.ndarray    # (E,) int32 row of the window minus its oldest token (level 1: 0)
    count: np.ndarray     # (E,) int32 or int64 occurrences ending at a predicted position

    def __len__(self):
        return len(self.keys)


def compact_counts(count):
    """Counts as int32 when they fit (half the memory), else int64."""
    count = np.asarray(count)
    if len(count) and int(count.max()) >= 1 << 31:
        return count.astype(np.int64, copy=False)
    return count.astype(np.int32, copy=False)


class NgramIndex:
    """Levels 1..order of windows, over a vocabulary of `size` tokens."""

    def __init__(self, order, size, levels, padding="makemore"):
        self.order, self.size, self.padding = int(order), int(size), padding
        self.levels = levels          # levels[k] for k = 1..order; levels[0] is None

    def level(self, k):
        """Level k (1 <= k <= order)."""
        return self.levels[k]

    def parent(self, k):
        """Row at level k-1 of each level-k window's first k-1 tokens (int32: a level holds
        fewer than 2**31 windows)."""
        keys = self.levels[k].keys
        out = np.empty(len(keys), dtype=np.int32)
        np.floor_divide(keys, self.size, out=out, casting="unsafe")
        return out

    def token(self, k):
        """The last token of each level-k window."""
        return self.levels[k].keys % self.size

    def find(self, k, parents, tokens):
        """Rows at level k of windows (parent row, last token); -1 where absent."""
        parents = np.asarray(parents, dtype=np.int64)
        tokens = np.asarray(tokens, dtype=np.int64)
        if k == 1:
            return np.where((tokens >= 0) & (tokens < self.size), tokens, -1)
        shape = np.broadcast(parents, tokens).shape
        parents = np.broadcast_to(parents, shape).ravel()
        tokens = np.broadcast_to(tokens, shape).ravel()
        out = np.full(len(parents), -1, dtype=np.int64)
        ok = np.flatnonzero((parents >= 0) & (tokens >= 0))
        keys = parents[ok] * self.size
        keys += tokens[ok]
        out[ok] = sorted_search(self.levels[k].keys, keys)
        return out.reshape(shape)

    def children(self, k, rows):
        """For rows at level k-1: (owner, child) pairs of every level-k window extending them."""
        rows = np.asarray(rows, dtype=np.int64)
        keys = self.levels[k].keys
        low = np.searchsorted(keys, rows * self.size)
        high = np.searchsorted(keys, (rows + 1) * self.size)
        lengths = high - low
        owner = np.repeat(np.arange(len(rows)), lengths)
        child = np.arange(lengths.sum()) + np.repeat(low - np.cumsum(lengths) + lengths, lengths)
        return owner, child

    def tokens(self, k, rows=None):
        """The tokens of level-k windows, oldest first: shape (len(rows), k)."""
        rows = np.arange(len(self.levels[k])) if rows is None else np.asarray(rows, np.int64)
        out = np.zeros((len(rows), k), dtype=np.int64)
        for j in range(k, 0, -1):
            keys = self.levels[j].keys[rows] if j > 1 else rows
            out[:, j - 1] = keys % self.size if j > 1 else keys
            rows = keys // self.size
        return out

    def __len__(self):
        return sum(len(self.levels[k]) for k in range(1, self.order + 1))

    def first_tokens(self, k):
        """The first token of every level-k window."""
        first = np.arange(self.size, dtype=np.int64)
        for j in range(2, k + 1):
            first = first[self.parent(j)]
        return first

    def final(self, k):
        """How many predictions each level-k window scores: all its occurrences at the top
        order; below it, with `sentence` padding, those of the windows that begin an item."""
        count = self.levels[k].count
        if k == self.order:
            return count
        if self.padding == "sentence" and k > 1:
            return np.where(self.first_tokens(k) == BOUNDARY, count, 0)
        return np.zeros(len(count), dtype=count.dtype)

    def predictions(self):
        """Predictions counted in the index."""
        return int(sum(int(self.final(k).sum(dtype=np.int64)) for k in range(1, self.order + 1)))

    def arrays(self, prefix):
        """The index as named arrays, for a model file."""
        out = {}
        for k in range(1, self.order + 1):
            level = self.levels[k]
            for name in ("keys", "suffix", "count"):
                out[f"{prefix}{k}_{name}"] = getattr(level, name)
        return out


def pads_for(padding, order):
    """Boundary tokens before each item."""
    return order - 1 if padding == "makemore" else 1


@dataclass
class PaddedText:
    """Items laid end to end with their padding, and where each position sits in its item."""

    stream: np.ndarray      # token ids (unknown tokens are -1)
    position: np.ndarray    # offset of each position from its item's first padding token
    starts: np.ndarray      # (items + 1,) where each padded item starts in the stream
    pads: int


def pad_items(tokens, offsets, pads):
    """The padded stream of items given as token ids (concatenated) and offsets (int32
    arrays: a stream holds fewer than 2**31 tokens, an item fewer than 2**31)."""
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    width = lengths + pads + 1
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(width, out=starts[1:])
    stream = np.full(starts[-1], BOUNDARY, dtype=np.int32)
    # Token i of item j lands at starts[j] + pads + (i - offsets[j]).
    shift = np.repeat(starts[:-1] + pads - offsets[:-1], lengths)
    shift += np.arange(len(shift))
    stream[shift] = tokens
    del shift
    position = np.arange(starts[-1], dtype=np.int32)
    position -= np.repeat(starts[:-1].astype(np.int32), width)
    return PaddedText(stream, position, starts, pads)


def _distinct(keys, valid, limit):
    """Sorted distinct keys among the valid positions, and each position's rank (int32, -1
    where not valid)."""
    if limit == 0 or not valid.any():
        return np.zeros(0, dtype=np.int64), np.full(len(keys), -1, dtype=np.int32)
    if limit <= DENSE_KEYS:
        present = np.zeros(limit, dtype=bool)
        present[keys[valid]] = True
        rank = np.cumsum(present, dtype=np.int32) - 1
        unique = np.flatnonzero(present)
        return unique, np.where(valid, rank[np.where(valid, keys, 0)], -1).astype(np.int32)
    # Positions that are not valid sort first under one key below every valid one.
    keys[~valid] = -1
    skip = len(keys) - int(np.count_nonzero(valid))
    chosen, order = sort_with_positions(keys + 1, in_place=True, skip=skip)   # all >= 0
    chosen -= 1
    new = np.empty(len(chosen), dtype=bool)
    new[:1] = True
    np.not_equal(chosen[1:], chosen[:-1], out=new[1:])
    unique = chosen[new]
    del chosen
    rank = np.cumsum(new, dtype=np.int32)
    rank -= 1
    del new
    rows = np.full(len(keys), -1, dtype=np.int32)
    rows[order] = rank
    return unique, rows


def index_text(text, order, size, padding="makemore", keep_rows=False):
    """The NgramIndex of a padded text and, with keep_rows, each position's row per level.

    rows[k] holds, for every position, the row at level k of the window of k
    tokens ending there (-1 where it does not fit in the item or holds an
    unknown token); without keep_rows only the index is returned (rows None).
    """
    stream, position = text.stream, text.position
    predicted = position >= text.pads
    levels, rows = [None], [None]
    current = np.where(stream >= 0, stream, -1).astype(np.int32)
    levels.append(_level(np.arange(size, dtype=np.int64), np.zeros(size, np.int32), current,
                         predicted, size))
    for k in range(2, order + 1):
        if keep_rows:
            rows.append(current)
        previous = current
        before = np.full(len(stream), -1, dtype=np.int64)
        before[1:] = previous[:-1]
        valid = (position >= k - 1) & (before >= 0) & (stream >= 0)
        before *= size
        before += stream
        unique, current = _distinct(before, valid, len(levels[k - 1]) * size)
        del before
        suffix = np.zeros(len(unique), dtype=np.int32)
        suffix[current[valid]] = previous[valid]
        del valid
        levels.append(_level(unique, suffix, current, predicted, len(unique)))
    if keep_rows:
        rows.append(current)
    return NgramIndex(order, size, levels, padding), (rows if keep_rows else None)


def _level(keys, suffix, rows, predicted, n_rows):
    counted = rows[(rows >= 0) & predicted]
    return Level(keys, suffix, compact_counts(np.bincount(counted, minlength=n_rows)))


def count_items(tokens, offsets, order, size, padding="makemore"):
    """The NgramIndex of items given as token ids and offsets.

    Small vocabularies, whose windows fit one 64-bit integer as base-(V + 1) digits,
    take the packed road (`count_packed`): same index, a fraction of the time and memory,
    because their windows repeat. With a large vocabulary almost every window is new,
    and deriving the levels from the packed windows would only add work.
    """
    tokens = np.asarray(tokens)
    if (size < PACKED_VOCABULARY and (size + 1) ** order < PACKED_LIMIT
            and not (len(tokens) and tokens.min() < 0)):
        return count_packed(tokens, offsets, order, size, padding)
    text = pad_items(tokens, offsets, pads_for(padding, order))
    return index_text(text, order, size, padding)[0]


PACKED_LIMIT = 1 << 62
PACKED_VOCABULARY = 4096   # tokens: characters of most scripts, not the words of a language
PACKED_CHUNK = 1 << 21   # tokens padded and packed at once


def _packed_windows(tokens, offsets, order, size, pads):
    """The distinct scored windows of items as base-(V + 1) integers, and their counts.

    A window is packed oldest token first, so the order of integers is that of the token
    sequences. Each item is laid out behind order-1 slots: the fill digit V (which no
    token has) and then its `pads` boundaries, so a window cut short by the item's start
    (sentence padding) begins with fill digits, and every window is a plain slice.
    """
    base = size + 1
    dtype = np.int32 if base ** order < 1 << 31 else np.int64
    found, counts = [], []
    lengths = np.diff(offsets)
    bounds = np.searchsorted(offsets, np.arange(0, offsets[-1] + PACKED_CHUNK, PACKED_CHUNK))
    bounds = distinct(np.append(np.minimum(bounds, len(lengths)), len(lengths)))
    lead = order - 1
    for first, last in zip(bounds[:-1], bounds[1:], strict=True):
        part = offsets[first:last + 1] - offsets[first]
        chunk = tokens[offsets[first]:offsets[last]]
        width = np.diff(part) + lead + 1
        starts = np.zeros(len(width) + 1, dtype=np.int64)
        np.cumsum(width, out=starts[1:])
        stream = np.full(starts[-1], size, dtype=dtype)
        for p in range(1, pads + 1):
            stream[starts[:-1] + lead - p] = BOUNDARY
        stream[starts[1:] - 1] = BOUNDARY
        shift = np.repeat(starts[:-1] + lead - part[:-1], np.diff(part))
        shift += np.arange(len(shift))
        stream[shift] = chunk
        del shift
        # The window ending at stream index lead + i, for every i.
        span = len(stream) - lead
        keys = stream[:span].copy()
        for j in range(1, order):
            keys *= base
            keys += stream[j:j + span]
        # Only windows ending at a token or an item's end are predictions, not those
        # ending in the slots in front of an item.
        slot = np.zeros(len(stream), dtype=bool)
        slot[(starts[:-1, None] + np.arange(lead)).ravel()] = True
        unique, count = np.unique(keys[~slot[lead:]], return_counts=True)
        found.append(unique.astype(np.int64))
        counts.append(count)
        del stream, keys, slot
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys = np.concatenate(found)
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique, np.bincount(inverse.ravel(), weights=np.concatenate(counts),
                               minlength=len(unique)).astype(np.int64)


def count_packed(tokens, offsets, order, size, padding="makemore"):
    """count_items for small vocabularies: distinct windows packed as integers, counted in
    bounded chunks, then every level derived from them (suffixes for the counts, prefixes
    for the contexts), then renumbered into the trie's keys."""
    base = size + 1
    offsets = np.asarray(offsets, dtype=np.int64)
    windows, counts = _packed_windows(tokens, offsets, order, size, pads_for(padding, order))
    # Length of each scored window: its digits after the leading fill digits.
    filled = np.zeros(len(windows), dtype=np.int64)
    for i in range(order):
        digit = (windows // base ** (order - 1 - i)) % base
        filled[(filled == i) & (digit == size)] += 1
    length = order - filled
    packed = {}   # level k: (sorted packed keys, counts at predicted positions)
    above = None
    for k in range(order, 0, -1):
        has = length >= k
        keys = windows[has] % base ** k
        weight = counts[has]
        if above is not None:   # prefixes of the level above: contexts, counted 0
            keys = np.concatenate([keys, above // base])
            weight = np.concatenate([weight, np.zeros(len(above), np.int64)])
        if k == 1:
            keys = np.concatenate([keys, np.arange(size)])
            weight = np.concatenate([weight, np.zeros(size, np.int64)])
        unique, inverse = np.unique(keys, return_inverse=True)
        packed[k] = (unique, np.bincount(inverse.ravel(), weights=weight,
                                         minlength=len(unique)).astype(np.int64))
        above = unique
    # Renumber: a level-k window's trie key is (row of its first k-1 tokens) * V + last.
    levels = [None, Level(np.arange(size, dtype=np.int64), np.zeros(size, np.int32),
                          compact_counts(packed[1][1]))]
    for k in range(2, order + 1):
        keys, count = packed[k]
        below = packed[k - 1][0]
        parent = np.searchsorted(below, keys // base)
        suffix = np.searchsorted(below, keys % base ** (k - 1)).astype(np.int32)
        levels.append(Level(parent * size + keys % base, suffix, compact_counts(count)))
    return NgramIndex(order, size, levels, padding)


def empty_index(order, size, padding="makemore"):
    """An index of no text (every token at level 1, nothing counted)."""
    return count_items(np.zeros(0, np.int64), np.zeros(1, np.int64), order, size, padding)


def map_rows(source, target):
    """For each level, the row in `target` of every window of `source` (-1 where absent).

    Both indexes must use the same token ids.
    """
    mapped = [None, np.where(np.arange(source.size) < target.size, np.arange(source.size), -1)]
    for k in range(2, min(source.order, target.order) + 1):
        parents = mapped[k - 1][source.parent(k)]
        mapped.append(target.find(k, parents, source.token(k)))
    return mapped


def merge_indexes(indexes, mappings, size):
    """One index whose counts are the sums of several, each renamed by its token mapping.

    `mappings[i][t]` is the merged id of token t of index i. Rows are unioned
    level by level, bottom up, so suffix links and keys stay consistent.
    """
    order, padding = indexes[0].order, indexes[0].padding
    row_maps = [np.asarray(m, dtype=np.int64) for m in mappings]
    first = np.zeros(size, np.int64)
    for index, mapping in zip(indexes, row_maps):
        np.add.at(first, mapping, index.level(1).count)
    levels = [None, Level(np.arange(size, dtype=np.int64), np.zeros(size, np.int32),
                          compact_counts(first))]
    for k in range(2, order + 1):
        keys = [row_maps[i][ix.parent(k)] * size + mappings[i][ix.token(k)]
                for i, ix in enumerate(indexes)]
        unique, inverse = np.unique(np.concatenate(keys), return_inverse=True)
        inverse = inverse.ravel()
        count = np.zeros(len(unique), np.int64)
        suffix = np.zeros(len(unique), np.int32)
        new_maps, start = [], 0
        for i, ix in enumerate(indexes):
            rows = inverse[start:start + len(keys[i])]
            start += len(keys[i])
            np.add.at(count, rows, ix.level(k).count)
            suffix[rows] = row_maps[i][ix.level(k).suffix]
            new_maps.append(rows)
        levels.append(Level(unique, suffix, compact_counts(count)))
        row_maps = new_maps
    return NgramIndex(order, size, levels, padding)
