"""ARPA back-off files: the standard text format KenLM, SRILM and speech or OCR decoders read.

Tokens are characters. The boundary is `<s>` as a history and `</s>` as a
prediction; `<unk>` is present (never predicted: log10 probability -100).
Characters that cannot be ARPA words, being whitespace, become escape tokens:
`<space>` for U+0020, `<tab>` for U+0009, and `<U+XXXX>` for any other
whitespace character.

The file is exact. Count models are interpolated, P_n(w|h) = explicit +
lambda_n(h) P_{n-1}(w|h'), which is the back-off rule a reader applies: each
seen n-gram is listed with its full probability and each history carries
log10 lambda as its back-off weight. Our histories start with n-1 boundary
tokens where ARPA has one `<s>`: a history `<s> x` stands for the model's
full-order context of boundaries then x, whose n-grams are listed with the
top order's probability and whose back-off weight is the product of the
lambdas down to x alone (below the full order such contexts have the same
counts as at the top, so nothing seen is skipped). A neural bigram model,
which has no back-off form, is written with every bigram listed. A
probability of zero (add-k with k = 0) is written as -99, the convention for
log10 0.
"""

import numpy as np

from .errors import BigramError
from .ngrams import split_key
from .smoothing import raw_tables
from .vocabulary import BOUNDARY

LOG_ZERO = -99.0
UNK_LOG_PROB = -100.0
_ESCAPES = {" ": "<space>", "\t": "<tab>"}


def escape(char):
    """The ARPA word for a character."""
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isspace():
        return f"<U+{ord(char):04X}>"
    return char


def _log10(values):
    with np.errstate(divide="ignore"):
        logs = np.log10(np.asarray(values, dtype=np.float64))
    return np.where(np.isfinite(logs), logs, LOG_ZERO)


def _number(x):
    return f"{x:.9g}"


class _Entries:
    """ARPA entries keyed by (starts with <s>, tokens after it), with value and back-off."""

    def __init__(self, order):
        self.by_order = {m: {} for m in range(1, order + 1)}
        self.backoff = {}

    def add(self, bos, tokens, value):
        self.by_order[len(tokens) + int(bos)][(bos, tokens)] = value

    def set_backoff(self, bos, tokens, weight):
        self.backoff[(bos, tokens)] = weight


def _weights(distribution, order, keys):
    """lambda_order of each context key (1 where the order has no level or the context no entry)."""
    level = distribution.level(order)
    weights = np.ones(len(keys))
    if level is not None:
        index, seen = level.find(keys)
        weights[seen] = level.weight[index[seen]]
    return weights


def _entry_rows(table, chosen):
    """For the contexts `chosen` (bool), each entry's context rank among them and next token."""
    owner = np.repeat(np.arange(len(table.contexts)), np.diff(table.indptr))
    keep = chosen[owner]
    rank = np.cumsum(chosen) - 1
    return owner[keep], rank[owner[keep]], table.next[keep]


def _count_model_entries(model):
    distribution, size, order = model.distribution, model.size, model.order
    tables = raw_tables(model.counts)
    entries = _Entries(order)
    for w, value in enumerate(_log10(distribution.base).tolist()):
        entries.add(False, (w,), value)
    # Histories and n-grams without the boundary: every order's own distribution.
    for m in range(2, order + 1):
        table = tables[m]
        tokens = split_key(table.contexts, m, size)
        genuine = (tokens != BOUNDARY).all(axis=1)
        keys = table.contexts[genuine]
        for context, weight in zip(tokens[genuine].tolist(),
                                   _log10(_weights(distribution, m, keys)).tolist()):
            entries.set_backoff(False, tuple(context), weight)
        owner, rank, nexts = _entry_rows(table, genuine)
        values = _log10(distribution.rows(keys, order=m)[rank, nexts])
        for context, w, value in zip(tokens[owner].tolist(), nexts.tolist(), values.tolist()):
            entries.add(False, tuple(context) + (w,), value)
    # Histories that begin with boundaries: ARPA's `<s> x`, at the model's full order.
    top = tables[order]
    tokens = split_key(top.contexts, order, size)
    padded = tokens[:, 0] == BOUNDARY
    x_length = (tokens != BOUNDARY).sum(axis=1)
    weight = np.ones(len(top.contexts))
    for n in range(2, order + 1):
        applies = padded & (n >= x_length + 2)
        weight[applies] *= _weights(distribution, n, top.contexts[applies] % size ** (n - 1))
    stripped = [tuple(t for t in context if t != BOUNDARY) for context in tokens[padded].tolist()]
    for x, value in zip(stripped, _log10(weight[padded]).tolist()):
        entries.set_backoff(True, x, value)
    owner, rank, nexts = _entry_rows(top, padded)
    values = _log10(distribution.rows(top.contexts[padded], order=order)[rank, nexts])
    for r, w, value in zip(rank.tolist(), nexts.tolist(), values.tolist()):
        entries.add(True, stripped[r] + (w,), value)
    return entries


def _dense_entries(model):
    """Every bigram of a model with no back-off form (a neural bigram model)."""
    entries = _Entries(2)
    size = model.size
    for w in range(size):
        entries.add(False, (w,), float(np.log10(1.0 / size)))
    logs = _log10(model.probabilities)
    for h in range(size):
        for w, value in enumerate(logs[h].tolist()):
            entries.add(h == BOUNDARY, (w,) if h == BOUNDARY else (h, w), value)
    return entries


def arpa_lines(model):
    """The ARPA text of a model, line by line."""
    if getattr(model, "distribution", None) is not None:
        entries = _count_model_entries(model)
    elif model.order == 2:
        entries = _dense_entries(model)
    else:
        raise BigramError(f"a neural model of order {model.order} has no back-off form to "
                          "write as ARPA; export count models (any order) or neural bigrams")
    words = ["</s>"] + [escape(c) for c in model.vocabulary.chars]
    history_words = ["<s>"] + words[1:]
    start_backoff = entries.backoff.get((True, ()), 0.0)
    counts = {m: len(v) for m, v in entries.by_order.items()}
    counts[1] += 2  # <unk> and <s>
    yield "\\data\\"
    for m in range(1, model.order + 1):
        yield f"ngram {m}={counts[m]}"
    for m in range(1, model.order + 1):
        yield ""
        yield f"\\{m}-grams:"
        if m == 1:
            yield f"{_number(UNK_LOG_PROB)}\t<unk>"
            yield f"{_number(LOG_ZERO)}\t<s>\t{_number(start_backoff)}"
        for (bos, tokens), value in entries.by_order[m].items():
            text = " ".join((["<s>"] if bos else []) +
                            [history_words[t] for t in tokens[:-1]] + [words[tokens[-1]]])
            line = f"{_number(value)}\t{text}"
            backoff = entries.backoff.get((bos, tokens))
            if backoff is not None and m < model.order and tokens[-1] != BOUNDARY:
                line += f"\t{_number(backoff)}"
            yield line
    yield ""
    yield "\\end\\"


def write(model, path):
    """Write the model as an ARPA file (atomically); returns the entries per order."""
    from .files import atomic_write

    counts = {}

    def fill(stream):
        for line in arpa_lines(model):
            if line.startswith("ngram "):
                order, count = line[6:].split("=")
                counts[int(order)] = int(count)
            stream.write((line + "\n").encode("utf-8"))

    atomic_write(path, fill)
    return counts
