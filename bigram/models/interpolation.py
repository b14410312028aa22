"""Linear interpolation of models trained on different text (SRILM's `-mix-lm -lambda`).

    P(w | h) = sum_i weight_i * P_i(w | h)

exactly, token by token, each component with its own context length and back-off; the
weights add up to 1. Components share the unit (characters or words) but not
necessarily their vocabularies: the mixture's vocabulary is the union, and a token a
component does not know gets that component's `<unk>` probability if it has one, else
0 from it. Weights can be tuned on held-out text by EM, as SRILM's compute-best-mix
does: each round, each component's weight becomes its mean posterior share of the
held-out tokens' probability, which never raises the held-out perplexity.

Scoring goes through each component's own scorer on the same items (scoring.py), so
every prediction gets each component's ln P and the mixture is one log-sum-exp per
prediction. Sampling draws from the mixed rows (states are tuples of component
states, numbered as they are met).
"""

import math

import numpy as np

from bigram.errors import OptionError
from bigram.models.language_models import LanguageModel
from bigram.ngrams.index import BOUNDARY, pad_items, pads_for
from bigram.text.vocabulary import Vocabulary

EM_TOLERANCE = 1e-7     # stop when no weight moves more than this
EM_ROUNDS = 1000


def check_weights(weights, n):
    """The weights as floats: n of them, each >= 0, adding up to 1 (to 1e-6)."""
    try:
        weights = [float(w) for w in weights]
    except (TypeError, ValueError):
        raise OptionError(f"--weights must be numbers, not {weights!r}") from None
    if len(weights) != n:
        raise OptionError(f"--weights gives {len(weights)} weights for {n} models")
    if not all(math.isfinite(w) and w >= 0 for w in weights):
        raise OptionError(f"--weights must be numbers >= 0, not {weights}")
    if abs(sum(weights) - 1) > 1e-6:
        raise OptionError(f"--weights must add up to 1, not {sum(weights):g}")
    return weights


class InterpolatedModel(LanguageModel):
    """A fixed linear mixture of models (models.LanguageModel objects) of one unit."""

    kind = "interpolated"
    padding = "sentence"

    def __init__(self, components, weights, sources=None):
        if len(components) < 2:
            raise OptionError("interpolation needs two models or more")
        units = {c.vocabulary.unit for c in components}
        if len(units) > 1:
            raise OptionError("the models to interpolate must all be of characters or all "
                              "of words")
        if any(c.kind == InterpolatedModel.kind for c in components):
            raise OptionError("an interpolated model cannot be a component: interpolate its "
                              "components instead")
        tokens = sorted({t for c in components for t in c.vocabulary.tokens})
        vocabulary = Vocabulary(tokens, units.pop(), unk=any(c.vocabulary.unk
                                                             for c in components))
        super().__init__(vocabulary, max(c.order for c in components))
        self.components = list(components)
        self.weights = check_weights(weights, len(components))
        self.sources = list(sources or [])
        self.maps = [self._map_to(c) for c in components]
        self._states = {}
        self._state_list = []

    def _map_to(self, component):
        """Union id -> the component's id (its `<unk>`, or -1, for tokens it lacks); the
        last entry maps -1 (an OOV of the union) the same way."""
        theirs = component.vocabulary
        stoi = {t: i + theirs.first for i, t in enumerate(theirs.tokens)}
        missing = theirs.unk_id if theirs.unk else -1
        unlisted = component.unlisted_tokens()
        out = np.full(len(self.vocabulary) + 1, missing, dtype=np.int64)
        out[BOUNDARY] = BOUNDARY
        for i in range(self.vocabulary.first, len(self.vocabulary)):
            found = stoi.get(self.vocabulary.token(i), missing)
            if unlisted is not None and found >= 0 and unlisted[found]:
                found = missing
            out[i] = found
        if self.vocabulary.unk:
            out[self.vocabulary.unk_id] = missing
        return out

    # ------------------------------------------------------------------ scoring

    def component_logprobs(self, tokens, offsets):
        """ln P_i of every prediction of items given as union token ids (-1 for OOV) and
        offsets: (components, predictions), -inf where a component gives 0."""
        from bigram.models.scoring import scorer_for

        tokens = np.asarray(tokens, dtype=np.int64)
        out = []
        for component, mapping in zip(self.components, self.maps):
            mapped = mapping[tokens]        # -1 indexes the last entry: OOV -> OOV
            text = pad_items(mapped, offsets, pads_for(component.padding, component.order))
            values = scorer_for(component).score(text)
            values = values[text.position >= text.pads]
            out.append(np.where(np.isnan(values), -np.inf, values))
        return np.array(out).reshape(len(self.components), -1)

    def mix(self, logprobs):
        """ln of the weighted sum of exp(logprobs) over components (axis 0); NaN where
        every component gives 0 (a token the mixture cannot score)."""
        with np.errstate(divide="ignore"):
            logw = np.log(np.asarray(self.weights))[:, None]
        terms = logprobs + logw
        top = terms.max(axis=0)
        finite = np.isfinite(top)
        result = np.full(logprobs.shape[1], np.nan)
        result[finite] = top[finite] + np.log(
            np.exp(terms[:, finite] - top[finite]).sum(axis=0))
        return result

    def prediction_logprobs(self, tokens, offsets):
        """ln P of every prediction (evaluation.score_tokens reads this, not score_index)."""
        return self.mix(self.component_logprobs(tokens, offsets))

    def score_index(self, text):
        raise OptionError("an interpolated model scores items, not a text index")

    def score(self, text):
        """ln P at every position of a PaddedText of union ids (scoring.py's scorer
        protocol; NaN where nothing is predicted)."""
        predicted = np.flatnonzero(text.position >= text.pads)
        ends = text.starts[1:] - 1
        lengths = ends - text.starts[:-1] - text.pads
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        inner = np.ones(len(text.stream), dtype=bool)
        inner[ends] = False
        tokens = text.stream[predicted[inner[predicted]]]
        result = np.full(len(text.stream), np.nan)
        result[predicted] = self.prediction_logprobs(tokens, offsets)
        return result

    def boundary_bound(self):
        """An upper bound on P(end | any state): the largest of the components'."""
        return max(getattr(c, "boundary_bound", lambda: 1.0)() for c in self.components)

    # ------------------------------------------------------------------ sampling

    def _number(self, tuples):
        """State ids of rows of component states, new ones numbered as met."""
        ids = np.empty(len(tuples), dtype=np.int64)
        for i, row in enumerate(map(tuple, tuples.tolist())):
            found = self._states.get(row)
            if found is None:
                found = self._states[row] = len(self._state_list)
                self._state_list.append(row)
            ids[i] = found
        return ids

    def start_state(self):
        return int(self._number(np.array([[c.start_state() for c in self.components]]))[0])

    def next_token_probabilities(self, states):
        rows = np.array([self._state_list[s] for s in np.asarray(states).tolist()],
                        dtype=np.int64).reshape(len(states), -1)
        out = np.zeros((len(states), len(self.vocabulary)), dtype=np.float64)
        for i, (component, mapping, weight) in enumerate(zip(self.components, self.maps,
                                                             self.weights)):
            theirs = component.next_token_probabilities(rows[:, i]).astype(np.float64)
            known = mapping[:-1] >= 0
            out[:, known] += weight * theirs[:, mapping[:-1][known]]
            if component.vocabulary.unk:
                # The component's <unk> mass stays with the union's tokens it lacks (and
                # the union's <unk>), not counted twice for tokens it has.
                shared = np.flatnonzero(mapping[:-1] == component.vocabulary.unk_id)
                out[:, shared[1:]] -= weight * theirs[:, [component.vocabulary.unk_id]]
        return out.astype(np.float32)

    def advance(self, states, tokens):
        rows = np.array([self._state_list[s] for s in np.asarray(states).tolist()],
                        dtype=np.int64).reshape(len(states), -1)
        tokens = np.asarray(tokens, dtype=np.int64)
        following = np.stack([c.advance(rows[:, i], np.maximum(m[tokens], 0))
                              for i, (c, m) in enumerate(zip(self.components, self.maps))],
                             axis=1)
        return self._number(following)

    # ------------------------------------------------------------------ settings

    def hyperparameters(self):
        return {"weights": self.weights, "components": self.sources}

    def describe(self):
        shown = ", ".join(f"{w:.4g} {s}" for w, s in zip(self.weights, self.sources))
        return f"interpolation of {len(self.components)} models: {shown}"

    def arrays(self):
        return {}


def em_weights(logprobs, weights=None, tolerance=EM_TOLERANCE, rounds=EM_ROUNDS):
    """The weights that maximise the likelihood of held-out predictions whose component
    ln P are `logprobs` (components, predictions), by EM from `weights` (uniform by
    default), as SRILM's compute-best-mix; predictions no component can score are left
    out. Returns (weights, rounds run)."""
    logprobs = np.asarray(logprobs, dtype=np.float64)
    usable = np.isfinite(logprobs).any(axis=0)
    p = np.exp(logprobs[:, usable] - logprobs[:, usable].max(axis=0))
    n = p.shape[0]
    lam = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    for done in range(1, rounds + 1):
        mixed = lam[:, None] * p
        posterior = mixed / mixed.sum(axis=0)
        new = posterior.mean(axis=1)
        moved = float(np.abs(new - lam).max())
        lam = new
        if moved < tolerance:
            break
    return (lam / lam.sum()).tolist(), done

