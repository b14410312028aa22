"""Converting a model to a query file (`bigram convert`, `train --query-file`): the query
tables of a count model file or an ARPA file, written as query_file's mapped trie."""

from pathlib import Path

import numpy as np

from bigram.errors import OptionError
from bigram.formats.arpa_reader import is_arpa
from bigram.formats.column_levels import ColumnLevels
from bigram.formats.files import is_query_file
from bigram.formats.npzfile import damaged
from bigram.formats.query_file import MAX_QUANTIZE, write_query_file


def tables_for_conversion(path):
    """(query tables, vocabulary, metadata) of a model file or ARPA file to convert.

    A count model file with stored query tables gives them as columns read in place a
    slice at a time (`stored_levels`; read whole, as `score --file` reads them, if they
    are deflated); an ARPA file is read whole (arpa_model.load_arpa), its
    tables made in place of its back-off arrays.
    """
    from bigram.formats.modelfile import _read_meta, load_for_scoring
    from bigram.formats.npzfile import NpzFile
    from bigram.ngrams.query import QueryTables

    path = Path(path)
    if path.is_file() and is_query_file(path):
        raise OptionError(f"{path} is a query file already; convert the model file or ARPA "
                          "file it was made from")
    if path.is_file() and is_arpa(path):
        from bigram.formats.arpa_model import load_arpa

        saved = load_arpa(path)
        vocabulary, meta = saved.vocabulary, saved.meta
        tables = QueryTables.from_backoff(saved.model.backoff, in_place=True)
    else:
        with NpzFile(path) as npz:
            meta = _read_meta(npz, path)
            if meta.get("kind") != "counts":
                raise OptionError(f"{path} holds a {meta.get('kind')} model; only back-off "
                                  "models (count models and ARPA files) convert to query "
                                  "files")
            stored = stored_levels(npz, meta, path)
        if stored is not None:
            return stored[0], stored[1], conversion_meta(meta, path)
        model = load_for_scoring(path)
        vocabulary, tables = model.vocabulary, model.query_tables()
    if tables is None:
        raise OptionError(f"{path} has a back-off weight of zero or a window over a token "
                          "without a probability of its own; a query file cannot hold it")
    return tables, vocabulary, conversion_meta(meta, path)


def stored_levels(npz, meta, path):
    """(ColumnLevels, vocabulary) over the query tables a count model file stores, read
    in place a slice at a time and checked as they are read (the checks load_for_scoring
    makes on the whole arrays); None when the file stores none, or deflated."""
    from bigram.formats.modelfile import PADDINGS, _order, _vocabulary

    if "model_query_1_adj" not in npz:
        return None
    vocabulary = _vocabulary(npz, meta, path)
    order, size, padding = _order(meta, path), len(vocabulary), meta.get("padding")
    if padding not in PADDINGS:
        raise damaged(path, f"its padding {padding!r} is not one bigram knows")
    keys = {k: npz.column(f"model_counts_{k}_keys", np.int64) for k in range(2, order + 1)}
    adj = {k: npz.column(f"model_query_{k}_adj", np.float64) for k in range(1, order + 1)}
    below = {k: npz.column(f"model_query_{k}_below", np.float64) for k in range(1, order)}
    if any(column is None for column in [*keys.values(), *adj.values(), *below.values()]):
        return None
    rows = [0, size] + [len(keys[k]) for k in range(2, order + 1)]
    for k in range(1, order + 1):
        if len(adj[k]) != rows[k] or (k < order and len(below[k]) != rows[k]):
            raise damaged(path, f"its scoring arrays at level {k} do not have one value per "
                                "window")
    return ColumnLevels(order, size, padding, keys, adj, below,
                        _StoredCheck(path, size, rows, keys)), vocabulary


class _StoredCheck:
    """Each slice of a model file's stored query tables checked as it is read: keys sorted
    without repeats and each under its level's span (so every parent row is in range),
    adj a number (not +inf at level 1), B finite."""

    def __init__(self, path, size, rows, keys):
        self.path, self.size, self.rows, self.keys = path, size, rows, keys

    def __call__(self, what, k, start, values):
        if what == "keys":
            before = self.keys[k].read(start - 1, start) if start else values[:0]
            joined = np.concatenate([before, values])
            if (joined[1:] <= joined[:-1]).any():
                raise damaged(self.path, f"the keys of the model's counts at level {k} are "
                                         "not sorted without repeats")
            if len(values) and (values[0] < 0 or values[-1] >= self.rows[k - 1] * self.size):
                raise damaged(self.path, f"the keys of the model's counts at level {k} are "
                                         "out of range")
        elif what == "adj":
            if np.isnan(values).any() if k > 1 else np.isposinf(values).any():
                raise damaged(self.path, f"the scoring values at level {k} are not all "
                                         "numbers")
        elif not np.isfinite(values).all():
            raise damaged(self.path, f"the scoring back-off sums at level {k} are not all "
                                     "finite")


def conversion_meta(meta, source):
    """A model's metadata as a query file keeps it: where it came from, and its kind."""
    meta = {key: value for key, value in meta.items() if key not in ("format",
                                                                     "format_version")}
    meta["converted_from"] = str(source)
    meta["source_kind"] = meta.pop("kind", None)
    return meta


def write_saved(path, saved, source, quantize=None):
    """The query file of a count model just trained (`train --query-file`): its query
    tables, made for its model file, written again as a trie. A model estimated within a
    memory budget is written from its columns on disk, a slice at a time."""
    columns = getattr(saved.model, "column_tables", None)
    if columns is not None:
        tables = ColumnLevels(columns.order, columns.size, columns.padding, columns.keys,
                              columns.adj, columns.below)
    else:
        tables = saved.model.query_tables()
    if tables is None:
        raise OptionError("this model has a back-off weight of zero; a query file cannot "
                          "hold it")
    return write_query_file(path, tables, saved.vocabulary,
                            conversion_meta(saved.meta, source), quantize)


def convert(source, output, quantize=None, temp_dir=None):
    """Write the query file of a model file or ARPA file; returns (replaced, rows per
    level). An ARPA file that lists every prefix and suffix of its n-grams (lmplz's do)
    is converted a level at a time (arpa_stream); any other is read whole. Temporary
    files go to `temp_dir` (None: the system's temporary folder)."""
    if quantize is not None and not 1 <= quantize <= MAX_QUANTIZE:
        raise OptionError(f"--quantize must be from 1 to {MAX_QUANTIZE} bits, not {quantize}")
    source = Path(source)
    if source.is_file() and not is_query_file(source) and is_arpa(source):
        from bigram.formats.arpa_stream import convert_arpa

        def write(tables, vocabulary, meta):
            replaced = write_query_file(output, tables, vocabulary,
                                        conversion_meta(meta, source), quantize, temp_dir)
            return replaced, [tables.rows[k] for k in range(1, tables.order + 1)]

        done = convert_arpa(source, write, temp_dir)
        if done is not None:
            return done
    tables, vocabulary, meta = tables_for_conversion(source)
    replaced = write_query_file(output, tables, vocabulary, meta, quantize, temp_dir)
    rows = [tables.size] + [len(tables.level_keys(k)) for k in range(2, tables.order + 1)]
    return replaced, rows
