"""Query files (`bigram convert`): converted models score as the models they came from, and
damaged or hostile files are refused, in a child process, fast and small.

References: the unconverted model (its own model file or ARPA file, read the usual
way) and KenLM's `query` totals recorded in tests/fixtures/kenlm/manifest.json.
"""

import gzip
import json
import math
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from test_hostile_files import COMMANDS, check_refused, run_commands
from test_kenlm_fixtures import read_fixture_arpa

import bigram
from bigram.errors import OptionError
from bigram.formats import convert, files, query_file
from bigram.formats.modelfile import load_for_scoring
from bigram.models import scoring
from bigram.ngrams import bitpack, query, trie
from bigram.ngrams.query import QueryTables

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kenlm"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
METHODS = ("add-k", "witten-bell", "kneser-ney", "modified-kneser-ney")
# float32 adj and B: each token's score is off by at most a few float32 steps of values
# of magnitude below ~30, so a line's total by well under 1e-4 on these corpora.
EXACT = 1e-4


def lines_of(name):
    return (FIXTURES / name).read_text(encoding="utf-8").splitlines()


def totals(model, lines):
    """(ln P, tokens, OOVs) of each line, as score --file computes them."""
    scores = [s for s in bigram.Model.score_lines(model, lines)] if isinstance(
        model, bigram.Model) else list(scoring.score_lines(model, lines))
    return (np.array([s.logprob for s in scores]), np.array([s.tokens for s in scores]),
            np.array([s.oov for s in scores]))


def file_rows(model, path):
    """score --file's rows (ln P, tokens, OOVs) of a file, block by block."""
    rows = [(b.scores.logprob, b.scores.tokens, b.scores.oov)
            for b in scoring.score_sources(model, [str(path)])]
    return tuple(np.concatenate(parts) for parts in zip(*rows))


def assert_same_scores(original, converted, lines, tolerance=EXACT):
    a, b = totals(original, lines), totals(converted, lines)
    assert (a[1] == b[1]).all() and (a[2] == b[2]).all()
    assert np.allclose(a[0], b[0], rtol=0, atol=tolerance, equal_nan=True), \
        np.nanmax(np.abs(a[0] - b[0]))


@pytest.fixture(params=[1.0, math.inf], ids=["hashed", "searched"])
def lookups(request, monkeypatch):
    """Both ways the trie finds windows: hash tables for levels asked a lot, and the binary
    search within child ranges (no dense tables either)."""
    monkeypatch.setattr(trie, "HASH_AFTER", request.param)
    if request.param == math.inf:
        monkeypatch.setattr(query, "DENSE_TABLE_BYTES", 0)
    return request.param


@pytest.mark.parametrize("unit", ["char", "word"])
@pytest.mark.parametrize("order", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("method", METHODS)
def test_converted_models_score_as_their_model_files(tmp_path, method, order, unit, lookups):
    corpus = "chars" if unit == "char" else "words"
    train = lines_of(f"{corpus}.train.txt")
    model = bigram.train(train, order=order, unit=unit, method=method)
    model.save(tmp_path / "m.npz")
    convert.convert(tmp_path / "m.npz", tmp_path / "m.bq")
    converted = bigram.load(tmp_path / "m.bq")
    assert converted.kind == "query" and converted.order == order
    heldout = FIXTURES / f"{corpus}.heldout.txt"
    lines = heldout.read_text(encoding="utf-8").splitlines() + train[:50] + ["", "zzz qq"]
    assert_same_scores(model, converted, lines)
    # score --file, through the readers the command uses.
    a = file_rows(load_for_scoring(tmp_path / "m.npz"), heldout)
    b = file_rows(load_for_scoring(tmp_path / "m.bq"), heldout)
    assert (a[1] == b[1]).all() and np.allclose(a[0], b[0], rtol=0, atol=EXACT)
    # eval: the same total over the same tokens.
    ra, rb = model.evaluate(heldout), converted.evaluate(heldout)
    assert (ra.tokens, ra.oov) == (rb.tokens, rb.oov)
    assert abs(ra.nll * ra.tokens - rb.nll * rb.tokens) < EXACT


def kenlm_lines(model, unit):
    """The held-out lines KenLM's query scored for a fixture (a character model's tokens
    joined back into text), and its totals (log10)."""
    lines = lines_of(f"{model['corpus']}.heldout.txt")
    if unit == "char":
        lines = ["".join(" " if t == "<space>" else t for t in s.split()) for s in lines]
    return lines, np.array([s["total"] for s in model["query"]["sentences"]])


@pytest.mark.parametrize("model", MANIFEST["models"], ids=lambda m: m["name"])
def test_converted_arpa_files_score_as_the_arpa_and_as_kenlm(tmp_path, model, lookups):
    arpa = FIXTURES / model["arpa"]
    zero_backoff = any(backoff == -math.inf for level in read_fixture_arpa(model["arpa"])
                       for _, backoff in level.values())
    if zero_backoff:   # lmplz wrote a back-off weight of 0: adj = ln P - B cannot hold it
        with pytest.raises(OptionError, match="back-off weight of zero"):
            convert.convert(arpa, tmp_path / "m.bq")
        return
    convert.convert(arpa, tmp_path / "m.bq")
    original, converted = bigram.load(arpa), bigram.load(tmp_path / "m.bq")
    lines, kenlm = kenlm_lines(model, converted.unit)
    assert_same_scores(original, converted, lines + lines_of(f"{model['corpus']}.train.txt"))
    logprob, _, _ = totals(converted, lines)
    assert np.allclose(logprob / math.log(10), kenlm, rtol=0, atol=1e-4)


def test_the_cli_converts_and_every_command_reads_the_query_file(cli, tmp_path):
    arpa = FIXTURES / "words.o4.arpa.gz"
    result = cli("convert", arpa, "-o", "m.bq")
    assert result.code == 0, result.err
    assert result.err.startswith("wrote m.bq")
    heldout = FIXTURES / "words.heldout.txt"
    direct = cli("score", "--file", heldout, "-m", arpa).out
    mapped = cli("score", "--file", heldout, "-m", "m.bq").out
    a = np.array([line.split("\t")[1] for line in direct.splitlines()], dtype=float)
    b = np.array([line.split("\t")[1] for line in mapped.splitlines()], dtype=float)
    assert len(a) == len(b) == len(lines_of("words.heldout.txt"))
    assert np.allclose(a, b, rtol=0, atol=2e-6)   # six decimals printed
    assert cli("eval", heldout, "-m", "m.bq").code == 0
    assert cli("info", "-m", "m.bq").code == 0
    info = json.loads(cli("info", "--json", "-m", "m.bq").out)
    assert info["kind"] == "query" and info["source_kind"] == "arpa"
    sampled = cli("sample", "-m", "m.bq", "-n", "5", "--seed", "3")
    assert sampled.code == 0 and sampled.out == cli("sample", "-m", arpa, "-n", "5",
                                                    "--seed", "3").out
    # Not over an input, not over a file of another kind; not a query file again.
    refused = cli("convert", arpa, "-o", arpa)
    assert refused.code != 0 and "it is an input" in refused.err
    (tmp_path / "notes.txt").write_text("mine")
    refused = cli("convert", arpa, "-o", "notes.txt")
    assert refused.code != 0 and "not overwriting" in refused.err
    assert (tmp_path / "notes.txt").read_text() == "mine"
    again = cli("convert", "m.bq", "-o", "n.bq")
    assert again.code != 0 and "query file already" in again.err
    assert cli("convert", arpa, "-o", "m.bq", "--quantize", "0").code != 0
    assert not list(tmp_path.glob(".*tmp"))


def test_quantized_models_stay_within_the_stated_bound(tmp_path):
    """--quantize 8 on an order-5 word model (KenLM's -q 8 -b 8): per-line totals and the
    held-out perplexity move by little (measured: docs/query-format.md)."""
    train = lines_of("words.train.txt")
    model = bigram.train(train, order=5, unit="word", method="modified-kneser-ney")
    model.save(tmp_path / "m.npz")
    convert.convert(tmp_path / "m.npz", tmp_path / "q.bq", quantize=8)
    quantized = bigram.load(tmp_path / "q.bq")
    heldout = FIXTURES / "words.heldout.txt"
    a, b = model.evaluate(heldout), quantized.evaluate(heldout)
    assert a.tokens == b.tokens
    assert abs(b.perplexity / a.perplexity - 1) < 0.01
    exact, approximate = totals(model, lines_of("words.heldout.txt")), \
        totals(quantized, lines_of("words.heldout.txt"))
    per_token = np.abs(exact[0] - approximate[0]) / exact[1]
    assert per_token.max() < 0.05
    # Fewer bits, larger error; never a file larger than the unquantized one.
    convert.convert(tmp_path / "m.npz", tmp_path / "f.bq")
    assert (tmp_path / "q.bq").stat().st_size < (tmp_path / "f.bq").stat().st_size


def test_bins_are_means_of_equal_count_groups():
    values = np.array([-5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0])
    assert query_file.bins(values, 2).tolist() == [-4.5, -2.5, -0.5, 1.5]
    codes = query_file.codes_of(np.array([-5.0, -3.4, -3.6, 2.0]), query_file.bins(values, 2))
    assert codes.tolist() == [0, 1, 0, 3]
    with_zero = query_file.bins(np.array([-np.inf, -1.0, -2.0]), 2)
    assert with_zero[0] == -np.inf and query_file.codes_of(np.array([-np.inf]), with_zero)[0] == 0


def plain_bins(values, bits):
    """KenLM's rule in plain Python: the finite values sorted, cut where i * n / slots falls
    (rounded down), each group's mean; -inf a bin of its own; at most `slots` distinct
    values are themselves the centres; the last centre repeated to fill 2**bits."""
    finite = sorted(v for v in values.tolist() if math.isfinite(v))
    infinite = any(v == -math.inf for v in values.tolist())
    slots = (1 << bits) - infinite
    if len(set(finite)) <= slots:
        centres = sorted(set(finite))
    else:
        n = len(finite)
        cuts = sorted({int(i * n / slots) for i in range(slots)}) + [n]
        centres = [math.fsum(finite[a:b]) / (b - a) for a, b in zip(cuts, cuts[1:])]
    centres = ([-math.inf] if infinite else []) + centres or [0.0]
    return centres + [centres[-1]] * ((1 << bits) - len(centres))


@pytest.mark.parametrize("seed", range(6))
def test_bins_cut_on_disk_equal_bins_cut_in_memory_and_the_plain_rule(seed, tmp_path,
                                                                       monkeypatch):
    from bigram.formats import quantize_bins

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6000))
    values = [rng.normal(-3, 2, n), np.round(rng.normal(-1, 2, n), 1),
              rng.choice([-0.0, 0.0, -1.5, 2.0, -np.inf, np.nan, np.inf], n)][seed % 3]
    bits = int(rng.integers(1, 9))
    in_memory = quantize_bins.bins(values, bits)
    assert np.allclose(in_memory, plain_bins(values, bits), rtol=1e-12, atol=1e-12)
    # Slices of 500 values, runs of about 1,000 distinct ones merged in several passes.
    monkeypatch.setattr(quantize_bins, "SLICE", 500)
    monkeypatch.setattr(quantize_bins, "IN_MEMORY", 100)
    monkeypatch.setattr(quantize_bins, "SORTER_MEMORY", 60_000)
    on_disk = quantize_bins.bins(values, bits, temp_dir=tmp_path)
    assert np.array_equal(on_disk, in_memory)
    assert not list(tmp_path.iterdir())   # the runs are gone


@pytest.mark.parametrize("bits", range(1, 64))
def test_bit_packing_round_trips(bits, monkeypatch):
    import io

    monkeypatch.setattr(bitpack, "SLICE", 128)   # several slices
    rng = np.random.default_rng(bits)
    for n in (0, 1, 63, 64, 65, 1000):
        values = rng.integers(0, 1 << bits, n, dtype=np.uint64)
        stream = io.BytesIO()
        written = bitpack.write_packed(stream, values, bits)
        words = np.frombuffer(stream.getvalue(), dtype=np.uint64)
        assert written == 8 * len(words) == 8 * bitpack.packed_words(n, bits)
        # Plainly: bit j of value i is bit i * bits + j of the stream.
        stream_bits = np.unpackbits(words.view(np.uint8), bitorder="little")
        for i in range(min(n, 70)):
            expected = sum(int(stream_bits[i * bits + j]) << j for j in range(bits))
            assert expected == int(values[i])
        assert (bitpack.unpack(words, bits, np.arange(n)).view(np.uint64) == values).all()
        # The whole stream as one integer: value i in its bits i * bits on, nothing else.
        stream_int = int.from_bytes(stream.getvalue(), "little")
        assert stream_int == sum(int(v) << (i * bits) for i, v in enumerate(values.tolist()))


# ---------------------------------------------------------------------- damaged files


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    folder = tmp_path_factory.mktemp("query")
    convert.convert(FIXTURES / "words.o3.arpa.gz", folder / "good.bq")
    return folder / "good.bq"


def _directory(data):
    _, _, length, _, _, _ = query_file.PREFIX.unpack(data[:query_file.PREFIX.size])
    start = query_file.PREFIX.size
    return json.loads(data[start:start + length]), start, length


def _rewritten(data, directory, old_length):
    """The file with a new directory (in the room before the first array) and the checksums
    of the prefix and directory made right again, as a hostile writer would."""
    body = json.dumps(directory).encode()
    start = query_file.PREFIX.size
    room = min(e["offset"] for e in _directory(data)[0]["arrays"]) - start
    assert len(body) <= room
    prefix = query_file.PREFIX.pack(query_file.MAGIC, query_file.VERSION, len(body),
                                    len(data), zlib.crc32(body), 0)
    prefix = prefix[:-4] + struct.pack("<I", zlib.crc32(prefix[:-4]))
    return prefix + body + b"\0" * (room - len(body)) + data[start + room:]


def damaged_variants(good):
    data = good.read_bytes()
    directory, start, length = _directory(data)
    entries = {e["name"]: e for e in directory["arrays"]}
    out = {}
    out["truncated"] = (data[:len(data) // 2], "is damaged: it is")
    out["one byte short"] = (data[:-1], "is damaged: it is")
    out["empty"] = (b"", "is not a bigram query file")
    out["header"] = (data[:9] + bytes([data[9] ^ 1]) + data[10:], "is damaged: its header")
    flip = start + length // 2
    out["directory"] = (data[:flip] + bytes([data[flip] ^ 4]) + data[flip + 1:],
                        "is damaged: its directory")
    at = entries["3_tokens"]["offset"] + 5
    out["a table"] = (data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1:],
                      "is damaged: its table 3_tokens")
    # Checksums made right again: sizes that do not fit the file, arrays out of place.
    lying = json.loads(json.dumps(directory))
    lying["rows"][2] = 1 << 39
    out["rows beyond the file"] = (_rewritten(data, lying, length), "is damaged: its array")
    moved = json.loads(json.dumps(directory))
    moved["arrays"][3]["offset"] = len(data) - 8
    out["array past the end"] = (_rewritten(data, moved, length), "is damaged: its array")
    overlapping = json.loads(json.dumps(directory))
    overlapping["arrays"][4]["offset"] = overlapping["arrays"][3]["offset"]
    out["overlapping arrays"] = (_rewritten(data, overlapping, length), "is damaged: its array")
    order = json.loads(json.dumps(directory))
    order["order"] = 10 ** 9
    out["order"] = (_rewritten(data, order, length), "is damaged: its order")
    # Vocabularies changed in place, their checksum made right: words checked on the
    # bytes (and kept as one string) must be refused as a list of strings would be.
    words = entries["vocabulary"]
    vocabulary = data[words["offset"]:words["offset"] + words["bytes"]]
    assert vocabulary.startswith(b"be\nbebobe\nbegeko\nbepu\nbero\n")

    def changed(old, new):
        assert len(old) == len(new) and old in vocabulary
        table = bytearray(data)
        table[words["offset"]:words["offset"] + words["bytes"]] = vocabulary.replace(old, new, 1)
        fixed = json.loads(json.dumps(directory))
        fixed["arrays"][0]["crc32"] = f"{zlib.crc32(vocabulary.replace(old, new, 1)):08x}"
        return _rewritten(bytes(table), fixed, length)

    unsorted = "is damaged: its vocabulary is not 205 sorted distinct tokens"
    out["word with a space"] = (changed(b"bepu", b"be u"), "is damaged: its vocabulary holds")
    out["empty word"] = (changed(b"bepu\nbero", b"bepu\n\nero"),
                         "is damaged: its vocabulary holds an empty word")
    out["vocabulary not utf8"] = (changed(b"bepu", b"be\xffu"),
                                  "is damaged: its vocabulary is not UTF-8")
    out["unsorted words"] = (changed(b"bepu\nbero", b"bero\nbepu"), unsorted)
    out["word before its beginning"] = (changed(b"be\nbebobe", b"bebobe\nbe"), unsorted)
    out["repeated word"] = (changed(b"bepu\nbero", b"bero\nbero"), unsorted)
    out["unk among the words"] = (changed(b"be\nbebobe", b"<unk>\nbeb"), unsorted)
    # The word hash table: unsorted hashes, an id naming no word, a bad collision list.
    for label, change in (("unsorted word hashes", lambda h, i: h.__setitem__(
                               slice(0, 2), h[1::-1].copy())),
                          ("word id out of range", lambda h, i: i.__setitem__(0, 10 ** 6))):
        table = bytearray(data)
        first, second = entries["word_hashes"], entries["word_ids"]
        hashes = np.frombuffer(table, "<u8", first["bytes"] // 8, first["offset"]).copy()
        ids = np.frombuffer(table, "<u4", second["bytes"] // 4, second["offset"]).copy()
        change(hashes, ids)
        fixed = json.loads(json.dumps(directory))
        for entry, values in ((first, hashes), (second, ids)):
            table[entry["offset"]:entry["offset"] + entry["bytes"]] = values.tobytes()
            at = [e["name"] for e in fixed["arrays"]].index(entry["name"])
            fixed["arrays"][at]["crc32"] = f"{zlib.crc32(values.tobytes()):08x}"
        out[label] = (_rewritten(bytes(table), fixed, length),
                      "is damaged: its word hashes are not sorted or name words")
    collided = json.loads(json.dumps(directory))
    collided["collided"] = [-1]
    out["collision list"] = (_rewritten(data, collided, length),
                             "is damaged: its directory does not list the words whose hashes")
    version = bytearray(_rewritten(data, directory, length))
    version[8:12] = struct.pack("<I", 99)
    version[28:32] = struct.pack("<I", zlib.crc32(bytes(version[:28])))
    out["newer version"] = (bytes(version), "is a query file of version 99")
    return out


def test_damaged_and_truncated_files_are_refused_by_every_command(good, tmp_path):
    variants = damaged_variants(good)
    paths = []
    for name, (data, _) in variants.items():
        path = tmp_path / (name.replace(" ", "-") + ".bq")
        path.write_bytes(data)
        paths.append(path)
    # An empty file is not recognised as a query file at all: it is left out here.
    paths = [p for p in paths if p.stat().st_size]
    report = run_commands(paths)
    for path in paths:
        message = variants[path.stem.replace("-", " ")][1]
        check_refused(report[str(path)], path, message)
    assert files.is_query_file(good) and not files.is_query_file(tmp_path / "x")


def test_tables_of_garbage_with_right_checksums_never_read_out_of_bounds(good, tmp_path):
    """A hostile file whose tables are random bytes with checksums to match: every command
    runs to its end or refuses in one line, and nothing is read outside the file."""
    data = bytearray(good.read_bytes())
    directory, _, length = _directory(bytes(data))
    rng = np.random.default_rng(5)
    for entry in directory["arrays"]:
        # (The vocabulary and its hash table are checked whole when opening: garbage
        # there is refused before any table is read; here the tables are the point.)
        if entry["name"] in ("vocabulary", "word_hashes", "word_ids", "1_adj", "1_below"):
            continue
        a, n = entry["offset"], entry["bytes"]
        data[a:a + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        entry["crc32"] = f"{zlib.crc32(bytes(data[a:a + n])):08x}"
    path = tmp_path / "garbage.bq"
    path.write_bytes(_rewritten(bytes(data), directory, length))
    commands = [["score", "--file", str(FIXTURES / "words.heldout.txt")],
                ["eval", str(FIXTURES / "words.heldout.txt")], ["score", "the"],
                ["sample", "-n", "3", "--seed", "1"]]
    report = run_commands([path], commands)[str(path)]
    for command, run in zip(commands, report["runs"]):
        assert run["code"] in (0, 1), (command, run)
        assert "Traceback" not in run["err"], (command, run["err"])
        if run["code"]:
            assert run["err"].startswith("error: ") and run["err"].count("\n") == 1


# ---------------------------------------------------------------------- mapped, not read

CHILD = """
import json, sys
def rss():
    return {line.split(":")[0]: int(line.split()[1]) for line in open("/proc/self/status")
            if line.startswith(("VmRSS", "RssFile"))}
import numpy, bigram
from bigram.formats.modelfile import load_for_scoring
from bigram.models import scoring
before = rss()
model = load_for_scoring(sys.argv[1])
opened = rss()
lines = ["w1 w2 w3", "w7 w8 w9 w10", "w4"] * 4
scores = [s.logprob for s in scoring.score_lines(model, lines[:10])]
after = rss()
print(json.dumps({"before": before, "opened": opened, "after": after, "scores": scores}))
"""


def synthetic_tables(size, rows2, rows3, seed=0):
    """Query tables of a trie of random windows (valid: sorted, distinct, parents exist)."""
    from bigram.text.vocabulary import Vocabulary

    rng = np.random.default_rng(seed)
    keys2 = np.unique(rng.integers(0, size * size, rows2))
    keys3 = np.unique(rng.integers(0, len(keys2) * size, rows3))
    adj = [None, -rng.random(size) * 10, -rng.random(len(keys2)) * 10,
           -rng.random(len(keys3)) * 10]
    below = [None, -rng.random(size), -rng.random(len(keys2))]
    tables = QueryTables(3, size, "sentence", [None, None, keys2, keys3], adj, below)
    vocabulary = Vocabulary([f"w{i}" for i in range(size - 1)], "word")
    return tables, vocabulary


def test_opening_a_large_query_file_reads_only_what_scoring_touches(tmp_path):
    tables, vocabulary = synthetic_tables(4000, 3_000_000, 8_000_000)
    path = tmp_path / "large.bq"
    query_file.write_query_file(path, tables, vocabulary, {"kind": "synthetic"})
    size_kb = path.stat().st_size >> 10
    assert size_kb > 4 * (query_file.VERIFY_WHOLE >> 10)   # too large to be checked whole
    child = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                           text=True, timeout=120, check=True)
    report = json.loads(child.stdout)
    # Opening maps the file and reads its directory, vocabulary and level 1 (~0.4 MB of
    # 76 MB here); ten lines touch a few dozen pages of each level (the system maps 64 KB
    # around each page touched: ~7 MB here).
    opened = report["opened"]["RssFile"] - report["before"]["RssFile"]
    assert opened < size_kb / 50, (opened, size_kb)
    for kind in ("RssFile", "VmRSS"):
        grown = report["after"][kind] - report["before"][kind]
        assert grown < size_kb / 5, (kind, grown, size_kb)
    # And the numbers are the tables' own (the back-off rule, worked by hand for one line).
    expected = _plain_score(tables, vocabulary, "w1 w2 w3")
    assert abs(report["scores"][0] - expected) < EXACT


def test_a_few_lines_are_scored_without_hashing_the_vocabulary(good, monkeypatch):
    """The query file stores its words' hash table: looking up a few words binary-searches
    it; nothing hashes or sorts the whole vocabulary, and the lines score as the ARPA."""
    from bigram.text import words

    lines = lines_of("words.heldout.txt")[:3]
    arpa = load_for_scoring(FIXTURES / "words.o3.arpa.gz")
    expected = totals(arpa, lines)

    def refused(*args, **kwargs):
        raise AssertionError("the vocabulary was hashed again")

    monkeypatch.setattr(words.WordIndex, "from_words", refused)
    monkeypatch.setattr(words, "_HashBuckets", refused)
    converted = load_for_scoring(good)
    got = totals(converted, lines)
    assert (got[1] == expected[1]).all() and (got[2] == expected[2]).all()
    assert np.allclose(got[0], expected[0], rtol=0, atol=EXACT)
    # Nor was the vocabulary split into a string per word; asked for, its words are the
    # ARPA file's.
    vocabulary = converted.vocabulary
    assert vocabulary._list is None
    assert len(vocabulary) == len(arpa.vocabulary) and vocabulary == arpa.vocabulary
    assert [vocabulary.token(i) for i in range(len(vocabulary))] == \
        [arpa.vocabulary.token(i) for i in range(len(arpa.vocabulary))]


def _plain_score(tables, vocabulary, line):
    """ln P of a line's words and its end by the tables' definition, one token at a time."""
    ids = [0] + [vocabulary.tokens.index(w) + vocabulary.first for w in line.split()] + [0]
    size, total = tables.size, 0.0
    for i in range(1, len(ids)):
        # The longest listed window ending at i (at most 3 tokens, not reaching before <s>).
        rows = {1: ids[i]}
        for k in (2, 3):
            if i - k + 1 < 0:
                break
            row = ids[i - k + 1]
            for j in range(2, k + 1):
                hit = np.searchsorted(tables.keys[j], row * size + ids[i - k + j])
                keys = tables.keys[j]
                if hit < len(keys) and keys[hit] == row * size + ids[i - k + j]:
                    row = int(hit)
                else:
                    row = None
                    break
            if row is not None:   # the window's first k - 1 tokens and it are listed
                rows[k] = row
        longest = max(rows)
        # The longest listed context ending at i - 1 (shorter than 3 tokens).
        context = {1: ids[i - 1]}
        if i >= 2:
            key = ids[i - 2] * size + ids[i - 1]
            hit = np.searchsorted(tables.keys[2], key)
            if hit < len(tables.keys[2]) and tables.keys[2][hit] == key:
                context[2] = int(hit)
        c = max(context)
        total += tables.adj[longest][rows[longest]] + tables.below[c][context[c]]
    return total


def test_gzip_arpa_and_plain_arpa_convert_alike(tmp_path):
    plain = tmp_path / "m.arpa"
    plain.write_bytes(gzip.decompress((FIXTURES / "chars.o3.arpa.gz").read_bytes()))
    convert.convert(plain, tmp_path / "a.bq")
    convert.convert(FIXTURES / "chars.o3.arpa.gz", tmp_path / "b.bq")
    a, b = bigram.load(tmp_path / "a.bq"), bigram.load(tmp_path / "b.bq")
    lines = lines_of("chars.heldout.txt")
    assert (totals(a, lines)[0] == totals(b, lines)[0]).all()


def test_info_verify_checks_the_large_tables_of_a_large_file(tmp_path, cli):
    """A large file opens without reading its big tables; `info --verify` reads them all
    and finds a flipped bit that opening does not."""
    tables, vocabulary = synthetic_tables(4000, 1_000_000, 3_000_000, seed=2)
    path = tmp_path / "large.bq"
    query_file.write_query_file(path, tables, vocabulary, {"kind": "synthetic"})
    assert path.stat().st_size > query_file.VERIFY_WHOLE
    data = bytearray(path.read_bytes())
    directory, _, _ = _directory(bytes(data))
    tokens = next(e for e in directory["arrays"] if e["name"] == "3_tokens")
    data[tokens["offset"] + tokens["bytes"] // 2] ^= 1
    path.write_bytes(bytes(data))
    assert cli("info", "-m", path).code == 0
    refused = cli("info", "--verify", "-m", path)
    assert refused.code == 1
    assert refused.err == f"error: {path} is damaged: its table 3_tokens does not match its " \
                          "checksum\n"


def test_info_verify_recomputes_the_word_hashes(good, tmp_path, cli):
    """Hashes that are sorted and match their checksum but are not the words' own (a
    hostile writer's) only make words unknown when scoring; `info --verify` finds them."""
    data = bytearray(good.read_bytes())
    directory, _, length = _directory(bytes(data))
    entry = next(e for e in directory["arrays"] if e["name"] == "word_hashes")
    hashes = np.frombuffer(data, "<u8", entry["bytes"] // 8, entry["offset"]) + np.uint64(1)
    data[entry["offset"]:entry["offset"] + entry["bytes"]] = hashes.tobytes()
    entry["crc32"] = f"{zlib.crc32(hashes.tobytes()):08x}"
    path = tmp_path / "rehashed.bq"
    path.write_bytes(_rewritten(bytes(data), directory, length))
    scored = cli("score", "--json", "sasega su", "-m", path)
    assert scored.code == 0 and json.loads(scored.out)[0]["oov_tokens"] == ["sasega", "su"]
    assert json.loads(cli("score", "--json", "sasega su", "-m", good).out)[0]["oov_tokens"] == []
    refused = cli("info", "--verify", "-m", path)
    assert refused.code == 1
    assert refused.err == f"error: {path} is damaged: its word hashes are not its words' " \
                          "hashes\n"
    assert cli("info", "--verify", "-m", good).code == 0


def test_commands_list(good):
    """The commands the damaged-file tests run are those of test_hostile_files."""
    assert [c[0] for c in COMMANDS] == ["eval", "info", "sample", "score"]


def test_train_writes_the_query_file_too(cli, tmp_path):
    train = FIXTURES / "words.train.txt"
    result = cli("train", train, "--unit", "word", "--order", "4", "--smoothing-method",
                 "modified-kneser-ney", "-o", "m.npz", "--query-file", "m.bq")
    assert result.code == 0, result.err
    assert cli("convert", "m.npz", "-o", "c.bq").code == 0
    heldout = FIXTURES / "words.heldout.txt"
    written, converted = (cli("score", "--file", heldout, "-m", name).out
                          for name in ("m.bq", "c.bq"))
    assert written == converted and written.count("\n") == len(lines_of("words.heldout.txt"))
    refused = cli("train", train, "--model", "neural", "-o", "n.npz", "--query-file", "n.bq")
    assert refused.code != 0 and "--query-file belongs to --model counts" in refused.err
    assert not (tmp_path / "n.npz").exists()


SHORTENED = """
import os, sys
import bigram
from bigram.errors import ModelFileError
model = bigram.load(sys.argv[1])
lines = open(sys.argv[2], encoding="utf-8").read().splitlines()
print(round(sum(s.logprob for s in bigram.Model.score_lines(model, lines)), 6), flush=True)
os.truncate(sys.argv[1], os.path.getsize(sys.argv[1]) // 2)
try:
    list(bigram.Model.score_lines(model, lines))
except ModelFileError as error:
    print(error)
    sys.exit(3)
"""


def test_a_file_shortened_while_mapped_is_refused_not_a_sigbus(tmp_path):
    """A child maps a query file, scores, shortens the file and scores again: the second
    batch is refused in one line (fstat before each batch), where reading the lost pages
    would kill the child with SIGBUS."""
    train = lines_of("words.train.txt")
    model = bigram.train(train, order=4, unit="word", method="modified-kneser-ney")
    model.save(tmp_path / "m.npz")
    convert.convert(tmp_path / "m.npz", tmp_path / "m.bq")
    done = subprocess.run([sys.executable, "-c", SHORTENED, str(tmp_path / "m.bq"),
                           str(FIXTURES / "words.heldout.txt")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 3, (done.returncode, done.stderr[-500:])
    first, message = done.stdout.splitlines()
    expected = sum(s.logprob for s in model.score_lines(lines_of("words.heldout.txt")))
    assert abs(float(first) - expected) < 1e-3
    assert message.startswith(f"{tmp_path / 'm.bq'} was shortened while in use")


@pytest.mark.parametrize("unit, order", [("word", 4), ("char", 5)])
def test_seeded_draws_from_a_query_file_equal_the_model_files(tmp_path, unit, order):
    """`sample` on a query file (the model made in memory from the trie's float32 values)
    draws what the model file it came from draws, seed for seed."""
    corpus = "chars" if unit == "char" else "words"
    model = bigram.train(lines_of(f"{corpus}.train.txt"), order=order, unit=unit,
                         method="modified-kneser-ney")
    model.save(tmp_path / "m.npz")
    convert.convert(tmp_path / "m.npz", tmp_path / "m.bq")
    original, mapped = bigram.load(tmp_path / "m.npz"), bigram.load(tmp_path / "m.bq")
    for seed in (1, 7):
        assert mapped.sample(n=50, seed=seed) == original.sample(n=50, seed=seed)


@pytest.mark.parametrize("unit, order, method", [
    ("word", 2, "modified-kneser-ney"), ("word", 3, "kneser-ney"),
    ("word", 5, "modified-kneser-ney"), ("char", 3, "witten-bell"),
    ("char", 6, "modified-kneser-ney")])
def test_sampling_walks_the_trie_and_draws_what_the_model_file_draws(tmp_path, monkeypatch,
                                                                      unit, order, method):
    """With no model small enough for a table of every state's row, the model file samples
    by its back-off chain over the model in memory (backoff_chain.py) and the query file
    by the same chain over the trie, each context made when first needed
    (trie_chain.py): the same items, seed for seed, with a prefix too, and the query
    file's model never made in memory."""
    from bigram.models import sampling

    monkeypatch.setattr(sampling, "TABLE_LIMIT", 0)
    corpus = "chars" if unit == "char" else "words"
    model = bigram.train(lines_of(f"{corpus}.train.txt"), order=order, unit=unit,
                         method=method)
    model.save(tmp_path / "m.npz")
    convert.convert(tmp_path / "m.npz", tmp_path / "m.bq")
    original, mapped = bigram.load(tmp_path / "m.npz"), bigram.load(tmp_path / "m.bq")
    first = lines_of(f"{corpus}.train.txt")[0]
    prefix = first[:2] if unit == "char" else first.split()[0]
    for seed in (1, 7, 12345):
        assert mapped.sample(n=300, seed=seed) == original.sample(n=300, seed=seed)
    assert mapped.sample(n=100, seed=3, prefix=prefix) == \
        original.sample(n=100, seed=3, prefix=prefix)
    assert mapped._saved.model._backoff is None
    # And what the query file's own model, made in memory, draws by its back-off chain
    # (the same float32 values: no rounding apart).
    whole = bigram.load(tmp_path / "m.bq")
    assert whole._saved.model.backoff is not None
    assert whole.sample(n=300, seed=5) == mapped.sample(n=300, seed=5)


def test_sampling_refuses_a_file_that_lists_a_window_without_its_suffix(tmp_path, monkeypatch):
    """No model bigram converts lacks a window's suffix; a hostile file that does (random
    windows) is refused in one line when the walk meets it, not walked into states
    with no suffix."""
    from bigram.errors import ModelFileError
    from bigram.models import sampling

    monkeypatch.setattr(sampling, "TABLE_LIMIT", 0)
    tables, vocabulary = synthetic_tables(60, 2000, 20000, seed=4)
    query_file.write_query_file(tmp_path / "open.bq", tables, vocabulary, {"kind": "x"})
    with pytest.raises(ModelFileError, match="without its suffix"):
        bigram.load(tmp_path / "open.bq").sample(n=50, seed=1)
