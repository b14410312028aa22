"""A model read from a query file (formats/query_file.py): its trie mapped, not loaded.

Scoring (`score`, `score --file`, `eval` on files) asks the trie (ngrams/trie.py)
for the windows the text holds and touches only their pages. Sampling at
temperature 1 walks the back-off chain over the trie (trie_chain.py), making
each context's distribution when a draw first needs it, so it too reads only
what it touches. What needs every context's full distribution (a model small
enough for sampling.TableChain, another temperature) makes the whole model into
a BackoffModel in memory (keys, suffix links found by lookups, ln P and ln
back-off from adj and B), as loading a model file does; states are numbered
alike both ways.
"""

import numpy as np

from bigram.errors import ModelFileError, OptionError
from bigram.models.language_models import BackoffSampling
from bigram.ngrams.index import BOUNDARY, Level, NgramIndex


class QueryFileModel(BackoffSampling):
    """A back-off model whose query tables are a mapped trie (trie.TrieTables)."""

    kind = "query"

    def __init__(self, vocabulary, tables, meta, source=""):
        super().__init__(vocabulary, tables.order)
        self.tables, self.meta, self.source = tables, meta, source
        self._backoff = self._chain = None

    @property
    def padding(self):
        return self.tables.padding

    def query_tables(self):
        """The mapped trie, for score --file."""
        return self.tables

    def score_index(self, text):
        return self.tables.score_index(text)

    def unlisted_tokens(self):
        """Tokens without a unigram probability, when the model has `<unk>` to read them as."""
        if not self.vocabulary.unk:
            return None
        unlisted = np.isnan(np.asarray(self.tables.adj[1]))
        unlisted[BOUNDARY] = False
        return unlisted if unlisted.any() else None

    def hyperparameters(self):
        return dict(self.meta.get("hyperparameters") or {})

    def describe(self):
        quantized = f", quantized to {self.meta['quantize']} bits" \
            if self.meta.get("quantize") else ""
        return f"query file {self.source}{quantized}"

    def arrays(self):
        raise OptionError("a query file cannot be saved as a model file; convert the model "
                          "file it was made from again")

    # ------------------------------------------------------------------ sampling

    def trie_chain(self):
        """The sampler over the trie (trie_chain.TrieChain), made once: it keeps the contexts
        it has made and the suffixes of the states it has met. None once the model has
        been made in memory (then sampled as a model file's is)."""
        if self._backoff is not None:
            return None
        if self._chain is None:
            from bigram.models.trie_chain import TrieChain

            self._chain = TrieChain(self.tables, self.source)
        return self._chain

    def start_state(self):
        if self._backoff is not None:
            return self._backoff.start_state()
        return self.trie_chain().start_state(self.padding)

    def advance(self, states, tokens):
        if self._backoff is not None:
            return self._backoff.advance(states, tokens)
        return self.trie_chain().advance(states, tokens)

    def n_states(self):
        """States as BackoffModel numbers them (the empty context, then levels 1 .. N-1)."""
        return 1 + sum(self.tables.rows[1:self.order])

    def boundary_bound(self):
        """1 (no bound) until the model is in memory: a tighter bound needs every window
        ending in the boundary, and the sampler only tries more starts without one."""
        if self._backoff is not None:
            return self._backoff.boundary_bound()
        return 1.0

    @property
    def backoff(self):
        """The whole model as a BackoffModel in memory, made on first use."""
        if self._backoff is None:
            self._backoff = backoff_of(self.tables, self.source)
            self._backoff.unk_row = self.vocabulary.unk_id
        return self._backoff


def backoff_of(tables, source="the query file"):
    """A BackoffModel equal to query tables: ln b(c) = B(c) - B(suffix of c), ln P as
    stored. Suffix links are found level by level (the suffix's parent is the
    parent's suffix); a damaged file's missing suffix reads as row 0."""
    from bigram.ngrams.backoff import BackoffModel

    order, size = tables.order, tables.size
    levels = [None, Level(np.arange(size, dtype=np.int64), np.zeros(size, np.int32),
                          np.zeros(size, np.int32))]
    below = [None, tables.level_values("below", 1)]
    logprob = [None, tables.level_values("adj", 1)]
    logbackoff = [None, below[1].copy()]
    for k in range(2, order + 1):
        keys = tables.level_keys(k)
        parent, token = keys // size, keys % size
        if k == 2:
            suffix = token
        else:
            suffix = tables.find(k - 1, levels[k - 1].suffix[parent], token)
            np.maximum(suffix, 0, out=suffix)
        levels.append(Level(keys, suffix.astype(np.int32), np.zeros(len(keys), np.int32)))
        logprob.append(tables.level_logprob(k))
        if k < order:
            below.append(tables.level_values("below", k))
            logbackoff.append(below[k] - below[k - 1][suffix])
    _check_values(logprob, logbackoff, source)
    index = NgramIndex(order, size, levels, tables.padding)
    return BackoffModel(index, logprob, logbackoff)


# ln b beyond this (a back-off weight of e**1000) is no model's.
MAX_LOG_BACKOFF = 1000.0


def _check_values(logprob, logbackoff, source):
    """Probabilities (at most 1, a float32 rounding over allowed) and finite back-off
    weights, before sampling draws from them: the large tables of a large file are not
    checked against their checksums when it is opened."""
    def damaged(detail):   # the wording of formats.npzfile.damaged, a part above this one
        return ModelFileError(f"{source} is damaged: {detail}")

    for k in range(1, len(logprob)):
        values = logprob[k]
        with np.errstate(invalid="ignore"):
            bad = values > 1e-4 if k == 1 else ~(values <= 1e-4)
        if bad.any():
            raise damaged(f"its tables give probabilities above 1 or not numbers at level {k}")
    for k in range(1, len(logbackoff)):
        if not (np.abs(logbackoff[k]) < MAX_LOG_BACKOFF).all():
            raise damaged(f"its tables give back-off weights out of range at level {k}")
