"""Scoring text line by line: the log-probability, tokens, OOVs and perplexity of each line.

What KenLM's `query` prints per sentence, for any model: every line of the input
(blank ones too, as the probability of an empty item) gets one result, in input
order, block by block in bounded memory. A line's total counts every prediction
of its item, the end of the item included, as `query`'s "Total:" does.

Models with a back-off form are scored through their query tables (query.py):
the windows ending at every position of a block are found level by level, each
level one vectorised lookup (the window of k-1 tokens ending one position
earlier, plus this token), and a token's score is two numbers of the longest
window and context found. A model whose tables cannot be made takes the back-off
rule level by level (BackoffScorer). Other models (the neural ones) are asked
for their next-token distribution after the context of every position, once per
distinct context. Sums per line are one `np.add.reduceat`. Blocks are scored by
several threads at once (`render_sources`), their results kept in input order.

Tokens outside the vocabulary (OOVs): a model with `<unk>` scores them as
`<unk>` and counts them, as `query` does. A model without it skips every
prediction whose window touches one (`oov="skip"`, as `bigram eval` does; they
are counted as OOVs, not as tokens) or refuses (`oov="error"`).
"""

import itertools
import json
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from bigram.errors import BigramError, InputError, OptionError
from bigram.machine import cores
from bigram.models.evaluation import (
    OOV_POLICIES,
    encode_for_model,
    json_number,
    touches_unknown,
    unlisted_as_unknown,
)
from bigram.ngrams.index import pad_items, pads_for
from bigram.ngrams.lookup import sorted_search
from bigram.text.sources import (
    BLOCK_BYTES,
    Block,
    Reader,
    gather_spans,
    resolve_sources,
    strip_spans,
    strip_utf8_spans,
)
from bigram.text.words import split_words

LN10 = math.log(10)
# Lines of an iterable scored together by `score_lines`.
LINES_PER_BATCH = 8192


@dataclass
class LineScores:
    """The results of consecutive lines: ln P of each, predictions counted, OOVs."""

    logprob: np.ndarray     # (lines,) float64: ln P of the line's item and its end
    tokens: np.ndarray      # (lines,) int64: predictions counted (the end included)
    oov: np.ndarray         # (lines,) int64: tokens outside the vocabulary

    @property
    def log10prob(self):
        """log10 P of each line, as `query` prints it."""
        return self.logprob / LN10

    @property
    def perplexity(self):
        """exp(-ln P / tokens) per line; NaN where nothing was counted, inf where P is 0."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.exp(-self.logprob / self.tokens)


@dataclass
class LineScore:
    """One line's result, as the Python API yields it."""

    item: str
    log10prob: float
    logprob: float
    tokens: int
    oov: int
    perplexity: float


# ---------------------------------------------------------------------- per-position scores


class BackoffScorer:
    """ln P of every predicted position of padded text under a BackoffModel, the back-off
    rule applied level by level (for models without query tables)."""

    def __init__(self, backoff):
        self.index, self.order, self.size = backoff.index, backoff.order, backoff.size
        # A sentinel at the end of each array: row -1 reads as "not listed" (NaN) and
        # context -1 as "no back-off weight" (0), with no masks per lookup.
        self.logprob = [None] + [np.append(backoff.logprob[k], np.nan)
                                 for k in range(1, self.order + 1)]
        self.logbackoff = [None] + [np.append(backoff.logbackoff[k], 0.0)
                                    for k in range(1, self.order + 1)]

    def _rows(self, k, context, stream):
        """Rows at level k of the windows (context row, token); -1 where absent."""
        rows = np.full(len(context), -1, dtype=np.int64)
        at = np.flatnonzero(context >= 0)
        keys = context[at].astype(np.int64)
        keys *= self.size
        keys += stream[at]
        rows[at] = sorted_search(self.index.level(k).keys, keys)
        return rows

    def score(self, text):
        """ln P at every position of a PaddedText (NaN where nothing is predicted or the
        window holds a token the model does not know)."""
        known = text.stream >= 0
        stream = np.where(known, text.stream, 0).astype(np.int32, copy=False)
        rows = np.where(known, stream, -1).astype(np.int64)
        result = self.logprob[1][rows]
        # With one <s> before each item, a window reaching back past it would continue into
        # the item before: no window ends at an item's <s> but the <s> itself. (With N-1
        # pads, every predicted position's windows lie inside its item.)
        item_starts = text.starts[:-1] if text.pads == 1 else None
        context = np.empty_like(rows)
        for k in range(2, self.order + 1):
            context[0] = -1
            context[1:] = rows[:-1]
            rows = self._rows(k, context, stream)
            if not known.all():
                rows[~known] = -1
            if item_starts is not None:
                rows[item_starts] = -1
            # Listed: its own value. Not listed: what the shorter window got, times the
            # back-off weight of this context (a longer context passed over).
            value = self.logprob[k][rows]
            result += self.logbackoff[k - 1][context]
            np.copyto(result, value, where=~np.isnan(value))
        return result


class ContextScorer:
    """ln P of every predicted position from the model's next-token distributions, asked
    once per distinct context (models without a back-off form: the neural ones)."""

    def __init__(self, model):
        self.model = model

    def score(self, text):
        """ln P at every position of a PaddedText (NaN where nothing is predicted)."""
        model, stream = self.model, np.maximum(text.stream, 0)
        at = np.flatnonzero(text.position >= text.pads)
        states = np.full(len(at), model.start_state(), dtype=np.int64)
        for back in range(text.pads, 0, -1):
            states = model.advance(states, stream[at - back])
        result = np.full(len(stream), np.nan)
        if not len(at):
            return result
        distinct, inverse = np.unique(states, return_inverse=True)
        inverse = inverse.ravel()
        chunk = max(1, (1 << 22) // model.size)
        for start in range(0, len(distinct), chunk):
            rows = model.next_token_probabilities(distinct[start:start + chunk])
            mine = np.flatnonzero((inverse >= start) & (inverse < start + chunk))
            picked = rows[inverse[mine] - start, stream[at[mine]]].astype(np.float64)
            with np.errstate(divide="ignore"):
                result[at[mine]] = np.log(picked)
        return result


def scorer_for(model):
    """The fastest scorer for a model: its query tables (query.py) where it has them,
    level-by-level back-off for other back-off models, else contexts."""
    if hasattr(model, "components"):   # an interpolation scores through its components
        return model
    tables = model.query_tables() if hasattr(model, "query_tables") else None
    if tables is not None:
        return tables
    backoff = getattr(model, "backoff", None)
    return BackoffScorer(backoff) if backoff is not None else ContextScorer(model)


# ---------------------------------------------------------------------- per-line totals


def score_items(model, scorer, tokens, offsets, unknown):
    """LineScores of items given as model token ids (concatenated), offsets and OOV mask."""
    text = pad_items(tokens, offsets, pads_for(model.padding, model.order))
    values = scorer.score(text)
    predicted = text.position >= text.pads
    if not model.vocabulary.unk and unknown.any():
        values[~predicted] = 0.0
        values[touches_unknown(text, model.order)] = np.nan
    counted = predicted & ~np.isnan(values)
    values[~counted] = 0.0
    starts = text.starts[:-1]
    if not len(starts):
        empty = np.zeros(0, dtype=np.int64)
        return LineScores(np.zeros(0), empty, empty)
    logprob = np.add.reduceat(values, starts)
    counts = np.add.reduceat(counted.astype(np.int64), starts)
    seen = np.zeros(len(unknown) + 1, dtype=np.int64)
    np.cumsum(unknown, out=seen[1:])
    return LineScores(logprob, counts, seen[offsets[1:]] - seen[offsets[:-1]])


def _score_spans(model, scorer, codepoints, starts, ends, oov, where):
    """LineScores of lines given as spans of code points; `where(i)` names line i in errors."""
    items, offsets = gather_spans(codepoints, *strip_spans(codepoints, starts, ends))
    tokens, offsets, unknown, _ = encode_for_model(model, items, offsets)
    return _score_tokens(model, scorer, tokens, offsets, unknown, oov, where)


def _score_utf8(model, scorer, text, starts, ends, oov, where):
    """_score_spans for a word model and lines given as spans of UTF-8 bytes (uint8), which
    need no code points: words split at ASCII delimiters, and ASCII words are their own
    code points (WordIndex.find_utf8). None where a line must be stripped of
    whitespace past ASCII: the caller scores such a block as code points."""
    stripped = strip_utf8_spans(text, starts, ends)
    if stripped is None:
        return None
    if np.array_equal(stripped[0], starts) and np.array_equal(stripped[1], ends):
        # Nothing stripped: between lines lie only line feeds and carriage returns, both
        # delimiters, so the words of the whole block are the lines' words, in order.
        word_starts, word_ends, _ = split_words(text, np.array([0, len(text)]))
        offsets = np.searchsorted(word_starts, np.append(starts, len(text)))
    else:
        text, items = gather_spans(text, *stripped)
        word_starts, word_ends, offsets = split_words(text, items)
    tokens, unknown = model.vocabulary.encode_utf8(text, word_starts, word_ends)
    tokens, unknown = unlisted_as_unknown(model, tokens, unknown)
    return _score_tokens(model, scorer, tokens, offsets, unknown, oov, where)


def _score_tokens(model, scorer, tokens, offsets, unknown, oov, where):
    if oov == "error" and not model.vocabulary.unk and unknown.any():
        line = int(np.searchsorted(offsets, np.flatnonzero(unknown)[0], side="right") - 1)
        what = "words" if model.vocabulary.unit == "word" else "characters"
        raise InputError(f"{where(line)} has {what} outside the model's vocabulary; use "
                         "--oov skip to score the rest")
    return score_items(model, scorer, tokens, offsets, unknown)


@dataclass
class ScoredBlock:
    """The results of one block's lines and their text (UTF-8), for output."""

    scores: LineScores
    text: np.ndarray        # the block as UTF-8 bytes
    starts: np.ndarray      # where each line's bytes begin in `text`
    ends: np.ndarray        # and end (its line ending left out)


def score_sources(model, arguments, oov="skip", encoding_errors="strict"):
    """ScoredBlock after ScoredBlock for every line of the files, globs or '-' given.

    Memory stays that of one block (1 MiB of text) whatever the input's size.
    """
    scorer = _checked_scorer(model, oov)
    for job in _line_blocks(arguments, encoding_errors):
        yield _score_block(model, scorer, oov, *job)


def render_sources(model, arguments, render, oov="skip", encoding_errors="strict",
                   workers=None):
    """`render(ScoredBlock)` (bytes) for every block of the files given, in input order.

    Blocks are read one after the other and scored and rendered by `workers`
    threads (by default one per core, at most four): numpy lets go of Python's
    lock for the long array operations that make up nearly all the work, so the
    threads run side by side. At most one block per thread and one more are in
    flight, and never more than MAX_THREADS threads however many are asked for
    (`check_threads`), so memory stays bounded; an error surfaces when its block's
    turn comes, after the output of every block before it.
    """
    scorer = _checked_scorer(model, oov)
    jobs = iter(_line_blocks(arguments, encoding_errors))
    workers = min(workers or min(4, cores()), MAX_THREADS)
    if workers > 1:
        # Input of less than a block's bytes (a few lines) is scored in this thread:
        # starting and warming threads would cost more than it (milliseconds of a
        # start-up of a few hundred).
        head, size = [], 0
        try:
            for job in jobs:
                head.append(job)
                size += len(job[0].raw)
                if size >= BLOCK_BYTES:
                    break
            else:
                workers = 1
        except BigramError:   # what was read before the unreadable block comes out first
            for job in head:
                yield render(_score_block(model, scorer, oov, *job))
            raise
        jobs = itertools.chain(head, jobs)
    if workers == 1:
        for job in jobs:
            yield render(_score_block(model, scorer, oov, *job))
        return
    _warm_up(model, scorer)
    pool, pending, unreadable = _thread_pool(workers), deque(), None
    try:
        try:
            for job in jobs:
                pending.append(pool.submit(lambda job=job: render(
                    _score_block(model, scorer, oov, *job))))
                if len(pending) > workers:
                    yield pending.popleft().result()
        except BigramError as error:   # what was read before the bad block still comes out
            unreadable = error
        while pending:
            yield pending.popleft().result()
        if unreadable is not None:
            raise unreadable
    finally:   # also when the reader of the output stops early (a closed pipe)
        pool.shutdown(wait=True, cancel_futures=True)


def _thread_pool(workers):
    # Imported here: a few lines are scored without threads, and the import (with the
    # logging module it pulls in) is a few milliseconds of their start-up.
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(workers)


def _warm_up(model, scorer):
    """Fill, in this thread, the caches that scoring fills on first use (the word index and
    its tables, the scorer's dense tables), so that the threads find them made: a few
    lines touching a short word, a long one and a character outside ASCII."""
    sample = "a abcdefghijklm \u00e9\nb"
    codepoints = np.frombuffer(sample.encode("utf-32-le"), dtype=np.uint32)
    ascii_part = codepoints[:16].astype(np.uint8)
    for chars in (codepoints, ascii_part):
        lines = np.flatnonzero(np.append(chars == 0x0A, True))
        starts = np.concatenate([[0], lines[:-1] + 1])
        _score_spans(model, scorer, chars, starts, lines, "skip", str)


# Blocks scored at once, whatever --threads says: each holds about 50 MB while in flight,
# and more threads than cores only take turns.
MAX_THREADS = 16


def check_threads(threads, oversubscribe=False):
    """Refuse a thread count below 1, or above the cores this process may use unless
    `oversubscribe` (--oversubscribe) insists; memory never grows past MAX_THREADS."""
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise OptionError(f"--threads must be 1 or more, not {threads}")
    available = cores()
    if threads > available and not oversubscribe:
        raise OptionError(f"--threads {threads} is more than the {available} core(s) this process "
                          "may use, where threads only take turns; pass --oversubscribe to "
                          "run them anyway")


def _checked_scorer(model, oov):
    if oov not in OOV_POLICIES:
        raise OptionError(f"--oov must be skip or error, not {oov!r}")
    return scorer_for(model)


def _line_blocks(arguments, encoding_errors):
    """(block, line starts, line ends, namer) for each block read: the namer gives the
    source and line number of a block's i-th line, for errors."""
    reader = Reader(resolve_sources(arguments), encoding_errors)
    source_lines = {}
    for source, block in reader.blocks():
        first = source_lines.get(id(source), 0)
        # Lines in the bytes where they are the text (_score_block reads them there).
        starts, ends = block.line_spans(in_raw=block.raw_is_text)
        source_lines[id(source)] = first + len(starts)
        yield block, starts, ends, (lambda i, label=source.label, first=first:
                                    f"{label}: line {first + i + 1}")


def _score_block(model, scorer, oov, block, starts, ends, where):
    """ScoredBlock of a block whose lines lie at [starts, ends) of its bytes where those are
    the text (block.raw_is_text), else of its code points."""
    if block.raw_is_text:
        text = block.raw
        scores = _score_utf8(model, scorer, text, starts, ends, oov, where) \
            if model.vocabulary.unit == "word" else None
        if scores is None:
            chars = block.codepoints
            spans = (starts, ends) if chars is text else block.line_spans()
            scores = _score_spans(model, scorer, chars, *spans, oov, where)
        return ScoredBlock(scores, text, starts, ends)
    scores = _score_spans(model, scorer, block.codepoints, starts, ends, oov, where)
    text = block.utf8()
    if text is not block.codepoints:   # the same lines, found again in the UTF-8 bytes
        starts, ends = Block(text, text).line_spans()
    return ScoredBlock(scores, text, starts, ends)


def score_lines(model, lines, oov="skip"):
    """A LineScore for each string of an iterable of lines, lazily, in batches.

    Each string is one item (stripped of surrounding whitespace, so lines read from
    a file may keep their line feed); blank ones get the probability of an empty
    item. For instance, the lines of a file under a perplexity of 50:

        with open("text.txt") as f:
            kept = [s.item for s in score_lines(model, f) if s.perplexity < 50]
    """
    if oov not in OOV_POLICIES:
        raise OptionError(f"oov must be skip or error, not {oov!r}")
    scorer = scorer_for(model)
    batch, done = [], 0
    for line in lines:
        if not isinstance(line, str):
            raise InputError(f"line {done + len(batch) + 1} is a {type(line).__name__}, "
                             "not a string")
        batch.append(line)
        if len(batch) == LINES_PER_BATCH:
            yield from _score_batch(model, scorer, batch, oov, done)
            done += len(batch)
            batch = []
    if batch:
        yield from _score_batch(model, scorer, batch, oov, done)


def _score_batch(model, scorer, batch, oov, done):
    try:
        codepoints = np.frombuffer("".join(batch).encode("utf-32-le"), dtype=np.uint32)
    except UnicodeEncodeError:
        raise InputError("a line holds a lone surrogate, which is not text") from None
    lengths = np.fromiter(map(len, batch), dtype=np.int64, count=len(batch))
    ends = np.cumsum(lengths)
    scores = _score_spans(model, scorer, codepoints, ends - lengths, ends, oov,
                          lambda i: f"line {done + i + 1}")
    values = zip(scores.log10prob.tolist(), scores.logprob.tolist(), scores.tokens.tolist(),
                 scores.oov.tolist(), scores.perplexity.tolist())
    for line, (log10prob, logprob, tokens, oovs, perplexity) in zip(batch, values):
        yield LineScore(line, log10prob, logprob, tokens, oovs, perplexity)


# ---------------------------------------------------------------------- output


def json_lines(block):
    """A block's results as JSON Lines (UTF-8 bytes)."""
    scores, text = block.scores, bytes(block.text)
    out = []
    for a, b, log10prob, logprob, tokens, oov, perplexity in zip(
            block.starts.tolist(), block.ends.tolist(), scores.log10prob.tolist(),
            scores.logprob.tolist(), scores.tokens.tolist(), scores.oov.tolist(),
            scores.perplexity.tolist()):
        out.append(json.dumps({"item": text[a:b].decode("utf-8"),
                               "log10prob": json_number(log10prob),
                               "logprob": json_number(logprob), "tokens": tokens,
                               "oov": oov, "perplexity": json_number(perplexity)},
                              ensure_ascii=False))
    return ("\n".join(out) + "\n").encode("utf-8") if out else b""


def tsv_lines(block):
    """A block's results as tab-separated lines (UTF-8 bytes): log10 P, ln P, tokens,
    OOVs, perplexity, then the line as read."""
    scores = block.scores
    fields = [fixed(scores.log10prob, 6), fixed(scores.logprob, 6), fixed(scores.tokens, 0),
              fixed(scores.oov, 0), fixed(scores.perplexity, 4)]
    return join_fields(fields, block.text, block.starts, block.ends)


def _chunk_table():
    """Four digits of a number at a time, as little-endian uint32s of text: row m writes
    0..9999 with at least m digits, NUL bytes before them (row 4: all four digits).
    Made by arrays (fifty thousand formatted strings took a tenth of start-up)."""
    quotients = np.arange(10_000, dtype=np.int64)
    natural = 1 + (quotients >= 10) + (quotients >= 100) + (quotients >= 1000)
    rows = np.arange(5, dtype=np.int64)[:, None]
    digits = np.maximum(rows, natural[None, :])
    digits[0, 0] = 0                       # row 0 writes nothing for 0
    chunks = np.zeros((5, 10_000), dtype=np.uint32)
    for byte in range(4):                  # byte 0 is the leftmost character
        place = 3 - byte
        char = (quotients // 10 ** place % 10 + 48).astype(np.uint32)
        chunks |= np.where(place < digits, char, 0).astype(np.uint32) << np.uint32(8 * byte)
    return chunks.ravel(), digits.ravel()


_CHUNKS, _CHUNK_DIGITS = _chunk_table()


def fixed(values, decimals):
    """Numbers as text with a fixed number of decimals, all at once: a (numbers x width)
    uint8 matrix holding each right-aligned, NUL bytes before it, and each one's length.
    NaN and infinities read "nan", "inf" and "-inf". The last digit is the scaled value
    rounded half to even (Python's formatting may differ on a value halfway in binary)."""
    values = np.asarray(values, dtype=np.float64)
    scale = 10 ** decimals
    plain = np.isfinite(values) & (np.abs(values) < 1e15 / scale)
    scaled = np.rint(np.abs(np.where(plain, values, 0.0)) * scale).astype(np.int64)
    negative = (values < 0) & (scaled > 0)
    others = {i: _odd_number(values[i], decimals) for i in np.flatnonzero(~plain).tolist()}
    largest = max(int(scaled.max(initial=0)), 10 ** decimals)
    dot = 1 if decimals else 0
    longest_other = max([len(t) for t in others.values()], default=0)
    # Room for every digit and a sign before them.
    chunks = max(-(-(len(str(largest)) + 1) // 4), -(-(longest_other - dot) // 4))
    # Four digits at a time, from the right: all four where more digits follow on the
    # left, else only those a number needs (the decimals and one whole digit at least).
    quads = np.empty((len(values), chunks), dtype="<u4")
    digits = np.zeros(len(values), dtype=np.int64)
    for chunk in range(chunks - 1, -1, -1):
        scaled, rest = np.divmod(scaled, 10_000)
        least = min(max(decimals + 1 - 4 * (chunks - 1 - chunk), 0), 4)
        rest += np.where(scaled > 0, 4 * 10_000, least * 10_000)
        quads[:, chunk] = _CHUNKS[rest]
        digits += _CHUNK_DIGITS[rest]
    digits_text = quads.view(np.uint8)
    width = 4 * chunks + dot
    matrix = np.empty((len(values), width), dtype=np.uint8)
    whole = 4 * chunks - decimals
    matrix[:, :whole] = digits_text[:, :whole]
    if dot:
        matrix[:, whole] = ord(".")
        matrix[:, whole + 1:] = digits_text[:, whole:]
    lengths = digits + dot + negative
    rows = np.flatnonzero(negative)
    matrix[rows, width - lengths[rows]] = ord("-")
    for i, text in others.items():
        matrix[i] = 0
        matrix[i, width - len(text):] = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        lengths[i] = len(text)
    # Columns no number reaches are left out (every later pass is shorter).
    needed = int(lengths.max(initial=1))
    return matrix[:, width - needed:], lengths


def _odd_number(x, decimals):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{decimals}f}"


def _lines_in_a_row(text, starts, ends):
    """Whether the lines follow each other in `text`, each ended by one line feed (the last
    one by a line feed or the end of the text): then the text read is the lines and
    their line feeds, as the output holds them."""
    if len(text) and len(ends) and ends[-1] < len(text) and text[ends[-1]] != 0x0A:
        return False
    inner = ends[:-1]
    return bool(np.array_equal(starts[1:], inner + 1) and (text[inner] == 0x0A).all())


def _join_in_a_row(fields, text, starts, ends):
    """join_fields for lines in a row (_lines_in_a_row), the usual case: the output is the
    fields of each row (NUL padding left out) put in front of each line of the text
    as read, so two runs alternate, fields then line, and two selections by one mask
    of the output lay them out; no index per byte, no matrix as wide as the longest
    line (3-4x fewer bytes touched than the matrix of join_fields)."""
    rows = len(starts)
    width = sum(matrix.shape[1] + 1 for matrix, _ in fields)
    matrix = np.empty((rows, width), dtype=np.uint8)
    _lay_fields(matrix, fields)
    # The fields hold no NUL byte but their padding: deleting bytes from a bytes object is
    # a few times faster than selecting them by a mask.
    prefix = np.frombuffer(matrix.tobytes().translate(None, b"\0"), dtype=np.uint8)
    prefix_lengths = sum(lengths for _, lengths in fields) + len(fields)
    lines = text[starts[0]:ends[-1] + 1]
    if ends[-1] == len(text):   # the last line has no line feed in the text: one is added
        lines = np.append(lines, np.uint8(0x0A))
    runs = np.empty(2 * rows, dtype=np.int64)
    runs[0::2] = prefix_lengths
    runs[1::2] = ends - starts + 1
    is_line = np.repeat(np.tile(np.array([False, True]), rows), runs)
    out = np.empty(len(is_line), dtype=np.uint8)
    out[is_line] = lines
    np.logical_not(is_line, out=is_line)
    out[is_line] = prefix
    return out.tobytes()


def _lay_fields(out, fields):
    """Each field's matrix and a tab after it into the first columns of `out`, side by
    side."""
    column = 0
    for matrix, _ in fields:
        size = matrix.shape[1]
        out[:, column:column + size] = matrix
        out[:, column + size] = ord("\t")
        column += size + 1


def join_fields(fields, text, starts, ends):
    """Lines of tab-separated fields (right-aligned matrices, NUL-padded, and lengths, as
    from `fixed`), each followed by a tab and the span [start, end) of `text`, as bytes."""
    rows = len(starts)
    if not rows:
        return b""
    lengths = ends - starts
    if _lines_in_a_row(text, starts, ends):
        return _join_in_a_row(fields, text, starts, ends)
    longest = int(lengths.max()) + 1
    width = sum(matrix.shape[1] + 1 for matrix, _ in fields)
    if rows * longest <= 4 * len(text) + (1 << 16):
        # Short lines: every row of fields, tabs and line (with its line feed) side by
        # side in one matrix, and one selection of what each row holds: runs of bytes.
        # What is not kept: the fields' padding (NUL bytes), and past each line's end.
        out = np.empty((rows, width + longest), dtype=np.uint8)
        _lay_fields(out, fields)
        # Each line's bytes: the rows of a sliding window over the text, one per start;
        # kept up to the line's end (then its line feed), whatever the bytes.
        padded = np.concatenate([text, np.zeros(longest, dtype=np.uint8)])
        out[:, width:] = np.lib.stride_tricks.sliding_window_view(padded, longest)[starts]
        out[np.arange(rows), width + lengths] = ord("\n")
        keep = np.empty(out.shape, dtype=bool)
        np.not_equal(out[:, :width], 0, out=keep[:, :width])
        np.less_equal(np.arange(longest), lengths[:, None], out=keep[:, width:])
        return out[keep].tobytes()
    tab = np.full((rows, 1), ord("\t"), dtype=np.uint8)
    matrix = np.hstack([part for matrix, _ in fields for part in (matrix, tab)])
    keep = matrix != 0
    prefix = matrix[keep]                       # every row's fields, row after row
    prefix_lengths = sum(lengths for _, lengths in fields) + len(fields)
    # One gather from prefix, text and a line feed: three segments per line.
    source = np.concatenate([prefix, text, np.array([ord("\n")], dtype=np.uint8)])
    seg_start = np.empty((rows, 3), dtype=np.int64)
    seg_start[:, 0] = 0
    np.cumsum(prefix_lengths[:-1], out=seg_start[1:, 0])
    seg_start[:, 1] = starts + len(prefix)
    seg_start[:, 2] = len(source) - 1
    seg_length = np.empty((rows, 3), dtype=np.int64)
    seg_length[:, 0] = prefix_lengths
    seg_length[:, 1] = ends - starts
    seg_length[:, 2] = 1
    seg_length = seg_length.ravel()
    out_start = np.zeros(len(seg_length), dtype=np.int64)
    np.cumsum(seg_length[:-1], out=out_start[1:])
    index = np.repeat(seg_start.ravel() - out_start, seg_length)
    index += np.arange(len(index))
    return source[index].tobytes()
