"""Counting chunks on several threads (budgeted_counting._count_pass): the same counts as
one thread and as the in-memory counter, errors of any thread raised once with nothing
left behind, and how many threads a budget and a machine allow.

- a random corpus counted within a budget small enough for many chunks, on 2 and 3
  threads (every thread counting some chunks), gives the one-thread counter's files and
  the in-memory index, level for level;
- a full disk while the threads write, and Ctrl-C or bad input raised in a helper
  thread: one error line (or the exception), nothing left in the temporary folder;
- counting_threads: one thread on one core or under small budgets; the chunk share of the
  budget split between the threads.
"""

import errno
import gc
import threading
from pathlib import Path

import numpy as np
import pytest
from test_memory_budget import leftovers, random_corpus

from bigram.errors import InputError
from bigram.ngrams import budgeted_counting, spill
from bigram.ngrams.budgeted_training_data import load_training_data_budgeted
from bigram.ngrams.training_data import load_training_data
from bigram.settings import Reading
from bigram.training import budget


@pytest.fixture
def threads(monkeypatch):
    """Every text takes the budgeted path; `threads.use(n)` sets the counting threads
    whatever the budget and the machine; `threads.seen` records which thread counted
    which chunk."""

    class Threads:
        seen = []

        def use(self, n):
            monkeypatch.setattr(budgeted_counting, "counting_threads", lambda memory: n)

    count = budgeted_counting._ChunkCounter.count

    def recorded(self, frame, write):
        Threads.seen.append(threading.get_ident())
        return count(self, frame, write)

    monkeypatch.setattr(budget, "fits_in_memory", lambda size, memory: False)
    monkeypatch.setattr(budgeted_counting._ChunkCounter, "count", recorded)
    return Threads()


def counted(path, memory, reading, order, padding, folder):
    data = load_training_data_budgeted([path], memory, reading, order, padding, folder)
    index = data.counts["train"].in_memory()
    del data
    gc.collect()
    return index


@pytest.mark.parametrize("unit,order,padding", [
    ("word", 5, "sentence"), ("word", 3, "makemore"), ("char", 4, "makemore")])
@pytest.mark.parametrize("seed", [1, 2])
def test_threads_count_as_one_thread_and_as_in_memory(tmp_path, threads, unit, order,
                                                      padding, seed):
    path = str(random_corpus(tmp_path / "c.txt", seed, unit,
                             lines=60000 if unit == "char" else 10000))
    reading = Reading(unit=unit, test_size=0)
    memory = 1 << 20       # a chunk per 16 kB block read: a dozen and more
    reference = load_training_data([path], reading, order, padding).counts["train"]
    results = {}
    for n in (1, 2, 3):
        threads.use(n)
        threads.seen.clear()
        results[n] = counted(path, memory, reading, order, padding, tmp_path)
        assert len(threads.seen) >= 10
        # Every thread counted chunks (the chunks are handed out as threads come free).
        assert len(set(threads.seen)) == n
    for n, index in results.items():
        for k in range(1, order + 1):
            for field in ("keys", "suffix", "count"):
                x = getattr(reference.level(k), field)
                y = getattr(index.level(k), field)
                assert x.dtype == y.dtype and np.array_equal(x, y), (n, k, field)
    assert not leftovers(tmp_path)


def test_full_disk_while_threads_write_is_one_line(cli, threads, tmp_path, monkeypatch):
    random_corpus(tmp_path / "c.txt", 3, "word", lines=5000)
    threads.use(2)
    real_open = open

    class FillingFile:
        """The level files of the first pass fill the disk after a few frames."""

        def __init__(self, path, mode):
            self.file = real_open(path, mode)

        def write(self, data):
            if self.file.tell() + len(data) > 20_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.file.write(data)

        def close(self):
            self.file.close()

    monkeypatch.setattr(spill, "open", lambda path, mode: FillingFile(path, mode)
                        if "w" in mode and Path(path).name.startswith("local")
                        else real_open(path, mode), raising=False)
    Path(tmp_path / "m.npz").write_bytes(b"mine")
    result = cli("train", "c.txt", "--unit", "word", "--order", "4", "--memory", "1M",
                 "--temp-dir", ".", "-o", "m.npz", "--force")
    assert result.code == 1
    assert result.err.splitlines()[-1].startswith(
        "error: the disk of the temporary folder . is full (")
    assert result.err.count("error") == 1 and len(set(threads.seen)) == 2
    assert Path("m.npz").read_bytes() == b"mine" and not leftovers(".")


@pytest.mark.parametrize("error,code,message", [
    (KeyboardInterrupt, 130, "error: interrupted"),
    (InputError("the spilled text changed while it was counted"), 1,
     "error: the spilled text changed while it was counted")])
def test_an_error_in_a_helper_thread_is_raised_once(cli, threads, tmp_path, monkeypatch,
                                                    error, code, message):
    random_corpus(tmp_path / "c.txt", 4, "word", lines=5000)
    threads.use(2)
    main = threading.main_thread().ident
    count = budgeted_counting._count_chunk
    failed = []

    def failing(*args):
        # The helper's third chunk fails; the main thread goes on until it is told.
        if threading.get_ident() != main and threads.seen.count(threading.get_ident()) == 3:
            failed.append(1)
            raise error
        return count(*args)

    monkeypatch.setattr(budgeted_counting, "_count_chunk", failing)
    result = cli("train", "c.txt", "--unit", "word", "--order", "4", "--memory", "1M",
                 "--temp-dir", ".", "-o", "m.npz")
    assert failed and result.code == code
    assert result.err.strip().endswith(message) and result.err.count("error") == 1
    assert not Path("m.npz").exists() and not leftovers(".")
    assert threading.active_count() == 1       # the helper ended


def test_threads_by_machine_and_budget(monkeypatch):
    monkeypatch.setattr(budgeted_counting, "_cores", lambda: 2)
    assert budgeted_counting.counting_threads(1 << 30) == 2
    # 1 GiB: each thread's share is above the largest chunk, so chunks stay as large.
    assert budgeted_counting.chunk_tokens(1 << 30) == budgeted_counting.MAX_CHUNK_TOKENS
    # 256 MiB: two threads, each chunk half of what one thread's would be.
    share = int((1 << 28) * budgeted_counting.CHUNK_SHARE) // budgeted_counting.CHUNK_BYTES_PER_TOKEN
    assert budgeted_counting.chunk_tokens(1 << 28) == share // 2
    # Small budgets: chunks too small for two threads to gain, so one thread, whole share.
    assert budgeted_counting.counting_threads(1 << 20) == 1
    assert budgeted_counting.chunk_tokens(16 << 20) == \
        int((16 << 20) * budgeted_counting.CHUNK_SHARE) // budgeted_counting.CHUNK_BYTES_PER_TOKEN
    monkeypatch.setattr(budgeted_counting, "_cores", lambda: 1)
    assert budgeted_counting.counting_threads(1 << 30) == 1
