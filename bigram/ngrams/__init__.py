"""N-grams: counting and estimation, as the stages of KenLM's lm/builder.

Data flows `training_data` (read, split, count: the corpus_count stage) -> `counting`
(token ids to the `index`, a sorted trie of every window) -> `smoothing` (add-k,
Witten-Bell, Kneser-Ney) or `kneser_ney` (modified Kneser-Ney exactly as lmplz) ->
`backoff` (ln P of every window and back-off weights: what every count model queries)
-> `query` and `lookup` (query tables and hash/sorted lookups that score text fast).
"""
