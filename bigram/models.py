"""The two bigram models behind one interface: counting, and a one-layer neural net.

Both end as a row-stochastic float32 matrix `P` over the vocabulary, row i
being P(next token | previous token i); evaluation, scoring and sampling only
ever read `P` (through `LanguageModel`), so the CLI never asks which kind it
holds. Contexts are token sequences of length `order - 1`; for bigrams that is
one token, and `P`'s row index is the context.
"""

import math

import numpy as np

from .errors import OptionError, TrainingDiverged


class LanguageModel:
    """What every model offers: next-token probabilities, likelihoods, sampling."""

    kind = "base"
    order = 2

    def __init__(self, vocabulary, probabilities):
        self.vocabulary = vocabulary
        self.probabilities = np.asarray(probabilities, dtype=np.float32)

    # -- probabilities

    def next_token_probabilities(self, contexts):
        """P(next | context) rows (float32) for an array of contexts of shape (..., order-1)."""
        contexts = np.asarray(contexts, dtype=np.int64)
        return self.probabilities[contexts[..., -1]]

    def log_probabilities(self):
        """Natural log of P, float64, with -inf where a probability is zero."""
        with np.errstate(divide="ignore"):
            return np.log(self.probabilities.astype(np.float64))

    def log_likelihood(self, counts):
        """Total log-likelihood of a batch given as bigram counts, and its token count.

        A bigram the model gives probability zero makes the total -inf: an
        honest infinite loss, never a crash or a silently finite number.
        """
        counts = np.asarray(counts)
        seen = counts > 0
        total = float((counts[seen] * self.log_probabilities()[seen]).sum())
        return total, int(counts.sum())

    def bigram_log_probs(self, tokens):
        """Probability and natural log-probability of each consecutive pair of `tokens`."""
        tokens = np.asarray(tokens, dtype=np.int64)
        probs = self.probabilities[tokens[:-1], tokens[1:]]
        with np.errstate(divide="ignore"):
            return probs, np.log(probs.astype(np.float64))

    # -- persistence

    def hyperparameters(self):
        """The settings that made this model (stored in the model file)."""
        return {}

    def arrays(self):
        """The arrays that define this model (stored in the model file)."""
        return {"probabilities": self.probabilities}


class CountModel(LanguageModel):
    """Smoothed bigram counts; add-k is P = (N + k) / (N + k).sum(1, keepdim=True).

    `smoothing.py` holds the methods (add-k, Witten-Bell, Kneser-Ney) and their formulas.
    """

    kind = "counts"

    def __init__(self, vocabulary, counts, smoothing=None, method="add-k", probabilities=None):
        from .smoothing import default_parameter, smooth

        self.counts = np.asarray(counts, dtype=np.int64)
        self.method = method
        if probabilities is None:
            smoothed = smooth(self.counts, method, smoothing)
            probabilities, smoothing = smoothed.probabilities, smoothed.parameter
        elif smoothing is None:
            smoothing = default_parameter(method)
        self.smoothing = float(smoothing)
        super().__init__(vocabulary, probabilities)

    @classmethod
    def fit(cls, vocabulary, counts, smoothing=None, method="add-k"):
        """The count model of training counts."""
        return cls(vocabulary, counts, smoothing, method)

    def backoff(self):
        """The back-off form of the smoothed distribution (see smoothing.Smoothed)."""
        from .smoothing import smooth

        return smooth(self.counts, self.method, self.smoothing)

    def hyperparameters(self):
        return {"smoothing": self.smoothing, "smoothing_method": self.method}

    def describe(self):
        """The settings in words, for summaries."""
        name = {"add-k": "add-k, k", "witten-bell": "Witten-Bell, multiplier",
                "kneser-ney": "Kneser-Ney, discount"}[self.method]
        return f"smoothing: {name} {self.smoothing:.4g}"

    def arrays(self):
        return {"probabilities": self.probabilities, "counts": self.counts}


class NeuralModel(LanguageModel):
    """One linear layer: logits = one_hot(x) @ W, trained by full-batch gradient descent."""

    kind = "neural"

    def __init__(self, vocabulary, weights, steps, lr, reg, seed, losses=(), probabilities=None):
        self.weights = np.asarray(weights, dtype=np.float32)
        self.steps, self.lr, self.reg, self.seed = int(steps), float(lr), float(reg), int(seed)
        self.losses = [float(x) for x in losses]
        if probabilities is None:
            from . import tensor as torch

            probabilities = torch.tensor(self.weights).softmax(1).numpy()
        super().__init__(vocabulary, probabilities)

    @classmethod
    def fit(cls, vocabulary, counts, steps=100, lr=50.0, reg=0.01, seed=2147483647,
            on_step=None):
        """Train W by gradient descent through the engine's autograd.

        The loss over the data, mean cross-entropy of next tokens, depends on
        the data only through the bigram counts N, so each step evaluates
        -sum(N * log_softmax(W)) / sum(N) on the V x V matrix instead of the
        228,146 one-hot rows; `per_example_loss` is the lecture's form, and the
        tests show the two give the same loss and gradient.
        """
        _check_training_options(steps, lr, reg)
        from . import tensor as torch

        generator = torch.Generator().manual_seed(seed)
        V = len(vocabulary)
        W = torch.randn((V, V), generator=generator, requires_grad=True)
        N = torch.tensor(np.asarray(counts)).float()
        losses = []
        with np.errstate(over="ignore", invalid="ignore"):
            cls._descend(W, N, steps, lr, reg, losses, on_step)
        return cls(vocabulary, W.detach().numpy().copy(), steps, lr, reg, seed, losses)

    @staticmethod
    def _descend(W, N, steps, lr, reg, losses, on_step):
        for step in range(steps + 1):
            loss = counts_loss(W, N, reg)
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"training diverged at step {step} (loss {value}); try a smaller --lr "
                    f"than {lr:g}")
            losses.append(value)
            if on_step is not None:
                on_step(step, value)
            if step == steps:
                break
            W.grad = None
            loss.backward()
            W.data += -lr * W.grad

    def backoff(self):
        """Every bigram listed explicitly: a softmax gives no probability a shared form."""
        from .smoothing import Smoothed

        size = len(self.vocabulary)
        return Smoothed(self.probabilities, np.full(size, 1.0 / size), np.ones(size),
                        np.ones((size, size), dtype=bool), 0.0)

    def hyperparameters(self):
        return {"steps": self.steps, "lr": self.lr, "reg": self.reg, "seed": self.seed}

    def describe(self):
        """The settings in words, for summaries."""
        return f"steps {self.steps}, lr {self.lr:g}, reg {self.reg:g}, seed {self.seed}"

    def arrays(self):
        return {"probabilities": self.probabilities, "weights": self.weights,
                "losses": np.asarray(self.losses, dtype=np.float64)}


def counts_loss(W, N, reg):
    """Mean next-token cross-entropy of data with bigram counts N, plus L2 on W."""
    from .tensor import functional as F

    return -(N * F.log_softmax(W, dim=1)).sum() / N.sum() + reg * (W ** 2).mean()


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