"""Querying a model in back-off form: what evaluation, scoring, sampling and export read.

A back-off model is an NgramIndex with, for every window (h, w), its natural-log
probability ln P(w|h) (NaN where the window is only a context, as ARPA files may
have) and, for every window as a context, its log back-off weight. The
probability of w after a history is that of the longest suffix (h w) the model
lists, times the back-off weights of the longer contexts that were skipped: the
ARPA rule, which is also exactly the interpolated models' own definition.

Sampling walks states: a state is the longest suffix of the history that the
model holds as a window (a row of a level below the top), numbered across levels
(0 is the empty context). Every query works on arrays of many windows or states
at once; loops run over levels only.
"""

import numpy as np

from bigram.ngrams.index import BOUNDARY, map_rows


class BackoffModel:
    """An NgramIndex with ln P of every listed window and ln back-off of every context."""

    def __init__(self, index, logprob, logbackoff):
        self.index = index
        self.order, self.size = index.order, index.size
        self.logprob = logprob          # logprob[k]: (rows of level k,) float64, NaN = unlisted
        self.logbackoff = logbackoff    # logbackoff[k]: (rows of level k,) float64, 0 = none
        self.unk_row = None             # `<unk>`: what a token without a unigram scores as
        # State numbering: 0 is the empty context, then the rows of levels 1 .. order-1.
        self.offsets = np.zeros(self.order + 1, dtype=np.int64)
        self.offsets[1] = 1
        for k in range(1, self.order):
            self.offsets[k + 1] = self.offsets[k] + len(index.level(k))

    @classmethod
    def from_probabilities(cls, index, prob, backoff, in_place=False):
        """A back-off model from probabilities and back-off weights (not logs). With
        in_place, their arrays become the model's logarithms (no copy: the lists passed
        are not to be used afterwards)."""
        logs = []
        with np.errstate(divide="ignore"):
            for values in (prob, backoff):
                converted = [None]
                for k in range(1, index.order + 1):
                    array = np.asarray(values[k], dtype=np.float64)
                    if array.strides == (0,):   # a constant: its logarithm, still constant
                        converted.append(np.broadcast_to(np.log(array[:1]), array.shape))
                        continue
                    converted.append(np.log(array, out=array if in_place else None))
                logs.append(converted)
        return cls(index, *logs)

    # ------------------------------------------------------------------ scoring text

    def score_index(self, text):
        """ln P of the last token of the windows of a text index that score predictions.

        `text` must use this model's token ids. Returns a list: element k holds,
        for each level-k window of the text, ln P(last token | the rest) under
        the model's back-off rule where the window scores a prediction
        (`text.final(k) > 0`), NaN elsewhere.
        """
        # The model's own training text needs no mapping: every window is a row.
        mapped = None if text is self.index else map_rows(text, self.index)
        top = min(text.order, self.order)
        scores = [None]
        for k in range(1, text.order + 1):
            if mapped is None and k <= self.order and not np.isnan(self.logprob[k]).any():
                scores.append(self.logprob[k])   # every window is listed: its own value
                continue
            needed = np.flatnonzero(text.final(k) > 0)
            values = np.full(len(text.level(k)), np.nan)
            rows = needed
            # A text window longer than the model's order is scored by its last `order` tokens.
            for j in range(k, top, -1):
                rows = text.level(j).suffix[rows]
            if len(rows):
                values[needed] = self._score_rows(text, mapped, min(k, top), rows)
            scores.append(values)
        return scores

    def _score_rows(self, text, mapped, k, rows):
        """ln P of the last token of level-k text windows `rows` (mapped: text rows to model
        rows per level, or None when the text is the model's own index)."""
        result = np.full(len(rows), np.nan)
        at = np.arange(len(rows))          # the windows still backing off
        skipped = np.zeros(len(rows))
        for j in range(k, 0, -1):
            model_rows = rows if mapped is None else mapped[j][rows]
            value = np.full(len(rows), np.nan)
            listed = model_rows >= 0
            value[listed] = self.logprob[j][model_rows[listed]]
            found = ~np.isnan(value)
            if j == 1 and self.unk_row is not None and not found.all():
                # A token the model does not list (a pruned unigram) is read as `<unk>`.
                value[~found] = self.logprob[1][self.unk_row]
                found = ~np.isnan(value)
            result[at[found]] = value[found] + skipped[found]
            keep = ~found
            if j == 1 or not keep.any():
                break
            at, rows, skipped = at[keep], rows[keep], skipped[keep]
            parents = text.level(j).keys[rows] // text.size
            contexts = parents if mapped is None else mapped[j - 1][parents]
            weighted = contexts >= 0
            skipped[weighted] += self.logbackoff[j - 1][contexts[weighted]]
            rows = text.level(j).suffix[rows]
        return result

    # ------------------------------------------------------------------ sampling

    def boundary_bound(self):
        """An upper bound on P(boundary | state) over every state (for the sampler's
        speculative starts): the largest probability any window ending in the boundary
        gets, times the largest product of back-off weights a walk can pick up."""
        best = -np.inf
        for k in range(1, self.order + 1):
            values = self.logprob[k]
            ends = (self.index.token(k) if k > 1 else np.arange(self.size)) == BOUNDARY
            listed = values[ends & ~np.isnan(values)]
            if len(listed):
                best = max(best, float(listed.max()))
        lift = sum(max(0.0, float(np.max(self.logbackoff[k], initial=0.0)))
                   for k in range(1, self.order))
        return min(1.0, float(np.exp(best + lift)))

    def level_of(self, states):
        """The level (0 for the empty context) of each state."""
        return np.searchsorted(self.offsets[1:], states, side="right")

    def start_state(self):
        """The state before an item's first token: its padding, as long as the model holds it."""
        pads = self.order - 1 if self.index.padding == "makemore" else 1
        state, row = 0, -1
        for k in range(1, pads + 1):
            row = self.index.find(k, np.array([row]), np.array([BOUNDARY]))[0]
            if row < 0:
                break
            state = self.offsets[k] + row
        return int(state)

    def rows(self, states):
        """P(. | state) over the vocabulary for each state, float64 (len(states), V)."""
        states = np.asarray(states, dtype=np.int64)
        levels = self.level_of(states)
        if getattr(self, "_base", None) is None:
            self._base = np.nan_to_num(np.exp(self.logprob[1]), nan=0.0)
        out = np.tile(self._base, (len(states), 1))
        # The context of each state at every length j, following suffix links down.
        chain = {}
        current = states - self.offsets[np.maximum(levels, 1)]
        for j in range(self.order - 1, 0, -1):
            here = levels == j
            rows = np.where(here, current, -1)
            if j + 1 in chain:
                above = chain[j + 1]
                has = above >= 0
                rows[has] = self.index.level(j + 1).suffix[above[has]]
            chain[j] = rows
        for j in range(1, self.order):
            rows = chain[j]
            active = np.flatnonzero(rows >= 0)
            if not len(active):
                continue
            out[active] *= np.exp(self.logbackoff[j][rows[active]])[:, None]
            owner, child = self.index.children(j + 1, rows[active])
            values = np.exp(self.logprob[j + 1][child])
            listed = ~np.isnan(values)
            tokens = self.index.level(j + 1).keys[child[listed]] % self.size
            out[active[owner[listed]], tokens] = values[listed]
        return out

    def advance(self, states, tokens):
        """The states after each state's history is followed by `tokens`.

        The new state is the longest window the model holds that ends the new
        history: try the state's context plus the token; on a miss, the
        context loses its oldest token (its suffix link) and the next level
        down tries again. Windows of the full order become their suffix.
        """
        states = np.asarray(states, dtype=np.int64)
        tokens = np.asarray(tokens, dtype=np.int64)
        levels = self.level_of(states)
        rows = np.where(levels > 0, states - self.offsets[np.maximum(levels, 1)], -1)
        result = np.zeros(len(states), dtype=np.int64)
        pending = np.ones(len(states), dtype=bool)
        for j in range(self.order - 1, -1, -1):
            at = np.flatnonzero(pending & (levels == j))
            if not len(at):
                continue
            k = j + 1
            window = self.index.find(k, rows[at], tokens[at])
            found = window >= 0
            hit, window = at[found], window[found]
            if k == self.order:
                result[hit] = self.offsets[k - 1] + self.index.level(k).suffix[window]
            else:
                result[hit] = self.offsets[k] + window
            pending[hit] = False
            miss = at[~found]
            if j > 0 and len(miss):
                rows[miss] = self.index.level(j).suffix[rows[miss]] if j > 1 else -1
                levels[miss] = j - 1
        return result
