"""ARPA files as models: `-m FILE.arpa` for eval, score, sample and info.

The reader (arpa_reader.py) gives the file's n-grams per order; here they become an
NgramIndex read the way KenLM reads text (one `<s>`, the `sentence` padding), with
each listed n-gram's log-probability and back-off. The index must hold every prefix
and suffix of a listed n-gram (a context, or the n-gram the back-off rule falls to);
those the file does not list are added as blanks, which have no probability of their
own and a back-off of 1, as KenLM does when it loads such a file.

The unit is guessed from the tokens: a file whose tokens are all single characters
(or bigram's escapes `<space>`, `<tab>`, `<U+XXXX>`) is a character model, any other
a word model.
"""

import math
import re
from datetime import datetime, timezone
from operator import itemgetter
from pathlib import Path

import numpy as np

from bigram.arrays import sort_with_positions
from bigram.errors import ModelFileError
from bigram.ngrams.index import BOUNDARY, Level, NgramIndex
from bigram.text.vocabulary import UNK, Vocabulary
from bigram.version import __version__

SPECIALS = ("<s>", "</s>", UNK)
_ESCAPED = re.compile(r"<U\+([0-9A-F]{4,6})>")
LN10 = math.log(10)


def _unescape(word):
    """The character an ARPA token of a character model stands for, or None."""
    if word == "<space>":
        return " "
    if word == "<tab>":
        return "\t"
    match = _ESCAPED.fullmatch(word)
    if match:
        return chr(int(match.group(1), 16))
    return word if len(word) == 1 else None


def lookup(index, windows):
    """Rows of token windows (E, k) at level k of an index; -1 where absent."""
    windows = np.asarray(windows, dtype=np.int64)
    rows = windows[:, 0].copy()
    for j in range(2, windows.shape[1] + 1):
        rows = index.find(j, rows, windows[:, j - 1])
    return rows


def closed_index(order, size, windows):
    """For windows (windows[k]: (E, k) token rows) that list every prefix and suffix of
    their own, each once (as lmplz writes them): their NgramIndex and the row of each
    listed window, by level; None for any other set (index_of_windows then adds what
    is missing). Each level is built from the one below in a few array passes: a
    window's prefix and suffix are found among the shorter windows by a hash of their
    tokens, checked token by token."""
    index = NgramIndex(order, size, [None, Level(np.arange(size, dtype=np.int64),
                                                 np.zeros(size, np.int32),
                                                 np.zeros(size, np.int32))], "sentence")
    rows = {1: np.asarray(windows[1], np.int64)[:, 0]}
    below = below_order = below_hashes = None
    for k in range(2, order + 1):
        grams = np.asarray(windows.get(k, np.zeros((0, k), np.int64)), np.int64)
        if k == 2:
            prefix, suffix = grams[:, 0], grams[:, 1]
        else:
            prefix = _rows_of(grams[:, :-1], below, below_order, below_hashes, rows[k - 1])
            suffix = _rows_of(grams[:, 1:], below, below_order, below_hashes, rows[k - 1])
            if prefix is None or suffix is None:
                return None
        keys = prefix * size + grams[:, -1]
        ordered, first = _unique_first(keys)
        if len(ordered) != len(keys):    # a window listed twice
            return None
        rows[k] = np.empty(len(keys), dtype=np.int64)
        rows[k][first] = np.arange(len(keys))
        index.levels.append(Level(ordered, suffix[first].astype(np.int32),
                                  np.zeros(len(keys), np.int32)))
        below, below_hashes = grams, _tuple_hashes(grams)
        below_order = np.argsort(below_hashes)
        below_hashes = below_hashes[below_order]
    index.order = order
    return index, rows


_TUPLE_BASE = np.uint64(0x9E3779B97F4A7C15)


def _tuple_hashes(grams):
    """A 64-bit hash of each row of token ids."""
    hashes = np.zeros(len(grams), dtype=np.uint64)
    for column in grams.T:
        hashes *= _TUPLE_BASE
        hashes += column.astype(np.uint64)
    hashes ^= hashes >> np.uint64(29)
    return hashes


def _rows_of(tuples, grams, order, sorted_hashes, rows):
    """The row of each token tuple among `grams` (whose sorted hashes and their order are
    given), or None if one is not there."""
    if not len(tuples):
        return np.zeros(0, dtype=np.int64)
    if not len(grams):
        return None
    wanted = _tuple_hashes(tuples)
    # Searched in ascending order: a binary search then stays in cache (see lookup.py).
    ascending = np.argsort(wanted)
    at = np.empty(len(wanted), dtype=np.int64)
    at[ascending] = np.minimum(np.searchsorted(sorted_hashes, wanted[ascending]),
                               len(sorted_hashes) - 1)
    found = order[at]
    if (sorted_hashes[at] != wanted).any() or (grams[found] != tuples).any():
        return None   # absent (or two tuples sharing a hash): the general path decides
    return rows[found]


def index_of_windows(order, size, windows):
    """The NgramIndex holding the given windows (windows[k]: (E, k) token rows) and every
    prefix and suffix of them, with nothing counted."""
    sets = {k: np.asarray(windows.get(k, np.zeros((0, k), np.int64)), np.int64)
            for k in range(2, order + 1)}
    for k in range(order, 2, -1):
        sets[k - 1] = np.concatenate([sets[k - 1], sets[k][:, :-1], sets[k][:, 1:]])
    zero = np.zeros(size, np.int32)
    index = NgramIndex(order, size, [None, Level(np.arange(size, dtype=np.int64), zero, zero)],
                       "sentence")
    for k in range(2, order + 1):
        rows = sets[k]
        prefix = lookup(index, rows[:, :-1])
        keys, first = _unique_first(prefix * size + rows[:, -1])
        suffix = lookup(index, rows[first, 1:]).astype(np.int32)
        index.levels.append(Level(keys, suffix, np.zeros(len(keys), np.int32)))
        index.order = k
    index.order = order
    return index


def _unique_first(keys):
    """The distinct keys (sorted) and where each first occurs (np.unique with return_index,
    without the slow stable argsort it needs)."""
    ordered, order = sort_with_positions(keys)
    new = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    return ordered[new], order[new]


def load_arpa(path):
    """An ARPA file as a SavedModel holding a models.ArpaModel."""
    from bigram.formats.arpa_reader import read_arpa
    from bigram.formats.saved import SavedModel

    model, arpa = arpa_model_of(read_arpa(path), path)
    meta = arpa_meta(path, arpa.order, model.vocabulary.unit, model.vocabulary,
                     [len(arpa.ngrams[k - 1]) for k in range(1, arpa.order + 1)])
    return SavedModel(model, {}, meta, None)


def arpa_model_of(arpa, path):
    """A parsed ARPA file (arpa_reader.ArpaModel) as a models.ArpaModel; `path` names it in
    messages. Returns (model, arpa)."""
    from bigram.models.language_models import ArpaModel
    from bigram.ngrams.backoff import BackoffModel

    vocabulary, ids, is_bos, is_eos, _ = arpa_vocabulary(list(arpa.words), path)
    size, order = len(vocabulary), arpa.order
    windows, values = {}, {}
    for k in range(1, order + 1):
        grams = np.asarray(arpa.ngrams[k - 1], dtype=np.int64)
        # `<s>` may only begin an n-gram and `</s>` only end one (of more than one token).
        bad = is_eos[grams[:, :-1]].any(axis=1) | is_bos[grams[:, 1:]].any(axis=1)
        if bad.any():
            raise ModelFileError(f"{path}: the {k}-grams include one with <s> after its start "
                                 "or </s> before its end, which no text can produce")
        windows[k] = ids[grams]
        values[k] = (arpa.log10prob[k - 1] * LN10, arpa.log10backoff[k - 1] * LN10,
                     is_bos[grams[:, -1]] if k == 1 else None)
    closed = closed_index(order, size, windows)
    index = closed[0] if closed else index_of_windows(order, size, windows)
    logprob, logbackoff = [None], [None]
    for k in range(1, order + 1):
        if closed:
            rows = closed[1][k]
        else:
            rows = windows[k][:, 0] if k == 1 else lookup(index, windows[k])
        prob = np.full(len(index.level(k)), np.nan)
        backoff = np.zeros(len(index.level(k)))
        ln_prob, ln_backoff, start = values[k]
        if k == 1:
            # `</s>` gives the boundary its probability, `<s>` its back-off.
            prob[rows[~start]] = ln_prob[~start]
            backoff[rows[start | ~is_eos[arpa.ngrams[0][:, 0]]]] = \
                ln_backoff[start | ~is_eos[arpa.ngrams[0][:, 0]]]
        else:
            prob[rows] = ln_prob
            backoff[rows] = ln_backoff
        logprob.append(prob)
        logbackoff.append(backoff)
    return ArpaModel(vocabulary, BackoffModel(index, logprob, logbackoff), str(path)), arpa


def arpa_vocabulary(words, path):
    """The Vocabulary of an ARPA file's unigram words (str, in file order), its unit, and
    per word: its token id (`<s>` and `</s>` the boundary), and whether it is `<s>` or
    `</s>`."""
    # Without `</s>` the end of every item would go unscored (and sampling never ends);
    # KenLM refuses such files too.
    missing = [w for w in ("<s>", "</s>") if w not in words]
    if missing:
        raise ModelFileError(f"{path} lists no {' and no '.join(missing)} among its unigrams; "
                             "items are read and scored between <s> and </s>")
    # The specials removed by place (the words are distinct): no comparison per word.
    plain = list(words)
    for at in sorted((words.index(w) for w in SPECIALS if w in words), reverse=True):
        del plain[at]
    # A word model's first long word settles it (most files: no pass over every word).
    unit = "char" if plain and all(_unescape(w) is not None for w in plain) else "word"
    tokens = [_unescape(w) for w in plain] if unit == "char" else plain
    if unit == "char" and len(set(tokens)) != len(tokens):
        unit, tokens = "word", plain
    try:
        vocabulary = Vocabulary(tokens, unit, unk=UNK in words)
    except ValueError as error:
        raise ModelFileError(f"{path} has tokens bigram cannot use ({error})") from None
    stoi = dict(zip(vocabulary.tokens, range(vocabulary.first,
                                             vocabulary.first + len(vocabulary.tokens))))
    stoi.update({"<s>": BOUNDARY, "</s>": BOUNDARY})
    if vocabulary.unk:
        stoi[UNK] = vocabulary.unk_id
    if unit == "char":
        stoi.update({w: stoi[_unescape(w)] for w in plain})
    # One itemgetter call looks every word up in C (there are two words at least).
    ids = np.fromiter(itemgetter(*words)(stoi), dtype=np.int64, count=len(words))
    is_bos, is_eos = np.zeros(len(words), dtype=bool), np.zeros(len(words), dtype=bool)
    is_bos[words.index("<s>")] = is_eos[words.index("</s>")] = True
    return vocabulary, ids, is_bos, is_eos, unit


def arpa_meta(path, order, unit, vocabulary, counts):
    """The metadata of a model read from an ARPA file (counts: n-grams per order)."""
    from bigram.formats.saved import FORMAT

    # An ARPA file records no creation time: its own modification time is reported, never
    # the time it was read.
    modified = datetime.fromtimestamp(Path(path).stat().st_mtime, timezone.utc)
    return {"format": FORMAT, "kind": "arpa", "order": order, "unit": unit,
            "unk": vocabulary.unk, "padding": "sentence", "vocabulary_size": len(vocabulary),
            "source": str(path), "ngrams": {str(k): int(n) for k, n in enumerate(counts, 1)},
            "modified": modified.isoformat(timespec="seconds"), "bigram_version": __version__}
