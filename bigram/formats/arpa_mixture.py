"""An interpolated model as one ARPA back-off file: SRILM's `ngram -mix-lm -lambda
-write-lm` approximation of a linear mixture.

A linear mixture sum_i weight_i P_i(w | h) has no exact back-off form (each component
backs off with its own weights), so the file is an approximation built as SRILM builds
it:

- its n-grams are the union of the components' n-grams (and every prefix and suffix of
  them, so each context is listed and the back-off rule always finds the shorter
  n-gram);
- each listed n-gram h w has the mixture's exact probability sum_i weight_i P_i(w | h),
  every component scoring it by its own back-off rule (a component whose order is
  shorter than the n-gram reads the last words only);
- each context h gets the back-off weight that makes its distribution sum to one again:
  bow(h) = (1 - sum_{w: h w listed} P(w | h)) / (1 - sum_{w: h w listed} P(w | h')),
  h' being h without its oldest word.

So the file equals the mixture on every listed n-gram; a continuation it does not list
follows the file's back-off (the mixture's mass left over, spread as the shorter
context spreads it), where the mixture would have backed off component by component.

Components need not share a vocabulary. The file's vocabulary is their union, and
each component's distribution is kept a distribution over it, as SRILM's shared
vocabulary does: a word a component does not know gets nothing from that component
(its `<unk>` mass goes to the file's `<unk>`), where scoring with the interpolated model
itself gives such a word the component's `<unk>` probability. Words every component
knows are scored alike by both.

Components are read in KenLM's sentence form (one `<s>`): models padded the lecture's
way, and neural bigrams, are first turned into the ARPA text `bigram export` writes
for them, which is exact. Everything runs on arrays of n-grams, level by level.
"""

import numpy as np

from bigram.errors import BigramError
from bigram.formats.arpa_model import arpa_model_of, index_of_windows, lookup
from bigram.formats.arpa_reader import parse_arpa
from bigram.formats.arpa_writer import LN10, LOG_ZERO, arpa_lines
from bigram.ngrams.backoff import BackoffModel
from bigram.ngrams.index import BOUNDARY

# Below this, the lower-order mass a context's unlisted words would back off to is taken
# as none left (rounding of 1 - sum over listed words): their back-off weight is then 1.
NOTHING_LEFT = 1e-12


class MixtureArpa:
    """What arpa_writer.arpa_lines reads of a model: the mixture in back-off form over the
    union vocabulary."""

    def __init__(self, vocabulary, backoff):
        self.vocabulary, self.backoff, self.order = vocabulary, backoff, backoff.order


def sentence_form(component):
    """A component as a models.LanguageModel whose back-off form reads one `<s>`."""
    backoff = getattr(component, "backoff", None)
    if backoff is not None and backoff.index.padding == "sentence":
        return component
    text = ("\n".join(arpa_lines(component)) + "\n").encode("utf-8")
    model, _ = arpa_model_of(parse_arpa(text, "a component's ARPA form"),
                             "a component's ARPA form")
    return model


def mixture_backoff(mixture):
    """The mixture (models.interpolation.InterpolatedModel) as a MixtureArpa."""
    components = [sentence_form(c) for c in mixture.components]
    size = len(mixture.vocabulary)
    contexts = [mixture._map_to(c)[:-1] for c in components]
    predicted = [_predicted_ids(mixture, c, m) for c, m in zip(components, contexts)]
    order = max(c.order for c in components)
    windows = {}
    for component, mapping in zip(components, _to_union(mixture, components)):
        index = component.backoff.index
        for k in range(2, component.order + 1):
            grams = mapping[index.tokens(k)[~np.isnan(component.backoff.logprob[k])]]
            windows.setdefault(k, []).append(grams[(grams >= 0).all(axis=1)])
    index = index_of_windows(order, size, {k: np.concatenate(v) for k, v in windows.items()})
    logw = np.log(np.asarray(mixture.weights, dtype=np.float64))
    logprob = [None]
    for k in range(1, order + 1):
        tokens = index.tokens(k)
        parts = [_component_logprob(c.backoff, ctx[tokens[:, :-1]], pred[tokens[:, -1]])
                 for c, ctx, pred in zip(components, contexts, predicted)]
        parts = np.array(parts)
        # log10 -99 and below is ARPA's zero (lmplz and bigram write -99 or -100 for it).
        parts[parts <= LOG_ZERO * LN10] = -np.inf
        logprob.append(_log_mix(parts, logw))
    logbackoff = [None] + [_backoff_weights(index, logprob, k) for k in range(1, order)]
    logbackoff.append(np.zeros(len(index.level(order))))
    return MixtureArpa(mixture.vocabulary, BackoffModel(index, logprob, logbackoff))


def _predicted_ids(mixture, component, contexts):
    """Union id -> the component's id of a predicted token: -1 for a word the component
    does not know (it gives it nothing); the union's `<unk>` is the component's `<unk>`."""
    unk = component.vocabulary.unk_id
    out = contexts.copy()
    if unk is not None:
        out[out == unk] = -1
        if mixture.vocabulary.unk:
            out[mixture.vocabulary.unk_id] = unk
    return out


def _to_union(mixture, components):
    """For each component, its id -> the union's id (the boundary and `<unk>` kept; -1 for
    a `<unk>` the union has not)."""
    union = mixture.vocabulary
    stoi = {t: i + union.first for i, t in enumerate(union.tokens)}
    maps = []
    for component in components:
        theirs = component.vocabulary
        out = np.full(len(theirs), BOUNDARY, dtype=np.int64)
        out[theirs.first:] = [stoi[t] for t in theirs.tokens]
        if theirs.unk:
            # (A model without `<unk>` reads back from its ARPA text with one of log10
            # probability -100: no union `<unk>` stands for it, and its n-grams are left.)
            out[theirs.unk_id] = union.unk_id if union.unk else -1
        maps.append(out)
    return maps


def _component_logprob(backoff, contexts, tokens):
    """ln P(token | context) of one component for rows of context ids (oldest first; -1 a
    word it cannot read, which no n-gram of it holds) by its back-off rule; -inf for a
    token it gives nothing (-1, or a unigram it does not list)."""
    length = min(contexts.shape[1] + 1, backoff.order)
    contexts = contexts[:, contexts.shape[1] - (length - 1):]
    result = np.full(len(tokens), -np.inf)
    skipped = np.zeros(len(tokens))
    pending = np.flatnonzero(tokens >= 0)
    for j in range(length, 0, -1):
        here = contexts[pending, length - j:]
        rows = lookup(backoff.index, np.column_stack([here, tokens[pending]]))
        value = np.full(len(pending), np.nan)
        value[rows >= 0] = backoff.logprob[j][rows[rows >= 0]]
        found = ~np.isnan(value)
        result[pending[found]] = value[found] + skipped[pending[found]]
        pending, here = pending[~found], here[~found]
        if j == 1 or not len(pending):
            break
        below = lookup(backoff.index, here)
        listed = below >= 0
        skipped[pending[listed]] += backoff.logbackoff[j - 1][below[listed]]
    return result


def _log_mix(logprobs, logw):
    """ln sum_i exp(logw_i + logprobs_i) per column; -inf where every term is."""
    terms = logprobs + logw[:, None]
    top = terms.max(axis=0)
    finite = np.isfinite(top)
    out = np.full(terms.shape[1], -np.inf)
    out[finite] = top[finite] + np.log(np.exp(terms[:, finite] - top[finite]).sum(axis=0))
    return out


def _backoff_weights(index, logprob, k):
    """ln bow of every level-k window as a context: the mass its listed continuations leave,
    over the mass the same continuations have after the context one word shorter."""
    rows = len(index.level(k))
    parents = index.parent(k + 1)
    listed = np.bincount(parents, weights=np.exp(logprob[k + 1]), minlength=rows)
    shorter = np.exp(logprob[k][index.level(k + 1).suffix])
    below = np.bincount(parents, weights=shorter, minlength=rows)
    left = np.maximum(1.0 - listed, 0.0)
    room = 1.0 - below
    weight = np.ones(rows)
    some = room > NOTHING_LEFT
    weight[some] = left[some] / room[some]
    with np.errstate(divide="ignore"):
        return np.log(weight)


def mixture_arpa_lines(mixture):
    """The ARPA text of the mixture's approximation, line by line."""
    if any(getattr(c, "backoff", None) is None and c.order != 2 for c in mixture.components):
        raise BigramError("a neural component of order above 2 has no back-off form: the "
                          "mixture cannot be written as ARPA")
    return arpa_lines(mixture_backoff(mixture))
