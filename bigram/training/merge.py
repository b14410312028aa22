"""Merging count models trained on shards of a corpus: counts add up.

Shards may have seen different tokens; the merged vocabulary is their union
and every index is renamed into it before summing (level by level, see
ngrams.merge_indexes), so the result equals training on the concatenated
shards (with the same split settings per shard: `--test-size 0` gives exactly
the model of the whole). Shards with `<unk>` merge their `<unk>` counts; a
token that one shard mapped to `<unk>` and another kept stays apart, so with
vocabulary control the merge is exact only when the shards kept the same tokens.
"""

from pathlib import Path

import numpy as np

from bigram.errors import BigramError, OptionError
from bigram.formats.saved import FORMAT, FORMAT_VERSION, SavedModel, stamp, tokens_of
from bigram.models.language_models import CountModel
from bigram.ngrams.index import merge_indexes
from bigram.ngrams.smoothing import check
from bigram.text.vocabulary import Vocabulary


def _mapping(vocabulary, union):
    """Each token id of `vocabulary` as an id of the union vocabulary."""
    stoi = {t: i + union.first for i, t in enumerate(union.tokens)}
    where = np.zeros(len(vocabulary), dtype=np.int64)
    if vocabulary.unk:
        where[1] = union.unk_id
    where[vocabulary.first:] = [stoi[t] for t in vocabulary.tokens]
    return where


def check_distinct_files(paths):
    """Refuse a model file given twice: its counts would be added to themselves."""
    seen = {}
    for path in paths:
        where = Path(path).resolve()
        if where in seen:
            same = "is given twice" if str(path) == str(seen[where]) else \
                f"and {seen[where]} are the same file"
            raise OptionError(f"{path} {same}: merging would count its training text twice; "
                              "give each shard once")
        seen[where] = path


def shared_data(saved_models, labels):
    """Pairs of labels of shards trained on the same bytes (the same sha256): their merge
    counts that text twice, as training on the two copies laid end to end would."""
    first, pairs = {}, []
    for saved, label in zip(saved_models, labels):
        digest = (saved.meta.get("data") or {}).get("sha256")
        if digest and digest in first:
            pairs.append((first[digest], label))
        elif digest:
            first[digest] = label
    return pairs


def merge(saved_models, labels, smoothing=None):
    """One count model from several; `smoothing` defaults to the shards' common value."""
    if len(saved_models) < 2:
        raise OptionError("merge needs at least two model files")
    for saved, label in zip(saved_models, labels):
        if not isinstance(saved.model, CountModel):
            raise BigramError(f"{label} is a {saved.model.kind} model; only count models "
                              "can be merged (their counts add up, weights do not)")
    methods = {saved.model.method for saved in saved_models}
    if len(methods) > 1:
        raise OptionError(f"the models use different smoothing methods "
                          f"({', '.join(sorted(methods))})")
    method = methods.pop()
    check(method, smoothing)
    # Kneser-Ney re-estimates its discount from the merged counts unless one is given.
    if smoothing is None and method != "kneser-ney":
        values = {saved.model.smoothing for saved in saved_models}
        if len(values) > 1:
            listed = ", ".join(str(v) for v in sorted(values))
            raise OptionError(f"the models use different smoothing ({listed}); choose one "
                              "with --smoothing")
        smoothing = values.pop()
    orders = {saved.model.order for saved in saved_models}
    if len(orders) > 1:
        listed = ", ".join(str(o) for o in sorted(orders))
        raise OptionError(f"the models have different orders ({listed})")
    units = {saved.vocabulary.unit for saved in saved_models}
    if len(units) > 1:
        raise OptionError("the models mix units (a char model and a word model); their "
                          "counts do not add up")
    union = Vocabulary(set().union(*(s.vocabulary.tokens for s in saved_models)), units.pop(),
                       unk=any(s.vocabulary.unk for s in saved_models))
    mappings = [_mapping(s.vocabulary, union) for s in saved_models]
    model_counts = merge_indexes([s.model.counts for s in saved_models], mappings, len(union))
    splits = sorted({split for s in saved_models for split in s.data_counts},
                    key=("train", "dev", "test").index)
    data_counts = {}
    for split in splits:
        having = [i for i, s in enumerate(saved_models) if split in s.data_counts]
        data_counts[split] = merge_indexes([saved_models[i].data_counts[split] for i in having],
                                           [mappings[i] for i in having], len(union))
    model = CountModel(union, model_counts, smoothing, method)
    items = {split: sum(s.meta.get("data", {}).get("items", {}).get(split, 0)
                        for s in saved_models) for split in splits}
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "kind": model.kind,
        "order": model.order, "unit": union.unit, "unk": union.unk,
        "padding": model_counts.padding, "vocabulary_size": len(union),
        "hyperparameters": model.hyperparameters(),
        "data": {
            "sources": [src for s in saved_models for src in s.meta.get("data", {}).get(
                "sources", [])],
            "sha256": None,
            "shards": [{"file": label, "sha256": s.meta.get("data", {}).get("sha256")}
                       for s, label in zip(saved_models, labels)],
            "bytes": sum(int(s.meta.get("data", {}).get("bytes", 0)) for s in saved_models),
            "items": items,
            "tokens": {split: tokens_of(t) for split, t in data_counts.items()},
        },
        "split": {"method": "merged", "shards": [s.meta.get("split") for s in saved_models]},
    }
    kept = [s.train_items for s in saved_models]
    train_items = None if any(k is None for k in kept) else "\n".join(k for k in kept if k)
    return SavedModel(model, data_counts, stamp(meta), train_items)
