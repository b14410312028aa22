"""Model files: one .npz of plain arrays plus a JSON metadata entry, never a pickle.

Format 2 stores what the sparse core holds: the vocabulary (UTF-8, one token per
line), the training NgramIndex level by level (`keys`, `suffix`, `count`) or the
neural weights, and each split's index; probabilities are recomputed from the
counts on load. Count models also store their query tables (query.py: `adj` per
window, `below` per context), which `score --file` reads instead of the counts
(`load_for_scoring`): derived values, checked for shape and range but not against
the counts. ARPA files load
too (`load` recognises them by their first line) as back-off models.

Writing goes to a temporary file in the target's folder, is flushed to disk,
and is renamed over the target, so a crash or Ctrl-C leaves either the old
file or the new one, never half of one. Reading (npzfile.py) checks each
array's declared dtype, shape and size before reading it, and its values
(checks.py) before anything uses them.
"""

import functools
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from bigram.errors import (
    BigramError,
    ModelFileError,
    OptionError,
    cli_message,
)
from bigram.formats.arpa_reader import is_arpa
from bigram.formats.checks import (
    INT64_MAX,
    check_counts,
    check_finite,
    check_increasing,
    check_indices,
)
from bigram.formats.files import atomic_write, check_regular_file, is_query_file
from bigram.formats.npzfile import NpzFile, damaged
from bigram.formats.saved import (
    FORMAT,
    FORMAT_VERSION,
    SPLITS,
    SavedModel,
    model_meta,
    stamp,
)
from bigram.models.language_models import MODEL_KINDS, CountModel, NeuralModel
from bigram.ngrams.index import MAX_ORDER, PADDINGS, Level, NgramIndex
from bigram.text.sources import KEEP_TEXT_LIMIT
from bigram.text.vocabulary import UNITS, Vocabulary
from bigram.version import __version__


def _text_array(text):
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _write_npz(stream, arrays):
    """An .npz (a zip of .npy files) of arrays, or of functions making them: text members
    deflated at level 1, numeric arrays stored as they are (sorted keys and counts deflate
    poorly, and deflating hundreds of megabytes of them took longer than counting them)."""
    with zipfile.ZipFile(stream, "w") as zf:
        for name, array in arrays.items():
            # A function makes its array as it is written (one at a time, then let go), or
            # says with None that there is none.
            if callable(array):
                array = array()
                if array is None:
                    continue
            if hasattr(array, "npy_chunks"):   # a column on disk (ngrams.columns)
                _write_column(zf, name, array)
                continue
            array = np.asanyarray(array)
            text = array.dtype == np.uint8
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if text else zipfile.ZIP_STORED
            if text:
                info._compresslevel = 1
            with zf.open(info, "w", force_zip64=True) as member:
                _write_npy(member, array)


def _write_column(zf, name, column):
    """A member written from a column on disk a slice at a time (a model estimated within
    a memory budget never holds a level in memory)."""
    info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    header = {"descr": np.lib.format.dtype_to_descr(column.dtype), "fortran_order": False,
              "shape": (len(column),)}
    with zf.open(info, "w", force_zip64=True) as member:
        np.lib.format.write_array_header_1_0(member, header)
        for chunk in column.npy_chunks():
            member.write(chunk)


def _write_npy(stream, array):
    """An .npy: numpy's header, then the array's bytes handed over as they lie in memory
    (numpy's own writer copies them into new bytes objects first, for a stream that is
    not a file, which costs a third of writing a large model)."""
    array = np.ascontiguousarray(array)
    header = np.lib.format.header_data_from_array_1_0(array)
    try:
        np.lib.format.write_array_header_1_0(stream, header)
    except ValueError:   # a header too long for version 1.0
        np.lib.format.write_array_header_2_0(stream, header)
    data = memoryview(array.reshape(-1)).cast("B")
    for start in range(0, len(data), 64 << 20):
        stream.write(data[start:start + (64 << 20)])


def file_sha256(path):
    """The SHA-256 of a file's bytes, in hex."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def interpolation_meta(model):
    """The metadata of an interpolated model file: its weights and, for each component,
    the file it was read from (absolute path and SHA-256, where it came from a file)."""
    components = []
    for source in model.sources:
        resolved = Path(source).resolve()
        if resolved.is_file():
            components.append({"path": str(resolved), "sha256": file_sha256(resolved)})
        else:
            components.append({"path": str(source)})
    return stamp({**model_meta(model), "components": components, "weights": model.weights})


def _component_arrays(component, prefix):
    """The arrays of one component of an interpolated model file, under `prefix`, and how
    it is stored: a count or neural model as its own file stores it ("model"); a model
    kept as a file of another kind (an ARPA or query file) as the ARPA text of its
    back-off form, which is exact ("arpa")."""
    try:
        own = component.arrays()
    except OptionError:
        from bigram.formats.arpa_writer import arpa_lines

        text = "\n".join(arpa_lines(component)) + "\n"
        return {f"{prefix}arpa": _text_array(text)}, "arpa"
    separator = "" if component.vocabulary.unit == "char" else "\n"
    arrays = {f"{prefix}vocabulary": _text_array(separator.join(component.vocabulary.tokens)),
              f"{prefix}meta": _text_array(json.dumps(model_meta(component)))}
    arrays.update({f"{prefix}model_{name}": array for name, array in own.items()})
    return arrays, "model"


def _save_interpolation(path, saved):
    """An interpolated model's file: its metadata and every component's arrays, so that it
    reads alone (as SRILM's mixture is one file), wherever its components go."""
    model = saved.model
    meta = dict(saved.meta or interpolation_meta(model))
    entries = [dict(c) for c in meta["components"]]
    arrays = {}
    for i, (component, entry) in enumerate(zip(model.components, entries)):
        prefix = f"component{i}_"
        stored, form = _component_arrays(component, prefix)
        arrays.update(stored)
        entry.update(embedded=prefix, form=form)
    meta["components"] = entries
    arrays["meta"] = _text_array(json.dumps(meta, ensure_ascii=False))
    try:
        return atomic_write(path, lambda stream: _write_npz(stream, arrays), behind=True)
    except BigramError as error:
        raise ModelFileError(cli_message(error)) from None


def save(path, saved):
    """Write `saved` to `path` atomically; returns True if an existing file was replaced.

    An interpolated model's file holds its components too (_save_interpolation)."""
    if saved.model.kind == "interpolated":
        return _save_interpolation(path, saved)
    # Characters side by side (any character, a line break included); words one per line
    # (a word never holds whitespace).
    separator = "" if saved.vocabulary.unit == "char" else "\n"
    arrays = {"vocabulary": _text_array(separator.join(saved.vocabulary.tokens))}
    arrays.update({f"model_{name}": array for name, array in saved.model.arrays().items()})
    for split, index in saved.data_counts.items():
        # A count model's own counts are its training split's: stored once.
        if index is not getattr(saved.model, "counts", None):
            arrays.update(index.arrays(f"data_{split}_"))
    if saved.train_items is not None:
        arrays["train_items"] = _text_array(saved.train_items)
    arrays["meta"] = _text_array(json.dumps(saved.meta, ensure_ascii=False))
    try:
        return atomic_write(path, lambda stream: _write_npz(stream, arrays), behind=True)
    except BigramError as error:
        raise ModelFileError(cli_message(error)) from None


# ---------------------------------------------------------------------- reading

# Ceilings on what a member may declare, checked before it is read: a model file
# may come from anywhere, and a few megabytes of deflate can declare gigabytes.
META_LIMIT = 16 << 20                     # bytes of JSON metadata
VOCABULARY_LIMIT = 256 << 20              # bytes of the vocabulary's text
MAX_VOCABULARY = 1 << 27                  # tokens
MAX_EMBEDDED_ARPA = 1 << 36               # bytes of a component's ARPA text (64 GiB)
TRAIN_ITEMS_LIMIT = 4 * KEEP_TEXT_LIMIT   # bytes: the kept characters, at most 4 UTF-8 bytes each
MAX_LEVEL_ROWS = 1 << 30                  # windows of one length in a stored index
MAX_MATRIX_VALUES = 1 << 28               # values of the neural weight matrix
MAX_LOSSES = 1 << 24                      # recorded training losses, one per step
COUNT_METHODS = ("add-k", "witten-bell", "kneser-ney", "modified-kneser-ney")


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
    if version < FORMAT_VERSION:
        raise ModelFileError(f"{path} is an older bigram model file (format {version}); this "
                             f"bigram {__version__} reads format {FORMAT_VERSION}: train it again")
    return meta


def _stated(meta, path):
    """The items and tokens per split the metadata states, checked."""
    data = meta.get("data", {})
    if not isinstance(data, dict):
        raise damaged(path, "the data section of its metadata is not a mapping")
    for key in ("items", "tokens"):
        stated = data.get(key, {})
        if not isinstance(stated, dict) or not all(
                split in SPLITS and _whole(n) for split, n in stated.items()):
            raise damaged(path, f"its metadata's {key} are not whole numbers of 0 or more "
                                "for the train, dev and test splits")
    if not _whole(data.get("bytes", 0)):
        raise damaged(path, "its metadata's byte count is not a whole number of 0 or more")
    return data.get("items", {}), data.get("tokens", {})


def _vocabulary(npz, meta, path):
    unit, unk, size = meta.get("unit"), meta.get("unk"), meta.get("vocabulary_size")
    if unit not in UNITS or not isinstance(unk, bool) or not _whole(size, MAX_VOCABULARY):
        raise damaged(path, "its metadata does not state the unit, <unk> and vocabulary size")
    text = npz.read_text("vocabulary", max_bytes=VOCABULARY_LIMIT, what="its vocabulary")
    tokens = (list(text) if unit == "char" else text.split("\n")) if text else []
    first = 2 if unk else 1
    if len(tokens) + first != size or tokens != sorted(set(tokens)):
        raise damaged(path, f"its vocabulary is not {size - first:,} sorted distinct tokens")
    try:
        return Vocabulary(tokens, unit, unk)
    except ValueError as error:
        raise damaged(path, f"its vocabulary is not valid ({error})") from None


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
        prune = hyper.get("prune")
        if prune is not None and not (isinstance(prune, list) and all(_whole(t) for t in prune)):
            raise damaged(path, "its pruning thresholds are not whole numbers")
        discounts = hyper.get("discounts")
        if discounts is not None and not (isinstance(discounts, dict) and all(
                isinstance(v, list) and len(v) == 3 and all(_number(d) for d in v)
                for v in discounts.values())):
            raise damaged(path, "its discounts are not three numbers per order")
    else:
        for name in ("steps", "seed"):
            if not _whole(hyper.get(name, 0), 2 ** 64):
                raise damaged(path, f"its {name} {hyper[name]!r} is not a whole number of 0 "
                                    "or more")
        for name in ("lr", "reg"):
            if not _number(hyper.get(name, 0.0)):
                raise damaged(path, f"its {name} {hyper[name]!r} is not a finite number")
    return hyper


def _read_index(npz, prefix, order, size, padding, path, what, items=None, tokens=None):
    """An NgramIndex from the file, every array checked before it is used.

    A text of T predictions in I items has at most T + I * (order - 1) windows of
    each length, which bounds every array when the metadata states T and I.
    """
    limit = MAX_LEVEL_ROWS
    if items is not None and tokens is not None:
        limit = min(limit, tokens + items * (order - 1) + size)
    levels = [None]
    total = 0
    for k in range(1, order + 1):
        name = f"{prefix}{k}_"
        rows = size if k == 1 else None
        keys = npz.read(name + "keys", np.int64, (rows,), max_items=limit,
                        what=f"the array of keys of {what} at level {k}")
        n = len(keys)
        suffix = npz.read(name + "suffix", np.int32, (n,), max_items=limit,
                          what=f"the array of suffix links of {what} at level {k}")
        wide = npz.header(name + "count").dtype == np.dtype(np.int64)
        count = npz.read(name + "count", np.int64 if wide else np.int32, (n,), max_items=limit,
                         what=f"the array of counts of {what} at level {k}")
        if k == 1:
            if (keys != np.arange(size)).any() or (suffix != 0).any():
                raise damaged(path, f"the windows of {what} at level 1 are not the "
                                    f"vocabulary's {size:,} tokens")
        else:
            below = len(levels[k - 1])
            check_increasing(keys, path, f"the keys of {what} at level {k}")
            check_indices(keys, below * size, path, f"the keys of {what} at level {k}",
                          f"the {below * size:,} possible windows")
            check_indices(suffix, below, path, f"the suffix links of {what} at level {k}",
                          f"the {below:,} shorter windows")
            # A suffix link must name the window minus its oldest token: the same last
            # token, after the suffix of the window's first k-1 tokens.
            parent, token = keys // size, keys % size
            if k == 2:
                wrong = suffix != token
            else:
                linked = levels[k - 1].keys[suffix]
                wrong = (linked % size != token) | (linked // size !=
                                                     levels[k - 1].suffix[parent])
            if wrong.any():
                raise damaged(path, f"the suffix links of {what} at level {k} do not match "
                                    "their windows")
        check_counts(count, path, f"the counts of {what} at level {k}")
        levels.append(Level(keys, suffix, count))
    index = NgramIndex(order, size, levels, padding)
    total = sum(check_counts(index.final(k), path, f"the scored counts of {what} at level {k}")
                for k in range(1, order + 1))
    if total > INT64_MAX:
        raise damaged(path, f"{what} sum to more than a 64-bit count can hold")
    if tokens is not None and total != tokens:
        raise damaged(path, f"its metadata states {tokens:,} predictions, but {what} sum to "
                            f"{total:,}")
    return index


def _read_model(npz, meta, vocabulary, order, padding, stated, path):
    size = len(vocabulary)
    hyper = _hyperparameters(meta, path)
    items, tokens = stated
    all_items = sum(items.values()) if items else None
    all_tokens = sum(tokens.values()) if tokens else None
    try:
        if meta["kind"] == CountModel.kind:
            # The model's counts are those of the training split (train, merge, tune).
            counts = _read_index(npz, "model_counts_", order, size, padding, path,
                                 "the model's counts", items.get("train", all_items),
                                 tokens.get("train", all_tokens))
            rank = None
            if "model_token_rank" in npz:
                rank = npz.read("model_token_rank", np.int64, (size,), max_items=size,
                                what="the array of word ranks")
                check_indices(rank, INT64_MAX, path, "the word ranks", "0 or more")
            discounts = hyper.get("discounts")
            if discounts:
                discounts = {int(k): tuple(v) for k, v in discounts.items()}
            smoothing = hyper.get("smoothing")
            model = CountModel(vocabulary, counts,
                               None if smoothing is None else float(smoothing),
                               hyper.get("smoothing_method", "add-k"), discounts=discounts,
                               prune=hyper.get("prune"), token_rank=rank)
            tables = _read_query_tables(npz, order, size, padding,
                                        [None, None] + [counts.level(k).keys
                                                        for k in range(2, order + 1)], path)
            if tables is not None:
                model._query_tables = tables
            return model
        if (order - 1) * size * size > MAX_MATRIX_VALUES:
            raise damaged(path, f"its weight matrix for {size:,} tokens is larger than any "
                                "neural model bigram trains")
        weights = npz.read("model_weights", np.float32, ((order - 1) * size, size),
                           max_items=MAX_MATRIX_VALUES, what="the weight matrix")
        check_finite(weights, path, "its weights")
        steps = hyper.get("steps", 0)
        losses = npz.read("model_losses", np.float64, (None,),
                          max_items=min(steps + 1, MAX_LOSSES),
                          what="the array of training losses")
        check_finite(losses, path, "its training losses")
        return NeuralModel(vocabulary, weights, steps, hyper.get("lr", 0.0),
                           hyper.get("reg", 0.0), hyper.get("seed", 0), losses.tolist(), order)
    except (TypeError, ValueError, OptionError) as error:
        raise damaged(path, cli_message(error)) from None


def _read_query_tables(npz, order, size, padding, keys, path, hash_level_2=False):
    """The stored query tables of a count model (None if the file has none), checked:
    one adj per window of each level, one B per context below the top. `keys[k]` may be
    a function reading level k's keys."""
    from bigram.ngrams.lookup import HashTable
    from bigram.ngrams.query import QueryTables, dense_fits

    if "model_query_1_adj" not in npz:
        return None

    def level_keys(k):
        return keys[k]() if callable(keys[k]) else keys[k]

    def rows(k):
        return size if k == 1 else len(level_keys(k))

    def read_adj(k):
        adj = npz.read(f"model_query_{k}_adj", np.float64, (rows(k),), max_items=rows(k),
                       what=f"the array of scoring values at level {k}")
        if np.isnan(adj).any() if k > 1 else np.isposinf(adj).any():
            raise damaged(path, f"the scoring values at level {k} are not all numbers")
        return adj

    def read_below(k):
        below = npz.read(f"model_query_{k}_below", np.float64, (rows(k),), max_items=rows(k),
                         what=f"the array of scoring back-off sums at level {k}")
        check_finite(below, path, f"the scoring back-off sums at level {k}")
        return below

    def level_2_table():
        # Every word of a text asks level 2 about its window: when that level is too large
        # for a dense table, its hash table is made here, while the other arrays are read.
        if not hash_level_2 or order < 2 or dense_fits(1, size, size) or \
                not HashTable.fits(rows(2), size * size):
            return {}
        return {2: HashTable.build(level_keys(2))}

    # Keys first (the other arrays' lengths follow from them; the functions above read
    # them from `keys` as it is now), each array read and checked by one of two threads:
    # reading hundreds of megabytes is mostly the system's copying.
    keys = [None, None] + _in_parallel([lambda k=k: level_keys(k) for k in range(2, order + 1)])
    arrays = _in_parallel([level_2_table] +
                          [lambda k=k: read_adj(k) for k in range(1, order + 1)] +
                          [lambda k=k: read_below(k) for k in range(1, order)])
    adj, below = [None] + arrays[1:order + 1], [None] + arrays[order + 1:]
    return QueryTables(order, size, padding, keys, adj, below, arrays[0])


def _in_parallel(functions, threads=2):
    """Each function's result, in order, computed by `threads` threads (the first error
    in order is raised)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(function) for function in functions]
        return [future.result() for future in futures]


def load_for_scoring(path):
    """The model of a file as `score --file` needs it. A count model with stored query
    tables is read without its counts or splits (no estimation, a fraction of the
    reading); anything else loads whole (`load`)."""
    from bigram.ngrams.query import TablesModel

    path = Path(path)
    check_regular_file(path, "a model file", ModelFileError)
    if is_query_file(path):
        return open_query_file(path).model
    if not (path.is_file() and is_arpa(path)):
        with NpzFile(path) as npz:
            meta = _read_meta(npz, path)
            if meta.get("kind") == CountModel.kind and "model_query_1_adj" in npz:
                vocabulary = _vocabulary(npz, meta, path)
                order, size = _order(meta, path), len(vocabulary)
                padding = meta.get("padding")
                if padding not in PADDINGS:
                    raise damaged(path, f"its padding {padding!r} is not one bigram knows")
                keys = [None, None] + [functools.partial(_read_keys, npz, k, size, path)
                                       for k in range(2, order + 1)]
                tables = _read_query_tables(npz, order, size, padding, keys, path,
                                            hash_level_2=True)
                _check_key_ranges(tables.keys, size, path)
                return TablesModel(vocabulary, tables)
    return load(path).model


def _read_keys(npz, k, size, path):
    """Level k's keys alone, sorted and distinct (their range is checked once every level
    is read: `_check_key_ranges`)."""
    keys = npz.read(f"model_counts_{k}_keys", np.int64, (None,), max_items=MAX_LEVEL_ROWS,
                    what=f"the array of keys of the model's counts at level {k}")
    check_increasing(keys, path, f"the keys of the model's counts at level {k}")
    return keys


def _check_key_ranges(keys, size, path):
    below = size
    for k in range(2, len(keys)):
        if len(keys[k]) and (keys[k][0] < 0 or keys[k][-1] >= below * size):  # sorted
            value = int(keys[k][0] if keys[k][0] < 0 else keys[k][-1])
            raise damaged(path, f"the keys of the model's counts at level {k} include "
                                f"{value:,}, outside the {below * size:,} possible windows")
        below = len(keys[k])


def _read_data_counts(npz, order, size, padding, stated, path, model_counts=None):
    """Each split's stored index, agreeing with the items and tokens the metadata states."""
    items, tokens = stated
    indexes = {}
    for split in SPLITS:
        if split == "train" and model_counts is not None and "data_train_1_keys" not in npz:
            indexes[split] = model_counts   # checked against the train tokens already
            continue
        if f"data_{split}_1_keys" not in npz:
            if tokens.get(split):
                raise damaged(path, f"its metadata states {tokens[split]:,} {split} tokens, "
                                    f"but it stores no {split} counts")
            continue
        if split not in tokens or split not in items:
            raise damaged(path, f"it stores {split} counts but its metadata states no "
                                f"{split} items and tokens")
        indexes[split] = _read_index(npz, f"data_{split}_", order, size, padding, path,
                                     f"the {split} counts", items[split], tokens[split])
    return indexes


def open_query_file(path):
    """A query file as a SavedModel, mapped (query_file.open_query_file)."""
    from bigram.formats.query_file import open_query_file as open_mapped

    return open_mapped(path)


def load(path):
    """Read and validate a model file (or an ARPA file, or a query file, mapped); every
    problem is a one-line ModelFileError.

    Every member is checked, by size before it is read and by value after, so
    every command refuses a damaged file, whichever part of it is damaged. A path that
    is not a regular file (a FIFO, a device) is refused before it is opened.
    """
    path = Path(path)
    check_regular_file(path, "a model file", ModelFileError)
    if is_query_file(path):
        return open_query_file(path)
    if path.is_file() and is_arpa(path):
        from bigram.formats.arpa_model import load_arpa

        return load_arpa(path)
    with NpzFile(path) as npz:
        meta = _read_meta(npz, path)
        if meta.get("kind") == "interpolated":
            return _load_interpolation(npz, meta, path)
        if meta.get("kind") not in MODEL_KINDS:
            raise ModelFileError(f"{path} holds a model of unknown kind {meta.get('kind')!r}")
        vocabulary = _vocabulary(npz, meta, path)
        order = _order(meta, path)
        padding = meta.get("padding")
        if padding not in PADDINGS:
            raise damaged(path, f"its padding {padding!r} is not one bigram knows")
        stated = _stated(meta, path)
        model = _read_model(npz, meta, vocabulary, order, padding, stated, path)
        data_counts = _read_data_counts(npz, order, len(vocabulary), padding, stated, path,
                                        getattr(model, "counts", None))
        items = npz.read_text("train_items", max_bytes=TRAIN_ITEMS_LIMIT,
                              what="its training text") if "train_items" in npz else None
    return SavedModel(model, data_counts, meta, items)


def _load_interpolation(npz, meta, path):
    """An interpolated model: its weights and components, read from the file itself (or,
    in files written before components were embedded, from the component files it
    names, each checked unchanged)."""
    from bigram.models.interpolation import InterpolatedModel

    components = meta.get("components")
    weights = meta.get("weights")
    if not isinstance(components, list) or not isinstance(weights, list) or not all(
            isinstance(c, dict) and isinstance(c.get("path"), str) and (
                isinstance(c.get("sha256"), str) or isinstance(c.get("embedded"), str))
            for c in components):
        raise damaged(path, "its metadata does not list the interpolated models and weights")
    models = []
    for component in components:
        if "embedded" in component:
            models.append(_load_embedded(npz, component["embedded"], path))
            continue
        source = Path(component["path"])
        if not source.is_file():
            raise ModelFileError(f"{path} interpolates {source}, which is missing")
        if file_sha256(source) != component["sha256"]:
            raise ModelFileError(f"{path} interpolates {source}, which has changed since "
                                 "(interpolate the models again)")
        models.append(load(source).model)
    try:
        model = InterpolatedModel(models, weights, [c["path"] for c in components])
    except OptionError as error:
        raise damaged(path, cli_message(error)) from None
    return SavedModel(model, {}, meta, None)


class _Prefixed:
    """The members of an NpzFile whose names start with a prefix, read by the rest of the
    name (a component embedded in an interpolated model file reads as its own file)."""

    def __init__(self, npz, prefix):
        self.npz, self.prefix = npz, prefix

    def __contains__(self, name):
        return self.prefix + name in self.npz

    def header(self, name):
        return self.npz.header(self.prefix + name)

    def read(self, name, *args, **kwargs):
        return self.npz.read(self.prefix + name, *args, **kwargs)

    def read_text(self, name, **kwargs):
        return self.npz.read_text(self.prefix + name, **kwargs)


def _load_embedded(npz, prefix, path):
    """A component stored in an interpolated model file (see _component_arrays)."""
    if not isinstance(prefix, str) or not (prefix + "arpa" in npz or prefix + "meta" in npz):
        raise damaged(path, f"it does not hold the model it names {prefix!r}")
    if prefix + "arpa" in npz:
        from bigram.formats.arpa_model import arpa_model_of
        from bigram.formats.arpa_reader import parse_arpa

        text = npz.read(prefix + "arpa", np.uint8, (None,), max_items=MAX_EMBEDDED_ARPA,
                        what="an interpolated model's ARPA text")
        return arpa_model_of(parse_arpa(text.tobytes(), f"{path} ({prefix}arpa)"), path)[0]
    view = _Prefixed(npz, prefix)
    meta = _read_meta(view, path)
    if meta.get("kind") not in MODEL_KINDS:
        raise ModelFileError(f"{path} holds a model of unknown kind {meta.get('kind')!r}")
    vocabulary = _vocabulary(view, meta, path)
    order = _order(meta, path)
    padding = meta.get("padding")
    if padding not in PADDINGS:
        raise damaged(path, f"its padding {padding!r} is not one bigram knows")
    return _read_model(view, meta, vocabulary, order, padding, ({}, {}), path)
