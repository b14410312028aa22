"""Sampling a query file's model where it lies: backoff_chain.py's walk over the trie,
each context's CDF made the first time a draw needs it.

BackoffChain computes F (the cumulative probability, backoff_chain.py) at every
window of the model before the first draw, which needs every window's suffix link
and the whole model in memory. A query file has neither links nor a reason to be
read whole. Here a context's successors are the children range of its trie node
([offset[row], offset[row + 1]) of the next level), and F at them needs only the
F of its suffix context at the same tokens: so a context's arrays are made when a
draw first stands in it, after its suffix context's (recursively down to the
unigrams, which are read whole: one level-1 array). The suffix of every child is
found by the trie's search (suffix context's row, token) when the context is made,
and remembered as the suffix of the state that child becomes: states are numbered
as BackoffModel numbers them (offsets per level), and every state a walk reaches
was made by a draw or an advance that knew its suffix.

Every number is computed by the same float64 operations, in the same order, as
BackoffChain computes it from the model made in memory (integer prefix sums per
context are the same integers whether summed per context or over a whole level),
so the draws are the model file's, seed for seed (tests/test_query_format.py).
What is read is the children ranges of the contexts the walk visits and of their
suffixes: a few pages per context, never the whole file.
"""

import numpy as np

from bigram.errors import ModelFileError
from bigram.models.backoff_chain import _UNIFORM, _segment_prefix_sums
from bigram.ngrams.index import BOUNDARY

# ln b beyond this (a back-off weight of e**1000) is no model's (query_model's check).
MAX_LOG_BACKOFF = 1000.0


class _Sorted:
    """int64 keys -> int64 values, looked up and added to by whole arrays."""

    def __init__(self):
        self.keys = np.zeros(0, dtype=np.int64)
        self.values = np.zeros(0, dtype=np.int64)

    def get(self, keys):
        """The value of each key; -1 where absent."""
        at = np.searchsorted(self.keys, keys)
        at = np.minimum(at, max(len(self.keys) - 1, 0))
        if not len(self.keys):
            return np.full(len(keys), -1, dtype=np.int64)
        return np.where(self.keys[at] == keys, self.values[at], -1)

    def add(self, keys, values):
        """Add keys not present (the first value of a key repeated wins)."""
        new = self.get(keys) < 0
        keys, values = keys[new], values[new]
        keys, first = np.unique(keys, return_index=True)
        keys = np.concatenate([self.keys, keys])
        values = np.concatenate([self.values, values[first]])
        order = np.argsort(keys, kind="stable")
        self.keys, self.values = keys[order], values[order]


class TrieChain:
    """Draws for sampling.run_chains from trie.TrieTables (temperature 1); also the states'
    start and advance, for the model (query_model.QueryFileModel)."""

    def __init__(self, tables, source):
        self.tables, self.source = tables, source
        self.order, self.size = tables.order, tables.size
        rows = tables.rows
        # State numbering as BackoffModel's: 0 the empty context, then levels 1 .. order-1.
        self.offsets = np.zeros(self.order + 1, dtype=np.int64)
        self.offsets[1] = 1
        for k in range(1, self.order):
            self.offsets[k + 1] = self.offsets[k] + rows[k]
        self.logprob1 = tables.level_values("adj", 1)
        self.below1 = tables.level_values("below", 1) if self.order > 1 else None
        _check(self.logprob1, 1, source, unigrams=True)
        unigram = np.nan_to_num(np.exp(self.logprob1), nan=0.0)
        self.unigram_cdf = _segment_prefix_sums(unigram, np.array([0]), np.array([self.size]))
        self.suffix = _Sorted()     # state -> the state of its suffix
        # Per context level j: contexts made (row -> index), and per index the context's
        # weight, row total and its successors' segment [start, end) in the level's store.
        self.made = {j: _Sorted() for j in range(1, self.order)}
        self.weight = {j: np.zeros(0) for j in range(1, self.order)}
        self.total = {j: np.zeros(0) for j in range(1, self.order)}
        self.start = {j: np.zeros(0, dtype=np.int64) for j in range(1, self.order)}
        self.end = {j: np.zeros(0, dtype=np.int64) for j in range(1, self.order)}
        # Per successor level k: each stored successor's token, probability, F, F of its
        # suffix context there, search key, trie row, and suffix row (at level k - 1).
        self.store = {k: {name: np.zeros(0, dtype=dtype) for name, dtype in _STORE}
                      for k in range(2, self.order + 1)}
        self.bits = {k: 63 - max(rows[k - 1] - 1, 1).bit_length()
                     for k in range(2, self.order + 1)}
        self._last = (None, None)
        self.boundary_limit = 1 << 53

    # ------------------------------------------------------------------ states

    def level_of(self, states):
        """The level (0 for the empty context) of each state."""
        return np.searchsorted(self.offsets[1:], states, side="right")

    def start_state(self, padding):
        """The state before an item's first token (BackoffModel.start_state)."""
        pads = self.order - 1 if padding == "makemore" else 1
        states = np.zeros(1, dtype=np.int64)
        for _ in range(pads):
            following = self.advance(states, np.array([BOUNDARY]))
            if self.level_of(following)[0] <= self.level_of(states)[0]:
                break
            states = following
        return int(states[0])

    def _suffix_states(self, states):
        """The suffix state of each state (of level 1 or more) that a walk has reached."""
        levels = self.level_of(states)
        out = self.suffix.get(states)
        out[levels == 1] = 0
        if (out < 0).any():
            raise ValueError("internal error: a state whose suffix was not recorded")
        return out

    def _rows(self, states, levels):
        return states - self.offsets[np.maximum(levels, 1)]

    def advance(self, states, tokens):
        """The states after each state's history is followed by `tokens`
        (BackoffModel.advance over the trie)."""
        states = np.asarray(states, dtype=np.int64)
        tokens = np.asarray(tokens, dtype=np.int64)
        result = np.zeros(len(states), dtype=np.int64)
        current = states.copy()
        pending = np.ones(len(states), dtype=bool)
        for j in range(self.order - 1, -1, -1):
            levels = self.level_of(current)
            at = np.flatnonzero(pending & (levels == j))
            if not len(at):
                continue
            if j == 0:
                inside = (tokens[at] >= 0) & (tokens[at] < self.size)
                result[at[inside]] = self.offsets[1] + tokens[at[inside]]
                pending[at] = False
                continue
            rows = self._rows(current[at], levels[at])
            window = self.tables.find(j + 1, rows, tokens[at])
            found = window >= 0
            hit = at[found]
            below = self._suffix_states(current[hit])
            if j + 1 == self.order:
                # A window of the full order becomes its suffix: (the context's suffix, the
                # token), which advancing from the context's suffix finds (and records).
                result[hit] = self.advance(below, tokens[hit])
            else:
                # The new state's suffix: (the context's suffix, the token), a level down.
                if j == 1:
                    suffix_rows = tokens[hit]
                else:
                    below_rows = self._rows(below, self.level_of(below))
                    suffix_rows = np.maximum(self.tables.find(j, below_rows, tokens[hit]), 0)
                result[hit] = self.offsets[j + 1] + window[found]
                self.suffix.add(result[hit], self.offsets[j] + suffix_rows)
            pending[hit] = False
            miss = at[~found]
            current[miss] = self._suffix_states(current[miss])
        return result

    # ------------------------------------------------------------------ contexts

    def _ensure(self, j, rows):
        """Indices (into self.made[j]'s arrays) of level-j contexts `rows`, made if new; their
        suffix contexts first. The contexts' states must have known suffixes."""
        index = self.made[j].get(rows)
        new = np.unique(rows[index < 0])
        if len(new):
            self._make(j, new)
            index = self.made[j].get(rows)
        return index

    def _make(self, j, rows):
        tables, k = self.tables, j + 1
        if j > 1:
            suffix_states = self._suffix_states(self.offsets[j] + rows)
            suffix_rows = suffix_states - self.offsets[j - 1]
            below_index = self._ensure(j - 1, suffix_rows)
            own_b = tables.values("below", j, rows)
            log_b = own_b - (tables.values("below", j - 1, suffix_rows) if j > 2 else
                             self.below1[suffix_rows])
            below_total = self.total[j - 1][below_index]
        else:
            suffix_rows = None
            own_b = self.below1[rows]
            log_b = own_b.copy()
            below_total = np.full(len(rows), self.unigram_cdf[-1])
        if not (np.abs(log_b) < MAX_LOG_BACKOFF).all():
            raise _damaged(self.source, f"its tables give back-off weights out of range at "
                                        f"level {j}")
        weight = np.exp(log_b)
        # Successors: the children range of each context's node.
        ends = tables.child_ranges(j, rows)
        low, high = ends
        counts = high - low
        owner = np.repeat(np.arange(len(rows)), counts)
        child = np.arange(counts.sum(), dtype=np.int64) + np.repeat(
            low - np.cumsum(counts) + counts, counts)
        tokens = tables.level_tokens(k, child)
        values = tables.window_logprob(k, child, own_b[owner])
        _check(values, k, self.source)
        if k == 2:
            child_suffix = tokens.copy()
            lower = self.logprob1[tokens]
            lower_cdf = self.unigram_cdf[tokens]
        else:
            child_suffix = np.maximum(tables.find(j, suffix_rows[owner], tokens), 0)
            # The suffix window's parent is the suffix context: its B for adj files.
            parent_b = self.below1[suffix_rows] if j == 2 else \
                tables.values("below", j - 1, suffix_rows)
            lower = tables.window_logprob(j, child_suffix, parent_b[owner])
            lower_cdf = self._stored_cdf(j, below_index[owner], child_suffix)
        starts = np.cumsum(counts) - counts
        owners = np.flatnonzero(counts)
        with np.errstate(invalid="ignore", over="ignore"):
            p = np.exp(values)
            lower_p = np.nan_to_num(np.exp(lower), nan=0.0)
        own = _segment_prefix_sums(p, starts[owners], counts[owners])
        passed = _segment_prefix_sums(lower_p, starts[owners], counts[owners])
        cdf = own + weight[owner] * (lower_cdf - passed)
        total = weight * below_total
        last = starts[owners] + counts[owners] - 1
        total[owners] = own[last] + weight[owners] * (below_total[owners] - passed[last])
        # Search keys: the context's index in the high bits, F rounded down below (the
        # layout of BackoffChain's keys, so a search lands where its search lands).
        bits = self.bits[k]
        first_index = len(self.weight[j])
        indices = first_index + np.arange(len(rows), dtype=np.int64)
        keys = (indices[owner] << bits) | np.floor(
            np.minimum(cdf, 2.0 - 2.0 ** -40) * float(1 << (bits - 1))).astype(np.int64)
        store = self.store[k]
        offset = len(store["cdf"])
        for name, array in (("token", tokens), ("prob", p), ("cdf", cdf),
                            ("lower_cdf", lower_cdf), ("key", keys), ("row", child),
                            ("suffix_row", child_suffix)):
            store[name] = np.concatenate([store[name], array])
        self.weight[j] = np.concatenate([self.weight[j], weight])
        self.total[j] = np.concatenate([self.total[j], total])
        self.start[j] = np.concatenate([self.start[j], offset + starts])
        self.end[j] = np.concatenate([self.end[j], offset + starts + counts])
        self.made[j].add(rows, indices)
        # Each successor below the top is a state whose suffix is now known.
        if k < self.order:
            self.suffix.add(self.offsets[k] + child, self.offsets[k - 1] + child_suffix)

    def _stored_cdf(self, j, index, rows):
        """F stored for level-j windows `rows`, successors of the level-(j-1) contexts
        made at `index` (their children ranges hold them)."""
        store = self.store[j]
        if not len(store["cdf"]):   # a damaged file's suffix without successors
            return np.zeros(len(rows))
        last = len(store["cdf"]) - 1
        start, end = self.start[j - 1][index], self.end[j - 1][index]
        first_row = store["row"][np.minimum(start, last)]
        at = np.clip(start + rows - first_row, start, np.maximum(end - 1, start))
        return store["cdf"][np.minimum(at, last)]

    # ------------------------------------------------------------------ drawing

    def draw(self, states, k):
        """Tokens drawn in `states` with 53-bit uniform integers k (BackoffChain.draw)."""
        states = np.asarray(states, dtype=np.int64)
        levels = self.level_of(states)
        rows = self._rows(states, levels)
        n = len(states)
        u = k.astype(np.float64) * _UNIFORM
        target = u * self.unigram_cdf[-1]
        current = states.copy()
        index = np.full(n, -1, dtype=np.int64)
        for j in range(self.order - 1, 0, -1):
            at = np.flatnonzero(levels == j)
            if len(at):
                index[at] = self._ensure(j, rows[at])
                target[at] = u[at] * self.total[j][index[at]]
        low = np.full(n, -1, dtype=np.int64)
        high = np.full(n, self.size, dtype=np.int64)
        tokens = np.full(n, -1, dtype=np.int64)
        following = np.full(n, -1, dtype=np.int64)
        for j in range(self.order - 1, 0, -1):
            at = np.flatnonzero((levels == j) & (tokens < 0))
            if len(at):
                index[at] = self._ensure(j, rows[at])
                self._step(j, at, index, target, low, high, tokens, following)
                going = at[tokens[at] < 0]
                if j > 1:
                    current[going] = self._suffix_states(current[going])
                    rows[going] = current[going] - self.offsets[j - 1]
                levels[going] = j - 1
        at = np.flatnonzero(tokens < 0)
        if len(at):
            tokens[at] = np.searchsorted(self.unigram_cdf, target[at], side="left")
            following[at] = self.offsets[1] + tokens[at]
        drawn = np.clip(np.clip(tokens, low + 1, high - 1), 0, self.size - 1)
        following[drawn != tokens] = -1
        following[k == 0] = -1
        self._last = (drawn, following)
        return drawn

    def _step(self, j, at, index, target, low, high, tokens, following):
        """BackoffChain._step over the context's stored successors."""
        k = j + 1
        store = self.store[k]
        cdf, prob, token = store["cdf"], store["prob"], store["token"]
        start, end = self.start[j][index[at]], self.end[j][index[at]]
        wanted = target[at]
        bits = self.bits[k]
        queries = index[at] << bits
        queries |= np.floor(wanted * float(1 << (bits - 1))).astype(np.int64)
        ordered = np.argsort(queries)
        found = np.empty(len(at), dtype=np.int64)
        found[ordered] = np.searchsorted(store["key"], queries[ordered])
        np.clip(found, start, end, out=found)
        short = np.flatnonzero(found < end)
        short = short[cdf[found[short]] < wanted[short]]
        while len(short):
            found[short] += 1
            short = short[found[short] < end[short]]
            short = short[cdf[found[short]] < wanted[short]]
        inside = found < end
        hit = np.zeros(len(at), dtype=bool)
        hit[inside] = cdf[found[inside]] - prob[found[inside]] < wanted[inside]
        tokens[at[hit]] = token[found[hit]]
        if k < self.order:
            following[at[hit]] = self.offsets[k] + store["row"][found[hit]]
        else:
            following[at[hit]] = self.offsets[k - 1] + store["suffix_row"][found[hit]]
        gap = ~hit
        at, found, start, end, wanted = at[gap], found[gap], start[gap], end[gap], wanted[gap]
        has_before = found > start
        before = np.maximum(found - 1, 0)
        safe = np.minimum(before, max(len(cdf) - 1, 0))
        base = np.where(has_before, cdf[safe] if len(cdf) else 0.0, 0.0)
        base_lower = np.where(has_before, store["lower_cdf"][safe] if len(cdf) else 0.0, 0.0)
        low[at] = np.maximum(low[at], np.where(has_before, token[safe] if len(cdf) else -1,
                                               -1))
        after = np.minimum(found, max(len(token) - 1, 0))
        high[at] = np.minimum(high[at], np.where(found < end, token[after] if len(token)
                                                 else self.size, self.size))
        weight = self.weight[j][index[at]]
        with np.errstate(divide="ignore", invalid="ignore"):
            carried = base_lower + (wanted - base) / weight
        dead = ~(weight > 0)
        if dead.any():
            tokens[at[dead]] = np.where(found[dead] < end[dead], token[after[dead]],
                                        token[safe[dead]])
        target[at] = np.where(dead, target[at], carried)

    def advance_drawn(self, states, tokens):
        """The states after the tokens drawn: found while drawing them, when `tokens` is
        what the last `draw` returned; else looked up."""
        drawn, following = self._last
        if tokens is not drawn:
            return self.advance(states, tokens)
        missing = following < 0
        if missing.any():
            following = following.copy()
            following[missing] = self.advance(states[missing], tokens[missing])
        return following


_STORE = (("token", np.int64), ("prob", np.float64), ("cdf", np.float64),
          ("lower_cdf", np.float64), ("key", np.int64), ("row", np.int64),
          ("suffix_row", np.int64))


def _damaged(source, detail):   # the wording of formats.npzfile.damaged (a part above)
    return ModelFileError(f"{source} is damaged: {detail}")


def _check(values, k, source, unigrams=False):
    """Probabilities at most 1 (a float32 rounding over allowed), as query_model checks a
    model it makes whole."""
    with np.errstate(invalid="ignore"):
        bad = values > 1e-4 if unigrams else ~(values <= 1e-4)
    if bad.any():
        raise _damaged(source, f"its tables give probabilities above 1 or not numbers at "
                               f"level {k}")


class ChainView:
    """What sampling.run_chains asks of a chain: draw and advance (with the found states)."""

    def __init__(self, chain):
        self.chain = chain
        self.boundary_limit = chain.boundary_limit

    def draw(self, states, k):
        return self.chain.draw(states, k)

    def advance(self, states, tokens):
        return self.chain.advance_drawn(states, tokens)
