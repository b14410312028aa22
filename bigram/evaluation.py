"""Loss reports: average negative log-likelihood, bits per character, perplexity.

A report is computed from bigram counts, so evaluating a split the model
file already holds costs one V x V product, and evaluating a file costs one
streaming count. Characters outside the model's vocabulary are counted and
named; by default the bigrams touching them are left out (`oov="skip"`), or
they are an error (`oov="error"`).
"""

import math
from dataclasses import dataclass

import numpy as np

from .corpus import Reader, resolve_sources
from .counting import count_with_vocabulary
from .errors import InputError, OptionError

OOV_POLICIES = ("skip", "error")


@dataclass
class Report:
    """The loss of a model on one body of text."""

    name: str
    items: int
    tokens: int
    log_likelihood: float
    oov: int = 0
    oov_chars: str = ""

    @property
    def nll(self):
        """Mean negative log-likelihood per predicted token, in nats (inf if one is impossible)."""
        if self.tokens == 0:
            return math.nan
        return -self.log_likelihood / self.tokens

    @property
    def bits_per_char(self):
        """The same loss in bits."""
        return self.nll / math.log(2)

    @property
    def perplexity(self):
        """e ** nll: the effective number of equally likely next characters."""
        nll = self.nll
        return math.inf if nll > 700 else math.exp(nll)

    def as_dict(self):
        """The report as JSON-ready values; an infinite or undefined loss is "inf" or "nan"."""
        return {"items": self.items, "tokens": self.tokens, "nll": _json_number(self.nll),
                "bits_per_char": _json_number(self.bits_per_char),
                "perplexity": _json_number(self.perplexity), "oov": self.oov,
                "oov_chars": self.oov_chars}


def _json_number(x):
    """Floats JSON can carry: strict JSON has no infinity or NaN, so those become strings."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def report_from_counts(model, counts, items, name, oov=0, oov_chars=""):
    """The report for text with the given bigram counts."""
    total, tokens = model.log_likelihood(counts)
    return Report(name, int(items), tokens, total, oov, oov_chars)


def evaluate_splits(saved):
    """A report for each split the model file holds (train, test)."""
    items = saved.meta.get("data", {}).get("items", {})
    return [report_from_counts(saved.model, counts, items.get(split, 0), split)
            for split, counts in saved.data_counts.items()]


def _describe(codepoints):
    return "".join(chr(int(c)) for c in codepoints)


def evaluate_text_sources(model, argument, oov="skip", encoding_errors="strict"):
    """The report for one FILE argument (a path, a glob or '-')."""
    if oov not in OOV_POLICIES:
        raise OptionError(f"--oov must be skip or error, not {oov!r}")
    reader = Reader(resolve_sources([argument]), encoding_errors)
    counts = None
    items = unknown = 0
    unknown_chars = np.zeros(0, dtype=np.uint32)
    for _, block in reader.blocks():
        chars, offsets = block.item_chars()
        block_counts, n_unknown, chars_unknown = count_with_vocabulary(
            model.vocabulary, chars, offsets, model.order)
        counts = block_counts if counts is None else counts.merged(block_counts)
        items += block.n_items
        unknown += n_unknown
        unknown_chars = np.union1d(unknown_chars, chars_unknown)
    if items == 0:
        raise InputError(f"{argument} holds no items (it is empty or only has blank lines)")
    listed = _describe(unknown_chars)
    if unknown and oov == "error":
        raise InputError(f"{argument} has {unknown} character(s) outside the model's vocabulary "
                         f"({_quote(listed)}); use --oov skip to score the rest")
    return report_from_counts(model, counts, items, argument, unknown, listed)


def _quote(chars):
    return " ".join(repr(c)[1:-1] if c.isprintable() and c != " " else f"U+{ord(c):04X}"
                    for c in chars)


@dataclass
class ItemScore:
    """Every n-gram of one item with its probability, and the item's totals."""

    item: str
    ngrams: list             # (n-gram label, probability, log-probability)
    log_likelihood: float
    tokens: int
    oov_chars: str = ""

    @property
    def nll(self):
        """Average negative log-likelihood over the item's scored n-grams."""
        return -self.log_likelihood / self.tokens if self.tokens else math.nan


def score_item(model, item, oov="skip"):
    """The lecture's walk-through of one name: each n-gram's probability and log-probability."""
    from .ngrams import known_windows, window_keys

    vocabulary = model.vocabulary
    codepoints = np.frombuffer(item.encode("utf-32-le"), dtype=np.uint32)
    tokens, unknown = vocabulary.encode(codepoints)
    listed = _describe(np.unique(codepoints[unknown]))
    if unknown.any() and oov == "error":
        raise InputError(f"{item!r} has characters outside the model's vocabulary "
                         f"({_quote(listed)}); use --oov skip to score the rest")
    padded, at = known_windows(tokens, unknown, np.array([0, len(tokens)]), model.order)
    keys = window_keys(padded, at, model.order, len(vocabulary))
    probs = model.next_token_probabilities(keys)[np.arange(len(at)), padded[at]]
    with np.errstate(divide="ignore"):
        logs = np.log(probs.astype(np.float64))
    labels = np.array(vocabulary.labels(), dtype=object)
    windows = padded[at[:, None] + np.arange(-(model.order - 1), 1)]
    names = ["".join(row) for row in labels[windows]]
    ngrams = [(name, float(p), float(lp)) for name, p, lp in zip(names, probs.tolist(),
                                                                logs.tolist())]
    return ItemScore(item, ngrams, float(logs.sum()), len(at), listed)
