""".npz files that may come from anywhere, read in bounded memory and time.

An .npz is a zip of .npy members. A member is read only after its .npy header
(a few hundred bytes, read on its own) and the zip directory agree on its size,
and its dtype, shape and element count are the ones the caller expects and
allows; so a member that declares gigabytes is refused before any of it is
decompressed or allocated. Nothing is ever unpickled. Every problem is a
one-line ModelFileError naming the file.
"""

import io
import math
import struct
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bigram.errors import ModelFileError

_HEADER_LOCK = threading.Lock()   # see ArrayHeader parsing in NpzFile.header

ZIP_MAGIC = b"PK\x03\x04"
NPY_MAGIC = b"\x93NUMPY"
PICKLE_MAGIC = b"\x80"
MAX_MEMBERS = 1024               # a model file has a few dozen arrays
MAX_NPY_HEADER_BYTES = 1 << 16   # numpy writes headers of about a hundred bytes
CHUNK_BYTES = 1 << 20
# Deflate turns one bit pair into at most 258 bytes, so no deflated member can
# expand more than 1032-fold; a directory that declares more is lying.
MAX_DEFLATE_RATIO = 1032
READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)


def damaged(path, detail):
    """The one-line error for a file whose content cannot be right."""
    return ModelFileError(f"{path} is damaged: {detail}")


def pickled(path, name):
    """The one-line error for a member that holds Python objects (which need unpickling)."""
    return ModelFileError(f"{path} holds a pickled Python object ({name!r}); bigram never "
                          "unpickles files, so it cannot be loaded")


@dataclass(frozen=True)
class ArrayHeader:
    """What a member says about its array, read before any of the array is."""

    name: str
    shape: tuple            # of Python ints
    dtype: np.dtype
    fortran_order: bool
    data_offset: int        # bytes of .npy preamble before the data

    @property
    def size(self):
        """The number of elements (a Python int, however large the shape)."""
        return math.prod(self.shape)


class NpzFile:
    """An .npz opened for checked reading: `names`, `in`, `header(name)`, `read`, `read_text`.

    Use as a context manager. The path appears, as given, in every error.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._zip = _open_zip(self.path)
        try:
            infos = self._zip.infolist()
            if len(infos) > MAX_MEMBERS:
                raise damaged(self.path, f"it has {len(infos):,} members, more than the "
                                         f"{MAX_MEMBERS:,} a model file can have")
        except BaseException:
            self._zip.close()
            raise
        self._members = {info.filename.removesuffix(".npy"): info for info in infos}

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Close the underlying zip file."""
        self._zip.close()

    @property
    def names(self):
        """Member names, with the .npy suffix removed as numpy does."""
        return list(self._members)

    def __contains__(self, name):
        return name in self._members

    def header(self, name):
        """The member's ArrayHeader, after checking it against the zip directory."""
        info = self._info(name)
        with self._open(info) as member:
            preamble = member.read_exactly(8)
            if not preamble.startswith(NPY_MAGIC) or preamble[6] not in (1, 2, 3):
                raise damaged(self.path, f"the member {name!r} is not a numpy array")
            length_format = "<H" if preamble[6] == 1 else "<I"
            length_bytes = member.read_exactly(struct.calcsize(length_format))
            (length,) = struct.unpack(length_format, length_bytes)
            if length > MAX_NPY_HEADER_BYTES:
                raise damaged(self.path, f"the array {name!r} has a header of {length:,} bytes, "
                                         f"more than the {MAX_NPY_HEADER_BYTES:,} numpy writes")
            text = member.read_exactly(length)
        reader = (np.lib.format.read_array_header_1_0 if preamble[6] == 1
                  else np.lib.format.read_array_header_2_0)
        try:
            # numpy parses the header with ast.literal_eval, which CPython 3.11 cannot run in
            # two threads at once (the AST recursion check races: "AST constructor recursion
            # depth mismatch"), and model files are read by two threads.
            with _HEADER_LOCK:
                shape, fortran_order, dtype = reader(io.BytesIO(length_bytes + text),
                                                     max_header_size=MAX_NPY_HEADER_BYTES)
        except (ValueError, SyntaxError, TypeError):
            raise damaged(self.path, f"the array {name!r} has an unreadable header") from None
        if any(n < 0 for n in shape):
            raise damaged(self.path, f"the array {name!r} declares the shape {list(shape)}")
        header = ArrayHeader(name, tuple(shape), dtype, fortran_order,
                             len(preamble) + len(length_bytes) + length)
        if header.dtype.hasobject:
            raise pickled(self.path, name)
        declared = header.data_offset + header.size * dtype.itemsize
        if declared != info.file_size:
            raise damaged(self.path, f"the array {name!r} declares {declared:,} bytes in its "
                                     f"header but {info.file_size:,} in the zip directory")
        return header

    def column(self, name, dtype):
        """A stored (not deflated) one-dimensional member of `dtype` as a columns.Column
        read in place, a slice at a time; None if the member is deflated or not so."""
        from bigram.ngrams.columns import Column

        info, header = self._info(name), self.header(name)
        if info.compress_type != zipfile.ZIP_STORED or header.dtype != np.dtype(dtype) or \
                len(header.shape) != 1 or header.fortran_order:
            return None
        with open(self.path, "rb") as raw:
            member = _member_start(raw, info)
        if member is None:
            return None
        return Column(self.path, header.dtype, header.shape[0], member + header.data_offset)

    def read(self, name, dtype, shape, *, max_items, what=None):
        """The member `name` as an array, checked before anything large is allocated.

        dtype: the one accepted dtype. shape: a tuple whose entries are ints or None
        (any length). max_items: the ceiling on the number of elements, from what the
        caller knows the file must hold. what: how errors name the array, a singular
        noun phrase ("the probability matrix"); by default "the array 'name'".
        """
        return self._read_checked(name, dtype, shape, max_items, what, "values")

    def read_text(self, name, *, max_bytes, what=None):
        """The member `name` as text: a vector of UTF-8 bytes of at most `max_bytes`.

        `what` should be a singular noun phrase ("its metadata").
        """
        what = what or f"the array {name!r}"
        raw = self._read_checked(name, np.uint8, (None,), max_bytes, what, "bytes")
        try:
            return raw.tobytes().decode("utf-8")
        except UnicodeDecodeError:
            raise damaged(self.path, f"{what} is not valid UTF-8") from None

    def _read_checked(self, name, dtype, shape, max_items, what, unit):
        what = what or f"the array {name!r}"
        header = self.header(name)
        dtype = np.dtype(dtype)
        if header.dtype != dtype or not _shape_fits(header.shape, shape):
            raise damaged(self.path, f"{what} has shape {list(header.shape)} and dtype "
                                     f"{header.dtype}, expected {_describe(shape, dtype)}")
        if header.size > max_items:
            raise damaged(self.path, f"{what} would hold {header.size:,} {unit}; a valid file "
                                     f"holds at most {max_items:,}")
        return self._read_data(self._info(name), header)

    def _info(self, name):
        info = self._members.get(name)
        if info is None:
            raise damaged(self.path, f"the array {name!r} is missing")
        if info.flag_bits & 0x1:
            raise damaged(self.path, f"the array {name!r} is encrypted")
        if info.compress_type == zipfile.ZIP_STORED:
            plausible = info.file_size == info.compress_size
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            plausible = info.file_size <= MAX_DEFLATE_RATIO * info.compress_size + 1024
        else:
            raise damaged(self.path, f"the array {name!r} uses a compression method numpy "
                                     "never writes")
        if not plausible:
            raise damaged(self.path, f"the array {name!r} declares {info.file_size:,} bytes, "
                                     f"more than its {info.compress_size:,} stored bytes can hold")
        return info

    def _open(self, info):
        try:
            return _Guarded(self._zip.open(info), self.path, info.filename)
        except READ_ERRORS + (NotImplementedError, RuntimeError):
            raise damaged(self.path, f"the array {info.filename!r} is truncated or "
                                     "corrupt") from None

    def _read_data(self, info, header):
        """Decompress exactly the declared bytes, a chunk at a time, into one buffer."""
        flat = np.empty(header.size, dtype=header.dtype)
        buffer = memoryview(flat).cast("B")
        if info.compress_type == zipfile.ZIP_STORED and self._read_stored(info, header, buffer):
            return _shaped(flat, header)
        with self._open(info) as member:
            member.read_exactly(header.data_offset)
            filled = 0
            while filled < len(buffer):
                chunk = member.read(min(CHUNK_BYTES, len(buffer) - filled))
                if not chunk:
                    raise damaged(self.path, f"the array {header.name!r} is truncated")
                buffer[filled:filled + len(chunk)] = chunk
                filled += len(chunk)
            if member.read(1):  # also reaches the end, where zipfile checks the CRC
                raise damaged(self.path, f"the array {header.name!r} holds more bytes than "
                                         "it declares")
        return _shaped(flat, header)

    def _read_stored(self, info, header, buffer):
        """Read a stored (not deflated) member's data straight into `buffer` and check its
        CRC: the kernel fills the buffer, with none of zipfile's chunked copies (five times
        faster for the hundreds of megabytes of a large model). False if the member does
        not start where a plain local header says, leaving it to zipfile."""
        try:
            with open(self.path, "rb") as raw:
                member = _member_start(raw, info)
                if member is None:
                    return False
                raw.seek(member)
                preamble = raw.read(header.data_offset)
                if len(preamble) != header.data_offset or \
                        raw.readinto(buffer) != len(buffer):
                    raise damaged(self.path, f"the array {header.name!r} is truncated")
        except OSError:
            raise damaged(self.path, f"the array {header.name!r} is truncated or "
                                     "corrupt") from None
        if zlib.crc32(buffer, zlib.crc32(preamble)) != info.CRC:
            raise damaged(self.path, f"the array {header.name!r} is corrupt (its CRC "
                                     "does not match)")
        return True


def _member_start(raw, info):
    """Where a member's bytes start in the zip file `raw` (after its plain local header),
    or None where the header is not one."""
    raw.seek(info.header_offset)
    local = raw.read(30)
    if len(local) != 30 or not local.startswith(ZIP_MAGIC):
        return None
    name_length, extra_length = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_length + extra_length


def _shaped(flat, header):
    if header.fortran_order:
        return flat.reshape(header.shape[::-1]).T
    return flat.reshape(header.shape)


class _Guarded:
    """A member stream whose read errors become one-line ModelFileErrors."""

    def __init__(self, stream, path, name):
        self._stream, self._path, self._name = stream, path, name

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._stream.close()

    def read(self, size):
        try:
            return self._stream.read(size)
        except READ_ERRORS:
            raise damaged(self._path, f"the array {self._name!r} is truncated or "
                                      "corrupt") from None

    def read_exactly(self, size):
        data = self.read(size)
        if len(data) != size:
            raise damaged(self._path, f"the array {self._name!r} is truncated")
        return data


def _shape_fits(actual, expected):
    return len(actual) == len(expected) and all(
        want is None or have == want for have, want in zip(actual, expected))


def _describe(shape, dtype):
    if tuple(shape) == (None,):
        return f"a vector of {dtype}"
    if None not in shape:
        return f"{list(shape)} and {dtype}"
    dims = ", ".join("any" if n is None else str(n) for n in shape)
    return f"shape [{dims}] and {dtype}"


def _open_zip(path):
    if not path.exists():
        raise ModelFileError(f"no model at {path}; run `bigram train` first")
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a model file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except PermissionError:
        raise ModelFileError(f"cannot read {path}: permission denied") from None
    if head.startswith(PICKLE_MAGIC):
        raise ModelFileError(f"{path} holds pickled Python data; bigram never unpickles files, "
                             "so it cannot be loaded")
    if head.startswith(NPY_MAGIC):
        raise ModelFileError(f"{path} is a single numpy array (.npy), not a bigram model file")
    if not head.startswith(ZIP_MAGIC):
        raise ModelFileError(f"{path} is not a bigram model file")
    try:
        return zipfile.ZipFile(path)
    except READ_ERRORS + (NotImplementedError,):
        raise ModelFileError(f"{path} is damaged (truncated or corrupt)") from None
