"""Choosing a model on the dev split: every setting is trained on train and scored on dev;
the best one is reported once on test, as the makemore lecture's exercises ask.

The data is read once per padding (its token ids are kept) and counted once per order;
trying another strength then costs one smoothing pass. Modified Kneser-Ney has no single
strength: it starts from the discounts lmplz estimates from the counts-of-counts and
searches its 3 x order discounts on dev (`search_discounts`).
"""

import contextlib
import math
from dataclasses import dataclass, field, replace

from bigram.errors import OptionError
from bigram.formats.saved import SavedModel, build_meta
from bigram.limits import check_seed
from bigram.models.evaluation import report_from_index, report_from_totals
from bigram.models.language_models import CountModel, NeuralModel
from bigram.ngrams.index import NgramIndex
from bigram.ngrams.smoothing import METHODS, check
from bigram.ngrams.training_data import load_training_data
from bigram.settings import Estimation, TrainingSettings

MODIFIED = "modified-kneser-ney"

DEFAULT_STRENGTHS = {
    "add-k": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
    "witten-bell": [0.03, 0.1, 0.3, 1.0, 3.0],
    "kneser-ney": [None, 0.1, 0.3, 0.5, 0.7, 0.9],
}
DEFAULT_REGS = [0.001, 0.01, 0.1]
NEURAL_ON_DISK = ("tune --model neural reads the counts whole, and this text is counted on "
                  "disk within --memory; tune count models, or give a larger --memory")


def parse_list(text, kind, name):
    """'2,3,4' or '0.1,auto' as a list; 'auto' (an estimated strength) becomes None."""
    if text is None:
        return None
    values = []
    for part in str(text).split(","):
        part = part.strip()
        if kind is float and part == "auto":
            values.append(None)
            continue
        try:
            value = kind(part)
        except ValueError:
            raise OptionError(f"--{name} takes a comma-separated list, and {part!r} is not "
                              f"a{'n integer' if kind is int else ' number'}") from None
        if kind is float and not math.isfinite(value):
            raise OptionError(f"--{name} values must be finite, not {part}")
        values.append(value)
    if not values:
        raise OptionError(f"--{name} needs at least one value")
    return values


@dataclass
class Trial:
    """One setting and its losses."""

    order: int
    method: str                   # smoothing method, or "neural"
    strength: float | None        # k, multiplier, discount (None: estimated), or reg
    train: float = math.nan
    dev: float = math.nan
    test: float | None = None     # reported for the chosen trial only
    discounts: dict | None = None  # modified Kneser-Ney: {order: (D1, D2, D3+)} used
    searched: bool = False        # modified Kneser-Ney: discounts tuned on dev, not estimated


@dataclass
class Tuning:
    """Every trial, the chosen one, and the saved model of the chosen setting."""

    trials: list
    chosen: Trial
    saved: SavedModel
    data_order: int
    splits: dict = field(default_factory=dict)


def tune(files, orders, kind="counts", methods=None, strengths=None, regs=None, settings=None,
         on_trial=None, dask_progress=None):
    """Train every setting on train, choose the lowest dev loss, score it once on test.

    The grid is `orders` x `methods` x `strengths` (count models) or `orders` x
    `regs` (neural); `settings` (bigram.settings.TrainingSettings, an 80/10/10 split by
    default) says how every trial reads its data, how the neural model descends, and
    where counting runs. With a cluster address the data is counted on Dask, every
    order in one pass per padding; the split must then be a hash split ('hash:80/10/10').

    `settings.resources` bounds memory as for training: a text too large for the budget
    is counted on disk (bigram.ngrams.budgeted_training_data; a cluster's counts merged
    on disk) and every count model is estimated and scored on dev by the
    streaming stages, so the trials, their losses and the choice are those of memory.
    The neural model reads its counts whole and is refused then.
    """
    settings = settings if settings is not None else TrainingSettings.of(split="80/10/10")
    reading = settings.reading
    check_seed(reading.split_seed, "--split-seed")
    if reading.split in (None, "makemore"):
        raise OptionError("tuning needs a dev split: use --split train/dev/test percentages, "
                          "such as 80/10/10")
    orders = sorted(set(orders))
    if orders[0] < 2:
        raise OptionError(f"--order values must be 2 or more, not {orders[0]}")
    grid = _settings(kind, orders, methods, strengths, regs)
    with _stdin_copied(files, settings.cluster.address) as readable:
        return _tune(readable, orders, kind, grid, settings, on_trial, dask_progress)


@contextlib.contextmanager
def _stdin_copied(files, address):
    """The files, '-' (stdin) replaced by a temporary copy of it: tuning reads the text once
    per padding (and, within a memory budget, once per order)."""
    if address is not None or "-" not in (files or []):
        yield files
        return
    from bigram.text.sources import Source, spool_stream, stdin_bytes

    copy = spool_stream(stdin_bytes(), "<stdin>")
    try:
        yield [Source("<stdin>", copy) if f == "-" else f for f in files]
    finally:
        copy.unlink(missing_ok=True)


def _tune(files, orders, kind, grid, settings, on_trial, dask_progress):
    neural = settings.neural
    source = _Counts(files, orders, kind, settings, dask_progress)
    if kind == "neural":
        from bigram.models.language_models import check_neural_budget

        check_neural_budget(len(source.data(max(orders), "makemore").vocabulary), max(orders))
    trials, best = [], None
    for order, method, strength in grid:
        padding = Estimation(kind, order, method).padding
        data, counts = source.data(order, padding), source.counts(order, padding)
        if method == MODIFIED:
            tried = _discount_trials(data, counts, order, source.budget)
        elif kind == "counts":
            tried = [(Trial(order, method, strength),
                      _count_model(data, counts, method, strength, budget=source.budget))]
        else:
            if hasattr(counts["train"], "space"):   # a cluster's counts merged on disk
                raise OptionError(NEURAL_ON_DISK)
            model = NeuralModel.fit(data.vocabulary, counts["train"], neural.steps, neural.lr,
                                    strength, neural.seed)
            tried = [(Trial(order, method, strength), model)]
        for trial, model in tried:
            if math.isnan(trial.dev):
                trial.dev = _nll(model, counts["dev"])
            trial.train = _train_nll(model, counts["train"])
            trials.append(trial)
            # The first of the lowest dev losses wins (as min() over the trials).
            if best is None or _rank(trial) < _rank(best[0]):
                if best is not None:
                    _release(best[1])
                best = (trial, model)
            else:
                _release(model)
            if on_trial is not None:
                on_trial(trial)
    chosen, model = best
    padding = Estimation(kind, chosen.order, chosen.method).padding
    data, counts = source.data(chosen.order, padding), source.counts(chosen.order, padding)
    if "test" in counts:
        chosen.test = _nll(model, counts["test"])
    data.order, data.counts = chosen.order, counts
    if kind == "counts":
        used = settings.replace(model=kind, order=chosen.order, method=chosen.method,
                                smoothing=chosen.strength,
                                discounts=chosen.discounts if chosen.searched else None)
    else:
        used = settings.replace(model=kind, order=chosen.order, reg=chosen.strength)
    meta = build_meta(model, data, {"settings": used.as_meta(), "tuning": {
        "grid": [{"order": t.order, "method": t.method, "strength": t.strength,
                  **discounts_record(t), "train": t.train, "dev": t.dev} for t in trials],
        "chosen": {"order": chosen.order, "method": chosen.method,
                   "strength": chosen.strength, **discounts_record(chosen)}}})
    saved = SavedModel(model, counts, meta, data.train_items)
    return Tuning(trials, chosen, saved, max(orders), data.items)


def _rank(trial):
    return math.inf if math.isnan(trial.dev) else trial.dev


class _Counts:
    """The training data and counts of each (order, padding) a tuning asks for.

    In memory the data is read once per padding (its token ids kept) and counted again
    at each order; within a memory budget each order is counted on disk (the training
    split a DiskIndex), the text read once per order, except with sentence padding
    (modified Kneser-Ney), whose lower orders are the first levels of the highest."""

    def __init__(self, files, orders, kind, settings, dask_progress):
        from bigram.training.budget import default_budget
        from bigram.training.train import counting_budget

        self.files, self.orders, self.settings = files, orders, settings
        self.dask_progress = dask_progress
        self.loaded, self.tables = {}, {}
        resources, reading = settings.resources, settings.reading
        self.budget = resources.memory or default_budget()
        self.on_disk = {}   # padding -> whether its counts go to disk
        for padding in ("makemore", "sentence"):
            self.on_disk[padding] = settings.cluster.address is None and counting_budget(
                files, resources.memory, resources.temp_dir, max(orders), reading.unit,
                padding) is not None
        if kind == "neural" and self.on_disk["makemore"]:
            raise OptionError(NEURAL_ON_DISK)

    def data(self, order, padding):
        """The TrainingData (its vocabulary, splits, items) of the counts at `order`."""
        if self.on_disk[padding]:
            self.counts(order, padding)
            return self.loaded[order, padding]
        if padding not in self.loaded:
            self.loaded[padding] = self._load(padding)
        return self.loaded[padding]

    def counts(self, order, padding):
        """{split: counts} at `order` (the training split a DiskIndex when on disk)."""
        if (order, padding) in self.tables:
            return self.tables[order, padding]
        top = max(self.orders)
        if self.on_disk[padding] and padding == "sentence" and order < top:
            # One <s> whatever the order: the counts at a lower order are the first levels
            # of the highest order's, so that one is counted (the text read) once.
            whole = self.data(top, padding)
            data = replace(whole, order=order,
                           counts={s: _lower(index, order) for s, index in whole.counts.items()})
            self.loaded[order, padding] = data
            self.tables[order, padding] = data.counts
        elif self.on_disk[padding]:
            from bigram.ngrams.budgeted_training_data import load_training_data_budgeted

            resources = self.settings.resources
            data = load_training_data_budgeted(self.files, self.budget, self.settings.reading,
                                               order, padding, resources.temp_dir)
            _check_dev(data)
            self.loaded[order, padding] = data
            self.tables[order, padding] = data.counts
        else:
            self.tables[order, padding] = self.data(order, padding).recount(order, padding)
        return self.tables[order, padding]

    def _load(self, padding):
        # Modified Kneser-Ney reads sentences and always has <unk>: its own vocabulary.
        settings, orders = self.settings, self.orders
        if settings.cluster.address is not None:
            from bigram.cluster.dask_counting import load_on_cluster
            from bigram.training.train import cluster_resources

            data = load_on_cluster(
                self.files, settings.cluster, settings.reading, max(orders), padding,
                progress=self.dask_progress,
                countings=[(max(orders), padding)] + [(o, padding) for o in orders[:-1]],
                resources=cluster_resources(settings.resources))
        else:
            data = load_training_data(self.files, settings.reading, max(orders), padding)
        _check_dev(data)
        return data


def _lower(index, order):
    """The index of the first `order` levels of a sentence-padded index (in memory or on
    disk, sharing its levels)."""
    if hasattr(index, "space"):
        from bigram.ngrams.disk_index import DiskIndex

        lower = DiskIndex(order, index.size, index.levels[:order + 1], index.padding,
                          index.space)
        lower.whole = index   # the folder is removed when the whole index goes
        return lower
    return NgramIndex(order, index.size, index.levels[:order + 1], index.padding)


def _check_dev(data):
    if not data.items.get("dev"):
        raise OptionError("the dev split is empty: give it a share, such as --split 80/10/10")


def _count_model(data, counts, method, strength, discounts=None, budget=None):
    """The count model of a trial: estimated within the budget by the streaming stages when
    the training counts are on disk (a DiskIndex), else in memory."""
    train = counts["train"]
    modified = method == MODIFIED
    rank = data.token_rank if modified else None
    if hasattr(train, "space"):
        from bigram.models.streamed_model import StreamedCountModel
        from bigram.ngrams.streaming_kneser_ney import (
            TablesUnavailable,
            estimate_streaming,
        )
        from bigram.ngrams.streaming_smoothing import estimate_smoothed_streaming

        unk = data.vocabulary.unk_id
        try:
            if modified:
                streamed = estimate_streaming(train, budget, None, discounts, rank, unk)
            else:
                streamed = estimate_smoothed_streaming(train, budget, method, strength, unk)
            return StreamedCountModel(data.vocabulary, train, streamed, int(budget * 0.4),
                                      method, strength, discounts=discounts, token_rank=rank)
        except TablesUnavailable:   # as training does: these counts are estimated in memory
            train = train.in_memory()
    return CountModel(data.vocabulary, train, strength, method, discounts=discounts,
                      token_rank=rank)


def _release(model):
    """Remove the columns on disk of a trial's model that was not chosen."""
    streamed = getattr(model, "streamed", None)
    if streamed is not None:
        from bigram.ngrams.columns import remove

        remove(model.counts.space, *streamed.adj[1:], *streamed.below[1:])
        model.streamed = model.column_tables = None


def _train_nll(model, index):
    """The training split's loss: summed while a model on disk was estimated."""
    streamed = getattr(model, "streamed", None)
    if streamed is not None:
        return report_from_totals(model, streamed.train, 0, "").nll
    return _nll(model, index)


def discounts_record(trial):
    """Modified Kneser-Ney's discounts of a trial, and whether they were searched on dev,
    as JSON fields (none for other methods)."""
    if trial.discounts is None:
        return {}
    return {"discounts": {str(k): list(d) for k, d in trial.discounts.items()},
            "searched": trial.searched}


def _discount_trials(data, counts, order, budget=None):
    """Modified Kneser-Ney at one order: the estimated discounts, and those searched on dev
    from them (each with its model)."""

    def model_with(discounts):
        return _count_model(data, counts, MODIFIED, None, discounts, budget)

    def dev_nll(discounts):
        model = model_with(discounts)
        loss = _nll(model, counts["dev"])
        _release(model)
        return loss

    estimated = model_with(None)
    start = dict(estimated.used_discounts())
    search = search_discounts(dev_nll, start)
    tuned = model_with(search.discounts)
    return [(Trial(order, MODIFIED, None, discounts=start), estimated),
            (Trial(order, MODIFIED, None, dev=search.dev, discounts=search.discounts,
                   searched=True), tuned)]


# ---------------------------------------------------------------------- discount search

FIRST_STEP = 1.5      # a discount is first multiplied or divided by this
LAST_STEP = 1.02      # the search ends when a sweep at this step improves nothing
EVALUATIONS_PER_DISCOUNT = 100   # a bound on the work: dev scorings per discount searched


@dataclass
class DiscountSearch:
    """The discounts found, their dev loss, where the search began and what it cost."""

    discounts: dict           # {order: (D1, D2, D3+)}
    dev: float
    start_dev: float
    evaluations: int


MARGIN = 1e-3


def discount_range(j):
    """The D_j tried: lmplz accepts [0, j]. Staying below j (Chen and Goodman's D_j < j)
    leaves every n-gram seen j times some of its own count; staying above 0 keeps some
    mass for the order below (and the search from halving a vanishing discount forever)."""
    return j * MARGIN, j * (1 - MARGIN)


def _clip(value, j):
    low, high = discount_range(j)
    return min(max(value, low), high)


def search_discounts(dev_nll, start, first_step=FIRST_STEP, last_step=LAST_STEP,
                     max_evaluations=None):
    """Coordinate descent of dev_nll({order: (D1, D2, D3+)}) over every discount, from `start`.

    Each discount in turn (order by order, D1 to D3+) is multiplied by the step while
    that lowers the dev loss, else divided by it while that does; after a sweep that
    lowers nothing the step shrinks (its logarithm halves), until it is below
    `last_step`. Every D_j stays in `discount_range(j)`. A setting whose loss is
    NaN or infinite (a token left without probability) never wins.
    """
    current = {k: [_clip(float(d), j) for j, d in enumerate(ds, 1)]
               for k, ds in sorted(start.items())}

    def frozen(values):
        return {k: tuple(ds) for k, ds in values.items()}

    best = dev_nll(frozen(current))
    start_dev, evaluations = best, 1
    budget = max_evaluations or EVALUATIONS_PER_DISCOUNT * 3 * len(current)
    log_step = math.log(first_step)
    while log_step >= math.log(last_step) and evaluations < budget:
        improved = False
        for k in current:
            for j in range(3):
                for direction in (1.0, -1.0):
                    moved = False
                    while evaluations < budget:
                        value = _clip(current[k][j] * math.exp(direction * log_step),
                                      j + 1)
                        if value == current[k][j]:
                            break
                        trial = {o: list(ds) for o, ds in current.items()}
                        trial[k][j] = value
                        loss = dev_nll(frozen(trial))
                        evaluations += 1
                        if not loss < best:
                            break
                        best, current, moved, improved = loss, trial, True, True
                    if moved:   # no need to try the other way
                        break
        if not improved:
            log_step /= 2
    return DiscountSearch(frozen(current), best, start_dev, evaluations)


def parse_discounts(text, order):
    """`--discounts '2:0.5,1,1.5;3:...'` as {order: (D1, D2, D3+)}; orders left out keep
    the estimated discounts. Each D_j must lie in [0, j], the range lmplz accepts."""
    if text is None:
        return None
    discounts = {}
    for part in str(text).split(";"):
        part = part.strip()
        if not part:
            continue
        where, colon, values = part.partition(":")
        try:
            k = int(where)
            numbers = [float(v) for v in values.split(",")] if colon else []
        except ValueError:
            raise OptionError(f"--discounts takes 'order:D1,D2,D3' groups separated by ';', "
                              f"and {part!r} is not one") from None
        if len(numbers) != 3:
            raise OptionError(f"--discounts takes 'order:D1,D2,D3' groups separated by ';', "
                              f"and {part!r} is not one")
        if not 1 <= k <= order:
            raise OptionError(f"--discounts gives order {k}, but the model's orders are 1 "
                              f"to {order}")
        if k in discounts:
            raise OptionError(f"--discounts gives order {k} twice")
        for j, d in enumerate(numbers, 1):
            if not (math.isfinite(d) and 0 <= d <= j):
                raise OptionError(f"--discounts: D{j if j < 3 else '3+'} of order {k} must "
                                  f"lie in [0, {j}], not {d:g}")
        discounts[k] = tuple(numbers)
    if not discounts:
        raise OptionError("--discounts needs at least one 'order:D1,D2,D3' group")
    return discounts


def format_discounts(discounts):
    """The --discounts text of {order: (D1, D2, D3+)}, exact (shortest round-trip floats)."""
    return ";".join(f"{k}:" + ",".join(repr(float(d)) for d in ds)
                    for k, ds in sorted(discounts.items()))


def _settings(kind, orders, methods, strengths, regs):
    if kind == "neural":
        if methods or strengths:
            raise OptionError("--smoothing-method and --smoothing tune count models; the "
                              "neural model tunes --reg")
        regs = DEFAULT_REGS if regs is None else regs
        for reg in regs:
            if reg is None or reg < 0:
                raise OptionError(f"--reg values must be numbers >= 0, not {reg}")
        return [(order, "neural", reg) for order in orders for reg in regs]
    if regs:
        raise OptionError("--reg tunes the neural model; count models tune --smoothing")
    named = methods is not None
    methods = list(METHODS) if methods is None else methods
    settings = []
    for method in methods:
        check(method, None)
        if method == MODIFIED:
            if named and strengths is not None:
                raise OptionError("modified-kneser-ney tunes its discounts on dev from the "
                                  "estimated ones; --smoothing does not apply to it")
            settings.extend((order, method, None) for order in orders)
            continue
        values = DEFAULT_STRENGTHS[method] if strengths is None else strengths
        for value in values:
            if value is None and method != "kneser-ney":
                raise OptionError(f"'auto' strength is Kneser-Ney's estimated discount; "
                                  f"{method} needs numbers")
            check(method, value)
            settings.extend((order, method, value) for order in orders)
    return sorted(settings, key=lambda s: (s[0], METHODS.index(s[1]),
                                           -1 if s[2] is None else s[2]))


def _nll(model, index):
    return report_from_index(model, index, 0, "").nll
