"""Query files written a slice at a time (`convert MODEL.npz`, `train --query-file`).

- the query file of a model trained within a memory budget (written from its columns on
  disk) scores as the model file and as the in-memory model's query file;
- converting a model file reads its stored tables in place, slice by slice, and checks
  each slice: a damaged member is refused in one line and nothing is left at -o;
- the slice-at-a-time pieces equal their whole-array forms (searchsorted, fancy indexing);
- a child process converting a model file (and writing a budgeted model's query file)
  grows by a fraction of the tables it writes.
"""

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_memory_budget import forced, random_corpus, zipf_words  # noqa: F401 (a fixture)

import bigram
from bigram.errors import ModelFileError
from bigram.formats import convert
from bigram.formats.column_levels import ChildStarts, gather_ascending
from bigram.formats.modelfile import load_for_scoring

ROOT = Path(__file__).resolve().parents[1]


def scores(model, lines):
    return np.array([s.logprob for s in bigram.Model.score_lines(model, lines)])


@pytest.mark.parametrize("rows, children, window", [(50, 400, 7), (1000, 30, 16),
                                                    (3, 0, 4), (200, 5000, 1 << 20)])
def test_child_starts_and_gathers_equal_whole_array_forms(rows, children, window):
    rng = np.random.default_rng(rows + children)
    size = 11
    keys = np.unique(rng.integers(0, rows * size, children))
    starts = ChildStarts(keys, rows, size, window=window)
    expected = np.searchsorted(keys, np.arange(rows + 1) * size)
    cuts = sorted({0, 1, 2, rows // 3, rows // 2, rows + 1})
    pieces = [starts[a:b] for a, b in zip(cuts, cuts[1:])]
    assert (np.concatenate(pieces) == expected).all()
    assert (starts[rows // 2:rows + 1] == expected[rows // 2:]).all()   # asked out of order
    values = rng.random(rows)
    asked = np.sort(rng.integers(0, rows, 300))
    gathered = gather_ascending(lambda a, b: values[a:b], rows, asked, window=window)
    assert (gathered == values[asked]).all()


@pytest.mark.parametrize("method", ["modified-kneser-ney", "kneser-ney", "witten-bell"])
def test_budgeted_query_file_scores_as_the_model_file(cli, tmp_path, forced, method):  # noqa: F811
    text = random_corpus(tmp_path / "c.txt", 5, "word", lines=900)
    common = ["train", text, "--unit", "word", "--order", "4", "--smoothing-method", method,
              "--test-size", "90"]
    budgeted = cli(*common, "--memory", "1M", "--temp-dir", tmp_path, "-o", "b.npz",
                   "--query-file", "b.bq")
    assert budgeted.code == 0, budgeted.err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("bigram-build-")]
    lines = text.read_text().splitlines()[::7] + ["zz qq", ""]
    from_file = scores(bigram.load(tmp_path / "b.npz"), lines)
    written = scores(bigram.load(tmp_path / "b.bq"), lines)
    # Stored in float32, as every query file: per-line totals within the 1e-4.
    assert np.allclose(written, from_file, rtol=0, atol=1e-4)
    assert convert.convert(tmp_path / "b.npz", tmp_path / "c.bq")[0] is False
    assert np.array_equal(scores(bigram.load(tmp_path / "c.bq"), lines), written)
    unbudgeted = cli(*common, "-o", "m.npz", "--query-file", "m.bq")
    assert unbudgeted.code == 0, unbudgeted.err
    assert np.array_equal(scores(bigram.load(tmp_path / "m.bq"), lines), written)


def rewrite_member(path, name, change):
    """The model file at `path` with the stored array `name` replaced by change(array)."""
    with zipfile.ZipFile(path) as old:
        members = {info.filename: old.read(info) for info in old.infolist()}
    array = np.load(io.BytesIO(members[name + ".npy"]))
    buffer = io.BytesIO()
    np.save(buffer, change(array.copy()))
    members[name + ".npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as new:
        for member, data in members.items():
            new.writestr(member, data)


def unsorted(keys):
    keys[[0, -1]] = keys[[-1, 0]]
    return keys


def out_of_range(keys):
    keys[-1] = keys[-1] * 1000
    return keys


def not_a_number(values):
    values[len(values) // 2] = np.nan
    return values


@pytest.mark.parametrize("name, change, message", [
    ("model_counts_3_keys", unsorted, "not sorted without repeats"),
    ("model_counts_2_keys", out_of_range, "out of range"),
    ("model_query_3_adj", not_a_number, "not all numbers"),
    ("model_query_2_below", not_a_number, "not all finite")])
def test_a_damaged_stored_table_is_refused_in_one_line(cli, tmp_path, name, change, message):
    text = random_corpus(tmp_path / "c.txt", 3, "word")
    assert cli("train", text, "--unit", "word", "--order", "3", "-o", "m.npz").code == 0
    rewrite_member(tmp_path / "m.npz", name, change)
    (tmp_path / "m.bq").write_text("theirs")
    result = cli("convert", "m.npz", "-o", "m.bq", "--force")
    assert result.code != 0 and result.err.count("\n") == 1, result.err
    assert result.err.startswith("error:") and message in result.err
    assert (tmp_path / "m.bq").read_text() == "theirs"
    with pytest.raises(ModelFileError):
        load_for_scoring(tmp_path / "m.npz")


PEAK = """
import sys
from pathlib import Path
import bigram.formats.column_levels as levels, bigram.formats.query_file as query_file
import bigram.ngrams.bitpack as bitpack
import bigram.formats.quantize_bins as quantize_bins
from bigram.formats.convert import convert, write_saved
from bigram.formats.modelfile import save
from bigram.settings import TrainingSettings
from bigram.training.train import train_model

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

def reset():
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")   # the peak resident size starts again from the current one

folder = Path(sys.argv[2])
result = train_model([sys.argv[1]], TrainingSettings.of(
    method="modified-kneser-ney", order=5, unit="word", memory=8 << 20, test_size=0,
    temp_dir=str(folder)))
save(folder / "m.npz", result.saved)
levels.SLICE = query_file.SLICE = bitpack.SLICE = 1 << 15
reset(); base = peak()
write_saved(folder / "t.bq", result.saved, folder / "m.npz")
written = peak() - base
del result
reset(); base = peak()
convert(folder / "m.npz", folder / "c.bq")
converted = peak() - base
# Quantized: each level's bins cut from its values sorted on the temporary disk.
quantize_bins.SLICE = 1 << 15
quantize_bins.IN_MEMORY, quantize_bins.SORTER_MEMORY = 1 << 15, 4 << 20
reset(); base = peak()
convert(folder / "m.npz", folder / "q.bq", quantize=8)
print(written, converted, peak() - base)
"""


def test_conversions_grow_by_a_fraction_of_the_tables(tmp_path):
    """About 2 million distinct n-grams of new Zipf words (their query tables: keys, adj
    and B, 24 bytes a row, about 50 MB): writing the budgeted model's query file and
    converting its model file each grow the child by a few slices, not the tables."""
    text = zipf_words(tmp_path / "c.txt", 3_000_000, seed=8)
    done = subprocess.run([sys.executable, "-c", PEAK, str(text), str(tmp_path)],
                          env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)},
                          capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    written, converted, quantized = map(int, done.stdout.split())
    tables = load_for_scoring(tmp_path / "m.npz").query_tables()
    rows = sum(tables.rows[1:])
    assert rows > 1_500_000
    assert written < rows * 24 / 5, f"grew {written / 1e6:.1f} MB for {rows:,} rows"
    assert converted < rows * 24 / 5, f"grew {converted / 1e6:.1f} MB for {rows:,} rows"
    assert quantized < rows * 24 / 5, f"grew {quantized / 1e6:.1f} MB for {rows:,} rows"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("bigram-build-")]
    lines = text.read_text().splitlines()[:200]
    expected = scores(bigram.load(tmp_path / "m.npz"), lines)
    written = scores(bigram.load(tmp_path / "t.bq"), lines)
    assert np.allclose(written, expected, rtol=0, atol=1e-4)
    assert np.array_equal(scores(bigram.load(tmp_path / "c.bq"), lines), written)
    # The bins cut on disk are the bins cut in memory: the same quantized scores.
    convert.convert(tmp_path / "m.npz", tmp_path / "q-memory.bq", quantize=8)
    assert np.array_equal(scores(bigram.load(tmp_path / "q.bq"), lines),
                          scores(bigram.load(tmp_path / "q-memory.bq"), lines))


def test_a_full_disk_while_binning_is_one_line_and_leaves_nothing(cli, tmp_path, monkeypatch):
    """`convert --quantize` of levels binned on disk, the disk full: one error line quoting
    what the bins needed, the file at -o as it was, no temporary folder left."""
    import errno

    from bigram.formats import quantize_bins
    from bigram.ngrams import spill

    text = random_corpus(tmp_path / "c.txt", 4, "word", lines=900)
    # Modified Kneser-Ney: thousands of distinct values per level (add-k's repeat).
    assert cli("train", text, "--unit", "word", "--order", "3", "--smoothing-method",
               "modified-kneser-ney", "-o", "m.npz").code == 0
    monkeypatch.setattr(quantize_bins, "IN_MEMORY", 10)
    monkeypatch.setattr(quantize_bins, "SORTER_MEMORY", 6_000)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(spill.tempfile, "tempdir", None)   # TMPDIR read again
    real_open = open

    def full(path, mode):
        if "w" not in mode:
            return real_open(path, mode)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spill, "open", full, raising=False)
    (tmp_path / "q.bq").write_text("theirs")
    result = cli("convert", "m.npz", "-o", "q.bq", "--quantize", "8", "--force")
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert result.err.startswith(f"error: the disk of the temporary folder {tmp_path} is full")
    assert "needs about" in result.err and "needs about 0 B" not in result.err
    assert (tmp_path / "q.bq").read_text() == "theirs"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("bigram-build-")]


def test_convert_puts_its_temporary_files_in_temp_dir(cli, tmp_path, monkeypatch):
    """`convert --temp-dir DIR`: an ARPA file's spilled levels and the on-disk bins of
    --quantize are made under DIR (seen while they exist), none is left there, and the
    query file scores as the one converted with the system's temporary folder."""
    import tempfile

    from bigram.formats import arpa_stream, quantize_bins
    from bigram.ngrams import spill

    text = random_corpus(tmp_path / "c.txt", 4, "word", lines=900)
    assert cli("train", text, "--unit", "word", "--order", "3", "--smoothing-method",
               "modified-kneser-ney", "-o", "m.npz").code == 0
    assert cli("export", "-m", "m.npz", "-o", "m.arpa").code == 0
    monkeypatch.setattr(quantize_bins, "IN_MEMORY", 10)
    monkeypatch.setattr(quantize_bins, "SORTER_MEMORY", 6_000)
    monkeypatch.setattr(arpa_stream, "KEEP_BYTES", 0)   # levels spilled, as a large file's
    seen = []
    real_folder, real_space = tempfile.TemporaryDirectory, spill.TempSpace

    def folder(*args, **kwargs):
        made = real_folder(*args, **kwargs)
        seen.append(Path(made.name).parent)
        return made

    def space(parent=None, needed=0):
        made = real_space(parent, needed)
        seen.append(made.folder.parent)
        return made

    monkeypatch.setattr(arpa_stream.tempfile, "TemporaryDirectory", folder)
    monkeypatch.setattr(spill, "TempSpace", space)
    (tmp_path / "scratch").mkdir()
    result = cli("convert", "m.arpa", "-o", "q.bq", "--quantize", "8",
                 "--temp-dir", "scratch")
    assert result.code == 0, result.err
    assert seen and all(p.resolve() == (tmp_path / "scratch").resolve() for p in seen)
    assert list((tmp_path / "scratch").iterdir()) == []
    plain = cli("convert", "m.arpa", "-o", "p.bq", "--quantize", "8")
    assert plain.code == 0
    a = cli("score", "--file", text, "-m", "q.bq").out
    b = cli("score", "--file", text, "-m", "p.bq").out
    assert a == b and a.count("\n") == 900
    missing = cli("convert", "m.arpa", "-o", "r.bq", "--temp-dir", "nowhere")
    assert missing.code == 2 and missing.err.startswith("error: --temp-dir nowhere is not a")
    assert not Path("r.bq").exists()
