"""Query tables whose levels are columns on disk (a model estimated within a memory
budget, ngrams.streaming_kneser_ney): windows found and values read within a budget."""

import numpy as np

from bigram.ngrams.columns import ColumnFinder, ColumnGather
from bigram.ngrams.query import QueryTables


class ColumnTables(QueryTables):
    """QueryTables over columns: `keys[k]`, `adj[k]`, `below[k]` are columns.Column. Each
    search or gather gets `memory` bytes and lets them go when it is done (score_index
    asks each level once), so the tables hold nothing between calls."""

    def __init__(self, order, size, padding, keys, adj, below, memory, unk_row=None):
        super().__init__(order, size, padding, keys, adj, below)
        self.memory = memory
        self.unk_row = unk_row

    def find(self, k, parents, tokens):
        queries = np.asarray(parents, dtype=np.int64) * self.size
        queries += tokens
        return ColumnFinder(self.keys[k], self.memory, self.span(k)).find(queries)

    def values(self, what, k, rows):
        gather = ColumnGather(getattr(self, what)[k], self.memory)
        values = gather(np.asarray(rows, dtype=np.int64))
        if what == "adj" and k == 1 and self.unk_row is not None:
            # A token without a unigram probability (never seen in training, or pruned) is
            # read as `<unk>`, as BackoffModel scores it.
            unlisted = np.isnan(values)
            if unlisted.any():
                values[unlisted] = gather(np.array([self.unk_row]))[0]
        return values

    def window_adj(self, k, rows, parent_below):
        return self.values("adj", k, rows)

    def level_values(self, what, k):
        """adj or B of every window of level k (read whole)."""
        return getattr(self, what)[k].load()

    def level_keys(self, k):
        """Level k's sorted keys (read whole)."""
        return self.keys[k].load()

    def score(self, text):
        """Scoring a padded text reads whole levels (QueryTables.score); made in memory."""
        return self.in_memory().score(text)

    def in_memory(self):
        """The same tables read whole into memory."""
        load = [None] + [None if c is None else c.load() for c in self.adj[1:]]
        return QueryTables(self.order, self.size, self.padding,
                           [None, None] + [self.keys[k].load() for k in range(2, self.order + 1)],
                           load, [None] + [c.load() for c in self.below[1:]])
