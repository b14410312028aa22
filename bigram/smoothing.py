"""Smoothing bigram counts into probabilities: add-k, interpolated Witten-Bell, interpolated
Kneser-Ney. Every method is an interpolation of the counts with a lower-order distribution
`lower(w)`, so each also yields its exact back-off form (what an ARPA file stores).

Notation: N[h, w] bigram counts, c(h) = sum_w N[h, w], T(h) = #{w : N[h, w] > 0},
V = number of predicted tokens (the characters and the end boundary).

add-k        P(w|h) = (N[h, w] + k) / (c(h) + k V)
             lower(w) = 1 / V,  lambda(h) = k V / (c(h) + k V)
witten-bell  P(w|h) = (N[h, w] + k T(h) p1(w)) / (c(h) + k T(h)),  p1(w) = N[., w] / N[., .]
             lower = p1,  lambda(h) = k T(h) / (c(h) + k T(h));  k = 1 is Witten-Bell proper
kneser-ney   P(w|h) = max(N[h, w] - D, 0) / c(h) + D T(h) / c(h) * p_cont(w)
             p_cont(w) = #{h : N[h, w] > 0} / #{(h, w) : N[h, w] > 0}
             lower = p_cont,  lambda(h) = D T(h) / c(h)
             D = n1 / (n1 + 2 n2) from the count-of-counts n_r = #{(h, w) : N[h, w] = r}
             (Ney, Essen and Kneser 1994); when n1 or n2 is zero, as happens with
             character data, D falls back to 0.75.

For every method and every history: P(w|h) = lambda(h) lower(w) wherever N[h, w] = 0, and
rows sum to one. A history never seen (c(h) = 0) gets P(w|h) = lower(w).
"""

import math
from dataclasses import dataclass

import numpy as np

from .errors import OptionError

METHODS = ("add-k", "witten-bell", "kneser-ney")
DEFAULT_DISCOUNT = 0.75


@dataclass
class Smoothed:
    """Probabilities, and their back-off form: P(w|h) = weights[h] * lower[w] where unlisted."""

    probabilities: np.ndarray   # (V, V) float32, rows are histories
    lower: np.ndarray           # (V,) float64 lower-order distribution over predicted tokens
    weights: np.ndarray         # (V,) float64 back-off weight lambda(h) of each history
    listed: np.ndarray          # (V, V) bool: bigrams whose probability is stated explicitly
    parameter: float            # k, the Witten-Bell multiplier, or the discount D used


def default_parameter(method):
    """The strength used when --smoothing is not given (None: estimated from the counts)."""
    return {"add-k": 1.0, "witten-bell": 1.0, "kneser-ney": None}[method]


def check(method, parameter):
    """Reject unknown methods and out-of-range strengths before any data is read."""
    if method not in METHODS:
        raise OptionError(f"unknown --smoothing-method {method!r}: choose "
                          f"{', '.join(METHODS)}")
    if parameter is None:
        return
    if not math.isfinite(parameter) or parameter < 0:
        raise OptionError(f"--smoothing must be a finite number >= 0, not {parameter}")
    if method == "kneser-ney" and parameter > 1:
        raise OptionError(f"--smoothing for kneser-ney is the discount D, which must lie in "
                          f"[0, 1], not {parameter}")


def estimated_discount(counts):
    """D = n1 / (n1 + 2 n2), or DEFAULT_DISCOUNT when a count-of-count is zero."""
    n1 = int((counts == 1).sum())
    n2 = int((counts == 2).sum())
    if n1 == 0 or n2 == 0:
        return DEFAULT_DISCOUNT
    return n1 / (n1 + 2 * n2)


def smooth(counts, method="add-k", parameter=None):
    """The smoothed bigram distribution of `counts` by `method` with strength `parameter`."""
    check(method, parameter)
    if parameter is None:
        parameter = default_parameter(method)
    counts = np.asarray(counts, dtype=np.int64)
    if method == "add-k":
        return _add_k(counts, float(parameter))
    if method == "witten-bell":
        return _witten_bell(counts, float(parameter))
    discount = estimated_discount(counts) if parameter is None else float(parameter)
    return _kneser_ney(counts, discount)


def _add_k(counts, k):
    """Through the engine's keepdim broadcasting, exactly as the lecture normalises."""
    from . import tensor as torch

    N = torch.tensor(counts).float()
    smoothed = N + k
    totals = smoothed.sum(1, keepdim=True)
    if (totals == 0).any():
        row = int(np.flatnonzero(totals.numpy()[:, 0] == 0)[0])
        raise OptionError(f"row {row} of the counts is empty and --smoothing is 0, so its "
                          "probabilities are undefined; use a smoothing above 0")
    probabilities = (smoothed / totals).numpy()
    size = counts.shape[1]
    c = counts.sum(1).astype(np.float64)
    lower = np.full(size, 1.0 / size)
    weights = k * size / (c + k * size)
    return Smoothed(probabilities, lower, weights, counts > 0, k)


def _witten_bell(counts, k):
    c = counts.sum(1).astype(np.float64)
    types = (counts > 0).sum(1).astype(np.float64)
    lower = counts.sum(0) / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(c > 0, k * types / (c + k * types), 1.0)
        # (N + k T p1) / (c + k T) = N / (c + k T) + lambda p1: the explicit part's divisor
        # is c + k T, not c, so scale the counts accordingly.
        explicit = np.where(c[:, None] > 0, counts / (c + k * types)[:, None], 0.0)
    probabilities = explicit + weights[:, None] * lower[None, :]
    return Smoothed(probabilities.astype(np.float32), lower, weights, counts > 0, k)


def _kneser_ney(counts, discount):
    c = counts.sum(1).astype(np.float64)
    types = (counts > 0).sum(1).astype(np.float64)
    continuation = (counts > 0).sum(0).astype(np.float64)
    lower = continuation / continuation.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(c > 0, discount * types / c, 1.0)
        explicit = np.where(c[:, None] > 0, np.maximum(counts - discount, 0) / c[:, None], 0.0)
    probabilities = explicit + weights[:, None] * lower[None, :]
    return Smoothed(probabilities.astype(np.float32), lower, weights, counts > 0, discount)
