"""Reading back-off ARPA files (KenLM's lmplz, SRILM, IRSTLM, bigram's own writer).

The file becomes plain arrays, one set per order: the n-grams as rows of indices into
the unigram section's words, their log10 probabilities and their log10 back-off weights.

What is accepted, because real files have it: any text before `\\data\\`; fields separated
by tabs or runs of spaces; CRLF line ends; blank lines inside sections; a missing back-off
(read as 0); `-inf` (log10 of 0, kept as -inf) as a probability, besides the usual -99,
or as a back-off (lmplz writes it where a context's discounts add up to 0);
gzip-, bzip2-, xz- and zstd-compressed files (recognised by their first bytes, whatever
the name; the text may be at most MAX_EXPANSION times the file, which stops decompression
bombs, and is decompressed to an unnamed temporary file, not memory); a UTF-8
byte-order mark; text after `\\end\\`. Tokens are UTF-8.

What is refused, each as one ModelFileError naming the file and line: a missing `\\data\\`,
header or section line; a declared count that disagrees with the entries read (counts are
never used to reserve memory, so a header declaring 10^12 unigrams fails where its section
ends, in memory bounded by the file's size); a line longer than MAX_LINE_BYTES; a line with
the wrong number of fields for its section; a back-off on the highest order; a field that
is not a number; NaN or +inf; a probability above 1 (a log10 above
POSITIVE_LOG10_TOLERANCE, which allows for rounding); a back-off weight too large for
float32 (a log10 above FLOAT32_MAX_LOG10); a word missing
from the unigrams; a duplicate n-gram; an n-gram whose prefix (its context) is absent
from the order below. (KenLM itself tolerates the last one in SRILM files; we do not.)

A plain file is read with pread, a block at a time, never memory-mapped: a mapped file
that is truncated or replaced while it is read kills the process with SIGBUS, where a
read simply comes back short, which is reported as one error naming the file.

Parsing is vectorised per block of lines: numpy finds the fields of every line from the
bytes, and the numbers and words are converted by C-level maps, not a Python loop per line.
"""

import contextlib
import os
import tempfile
from dataclasses import dataclass
from operator import itemgetter

import numpy as np

from bigram.errors import InputError, ModelFileError
from bigram.formats.arpa_numbers import parse_decimals
from bigram.formats.arpa_words import WordIndex, eight_byte_view
from bigram.text.compressed import DecompressedStream, codec_of, read_head

MAX_LINE_BYTES = 1 << 20
# ARPA text compresses 3 to 20 times; a decompression bomb a thousand times and more.
MAX_EXPANSION = 100
_BLOCK_BYTES = 8 << 20
_FIRST_WINDOW = 64 << 10   # the first read of a search for a short line (headers)
# log10 P may print as a hair above 0 for P = 1 (KenLM refuses any positive value).
POSITIVE_LOG10_TOLERANCE = 1e-5
# The largest log10 whose power of ten float32 holds (3.4e38): sampling works in float32.
FLOAT32_MAX_LOG10 = float(np.log10(np.finfo(np.float32).max))
HEAD_BYTES = 64 << 10      # where `looks_like_arpa` looks for the \data\ line
# N-grams whose prefixes are looked up at once.
_CHECK_ROWS = 1 << 20
# bytes.split() splits on exactly these.
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True


@dataclass
class ArpaModel:
    """The content of an ARPA file; lists are indexed by order - 1."""

    order: int
    words: list        # the unigram section's tokens, in file order
    ngrams: list       # per order n, an (E_n, n) int32 array of indices into words
    log10prob: list    # per order, (E_n,) float64
    log10backoff: list  # per order, (E_n,) float64, 0.0 where the file gives none


class _Error(Exception):
    """A problem at a line of the file; read_arpa adds the file name."""

    def __init__(self, line, message):
        super().__init__(message)
        self.line, self.message = line, message


def _show(token):
    """A token for an error message: quoted, shortened, unprintable bytes escaped."""
    text = token.decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return f"'{text}'" if len(text) <= 40 else f"'{text[:40]}...'"


class _Shrunk(Exception):
    """The file became shorter than it was when opened (truncated or being replaced)."""


class _FileView:
    """The bytes of a plain file, read with os.pread where they are needed: slices, `find`,
    `rfind` and `len` as on bytes, over the file's size when it was opened."""

    def __init__(self, handle):
        self._handle = handle
        self._fd = handle.fileno()
        self.size = os.fstat(self._fd).st_size

    def __len__(self):
        return self.size

    def __getitem__(self, key):
        start, stop, _ = key.indices(self.size)
        wanted = max(0, stop - start)
        pieces, at = [], start
        while at < start + wanted:
            piece = os.pread(self._fd, min(start + wanted - at, 1 << 30), at)
            if not piece:
                raise _Shrunk()
            pieces.append(piece)
            at += len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def find(self, sub, start=0, end=None):
        """data.find: windows of growing size, each overlapping the last by len(sub) - 1."""
        end = self.size if end is None else min(end, self.size)
        at, window = max(start, 0), _FIRST_WINDOW
        while at < end:
            stop = min(at + window, end)
            found = self[at:min(stop + len(sub) - 1, end)].find(sub)
            if found >= 0:
                return at + found
            at, window = stop, min(window * 2, _BLOCK_BYTES)
        return -1

    def rfind(self, sub, start=0, end=None):
        """data.rfind, backwards in windows."""
        end = self.size if end is None else min(end, self.size)
        stop, window = end, _FIRST_WINDOW
        while stop > start:
            at = max(stop - window, start)
            found = self[at:min(stop + len(sub) - 1, end)].rfind(sub)
            if found >= 0:
                return at + found
            stop, window = at, min(window * 2, _BLOCK_BYTES)
        return -1

    def close(self):
        """Close the file."""
        self._handle.close()


def _read_bytes(path):
    """The file's bytes as a _FileView (read with pread where needed, so a file that
    shrinks under us is an error, not SIGBUS): of the file itself, or, for a compressed
    file, of an unnamed temporary file it is first decompressed into."""
    try:
        file = open(path, "rb")
    except OSError as error:
        raise ModelFileError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        codec = codec_of(read_head(file))
        file.seek(0)
        if codec is None:
            view = _FileView(file)
            file = None   # the view owns it now
            return view
        size = os.fstat(file.fileno()).st_size
        return _decompressed(path, DecompressedStream(file, codec, str(path)), size)
    except InputError as error:   # a zstd file without zstandard installed
        raise ModelFileError(str(error)) from None
    except OSError as error:
        raise ModelFileError(f"cannot read {path}: {error.strerror or error}") from None
    finally:
        if file is not None:
            file.close()


def _decompressed(path, stream, compressed_size):
    """The text of a compressed file, in an unnamed temporary file (nothing is
    left behind, whatever happens), written a piece at a time so that a bomb stops early:
    at a line longer than MAX_LINE_BYTES (a bomb of one byte repeated) or when the text
    grows past MAX_EXPANSION times the file (a bomb of repeated lines)."""
    limit = MAX_EXPANSION * compressed_size + (64 << 20)
    written, lines, line_start = 0, 0, 0
    spool = None
    try:
        spool = tempfile.TemporaryFile(prefix="bigram-arpa-")
        while piece := stream.read(_BLOCK_BYTES):
            last = piece.rfind(b"\n")
            if last >= 0:
                lines += piece.count(b"\n")
                line_start = written + last + 1
            written += len(piece)
            if written - line_start > MAX_LINE_BYTES:
                raise _Error(lines + 1, f"line longer than {MAX_LINE_BYTES} bytes")
            if written > limit:
                raise _Error(lines + 1, f"the {stream.codec} data expands more than "
                                        f"{MAX_EXPANSION} times; not an ARPA file")
            spool.write(piece)
        spool.flush()
        view, spool = _FileView(spool), None   # the view owns it now
        return view
    except InputError as error:   # damaged compressed data
        raise ModelFileError(str(error)) from None
    except _Error as error:
        raise ModelFileError(f"{path}: line {error.line}: {error.message}") from None
    except OSError as error:
        raise ModelFileError(f"cannot decompress {path} into {tempfile.gettempdir()}: "
                             f"{(error.strerror or str(error)).lower()}") from None
    finally:
        if spool is not None:
            spool.close()


def looks_like_arpa(head):
    """Whether the first bytes of a file are those of an ARPA file: compressed data (gzip,
    bzip2, xz, zstd), or a line `\\data\\` among the first lines (after a UTF-8 byte-order
    mark, comments or any other text that SRILM and hand-edited files put before it)."""
    if codec_of(head) is not None:
        return True
    if head.startswith(b"PK\x03\x04") or b"\x00" in head:   # a zip (a model file), binary
        return False
    head = head.removeprefix(b"\xef\xbb\xbf")
    return any(line.strip() == b"\\data\\" for line in head.split(b"\n"))


def is_arpa(path):
    """Whether a file is an ARPA file (plain or compressed): a line among its first is
    \\data\\ (arpa_reader.looks_like_arpa). A compressed file whose start does not
    decompress counts as one, so that reading it names the damage."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
            codec = codec_of(head)
            if codec is not None:
                handle.seek(0)
                head = DecompressedStream(handle, codec, str(path)).read(HEAD_BYTES)
    except InputError:
        return True
    except OSError:
        return False
    return looks_like_arpa(head)


def _count_newlines(data, start, end):
    """data.count(b"\n", start, end), in pieces for a file read as it goes."""
    if not isinstance(data, _FileView):
        return data.count(b"\n", start, end)
    total = 0
    for at in range(start, end, _BLOCK_BYTES):
        total += data[at:min(at + _BLOCK_BYTES, end)].count(b"\n")
    return total


class _Lines:
    """A cursor over the lines of the file, for the few lines read one at a time."""

    def __init__(self, data):
        self.data, self.offset, self.number = data, 0, 0

    def next(self):
        """The next line, stripped, or None at the end of the file."""
        if self.offset >= len(self.data):
            return None
        end = self.data.find(b"\n", self.offset)
        end = len(self.data) if end < 0 else end
        if end - self.offset > MAX_LINE_BYTES:
            raise _Error(self.number + 1, f"line longer than {MAX_LINE_BYTES} bytes")
        line = self.data[self.offset:end].strip()
        self.offset, self.number = end + 1, self.number + 1
        return line

    def next_content(self):
        """The next line that is not blank, or None."""
        line = self.next()
        while line is not None and not line:
            line = self.next()
        return line


def _find_data_marker(lines):
    """Move the cursor past the `\\data\\` line, skipping any text before it."""
    data, at = lines.data, -1
    while True:
        at = data.find(b"\\data\\", at + 1)
        if at < 0:
            last = _count_newlines(data, 0, len(data)) + (data[-1:] != b"\n")
            raise _Error(last, "no \\data\\ line: not an ARPA file")
        start = data.rfind(b"\n", 0, at) + 1
        end = data.find(b"\n", at)
        line = data[start:len(data) if end < 0 else end].strip()
        if line.removeprefix(b"\xef\xbb\xbf") == b"\\data\\":  # a UTF-8 byte-order mark
            lines.offset, lines.number = start, _count_newlines(data, 0, start)
            lines.next()
            return


def _read_header(lines):
    """The declared count of each order, from the `ngram N=COUNT` lines."""
    declared = []
    while True:
        line = lines.next_content()
        if line is None or not line.startswith(b"ngram "):
            break
        order, _, count = line[6:].partition(b"=")
        try:
            order, count = int(order), int(count)
        except ValueError:
            raise _Error(lines.number, f"bad header line {_show(line)}") from None
        if order != len(declared) + 1 or count < 0:
            raise _Error(lines.number, f"bad header line {_show(line)}: expected "
                                       f"'ngram {len(declared) + 1}=COUNT'")
        declared.append(count)
    if not declared:
        raise _Error(lines.number, "no 'ngram 1=COUNT' line after \\data\\")
    return declared, line


def _read_section(data, lines, section):
    """Give the section at the cursor to `section.add_block` a block of whole lines at a
    time (each ending in a newline), up to the next line that begins with a backslash,
    where the cursor is left. One read of each byte: the blocks are cut where the end is
    looked for. Each read starts one byte back (a newline), so that an end at the block's
    first line is seen too."""
    start, number, size = lines.offset, lines.number + 1, len(data)
    unterminated = 0
    while start < size:
        chunk = data[start - 1:min(start + _BLOCK_BYTES, size)]
        if chunk.rfind(b"\n", 1) < 0 and start + _BLOCK_BYTES < size:
            # A line longer than a block: the block is that line (add_block judges it).
            stop = data.find(b"\n", start + _BLOCK_BYTES)
            chunk = data[start - 1:size if stop < 0 else stop + 1]
        found, done, blank = _header_at(chunk), True, 0
        if found >= 0:
            # The blank lines before the next header are counted, not parsed: without
            # them the block is laid out plainly (_plain_fields' fast path).
            stop = found
            while stop > 0 and chunk[stop - 1] == 10:
                stop -= 1
            block, blank, start = chunk[1:stop + 1], found - stop, start + found
        elif start - 1 + len(chunk) >= size:   # the file ends in this chunk
            block, start = chunk[1:], size
            if not block.endswith(b"\n"):
                block, unterminated = block + b"\n", 1
        else:
            last = chunk.rfind(b"\n")
            block, done = chunk[1:last + 1], False
            start += last
        if block:
            number += section.add_block(block, number)
        number += blank
        if done:
            break
    lines.offset, lines.number = start, number - 1 - unterminated


def _header_at(chunk):
    """Where the first line of `chunk` after its first byte that starts with a backslash
    (the next header) begins, less one (its newline), or -1: the two-byte search
    chunk.find(newline + backslash). Found by searching for the backslash alone (memchr,
    several times faster than a two-byte search) and looking at the byte before it, while
    backslashes are rare, as in ARPA text; where they are common, by the two-byte search."""
    at, tries = chunk.find(b"\\", 1), 0
    while at > 0 and chunk[at - 1] != 10:
        tries += 1
        if tries >= 64 and at < tries * 1024:
            return chunk.find(b"\n\\", at)
        at = chunk.find(b"\\", at + 1)
    return at - 1 if at > 0 else -1


def _fields_per_line(block, first_line):
    """Each line's number of whitespace-separated fields (the block ends with a newline),
    and where each field starts in the block and how many bytes it has."""
    raw = np.frombuffer(block, dtype=np.uint8)
    plain = _plain_fields(raw)
    if plain is not None:
        return plain
    ends = np.flatnonzero(raw == 10)
    _check_line_lengths(ends, first_line)
    # Inside a field or not, with a space on either side: the places where that changes
    # alternate, a field's start then its end.
    inside = np.zeros(len(raw) + 2, dtype=np.int8)
    np.logical_not(_WHITESPACE[raw], out=inside[1:-1].view(bool))
    edges = np.flatnonzero(np.diff(inside))
    starts, stops = edges[0::2], edges[1::2]
    return np.diff(np.searchsorted(starts, ends), prepend=0), starts, stops - starts


def _check_line_lengths(ends, first_line):
    """Refuse the first line longer than MAX_LINE_BYTES (`ends`: where lines end)."""
    lengths = np.diff(ends, prepend=-1) - 1
    if len(lengths) and lengths.max() > MAX_LINE_BYTES:
        bad = int(np.argmax(lengths > MAX_LINE_BYTES))
        raise _Error(first_line + bad, f"line longer than {MAX_LINE_BYTES} bytes")


def _plain_fields(raw):
    """_fields_per_line for a block laid out as writers lay it out (lmplz, SRILM, bigram):
    exactly one whitespace byte between fields and none at either end of a line, so every
    whitespace byte ends a field. Found with one comparison and one flatnonzero where the
    general path needs a table lookup per byte and a pass over the edges, a third of the
    time. None for any other block (blank lines, runs of spaces, CRLF, control bytes)."""
    # Whitespace is among the bytes up to 32; those that are not (control bytes, which
    # are part of a token) send the block to the general path.
    cuts = np.flatnonzero(raw <= 32)
    if not len(cuts):
        return None
    cut_bytes = raw[cuts]
    if not _WHITESPACE[cut_bytes].all():
        return None
    starts = np.empty(len(cuts), dtype=np.int64)
    starts[0] = 0
    np.add(cuts[:-1], 1, out=starts[1:])
    lengths = cuts - starts
    if not lengths.all():   # an empty field: two whitespace bytes in a row, or a line's end
        return None
    ends = np.flatnonzero(cut_bytes == 10)   # among the fields: the last of each line
    if (np.diff(cuts[ends], prepend=-1) > MAX_LINE_BYTES + 1).any():
        return None   # the general path names the line
    return np.diff(ends, prepend=-1), starts, lengths


class _Tokens:
    """Fields of a block by where they start and how long they are; the bytes of one or of
    all are cut out only where asked (errors, the few tokens the arrays do not settle)."""

    def __init__(self, block, starts, lengths):
        self.block, self.starts, self.lengths = block, starts, lengths

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, i):
        start = int(self.starts[i])
        return self.block[start:start + int(self.lengths[i])]

    def all(self):
        """Every token, as bytes."""
        block = self.block
        return [block[a:b] for a, b in zip(self.starts.tolist(),
                                           (self.starts + self.lengths).tolist())]


def _numbers_at(block, raw, starts, lengths, lines, what):
    """The numbers of one field of every line: by arrays where they are plain decimals
    (arpa_numbers), by float() elsewhere; a token that is not a number, NaN or +inf is
    refused naming its line."""
    values, parsed = parse_decimals(raw, starts, lengths)
    tokens = _Tokens(block, starts, lengths)
    for i in np.flatnonzero(~parsed).tolist():
        try:
            values[i] = float(tokens[i])
        except ValueError:
            raise _Error(int(lines[i]), f"{what} {_show(tokens[i])} is not a number") from None
    ok = np.isfinite(values) | (values == -np.inf)
    if not ok.all():
        bad = int(np.argmin(ok))
        raise _Error(int(lines[bad]), f"{what} {_show(tokens[bad])} is not finite")
    return values


def _check_at_most(values, limit, tokens, lines, what, reason):
    """Refuse the first log10 value above `limit`, naming its line."""
    over = values > limit
    if over.any():
        bad = int(np.argmax(over))
        raise _Error(int(lines[bad]), f"{what} {_show(tokens[bad])} is {reason}")


def _column_ids(tokens, view, words, vocabulary, lines):
    """The ids of one word column (_Tokens): by the WordIndex where it matches exactly, else
    by the dictionary (which names the first word that is not a unigram)."""
    ids = words.find(view, tokens.starts, tokens.lengths)
    rest = np.flatnonzero(ids < 0)
    if len(rest):
        ids[rest] = _word_ids([tokens[i] for i in rest.tolist()], vocabulary, lines[rest])
    return ids


def _word_ids(tokens, vocabulary, lines):
    try:
        # One itemgetter call does every lookup in C (it returns a bare value for one key).
        found = itemgetter(*tokens)(vocabulary) if len(tokens) > 1 else [
            vocabulary[t] for t in tokens]
        return np.fromiter(found, dtype=np.int32, count=len(tokens))
    except KeyError:
        bad = next(i for i, t in enumerate(tokens) if t not in vocabulary)
        raise _Error(int(lines[bad]), f"word {_show(tokens[bad])} is not among the "
                                      "unigrams") from None


class _Section:
    """The entries of one order, read block by block; the unigram section defines the words."""

    def __init__(self, order, top, vocabulary, words=None):
        self.order, self.top, self.vocabulary, self.words = order, top, vocabulary, words
        self.probs, self.backoffs, self.ids, self.lines = [], [], [], []

    def add_block(self, block, first_line):
        """Read a block of whole lines, the first numbered `first_line`; returns how many
        lines it had."""
        n = self.order
        fields, starts, lengths = _fields_per_line(block, first_line)
        numbers = np.arange(first_line, first_line + len(fields))
        count = len(fields)
        used = fields > 0
        fields, numbers = fields[used], numbers[used]
        wrong = (fields != n + 1) & ((fields != n + 2) | self.top)
        if wrong.any():
            bad = int(np.argmax(wrong))
            if self.top and fields[bad] == n + 2:
                raise _Error(int(numbers[bad]), f"a back-off weight on the highest order ({n})")
            expected = f"{n + 1}" + ("" if self.top else f" or {n + 2}")
            raise _Error(int(numbers[bad]), f"{fields[bad]} fields where a {n}-gram line has "
                                            f"{expected}")
        raw = np.frombuffer(block, dtype=np.uint8)
        first = np.cumsum(fields) - fields     # each line's first field among starts
        has = fields == n + 2
        at = starts[first]
        prob = _numbers_at(block, raw, at, lengths[first], numbers, "probability")
        _check_at_most(prob, POSITIVE_LOG10_TOLERANCE, _Tokens(block, at, lengths[first]),
                       numbers, "probability", "above 1 (log10 P > 0)")
        self.probs.append(prob)
        backoff = np.zeros(len(fields))
        if has.any():
            at, size = starts[first[has] + n + 1], lengths[first[has] + n + 1]
            backoff[has] = _numbers_at(block, raw, at, size, numbers[has], "back-off")
            _check_at_most(backoff[has], FLOAT32_MAX_LOG10, _Tokens(block, at, size),
                           numbers[has], "back-off", f"beyond 10^{FLOAT32_MAX_LOG10:.2f}, the "
                           "largest weight float32 holds")
        self.backoffs.append(backoff)
        ids = np.empty((len(fields), n), dtype=np.int32)
        if n == 1:
            words = _Tokens(block, starts[first + 1], lengths[first + 1]).all()
            self._add_unigrams(words, numbers)
            ids[:, 0] = _word_ids(words, self.vocabulary, numbers)
        else:
            view = eight_byte_view(block)
            for j in range(1, n + 1):
                ids[:, j - 1] = _column_ids(_Tokens(block, starts[first + j],
                                                    lengths[first + j]), view,
                                            self.words, self.vocabulary, numbers)
        self.ids.append(ids)
        # Line numbers only name lines in errors; int32 halves them while they fit.
        fits = not len(numbers) or numbers[-1] < 1 << 31
        self.lines.append(numbers.astype(np.int32) if fits else numbers)
        return count

    def _add_unigrams(self, words, numbers):
        vocabulary = self.vocabulary
        size = len(vocabulary)
        if not vocabulary.keys().isdisjoint(words):  # a word of an earlier block again
            bad = next(i for i, w in enumerate(words) if w in vocabulary)
            raise _Error(int(numbers[bad]), f"unigram {_show(words[bad])} listed twice")
        vocabulary.update(zip(words, range(size, size + len(words))))
        if len(vocabulary) != size + len(words):
            seen = set()
            bad = next(i for i, w in enumerate(words) if w in seen or seen.add(w))
            raise _Error(int(numbers[bad]), f"unigram {_show(words[bad])} listed twice")

    def finish(self):
        """The section's word indices, log10 probabilities, back-offs and line numbers."""
        if not self.ids:
            empty = np.zeros(0)
            return (np.zeros((0, self.order), dtype=np.int32), empty, empty,
                    np.zeros(0, dtype=np.int64))
        return (np.concatenate(self.ids), np.concatenate(self.probs),
                np.concatenate(self.backoffs), np.concatenate(self.lines))


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _hashes(grams, seed):
    """A 64-bit hash of every row of word indices, and of every row's prefix (all but the last)."""
    h = np.full(len(grams), seed, dtype=np.uint64)
    prefix = h
    for j in range(grams.shape[1]):
        if j == grams.shape[1] - 1:
            prefix = h.copy()
        h ^= grams[:, j].astype(np.uint64)
        h *= _MIX
        h ^= h >> np.uint64(29)
    return h, prefix


class _Collision(Exception):
    """Two different n-grams of one order share a hash; try another seed."""


# _HashTable.find looks at this many slots per round once fewer than WINDOWED_BELOW
# queries are left.
PROBE_WINDOW = 16
WINDOWED_BELOW = 4096


class _HashTable:
    """Open addressing over an order's hashes, built and probed by whole arrays at a time.

    One or two random reads per lookup where a binary search over sorted hashes takes
    twenty; that is most of the time saved on files with millions of n-grams.
    """

    def __init__(self, hashes):
        bits = max(4, (2 * len(hashes)).bit_length())
        self.hashes, self.mask = hashes, (1 << bits) - 1
        self.shift = np.uint64(64 - bits)
        # Rows and slots as int32 while they fit: half the memory of the largest arrays.
        self.index = np.int32 if bits < 32 else np.int64
        self.rows = np.full(1 << bits, -1, dtype=self.index)
        pending = np.arange(len(hashes), dtype=self.index)
        slot = (hashes >> self.shift).astype(self.index)
        while len(pending):
            at = slot[pending]
            free = self.rows[at] < 0
            self.rows[at[free]] = pending[free]  # of several rows after one slot, one wins
            occupant = self.rows[at]
            placed = occupant == pending
            same = ~placed & (hashes[occupant] == hashes[pending])
            if same.any():
                self.clash = int(occupant[same][0]), int(pending[same][0])
                return
            pending = pending[~placed]
            slot[pending] = (slot[pending] + 1) & self.mask
        self.clash = None

    def find(self, queries, past_home=False):
        """The row holding each query hash, or -1; `past_home`: the queries' home slots
        were looked at already (WordIndex's inline first probe).

        Most queries are at home. The rest walk chains of up to a few dozen slots (linear
        probing at a load of 1/4 to 1/2), looked at PROBE_WINDOW slots at a time once few
        are left: a round of array calls per slot would cost more than the slots. Hashes
        in the table are distinct, so an equal hash anywhere in a query's chain is its
        row, and an empty slot ends the chain."""
        found = np.full(len(queries), -1, dtype=self.index)
        pending = np.arange(len(queries))
        slot = (queries >> self.shift).astype(np.int64)
        slot += past_home
        while len(pending) and len(self.hashes):
            if len(pending) > WINDOWED_BELOW:   # one slot each
                rows = self.rows[slot[pending] & self.mask]
                occupied = rows >= 0
                hit = self.hashes[np.where(occupied, rows, 0)] == queries[pending]
                hit &= occupied
                found[pending[hit]] = rows[hit]
                pending = pending[~hit & occupied]
                slot[pending] += 1
                continue
            rows = self.rows[(slot[pending, None] + np.arange(PROBE_WINDOW)) & self.mask]
            occupied = rows >= 0
            same = self.hashes[np.where(occupied, rows, 0)] == queries[pending, None]
            same &= occupied
            hit = same.any(axis=1)
            found[pending[hit]] = rows[hit, same[hit].argmax(axis=1)]
            pending = pending[~hit & occupied.all(axis=1)]
            slot[pending] += PROBE_WINDOW
        return found


def _check_orders(ngrams, lines, seed):
    below = None
    for n, grams in enumerate(ngrams, start=1):
        hashes, prefix = _hashes(grams, seed)
        if n > 1:
            _check_listed(below, prefix, ngrams[n - 2], grams, lines[n - 1])
        del prefix
        below = None  # before the next table is built, so that two are never held
        below = _HashTable(hashes)
        if below.clash is not None:
            first, second = below.clash
            if not (grams[first] == grams[second]).all():
                raise _Collision
            raise _Error(int(lines[n - 1][max(first, second)]), f"this {n}-gram is listed twice")


def _check_listed(below, prefix, shorter, grams, lines):
    """Every row of `grams` has its prefix among `shorter`, found by its hash in `below`.

    A piece at a time, word column by word column, so that the temporary arrays stay small.
    """
    n = grams.shape[1]
    for start in range(0, len(grams), _CHECK_ROWS):
        piece = slice(start, start + _CHECK_ROWS)
        row = below.find(prefix[piece])
        found = row >= 0
        row[~found] = 0
        for j in range(n - 1):
            found &= shorter[row, j] == grams[piece, j]
        if not found.all():
            bad = start + int(np.argmin(found))
            raise _Error(int(lines[bad]), f"the prefix of this {n}-gram (its "
                                          f"first {n - 1} words) is not listed")


def _check_prefixes(ngrams, lines):
    """Every n-gram's prefix (its context) is an (n-1)-gram of the file; none is listed twice.

    N-grams are found by a hash of their word indices, then compared word by word, so the
    answer is exact; a hash shared by two different n-grams only makes us re-hash.
    """
    for seed in range(1, 17):
        try:
            return _check_orders(ngrams, lines, np.uint64(seed))
        except _Collision:
            continue
    raise ModelFileError("internal error: n-gram hashes kept colliding")


def _parse(data):
    lines = _Lines(data)
    _find_data_marker(lines)
    declared, line = _read_header(lines)
    order = len(declared)
    vocabulary, ngrams, probs, backoffs, entry_lines = {}, [], [], [], []
    for n in range(1, order + 1):
        if line != f"\\{n}-grams:".encode():
            raise _Error(lines.number, f"expected '\\{n}-grams:', found "
                                       f"{_show(line or b'end of file')}")
        if n == 2:
            words = WordIndex(list(vocabulary), _HashTable)
        section = _Section(n, n == order, vocabulary, words if n > 1 else None)
        _read_section(data, lines, section)
        grams, prob, backoff, at = section.finish()
        if len(grams) != declared[n - 1]:
            raise _Error(lines.number, f"the {n}-gram section has {len(grams)} entries where "
                                       f"\\data\\ declares {declared[n - 1]}")
        ngrams.append(grams)
        probs.append(prob)
        backoffs.append(backoff)
        entry_lines.append(at)
        line = lines.next_content()
    if line != b"\\end\\":
        raise _Error(lines.number, f"expected '\\end\\', found {_show(line or b'end of file')}")
    _check_prefixes(ngrams, entry_lines)
    words = []
    for token, number in zip(vocabulary, entry_lines[0].tolist()):
        try:
            words.append(token.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Error(number, f"unigram {_show(token)} is not UTF-8") from None
    return ArpaModel(order, words, ngrams, probs, backoffs)


def parse_arpa(data, label):
    """ARPA text already in memory (bytes) as an ArpaModel; `label` names it in messages."""
    try:
        return _parse(data)
    except _Error as error:
        raise ModelFileError(f"{label}: line {error.line}: {error.message}") from None


def read_arpa(path):
    """Read an ARPA back-off model file (plain or compressed) into an ArpaModel.

    Raises ModelFileError with a one-line message naming the file and line on any
    malformed input (see the module docstring for what is accepted and what is not).
    """
    with arpa_bytes(path) as data:
        return _parse(data)


@contextlib.contextmanager
def arpa_bytes(path):
    """The bytes of the ARPA file at `path` (mapped or read), closed afterwards; a
    malformed line, a file that shrinks while read or a read error raised inside becomes
    one ModelFileError naming the file (and the line)."""
    data = _read_bytes(path)
    try:
        yield data
    except _Error as error:
        raise ModelFileError(f"{path}: line {error.line}: {error.message}") from None
    except _Shrunk:
        raise ModelFileError(f"{path} changed while it was being read (it is shorter than "
                             f"the {len(data):,} bytes it had); read it again once it is "
                             "written") from None
    except OSError as error:
        raise ModelFileError(f"cannot read {path}: {error.strerror or error}") from None
    finally:
        if isinstance(data, _FileView):
            data.close()
