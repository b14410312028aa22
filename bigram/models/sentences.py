"""kenlm's Python interface on every model: one sentence at a time, in log10.

`kenlm.Model(path).score(sentence, bos=True, eos=True)`, `perplexity`, `full_scores`,
`word in model` and the state calls (`BeginSentenceWrite`, `NullContextWrite`,
`BaseScore`) answer here for counts, neural and ARPA models alike, with the values
KenLM gives on the same ARPA file. A sentence of a word model is split on whitespace,
as kenlm splits it; a sentence of a character model is its characters (bigram's items),
each one token.

This is the per-call path: a sentence is walked in plain Python, token by token, over
WindowLinks (window id * V + token -> id of the window one token longer, and each
window's suffix), reading query.QueryTables' values through memoryviews, so a Python
loop over lines stays within a small factor of kenlm's; `score` and `perplexity` of a
model with `<unk>` (or a sentence of known words) take the shortest way through it.
Many lines at once go faster through `Model.score_lines` or `bigram score --file`,
which score blocks of text and give the same numbers.

Words outside the vocabulary: a model with `<unk>` scores them as `<unk>` (as kenlm).
A model without it has no probability for them: as `score_lines` and `bigram eval`
do, every prediction whose window holds one is left out of the sentence's total and
of the token count `perplexity` divides by; `full_scores` yields it as (nan, 0, oov).
"""

import math

import numpy as np

from bigram.errors import InputError, OptionError
from bigram.ngrams.index import BOUNDARY, pads_for

LN10 = math.log(10)
# Models with up to this many windows of 2+ tokens score a sentence in plain Python over
# WindowLinks (made on the first call); larger ones level by level in numpy (a few times
# slower per call). Up to DICT_WINDOWS the links are a dict (about 120 bytes a window;
# the fastest lookups from Python, twice the table's speed on a model of 6,000 windows);
# above, an open-addressing table (32 to 64 bytes): on 155,000 windows both walked at one
# speed, on a million the dict was 10% faster for 3.4 times the memory.
TABLE_WINDOWS = 50_000_000
DICT_WINDOWS = 100_000
_HASH_MULTIPLIER = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
SENTENCE_MARKS = ("<s>", "</s>")


class State:
    """What a model remembers of the words before: the context tokens that matter (ids,
    oldest first), as kenlm.State; equal states score every next word alike."""

    __slots__ = ("context",)

    def __init__(self):
        self.context = ()

    def __eq__(self, other):
        return isinstance(other, State) and self.context == other.context

    def __hash__(self):
        return hash(self.context)

    def __len__(self):
        return len(self.context)

    def __repr__(self):
        return f"State({self.context})"


class SentenceScorer:
    """The per-sentence queries of one models.LanguageModel."""

    def __init__(self, model):
        self.model = model
        self.vocabulary = model.vocabulary
        self.order = model.order
        self.size = len(self.vocabulary)
        self.pads = pads_for(model.padding, model.order)
        self.unk = self.vocabulary.unk_id
        self.parts = [SentenceScorer(c) for c in getattr(model, "components", ())]
        self.tables = model.query_tables() if hasattr(model, "query_tables") else None
        self.backoff = getattr(model, "backoff", None) if self.tables is None else None
        self._ids = None
        self._links = False               # WindowLinks, not made yet
        self._start = None                # the window a sentence starts after (bos)
        self._quick_parts = None          # what _quick reads, gathered on its first call

    # ------------------------------------------------------------------ tokens

    def token_ids(self):
        """Token string -> id of every token the model gives a probability of its own (made
        on first use); tokens without one (pruned unigrams) are left out, and read as
        `<unk>` as kenlm reads them."""
        if self._ids is None:
            vocabulary = self.vocabulary
            ids = {token: i + vocabulary.first for i, token in enumerate(vocabulary.tokens)}
            unlisted = self.model.unlisted_tokens()
            if unlisted is not None:
                for i in np.flatnonzero(unlisted).tolist():
                    ids.pop(vocabulary.token(i), None)
            self._ids = ids
        return self._ids

    def tokens_of(self, sentence):
        """The sentence's tokens: its words (split on whitespace) or its characters."""
        if not isinstance(sentence, str):
            raise InputError(f"a sentence is a string, not {type(sentence).__name__}")
        if self.vocabulary.unit == "word":
            return sentence.split()
        return list(sentence.strip())

    def contains(self, word):
        """Whether the model gives `word` a probability of its own (kenlm's `word in model`):
        `<s>` and `</s>` are in every model, `<unk>` in none."""
        return word in SENTENCE_MARKS or word in self.token_ids()

    def word_id(self, word):
        """The id a word is scored as (`</s>` is the boundary); -1 when it has none."""
        if word == "</s>":
            return BOUNDARY
        found = self.token_ids().get(word)
        if found is not None:
            return found
        return self.unk if self.unk is not None else -1

    # ------------------------------------------------------------------ sentences

    def _scores(self, sentence, bos, eos):
        """ln P and n-gram length of each token (sequences) and the OOV flags (a list)."""
        words = self.tokens_of(sentence)
        get, unknown_id = self.token_ids().get, -1 if self.unk is None else self.unk
        ids = [get(word, unknown_id) for word in words]
        if self.parts:
            logprob, length = self._mixed(words, bos, eos)
            first = 0
        else:
            start = self.start_context(bos)
            logprob, length, _ = self.walk(start + ids + [BOUNDARY] * bool(eos))
            first = len(start)
            logprob, length = logprob[first:], length[first:]
        if unknown_id not in ids:
            return logprob, length, [False] * (len(words) + bool(eos))
        oov = [get(word) is None for word in words] + [False] * bool(eos)
        if self.unk is None:
            skipped = _touches(np.array(oov), first, self.order)
            logprob = np.array(logprob, dtype=np.float64)
            logprob[skipped] = np.nan
            length = np.where(skipped, 0, length)
        return logprob, length, oov

    def _mixed(self, words, bos, eos):
        """An interpolation's ln P per token: each component walks the sentence with its
        own vocabulary and padding (a token it cannot score: probability 0 from it), and
        the weighted probabilities are summed; the n-gram length is the longest any
        component used."""
        logprobs, lengths = [], []
        for part in self.parts:
            get = part.token_ids().get
            missing = -1 if part.unk is None else part.unk
            start = part.start_context(bos)
            ids = [get(word, missing) for word in words] + [BOUNDARY] * bool(eos)
            logprob, length, _ = part.walk(start + ids)
            logprobs.append(np.nan_to_num(logprob[len(start):], nan=-np.inf))
            lengths.append(np.asarray(length[len(start):]))
        return self.model.mix(np.array(logprobs)), np.max(lengths, axis=0)

    def full_scores(self, sentence, bos=True, eos=True):
        """log10 P, n-gram length and OOV flag of each token of the sentence (`</s>` last
        when `eos`), as lists; log10 P is NaN (length 0) where a model without `<unk>`
        leaves a prediction out."""
        logprob, length, oov = self._scores(sentence, bos, eos)
        return (np.asarray(logprob, dtype=np.float64) / LN10).tolist(), \
            [int(n) for n in length], oov

    def _quick(self, sentence, bos, eos):
        """(ln P, tokens scored) of a sentence by the shortest way, WindowLinks.sentence;
        None where it does not apply (a mixture, a model without links, a word without a
        probability, not a string)."""
        quick = self._quick_parts
        if quick is None:
            links = self.links()
            if links is None or self.parts:
                self._quick_parts = quick = ()
            else:
                quick = self._quick_parts = (
                    links.sentence, self.token_ids().get, self.vocabulary.unit == "word",
                    -1 if self.unk is None else self.unk, self._start_window())
        if not quick or type(sentence) is not str:
            return None
        sentence_logprob, get, words, unk, start = quick
        return sentence_logprob(sentence.split() if words else sentence.strip(), get, unk,
                                start if bos else 0, eos)

    def score(self, sentence, bos=True, eos=True):
        """log10 P of the sentence (the sum of its tokens' scores)."""
        quick = self._quick(sentence, bos, eos)
        if quick is not None:
            return quick[0] / LN10
        logprob, _, _ = self._scores(sentence, bos, eos)
        total = math.fsum(logprob)
        if math.isnan(total):
            total = float(np.nansum(logprob))
        return total / LN10

    def perplexity(self, sentence):
        """10 ** (-log10 P / tokens) with both boundaries, `</s>` counted as a token (as
        kenlm's `perplexity`); tokens left out (see the module) are not counted."""
        quick = self._quick(sentence, True, True)
        if quick is not None:
            return math.exp(-quick[0] / quick[1])
        logprob = np.asarray(self._scores(sentence, True, True)[0], dtype=np.float64)
        counted = logprob[~np.isnan(logprob)]
        if not len(counted):    # every prediction left out: NaN, as score_lines says
            return math.nan
        return 10.0 ** (-float(counted.sum()) / LN10 / len(counted))

    # ------------------------------------------------------------------ states

    def start_context(self, bos):
        """The context ids before a sentence: its `<s>` padding, or none (-1)."""
        if bos:
            return [BOUNDARY] * self.pads
        if self.tables is None and self.backoff is None:
            raise OptionError("bos must be True for a neural model: it predicts every token "
                              "from a full context and has no null context")
        return [-1]

    def begin_sentence(self, state):
        """Set `state` to the start of a sentence (kenlm's BeginSentenceWrite)."""
        if self.parts:
            return self._set_parts(state, "begin_sentence")
        self._set(state, self.start_context(True))

    def null_context(self, state):
        """Set `state` to no context at all (kenlm's NullContextWrite)."""
        if self.parts:
            return self._set_parts(state, "null_context")
        self._set(state, self.start_context(False))

    def _set_parts(self, state, how):
        """An interpolation's state: each component's context, side by side."""
        if not isinstance(state, State):
            raise InputError("state must be a bigram State object")
        contexts = []
        for part in self.parts:
            own = State()
            getattr(part, how)(own)
            contexts.append(own.context)
        state.context = tuple(contexts)

    def base_score(self, state, word, out_state):
        """log10 P(word | state), and `out_state` set to the state after it (kenlm's
        BaseScore); -inf for a word a model without `<unk>` has no probability for."""
        context = list(state.context) if isinstance(state, State) else None
        if context is None or not isinstance(out_state, State):
            raise InputError("in_state and out_state must be bigram State objects")
        if not isinstance(word, str):
            raise InputError(f"a word is a string, not {type(word).__name__}")
        if self.parts:
            return self._base_score_parts(context, word, out_state)
        tokens = context + [self.word_id(word)]
        logprob, _, context_length = self.walk(tokens)
        out_state.context = self._kept(tokens, context_length[-1])
        value = logprob[-1] / LN10
        return float("-inf") if math.isnan(value) else float(value)

    def _base_score_parts(self, contexts, word, out_state):
        """BaseScore of an interpolation: each component from its own context, mixed."""
        values, following = [], []
        for part, context in zip(self.parts, contexts):
            own, after = State(), State()
            own.context = context
            values.append(part.base_score(own, word, after) * LN10)
            following.append(after.context)
        out_state.context = tuple(following)
        mixed = float(self.model.mix(np.array(values)[:, None])[0])
        return float("-inf") if math.isnan(mixed) else mixed / LN10

    def _set(self, state, context):
        if not isinstance(state, State):
            raise InputError("state must be a bigram State object")
        tokens = list(context)
        _, _, context_length = self.walk(tokens)
        state.context = self._kept(tokens, context_length[-1])

    def _kept(self, tokens, length):
        """The last `length` tokens (those the next word's window can reach back to)."""
        if self.tables is None and self.backoff is None:
            return tuple(tokens[-(self.order - 1):])   # a neural model's context
        return tuple(tokens[len(tokens) - int(length):])

    # ------------------------------------------------------------------ the walk

    def walk(self, tokens):
        """For every position of `tokens` (a list of ids, -1 for none): ln P of the token
        given those before it, the length of the longest window listed that ends there,
        and of the longest one that can be a context (at most order - 1): three
        sequences."""
        if self.tables is not None:
            links = self.links()
            if links is not None:
                logprobs, windows, _ = links.walk(tokens, 0)
                level, top = links.level, self.order - 1
                lengths = [level[m] for m in windows]
                return logprobs, lengths, [min(n, top) for n in lengths]
            return self._walk_tables(np.array(tokens, dtype=np.int64))
        if self.backoff is not None:
            return self._walk_backoff(np.array(tokens, dtype=np.int64))
        return self._walk_neural(np.array(tokens, dtype=np.int64))

    def links(self):
        """The model's WindowLinks (made on first use), or None: a model without query
        tables, or with more than TABLE_WINDOWS windows of 2+ tokens."""
        if self._links is False:
            tables = self.tables
            count = 0 if tables is None else sum(len(tables.keys[k])
                                                 for k in range(2, self.order + 1))
            self._links = None
            if tables is not None and count <= TABLE_WINDOWS:
                try:
                    self._links = WindowLinks(tables, count <= DICT_WINDOWS)
                except ValueError:   # not suffix-closed: the level-by-level walk is exact
                    pass
        return self._links

    def _start_window(self):
        """The window a sentence starts after: that of its `<s>` padding."""
        if self._start is None:
            _, _, self._start = self.links().walk([BOUNDARY] * self.pads, 0)
        return self._start

    def _walk_tables(self, tokens):
        """query.QueryTables (or a query file's trie), level by level (models too large for
        WindowLinks): ln P = adj of the longest window + B of the longest context one
        position earlier."""
        tables, order = self.tables, self.order
        known = tokens >= 0
        safe = np.where(known, tokens, 0)
        adj = np.where(known, tables.values("adj", 1, safe), np.nan)
        length = known.astype(np.int64)
        if order > 1:
            below = np.where(known, tables.values("below", 1, safe), 0.0)
        else:
            below = np.zeros(len(tokens))
        context = length.copy() if order > 1 else np.zeros(len(tokens), np.int64)
        # B of the window of k-1 tokens ending at each position (where listed): a trie
        # stores ln P, and a window's adj is its ln P less its parent's B.
        window_below = below.copy()
        for k, at, rows in self._windows(tables.find, tokens):
            adj[at] = tables.window_adj(k, rows, window_below[at - 1])
            length[at] = k
            if k < order:
                window_below = np.zeros(len(tokens))
                window_below[at] = tables.values("below", k, rows)
                below[at] = window_below[at]
                context[at] = k
        adj[1:] += below[:-1]
        return adj, length, context

    def _windows(self, find, tokens):
        """(k, positions, rows) for k = 2..order: where the window of k tokens ending at a
        position is listed, and its row at level k; `find(k, parent rows, tokens)` gives
        rows (-1 where absent). A window is looked for only where its first k-1 tokens
        are listed (a level's keys are its parent's row and its last token)."""
        rows = np.where(tokens >= 0, tokens, -1)     # level 1's rows are the token ids
        for k in range(2, self.order + 1):
            at = np.flatnonzero((rows[:-1] >= 0) & (tokens[1:] >= 0)) + 1
            found = find(k, rows[at - 1], tokens[at]) if len(at) else at
            hit = found >= 0
            at, found = at[hit], np.asarray(found[hit], dtype=np.int64)
            rows = np.full(len(tokens), -1, dtype=np.int64)
            rows[at] = found
            yield k, at, found     # (none found: the back-off walk still adds level k-1's)
            if not len(at):
                return

    def _walk_backoff(self, tokens):
        """A BackoffModel whose tables cannot be made (a back-off weight of zero): the
        back-off rule level by level, as scoring.BackoffScorer applies it."""
        backoff, order = self.backoff, self.order
        known = tokens >= 0
        safe = np.where(known, tokens, 0)
        result = np.where(known, backoff.logprob[1][safe], np.nan)
        if self.unk is not None:
            unlisted = known & np.isnan(result)
            result[unlisted] = backoff.logprob[1][self.unk]
        length = known.astype(np.int64)
        context = length.copy() if order > 1 else np.zeros(len(tokens), np.int64)
        rows_below = np.where(known, tokens, -1)
        for k, at, rows in self._windows(lambda k, parents, last: _sorted_rows(
                backoff.index.level(k).keys, parents * self.size + last), tokens):
            # Every position whose k-1 context is listed picks up that context's back-off,
            # then takes the window's own value where the window is listed with one.
            has_context = np.flatnonzero(rows_below[:-1] >= 0) + 1
            result[has_context] += backoff.logbackoff[k - 1][rows_below[has_context - 1]]
            value = backoff.logprob[k][rows]
            listed = ~np.isnan(value)
            result[at[listed]] = value[listed]
            length[at[listed]] = k
            if k < order:
                context[at] = k
            rows_below = np.full(len(tokens), -1, dtype=np.int64)
            rows_below[at] = rows
        return result, length, context

    def _walk_neural(self, tokens):
        """A model without a back-off form: its distribution after each full context."""
        model, order, n = self.model, self.order, len(tokens)
        result = np.full(n, np.nan)
        at = np.arange(order - 1, n)
        if len(at):
            windows = tokens[at[:, None] + np.arange(-(order - 1), 1)]
            known = (windows >= 0).all(axis=1)
            at, windows = at[known], windows[known]
            powers = self.size ** np.arange(order - 2, -1, -1, dtype=np.int64)
            states = windows[:, :-1] @ powers
            if len(at):
                probabilities = model.next_token_probabilities(states)
                picked = probabilities[np.arange(len(at)), windows[:, -1]].astype(np.float64)
                with np.errstate(divide="ignore"):
                    result[at] = np.log(picked)
        length = np.where(np.isnan(result), 0, order)
        return result, length, np.full(n, order - 1)


def _sorted_rows(keys, queries):
    """Rows of `queries` in sorted `keys`; -1 where absent."""
    if not len(keys):
        return np.full(len(queries), -1, dtype=np.int64)
    rows = np.minimum(np.searchsorted(keys, queries), len(keys) - 1)
    return np.where(keys[rows] == queries, rows, -1)


def _touches(unknown, first, order):
    """Tokens (after `first` context positions) whose window of at most `order` tokens holds
    an unknown one, as evaluation.touches_unknown leaves them out."""
    where = np.arange(len(unknown))
    last = np.maximum.accumulate(np.where(unknown, where, -1))
    reach = np.minimum(where + first + 1, order)
    return (last >= 0) & (last > where - reach)


class WindowLinks:
    """The windows of a query.QueryTables (ids as it numbers them: 0 the empty window, level
    1 token + 1, then level by level) linked for a walk from plain Python: `find(key)`,
    key = window id * V + token, gives the id of the window one token longer (None if it
    is not listed); `suffix[id]` is the window without its oldest token, `level[id]` its
    length, read through memoryviews with adj and B by window id.

    A walk keeps the longest listed window ending at the last token that can be a
    context (at most order - 1 tokens). The next token's window is the longest listed
    extension of it or of one of its suffixes: the index holds every suffix of a listed
    window, so the first one found, trying the longest context first, is the longest.
    ln P = adj of that window + B of the context it was tried from (query.py)."""

    def __init__(self, tables, as_dict):
        order, size, first = tables.order, tables.size, tables.first
        total = first[order] + tables.rows[order]
        width = np.int32 if total < 2 ** 31 else np.int64
        suffix = np.zeros(total, dtype=width)
        level = np.zeros(total, dtype=np.int8)
        level[1:size + 1] = 1
        keys, values = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for k in range(2, order + 1):
            parents, last = np.divmod(tables.keys[k], size)
            parents += first[k - 1]
            ids = np.arange(first[k], first[k] + len(parents))
            level[ids] = k
            if k == 2:
                suffix[ids] = last + 1
            else:
                # The suffix of (parent, token) is (suffix of the parent, token).
                wanted = (suffix[parents].astype(np.int64) - first[k - 2]) * size + last
                rows = np.searchsorted(tables.keys[k - 1], wanted)
                if len(rows) and (rows.max() >= len(tables.keys[k - 1]) or
                                  (tables.keys[k - 1][rows] != wanted).any()):
                    raise ValueError("the windows do not hold every suffix of their own")
                suffix[ids] = rows + first[k - 1]
            keys.append(parents * size + last)
            values.append(ids)
        keys, values = np.concatenate(keys), np.concatenate(values)
        self.size, self.top = size, order
        self.suffix = memoryview(suffix).cast("B").cast(suffix.dtype.char)
        self.level = memoryview(level).cast("B").cast("b")
        self.adj = memoryview(tables._global("adj", order)).cast("B").cast("d")
        self.below = memoryview(tables._global("below", order)).cast("B").cast("d")
        self._arrays = (suffix, level)    # the memoryviews' owners
        if as_dict:
            self.find = dict(zip(keys.tolist(), values.tolist())).get
        else:
            self.find = OpenTable(keys, values).get

    def walk(self, tokens, window):
        """ln P of each token (a list of ids; -1 a token without one: NaN, and the walk
        starts again from nothing) after the context `window` (an id, 0 for none); the
        longest listed window ending at each token; and the context window after the last
        one."""
        find, suffix, level = self.find, self.suffix, self.level
        adj, below, size, top = self.adj, self.below, self.size, self.top
        logprobs, windows = [], []
        for token in tokens:
            if token < 0:
                logprobs.append(math.nan)
                windows.append(0)
                window = 0
                continue
            context = window
            while context:
                found = find(context * size + token)
                if found is not None:
                    break
                context = suffix[context]
            else:
                found = token + 1
            logprobs.append(adj[found] + below[window])
            windows.append(found)
            window = found if level[found] < top else suffix[found]
        return logprobs, windows, window


    def sentence(self, tokens, get, unknown, window, eos):
        """(ln P, predictions) of a sentence's tokens (strings; their ids by `get`, else
        `unknown`) and `</s>` when `eos`, after the context `window`: walk's sum, in one
        pass (the per-call path of `score`); None if a token has no id (unknown -1)."""
        find, suffix, level = self.find, self.suffix, self.level
        adj, below, size, top = self.adj, self.below, self.size, self.top
        total = 0.0
        for word in tokens:
            token = get(word, unknown)
            if token < 0:
                return None
            context = window
            while context:
                found = find(context * size + token)
                if found is not None:
                    break
                context = suffix[context]
            else:
                found = token + 1
            total += adj[found] + below[window]
            window = found if level[found] < top else suffix[found]
        if eos:
            found = self._end(window)
            total += adj[found] + below[window]
        return total, len(tokens) + bool(eos)

    def _end(self, window):
        """The longest listed window of `</s>` after the context `window`."""
        while window:
            found = self.find(window * self.size + BOUNDARY)
            if found is not None:
                return found
            window = self.suffix[window]
        return BOUNDARY + 1


class OpenTable:
    """key -> value for int64 keys and values (keys >= 0), read from plain Python: open
    addressing in one int64 array of (key + 1, value) pairs (0: an empty slot), each
    placed by linear probing from the home slot of key + 1, read through a memoryview
    (a probe touches one cache line, where a dict costs about 100 bytes a key and
    several misses a lookup at millions of keys)."""

    def __init__(self, keys, values):
        keys = np.asarray(keys, dtype=np.int64) + 1
        self.bits = max(2 * len(keys) - 1, 1).bit_length()
        hashed = keys.astype(np.uint64) * np.uint64(_HASH_MULTIPLIER)
        home = (hashed >> np.uint64(64 - self.bits)).astype(np.int64)
        by_home = np.argsort(home, kind="stable")
        home = home[by_home]
        step = np.arange(len(keys), dtype=np.int64)
        slot = np.maximum.accumulate(home - step) + step if len(keys) else step
        # Probing that runs past the last home slot goes on into a tail, and an empty
        # slot always ends the table.
        slots = max(int(slot[-1]) + 2 if len(keys) else 1, 1 << self.bits)
        self.pairs = np.zeros(2 * slots, dtype=np.int64)
        self.pairs[2 * slot] = keys[by_home]
        self.pairs[2 * slot + 1] = np.asarray(values, dtype=np.int64)[by_home]
        self.view = memoryview(self.pairs).cast("B").cast("q")

    def get(self, key):
        """The value stored for `key`, or None."""
        view, key = self.view, key + 1
        slot = ((key * _HASH_MULTIPLIER) & _MASK) >> (64 - self.bits) << 1
        found = view[slot]
        while found != key:
            if not found:
                return None
            slot += 2
            found = view[slot]
        return view[slot + 1]
