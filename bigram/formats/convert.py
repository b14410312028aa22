"""Converting a model to a query file (`bigram convert`, `train --query-file`): the query
tables of a count model file or an ARPA file, written as query_file's mapped trie."""

from pathlib import Path

from bigram.errors import OptionError
from bigram.formats.files import is_query_file
from bigram.formats.modelfile import is_arpa
from bigram.formats.query_file import MAX_QUANTIZE, write_query_file


def tables_for_conversion(path):
    """(query tables, vocabulary, metadata) of a model file or ARPA file to convert.

    A count model file with stored query tables is read without its counts (as
    `score --file` reads it); an ARPA file is read whole (arpa_model.load_arpa), its
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
            raise OptionError(f"{path} holds a {meta.get('kind')} model; only back-off models "
                              "(count models and ARPA files) convert to query files")
        model = load_for_scoring(path)
        vocabulary, tables = model.vocabulary, model.query_tables()
    if tables is None:
        raise OptionError(f"{path} has a back-off weight of zero or a window over a token "
                          "without a probability of its own; a query file cannot hold it")
    return tables, vocabulary, conversion_meta(meta, path)


def conversion_meta(meta, source):
    """A model's metadata as a query file keeps it: where it came from, and its kind."""
    meta = {key: value for key, value in meta.items() if key not in ("format",
                                                                     "format_version")}
    meta["converted_from"] = str(source)
    meta["source_kind"] = meta.pop("kind", None)
    return meta


def write_saved(path, saved, source, quantize=None):
    """The query file of a count model just trained (`train --query-file`): its query
    tables, made for its model file, written again as a trie."""
    tables = saved.model.query_tables()
    if tables is None:
        raise OptionError("this model has a back-off weight of zero; a query file cannot "
                          "hold it")
    return write_query_file(path, tables, saved.vocabulary,
                            conversion_meta(saved.meta, source), quantize)


def convert(source, output, quantize=None):
    """Write the query file of a model file or ARPA file; returns (replaced, rows per
    level). An ARPA file that lists every prefix and suffix of its n-grams (lmplz's do)
    is converted a level at a time (arpa_stream); any other is read whole."""
    if quantize is not None and not 1 <= quantize <= MAX_QUANTIZE:
        raise OptionError(f"--quantize must be from 1 to {MAX_QUANTIZE} bits, not {quantize}")
    source = Path(source)
    if source.is_file() and not is_query_file(source) and is_arpa(source):
        from bigram.formats.arpa_stream import convert_arpa

        def write(tables, vocabulary, meta):
            replaced = write_query_file(output, tables, vocabulary,
                                        conversion_meta(meta, source), quantize)
            return replaced, [tables.rows[k] for k in range(1, tables.order + 1)]

        done = convert_arpa(source, write)
        if done is not None:
            return done
    tables, vocabulary, meta = tables_for_conversion(source)
    replaced = write_query_file(output, tables, vocabulary, meta, quantize)
    rows = [tables.size] + [len(tables.level_keys(k)) for k in range(2, tables.order + 1)]
    return replaced, rows
