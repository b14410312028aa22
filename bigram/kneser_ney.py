"""Interpolated modified Kneser-Ney exactly as KenLM's `lmplz` estimates it.

Chen and Goodman (1998), as staged by Heafield, Pouzyrevsky, Clark and Koehn (ACL 2013),
over the windows of an NgramIndex read the way lmplz reads text: one `<s>` before each
sentence and `</s>` after it (the index's `sentence` padding; the boundary token is `<s>`
where it begins a window and `</s>` where it ends one). Each stage is a few array passes
per order:

1. adjusted counts: the top order and n-grams that begin with `<s>` keep their raw counts;
   every other n-gram counts its distinct left extensions (a bincount of the suffix
   links of the order above);
2. discounts D1, D2, D3+ per order from the counts-of-counts n1..n4 of the adjusted counts
   (Chen and Goodman's eq. 26), or lmplz's `--discount_fallback` values (0.5, 1, 1.5)
   where a count-of-counts is zero or a discount leaves [0, j];
3. per context h: p(w|h) = (a(hw) - D(a(hw))) / sum_x a(hx) and the mass left,
   gamma(h) = (sum over kept hw of D(a(hw)) + sum over pruned hw of a(hw)) / sum_x a(hx);
4. interpolation: P(w|h) = p(w|h) + gamma(h) P(w|h') down the orders, with the uniform
   distribution over the vocabulary (without `<s>`) under the unigrams;
5. ARPA values: log10 P (at most 0), and log10 gamma as each context's back-off.

`--prune t1 .. tN` drops n-grams whose raw count is at most t_n (never `<s>`, `</s>`,
`<unk>`); they still count in the discounts, their context's denominator and their lower
orders' adjusted counts, and their mass moves into the back-off. One quirk of lmplz is kept
so that results match it entry for entry: in each order below the top, the n-gram that
ends its suffix-sorted stream (a suffix of the greatest top-order n-gram, comparing lmplz's
word ids from the last word) enters the counts-of-counts with its raw count.
"""

from dataclasses import dataclass, field

import numpy as np

from .errors import OptionError
from .ngrams import BOUNDARY

FALLBACK = (0.5, 1.0, 1.5)


@dataclass
class ModifiedEstimate:
    """The model in back-off form (natural logs), with what the stages found."""

    logprob: list
    logbackoff: list
    discounts: dict = field(default_factory=dict)    # order -> (D1, D2, D3+)
    fallback: dict = field(default_factory=dict)     # order -> whether the fallback was used
    kept: dict = field(default_factory=dict)         # order -> n-grams kept after pruning


def check_prune(prune, order):
    """lmplz's --prune: at most one threshold per order, non-decreasing, the last repeated."""
    if not prune:
        return [0] * order
    prune = [int(t) for t in prune]
    if len(prune) > order:
        raise OptionError(f"--prune gives {len(prune)} thresholds for an order-{order} model; "
                          "give at most one per order")
    if any(t < 0 for t in prune):
        raise OptionError("--prune thresholds must be 0 or more")
    if any(a > b for a, b in zip(prune, prune[1:])):
        raise OptionError(f"--prune thresholds must not decrease from one order to the next, "
                          f"not {' '.join(map(str, prune))}")
    return prune + [prune[-1]] * (order - len(prune))


def closed_form_discounts(histogram):
    """(D1, D2, D3+) from n1..n4, or None where the closed form fails."""
    n = histogram
    if n[1] == 0 or n[2] == 0 or n[3] == 0:
        return None
    y = n[1] / (n[1] + 2 * n[2])
    values = tuple(j - (j + 1) * y * n[j + 1] / n[j] for j in (1, 2, 3))
    if any(not 0.0 <= d <= j for j, d in zip((1, 2, 3), values)):
        return None
    return values


def first_tokens(index):
    """The first token of every window, per level."""
    first = [None, np.arange(index.size, dtype=np.int64)]
    for k in range(2, index.order + 1):
        first.append(first[k - 1][index.parent(k)])
    return first


def adjusted_counts(index, first):
    """Raw counts at the top order and for n-grams that begin with `<s>`; continuation
    counts (distinct left extensions) everywhere else."""
    order = index.order
    adjusted = [None] * (order + 1)
    adjusted[order] = index.level(order).count.copy()
    for k in range(order - 1, 0, -1):
        above = index.level(k + 1)
        extensions = np.bincount(above.suffix[above.count > 0], minlength=len(index.level(k)))
        if k > 1:
            extensions = np.where(first[k] == BOUNDARY, index.level(k).count, extensions)
        adjusted[k] = extensions.astype(np.int64)
    return adjusted


LMPLZ_BOS = 1   # lmplz's word id of `<s>` (`<unk>` is 0, `</s>` 2, words from 3)


def _greatest_window(index, first, rank):
    """The greatest top-order window lmplz sees (padded with `<s>` to the full order),
    comparing word ids from the last word back: (level, row) of its unpadded part.

    `rank` is lmplz's word id of every token, `</s>` for the boundary; where the boundary
    begins a window it is `<s>`. A level below the top holds the windows that lmplz pads
    with more than one `<s>` (those that begin with it)."""
    order = index.order
    best, best_key = None, None
    for k in range(1, order + 1):
        rows = np.arange(len(index.level(k)))
        if k < order:
            rows = rows[first[k][rows] == BOUNDARY] if k > 1 else rows[:0]
        if not len(rows):
            continue
        # Narrow the candidates down by the last word, then the one before it, ...
        current = rows
        for j in range(k, 0, -1):
            words = index.token(j)[current] if j > 1 else current
            ids = np.where((words == BOUNDARY) & (j < k), LMPLZ_BOS, rank[words])
            keep = ids == ids.max()
            rows, current = rows[keep], current[keep]
            if j > 1:
                current = index.parent(j)[current]
        row = int(rows[0])
        tokens = index.tokens(k, [row])[0].tolist()
        ids = [LMPLZ_BOS if (t == BOUNDARY and i < k - 1) else int(rank[t])
               for i, t in enumerate(tokens)]
        key = tuple(reversed([LMPLZ_BOS] * (order - k) + ids))
        if best_key is None or key > best_key:
            best, best_key = (k, row), key
    return best


def _quirk_rows(index, first, rank):
    """Per order below the top, the row counted with its raw count (see the module notes)."""
    found = _greatest_window(index, first, rank)
    if found is None:
        return {}
    k, row = found
    leading = index.order - k + (1 if k < index.order else 0)
    if k == index.order:
        leading = 1 if first[k][row] == BOUNDARY else 0
    longest = index.order - 1 if leading <= 1 else index.order - leading + 1
    rows, at, level = {}, row, k
    # The suffixes of the window, shortest last; level k's own window is one of them
    # only when it is shorter than the top order.
    chain = {level: at}
    while level > 1:
        at = index.level(level).suffix[at]
        level -= 1
        chain[level] = at
    for n in range(1, longest + 1):
        if n in chain and n < index.order:
            rows[n] = chain[n]
    return rows


def estimate_modified(index, prune=None, discounts=None, token_rank=None, unk_id=None,
                      fallback=FALLBACK):
    """The back-off form of modified Kneser-Ney over a `sentence`-padded index.

    prune: lmplz's --prune thresholds. discounts: {order: (D1, D2, D3+)} to use instead
    of the estimated ones (tuning). token_rank: lmplz's word id of every token (its
    order of first appearance, for the counts-of-counts quirk); without it the quirk is
    left out. unk_id: the index of `<unk>`, which is never pruned and has no back-off.
    """
    order, size = index.order, index.size
    thresholds = check_prune(prune, order)
    first = first_tokens(index)
    adjusted = adjusted_counts(index, first)
    quirk = _quirk_rows(index, first, token_rank) if token_rank is not None else {}
    result = ModifiedEstimate([None], [None])
    gamma_of = [None]
    p_init = [None]
    for k in range(1, order + 1):
        a = adjusted[k]
        counted = a.copy()
        if k in quirk:
            counted[quirk[k]] = index.level(k).count[quirk[k]]
        histogram = np.bincount(np.minimum(counted, 5), minlength=6)[:5].tolist()
        if k == 1:
            histogram[0] += 1   # `<s>` as a unigram, with count 0
        d = (discounts or {}).get(k) or closed_form_discounts(histogram)
        result.fallback[k] = d is None and not (discounts or {}).get(k)
        if d is None:
            d = fallback
        result.discounts[k] = tuple(float(x) for x in d)
        table = np.array([0.0, *result.discounts[k]])
        discount = table[np.minimum(a, 3)]
        kept = index.level(k).count > thresholds[k - 1]
        if k == 1:   # the boundary (`</s>`) and `<unk>` are never pruned
            kept[BOUNDARY] = True
            if unk_id is not None:
                kept[unk_id] = True
        result.kept[k] = int(kept.sum()) + (1 if k == 1 else 0)   # lmplz lists `<s>` too
        parents = index.parent(k) if k > 1 else np.zeros(size, dtype=np.int64)
        contexts = len(index.level(k - 1)) if k > 1 else 1
        denominator = np.bincount(parents, weights=a, minlength=contexts)
        left = np.bincount(parents, weights=np.where(kept, discount, a), minlength=contexts)
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma_of.append(np.where(denominator > 0, left / denominator, 0.0))
            p = (a - discount) / denominator[parents]
        p_init.append(np.where(kept, p, np.nan))
    # Interpolation, bottom up: under the unigrams, the uniform distribution over every
    # kept unigram but `<s>` (the index's V tokens, `</s>` standing for both).
    probability = [None, p_init[1] + gamma_of[1][0] / (result.kept[1] - 1)]
    for k in range(2, order + 1):
        lower = probability[k - 1][index.level(k).suffix]
        probability.append(p_init[k] + gamma_of[k][index.parent(k)] * lower)
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(1, order + 1):
            result.logprob.append(np.minimum(np.log(probability[k]), 0.0))
            if k < order:
                gamma = gamma_of[k + 1]
                last = index.token(k) if k > 1 else np.arange(size)
                has = (gamma > 0) & (last != BOUNDARY) & ~np.isnan(p_init[k])
                if unk_id is not None:
                    has &= last != unk_id
                backoff = np.where(has, np.log(np.where(has, gamma, 1.0)), 0.0)
            else:
                backoff = np.zeros(len(index.level(k)))
            result.logbackoff.append(backoff)
    # `<s>` (the boundary as a context) has a back-off like any context.
    if order > 1 and gamma_of[2][BOUNDARY] > 0:
        result.logbackoff[1][BOUNDARY] = np.log(gamma_of[2][BOUNDARY])
    return result
