"""Converting an ARPA file to a query file a level at a time (`bigram convert FILE.arpa`).

An ARPA file as lmplz writes it lists every prefix and every suffix of each n-gram in
the order below. Then the trie can be built order by order while the file is read: an
n-gram's prefix row and suffix row are found among the (n-1)-grams by a hash of their
words (arpa_reader's open-addressing table, every hit checked word by word), its key
(prefix row * V + last token) sorted into the level, and its adj and B made from the
level below's B (query.py: B = ln b + B(suffix), adj = ln P - B(prefix)): the same
float64 operations as QueryTables.from_backoff on the whole model, so the file is the
one the general path writes. Each finished level's keys, adj and B go to a temporary
folder (24 bytes per n-gram, removed at the end; kept in memory instead while the
finished levels come to at most KEEP_BYTES, so that a small file's are not written and
read back) and query_file.write_query_file writes the file from there a slice at a time.

Memory is the level being read and the one below it (and at most KEEP_BYTES of finished
levels), never the whole model: per
n-gram of order n about 4n + 28 bytes while its section is read (word indices,
log10 values, line numbers) and some 60 more while it is sorted, plus for the level
below its words, B and hash table (about 4(n-1) + 32 bytes per (n-1)-gram).

Every check of the general reader is made (arpa_reader's block parser, the same
one-line errors naming the line): fields, numbers, words, duplicates, prefixes. A file
that lists an n-gram without its suffix (legal, SRILM's pruned files do it), or whose
hashes clash, is not refused: `convert_arpa` returns None and the caller takes the
general path (arpa_model.load_arpa, which adds what is missing).
"""

import tempfile
from pathlib import Path

import numpy as np

from bigram.arrays import sort_with_positions
from bigram.errors import ModelFileError, OptionError
from bigram.formats.arpa_model import LN10, arpa_meta, arpa_vocabulary
from bigram.formats.arpa_reader import (
    _Error,
    _find_data_marker,
    _hashes,
    _HashTable,
    _Lines,
    _read_header,
    _read_section,
    _Section,
    _show,
    arpa_bytes,
)
from bigram.formats.arpa_words import WordIndex
from bigram.formats.column_levels import ColumnLevels
from bigram.memory import reused_heap
from bigram.ngrams.columns import Column

_SEED = np.uint64(1)
# Tuples of ids packed in at most this many bits are found by binary search, not hashed.
PACKED_BITS = 63
ZERO_BACKOFF = ("{} has a back-off weight of zero or a window over a token without a "
                "probability of its own; a query file cannot hold it")


class _NotClosed(Exception):
    """The file lists an n-gram whose suffix it does not list (or hashes clash)."""


def convert_arpa(path, write, temp_dir=None):
    """Read the ARPA file at `path` level by level and call write(tables, vocabulary,
    meta) with the tables spilled under `temp_dir` (None: the system's temporary
    folder); returns what `write` returns, or None when the file needs the general path
    (see the module docstring). Malformed files raise ModelFileError naming the line; a
    back-off of zero OptionError."""
    try:
        with arpa_bytes(path) as data, reused_heap(), \
                tempfile.TemporaryDirectory(prefix="bigram-convert-", dir=temp_dir) as folder:
            tables, vocabulary, meta = _read_levels(data, Path(path), Path(folder))
            return write(tables, vocabulary, meta)
    except _NotClosed:
        return None


def _read_entries(data, lines, n, top, vocabulary, words):
    """(word indices, log10 P, log10 b, line numbers) of the n-gram section the cursor is at."""
    section = _Section(n, top, vocabulary, words)
    _read_section(data, lines, section)
    return section.finish()


def _read_levels(data, path, folder):
    lines = _Lines(data)
    _find_data_marker(lines)
    declared, line = _read_header(lines)
    order = len(declared)
    file_words, tables, below = {}, None, None
    for n in range(1, order + 1):
        if line != f"\\{n}-grams:".encode():
            raise _Error(lines.number, f"expected '\\{n}-grams:', found "
                                       f"{_show(line or b'end of file')}")
        if n == 2:
            words = WordIndex(list(file_words), _HashTable)
        grams, prob, backoff, at = _read_entries(data, lines, n, n == order, file_words,
                                                 words if n > 1 else None)
        if len(grams) != declared[n - 1]:
            raise _Error(lines.number, f"the {n}-gram section has {len(grams)} entries where "
                                       f"\\data\\ declares {declared[n - 1]}")
        if n == 1:
            vocabulary, ids, is_bos, is_eos, unit = _unigram_vocabulary(file_words, at, path)
            tables = _SpilledTables(order, len(vocabulary), folder)
            chain = _SuffixChain(len(file_words), folder)
            below = _unigrams(tables, grams[:, 0], prob, backoff, ids, is_bos, is_eos)
            if order > 1 and not np.isfinite(below.below).all():
                raise OptionError(ZERO_BACKOFF.format(path))
        else:
            # One word each (arpa_vocabulary): compared, not looked up per word.
            bos, eos = int(np.argmax(is_bos)), int(np.argmax(is_eos))
            if (grams[:, :-1] == eos).any() or (grams[:, 1:] == bos).any():
                raise ModelFileError(f"{path}: the {n}-grams include one with <s> after its "
                                     "start or </s> before its end, which no text can produce")
            below = _level(tables, n, grams, prob, backoff, at, ids, below, chain)
            if below is not None and not np.isfinite(below.below).all():
                raise OptionError(ZERO_BACKOFF.format(path))
        del grams, prob, backoff, at
        line = lines.next_content()
    if line != b"\\end\\":
        raise _Error(lines.number, f"expected '\\end\\', found {_show(line or b'end of file')}")
    meta = arpa_meta(path, order, unit, vocabulary, declared)
    return tables, vocabulary, meta


def _unigram_vocabulary(file_words, lines, path):
    """The vocabulary of the unigram section's words (bytes, in file order), checked."""
    try:   # all at once (no word holds a newline); word by word only to name a bad one
        words = b"\n".join(file_words).decode("utf-8").split("\n")
    except UnicodeDecodeError:
        for token, number in zip(file_words, lines.tolist()):
            try:
                token.decode("utf-8")
            except UnicodeDecodeError:
                raise _Error(number, f"unigram {_show(token)} is not UTF-8") from None
        raise
    return arpa_vocabulary(words, path)


class _Below:
    """What a level keeps for the next: B per row, and a way to find the row of a tuple of
    word indices. Rows are in the lexicographic order of their token ids, so where a
    tuple's ids fit in 63 bits packed side by side, the level's packed tuples are sorted
    already, and a row is found by a binary search (the queries sorted first, so the
    search walks forward); otherwise by arpa_reader's hash table of the tuples, every
    hit checked word by word."""

    def __init__(self, grams, below, ids):
        self.below, self.ids = below, ids
        self.bits = max(int(len(ids) and ids.max()), 1).bit_length()
        self.packed = self.grams = self.table = None
        self.row_of_position = None   # the row of each n-gram by its place in the file
        if grams.shape[1] * self.bits <= PACKED_BITS:
            self.packed = self._pack(grams)
        else:
            self.grams = grams
            hashes, _ = _hashes(grams, _SEED)
            self.table = _HashTable(hashes)
            if self.table.clash is not None:
                raise _NotClosed

    def sorted_rows(self, tuples):
        """(rows, order): the rows (-1 where absent) of the tuples taken in `order`, the
        order that sorts them, so the rows ascend (packed levels only)."""
        wanted, order = sort_with_positions(self._pack(tuples), in_place=True)
        at = np.searchsorted(self.packed, wanted)
        np.minimum(at, len(self.packed) - 1, out=at)
        found = self.packed[at] == wanted if len(self.packed) else wanted < 0
        return np.where(found, at, -1), order

    def _pack(self, tuples):
        packed = np.zeros(len(tuples), dtype=np.int64)
        for j in range(tuples.shape[1]):
            packed <<= self.bits
            packed |= self.ids[tuples[:, j]]
        return packed

    def rows(self, tuples):
        """The row of each tuple of word indices; -1 where absent."""
        if self.packed is not None:
            found, order = self.sorted_rows(tuples)
            rows = np.empty(len(found), dtype=np.int64)
            rows[order] = found
            return rows
        hashes, _ = _hashes(tuples, _SEED)
        rows = self.table.find(hashes).astype(np.int64)
        found = np.flatnonzero(rows >= 0)
        same = (self.grams[rows[found]] == tuples[found]).all(axis=1)
        rows[found[~same]] = -1
        return rows


def _unigrams(tables, grams, prob, backoff, ids, is_bos, is_eos):
    """Level 1, rows by token id: `</s>` gives the boundary its probability, `<s>` its
    back-off (arpa_model.load_arpa)."""
    size = tables.size
    logprob, logbackoff = np.full(size, np.nan), np.zeros(size)
    rows = ids[grams]
    start, end = is_bos[grams], is_eos[grams]
    logprob[rows[~start]] = prob[~start] * LN10
    logbackoff[rows[start | ~end]] = backoff[start | ~end] * LN10
    tables.spill(1, None, logprob, logbackoff)
    # Level 2 finds level 1's rows by token id.
    return _Below(np.zeros((0, 0), dtype=np.int32), logbackoff, ids)


def _level(tables, n, grams, prob, backoff, lines, ids, below, chain):
    """Level n from its section, spilled; what it keeps for level n + 1."""
    size = tables.size
    by_prefix = None
    if n == 2:
        prefix, suffix = ids[grams[:, 0]], ids[grams[:, 1]]
    else:
        if below.packed is not None:
            # Prefix rows found in ascending order: the keys come out in runs, which a
            # stable sort (timsort) orders fast.
            prefix, by_prefix = below.sorted_rows(grams[:, :-1])
            missing = by_prefix[prefix < 0]
            bad = int(missing.min()) if len(missing) else -1
        else:
            prefix = below.rows(grams[:, :-1])
            bad = int(np.argmax(prefix < 0)) if (prefix < 0).any() else -1
        if bad >= 0:
            raise _Error(int(lines[bad]), f"the prefix of this {n}-gram (its first {n - 1} "
                                          "words) is not listed")
        if chain.live:
            suffix = below.row_of_position[chain.positions(grams)]
        else:
            suffix = below.rows(grams[:, 1:])
            if (suffix < 0).any():
                raise _NotClosed
    if chain.live and n < tables.order:
        chain.add(grams, grams[:, 1] if n == 2 else chain.found)
    chain.found = None
    keys = prefix * size
    del prefix
    if by_prefix is None:
        keys += ids[grams[:, -1]]
        keys, order = sort_with_positions(keys)
    else:
        keys += ids[grams[by_prefix, -1]]
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        order = by_prefix[order]
    twice = np.flatnonzero(keys[1:] == keys[:-1])
    if len(twice):
        first, second = order[twice[0]], order[twice[0] + 1]
        raise _Error(int(lines[max(first, second)]), f"this {n}-gram is listed twice")
    # B = ln b + B(suffix), adj = ln P - B(context), in row order (query.from_backoff).
    logbackoff = backoff[order] * LN10
    logbackoff += below.below[suffix[order]]
    del suffix
    adj = prob[order] * LN10
    adj -= below.below[keys // size]
    if np.isnan(adj).any():
        raise _NotClosed   # over a token without a probability: the general path says so
    tables.spill(n, keys, adj, logbackoff if n < tables.order else None)
    if n == tables.order:
        return None
    grams = grams[order]
    del keys, adj
    below = _Below(grams, logbackoff, ids)
    if chain.live:
        below.row_of_position = np.empty(len(order), dtype=np.int64)
        below.row_of_position[order] = np.arange(len(order))
    return below


class _SuffixChain:
    """The rows of n-grams' suffixes found by searches that walk forward, without sorting,
    where the file lists each level in lmplz's order (by the last word's place among the
    unigrams, then the one before it, and so on): then the suffixes of a level's n-grams
    come in the order of the level below, and so do the suffixes of those suffixes.

    Per level n >= 2 (file order) it keeps, spilled to the temporary folder, the key
    (place of the n-gram's suffix in level n - 1) * V + (place of its first word among the
    unigrams), which ascends down a level so listed. An n-gram's suffix is then found from
    its last word up: the place of its last j words is the search for (place of its last
    j - 1) * V + (its word j from the end) in level j's keys, and these queries ascend too
    (numpy's searchsorted walks forward on ascending queries: a tenth of the time of a
    random search, and no sort). A level not so listed, or keys that might not fit 63
    bits, turns the chain off (`live` False) for the levels above: they use _Below.rows."""

    def __init__(self, words, folder):
        self.words, self.folder = words, folder
        self.live, self.found = True, None

    def positions(self, grams):
        """The place in level n - 1 (file order) of each n-gram's suffix (n >= 3); raises
        _NotClosed where one is not listed."""
        n = grams.shape[1]
        place = grams[:, -1].astype(np.int64)
        for j in range(2, n):
            wanted = place * self.words
            wanted += grams[:, n - j]
            keys = np.fromfile(self.folder / f"chain_{j}", dtype=np.int64)
            if not len(keys):
                raise _NotClosed
            place = np.searchsorted(keys, wanted)
            np.minimum(place, len(keys) - 1, out=place)
            if not (keys[place] == wanted).all():
                raise _NotClosed
        self.found = place
        return place

    def add(self, grams, places):
        """Keep level n's keys (`places`: of its suffixes in level n - 1), or turn the chain
        off if they do not ascend or might not fit."""
        if (int(places.max(initial=0)) + 1) * self.words >= 1 << 62:
            self.live = False
            return
        keys = places.astype(np.int64)
        keys *= self.words
        keys += grams[:, 0]
        if (keys[1:] < keys[:-1]).any():
            self.live = False
            return
        keys.tofile(self.folder / f"chain_{grams.shape[1]}")


# Finished levels are kept in memory, not spilled, while all kept come to at most this:
# a small file's levels are then not written out and read back.
KEEP_BYTES = 64 << 20


class _KeptColumn:
    """A finished level's array kept in memory, read as a columns.Column is."""

    def __init__(self, array):
        self.array = array

    def __len__(self):
        return len(self.array)

    def read(self, start, stop):
        return self.array[max(0, int(start)):max(0, int(stop))].copy()


class _SpilledTables(ColumnLevels):
    """Finished levels in a temporary folder (or in memory while small: KEEP_BYTES), read
    back a slice at a time by write_query_file (column_levels.ColumnLevels)."""

    def __init__(self, order, size, folder):
        super().__init__(order, size, "sentence", {}, {}, {})
        self.folder = folder
        self.rows = {}
        self.kept_bytes = 0

    def spill(self, k, keys, adj, below):
        """Keep or write level k's arrays (keys None at level 1, B None at the top)."""
        self.rows[k] = len(adj)
        arrays = [(name, np.ascontiguousarray(array, dtype=dtype))
                  for name, array, dtype in (("keys", keys, np.int64), ("adj", adj, np.float64),
                                             ("below", below, np.float64))
                  if array is not None]
        size = sum(array.nbytes for _, array in arrays)
        keep = self.kept_bytes + size <= KEEP_BYTES
        self.kept_bytes += size if keep else 0
        for name, array in arrays:
            if keep:
                getattr(self, name)[k] = _KeptColumn(array)
            else:
                path = self.folder / f"{k}_{name}"
                array.tofile(path)
                getattr(self, name)[k] = Column(path, array.dtype, len(array))
