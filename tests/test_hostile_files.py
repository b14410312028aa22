"""Model files made to hurt: each is refused by every command with one line, fast, in little memory.

Each hostile file is built here with numpy and zipfile, as anyone could, from a
model trained on names.txt; every command that reads a model runs on it in a
child process, which reports its own peak resident memory (VmHWM).
"""

import contextlib
import io
import json
import struct
import subprocess
import sys
import time
import zipfile
import zlib

import numpy as np
import pytest

from bigram.cli import main
from bigram.npzfile import NpzFile

COMMANDS = [["eval"], ["info"], ["sample", "--novel", "-n", "3", "--seed", "1"], ["score", "x"]]
MAX_SECONDS = 2.0         # per command; reading the good model takes about 0.1 s
MAX_PEAK_KB = 200 * 1024  # the interpreter with numpy and bigram loaded is about 60 MB
BOMB_MIB = 5722           # 6.0 GB of zeros, as in the report

# Runs each command in this one process (so imports are paid once), then reports.
CHILD = """
import contextlib, io, json, sys, time
from bigram.cli import main
runs = []
for command in json.loads(sys.argv[1]):
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(command)
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    out.flush()
    runs.append({"code": code, "out": out.buffer.getvalue().decode(), "err": err.getvalue(),
                 "seconds": time.perf_counter() - start})
peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")]
print(json.dumps({"runs": runs, "peak_kb": int(peak[0])}))
"""


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """Arrays and metadata of a count model trained on names.txt (with its training items)."""
    path = tmp_path_factory.mktemp("good") / "good.npz"
    with (contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()),
          pytest.raises(SystemExit) as exit_):
        main(["train", "-o", str(path)])
    assert exit_.value.code == 0
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return arrays, json.loads(arrays.pop("meta").tobytes())


def write_model(path, arrays, meta, extra_members=()):
    """An .npz as numpy writes one (deflated), plus raw members given as (name, bytes)."""
    with zipfile.ZipFile(path, "a" if path.exists() else "w", zipfile.ZIP_DEFLATED) as zf:
        for name, array in {**arrays, "meta": _text(json.dumps(meta))}.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
        for name, data in extra_members:
            zf.writestr(name, data)


def _text(text):
    return np.frombuffer(text.encode(), dtype=np.uint8)


def npy_header(shape, descr):
    """The .npy preamble numpy writes for an array of this shape and dtype."""
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        stream, {"descr": descr, "fortran_order": False, "shape": shape})
    return stream.getvalue()


def write_deflate_bomb(path, name, header, zero_mib):
    """A zip whose one member is `header` then `zero_mib` MiB of zeros, correctly deflated.

    After a full flush deflate starts afresh, so the compressed form of one MiB of
    zeros, repeated, is the compressed form of many: 1,037 bytes per MiB. The CRC
    and sizes are the true ones, so a reader that decompresses it all succeeds.
    """
    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(header) + deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    data = first + block * (zero_mib - 1) + deflate.flush()
    crc = zlib.crc32(header)
    for _ in range(zero_mib):
        crc = zlib.crc32(zeros, crc)
    size, packed = len(header) + (zero_mib << 20), len(data)
    name = name.encode()
    zip64 = struct.pack("<HHQQ", 1, 16, size, packed)  # sizes beyond 4 GB live here
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0x21, crc,
                        0xFFFFFFFF, 0xFFFFFFFF, len(name), len(zip64)) + name + zip64
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0x21, crc,
                          0xFFFFFFFF, 0xFFFFFFFF, len(name), len(zip64), 0, 0, 0, 0, 0)
    central += name + zip64
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + packed, 0)
    path.write_bytes(local + data + central + end)


def run_commands(path, commands=COMMANDS):
    """Each command on the model at `path`, in one child process: results and peak memory."""
    argv = [command + ["-m", str(path)] for command in commands]
    child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(argv)], check=False,
                           capture_output=True, text=True, cwd=path.parent, timeout=120)
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout)


def assert_refused(path, message):
    """Every command: one `error:` line with `message`, exit 1, no output, fast, small."""
    report = run_commands(path)
    for command, run in zip(COMMANDS, report["runs"]):
        assert run["code"] == 1, (command, run)
        assert run["err"].startswith(f"error: {path} {message}"), (command, run["err"])
        assert run["err"].count("\n") == 1 and "Traceback" not in run["err"]
        assert run["out"] == ""
        assert run["seconds"] < MAX_SECONDS, (command, run["seconds"])
    assert report["peak_kb"] < MAX_PEAK_KB


def test_the_good_model_passes_every_command(good, tmp_path):
    # The control: the same builder and commands succeed, so refusals below are the file's.
    arrays, meta = good
    write_model(tmp_path / "m.npz", arrays, meta)
    report = run_commands(tmp_path / "m.npz")
    assert [run["code"] for run in report["runs"]] == [0, 0, 0, 0]
    assert all(run["out"] and run["seconds"] < MAX_SECONDS for run in report["runs"])
    assert report["peak_kb"] < MAX_PEAK_KB


def test_deflate_bomb_as_training_items(good, tmp_path):
    arrays, meta = good
    path = tmp_path / "bomb.npz"
    header = npy_header((BOMB_MIB << 20,), "|u1")
    write_deflate_bomb(path, "train_items.npy", header, BOMB_MIB)
    write_model(path, {k: v for k, v in arrays.items() if k != "train_items"}, meta)
    assert path.stat().st_size < 7_000_000
    with zipfile.ZipFile(path) as zf:  # a genuine bomb: the directory declares 6 GB
        assert zf.getinfo("train_items.npy").file_size == len(header) + (BOMB_MIB << 20)
    assert_refused(path, f"is damaged: its training text would hold {BOMB_MIB << 20:,} bytes; "
                         f"a valid file holds at most {64 << 20:,}")
    # And as a user runs it, start-up included.
    start = time.perf_counter()
    child = subprocess.run([sys.executable, "-m", "bigram", "sample", "-m", str(path), "--novel"],
                           check=False, capture_output=True, text=True, timeout=120)
    assert time.perf_counter() - start < 5
    assert child.returncode == 1 and child.stdout == ""
    assert child.stderr.startswith(f"error: {path} is damaged: its training text would hold")


def test_small_deflate_bomb_is_the_zeros_it_declares(tmp_path):
    # The bomb builder itself, checked by decompressing a small one with zipfile.
    header = npy_header((3 << 20,), "|u1")
    write_deflate_bomb(tmp_path / "small.npz", "x.npy", header, 3)
    with zipfile.ZipFile(tmp_path / "small.npz") as zf:
        assert zf.read("x.npy") == header + bytes(3 << 20)


def test_deflate_bomb_as_counts(good, tmp_path):
    # A count array that declares 6 GB: more entries than the metadata's tokens allow.
    arrays, meta = good
    path = tmp_path / "bomb.npz"
    header = npy_header((BOMB_MIB << 17,), "<i8")
    write_deflate_bomb(path, "data_train_next.npy", header, BOMB_MIB)
    write_model(path, {k: v for k, v in arrays.items() if k != "data_train_next"}, meta)
    tokens = meta["data"]["tokens"]["train"]
    assert_refused(path, f"is damaged: the array 'data_train_next' would hold "
                         f"{BOMB_MIB << 17:,} values; a valid file holds at most {27 ** 2:,}")
    assert tokens > 27 ** 2  # so the bound that refused it is the vocabulary's


def test_oversized_metadata(good, tmp_path):
    arrays, meta = good
    write_model(tmp_path / "m.npz", arrays, {**meta, "note": " " * (20 << 20)})
    assert_refused(tmp_path / "m.npz", "is damaged: its metadata would hold")


def test_header_that_disagrees_with_the_zip_directory(good, tmp_path):
    # The .npy header claims one more entry than the member holds.
    arrays, meta = good
    rest = {k: v for k, v in arrays.items() if k != "data_train_next"}
    nxt = arrays["data_train_next"]
    member = npy_header((len(nxt) + 1,), "<i8") + nxt.tobytes()
    write_model(tmp_path / "m.npz", rest, meta, [("data_train_next.npy", member)])
    assert_refused(tmp_path / "m.npz", "is damaged: the array 'data_train_next' declares "
                                       f"{len(member) + 8:,} bytes in its header but "
                                       f"{len(member):,} in the zip directory")


def changed(arrays, name, change):
    arrays = dict(arrays)
    arrays[name] = arrays[name].copy()
    change(arrays[name])
    return arrays


@pytest.mark.parametrize("name, change, message", [
    # The report's case: every stored train count 2^62, so their int64 sum wraps negative.
    ("data_train_count", lambda a: a.fill(2 ** 62),
     "the train counts sum to {total:,}, more than a 64-bit count can hold"),
    ("model_counts_count", lambda a: a.__setitem__(5, -1),
     "the model's counts include negative values"),
    ("data_test_count", lambda a: a.__setitem__(0, a[0] + 1),
     "its metadata states {tokens:,} test tokens, but the test counts sum to {more:,}"),
    ("data_train_indptr", lambda a: a.__setitem__(slice(3, 5), a[[4, 3]]),
     "the train counts' row pointers do not rise from 0 to 627, the number of entries"),
    ("data_train_indptr", lambda a: a.__setitem__(4, a[3]),
     "the train counts' row pointers leave a row without entries"),
    ("model_counts_contexts", lambda a: a.__setitem__(-1, 27),
     "the model's counts' context keys include 27, outside the 27 possible contexts"),
    ("model_counts_contexts", lambda a: a.__setitem__(slice(0, 2), a[[1, 0]]),
     "the model's counts' context keys are not sorted without repeats"),
    ("data_test_next", lambda a: a.__setitem__(3, -2),
     "the test counts' next tokens include -2, outside the vocabulary of 27 tokens"),
    ("data_train_next", lambda a: a.__setitem__(slice(1, 3), a[[2, 1]]),
     "the train counts' next tokens are not sorted without repeats within each row"),
    ("model_probabilities", lambda a: a.__setitem__((2, 0), np.inf),
     "its probabilities include negative, NaN or infinite values"),
    ("model_probabilities", lambda a: a.__setitem__((2, 0), a[2, 0] + 1e-4),
     "row 2 of its probabilities sums to 1.0001"),
])
def test_numbers_that_cannot_be_right(good, tmp_path, name, change, message):
    arrays, meta = good
    arrays = changed(arrays, name, change)
    tokens = meta["data"]["tokens"]["test"]
    message = message.format(total=len(arrays["data_train_count"]) * 2 ** 62, tokens=tokens,
                             more=tokens + 1)
    write_model(tmp_path / "m.npz", arrays, meta)
    assert_refused(tmp_path / "m.npz", f"is damaged: {message}")


@pytest.mark.parametrize("change, message", [
    (lambda m: m["data"]["tokens"].update(train=-5),
     "its metadata's tokens are not whole numbers of 0 or more"),
    (lambda m: m["data"]["items"].update(train="many"),
     "its metadata's items are not whole numbers of 0 or more"),
    (lambda m: m.update(data=[1, 2]), "the data section of its metadata is not a mapping"),
    (lambda m: m.update(hyperparameters="add-k"), "its hyperparameters are not a mapping"),
    (lambda m: m["hyperparameters"].update(smoothing="lots"),
     "its smoothing 'lots' is not a number of 0 or more"),
])
def test_metadata_that_cannot_be_right(good, tmp_path, change, message):
    arrays, meta = good
    meta = json.loads(json.dumps(meta))
    change(meta)
    write_model(tmp_path / "m.npz", arrays, meta)
    assert_refused(tmp_path / "m.npz", f"is damaged: {message}")


def test_training_items_not_utf8(good, tmp_path):
    arrays, meta = good
    arrays = changed(arrays, "train_items", lambda a: a.__setitem__(0, 0xFF))
    write_model(tmp_path / "m.npz", arrays, meta)
    assert_refused(tmp_path / "m.npz", "is damaged: its training text is not valid UTF-8")


# ---------------------------------------------------------------------- npzfile on its own


def test_read_checks_dtype_shape_and_ceiling_before_reading(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, x=np.arange(12, dtype=np.int64).reshape(3, 4),
             f=np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    with NpzFile(path) as npz:
        assert sorted(npz.names) == ["f", "x"] and "x" in npz and "y" not in npz
        header = npz.header("x")
        assert (header.shape, header.dtype, header.size) == ((3, 4), np.int64, 12)
        np.testing.assert_array_equal(npz.read("x", np.int64, (None, 4), max_items=12),
                                      np.arange(12).reshape(3, 4))
        np.testing.assert_array_equal(npz.read("f", np.float32, (2, 3), max_items=6),
                                      np.arange(6).reshape(2, 3))
        for args, message in [
            ((np.int32, (3, 4), 12), "has shape [3, 4] and dtype int64, expected [3, 4] and int32"),
            ((np.int64, (None,), 12), "has shape [3, 4] and dtype int64, expected a vector"),
            ((np.int64, (3, 4), 11), "would hold 12 values; a valid file holds at most 11"),
        ]:
            dtype, shape, limit = args
            with pytest.raises(Exception, match=message.replace("[", r"\[")):
                npz.read("x", dtype, shape, max_items=limit)
