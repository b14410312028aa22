"""bigram.formats.arpa_reader: ARPA files from lmplz and from bigram's writer, and every malformed case.

The reader is compared with a plain line-by-line parse written here, and the back-off
rule applied to what it reads reproduces KenLM `query`'s scores stored in the fixtures.
"""

import gzip
import json
import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from bigram.errors import ModelFileError
from bigram.formats import arpa_reader
from bigram.formats.arpa_reader import read_arpa

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "kenlm"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))


def plain_parse(text):
    """One dict per order, words tuple -> (log10 p, back-off), read line by line."""
    levels, section = [], None
    for line in text[text.index("\\data\\"):].splitlines():
        line = line.strip()
        if not line or line.startswith("ngram "):
            continue
        if line.startswith("\\"):
            section = line
            if line.endswith("-grams:"):
                levels.append({})
            continue
        fields = line.split()
        n = len(levels)
        backoff = float(fields[n + 1]) if len(fields) > n + 1 else 0.0
        levels[-1][tuple(fields[1:n + 1])] = (float(fields[0]), backoff)
    assert section == "\\end\\"
    return levels


def as_dicts(model):
    """The reader's arrays as the same dicts."""
    return [{tuple(model.words[i] for i in row): (p, b)
             for row, p, b in zip(grams.tolist(), probs.tolist(), backoffs.tolist())}
            for grams, probs, backoffs in zip(model.ngrams, model.log10prob, model.log10backoff)]


def write(tmp_path, text, name="model.arpa"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("model", MANIFEST["models"], ids=lambda m: m["name"])
def test_fixture_read_as_a_plain_parse_reads_it(model):
    path = FIXTURES / model["arpa"]
    read = read_arpa(path)
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    assert read.order == model["order"]
    assert read.words == [line.split("\t")[1] for line in
                          text.split("\\1-grams:\n")[1].split("\n\n")[0].splitlines()]
    for grams in read.ngrams:
        assert grams.dtype == np.int32
    assert as_dicts(read) == plain_parse(text)


def log10_score(levels, history, word):
    """The back-off rule: a listed n-gram's value, else the history's back-off plus the
    value for the history shortened by one word."""
    if len(history) + 1 > len(levels):
        history = history[len(history) + 1 - len(levels):]
    listed = levels[len(history)].get(history + (word,))
    if listed is not None:
        return listed[0]
    backoff = levels[len(history) - 1].get(history, (0.0, 0.0))[1]
    return backoff + log10_score(levels, history[1:], word)


@pytest.mark.parametrize("model", [m for m in MANIFEST["models"] if m["query"]],
                         ids=lambda m: m["name"])
def test_back_off_rule_on_what_is_read_reproduces_kenlm_query(model):
    levels = as_dicts(read_arpa(FIXTURES / model["arpa"]))
    query = model["query"]
    total, tokens = 0.0, 0
    for sentence in query["sentences"]:
        history = ("<s>",)
        for word, _, _, kenlm in sentence["words"]:
            token = word if (word,) in levels[0] else "<unk>"
            ours = log10_score(levels, history, token)
            assert ours == pytest.approx(kenlm, abs=2e-6)
            history = (history + (token,))[-(model["order"] - 1):]
            total += ours
            tokens += 1
    assert tokens == query["tokens"]
    assert 10 ** (-total / tokens) == pytest.approx(query["perplexity_including_oovs"],
                                                    rel=1e-6)


def test_bigram_export_reads_back(cli, tmp_path):
    names = (ROOT / "data" / "names.txt").read_text().splitlines()[:500] + ["mary ann"]
    (tmp_path / "items.txt").write_text("\n".join(names) + "\n")
    assert cli("train", "items.txt", "--order", "3", "--test-size", "0").code == 0
    assert cli("export", "-o", "model.arpa").code == 0
    read = read_arpa(tmp_path / "model.arpa")
    assert read.order == 3 and "<space>" in read.words
    assert as_dicts(read) == plain_parse((tmp_path / "model.arpa").read_text())


def test_what_real_files_have_is_accepted(tmp_path):
    # Text before \data\, spaces instead of tabs, CRLF, missing back-offs, -inf, blank
    # lines inside a section, nothing after \end\'s line end.
    text = ("made by hand\r\n\r\n\\data\\\r\nngram 1=3\r\nngram  2 = 2\r\n\r\n"
            "\\1-grams:\r\n-1.0  <s>   -0.5\r\n-inf <unk>\r\n\r\n-0.3\ta -inf\r\n\r\n"
            "\\2-grams:\r\n-0.2 <s> a\r\n-0.1\t<s>  <unk>\r\n\r\n\\end\\")
    path = tmp_path / "odd.arpa.gz"
    path.write_bytes(gzip.compress(text.encode()))
    read = read_arpa(path)
    assert read.words == ["<s>", "<unk>", "a"]
    assert read.ngrams[1].tolist() == [[0, 2], [0, 1]]
    assert read.log10prob[0].tolist() == [-1.0, -np.inf, -0.3]
    assert read.log10backoff[0].tolist() == [-0.5, 0.0, -np.inf]
    assert read.log10prob[1].tolist() == [-0.2, -0.1]


GOOD = textwrap.dedent("""
    \\data\\
    ngram 1=3
    ngram 2=2

    \\1-grams:
    -1.0\t<s>\t-0.5
    -0.7\ta\t-0.2
    -0.4\tb

    \\2-grams:
    -0.3\t<s> a
    -0.2\ta b

    \\end\\
""").lstrip()


def test_the_good_file_reads(tmp_path):
    read = read_arpa(write(tmp_path, GOOD))
    assert read.ngrams[1].tolist() == [[0, 1], [1, 2]]


# (text replaced in GOOD, its replacement, the line named, the error's start); also read
# by test_arpa_stream, which converts each without reading it whole.
MALFORMED = [
    ("\\data\\", "\\dada\\", 14, "no \\data\\ line"),
    ("ngram 1=3", "ngram 1=4", 9, "the 1-gram section has 3 entries where \\data\\ declares 4"),
    ("ngram 2=2", "ngram 2=1", 13, "the 2-gram section has 2 entries where \\data\\ declares 1"),
    ("ngram 2=2", "ngram 2=2\nngram 3=0", 15, "expected '\\3-grams:', found '\\end\\'"),
    ("ngram 2=2", "ngram 3=2", 3, "bad header line 'ngram 3=2'"),
    ("ngram 1=3", "ngram 1=three", 2, "bad header line 'ngram 1=three'"),
    ("-0.7\ta", "-O.7\ta", 7, "probability '-O.7' is not a number"),
    ("-0.7\ta", "-0.7x\ta", 7, "probability '-0.7x' is not a number"),
    ("a\t-0.2", "a\t-0..2", 7, "back-off '-0..2' is not a number"),
    ("-0.7\ta", "nan\ta", 7, "probability 'nan' is not finite"),
    ("-0.7\ta", "inf\ta", 7, "probability 'inf' is not finite"),
    ("a\t-0.2", "a\t+inf", 7, "back-off '+inf' is not finite"),
    ("a\t-0.2", "a\tNaN", 7, "back-off 'NaN' is not finite"),
    ("-0.2\ta b", "-0.2\ta b\t-0.1", 12, "a back-off weight on the highest order (2)"),
    ("-0.2\ta b", "-0.2\ta c", 12, "word 'c' is not among the unigrams"),
    ("-0.2\ta b", "-0.3\t<s> a", 12, "this 2-gram is listed twice"),
    ("-0.4\tb", "-0.4\ta", 8, "unigram 'a' listed twice"),
    ("-0.4\tb", "-0.4\tb c d", 8, "4 fields where a 1-gram line has 2 or 3"),
    ("-0.2\ta b", "-0.2\tab", 12, "2 fields where a 2-gram line has 3"),
    ("\\end\\", "\\3-grams:", 14, "expected '\\end\\', found '\\3-grams:'"),
    ("\\end\\", "", 14, "expected '\\end\\', found 'end of file'"),
]


@pytest.mark.parametrize("old, new, line, message", MALFORMED)
def test_malformed_file_is_a_one_line_error_naming_the_line(tmp_path, old, new, line, message):
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ModelFileError) as caught:
        read_arpa(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: line {line}: {message}"), text


def test_missing_context_deeper_down_names_the_line(tmp_path):
    text = GOOD.replace("ngram 2=2", "ngram 2=2\nngram 3=1").replace(
        "\\end\\", "\\3-grams:\n-0.1\tb a b\n\n\\end\\")
    with pytest.raises(ModelFileError, match=r"line 16: the prefix of this 3-gram \(its "
                                             r"first 2 words\) is not listed"):
        read_arpa(write(tmp_path, text))


def test_blocks_cut_anywhere_read_the_same(monkeypatch):
    path = FIXTURES / "words.o4.prune-0-0-1-2.arpa.gz"
    whole = read_arpa(path)
    monkeypatch.setattr(arpa_reader, "_BLOCK_BYTES", 50)
    assert as_dicts(read_arpa(path)) == as_dicts(whole)


def test_duplicate_unigram_in_a_later_block(tmp_path, monkeypatch):
    monkeypatch.setattr(arpa_reader, "_BLOCK_BYTES", 10)
    with pytest.raises(ModelFileError, match="line 8: unigram 'a' listed twice"):
        read_arpa(write(tmp_path, GOOD.replace("-0.4\tb", "-0.4\ta")))


def test_shared_hash_rehashes(tmp_path, monkeypatch):
    """Two different n-grams with one hash are not a duplicate: the check re-hashes."""
    hashes = arpa_reader._hashes

    def first_seed_collides(grams, seed):
        full, prefix = hashes(grams, seed)
        return (full * np.uint64(0), prefix * np.uint64(0)) if seed == 1 else (full, prefix)

    monkeypatch.setattr(arpa_reader, "_hashes", first_seed_collides)
    assert read_arpa(write(tmp_path, GOOD)).ngrams[1].tolist() == [[0, 1], [1, 2]]


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.arpa"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert read_arpa(path).words == ["<s>", "a", "b"]


def test_long_line_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(arpa_reader, "MAX_LINE_BYTES", 20)
    with pytest.raises(ModelFileError, match="line 7: line longer than 20 bytes"):
        read_arpa(write(tmp_path, GOOD.replace("\ta\t", "\t" + "a" * 30 + "\t")))


def test_damaged_gzip_and_non_utf8_are_refused(tmp_path):
    path = tmp_path / "model.arpa.gz"
    path.write_bytes(gzip.compress(b"\\data\\\n" * 100)[:-20])
    with pytest.raises(ModelFileError, match="damaged gzip data"):
        read_arpa(path)
    path = write(tmp_path, GOOD)
    path.write_bytes(path.read_bytes().replace(b"\ta\t", b"\t\xff\t").replace(b"\ta b", b"\t\xff b")
                     .replace(b"<s> a", b"<s> \xff"))
    with pytest.raises(ModelFileError, match="line 7: unigram '\\\\xff' is not UTF-8"):
        read_arpa(path)
    with pytest.raises(ModelFileError, match="cannot read"):
        read_arpa(tmp_path / "absent.arpa")


def test_gzip_of_several_members_reads(tmp_path):
    path = tmp_path / "model.arpa.gz"
    half = len(GOOD) // 2
    path.write_bytes(gzip.compress(GOOD[:half].encode()) + gzip.compress(GOOD[half:].encode()))
    assert as_dicts(read_arpa(path)) == plain_parse(GOOD)


@pytest.mark.parametrize("filler, message", [
    (b"\0", "line 5: line longer than 1048576 bytes"),
    (b"\n", "the gzip data expands more than 100 times"),
])
def test_deflate_bomb_stops_early(tmp_path, filler, message):
    path = tmp_path / "bomb.arpa.gz"
    # 200 MiB of text in about 200 KB: one gzip member per MiB.
    path.write_bytes(gzip.compress(b"\\data\\\nngram 1=1\n\n\\1-grams:\n")
                     + gzip.compress(filler * (1 << 20)) * 200)
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match=message):
        read_arpa(path)
    assert time.perf_counter() - start < 5


def test_huge_declared_count_fails_fast_in_bounded_memory(tmp_path):
    path = write(tmp_path, GOOD.replace("ngram 1=3", "ngram 1=1000000000000"))
    # VmHWM is the child's own peak; the parent's pages do not count.
    script = ("import sys\nfrom bigram.formats.arpa_reader import read_arpa\n"
              "from bigram.errors import ModelFileError\n"
              "try:\n    read_arpa(sys.argv[1])\nexcept ModelFileError as e:\n    print(e)\n"
              "peak = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
              "print(peak[0])\n")
    child = subprocess.run([sys.executable, "-c", script, str(path)], check=True, capture_output=True,
                           text=True, timeout=60)
    message, peak_kb = child.stdout.splitlines()
    assert "line 9: the 1-gram section has 3 entries where \\data\\ declares 1000000000000" \
        in message
    assert int(peak_kb) < 100_000


def test_log10_score_helper_is_the_back_off_rule():
    """The test's own scorer, on numbers worked out by hand."""
    levels = [{("a",): (-1.0, -0.5), ("b",): (-2.0, 0.0)}, {("a", "a"): (-0.1, 0.0)}]
    assert log10_score(levels, ("a",), "a") == -0.1
    assert log10_score(levels, ("a",), "b") == -0.5 + -2.0
    assert math.isclose(log10_score(levels, ("b",), "a"), -1.0)
