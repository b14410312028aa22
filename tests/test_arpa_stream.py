"""bigram.formats.arpa_stream: ARPA files converted to query files a level at a time.

References: the general path (the ARPA file read whole by arpa_model.load_arpa, its
tables made by QueryTables.from_backoff, written by the same writer), whose query files
must come out byte for byte the same; the ARPA file itself as a model (scores); and
arpa_reader's own one-line errors for every malformed case.
"""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from test_arpa_reader import GOOD, MALFORMED
from test_query_format import assert_same_scores, lines_of

import bigram
from bigram.errors import ModelFileError
from bigram.formats import arpa_reader, arpa_stream, convert, query_file
from bigram.formats.arpa_model import load_arpa
from bigram.formats.arpa_numbers import parse_decimals
from bigram.formats.arpa_reader import read_arpa
from bigram.ngrams.query import QueryTables

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "kenlm"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))


def general_path(monkeypatch):
    """Make convert read ARPA files whole, as before streaming."""
    monkeypatch.setattr(arpa_stream, "convert_arpa", lambda path, write, temp_dir=None: None)


def streamed(path, output):
    """Convert `path` by the streaming path only (fails if it would fall back)."""
    rows = arpa_stream.convert_arpa(path, lambda tables, vocabulary, meta: convert.
                                    write_query_file(output, tables, vocabulary,
                                                     convert.conversion_meta(meta, path)))
    assert rows is not None, f"{path} went to the general path"


class _ChainOff(arpa_stream._SuffixChain):
    """Suffixes found as in a file not in lmplz's order (_Below.rows)."""

    def __init__(self, words, folder):
        super().__init__(words, folder)
        self.live = False


@pytest.mark.parametrize("levels", ["kept", "spilled"])
@pytest.mark.parametrize("found_by", ["chain", "search", "hash"])
@pytest.mark.parametrize("quantize", [None, 8])
@pytest.mark.parametrize("model", MANIFEST["models"], ids=lambda m: m["name"])
def test_every_fixture_streams_to_the_file_the_general_path_writes(tmp_path, monkeypatch,
                                                                   model, quantize, found_by,
                                                                   levels):
    if levels == "spilled":   # finished levels written to the temporary folder, read back
        monkeypatch.setattr(arpa_stream, "KEEP_BYTES", 0)
    if found_by != "chain":
        monkeypatch.setattr(arpa_stream, "_SuffixChain", _ChainOff)
    if found_by == "hash":   # rows found by hashes of the tuples, as for long vocabularies
        monkeypatch.setattr(arpa_stream, "PACKED_BITS", 0)
    arpa = FIXTURES / model["arpa"]
    try:
        convert.convert(arpa, tmp_path / "streamed.bq", quantize)
    except Exception as error:   # noqa: BLE001 - the general path must fail alike
        with monkeypatch.context() as patch:
            general_path(patch)
            with pytest.raises(type(error)) as caught:
                convert.convert(arpa, tmp_path / "whole.bq", quantize)
        assert str(caught.value) == str(error)
        assert "back-off weight of zero" in str(error)
        return
    streamed(arpa, tmp_path / "only.bq")   # it did not fall back
    with monkeypatch.context() as patch:
        general_path(patch)
        convert.convert(arpa, tmp_path / "whole.bq", quantize)
    assert (tmp_path / "streamed.bq").read_bytes() == (tmp_path / "whole.bq").read_bytes()
    if quantize is None:
        lines = lines_of(f"{model['corpus']}.heldout.txt")
        assert_same_scores(bigram.load(arpa), bigram.load(tmp_path / "streamed.bq"), lines)


def shuffled_sections(text, rng, levels):
    """The ARPA text with the entries of the given levels' sections in a random order."""
    out, level = [], 0
    for part in re.split(r"(\\\d+-grams:\n)", text):
        found = re.fullmatch(r"\\(\d+)-grams:\n", part)
        if found:
            level = int(found.group(1))
        elif level in levels:
            body, tail = part.split("\n\n", 1)   # the section ends at a blank line
            entries = body.split("\n")
            part = "\n".join(entries[i] for i in rng.permutation(len(entries))) + "\n\n" + tail
        out.append(part)
    return "".join(out)


@pytest.mark.parametrize("name, levels", [("words.o4.arpa.gz", {2}), ("words.o5.arpa.gz", {3}),
                                          ("chars.o6.arpa.gz", {5}),
                                          ("fallback.o4.arpa.gz", {2, 3, 4})])
def test_a_file_out_of_lmplz_order_streams_to_the_same_file(tmp_path, monkeypatch, name,
                                                            levels):
    # The suffix chain (lmplz's order) is turned off at the first level out of order; the
    # levels above find their suffixes by _Below.rows, and the file is the same.
    import gzip

    text = gzip.decompress((FIXTURES / name).read_bytes()).decode("utf-8")
    path = write(tmp_path, shuffled_sections(text, np.random.default_rng(3), levels))
    assert read_arpa(path).ngrams[1].shape == read_arpa(FIXTURES / name).ngrams[1].shape
    live = []
    add = arpa_stream._SuffixChain.add

    def spy(chain, grams, places):
        add(chain, grams, places)
        live.append(chain.live)

    monkeypatch.setattr(arpa_stream._SuffixChain, "add", spy)
    streamed(path, tmp_path / "streamed.bq")
    assert live[min(levels) - 2] is False and live[:min(levels) - 2] == [True] * (
        min(levels) - 2)
    general_path(monkeypatch)
    convert.convert(path, tmp_path / "whole.bq")
    # The same model, whatever the order of its lines (the source's name aside).
    convert.convert(FIXTURES / name, tmp_path / "ordered.bq")
    assert (tmp_path / "streamed.bq").read_bytes() == (tmp_path / "whole.bq").read_bytes()
    assert_same_scores(bigram.load(tmp_path / "ordered.bq"),
                       bigram.load(tmp_path / "streamed.bq"),
                       lines_of(f"{name.split('.')[0]}.heldout.txt"))


def write(tmp_path, text, name="model.arpa"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# (A file without `\\data\\` is not taken for an ARPA file at all.)
@pytest.mark.parametrize("old, new, line, message", [c for c in MALFORMED
                                                     if not c[3].startswith("no \\data")])
def test_malformed_files_are_refused_as_the_reader_refuses_them(tmp_path, old, new, line,
                                                                message):
    # The word b becomes </s>, which a model needs (else that is the first error here, where
    # the reader alone would read on): the same lines, the same errors.
    path = write(tmp_path, re.sub(r"(?<=\s)b(?=\s)", "</s>", GOOD.replace(old, new, 1)))
    with pytest.raises(ModelFileError) as caught:
        convert.convert(path, tmp_path / "m.bq")
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: line {line}: {message}"), text
    assert not (tmp_path / "m.bq").exists()


TRIGRAMS = textwrap.dedent("""
    \\data\\
    ngram 1=4
    ngram 2=3
    ngram 3=1

    \\1-grams:
    -1.0\t<s>\t-0.5
    -0.7\ta\t-0.2
    -0.4\tb\t-0.1
    -0.6\t</s>

    \\2-grams:
    -0.3\t<s> a\t-0.1
    -0.2\ta b\t-0.05
    -0.25\tb </s>

    \\3-grams:
    -0.1\t<s> a b

    \\end\\
""").lstrip()


@pytest.mark.parametrize("packed_bits", [63, 0])
def test_missing_prefix_names_the_line_and_duplicates_the_later_one(tmp_path, monkeypatch,
                                                                    packed_bits):
    monkeypatch.setattr(arpa_stream, "PACKED_BITS", packed_bits)
    monkeypatch.setattr(arpa_reader, "_BLOCK_BYTES", 16)   # sections in many blocks
    missing = write(tmp_path, TRIGRAMS.replace("<s> a b", "b a b"))
    with pytest.raises(ModelFileError, match=r"line 18: the prefix of this 3-gram \(its first "
                                             r"2 words\) is not listed"):
        convert.convert(missing, tmp_path / "m.bq")
    twice = write(tmp_path, TRIGRAMS.replace("ngram 3=1", "ngram 3=2").replace(
        "-0.1\t<s> a b\n", "-0.1\t<s> a b\n-0.2\t<s> a b\n"))
    with pytest.raises(ModelFileError, match="line 19: this 3-gram is listed twice"):
        convert.convert(twice, tmp_path / "m.bq")
    read_arpa(write(tmp_path, TRIGRAMS))   # the good one reads


@pytest.mark.parametrize("packed_bits", [63, 0])
def test_a_file_without_every_suffix_takes_the_general_path(tmp_path, monkeypatch,
                                                             packed_bits):
    monkeypatch.setattr(arpa_stream, "PACKED_BITS", packed_bits)
    # `<s> b a`: its prefix `<s> b` is listed, its suffix `b a` is not.
    text = TRIGRAMS.replace("ngram 2=3", "ngram 2=4").replace(
        "-0.2\ta b\t-0.05", "-0.2\ta b\t-0.05\n-0.6\t<s> b\t-0.2").replace(
        "ngram 3=1", "ngram 3=2").replace("-0.1\t<s> a b\n", "-0.1\t<s> a b\n-0.3\t<s> b a\n")
    path = write(tmp_path, text)
    assert arpa_stream.convert_arpa(path, lambda *a: 1 / 0) is None
    convert.convert(path, tmp_path / "m.bq")
    lines = ["a b a", "b a b a", "a", "b b a b"]
    assert_same_scores(bigram.load(path), bigram.load(tmp_path / "m.bq"), lines)


def test_the_cli_refuses_a_bad_arpa_in_one_line(tmp_path):
    path = write(tmp_path, TRIGRAMS.replace("-0.2\ta b", "-0.2\ta c"))
    done = subprocess.run([sys.executable, "-m", "bigram", "convert", str(path), "-o",
                           str(tmp_path / "m.bq")], capture_output=True, text=True, check=False,
                          cwd=ROOT, timeout=60)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr == f"error: {path}: line 14: word 'c' is not among the unigrams\n"
    assert not (tmp_path / "m.bq").exists()
    assert not list(tmp_path.glob("*bigram*"))


def float_bits(path):
    """The directory's float_bits of a query file."""
    data = Path(path).read_bytes()
    length = query_file.PREFIX.unpack(data[:query_file.PREFIX.size])[2]
    return json.loads(data[query_file.PREFIX.size:query_file.PREFIX.size + length])[
        "float_bits"]


def test_probabilities_lose_their_sign_bit_exactly_and_positive_levels_keep_32_bits(tmp_path):
    """ln P <= 0 is stored in 31 bits and read back bit for bit (as float32); a level with
    a value above 0 (here B, after a back-off weight above 1) keeps all 32."""
    path = write(tmp_path, TRIGRAMS.replace("<s> a\t-0.1", "<s> a\t0.3"))
    convert.convert(path, tmp_path / "m.bq")
    assert float_bits(tmp_path / "m.bq") == {"2_prob": 31, "3_prob": 31}
    original, converted = bigram.load(path), bigram.load(tmp_path / "m.bq")
    assert_same_scores(original, converted, ["a b", "a b a", "b", "a a b b"])
    # Read back: exactly the float32 of ln P, the sign restored.
    tables = query_file.open_query_file(tmp_path / "m.bq").model.query_tables()
    whole = QueryTables.from_backoff(load_arpa(path).model.backoff)
    for k in (2, 3):
        expected = whole.level_logprob(k)
        assert (tables.level_logprob(k) == expected.astype(np.float32)).all()
        assert (tables.level_logprob(k) <= 0).all()


def test_decimals_parsed_by_arrays_are_floats_own():
    """arpa_numbers.parse_decimals gives float()'s double, bit for bit, for every token of
    the plain form it takes, and leaves every other token (float() or an error) alone."""
    rng = np.random.default_rng(5)
    values = rng.uniform(-12, 0.5, 30_000)
    tokens = [f"{v:.{d}f}".encode() for v, d in zip(values, rng.integers(0, 17, len(values)))]
    tokens += [b"-", b".", b"-.", b"1.", b".5", b"-.5", b"1.2.3", b"-1-", b"00.00", b"-0",
               b"0", b"--1", b"1-", b"+1", b"1e5", b"-inf", b"nan", b"9" * 16, b"9" * 15,
               b"1" * 30, b"-0.30103", b"-99", b"0x1", b"\xc2\xb9"]
    block = b"\t".join(tokens)
    starts = np.cumsum([0] + [len(t) + 1 for t in tokens[:-1]])
    lengths = np.array([len(t) for t in tokens])
    parsed_values, parsed = parse_decimals(np.frombuffer(block, np.uint8), starts, lengths)
    assert parsed.mean() > 0.9   # 16 decimals of a value above 0.9 do not fit 2**53
    for token, value, ok in zip(tokens, parsed_values.tolist(), parsed.tolist()):
        if ok:
            assert value == float(token) and np.signbit(value) == np.signbit(float(token))
    left = {t for t, ok in zip(tokens, parsed.tolist()) if not ok}
    assert {b"+1", b"1e5", b"-inf", b"nan", b"9" * 16, b"1" * 30, b"0x1", b"1.2.3"} <= left


HEAP_CHILD = """
import os, numpy as np
from bigram.memory import _libc, reused_heap
def resident_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20
print(_libc() is not None)
with reused_heap():
    before = resident_mb()
    a = np.ones(50 << 20)   # 400 MB, from the heap
    del a
    print(resident_mb() - before)   # kept for reuse
    b = np.ones(50 << 20)   # reuses the same pages
    del b
print(resident_mb() - before)   # handed back at the end
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc")
def test_the_heap_keeps_freed_arrays_inside_and_hands_them_back_after():
    done = subprocess.run([sys.executable, "-c", HEAP_CHILD], capture_output=True, text=True,
                          check=True, timeout=120, cwd=ROOT)
    glibc, kept, after = done.stdout.split()
    if glibc != "True":
        pytest.skip("not glibc: nothing is tuned")
    assert int(kept) > 300 and int(after) < 50
