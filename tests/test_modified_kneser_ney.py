"""Modified Kneser-Ney through the command line, entry for entry against KenLM.

The fixtures (tests/fixtures/kenlm/, made with lmplz and query of KenLM 0.3.0; see
manifest.json) hold lmplz's ARPA files for character, word and fallback corpora at
orders 2-6, pruned and not, and query's scores of held-out text. Here:
- `bigram train --smoothing-method modified-kneser-ney [--prune ...]` then `bigram export`
  writes lmplz's ARPA file (the same n-grams, values within 2e-5), from the words as
  lmplz read them and from the same text as characters;
- the estimator equals the plain-Python reference (tests/reference_kneser_ney.py, itself
  checked against lmplz in test_kenlm_fixtures.py) on random corpora, and its discounts
  are lmplz's single-precision ones where they sit on the edge of their range;
- the fixture ARPA files read back (`-m FILE.arpa`) give query's perplexity and its total
  per sentence, and serve info, sample and score; malformed ones end in one `error:` line.

Blank lines: lmplz and query read a blank line as the empty sentence `<s> </s>`, and so
does bigram for sentence-padded models (modified Kneser-Ney): the edge corpus (blank lines
in its training text) is trained as lmplz trained it. One entry differs by design: where
a context's back-off weight is zero (every continuation of `a` at order 2 seen three times
or more, and lmplz's fallback D3+ is 0), lmplz writes log10 0 = -inf, a file KenLM's own
query refuses, and bigram keeps the weight 1 (0.0). The blank line that ends each
held-out file is left out of the scoring comparisons (query's totals summed over the
other sentences).
"""

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest
from reference_kneser_ney import discounts as reference_discounts
from reference_kneser_ney import estimate as reference_estimate
from test_kenlm_fixtures import parse_arpa_text

from bigram.formats.arpa_writer import arpa_lines
from bigram.ngrams.kneser_ney import closed_form_discounts
from bigram.settings import TrainingSettings
from bigram.training.train import train_model

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kenlm"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
TOLERANCE = 2e-5
TRAINED = list(MANIFEST["models"])
QUERIED = [m for m in MANIFEST["models"] if m["query"]]
by_name = {"ids": lambda m: m["name"]}


def fixture_text(model):
    return gzip.decompress((FIXTURES / model["arpa"]).read_bytes()).decode("utf-8")


def assert_same_arpa(mine, theirs):
    """The same n-grams, values within TOLERANCE; lmplz's -inf back-offs (a zero weight,
    see the module docstring) are bigram's 0.0, and there are only a few."""
    assert len(mine) == len(theirs)
    zero_weights = 0
    for n, (ours, kenlm) in enumerate(zip(mine, theirs), start=1):
        assert set(ours) == set(kenlm), f"order {n}: n-grams differ"
        for g, values in kenlm.items():
            if len(values) > 1 and values[1] == -math.inf:
                assert ours[g][1] == 0.0, (n, g, ours[g])
                kenlm[g] = (values[0], 0.0)
                zero_weights += 1
        worst = max(0.0 if a == b else abs(a - b)
                    for g in kenlm for a, b in zip(ours[g], kenlm[g])) if kenlm else 0.0
        assert worst < TOLERANCE, f"order {n}: off by {worst}"
    assert zero_weights <= 1


def character_form(line):
    """A line of the chars corpus as text: lmplz saw one character per token, `<space>`
    for a space."""
    return line.replace(" ", "").replace("<space>", " ")


def prune_option(model):
    return ["--prune", ",".join(map(str, model["prune"]))] if model["prune"] else []


def skip_option(model):
    """lmplz's --skip_symbols (the `symbols` corpus) is bigram's --skip-symbols."""
    return ["--skip-symbols"] if "--skip_symbols" in model.get("lmplz_args", []) else []


def train_and_export(cli, text_file, unit, model):
    trained = cli("train", text_file, "--unit", unit, "--smoothing-method",
                  "modified-kneser-ney", "--test-size", "0", "--order", model["order"],
                  *prune_option(model), *skip_option(model), "-o", "model.npz", "--force")
    assert trained.code == 0, trained.err
    exported = cli("export", "-m", "model.npz", "-o", "model.arpa", "--force")
    assert exported.code == 0, exported.err
    return parse_arpa_text(Path("model.arpa").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------- training


@pytest.mark.parametrize("model", TRAINED, **by_name)
def test_trained_words_export_lmplz_arpa(cli, model):
    mine = train_and_export(cli, FIXTURES / f"{model['corpus']}.train.txt", "word", model)
    assert_same_arpa(mine, parse_arpa_text(fixture_text(model)))


@pytest.mark.parametrize("model", [m for m in TRAINED if m["corpus"] == "chars"], **by_name)
def test_trained_characters_export_lmplz_arpa(cli, tmp_path, model):
    lines = (FIXTURES / "chars.train.txt").read_text(encoding="utf-8").splitlines()
    (tmp_path / "chars.txt").write_text("".join(character_form(x) + "\n" for x in lines),
                                        encoding="utf-8")
    mine = train_and_export(cli, "chars.txt", "char", model)
    assert_same_arpa(mine, parse_arpa_text(fixture_text(model)))


def test_prune_option_errors_are_one_line(cli):
    train = FIXTURES / "words.train.txt"
    kn = ["--unit", "word", "--smoothing-method", "modified-kneser-ney", "--order", "3"]
    for extra, message in [
        (["--prune", "1,0"], "must not decrease"),
        (["--prune", "0", "--prune", "1", "--prune", "0"], "must not decrease"),
        (["--prune", "0,1,1,1"], "at most one per order"),
        (["--prune", "one"], "whole numbers"),
        (["--prune", "-1"], "whole numbers"),
    ]:
        result = cli("train", train, *kn, *extra)
        assert result.code == 2 and message in result.err, (extra, result.err)
        assert result.err.count("\n") == 1 and result.err.startswith("error: ")
    for other in (["--smoothing-method", "kneser-ney"], ["--model", "neural"]):
        result = cli("train", train, "--unit", "word", "--prune", "1", *other)
        assert result.code == 2 and "modified-kneser-ney" in result.err
    assert not Path("bigram.npz").exists()


def test_prune_given_repeated_equals_comma_separated(cli):
    model = {"order": 4, "prune": None}
    train = FIXTURES / "words.train.txt"
    commas = train_and_export(cli, train, "word", {**model, "prune": [0, 1, 2]})
    for extra in (["--prune", "0", "--prune", "1", "--prune", "2"], ["--prune", "0 1 2"]):
        assert cli("train", train, "--unit", "word", "--smoothing-method",
                   "modified-kneser-ney", "--test-size", "0", "--order", "4", *extra,
                   "-o", "model.npz", "--force").code == 0
        assert cli("export", "-m", "model.npz", "-o", "model.arpa", "--force").code == 0
        assert parse_arpa_text(Path("model.arpa").read_text(encoding="utf-8")) == commas


# ---------------------------------------------------------------------- estimator


def random_corpus(seed):
    """Short sentences over a few words drawn unevenly, so that n-grams repeat."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(int(rng.integers(2, 7)))]
    weights = rng.dirichlet(np.full(len(words), 0.7))
    return [list(rng.choice(words, size=int(rng.integers(1, 8)), p=weights))
            for _ in range(int(rng.integers(4, 40)))]


CASES = [(seed, order, prune) for seed in range(5) for order in (2, 3, 4, 5)
         for prune in (None, [0, 1], [1, 1, 2][:order])]


@pytest.mark.parametrize("seed,order,prune", CASES)
def test_estimator_equals_reference_on_random_corpora(tmp_path, seed, order, prune):
    sentences = random_corpus(seed)
    path = tmp_path / "corpus.txt"
    path.write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf-8")
    result = train_model([str(path)], TrainingSettings.of(model="counts", method="modified-kneser-ney", order=order, unit="word", test_size=0, prune=prune))
    mine = parse_arpa_text("\n".join(arpa_lines(result.saved.model)))
    reference = reference_estimate(sentences, order, prune=prune)
    assert_same_arpa(mine, reference.arpa)
    used = result.saved.model.estimate.discounts
    for n in range(1, order + 1):
        assert used[n] == pytest.approx(reference.discounts[n - 1], rel=1e-7)


def test_discounts_decide_in_single_precision_as_lmplz():
    """Every small histogram: the same discounts, and the same fallbacks, as the reference's
    single-precision formula. Double precision decides 23 of these differently."""
    for n1 in range(1, 13):
        for n2 in range(1, 13):
            for n3 in range(1, 13):
                for n4 in range(13):
                    histogram = [0, n1, n2, n3, n4]
                    try:
                        expected = reference_discounts(histogram, fallback=None)
                    except ValueError:
                        expected = None
                    assert closed_form_discounts(histogram) == expected, histogram


def test_discounts_on_the_edge_fall_back_as_lmplz_does(tmp_path):
    """Bigram counts-of-counts n1..n3 = 2, 6, 28: D2 = 2 - 3 y n3 / n2 is 0 in double
    precision and just below 0 in single; lmplz (-o 2 --discount_fallback, run by hand on
    this corpus) substitutes the fallback discounts for the bigrams."""
    sentences = ([["u"]] + [[f"v{i}"] for i in range(3) for _ in range(2)]
                 + [[f"w{i}"] for i in range(14) for _ in range(3)])
    path = tmp_path / "edge.txt"
    path.write_text("".join(s[0] + "\n" for s in sentences), encoding="utf-8")
    result = train_model([str(path)], TrainingSettings.of(model="counts", method="modified-kneser-ney", order=2, unit="word", test_size=0))
    estimate = result.saved.model.estimate
    assert estimate.fallback[2] and estimate.discounts[2] == (0.5, 1.0, 1.5)
    mine = parse_arpa_text("\n".join(arpa_lines(result.saved.model)))
    assert_same_arpa(mine, reference_estimate(sentences, 2).arpa)


# ---------------------------------------------------------------------- ARPA files read back


def held_out(model):
    """The held-out lines query scored (as characters for character models, which is how
    bigram reads their ARPA files) and query's sentences, without the blank line."""
    lines = (FIXTURES / f"{model['corpus']}.heldout.txt").read_text(encoding="utf-8")
    lines = lines.split("\n")[:-1]
    sentences = model["query"]["sentences"]
    assert len(lines) == len(sentences)
    kept = [(line, s) for line, s in zip(lines, sentences) if line.strip()]
    if model["corpus"] in ("chars", "edge"):
        kept = [(character_form(line), s) for line, s in kept]
    return [line for line, _ in kept], [s for _, s in kept]


def write_fixture_arpa(tmp_path, model):
    path = tmp_path / f"{model['name']}.arpa"
    path.write_text(fixture_text(model), encoding="utf-8")
    return path


@pytest.mark.parametrize("model", QUERIED, **by_name)
def test_eval_of_lmplz_arpa_equals_query(cli, tmp_path, model):
    lines, sentences = held_out(model)
    (tmp_path / "held.txt").write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    result = cli("eval", "-m", write_fixture_arpa(tmp_path, model), "held.txt", "--json")
    assert result.code == 0, result.err
    (report,) = json.loads(result.out).values()
    tokens = sum(len(s["words"]) for s in sentences)
    total = sum(s["total"] for s in sentences)
    assert report["tokens"] == tokens
    assert report["oov"] == sum(s["oov"] for s in sentences)
    assert report["perplexity"] == pytest.approx(10 ** (-total / tokens), rel=1e-6)


def test_query_perplexity_is_its_sentence_totals():
    """query's perplexity is 10^(-sum of totals / tokens), which the test above uses
    without the blank sentence."""
    for model in QUERIED:
        sentences = model["query"]["sentences"]
        tokens = sum(len(s["words"]) for s in sentences)
        total = sum(s["total"] for s in sentences)
        assert 10 ** (-total / tokens) == pytest.approx(
            model["query"]["perplexity_including_oovs"], rel=1e-6)


@pytest.mark.parametrize("model", QUERIED, **by_name)
def test_score_of_lmplz_arpa_equals_query_per_sentence(cli, tmp_path, model):
    lines, sentences = held_out(model)
    result = cli("score", "-m", write_fixture_arpa(tmp_path, model), "--json", *lines)
    assert result.code == 0, result.err
    scores = json.loads(result.out)
    assert len(scores) == len(sentences)
    for score, sentence in zip(scores, sentences):
        assert len(score["ngrams"]) == len(sentence["words"])
        # query prints single-precision values, summed in single precision.
        assert score["log_likelihood"] / math.log(10) == pytest.approx(sentence["total"],
                                                                       abs=1e-5)


def test_pruned_unigrams_score_as_unk_as_query_does(cli, tmp_path):
    model = next(m for m in MANIFEST["models"] if m["name"] == "words.o2.prune-1-1")
    train_and_export(cli, FIXTURES / "words.train.txt", "word", model)
    lines, sentences = held_out(model)
    (tmp_path / "held.txt").write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    expected = 10 ** (-sum(s["total"] for s in sentences) / sum(len(s["words"]) for s in sentences))
    for model_file in ("model.arpa", "model.npz"):
        result = cli("eval", "-m", model_file, "held.txt", "--json")
        (report,) = json.loads(result.out).values()
        assert report["perplexity"] == pytest.approx(expected, rel=1e-6), model_file


def arpa_log10(arpa, history, word):
    """log10 P(word | history) by the back-off rule, from a file read by read_arpa."""
    for start in range(len(history) + 1):
        listed = arpa[len(history) - start].get((*history[start:], word))
        if listed:
            return listed[0] + sum(arpa[len(history) - s - 1].get(history[s:], (0, 0))[1]
                                   for s in range(start))
    raise AssertionError(f"{word} is not a unigram")


def test_info_and_sample_read_lmplz_arpa(cli, tmp_path):
    model = next(m for m in MANIFEST["models"] if m["name"] == "words.o2")
    path = write_fixture_arpa(tmp_path, model)
    arpa = parse_arpa_text(fixture_text(model))
    info = cli("info", "-m", path, "--json")
    assert info.code == 0, info.err
    meta = json.loads(info.out)
    assert (meta["kind"], meta["order"], meta["unit"], meta["unk"]) == ("arpa", 2, "word", True)
    assert meta["ngrams"] == {"1": len(arpa[0]), "2": len(arpa[1])}
    specials = {("<s>",), ("</s>",), ("<unk>",)}
    assert set(meta["vocabulary"]) == {g[0] for g in arpa[0] if g not in specials}
    compressed = cli("info", "-m", FIXTURES / model["arpa"], "--json")
    assert json.loads(compressed.out)["ngrams"] == meta["ngrams"]
    # The first word of a sample follows P(w | <s>) of the file.
    n = 3000
    sampled = cli("sample", "-m", path, "-n", n, "--seed", "7")
    assert sampled.code == 0, sampled.err
    items = sampled.out.split("\n")[:-1]
    assert len(items) == n
    first = [item.split(" ")[0] if item else "</s>" for item in items]
    for word in sorted(set(first), key=first.count)[-5:]:
        p = 10 ** arpa_log10(arpa, ("<s>",), word)
        assert abs(first.count(word) / n - p) < 4.5 * math.sqrt(p * (1 - p) / n), word


def test_character_arpa_scores_and_samples_characters(cli, tmp_path):
    model = next(m for m in MANIFEST["models"] if m["name"] == "chars.o3")
    path = write_fixture_arpa(tmp_path, model)
    arpa = parse_arpa_text(fixture_text(model))
    result = cli("score", "-m", path, "--json", "a b")
    assert result.code == 0, result.err
    (score,) = json.loads(result.out)
    padded = ["<s>", "a", "<space>", "b", "</s>"]
    expected = [arpa_log10(arpa, tuple(padded[max(i - 2, 0):i]), padded[i]) for i in range(1, 5)]
    assert [g["log_prob"] / math.log(10) for g in score["ngrams"]] == pytest.approx(expected,
                                                                                  abs=1e-6)
    sampled = cli("sample", "-m", path, "-n", "20", "--seed", "1")
    assert sampled.code == 0 and len(sampled.out.split("\n")) == 21
    assert "<space>" not in sampled.out


@pytest.mark.parametrize("text,message", [
    ("\\data\\\nngram 1=2\n\n\\1-grams:\n-1\t<s>\n\n\\end\\\n", "declares 2"),
    ("\\data\\\nngram 1=3\n\n\\1-grams:\n-1\t</s>\n0\t<s>\n-x\ta\n\n\\end\\\n", "not a number"),
    ("\\data\\\nngram 1=2\n\n\\1-grams:\n-1\t</s>\n-1\ta\n\n\\end\\\n", "no <s>"),
    ("\\data\\\nngram 1=2\n\n\\1-grams:\n0\t<s>\n-1\ta\n\n\\end\\\n", "no </s>"),
    (("\\data\\\nngram 1=2\nngram 2=1\n\n\\1-grams:\n-1\t</s>\n0\t<s>\n\n\\2-grams:\n"
      "-1\t<s> b\n\n\\end\\\n"), "'b' is not among the unigrams"),
    ("\\data\\\nngram 1=2\n\n\\1-grams:\n-1\t</s>\n0\t<s>\n", "end of file"),
])
def test_malformed_arpa_is_a_one_line_error(cli, tmp_path, text, message):
    (tmp_path / "bad.arpa").write_text(text, encoding="utf-8")
    (tmp_path / "held.txt").write_text("a\n", encoding="utf-8")
    for command in (["eval", "held.txt"], ["score", "a"], ["info"], ["sample"]):
        result = cli(*command, "-m", "bad.arpa")
        assert result.code != 0 and result.out == ""
        assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
        assert message in result.err, result.err
