"""`bigram export` of a large modified Kneser-Ney model within a memory budget: the model
file's counts read in place a slice at a time (its members are stored, not deflated), the
back-off form estimated on disk (ngrams.streaming_kneser_ney, the same arithmetic as in
memory), and the ARPA text written a slice at a time, in the order arpa_writer writes it.
"""

from pathlib import Path

import numpy as np

from bigram.errors import ModelFileError
from bigram.formats.arpa_writer import (
    UNK_LOG_PROB,
    _log10,
    _number,
    arpa_words,
    section_lines,
)
from bigram.formats.files import write_text_output
from bigram.ngrams.columns import rows_for
from bigram.ngrams.disk_index import DiskIndex, DiskLevel
from bigram.ngrams.index import BOUNDARY

# A model file larger than this share of the budget is exported from disk.
STREAM_SHARE = 0.25


def streams(path, budget):
    """Whether `bigram export` of the model file at `path` goes from disk: a modified
    Kneser-Ney count model whose file is large beside the budget."""
    from bigram.formats.modelfile import _read_meta
    from bigram.formats.npzfile import NpzFile

    path = Path(path)
    try:
        if path.stat().st_size <= budget * STREAM_SHARE:
            return False
        with NpzFile(path) as npz:
            meta = _read_meta(npz, path)
    except (OSError, ModelFileError):
        return False
    hyper = meta.get("hyperparameters") or {}
    return meta.get("kind") == "counts" and meta.get("padding") == "sentence" and \
        hyper.get("smoothing_method") == "modified-kneser-ney"


def export_streamed(path, output, budget, temp_dir=None):
    """Write the ARPA file of the model file at `path` to `output` within `budget` bytes,
    temporary columns under `temp_dir`; returns the n-grams of each order."""
    from bigram.formats.modelfile import (
        _hyperparameters,
        _order,
        _read_meta,
        _vocabulary,
    )
    from bigram.formats.npzfile import NpzFile
    from bigram.ngrams.budgeted_counting import open_space
    from bigram.ngrams.streaming_kneser_ney import estimate_streaming

    path = Path(path)
    with NpzFile(path) as npz:
        meta = _read_meta(npz, path)
        vocabulary = _vocabulary(npz, meta, path)
        order, hyper = _order(meta, path), _hyperparameters(meta, path)
        size = len(vocabulary)
        rank = npz.read("model_token_rank", np.int64, (size,), max_items=size) \
            if "model_token_rank" in npz else None
        levels = [None]
        for k in range(1, order + 1):
            columns = [npz.column(f"model_counts_{k}_{name}", dtype)
                       for name, dtype in (("keys", np.int64), ("suffix", np.int32),
                                           ("count", np.int32))]
            if columns[2] is None:
                columns[2] = npz.column(f"model_counts_{k}_count", np.int64)
            if any(c is None for c in columns) or len({len(c) for c in columns}) != 1:
                raise ModelFileError(f"{path}: the counts of its {k}-grams cannot be read in "
                                     "place; export it without --memory")
            for column in columns:
                column.rows = rows_for(budget)
            levels.append(DiskLevel(*columns))
    discounts = hyper.get("discounts")
    if discounts:
        discounts = {int(k): tuple(v) for k, v in discounts.items()}
    space = open_space(temp_dir, 0)
    space.slice_rows = rows_for(budget)
    try:
        index = DiskIndex(order, size, levels, "sentence", space)
        estimate = estimate_streaming(index, budget, hyper.get("prune"), discounts, rank,
                                      vocabulary.unk_id, backoff_only=True)
        counts = {}

        def fill(stream):
            buffer = []
            for line in _lines(index, vocabulary, estimate.backoff, counts):
                buffer.append(line)
                if len(buffer) >= 65536:
                    stream.write(("\n".join(buffer) + "\n").encode("utf-8"))
                    buffer.clear()
            if buffer:
                stream.write(("\n".join(buffer) + "\n").encode("utf-8"))

        write_text_output(output, fill)
        return counts
    finally:
        space.close()


def _slices(index, k):
    """(start, stop) of level k's rows, a slice at a time."""
    length, rows = len(index.level(k)), index.space.slice_rows
    for start in range(0, length, rows):
        yield start, min(length, start + rows)


def _tokens(index, k, start, stop):
    """The tokens of level-k rows start..stop-1, oldest first: (rows, k); a row's parents
    are an ascending run, so each level below is read once, as one range."""
    size = index.size
    out = np.zeros((stop - start, k), np.int64)
    keys = index.level(k).keys.read(start, stop) if k > 1 else np.arange(start, stop)
    for j in range(k, 1, -1):
        out[:, j - 1] = keys % size
        parents = keys // size
        if j == 2:
            keys = parents
            break
        low = int(parents.min()) if len(parents) else 0
        high = int(parents.max()) + 1 if len(parents) else 0
        keys = index.level(j - 1).keys.read(low, high)[parents - low]
    out[:, 0] = keys
    return out


def _listed(index, k, backoff, start, stop):
    """Rows listed in the ARPA file (a value of their own; `</s>` always)."""
    listed = ~np.isnan(backoff[k][0].read(start, stop))
    if k == 1 and start <= BOUNDARY < stop:
        listed[BOUNDARY - start] = True
    return listed


def _lines(index, vocabulary, backoff, counts):
    """The ARPA text, line by line (arpa_writer.arpa_lines for `sentence` models);
    `counts` is filled with the n-grams of each order."""
    order = index.order
    words, history_words = arpa_words(vocabulary)
    for k in range(1, order + 1):
        counts[k] = sum(int(_listed(index, k, backoff, a, b).sum())
                        for a, b in _slices(index, k))
    counts[1] += 1 + (0 if vocabulary.unk else 1)
    start_backoff = float(_log10(backoff[1][1].read(BOUNDARY, BOUNDARY + 1))[0])
    yield "\\data\\"
    for m in range(1, order + 1):
        yield f"ngram {m}={counts[m]}"
    for m in range(1, order + 1):
        yield ""
        yield f"\\{m}-grams:"
        if m == 1:
            if not vocabulary.unk:
                yield f"{_number(UNK_LOG_PROB)}\t<unk>"
            yield f"{_number(0.0)}\t<s>\t{_number(start_backoff)}"
        for bos in (False, True):
            if bos and m == 1:
                continue
            for start, stop in _slices(index, m):
                yield from _slice_lines(index, m, backoff, start, stop, bos, words,
                                        history_words)
    yield ""
    yield "\\end\\"


def _slice_lines(index, m, backoff, start, stop, bos, words, history_words):
    """Lines of ARPA order m for level-m rows start..stop-1 that do (bos) or do not begin
    with `<s>`."""
    tokens = _tokens(index, m, start, stop)
    pick = _listed(index, m, backoff, start, stop)
    if m > 1:
        pick &= (tokens[:, 0] == BOUNDARY) == bos
    rows = np.flatnonzero(pick)
    if not len(rows):
        return
    lp, lb = backoff[m]
    values = _log10(lp.read(start, stop)[rows])
    weights = None if lb is None else _log10(lb.read(start, stop)[rows])
    tokens = tokens[rows][:, int(bos):]
    yield from section_lines(bos, tokens, values, weights, m, index.order, words,
                             history_words)

