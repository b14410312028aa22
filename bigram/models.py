"""The models behind one interface: smoothed counts, and a one-layer neural net, of any order.

A model of order N predicts the next token from the previous N-1 (the context,
one integer key: see ngrams.py). Every model answers `next_token_probabilities`
for any contexts, as float32 rows over the vocabulary; evaluation, scoring,
sampling and export only ever ask that (and, for bigrams, read the V x V matrix
`probabilities`, row i being P(next | previous token i)), so the CLI never asks
which kind it holds.
"""

import math

import numpy as np

from .errors import OptionError, TrainingDiverged
from .ngrams import NgramTable, split_key


class LanguageModel:
    """What every model offers: next-token probabilities, likelihoods, settings, arrays."""

    kind = "base"

    def __init__(self, vocabulary, order):
        self.vocabulary = vocabulary
        self.order = int(order)

    @property
    def size(self):
        """Vocabulary size V."""
        return len(self.vocabulary)

    def next_token_probabilities(self, keys):
        """P(next | context) as float32 rows (B, V) for context keys of order-1 tokens."""
        raise NotImplementedError

    def log_likelihood(self, table):
        """Total natural log-likelihood of the n-grams in `table` (an NgramTable of this
        order, or for bigrams a V x V count matrix), and the number of tokens predicted.

        A token the model gives probability zero makes the total -inf: an honest
        infinite loss, never a crash or a silently finite number.
        """
        if isinstance(table, np.ndarray):
            table = NgramTable.from_dense(table)
        if not len(table):
            return 0.0, 0
        rows = self.next_token_probabilities(table.contexts)
        owner = np.repeat(np.arange(len(table.contexts)), np.diff(table.indptr))
        probabilities = rows[owner, table.next].astype(np.float64)
        with np.errstate(divide="ignore"):
            total = float((table.count * np.log(probabilities)).sum())
        return total, int(table.count.sum())

    def hyperparameters(self):
        """The settings that made this model (stored in the model file)."""
        return {}

    def describe(self):
        """The settings in words, for summaries."""
        return ""

    def arrays(self):
        """The arrays that define this model (stored in the model file)."""
        raise NotImplementedError


class CountModel(LanguageModel):
    """Smoothed n-gram counts; for bigrams with add-k, P = (N + k) / (N + k).sum(1, keepdim=True).

    `counts` is the training NgramTable (a V x V matrix is accepted for bigrams);
    smoothing.py holds the methods (add-k, Witten-Bell, Kneser-Ney) and formulas.
    """

    kind = "counts"

    def __init__(self, vocabulary, counts, smoothing=None, method="add-k", probabilities=None):
        from .smoothing import add_k_matrix, bigram_matrix, check, default_parameter

        if isinstance(counts, np.ndarray):
            counts = NgramTable.from_dense(np.asarray(counts, dtype=np.int64))
        super().__init__(vocabulary, counts.order)
        self.counts = counts
        self.method = method
        self._distribution = None
        if smoothing is None and method != "kneser-ney":
            smoothing = default_parameter(method)
        self.smoothing = None if smoothing is None else float(smoothing)
        check(method, self.smoothing)
        self.probabilities = None
        if self.order == 2:
            if probabilities is None:
                probabilities = (add_k_matrix(counts.dense(), self.smoothing)
                                 if method == "add-k" else bigram_matrix(self.distribution))
            self.probabilities = np.asarray(probabilities, dtype=np.float32)

    @property
    def distribution(self):
        """The interpolated distribution (smoothing.Interpolated), computed on first use."""
        if self._distribution is None:
            from .smoothing import smooth_ngrams

            self._distribution = smooth_ngrams(self.counts, self.method, self.smoothing)
        return self._distribution

    @classmethod
    def fit(cls, vocabulary, counts, smoothing=None, method="add-k"):
        """The count model of training counts."""
        return cls(vocabulary, counts, smoothing, method)

    def next_token_probabilities(self, keys):
        keys = np.asarray(keys, dtype=np.int64)
        if self.probabilities is not None:
            return self.probabilities[keys]
        return self.distribution.rows(keys).astype(np.float32)

    def hyperparameters(self):
        return {"smoothing": self.smoothing, "smoothing_method": self.method}

    def describe(self):
        name = {"add-k": "add-k, k", "witten-bell": "Witten-Bell, multiplier",
                "kneser-ney": "Kneser-Ney, discount"}[self.method]
        if self.method == "kneser-ney" and self.smoothing is None:
            used = ", ".join(f"{d:.3g}" for d in self.distribution.discounts.values())
            return f"smoothing: {name}s {used} (estimated)"
        return f"smoothing: {name} {self.smoothing:.4g}"

    def arrays(self):
        out = self.counts.arrays("counts_")
        if self.probabilities is not None:
            out["probabilities"] = self.probabilities
        return out


class NeuralModel(LanguageModel):
    """One linear layer on the one-hot encodings of the context: logits = onehot(x) @ W.

    For order N the input is the N-1 one-hot vectors side by side, so W has
    (N-1) V rows and the logits are the sum of one row of W per context
    position: exactly `one_hot(xs) @ W` for bigrams.
    """

    kind = "neural"

    def __init__(self, vocabulary, weights, steps, lr, reg, seed, losses=(), probabilities=None,
                 order=2):
        super().__init__(vocabulary, order)
        self.weights = np.asarray(weights, dtype=np.float32)
        self.steps, self.lr, self.reg, self.seed = int(steps), float(lr), float(reg), int(seed)
        self.losses = [float(x) for x in losses]
        self.probabilities = None
        if self.order == 2:
            if probabilities is None:
                from . import tensor as torch

                probabilities = torch.tensor(self.weights).softmax(1).numpy()
            self.probabilities = np.asarray(probabilities, dtype=np.float32)

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
        from . import tensor as torch

        if isinstance(counts, np.ndarray):
            counts = NgramTable.from_dense(np.asarray(counts, dtype=np.int64))
        order, size = counts.order, len(vocabulary)
        generator = torch.Generator().manual_seed(seed)
        W = torch.randn(((order - 1) * size, size), generator=generator, requires_grad=True)
        rows = _input_rows(counts.contexts, order, size)
        dense = np.zeros((len(counts.contexts), size), dtype=np.float32)
        dense[np.repeat(np.arange(len(counts.contexts)), np.diff(counts.indptr)),
              counts.next] = counts.count
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

    def next_token_probabilities(self, keys):
        keys = np.asarray(keys, dtype=np.int64)
        if self.probabilities is not None:
            return self.probabilities[keys]
        logits = self.weights[_input_rows(keys, self.order, self.size)].sum(axis=1,
                                                                            dtype=np.float32)
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)

    def hyperparameters(self):
        return {"steps": self.steps, "lr": self.lr, "reg": self.reg, "seed": self.seed}

    def describe(self):
        return f"steps {self.steps}, lr {self.lr:g}, reg {self.reg:g}, seed {self.seed}"

    def arrays(self):
        out = {"weights": self.weights, "losses": np.asarray(self.losses, dtype=np.float64)}
        if self.probabilities is not None:
            out["probabilities"] = self.probabilities
        return out


def _input_rows(keys, order, size):
    """Rows of W each context selects: position p's token t is row p * V + t."""
    tokens = split_key(np.asarray(keys, dtype=np.int64), order, size)
    return tokens + size * np.arange(order - 1)


def counts_loss(W, rows, C, reg):
    """Mean next-token cross-entropy of data with context counts C, plus L2 on W.

    `rows` (contexts x positions) are the rows of W each context selects; their
    sum is the context's logits, which is one_hot(contexts) @ W.
    """
    from .tensor import functional as F

    logits = W[rows[:, 0]]
    for position in range(1, rows.shape[1]):
        logits = logits + W[rows[:, position]]
    return -(C * F.log_softmax(logits, dim=1)).sum() / C.sum() + reg * (W ** 2).mean()


def per_example_loss(W, xs, ys, reg):
    """The lecture's loss: cross_entropy(one_hot(xs) @ W, ys) + reg * (W**2).mean()."""
    from .tensor import functional as F

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
