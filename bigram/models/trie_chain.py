"""Sampling a query file's model where it lies: backoff_chain.py's walk over the trie,
each context's CDF made the first time a draw needs it.

BackoffChain computes F (the cumulative probability, backoff_chain.py) at every
window of the model before the first draw, which needs every window's suffix link
and the whole model in memory. A query file has neither links nor a reason to be
read whole. Here a context's successors are the children range of its trie node
([offset[row], offset[row + 1]) of the next level), and F at them needs only the
F of its suffix context at the same tokens: so a context's arrays are made when a
draw first stands in it, after its suffix context's (recursively down to the
unigrams, which are read whole: one level-1 array). Each successor's suffix is
found by the trie's search (the suffix context's row, the token) when its context
is made, and stored with it; when a draw reaches a successor, the state it becomes
gets that suffix recorded (and the suffix's own, down the levels), as does every
state `advance` makes. States are numbered as BackoffModel numbers them (offsets
per level), and every state a walk stands in has its suffix chain known.

Every number is computed by the same float64 operations, in the same order, as
BackoffChain computes it from the model made in memory (integer prefix sums per
context are the same integers whether summed per context or over a whole level),
so the draws are those of the query file's model made in memory, and so the model
file's, seed for seed, wherever float32 storage leaves the values alike
(tests/test_query_format.py). What is read is the children ranges of the contexts
the walk visits and of their suffixes; on a Zipf model the chains soon stand in
most frequent words, whose ranges hold a good part of level 2.
"""

import numpy as np

from bigram.errors import BigramError, ModelFileError
from bigram.models.backoff_chain import _UNIFORM, _segment_prefix_sums, find_successors
from bigram.ngrams.index import BOUNDARY

# Every model bigram writes lists the suffix of each window it lists (a text's windows,
# lmplz's ARPA files, and the general ARPA path adds what a file lacks).
UNCLOSED = "it lists a window of {} tokens without its suffix"
# ln b beyond this (a back-off weight of e**1000) is no model's (query_model's check).
MAX_LOG_BACKOFF = 1000.0


class _Sorted:
    """int64 keys -> int64 values, looked up and added to by whole arrays: a large sorted run
    and a small one that new keys are merged into, merged into the large one once it
    holds an eighth as many (each key is copied a few times in all, never per addition)."""

    def __init__(self):
        empty = np.zeros(0, dtype=np.int64)
        self.runs = [(empty, empty), (empty, empty)]

    def get(self, keys):
        """The value of each key; -1 where absent."""
        out = np.full(len(keys), -1, dtype=np.int64)
        for run_keys, run_values in self.runs:
            if len(run_keys):
                at = np.minimum(np.searchsorted(run_keys, keys), len(run_keys) - 1)
                found = run_keys[at] == keys
                out[found] = run_values[at[found]]
        return out

    def add(self, keys, values):
        """Add keys not present (of a key given twice, its first value)."""
        new = self.get(keys) < 0
        keys, first = np.unique(keys[new], return_index=True)
        (large, large_values), small = self.runs
        small = _merged(small, (keys, values[new][first]))
        if 8 * len(small[0]) > len(large):
            self.runs = [_merged((large, large_values), small), (keys[:0], keys[:0])]
        else:
            self.runs = [(large, large_values), small]


def _merged(a, b):
    keys = np.concatenate([a[0], b[0]])
    order = np.argsort(keys, kind="stable")
    return keys[order], np.concatenate([a[1], b[1]])[order]


class _Columns:
    """Arrays of one length that grow at their end, doubling their room (appending is
    amortised: no copy of everything per addition)."""

    def __init__(self, dtypes):
        self.n = 0
        self.arrays = {name: np.zeros(16, dtype=dtype) for name, dtype in dtypes}

    def __len__(self):
        return self.n

    def __getitem__(self, name):
        return self.arrays[name][:self.n]

    def extend(self, **columns):
        """Append the columns (every name, arrays of one length)."""
        count = len(next(iter(columns.values())))
        need = self.n + count
        for name, values in columns.items():
            array = self.arrays[name]
            if need > len(array):
                grown = np.zeros(max(need, 2 * len(array)), dtype=array.dtype)
                grown[:self.n] = array[:self.n]
                self.arrays[name] = array = grown
            array[self.n:need] = values
        self.n = need


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
        self.suffix = _Sorted()     # state -> the state of its suffix, for states met
        # Per context level j: contexts made (row -> index), and per index the context's
        # back-off weight, row total and its successors' segment [start, end) in the store.
        self.made = {j: _Sorted() for j in range(1, self.order)}
        self.contexts = {j: _Columns(_CONTEXT) for j in range(1, self.order)}
        # Per successor level k: each stored successor's token, probability, F, F of its
        # suffix context there, search key, trie row, suffix row (level k - 1) and where
        # that suffix is stored (in level k - 1's store; k > 2).
        self.store = {k: _Columns(_STORE) for k in range(2, self.order + 1)}
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
            raise BigramError("internal error: a state whose suffix was not recorded")
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
            # The window's suffix, (the context's suffix, the token), is what advancing from
            # the context's suffix finds (recording its own suffixes on the way).
            suffixes = self.advance(self._suffix_states(current[hit]), tokens[hit])
            if (self.level_of(suffixes) != j).any():
                raise _damaged(self.source, UNCLOSED.format(j + 1))
            if j + 1 == self.order:   # a window of the full order becomes its suffix
                result[hit] = suffixes
            else:
                result[hit] = self.offsets[j + 1] + window[found]
                self.suffix.add(result[hit], suffixes)
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
        """Make level-j contexts `rows` (new, distinct): weight, row total, and F at their
        successors, as BackoffChain.__init__ makes them for every context."""
        tables, k = self.tables, j + 1
        if j > 1:
            suffix_rows = self._suffix_states(self.offsets[j] + rows) - self.offsets[j - 1]
            below_index = self._ensure(j - 1, suffix_rows)
            own_b = tables.values("below", j, rows)
            log_b = own_b - (tables.values("below", j - 1, suffix_rows) if j > 2 else
                             self.below1[suffix_rows])
            below_total = self.contexts[j - 1]["total"][below_index]
        else:
            own_b = self.below1[rows]
            log_b = own_b.copy()
            below_total = np.full(len(rows), self.unigram_cdf[-1])
        if not (np.abs(log_b) < MAX_LOG_BACKOFF).all():
            raise _damaged(self.source, f"its tables give back-off weights out of range at "
                                        f"level {j}")
        weight = np.exp(log_b)
        # Successors: the children range of each context's node.
        low, high = tables.child_ranges(j, rows)
        counts = high - low
        owner = np.repeat(np.arange(len(rows)), counts)
        child = np.arange(counts.sum(), dtype=np.int64) + np.repeat(
            low - np.cumsum(counts) + counts, counts)
        tokens = tables.level_tokens(k, child)
        values = tables.window_logprob(k, child, own_b[owner])
        _check(values, k, self.source)
        if k == 2:
            child_suffix, suffix_at = tokens.copy(), np.zeros(len(child), dtype=np.int64)
            lower = self.logprob1[tokens]
            lower_cdf = self.unigram_cdf[tokens]
        else:
            # A successor's suffix window is a successor of the suffix context, made above.
            found = tables.find(j, suffix_rows[owner], tokens)
            if (found < 0).any():
                raise _damaged(self.source, UNCLOSED.format(k))
            suffix_at = self._stored_at(j, below_index[owner], found)
            child_suffix = found
            parent_b = self.below1[suffix_rows] if j == 2 else \
                tables.values("below", j - 1, suffix_rows)
            lower = tables.window_logprob(j, child_suffix, parent_b[owner])
            lower_cdf = self.store[j]["cdf"][suffix_at]
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
        indices = len(self.contexts[j]) + np.arange(len(rows), dtype=np.int64)
        keys = (indices[owner] << bits) | np.floor(
            np.minimum(cdf, 2.0 - 2.0 ** -40) * float(1 << (bits - 1))).astype(np.int64)
        offset = len(self.store[k])
        self.store[k].extend(token=tokens, prob=p, cdf=cdf, lower_cdf=lower_cdf, key=keys,
                             row=child, suffix_row=child_suffix, suffix_at=suffix_at)
        self.contexts[j].extend(weight=weight, total=total, start=offset + starts,
                                end=offset + starts + counts)
        self.made[j].add(rows, indices)

    def _stored_at(self, j, index, rows):
        """Where level-j windows `rows`, successors of the level-(j-1) contexts made at
        `index`, are stored (their contexts' segments hold them in row order)."""
        store, contexts = self.store[j], self.contexts[j - 1]
        if not len(store):   # a damaged file's suffix without successors
            return np.zeros(len(rows), dtype=np.int64)
        last = len(store) - 1
        start, end = contexts["start"][index], contexts["end"][index]
        first_row = store["row"][np.minimum(start, last)]
        at = np.clip(start + rows - first_row, start, np.maximum(end - 1, start))
        return np.minimum(at, last)

    def _record(self, k, at):
        """Record the suffixes of the level-k windows stored at `at` (k < order) and of their
        suffixes, down the levels: a state a draw reaches has its suffix chain known."""
        while k >= 2 and len(at):
            store = self.store[k]
            self.suffix.add(self.offsets[k] + store["row"][at],
                            self.offsets[k - 1] + store["suffix_row"][at])
            at, k = store["suffix_at"][at], k - 1

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
                target[at] = u[at] * self.contexts[j]["total"][index[at]]
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
        store, contexts = self.store[k], self.contexts[j]
        cdf, prob, token = store["cdf"], store["prob"], store["token"]
        start, end = contexts["start"][index[at]], contexts["end"][index[at]]
        wanted = target[at]
        found, hit = find_successors(store["key"], self.bits[k], index[at], wanted, start,
                                     end, cdf, prob)
        tokens[at[hit]] = token[found[hit]]
        if k < self.order:
            following[at[hit]] = self.offsets[k] + store["row"][found[hit]]
            self._record(k, found[hit])
        else:   # a window of the full order: the state is its suffix
            following[at[hit]] = self.offsets[k - 1] + store["suffix_row"][found[hit]]
            if k > 2:
                self._record(k - 1, store["suffix_at"][found[hit]])
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
        weight = contexts["weight"][index[at]]
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
          ("suffix_row", np.int64), ("suffix_at", np.int64))
_CONTEXT = (("weight", np.float64), ("total", np.float64), ("start", np.int64),
            ("end", np.int64))


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
