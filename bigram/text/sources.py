"""Reading text corpora as streams of items (one per line), in bounded memory.

Files, several files, globs or stdin ('-') are read in blocks of whole lines;
gzip, bzip2, xz and zstd files (and stdin) are recognised by their first bytes and
read as the text they decompress to (text/compressed.py).
Each block is a numpy array of bytes and, when it is not pure ASCII, of Unicode
code points (made on demand), and is split into items by vectorised masks: line
breaks are those of `str.splitlines`, items are stripped of surrounding
whitespace, blank lines are skipped; or, for sentence-padded models (Reader's
`lines`), as KenLM reads text: lines end at line feeds, and a blank line is an
empty item (the sentence `<s> </s>`). A block of valid UTF-8 with no break or
space character past ASCII splits the same way on its bytes, and words are read
from those. A UTF-8 byte
order mark and CRLF endings are handled as text conventions, never as
characters. Nothing loops over characters in Python.
"""

import glob
import hashlib
import io
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bigram.errors import InputError
from bigram.text.compressed import open_decompressed

BLOCK_BYTES = 1 << 20          # read size: 1 MiB keeps a block's working set near 50 MB
MAX_LINE_BYTES = 1 << 20       # an item longer than 1 MiB is not a name, word or line of text
# Training text kept in the model file for `sample --novel`, up to this many characters
# (names.txt is 0.23 M); beyond it the file keeps none, and memory stays bounded.
KEEP_TEXT_LIMIT = 16 << 20
UTF8_BOM = b"\xef\xbb\xbf"

# Code points that end a line for str.splitlines, and those str.isspace calls whitespace.
_BREAKS = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
_SPACES = _BREAKS + [0x09, 0x1F, 0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F,
                     0x3000]
# The highest of these is U+3000; one more entry, False, stands for every code point above.
_TABLE_SIZE = 0x3002
IS_BREAK = np.zeros(_TABLE_SIZE, dtype=bool)
IS_BREAK[_BREAKS] = True
IS_SPACE = np.zeros(_TABLE_SIZE, dtype=bool)
IS_SPACE[_SPACES] = True


@dataclass
class Source:
    """One input: a file path, the packaged dataset, text in memory, or stdin."""

    label: str
    path: Path | None = None  # None (and no data) means stdin
    data: bytes | None = None  # text held in memory (items given from Python)

    @property
    def is_stdin(self):
        """Whether the source is the standard input."""
        return self.path is None and self.data is None

    def open(self):
        """A binary file object for the source."""
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.path is None:
            return stdin_bytes()
        try:
            return open(self.path, "rb")
        except IsADirectoryError:
            raise InputError(f"{self.label} is a directory, not a text file") from None
        except FileNotFoundError:
            raise InputError(f"no such file: {self.label}") from None
        except PermissionError:
            raise InputError(f"cannot read {self.label}: permission denied") from None


def stdin_bytes():
    """Standard input as a binary stream; an InputError if it is closed (`bigram train <&-`)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None or getattr(stream, "closed", False):
        raise InputError("standard input is closed: there is nothing to read from '-'; give "
                         "a file, or pipe the text in")
    return stream


def spool_stream(stream, label):
    """Copy a binary stream into a temporary file in $TMPDIR and return its path; on any
    failure or interruption the file is removed, and a write error says what was being
    written where."""
    import tempfile  # here: most commands never spool stdin

    from bigram.temporaries import WRITE_FAILURES, make_temporary

    folder = tempfile.gettempdir()
    try:
        handle, name = make_temporary(folder, "bigram-stdin")
    except OSError as error:
        raise InputError(f"cannot copy {label} to a temporary file in {folder}: "
                         f"{(error.strerror or str(error)).lower()}") from None
    path = Path(name)
    try:
        with open(handle, "wb") as spool:
            shutil.copyfileobj(stream, spool, 1 << 20)
    except OSError as error:
        path.unlink(missing_ok=True)
        if error.errno not in WRITE_FAILURES:
            raise
        raise InputError(f"cannot copy {label} to the temporary file {path}: "
                         f"{os.strerror(error.errno).lower()}; it was removed (set TMPDIR to a "
                         "folder with more room)") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def packaged_names():
    """The names.txt dataset shipped inside the package."""
    from importlib import resources  # here: only names.txt's users pay for it

    return Path(str(resources.files("bigram.datasets").joinpath("names.txt")))


def resolve_sources(arguments):
    """Sources for the command-line arguments: paths, globs, '-' for stdin, Source objects as
    they are; names.txt if none."""
    if not arguments:
        return [Source("names.txt (bundled)", packaged_names())]
    sources = []
    for argument in arguments:
        if isinstance(argument, Source):
            sources.append(argument)
            continue
        if argument == "-":
            if any(s.is_stdin for s in sources):
                raise InputError("stdin ('-') can be given only once")
            sources.append(Source("<stdin>"))
            continue
        path = Path(argument).expanduser()
        if path.is_dir():
            raise InputError(f"{argument} is a directory, not a text file")
        if path.exists():
            sources.append(Source(argument, path))
            continue
        if glob.has_magic(argument):
            matches = sorted(p for p in glob.glob(os.path.expanduser(argument), recursive=True)
                             if Path(p).is_file())
            if not matches:
                raise InputError(f"no files match {argument}")
            sources.extend(Source(m, Path(m)) for m in matches)
            continue
        raise InputError(f"no such file: {argument}")
    return sources


_ASCII_BREAKS = np.array([b for b in _BREAKS if b < 0x80])
_ASCII_SPACES = np.array([b for b in _SPACES if b < 0x80 and b not in _BREAKS])


# Tables for the bytes of a block whose lines split as its text's (no break or space
# character past ASCII in it): every byte past ASCII belongs to a word character.
BYTE_IS_BREAK = np.concatenate([IS_BREAK[:0x80], np.zeros(0x80, dtype=bool)])
BYTE_IS_SPACE = np.concatenate([IS_SPACE[:0x80], np.zeros(0x80, dtype=bool)])


class Block:
    """Whole lines of one source: their bytes, their code points (made on demand from the
    decoded text), and (computed on demand) the items.

    Items are the toolkit's (lines at str.splitlines breaks, stripped, blank ones
    skipped), or with `lines` KenLM's: one per line, lines ending at line feeds only,
    stripped, a blank line an empty item (the sentence `<s> </s>`, as lmplz trains on
    it and `query` scores it), which is how sentence-padded models read text."""

    def __init__(self, raw, codepoints=None, text=None, exact=False, lines=False):
        self.raw = raw                  # the bytes, as uint8
        self.lines = lines
        # uint8 (the same array as raw) when pure ASCII, else uint32; made from `text` (the
        # decoded str) when first asked for. `exact`: raw is that text's UTF-8 (valid bytes).
        self._codepoints = codepoints
        self._text = text
        self._exact = exact or codepoints is raw
        self._spans = None
        self._byte_spans = None
        self._splits_as_bytes = None
        self._pairs = None

    @property
    def codepoints(self):
        """The block's code points: uint8 (the raw bytes) when pure ASCII, else uint32."""
        if self._codepoints is None:
            self._codepoints = np.frombuffer(self._text.encode("utf-32-le"), dtype=np.uint32)
        return self._codepoints

    @property
    def raw_is_text(self):
        """True when `raw` is exactly the text: valid UTF-8 (ASCII included)."""
        return self._exact

    @property
    def is_ascii(self):
        """True when every byte is ASCII, so bytes are code points."""
        return self._codepoints is self.raw

    @property
    def n_chars(self):
        """Number of characters (code points) in the block."""
        if self._text is not None:
            return len(self._text)
        return len(self.codepoints)

    @property
    def splits_as_bytes(self):
        """True when the block's UTF-8 bytes split into items and words exactly as its code
        points do: valid UTF-8 holding no break or space character past ASCII. Then items
        and words can be found on the bytes (1 byte per character of mostly-ASCII text,
        where code points take 4), and only words past ASCII need decoding."""
        if self._splits_as_bytes is None:
            self._splits_as_bytes = self.is_ascii or (
                self._exact and not _has_wide_space(self.raw))
        return self._splits_as_bytes

    def byte_pairs(self):
        """256 x 256 counts of consecutive byte pairs (ASCII blocks), from two bincounts.

        Reading the bytes as little-endian uint16 at even and at odd offsets
        yields every consecutive pair exactly once, with no arithmetic per byte.
        """
        if self._pairs is None:
            raw = self.raw
            even = raw[: len(raw) - len(raw) % 2].view("<u2")
            odd_end = 1 + (len(raw) - 1) - (len(raw) - 1) % 2 if len(raw) > 1 else 1
            odd = raw[1:odd_end].view("<u2")
            counts = np.bincount(even, minlength=1 << 16) + np.bincount(odd, minlength=1 << 16)
            self._pairs = counts.reshape(256, 256).T  # [first byte, second byte]
        return self._pairs

    @property
    def plain(self):
        """True for ASCII blocks where no whitespace touches a line end (nothing to strip).

        Such blocks (names.txt, most word lists) can be counted from their byte
        pairs alone, and their items found from the line breaks.
        """
        if self.lines or not self.is_ascii or not len(self.raw):
            return False
        if self.raw[0] in _ASCII_SPACES or self.raw[-1] in _ASCII_SPACES:
            return False
        pairs = self.byte_pairs()
        return not (pairs[np.ix_(_ASCII_SPACES, _ASCII_BREAKS)].any()
                    or pairs[np.ix_(_ASCII_BREAKS, _ASCII_SPACES)].any())

    def spans(self):
        """(starts, ends): where each item's characters lie in `codepoints`."""
        if self._spans is None:
            if self.lines:
                self._spans = strip_spans(self.codepoints, *self.line_spans())
            elif self.plain:
                breaks = np.flatnonzero(IS_BREAK[:0x80][self.raw])
                starts = np.concatenate([[0], breaks + 1])
                ends = np.concatenate([breaks, [len(self.raw)]])
                keep = ends > starts
                self._spans = starts[keep].astype(np.int64), ends[keep].astype(np.int64)
            elif self.is_ascii:
                self._spans = split_lines(self.raw, BYTE_IS_BREAK, BYTE_IS_SPACE)
            else:
                self._spans = split_items(self.codepoints)
        return self._spans

    def byte_spans(self):
        """(starts, ends): where each item's bytes lie in `raw`, for a block that
        `splits_as_bytes` (the same items as `spans`, counted in bytes)."""
        if self.is_ascii:
            return self.spans()
        if self._byte_spans is None:
            assert self.splits_as_bytes
            if self.lines:   # no space past ASCII in the block: its bytes strip alike
                self._byte_spans = strip_spans(self.raw, *self.line_spans(in_raw=True),
                                               BYTE_IS_SPACE)
            else:
                self._byte_spans = split_lines(self.raw, BYTE_IS_BREAK, BYTE_IS_SPACE)
        return self._byte_spans

    @property
    def n_items(self):
        """Number of items in the block (non-blank lines; every line with `lines`)."""
        if self._spans is None and self.plain:
            pairs = self.byte_pairs()
            # An item starts wherever a non-break byte follows a break or the block's start.
            starts_after_break = pairs[np.ix_(_ASCII_BREAKS, np.arange(256))].sum(0)
            starts_after_break[_ASCII_BREAKS] = 0
            first = 0 if IS_BREAK[self.raw[0]] else 1
            return int(starts_after_break.sum()) + first
        if self._spans is None and self.splits_as_bytes:
            return len(self.byte_spans()[0])
        return len(self.spans()[0])

    def line_spans(self, in_raw=False):
        """(starts, ends) of every line in `codepoints` (in `raw` with `in_raw`), blank ones
        included, in order.

        Unlike `spans`, nothing is skipped or stripped: one span per line, where lines
        end at line feeds only (as `wc -l` and KenLM's `query` count them), so results
        given per line stay aligned with the input. Neither the line feed nor a carriage
        return before it is part of the line.
        """
        codepoints = self.raw if in_raw else self.codepoints
        feeds = np.flatnonzero(codepoints == 0x0A)
        starts = np.concatenate([[0], feeds + 1]).astype(np.int64)
        ends = np.concatenate([feeds, [len(codepoints)]]).astype(np.int64)
        if not len(codepoints) or codepoints[-1] == 0x0A:
            starts, ends = starts[:-1], ends[:-1]   # nothing follows the last line feed
        crlf = ends > starts
        crlf[crlf] = codepoints[ends[crlf] - 1] == 0x0D
        ends[crlf] -= 1
        return starts, ends

    def utf8(self):
        """The block's text as UTF-8 bytes (uint8); bytes that were not UTF-8 appear as
        --encoding-errors decided (replaced or left out)."""
        if self.is_ascii or self._exact:
            return self.raw
        text = self.codepoints.astype("<u4").tobytes().decode("utf-32-le")
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    def item_chars(self, which=None):
        """Code points of the chosen items, concatenated, and their offsets."""
        starts, ends = self.spans()
        if which is not None:
            starts, ends = starts[which], ends[which]
        return gather_spans(self.codepoints, starts, ends)

    def item_utf8(self, which=None):
        """UTF-8 bytes of the chosen items, concatenated, and their offsets (in bytes), for
        a block that `splits_as_bytes`; None for any other."""
        if not self.splits_as_bytes:
            return None
        starts, ends = self.byte_spans()
        if which is not None:
            starts, ends = starts[which], ends[which]
        return gather_spans(self.raw, starts, ends)

    def line_chars(self):
        """Code points of every line stripped (blank ones empty, none skipped), concatenated,
        and their offsets: the items of text read as KenLM reads it, one sentence a line."""
        return gather_spans(self.codepoints, *strip_spans(self.codepoints, *self.line_spans()))

    def item_strings(self, which=None):
        """The chosen items as Python strings (for small selections: test sets, samples)."""
        if self.splits_as_bytes and not self.is_ascii:
            data, offsets = self.item_utf8(which)
            # Items hold no line break: joined by one and split again, they come back whole.
            return _joined_utf8(data, offsets).split("\n") if len(offsets) > 1 else []
        chars, offsets = self.item_chars(which)
        text = chars.astype("<u4").tobytes().decode("utf-32-le")
        return [text[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]

    def text(self):
        """The block's text as read (line breaks, blank lines and all)."""
        if self._text is not None:
            return self._text
        return bytes(self.raw).decode("ascii") if self.is_ascii else \
            self.codepoints.astype("<u4").tobytes().decode("utf-32-le")

    def joined(self, which=None):
        """The chosen items (all by default) joined by newlines, as one string."""
        if self.splits_as_bytes:
            return _joined_utf8(*self.item_utf8(which))
        chars, offsets = self.item_chars(which)
        if not len(chars):
            return ""
        out = np.full(len(chars) + len(offsets) - 2, 0x0A, dtype=np.uint32)
        positions = np.arange(len(chars)) + np.repeat(np.arange(len(offsets) - 1),
                                                      np.diff(offsets))
        out[positions] = chars
        return out.astype("<u4").tobytes().decode("utf-32-le")


def _joined_utf8(data, offsets):
    """Items given as UTF-8 bytes and offsets, joined by newlines, as one string."""
    if not len(data):
        return ""
    out = np.full(len(data) + len(offsets) - 2, 0x0A, dtype=np.uint8)
    positions = np.arange(len(data)) + np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    out[positions] = data
    return out.tobytes().decode("utf-8")


def gather_spans(codepoints, starts, ends):
    """The code points of spans, concatenated, and their offsets."""
    lengths = ends - starts
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    index = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1] - starts, lengths)
    return codepoints[index], offsets


def _table_lookup(table, codepoints):
    """table[codepoints] with code points past the table's end reading as its last entry
    (False in the tables here)."""
    if codepoints.dtype == np.uint8:
        return table[codepoints]
    # Every code point past the table reads its last entry, which is False: one gather.
    return table[np.minimum(codepoints, len(table) - 1)]


def _has_wide_space(raw):
    """Whether valid UTF-8 bytes hold a character past ASCII that IS_SPACE (or IS_BREAK)
    names: the code points of the characters past ASCII (few, in most text) looked up."""
    lead = np.flatnonzero(raw >= 0xC2)     # the first byte of every character past ASCII
    if not len(lead):
        return False
    last = len(raw) - 1
    first = raw[lead].astype(np.uint32)
    second = raw[np.minimum(lead + 1, last)] & np.uint32(0x3F)
    third = raw[np.minimum(lead + 2, last)] & np.uint32(0x3F)
    # Two bytes: 110xxxxx 10xxxxxx; three: 1110xxxx 10xxxxxx 10xxxxxx; four are past U+FFFF.
    codepoints = np.where(first < 0xE0, ((first & 0x1F) << 6) | second,
                          ((first & 0x0F) << 12) | (second << 6) | third)
    codepoints[first >= 0xF0] = 0x10000
    return bool(_table_lookup(IS_SPACE, codepoints).any())


def split_lines(data, is_break, is_space):
    """split_items for bytes, with tables of 256 entries: lines cut at the break bytes,
    stripped, blank ones skipped (the same spans, from one pass over the bytes when no
    line needs stripping)."""
    breaks = np.flatnonzero(is_break[data])
    starts = np.concatenate([[0], breaks + 1]).astype(np.int64)
    ends = np.concatenate([breaks, [len(data)]]).astype(np.int64)
    starts, ends = strip_spans(data, starts, ends, is_space)
    kept = ends > starts
    return starts[kept], ends[kept]


def split_items(codepoints):
    """Start and end of every stripped, non-blank line in an array of code points."""
    breaks = _table_lookup(IS_BREAK, codepoints)
    content = ~_table_lookup(IS_SPACE, codepoints)
    line = np.cumsum(breaks, dtype=np.int64)
    positions = np.flatnonzero(content)
    if not len(positions):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    lines = line[positions]
    new_line = np.empty(len(lines), dtype=bool)
    new_line[0] = True
    np.not_equal(lines[1:], lines[:-1], out=new_line[1:])
    starts = positions[new_line]
    last = np.empty(len(lines), dtype=bool)
    last[-1] = True
    last[:-1] = new_line[1:]
    ends = positions[last] + 1
    return starts.astype(np.int64), ends.astype(np.int64)


# The UTF-8 sequences of the spaces past ASCII, as big-endian integers of their two or
# three bytes (BYTE_IS_SPACE holds the ASCII ones).
_WIDE_SPACES = [int.from_bytes(chr(c).encode("utf-8"), "big") for c in _SPACES if c >= 0x80]
_WIDE_SPACES_2 = np.array([c for c in _WIDE_SPACES if c < 1 << 16], dtype=np.int64)
_WIDE_SPACES_3 = np.array([c for c in _WIDE_SPACES if c >= 1 << 16], dtype=np.int64)


def strip_utf8_spans(text, starts, ends):
    """strip_spans for spans of valid UTF-8 bytes (uint8); None where a span begins or ends,
    once its ASCII whitespace is stripped, with whitespace past ASCII (U+00A0, U+3000,
    ...: the caller strips such text as code points instead)."""
    starts, ends = strip_spans(text, starts, ends, BYTE_IS_SPACE)
    filled = np.flatnonzero(ends > starts)
    first, last = starts[filled], ends[filled] - 1
    wide_first = first[text[first] >= 0x80]
    wide_last = last[text[last] >= 0x80]
    if not len(wide_first) and not len(wide_last):
        return starts, ends
    top = len(text) - 1
    # A character's bytes lie inside its span, and a lead byte is never a continuation
    # byte: two or three bytes that read as a space's sequence are that space.
    wide = text.astype(np.int64)
    heads = wide[wide_first] << 8 | wide[np.minimum(wide_first + 1, top)]
    tails = wide[np.maximum(wide_last - 1, 0)] << 8 | wide[wide_last]
    if np.isin(heads, _WIDE_SPACES_2).any() or np.isin(tails, _WIDE_SPACES_2).any():
        return None
    heads = heads << 8 | wide[np.minimum(wide_first + 2, top)]
    tails = wide[np.maximum(wide_last - 2, 0)] << 16 | tails
    if np.isin(heads, _WIDE_SPACES_3).any() or np.isin(tails, _WIDE_SPACES_3).any():
        return None
    return starts, ends


def strip_spans(codepoints, starts, ends, is_space=IS_SPACE):
    """Each span without the whitespace around it (the items' rule); a blank span becomes
    empty (start == end). `is_space`: the table of whitespace code points."""
    filled = np.flatnonzero(ends > starts)
    if not len(filled):
        return starts.copy(), ends.copy()
    edges = np.concatenate([starts[filled], ends[filled] - 1])
    if not _table_lookup(is_space, codepoints[edges]).any():
        return starts.copy(), ends.copy()   # the usual case: nothing to strip
    content = np.flatnonzero(~_table_lookup(is_space, codepoints))
    first = np.searchsorted(content, starts)
    last = np.searchsorted(content, ends) - 1
    kept = first <= last          # some non-space character lies inside the span
    new_starts = starts.copy()
    new_ends = starts.copy()
    new_starts[kept] = content[first[kept]]
    new_ends[kept] = content[last[kept]] + 1
    return new_starts, new_ends


class Reader:
    """Reads sources block by block, turning bytes into items; hashes every byte it reads.

    encoding_errors is 'strict' (invalid UTF-8 is an error naming the line),
    'replace' (U+FFFD in its place) or 'ignore'.
    """

    def __init__(self, sources, encoding_errors="strict", block_bytes=BLOCK_BYTES,
                 max_line_bytes=MAX_LINE_BYTES, lines=False):
        if encoding_errors not in ("strict", "replace", "ignore"):
            raise InputError(f"unknown --encoding-errors {encoding_errors!r}: choose strict, "
                             "replace or ignore")
        self.sources = list(sources)
        self.encoding_errors = encoding_errors
        self.block_bytes = int(block_bytes)
        self.max_line_bytes = int(max_line_bytes)
        self.lines = lines     # items as KenLM reads them (Block): for sentence padding
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0
        self._spools = {}

    def spool_stdin(self):
        """Copy stdin to a temporary file so that it can be read twice (for the split).

        The copy is removed by `close`, and also when the copying fails (a full disk)
        or is stopped (Ctrl-C, SIGTERM); one a killed process left behind is removed by
        the next spool (files.make_temporary).
        """
        for source in self.sources:
            if source.is_stdin and id(source) not in self._spools:
                self._spools[id(source)] = spool_stream(stdin_bytes(), source.label)

    def close(self):
        """Remove any spooled copy of stdin."""
        for path in self._spools.values():
            path.unlink(missing_ok=True)
        self._spools.clear()

    def _open(self, source):
        spooled = self._spools.get(id(source))
        return open(spooled, "rb") if spooled else source.open()

    def blocks(self, hash_bytes=False):
        """Yield (source, Block) for every block of whole lines of every source.

        A source whose first bytes are a gzip, bzip2, xz or zstd stream's is read as
        the text it decompresses to (streamed, a block at a time); the bytes hashed and
        counted are the text's.
        """
        for source in self.sources:
            raw = self._open(source)
            try:
                handle = open_decompressed(raw, source.label)
                yield from self._source_blocks(source, handle, hash_bytes)
            finally:
                if raw is not getattr(sys.stdin, "buffer", None):
                    raw.close()

    def _source_blocks(self, source, handle, hash_bytes):
        carry = b""
        line_number = 1
        first = True
        while True:
            data = handle.read(self.block_bytes)
            if hash_bytes:
                self.sha256.update(data)
                self.bytes_read += len(data)
            if first:
                if data.startswith(UTF8_BOM):
                    data = data[len(UTF8_BOM):]
                first = False
            if not data:
                if carry:
                    yield source, self._parse(source, carry, line_number)
                return
            data = carry + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) > self.max_line_bytes:
                    raise InputError(
                        f"{source.label}: line {line_number} is longer than "
                        f"{self.max_line_bytes:,} bytes; bigram reads one item (a name, a "
                        "word, a line of text) per line")
                carry = data
                continue
            block, carry = data[:cut], data[cut:]
            lines_in_block = block.count(b"\n")
            self._check_line_lengths(source, block, line_number)
            if len(carry) > self.max_line_bytes:
                raise InputError(
                    f"{source.label}: line {line_number + lines_in_block} is longer than "
                    f"{self.max_line_bytes:,} bytes; bigram reads one item (a name, a word, a "
                    "line of text) per line")
            yield source, self._parse(source, block, line_number)
            line_number += lines_in_block

    def _check_line_lengths(self, source, block, line_number):
        """Refuse a block holding a line longer than the limit (one that ended inside it)."""
        if len(block) <= self.max_line_bytes:
            return
        ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)
        lengths = np.diff(ends, prepend=-1) - 1
        if lengths.max() > self.max_line_bytes:
            at = line_number + int(np.argmax(lengths > self.max_line_bytes))
            raise InputError(f"{source.label}: line {at} is longer than "
                             f"{self.max_line_bytes:,} bytes; bigram reads one item (a name, a "
                             "word, a line of text) per line")

    def _parse(self, source, block, line_number):
        raw = np.frombuffer(block, dtype=np.uint8)
        nul = block.find(b"\x00")
        if nul >= 0:
            at = line_number + block[:nul].count(b"\n")
            raise InputError(f"{source.label} looks like a binary file (a NUL byte on line {at}), "
                             "not text with one item per line")
        if not len(raw) or raw.max() < 0x80:
            return Block(raw, raw, lines=self.lines)
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as error:
            if self.encoding_errors == "strict":
                at = line_number + block[:error.start].count(b"\n")
                column = error.start - (block.rfind(b"\n", 0, error.start) + 1) + 1
                raise InputError(
                    f"{source.label}: line {at} is not valid UTF-8 (byte "
                    f"0x{block[error.start]:02x} at byte {column} of the line); pass "
                    "--encoding-errors replace to read it anyway") from None
            return Block(raw, text=block.decode("utf-8", errors=self.encoding_errors),
                         lines=self.lines)
        # The code points are made only if asked for: words can be read from the bytes.
        return Block(raw, text=text, exact=True, lines=self.lines)


def items_of_text(text):
    """The items of a text by the toolkit's rule: lines, stripped, blank ones skipped."""
    return [line.strip() for line in text.splitlines() if line and not line.isspace()]


def count_items(reader):
    """Number of items in all sources (a first pass, needed before a random split)."""
    return sum(block.n_items for _, block in reader.blocks())


def read_items(arguments, encoding_errors="strict"):
    """All items of the given sources as a list of strings (for small inputs and tests)."""
    reader = Reader(resolve_sources(arguments), encoding_errors)
    items = []
    for _, block in reader.blocks():
        items.extend(block.item_strings())
    return items


def items_from_text(text, encoding_errors="strict"):
    """Items of an in-memory text, parsed exactly as files are."""
    reader = Reader([Source("<text>")], encoding_errors)
    data = text.encode("utf-8") if isinstance(text, str) else text
    handle = io.BytesIO(data)
    items = []
    for _, block in reader._source_blocks(reader.sources[0], handle, False):
        items.extend(block.item_strings())
    return items
