"""Bad input of every kind: a one-line error, the right exit code, nothing lost or executed."""

import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from bigram.formats.modelfile import MAX_ORDER
from bigram.formats.saved import FORMAT_VERSION

# ---------------------------------------------------------------------- training data


def one_line_error(result, code, message):
    assert result.code == code
    assert result.err.startswith(f"error: {message}"), result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


def test_directory_as_training_data(cli, tmp_path):
    (tmp_path / "folder").mkdir()
    one_line_error(cli("train", "folder"), 1, "folder is a directory, not a text file")


def test_crlf_and_bom_are_text_conventions_not_characters(cli, tmp_path):
    (tmp_path / "win.txt").write_bytes(b"\xef\xbb\xbfemma\r\nolivia\r\n\r\nava\r\n")
    assert cli("train", "win.txt", "--test-size", "0").code == 0
    meta = json.loads(cli("info", "--json").out)
    assert meta["vocabulary"] == list("aeilmov")
    assert meta["data"]["items"]["train"] == 3


def test_invalid_utf8_names_the_line(cli, tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"emma\nolivia\nol\xffga\nava\n")
    one_line_error(cli("train", "bad.txt"), 1,
                   "bad.txt: line 3 is not valid UTF-8 (byte 0xff at byte 3 of the line); "
                   "pass --encoding-errors replace")
    assert cli("train", "bad.txt", "--encoding-errors", "replace", "--test-size", "0").code == 0
    assert "\ufffd" in json.loads(cli("info", "--json").out)["vocabulary"]
    assert cli("train", "bad.txt", "--encoding-errors", "ignore", "--test-size", "0").code == 0
    assert json.loads(cli("info", "--json").out)["vocabulary"] == list("aegilmov")


def test_binary_file_is_refused(cli, tmp_path):
    (tmp_path / "program").write_bytes(bytes(range(256)) * 20)
    one_line_error(cli("train", "program"), 1,
                   "program looks like a binary file (a NUL byte on line 1), not text")


def test_one_huge_line_fails_fast_in_bounded_memory(tmp_path):
    big = tmp_path / "huge.txt"
    with open(big, "wb") as f:
        f.write(b"a" * (100 * 1024 * 1024))  # 100 MB, no newline
    # VmHWM is this process's own peak (ru_maxrss would count the forked parent's pages).
    script = ("import sys\nfrom bigram.cli.app import main\n"
              "try:\n    main(['train', sys.argv[1], '-o', sys.argv[2]])\n"
              "except SystemExit as e:\n    code = e.code\n"
              "peak = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
              "print(peak[0], code)\n")
    run = subprocess.run([sys.executable, "-c", script, "huge.txt", "m.npz"],
                         check=False, capture_output=True, text=True, cwd=tmp_path)
    assert run.stdout, run.stderr
    peak_kb, code = run.stdout.split()
    assert code == "1"
    assert run.stderr.startswith("error: huge.txt: line 1 is longer than 1,048,576 bytes")
    assert int(peak_kb) < 200 * 1024  # resident memory stays far below the file's size
    assert not (tmp_path / "m.npz").exists()


def test_name_longer_than_max_len_at_sampling(cli, tmp_path):
    (tmp_path / "long.txt").write_text("abcdefghijklmnopqrstuvwxyz\n")
    cli("train", "long.txt", "--test-size", "0", "--smoothing", "0")
    result = cli("sample", "-n", "2", "--seed", "1", "--max-len", "10")
    assert result.code == 0
    assert result.out.splitlines() == ["abcdefghij", "abcdefghij"]
    assert result.err == ("warning: 2 items reached --max-len 10 and were cut short: "
                          "items 1, 2\n")


# ---------------------------------------------------------------------- evaluation and scoring


def test_score_with_unknown_characters(cli):
    cli("train")
    result = cli("score", "zoë", "--json")
    scored = json.loads(result.out)[0]
    assert scored["oov_tokens"] == ["ë"] and scored["tokens"] == 2  # .z and zo remain
    one_line_error(cli("score", "zoë", "--oov", "error"), 1,
                   "'zoë' has characters outside the model's vocabulary (ë)")


# ---------------------------------------------------------------------- model files


@pytest.fixture
def model_path(cli, tmp_path):
    assert cli("train", "-o", "good.npz").code == 0
    return tmp_path / "good.npz"


def rewrite(source, target, change):
    """Copy a model file, letting `change(arrays)` alter its arrays (and meta as a dict)."""
    with np.load(source, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    change(arrays, meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(target, **arrays)


def test_truncated_model(cli, model_path, tmp_path):
    (tmp_path / "cut.npz").write_bytes(model_path.read_bytes()[:4000])
    one_line_error(cli("info", "-m", "cut.npz"), 1, "cut.npz is damaged (truncated or corrupt)")


def test_random_bytes_and_foreign_files(cli, tmp_path):
    # Seeded noise that begins like no format bigram recognises (a zip, a pickle's 0x80,
    # gzip, .npy, ARPA): a random first byte made this test fail one run in 256.
    noise = b"noise" + random.Random(7).randbytes(3000).replace(b"PK", b"pk")
    (tmp_path / "noise.npz").write_bytes(noise)
    one_line_error(cli("sample", "-m", "noise.npz"), 1, "noise.npz is not a bigram model file")
    with zipfile.ZipFile(tmp_path / "archive.npz", "w") as z:
        z.writestr("readme.txt", "not a model")
    one_line_error(cli("eval", "-m", "archive.npz"), 1,
                   "archive.npz is not a bigram model file (no bigram metadata in it)")
    np.save(tmp_path / "array.npz", np.arange(4))
    os.replace(tmp_path / "array.npz.npy", tmp_path / "array.npz")
    one_line_error(cli("info", "-m", "array.npz"), 1, "array.npz is a single numpy array")


class _Planted:
    """Unpickling this would create a file: the proof that nothing was unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickled_object_is_never_unpickled(cli, model_path, tmp_path):
    marker = tmp_path / "PWNED"

    def plant(arrays, meta):
        arrays["model_counts_2_count"] = np.array([_Planted(str(marker))], dtype=object)

    rewrite(model_path, tmp_path / "evil.npz", plant)
    for command in (["info"], ["sample", "-n", "3"], ["eval"], ["score", "ann"]):
        result = cli(*command, "-m", "evil.npz")
        one_line_error(result, 1, "evil.npz holds a pickled Python object "
                                  "('model_counts_2_count'); bigram never unpickles files")
    assert not marker.exists()
    # A pickle in a member no model needs is left unread.
    rewrite(model_path, tmp_path / "stray.npz", lambda arrays, meta: arrays.update(
        model_probabilities=np.array([_Planted(str(marker))], dtype=object)))
    cli("info", "-m", "stray.npz")
    assert not marker.exists()
    with open(tmp_path / "raw.pickle", "wb") as f:
        import pickle

        pickle.dump(_Planted(str(marker)), f)
    one_line_error(cli("info", "-m", "raw.pickle"), 1, "raw.pickle holds pickled Python data")
    assert not marker.exists()


def test_newer_format_version(cli, model_path, tmp_path):
    rewrite(model_path, tmp_path / "future.npz",
            lambda arrays, meta: meta.update(format_version=FORMAT_VERSION + 1))
    one_line_error(cli("info", "-m", "future.npz"), 1,
                   f"future.npz was written by a newer bigram (model format "
                   f"{FORMAT_VERSION + 1})")


@pytest.fixture
def neural_path(cli, tmp_path):
    assert cli("train", "--model", "neural", "--steps", "5", "-o", "neural.npz").code == 0
    return tmp_path / "neural.npz"


def _text(text):
    return np.frombuffer(text.encode(), dtype=np.uint8)


# Format 1's dense probability matrix became the neural weight matrix and, for
# count models, probabilities recomputed from the stored counts on load.
@pytest.mark.parametrize("kind, change, message", [
    ("neural", lambda a, m: a.update(model_weights=a["model_weights"][:5]),
     ("bad.npz is damaged: the weight matrix has shape [5, 27] and dtype float32, "
      "expected [27, 27] and float32")),
    ("neural", lambda a, m: a.update(model_weights=a["model_weights"].astype(np.float64)),
     "bad.npz is damaged: the weight matrix has shape [27, 27] and dtype float64"),
    # Counts are int32, or int64 where a count needs it; never floats. (The start of the
    # message is left open: it reads "the counts of ... has shape".)
    ("counts", lambda a, m: a.update(data_test_2_count=a["data_test_2_count"].astype(np.float64)),
     ("bad.npz is damaged: ",
      " of the test counts at level 2 ", " shape [431] and dtype float64, expected [431] and ")),
    # Suffix links are int32 (format 2 first wrote them as int64).
    ("counts", lambda a, m: a.update(data_test_2_suffix=a["data_test_2_suffix"].astype(np.int64)),
     ("bad.npz is damaged: ",
      " of the test counts at level 2 ", " shape [431] and dtype int64, expected [431] and int32")),
    # The test split's first bigram is ".a" (key 0 * 27 + 1), moved past the 27 x 27 keys.
    ("counts", lambda a, m: a.update(data_test_2_keys=a["data_test_2_keys"] + 27 * 27),
     ("bad.npz is damaged: the keys of the test counts at level 2 include 730, outside the "
      "729 possible windows")),
    ("counts", lambda a, m: m.update(vocabulary_size=4),
     "bad.npz is damaged: its vocabulary is not 3 sorted distinct tokens"),
    ("counts", lambda a, m: a.update(vocabulary=_text("\n".join("zyxwvutsrqponmlkjihgfedcba"))),
     "bad.npz is damaged: its vocabulary is not 26 sorted distinct tokens"),
    ("counts", lambda a, m: a["model_counts_2_count"].__setitem__(3, -1),
     "bad.npz is damaged: the counts of the model's counts at level 2 include negative values"),
    # Every count of the model, the training split's, made 4 larger: 627 * 4 predictions more.
    ("counts", lambda a, m: a["model_counts_2_count"].__iadd__(4),
     ("bad.npz is damaged: its metadata states 220,980 predictions, but the model's counts "
      "sum to 223,488")),
    ("neural", lambda a, m: a["model_weights"].__setitem__((3, 4), np.nan),
     "bad.npz is damaged: its weights are not all finite"),
    ("neural", lambda a, m: a["model_weights"].__setitem__((3, 4), np.inf),
     "bad.npz is damaged: its weights are not all finite"),
    ("counts", lambda a, m: a["data_test_2_count"].__setitem__(3, a["data_test_2_count"][3] + 5),
     ("bad.npz is damaged: its metadata states 7,166 predictions, but the test counts sum "
      "to 7,171")),
    ("counts", lambda a, m: m.update(kind="transformer"),
     "bad.npz holds a model of unknown kind 'transformer'"),
    ("counts", lambda a, m: a.pop("model_counts_2_count"),
     "bad.npz is damaged: the array 'model_counts_2_count' is missing"),
    ("neural", lambda a, m: a.pop("model_weights"),
     "bad.npz is damaged: the array 'model_weights' is missing"),
    ("counts", lambda a, m: m.update(order=1),
     f"bad.npz is damaged: its order 1 is not a whole number from 2 to {MAX_ORDER}"),
])
def test_damaged_arrays_and_metadata(cli, tmp_path, kind, change, message, request):
    source = request.getfixturevalue("neural_path" if kind == "neural" else "model_path")

    def altered(arrays, meta):
        for name in ("model_weights", "model_counts_2_count", "data_test_2_count"):
            if name in arrays:
                arrays[name] = arrays[name].copy()
        change(arrays, meta)

    rewrite(source, tmp_path / "bad.npz", altered)
    # A tuple: the message's start, then parts it must also hold.
    start, *parts = (message,) if isinstance(message, str) else message
    result = cli("eval", "-m", "bad.npz")
    one_line_error(result, 1, start)
    assert all(part in result.err for part in parts), result.err


def test_format_1_file_says_to_train_again(cli, model_path, tmp_path):
    rewrite(model_path, tmp_path / "old.npz",
            lambda arrays, meta: meta.update(format_version=1))
    result = cli("info", "-m", "old.npz")
    one_line_error(result, 1, "old.npz is an older bigram model file (format 1)")
    assert "train it again" in result.err


# ---------------------------------------------------------------------- options


@pytest.mark.parametrize("args, message", [
    (["train", "--smoothing", "nan"], "--smoothing must be a finite number >= 0, not nan"),
    (["train", "--smoothing", "-0.5"], "--smoothing must be a finite number >= 0, not -0.5"),
    (["train", "--model", "neural", "--steps", "0"], "--steps must be at least 1, not 0"),
    (["train", "--model", "neural", "--lr", "-1"], "--lr must be a positive number"),
    (["train", "--model", "neural", "--reg", "inf"], "--reg must be a finite number >= 0"),
    (["sample", "-n", "-4"], "--count must be 0 or more, not -4"),
    (["sample", "--temperature", "0"], "--temperature must be a positive number, not 0.0"),
    (["sample", "--temperature", "-2"], "--temperature must be a positive number, not -2.0"),
    (["sample", "--max-len", "0"], "--max-len must be at least 1"),
    (["sample", "--prefix", "zü"], "--prefix 'zü' has characters the model has never seen: 'ü'"),
    (["sample", "--prefix", "abc", "--max-len", "3"], "--prefix is 3 characters, not shorter"),
    (["train", "-o", "missing/dir/m.npz"], ("cannot write missing/dir/m.npz: the folder "
                                            "missing/dir does not exist")),
])
def test_bad_option_values(cli, model_path, args, message):
    if args[0] == "sample":
        args = args + ["-m", str(model_path)]
    one_line_error(cli(*args), 2, message)


def test_output_that_cannot_be_written(cli):
    one_line_error(cli("train", "-o", "/proc/bigram.npz"), 1, "cannot write /proc/bigram.npz")


def test_diverging_training_writes_nothing(cli, model_path):
    before = model_path.read_bytes()
    result = cli("train", "--model", "neural", "--lr", "1e7", "-o", str(model_path))
    one_line_error(result, 1, "training diverged at step ")
    assert model_path.read_bytes() == before
    assert not list(model_path.parent.glob(".good.npz.*"))


# ---------------------------------------------------------------------- nothing lost


def test_ctrl_c_during_training_keeps_the_old_model(model_path):
    before = model_path.read_bytes()
    process = subprocess.Popen(
        [sys.executable, "-m", "bigram", "train", "--model", "neural", "--steps", "1000000",
         "-o", str(model_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=model_path.parent)
    time.sleep(3.0)  # well into the training loop (start-up takes about 0.2 s)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err == "error: interrupted\n"
    assert model_path.read_bytes() == before
    assert [p.name for p in model_path.parent.iterdir() if p.name.startswith(".")] == []


def test_debug_environment_variable_shows_traceback(cli, monkeypatch):
    monkeypatch.setenv("BIGRAM_DEBUG", "1")
    with pytest.raises(Exception, match="no model at"):
        cli("sample")


