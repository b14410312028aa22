"""Model files made to hurt: each is refused by every command with one line, fast, in little memory.

Each hostile file is built here with numpy and zipfile, as anyone could, from a
model (format 2) trained on names.txt; every command that reads a model runs on
it in a child process, which reports its own peak resident memory (VmHWM) for
each file.
"""

import contextlib
import functools
import io
import json
import os
import resource
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
import pytest

from bigram.cli.app import main
from bigram.formats.modelfile import MAX_ORDER
from bigram.formats.npzfile import NpzFile

COMMANDS = [["eval"], ["info"], ["sample", "--novel", "-n", "3", "--seed", "1"], ["score", "x"]]
MAX_SECONDS = 2.0         # per command; reading the good model takes about 0.1 s
MAX_PEAK_KB = 200 * 1024  # the interpreter with numpy and bigram loaded is about 60 MB
BOMB_MIB = 5722           # 6.0 GB of zeros, as in the report
# The child's address space: far above what refusing takes, far below what reading a
# bomb would, so a loader that reads one fails here ("out of memory") instead of
# taking gigabytes from the machine running the tests.
CHILD_ADDRESS_SPACE = 3 << 30

# Runs each command on each model in this one process (so imports are paid once);
# VmHWM is reset before each model, so each model's peak is its own.
CHILD = """
import contextlib, io, json, sys, time, traceback
from bigram.cli.app import main
report = {}
commands = json.loads(sys.argv[1])
for path in json.loads(sys.argv[2]):
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    runs = []
    for command in commands:
        out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(command + ["-m", path])
                code = 0
            except SystemExit as exit_:
                code = exit_.code
            except BaseException:
                code = "escaped main"
                err.write(traceback.format_exc())
        out.flush()
        runs.append({"code": code, "out": out.buffer.getvalue().decode(), "err": err.getvalue(),
                     "seconds": time.perf_counter() - start})
    peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")]
    report[path] = {"runs": runs, "peak_kb": int(peak[0])}
print(json.dumps(report))
"""


def trained(folder, *options):
    """Arrays and metadata of a model trained on names.txt with `options`."""
    path = folder / "model.npz"
    with (contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()),
          pytest.raises(SystemExit) as exit_):
        main(["train", *options, "-o", str(path)])
    assert exit_.value.code == 0
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    assert meta["format_version"] == 2
    return arrays, meta


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A bigram count model (add-k, makemore padding), a trigram one (modified Kneser-Ney,
    sentence padding, with token ranks) and a neural bigram model."""
    made = {
        "bigram": [],
        "trigram": ["--order", "3", "--smoothing-method", "modified-kneser-ney"],
        "neural": ["--model", "neural", "--steps", "5"],
    }
    return {name: trained(tmp_path_factory.mktemp(name), *options)
            for name, options in made.items()}


@pytest.fixture(scope="module")
def good(models):
    """The bigram count model's arrays and metadata."""
    return models["bigram"]


def write_model(path, arrays, meta, extra_members=()):
    """An .npz laid out as bigram writes one (text members deflated at level 1, numeric arrays
    stored), plus raw members given as (name, bytes), stored."""
    with zipfile.ZipFile(path, "a" if path.exists() else "w") as zf:
        for name, array in {**arrays, "meta": _text(json.dumps(meta))}.items():
            array = np.asanyarray(array)
            npy = io.BytesIO()
            np.lib.format.write_array(npy, array, allow_pickle=False)
            text = array.dtype == np.uint8
            zf.writestr(f"{name}.npy", npy.getvalue(), compresslevel=1,
                        compress_type=zipfile.ZIP_DEFLATED if text else zipfile.ZIP_STORED)
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


@functools.cache
def _deflated_zeros(header, zero_mib):
    """`header` then `zero_mib` MiB of zeros, deflated.

    After a full flush deflate starts afresh, so the compressed form of one MiB of
    zeros, repeated, is the compressed form of many: 1,037 bytes per MiB.
    """
    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(header) + deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    return first + block * (zero_mib - 1) + deflate.flush()


@functools.cache
def _crc_after_zeros(crc, zero_mib):
    """zlib.crc32 of `zero_mib` MiB of zeros, continuing from `crc`, without 6 GB of work.

    For fixed data a CRC is affine in its starting value over GF(2): continuing over
    one MiB of zeros maps c to L(c) xor f(0), with L linear, found from the 32 unit
    vectors once. (The small bomb below checks the result against zipfile.)
    """
    zeros = bytes(1 << 20)
    offset = zlib.crc32(zeros, 0)
    columns = [zlib.crc32(zeros, 1 << bit) ^ offset for bit in range(32)]
    for _ in range(zero_mib):
        mapped = offset
        for bit in range(32):
            if crc >> bit & 1:
                mapped ^= columns[bit]
        crc = mapped
    return crc


BOMB_METHODS = ("stored", "stored-lying", "deflated")


def write_bomb(path, name, header, zero_mib, method):
    """A zip whose one member is `header` then `zero_mib` MiB of zeros, with their true CRC.

    method "deflated": correctly deflated (see _deflated_zeros), so a reader that
    decompresses it all succeeds. "stored": stored as they are, the zeros a hole of
    a sparse file (6 GB long, a few kB on disk), so a reader that reads it all
    succeeds too. "stored-lying": only the header is stored, the zip directory
    declaring the whole size all the same.
    """
    size = len(header) + (zero_mib << 20)
    crc = _crc_after_zeros(zlib.crc32(header), zero_mib)
    data = _deflated_zeros(header, zero_mib) if method == "deflated" else header
    hole = zero_mib << 20 if method == "stored" else 0
    packed, compression = len(data) + hole, 8 if method == "deflated" else 0
    name = name.encode()
    zip64 = struct.pack("<HHQQ", 1, 16, size, packed)  # sizes beyond 4 GB live here
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, compression, 0, 0x21, crc,
                        0xFFFFFFFF, 0xFFFFFFFF, len(name), len(zip64)) + name + zip64
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, compression, 0, 0x21,
                          crc, 0xFFFFFFFF, 0xFFFFFFFF, len(name), len(zip64), 0, 0, 0, 0, 0)
    central += name + zip64
    directory = len(local) + packed
    end = b""
    if directory > 0xFFFFFFFF:  # the directory's offset needs the zip64 end record
        end = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(central),
                          directory)
        end += struct.pack("<IIQI", 0x07064B50, 0, directory + len(central), 1)
    end += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                       min(directory, 0xFFFFFFFF), 0)
    with open(path, "wb") as out:
        out.write(local + data)
        out.seek(hole, os.SEEK_CUR)
        out.write(central + end)


def _limit_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))


def run_commands(paths, commands=COMMANDS):
    """Each command on each model in `paths`, in one child process: {path: results and peak}."""
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(commands), json.dumps([str(p) for p in paths])],
        check=False, capture_output=True, text=True, cwd=paths[0].parent, timeout=600,
        preexec_fn=_limit_address_space)
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout)


def check_refused(report, path, message, also=()):
    """Every command: one `error:` line starting with `message` (and holding each of `also`),
    exit 1, no output, fast, small."""
    for command, run in zip(COMMANDS, report["runs"]):
        assert run["code"] == 1, (command, run)
        assert run["err"].startswith(f"error: {path} {message}"), (command, run["err"])
        assert all(part in run["err"] for part in also), (command, run["err"])
        assert run["err"].count("\n") == 1 and "Traceback" not in run["err"]
        assert run["out"] == ""
        assert run["seconds"] < MAX_SECONDS, (command, run["seconds"])
    assert report["peak_kb"] < MAX_PEAK_KB


def assert_refused(path, message, also=()):
    """The file at `path` is refused by every command (see check_refused)."""
    check_refused(run_commands([path])[str(path)], path, message, also)


def copied(arrays, meta):
    """Copies to damage: every array, and the metadata through JSON."""
    return {name: array.copy() for name, array in arrays.items()}, json.loads(json.dumps(meta))


def test_the_good_models_pass_every_command(models, tmp_path):
    # The control: the same builder and commands succeed, so refusals below are the file's.
    paths = []
    for name, (arrays, meta) in models.items():
        paths.append(tmp_path / f"{name}.npz")
        write_model(paths[-1], arrays, meta)
    # Counts are written as int32 unless one needs more; int64 count members are read too,
    # and give the same results.
    arrays, meta = models["bigram"]
    assert arrays["model_counts_2_count"].dtype == np.int32
    paths.append(tmp_path / "bigram-int64-counts.npz")
    write_model(paths[-1], {name: array.astype(np.int64) if name.endswith("_count") else array
                            for name, array in arrays.items()}, meta)
    report = run_commands(paths)
    for path in paths:
        runs = report[str(path)]["runs"]
        assert [run["code"] for run in runs] == [0, 0, 0, 0], (path.name, runs)
        assert all(run["out"] and run["seconds"] < MAX_SECONDS for run in runs)
        assert report[str(path)]["peak_kb"] < MAX_PEAK_KB
    narrow, wide = (report[str(tmp_path / name)]["runs"] for name in ("bigram.npz",
                                                                     "bigram-int64-counts.npz"))
    for command, run, same in zip(COMMANDS, narrow, wide):
        if command != ["info"]:  # info names the file
            assert same["out"] == run["out"], command


# ---------------------------------------------------------------------- bombs

# (model, member, dtype of its .npy header): a text member and both kinds of count array,
# in the model's own counts and in a split's (the neural model stores its train split).
BOMBS = [("bigram", "train_items", "|u1"),
         ("neural", "data_train_2_count", "<i4"), ("bigram", "model_counts_2_count", "<i4"),
         ("neural", "data_train_2_keys", "<i8"), ("bigram", "model_counts_2_keys", "<i8")]


def _bomb_header(descr):
    """The .npy header of a vector filling BOMB_MIB MiB."""
    return npy_header(((BOMB_MIB << 20) // np.dtype(descr).itemsize,), descr)


@pytest.fixture(scope="module")
def bombs(models, tmp_path_factory):
    """Each bomb member, by each method, in an otherwise good model; what every command did
    with each (one child for all)."""
    folder = tmp_path_factory.mktemp("bombs")
    paths = {}
    for model, member, descr in BOMBS:
        arrays, meta = models[model]
        for method in BOMB_METHODS:
            path = paths[member, method] = folder / f"{member}-{method}.npz"
            write_bomb(path, f"{member}.npy", _bomb_header(descr), BOMB_MIB, method)
            write_model(path, {k: v for k, v in arrays.items() if k != member}, meta)
    yield paths, run_commands(list(paths.values()))
    for path in paths.values():
        path.unlink()


@pytest.mark.parametrize("method", BOMB_METHODS)
@pytest.mark.parametrize("model, member, descr", BOMBS, ids=[member for _, member, _ in BOMBS])
def test_bombs_are_refused_unread(models, bombs, model, member, descr, method):
    paths, report = bombs
    path, header = paths[member, method], _bomb_header(descr)
    size = len(header) + (BOMB_MIB << 20)
    values = (BOMB_MIB << 20) // np.dtype(descr).itemsize
    with zipfile.ZipFile(path) as zf:  # a genuine bomb: the directory declares 6 GB
        info = zf.getinfo(f"{member}.npy")
    assert info.file_size == size
    if method == "stored":
        assert info.compress_size == size and path.stat().st_size > size
        assert path.stat().st_blocks * 512 < 10 << 20  # sparse: the zeros take no disk
    elif method == "stored-lying":
        assert info.compress_size == len(header) and path.stat().st_size < 1 << 20
    else:
        assert path.stat().st_size < 7_000_000
    run = report[str(path)]
    if method == "stored-lying":
        # Refused from the zip directory alone: a stored member holds what it declares.
        check_refused(run, path, f"is damaged: the array '{member}' declares {size:,} bytes, "
                                 f"more than its {len(header):,} stored bytes can hold")
        return
    # Refused from the .npy header: nothing of the 6 GB is read or allocated.
    if member == "train_items":
        check_refused(run, path, f"is damaged: its training text would hold {values:,} bytes; "
                                 f"a valid file holds at most {64 << 20:,}")
        return
    what = "the model's counts" if member.startswith("model_") else "the train counts"
    if member.endswith("_count"):
        # The level's keys fix its length: 627 bigrams were seen. (The message's subject
        # is left out: it reads "the counts of ... has shape", see the report.)
        assert len(models[model][0][member]) == 627
        check_refused(run, path, "is damaged: ",
                      also=[f" of {what} at level 2 ",
                            f" shape [{values}] and dtype int32, expected [627] and int32"])
        return
    # Keys come first and fix the level's length, so they must be bounded by the
    # metadata: a training text of T predictions in I items has at most T + I windows of
    # two tokens (one per prediction, plus one per item's start); the model's counts are
    # the training split's.
    stated = models[model][1]["data"]
    bound = stated["tokens"]["train"] + stated["items"]["train"] + 27
    check_refused(run, path, f"is damaged: the array of keys of {what} at level 2 would hold "
                             f"{values:,} values; a valid file holds at most ")
    ceiling = int(run["runs"][0]["err"].rsplit(" ", 1)[1].replace(",", ""))
    assert ceiling <= bound


def test_training_text_bomb_as_a_user_runs_it(bombs):
    # Start-up included, in a fresh interpreter.
    path = bombs[0]["train_items", "deflated"]
    start = time.perf_counter()
    child = subprocess.run([sys.executable, "-m", "bigram", "sample", "-m", str(path), "--novel"],
                           check=False, capture_output=True, text=True, timeout=120,
                           preexec_fn=_limit_address_space)
    assert time.perf_counter() - start < 5
    assert child.returncode == 1 and child.stdout == ""
    assert child.stderr.startswith(f"error: {path} is damaged: its training text would hold")


@pytest.mark.parametrize("method", BOMB_METHODS)
def test_small_bomb_is_the_zeros_it_declares(tmp_path, method):
    # The bomb builder itself, checked on a small one with zipfile (which checks the CRC).
    header = npy_header((3 << 20,), "|u1")
    path = tmp_path / "small.npz"
    write_bomb(path, "x.npy", header, 3, method)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("x.npy")
        assert info.file_size == len(header) + (3 << 20)
        if method == "stored-lying":
            # Only the header is there; reading the member ends there, short of its CRC.
            assert info.compress_size == len(header) and header in path.read_bytes()
            with pytest.raises(zipfile.BadZipFile, match="Bad CRC-32"):
                zf.read("x.npy")
        else:
            assert zf.read("x.npy") == header + bytes(3 << 20)


# ---------------------------------------------------------------------- other member damage


def test_oversized_metadata(good, tmp_path):
    arrays, meta = good
    write_model(tmp_path / "m.npz", arrays, {**meta, "note": " " * (20 << 20)})
    assert_refused(tmp_path / "m.npz", "is damaged: its metadata would hold")


def test_header_that_disagrees_with_the_zip_directory(good, tmp_path):
    # The .npy header claims one more entry than the member holds.
    arrays, meta = good
    name = "model_counts_2_count"
    rest = {k: v for k, v in arrays.items() if k != name}
    count = arrays[name]
    member = npy_header((len(count) + 1,), count.dtype.str) + count.tobytes()
    write_model(tmp_path / "m.npz", rest, meta, [(f"{name}.npy", member)])
    assert_refused(tmp_path / "m.npz", f"is damaged: the array '{name}' declares "
                                       f"{len(member) + count.itemsize:,} bytes in its header "
                                       f"but {len(member):,} in the zip directory")


def test_format_1_file_says_to_train_again(good, tmp_path):
    # A file as bigram wrote it before the sparse core: the vocabulary in the metadata,
    # a dense probability matrix and CSR counts (contexts, row pointers, next tokens).
    arrays, meta = good
    size = meta["vocabulary_size"]
    old = {}
    for prefix in ("model_counts_", "data_train_", "data_test_"):
        # A count model's train counts are stored once, as the model's.
        stored = prefix if f"{prefix}2_keys" in arrays else "model_counts_"
        keys = arrays[f"{stored}2_keys"]
        contexts, starts = np.unique(keys // size, return_index=True)
        old[f"{prefix}contexts"] = contexts
        if prefix.startswith("data"):
            old[f"{prefix}indptr"] = np.append(starts, len(keys))
        old[f"{prefix}next"] = keys % size
        old[f"{prefix}count"] = arrays[f"{stored}2_count"].astype(np.int64)
    old["model_probabilities"] = np.full((size, size), 1 / size, dtype=np.float32)
    old["train_items"] = arrays["train_items"]
    chars = bytes(arrays["vocabulary"]).decode().replace("\n", "")
    old_meta = {"format": "bigram-model", "format_version": 1, "kind": "counts", "order": 2,
                "vocabulary": chars, "hyperparameters": {"smoothing": 1.0},
                "data": {"items": meta["data"]["items"], "tokens": meta["data"]["tokens"]}}
    write_model(tmp_path / "old.npz", old, old_meta)
    assert_refused(tmp_path / "old.npz", "is an older bigram model file (format 1)",
                   also=["reads format 2", "train it again"])


# ---------------------------------------------------------------------- values and metadata


@dataclass(frozen=True)
class Case:
    """A hostile file: a good model's arrays and metadata, changed; the refusal expected."""

    id: str
    model: str        # key of the `models` fixture
    change: object    # change(arrays, meta), in place
    message: str      # what follows "error: <path> "; {fields} from the good model's facts
    also: tuple = ()  # parts the message must also hold, where its start is left open


def _swap(array, i, j):
    array[[i, j]] = array[[j, i]]


def _wrong_suffix_link(arrays, prefix, k):
    # A link within range that names another window: at level 2, another last token;
    # at level 3, a window with the same last token after another context.
    size = len(arrays[f"{prefix}1_keys"])
    suffix = arrays[f"{prefix}{k}_suffix"]
    if k == 2:
        suffix[0] = (suffix[0] + 1) % size
        return
    below = arrays[f"{prefix}{k - 1}_keys"]
    for row, link in enumerate(suffix):
        others = np.flatnonzero((below % size == below[link] % size)
                                & (np.arange(len(below)) != link))
        if len(others):
            suffix[row] = others[0]
            return
    raise AssertionError("no suffix link can move")


def _pop(name):
    return lambda a, m: a.pop(name)


def _set(name, index, value):
    return lambda a, m: a[name].__setitem__(index, value)


def _add(name, index, amount):
    return lambda a, m: a[name].__setitem__(index, a[name][index] + amount)


def _widened(arrays, name):
    """The count member `name` as int64, as bigram writes counts of 2**31 or more."""
    assert arrays[name].dtype == np.int32
    arrays[name] = arrays[name].astype(np.int64)
    return arrays[name]


def _set_wide(name, index, value):
    return lambda a, m: _widened(a, name).__setitem__(index, value)


def _starts_an_item(arrays, prefix, k, row):
    """Whether the level-k window at `row` begins with the boundary (<s>)."""
    size = len(arrays[f"{prefix}1_keys"])
    for j in range(k, 1, -1):
        row = arrays[f"{prefix}{j}_keys"][row] // size
    return row == 0


def _overflow_two_levels(arrays, meta):
    # With sentence padding, level 2 scores the windows that begin with <s>: row 0 is one.
    assert meta["padding"] == "sentence" and _starts_an_item(arrays, "data_test_", 2, 0)
    _set_wide("data_test_2_count", 0, 2 ** 62)(arrays, meta)
    _set_wide("data_test_3_count", 0, 2 ** 62)(arrays, meta)


def _add_at_an_item_start(arrays, meta):
    assert meta["padding"] == "sentence" and _starts_an_item(arrays, "data_test_", 2, 0)
    _add("data_test_2_count", 0, 1)(arrays, meta)


# Count models store their training split's counts once, as the model's counts; the
# neural model, which has none, stores its train split.
CASES = [
    # The report's case: every count 2^62, so their int64 sum wraps negative.
    Case("counts-2**62", "neural", lambda a, m: _widened(a, "data_train_2_count").fill(2 ** 62),
         "is damaged: the counts of the train counts at level 2 sum to {overflow:,}, more than "
         "a 64-bit count can hold"),
    Case("model-counts-2**62", "bigram",
         lambda a, m: _widened(a, "model_counts_2_count").fill(2 ** 62),
         "is damaged: the counts of the model's counts at level 2 sum to {overflow:,}, more "
         "than a 64-bit count can hold"),
    # Each level's sum fits in int64; the total of the predictions they score does not.
    Case("levels-overflow-together", "trigram", _overflow_two_levels,
         "is damaged: the test counts sum to more than a 64-bit count can hold"),
    Case("negative-count", "bigram", _set("model_counts_2_count", 5, -1),
         "is damaged: the counts of the model's counts at level 2 include negative values"),
    Case("negative-count-level-3", "trigram", _set("data_test_3_count", 2, -1),
         "is damaged: the counts of the test counts at level 3 include negative values"),
    Case("test-tokens-disagree", "bigram", _add("data_test_2_count", 0, 1),
         "is damaged: its metadata states {test:,} predictions, but the test counts sum to "
         "{test_more:,}"),
    # With sentence padding an item's first prediction is scored by the window <s> x.
    Case("test-tokens-disagree-at-an-item-start", "trigram", _add_at_an_item_start,
         "is damaged: its metadata states {test:,} predictions, but the test counts sum to "
         "{test_more:,}"),
    Case("train-tokens-disagree", "neural", lambda a, m: m["data"]["tokens"].update(train=5),
         "is damaged: its metadata states 5 predictions, but the train counts sum to {train:,}"),
    Case("train-counts-disagree", "neural", _add("data_train_2_count", 0, 1),
         "is damaged: its metadata states {train:,} predictions, but the train counts sum to "
         "{train_more:,}"),
    # The model's counts are the training split's (train and merge both make them so).
    Case("model-tokens-disagree", "bigram", _add("model_counts_2_count", 0, 1),
         "is damaged: its metadata states {train:,} predictions, but the model's counts sum to "
         "{train_more:,}"),
    Case("train-tokens-disagree-with-the-model", "bigram",
         lambda a, m: m["data"]["tokens"].update(train=5),
         "is damaged: its metadata states 5 predictions, but the model's counts sum to "
         "{train:,}"),
    # No training text: at most the 27 windows of one token, so 627 of two are too many.
    Case("model-counts-beyond-the-stated-training", "bigram",
         lambda a, m: (m["data"]["tokens"].update(train=0), m["data"]["items"].update(train=0)),
         "is damaged: the array of keys of the model's counts at level 2 would hold 627 values; a valid "
         "file holds at most 27"),
    Case("dev-tokens-without-dev-counts", "bigram",
         lambda a, m: m["data"]["tokens"].update(dev=5),
         "is damaged: its metadata states 5 dev tokens, but it stores no dev counts"),
    Case("test-counts-without-test-items", "bigram", lambda a, m: m["data"]["items"].pop("test"),
         "is damaged: it stores test counts but its metadata states no test items and tokens"),
    Case("key-out-of-range", "bigram", _set("model_counts_2_keys", -1, 27 * 27),
         "is damaged: the keys of the model's counts at level 2 include 729, outside the 729 "
         "possible windows"),
    Case("keys-unsorted", "bigram", lambda a, m: _swap(a["model_counts_2_keys"], 0, 1),
         "is damaged: the keys of the model's counts at level 2 are not sorted without repeats"),
    Case("keys-repeated", "trigram",
         lambda a, m: a["data_test_3_keys"].__setitem__(4, a["data_test_3_keys"][3]),
         "is damaged: the keys of the test counts at level 3 are not sorted without repeats"),
    Case("level-1-not-the-vocabulary", "trigram",
         lambda a, m: _swap(a["model_counts_1_keys"], 0, 1),
         "is damaged: the windows of the model's counts at level 1 are not the vocabulary's 28 "
         "tokens"),
    Case("level-1-suffix-links", "bigram", _set("data_test_1_suffix", 3, 1),
         "is damaged: the windows of the test counts at level 1 are not the vocabulary's 27 "
         "tokens"),
    Case("suffix-link-out-of-range", "bigram", _set("data_test_2_suffix", 3, -2),
         "is damaged: the suffix links of the test counts at level 2 include -2, outside the 27 "
         "shorter windows"),
    Case("suffix-link-wrong-level-2", "bigram", lambda a, m: _wrong_suffix_link(a, "data_test_", 2),
         "is damaged: the suffix links of the test counts at level 2 do not match their "
         "windows"),
    Case("suffix-link-wrong-level-3", "trigram",
         lambda a, m: _wrong_suffix_link(a, "model_counts_", 3),
         "is damaged: the suffix links of the model's counts at level 3 do not match their "
         "windows"),
    # The start of these two is left open: it reads "the suffix links of ... has shape".
    Case("suffix-shorter-than-keys", "bigram",
         lambda a, m: a.update(data_test_2_suffix=a["data_test_2_suffix"][:-1]),
         "is damaged: ", ("suffix links of the test counts at level 2 ",
                          " shape [430] and dtype int32, expected [431] and int32")),
    Case("suffix-links-int64", "bigram",
         lambda a, m: a.update(data_test_2_suffix=a["data_test_2_suffix"].astype(np.int64)),
         "is damaged: ", ("suffix links of the test counts at level 2 ",
                          " shape [431] and dtype int64, expected [431] and int32")),
    Case("token-rank-negative", "trigram", _set("model_token_rank", 4, -1),
         "is damaged: the word ranks include -1, outside 0 or more"),
    Case("token-rank-wrong-length", "trigram",
         lambda a, m: a.update(model_token_rank=a["model_token_rank"][:-1]),
         "is damaged: the array of word ranks has shape [27] and dtype int64, expected [28] and "
         "int64"),
    # Neural models: format 1's dense probability matrix became the weight matrix.
    Case("weights-nan", "neural", _set("model_weights", (2, 0), np.nan),
         "is damaged: its weights are not all finite"),
    Case("weights-inf", "neural", _set("model_weights", (3, 4), -np.inf),
         "is damaged: its weights are not all finite"),
    Case("weights-wrong-shape", "neural", lambda a, m: a.update(model_weights=a["model_weights"][:5]),
         "is damaged: the weight matrix has shape [5, 27] and dtype float32, expected [27, 27] "
         "and float32"),
    Case("weights-wrong-dtype", "neural",
         lambda a, m: a.update(model_weights=a["model_weights"].astype(np.float64)),
         "is damaged: the weight matrix has shape [27, 27] and dtype float64, expected [27, 27] "
         "and float32"),
    Case("weights-for-another-order", "neural", lambda a, m: m.update(order=3),
         "is damaged: the weight matrix has shape [27, 27] and dtype float32, expected [54, 27] "
         "and float32"),
    Case("losses-nan", "neural", _set("model_losses", 2, np.nan),
         "is damaged: its training losses are not all finite"),
    Case("more-losses-than-steps", "neural",
         lambda a, m: a.update(model_losses=np.append(a["model_losses"], 1.0)),
         "is damaged: the array of training losses would hold 7 values; a valid file holds at "
         "most 6"),
    Case("neural-steps-negative", "neural", lambda a, m: m["hyperparameters"].update(steps=-1),
         "is damaged: its steps -1 is not a whole number of 0 or more"),
    Case("neural-lr-text", "neural", lambda a, m: m["hyperparameters"].update(lr="fast"),
         "is damaged: its lr 'fast' is not a finite number"),
    # Members missing.
    Case("missing-model-count", "bigram", _pop("model_counts_2_count"),
         "is damaged: the array 'model_counts_2_count' is missing"),
    Case("missing-test-suffix", "trigram", _pop("data_test_3_suffix"),
         "is damaged: the array 'data_test_3_suffix' is missing"),
    Case("missing-weights", "neural", _pop("model_weights"),
         "is damaged: the array 'model_weights' is missing"),
    Case("missing-vocabulary", "bigram", _pop("vocabulary"),
         "is damaged: the array 'vocabulary' is missing"),
    # Kind and order.
    Case("unknown-kind", "bigram", lambda a, m: m.update(kind="transformer"),
         "holds a model of unknown kind 'transformer'"),
    Case("order-1", "bigram", lambda a, m: m.update(order=1),
         "is damaged: its order 1 is not a whole number from 2 to {max_order}"),
    Case("order-above-the-limit", "bigram", lambda a, m: m.update(order=MAX_ORDER + 1),
         "is damaged: its order {above_max_order} is not a whole number from 2 to {max_order}"),
    Case("order-text", "bigram", lambda a, m: m.update(order="2"),
         "is damaged: its order '2' is not a whole number from 2 to {max_order}"),
    Case("order-true", "bigram", lambda a, m: m.update(order=True),
         "is damaged: its order True is not a whole number from 2 to {max_order}"),
    Case("order-3-with-bigram-arrays", "bigram", lambda a, m: m.update(order=3),
         "is damaged: the array 'model_counts_3_keys' is missing"),
    # Metadata of the wrong types.
    Case("tokens-negative", "bigram", lambda a, m: m["data"]["tokens"].update(train=-5),
         "is damaged: its metadata's tokens are not whole numbers of 0 or more"),
    Case("items-text", "bigram", lambda a, m: m["data"]["items"].update(train="many"),
         "is damaged: its metadata's items are not whole numbers of 0 or more"),
    Case("tokens-float", "bigram", lambda a, m: m["data"]["tokens"].update(test=7166.0),
         "is damaged: its metadata's tokens are not whole numbers of 0 or more"),
    Case("data-a-list", "bigram", lambda a, m: m.update(data=[1, 2]),
         "is damaged: the data section of its metadata is not a mapping"),
    Case("hyperparameters-text", "bigram", lambda a, m: m.update(hyperparameters="add-k"),
         "is damaged: its hyperparameters are not a mapping"),
    Case("smoothing-text", "bigram", lambda a, m: m["hyperparameters"].update(smoothing="lots"),
         "is damaged: its smoothing 'lots' is not a number of 0 or more"),
    Case("smoothing-method-unknown", "bigram",
         lambda a, m: m["hyperparameters"].update(smoothing_method="magic"),
         "uses an unknown smoothing method 'magic'"),
    Case("discounts-two-numbers", "trigram",
         lambda a, m: m["hyperparameters"].update(discounts={"2": [0.5, 1.0]}),
         "is damaged: its discounts are not three numbers per order"),
    Case("prune-text", "trigram", lambda a, m: m["hyperparameters"].update(prune="lots"),
         "is damaged: its pruning thresholds are not whole numbers"),
    Case("format-version-text", "bigram", lambda a, m: m.update(format_version="2"),
         "is damaged: it has no format version"),
    Case("unk-text", "bigram", lambda a, m: m.update(unk="no"),
         "is damaged: its metadata does not state the unit, <unk> and vocabulary size"),
    Case("unit-unknown", "bigram", lambda a, m: m.update(unit="byte"),
         "is damaged: its metadata does not state the unit, <unk> and vocabulary size"),
    Case("vocabulary-size-disagrees", "bigram", lambda a, m: m.update(vocabulary_size=28),
         "is damaged: its vocabulary is not 27 sorted distinct tokens"),
    Case("padding-unknown", "bigram", lambda a, m: m.update(padding="both"),
         "is damaged: its padding 'both' is not one bigram knows"),
    # Text members.
    Case("training-text-not-utf8", "bigram", _set("train_items", 0, 0xFF),
         "is damaged: its training text is not valid UTF-8"),
    Case("vocabulary-not-utf8", "bigram", _set("vocabulary", 0, 0xFF),
         "is damaged: its vocabulary is not valid UTF-8"),
    Case("vocabulary-unsorted", "bigram",
         lambda a, m: a.update(vocabulary=_text("\n".join("zyxwvutsrqponmlkjihgfedcba"))),
         "is damaged: its vocabulary is not 26 sorted distinct tokens"),
    Case("vocabulary-repeated", "bigram",
         lambda a, m: a.update(vocabulary=_text("\n".join("aacdefghijklmnopqrstuvwxyz"))),
         "is damaged: its vocabulary is not 26 sorted distinct tokens"),
]


def _facts(arrays, meta):
    """Numbers the expected messages quote, from the good model."""
    tokens = meta["data"]["tokens"]
    return {"train": tokens["train"], "test": tokens["test"], "train_more": tokens["train"] + 1,
            "test_more": tokens["test"] + 1, "max_order": MAX_ORDER,
            "above_max_order": MAX_ORDER + 1,
            "overflow": len(arrays["model_counts_2_count" if "model_counts_2_count" in arrays
                                   else "data_train_2_count"]) * 2 ** 62}


@pytest.fixture(scope="module")
def refusals(models, tmp_path_factory):
    """Every case's file, and what every command did with it (one child for all)."""
    folder = tmp_path_factory.mktemp("hostile")
    for case in CASES:
        arrays, meta = copied(*models[case.model])
        case.change(arrays, meta)
        write_model(folder / f"{case.id}.npz", arrays, meta)
    return run_commands([folder / f"{case.id}.npz" for case in CASES])


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_values_and_metadata_that_cannot_be_right(models, refusals, case):
    path = next(p for p in refusals if p.endswith(f"/{case.id}.npz"))
    message = case.message.format(**_facts(*models[case.model]))
    check_refused(refusals[path], path, message, case.also)


def test_cases_have_distinct_names():
    assert len({case.id for case in CASES}) == len(CASES)


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


def test_arpa_header_declaring_a_trillion_unigrams(tmp_path):
    """`-m FILE.arpa` whose \\data\\ declares 10**12 unigrams: every command refuses it in
    one line, quickly, without reserving memory for the declared count."""
    path = tmp_path / "huge.arpa"
    path.write_text("\\data\\\nngram 1=1000000000000\nngram 2=1\n\n\\1-grams:\n-1.0\t<s>\t-0.5\n"
                    "-1.0\t</s>\n-1.0\ta\t-0.3\n\n\\2-grams:\n-0.5\t<s> a\n\n\\end\\\n")
    probe = ("import sys\nfrom bigram.cli.app import main\ntry:\n    main(sys.argv[1:])\n"
             "finally:\n    peak = [l.split()[1] for l in open('/proc/self/status')"
             " if l.startswith('VmHWM')][0]\n    print('PEAK', peak, file=sys.stderr)\n")
    for command in (["eval", "-m", str(path), str(tmp_path / "huge.arpa")],
                    ["info", "-m", str(path)], ["sample", "-m", str(path), "--seed", "1"],
                    ["score", "-m", str(path), "a"]):
        start = time.perf_counter()
        child = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True,
                               text=True, timeout=60)
        seconds = time.perf_counter() - start
        lines = [line for line in child.stderr.splitlines() if not line.startswith("PEAK")]
        peak_kb = int(child.stderr.split("PEAK ")[1].split()[0])
        assert child.returncode == 1 and child.stdout == ""
        assert lines == [f"error: {path}: line 9: the 1-gram section has 3 entries where "
                         "\\data\\ declares 1000000000000"], lines
        assert seconds < 5 and peak_kb < 200_000
