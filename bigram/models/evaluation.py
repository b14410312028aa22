"""Loss reports: average negative log-likelihood, bits per token, perplexity, OOVs.

Text is scored by indexing its windows (bigram.ngrams.index) and asking the model for
the log-probability of each window's last token. A split the model file holds
is already an index; a file is scored block by block in bounded memory.

Tokens outside the vocabulary (OOVs): a model with `<unk>` scores them as
`<unk>`, and the report gives the perplexity both including and excluding
them, as KenLM's `query` does. A model without `<unk>` leaves out every
prediction whose window touches one (`oov="skip"`), or refuses (`oov="error"`).
"""

import math
from dataclasses import dataclass

import numpy as np

from bigram.arrays import distinct
from bigram.errors import InputError, OptionError
from bigram.ngrams.index import index_text, pad_items, pads_for
from bigram.text.sources import Reader, gather_spans, resolve_sources

OOV_POLICIES = ("skip", "error")


@dataclass
class Report:
    """The loss of a model on one body of text."""

    name: str
    items: int
    tokens: int
    log_likelihood: float
    oov: int = 0
    oov_tokens: tuple = ()                    # every distinct token outside the vocabulary
    known_tokens: int | None = None           # predictions of in-vocabulary tokens
    known_log_likelihood: float | None = None
    unit: str = "char"

    @property
    def oov_listing(self):
        """The OOV tokens as a report line shows them (at most 50, each cut at 40 characters)."""
        return _listing(self.oov_tokens, self.unit)

    @property
    def nll(self):
        """Mean negative log-likelihood per predicted token, in nats (inf if one is impossible)."""
        if self.tokens == 0:
            return math.nan
        return -self.log_likelihood / self.tokens

    @property
    def bits_per_token(self):
        """The same loss in bits."""
        return self.nll / math.log(2)

    bits_per_char = bits_per_token

    @property
    def perplexity(self):
        """e ** nll: the effective number of equally likely next tokens."""
        return _perplexity(self.nll)

    @property
    def perplexity_excluding_oov(self):
        """Perplexity over the predictions of known tokens only (KenLM's 'excluding OOVs')."""
        if self.known_tokens is None:
            return self.perplexity
        if not self.known_tokens:
            return math.nan
        return _perplexity(-self.known_log_likelihood / self.known_tokens)

    def as_dict(self):
        """The report as JSON-ready values; an infinite or undefined loss is "inf" or "nan"."""
        out = {"items": self.items, "tokens": self.tokens, "nll": json_number(self.nll),
               "bits_per_token": json_number(self.bits_per_token),
               "perplexity": json_number(self.perplexity), "oov": self.oov,
               "oov_tokens": list(self.oov_tokens),
               "log10_total": json_number(self.log_likelihood / math.log(10))}
        if self.known_tokens is not None:
            out["perplexity_excluding_oov"] = json_number(self.perplexity_excluding_oov)
        if self.unit == "char":   # the names of a character model's report since version 1
            out["bits_per_char"] = out["bits_per_token"]
            out["oov_chars"] = "".join(self.oov_tokens)
        return out


def _perplexity(nll):
    if math.isnan(nll):
        return math.nan
    return math.inf if nll > 700 else math.exp(nll)


def json_number(x):
    """Floats JSON can carry: strict JSON has no infinity or NaN, so those become strings."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def report_from_index(model, index, items, name):
    """The report for text already indexed (a split stored in the model file)."""
    scores = model.score_index(index)
    total, tokens, known_total, known = 0.0, 0, 0.0, 0
    unk = model.vocabulary.unk_id
    for k in range(1, index.order + 1):
        final = index.final(k)
        # In slices: a level of millions of windows needs no temporaries of its size.
        for start in range(0, len(final), 1 << 20):
            counts = final[start:start + (1 << 20)]
            used = np.flatnonzero(counts > 0)
            if not len(used):
                continue
            weights = counts[used].astype(np.float64)
            values = scores[k][start + used]
            with np.errstate(invalid="ignore"):
                total += float(weights @ values)
            tokens += int(weights.sum())
            if unk is not None:
                keep = index.level(k).keys[start + used] % index.size != unk
                known_total += float(weights[keep] @ values[keep])
                known += int(weights[keep].sum())
    unit = model.vocabulary.unit
    if unk is None:
        return Report(name, int(items), tokens, total, unit=unit)
    return Report(name, int(items), tokens, total, tokens - known, (), known, known_total, unit)


def evaluate_splits(saved, known=None):
    """A report for each split the model file holds (train, test); `known` (split ->
    Report) gives those already made (a model estimated within a budget sums its training
    split's loss as it goes)."""
    items = saved.meta.get("data", {}).get("items", {})
    known = known or {}
    return [known[split] if split in known else
            report_from_index(saved.model, counts, items.get(split, 0), split)
            for split, counts in saved.data_counts.items()]


def report_from_totals(model, totals, items, name):
    """The report of a split whose loss was summed elsewhere (streaming_kneser_ney's
    TrainTotals), as report_from_index makes it."""
    unit = model.vocabulary.unit
    if model.vocabulary.unk_id is None:
        return Report(name, int(items), totals.tokens, totals.total, unit=unit)
    return Report(name, int(items), totals.tokens, totals.total, totals.tokens - totals.known,
                  (), totals.known, totals.known_total, unit)


@dataclass
class ScoredText:
    """Per predicted position of some items: the token, ln P, and whether it was an OOV."""

    item: np.ndarray        # which item each prediction belongs to
    token: np.ndarray       # the predicted token id (-1: unknown)
    logprob: np.ndarray     # ln P (NaN: skipped, its window touches an unknown token)
    oov: np.ndarray         # the predicted token was outside the vocabulary
    windows: list           # per prediction, the positions of its scored window (lazy use)
    stream: np.ndarray


def score_tokens(model, tokens, offsets, unknown=None):
    """ln P of every prediction of items given as model token ids (-1 or `<unk>` for OOVs)."""
    text = pad_items(tokens, offsets, pads_for(model.padding, model.order))
    predicted = np.flatnonzero(text.position >= text.pads)
    longest = np.minimum(text.position[predicted] + 1, model.order)
    if hasattr(model, "prediction_logprobs"):   # an interpolation: its components score
        logprob = model.prediction_logprobs(tokens, offsets)
        if not model.vocabulary.unk and (np.asarray(tokens) < 0).any():
            # As for other models: predictions whose window holds an OOV are left out.
            logprob[touches_unknown(text, model.order)[predicted]] = np.nan
    else:
        index, rows = index_text(text, model.order, model.size, model.padding,
                                 keep_rows=True)
        scores = model.score_index(index)
        logprob = np.full(len(predicted), np.nan)
        for k in range(1, model.order + 1):
            at = longest == k
            found = rows[k][predicted[at]]
            values = np.full(len(found), np.nan)
            values[found >= 0] = scores[k][found[found >= 0]]
            logprob[at] = values
    oov_stream = np.zeros(len(text.stream), dtype=bool)
    if unknown is not None and len(unknown):
        lengths = np.diff(offsets)
        owner = np.repeat(np.arange(len(lengths)), lengths)
        place = text.starts[owner] + text.pads + np.arange(len(tokens)) - offsets[owner]
        oov_stream[place[np.asarray(unknown, bool)]] = True
    item = np.searchsorted(text.starts, predicted, side="right") - 1
    return ScoredText(item, text.stream[predicted], logprob, oov_stream[predicted],
                      [predicted, longest], text.stream)


def encode_block(vocabulary, chars, offsets):
    """Model token ids of items given as code points, their offsets, and the OOV mask."""
    if vocabulary.unit == "word":
        from bigram.text.words import split_words

        starts, ends, offsets = split_words(chars, offsets)
        tokens, unknown = vocabulary.encode(chars, starts, ends)
        return tokens, offsets, unknown, (chars, starts, ends)
    tokens, unknown = vocabulary.encode(chars)
    return tokens, offsets, unknown, (chars, None, None)


def encode_for_model(model, chars, offsets):
    """encode_block for a model: tokens the model does not list at all (unigrams pruned by
    `--prune`, or absent from an ARPA file) are outside its vocabulary too, and become
    `<unk>`, as KenLM's query reads them."""
    tokens, offsets, unknown, spans = encode_block(model.vocabulary, chars, offsets)
    tokens, unknown = unlisted_as_unknown(model, tokens, unknown)
    return tokens, offsets, unknown, spans


def unlisted_as_unknown(model, tokens, unknown):
    """Tokens and OOV mask with the tokens the model does not list (encode_for_model) made
    `<unk>` and unknown."""
    unlisted = model.unlisted_tokens()
    if unlisted is not None and len(tokens):
        hit = unlisted[np.maximum(tokens, 0)] & (tokens >= 0)
        if hit.any():
            tokens = np.where(hit, model.vocabulary.unk_id, tokens)
            unknown = unknown | hit
    return tokens, unknown


def _oov_strings(vocabulary, spans, unknown):
    """The distinct tokens marked unknown, as strings."""
    chars, starts, ends = spans
    if vocabulary.unit == "char":
        return {chr(int(c)) for c in distinct(chars[unknown])}
    # The unknown words laid end to end with a line feed between them (no word holds one),
    # decoded and split in one go each.
    words, offsets = gather_spans(chars, starts[unknown], ends[unknown])
    joined = np.insert(words.astype(np.uint32), offsets[1:-1], 0x0A)
    return set(joined.astype("<u4").tobytes().decode("utf-32-le").split("\n"))


def evaluate_text_sources(model, argument, oov="skip", encoding_errors="strict"):
    """The report for one FILE argument (a path, a glob, '-', or a corpus.Source such as
    items held in memory), block by block; the report is named after the argument."""
    name = getattr(argument, "label", argument)
    if oov not in OOV_POLICIES:
        raise OptionError(f"--oov must be skip or error, not {oov!r}")
    reader = Reader(resolve_sources([argument]), encoding_errors)
    vocabulary = model.vocabulary
    total = known_total = 0.0
    items = tokens = known = n_oov = 0
    names = set()
    for _, block in reader.blocks():
        chars, offsets = block_items(model, block)
        ids, offsets, unknown, spans = encode_for_model(model, chars, offsets)
        items += len(offsets) - 1
        if unknown.any():
            n_oov += int(unknown.sum())
            names |= _oov_strings(vocabulary, spans, unknown)
            if oov == "error" and not vocabulary.unk:
                raise _oov_refusal(name, vocabulary, names, int(unknown.sum()))
        scored = score_tokens(model, ids, offsets, unknown)
        used = ~np.isnan(scored.logprob)
        with np.errstate(invalid="ignore"):
            total += float(scored.logprob[used].sum())
        tokens += int(used.sum())
        keep = used & ~scored.oov
        known_total += float(scored.logprob[keep].sum())
        known += int(keep.sum())
    if items == 0:
        raise InputError(f"{name} holds no items (it is empty or only has blank lines)")
    listed = tuple(sorted(names))
    if vocabulary.unk:
        return Report(name, items, tokens, total, n_oov, listed, known, known_total,
                      vocabulary.unit)
    return Report(name, items, tokens, total, n_oov, listed, unit=vocabulary.unit)


def block_items(model, block):
    """The items of a block as `model` reads text: with sentence padding (word models, ARPA
    files) every line is one, a blank line an empty sentence, as KenLM's `query` and
    `bigram score --file` count them; with the lecture's padding (character models of
    names) blank lines are skipped, as training skipped them."""
    return block.line_chars() if model.padding == "sentence" else block.item_chars()


LISTED_OOV = 50          # tokens a report names, at most
LISTED_OOV_CHARS = 40    # characters of a token a report shows


def _oov_refusal(subject, vocabulary, names, count=None):
    """The one-line error of --oov error: what holds tokens outside the vocabulary, which."""
    if vocabulary.unit == "word":
        what = "words" if count is None else f"{count} words"
    else:
        what = "characters" if count is None else f"{count} character(s)"
    return InputError(f"{subject} has {what} outside the model's vocabulary "
                      f"({_quote(sorted(names), vocabulary.unit)}); use --oov skip to score "
                      "the rest")


def _listing(tokens, unit):
    """OOV tokens as reports list them: characters side by side, words separated by spaces
    (at most 50 of them, each cut at 40 characters, so a report stays readable)."""
    shown = [t if len(t) <= LISTED_OOV_CHARS else t[:LISTED_OOV_CHARS] + "…"
             for t in sorted(tokens)[:LISTED_OOV]]
    more = len(tokens) - len(shown)
    text = ("" if unit == "char" else " ").join(shown)
    return text + (f" (and {more:,} more)" if more > 0 else "")


def _quote(tokens, unit="char"):
    if unit == "word":
        return " ".join(tokens)
    return " ".join(repr(c)[1:-1] if c.isprintable() and c != " " else f"U+{ord(c):04X}"
                    for c in tokens)


@dataclass
class ItemScore:
    """Every n-gram of one item with its probability, and the item's totals."""

    item: str
    ngrams: list             # (n-gram label, probability, log-probability)
    log_likelihood: float
    tokens: int
    oov_tokens: tuple = ()   # every distinct token outside the vocabulary
    unit: str = "char"

    @property
    def oov_listing(self):
        """The OOV tokens as the walk-through's totals line shows them."""
        return _listing(self.oov_tokens, self.unit)

    @property
    def nll(self):
        """Average negative log-likelihood over the item's scored n-grams."""
        return -self.log_likelihood / self.tokens if self.tokens else math.nan


def score_item(model, item, oov="skip"):
    """The lecture's walk-through of one item: each n-gram's probability and log-probability."""
    vocabulary = model.vocabulary
    codepoints = np.frombuffer(item.encode("utf-32-le"), dtype=np.uint32)
    ids, offsets, unknown, spans = encode_for_model(model, codepoints,
                                                np.array([0, len(codepoints)]))
    names = _oov_strings(vocabulary, spans, unknown) if unknown.any() else set()
    listed = tuple(sorted(names))
    if unknown.any() and oov == "error" and not vocabulary.unk:
        raise _oov_refusal(repr(item), vocabulary, names)
    scored = score_tokens(model, ids, offsets, unknown)
    used = ~np.isnan(scored.logprob)
    predicted, longest = scored.windows
    labels = vocabulary.labels()
    separator = " " if vocabulary.unit == "word" else ""
    ngrams = []
    for position, width, value in zip(predicted[used].tolist(), longest[used].tolist(),
                                      scored.logprob[used].tolist()):
        window = scored.stream[position - width + 1:position + 1].tolist()
        text = [labels[t] if t >= 0 else "?" for t in window]
        if vocabulary.unit == "word" and window[0] == 0 and width > 1:
            text[0] = "<s>"
        ngrams.append((separator.join(text), math.exp(value), value))
    return ItemScore(item, ngrams, float(scored.logprob[used].sum()), int(used.sum()), listed,
                     vocabulary.unit)


def touches_unknown(text, order):
    """Positions whose scored window (the longest that fits in the item, at most `order`
    tokens) holds an unknown token."""
    where = np.arange(len(text.stream))
    last_unknown = np.maximum.accumulate(np.where(text.stream < 0, where, -1))
    longest = np.minimum(text.position.astype(np.int64) + 1, order)
    return last_unknown > where - longest
