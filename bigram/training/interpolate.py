"""Tuning interpolation weights on held-out text: EM over the components' probabilities
of every held-out prediction (models.interpolation.em_weights), as SRILM's
compute-best-mix does."""

from dataclasses import dataclass

import numpy as np

from bigram.errors import InputError


@dataclass
class Tuning:
    """EM's result: the weights, the held-out perplexity of the mixture and of each
    component (predictions every component can score), predictions used, EM rounds."""

    weights: list
    perplexity: float
    component_perplexities: list
    predictions: int
    rounds: int


def heldout_logprobs(components, argument, encoding_errors="strict"):
    """ln P_i of every prediction of the held-out text under each component
    (components, predictions), read block by block as `bigram eval` reads files."""
    from bigram.models.evaluation import block_items, encode_for_model
    from bigram.models.interpolation import InterpolatedModel
    from bigram.text.sources import Reader, resolve_sources

    union = InterpolatedModel(components, [1.0 / len(components)] * len(components))
    parts = []
    for _, block in Reader(resolve_sources([argument]), encoding_errors).blocks():
        # As `bigram eval` reads the mixture's text: a line a sentence, a blank one too.
        chars, offsets = block_items(union, block)
        ids, offsets, _, _ = encode_for_model(union, chars, offsets)
        parts.append(union.component_logprobs(ids, offsets))
    if not parts or not sum(p.shape[1] for p in parts):
        raise InputError(f"{getattr(argument, 'label', argument)} holds no items to tune on")
    return np.concatenate(parts, axis=1)


def tune_weights(components, argument, encoding_errors="strict"):
    """The weights minimising the held-out perplexity of the mixture (a Tuning)."""
    from bigram.models.interpolation import em_weights

    logprobs = heldout_logprobs(components, argument, encoding_errors)
    weights, rounds = em_weights(logprobs)
    usable = np.isfinite(logprobs).all(axis=0)
    chosen = logprobs[:, usable]
    with np.errstate(divide="ignore"):
        mixed = np.log((np.asarray(weights)[:, None] * np.exp(chosen)).sum(axis=0))
    count = int(usable.sum())
    return Tuning(weights, float(np.exp(-mixed.mean())) if count else float("nan"),
                  [float(np.exp(-row.mean())) if count else float("nan") for row in chosen],
                  count, rounds)
