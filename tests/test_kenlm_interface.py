"""kenlm's Python calls on bigram models give the kenlm module's values.

The reference is tests/fixtures/kenlm/python_module.json: what `kenlm.Model` answered
(score, full_scores, perplexity, BaseScore from BeginSentenceWrite and NullContextWrite,
`in`) on the fixture ARPA files, recorded by scripts/make_kenlm_fixtures.py
--python-module, so kenlm is not needed here. Models of other kinds (counts, neural,
without `<unk>`) are checked against bigram's block scorer (`score_lines`), which the
CLI tests check against KenLM's query.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

import bigram

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kenlm"
RECORDS = json.loads((FIXTURES / "python_module.json").read_text(encoding="utf-8"))["models"]
TOLERANCE = 1e-4
COMBINATIONS = {"TT": (True, True), "TF": (True, False), "FT": (False, True),
                "FF": (False, False)}


def as_item(model, line):
    """A kenlm sentence of a character model ('m a <space> r y': every token one
    character) as bigram's item ('ma ry')."""
    if model.unit == "word":
        return line
    return "".join(as_word(model, t) for t in line.split())


def as_word(model, word):
    return " " if model.unit == "char" and word == "<space>" else word


@pytest.fixture(scope="module")
def models():
    return {}


def model_of(models, record):
    name = record["name"]
    if name not in models:
        models[name] = bigram.load(FIXTURES / f"{name}.arpa.gz")
    return models[name]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r["name"])
def test_score_and_full_scores_equal_kenlm(models, record):
    model = model_of(models, record)
    for entry in record["sentences"]:
        item = as_item(model, entry["sentence"])
        for key, (bos, eos) in COMBINATIONS.items():
            expected = entry["scores"][key]
            got = list(model.full_scores(item, bos=bos, eos=eos))
            assert len(got) == len(expected["full"]), (item, key)
            for (p, n, oov), (kp, kn, koov) in zip(got, expected["full"]):
                assert abs(p - kp) < TOLERANCE, (item, key, p, kp)
                assert (n, oov) == (kn, koov), (item, key)
            assert abs(model.score(item, bos=bos, eos=eos) - expected["total"]) < TOLERANCE
        assert model.perplexity(item) == pytest.approx(entry["perplexity"], rel=1e-4)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r["name"])
def test_state_walks_equal_kenlm(models, record):
    model = model_of(models, record)
    for entry in record["sentences"]:
        for name, start in (("begin", model.BeginSentenceWrite),
                            ("null", model.NullContextWrite)):
            state, out = bigram.State(), bigram.State()
            start(state)
            words = entry["sentence"].split() + ["</s>"]
            for word, expected in zip(words, entry[name], strict=True):
                got = model.BaseScore(state, as_word(model, word), out)
                assert abs(got - expected) < TOLERANCE, (entry["sentence"], name, word)
                state, out = out, state


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r["name"])
def test_contains_equals_kenlm(models, record):
    model = model_of(models, record)
    for word, expected in record["contains"].items():
        assert (as_word(model, word) in model) == expected, word


def test_state_walk_equals_score():
    """BaseScore summed along a sentence is `score`, and equal histories give equal
    states (kenlm's recombination)."""
    model = bigram.load(FIXTURES / "words.o4.arpa.gz")
    for line in (FIXTURES / "words.heldout.txt").read_text().splitlines()[:10]:
        state, out, total = bigram.State(), bigram.State(), 0.0
        model.BeginSentenceWrite(state)
        for word in line.split() + ["</s>"]:
            total += model.BaseScore(state, word, out)
            state, out = out, state
        assert total == pytest.approx(model.score(line), abs=1e-9)
    a, b = bigram.State(), bigram.State()
    model.BeginSentenceWrite(a)
    model.BeginSentenceWrite(b)
    assert a == b and hash(a) == hash(b)


def trained_models():
    names = (Path(__file__).resolve().parent.parent / "data" / "names.txt").read_text()
    items = names.split()[:3000]
    words = (FIXTURES / "words.train.txt").read_text().splitlines()
    return {
        "chars add-k o3": bigram.train(items, order=3),
        "chars mkn o4": bigram.train(items, order=4, method="modified-kneser-ney"),
        "chars neural o2": bigram.train(items, model="neural", steps=5),
        "words kn o3": bigram.train(words, order=3, unit="word", method="kneser-ney"),
        "words mkn o5 unk": bigram.train(words, order=5, unit="word",
                                         method="modified-kneser-ney", min_count=2),
    }


def test_every_model_kind_agrees_with_score_lines():
    """score (one sentence) equals score_lines (blocks) on every kind of model, OOVs
    included; perplexity divides by the tokens score_lines counts."""
    lines = {"chars": ["emma", "zoë", "x", "anna-lee", "q"],
             "words": (FIXTURES / "words.heldout.txt").read_text().splitlines()}
    for name, model in trained_models().items():
        sample = lines[name.split()[0]]
        for scored in model.score_lines(sample):
            assert model.score(scored.item) == pytest.approx(scored.log10prob, abs=1e-9), \
                (name, scored.item)
            if scored.tokens:
                assert model.perplexity(scored.item) == pytest.approx(scored.perplexity,
                                                                      rel=1e-9)
            full = list(model.full_scores(scored.item))
            assert sum(1 for p, _, _ in full if not math.isnan(p)) == scored.tokens
            assert sum(oov for _, _, oov in full) == scored.oov


def test_a_sentence_left_out_entirely_has_no_perplexity():
    model = bigram.train(["ab", "ba"], order=3)
    assert math.isnan(model.perplexity("z"))
    assert [n for _, n, _ in model.full_scores("z")] == [0, 0]
    assert model.score("z") == 0.0


def test_neural_model_has_no_null_context():
    model = bigram.train(["ab", "ba"], model="neural", steps=2)
    with pytest.raises(bigram.OptionError, match="bos"):
        model.score("ab", bos=False)
    with pytest.raises(bigram.OptionError, match="bos"):
        model.NullContextWrite(bigram.State())
    state, out = bigram.State(), bigram.State()
    model.BeginSentenceWrite(state)
    total = model.BaseScore(state, "a", out) + model.BaseScore(out, "b", state) + \
        model.BaseScore(state, "</s>", out)
    assert total == pytest.approx(model.score("ab"), abs=1e-9)
    assert total == pytest.approx(model.logprob("ab") / math.log(10), abs=1e-6)


def test_bad_arguments_name_them():
    model = bigram.train(["ab"])
    with pytest.raises(bigram.InputError, match="sentence is a string"):
        model.score(3)
    with pytest.raises(bigram.InputError, match="State"):
        model.BaseScore(None, "a", bigram.State())
    assert 3 not in model


@pytest.mark.parametrize("as_dict", [True, False])
def test_window_links_find_every_window_and_its_suffix(as_dict):
    """The links of the per-call walk hold exactly the index's windows (as a dict, or as
    the open-addressing table of large models), each with its suffix and length."""
    import numpy as np

    from bigram.models.sentences import WindowLinks

    model = bigram.load(FIXTURES / "words.o5.arpa.gz")
    tables = model.saved.model.query_tables()
    links = WindowLinks(tables, as_dict)
    size = tables.size
    tokens = {i + 1: (i,) for i in range(size)}       # window id -> its tokens
    expected = {}
    for k in range(2, tables.order + 1):
        for row, key in enumerate(tables.keys[k].tolist()):
            parent, token = divmod(key, size)
            window = tables.first[k] + row
            tokens[window] = tokens[parent + tables.first[k - 1]] + (token,)
            expected[(parent + tables.first[k - 1]) * size + token] = window
    ids = {t: i for i, t in tokens.items()}
    for key, window in expected.items():
        assert links.find(key) == window
    for window, words in tokens.items():
        assert links.level[window] == len(words)
        assert links.suffix[window] == (ids[words[1:]] if len(words) > 1 else 0)
    rng = np.random.default_rng(0)
    for key in rng.integers(0, tables.first[-1] * size, 5000).tolist():
        if key not in expected:
            assert links.find(key) is None
    # Walked over either form, sentences score as the block scorer scores them.
    lines = (FIXTURES / "words.heldout.txt").read_text().splitlines()
    model._sentences._links = links
    for scored in model.score_lines(lines):
        assert model.score(scored.item) == pytest.approx(scored.log10prob, abs=1e-9)
        assert sum(v for v, _, _ in model.full_scores(scored.item)) == \
            pytest.approx(scored.log10prob, abs=1e-9)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r["name"])
def test_models_too_large_for_window_links_equal_kenlm(models, record, monkeypatch,
                                                      tmp_path):
    """Past TABLE_WINDOWS windows (a large model, a query file of a large model) the calls
    walk the tables level by level: the same values as kenlm's, on the ARPA model and on
    its query file (whose trie stores ln P, not adj)."""
    from bigram.formats import convert
    from bigram.models import sentences

    monkeypatch.setattr(sentences, "TABLE_WINDOWS", 0)
    loaded = [bigram.load(FIXTURES / f"{record['name']}.arpa.gz")]
    try:
        convert.convert(FIXTURES / f"{record['name']}.arpa.gz", tmp_path / "m.bq")
        loaded.append(bigram.load(tmp_path / "m.bq"))
    except bigram.errors.OptionError:   # a back-off of zero: no query file
        pass
    for model in loaded:
        for entry in record["sentences"]:
            item = as_item(model, entry["sentence"])
            for key, (bos, eos) in COMBINATIONS.items():
                expected = entry["scores"][key]
                got = list(model.full_scores(item, bos=bos, eos=eos))
                for (p, n, oov), (kp, kn, koov) in zip(got, expected["full"], strict=True):
                    assert abs(p - kp) < TOLERANCE, (item, key, p, kp)
                    assert (n, oov) == (kn, koov), (item, key)
            state, out = bigram.State(), bigram.State()
            model.BeginSentenceWrite(state)
            words = entry["sentence"].split() + ["</s>"]
            for word, wanted in zip(words, entry["begin"], strict=True):
                assert abs(model.BaseScore(state, as_word(model, word), out) - wanted) \
                    < TOLERANCE, (entry["sentence"], word)
                state, out = out, state


@pytest.mark.parametrize("name", ["words.o4", "chars.o5", "words.o4.prune-0-0-1-2",
                                  "edge.o5"])
def test_the_level_by_level_back_off_walk_equals_the_tables_walk(name, monkeypatch):
    """A model whose tables cannot be made (a back-off weight of zero) walks the back-off
    rule level by level: on models that have tables too, it gives their values."""
    from bigram.models import sentences

    monkeypatch.setattr(sentences, "TABLE_WINDOWS", 0)
    model = bigram.load(FIXTURES / f"{name}.arpa.gz")
    inner = model.saved.model
    tables = sentences.SentenceScorer(inner)
    rule = sentences.SentenceScorer(inner)
    rule.tables, rule.backoff = None, inner.backoff
    record = next(r for r in RECORDS if r["name"] == name)
    for entry in record["sentences"]:
        words = [as_word(model, w) for w in entry["sentence"].split()]
        tokens = [0] * rule.pads + [rule.word_id(w) for w in words] + [0]
        a, b = tables.walk(tokens), rule.walk(tokens)
        assert np.allclose(a[0][1:], b[0][1:], rtol=0, atol=1e-9, equal_nan=True), words
        assert list(a[1][1:]) == list(b[1][1:]) and list(a[2]) == list(b[2])
