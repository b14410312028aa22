"""`bigram export` of an interpolated model: SRILM's -mix-lm -write-lm approximation.

References, written here in plain Python: each component's ARPA file read into dicts
(lmplz's fixture as it is; bigram's own models through `export`, which is exact and
checked against lmplz in test_lmplz_habits.py), the back-off rule, and the mixture
sum_i weight_i P_i(w | h) (a word a component does not know gets nothing from it, as
SRILM's shared vocabulary has it). The written file must list every n-gram with that
mixture's value, and every context's distribution over the vocabulary must sum to 1.
"""

import math
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_kenlm_fixtures import parse_arpa_text

import bigram

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "kenlm"
KENLM_BIN = Path.home() / ".cache" / "kenlm" / "build" / "bin"
WEIGHTS = [0.5, 0.25, 0.25]


def name_lines(seed, count):
    names = (ROOT / "data" / "names.txt").read_text().split()
    rng = random.Random(seed)
    return [" ".join(rng.sample(names[:3000], rng.randint(3, 8))) for _ in range(count)]


@pytest.fixture(scope="module")
def mixture(tmp_path_factory):
    """Three models of different orders, vocabularies, smoothing and padding: bigram's
    modified Kneser-Ney (sentence padding, <unk>), bigram's Witten-Bell (the lecture's
    padding, no <unk>), lmplz's order 4; their mixture written as ARPA."""
    import gzip

    folder = tmp_path_factory.mktemp("mixture")
    words = bigram.train((FIXTURES / "words.train.txt").read_text().splitlines(), order=3,
                         unit="word", method="modified-kneser-ney", min_count=2)
    names = bigram.train(name_lines(1, 600), order=2, unit="word", method="witten-bell",
                         min_count=2)
    words.save(folder / "words.npz")
    names.save(folder / "names.npz")
    lmplz = folder / "lmplz.arpa"
    lmplz.write_bytes(gzip.decompress((FIXTURES / "words.o4.arpa.gz").read_bytes()))
    paths = [folder / "words.npz", folder / "names.npz", lmplz]
    mixed = bigram.interpolate(paths, weights=WEIGHTS)
    out = folder / "mix.arpa"
    mixed.export_arpa(out)
    words.export_arpa(folder / "words.arpa")
    names.export_arpa(folder / "names.arpa")
    parts = [parse_arpa_text((folder / f).read_text(encoding="utf-8"))
             for f in ("words.arpa", "names.arpa", "lmplz.arpa")]
    return mixed, out, parts


def backoff_p(levels, context, word):
    """P(word | context) of an ARPA model (dicts per order, log10 values): the longest
    listed n-gram, times the back-off weights of the longer contexts skipped."""
    context = tuple(context)[len(context) - min(len(context), len(levels) - 1):]
    weight = 0.0
    for start in range(len(context) + 1):
        gram = context[start:] + (word,)
        if gram in levels[len(gram) - 1]:
            return 10 ** (levels[len(gram) - 1][gram][0] + weight)
        if context[start:] in levels[len(context) - start - 1] if start < len(context) else ():
            weight += levels[len(context) - start - 1][context[start:]][1]
    return 0.0


def mixture_p(parts, context, word, weights=WEIGHTS):
    """sum_i w_i P_i(word | context): a context word a model lacks reads as its <unk>, a
    predicted word it lacks gets 0 from it (its <unk> mass is the mixture's <unk>)."""
    total = 0.0
    for weight, levels in zip(weights, parts):
        known = levels[0]
        if (word,) not in known or known[(word,)][0] <= -99:
            continue
        mapped = [w if (w,) in known else "<unk>" for w in context]
        total += weight * backoff_p(levels, mapped, word)
    return total


def test_listed_ngrams_are_the_mixture(mixture):
    _, out, parts = mixture
    written = parse_arpa_text(out.read_text(encoding="utf-8"))
    # The union of the components' n-grams is listed.
    for levels in parts:
        for k, grams in enumerate(levels):
            assert set(grams) <= set(written[k]), k
    checked = 0
    for grams in written:
        for gram, (log10p, _) in grams.items():
            if gram == ("<s>",):
                continue
            expected = mixture_p(parts, gram[:-1], gram[-1])
            if expected == 0:
                assert log10p == -99
            else:
                assert log10p == pytest.approx(math.log10(expected), abs=1e-7), gram
            checked += 1
    assert checked == sum(len(g) for g in written) - 1


def test_listed_ngrams_equal_the_interpolated_model_where_no_unk_is_read(mixture):
    """Where the predicted word is known to every model that has <unk>, the interpolated
    model scores it as the file lists it (elsewhere it gives a word a model lacks that
    model's <unk> probability, which is no distribution over the union)."""
    mixed, out, parts = mixture
    written = parse_arpa_text(out.read_text(encoding="utf-8"))
    with_unk = [{g[0] for g in levels[0]} for levels in parts if levels[0][("<unk>",)][0] > -99]
    state, after = bigram.State(), bigram.State()
    rng = random.Random(1)
    compared = 0
    for grams in written:
        for gram in rng.sample(sorted(grams), 300):
            if gram == ("<s>",) or not all(gram[-1] in known for known in with_unk):
                continue
            if gram[0] == "<s>":
                mixed.BeginSentenceWrite(state)
            else:
                mixed.NullContextWrite(state)
            for word in gram[1:-1] if gram[0] == "<s>" else gram[:-1]:
                mixed.BaseScore(state, word, after)
                state, after = after, state
            expected = grams[gram][0]
            assert mixed.BaseScore(state, gram[-1], after) == pytest.approx(expected, abs=1e-7)
            compared += 1
    assert compared > 100


def test_every_context_sums_to_one_when_loaded_back(mixture):
    _, out, _ = mixture
    loaded = bigram.load(out)
    backoff = loaded.saved.model.backoff
    index = backoff.index
    # Every context (a listed n-gram below the top order not ending in </s>), by bigram.
    for k in range(1, index.order):
        rows = np.arange(len(index.level(k)))
        if k > 1:
            rows = rows[index.token(k) != 0]
        states = backoff.offsets[k] + rows
        for chunk in np.array_split(states, max(1, len(states) // 2000)):
            totals = backoff.rows(chunk).sum(axis=1)
            assert np.abs(totals - 1).max() < 1e-6, k
    # And a sample of contexts in plain Python over the file's own dicts.
    written = parse_arpa_text(out.read_text(encoding="utf-8"))
    vocabulary = [g[0] for g in written[0] if g != ("<s>",)]
    rng = random.Random(0)
    contexts = [("<s>",)] + [g for levels in written[:-1] for g in rng.sample(
        sorted(levels), 40) if g[-1] != "</s>"]
    for context in contexts:
        total = sum(backoff_p(written, context, w) for w in vocabulary)
        assert total == pytest.approx(1, abs=1e-6), context


def test_file_looks_like_lmplz_and_kenlm_reads_it(mixture, tmp_path):
    _, out, _ = mixture
    ours = arpa_shape(out.read_text(encoding="utf-8"))
    theirs = arpa_shape((FIXTURES / "words.o4.arpa.gz").read_bytes())
    assert ours == theirs
    loaded = bigram.load(out)
    assert (loaded.order, loaded.saved.model.vocabulary.unit) == (4, "word")
    query = KENLM_BIN / "query"
    if not query.exists() or not shutil.which("sh"):
        pytest.skip("KenLM's query is not built here")
    sentence = "bebobe bebobe detopo su"
    done = subprocess.run([str(query), "-v", "sentence", str(out)], input=sentence + "\n",
                          capture_output=True, text=True, check=True)
    total = float(done.stdout.split("Total:")[1].split()[0])
    assert total == pytest.approx(loaded.score(sentence), abs=1e-4)


def arpa_shape(text):
    """What an ARPA file's layout is, without its values: the header and section order,
    the fields of each order's lines (prob, words, back-off; lines ending in </s> left
    out: lmplz writes a back-off of 0 there, bigram none, and readers take both alike),
    the special unigrams with <s>'s probability, and whether every value is a number
    and every probability at most 0."""
    import gzip

    if isinstance(text, bytes):
        text = gzip.decompress(text).decode("utf-8")
    lines = text.splitlines()
    order = sum(line.startswith("ngram ") for line in lines)
    header = [line.split("=")[0] for line in lines[:order + 2]]
    sections = [line for line in lines if line.startswith("\\")]
    fields, specials, numbers = {}, {}, True
    k = 0
    for line in lines:
        if line.endswith("-grams:"):
            k = int(line[1:line.index("-")])
            continue
        if not k or not line or line.startswith("\\"):
            continue
        parts = line.split("\t")
        words = parts[1].split(" ")
        numbers &= all(_is_number(p) for p in parts[:1] + parts[2:]) and float(parts[0]) <= 0
        numbers &= len(words) == k
        if k == 1 and words[0] in ("<s>", "</s>", "<unk>"):
            specials[words[0]] = float(parts[0]) if words[0] == "<s>" else True
        if words[-1] != "</s>":
            fields.setdefault(k, set()).add(len(parts))
    return header, sections, fields, specials, numbers


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_character_models_neural_and_padded_the_lectures_way(tmp_path):
    """Components that are first turned into their exact ARPA text (a neural bigram, models
    padded with N-1 boundaries), one with <unk> and two without."""
    names = (ROOT / "data" / "names.txt").read_text().split()
    models = [bigram.train(names[:2000], order=2, model="neural", steps=20),
              bigram.train(names[2000:4000], order=3, method="kneser-ney"),
              bigram.train(names[4000:6000], order=4, method="witten-bell", min_count=3)]
    weights = [0.2, 0.3, 0.5]
    mixed = bigram.interpolate(models, weights=weights)
    mixed.export_arpa(tmp_path / "mix.arpa")
    parts = []
    for i, model in enumerate(models):
        model.export_arpa(tmp_path / f"{i}.arpa")
        parts.append(parse_arpa_text((tmp_path / f"{i}.arpa").read_text(encoding="utf-8")))
    written = parse_arpa_text((tmp_path / "mix.arpa").read_text(encoding="utf-8"))
    for grams in written:
        for gram, (log10p, _) in grams.items():
            if gram == ("<s>",):
                continue
            expected = mixture_p(parts, gram[:-1], gram[-1], weights)
            if expected == 0:   # <unk>, which no model here gives a probability
                assert (gram, log10p) == (("<unk>",), -99)
            else:
                assert log10p == pytest.approx(math.log10(expected), abs=1e-7), gram
    backoff = bigram.load(tmp_path / "mix.arpa").saved.model.backoff
    totals = backoff.rows(np.arange(backoff.offsets[-1])).sum(axis=1)
    assert np.abs(totals - 1).max() < 1e-6
