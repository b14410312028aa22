"""Compressed corpora (gzip, bzip2, xz, zstd): every command reads them as the text they hold.

The reference is the same command on the plain text: the model files must hold the same
arrays and the same metadata (the hash and size are the text's), reports and scores the
same numbers, errors the same message but for the file's name. The compressed files are
made by the standard library's gzip, bz2 and lzma modules and by the zstandard package,
not by bigram. Damaged streams are checked for one `error:` line naming the file and the
byte offset, an unchanged -o, and an empty temporary folder.
"""

import bz2
import gzip
import io
import itertools
import json
import lzma
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from conftest import NAMES, ROOT, assert_same_index

from bigram.errors import InputError
from bigram.text import compressed
from bigram.text.sources import items_of_text, read_items

try:
    import zstandard
except ImportError:
    zstandard = None


def _zstd(data):
    if zstandard is None:
        pytest.skip("zstandard is not installed")
    return zstandard.ZstdCompressor(level=3).compress(data)


COMPRESS = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress, "zstd": _zstd}
SUFFIX = {"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz", "zstd": ".zst"}
CODECS = list(COMPRESS)


def mixed_text():
    """Names with a BOM, CRLF line ends, blank and space-only lines, tabs and spaces around
    items, non-ASCII letters and a line separator: every convention the reader has."""
    names = NAMES.read_text().splitlines()[:3000]
    accented = [n.translate(str.maketrans("aeiou", "áéíóú")) if i % 3 == 0 else n
                for i, n in enumerate(names)]
    lines = [f"  {n}\t" if i % 7 == 0 else n for i, n in enumerate(accented)]
    lines[10:10] = ["", "   ", "\u2028zoë"]
    return b"\xef\xbb\xbf" + "\r\n".join(lines).encode()   # no final line feed


def word_text():
    rng = np.random.default_rng(11)
    words = ["the", "a", "cat", "sat", "on", "mat", "über", "naïve", "日本", "x", "y", "dog"]
    return ("\n".join(" ".join(rng.choice(words, size=rng.integers(1, 12)))
                      for _ in range(2000)) + "\n").encode()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """plain/compressed pairs: {name: path} for 'mixed' and 'words', plain and each codec."""
    folder = tmp_path_factory.mktemp("compressed")
    files = {}
    for name, text in (("mixed", mixed_text()), ("words", word_text())):
        plain = folder / f"{name}.txt"
        plain.write_bytes(text)
        files[name, None] = plain
        for codec in CODECS:
            if codec == "zstd" and zstandard is None:
                continue
            path = folder / f"{name}{SUFFIX[codec]}"   # no .txt: the name plays no part
            path.write_bytes(COMPRESS[codec](text))
            files[name, codec] = path
    return files


def load_npz(path):
    """The arrays of a model file, and its metadata without its creation time and sources."""
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(bytes(arrays.pop("meta")).decode())
    meta.pop("created")
    meta["data"].pop("sources")
    return arrays, meta


def assert_same_model_file(got, expected):
    got_arrays, got_meta = load_npz(got)
    expected_arrays, expected_meta = load_npz(expected)
    assert got_meta == expected_meta
    assert set(got_arrays) == set(expected_arrays)
    for name, array in expected_arrays.items():
        np.testing.assert_array_equal(got_arrays[name], array, err_msg=name)


def one_error_line(result, *pieces):
    assert result.code == 1, result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err
    for piece in pieces:
        assert piece in result.err, result.err


def byte_offset(message):
    return int(re.search(r"byte ([\d,]+)", message).group(1).replace(",", ""))


TRAININGS = {"mixed": ["--unit", "char", "--order", "3", "--smoothing-method", "kneser-ney"],
             "words": ["--unit", "word", "--order", "4", "--smoothing-method",
                       "modified-kneser-ney", "--test-size", "100"]}


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("corpus", ["mixed", "words"])
def test_train_eval_and_score_read_compressed_files_as_their_text(cli, corpora, codec, corpus):
    plain, packed = corpora[corpus, None], corpora.get((corpus, codec))
    if packed is None:
        pytest.skip("zstandard is not installed")
    options = TRAININGS[corpus]
    assert cli("train", plain, *options, "-o", "plain.npz").code == 0
    assert cli("train", packed, *options, "-o", "packed.npz").code == 0
    assert_same_model_file("packed.npz", "plain.npz")

    plain_report = json.loads(cli("eval", "-m", "plain.npz", plain, "--json").out)
    packed_report = json.loads(cli("eval", "-m", "plain.npz", packed, "--json").out)
    assert plain_report == json.loads(json.dumps(packed_report).replace(str(packed),
                                                                        str(plain)))
    plain_scores = cli("score", "-m", "plain.npz", "--file", plain)
    packed_scores = cli("score", "-m", "plain.npz", "--file", packed)
    assert plain_scores.code == packed_scores.code == 0
    assert packed_scores.out == plain_scores.out and plain_scores.out.count("\n") > 1000


@pytest.mark.parametrize("codec", CODECS)
def test_compressed_stdin_trains_and_scores(cli, corpora, codec):
    plain = corpora["words", None]
    packed = COMPRESS[codec](plain.read_bytes())
    options = TRAININGS["words"]
    # The makemore split reads stdin twice: it is spooled (compressed) to a temporary file.
    assert cli("train", plain, *options, "-o", "plain.npz").code == 0
    assert cli("train", "-", *options, "-o", "packed.npz", stdin=packed).code == 0
    assert_same_model_file("packed.npz", "plain.npz")
    expected = cli("score", "-m", "plain.npz", "--file", plain).out
    assert cli("score", "-m", "plain.npz", "--file", "-", stdin=packed).out == expected


def test_compressed_stdin_through_a_pipe(corpora, tmp_path):
    """A real pipe cannot seek back over the bytes looked at to recognise the codec."""
    plain = corpora["mixed", None]
    model = tmp_path / "m.npz"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "bigram"]
    subprocess.run([*run, "train", plain, "-o", model], check=True, capture_output=True, env=env)
    expected = subprocess.run([*run, "score", "-m", model, "--file", plain], env=env,
                              check=True, capture_output=True).stdout
    for codec in ("gzip", "xz"):
        got = subprocess.run([*run, "score", "-m", model, "--file", "-"], env=env, check=True,
                             capture_output=True, input=COMPRESS[codec](plain.read_bytes()))
        assert got.stdout == expected
    # Plain text through a pipe: the first bytes, read to look at them, are not lost.
    got = subprocess.run([*run, "score", "-m", model, "--file", "-"], env=env, check=True,
                         capture_output=True, input=plain.read_bytes())
    assert got.stdout == expected


@pytest.mark.parametrize("codec", CODECS)
def test_several_streams_in_one_file_and_empty_streams(tmp_path, codec):
    text = mixed_text()
    cut = len(text) // 3
    pack = COMPRESS[codec]
    path = tmp_path / "joined"
    # `cat a.gz b.gz`, an empty stream between, and zero padding at the end.
    path.write_bytes(pack(text[:cut]) + pack(b"") + pack(text[cut:]) + bytes(16))
    assert read_items([str(path)]) == items_of_text(text.decode("utf-8-sig"))
    path.write_bytes(pack(b""))
    assert read_items([str(path)]) == []


def test_an_empty_compressed_file_is_refused_as_an_empty_file_is(cli, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "empty.gz").write_bytes(gzip.compress(b"\n\n"))
    plain, packed = cli("train", "empty.txt"), cli("train", "empty.gz")
    one_error_line(packed, "empty.gz holds no items")
    assert packed.err.replace("empty.gz", "empty.txt") == plain.err


def test_bytes_read_in_any_size_of_piece(tmp_path):
    """DecompressedStream.read(n) never gives more than n bytes, and all of the text."""
    text = mixed_text() * 20
    for codec in CODECS:
        stream = compressed.open_decompressed(io.BytesIO(COMPRESS[codec](text)), "x")
        pieces = []
        for size in itertools.cycle([1, 7, 4096, 1 << 20]):
            piece = stream.read(size)
            if not piece:
                break
            assert len(piece) <= size
            pieces.append(piece)
        assert b"".join(pieces) == text


@pytest.mark.parametrize("codec", CODECS)
def test_invalid_utf8_inside_is_the_plain_files_error(cli, tmp_path, codec):
    text = b"\n".join(NAMES.read_bytes().splitlines()[:2000]) + b"\ncaf\xe9\n" + b"emma\n" * 50
    (tmp_path / "bad.txt").write_bytes(text)
    (tmp_path / "bad.packed").write_bytes(COMPRESS[codec](text))
    for command in (["train"], ["eval", "-m", "names.npz"], ["score", "-m", "names.npz",
                                                            "--file"]):
        if command[0] != "train" and not (tmp_path / "names.npz").exists():
            assert cli("train", NAMES, "-o", "names.npz").code == 0
        plain, packed = cli(*command, "bad.txt"), cli(*command, "bad.packed")
        one_error_line(packed, "bad.packed: line 2001 is not valid UTF-8 (byte 0xe9 at byte 4")
        assert packed.err.replace("bad.packed", "bad.txt") == plain.err
    # --encoding-errors replace reads both alike.
    for name in ("bad.txt", "bad.packed"):
        assert cli("train", name, "--encoding-errors", "replace", "-o", f"{name}.npz").code == 0
    assert_same_model_file("bad.packed.npz", "bad.txt.npz")


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """A temporary folder of the test's own, to see that nothing is left in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return folder


def damaged_copies(codec, text):
    """(name, data, offset where the damage is) for a truncated and a corrupted stream."""
    data = COMPRESS[codec](text)
    middle = len(data) // 2
    # Flipping a block of bytes in the middle: every codec notices (zstd by its frame
    # checksum, which the zstd tool writes by default; bigram's own zstd reference here
    # writes none, so the change is where a block's sizes are read).
    flipped = data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + \
        data[middle + 64:]
    return [("truncated", data[:middle], middle), ("corrupt", flipped, middle)]


@pytest.mark.parametrize("codec", CODECS)
def test_damaged_streams_are_one_error_and_change_nothing(cli, tmp_path, private_tmp, codec):
    text = (NAMES.read_bytes() * 3)
    assert cli("train", NAMES, "-o", "keep.npz").code == 0
    (tmp_path / "scores.tsv").write_text("")
    before = (tmp_path / "keep.npz").read_bytes()
    for kind, data, damage in damaged_copies(codec, text):
        (tmp_path / "bad.packed").write_bytes(data)
        for command in (["train", "bad.packed", "-o", "keep.npz", "--force"],
                        ["train", "-", "-o", "keep.npz", "--force"],
                        ["eval", "-m", "keep.npz", "bad.packed"],
                        ["score", "-m", "keep.npz", "--file", "bad.packed", "-o", "scores.tsv"]):
            result = cli(*command, stdin=data if "-" in command else None)
            label = "<stdin>" if "-" in command else "bad.packed"
            one_error_line(result, f"{label}: damaged {codec} data")
            offset = byte_offset(result.err)
            if kind == "truncated":
                assert offset == len(data), result.err   # where the file ends
            else:
                assert damage <= offset <= len(data), result.err
            assert (tmp_path / "keep.npz").read_bytes() == before
            assert (tmp_path / "scores.tsv").read_text() == ""
            assert list(private_tmp.iterdir()) == []


def test_data_after_the_end_of_a_stream_is_refused(tmp_path):
    data = gzip.compress(b"emma\n")
    (tmp_path / "tail.gz").write_bytes(data + b"not gzip")
    with pytest.raises(InputError, match=f"what follows the end of its gzip stream, at byte "
                                         f"{len(data)}, is not gzip data"):
        read_items([str(tmp_path / "tail.gz")])


def test_zstd_without_zstandard_names_the_pip_command(cli, tmp_path, monkeypatch):
    (tmp_path / "names.zst").write_bytes(b"\x28\xb5\x2f\xfd" + bytes(20))
    monkeypatch.setitem(sys.modules, "zstandard", None)   # import zstandard now fails
    one_error_line(cli("train", "names.zst"), "names.zst is zstd-compressed",
                   "pip install zstandard")


@pytest.mark.parametrize("codec", CODECS)
def test_compressed_arpa_files_load(cli, tmp_path, private_tmp, codec):
    assert cli("train", NAMES, "--order", "3", "--smoothing-method", "kneser-ney",
               "-o", "kn.npz").code == 0
    assert cli("export", "-m", "kn.npz", "-o", "kn.arpa").code == 0
    arpa = (tmp_path / "kn.arpa").read_bytes()
    (tmp_path / "kn.arpa.packed").write_bytes(COMPRESS[codec](arpa))
    expected = cli("score", "-m", "kn.arpa", "--file", NAMES).out
    assert cli("score", "-m", "kn.arpa.packed", "--file", NAMES).out == expected
    (tmp_path / "cut.arpa").write_bytes(COMPRESS[codec](arpa)[:len(arpa) // 20])
    one_error_line(cli("eval", "-m", "cut.arpa", NAMES), f"cut.arpa: damaged {codec} data")
    assert list(private_tmp.iterdir()) == []   # the decompressed text had no name


BOUNDED_CHILD = """
import sys
from bigram.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit as end:
    code = end.code
peak = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]
print(code, int(peak[0]) // 1024, file=sys.stderr)
"""


def peak_mib(tmp_path, *args):
    """Exit code and peak resident memory (MiB) of `bigram ARGS` in a child process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.run([sys.executable, "-c", BOUNDED_CHILD, *map(str, args)], env=env,
                           check=False, capture_output=True, text=True, cwd=tmp_path)
    code, peak = child.stderr.split()[-2:]
    return int(code or 0), int(peak), child.stderr


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_a_decompression_bomb_is_read_in_bounded_memory(tmp_path, codec):
    # 640 MiB of names in a file of a few hundred KB: 128 copies of a 5 MiB stream.
    lines = (b"emma\nolivia\nava\n" * (5 << 16))
    (tmp_path / "bomb").write_bytes(COMPRESS[codec](lines) * 128)
    code, peak, log = peak_mib(tmp_path, "train", "bomb", "--test-size", "0", "-o", "b.npz")
    assert code == 0, log
    # The text is 640 MiB; reading it a MiB at a time keeps the process near its start-up
    # size (about 70 MiB with numpy).
    assert peak < 150, log
    with np.load(tmp_path / "b.npz") as npz:
        meta = json.loads(bytes(npz["meta"]).decode())
    assert meta["data"]["bytes"] == 128 * len(lines)
    # One line that never ends: refused at the line limit, not read on.
    (tmp_path / "line").write_bytes(COMPRESS[codec](b"a" * (5 << 20)) * 128)
    code, peak, log = peak_mib(tmp_path, "train", "line", "--test-size", "0", "-o", "c.npz")
    assert code == 1 and "line 1 is longer than" in log and peak < 150, log
    assert not (tmp_path / "c.npz").exists()


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("distributed")
    import logging

    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.CRITICAL) as local:
        yield local.scheduler_address


@pytest.mark.parametrize("codec", CODECS)
def test_dask_reads_a_compressed_file_as_one_block(cluster, corpora, codec):
    from bigram.settings import TrainingSettings
    from bigram.training.train import train_model

    plain, words = corpora["mixed", None], corpora["words", None]
    packed = corpora.get(("mixed", codec))
    if packed is None:
        pytest.skip("zstandard is not installed")
    expected = train_model([str(plain), str(words)], TrainingSettings.of(test_size=0, unit="char", order=3, method="modified-kneser-ney"))
    got = train_model([str(packed), str(words)], TrainingSettings.of(test_size=0, unit="char", order=3, method="modified-kneser-ney", dask=cluster, block_bytes=4096))
    plain_blocks = -(-words.stat().st_size // 4096)
    assert got.data.cluster["blocks"] == 1 + plain_blocks
    assert got.data.vocabulary == expected.data.vocabulary
    assert got.data.items == expected.data.items
    assert got.data.bytes_read == expected.data.bytes_read
    assert_same_index(got.saved.model.counts, expected.saved.model.counts)
    np.testing.assert_array_equal(got.saved.model.token_rank, expected.saved.model.token_rank)
    for k in range(1, 4):
        np.testing.assert_array_equal(got.saved.model.backoff.logprob[k],
                                      expected.saved.model.backoff.logprob[k])


def test_dask_names_a_damaged_stream_as_one_process_does(cluster, tmp_path):
    from bigram.cluster.dask_counting import load_on_cluster
    from bigram.ngrams.training_data import load_training_data
    from bigram.settings import Cluster, Reading

    data = gzip.compress(NAMES.read_bytes())
    (tmp_path / "cut.gz").write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError) as one_process:
        load_training_data([str(tmp_path / "cut.gz")], Reading(test_size=0))
    with pytest.raises(InputError) as on_cluster:
        load_on_cluster([str(tmp_path / "cut.gz")], Cluster(cluster), Reading(test_size=0, block_bytes=4096))
    assert str(on_cluster.value) == str(one_process.value)
    assert f"the file ends at byte {len(data) // 2:,}" in str(on_cluster.value)


def test_tune_reads_a_compressed_corpus_as_its_text(cli, corpora):
    plain, packed = corpora["mixed", None], corpora["mixed", "xz"]
    expected = cli("tune", plain, "--order", "2,3", "--json", "-o", "plain.npz")
    got = cli("tune", packed, "--order", "2,3", "--json", "-o", "packed.npz")
    assert expected.code == got.code == 0
    assert json.loads(got.out.replace(str(packed), str(plain))) == json.loads(expected.out)
    assert_same_model_file("packed.npz", "plain.npz")


def test_zstd_skippable_frames_are_skipped(tmp_path):
    # A skippable frame (magic 0x184D2A5?, little-endian; a 4-byte size; content ignored),
    # as seekable zstd writes its seek table: first, between frames and last.
    skippable = bytes.fromhex("5e2a4d18") + (5).to_bytes(4, "little") + b"12345"
    text = mixed_text()
    path = tmp_path / "frames"
    path.write_bytes(skippable + _zstd(text[:500]) + skippable + _zstd(text[500:]) + skippable)
    assert read_items([str(path)]) == items_of_text(text.decode("utf-8-sig"))
