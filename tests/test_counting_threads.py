"""Training on two cores: chunks counted on several threads (budgeted_counting._count_pass)
and blocks read ahead on a thread of their own (read_ahead.ReadAhead): the same counts
as one thread and as the in-memory counter, errors of any thread raised once with nothing
left behind, and how many threads a budget and a machine allow.

- a random corpus counted within a budget small enough for many chunks, on 2 and 3
  threads (every thread counting some chunks), gives the one-thread counter's files and
  the in-memory index, level for level;
- a full disk while the threads write, and Ctrl-C or bad input raised in a helper
  thread: one error line (or the exception), nothing left in the temporary folder;
- counting_threads: one thread on one core or under small budgets; the chunk share of the
  budget split between the threads;
- reading ahead: the same training data as reading on one core; bad input in a late
  block is its one error line (the right line), and an error while a block is collected
  stops the reading thread.
"""

import errno
import gc
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_memory_budget import ROOT, leftovers, random_corpus

from bigram import read_ahead
from bigram.errors import InputError
from bigram.ngrams import budgeted_counting, spill, training_data
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
        together = None

        def use(self, n):
            """n threads, each counting a chunk before any counts a second one."""
            monkeypatch.setattr(budgeted_counting, "counting_threads", lambda memory: n)
            Threads.seen = []
            Threads.together = threading.Barrier(n)

    count = budgeted_counting._ChunkCounter.count

    def recorded(self, frame, write):
        first = threading.get_ident() not in Threads.seen
        Threads.seen.append(threading.get_ident())
        if first:
            Threads.together.wait(timeout=30)
        return count(self, frame, write)

    monkeypatch.setattr(budget, "fits_in_memory", lambda size, memory: False)
    monkeypatch.setattr(budgeted_counting._ChunkCounter, "count", recorded)
    return Threads()


def ours():
    """The threads of counting and reading still running."""
    return [t for t in threading.enumerate() if t.name in ("bigram-counting", "bigram-reading")]


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
        results[n] = counted(path, memory, reading, order, padding, tmp_path)
        assert len(threads.seen) >= 10
        assert len(set(threads.seen)) == n          # every thread counted chunks
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
@pytest.mark.parametrize("in_helper", [True, False])
def test_an_error_in_any_counting_thread_is_raised_once(cli, threads, tmp_path, monkeypatch,
                                                        error, code, message, in_helper):
    random_corpus(tmp_path / "c.txt", 4, "word", lines=5000)
    threads.use(2)
    main = threading.main_thread().ident
    count = budgeted_counting._count_chunk
    failed = []

    def failing(*args):
        # One thread's first chunk fails (each thread takes one before either counts);
        # the other goes on until it is told.
        me = threading.get_ident()
        if (me != main) == in_helper and threads.seen.count(me) == 1:
            failed.append(1)
            raise error
        return count(*args)

    monkeypatch.setattr(budgeted_counting, "_count_chunk", failing)
    result = cli("train", "c.txt", "--unit", "word", "--order", "4", "--memory", "1M",
                 "--temp-dir", ".", "-o", "m.npz")
    assert failed and result.code == code
    assert result.err.strip().endswith(message) and result.err.count("error") == 1
    assert not Path("m.npz").exists() and not leftovers(".")
    assert not ours()            # the helper ended


@pytest.mark.skipif(budgeted_counting.cores() < 2, reason="one core: one counting thread")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_threads_count_leaves_nothing(tmp_path, signum):
    """A real Ctrl-C or kill while two threads count chunks (a 64 MiB budget: chunks of
    ~170,000 tokens, two at a time)."""
    assert budgeted_counting.counting_threads(64 << 20) == 2
    lines = Path(random_corpus(tmp_path / "part.txt", 6, "word", lines=20000)).read_text()
    text = tmp_path / "c.txt"
    text.write_text(lines * 40)          # about 6 million tokens
    temp = tmp_path / "temp"
    temp.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "bigram", "train", str(text), "--unit", "word", "--order", "5",
         "--memory", "64M", "--temp-dir", str(temp), "-o", str(tmp_path / "m.npz")],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:   # wait until the first pass writes its levels
        built = leftovers(temp)
        if built and any(p.name.startswith("local") and p.stat().st_size
                         for p in built[0].iterdir()):
            break
        time.sleep(0.01)
    else:
        process.kill()
        pytest.fail("no chunk was counted")
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.decode().strip().endswith("error: interrupted")
    assert not leftovers(temp) and not (tmp_path / "m.npz").exists()


def test_threads_by_machine_and_budget(monkeypatch):
    most = budgeted_counting.MAX_CHUNK_TOKENS
    monkeypatch.setattr(budgeted_counting, "cores", lambda: 2)
    # Two threads, each chunk half of what one thread's would be: as much memory at once.
    assert budgeted_counting.counting_threads(1 << 30) == 2
    assert budgeted_counting.chunk_tokens(1 << 30) == most // 2
    per_token = budgeted_counting.CHUNK_BYTES_PER_TOKEN
    share = int((1 << 26) * budgeted_counting.CHUNK_SHARE) // per_token
    assert share < most and budgeted_counting.chunk_tokens(1 << 26) == share // 2
    # Small budgets: chunks too small for two threads to gain, so one thread, whole share.
    assert budgeted_counting.counting_threads(1 << 20) == 1
    assert budgeted_counting.counting_threads(16 << 20) == 1
    assert budgeted_counting.chunk_tokens(16 << 20) == \
        int((16 << 20) * budgeted_counting.CHUNK_SHARE) // per_token
    monkeypatch.setattr(budgeted_counting, "cores", lambda: 1)
    assert budgeted_counting.counting_threads(1 << 30) == 1
    assert budgeted_counting.chunk_tokens(1 << 30) == most


@pytest.mark.parametrize("unit,split", [("word", None), ("word", "makemore"), ("char", None)])
def test_reading_ahead_reads_as_one_core(tmp_path, monkeypatch, unit, split):
    path = str(random_corpus(tmp_path / "c.txt", 7, unit, lines=6000))
    reading = Reading(unit=unit, test_size=0 if split is None else 50, block_bytes=1 << 12)
    read = []
    for cores in (1, 2):
        monkeypatch.setattr(read_ahead, "cores", lambda cores=cores: cores)
        read.append(load_training_data([path], reading, 4, "makemore"))
    one, two = read
    assert one.vocabulary.tokens == two.vocabulary.tokens and one.held_out == two.held_out
    assert one.train_items == two.train_items and one.bytes_read == two.bytes_read
    for name in one.counts:
        for k in range(1, 5):
            for field in ("keys", "suffix", "count"):
                assert np.array_equal(getattr(one.counts[name].level(k), field),
                                      getattr(two.counts[name].level(k), field))


def test_bad_input_read_ahead_is_its_one_line(cli, tmp_path, monkeypatch):
    text = random_corpus(tmp_path / "c.txt", 8, "word", lines=20000)
    lines = Path(text).read_text().splitlines()
    with open(text, "a") as out:
        out.write("a b\x00c\n")
    monkeypatch.setattr(read_ahead, "cores", lambda: 2)
    result = cli("train", "c.txt", "--unit", "word", "--memory", "1M", "--temp-dir", ".",
                 "-o", "m.npz")
    assert result.code == 1 and result.err.count("error") == 1
    assert result.err.splitlines()[-1] == (
        f"error: c.txt looks like a binary file (a NUL byte on line {len(lines) + 1}), not "
        "text with one item per line")
    assert not leftovers(".") and not ours()


def test_an_error_while_collecting_stops_the_reading_thread(tmp_path, monkeypatch):
    path = str(random_corpus(tmp_path / "c.txt", 9, "word", lines=20000))
    monkeypatch.setattr(read_ahead, "cores", lambda: 2)
    blocks = []
    add_items = training_data.TokenCollector.add_items

    def interrupted(self, *args, **kwargs):
        blocks.append(1)
        if len(blocks) == 3:
            raise KeyboardInterrupt
        return add_items(self, *args, **kwargs)

    monkeypatch.setattr(training_data.TokenCollector, "add_items", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_training_data([path], Reading(unit="word", test_size=0, block_bytes=1 << 12), 3,
                           "makemore")
    assert len(blocks) == 3 and not ours()
