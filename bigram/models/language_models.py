"""The models behind one interface: smoothed counts, a one-layer neural net, and back-off
models read from ARPA files, of any order and vocabulary.

Every model scores the windows of a text index (`score_index`: ln P of each
window's last token given the rest) and, for sampling, walks states: a start
state, the float32 distribution after a state (`next_token_probabilities`),
and the state after a token (`advance`). Evaluation, scoring, sampling and
export only ever ask that, so the CLI never asks which kind it holds.
"""

import math

import numpy as np

from bigram.errors import OptionError, TrainingDiverged
from bigram.ngrams.index import BOUNDARY

# The neural model's weight matrix ((order - 1) V x V float32) and its per-step count
# matrix must each fit this: 512 MiB, about 11,500 tokens at order 2.
NEURAL_BUDGET = 512 << 20
# Rows computed at once when a query needs full distributions (bounded memory at any V).
ROW_CHUNK = 1 << 22


def order_name(order):
    """bigram, trigram, 4-gram, ..."""
    return {2: "bigram", 3: "trigram"}.get(order, f"{order}-gram")



class LanguageModel:
    """What every model offers: window scores, sampling states, settings, arrays."""

    kind = "base"

    def __init__(self, vocabulary, order):
        self.vocabulary = vocabulary
        self.order = int(order)

    @property
    def size(self):
        """Vocabulary size V."""
        return len(self.vocabulary)

    @property
    def unit(self):
        """'char' or 'word'."""
        return self.vocabulary.unit

    padding = "makemore"

    def score_index(self, text):
        """ln P of the last token of every window of a text index, per level (see BackoffModel)."""
        raise NotImplementedError

    def log_likelihood(self, text):
        """Total natural log-likelihood of a text index's predictions and how many there are.

        A token the model gives probability zero makes the total -inf: an honest
        infinite loss, never a crash or a silently finite number.
        """
        scores = self.score_index(text)
        total, tokens = 0.0, 0
        for k in range(1, text.order + 1):
            final = text.final(k)
            used = final > 0
            if used.any():
                with np.errstate(invalid="ignore"):
                    total += float((final[used] * scores[k][used]).sum())
                tokens += int(final[used].sum())
        return total, tokens

    def start_state(self):
        """The sampling state before an item's first token."""
        raise NotImplementedError

    def next_token_probabilities(self, states):
        """P(next | state) as float32 rows (len(states), V)."""
        raise NotImplementedError

    def advance(self, states, tokens):
        """The states after `tokens`."""
        raise NotImplementedError

    def n_states(self):
        """How many sampling states there are (None: too many to list)."""
        return None

    def unlisted_tokens(self):
        """A mask of tokens the model gives no probability of their own (read as `<unk>`),
        or None."""
        return None

    def hyperparameters(self):
        """The settings that made this model (stored in the model file)."""
        return {}

    def describe(self):
        """The settings in words, for summaries."""
        return ""

    def estimated_settings(self):
        """Settings the model estimated from its data rather than was given (none here)."""
        return {}

    def arrays(self):
        """The arrays that define this model (stored in the model file)."""
        raise NotImplementedError


class BackoffSampling(LanguageModel):
    """Models that sample by the states of a BackoffModel (`self.backoff`)."""

    def start_state(self):
        return self.backoff.start_state()

    def next_token_probabilities(self, states):
        return self.backoff.rows(states).astype(np.float32)

    def advance(self, states, tokens):
        return self.backoff.advance(states, tokens)

    def n_states(self):
        return int(self.backoff.offsets[-1])

    def boundary_bound(self):
        """An upper bound on P(end of item | any state)."""
        return self.backoff.boundary_bound()


class BackoffQueries(BackoffSampling):
    """Models whose queries are those of a BackoffModel (`self.backoff`)."""

    @property
    def padding(self):
        return self.backoff.index.padding

    def score_index(self, text):
        return self.backoff.score_index(text)

    def query_tables(self):
        """The back-off form rearranged for scoring text (query.QueryTables), made on first
        use; None if the model's gains are not all finite."""
        if not hasattr(self, "_query_tables"):
            from bigram.ngrams.query import QueryTables

            self._query_tables = QueryTables.from_backoff(self.backoff)
        return self._query_tables

    def unlisted_tokens(self):
        """Tokens without a unigram probability (pruned, or absent from an ARPA file), when
        the model has `<unk>` to read them as."""
        if not self.vocabulary.unk:
            return None
        unlisted = np.isnan(self.backoff.logprob[1])
        unlisted[BOUNDARY] = False
        return unlisted if unlisted.any() else None


class CountModel(BackoffQueries):
    """Smoothed n-gram counts; for bigrams with add-k, P = (N + k) / (N + k).sum(1, keepdim=True).

    `counts` is the training NgramIndex; smoothing.py holds the methods (add-k,
    Witten-Bell, Kneser-Ney) and kneser_ney.py modified Kneser-Ney, each giving
    the back-off form every query reads.
    """

    kind = "counts"

    def __init__(self, vocabulary, counts, smoothing=None, method="add-k", discounts=None,
                 prune=None, token_rank=None):
        from bigram.ngrams.smoothing import check, default_parameter

        super().__init__(vocabulary, counts.order)
        self.counts = counts
        self.method = method
        if smoothing is None:
            smoothing = default_parameter(method)
        self.smoothing = None if smoothing is None else float(smoothing)
        check(method, self.smoothing)
        if (prune or discounts) and method != "modified-kneser-ney":
            raise OptionError("--prune and --discounts belong to --smoothing-method "
                              "modified-kneser-ney")
        self.discounts = discounts          # modified Kneser-Ney: {order: (D1, D2, D3+)}
        self.prune = list(prune) if prune else None
        self.token_rank = token_rank        # lmplz's word ids (see kneser_ney.py)
        if self.prune:
            from bigram.ngrams.kneser_ney import check_prune

            check_prune(self.prune, self.order)
        self._backoff = None
        self._estimate = None

    @property
    def estimate(self):
        """The smoothing.Estimate of the counts, computed on first use."""
        if self._estimate is None:
            if self.method == "modified-kneser-ney":
                from bigram.ngrams.kneser_ney import estimate_modified

                self._estimate = estimate_modified(self.counts, self.prune, self.discounts,
                                                   self.token_rank, self.vocabulary.unk_id)
            else:
                from bigram.ngrams.smoothing import estimate

                self._estimate = estimate(self.counts, self.method, self.smoothing)
        return self._estimate

    def used_discounts(self):
        """The discounts of the (modified) Kneser-Ney estimate, by order."""
        if self._estimate is None and getattr(self, "_discounts_used", None) is not None:
            return self._discounts_used
        return self.estimate.discounts

    @property
    def backoff(self):
        """The BackoffModel of the smoothed counts."""
        if self._backoff is None:
            from bigram.ngrams.backoff import BackoffModel

            est = self.estimate
            if getattr(est, "logprob", None) is not None:
                self._backoff = BackoffModel(self.counts, est.logprob, est.logbackoff)
            else:
                self._backoff = BackoffModel.from_probabilities(self.counts, est.prob,
                                                                est.backoff, in_place=True)
                est.prob = est.backoff = None   # now the back-off model's logarithms
            self._backoff.unk_row = self.vocabulary.unk_id
        return self._backoff

    @classmethod
    def fit(cls, vocabulary, counts, smoothing=None, method="add-k"):
        """The count model of training counts."""
        return cls(vocabulary, counts, smoothing, method)

    def hyperparameters(self):
        out = {"smoothing": self.smoothing, "smoothing_method": self.method}
        if self.method == "modified-kneser-ney":
            out["prune"] = self.prune
            out["discounts"] = None if not self.discounts else {
                str(k): list(v) for k, v in self.discounts.items()}
        return out

    def estimated_settings(self):
        """The discounts (modified) Kneser-Ney used, by order: [D1, D2, D3+] or D."""
        if self.method not in ("kneser-ney", "modified-kneser-ney"):
            return {}
        return {"discounts_used": {str(k): [float(d) for d in np.atleast_1d(ds)]
                                   for k, ds in self.used_discounts().items()}}

    def describe(self):
        name = {"add-k": "add-k, k", "witten-bell": "Witten-Bell, multiplier",
                "kneser-ney": "Kneser-Ney, discount",
                "modified-kneser-ney": "modified Kneser-Ney"}[self.method]
        if self.method == "modified-kneser-ney":
            used = "; ".join(f"{k}: " + ", ".join(f"{d:.3g}" for d in ds)
                             for k, ds in self.used_discounts().items())
            how = "given" if self.discounts else "estimated"
            pruned = f", pruned {' '.join(map(str, self.prune))}" if self.prune else ""
            return f"smoothing: {name}, discounts {used} ({how}){pruned}"
        if self.method == "kneser-ney" and self.smoothing is None:
            used = ", ".join(f"{d:.3g}" for d in self.used_discounts().values())
            return f"smoothing: {name}s {used} (estimated)"
        return f"smoothing: {name} {self.smoothing:.4g}"

    def arrays(self):
        out = self.counts.arrays("counts_")
        if self.token_rank is not None:
            out["token_rank"] = np.asarray(self.token_rank, dtype=np.int64)
        tables = self._query_tables if hasattr(self, "_query_tables") else \
            self._tables_in_place()
        if tables is not None:   # derived, stored so that scoring text needs no estimation
            out.update({f"query_{name}": array for name, array in tables.arrays().items()})
        return out

    def _tables_in_place(self):
        """The query tables made out of the back-off form's own arrays, which the model
        then gives up (made again from the counts if asked for): writing a model file
        takes no more memory than the model holds."""
        from bigram.ngrams.query import QueryTables

        tables = QueryTables.from_backoff(self.backoff, in_place=True)
        self._discounts_used = getattr(self._estimate, "discounts", None)
        self._backoff = self._estimate = None
        self._query_tables = tables
        return tables


class NeuralModel(LanguageModel):
    """One linear layer on the one-hot encodings of the context: logits = onehot(x) @ W.

    For order N the input is the N-1 one-hot vectors side by side, so W has
    (N-1) V rows and the logits are the sum of one row of W per context
    position: exactly `one_hot(xs) @ W` for bigrams. Its states are the
    contexts themselves, as integers with the N-1 tokens as base-V digits.
    """

    kind = "neural"

    def __init__(self, vocabulary, weights, steps, lr, reg, seed, losses=(), order=2):
        super().__init__(vocabulary, order)
        check_neural_budget(len(vocabulary), order)
        self.weights = np.asarray(weights, dtype=np.float32)
        self.steps, self.lr, self.reg, self.seed = int(steps), float(lr), float(reg), int(seed)
        self.losses = [float(x) for x in losses]

    @classmethod
    def fit(cls, vocabulary, counts, steps=100, lr=50.0, reg=0.01, seed=2147483647,
            on_step=None):
        """Train W by gradient descent through the engine's autograd.

        The loss over the data, mean cross-entropy of next tokens, depends on
        the data only through the n-gram counts, so each step evaluates the
        logits of each distinct context once and weights its log-probabilities
        by the counts, -sum(C * log_softmax(logits)) / sum(C), instead of one
        one-hot row per example (228,146 of them on names.txt). For bigrams
        `per_example_loss` is the lecture's form, and the tests show the two
        give the same loss and gradient.
        """
        _check_training_options(steps, lr, reg)
        from bigram import tensor as torch

        order, size = counts.order, len(vocabulary)
        check_neural_budget(size, order)
        top = counts.level(order)
        contexts, inverse = np.unique(counts.parent(order)[top.count > 0], return_inverse=True)
        if len(contexts) * size * 4 > NEURAL_BUDGET:
            raise OptionError(f"the training data has {len(contexts):,} distinct contexts; "
                              f"their counts ({len(contexts):,} x {size:,}) exceed the neural "
                              f"model's budget of {NEURAL_BUDGET >> 20} MiB; use --model counts")
        generator = torch.Generator().manual_seed(seed)
        W = torch.randn(((order - 1) * size, size), generator=generator, requires_grad=True)
        rows = _input_rows(counts.tokens(order - 1, contexts), size)
        dense = np.zeros((len(contexts), size), dtype=np.float32)
        np.add.at(dense, (inverse.ravel(), counts.token(order)[top.count > 0]),
                  top.count[top.count > 0])
        C = torch.tensor(dense)
        losses = []
        with np.errstate(over="ignore", invalid="ignore"):
            for step in range(steps + 1):
                loss = counts_loss(W, rows, C, reg)
                value = loss.item()
                if not math.isfinite(value):
                    raise TrainingDiverged(
                        f"training diverged at step {step} (loss {value}); try a smaller "
                        f"--lr than {lr:g}")
                losses.append(value)
                if on_step is not None:
                    on_step(step, value)
                if step == steps:
                    break
                W.grad = None
                loss.backward()
                W.data += -lr * W.grad
        return cls(vocabulary, W.detach().numpy().copy(), steps, lr, reg, seed, losses,
                   order=order)

    def _probabilities(self, context_tokens):
        logits = self.weights[_input_rows(context_tokens, self.size)].sum(axis=1,
                                                                          dtype=np.float32)
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)

    def score_index(self, text):
        scores = [None] + [np.full(len(text.level(k)), np.nan) for k in range(1, text.order + 1)]
        k = self.order
        needed = np.flatnonzero(text.final(k) > 0)
        tokens = text.tokens(k, needed)
        chunk = max(1, ROW_CHUNK // self.size)
        for start in range(0, len(tokens), chunk):
            part = tokens[start:start + chunk]
            probabilities = self._probabilities(part[:, :-1])
            picked = probabilities[np.arange(len(part)), part[:, -1]].astype(np.float64)
            with np.errstate(divide="ignore"):
                scores[k][needed[start:start + chunk]] = np.log(picked)
        return scores

    def start_state(self):
        return BOUNDARY   # N-1 boundaries: every digit 0

    def next_token_probabilities(self, states):
        return self._probabilities(context_digits(states, self.order, self.size))

    def boundary_bound(self):
        """An upper bound on P(end of item | any state): none cheaper than 1."""
        return 1.0

    def advance(self, states, tokens):
        return (np.asarray(states, np.int64) * self.size + tokens) % (self.size **
                                                                       (self.order - 1))

    def n_states(self):
        return self.size ** (self.order - 1)

    def hyperparameters(self):
        return {"steps": self.steps, "lr": self.lr, "reg": self.reg, "seed": self.seed}

    def describe(self):
        return f"steps {self.steps}, lr {self.lr:g}, reg {self.reg:g}, seed {self.seed}"

    def arrays(self):
        return {"weights": self.weights, "losses": np.asarray(self.losses, dtype=np.float64)}


class ArpaModel(BackoffQueries):
    """A back-off model read from an ARPA file (KenLM, SRILM, IRSTLM or bigram's own)."""

    kind = "arpa"

    def __init__(self, vocabulary, backoff, source=""):
        super().__init__(vocabulary, backoff.order)
        self.backoff = backoff
        self.backoff.unk_row = vocabulary.unk_id
        self.source = source

    def describe(self):
        return f"back-off model from {self.source}"

    def arrays(self):
        raise OptionError("an ARPA model is saved as ARPA (bigram export), not as a model file")


def check_neural_budget(size, order):
    """Refuse vocabularies whose neural weight matrix would not fit the budget."""
    if size ** max(order - 1, 1) >= 1 << 62:
        raise OptionError(f"a neural model of order {order} over {size:,} tokens has more "
                          "contexts than 64-bit integers can number (its sampling states are "
                          "the contexts as integers); use a lower --order or --model counts")
    need = (order - 1) * size * size * 4
    if need > NEURAL_BUDGET:
        raise OptionError(f"a neural model of order {order} over {size:,} tokens needs a "
                          f"{(order - 1) * size:,} x {size:,} weight matrix ({need / 2**20:,.0f} "
                          f"MiB), more than its budget of {NEURAL_BUDGET >> 20} MiB; use "
                          "--model counts (or --max-vocab to keep fewer tokens)")


def context_digits(states, order, size):
    """The N-1 tokens of context integers (base-V digits, oldest first)."""
    powers = size ** np.arange(order - 2, -1, -1, dtype=np.int64)
    return (np.asarray(states, dtype=np.int64)[:, None] // powers) % size


def _input_rows(context_tokens, size):
    """Rows of W each context selects: position p's token t is row p * V + t."""
    context_tokens = np.asarray(context_tokens, dtype=np.int64)
    return context_tokens + size * np.arange(context_tokens.shape[1])


def counts_loss(W, rows, C, reg):
    """Mean next-token cross-entropy of data with context counts C, plus L2 on W.

    `rows` (contexts x positions) are the rows of W each context selects; their
    sum is the context's logits, which is one_hot(contexts) @ W.
    """
    from bigram.tensor import functional as F

    logits = W[rows[:, 0]]
    for position in range(1, rows.shape[1]):
        logits = logits + W[rows[:, position]]
    return -(C * F.log_softmax(logits, dim=1)).sum() / C.sum() + reg * (W ** 2).mean()


def per_example_loss(W, xs, ys, reg):
    """The lecture's loss: cross_entropy(one_hot(xs) @ W, ys) + reg * (W**2).mean()."""
    from bigram.tensor import functional as F

    logits = F.one_hot(xs, num_classes=W.shape[0]).float() @ W
    return F.cross_entropy(logits, ys) + reg * (W ** 2).mean()


def _check_training_options(steps, lr, reg):
    if steps < 1:
        raise OptionError(f"--steps must be at least 1, not {steps}")
    if not math.isfinite(lr) or lr <= 0:
        raise OptionError(f"--lr must be a positive number, not {lr}")
    if not math.isfinite(reg) or reg < 0:
        raise OptionError(f"--reg must be a finite number >= 0, not {reg}")


MODEL_KINDS = {cls.kind: cls for cls in (CountModel, NeuralModel)}
