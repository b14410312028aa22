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

from bigram.errors import OptionError
from bigram.ngrams.index import BOUNDARY

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
    """(D1, D2, D3+) from n1..n4, or None where the closed form fails.

    In single precision, one operation at a time, as lmplz computes them: where a
    discount lands on the edge of its range (D2 = 0 exactly, say), double precision can
    fall just outside it where lmplz stays inside, or the other way round, and so choose
    the fallback where lmplz does not (n = 2, 6, 28: D2 = 0 in double, below 0 in single).
    """
    n = histogram
    if n[1] == 0 or n[2] == 0 or n[3] == 0:
        return None
    single = np.float32
    y = single(n[1]) / single(n[1] + 2.0 * n[2])
    values = tuple(single(j) - single(j + 1) * y * single(n[j + 1]) / single(n[j])
                   for j in (1, 2, 3))
    if any(not 0.0 <= d <= j for j, d in zip((1, 2, 3), values)):
        return None
    return tuple(float(d) for d in values)


LMPLZ_BOS = 1   # lmplz's word id of `<s>` (`<unk>` is 0, `</s>` 2, words from 3)


def _greatest_window(index, rank):
    """The greatest top-order window lmplz sees (padded with `<s>` to the full order),
    comparing word ids from the last word back: (level, row) of its unpadded part.

    `rank` is lmplz's word id of every token, `</s>` for the boundary; where the boundary
    begins a window it is `<s>`. A level below the top holds the windows that lmplz pads
    with more than one `<s>` (those that begin with it)."""
    order = index.order
    best, best_key = None, None
    starts = np.arange(index.size, dtype=np.int64)   # first token of each window, per level
    for k in range(1, order + 1):
        if k > 1:
            starts = starts[index.parent(k)]
        rows = np.arange(len(index.level(k)))
        if k < order:
            rows = rows[starts == BOUNDARY] if k > 1 else rows[:0]
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


def _quirk_rows(index, rank):
    """Per order below the top, the row counted with its raw count (see the module notes)."""
    found = _greatest_window(index, rank)
    return {} if found is None else quirk_chain(index, *found)


def quirk_chain(index, k, row):
    """The rows of the quirk's n-grams, per order below the top, given the greatest window
    (level k, row): the suffixes of it that lmplz's stream ends with."""
    leading = index.order - k + (1 if k < index.order else 0)
    if k == index.order:
        leading = 1 if index.tokens(k, [row])[0, 0] == BOUNDARY else 0
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

    One order at a time, bottom up: only the order being estimated and the one below it
    are held in linear probabilities; the rest are already logarithms.
    """
    order, size = index.order, index.size
    thresholds = check_prune(prune, order)
    quirk = _quirk_rows(index, token_rank) if token_rank is not None else {}
    result = ModifiedEstimate([None], [None])
    below = None            # the order below: (P, kept mask, last tokens)
    first = np.arange(size, dtype=np.int64)
    for k in range(1, order + 1):
        level = index.level(k)
        if k > 1:
            first = first[index.parent(k)]
        a = _adjusted(index, k, first)
        counted = a.copy()
        if k in quirk:
            counted[quirk[k]] = level.count[quirk[k]]
        histogram = np.bincount(np.minimum(counted, 5), minlength=6)[:5].tolist()
        del counted
        if k == 1:
            histogram[0] += 1   # `<s>` as a unigram, with count 0
        given = (discounts or {}).get(k)
        d = given or closed_form_discounts(histogram)
        result.fallback[k] = d is None
        result.discounts[k] = tuple(float(x) for x in (fallback if d is None else d))
        kept = level.count > thresholds[k - 1]
        if k == 1:   # the boundary (`</s>`) and `<unk>` are never pruned
            kept[BOUNDARY] = True
            if unk_id is not None:
                kept[unk_id] = True
        result.kept[k] = int(kept.sum()) + (1 if k == 1 else 0)   # lmplz lists `<s>` too
        parents = index.parent(k) if k > 1 else np.zeros(size, dtype=np.int32)
        contexts = len(index.level(k - 1)) if k > 1 else 1
        discount = np.array([0.0, *result.discounts[k]])[np.minimum(a, 3)]
        a = a.astype(np.float64)
        denominator = np.bincount(parents, weights=a, minlength=contexts)
        left = np.bincount(parents, weights=np.where(kept, discount, a), minlength=contexts)
        gamma = np.zeros(contexts)
        np.divide(left, denominator, out=gamma, where=denominator > 0)
        del left
        # p(w|h) = (a - D(a)) / sum_x a(hx), then + gamma(h) P(w|h').
        a -= discount
        del discount
        _divide_rows(a, parents, denominator)
        if k == 1:
            # Under the unigrams: uniform over every kept unigram but `<s>`.
            a += gamma[0] / (result.kept[1] - 1)
        else:
            for start in range(0, len(a), 1 << 20):
                end = start + (1 << 20)
                lower = below[0][level.suffix[start:end]]
                lower *= gamma[parents[start:end]]
                a[start:end] += lower
            # The order below is complete: its back-offs are these gammas, its values logs.
            prob_below, kept_below, last_below = below
            has = (gamma > 0) & (last_below != BOUNDARY) & kept_below
            if unk_id is not None:
                has &= last_below != unk_id
            backoff = np.zeros(contexts)
            np.log(gamma, out=backoff, where=has)
            result.logbackoff.append(backoff)
            result.logprob.append(_capped_log(prob_below, kept_below))
        del parents
        a[~kept] = np.nan
        last = index.token(k) if k > 1 else np.arange(size)
        below = (a, kept, last)
        if k == 2 and gamma[BOUNDARY] > 0:   # `<s>` (the boundary as a context)
            result.logbackoff[1][BOUNDARY] = np.log(gamma[BOUNDARY])
    result.logprob.append(_capped_log(below[0], below[1]))
    result.logbackoff.append(np.broadcast_to(np.float64(0.0), (len(index.level(order)),)))
    return result


def _adjusted(index, k, first):
    """Adjusted counts of level k: raw at the top order and for n-grams that begin with
    `<s>`; the number of distinct left extensions everywhere else."""
    level = index.level(k)
    if k == index.order:
        return level.count.astype(np.int64)
    above = index.level(k + 1)
    extensions = np.bincount(above.suffix[above.count > 0], minlength=len(level))
    if k > 1:
        starts = first == BOUNDARY
        extensions[starts] = level.count[starts]
    return extensions.astype(np.int64)


def _divide_rows(values, parents, totals):
    """values / totals[parents], in place (0 where the total is 0)."""
    for start in range(0, len(values), 1 << 20):
        end = start + (1 << 20)
        denominator = totals[parents[start:end]]
        part = values[start:end]
        np.divide(part, denominator, out=part, where=denominator > 0)
        part[denominator <= 0] = 0.0


def _capped_log(probability, kept):
    """log P, at most 0 (lmplz caps log10 P at 0), in place; NaN where pruned."""
    with np.errstate(divide="ignore", invalid="ignore"):
        np.log(probability, out=probability)
    np.minimum(probability, 0.0, out=probability)
    probability[~kept] = np.nan
    return probability
