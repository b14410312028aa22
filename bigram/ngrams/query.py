"""The back-off form rearranged for scoring text fast: two numbers per window.

The back-off rule scores token w after history h as

    ln P(w | h) = ln P(w | h_j) + (sum of ln b(h_i) for j < i <= m)

where (h_j, w) is the longest window the model lists and h_m the longest
context of h it lists (m >= j). With B(c), the sum of the back-off weights
of context c and of all its suffixes, the sum in brackets is B(h_m) - B(h_j).
So every window gets `adj(h_j w) = ln P(w | h_j) - B(h_j)` and every context
B(c), and a token's score is adj of the longest window ending at it plus B of
the longest context ending one position earlier: the text is scored by
finding, level by level, which windows end at each position (the window one
token shorter ending one position earlier, plus this token: one vectorised
lookup per level), keeping the longest, and two gathers. No search for the
longest window per token, no back-off branch.

Windows listed only as contexts (ARPA files may have them) get the value the
back-off rule gives them, so every window of the index has an adj. A model
where some B is not finite (a back-off weight of zero) cannot be written so:
`from_backoff` returns None and scoring goes level by level
(scoring.BackoffScorer).

Short vocabularies get dense tables: (id of the shorter window, token) -> id,
where ids number the windows of all levels together, longer ones higher, 0
meaning none, and a last token column V stands for "no window can end here"
(a token outside the vocabulary, an item's `<s>`); so the longest window is a
running maximum. Long vocabularies go through lookup.LevelFinder over only the
positions where the shorter window exists.
"""

import threading

import numpy as np

from bigram.ngrams.index import BOUNDARY
from bigram.ngrams.lookup import LevelFinder

# A dense table (4 bytes per (window id, token + 1) cell) is used up to this size.
DENSE_TABLE_BYTES = 64 << 20
# Long arrays are worked through a slice at a time (small temporaries).
SLICE = 1 << 20
# Levels of up to this many windows get a table of the tokens that end their windows
# (one pass over the level: a few milliseconds).
ENDING_ROWS = 1 << 20


class QueryTables:
    """Per level: the sorted keys of the index, each window's adj, each context's B."""

    def __init__(self, order, size, padding, keys, adj, below, hashed=None):
        self.order, self.size, self.padding = int(order), int(size), padding
        self.keys = keys          # keys[k], k >= 2: the index's sorted keys at level k
        self.adj = adj            # adj[k], k >= 1: float64 per window
        self.below = below        # below[k], 1 <= k < order: float64 B per context
        self.hashed = hashed or {}  # k: lookup.HashTable of level k's keys, where made
        self.rows = [0, size] + [len(keys[k]) for k in range(2, order + 1)]
        # Window ids across levels: 0 is none, level k's rows from first[k] on.
        self.first = np.cumsum([0, 1] + self.rows[1:]).tolist()
        self._dense = {}
        self._finders = {}
        self._lock = threading.RLock()   # for the tables made on first use (threads share them)

    @classmethod
    def from_backoff(cls, backoff_model, in_place=False):
        """The tables of a BackoffModel; None where a B is not finite, or a window's last
        token has no unigram value to back off to.

        With `in_place`, the model's own arrays become the tables (no copies: a model
        file is written with no more memory than the model holds); the model is not to
        be used afterwards, whatever the result.
        """
        index, order = backoff_model.index, backoff_model.order
        logprob = [None] + [_float_array(backoff_model.logprob[k], in_place)
                            for k in range(1, order + 1)]
        logbackoff = [None] + [_float_array(backoff_model.logbackoff[k], in_place)
                               for k in range(1, order)]
        # Windows listed only as contexts get what the back-off rule gives them, shorter
        # windows first (their values are used by the longer ones).
        for k in range(2, order + 1):
            blank = np.flatnonzero(np.isnan(logprob[k]))
            if len(blank):
                parent = index.level(k).keys[blank] // index.size
                logprob[k][blank] = logbackoff[k - 1][parent] + \
                    logprob[k - 1][index.level(k).suffix[blank]]
        # Then, level by level and a slice at a time: B = ln b + B of the suffix, and
        # adj = value - B of the context (the level below's B, already summed).
        for k in range(1, order + 1):
            level = index.level(k)
            for start in range(0, len(logprob[k]), SLICE):
                rows = slice(start, start + SLICE)
                if k < order and k > 1:
                    logbackoff[k][rows] += logbackoff[k - 1][level.suffix[rows]]
                if k > 1:
                    logprob[k][rows] -= logbackoff[k - 1][level.keys[rows] // index.size]
            if k > 1 and _any_nan(logprob[k]):   # over a token the model does not list
                return None
            if k < order and not _all_finite(logbackoff[k]):
                return None
        keys = [None, None] + [index.level(k).keys for k in range(2, order + 1)]
        return cls(order, index.size, index.padding, keys, logprob, logbackoff)

    def span(self, k):
        """Level k's keys are below this."""
        return self.rows[k - 1] * self.size

    def arrays(self):
        """adj and B per level, named for a model file."""
        out = {f"{k}_adj": self.adj[k] for k in range(1, self.order + 1)}
        out.update({f"{k}_below": self.below[k] for k in range(1, self.order)})
        return out

    # ------------------------------------------------------------------ scoring

    def score(self, text):
        """ln P at every position of a PaddedText of this model's token ids (-1: unknown);
        positions that predict nothing hold meaningless values, unknown tokens NaN."""
        stream, n, size = text.stream, len(text.stream), self.size
        ids = stream + 1                           # level-1 window ids; 0 for unknown
        if self.order == 1:
            return self._global("adj", 1)[ids]
        # The token column of windows of 2+ tokens: V where none can end here.
        column = np.where(stream >= 0, stream, size).astype(np.int32)
        if text.pads == 1:
            # With one <s>, a window through it would reach into the item before.
            column[text.starts[:-1]] = size
        longest, context, k = ids, ids, 2
        while k <= self.order and self._dense_fits(k):
            cells = ids[:-1] * np.int32(size + 1)
            cells += column[1:]
            ids = np.empty(n, dtype=np.int32)
            ids[0] = 0
            np.take(self._dense_table(k), cells, out=ids[1:])
            longest = np.maximum(longest, ids)
            if k < self.order:
                context = longest
            k += 1
        adj = self._global("adj", k - 1)[longest]
        below = self._global("below", k - 1)[context]
        if k <= self.order:
            at = np.flatnonzero(ids)
            rows = ids[at] - self.first[k - 1]
            for level in range(k, self.order + 1):
                at += 1
                ending = self._ending_tokens(level)
                if ending is None:
                    keep = np.flatnonzero(column[np.minimum(at, n - 1)] < size)
                else:   # windows of this level end in the token and follow the parent
                    keep = ending[0][column[np.minimum(at, n - 1)]]
                    keep &= ending[1][rows]
                    keep = np.flatnonzero(keep)
                keep = keep[at[keep] < n]
                at, rows = at[keep], rows[keep]
                rows = self.find(level, rows, column[at])
                hit = np.flatnonzero(rows >= 0)
                at, rows = at[hit], rows[hit]
                # below[at - 1] is B of each window's parent (the level before set it).
                adj[at] = self.window_adj(level, rows, below[at - 1])
                if level < self.order:
                    below[at] = self.values("below", level, rows)
        adj[1:] += below[:-1]
        return adj

    def find(self, k, parents, tokens):
        """Rows at level k of the windows (level k-1 row, token); -1 where absent."""
        queries = np.asarray(parents, dtype=np.int64) * self.size
        queries += tokens
        return self._finder(k).find(queries)

    def values(self, what, k, rows):
        """adj or B ("adj" or "below") of level k's `rows`, float64."""
        return getattr(self, what)[k][rows]

    def window_adj(self, k, rows, parent_below):
        """adj of level k's `rows`, whose parents' B is `parent_below` (float64)."""
        return self.adj[k][rows]

    def level_values(self, what, k):
        """adj or B of every window of level k."""
        return getattr(self, what)[k]

    def level_logprob(self, k):
        """ln P of every window of level k (adj + B of its context), float64."""
        if k == 1:
            return np.asarray(self.level_values("adj", 1), dtype=np.float64)
        parents = self.level_keys(k) // self.size
        return self.level_values("adj", k) + self.level_values("below", k - 1)[parents]

    def level_keys(self, k):
        """Level k's sorted keys (parent row * V + token)."""
        return self.keys[k]

    def score_index(self, text):
        """ln P of the last token of every window of a text index (this model's token ids
        and order) that scores a prediction, per level (NaN elsewhere), as
        BackoffModel.score_index gives it: adj of the longest suffix of the window the
        model lists plus B of the longest suffix of its context."""
        size = self.size
        rows = np.where(np.arange(text.size) < size, np.arange(text.size), -1)
        listed = rows >= 0
        adj = np.full(text.size, np.nan)
        adj[listed] = self.values("adj", 1, rows[listed])
        below = np.zeros(text.size)
        if self.order > 1:
            below[listed] = self.values("below", 1, rows[listed])
        scores = [None, adj]
        for k in range(2, text.order + 1):
            level = text.level(k)
            parent, token = level.keys // text.size, level.keys % text.size
            mine = np.full(len(level), -1, dtype=np.int64)
            if k <= self.order:
                ok = np.flatnonzero(rows[parent] >= 0)
                mine[ok] = self.find(k, rows[parent[ok]], token[ok])
            found = mine >= 0
            # Not listed: the longest listed suffix's values (the window minus its oldest
            # token, whose values are already those of its own longest listed suffix).
            window_adj = adj[level.suffix]
            window_adj[found] = self.window_adj(k, mine[found], below[parent[found]])
            score = window_adj + below[parent]
            needed = text.final(k) > 0
            score[~needed] = np.nan
            scores.append(score)
            if k < text.order:
                window_below = below[level.suffix]
                if k < self.order:
                    window_below[found] = self.values("below", k, mine[found])
                adj, below, rows = window_adj, window_below, mine
        return scores

    def _ending_tokens(self, k):
        """For levels of at most ENDING_ROWS windows (and parents): (which tokens end one of
        them, which level k-1 windows have children), bool, made once from the level's
        keys; the token column V, where none can end, reads False. Text scored against a
        small model asks about many windows that cannot be there (a word outside the
        vocabulary, read as `<unk>`, is in none): those skip the lookup."""
        if max(self.rows[k], self.rows[k - 1]) > ENDING_ROWS:
            return None
        with self._lock:
            if ("ending", k) not in self._dense:
                split, ending = self.level_parents_tokens(k), None
                if split is not None:
                    ending = (np.zeros(self.size + 1, dtype=bool),
                              np.zeros(self.rows[k - 1], dtype=bool))
                    ending[0][split[1]] = True
                    ending[0][self.size] = False
                    ending[1][split[0]] = True
                self._dense["ending", k] = ending
        return self._dense["ending", k]

    def level_parents_tokens(self, k):
        """(parent row, last token) of every window of level k (k >= 2); None where the keys
        are not an array in memory (columns read a slice at a time)."""
        keys = self.level_keys(k)
        return np.divmod(keys, self.size) if isinstance(keys, np.ndarray) else None

    def _dense_fits(self, k):
        return dense_fits(self.first[k - 1], self.rows[k - 1], self.size)

    def _dense_table(self, k):
        """(id of the level k-1 window) * (V + 1) + token -> id of the level-k window, 0
        where absent. The cells below level k-1's ids are never touched (zeros that the
        system maps lazily)."""
        with self._lock:
            if k not in self._dense:
                keys = self.level_keys(k)
                parent_ids = keys // self.size + self.first[k - 1]
                table = np.zeros((self.first[k - 1] + self.rows[k - 1]) * (self.size + 1),
                                 dtype=np.int32)
                table[parent_ids * (self.size + 1) + keys % self.size] = np.arange(
                    self.first[k], self.first[k] + len(keys), dtype=np.int32)
                self._dense[k] = table
        return self._dense[k]

    def _global(self, what, top):
        """adj or B of the windows of levels 1..top by window id; id 0 reads as NaN (adj:
        an unknown token) or 0 (B: no context; the top level has none)."""
        with self._lock:
            if (what, top) not in self._dense:
                if what == "adj":
                    parts = [[np.nan]] + [self.level_values("adj", k)
                                          for k in range(1, top + 1)]
                else:
                    parts = [[0.0]] + [self.level_values("below", k)
                                       for k in range(1, min(top, self.order - 1) + 1)]
                    if top == self.order:
                        parts.append(np.zeros(self.rows[top]))
                self._dense[what, top] = np.concatenate(parts)
        return self._dense[what, top]

    def _finder(self, k):
        with self._lock:
            if k not in self._finders:
                self._finders[k] = LevelFinder(self.keys[k], self.span(k), self.hashed.get(k))
        return self._finders[k]


def dense_fits(first, rows, size):
    """Whether a level whose shorter windows have ids first .. first + rows - 1 gets a dense
    table (a vocabulary of `size` tokens)."""
    return (rows + 1) * (size + 1) * 4 <= DENSE_TABLE_BYTES and \
        (first + rows) * (size + 1) < 1 << 31


def _float_array(values, in_place):
    """values as a float64 array of their own (or themselves, in place, when they are one)."""
    if in_place and isinstance(values, np.ndarray) and values.dtype == np.float64 and \
            values.flags.writeable and values.strides == (8,):
        return values
    return np.array(values, dtype=np.float64)


def _any_nan(values):
    return any(np.isnan(values[i:i + SLICE]).any() for i in range(0, len(values), SLICE))


def _all_finite(values):
    return all(np.isfinite(values[i:i + SLICE]).all() for i in range(0, len(values), SLICE))


class TablesModel:
    """A count model as `score --file` needs it, read from a model file without its counts:
    vocabulary, order, padding and query tables (modelfile.load_for_scoring)."""

    kind = "counts"

    def __init__(self, vocabulary, tables):
        self.vocabulary, self.tables = vocabulary, tables
        self.order, self.size, self.padding = tables.order, tables.size, tables.padding

    def query_tables(self):
        return self.tables

    def unlisted_tokens(self):
        """Tokens without a unigram probability (pruned), read as `<unk>` if there is one."""
        if not self.vocabulary.unk:
            return None
        unlisted = np.isnan(self.tables.adj[1])
        unlisted[BOUNDARY] = False
        return unlisted if unlisted.any() else None
