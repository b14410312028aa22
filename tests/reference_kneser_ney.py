"""Interpolated modified Kneser-Ney as KenLM's `lmplz` estimates it, in plain Python.

A test helper, not library code: dictionaries keyed by token tuples, written to be read
next to Heafield et al. 2013 ("Scalable Modified Kneser-Ney Language Model Estimation")
and Chen and Goodman 1998, and checked against lmplz's own ARPA files in
tests/fixtures/kenlm/. The fast estimator is tested against this and the fixtures.

What lmplz does, stage by stage (`lm/builder/` in KenLM 0.3.0):
- Counting: each line is a sentence; tokens are split on space, tab, CR and NUL; one `<s>`
  before and one `</s>` after. Every window of length n <= N of `<s> w1 .. wk </s>` is an
  n-gram of order n (lmplz pads with N-1 `<s>` and folds `<s> <s> x` into `<s> x`, which
  gives the same set). `<unk>` and `<s>` are unigrams with count 0.
- Adjusted counts: the top order and n-grams beginning with `<s>` keep their raw counts;
  every other n-gram's count is its number of distinct left extensions among the (n+1)-grams.
- Discounts per order from the counts-of-counts n1..n4 of the adjusted counts (Chen and
  Goodman's eq. 26), in single precision as lmplz computes them; the fallback (default
  0.5, 1, 1.5) where n1, n2 or n3 is zero or a discount falls outside [0, j]. One quirk
  kept: lmplz counts the last n-gram of each lower order in its suffix-sorted stream (the
  suffixes of the greatest top-order n-gram, word ids compared from the last word) with
  its raw count, not its adjusted count (the final flush in adjust_counts.cc uses
  `actual_counts`).
- Pruning (`--prune t1 .. tN`, padded with the last value): an n-gram is pruned when its
  raw count is <= t_n; `<s>`, `</s>` and `<unk>` unigrams never are. Pruned n-grams still
  count in the discounts, in their context's denominator and in their lower orders'
  adjusted counts; their discounted mass moves into the context's back-off. (lmplz does
  mark `</s>` when the unigram threshold reaches the number of sentences, and then writes
  a file whose header disagrees with its unigram section; that case is not reproduced.)
- Initial probabilities, per context h: p(w|h) = (a(hw) - D(a(hw))) / sum_x a(hx);
  gamma(h) = (sum over kept hw of D(a(hw)) + sum over pruned hw of a(hw)) / sum_x a(hx).
- Interpolation: P(w|h) = p(w|h) + gamma(h) P(w|h'), and under the unigrams the uniform
  distribution 1 / (kept unigrams - 1) (`<unk>` counted, `<s>` not). `<unk>` gets
  gamma(empty) / that size; `<s>` gets probability 1 (log10 0) and back-off gamma(<s>).
- ARPA: log10 P (capped at 0) and log10 gamma(hw) as back-off for every n-gram below the
  top order that does not end in `</s>` or `<unk>` (those, and contexts with no
  extensions, have back-off 0); a gamma of 0 (every extension's discount 0) is -inf.
"""

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
FALLBACK = (0.5, 1.0, 1.5)
_DELIMITERS = str.maketrans({"\t": " ", "\r": " ", "\0": " "})


def read_sentences(text):
    """Sentences as lmplz reads them: one per line, tokens split on space, tab, CR, NUL."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.translate(_DELIMITERS).split() for line in lines]


def vocabulary_ids(sentences):
    """lmplz's word ids: `<unk>` 0, `<s>` 1, `</s>` 2, then words in order of first appearance."""
    ids = {UNK: 0, BOS: 1, EOS: 2}
    for sentence in sentences:
        for word in sentence:
            ids.setdefault(word, len(ids))
    return ids


def raw_counts(sentences, order):
    """raw[n-1][ngram]: occurrences of every window of length n of `<s> w1 .. wk </s>`."""
    raw = [Counter() for _ in range(order)]
    for sentence in sentences:
        padded = [BOS, *sentence, EOS]
        for n in range(1, order + 1):
            for i in range(len(padded) - n + 1):
                raw[n - 1][tuple(padded[i:i + n])] += 1
    del raw[0][(BOS,)]
    raw[0][(BOS,)] = 0
    raw[0][(UNK,)] = 0
    return raw


def adjusted_counts(raw):
    """Continuation counts below the top order, except raw counts for n-grams starting with `<s>`."""
    order = len(raw)
    adjusted = [dict(level) for level in raw]
    for n in range(1, order):
        extensions = Counter(ngram[1:] for ngram in raw[n])
        for ngram in adjusted[n - 1]:
            if ngram[0] != BOS and ngram != (UNK,):
                adjusted[n - 1][ngram] = extensions[ngram]
    return adjusted


def flushed_with_raw_count(sentences, order, ids):
    """The n-grams lmplz counts in the counts-of-counts with their raw count (see the module notes).

    They are the lower-order suffixes of the greatest top-order n-gram in suffix order,
    taken over lmplz's N-1-padded windows, as far as the chain of lower orders reaches:
    with k >= 2 leading `<s>` it stops at the suffix that begins with one `<s>`.
    """
    greatest = None
    for sentence in sentences:
        padded = [BOS] * (order - 1) + list(sentence) + [EOS]
        for i in range(len(padded) - order + 1):
            key = tuple(ids[w] for w in reversed(padded[i:i + order]))
            if greatest is None or key > greatest:
                greatest = key
    if greatest is None:
        return set()
    words = {i: w for w, i in ids.items()}
    ngram = tuple(words[i] for i in reversed(greatest))
    leading = next((i for i, w in enumerate(ngram) if w != BOS), order)
    longest = order - 1 if leading <= 1 else order - leading + 1
    return {ngram[order - n:] for n in range(1, longest + 1)}


def counts_of_counts(adjusted, raw, quirk):
    """n[order-1][c] for c in 0..4: how many n-grams have adjusted count c (capped list)."""
    result = []
    for n, level in enumerate(adjusted, start=1):
        histogram = [0] * 5
        for ngram, count in level.items():
            if n < len(adjusted) and ngram in quirk:
                count = raw[n - 1][ngram]
            if count < 5:
                histogram[count] += 1
        result.append(histogram)
    return result


def discounts(histogram, fallback=FALLBACK):
    """(D1, D2, D3+) from n1..n4 (Chen and Goodman eq. 26), or the fallback when that fails.

    In single precision as lmplz computes them: at the edge of the range it decides
    (D2 = 0 exactly, say) double precision can land just outside and fall back wrongly.
    """
    n = [np.float32(c) for c in histogram]
    if 0 in histogram[1:4]:
        return _fallback(fallback)
    y = n[1] / np.float32(histogram[1] + 2.0 * histogram[2])
    values = tuple(np.float32(j) - np.float32(j + 1) * y * n[j + 1] / n[j] for j in (1, 2, 3))
    if any(not 0.0 <= d <= j for j, d in zip((1, 2, 3), values)):
        return _fallback(fallback)
    return tuple(float(d) for d in values)


def _fallback(fallback):
    if fallback is None:
        raise ValueError("closed-form discounts failed and no fallback was given")
    return tuple(fallback)


def prune_thresholds(prune, order):
    """lmplz's --prune: up to one threshold per order, non-decreasing, the last one repeated."""
    if not prune:
        return [0] * order
    if len(prune) > order or any(a > b for a, b in pairwise(prune)):
        raise ValueError(f"bad pruning thresholds {prune} for order {order}")
    return list(prune) + [prune[-1]] * (order - len(prune))


def _discount(d, count):
    return 0.0 if count == 0 else d[min(count, 3) - 1]


@dataclass
class Estimate:
    """Every stage of the estimate, keyed by token tuples; lists are indexed by order - 1."""

    order: int
    raw: list            # raw counts
    adjusted: list       # adjusted counts
    histograms: list     # counts-of-counts n0..n4
    discounts: list      # (D1, D2, D3+)
    kept: list           # set of n-grams that survive pruning
    gamma: list          # gamma[n-1][context of length n-1]
    probability: list    # interpolated probability of every kept n-gram
    arpa: list           # ngram -> (log10 probability, log10 back-off)


def estimate(sentences, order, prune=None, fallback=FALLBACK):
    """lmplz -o ORDER [--discount_fallback] [--prune ...] on `sentences` (lists of tokens)."""
    ids = vocabulary_ids(sentences)
    raw = raw_counts(sentences, order)
    adjusted = adjusted_counts(raw)
    histograms = counts_of_counts(adjusted, raw, flushed_with_raw_count(sentences, order, ids))
    ds = [discounts(h, fallback) for h in histograms]
    thresholds = prune_thresholds(prune, order)
    specials = {(BOS,), (EOS,), (UNK,)}
    kept = [{g for g, c in raw[n].items() if c > thresholds[n] or g in specials}
            for n in range(order)]

    # Initial probabilities and gamma, per context.
    uninterpolated, gamma = [], []
    for n in range(order):
        denominator, left = defaultdict(int), defaultdict(float)
        for ngram, count in adjusted[n].items():
            context = ngram[:-1]
            denominator[context] += count
            left[context] += _discount(ds[n], count) if ngram in kept[n] else count
        gamma.append({h: left[h] / denominator[h] for h in denominator})
        uninterpolated.append({g: (adjusted[n][g] - _discount(ds[n], adjusted[n][g]))
                               / denominator[g[:-1]] for g in kept[n]})
    uninterpolated[0][(BOS,)] = 1.0

    # Interpolation down to the uniform distribution.
    uniform = 1.0 / (len(kept[0]) - 1)
    probability = []
    for n in range(order):
        level = {}
        for ngram, p in uninterpolated[n].items():
            lower = uniform if n == 0 else probability[n - 1][ngram[1:]]
            weight = 0.0 if ngram == (BOS,) else gamma[n][ngram[:-1]]
            level[ngram] = p + weight * lower
        probability.append(level)

    arpa = []
    for n in range(order):
        level = {}
        for ngram, p in probability[n].items():
            backoff = 0.0
            if n + 1 < order and ngram[-1] not in (EOS, UNK) and ngram in gamma[n + 1]:
                weight = gamma[n + 1][ngram]
                backoff = math.log10(weight) if weight > 0 else -math.inf
            level[ngram] = (min(0.0, math.log10(p)), backoff)
        arpa.append(level)
    return Estimate(order, raw, adjusted, histograms, ds, kept, gamma, probability, arpa)
