"""Choosing a model on the dev split: every setting is trained on train and scored on dev;
the best one is reported once on test, as the makemore lecture's exercises ask.

The data is read once (its token ids are kept) and counted once per order and padding;
trying another strength then costs one smoothing pass.
"""

import math
from dataclasses import dataclass, field

from .dataset import load_training_data
from .errors import OptionError
from .evaluation import report_from_index
from .modelfile import SavedModel, build_meta
from .models import CountModel, NeuralModel
from .training import padding_for
from .smoothing import METHODS, check

DEFAULT_STRENGTHS = {
    "add-k": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
    "witten-bell": [0.03, 0.1, 0.3, 1.0, 3.0],
    "kneser-ney": [None, 0.1, 0.3, 0.5, 0.7, 0.9],
    "modified-kneser-ney": [None],
}
DEFAULT_REGS = [0.001, 0.01, 0.1]


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


@dataclass
class Tuning:
    """Every trial, the chosen one, and the saved model of the chosen setting."""

    trials: list
    chosen: Trial
    saved: SavedModel
    data_order: int
    splits: dict = field(default_factory=dict)


def tune(files, orders, kind="counts", methods=None, strengths=None, regs=None, split="80/10/10",
         split_seed=3407, encoding_errors="strict", steps=100, lr=50.0, seed=2147483647,
         on_trial=None, unit="char", min_count=None, max_vocab=None):
    """Train every setting on train, choose the lowest dev loss, score it once on test."""
    if split in (None, "makemore"):
        raise OptionError("tuning needs a dev split: use --split train/dev/test percentages, "
                          "such as 80/10/10")
    orders = sorted(set(orders))
    if orders[0] < 2:
        raise OptionError(f"--order values must be 2 or more, not {orders[0]}")
    settings = _settings(kind, orders, methods, strengths, regs)
    data = load_training_data(files, split_seed=split_seed, encoding_errors=encoding_errors,
                              order=max(orders), split=split, unit=unit, min_count=min_count,
                              max_vocab=max_vocab)
    if not data.items.get("dev"):
        raise OptionError("the dev split is empty: give it a share, such as --split 80/10/10")
    if kind == "neural":
        from .models import check_neural_budget

        check_neural_budget(len(data.vocabulary), max(orders))
    tables = {}
    trials, models = [], {}
    for order, method, strength in settings:
        padding = padding_for(kind, method)
        if (order, padding) not in tables:
            tables[order, padding] = data.recount(order, padding)
        counts = tables[order, padding]
        if kind == "counts":
            model = CountModel(data.vocabulary, counts["train"], strength, method)
        else:
            model = NeuralModel.fit(data.vocabulary, counts["train"], steps, lr, strength, seed)
        trial = Trial(order, method, strength,
                      train=_nll(model, counts["train"]), dev=_nll(model, counts["dev"]))
        trials.append(trial)
        models[id(trial)] = model
        if on_trial is not None:
            on_trial(trial)
    chosen = min(trials, key=lambda t: (math.inf if math.isnan(t.dev) else t.dev))
    model = models[id(chosen)]
    counts = tables[chosen.order, padding_for(kind, chosen.method)]
    if "test" in counts:
        chosen.test = _nll(model, counts["test"])
    data.order, data.counts = chosen.order, counts
    meta = build_meta(model, data, {"tuning": {
        "grid": [{"order": t.order, "method": t.method, "strength": t.strength,
                  "train": t.train, "dev": t.dev} for t in trials],
        "chosen": {"order": chosen.order, "method": chosen.method,
                   "strength": chosen.strength}}})
    saved = SavedModel(model, counts, meta, data.train_items)
    return Tuning(trials, chosen, saved, max(orders), data.items)


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
    methods = list(METHODS) if methods is None else methods
    settings = []
    for method in methods:
        check(method, None)
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
