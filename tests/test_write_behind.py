"""Writes done by the write-behind thread: the same bytes as writing them in place, in the
same order across files, the queue bounded, and a failed write raised to the writer."""

import errno
import io
import threading
import time
import zipfile

import numpy as np
import pytest

from bigram import write_behind
from bigram.formats.files import atomic_write
from bigram.write_behind import BehindFile


def pieces(seed, n=200):
    """Buffers of many sizes: bytes and numpy arrays of several widths."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        size = int(rng.integers(0, 1 << int(rng.integers(1, 18))))
        kind = rng.integers(0, 3)
        if kind == 0:
            out.append(rng.bytes(size))
        elif kind == 1:
            out.append(rng.integers(0, 1 << 40, size // 8 + 1, dtype=np.int64))
        else:
            out.append(rng.integers(0, 60000, size // 2 + 1, dtype=np.uint16))
    return out


def as_bytes(piece):
    return piece.tobytes() if isinstance(piece, np.ndarray) else bytes(piece)


def test_bytes_and_order_equal_plain_writes_across_files(tmp_path):
    """Two files written in turns: each holds exactly its pieces, in order."""
    a, b = pieces(1), pieces(2)
    with BehindFile(open(tmp_path / "a", "wb")) as fa, BehindFile(open(tmp_path / "b", "wb")) as fb:
        for x, y in zip(a, b):
            fa.write(x)
            fb.write(y)
        assert fa.tell() == sum(len(as_bytes(x)) for x in a)
    assert (tmp_path / "a").read_bytes() == b"".join(map(as_bytes, a))
    assert (tmp_path / "b").read_bytes() == b"".join(map(as_bytes, b))


def test_a_zip_written_behind_reads_back(tmp_path):
    """zipfile seeks back to patch each member's header: it must see its own writes."""
    arrays = {f"m{i}": np.arange(i * 100_000, dtype=np.int64) for i in range(1, 5)}
    with BehindFile(open(tmp_path / "z.zip", "wb")) as stream:
        with zipfile.ZipFile(stream, "w") as zf:
            for name, array in arrays.items():
                with zf.open(name, "w", force_zip64=True) as member:
                    member.write(memoryview(array).cast("B"))
    with zipfile.ZipFile(tmp_path / "z.zip") as zf:
        for name, array in arrays.items():
            assert np.array_equal(np.frombuffer(zf.read(name), dtype=np.int64), array)


class SlowFile(io.RawIOBase):
    """Writes slowly, recording how many bytes were queued at each write."""

    def __init__(self):
        self.data = bytearray()
        self.queued = []

    def writable(self):
        return True

    def write(self, data):
        time.sleep(0.002)
        self.queued.append(write_behind._WRITER.pending)
        self.data += bytes(data)
        return len(data)


def test_the_queue_stays_within_its_limit():
    before = write_behind.set_limit(1 << 16)
    try:
        sink = SlowFile()
        stream = BehindFile(sink)
        chunk = 5000
        for i in range(100):
            stream.write(bytes([i]) * chunk)
        stream.flush()
        assert bytes(sink.data) == b"".join(bytes([i]) * chunk for i in range(100))
        assert max(sink.queued) <= (1 << 16)
        assert max(sink.queued) > 4 * chunk     # it did queue: writes went on behind
    finally:
        write_behind.set_limit(before)


class FullDisk(io.RawIOBase):
    def __init__(self, room):
        self.room, self.data = room, bytearray()

    def writable(self):
        return True

    def write(self, data):
        if len(self.data) + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.data += bytes(data)
        return len(data)


def test_a_failed_write_is_raised_to_the_writer():
    stream = BehindFile(FullDisk(room=10_000))
    with pytest.raises(OSError) as caught:
        for _ in range(100):
            stream.write(b"x" * 1000)
        stream.close()
    assert caught.value.errno == errno.ENOSPC
    with pytest.raises(OSError):
        stream.write(b"more")


def test_abandon_drops_what_is_queued():
    gate = threading.Event()

    class Blocked(io.RawIOBase):
        def __init__(self):
            self.writes = 0

        def writable(self):
            return True

        def write(self, data):
            gate.wait(5)
            self.writes += 1
            return len(data)

    sink = Blocked()
    stream = BehindFile(sink)
    for _ in range(10):
        stream.write(b"y" * 100)
    threading.Timer(0.05, gate.set).start()
    stream.abandon()
    assert sink.writes <= 1 and write_behind._WRITER.pending == 0


def test_atomic_write_behind_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "model.npz"
    target.write_bytes(b"the user's file")

    def fill(stream):
        stream.write(b"a" * 100_000)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(Exception, match="no space left"):
        atomic_write(target, fill, behind=True)
    assert target.read_bytes() == b"the user's file"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


# ---------------------------------------------------------------------- read ahead

def test_read_ahead_yields_the_items_in_order_and_raises_where_they_fail():
    from bigram.read_ahead import read_ahead

    assert list(read_ahead(iter(range(1000)))) == list(range(1000))
    assert list(read_ahead([])) == []

    def failing():
        yield 1
        yield 2
        raise ValueError("bad frame")

    got = []
    with pytest.raises(ValueError, match="bad frame"):
        for item in read_ahead(failing()):
            got.append(item)
    assert got == [1, 2]


def test_read_ahead_holds_at_most_two_items():
    """The item the caller holds and the one being made: never more."""
    from bigram.read_ahead import read_ahead

    alive = []
    made = []

    def items():
        for i in range(50):
            made.append(i)
            alive.append(len(made) - len(taken))
            yield i

    taken = []
    for item in read_ahead(items()):
        time.sleep(0.001)
        taken.append(item)
    assert taken == list(range(50))
    assert max(alive) <= 2


def test_read_ahead_survives_the_caller_taking_an_item_at_once(monkeypatch):
    # The thread used to look at the box after handing its item over; a caller that took
    # the item first left it an empty box: the thread died and the caller waited forever
    # (a 1.28 GB build hung while merging). A tiny switch interval makes that interleaving
    # likely; a second thread lets the test fail instead of hang.
    import sys

    from bigram import read_ahead as module

    monkeypatch.setattr(module, "cores", lambda: 2)
    before = sys.getswitchinterval()
    counted = []
    consumer = threading.Thread(
        target=lambda: counted.append(sum(1 for _ in module.read_ahead(range(100_000)))),
        daemon=True)
    sys.setswitchinterval(1e-6)
    try:
        consumer.start()
        consumer.join(60)
    finally:
        sys.setswitchinterval(before)
    assert not consumer.is_alive(), "read_ahead hung"
    assert counted == [100_000]


def test_read_ahead_stops_when_the_caller_stops():
    from bigram.read_ahead import read_ahead

    made = []

    def items():
        for i in range(1000):
            made.append(i)
            yield i

    reader = read_ahead(items())
    assert [next(reader) for _ in range(3)] == [0, 1, 2]
    reader.close()
    time.sleep(0.05)
    assert len(made) <= 4


def test_column_slices_and_frames_read_ahead_equal_plain_reads(tmp_path):
    from bigram.ngrams.columns import write_column
    from bigram.ngrams.spill import FrameWriter, TempSpace, read_frames

    rng = np.random.default_rng(3)
    values = rng.integers(-(1 << 40), 1 << 40, 100_003)
    with TempSpace(tmp_path) as space:
        column = write_column(space, "c", values)
        column.rows = 4096
        got = list(column.slices())
        assert [s for s, _ in got] == list(range(0, len(values), 4096))
        assert np.array_equal(np.concatenate([v for _, v in got]), values)
        writer = FrameWriter(space, "f")
        frames = [(np.sort(rng.integers(0, 1 << 50, n)), rng.integers(0, 9, n))
                  for n in (10, 0, 5000, 1)]
        for keys, counts in frames:
            writer.write(keys, counts, sorted_first=True)
        path = writer.close()
        for ahead in (False, True):
            read = list(read_frames(path, ahead=ahead))
            assert len(read) == len(frames)
            for (keys, counts), (k, c) in zip(frames, read):
                assert np.array_equal(keys, k) and np.array_equal(counts, c)


def test_a_budgeted_build_bounds_the_write_queue_by_its_budget(tmp_path, monkeypatch):
    """Bytes queued for writing count against --memory: tune and train within a budget of
    2 MiB queue at most a 32nd of it (64 KiB, the smallest queue)."""
    from bigram.ngrams.budgeted_training_data import load_training_data_budgeted
    from bigram.settings import Reading

    monkeypatch.setattr(write_behind, "_limit", write_behind.DEFAULT_LIMIT)
    text = tmp_path / "c.txt"
    text.write_text("a b c\nb c d\n" * 500)
    load_training_data_budgeted([str(text)], 2 << 20, Reading(unit="word", test_size=0),
                                order=3, padding="sentence", temp_dir=str(tmp_path))
    assert write_behind.limit() == 1 << 16
