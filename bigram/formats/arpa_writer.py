"""ARPA back-off files: the standard text format KenLM, SRILM and speech or OCR decoders read.

Tokens are characters or words. The boundary is `<s>` as a history and `</s>` as a
prediction; `<unk>` is a real token when the model has one, and otherwise listed
with log10 probability -100 (never predicted). Characters that cannot be ARPA
words, being whitespace, become escape tokens: `<space>` for U+0020, `<tab>` for
U+0009, and `<U+XXXX>` for any other whitespace character.

The file is exact: every model is kept in back-off form (bigram.ngrams.backoff), which is
what an ARPA file stores. Models that read sentences as KenLM does (one `<s>`) map
window for window. Models padded the lecture's way (N-1 boundaries before each
item) have histories that begin with several boundaries where ARPA has one `<s>`:
a history `<s> x` stands for the model's full-order context of boundaries then x,
whose n-grams are listed with the top order's probability and whose back-off
weight is the product of the back-off weights of the padded contexts down to x
alone (below the full order such contexts have the same counts as at the top, so
nothing seen is skipped). A neural model, which has no back-off form, is written
with every n-gram listed (bigrams only). A probability of zero (add-k with k = 0)
is written as -99, the convention for log10 0.
"""

import math

import numpy as np

from bigram.errors import BigramError
from bigram.ngrams.index import BOUNDARY

LOG_ZERO = -99.0
UNK_LOG_PROB = -100.0
_ESCAPES = {" ": "<space>", "\t": "<tab>"}
LN10 = math.log(10)


def escape(char):
    """The ARPA word for a character."""
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isspace():
        return f"<U+{ord(char):04X}>"
    return char


def _log10(ln_values):
    values = np.asarray(ln_values, dtype=np.float64) / LN10
    return np.where(np.isfinite(values), values, LOG_ZERO)


def _number(x):
    return f"{x:.9g}"


class _Entries:
    """Per ARPA order: token tuples (with a flag for a leading `<s>`), log10 values, back-offs."""

    def __init__(self, order):
        self.order = order
        self.lines = {m: [] for m in range(1, order + 1)}

    def add(self, m, bos, tokens, values, backoffs=None):
        """Entries of ARPA order m: token rows (n, m - bos), log10 values, optional back-offs."""
        self.lines[m].append((bos, np.asarray(tokens), np.asarray(values),
                              None if backoffs is None else np.asarray(backoffs)))

    def count(self, m):
        return sum(len(v) for _, _, v, _ in self.lines[m])


def _sentence_entries(backoff, entries):
    """Models that read one `<s>`: level k of the index is ARPA order k."""
    index = backoff.index
    for k in range(1, index.order + 1):
        tokens = index.tokens(k)
        values = backoff.logprob[k]
        listed = ~np.isnan(values)
        if k == 1:
            listed[BOUNDARY] = True   # `</s>` (and `<s>`, written separately)
        bos = (tokens[:, 0] == BOUNDARY) & (k > 1)
        weights = backoff.logbackoff[k] if k < index.order else None
        for flag in (False, True):
            pick = listed & (bos == flag)
            if pick.any():
                entries.add(k, flag, tokens[pick][:, int(flag):], _log10(values[pick]),
                            None if weights is None else _log10(weights[pick]))
    return float(_log10(backoff.logbackoff[1][BOUNDARY:BOUNDARY + 1])[0])


def _padded_entries(backoff, entries):
    """Models padded with N-1 boundaries (see the module docstring)."""
    index, order = backoff.index, backoff.order
    entries.add(1, False, np.arange(index.size)[:, None], _log10(backoff.logprob[1]),
                _log10(backoff.logbackoff[1]))
    # Windows without a leading boundary: each order's own distribution.
    for m in range(2, order + 1):
        tokens = index.tokens(m)
        genuine = tokens[:, 0] != BOUNDARY
        weights = _log10(backoff.logbackoff[m][genuine]) if m < order else None
        entries.add(m, False, tokens[genuine], _log10(backoff.logprob[m][genuine]), weights)
    # Windows of the full order whose context begins with boundaries: ARPA's `<s> x w`, of
    # ARPA order N + 1 - (number of boundaries). Its back-off is that of its suffix, the
    # context of one boundary fewer, when that is still padded.
    rows = np.flatnonzero(index.tokens(order)[:, 0] == BOUNDARY)
    tokens = index.tokens(order, rows)
    pads = (tokens[:, :-1] == BOUNDARY).sum(axis=1)
    suffix = index.level(order).suffix[rows]
    weight = _padded_weight(backoff, suffix)
    for n_pads in range(order - 1, 0, -1):
        pick = pads == n_pads
        if pick.any():
            m = order + 1 - n_pads
            entries.add(m, True, tokens[pick][:, n_pads:], _log10(backoff.logprob[order][
                rows[pick]]), _log10(weight[pick]) if m < order else None)
    start = np.zeros(0, np.int64)
    for k in range(1, order):
        start = index.find(k, start[:1] if k > 1 else np.zeros(1, np.int64),
                           np.array([BOUNDARY]))
    return float(_log10(_padded_weight(backoff, start))[0]) if start[0] >= 0 else 0.0


def _padded_weight(backoff, rows):
    """ln of the product of the back-off weights of level-(N-1) contexts and of their suffixes
    for as long as they begin with a boundary."""
    index = backoff.index
    weight = np.zeros(len(rows))
    rows = np.asarray(rows, dtype=np.int64).copy()
    alive = np.ones(len(rows), dtype=bool)
    for j in range(index.order - 1, 0, -1):
        alive &= index.tokens(j, rows)[:, 0] == BOUNDARY
        weight[alive] += backoff.logbackoff[j][rows[alive]]
        if j > 1:
            rows = index.level(j).suffix[rows]
    return weight


def arpa_lines(model):
    """The ARPA text of a model, line by line."""
    backoff = getattr(model, "backoff", None)
    if backoff is None:
        if model.order != 2:
            raise BigramError(f"a neural model of order {model.order} has no back-off form to "
                              "write as ARPA; export count models (any order) or neural bigrams")
        backoff = _listed_bigrams(model)
    entries = _Entries(model.order)
    if backoff.index.padding == "sentence":
        start_backoff = _sentence_entries(backoff, entries)
    else:
        start_backoff = _padded_entries(backoff, entries)
    vocabulary = model.vocabulary
    words, history_words = arpa_words(vocabulary)
    counts = {m: entries.count(m) for m in range(1, model.order + 1)}
    counts[1] += 1 + (0 if vocabulary.unk else 1)   # <s>, and <unk> when the model has none
    yield "\\data\\"
    for m in range(1, model.order + 1):
        yield f"ngram {m}={counts[m]}"
    for m in range(1, model.order + 1):
        yield ""
        yield f"\\{m}-grams:"
        if m == 1:
            if not vocabulary.unk:
                yield f"{_number(UNK_LOG_PROB)}\t<unk>"
            # KenLM gives `<s>` probability 1 (it is never predicted); the lecture's padded
            # models have always written log10 0 as -99.
            start = 0.0 if backoff.index.padding == "sentence" else LOG_ZERO
            yield f"{_number(start)}\t<s>\t{_number(start_backoff)}"
        yield from _section(entries, m, model.order, words, history_words)
    yield ""
    yield "\\end\\"


def arpa_words(vocabulary):
    """(words, history words) of the vocabulary's ids as an ARPA file writes them: the
    boundary is `</s>` when predicted and `<s>` in a history; characters escaped."""
    words = [vocabulary.token(i) if i >= vocabulary.first else "" for i in range(len(vocabulary))]
    if vocabulary.unit == "char":
        words = [escape(w) if w else w for w in words]
    words[BOUNDARY] = "</s>"
    if vocabulary.unk:
        words[1] = "<unk>"
    history_words = ["<s>"] + words[1:]
    return np.array(words, dtype=object), np.array(history_words, dtype=object)


def _section(entries, m, order, words, history_words):
    for bos, tokens, values, backoffs in entries.lines[m]:
        yield from section_lines(bos, tokens, values, backoffs, m, order, words, history_words)


def section_lines(bos, tokens, values, backoffs, m, order, words, history_words):
    """ARPA lines of order m: token rows (after a leading `<s>` when bos), log10 values and
    back-offs (None at the top order; none is written after `</s>`)."""
    columns = [history_words[tokens[:, j]] for j in range(tokens.shape[1] - 1)]
    columns.append(words[tokens[:, -1]])
    if bos:
        columns.insert(0, np.full(len(tokens), "<s>", dtype=object))
    texts = [" ".join(parts) for parts in zip(*columns)]
    if backoffs is None or m == order:
        yield from (f"{_number(v)}\t{t}" for v, t in zip(values.tolist(), texts))
        return
    ends = (tokens[:, -1] == BOUNDARY).tolist()
    for v, t, b, end in zip(values.tolist(), texts, backoffs.tolist(), ends):
        yield f"{_number(v)}\t{t}" if end else f"{_number(v)}\t{t}\t{_number(b)}"


def _listed_bigrams(model):
    """A neural bigram model as a back-off model listing every bigram."""
    from bigram.ngrams.backoff import BackoffModel
    from bigram.ngrams.index import Level, NgramIndex

    size = model.size
    rows = model.next_token_probabilities(model.advance(np.zeros(size, np.int64),
                                                        np.arange(size)))
    keys = np.arange(size * size, dtype=np.int64)
    zeros = np.zeros(size * size, np.int32)
    index = NgramIndex(2, size, [None, Level(np.arange(size), np.zeros(size, np.int32),
                                             np.zeros(size, np.int32)),
                                 Level(keys, (keys % size).astype(np.int32), zeros)], "makemore")
    with np.errstate(divide="ignore"):
        logprob = [None, np.full(size, -math.log(size)), np.log(rows.astype(np.float64)).ravel()]
    return BackoffModel(index, logprob, [None, np.zeros(size), np.zeros(size * size)])


def write(model, path, lines=arpa_lines):
    """Write the model as an ARPA file (atomically; '-' is standard output), its text made
    by `lines(model)`; returns the entries per order."""
    from bigram.formats.files import write_text_output

    counts = {}

    def fill(stream):
        buffer = []
        for line in lines(model):
            if line.startswith("ngram "):
                order, count = line[6:].split("=")
                counts[int(order)] = int(count)
            buffer.append(line)
            if len(buffer) >= 65536:
                stream.write(("\n".join(buffer) + "\n").encode("utf-8"))
                buffer.clear()
        stream.write(("\n".join(buffer) + "\n").encode("utf-8") if buffer else b"")

    write_text_output(path, fill)
    return counts
