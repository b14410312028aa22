"""The plain-Python modified Kneser-Ney reference reproduces KenLM's lmplz, entry by entry.

The fixtures (tests/fixtures/kenlm/, made by scripts/make_kenlm_fixtures.py with lmplz)
are ARPA files for character, word and fallback corpora, orders 2-6, pruned and not;
this validates tests/reference_kneser_ney.py, against which the toolkit's own estimator
is tested. A tiny corpus is also worked through by hand, formula by formula.
"""

import gzip
import json
import math
from pathlib import Path

import pytest
from reference_kneser_ney import (
    BOS,
    EOS,
    UNK,
    estimate,
    prune_thresholds,
    read_sentences,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kenlm"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
TOLERANCE = 2e-5


def read_fixture_arpa(name):
    """A fixture ARPA file as lmplz writes it: one dict per order, n-gram -> (log10 p, back-off)."""
    return parse_arpa_text(gzip.decompress((FIXTURES / name).read_bytes()).decode("utf-8"))


def parse_arpa_text(text):
    """ARPA text as one dict per order, n-gram tuple -> (log10 p, log10 back-off; 0 where the
    file gives none), written plainly line by line (the tests' own reader)."""
    levels, order = [], 0
    for line in text.splitlines():
        if line.endswith("-grams:"):
            order = int(line[1:line.index("-")])
            levels.append({})
        elif line and not line.startswith("\\") and order:
            fields = line.split("\t")
            backoff = float(fields[2]) if len(fields) > 2 else 0.0
            levels[order - 1][tuple(fields[1].split(" "))] = (float(fields[0]), backoff)
    return levels


def difference(a, b):
    """|a - b|, and 0 for equal infinities (a back-off of log10 0 is -inf in lmplz's files)."""
    return 0.0 if a == b else abs(a - b)


def train_sentences(corpus):
    return read_sentences((FIXTURES / f"{corpus}.train.txt").read_text(encoding="utf-8"))


@pytest.mark.parametrize("model", MANIFEST["models"], ids=lambda m: m["name"])
def test_reference_equals_lmplz(model):
    sentences = train_sentences(model["corpus"])
    if "--skip_symbols" in model["lmplz_args"]:   # the reserved words read as whitespace
        sentences = [[w for w in s if w not in (BOS, EOS, UNK)] for s in sentences]
    ours = estimate(sentences, model["order"], prune=model["prune"])
    theirs = read_fixture_arpa(model["arpa"])
    assert len(theirs) == model["order"]
    for n, (mine, kenlm) in enumerate(zip(ours.arpa, theirs), start=1):
        assert set(mine) == set(kenlm), f"order {n}: n-grams differ"
        worst = max((difference(a, b) for g in kenlm for a, b in zip(mine[g], kenlm[g])),
                    default=0.0)
        assert worst < TOLERANCE, f"order {n}: off by {worst}"
    for stats in model["statistics"]:
        n = stats["order"]
        assert len(ours.kept[n - 1]) == stats["kept"]
        assert len(ours.raw[n - 1]) == stats["total"]
        assert ours.discounts[n - 1] == pytest.approx(stats["discounts"], rel=1e-5, abs=1e-6)


def test_fixtures_cover_the_fallback_and_pruning():
    """The fixtures exercise what they are meant to: fallback and closed-form orders, pruning."""
    stats = [s for m in MANIFEST["models"] for s in m["statistics"]]
    assert any(s["fallback"] for s in stats) and not all(s["fallback"] for s in stats)
    fallback_only = [m for m in MANIFEST["models"] if m["corpus"] == "fallback"]
    assert sum(s["fallback"] for m in fallback_only for s in m["statistics"][1:-1]) >= 3
    assert any(s["kept"] < s["total"] for m in MANIFEST["models"] if m["prune"]
               for s in m["statistics"] if s["order"] == 1)
    assert any(b == -math.inf for m in MANIFEST["models"]
               for level in read_fixture_arpa(m["arpa"]) for _, b in level.values())


# ----------------------------------------------------------------------------
# The formulas by hand on a tiny corpus, order 3, no pruning:
#     a b a
#     b a
# Padded: <s> a b a </s> and <s> b a </s>.

TINY = [["a", "b", "a"], ["b", "a"]]


def test_counts_and_adjusted_counts_by_hand():
    ref = estimate(TINY, 3)
    # Trigrams keep raw counts.
    assert ref.adjusted[2] == {(BOS, "a", "b"): 1, ("a", "b", "a"): 1, ("b", "a", EOS): 2,
                               (BOS, "b", "a"): 1}
    # Bigrams: <s> x raw; others count distinct left words among the trigrams.
    assert ref.adjusted[1] == {(BOS, "a"): 1, (BOS, "b"): 1, ("a", "b"): 1, ("b", "a"): 2,
                               ("a", EOS): 1}
    # Unigrams: distinct left words among the bigrams; <s> and <unk> 0.
    assert ref.adjusted[0] == {("a",): 2, ("b",): 2, (EOS,): 1, (BOS,): 0, (UNK,): 0}


def test_discounts_by_hand():
    ref = estimate(TINY, 3)
    # Trigrams: n1 = 3, n2 = 1, n3 = 0 -> fallback. Bigrams: n1 = 4, n2 = 1, n3 = 0 ->
    # fallback. Unigrams: n1 = 1, n2 = 2, n3 = 0 -> fallback. (lmplz counts the last
    # n-gram of each lower order with its raw count: ids are <unk> 0, <s> 1, </s> 2, a 3,
    # b 4, so the greatest trigram in suffix order is `<s> a b`, whose suffixes `b` (raw
    # 2, adjusted 2) and `a b` (raw 1, adjusted 1) change nothing here.)
    assert ref.histograms[2][1:4] == [3, 1, 0]
    assert ref.histograms[1][1:4] == [4, 1, 0]
    assert ref.histograms[0][1:4] == [1, 2, 0]
    assert ref.discounts == [(0.5, 1.0, 1.5)] * 3


def test_probabilities_by_hand():
    ref = estimate(TINY, 3)
    d1, d2 = 0.5, 1.0
    # Unigrams: denominator 2 + 2 + 1 = 5; gamma = (D2 + D2 + D1) / 5; uniform 1/4
    # (a, b, </s>, <unk>).
    gamma0 = (d2 + d2 + d1) / 5
    p_a = (2 - d2) / 5 + gamma0 / 4
    p_eos = (1 - d1) / 5 + gamma0 / 4
    assert ref.probability[0][("a",)] == pytest.approx(p_a)
    assert ref.probability[0][(EOS,)] == pytest.approx(p_eos)
    assert ref.probability[0][(UNK,)] == pytest.approx(gamma0 / 4)
    assert ref.arpa[0][(BOS,)][0] == 0.0
    # Bigrams after `a`: `a b` (1) and `a </s>` (1): gamma(a) = (D1 + D1) / 2.
    gamma_a = (d1 + d1) / 2
    p_a_eos = (1 - d1) / 2 + gamma_a * p_eos
    assert ref.probability[1][("a", EOS)] == pytest.approx(p_a_eos)
    # After `b`: only `b a` (adjusted 2): p = (2 - D2) / 2, gamma(b) = D2 / 2.
    gamma_b = d2 / 2
    p_b_a = (2 - d2) / 2 + gamma_b * p_a
    assert ref.probability[1][("b", "a")] == pytest.approx(p_b_a)
    # Trigram `b a </s>` (2) is alone after `b a`: p = (2 - D2) / 2 + D2 / 2 * P(</s>|a).
    p_ba_eos = (2 - d2) / 2 + d2 / 2 * p_a_eos
    assert ref.probability[2][("b", "a", EOS)] == pytest.approx(p_ba_eos)
    # ARPA: log10 values; back-off of `b a` is log10 gamma(b a); `a </s>` has none.
    assert ref.arpa[2][("b", "a", EOS)][0] == pytest.approx(math.log10(p_ba_eos))
    assert ref.arpa[1][("b", "a")][1] == pytest.approx(math.log10(d2 / 2))
    assert ref.arpa[1][("a", EOS)][1] == 0.0
    assert ref.arpa[0][("b",)][1] == pytest.approx(math.log10(gamma_b))


def test_pruned_mass_moves_to_the_back_off_by_hand():
    # --prune 0 1: every bigram and trigram seen once is pruned.
    ref = estimate(TINY, 3, prune=[0, 1])
    assert ref.kept[2] == {("b", "a", EOS)}
    # Pruning looks at raw counts: `a </s>` (raw 2) stays, `a b` (raw 1) goes.
    assert ref.kept[1] == {("b", "a"), ("a", EOS)}
    # Context <s>: bigrams <s> a (1) and <s> b (1) both pruned -> gamma = (1 + 1) / 2.
    assert ref.gamma[1][(BOS,)] == 1.0
    # Context a: kept `a </s>` gives its D1, pruned `a b` all of its adjusted count 1.
    assert ref.gamma[1][("a",)] == pytest.approx((0.5 + 1) / 2)
    # The discounts still come from every n-gram, pruned or not.
    assert ref.histograms == estimate(TINY, 3).histograms
    # Context b a: its only trigram is kept: gamma = D2 / 2 as unpruned.
    assert ref.gamma[2][("b", "a")] == pytest.approx(0.5)


@pytest.mark.parametrize("prune", [[1, 0], [0, 1, 1, 1]])
def test_bad_thresholds_refused(prune):
    with pytest.raises(ValueError):
        prune_thresholds(prune, 3)
