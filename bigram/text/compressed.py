"""Compressed inputs: gzip, bzip2, xz and zstd streams, recognised by their first bytes and
decompressed as a stream, in bounded memory.

`open_decompressed(handle, label)` looks at the first bytes of a binary file object and
returns it as it is (plain text) or wrapped in a `DecompressedStream`, a file object whose
`read(n)` gives at most n bytes of the decompressed text. Whatever the ratio of the data
(a decompression bomb expands a thousand times and more), no more than about n bytes of
output exist at once: gzip, bzip2 and xz decoders are asked for at most what `read` still
needs, and zstd's decoder (which has no such limit) is fed ZSTD_FEED_BYTES at a time, and
one zstd block of 4 bytes gives at most 128 KiB.

A file may hold several streams one after the other (`cat a.gz b.gz`, pigz, pbzip2, xz
and zstd frames): they are read on as one text, as gzip, bzip2, xz and zstd do. Zero bytes
between or after streams (padding) are skipped; anything else after a stream ends is an
error. Damage is one InputError naming the file, the codec and the byte offset of the
compressed data where it was found; a stream cut short says so, at the file's last byte.
"""

import bz2
import lzma
import zlib

from bigram.errors import InputError

HEAD_BYTES = 10               # enough first bytes to tell every codec apart
READ_BYTES = 64 << 10         # compressed bytes read from the file at once
FEED_BYTES = 8 << 10          # of which handed to a gzip, bzip2 or xz decoder at once (errors
                              # are placed to within this many bytes)
ZSTD_FEED_BYTES = 512         # zstd's output per feed is at most 16 MiB (32768 times this)
ZSTD_INSTALL = "pip install zstandard"

# bzip2: "BZh", the block size '1'..'9', then the magic of a first block (pi) or of the end
# of an empty stream (sqrt(pi)), both byte-aligned there; ten bytes no text file begins with.
_BZIP2_BLOCKS = (bytes.fromhex("314159265359"), bytes.fromhex("177245385090"))
_XZ_MAGIC = b"\xfd7zXZ\x00"
_GZIP_MAGIC = b"\x1f\x8b\x08"   # deflate, the only method gzip defines
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _is_zstd(head):
    # A zstd frame, or a skippable frame (magic 0x184D2A50..5F, little-endian).
    return head.startswith(_ZSTD_MAGIC) or (len(head) >= 4 and head[1:4] == b"\x2a\x4d\x18"
                                            and 0x50 <= head[0] <= 0x5F)


def codec_of(head):
    """The codec ('gzip', 'bzip2', 'xz', 'zstd') whose stream begins with `head`, or None."""
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if (head[:3] == b"BZh" and head[3:4] in b"123456789" and len(head) >= 10
            and head[4:10] in _BZIP2_BLOCKS):
        return "bzip2"
    if head.startswith(_XZ_MAGIC):
        return "xz"
    if _is_zstd(head):
        return "zstd"
    return None


def _starts_stream(codec, data):
    """Whether `data` (the bytes after a stream's end) begins another stream of `codec`."""
    if codec == "bzip2":
        return data[:3] == b"BZh"
    if codec == "zstd":
        return _is_zstd(data)
    return data.startswith({"gzip": _GZIP_MAGIC, "xz": _XZ_MAGIC}[codec])


# ------------------------------------------------------------------ decoders of one stream


class _Stream:
    """What every decoder of one stream offers beside decode and needs_input: whether the
    stream has ended, and the input after its end (the next stream's start)."""

    @property
    def eof(self):
        return self._decoder.eof

    @property
    def unused_data(self):
        return self._decoder.unused_data


class _Zlib(_Stream):
    """One gzip member (zlib keeps input it could not use in `unconsumed_tail`)."""

    feed_bytes = FEED_BYTES
    errors = (zlib.error,)

    def __init__(self):
        self._decoder = zlib.decompressobj(wbits=31)
        self._full = False

    def decode(self, data, limit):
        out = self._decoder.decompress(self._decoder.unconsumed_tail + data, limit)
        self._full = len(out) >= limit   # more output may wait inside zlib
        return out

    @property
    def needs_input(self):
        return not self._decoder.unconsumed_tail and not self._full


class _Buffered(_Stream):
    """One bzip2 or xz stream (these decoders keep unused input themselves)."""

    feed_bytes = FEED_BYTES

    def __init__(self, decoder, errors):
        self._decoder = decoder
        self.errors = errors

    def decode(self, data, limit):
        return self._decoder.decompress(data, limit)

    @property
    def needs_input(self):
        return self._decoder.needs_input


class _Zstd(_Stream):
    """One zstd frame. The decoder takes no output limit: small feeds bound its output."""

    feed_bytes = ZSTD_FEED_BYTES
    needs_input = True

    def __init__(self, zstandard):
        self._decoder = zstandard.ZstdDecompressor().decompressobj()
        self.errors = (zstandard.ZstdError,)

    def decode(self, data, limit):
        return self._decoder.decompress(data)



def _zstandard(label):
    try:
        import zstandard
    except ImportError:
        raise InputError(f"{label} is zstd-compressed, and reading it needs the zstandard "
                         f"package: {ZSTD_INSTALL}") from None
    return zstandard


def _decoder_factory(codec, label):
    if codec == "gzip":
        return _Zlib
    if codec == "bzip2":
        return lambda: _Buffered(bz2.BZ2Decompressor(), (OSError, ValueError))
    if codec == "xz":
        return lambda: _Buffered(lzma.LZMADecompressor(lzma.FORMAT_XZ), (lzma.LZMAError,))
    zstandard = _zstandard(label)
    return lambda: _Zstd(zstandard)


# ------------------------------------------------------------------ the stream


class DecompressedStream:
    """The text of a compressed binary file object, read as a file (`read(n)`)."""

    def __init__(self, raw, codec, label, head=b""):
        self.codec, self.label = codec, label
        self._raw = raw
        self._new_decoder = _decoder_factory(codec, label)
        self._decoder = self._new_decoder()
        self._input, self._at = head, 0   # compressed bytes read, and how many were used
        self._offset = 0            # compressed bytes given to decoders so far
        self._output = b""          # decoded bytes beyond what `read` asked for (zstd)
        self._done = False

    def read(self, size):
        """At most `size` bytes of text; b"" at the end."""
        pieces, wanted = [], size
        if self._output:
            pieces.append(self._output[:wanted])
            self._output = self._output[wanted:]
            wanted -= len(pieces[0])
        while wanted > 0 and not self._done:
            piece = self._decode(wanted)
            if len(piece) > wanted:
                piece, self._output = piece[:wanted], piece[wanted:]
            if piece:
                pieces.append(piece)
                wanted -= len(piece)
        return b"".join(pieces)

    def _take(self, size):
        """Up to `size` compressed bytes (a view), empty when the file has no more."""
        if self._at >= len(self._input):
            self._input, self._at = self._raw.read(READ_BYTES), 0
        data = memoryview(self._input)[self._at:self._at + size]
        self._at += len(data)
        self._offset += len(data)
        return data

    def _decode(self, limit):
        decoder = self._decoder
        if decoder.eof:
            self._next_stream()
            return b""
        data = self._take(decoder.feed_bytes) if decoder.needs_input else b""
        if decoder.needs_input and not data:
            raise InputError(f"{self.label}: damaged {self.codec} data: the file ends at byte "
                             f"{self._offset:,} before its {self.codec} stream does (it is "
                             "truncated)")
        try:
            return decoder.decode(data, limit)
        except decoder.errors as error:
            raise InputError(f"{self.label}: damaged {self.codec} data, found near byte "
                             f"{self._offset:,} of the file ({error})") from None

    def _next_stream(self):
        """After a stream's end: skip zero padding, then start the next stream or finish."""
        unused = self._decoder.unused_data
        self._offset -= len(unused)
        self._input, self._at = unused + self._input[self._at:], 0
        while True:
            if not self._input:
                self._input = self._raw.read(READ_BYTES)
                if not self._input:
                    self._done = True
                    return
            rest = self._input.lstrip(b"\x00")
            self._offset += len(self._input) - len(rest)
            self._input = rest
            if rest:
                break
        if len(self._input) < HEAD_BYTES:
            self._input += read_head(self._raw, HEAD_BYTES)
        if not _starts_stream(self.codec, self._input):
            raise InputError(f"{self.label}: damaged {self.codec} data: what follows the end "
                             f"of its {self.codec} stream, at byte {self._offset:,}, is not "
                             f"{self.codec} data")
        self._decoder = self._new_decoder()

class _Prefixed:
    """A binary file object with bytes already read from it put back in front (stdin and
    pipes cannot seek back after the first bytes were looked at)."""

    def __init__(self, head, raw):
        self._head, self._raw = head, raw

    def read(self, size):
        """At most `size` bytes: from the head first, then from the file."""
        if not self._head:
            return self._raw.read(size)
        data, self._head = self._head[:size], self._head[size:]
        return data


def read_head(raw, size=HEAD_BYTES):
    """The first `size` bytes of a file object (fewer only at its end), reading as often
    as a pipe needs."""
    head = b""
    while len(head) < size:
        piece = raw.read(size - len(head))
        if not piece:
            break
        head += piece
    return head


def open_decompressed(raw, label):
    """`raw` (a binary file object, read from its start) as text: decompressed if its first
    bytes are those of a gzip, bzip2, xz or zstd stream, else as it is."""
    head = read_head(raw)
    codec = codec_of(head)
    if codec is not None:
        return DecompressedStream(raw, codec, label, head)
    try:
        raw.seek(-len(head), 1)
        return raw
    except (AttributeError, OSError, ValueError):   # a pipe: put the bytes back in front
        return _Prefixed(head, raw)
