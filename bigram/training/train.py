"""Training a model end to end: read and split the data, fit, evaluate every split."""

from dataclasses import dataclass

import numpy as np

from bigram.ngrams.training_data import DEFAULT_SPLIT_SEED, TrainingData, load_training_data
from bigram.errors import OptionError
from bigram.models.evaluation import evaluate_splits
from bigram.formats.modelfile import SavedModel, build_meta
from bigram.models.language_models import CountModel, NeuralModel, _check_training_options


@dataclass
class TrainingResult:
    """A trained model ready to save, with its data and a loss report per split."""

    saved: SavedModel
    data: TrainingData
    reports: list


def check_options(kind, smoothing=None, steps=100, lr=50.0, reg=0.01, method="add-k"):
    """Reject bad settings before any data is read."""
    if kind == CountModel.kind:
        from bigram.ngrams.smoothing import check

        check(method, smoothing)
    elif kind == NeuralModel.kind:
        _check_training_options(steps, lr, reg)
    else:
        raise OptionError(f"unknown model kind {kind!r}: choose counts or neural")


def padding_for(kind, method):
    """How items are padded: modified Kneser-Ney reads sentences as KenLM does (one <s>);
    every other model pads N-1 boundaries, as the lecture does."""
    return "sentence" if kind == CountModel.kind and method == "modified-kneser-ney" \
        else "makemore"


def train_model(files, kind="counts", smoothing=None, steps=100, lr=50.0, reg=0.01,
                seed=2147483647, test_size=None, split_seed=DEFAULT_SPLIT_SEED,
                encoding_errors="strict", progress=None, block_bytes=None, method="add-k",
                order=2, split=None, unit="char", min_count=None, max_vocab=None,
                prune=None, discounts=None, dask=None, dask_workers=None, dask_progress=None,
                memory=None, temp_dir=None, budget_progress=None, budget_note=None):
    """Train a `kind` model on the files (names.txt if none) and evaluate it on each split.

    With `dask` (a scheduler address, or 'local' for a LocalCluster of
    `dask_workers` processes) the counting runs on a Dask cluster, in blocks of
    `block_bytes` (see bigram.cluster.dask_counting), and `dask_progress(done, total,
    dashboard)` hears of finished blocks; the model is the one of one process.

    `memory` (bytes; default half of physical memory) bounds counting: a text too large
    for the in-memory counter is counted with sorted runs spilled under `temp_dir`
    (bigram.ngrams.budgeted_training_data), `budget_note(text)` and
    `budget_progress(stage, done, total)` hearing how it goes; the model is the same.
    """
    check_options(kind, smoothing, steps, lr, reg, method)
    if (prune or discounts) and (kind != CountModel.kind or method != "modified-kneser-ney"):
        raise OptionError("--prune and --discounts belong to --smoothing-method "
                          "modified-kneser-ney")
    if prune:
        from bigram.ngrams.kneser_ney import check_prune

        check_prune(prune, order)
    if order < 2:
        raise OptionError(f"--order must be 2 or more, not {order}")
    if test_size is not None and test_size < 0:
        raise OptionError(f"--test-size must be 0 or more, not {test_size}")
    if dask is not None:
        from bigram.cluster.dask_counting import load_on_cluster

        data = load_on_cluster(files, dask, dask_workers, test_size, split_seed, encoding_errors,
                               order, split, unit, min_count, max_vocab,
                               padding_for(kind, method), block_bytes, dask_progress)
        return fit(data, kind, smoothing, steps, lr, reg, seed, method, progress, prune,
                   discounts)
    budgeted = _budget(files, memory, temp_dir, order, unit, padding_for(kind, method))
    if budgeted is not None:
        from bigram.ngrams.budgeted_training_data import load_training_data_budgeted

        data = load_training_data_budgeted(
            files, budgeted, temp_dir, test_size, split_seed, encoding_errors, order=order,
            split=split, unit=unit, min_count=min_count, max_vocab=max_vocab,
            padding=padding_for(kind, method), progress=budget_progress, note=budget_note)
        return fit(data, kind, smoothing, steps, lr, reg, seed, method, progress, prune,
                   discounts)
    data = load_training_data(files, test_size, split_seed, encoding_errors, block_bytes,
                              order=order, split=split, unit=unit, min_count=min_count,
                              max_vocab=max_vocab, padding=padding_for(kind, method),
                              keep_tokens=False)   # counted once; only tuning counts again
    data.release_tokens()
    return fit(data, kind, smoothing, steps, lr, reg, seed, method, progress, prune, discounts)


def _budget(files, memory, temp_dir, order, unit, padding):
    """The budget (bytes) to count within, or None to count in memory: when the text is
    too large for the budget, or comes from stdin under an explicit --memory. Bigrams of
    characters (counted as byte pairs) need no memory per token and stay in memory."""
    from bigram.ngrams.budgeted_training_data import text_bytes
    from bigram.text.sources import resolve_sources
    from bigram.training.budget import check_temp_dir, default_budget, fits_in_memory

    check_temp_dir(temp_dir)
    if unit == "char" and order == 2 and padding == "makemore":
        return None
    budget = default_budget() if memory is None else int(memory)
    size = text_bytes(resolve_sources(files))
    if fits_in_memory(size, budget) or (size == 0 and memory is None):
        return None
    return budget


def fit(data, kind="counts", smoothing=None, steps=100, lr=50.0, reg=0.01, seed=2147483647,
        method="add-k", progress=None, prune=None, discounts=None):
    """A model of `kind` on loaded training data, evaluated on each of its splits."""
    if kind == CountModel.kind:
        model = CountModel(data.vocabulary, data.counts["train"], smoothing, method,
                           discounts=discounts, prune=prune,
                           token_rank=data.token_rank if method == "modified-kneser-ney"
                           else None)
    else:
        from bigram.models.language_models import check_neural_budget

        check_neural_budget(len(data.vocabulary), data.order)
        model = NeuralModel.fit(data.vocabulary, data.counts["train"], steps, lr, reg, seed,
                                on_step=progress)
    saved = SavedModel(model, data.counts, build_meta(model, data), data.train_items)
    return TrainingResult(saved, data, evaluate_splits(saved))


def best_bigram_loss(index):
    """The lowest loss any model of the index's order reaches on the text it counts (the
    training split's): unsmoothed counts."""
    top = index.level(index.order)
    totals = np.bincount(index.parent(index.order), weights=top.count)
    seen = top.count > 0
    share = top.count[seen] / totals[index.parent(index.order)[seen]]
    return float(-(top.count[seen] * np.log(share)).sum() / top.count[seen].sum())
