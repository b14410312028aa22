"""Training a model end to end: read and split the data, fit, evaluate every split."""

import tempfile
from dataclasses import dataclass

import numpy as np

from bigram.errors import OptionError
from bigram.formats.saved import SavedModel, build_meta
from bigram.limits import check_seed
from bigram.models.evaluation import evaluate_splits
from bigram.models.language_models import (
    CountModel,
    NeuralModel,
    _check_training_options,
)
from bigram.ngrams.training_data import TrainingData, load_training_data


@dataclass
class TrainingResult:
    """A trained model ready to save, with its data and a loss report per split."""

    saved: SavedModel
    data: TrainingData
    reports: list


def check_settings(settings):
    """Reject bad settings before any data is read (every check of every part, in one place)."""
    estimation, neural = settings.estimation, settings.neural
    if estimation.kind == CountModel.kind:
        from bigram.ngrams.smoothing import check

        check(estimation.method, estimation.smoothing)
    elif estimation.kind == NeuralModel.kind:
        _check_training_options(neural.steps, neural.lr, neural.reg)
    else:
        raise OptionError(f"unknown model kind {estimation.kind!r}: choose counts or neural")
    if (estimation.prune or estimation.discounts) and settings.padding != "sentence":
        raise OptionError("--prune and --discounts belong to --smoothing-method "
                          "modified-kneser-ney")
    if estimation.prune:
        from bigram.ngrams.kneser_ney import check_prune

        check_prune(list(estimation.prune), estimation.order)
    if estimation.order < 2:
        raise OptionError(f"--order must be 2 or more, not {estimation.order}")
    check_seed(settings.neural.seed)
    check_seed(settings.reading.split_seed, "--split-seed")
    test_size = settings.reading.test_size
    if test_size is not None and test_size < 0:
        raise OptionError(f"--test-size must be 0 or more, not {test_size}")
    return settings


def train_model(files, settings, progress=None, dask_progress=None, budget_progress=None,
                budget_note=None):
    """Train the model `settings` describe on the files (names.txt if none) and evaluate it
    on each split.

    With a cluster address in `settings.cluster` the counting runs on Dask, in blocks
    of `settings.reading.block_bytes` (see bigram.cluster.dask_counting), and
    `dask_progress(done, total, dashboard)` hears of finished blocks; the model is the
    one of one process. Counts too large for the budget below are merged on disk here
    (bigram.cluster.disk_merge) and estimated as the budgeted path's. `progress(step,
    loss)` hears of neural training steps.

    `settings.resources.memory` (bytes; default half of physical memory) bounds counting:
    a text too large for the in-memory counter is counted with sorted runs spilled under
    `settings.resources.temp_dir` (bigram.ngrams.budgeted_training_data), `budget_note(text)`
    and `budget_progress(stage, done, total)` hearing how it goes; the model is the same.
    """
    check_settings(settings)
    order, padding = settings.estimation.order, settings.padding
    if settings.cluster.address is not None:
        from bigram.cluster.dask_counting import load_on_cluster

        if settings.reading.skip_symbols:
            raise OptionError("--skip-symbols is not available with --dask")
        data = load_on_cluster(files, settings.cluster, settings.reading, order, padding,
                               dask_progress, resources=cluster_resources(settings.resources),
                               note=budget_note, budget_progress=budget_progress)
        return fit(data, settings, progress, budget_progress)
    resources, reading = settings.resources, settings.reading
    budgeted = counting_budget(files, resources.memory, resources.temp_dir, order,
                               reading.unit, padding,
                               stream_words=settings.estimation.kind == CountModel.kind)
    if budgeted is not None:
        from bigram.ngrams.budgeted_training_data import load_training_data_budgeted
        from bigram.write_behind import DEFAULT_LIMIT, set_limit

        # Bytes waiting for the write-behind thread count against the budget: a small
        # share of it.
        before = set_limit(min(DEFAULT_LIMIT, budgeted // 32))
        try:
            data = load_training_data_budgeted(files, budgeted, reading, order, padding,
                                               resources.temp_dir, budget_progress,
                                               budget_note)
            return fit(data, settings, progress, budget_progress)
        finally:
            set_limit(before)
    data = load_training_data(files, settings.reading, order, padding,
                              keep_tokens=False)   # counted once; only tuning counts again
    data.release_tokens()
    return fit(data, settings, progress)


def cluster_resources(resources):
    """The resources of a client of a cluster, its budget in bytes (--memory, or the
    default): the counts come here merged on disk when they do not fit in it."""
    from dataclasses import replace

    from bigram.training.budget import check_temp_dir, default_budget

    check_temp_dir(resources.temp_dir)
    return replace(resources, memory=resources.memory or default_budget())


# Word texts of at least this many bytes are counted by the budgeted counter even when the
# in-memory one would fit: it combines repeated windows by hashing each chunk before
# sorting, where the in-memory counter sorts every window of the text. Measured (order 5,
# modified Kneser-Ney, docs/memory-budget.md): 20 MB of repeated real sentences 2.1 s
# against 2.9 s in memory, 100 MB 5.5 s against 12.7 s at a third of the memory; 160 MB
# of Zipf words 51.6 s against 53.2 s at half the memory; only 40 MB of Zipf words was
# slower (about 10%). The model is the same either way. (The lasting fix is hashing in
# the in-memory counter too: NOTES.md.)
STREAMING_FROM = 16 << 20


def counting_budget(files, memory, temp_dir, order, unit, padding, stream_words=False):
    """The budget (bytes) to count within, or None to count in memory: when the text is
    too large for the budget, or comes from stdin under an explicit --memory; with
    `stream_words` (a count model), also a word text of STREAMING_FROM bytes or more whose
    runs the temporary folder's disk can hold (otherwise it fits, and stays in memory).
    Bigrams of characters (counted as byte pairs) need no memory per token and stay in
    memory."""
    from bigram.ngrams.budgeted_training_data import text_bytes
    from bigram.text.sources import resolve_sources
    from bigram.training.budget import check_temp_dir, default_budget, fits_in_memory

    check_temp_dir(temp_dir)
    if unit == "char" and order == 2 and padding == "makemore":
        return None
    budget = default_budget() if memory is None else int(memory)
    size = text_bytes(resolve_sources(files))
    if size == 0 and memory is None:
        return None
    if not fits_in_memory(size, budget):
        return budget
    if stream_words and unit == "word" and size >= STREAMING_FROM and \
            _disk_holds(temp_dir, size, unit, order):
        return budget
    return None


def _disk_holds(temp_dir, size, unit, order):
    """Whether the temporary folder's disk can hold the runs of counting `size` bytes."""
    from bigram.ngrams.budgeted_counting import disk_estimate
    from bigram.ngrams.spill import free_bytes

    try:
        return free_bytes(temp_dir or tempfile.gettempdir()) >= disk_estimate(size, unit, order)
    except OSError:
        return False


def fit(data, settings, progress=None, budget_progress=None):
    """The model `settings` describe on loaded training data, evaluated on each split;
    `budget_progress(stage, done, total)` hears the stages of an estimate within the memory
    budget."""
    estimation, neural = settings.estimation, settings.neural
    counts = data.counts["train"]
    if hasattr(counts, "space"):   # counted within a memory budget: levels on disk
        streamed = _fit_streamed(data, settings, budget_progress)
        if streamed is not None:
            return streamed
        data.counts["train"] = counts.in_memory()
        del counts
    if estimation.kind == CountModel.kind:
        modified = estimation.method == "modified-kneser-ney"
        model = CountModel(data.vocabulary, data.counts["train"], estimation.smoothing,
                           estimation.method, discounts=estimation.discounts,
                           prune=list(estimation.prune) if estimation.prune else None,
                           token_rank=data.token_rank if modified else None)
    else:
        from bigram.models.language_models import check_neural_budget

        check_neural_budget(len(data.vocabulary), data.order)
        model = NeuralModel.fit(data.vocabulary, data.counts["train"], neural.steps, neural.lr,
                                neural.reg, neural.seed, on_step=progress)
    meta = build_meta(model, data, {"settings": settings.as_meta()})
    saved = SavedModel(model, data.counts, meta, data.train_items)
    return TrainingResult(saved, data, evaluate_splits(saved))


def _fit_streamed(data, settings, progress=None):
    """fit() of a count model over levels on disk, within the memory budget; None for
    neural models (fit from the levels read whole) and where the query tables cannot be
    made (a pruned unigram under a longer window, a back-off weight of zero)."""
    from bigram.models.evaluation import report_from_totals
    from bigram.models.streamed_model import StreamedCountModel
    from bigram.ngrams.streaming_kneser_ney import TablesUnavailable, estimate_streaming
    from bigram.ngrams.streaming_smoothing import estimate_smoothed_streaming
    from bigram.training.budget import default_budget

    estimation = settings.estimation
    if estimation.kind != CountModel.kind:
        return None
    budget = settings.resources.memory or default_budget()
    counts = data.counts["train"]
    modified = estimation.method == "modified-kneser-ney"
    prune = list(estimation.prune) if estimation.prune else None
    rank = data.token_rank if modified else None
    try:
        if modified:
            streamed = estimate_streaming(counts, budget, prune, estimation.discounts,
                                          rank, data.vocabulary.unk_id, progress=progress)
        else:
            streamed = estimate_smoothed_streaming(counts, budget, estimation.method,
                                                   estimation.smoothing,
                                                   data.vocabulary.unk_id, progress)
    except TablesUnavailable:
        return None
    model = StreamedCountModel(data.vocabulary, counts, streamed, int(budget * 0.4),
                               estimation.method, estimation.smoothing, prune=prune,
                               discounts=estimation.discounts, token_rank=rank)
    meta = build_meta(model, data, {"settings": settings.as_meta()})
    saved = SavedModel(model, data.counts, meta, data.train_items)
    train = report_from_totals(model, streamed.train, meta["data"]["items"].get("train", 0),
                               "train")
    return TrainingResult(saved, data, evaluate_splits(saved, {"train": train}))


def best_bigram_loss(index):
    """The lowest loss any model of the index's order reaches on the text it counts (the
    training split's): unsmoothed counts."""
    top = index.level(index.order)
    totals = np.bincount(index.parent(index.order), weights=top.count)
    seen = top.count > 0
    share = top.count[seen] / totals[index.parent(index.order)[seen]]
    return float(-(top.count[seen] * np.log(share)).sum() / top.count[seen].sum())
