"""Training within a memory budget (`--memory`, `--temp-dir`): the same model as in memory.

- spilled frames read back as written; the external sorter equals np.unique + bincount on
  random records under budgets that force many runs and merges in several passes;
- the NgramIndex counted from spilled runs equals the in-memory one, level by level, and
  the trained model equals the in-memory model array for array, for every method (add-k,
  Witten-Bell, Kneser-Ney, modified Kneser-Ney pruned and not), characters and words,
  orders 2 to 5, with dev/test splits and vocabulary control;
- lmplz's ARPA files (tests/fixtures/kenlm) come out of the budgeted path too;
- --memory/--temp-dir errors are one line; a full disk, a disk too small, Ctrl-C and a
  real SIGINT leave no temporary files and no file at -o;
- a child process counting a text 20 times its budget stays within it (ru_maxrss).
"""

import errno
import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_kenlm_fixtures import FIXTURES, parse_arpa_text
from test_modified_kneser_ney import (
    TRAINED,
    assert_same_arpa,
    fixture_text,
    prune_option,
    skip_option,
)

from bigram.formats import streamed_export
from bigram.formats.modelfile import save
from bigram.ngrams import (
    budgeted_counting,
    budgeted_training_data,
    external_sort,
    spill,
)
from bigram.ngrams import streaming_kneser_ney as slices
from bigram.ngrams.budgeted_training_data import load_training_data_budgeted
from bigram.ngrams.external_sort import WindowSorter
from bigram.ngrams.spill import FrameWriter, TempSpace, read_frames
from bigram.ngrams.training_data import load_training_data
from bigram.settings import Reading, TrainingSettings
from bigram.training import budget
from bigram.training.budget import parse_memory
from bigram.training.train import train_model

ROOT = Path(__file__).resolve().parents[1]


def random_corpus(path, seed, unit, lines=600):
    """Zipf-ish words or characters, lines of 1 to 14 tokens, with repeats."""
    rng = np.random.default_rng(seed)
    types = 40 if unit == "char" else 120
    alphabet = [chr(ord("a") + i % 26) + ("" if i < 26 else chr(ord("a") + i // 26))
                for i in range(types)]
    weights = 1.0 / np.arange(1, types + 1)
    weights /= weights.sum()
    joiner = "" if unit == "char" else " "
    text = []
    for _ in range(lines):
        tokens = rng.choice(types, rng.integers(1, 15), p=weights)
        if unit == "char":
            text.append("".join(alphabet[t][0] for t in tokens))
        else:
            text.append(joiner.join(alphabet[t] for t in tokens))
    Path(path).write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def zipf_words(path, size, seed):
    """About `size` bytes of lines of 5 to 30 words over 20,000 Zipf-weighted word types:
    most long windows are new (the levels grow with the text, as on generated corpora)."""
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(20000)])
    weights = 1 / np.arange(1, 20001)
    weights /= weights.sum()
    with open(path, "w") as out:
        while out.tell() < size:
            ids = rng.choice(20000, 60_000, p=weights)
            cuts = np.cumsum(rng.integers(5, 30, 4000))
            out.write("\n".join(" ".join(words[part]) for part in np.split(ids, cuts)
                                if len(part)) + "\n")
    return path


@pytest.fixture
def forced(monkeypatch):
    """Every text takes the budgeted path, and the sorters' merge passes are recorded."""
    monkeypatch.setattr(budget, "fits_in_memory", lambda size, memory: False)
    passes = []
    def recording(finish):
        def recorded(self):
            result = finish(self)
            passes.append(self.merge_passes)
            return result
        return recorded

    for name in ("finish", "finish_columns"):
        monkeypatch.setattr(WindowSorter, name, recording(getattr(WindowSorter, name)))
    return passes


def leftovers(folder):
    return [p for p in Path(folder).iterdir() if p.name.startswith("bigram-build-")]


# ---------------------------------------------------------------------- spilled frames


def test_frames_read_back_as_written(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(-5, 5, 100), rng.integers(0, 1 << 62, 50), np.zeros(0, np.int64),
              np.sort(rng.integers(0, 1 << 40, 1000)), rng.integers(0, 200, 7).astype(np.int32)]
    with TempSpace(tmp_path) as space:
        writer = FrameWriter(space, "t")
        writer.write(*arrays[:3])
        writer.write(arrays[3], arrays[4], sorted_first=True)
        path = writer.close()
        frames = list(read_frames(path))
        assert space.written == path.stat().st_size
    assert len(frames) == 2
    for got, want in zip(frames[0] + frames[1], arrays, strict=True):
        assert np.array_equal(got, want)
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("memory", [1 << 15, 1 << 17, 1 << 22])
def test_sorter_equals_unique_and_bincount(tmp_path, memory):
    rng = np.random.default_rng(memory)
    blocks = [rng.integers(0, 30_000, rng.integers(1, 5000)) ** 2 for _ in range(40)]
    with TempSpace(tmp_path) as space:
        sorter = WindowSorter(space, memory)
        for keys in blocks:
            sorter.add(keys, (keys % 1000).astype(np.int32), keys % 3)
        keys, suffix, count = sorter.finish()
        assert space.written == 0     # runs are removed once merged
    every = np.concatenate(blocks)
    want, inverse = np.unique(every, return_inverse=True)
    assert np.array_equal(keys, want)
    assert np.array_equal(count, np.bincount(inverse, weights=every % 3).astype(np.int64))
    assert np.array_equal(suffix, want % 1000)
    if memory <= 1 << 17:
        assert sorter.merge_passes >= 2     # more runs than one merge opens


# ---------------------------------------------------------------------- same index, same model


@pytest.mark.parametrize("memory", [8 << 10, 2 << 20])
def test_column_lookups_equal_sorted_search(tmp_path, memory):
    """The finders of columns too large for memory (a sweep per batch, an external join
    over key ranges) give the rows a plain search gives, -1 where a key is absent."""
    from bigram.ngrams.columns import (
        BucketedLookup,
        ColumnFinder,
        ColumnGather,
        range_bytes,
        write_column,
    )

    rng = np.random.default_rng(5)
    keys = np.unique(rng.integers(0, 1 << 40, 20_000))
    with TempSpace(tmp_path) as space:
        column = write_column(space, "keys", keys)
        batches = [np.where(rng.random(n) < 0.8, rng.choice(keys, n), rng.integers(0, 1 << 40, n))
                   for n in (1000, 0, 3000, 17)]
        batches += [np.sort(b) for b in batches]   # a build asks sorted batches
        expected = [np.where(np.isin(b, keys), np.searchsorted(keys, b), -1) for b in batches]
        sweep = ColumnFinder(column, memory, 1 << 40)
        assert (sweep.whole is None) == (memory < 2 << 20)
        lookup = BucketedLookup(space, column, memory, 1 << 40)
        assert len(lookup.starts) == -(-keys.nbytes // range_bytes(memory))
        assert len(lookup.starts) > (1 if memory < 2 << 20 else 0)
        for batch in batches:
            lookup.ask(batch)
        lookup.resolve()
        for batch, rows in zip(batches, expected):
            assert np.array_equal(sweep.find(batch), rows)
            assert np.array_equal(lookup.find(batch), rows)
        lookup.close()
        gather = ColumnGather(column, memory)
        at = rng.integers(0, len(keys), 5000)
        assert np.array_equal(gather(at), keys[at])
        # Suffix links are int32 (their windows' bounds are searched in that dtype), and
        # may sit at the column's first and last rows.
        at = np.append(rng.integers(0, len(keys), 5000), [0, len(keys) - 1]).astype(np.int32)
        assert np.array_equal(gather(at), keys[at])


@pytest.mark.parametrize("unit,order,padding,split", [
    ("word", 5, "sentence", "makemore"), ("word", 3, "makemore", "80/10/10"),
    ("char", 4, "makemore", "makemore"), ("char", 2, "sentence", None),
    ("word", 2, "makemore", None)])
@pytest.mark.parametrize("seed", [1, 2])
def test_budgeted_index_equals_in_memory(tmp_path, forced, unit, order, padding, split, seed):
    path = str(random_corpus(tmp_path / "c.txt", seed, unit, lines=8000 if unit == "char" else 2500))
    reading = Reading(unit=unit, split=split or "makemore", test_size=None if split else 0)
    memory = 1 << 14
    a = load_training_data([path], reading, order, padding)
    b = load_training_data_budgeted([path], memory, reading, order, padding, tmp_path)
    assert a.counts.keys() == b.counts.keys()
    assert type(b.counts["train"]).__name__ == "DiskIndex"    # the levels are on disk
    b.counts["train"] = b.counts["train"].in_memory()
    for name in a.counts:
        for k in range(1, order + 1):
            for field in ("keys", "suffix", "count"):
                x = getattr(a.counts[name].level(k), field)
                y = getattr(b.counts[name].level(k), field)
                assert x.dtype == y.dtype and np.array_equal(x, y), (name, k, field)
    assert a.vocabulary.tokens == b.vocabulary.tokens
    assert np.array_equal(a.token_rank, b.token_rank)
    assert max(forced) >= 2
    del b
    gc.collect()
    assert not leftovers(tmp_path)


def model_arrays(path):
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files
                if name not in ("meta", "train_items")}


def assert_same_model_files(folder, first, second):
    """The two trainings' model files hold the same arrays, dtype for dtype (NaN equal to
    NaN), besides their metadata."""
    save(folder / "a.npz", first.saved)
    save(folder / "b.npz", second.saved)
    a, b = model_arrays(folder / "a.npz"), model_arrays(folder / "b.npz")
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), name


METHODS = [("add-k", {}), ("witten-bell", {}), ("kneser-ney", {}),
           ("modified-kneser-ney", {}), ("modified-kneser-ney", {"prune": [0, 1]})]


@pytest.mark.parametrize("method,extra", METHODS, ids=lambda x: str(x))
@pytest.mark.parametrize("unit,order", [("char", 3), ("word", 4), ("word", 2), ("char", 5)])
def test_budgeted_model_equals_in_memory(tmp_path, forced, method, extra, unit, order):
    path = str(random_corpus(tmp_path / "c.txt", order, unit, lines=400))
    common = dict(method=method, order=order, unit=unit, test_size=None, **extra)
    if unit == "word" and order == 2:
        common.update(min_count=2)
    if unit == "char" and order == 3:
        common.update(max_vocab=20)
    plain = train_model([path], TrainingSettings.of(**common))
    budgeted = train_model([path], TrainingSettings.of(memory=1 << 14, temp_dir=str(tmp_path),
                                                       **common))
    assert_same_model_files(tmp_path, plain, budgeted)
    # The same losses (the training split's summed a slice at a time: the last bits may
    # differ from the in-memory sum's).
    assert [(r.name, r.tokens) for r in plain.reports] == \
        [(r.name, r.tokens) for r in budgeted.reports]
    for x, y in zip(plain.reports, budgeted.reports):
        assert y.log_likelihood == pytest.approx(x.log_likelihood, rel=1e-12, nan_ok=True)
    # A model estimated on disk keeps its columns there while it lives.
    del budgeted
    gc.collect()
    assert not leftovers(tmp_path)


STREAMED = [("modified-kneser-ney", {}), ("modified-kneser-ney", {"prune": [0, 1, 1]}),
            ("kneser-ney", {}), ("kneser-ney", {"smoothing": 0.4}), ("witten-bell", {}),
            ("witten-bell", {"smoothing": 2.5}), ("add-k", {}), ("add-k", {"smoothing": 0.1})]


@pytest.mark.parametrize("method,extra", STREAMED, ids=lambda x: str(x))
@pytest.mark.parametrize("unit,order", [("word", 3), ("char", 5), ("word", 5)])
def test_streamed_estimate_in_small_slices_equals_in_memory(tmp_path, forced, monkeypatch,
                                                           unit, order, method, extra):
    """Every method estimated on disk a few rows at a time (slices cut at context
    boundaries, gathers and finders sweeping their columns) is the in-memory model."""
    from bigram.ngrams import streaming_kneser_ney

    monkeypatch.setattr(streaming_kneser_ney, "MIN_ROWS", 7)
    path = str(random_corpus(tmp_path / "c.txt", order + 10, unit, lines=300))
    common = dict(method=method, order=order, unit=unit, **extra)
    plain = train_model([path], TrainingSettings.of(**common))
    budgeted = train_model([path], TrainingSettings.of(memory=1 << 10, temp_dir=str(tmp_path),
                                                       **common))
    assert type(budgeted.saved.model).__name__ == "StreamedCountModel"
    assert_same_model_files(tmp_path, plain, budgeted)
    for x, y in zip(plain.reports, budgeted.reports):
        assert (x.name, x.tokens) == (y.name, y.tokens)
        assert y.log_likelihood == pytest.approx(x.log_likelihood, rel=1e-12, nan_ok=True)


@pytest.mark.parametrize("model", TRAINED, ids=lambda m: m["name"])
def test_budgeted_words_export_lmplz_arpa(cli, forced, monkeypatch, model):
    trained = cli("train", FIXTURES / f"{model['corpus']}.train.txt", "--unit", "word",
                  "--smoothing-method", "modified-kneser-ney", "--test-size", "0", "--order",
                  model["order"], *prune_option(model), *skip_option(model), "--memory", "1M",
                  "--temp-dir", ".",
                  "-o", "model.npz", "--force")
    assert trained.code == 0, trained.err
    assert "memory budget 1 MiB, temporary folder ." in trained.err
    exported = cli("export", "-m", "model.npz", "-o", "model.arpa", "--force")
    assert exported.code == 0, exported.err
    text = Path("model.arpa").read_text(encoding="utf-8")
    mine = parse_arpa_text(text)
    assert_same_arpa(mine, parse_arpa_text(fixture_text(model)))
    # Exported from disk a slice at a time (any file is larger than a quarter of nothing):
    # the same file, line for line.
    monkeypatch.setattr(streamed_export, "STREAM_SHARE", 0)
    calls = []
    export = streamed_export.export_streamed
    monkeypatch.setattr(streamed_export, "export_streamed",
                        lambda *a: calls.append(a) or export(*a))
    monkeypatch.setattr(slices, "MIN_ROWS", 5)
    streamed = cli("export", "-m", "model.npz", "-o", "streamed.arpa", "--memory", "1M",
                   "--temp-dir", ".")
    assert streamed.code == 0, streamed.err
    assert len(calls) == 1
    assert Path("streamed.arpa").read_text(encoding="utf-8") == text
    to_stdout = cli("export", "-m", "model.npz", "-o", "-", "--memory", "1M", "--temp-dir", ".")
    assert to_stdout.code == 0 and len(calls) == 2 and to_stdout.out == text
    assert not leftovers(".")


# ---------------------------------------------------------------------- options and faults


@pytest.mark.parametrize("text,size", [("1G", 1 << 30), ("500M", 500 << 20), ("2048k", 2 << 20),
                                       ("1.5G", 3 << 29), ("2097152", 2 << 20),
                                       ("1GB", 1 << 30)])
def test_memory_sizes(text, size):
    assert parse_memory(text) == size


def test_memory_percent_is_of_physical_memory():
    assert parse_memory("40%") == int(budget.physical_memory() * 0.4)


@pytest.mark.parametrize("args,message", [
    (["--memory", "lots"], "error: --memory takes a size such as 1G, 500M or 40%"),
    (["--memory", "0%"], "error: --memory as a share of physical memory must be above 0%"),
    (["--memory", "100K"], "error: --memory 100K is below the smallest budget, 1M"),
    (["--memory", "1G", "--temp-dir", "nowhere"], "error: --temp-dir nowhere is not a folder"),
])
def test_bad_budget_options_are_one_line(cli, args, message):
    result = cli("train", *args)
    assert result.code == 2
    assert result.err.startswith(message) and result.err.count("\n") == 1


def test_unwritable_temp_dir_is_one_line(cli, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = cli("train", "--memory", "1G", "--temp-dir", locked)
    assert result.code == 2 and "is not writable" in result.err


def test_full_disk_is_one_line_and_leaves_nothing(cli, forced, tmp_path, monkeypatch):
    random_corpus(tmp_path / "c.txt", 3, "word", lines=3000)
    real_open = open

    class FillingFile:
        """A spilled file on a disk that fills after 40 kB."""

        def __init__(self, path, mode):
            self.file = real_open(path, mode)

        def write(self, data):
            if self.file.tell() + len(data) > 40_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.file.write(data)

        def close(self):
            self.file.close()

    monkeypatch.setattr(spill, "open", lambda path, mode: FillingFile(path, mode)
                        if "w" in mode else real_open(path, mode), raising=False)
    result = cli("train", "c.txt", "--unit", "word", "--order", "4", "--memory", "1M",
                 "--temp-dir", ".", "-o", "m.npz")
    assert result.code == 1
    last = result.err.splitlines()[-1]
    assert last.startswith("error: the disk of the temporary folder . is full (")
    assert "this build needs up to" in last and result.err.count("error") == 1
    assert not Path("m.npz").exists() and not leftovers(".")


def fill_disk(monkeypatch, which):
    """Spilled files opened for writing whose path `which` accepts fail every write as a
    full disk does."""
    real_open = open

    class FullFile:
        def __init__(self, path, mode):
            self.file = real_open(path, mode)

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):
            self.file.close()

    monkeypatch.setattr(spill, "open", lambda path, mode: FullFile(path, mode)
                        if "w" in mode and which(path) else real_open(path, mode),
                        raising=False)


def test_full_disk_while_estimating_is_one_line_and_leaves_nothing(cli, forced, tmp_path,
                                                                   monkeypatch):
    """The disk fills once modified Kneser-Ney is estimated on disk (its first column)."""
    random_corpus(tmp_path / "c.txt", 3, "word", lines=3000)
    fill_disk(monkeypatch, lambda path: Path(path).name.startswith("extensions"))
    result = cli("train", "c.txt", "--unit", "word", "--order", "4", "--memory", "1M",
                 "--smoothing-method", "modified-kneser-ney", "--temp-dir", ".", "-o", "m.npz")
    assert result.code == 1
    assert result.err.splitlines()[-1].startswith(
        "error: the disk of the temporary folder . is full (")
    assert result.err.count("error") == 1
    assert not Path("m.npz").exists() and not leftovers(".")


def test_too_small_a_disk_is_refused_at_once(cli, forced, tmp_path, monkeypatch):
    random_corpus(tmp_path / "c.txt", 3, "word")
    monkeypatch.setattr(spill, "free_bytes", lambda folder: 1000)
    calls = []
    monkeypatch.setattr(budgeted_training_data, "count_spilled",
                        lambda *a, **k: calls.append(1))
    result = cli("train", "c.txt", "--unit", "word", "--memory", "1M", "--temp-dir", ".",
                 "-o", "m.npz")
    assert result.code == 1 and not calls
    assert result.err.startswith("error: the disk of the temporary folder . has 1 kB free; "
                                 "counting this text within the memory budget needs at least ")
    assert "if few of its n-grams repeat); pass --temp-dir on a larger disk" in result.err
    assert not Path("m.npz").exists() and not leftovers(".")


def test_a_disk_below_the_upper_estimate_is_not_refused(cli, forced, tmp_path, monkeypatch):
    # Repeated text needs a small part of the upper estimate (every window new): a disk
    # holding what the text needs at least builds, and builds the same model as a build
    # on a disk that holds the upper estimate.
    random_corpus(tmp_path / "c.txt", 3, "word")
    text_bytes = Path("c.txt").stat().st_size
    least = budgeted_counting.disk_least(text_bytes, "word")
    upper = budgeted_counting.disk_estimate(text_bytes, "word", 3)
    assert least < upper // 10
    assert cli("train", "c.txt", "--unit", "word", "--order", "3", "--memory", "1M",
               "--temp-dir", ".", "-o", "plain.npz").code == 0
    monkeypatch.setattr(spill, "free_bytes", lambda folder: least + 1)
    result = cli("train", "c.txt", "--unit", "word", "--order", "3", "--memory", "1M",
                 "--temp-dir", ".", "-o", "m.npz")
    assert result.code == 0, result.err
    assert f"up to {spill.human_bytes(upper)} needed if few of the text's n-grams repeat" \
        in result.err
    a, b = model_arrays(Path("m.npz")), model_arrays(Path("plain.npz"))
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f")
               for name in a)
    assert not leftovers(".")


def test_a_pipe_states_no_size_it_cannot_know(cli, forced, tmp_path, monkeypatch):
    # Text from stdin has no size ahead: the plan line and a full disk's error state the
    # free disk and what was written, not an estimate of 0 B.
    text = random_corpus(tmp_path / "c.txt", 3, "word").read_text()
    result = cli("train", "-", "--unit", "word", "--order", "3", "--memory", "1M",
                 "--temp-dir", ".", "-o", "m.npz", stdin=text)
    assert result.code == 0, result.err
    plan = result.err.splitlines()[0]
    assert plan.startswith("memory budget 1 MiB, temporary folder . (") and plan.endswith(" free)")
    fill_disk(monkeypatch, lambda path: True)
    result = cli("train", "-", "--unit", "word", "--order", "3", "--memory", "1M",
                 "--temp-dir", ".", "-o", "m2.npz", stdin=text)
    assert result.code == 1
    last = result.err.splitlines()[-1]
    assert last.startswith("error: the disk of the temporary folder . is full (")
    assert "written so far); pass --temp-dir on a larger disk" in last and "0 B)" not in last
    assert not Path("m2.npz").exists() and not leftovers(".")


def test_interrupt_while_merging_leaves_nothing(cli, forced, tmp_path, monkeypatch):
    random_corpus(tmp_path / "c.txt", 4, "word", lines=3000)
    Path(tmp_path / "m.npz").write_bytes(b"mine")

    def interrupted(paths):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(external_sort, "merge_runs", interrupted)
    result = cli("train", "c.txt", "--unit", "word", "--order", "3", "--memory", "1M",
                 "--temp-dir", ".", "-o", "m.npz", "--force")
    assert result.code == 130 and result.err.endswith("error: interrupted\n")
    assert Path("m.npz").read_bytes() == b"mine" and not leftovers(".")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_signal_leaves_no_temporary_files(tmp_path, signum):
    """A real Ctrl-C (SIGINT) or kill (SIGTERM) to `bigram train` in the middle of
    counting."""
    text = tmp_path / "c.txt"
    random_corpus(text, 5, "word", lines=200_000)
    temp = tmp_path / "temp"
    temp.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "bigram", "train", str(text), "--unit", "word", "--order", "5",
         "--memory", "2M", "--temp-dir", str(temp), "-o", str(tmp_path / "m.npz")],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:   # wait until runs are being spilled
        built = leftovers(temp)
        if built and any(p.name.startswith("level") for p in built[0].iterdir()):
            break
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("no runs were spilled")
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.decode().strip().endswith("error: interrupted")
    assert not leftovers(temp) and not (tmp_path / "m.npz").exists()


# ---------------------------------------------------------------------- memory


PEAK = """
import resource, sys
from bigram.settings import TrainingSettings
from bigram.training.train import train_model
import bigram.ngrams.budgeted_training_data, bigram.models.language_models
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = train_model([sys.argv[1]], TrainingSettings.of(
    method="modified-kneser-ney", order=5, unit="word", test_size=0, memory=int(sys.argv[2]),
    temp_dir=sys.argv[3]))
print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(result.saved.model.counts))
"""


def test_peak_memory_within_budget_on_a_text_20_times_larger(tmp_path):
    """A repetitive text of 42 MB (the in-memory counter would hold ~600 MB) counted with
    a 2 MiB budget: the child's peak RSS stays within 2 budgets of what it was once its
    modules were imported (measured: it does not grow at all)."""
    rng = np.random.default_rng(9)
    words = [f"w{i}" for i in range(300)]
    sentences = [" ".join(rng.choice(words, rng.integers(5, 20))) for _ in range(2000)]
    block = ("\n".join(sentences) + "\n").encode()
    text = tmp_path / "c.txt"
    with open(text, "wb") as out:
        out.writelines(block for _ in range(42_000_000 // len(block) + 1))
    memory = 2 << 20
    assert text.stat().st_size >= 20 * memory
    done = subprocess.run([sys.executable, "-c", PEAK, str(text), str(memory), str(tmp_path)],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, check=True)
    base, peak, windows = map(int, done.stdout.split())
    grown = (peak - base) * 1024
    assert windows > 50_000
    assert grown < 2 * memory, f"grew {grown / 1e6:.1f} MB"
    assert not leftovers(tmp_path)


PEAK_SAVED = """
import resource, sys
from bigram.formats.modelfile import save
from bigram.settings import TrainingSettings
from bigram.training.train import train_model
import bigram.ngrams.budgeted_training_data, bigram.models.streamed_model
import bigram.ngrams.streaming_kneser_ney, bigram.ngrams.column_tables
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = train_model([sys.argv[1]], TrainingSettings.of(
    method="modified-kneser-ney", order=5, unit="word", memory=int(sys.argv[2]),
    temp_dir=sys.argv[3]))
save(sys.argv[3] + "/m.npz", result.saved)
print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(result.saved.model.counts),
      type(result.saved.model).__name__)
"""


def test_peak_memory_stays_far_below_the_levels_on_text_of_new_ngrams(tmp_path):
    """Zipf words where most 5-grams are new (8 MB, about 5.5 million distinct n-grams:
    their levels alone take 90 MB), trained with an 8 MiB budget, held-out split and model
    file included: the child grows by a fraction of the levels (measured: 29 MB,
    the budget plus fixed costs such as the vocabulary and numpy's temporaries)."""
    text = zipf_words(tmp_path / "c.txt", 8_000_000, seed=4)
    memory = 8 << 20
    done = subprocess.run([sys.executable, "-c", PEAK_SAVED, str(text), str(memory),
                           str(tmp_path)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, check=True)
    base, peak, windows, kind = done.stdout.split()
    grown = (int(peak) - int(base)) * 1024
    assert kind == "StreamedCountModel" and int(windows) > 4_000_000
    assert grown < int(windows) * 16 / 2, f"grew {grown / 1e6:.1f} MB"
    assert grown < 6 * memory, f"grew {grown / 1e6:.1f} MB"
    assert (tmp_path / "m.npz").stat().st_size > int(windows) * 24
    assert not leftovers(tmp_path)


def test_progress_hears_every_stage_to_its_end(tmp_path, forced):
    path = str(random_corpus(tmp_path / "c.txt", 6, "word", lines=2500))
    heard, notes = [], []
    train_model([path], TrainingSettings.of(method="kneser-ney", order=3, unit="word",
                                            test_size=0, memory=1 << 16,
                                            temp_dir=str(tmp_path)),
                budget_progress=lambda *a: heard.append(a), budget_note=notes.append)
    assert len(notes) == 1 and notes[0].startswith(f"memory budget 64 KiB, temporary folder "
                                                   f"{tmp_path} (")
    stages = list(dict.fromkeys(stage for stage, _, _ in heard))
    assert stages == ["reading", "counting n-grams", "merging 2-grams", "merging 3-grams",
                      "estimating 1-grams", "estimating 2-grams", "estimating 3-grams",
                      "estimating"]
    last = {stage: (done, total) for stage, done, total in heard}
    assert last["reading"] == (Path(path).stat().st_size,) * 2
    assert last["counting n-grams"][0] == last["counting n-grams"][1] > 1
    assert last["merging 3-grams"] == last["counting n-grams"]


def test_progress_hears_the_estimation_stages(tmp_path, forced):
    """Modified Kneser-Ney within the budget reports each order's estimation to its end."""
    path = str(random_corpus(tmp_path / "c.txt", 6, "word", lines=500))
    heard = []
    train_model([path], TrainingSettings.of(method="modified-kneser-ney", order=3, unit="word",
                                            test_size=0, memory=1 << 16,
                                            temp_dir=str(tmp_path)),
                budget_progress=lambda *a: heard.append(a))
    stages = list(dict.fromkeys(stage for stage, _, _ in heard))
    assert stages[-4:] == ["estimating 1-grams", "estimating 2-grams", "estimating 3-grams",
                           "estimating"]
    assert heard[-1] == ("estimating", 3, 3)


def test_a_model_trained_on_disk_answers_the_api_as_its_file_does(tmp_path, forced):
    """bigram.train within a budget: scores, perplexity and seeded samples equal those of
    the model file it writes; its temporary folder goes with the model."""
    import bigram

    path = str(random_corpus(tmp_path / "c.txt", 4, "word", lines=600))
    model = bigram.train(path, unit="word", order=3, method="modified-kneser-ney",
                         memory=1 << 16, temp_dir=str(tmp_path))
    assert type(model.saved.model).__name__ == "StreamedCountModel"
    model.save(tmp_path / "m.npz")
    loaded = bigram.load(tmp_path / "m.npz")
    for sentence in ("a b c", "ab ac ad ae", "zz"):
        assert model.score(sentence) == pytest.approx(loaded.score(sentence), abs=1e-9)
        assert model.perplexity(sentence) == pytest.approx(loaded.perplexity(sentence))
    assert list(model.sample(5, seed=3)) == list(loaded.sample(5, seed=3))
    assert leftovers(tmp_path)
    del model
    gc.collect()
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("method", ["modified-kneser-ney", "kneser-ney", "witten-bell"])
def test_held_out_words_unseen_in_training_score_as_unk_on_disk(tmp_path, forced, method):
    """Words of the held-out split that training never saw have no unigram probability:
    a model on disk reads them as `<unk>`, as the in-memory model does."""
    rng = np.random.default_rng(8)
    lines = [" ".join(f"w{i}" for i in rng.integers(0, 300, rng.integers(3, 12)))
             for _ in range(900)]
    lines += [f"w{i} new{i} w{i + 1} other{i}" for i in range(100)]   # the last 100: test
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    common = dict(method=method, order=3, unit="word", test_size=100, min_count=1)
    plain = train_model([str(path)], TrainingSettings.of(**common))
    budgeted = train_model([str(path)], TrainingSettings.of(memory=1 << 16,
                                                            temp_dir=str(tmp_path), **common))
    assert type(budgeted.saved.model).__name__ == "StreamedCountModel"
    test = next(r for r in budgeted.reports if r.name == "test")
    expected = next(r for r in plain.reports if r.name == "test")
    # (Kneser-Ney gives a word with no continuations probability 0: -inf in both.)
    assert np.isfinite(expected.known_log_likelihood) and expected.oov > 0
    assert (test.tokens, test.oov) == (expected.tokens, expected.oov)
    assert test.log_likelihood == pytest.approx(expected.log_likelihood, rel=1e-12)
    assert test.known_log_likelihood == pytest.approx(expected.known_log_likelihood,
                                                      rel=1e-12)


@pytest.mark.parametrize("method", ["modified-kneser-ney", "witten-bell"])
def test_large_word_texts_that_fit_are_counted_by_the_budgeted_counter(tmp_path, monkeypatch,
                                                                       method):
    """A word text from STREAMING_FROM bytes on is counted by the budgeted counter even when
    it fits in memory (it combines repeats before sorting): the same model as in memory.
    Characters, neural models and a temporary disk too small for the runs stay in memory."""
    from bigram.ngrams import spill
    from bigram.training import train as training

    path = str(random_corpus(tmp_path / "c.txt", 4, "word", lines=500))
    common = dict(method=method, order=4, unit="word", test_size=None)
    plain = train_model([path], TrainingSettings.of(**common))
    assert type(plain.saved.model).__name__ == "CountModel"
    monkeypatch.setattr(training, "STREAMING_FROM", 1000)
    streamed = train_model([path], TrainingSettings.of(temp_dir=str(tmp_path), **common))
    assert type(streamed.saved.model).__name__ == "StreamedCountModel"
    assert_same_model_files(tmp_path, plain, streamed)
    chars = train_model([path], TrainingSettings.of(method=method, order=3, unit="char",
                                                    test_size=None))
    assert type(chars.saved.model).__name__ == "CountModel"
    neural = train_model([path], TrainingSettings.of(model="neural", order=2, unit="word",
                                                     steps=1, test_size=None))
    assert type(neural.saved.model).__name__ == "NeuralModel"
    monkeypatch.setattr(spill, "free_bytes", lambda folder: 0)
    small_disk = train_model([path], TrainingSettings.of(temp_dir=str(tmp_path), **common))
    assert type(small_disk.saved.model).__name__ == "CountModel"
    del streamed
    gc.collect()
    assert not leftovers(tmp_path)
