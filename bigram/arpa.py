"""ARPA back-off files: the standard text format KenLM, SRILM and speech or OCR decoders read.

Tokens are characters. The boundary is `<s>` as a history and `</s>` as a
prediction; `<unk>` is present (never predicted: log10 probability -100).
Characters that cannot be ARPA words, being whitespace, become escape tokens:
`<space>` for U+0020, `<tab>` for U+0009, and `<U+XXXX>` for any other
whitespace character.

The file is exact: every model here is an interpolation P(w|h) = explicit +
lambda(h) lower(w) (see smoothing.py), so the unigrams hold lower(w), each
history's back-off weight is log10 lambda(h), and the bigrams seen in training
are listed with their full probability. A reader's rule, "a listed bigram's
value, else the history's back-off weight plus the unigram's", then gives back
the model's log10 P(w|h) for every bigram. A probability of zero (add-k with
k = 0) is written as -99, the ARPA convention for log10 0.
"""

import numpy as np

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


def words(vocabulary):
    """ARPA words of each token index: as a history (row) and as a prediction (column)."""
    chars = [escape(c) for c in vocabulary.chars]
    return ["<s>"] + chars, ["</s>"] + chars


def _log10(values):
    with np.errstate(divide="ignore"):
        logs = np.log10(np.asarray(values, dtype=np.float64))
    return np.where(np.isfinite(logs), logs, LOG_ZERO)


def _number(x):
    return f"{x:.9g}"


def arpa_lines(model):
    """The ARPA text of a bigram model, line by line."""
    form = model.backoff()
    histories, predictions = words(model.vocabulary)
    lower = _log10(form.lower)
    weights = _log10(form.weights)
    probabilities = form.probabilities.astype(np.float64)
    rows, cols = np.nonzero(form.listed)
    listed = _log10(probabilities[rows, cols])
    yield "\\data\\"
    yield f"ngram 1={len(predictions) + 2}"
    yield f"ngram 2={len(rows)}"
    yield ""
    yield "\\1-grams:"
    yield f"{_number(UNK_LOG_PROB)}\t<unk>"
    yield f"{_number(LOG_ZERO)}\t<s>\t{_number(weights[BOUNDARY])}"
    yield f"{_number(lower[BOUNDARY])}\t</s>"
    for index in range(1, len(predictions)):
        yield f"{_number(lower[index])}\t{predictions[index]}\t{_number(weights[index])}"
    yield ""
    yield "\\2-grams:"
    for h, w, value in zip(rows.tolist(), cols.tolist(), listed.tolist()):
        yield f"{_number(value)}\t{histories[h]} {predictions[w]}"
    yield ""
    yield "\\end\\"


def write(model, path):
    """Write the model as an ARPA file (atomically); returns (unigrams, bigrams) written."""
    from .files import atomic_write

    def fill(stream):
        for line in arpa_lines(model):
            stream.write((line + "\n").encode("utf-8"))

    atomic_write(path, fill)
    return len(model.vocabulary) + 2, int(model.backoff().listed.sum())
