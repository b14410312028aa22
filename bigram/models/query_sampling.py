"""The walk over a query file's trie (trie_chain.TrieChain) with the successors of unigram
contexts kept small: F and the token, 12 bytes each instead of 64.

On a Zipf model most of what a walk makes is level 2: the chains soon stand in frequent
words, whose children ranges are large (five items of the order-5 model of 1.28 GB of
text made 181 unigram contexts with 5.5 million successors, against 0.7 million at
levels 3 to 5). TrieChain keeps eight numbers per successor (token, P, F, F of the
suffix context, search key, trie row, suffix row and where it is stored), 355 MB for
those 5.5 million, and copies them each time its arrays double. At level 2 all but F
follow from little: a successor's trie row is its context's first child plus its place
in the context's segment, its suffix row is its token, the suffix context's F there is
the unigram CDF at the token, and the search key is F rounded, so the search goes by F
within the segment; P is read again from the trie at the few successors a draw lands
on (the same float32 value, the same float64 exp). Levels 3 and up are TrieChain's.

Every number is the one TrieChain computes, by the same operations in the same order
(F of a whole segment by integer prefix sums, as there), so the draws are the same,
seed for seed (tests/test_sample_query.py).
"""

import weakref

import numpy as np

from bigram.models.backoff_chain import _segment_prefix_sums, step_past_rounding
from bigram.models.trie_chain import (
    MAX_LOG_BACKOFF,
    TrieChain,
    _check,
    _Columns,
    _damaged,
)

_LEVEL2 = (("token", np.int32), ("cdf", np.float64))
_UNIGRAM_CONTEXTS = (("weight", np.float64), ("total", np.float64), ("start", np.int64),
                     ("end", np.int64), ("low", np.int64), ("row", np.int64))
# Unigram contexts are made this many successors at a time (a frequent word's range
# alone may be larger): the temporaries of a batch are a dozen arrays of its length.
MAKE_SUCCESSORS = 1 << 20
# F is below 2 (TrieChain's keys cap it there before rounding).
_F_CAP = 2.0 - 2.0 ** -40

_COMPACT = weakref.WeakKeyDictionary()


def compact_chain(walk):
    """The CompactTrieChain of a model's TrieChain, made once per walk (it keeps the
    contexts it has made, as the walk would)."""
    chain = _COMPACT.get(walk)
    if chain is None:
        chain = _COMPACT[walk] = CompactTrieChain(walk)
    return chain


class CompactTrieChain(TrieChain):
    """TrieChain with level 2 kept as (token, F) per successor; see the module's notes.

    It shares the model's walk's record of state suffixes: the model's start_state and
    advance (a prefix) record there, and the draws' states are recorded there too."""

    def __init__(self, walk):
        super().__init__(walk.tables, walk.source)
        self.suffix = walk.suffix
        if self.order > 1:
            self.contexts[1] = _Columns(_UNIGRAM_CONTEXTS)
            self.store[2] = _Columns(_LEVEL2)

    # ------------------------------------------------------------------ contexts

    def _make(self, j, rows):
        if j > 1:
            super()._make(j, rows)
            return
        tables = self.tables
        low, high = tables.child_ranges(1, rows)
        counts = high - low
        ends = np.cumsum(counts)
        begin = 0
        while begin < len(rows):
            # Contexts up to MAKE_SUCCESSORS successors past the first one's start.
            stop = max(begin + 1, int(np.searchsorted(ends, ends[begin] - counts[begin]
                                                      + MAKE_SUCCESSORS, side="right")))
            self._make_unigrams(rows[begin:stop], low[begin:stop], counts[begin:stop])
            begin = stop

    def _make_unigrams(self, rows, low, counts):
        """TrieChain._make at j = 1 (the same operations in the same order), keeping F and
        the token of each successor, and each context's first child."""
        tables = self.tables
        own_b = self.below1[rows]
        log_b = own_b.copy()
        below_total = np.full(len(rows), self.unigram_cdf[-1])
        if not (np.abs(log_b) < MAX_LOG_BACKOFF).all():
            raise _damaged(self.source, "its tables give back-off weights out of range at "
                                        "level 1")
        weight = np.exp(log_b)
        owner = np.repeat(np.arange(len(rows)), counts)
        starts = np.cumsum(counts) - counts
        child = np.arange(counts.sum(), dtype=np.int64) + np.repeat(low - starts, counts)
        tokens = tables.level_tokens(2, child)
        values = tables.window_logprob(2, child, own_b[owner])
        del child
        _check(values, 2, self.source)
        owners = np.flatnonzero(counts)
        with np.errstate(invalid="ignore", over="ignore"):
            p = np.exp(values)
            lower_p = np.nan_to_num(np.exp(self.logprob1[tokens]), nan=0.0)
        del values
        own = _segment_prefix_sums(p, starts[owners], counts[owners])
        del p
        passed = _segment_prefix_sums(lower_p, starts[owners], counts[owners])
        del lower_p
        cdf = own + weight[owner] * (self.unigram_cdf[tokens] - passed)
        total = weight * below_total
        last = starts[owners] + counts[owners] - 1
        total[owners] = own[last] + weight[owners] * (below_total[owners] - passed[last])
        offset = len(self.store[2])
        indices = len(self.contexts[1]) + np.arange(len(rows), dtype=np.int64)
        self.store[2].extend(token=tokens, cdf=cdf)
        self.contexts[1].extend(weight=weight, total=total, start=offset + starts,
                                end=offset + starts + counts, low=low, row=rows)
        self.made[1].add(rows, indices)

    def _level2_rows(self, at):
        """Trie rows of the level-2 successors stored at `at` (the first child of the
        context whose segment holds each, plus its place there)."""
        contexts = self.contexts[1]
        starts = contexts["start"]
        owner = np.maximum(np.searchsorted(starts, at, side="right") - 1, 0)
        return contexts["low"][owner] + (at - starts[owner]), owner

    def _stored_at(self, j, index, rows):
        if j > 2:
            return super()._stored_at(j, index, rows)
        store, contexts = self.store[2], self.contexts[1]
        if not len(store):
            return np.zeros(len(rows), dtype=np.int64)
        last = len(store) - 1
        start, end = contexts["start"][index], contexts["end"][index]
        at = np.clip(start + rows - contexts["low"][index], start, np.maximum(end - 1, start))
        return np.minimum(at, last)

    def _record(self, k, at):
        while k >= 3 and len(at):
            store = self.store[k]
            self.suffix.add(self.offsets[k] + store["row"][at],
                            self.offsets[k - 1] + store["suffix_row"][at])
            at, k = store["suffix_at"][at], k - 1
        if k == 2 and len(at):
            rows, _ = self._level2_rows(at)
            self.suffix.add(self.offsets[2] + rows,
                            self.offsets[1] + self.store[2]["token"][at].astype(np.int64))

    # ------------------------------------------------------------------ drawing

    def _step(self, j, at, index, target, low, high, tokens, following):
        """TrieChain._step, at level 1 over the compact store."""
        if j > 1:
            super()._step(j, at, index, target, low, high, tokens, following)
            return
        store, contexts = self.store[2], self.contexts[1]
        cdf, token = store["cdf"], store["token"]
        context = index[at]
        start, end = contexts["start"][context], contexts["end"][context]
        wanted = target[at]
        found, hit = self._find(context, wanted, start, end)
        reached = found[hit]
        tokens[at[hit]] = token[reached]
        if self.order > 2:
            following[at[hit]] = self.offsets[2] + contexts["low"][context[hit]] + \
                reached - start[hit]
            self._record(2, reached)
        else:   # a bigram is the state of its suffix, the token's unigram
            following[at[hit]] = self.offsets[1] + token[reached]
        gap = ~hit
        at, found, start, end, wanted = at[gap], found[gap], start[gap], end[gap], wanted[gap]
        has_before = found > start
        before = np.maximum(found - 1, 0)
        safe = np.minimum(before, max(len(cdf) - 1, 0))
        before_token = token[safe].astype(np.int64) if len(cdf) else np.zeros(len(at), np.int64)
        base = np.where(has_before, cdf[safe] if len(cdf) else 0.0, 0.0)
        # F of the suffix context (the unigrams) at the successor before: what TrieChain
        # stores as its lower_cdf.
        base_lower = np.where(has_before, self.unigram_cdf[before_token], 0.0)
        low[at] = np.maximum(low[at], np.where(has_before, before_token, -1))
        after = np.minimum(found, max(len(token) - 1, 0))
        after_token = token[after].astype(np.int64) if len(token) else \
            np.full(len(at), self.size, np.int64)
        high[at] = np.minimum(high[at], np.where(found < end, after_token, self.size))
        weight = contexts["weight"][index[at]]
        with np.errstate(divide="ignore", invalid="ignore"):
            carried = base_lower + (wanted - base) / weight
        dead = ~(weight > 0)
        if dead.any():
            tokens[at[dead]] = np.where(found[dead] < end[dead], after_token[dead],
                                        before_token[dead])
        target[at] = np.where(dead, target[at], carried)

    def _find(self, context, wanted, start, end):
        """backoff_chain.find_successors over one unigram context's segment each: the first
        successor whose key (F rounded down, as TrieChain's keys) reaches the query's, by
        halving within the segment (where TrieChain searches its keys of every context
        at once: the same place, each segment's keys ascending), then on past those
        the rounding left equal; and whether the target falls on it."""
        cdf = self.store[2]["cdf"]
        scale = float(1 << (self.bits[2] - 1))
        query = np.floor(wanted * scale).astype(np.int64)
        lo, hi = start.copy(), end.copy()
        active = np.flatnonzero(lo < hi)
        while len(active):
            middle = (lo[active] + hi[active]) >> 1
            key = np.floor(np.minimum(cdf[middle], _F_CAP) * scale).astype(np.int64)
            below = key < query[active]
            lo[active[below]] = middle[below] + 1
            hi[active[~below]] = middle[~below]
            active = active[lo[active] < hi[active]]
        found = lo
        step_past_rounding(found, end, cdf, wanted)
        inside = np.flatnonzero(found < end)
        hit = np.zeros(len(context), dtype=bool)
        if len(inside):
            contexts = self.contexts[1]
            owner = context[inside]
            rows = contexts["low"][owner] + found[inside] - start[inside]
            # P read again where the draws landed: the value _make_unigrams summed.
            values = self.tables.window_logprob(2, rows, self.below1[contexts["row"][owner]])
            with np.errstate(invalid="ignore", over="ignore"):
                prob = np.exp(values)
            hit[inside] = cdf[found[inside]] - prob < wanted[inside]
        return found, hit
