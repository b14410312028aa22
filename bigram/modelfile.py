"""Model files: one .npz of plain arrays plus a JSON metadata entry, never a pickle.

Writing goes to a temporary file in the target's folder, is flushed to disk,
and is renamed over the target, so a crash or Ctrl-C leaves either the old
file or the new one, never half of one. Reading uses `allow_pickle=False` and
checks every array's shape, dtype and values before anything uses them.
"""

import json
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from .errors import BigramError, ModelFileError, OptionError
from .files import atomic_write
from .models import MODEL_KINDS, CountModel, NeuralModel
from .ngrams import NgramTable
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


def _array_text(array):
    return bytes(np.asarray(array, dtype=np.uint8)).decode("utf-8")


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


ZIP_MAGIC = b"PK\x03\x04"
NPY_MAGIC = b"\x93NUMPY"
PICKLE_MAGIC = b"\x80"


def _open_npz(path):
    if not path.exists():
        raise ModelFileError(f"no model at {path}; run `bigram train` first")
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a model file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except PermissionError:
        raise ModelFileError(f"cannot read {path}: permission denied") from None
    if head.startswith(PICKLE_MAGIC):
        raise ModelFileError(f"{path} holds pickled Python data; bigram never unpickles files, "
                             "so it cannot be loaded")
    if head.startswith(NPY_MAGIC):
        raise ModelFileError(f"{path} is a single numpy array (.npy), not a bigram model file")
    if not head.startswith(ZIP_MAGIC):
        raise ModelFileError(f"{path} is not a bigram model file")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        raise ModelFileError(f"{path} is damaged (truncated or corrupt)") from None


def _read(npz, name, path):
    try:
        return npz[name]
    except KeyError:
        raise ModelFileError(f"{path} is damaged: the array {name!r} is missing") from None
    except ValueError as error:
        if "pickle" in str(error).lower() or "object" in str(error).lower():
            raise ModelFileError(f"{path} holds a pickled Python object ({name!r}); bigram "
                                 "never unpickles files, so it cannot be loaded") from None
        raise ModelFileError(f"{path} is damaged: {name!r} cannot be read") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error):
        raise ModelFileError(f"{path} is damaged (truncated or corrupt)") from None


def _expect(array, shape, dtype, name, path):
    if array.shape != shape or array.dtype != np.dtype(dtype):
        raise ModelFileError(f"{path} is damaged: {name} has shape {list(array.shape)} and dtype "
                             f"{array.dtype}, expected {list(shape)} and {np.dtype(dtype)}")
    return array


def _read_meta(npz, path):
    if "meta" not in npz.files:
        raise ModelFileError(f"{path} is not a bigram model file (no bigram metadata in it)")
    raw = _read(npz, "meta", path)
    try:
        meta = json.loads(_array_text(raw))
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError, ValueError):
        raise ModelFileError(f"{path} is damaged: its metadata is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a bigram model file")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"{path} is damaged: it has no format version")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path} was written by a newer bigram (model format {version}); "
                             f"this bigram {__version__} reads format {FORMAT_VERSION} — upgrade "
                             "bigram to use it")
    return meta


def _vocabulary(meta, path):
    chars = meta.get("vocabulary")
    if not isinstance(chars, str) or len(set(chars)) != len(chars) or list(chars) != sorted(chars):
        raise ModelFileError(f"{path} is damaged: its vocabulary is not a sorted list of "
                             "distinct characters")
    return Vocabulary(chars)


def _check_probabilities(probabilities, path):
    if not np.isfinite(probabilities).all() or (probabilities < 0).any():
        raise ModelFileError(f"{path} is damaged: its probabilities include negative, NaN or "
                             "infinite values")
    sums = probabilities.astype(np.float64).sum(1)
    if not np.allclose(sums, 1.0, atol=1e-3):
        row = int(np.argmax(np.abs(sums - 1)))
        raise ModelFileError(f"{path} is damaged: row {row} of its probabilities sums to "
                             f"{sums[row]:.6g}, not 1")


def _read_table(npz, prefix, order, size, path, what):
    """An NgramTable from the file, every array checked before it is trusted."""
    parts = {}
    for field_name in ("contexts", "indptr", "next", "count"):
        array = _read(npz, f"{prefix}{field_name}", path)
        if array.ndim != 1 or array.dtype != np.int64:
            raise ModelFileError(f"{path} is damaged: {what} ({field_name}) has shape "
                                 f"{list(array.shape)} and dtype {array.dtype}, expected a "
                                 "vector of int64")
        parts[field_name] = array
    contexts, indptr, nxt, count = (parts[k] for k in ("contexts", "indptr", "next", "count"))
    limit = size ** (order - 1)
    if (len(indptr) != len(contexts) + 1 or len(nxt) != len(count) or indptr[0] != 0
            or indptr[-1] != len(nxt) or (np.diff(indptr) < 0).any()
            or (np.diff(contexts) <= 0).any() or (contexts < 0).any()
            or (contexts >= limit).any() or (nxt < 0).any() or (nxt >= size).any()):
        raise ModelFileError(f"{path} is damaged: {what} do not match the vocabulary of "
                             f"{size} tokens and order {order}")
    if (count < 0).any():
        raise ModelFileError(f"{path} is damaged: negative {what}")
    return NgramTable(order, size, contexts, indptr, nxt, count)


def load(path):
    """Read and validate a model file; every problem is a one-line ModelFileError."""
    path = Path(path)
    npz = _open_npz(path)
    with npz:
        meta = _read_meta(npz, path)
        kind = meta.get("kind")
        if kind not in MODEL_KINDS:
            raise ModelFileError(f"{path} holds a model of unknown kind {kind!r}")
        vocabulary = _vocabulary(meta, path)
        V = len(vocabulary)
        order = meta.get("order", 2)
        if not isinstance(order, int) or not 2 <= order <= MAX_ORDER:
            raise ModelFileError(f"{path} is damaged: its order {order!r} is not a whole "
                                 f"number from 2 to {MAX_ORDER}")
        hyper = meta.get("hyperparameters") or {}
        probabilities = None
        if order == 2:
            probabilities = _expect(_read(npz, "model_probabilities", path), (V, V),
                                    np.float32, "the probability matrix", path)
            _check_probabilities(probabilities, path)
        try:
            if kind == CountModel.kind:
                counts = _read_table(npz, "model_counts_", order, V, path, "the model's counts")
                method = hyper.get("smoothing_method", "add-k")
                if method not in ("add-k", "witten-bell", "kneser-ney"):
                    raise ModelFileError(f"{path} uses an unknown smoothing method {method!r}")
                smoothing = hyper.get("smoothing")
                model = CountModel(vocabulary, counts,
                                   None if smoothing is None else float(smoothing), method,
                                   probabilities=probabilities)
            else:
                weights = _expect(_read(npz, "model_weights", path), ((order - 1) * V, V),
                                  np.float32, "the weight matrix", path)
                if not np.isfinite(weights).all():
                    raise ModelFileError(f"{path} is damaged: its weights are not all finite")
                losses = _read(npz, "model_losses", path)
                model = NeuralModel(vocabulary, weights, hyper.get("steps", 0),
                                    hyper.get("lr", 0.0), hyper.get("reg", 0.0),
                                    hyper.get("seed", 0), losses.tolist(), probabilities, order)
        except (TypeError, ValueError, OptionError) as error:
            raise ModelFileError(f"{path} is damaged: {error}") from None
        counts = {split: _read_table(npz, f"data_{split}_", order, V, path, f"the {split} counts")
                  for split in SPLITS if f"data_{split}_contexts" in npz.files}
        items = _array_text(_read(npz, "train_items", path)) if "train_items" in npz.files \
            else None
    return SavedModel(model, counts, meta, items)
