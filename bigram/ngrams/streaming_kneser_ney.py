"""Modified Kneser-Ney over a DiskIndex, within a memory budget: kneser_ney.estimate_modified
and query.QueryTables.from_backoff, the same arithmetic in the same order, a slice of a
level at a time, every level in columns on disk.

What each stage reads, and how (level k has E_k windows, sorted by parent * V + token):

1. adjusted counts of level k < N: a bincount of level k+1's suffix links (in memory when
   E_k counts fit in the budget's share, else in windows of level k's rows, one pass over
   the links per window); their counts-of-counts, lmplz's quirk included;
2. level k's pass, a slice of whole contexts at a time: the context sums (the slice's
   parents are one ascending run), the discounted probability, gamma of each context
   (written in the order of level k-1's rows), and the interpolation with P of each
   window's suffix at level k-1 (gathered beforehand into a column of level k's order);
3. level k-1 is then complete: its log probabilities and back-off weights, and at once its
   query tables (adj and B, query.py): B of the suffix and the filled-in value of pruned
   windows come from level k-2 by gathers, the context's B through the parent run.

Gathers (a value of level k-1 for each window of level k, by suffix link) read the level
below whole when it fits in the budget's share, else sweep it for each batch of rows
(columns.ColumnGather). The training split's loss is summed as the values are made (the
model scores its own windows with their own values). Nothing holds a level in memory.
"""

from dataclasses import dataclass, field

import numpy as np

from bigram.ngrams.columns import (
    ColumnGather,
    ColumnWriter,
    aligned_slices,
    remove,
    write_column,
)
from bigram.ngrams.index import BOUNDARY, Level, NgramIndex
from bigram.ngrams.kneser_ney import (
    FALLBACK,
    LMPLZ_BOS,
    check_prune,
    closed_form_discounts,
    quirk_chain,
)

# Bytes of working memory per row of a slice in the level passes (keys, parents,
# tokens, counts, values and their temporaries), and per row of a gather batch.
PASS_BYTES_PER_ROW = 160
GATHER_BYTES_PER_ROW = 40
# Shares of the budget: the level below kept whole for gathers, a pass's slices.
TABLE_SHARE, SLICE_SHARE = 0.45, 0.35
# Rows per slice at least (below this, numpy's per-call cost dominates).
MIN_ROWS = 1 << 12


class TablesUnavailable(Exception):
    """The model's query tables cannot be written (a window over a pruned unigram)."""


@dataclass
class TrainTotals:
    """The training split's loss, summed as report_from_index sums it."""

    total: float = 0.0
    tokens: int = 0
    known_total: float = 0.0
    known: int = 0


@dataclass
class StreamedEstimate:
    """The model's query tables as columns, with what the stages found."""

    adj: list                      # adj[k], k >= 1: a float64 column per level
    below: list                    # below[k], 1 <= k < order: B per context
    # With backoff_only: k -> (ln P column, NaN where pruned; ln back-off column or None)
    backoff: dict = field(default_factory=dict)
    discounts: dict = field(default_factory=dict)
    fallback: dict = field(default_factory=dict)
    kept: dict = field(default_factory=dict)
    train: TrainTotals = field(default_factory=TrainTotals)


class _Plan:
    """Rows per slice and bytes per kept table, from the budget."""

    def __init__(self, budget):
        self.slice_rows = max(MIN_ROWS, int(budget * SLICE_SHARE) // PASS_BYTES_PER_ROW)
        self.gather_rows = max(MIN_ROWS, int(budget * SLICE_SHARE) // GATHER_BYTES_PER_ROW)
        self.table_bytes = int(budget * TABLE_SHARE)


def estimate_streaming(index, budget, prune=None, discounts=None, token_rank=None,
                       unk_id=None, fallback=FALLBACK, progress=None, backoff_only=False):
    """The query tables of modified Kneser-Ney over a `sentence`-padded DiskIndex, within
    `budget` bytes (arguments as kneser_ney.estimate_modified). Raises TablesUnavailable
    where QueryTables.from_backoff would give None. With `backoff_only`, the back-off form
    (ln P, ln back-off) of every level instead, as columns (for an ARPA file)."""
    from bigram.memory import keep_freed_memory

    keep_freed_memory()   # every slice allocates what the one before freed
    order, space = index.order, index.space
    plan = _Plan(budget)
    thresholds = check_prune(prune, order)
    quirk = _quirk_rows(index, token_rank) if token_rank is not None else {}
    result = StreamedEstimate([None], [None])
    below = None        # level k-1: {"P": column of interpolated P (NaN where pruned)}
    finished = None     # level k-2 done: {"lb", "lpf", "B"} columns
    try:
        for k in range(1, order + 1):
            if progress:
                progress(f"estimating {k}-grams", k - 1, order)
            extensions = _extensions(index, k, plan) if k < order else None
            histogram = _histogram(index, k, extensions, quirk.get(k))
            given = (discounts or {}).get(k)
            d = given or closed_form_discounts(histogram)
            result.fallback[k] = d is None
            result.discounts[k] = tuple(float(x) for x in (fallback if d is None else d))
            level_P, gamma, kept = _level_pass(index, k, extensions, below, result.discounts[k],
                                               thresholds[k - 1], unk_id, plan)
            result.kept[k] = kept + (1 if k == 1 else 0)
            remove(space, extensions)
            if k > 1:
                finished = _complete(index, k - 1, below["P"], gamma, finished, thresholds,
                                     unk_id, plan, result, backoff_only)
                remove(space, below["P"], gamma)
            below = {"P": level_P}
        finished = _complete(index, order, below["P"], None, finished, thresholds, unk_id,
                             plan, result, backoff_only)
        remove(space, below["P"])
    except BaseException:
        remove(space, *result.adj[1:], *result.below[1:],
               *(c for pair in result.backoff.values() for c in pair))
        raise
    if progress:
        progress("estimating", order, order)
    return result


# ------------------------------------------------------------------ adjusted counts

def _extensions(index, k, plan):
    """Distinct left extensions of each level-k window (an int64 column)."""
    level, above = index.level(k), index.level(k + 1)
    length = len(level)
    # A window's counts and the bincount that adds to them: 16 bytes per row.
    window = max(1, min(length, plan.table_bytes // 16)) if length else 1
    writer = ColumnWriter(index.space, f"extensions{k}", np.int64)
    for low in range(0, max(length, 1), window):
        high = min(length, low + window)
        counts = np.zeros(high - low, np.int64)
        for start, suffix in above.suffix.slices(plan.gather_rows):
            count = above.count.read(start, start + len(suffix))
            links = suffix[count > 0]
            if low or high < length:
                links = links[(links >= low) & (links < high)] - low
            # Added in place: a bincount of the window's length (tens of millions of
            # rows) for each slice's few links made and added an array that large every
            # time (a fifth of a 1.28 GB build's estimate; ufunc.at is 5-40x faster).
            np.add.at(counts, links, 1)
        writer.append(counts)
    return writer.close()


def _adjusted(index, k, extensions, start, stop, count):
    """Adjusted counts of rows start..stop-1 of level k (raw counts given)."""
    if extensions is None:
        return count.astype(np.int64)
    adjusted = extensions.read(start, stop)
    if k > 1:
        begins = index.starts(k).read(start, stop).astype(bool)
        adjusted[begins] = count[begins]
    return adjusted


def _histogram(index, k, extensions, quirk_row):
    """n0..n4 of the adjusted counts (kneser_ney.estimate_modified)."""
    histogram = np.zeros(6, np.int64)
    count_column = index.level(k).count
    for start, count in count_column.slices():
        counted = _adjusted(index, k, extensions, start, start + len(count), count)
        if quirk_row is not None and start <= quirk_row < start + len(count):
            counted[quirk_row - start] = count[quirk_row - start]
        histogram += np.bincount(np.minimum(counted, 5), minlength=6)
    histogram = histogram[:5].tolist()
    if k == 1:
        histogram[0] += 1
    return histogram


# ------------------------------------------------------------------ one level

def _kept(k, count, threshold, start, unk_id):
    """Which of rows start.. of level k are kept: above the threshold; at level 1 the
    boundary and `<unk>` always."""
    kept = count > threshold
    if k == 1:
        for special in (BOUNDARY, unk_id):
            if special is not None and start <= special < start + len(count):
                kept[special - start] = True
    return kept


def _level_pass(index, k, extensions, below, discount, threshold, unk_id, plan):
    """Level k's interpolated probabilities (a column; NaN where pruned), the gamma of each
    context (a column over level k-1's rows; for k = 1 a one-value array) and how many
    windows are kept."""
    level, size, space = index.level(k), index.size, index.space
    discount = np.array([0.0, *discount])
    if k == 1:
        count = level.count.load()
        a = _adjusted(index, 1, extensions, 0, size, count)
        kept = _kept(1, count, threshold, 0, unk_id)
        d = discount[np.minimum(a, 3)]
        a = a.astype(np.float64)
        # One context: summed in row order, as a bincount does in memory.
        parents = np.zeros(size, np.intp)
        denominator = np.bincount(parents, weights=a, minlength=1)[0]
        left = np.bincount(parents, weights=np.where(kept, d, a), minlength=1)[0]
        gamma = np.array([left / denominator if denominator > 0 else 0.0])
        if denominator > 0:
            a = (a - d) / denominator
        else:
            a[:] = 0.0
        a += gamma[0] / int(kept.sum())
        a[~kept] = np.nan
        return write_column(space, "P1", a), gamma, int(kept.sum())
    lower = _gather(index, k, below["P"], plan, "lowerP")
    probabilities = ColumnWriter(space, f"P{k}", np.float64)
    gammas = ColumnWriter(space, f"gamma{k - 1}", np.float64)
    kept_total = 0
    for start, stop in aligned_slices(level.keys, size, plan.slice_rows):
        parents = level.keys.read(start, stop) // size
        count = level.count.read(start, stop)
        a = _adjusted(index, k, extensions, start, stop, count)
        kept = count > threshold
        kept_total += int(kept.sum())
        d = discount[np.minimum(a, 3)]
        first = int(parents[0])
        local = parents - first
        contexts = int(local[-1]) + 1
        a = a.astype(np.float64)
        denominator = np.bincount(local, weights=a, minlength=contexts)
        left = np.bincount(local, weights=np.where(kept, d, a), minlength=contexts)
        gamma = np.zeros(contexts)
        np.divide(left, denominator, out=gamma, where=denominator > 0)
        # Contexts with no window in any slice have nothing to share: gamma 0.
        gammas.append(np.zeros(first - gammas.length))
        gammas.append(gamma)
        a -= d
        total = denominator[local]
        np.divide(a, total, out=a, where=total > 0)
        a[total <= 0] = 0.0
        interpolated = lower.read(start, stop)
        interpolated *= gamma[local]
        a += interpolated
        a[~kept] = np.nan
        probabilities.append(a)
    gammas.append(np.zeros(len(index.level(k - 1)) - gammas.length))
    remove(space, lower)
    return probabilities.close(), gammas.close(), kept_total


def _gather(index, k, table, plan, stem):
    """A column of level k's order: `table` (a column of level k-1) at each suffix link."""
    gather = ColumnGather(table, plan.table_bytes)
    writer = ColumnWriter(index.space, stem, table.dtype)
    for _, suffix in index.level(k).suffix.slices(plan.gather_rows):
        writer.append(gather(suffix))
    return writer.close()


# ------------------------------------------------------------------ a complete level

def _complete(index, k, P, gamma, finished, thresholds, unk_id, plan, result,
              backoff_only=False):
    """Level k is complete (k < N: its contexts got their gammas from level k+1): its log
    probabilities and back-off weights, then its query tables (adj, and B below the top,
    appended to `result`) with the training split's loss added up. Returns what level k+1
    needs of it ({"lb", "lpf", "B"} columns); level k-1's (`finished`) are removed. With
    `backoff_only`, the back-off form is kept in `result.backoff` instead of tables."""
    level, size, space = index.level(k), index.size, index.space
    top = k == index.order
    tables = None if backoff_only else _Tables(index, k, finished, thresholds, plan, result,
                                                     unk_id)
    lp_out = ColumnWriter(space, f"lp{k}", np.float64) if backoff_only else None
    lb_out = ColumnWriter(space, f"lb{k}", np.float64) if not top else None
    for start, stop in aligned_slices(level.keys, size, plan.slice_rows):
        keys = level.keys.read(start, stop)
        count = level.count.read(start, stop)
        tokens = keys % size if k > 1 else keys
        kept = _kept(k, count, thresholds[k - 1], start, unk_id)
        # log P, at most 0, NaN where pruned (kneser_ney._capped_log).
        lp = P.read(start, stop)
        with np.errstate(divide="ignore", invalid="ignore"):
            np.log(lp, out=lp)
        np.minimum(lp, 0.0, out=lp)
        lp[~kept] = np.nan
        lb = None
        if not top:
            g = gamma.read(start, stop)
            has = (g > 0) & (tokens != BOUNDARY) & kept
            if unk_id is not None:
                has &= tokens != unk_id
            lb = np.zeros(len(g))
            np.log(g, out=lb, where=has)
            # `<s>` (the boundary as a context) backs off with its own gamma.
            if k == 1 and start <= BOUNDARY < stop and g[BOUNDARY - start] > 0:
                lb[BOUNDARY - start] = np.log(g[BOUNDARY - start])
            lb_out.append(lb)
        if backoff_only:
            lp_out.append(lp)
        else:
            tables.add(start, stop, keys, count, tokens, lp, lb)
    lb = lb_out.close() if not top else None
    if backoff_only:
        result.backoff[k] = (lp_out.close(), lb)
        return {"lb": lb}
    return tables.close(lb)


class _Tables:
    """Level k's query tables (query.QueryTables.from_backoff), a slice at a time: pruned
    windows get the back-off rule's value, B = ln b + B of the suffix, adj = value - B of
    the context."""

    def __init__(self, index, k, finished, thresholds, plan, result, unk_id):
        self.index, self.k, self.finished, self.result = index, k, finished, result
        self.top = k == index.order
        space = index.space
        self.B_suffix = self.blank_values = None
        if k > 1:
            if not self.top:
                self.B_suffix = _gather(index, k, finished["B"], plan, "suffixB")
            if thresholds[k - 1] > 0:
                self.blank_values = _gather(index, k, finished["lpf"], plan, "suffixLP")
        self.adj = ColumnWriter(space, f"adj{k}", np.float64)
        self.B = ColumnWriter(space, f"B{k}", np.float64) if not self.top else None
        self.lpf = ColumnWriter(space, f"lpf{k}", np.float64) if not self.top else None
        self.loss = _TrainLoss(result.train, unk_id)

    def add(self, start, stop, keys, count, tokens, lp, lb):
        """Rows start..stop-1 (whole contexts): keys, counts, last tokens, ln P (NaN where
        pruned; made adj in place) and ln back-off (None at the top)."""
        k, finished, size = self.k, self.finished, self.index.size
        if k > 1:
            parents = keys // size
            low, high = int(parents[0]), int(parents[-1]) + 1
            local = parents - low
            blank = np.flatnonzero(np.isnan(lp))
            if len(blank):
                if self.blank_values is None:
                    raise TablesUnavailable
                lp[blank] = finished["lb"].read(low, high)[local[blank]] + \
                    self.blank_values.read(start, stop)[blank]
        if not self.top:
            self.lpf.append(lp)
        final = _final(self.index, k, start, stop, count)
        if final is not None:
            self.loss.add(final, lp, tokens)
        if not self.top:
            B = lb.copy() if k == 1 else lb + self.B_suffix.read(start, stop)
            if not np.isfinite(B).all():
                raise TablesUnavailable
            self.B.append(B)
        if k > 1:
            lp -= finished["B"].read(low, high)[local]
            if np.isnan(lp).any():
                raise TablesUnavailable
        self.adj.append(lp)

    def close(self, lb):
        """Finish the level's tables; what level k+1 needs of it."""
        space, result = self.index.space, self.result
        result.adj.append(self.adj.close())
        remove(space, self.B_suffix, self.blank_values)
        if self.finished is not None:   # level k-1's B stays: it is a table of the model
            remove(space, self.finished["lpf"], self.finished["lb"])
        if self.top:
            return {}
        result.below.append(self.B.close())
        return {"lb": lb, "lpf": self.lpf.close(), "B": result.below[self.k]}


class _TrainLoss:
    """The training split's loss, summed as evaluation.report_from_index sums it, a slice
    at a time (so its last bits may differ from the in-memory sum, whose blocks differ)."""

    def __init__(self, totals, unk_id):
        self.totals, self.unk_id = totals, unk_id

    def add(self, final, values, tokens):
        """A slice of a level: predictions scored, values, last tokens."""
        used = np.flatnonzero(final > 0)
        if not len(used):
            return
        totals = self.totals
        weights = final[used].astype(np.float64)
        scores = values[used]
        with np.errstate(invalid="ignore"):
            totals.total += float(weights @ scores)
        totals.tokens += int(weights.sum())
        if self.unk_id is not None:
            keep = tokens[used] != self.unk_id
            totals.known_total += float(weights[keep] @ scores[keep])
            totals.known += int(weights[keep].sum())


def _final(index, k, start, stop, count):
    """Predictions each of rows start..stop-1 of level k scores (NgramIndex.final), or
    None where the level scores none."""
    if k == index.order:
        return count
    if index.padding == "sentence" and k > 1:
        return np.where(index.starts(k).read(start, stop).astype(bool), count, 0)
    return None


# ------------------------------------------------------------------ lmplz's quirk

def _quirk_rows(index, rank):
    """kneser_ney._quirk_rows over a DiskIndex: the greatest window found a slice at a
    time, then its suffix chain read through a mapped view."""
    found = _greatest_window(index, rank)
    if found is None:
        return {}
    view = mapped_view(index)
    rows = quirk_chain(view, *found)
    del view
    return {n: int(row) for n, row in rows.items()}


def mapped_view(index):
    """An NgramIndex whose arrays map the DiskIndex's columns (for a few rows' reads)."""
    def mapped(column):
        if not len(column):
            return np.zeros(0, column.dtype)
        return np.memmap(column.path, dtype=column.dtype, mode="r", shape=(len(column),),
                         offset=column.offset)

    levels = [None] + [Level(mapped(level.keys), mapped(level.suffix), mapped(level.count))
                       for level in index.levels[1:]]
    return NgramIndex(index.order, index.size, levels, index.padding)


def _greatest_window(index, rank):
    """kneser_ney._greatest_window: the candidates of each level narrowed by their last
    word a slice at a time, then word by word back through the mapped view."""
    order, size = index.order, index.size
    rank = np.asarray(rank)
    view = mapped_view(index)
    best, best_key = None, None
    for k in range(1, order + 1):
        if k == 1 and k < order:
            continue
        # Rows whose last word has the greatest id (among those that begin with the
        # boundary, below the top order).
        top_id, rows = None, []
        for start, keys in index.level(k).keys.slices():
            words = keys % size if k > 1 else keys
            candidates = np.arange(start, start + len(keys))
            if k < order:
                mask = index.starts(k).read(start, start + len(keys)).astype(bool)
                words, candidates = words[mask], candidates[mask]
            if not len(words):
                continue
            ids = rank[words]
            largest = int(ids.max())
            if top_id is None or largest > top_id:
                top_id, rows = largest, []
            if largest == top_id:
                rows.append(candidates[ids == largest])
        if top_id is None:
            continue
        rows = np.concatenate(rows)
        current = rows // 1
        if k > 1:
            current = (view.level(k).keys[rows] // size).astype(np.int64)
        for j in range(k - 1, 0, -1):
            words = view.level(j).keys[current] % size if j > 1 else current
            ids = np.where(words == BOUNDARY, LMPLZ_BOS, rank[words])
            keep = ids == ids.max()
            rows, current = rows[keep], current[keep]
            if j > 1:
                current = (view.level(j).keys[current] // size).astype(np.int64)
        row = int(rows[0])
        tokens = view.tokens(k, [row])[0].tolist()
        ids = [LMPLZ_BOS if (t == BOUNDARY and i < k - 1) else int(rank[t])
               for i, t in enumerate(tokens)]
        key = tuple(reversed([LMPLZ_BOS] * (order - k) + ids))
        if best_key is None or key > best_key:
            best, best_key = (k, row), key
    del view
    return best
