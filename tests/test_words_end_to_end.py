"""Word models through the command line, against a plain-Python dictionary reference.

Small word corpora are made here with runs of spaces and tabs between words,
surrounding whitespace and blank lines. The reference reads them as the
toolkit's rule says (lines stripped of surrounding whitespace, blank lines
skipped, words split at runs of spaces and tabs as KenLM reads text), counts
n-grams with dictionaries, padded as makemore pads (N-1 boundaries before,
one after), and smooths them by the textbook recursions, one probability at
a time. Vocabulary control (`--min-count`, `--max-vocab`, `<unk>`) and OOV
reports (KenLM's `query`: perplexity including and excluding OOVs) are
computed from the same dictionaries.
"""

import json
import math
import random
import re
from collections import Counter

import numpy as np
import pytest

from bigram.formats.arpa_reader import read_arpa
from bigram.formats.modelfile import load
from bigram.models.sampling import sample_one_at_a_time
from bigram.ngrams.smoothing import DEFAULT_DISCOUNT
from bigram.tensor.random import Generator
from bigram.text.splits import split_assignment

# ---------------------------------------------------------------------- the reference

DELIMITERS = re.compile("[\0\t\r ]+")   # KenLM's: runs of these separate words


def items_of(text):
    """Words of every item: lines stripped, blank ones skipped, split as KenLM splits."""
    return [[w for w in DELIMITERS.split(line.strip()) if w]
            for line in text.splitlines() if line.strip()]


def vocabulary_of(train_items, all_items, min_count=None, max_vocab=None):
    """The kept words, in sorted order: every word, or those the controls keep."""
    if min_count is None and max_vocab is None:
        return sorted({w for item in all_items for w in item})
    frequency = Counter(w for item in train_items for w in item)
    kept = sorted((w for w, c in frequency.items() if c >= (min_count or 1)),
                  key=lambda w: (-frequency[w], w))
    return sorted(kept[:max_vocab] if max_vocab is not None else kept)


class Reference:
    """An n-gram model of word items by dictionaries and the textbook recursions."""

    def __init__(self, train_items, words, order, method, strength, unk=False):
        self.order, self.method, self.strength, self.unk = order, method, strength, unk
        first = 2 if unk else 1
        self.stoi = {w: i + first for i, w in enumerate(words)}
        self.itos = {i: w for w, i in self.stoi.items()}
        self.size = len(words) + first
        counts = {n: Counter() for n in range(1, order + 1)}
        for item in train_items:
            for context, w in self.windows(item):
                for n in range(1, order + 1):
                    counts[n][(context[len(context) - n + 1:] if n > 1 else (), w)] += 1
        self.counts = counts
        self.used = {order: counts[order]}
        for n in range(1, order):
            if method == "kneser-ney":   # continuation counts: distinct left extensions
                self.used[n] = Counter((ctx[1:], w) for (ctx, w) in counts[n + 1])
            else:
                self.used[n] = counts[n]
        self.totals = {n: Counter() for n in self.used}
        self.types = {n: Counter() for n in self.used}
        for n, table in self.used.items():
            for (ctx, _), c in table.items():
                self.totals[n][ctx] += c
                self.types[n][ctx] += 1
        self.discount = {}
        for n, table in self.used.items():
            n1 = sum(1 for c in table.values() if c == 1)
            n2 = sum(1 for c in table.values() if c == 2)
            self.discount[n] = strength if strength is not None else \
                (n1 / (n1 + 2 * n2) if n1 and n2 else DEFAULT_DISCOUNT)

    def ids(self, item):
        """Token ids of an item's words; unseen words are `<unk>` (1), or None without it."""
        return [self.stoi.get(w, 1 if self.unk else None) for w in item]

    def windows(self, item):
        """(context of order-1 ids, next id) of every prediction, makemore's padding."""
        padded = [0] * (self.order - 1) + self.ids(item) + [0]
        return [(tuple(padded[i - self.order + 1:i]), padded[i])
                for i in range(self.order - 1, len(padded))]

    def p(self, context, w, n=None):
        """P(w | the last n-1 ids of context)."""
        n = self.order if n is None else n
        context = tuple(context[len(context) - (n - 1):]) if n > 1 else ()
        if self.method == "add-k":
            k = self.strength
            c = self.used[self.order]
            return (c[(context, w)] + k) / (self.totals[self.order][context] + k * self.size)
        if n == 1:
            return self.used[1][((), w)] / sum(self.used[1].values())
        c, total = self.used[n][(context, w)], self.totals[n][context]
        types = self.types[n][context]
        lower = self.p(context[1:], w, n - 1)
        if total == 0:
            return lower
        if self.method == "witten-bell":
            k = self.strength
            return (c + k * types * lower) / (total + k * types)
        d = self.discount[n]
        return max(c - d, 0) / total + d * types / total * lower

    def log_likelihood(self, items):
        """Natural-log total over every prediction of the items (their words and the end)."""
        return sum(math.log(self.p(ctx, w)) for item in items for ctx, w in self.windows(item))

    def predictions(self, items):
        return sum(len(item) + 1 for item in items)


# ---------------------------------------------------------------------- corpora

COMMON = ["the", "cat", "sat", "on", "mat", "dog", "a", "ran", "and", "big", "red", "zoë",
          "東京", "la\u00a0ola", "x", "it", "was", "very", "small", "over"]
WEIGHTS = [30, 12, 9, 9, 7, 8, 14, 5, 6, 3, 3, 2, 2, 2, 1, 4, 4, 2, 2, 1]
SEPARATORS = [" ", " ", " ", "  ", "\t", " \t ", "\t\t"]


def make_corpus(seed, n_lines, words=COMMON, weights=WEIGHTS):
    """Lines of 1 to 7 words with irregular whitespace, some blank lines between them."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n_lines):
        chosen = rng.choices(words, weights=weights, k=rng.randint(1, 7))
        line = chosen[0]
        for word in chosen[1:]:
            line += rng.choice(SEPARATORS) + word
        lines.append(rng.choice(["", "", " ", "\t"]) + line + rng.choice(["", "", "  ", "\t"]))
        if rng.random() < 0.05:
            lines.append(rng.choice(["", "   ", "\t"]))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def text():
    return make_corpus(1, 400)


def write(tmp_path, name, content):
    (tmp_path / name).write_text(content, encoding="utf-8")
    return name


def eval_json(cli, *args):
    result = cli("eval", *args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def walk(model, reference, items):
    """Every row the model gives along the items' contexts, beside the reference's."""
    for item in items:
        state = model.start_state()
        for context, w in reference.windows(item):
            row = model.next_token_probabilities(np.array([state]))[0]
            expected = [reference.p(context, v) for v in range(reference.size)]
            yield row, expected
            state = model.advance(np.array([state]), np.array([w]))[0]


# ---------------------------------------------------------------------- train, eval, info

@pytest.mark.parametrize("order, method, strength", [
    (2, "add-k", 1.0), (2, "add-k", 0.1), (2, "witten-bell", 1.0), (2, "kneser-ney", None),
    (3, "add-k", 0.3), (3, "witten-bell", 2.0), (3, "kneser-ney", 0.6),
    (4, "kneser-ney", None)])
def test_word_model_matches_the_dictionary_reference(cli, tmp_path, text, order, method,
                                                     strength):
    write(tmp_path, "words.txt", text)
    args = ["--smoothing", strength] if strength is not None else []
    result = cli("train", "words.txt", "--unit", "word", "--test-size", "0", "--order", order,
                 "--smoothing-method", method, *args)
    assert result.code == 0, result.err
    items = items_of(text)
    reference = Reference(items, vocabulary_of(items, items), order, method, strength)
    model = load(tmp_path / "bigram.npz").model
    assert model.vocabulary.unit == "word" and not model.vocabulary.unk
    assert model.vocabulary.tokens == vocabulary_of(items, items)
    probe = items[:40] + [["東京", "x", "x", "x"], ["over"]]
    for row, expected in walk(model, reference, probe):
        np.testing.assert_allclose(row, expected, rtol=2e-6, atol=1e-9)
    report = eval_json(cli, "words.txt")["words.txt"]
    assert report["items"] == len(items)
    assert report["tokens"] == reference.predictions(items)
    total = reference.log_likelihood(items)
    assert report["nll"] == pytest.approx(-total / report["tokens"], rel=1e-6)
    assert report["log10_total"] == pytest.approx(total / math.log(10), rel=1e-6)
    assert report["oov"] == 0 and "perplexity_excluding_oov" not in report
    # The stored training split gives the same report as reading the file again.
    assert eval_json(cli)["train"]["nll"] == pytest.approx(report["nll"], rel=1e-9)


def test_info_describes_a_word_model(cli, tmp_path, text):
    write(tmp_path, "words.txt", text)
    assert cli("train", "words.txt", "--unit", "word", "--test-size", "0").code == 0
    meta = json.loads(cli("info", "--json").out)
    items = items_of(text)
    assert meta["unit"] == "word" and meta["unk"] is False
    assert meta["vocabulary"] == vocabulary_of(items, items)
    assert meta["vocabulary_size"] == len(meta["vocabulary"]) + 1
    assert meta["data"]["items"]["train"] == len(items)
    assert meta["data"]["tokens"]["train"] == sum(len(i) + 1 for i in items)
    table = cli("info")
    assert table.code == 0 and "word" in table.out


def test_score_walks_the_words_of_an_item(cli, tmp_path, text):
    write(tmp_path, "words.txt", text)
    cli("train", "words.txt", "--unit", "word", "--test-size", "0", "--smoothing", "0.5")
    items = items_of(text)
    reference = Reference(items, vocabulary_of(items, items), 2, "add-k", 0.5)
    result = cli("score", "the  cat\tsat", "zoë 東京", "--json")
    assert result.code == 0, result.err
    first, second = json.loads(result.out)
    assert [g["ngram"] for g in first["ngrams"]] == ["<s> the", "the cat", "cat sat", "sat </s>"]
    for scored, item in ((first, ["the", "cat", "sat"]), (second, ["zoë", "東京"])):
        expected = [math.log(reference.p(c, w)) for c, w in reference.windows(item)]
        assert [g["log_prob"] for g in scored["ngrams"]] == pytest.approx(expected, rel=1e-6)
        assert scored["log_likelihood"] == pytest.approx(sum(expected), rel=1e-6)
        assert scored["tokens"] == len(item) + 1


def test_unseen_words_without_unk_are_skipped_or_refused(cli, tmp_path, text):
    write(tmp_path, "words.txt", text)
    cli("train", "words.txt", "--unit", "word", "--test-size", "0")
    items = items_of(text)
    reference = Reference(items, vocabulary_of(items, items), 2, "add-k", 1.0)
    write(tmp_path, "new.txt", "the zebra sat\nthe cat\nzebra\n")
    report = eval_json(cli, "new.txt")["new.txt"]
    # Only the predictions whose bigram touches no unseen word are scored.
    kept = [(0, "the"), ("sat", 0), (0, "the"), ("the", "cat"), ("cat", 0)]
    ids = [(reference.stoi.get(a, 0), reference.stoi.get(b, 0)) for a, b in kept]
    expected = sum(math.log(reference.p((a,), b)) for a, b in ids)
    assert (report["tokens"], report["oov"], report["oov_tokens"]) == (5, 2, ["zebra"])
    assert report["nll"] == pytest.approx(-expected / 5, rel=1e-6)
    result = cli("eval", "new.txt", "--oov", "error")
    assert result.code == 1 and result.err.count("\n") == 1
    assert result.err.startswith("error: new.txt has") and "zebra" in result.err


# ---------------------------------------------------------------------- sampling

@pytest.mark.parametrize("order", [2, 3])
def test_samples_are_known_words_joined_by_one_space(cli, tmp_path, text, order):
    write(tmp_path, "words.txt", text)
    cli("train", "words.txt", "--unit", "word", "--test-size", "0", "--order", order,
        "--smoothing-method", "witten-bell")
    result = cli("sample", "-n", "300", "--seed", "42", "--json")
    assert result.code == 0, result.err
    got = [json.loads(line) for line in result.out.splitlines()]
    model = load(tmp_path / "bigram.npz").model
    drawn = sample_one_at_a_time(model, 300, Generator().manual_seed(42))
    assert got == [" ".join(model.vocabulary.tokens[t - 1] for t in item) for item in drawn]
    known = set(vocabulary_of(items_of(text), items_of(text)))
    for line in got:
        assert line == "" or set(line.split(" ")) <= known
        assert "  " not in line and line == line.strip(" ")
    assert "la\u00a0ola" in {w for line in got for w in line.split(" ")}


# ---------------------------------------------------------------------- export, KenLM

def arpa_query(entries, history, word):
    """The back-off rule: a listed n-gram's log10, else the history's back-off weight plus
    the value for the history shortened by one word."""
    if history + (word,) in entries:
        return entries[history + (word,)][0]
    if not history:
        return entries[(word,)][0]
    return entries.get(history, (0.0, 0.0))[1] + arpa_query(entries, history[1:], word)


def arpa_entries(path):
    arpa = read_arpa(path)
    entries = {}
    for n in range(arpa.order):
        for row, p, b in zip(arpa.ngrams[n].tolist(), arpa.log10prob[n].tolist(),
                             arpa.log10backoff[n].tolist()):
            entries[tuple(arpa.words[i] for i in row)] = (p, b)
    return entries


@pytest.mark.parametrize("order, train_args", [
    (2, ["--smoothing-method", "kneser-ney"]),
    (3, ["--smoothing-method", "witten-bell"]),
    (2, ["--min-count", "3"]),
    (3, ["--smoothing-method", "kneser-ney", "--max-vocab", "8"]),
])
def test_export_gives_back_the_reference(cli, tmp_path, text, order, train_args):
    write(tmp_path, "words.txt", text)
    assert cli("train", "words.txt", "--unit", "word", "--test-size", "0", "--order", order,
               *train_args).code == 0
    assert cli("export", "-o", "m.arpa").code == 0
    items = items_of(text)
    method = train_args[1] if train_args[0] == "--smoothing-method" else "add-k"
    min_count = int(train_args[1]) if train_args[0] == "--min-count" else None
    max_vocab = int(train_args[-1]) if "--max-vocab" in train_args else None
    words = vocabulary_of(items, items, min_count, max_vocab)
    unk = min_count is not None or max_vocab is not None
    reference = Reference(items, words, order, method, 1.0 if method != "kneser-ney" else None,
                          unk)
    entries = arpa_entries(tmp_path / "m.arpa")
    assert {(w,) for w in words} | {("<s>",), ("</s>",), ("<unk>",)} <= set(entries)
    for item in items[:60]:
        history = ("<s>",)
        for context, w in reference.windows(item):
            word = "</s>" if w == 0 else reference.itos.get(w, "<unk>")
            got = arpa_query(entries, history[-(order - 1):], word)
            assert got == pytest.approx(math.log10(reference.p(context, w)), abs=1e-6)
            history += (word,)
    kenlm = pytest.importorskip("kenlm")
    lm = kenlm.Model(str(tmp_path / "m.arpa"))
    total = sum(lm.score(" ".join(item), bos=True, eos=True) for item in items)
    report = eval_json(cli, "words.txt")["words.txt"]
    assert total == pytest.approx(report["log10_total"], rel=1e-6)
    assert total == pytest.approx(reference.log_likelihood(items) / math.log(10), rel=1e-6)


# ---------------------------------------------------------------------- vocabulary control

def test_min_count_maps_rare_words_to_unk(cli, tmp_path, text):
    write(tmp_path, "words.txt", text)
    assert cli("train", "words.txt", "--unit", "word", "--test-size", "0", "--min-count",
               "40").code == 0
    items = items_of(text)
    frequency = Counter(w for item in items for w in item)
    kept = vocabulary_of(items, items, min_count=40)
    assert kept == sorted(w for w, c in frequency.items() if c >= 40)
    assert 0 < len(kept) < len(frequency)      # the threshold cuts somewhere in the middle
    meta = json.loads(cli("info", "--json").out)
    assert (meta["unk"], meta["vocabulary"]) == (True, kept)
    assert meta["vocabulary_control"]["unk_types"] == len(frequency) - len(kept)
    model = load(tmp_path / "bigram.npz").model
    reference = Reference(items, kept, 2, "add-k", 1.0, unk=True)
    # <unk>'s probability is learned from what was mapped to it.
    mapped = sum(c for w, c in frequency.items() if w not in kept)
    assert reference.used[1][((), 1)] == mapped
    for row, expected in walk(model, reference, items[:30]):
        np.testing.assert_allclose(row, expected, rtol=2e-6, atol=1e-9)
    report = eval_json(cli)["train"]
    assert report["oov"] == mapped
    total = reference.log_likelihood(items)
    tokens = reference.predictions(items)
    assert report["nll"] == pytest.approx(-total / tokens, rel=1e-6)
    known = sum(math.log(reference.p(c, w)) for item in items
                for c, w in reference.windows(item) if w != 1)
    assert report["perplexity_excluding_oov"] == pytest.approx(
        math.exp(-known / (tokens - mapped)), rel=1e-6)


@pytest.mark.parametrize("max_vocab", [1, 5, 12])
def test_max_vocab_keeps_the_most_frequent_ties_to_the_first_sorted(cli, tmp_path, max_vocab):
    # Equal frequencies everywhere past the first: the cut falls inside a tie.
    text = "b a c\nd c b a\n  e\tf g h\nh g\n" + "z " * 4 + "\n"
    write(tmp_path, "tie.txt", text)
    assert cli("train", "tie.txt", "--unit", "word", "--test-size", "0", "--max-vocab",
               max_vocab).code == 0
    items = items_of(text)
    frequency = Counter(w for item in items for w in item)
    ranked = sorted(frequency, key=lambda w: (-frequency[w], w))
    kept = sorted(ranked[:max_vocab])
    assert kept == vocabulary_of(items, items, max_vocab=max_vocab)
    meta = json.loads(cli("info", "--json").out)
    assert meta["vocabulary"] == kept and meta["vocabulary_size"] == len(kept) + 2
    model = load(tmp_path / "bigram.npz").model
    reference = Reference(items, kept, 2, "add-k", 1.0, unk=True)
    for row, expected in walk(model, reference, items):
        np.testing.assert_allclose(row, expected, rtol=2e-6, atol=1e-9)


def test_vocabulary_control_counts_the_training_split_only(cli, tmp_path):
    text = make_corpus(3, 300)
    write(tmp_path, "words.txt", text)
    assert cli("train", "words.txt", "--unit", "word", "--split", "70/0/30", "--min-count",
               "25", "--smoothing-method", "kneser-ney", "--smoothing", "0.7").code == 0
    items = items_of(text)
    where = split_assignment(len(items), 3407, percentages=[70.0, 0.0, 30.0])
    train = [item for item, s in zip(items, where) if s == 0]
    test = [item for item, s in zip(items, where) if s == 2]
    kept = vocabulary_of(train, items, min_count=25)
    assert kept != vocabulary_of(items, items, min_count=25)   # the split matters here
    meta = json.loads(cli("info", "--json").out)
    assert meta["vocabulary"] == kept
    reference = Reference(train, kept, 2, "kneser-ney", 0.7, unk=True)
    reports = eval_json(cli)
    for split, chosen in (("train", train), ("test", test)):
        tokens = reference.predictions(chosen)
        assert reports[split]["tokens"] == tokens
        assert reports[split]["nll"] == pytest.approx(
            -reference.log_likelihood(chosen) / tokens, rel=1e-6)


def test_unseen_words_become_unk_in_eval_and_score_as_kenlm_counts_them(cli, tmp_path, text):
    write(tmp_path, "words.txt", text)
    assert cli("train", "words.txt", "--unit", "word", "--test-size", "0", "--min-count", "20",
               "--smoothing-method", "kneser-ney").code == 0
    items = items_of(text)
    kept = vocabulary_of(items, items, min_count=20)
    reference = Reference(items, kept, 2, "kneser-ney", None, unk=True)
    new = "the zebra sat on a\tunicorn\n\nover  the mat\nzebra zebra\nx\n"
    write(tmp_path, "new.txt", new)
    report = eval_json(cli, "new.txt")["new.txt"]
    new_items = items_of(new)
    # KenLM's query: every word and </s> counts; OOVs are the words outside the vocabulary.
    oov = sum(1 for item in new_items for w in item if w not in kept)
    tokens = reference.predictions(new_items)
    total = sum(math.log10(reference.p(c, w)) for item in new_items
                for c, w in reference.windows(item))
    oov_total = sum(math.log10(reference.p(c, w)) for item in new_items
                    for c, w in reference.windows(item) if w == 1)
    assert (report["tokens"], report["oov"]) == (tokens, oov)
    assert report["oov_tokens"] == sorted({w for i in new_items for w in i} - set(kept))
    assert report["log10_total"] == pytest.approx(total, rel=1e-6)
    assert report["perplexity"] == pytest.approx(10 ** (-total / tokens), rel=1e-6)
    assert report["perplexity_excluding_oov"] == pytest.approx(
        10 ** (-(total - oov_total) / (tokens - oov)), rel=1e-6)
    scored = json.loads(cli("score", "over  the zebra", "--json").out)[0]
    assert [g["ngram"] for g in scored["ngrams"]] == [
        "<s> over" if "over" in kept else "<s> <unk>", "over the" if "over" in kept
        else "<unk> the", "the <unk>", "<unk> </s>"]
    expected = [math.log(reference.p(c, w)) for c, w in reference.windows(["over", "the",
                                                                          "zebra"])]
    assert [g["log_prob"] for g in scored["ngrams"]] == pytest.approx(expected, rel=1e-6)
    assert scored["oov_tokens"] == sorted({"over", "the", "zebra"} - set(kept))
    kenlm = pytest.importorskip("kenlm")
    assert cli("export", "-o", "m.arpa").code == 0
    lm = kenlm.Model(str(tmp_path / "m.arpa"))
    walked = [s for item in new_items for s in lm.full_scores(" ".join(item))]
    k_total = sum(p for p, _, _ in walked)
    k_oov = sum(1 for _, _, is_oov in walked if is_oov)
    k_oov_total = sum(p for p, _, is_oov in walked if is_oov)
    assert k_oov == report["oov"] and len(walked) == report["tokens"]
    assert 10 ** (-k_total / len(walked)) == pytest.approx(report["perplexity"], rel=1e-6)
    assert 10 ** (-(k_total - k_oov_total) / (len(walked) - k_oov)) == pytest.approx(
        report["perplexity_excluding_oov"], rel=1e-6)


# ---------------------------------------------------------------------- merge, tune, neural

def test_merged_word_shards_equal_the_reference_of_both(cli, tmp_path):
    first, second = make_corpus(5, 150), make_corpus(6, 150, COMMON + ["only", "here"],
                                                     WEIGHTS + [3, 3])
    write(tmp_path, "one.txt", first)
    write(tmp_path, "two.txt", second)
    for name in ("one", "two"):
        assert cli("train", f"{name}.txt", "--unit", "word", "--test-size", "0",
                   "--smoothing-method", "witten-bell", "-o", f"{name}.npz").code == 0
    assert cli("merge", "one.npz", "two.npz", "-o", "both.npz").code == 0
    items = items_of(first) + items_of(second)
    write(tmp_path, "both.txt", first + second)
    reference = Reference(items, vocabulary_of(items, items), 2, "witten-bell", 1.0)
    meta = json.loads(cli("info", "-m", "both.npz", "--json").out)
    assert meta["unit"] == "word" and meta["vocabulary"] == vocabulary_of(items, items)
    report = eval_json(cli, "both.txt", "-m", "both.npz")["both.txt"]
    assert report["nll"] == pytest.approx(
        -reference.log_likelihood(items) / reference.predictions(items), rel=1e-6)


def test_merging_a_word_model_with_a_char_model_is_refused(cli, tmp_path, text):
    write(tmp_path, "words.txt", text)
    cli("train", "words.txt", "--unit", "word", "--test-size", "0", "-o", "w.npz")
    cli("train", "words.txt", "--test-size", "0", "-o", "c.npz")
    result = cli("merge", "w.npz", "c.npz", "-o", "both.npz")
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith("error: the models mix units (a char model and a word model)")
    assert not (tmp_path / "both.npz").exists()


def test_tune_chooses_on_dev_by_the_reference(cli, tmp_path):
    text = make_corpus(7, 500)
    write(tmp_path, "words.txt", text)
    result = cli("tune", "words.txt", "--unit", "word", "--order", "2,3",
                 "--smoothing-method", "add-k,witten-bell", "--smoothing", "0.1,1", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    items = items_of(text)
    where = split_assignment(len(items), 3407, percentages=[80.0, 10.0, 10.0])
    parts = {name: [i for i, s in zip(items, where) if s == code]
             for code, name in enumerate(("train", "dev", "test"))}
    words = vocabulary_of(items, items)
    dev = {}
    for trial in payload["trials"]:
        reference = Reference(parts["train"], words, trial["order"], trial["model"],
                              trial["strength"])
        expected = -reference.log_likelihood(parts["dev"]) / reference.predictions(parts["dev"])
        assert trial["dev"] == pytest.approx(expected, rel=1e-6), trial
        dev[(trial["order"], trial["model"], trial["strength"])] = expected
    assert len(dev) == 8
    best = min(dev, key=dev.get)
    chosen = payload["chosen"]
    assert (chosen["order"], chosen["model"], chosen["strength"]) == best
    reference = Reference(parts["train"], words, *best)
    assert chosen["test"] == pytest.approx(
        -reference.log_likelihood(parts["test"]) / reference.predictions(parts["test"]),
        rel=1e-6)
    assert json.loads(cli("info", "--json").out)["unit"] == "word"


def test_neural_word_model_scores_by_its_weights(cli, tmp_path, text):
    write(tmp_path, "words.txt", text)
    assert cli("train", "words.txt", "--unit", "word", "--test-size", "0", "--model",
               "neural", "--steps", "20", "--min-count", "10").code == 0
    saved = load(tmp_path / "bigram.npz")
    W = np.asarray(saved.model.weights, dtype=np.float64)
    items = items_of(text)
    reference = Reference(items, saved.vocabulary.tokens, 2, "add-k", 1.0, unk=True)
    assert W.shape == (reference.size, reference.size)
    logits = W - W.max(1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    total = sum(c * logp[ctx[0], w] for (ctx, w), c in reference.counts[2].items())
    report = eval_json(cli)["train"]
    assert report["nll"] == pytest.approx(-total / reference.predictions(items), rel=1e-5)
