"""Training runs end to end, on the settings of bigram.settings: `train` (read, count, fit,
evaluate every split), `tune` (a grid chosen on dev, reported once on test), `merge`
(count models of shards summed)."""
