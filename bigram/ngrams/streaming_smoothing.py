"""add-k, Witten-Bell and Kneser-Ney over a DiskIndex, within a memory budget:
smoothing.estimate, BackoffModel.from_probabilities and QueryTables.from_backoff, the same
arithmetic in the same order, a slice of a level at a time (see streaming_kneser_ney, whose
stages these share: adjusted counts, gathers by suffix link, query tables, training loss).

Every method is P_k(w|h) = explicit_k(h, w) + lambda_k(h) P_{k-1}(w|h'): one pass per
order makes each context's sums (its windows are one ascending run of a slice), explicit
and lambda, and adds lambda times the lower order's P of each window's suffix (gathered
beforehand); the order below is then complete: ln P, ln lambda as its back-off, and its
query tables.
"""

import numpy as np

from bigram.ngrams.columns import ColumnWriter, aligned_slices, remove, write_column
from bigram.ngrams.smoothing import check, default_parameter
from bigram.ngrams.streaming_kneser_ney import (
    StreamedEstimate,
    _extensions,
    _gather,
    _Plan,
    _Tables,
)


def estimate_smoothed_streaming(index, budget, method, parameter=None, unk_id=None,
                                progress=None):
    """The query tables of `method` (add-k, witten-bell, kneser-ney) over a DiskIndex,
    within `budget` bytes; raises streaming_kneser_ney.TablesUnavailable where
    QueryTables.from_backoff would give None."""
    from bigram.memory import keep_freed_memory

    check(method, parameter)
    keep_freed_memory()
    strength = default_parameter(method) if parameter is None else float(parameter)
    order, space = index.order, index.space
    plan = _Plan(budget)
    result = StreamedEstimate([None], [None])
    thresholds = [0] * order
    finished, lower = None, None
    try:
        if method == "add-k":
            P_top, lam = _add_k_top(index, strength, plan)
            for k in range(1, order + 1):
                if progress:
                    progress(f"estimating {k}-grams", k - 1, order)
                uniform = np.log(1.0 / index.size) if k < order else None
                finished = _complete(index, k, P_top if k == order else None, uniform,
                                     lam if k == order - 1 else None, finished, thresholds,
                                     unk_id, plan, result)
            remove(space, P_top, lam)
        else:
            used = (lambda k: _used(index, k, plan)) if method == "kneser-ney" else \
                (lambda k: None)
            lower, extensions = _base(index, method, used(1) if order > 1 else None)
            for k in range(2, order + 1):
                if progress:
                    progress(f"estimating {k - 1}-grams", k - 2, order)
                extensions_k = used(k) if k < order else None
                P, lam, discount = _level_pass(index, k, method, strength, parameter,
                                               extensions_k, lower, plan)
                if discount is not None:
                    result.discounts[k] = discount
                remove(space, extensions_k)
                finished = _complete(index, k - 1, lower, None, lam, finished, thresholds,
                                     unk_id, plan, result)
                remove(space, lower, lam)
                lower = P
            if progress:
                progress(f"estimating {order}-grams", order - 1, order)
            finished = _complete(index, order, lower, None, None, finished, thresholds, unk_id,
                                 plan, result)
            remove(space, lower, extensions)
            lower = None
    except BaseException:
        remove(space, lower, *result.adj[1:], *result.below[1:])
        raise
    if progress:
        progress("estimating", order, order)
    return result


def _used(index, k, plan):
    """Kneser-Ney's counts of order k < N: distinct left extensions (a column)."""
    return _extensions(index, k, plan)


def _base(index, method, extensions):
    """P_1 as a column (and the column it came from, to remove): Witten-Bell's unigram
    frequencies, Kneser-Ney's continuation counts over their sum; uniform when empty."""
    size = index.size
    if method == "witten-bell":
        base = index.level(1).count.load().astype(np.float64)
    else:
        base = extensions.load().astype(np.float64)
    base = base / base.sum() if base.sum() else np.full(size, 1.0 / size)
    return write_column(index.space, "P1", base), extensions


def _level_pass(index, k, method, strength, parameter, extensions, lower, plan):
    """Order k's P (a column), lambda of each context (a column over level k-1's rows,
    1 where a context has no total) and Kneser-Ney's discount (None otherwise)."""
    from bigram.ngrams.smoothing import DEFAULT_DISCOUNT

    level, size, space = index.level(k), index.size, index.space
    discount = None
    if method == "kneser-ney":
        if parameter is None:
            ones = twos = 0
            for start, count in level.count.slices():
                c = _used_slice(k, index.order, count, extensions, start)
                ones += int((c == 1).sum())
                twos += int((c == 2).sum())
            discount = DEFAULT_DISCOUNT if ones == 0 or twos == 0 else \
                ones / (ones + 2 * twos)
        else:
            discount = strength
    below = _gather(index, k, lower, plan, "lowerP")
    probabilities = ColumnWriter(space, f"P{k}", np.float64)
    lambdas = ColumnWriter(space, f"lambda{k - 1}", np.float64)
    for start, stop in aligned_slices(level.keys, size, plan.slice_rows):
        parents = level.keys.read(start, stop) // size
        count = level.count.read(start, stop)
        c = _used_slice(k, index.order, count, extensions, start)
        first = int(parents[0])
        local = parents - first
        contexts = int(local[-1]) + 1
        totals = np.bincount(local, weights=c, minlength=contexts)
        positive = c > 0
        if method == "witten-bell":
            mass = strength * np.bincount(local[positive], minlength=contexts)
            totals += mass
        else:
            mass = np.bincount(local if positive.all() else local[positive],
                               minlength=contexts).astype(np.float64)
            c -= discount
            np.maximum(c, 0, out=c)
        denominator = totals[local]
        np.divide(c, denominator, out=c, where=denominator > 0)
        c[denominator <= 0] = 0.0
        if method != "witten-bell":
            mass *= discount
        np.divide(mass, totals, out=mass, where=totals > 0)
        mass[totals <= 0] = 1.0
        # Contexts with no window in any slice fall through to the order below.
        lambdas.append(np.ones(first - lambdas.length))
        lambdas.append(mass)
        interpolated = below.read(start, stop)
        interpolated *= mass[local]
        c += interpolated
        probabilities.append(c)
    lambdas.append(np.ones(len(index.level(k - 1)) - lambdas.length))
    remove(space, below)
    return probabilities.close(), lambdas.close(), discount


def _used_slice(k, order, count, extensions, start):
    """The counts order k uses (float64): raw at the top and for Witten-Bell, continuation
    counts below the top for Kneser-Ney."""
    if extensions is None or k == order:
        return count.astype(np.float64)
    return extensions.read(start, start + len(count)).astype(np.float64)


def _add_k_top(index, k, plan):
    """add-k's top order, in float32 as smoothing._add_k: P of each top window (a column)
    and lambda of each context (a column over level N-1's rows)."""
    order, size, space = index.order, index.size, index.space
    level = index.level(order)
    probabilities = ColumnWriter(space, f"P{order}", np.float64)
    lambdas = ColumnWriter(space, f"lambda{order - 1}", np.float64)
    for start, stop in aligned_slices(level.keys, size, plan.slice_rows):
        parents = level.keys.read(start, stop) // size
        count = level.count.read(start, stop)
        first = int(parents[0])
        local = parents - first
        totals = np.bincount(local, weights=count.astype(np.float64),
                             minlength=int(local[-1]) + 1)
        denominator = (totals + k * size).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            listed = (count + np.float32(k)).astype(np.float32) / denominator[local]
            unseen = np.float32(k) / denominator
        lambdas.append(np.ones(first - lambdas.length))
        lambdas.append(np.where(totals > 0, unseen.astype(np.float64) * size, 1.0))
        probabilities.append(np.where(totals[local] > 0, listed.astype(np.float64),
                                      1.0 / size))
    lambdas.append(np.ones(len(index.level(order - 1)) - lambdas.length))
    return probabilities.close(), lambdas.close()


def _complete(index, k, P, uniform, lam, finished, thresholds, unk_id, plan, result):
    """Order k's ln P (from the column P, or the constant `uniform` log) and ln back-off
    (ln lambda of order k+1, 0 where there is none), then its query tables
    (streaming_kneser_ney._Tables); what order k+1 needs of it."""
    level, size = index.level(k), index.size
    top = k == index.order
    tables = _Tables(index, k, finished, thresholds, plan, result, unk_id)
    lb_out = ColumnWriter(index.space, f"lb{k}", np.float64) if not top else None
    for start, stop in aligned_slices(level.keys, size, plan.slice_rows):
        keys = level.keys.read(start, stop)
        count = level.count.read(start, stop)
        tokens = keys % size if k > 1 else keys
        with np.errstate(divide="ignore"):
            if P is not None:
                lp = np.log(P.read(start, stop))
            else:
                lp = np.log(np.full(stop - start, 1.0 / size))
            lb = None
            if not top:
                lb = np.log(lam.read(start, stop)) if lam is not None else \
                    np.zeros(stop - start)
                lb_out.append(lb)
        tables.add(start, stop, keys, count, tokens, lp, lb)
    return tables.close(lb_out.close() if not top else None)
