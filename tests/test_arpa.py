"""ARPA export: a reader's back-off rule gives back every bigram's log10 probability.

Checked with a small ARPA reader written here and, where the `kenlm` module is
importable, with KenLM itself on the whole of names.txt.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import bigram_rows

from bigram.formats import arpa_model
from bigram.formats.modelfile import load

ROOT = Path(__file__).resolve().parent.parent


def read_arpa(path):
    """A minimal ARPA reader for any order: words tuple -> (log10 p, back-off weight)."""
    entries, counts, section = {}, {}, None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if line.startswith("\\"):
            section = line
            continue
        if section == "\\data\\":
            order, count = line.split("=")
            counts[int(order.split()[1])] = int(count)
        elif section != "\\end\\":
            fields = line.split("\t")
            entries[tuple(fields[1].split(" "))] = (float(fields[0]),
                                                     float(fields[2]) if len(fields) > 2 else 0.0)
    listed = {}
    for words in entries:
        listed[len(words)] = listed.get(len(words), 0) + 1
    assert listed == counts
    return entries


def query(entries, history, word):
    """The back-off rule, longest history first: a listed n-gram's value, else the
    history's back-off weight plus the value for the history shortened by one word."""
    if history + (word,) in entries:
        return entries[history + (word,)][0]
    if not history:
        return entries[(word,)][0]
    backoff = entries.get(history, (0.0, 0.0))[1]
    return backoff + query(entries, history[1:], word)


def arpa_word(char):
    return {" ": "<space>", "\t": "<tab>"}.get(char, f"<U+{ord(char):04X}>" if char.isspace()
                                                else char)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("arpa")


@pytest.mark.parametrize("train_args", [
    ["--smoothing-method", "add-k"],
    ["--smoothing-method", "add-k", "--smoothing", "0"],
    ["--smoothing-method", "witten-bell"],
    ["--smoothing-method", "kneser-ney"],
    ["--smoothing-method", "kneser-ney", "--smoothing", "0.9"],
    ["--model", "neural", "--steps", "20"],
])
def test_reader_recovers_every_bigram(cli, tmp_path, train_args):
    (tmp_path / "items.txt").write_text("\n".join(
        (ROOT / "data" / "names.txt").read_text().splitlines()[:3000]
        + ["mary ann", "jo\tjo", "la\u00a0ola", "zoë"]) + "\n")
    assert cli("train", "items.txt", "--test-size", "0", *train_args).code == 0
    result = cli("export", "-o", "model.arpa")
    assert result.code == 0 and "wrote model.arpa" in result.err
    model = load(tmp_path / "bigram.npz").model
    entries = read_arpa(tmp_path / "model.arpa")
    assert {("<unk>",), ("<s>",), ("</s>",), ("<space>",), ("<tab>",), ("<U+00A0>",),
            ("ë",)} <= set(entries)
    histories = ["<s>"] + [arpa_word(c) for c in model.vocabulary.chars]
    predictions = ["</s>"] + [arpa_word(c) for c in model.vocabulary.chars]
    P = bigram_rows(model).astype(np.float64)   # row h: P(next | token h)
    for h, history in enumerate(histories):
        for w, word in enumerate(predictions):
            got = query(entries, (history,), word)
            if P[h, w] == 0:
                assert got <= -99
            else:
                assert got == pytest.approx(math.log10(P[h, w]), abs=1e-6), (history, word)


def test_kenlm_scores_names_as_bigram_does(cli, tmp_path):
    kenlm = pytest.importorskip("kenlm")
    assert cli("train", "--smoothing-method", "kneser-ney").code == 0
    assert cli("export", "-o", "names.arpa").code == 0
    lm = kenlm.Model(str(tmp_path / "names.arpa"))
    words = (ROOT / "data" / "names.txt").read_text().splitlines()
    total = sum(lm.score(" ".join(w), bos=True, eos=True) for w in words)
    tokens = sum(len(w) + 1 for w in words)  # every character and </s>
    report = json.loads(cli("eval", str(ROOT / "data" / "names.txt"), "--json").out)
    ours = report[str(ROOT / "data" / "names.txt")]
    assert ours["tokens"] == tokens
    assert total == pytest.approx(-ours["nll"] * tokens / math.log(10), rel=1e-7)
    assert 10 ** (-total / tokens) == pytest.approx(ours["perplexity"], rel=1e-7)
    # full_scores walks the same bigrams one by one.
    scores = [s for s, _, _ in lm.full_scores("a n n a", bos=True, eos=True)]
    model = load(tmp_path / "bigram.npz").model
    P = bigram_rows(model).astype(np.float64)
    tokens = model.vocabulary.encode_text("anna").tolist()
    expected = [math.log10(P[a, b]) for a, b in zip([0] + tokens, tokens + [0])]
    np.testing.assert_allclose(scores, expected, atol=1e-6)


def test_export_errors(cli):
    assert cli("export", "-o", "x.arpa").code == 1  # no model yet
    cli("train")
    result = cli("export", "-o", "no/such/folder/x.arpa")
    assert result.code == 2 and result.err.startswith("error: cannot write no/such/folder/x.arpa")




@pytest.mark.parametrize("order, method", [(3, "kneser-ney"), (3, "add-k"), (4, "witten-bell"),
                                           (6, "kneser-ney")])
def test_higher_order_arpa_gives_back_the_model(cli, tmp_path, order, method):
    assert cli("train", "--order", order, "--smoothing-method", method, "--test-size",
               "0").code == 0
    assert cli("export", "-o", "m.arpa").code == 0
    entries = read_arpa(tmp_path / "m.arpa")
    model = load(tmp_path / "bigram.npz").model
    header = (tmp_path / "m.arpa").read_text().split("\n\n")[0]
    assert f"ngram {order}=" in header
    words = ["</s>"] + model.vocabulary.chars
    for name in ["emma", "zzyzx", "qwerty", "anna", "xavier"]:
        tokens = model.vocabulary.encode_text(name).tolist() + [0]
        history = ("<s>",)
        state = model.start_state()
        for i, token in enumerate(tokens):
            got = query(entries, history[-(order - 1):], words[token])
            expected = math.log10(model.next_token_probabilities(np.array([state]))[0, token])
            assert got == pytest.approx(expected, abs=1e-6), (name, i)
            history = history + (words[token],)
            state = model.advance(np.array([state]), np.array([token]))[0]


@pytest.mark.parametrize("order", [3, 5])
def test_kenlm_agrees_at_higher_orders(cli, tmp_path, order):
    kenlm = pytest.importorskip("kenlm")
    assert cli("train", "--order", order, "--smoothing-method", "kneser-ney").code == 0
    assert cli("export", "-o", "m.arpa").code == 0
    lm = kenlm.Model(str(tmp_path / "m.arpa"))
    words = (ROOT / "data" / "names.txt").read_text().splitlines()
    total = sum(lm.score(" ".join(w), bos=True, eos=True) for w in words)
    report = json.loads(cli("eval", str(ROOT / "data" / "names.txt"), "--json").out)
    ours = report[str(ROOT / "data" / "names.txt")]
    assert total == pytest.approx(-ours["nll"] * ours["tokens"] / math.log(10), rel=1e-6)


def test_neural_models_of_higher_order_cannot_be_written_as_arpa(cli):
    cli("train", "--model", "neural", "--order", "3", "--steps", "2")
    result = cli("export", "-o", "m.arpa")
    assert result.code == 1 and "has no back-off form" in result.err


def _loaded(path):
    backoff = load(path).model.backoff
    index = backoff.index
    return ([(index.level(k).keys, index.level(k).suffix) for k in range(1, index.order + 1)],
            backoff.logprob[1:], backoff.logbackoff[1:])


@pytest.mark.parametrize("name", sorted(p.name for p in
                                        (ROOT / "tests" / "fixtures" / "kenlm").glob("*.arpa*")))
def test_closed_files_load_as_the_general_path_loads_them(name, monkeypatch):
    # lmplz's files list every prefix and suffix of their n-grams: the fast path reads them,
    # and gives exactly what adding the missing windows one level at a time gives.
    path = ROOT / "tests" / "fixtures" / "kenlm" / name
    assert arpa_model.closed_index is not None
    fast = _loaded(path)
    monkeypatch.setattr(arpa_model, "closed_index", lambda order, size, windows: None)
    general = _loaded(path)
    for (keys, suffix), (keys2, suffix2) in zip(fast[0], general[0]):
        assert np.array_equal(keys, keys2) and np.array_equal(suffix, suffix2)
    for mine, theirs in zip(fast[1] + fast[2], general[1] + general[2]):
        assert np.array_equal(mine, theirs, equal_nan=True)


def test_a_file_missing_a_prefix_is_not_closed():
    windows = {1: np.array([[0], [1], [2]]), 2: np.array([[1, 2]]),
               3: np.array([[1, 2, 0], [2, 1, 0]])}    # (2, 1) is listed by neither
    assert arpa_model.closed_index(3, 3, windows) is None
    index = arpa_model.index_of_windows(3, 3, windows)   # which adds them
    assert (arpa_model.lookup(index, np.array([[2, 1], [2, 0], [1, 0]])) >= 0).all()
