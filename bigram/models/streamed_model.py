"""A count model estimated within a memory budget (over a DiskIndex):
its counts and query tables are columns on disk until the model file is written.

It answers what training asks of a model (the losses of its splits, its metadata, its
arrays for the model file) within the budget. Anything else (sampling, the back-off form)
reads the counts into memory and estimates them there, as a model file's counts are read.
"""

import numpy as np

from bigram.models.language_models import CountModel
from bigram.ngrams.column_tables import ColumnTables
from bigram.ngrams.index import BOUNDARY


class StreamedCountModel(CountModel):
    """CountModel whose counts (`counts`, a DiskIndex) and query tables (a
    streaming_kneser_ney.StreamedEstimate) are on disk; `method` and the rest as
    CountModel's."""

    def __init__(self, vocabulary, counts, streamed, memory, method="modified-kneser-ney",
                 smoothing=None, prune=None, discounts=None, token_rank=None):
        super().__init__(vocabulary, counts, smoothing, method, discounts=discounts,
                         prune=prune, token_rank=token_rank)
        self.streamed = streamed
        self._discounts_used = streamed.discounts
        keys = [None, None] + [counts.level(k).keys for k in range(2, counts.order + 1)]
        # What training asks (the held-out splits' losses) is answered within the budget.
        self.column_tables = ColumnTables(counts.order, counts.size, counts.padding, keys,
                                          streamed.adj, streamed.below, memory,
                                          vocabulary.unk_id)

    @property
    def padding(self):
        return self.counts.padding

    def score_index(self, text):
        return self.column_tables.score_index(text)

    def query_tables(self):
        """The query tables read whole into memory (for scoring text after training; not
        bounded by the budget)."""
        if not hasattr(self, "_query_tables"):
            self._query_tables = self.column_tables.in_memory()
        return self._query_tables

    def unlisted_tokens(self):
        if not self.vocabulary.unk:
            return None
        unlisted = np.isnan(self.streamed.adj[1].load())
        unlisted[BOUNDARY] = False
        return unlisted if unlisted.any() else None

    @property
    def estimate(self):
        """The in-memory estimate of the counts read whole (not bounded by the budget)."""
        if self._estimate is None:
            in_memory = CountModel(self.vocabulary, self.counts.in_memory(), None, self.method,
                                   discounts=self.discounts, prune=self.prune,
                                   token_rank=self.token_rank)
            self._estimate = in_memory.estimate
            self._memory_counts = in_memory.counts
        return self._estimate

    @property
    def backoff(self):
        if self._backoff is None:
            from bigram.ngrams.backoff import BackoffModel

            est = self.estimate
            self._backoff = BackoffModel(self._memory_counts, est.logprob, est.logbackoff)
            self._backoff.unk_row = self.vocabulary.unk_id
        return self._backoff

    def arrays(self):
        out = self.counts.arrays("counts_")
        if self.token_rank is not None:
            out["token_rank"] = np.asarray(self.token_rank, dtype=np.int64)
        out.update({f"query_{k}_adj": self.streamed.adj[k] for k in range(1, self.order + 1)})
        out.update({f"query_{k}_below": self.streamed.below[k] for k in range(1, self.order)})
        return out
