"""Temporary files for estimation within a memory budget: a folder that always goes away,
and integer arrays written to it compressed.

Everything a budgeted build spills (token ids, rows per position, sorted runs of
windows) goes through `TempSpace`: one private folder under `--temp-dir`, removed on
success, on error and on Ctrl-C (it is a context manager). A full disk or an unwritable
folder becomes one `BudgetError` line naming the folder, its disk's free space and what
the build needed.

Arrays are stored as frames: each integer array in the narrowest unsigned width that
holds it (sorted keys as differences from their predecessor first, which makes them
small; other arrays shifted by their minimum), optionally zlib'd (BIGRAM_SPILL_ZLIB).
"""

import errno
import os
import shutil
import struct
import tempfile
import weakref
import zlib
from pathlib import Path

import numpy as np

from bigram.errors import BigramError
from bigram.read_ahead import read_ahead
from bigram.write_behind import BehindFile

_HEADER = struct.Struct("<BBq q")   # kind (0 plain, 1 deltas), width code, length, bytes
_WIDTHS = (np.uint8, np.uint16, np.uint32, np.uint64)
# zlib on top of the narrow widths: a third less disk, a fifth more time (measured on
# 20 MB of Zipf words, order 5); off unless BIGRAM_SPILL_ZLIB names a level (1-9).
LEVEL = int(os.environ.get("BIGRAM_SPILL_ZLIB", "0") or 0)


class BudgetError(BigramError):
    """The temporary folder cannot hold what a budgeted build spills."""


def human_bytes(n):
    """A byte count as people read it (1.5 GB, 320 MB, 12 kB)."""
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} TB"


def binary_bytes(n):
    """A budget as it is given (1 GiB, 500 MiB, 64 KiB)."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.3g} {unit}"
    return f"{n} B"


def free_bytes(folder):
    """Free space on the disk holding `folder`, in bytes."""
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


class TempSpace:
    """A private folder under `parent` (the system's temporary folder if None) for spilled
    files; `needed` (bytes) is the estimate quoted when the disk fills up (an upper one
    with `upper`)."""

    def __init__(self, parent=None, needed=0, upper=False):
        parent = Path(parent) if parent is not None else Path(tempfile.gettempdir())
        if not parent.is_dir():
            raise BudgetError(f"--temp-dir {parent} is not a folder")
        try:
            self.folder = Path(tempfile.mkdtemp(prefix="bigram-build-", dir=parent))
        except OSError as error:
            raise BudgetError(f"cannot create temporary files in {parent}: "
                              f"{error.strerror or error}") from None
        self.parent = parent
        self.needed = int(needed)
        self.upper = upper
        self.written = 0       # bytes on disk now
        self.peak = 0          # the most bytes on disk at once
        self._count = 0
        self._open = weakref.WeakSet()   # spilled files being written

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Remove the folder and everything in it (files still being written are given up
        first: nothing queued for them is written after this)."""
        for spilled in list(self._open):
            spilled._file.abandon()
        shutil.rmtree(self.folder, ignore_errors=True)

    def path(self, stem):
        """A fresh file name in the folder."""
        self._count += 1
        return self.folder / f"{stem}-{self._count}.bin"

    def full_disk(self, error):
        """The BudgetError for a failed write (full disk or otherwise)."""
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            # (Text from a pipe has no size ahead, and so no estimate.)
            need = f"; this build needs {'up to' if self.upper else 'about'} " \
                f"{human_bytes(self.needed)}" if self.needed else ""
            return BudgetError(
                f"the disk of the temporary folder {self.parent} is full "
                f"({human_bytes(free_bytes(self.parent))} free, {human_bytes(self.written)} "
                f"written so far{need}); pass --temp-dir on a larger disk")
        return BudgetError(f"cannot write temporary files in {self.parent}: "
                           f"{error.strerror or error}")

    def removed(self, path):
        """Account for a spilled file about to be deleted, and delete it."""
        try:
            self.written -= path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            pass


class SpilledFile:
    """A new file in `space` written front to back by the write-behind thread
    (bigram.write_behind); a full disk (or any write error) is the space's one-line
    BudgetError, raised by the write after it or by closing, and the space counts the bytes
    written. What `_write` is given must not change afterwards."""

    def __init__(self, space, stem):
        self.space = space
        self.path = space.path(stem)
        try:
            self._file = BehindFile(open(self.path, "wb"))  # noqa: SIM115 - closed by _finish
        except OSError as error:
            raise space.full_disk(error) from None
        space._open.add(self)

    def _write(self, data):
        """Append bytes (or a buffer of them)."""
        try:
            self._file.write(data)
        except OSError as error:
            self._file.abandon()
            self.space._open.discard(self)
            raise self.space.full_disk(error) from None
        size = memoryview(data).nbytes
        self.space.written += size
        self.space.peak = max(self.space.peak, self.space.written)

    def _finish(self):
        """Close the file once its queued writes are done (a full disk shows here too)."""
        self.space._open.discard(self)
        try:
            self._file.close()
        except OSError as error:
            raise self.space.full_disk(error) from None


class FrameWriter(SpilledFile):
    """Appends frames of integer arrays to one spilled file."""

    def __init__(self, space, stem):
        super().__init__(space, stem)
        self.frames = 0

    def write(self, *arrays, sorted_first=False):
        """One frame of arrays (int, any width); with sorted_first the first array is
        ascending and is stored as differences."""
        parts = []
        for i, array in enumerate(arrays):
            parts.extend(encode(array, deltas=sorted_first and i == 0))
        # Each piece is queued as it is (no joined copy of the frame): the encoded arrays
        # are fresh, so the write-behind thread may take them as they are.
        size = 4 + sum(memoryview(part).nbytes for part in parts)
        self._write(struct.pack("<qI", size, len(arrays)))
        for part in parts:
            self._write(part)
        self.frames += 1

    def close(self):
        """Finish the file; its path."""
        self._finish()
        return self.path


def read_frames(path, ahead=False):
    """Each frame of a spilled file as a list of arrays (int64 or the stored width for
    plain arrays), in order; with `ahead` the next frame is read and decoded by a thread
    while the caller works on this one (bigram.read_ahead: two frames alive at once)."""
    frames = _frames(path)
    return read_ahead(frames) if ahead else frames


def _frames(path):
    with open(path, "rb") as handle:
        while True:
            head = handle.read(8)
            if not head:
                return
            (size,) = struct.unpack("<q", head)
            # Made in a call of its own, so that this generator holds neither the frame's
            # bytes nor its arrays while the caller works on them.
            yield _decoded(handle.read(size))


def _decoded(data):
    """The arrays of one frame's bytes."""
    (n,) = struct.unpack_from("<I", data)
    offset, arrays = 4, []
    for _ in range(n):
        array, offset = decode(data, offset)
        arrays.append(array)
    return arrays


def encode(array, deltas=False):
    """An integer array as (header, bytes): its values in the narrowest unsigned width,
    zlib'd if asked (signed arrays are shifted by their minimum, stored in the header)."""
    array = np.asarray(array)
    low = 0
    if deltas and len(array):
        values = np.diff(array, prepend=array[:1]).astype(np.int64)
        low = int(array[0])
    else:
        values = array.astype(np.int64, copy=False)
        if len(values):
            low = int(values.min())
            values = values - low
    top = int(values.max()) if len(values) else 0
    code = 0 if top < 1 << 8 else 1 if top < 1 << 16 else 2 if top < 1 << 32 else 3
    raw = values.astype(_WIDTHS[code])   # a fresh array in every case
    if LEVEL:
        raw = zlib.compress(raw, LEVEL)
    size = memoryview(raw).nbytes
    return _HEADER.pack(int(deltas), code, len(array), size) + struct.pack("<q", low), raw


def decode(data, offset):
    """The array encoded at `offset` (int64), and the offset after it."""
    kind, code, _, size = _HEADER.unpack_from(data, offset)
    offset += _HEADER.size
    (low,) = struct.unpack_from("<q", data, offset)
    offset += 8
    raw = data[offset:offset + size]
    values = np.frombuffer(zlib.decompress(raw) if LEVEL else raw, dtype=_WIDTHS[code])
    values = values.astype(np.int64)
    if kind == 1 and len(values):     # (an empty array has no first value)
        values[0] = low
        np.cumsum(values, out=values)
    else:
        values += low
    return values, offset + size
