"""Sampling a back-off model without building distributions: the inverse CDF by walking
the back-off chain.

The sampler's rule (sampling.py) is an inverse-CDF draw: the token is the first, in id
order, whose cumulative probability F_h(t) = P(token <= t | h) reaches u * F_h(V - 1)
(the row normalised). For a back-off model, with E(h) the tokens the context h lists
(its explicit successors, probability p_h), b(h) its back-off weight and h' its suffix,

    F_h(t) = S_h(t) + b(h) * (F_h'(t) - L_h(t)),

S_h(t) and L_h(t) being the sums of p_h(w) and of P(w | h') over w in E(h), w <= t.
So F_h at each explicit successor is computed once, for every window of the model,
level by level (`G`, with integer prefix sums per context: exact, no cancellation).
A draw then looks among h's successors only: the first whose G reaches the target;
if the target falls in the successor's own step, that is the token; otherwise it lies
in the gap between two successors, where F_h grows as b(h) F_h', so the target is
carried down to h' (F_h' at the gap's start plus what is left, divided by b(h)) and
the search repeats there, down to the unigram CDF. Each step costs a search among one
context's successors per level, never the vocabulary: batched over every draw at
once, as the character sampler is.

The tokens drawn are the full-distribution draws (same uniforms, same rule) up to
floating point: here F is computed in float64 with exact integer prefix sums, where a
full row is summed in float32, so a draw whose uniform falls within float32 rounding
of a step boundary may differ (tests/test_backoff_sampling.py compares both).
"""

import numpy as np

# Probabilities become integers of this many bits for exact prefix sums.
_FIXED_BITS = 60
_FIXED = float(1 << _FIXED_BITS)
_UNIFORM = 2.0 ** -53


def step_past_rounding(found, end, cdf, wanted):
    """Move each position in `found` (in place) on past the successors whose F is still
    below `wanted`, up to `end`: a search on F rounded down to fewer bits stops at the
    first of the successors the rounding left equal."""
    short = np.flatnonzero(found < end)
    short = short[cdf[found[short]] < wanted[short]]
    while len(short):
        found[short] += 1
        short = short[found[short] < end[short]]
        short = short[cdf[found[short]] < wanted[short]]


def _segment_prefix_sums(values, starts, lengths):
    """Sums of `values` (probabilities, float64 in [0, 1]) from each row's segment start up
    to and including the row: exact integer sums of 2**-60 units, wrapping as uint64 (a
    segment's own sum stays below 2**61)."""
    fixed = np.rint(np.nan_to_num(values, nan=0.0) * _FIXED).astype(np.uint64)
    running = np.cumsum(fixed, dtype=np.uint64)
    before = np.repeat(running[starts] - fixed[starts], lengths)
    return (running - before).astype(np.float64) / _FIXED


def find_successors(keys, bits, contexts, wanted, start, end, cdf, prob):
    """(found, hit): per draw, the first successor of its context (rows start..end-1 of
    the successors, whose cumulative probabilities are `cdf`) whose F reaches `wanted`,
    and whether the target falls on that successor rather than in the gap before it.

    One search of (context, F rounded down to `bits`) keys, queries in ascending order
    (the search then stays in cache), then a step on past successors the rounding left
    equal."""
    queries = contexts << bits
    queries |= np.floor(wanted * float(1 << (bits - 1))).astype(np.int64)
    ordered = np.argsort(queries)
    found = np.empty(len(contexts), dtype=np.int64)
    found[ordered] = np.searchsorted(keys, queries[ordered])
    np.clip(found, start, end, out=found)
    step_past_rounding(found, end, cdf, wanted)
    inside = found < end
    hit = np.zeros(len(contexts), dtype=bool)
    hit[inside] = cdf[found[inside]] - prob[found[inside]] < wanted[inside]
    return found, hit


class BackoffChain:
    """Draws for sampling.run_chains from a BackoffModel's back-off form (temperature 1)."""

    def __init__(self, model):
        backoff = model.backoff
        self.model, self.backoff = model, backoff
        index, order, size = backoff.index, backoff.order, backoff.size
        self.order, self.size = order, size
        unigram = np.nan_to_num(np.exp(backoff.logprob[1]), nan=0.0)
        self.unigram_cdf = _segment_prefix_sums(unigram, np.array([0]), np.array([size]))
        # Per level k >= 2: each window's probability (blank windows get the back-off
        # rule's value), last token, F at its token, and F of its suffix context there.
        self.prob, self.token, self.cdf, self.lower_cdf = {}, {}, {}, {}
        self.keys, self.bits = {}, {}
        # Per context level j >= 1: each row's successors [start, end) at level j + 1, its
        # back-off weight, and its row total F_h(V - 1).
        self.start, self.end, self.weight, self.total = {}, {}, {}, {}
        logprob = {1: backoff.logprob[1]}
        total_below = np.array([self.unigram_cdf[-1]])
        for k in range(2, order + 1):
            level = index.level(k)
            parents, tokens = np.divmod(level.keys, size)
            suffix = level.suffix.astype(np.int64)
            values = np.array(backoff.logprob[k], dtype=np.float64)
            blank = np.isnan(values)
            lower = logprob[k - 1][suffix] if k > 2 else logprob[1][tokens]
            if blank.any():
                values[blank] = backoff.logbackoff[k - 1][parents[blank]] + lower[blank]
            logprob[k] = values
            j, context_rows = k - 1, len(index.level(k - 1))
            counts = np.bincount(parents, minlength=context_rows)
            end = np.cumsum(counts)
            start = end - counts
            owners = np.flatnonzero(counts)
            with np.errstate(invalid="ignore"):
                p = np.exp(values)
                lower_p = np.nan_to_num(np.exp(lower), nan=0.0)
            own = _segment_prefix_sums(p, start[owners], counts[owners])
            passed = _segment_prefix_sums(lower_p, start[owners], counts[owners])
            lower_cdf = self.cdf[k - 1][suffix] if k > 2 else self.unigram_cdf[tokens]
            weight = np.exp(np.asarray(backoff.logbackoff[j], dtype=np.float64))
            self.cdf[k] = own + weight[parents] * (lower_cdf - passed)
            # Search keys: the context row in the high bits, F (below 2) rounded down below.
            bits = 63 - max(context_rows - 1, 1).bit_length()
            self.bits[k] = bits
            self.keys[k] = (parents << bits) | np.floor(
                np.minimum(self.cdf[k], 2.0 - 2.0 ** -40) * float(1 << (bits - 1))).astype(np.int64)
            self.prob[k], self.token[k], self.lower_cdf[k] = p, tokens, lower_cdf
            # The row total: the same formula at t = V - 1.
            below = total_below[index.level(j).suffix.astype(np.int64)] if j > 1 else \
                np.full(context_rows, self.unigram_cdf[-1])
            total = weight * below
            last = end[owners] - 1
            total[owners] = own[last] + weight[owners] * (below[owners] - passed[last])
            self.start[j], self.end[j], self.weight[j], self.total[j] = start, end, weight, total
            total_below = total
        self.top_suffix = index.level(order).suffix.astype(np.int64) if order > 1 else None
        self._last = (None, None)
        self.boundary_limit = 1 << 53   # refined by the caller (sampling.boundary_limit)

    def draw(self, states, k):
        """Tokens drawn in `states` (BackoffModel states) with 53-bit uniform integers k."""
        backoff = self.backoff
        states = np.asarray(states, dtype=np.int64)
        levels = backoff.level_of(states)
        rows = states - backoff.offsets[np.maximum(levels, 1)]
        n = len(states)
        u = k.astype(np.float64) * _UNIFORM
        target = u * self.unigram_cdf[-1]
        for j in range(1, self.order):
            at = levels == j
            target[at] = u[at] * self.total[j][rows[at]]
        low = np.full(n, -1, dtype=np.int64)         # the token lies in (low, high)
        high = np.full(n, self.size, dtype=np.int64)
        tokens = np.full(n, -1, dtype=np.int64)
        following = np.full(n, -1, dtype=np.int64)    # the state after the token
        for j in range(self.order - 1, 0, -1):
            at = np.flatnonzero((levels == j) & (tokens < 0))
            if len(at):
                self._step(j, at, rows, target, low, high, tokens, following)
                # Those not decided go on at the suffix context.
                going = at[tokens[at] < 0]
                if j > 1:
                    rows[going] = backoff.index.level(j).suffix[rows[going]]
                levels[going] = j - 1
        at = np.flatnonzero(tokens < 0)
        if len(at):
            tokens[at] = np.searchsorted(self.unigram_cdf, target[at], side="left")
            following[at] = backoff.offsets[1] + tokens[at]   # the token's unigram
        # Rounding may carry a target across a step: the token stays in its gap.
        drawn = np.clip(np.clip(tokens, low + 1, high - 1), 0, self.size - 1)
        following[drawn != tokens] = -1
        # u = 0 draws token 0 even where it has probability 0 (and so is not the window
        # the walk found): its state is looked up.
        following[k == 0] = -1
        self._last = (drawn, following)
        return drawn

    def _step(self, j, at, rows, target, low, high, tokens, following):
        """One context level: the successor reached (and the state after it: that window,
        the longest ending in the token, as BackoffModel.advance finds it) or the gap the
        target falls in."""
        k = j + 1
        cdf, prob, token = self.cdf[k], self.prob[k], self.token[k]
        start, end = self.start[j][rows[at]], self.end[j][rows[at]]
        wanted = target[at]
        found, hit = find_successors(self.keys[k], self.bits[k], rows[at], wanted, start,
                                     end, cdf, prob)
        tokens[at[hit]] = token[found[hit]]
        if k < self.order:
            following[at[hit]] = self.backoff.offsets[k] + found[hit]
        else:
            following[at[hit]] = self.backoff.offsets[k - 1] + self.top_suffix[found[hit]]
        gap = ~hit
        at, found, start, end, wanted = at[gap], found[gap], start[gap], end[gap], wanted[gap]
        has_before = found > start
        before = np.maximum(found - 1, 0)
        base = np.where(has_before, cdf[before], 0.0)
        base_lower = np.where(has_before, self.lower_cdf[k][before], 0.0)
        low[at] = np.maximum(low[at], np.where(has_before, token[before], -1))
        high[at] = np.minimum(high[at], np.where(found < end,
                                                 token[np.minimum(found, len(token) - 1)],
                                                 self.size))
        weight = self.weight[j][rows[at]]
        with np.errstate(divide="ignore", invalid="ignore"):
            carried = base_lower + (wanted - base) / weight
        # A back-off weight of 0 leaves no mass in the gaps: only rounding leads here.
        dead = ~(weight > 0)
        if dead.any():
            tokens[at[dead]] = np.where(found[dead] < end[dead],
                                        token[np.minimum(found[dead], len(token) - 1)],
                                        token[before[dead]])
        target[at] = np.where(dead, target[at], carried)

    def advance(self, states, tokens):
        """The states after the tokens drawn: found while drawing them, when `tokens` is
        what the last `draw` returned (sampling.run_chains asks so); else looked up."""
        drawn, following = self._last
        if tokens is not drawn:
            return self.model.advance(states, tokens)
        missing = following < 0
        if missing.any():
            following = following.copy()
            following[missing] = self.model.advance(states[missing], tokens[missing])
        return following
