"""`score --file` scores each distinct line of a block once (scoring._score_distinct_utf8)
and gives its results to every line that repeats it: the output must be byte for byte
the output of scoring every line (the road without the de-duplication), and each line's
total what `score_lines` (the code-point road, one string at a time) gives it."""

import numpy as np
import pytest

import bigram
from bigram.formats import convert
from bigram.formats.modelfile import load_for_scoring
from bigram.models import scoring
from bigram.models.scoring import render_sources, score_lines, tsv_lines

TRAIN = ["def f(x):", "return x", "else:", "import os", "the café is open",
         "for i in range(10):", "x = f(i) + 1", "print(x)", "pass"] * 4

# Lines that repeat (some only by their carriage return or spaces around them, which
# make them other byte strings but the same items), blank ones, unknown words, and
# whitespace past ASCII (a block with such a line goes the code-point road).
LINES = ["return x", "else:", "return x", "", "unknown wörds here", "else:", "  else:  ",
         "return x\r", "return x", "", "import os", "the café is open", "def f(x):",
         "zzz", "zzz", "print(x)", "x = f(i) + 1", "x = f(i) + 1", "pass", "pass"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A word model file (order 4) and its query file, both read as score --file reads."""
    folder = tmp_path_factory.mktemp("distinct")
    model = bigram.train(TRAIN, order=4, unit="word", method="modified-kneser-ney")
    model.save(folder / "m.npz")
    convert.convert(folder / "m.npz", folder / "m.bq")
    return {"model file": load_for_scoring(folder / "m.npz"),
            "query file": load_for_scoring(folder / "m.bq")}


def rendered(model, path, distinct, monkeypatch):
    if not distinct:
        monkeypatch.setattr(scoring, "_first_occurrences", lambda text, lines: None)
    try:
        return b"".join(render_sources(model, [str(path)], tsv_lines, workers=1))
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("kind", ["model file", "query file"])
@pytest.mark.parametrize("ending", ["\n", ""])
@pytest.mark.parametrize("copies", [1, 3, 40])
def test_distinct_lines_scored_once_give_every_line_its_own_total(models, tmp_path,
                                                                  monkeypatch, kind,
                                                                  ending, copies):
    model = models[kind]
    lines = LINES * copies
    path = tmp_path / "in.txt"
    path.write_bytes(("\n".join(lines) + ending).encode("utf-8"))
    calls = []
    real = scoring._first_occurrences
    monkeypatch.setattr(scoring, "_first_occurrences",
                        lambda text, n: calls.append(real(text, n)) or calls[-1])
    with_distinct = b"".join(render_sources(model, [str(path)], tsv_lines, workers=1))
    monkeypatch.undo()
    assert any(c is not None for c in calls)        # the de-duplication was used
    assert with_distinct == rendered(model, path, False, monkeypatch)
    rows = with_distinct.decode("utf-8").split("\n")[:-1]
    expected = list(score_lines(model, [line.rstrip("\r") for line in lines]))
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected):
        fields = row.split("\t")
        assert float(fields[1]) == pytest.approx(want.logprob, abs=1e-5)
        assert (int(fields[2]), int(fields[3])) == (want.tokens, want.oov)


def test_first_occurrences_name_the_first_equal_line():
    lines = [b"a", b"b", b"a", b"", b"b", b"c", b"", b"a"] * 3
    text = np.frombuffer(b"\n".join(lines) + b"\n", dtype=np.uint8)
    first = scoring._first_occurrences(text, len(lines))
    expected = [lines.index(line) for line in lines]
    assert first.tolist() == expected
    # Distinct lines, and blocks of a few lines, are scored line by line.
    assert scoring._first_occurrences(np.frombuffer(b"\n".join(
        str(i).encode() for i in range(100)), dtype=np.uint8), 100) is None
    assert scoring._first_occurrences(np.frombuffer(b"a\na\n", dtype=np.uint8), 2) is None


def test_oov_error_names_the_first_line_with_an_unknown_word(tmp_path):
    """Kneser-Ney without <unk>: --oov error names the first line holding an unknown word
    (line 41), though the repeats of that line are scored with it, once."""
    bigram.train(TRAIN, order=3, unit="word", method="kneser-ney").save(tmp_path / "kn.npz")
    model = load_for_scoring(tmp_path / "kn.npz")
    assert not model.vocabulary.unk
    lines = ["return x", "else:"] * 20 + ["qqq here"] + ["return x", "qqq here"] * 5
    path = tmp_path / "in.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(bigram.errors.InputError, match=r"line 41 has words"):
        b"".join(render_sources(model, [str(path)], tsv_lines, oov="error", workers=1))
