"""Model files: one .npz of plain arrays plus a JSON metadata entry, never a pickle.

Writing goes to a temporary file in the target's folder, is flushed to disk,
and is renamed over the target, so a crash or Ctrl-C leaves either the old
file or the new one, never half of one. Reading (npzfile.py) checks each
array's declared dtype, shape and size before reading it, and its values
(checks.py) before anything uses them.
"""

import json
import math
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from .checks import (
    INT64_MAX,
    check_counts,
    check_finite,
    check_increasing,
    check_indices,
    check_pointers,
    check_probability_rows,
    check_rows_increasing,
)
from .dataset import KEEP_TEXT_LIMIT
from .errors import BigramError, ModelFileError, OptionError
from .files import atomic_write
from .models import MODEL_KINDS, CountModel, NeuralModel
from .ngrams import NgramTable
from .npzfile import NpzFile, damaged
from .vocabulary import Vocabulary

FORMAT = "bigram-model"
FORMAT_VERSION = 1
SPLITS = ("train", "dev", "test")
MAX_ORDER = 12


@dataclass
class SavedModel:
    """A model with what it was trained on: counts per split, metadata, training items."""

    model: object
    data_counts: dict                      # split -> NgramTable of that split's counts
    meta: dict = field(default_factory=dict)
    train_items: str | None = None          # training items joined by newlines, if kept

    @property
    def vocabulary(self):
        """The model's vocabulary."""
        return self.model.vocabulary

    def training_items(self):
        """The set of training items, or None if the file does not keep them."""
        if self.train_items is None:
            return None
        from .corpus import items_of_text

        return set(items_of_text(self.train_items))


def _text_array(text):
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def build_meta(model, data, extra=None):
    """Metadata for a freshly trained model."""
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": model.kind,
        "order": model.order,
        "vocabulary": "".join(model.vocabulary.chars),
        "hyperparameters": model.hyperparameters(),
        "data": {
            "sources": data.sources,
            "sha256": data.sha256,
            "bytes": data.bytes_read,
            "items": {s: int(n) for s, n in data.items.items()},
            "tokens": {s: data.tokens(s) for s in data.counts},
        },
        "split": data.split,
    }
    meta.update(extra or {})
    return stamp(meta)


def stamp(meta):
    """Record when, and by which bigram, a model file's metadata was made."""
    meta["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta["bigram_version"] = __version__
    return meta


def _write_npz(stream, arrays):
    """An .npz (a zip of .npy files) deflated at level 1: numpy's default level 6 spends
    seconds on a large training text for a few percent of size."""
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, array in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def save(path, saved):
    """Write `saved` to `path` atomically; returns True if an existing file was replaced."""
    arrays = {f"model_{name}": array for name, array in saved.model.arrays().items()}
    for split, table in saved.data_counts.items():
        arrays.update(table.arrays(f"data_{split}_"))
    if saved.train_items is not None:
        arrays["train_items"] = _text_array(saved.train_items)
    arrays["meta"] = _text_array(json.dumps(saved.meta, ensure_ascii=False))
    try:
        return atomic_write(path, lambda stream: _write_npz(stream, arrays))
    except BigramError as error:
        raise ModelFileError(str(error)) from None


# ---------------------------------------------------------------------- reading

# Ceilings on what a member may declare, checked before it is read: a model file
# may come from anywhere, and a few megabytes of deflate can declare gigabytes.
META_LIMIT = 16 << 20                     # bytes of JSON metadata
TRAIN_ITEMS_LIMIT = 4 * KEEP_TEXT_LIMIT   # bytes: the kept characters, at most 4 UTF-8 bytes each
MAX_TABLE_ENTRIES = 1 << 28               # n-grams in one stored table (2 GiB per int64 array)
MAX_MATRIX_VALUES = 1 << 28               # values of the dense probability and weight matrices
MAX_LOSSES = 1 << 24                      # recorded training losses, one per step
COUNT_METHODS = ("add-k", "witten-bell", "kneser-ney")


def _whole(value, upper=INT64_MAX):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= upper


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_meta(npz, path):
    if "meta" not in npz:
        raise ModelFileError(f"{path} is not a bigram model file (no bigram metadata in it)")
    text = npz.read_text("meta", max_bytes=META_LIMIT, what="its metadata")
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):
        raise damaged(path, "its metadata is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a bigram model file")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise damaged(path, "it has no format version")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path} was written by a newer bigram (model format {version}); "
                             f"this bigram {__version__} reads format {FORMAT_VERSION} — upgrade "
                             "bigram to use it")
    return meta


def _stated_tokens(meta, path):
    """The tokens per split the metadata states (None if it states none), checked."""
    data = meta.get("data", {})
    if not isinstance(data, dict):
        raise damaged(path, "the data section of its metadata is not a mapping")
    for key in ("items", "tokens", "bigrams"):
        stated = data.get(key, {})
        if not isinstance(stated, dict) or not all(
                split in SPLITS and _whole(n) for split, n in stated.items()):
            raise damaged(path, f"its metadata's {key} are not whole numbers of 0 or more "
                                "for the train, dev and test splits")
    if not _whole(data.get("bytes", 0)):
        raise damaged(path, "its metadata's byte count is not a whole number of 0 or more")
    return data.get("tokens", data.get("bigrams"))


def _vocabulary(meta, path):
    chars = meta.get("vocabulary")
    if not isinstance(chars, str) or len(set(chars)) != len(chars) or list(chars) != sorted(chars):
        raise damaged(path, "its vocabulary is not a sorted list of distinct characters")
    return Vocabulary(chars)


def _order(meta, path):
    order = meta.get("order", 2)
    if not isinstance(order, int) or isinstance(order, bool) or not 2 <= order <= MAX_ORDER:
        raise damaged(path, f"its order {order!r} is not a whole number from 2 to {MAX_ORDER}")
    return order


def _hyperparameters(meta, path):
    hyper = meta.get("hyperparameters") or {}
    if not isinstance(hyper, dict):
        raise damaged(path, "its hyperparameters are not a mapping")
    if meta["kind"] == CountModel.kind:
        if hyper.get("smoothing_method", "add-k") not in COUNT_METHODS:
            raise ModelFileError(f"{path} uses an unknown smoothing method "
                                 f"{hyper['smoothing_method']!r}")
        smoothing = hyper.get("smoothing")
        if smoothing is not None and not (_number(smoothing) and smoothing >= 0):
            raise damaged(path, f"its smoothing {smoothing!r} is not a number of 0 or more")
    else:
        for name in ("steps", "seed"):
            if not _whole(hyper.get(name, 0), 2 ** 64):
                raise damaged(path, f"its {name} {hyper[name]!r} is not a whole number of 0 "
                                    "or more")
        for name in ("lr", "reg"):
            if not _number(hyper.get(name, 0.0)):
                raise damaged(path, f"its {name} {hyper[name]!r} is not a finite number")
    return hyper


def _read_table(npz, prefix, order, size, path, what, stated_tokens=None):
    """An NgramTable from the file and its exact total count, every array checked first.

    Tables keep only n-grams seen at least once, so a table of T tokens has at most
    T entries, and at most as many contexts as entries.
    """
    limit = min(size ** order, MAX_TABLE_ENTRIES,
                MAX_TABLE_ENTRIES if stated_tokens is None else stated_tokens)
    contexts = npz.read(f"{prefix}contexts", np.int64, (None,), max_items=limit)
    indptr = npz.read(f"{prefix}indptr", np.int64, (len(contexts) + 1,), max_items=limit + 1)
    nxt = npz.read(f"{prefix}next", np.int64, (None,), max_items=limit)
    count = npz.read(f"{prefix}count", np.int64, (len(nxt),), max_items=limit)
    possible = size ** (order - 1)
    check_increasing(contexts, path, f"{what}' context keys")
    check_indices(contexts, possible, path, f"{what}' context keys",
                  f"the {possible:,} possible contexts")
    check_pointers(indptr, len(nxt), path, f"{what}' row pointers", allow_empty_rows=False)
    check_indices(nxt, size, path, f"{what}' next tokens", f"the vocabulary of {size} tokens")
    check_rows_increasing(nxt, indptr, path, f"{what}' next tokens")
    total = check_counts(count, path, what)
    return NgramTable(order, size, contexts, indptr, nxt, count), total


def _read_data_counts(npz, order, size, stated, path):
    """Each split's stored counts, agreeing with the token totals the metadata states."""
    splits = [split for split in SPLITS if f"data_{split}_contexts" in npz]
    tables = {}
    for split in splits:
        if stated is not None and split not in stated:
            raise damaged(path, f"it stores {split} counts but its metadata states no "
                                f"{split} tokens")
        what = f"the {split} counts"
        tables[split], total = _read_table(npz, f"data_{split}_", order, size, path, what,
                                           None if stated is None else stated[split])
        if stated is not None and total != stated[split]:
            raise damaged(path, f"its metadata states {stated[split]:,} {split} tokens, but "
                                f"{what} sum to {total:,}")
    for split, tokens in (stated or {}).items():
        if split not in tables and tokens:
            raise damaged(path, f"its metadata states {tokens:,} {split} tokens, but it stores "
                                f"no {split} counts")
    return tables


def _read_probabilities(npz, size, path):
    probabilities = npz.read("model_probabilities", np.float32, (size, size),
                             max_items=MAX_MATRIX_VALUES, what="the probability matrix")
    check_probability_rows(probabilities, path, "its probabilities")
    return probabilities


def _read_model(npz, meta, vocabulary, order, stated, path):
    size = len(vocabulary)
    hyper = _hyperparameters(meta, path)
    probabilities = _read_probabilities(npz, size, path) if order == 2 else None
    try:
        if meta["kind"] == CountModel.kind:
            counts, _ = _read_table(npz, "model_counts_", order, size, path, "the model's counts",
                                    None if stated is None else sum(stated.values()))
            smoothing = hyper.get("smoothing")
            return CountModel(vocabulary, counts, None if smoothing is None else float(smoothing),
                              hyper.get("smoothing_method", "add-k"), probabilities=probabilities)
        weights = npz.read("model_weights", np.float32, ((order - 1) * size, size),
                           max_items=MAX_MATRIX_VALUES, what="the weight matrix")
        check_finite(weights, path, "its weights")
        steps = hyper.get("steps", 0)
        losses = npz.read("model_losses", np.float64, (None,),
                          max_items=min(steps + 1, MAX_LOSSES),
                          what="the array of training losses")
        check_finite(losses, path, "its training losses")
        return NeuralModel(vocabulary, weights, steps, hyper.get("lr", 0.0),
                           hyper.get("reg", 0.0), hyper.get("seed", 0), losses.tolist(),
                           probabilities, order)
    except (TypeError, ValueError, OptionError) as error:
        raise damaged(path, str(error)) from None


def load(path):
    """Read and validate a model file; every problem is a one-line ModelFileError.

    Every member is checked, by size before it is read and by value after, so
    every command refuses a damaged file, whichever part of it is damaged.
    """
    path = Path(path)
    with NpzFile(path) as npz:
        meta = _read_meta(npz, path)
        if meta.get("kind") not in MODEL_KINDS:
            raise ModelFileError(f"{path} holds a model of unknown kind {meta.get('kind')!r}")
        vocabulary = _vocabulary(meta, path)
        order = _order(meta, path)
        stated = _stated_tokens(meta, path)
        model = _read_model(npz, meta, vocabulary, order, stated, path)
        data_counts = _read_data_counts(npz, order, len(vocabulary), stated, path)
        items = npz.read_text("train_items", max_bytes=TRAIN_ITEMS_LIMIT,
                              what="its training text") if "train_items" in npz else None
    return SavedModel(model, data_counts, meta, items)
