"""Smoothing n-gram counts into probabilities: add-k, interpolated Witten-Bell, interpolated
Kneser-Ney, for any order. Every method has the interpolated form

    P_n(w|h) = explicit_n(h, w) + lambda_n(h) * P_{n-1}(w|h')        (h' = h minus its oldest token)

over the seen contexts h of each order n, with P_1 a distribution over the predicted
tokens; a context never seen falls through to the order below (lambda = 1, nothing
explicit). That is also exactly the back-off form an ARPA file stores.

Notation at one order: c(h, w) the counts used there, c(h) = sum_w c(h, w),
T(h) = #{w : c(h, w) > 0}, V = number of predicted tokens.

add-k        only the top order: explicit = c(h, w) / (c(h) + k V), lambda = k V / (c(h) + k V),
             below it the uniform 1 / V; so P(w|h) = (c(h, w) + k) / (c(h) + k V).
witten-bell  every order, with maximum-likelihood counts of that order:
             explicit = c(h, w) / (c(h) + k T(h)), lambda = k T(h) / (c(h) + k T(h));
             P_1 = unigram frequencies. k = 1 is Witten-Bell proper (Witten and Bell 1991).
kneser-ney   explicit = max(c(h, w) - D, 0) / c(h), lambda = D T(h) / c(h), where the top
             order uses raw counts and every lower order continuation counts
             c(h', w) = #{v : v h' w was seen} (Kneser and Ney 1995; Chen and Goodman 1998),
             and P_1(w) = #{v : v w seen} / #{bigram types}. Each order's discount is
             D = n1 / (n1 + 2 n2) from its count-of-counts n_r = #{(h, w) : c(h, w) = r};
             when n1 or n2 is zero, as happens with character data, D = 0.75.
             --smoothing D sets one discount for every order (0 <= D <= 1).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import OptionError
from .ngrams import find_keys

METHODS = ("add-k", "witten-bell", "kneser-ney")
DEFAULT_DISCOUNT = 0.75


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
    counts = np.asarray(counts)
    n1 = int((counts == 1).sum())
    n2 = int((counts == 2).sum())
    if n1 == 0 or n2 == 0:
        return DEFAULT_DISCOUNT
    return n1 / (n1 + 2 * n2)


@dataclass
class Level:
    """One order n > 1: per seen context, explicit probabilities of its next tokens and lambda."""

    order: int
    contexts: np.ndarray      # (M,) sorted context keys (n - 1 tokens)
    indptr: np.ndarray        # (M + 1,)
    next: np.ndarray          # (E,)
    explicit: np.ndarray      # (E,) float64
    weight: np.ndarray        # (M,) float64 lambda(h)

    def find(self, keys):
        """Index of each key among the contexts, and whether it was seen."""
        return find_keys(self.contexts, keys)


@dataclass
class Interpolated:
    """An interpolated n-gram distribution: P_1 and the levels above it."""

    order: int
    size: int
    method: str
    parameter: float | None           # k, the multiplier, or the discount override
    base: np.ndarray                  # (V,) P_1
    levels: list                      # Level objects, ascending order (add-k: the top only)
    discounts: dict = field(default_factory=dict)   # Kneser-Ney: the D used at each order

    def rows(self, keys, order=None):
        """P_order(. | h) for contexts h given as keys of order-1 tokens, float64 (B, V)."""
        order = self.order if order is None else order
        keys = np.asarray(keys, dtype=np.int64)
        probabilities = np.tile(self.base, (len(keys), 1))
        for level in self.levels:
            if level.order > order:
                break
            suffix = keys % (self.size ** (level.order - 1))
            index, seen = level.find(suffix)
            rows = np.flatnonzero(seen)
            if not len(rows):
                continue
            index = index[rows]
            probabilities[rows] *= level.weight[index][:, None]
            lengths = level.indptr[index + 1] - level.indptr[index]
            entries = np.repeat(level.indptr[index] - np.cumsum(lengths) + lengths, lengths) + \
                np.arange(lengths.sum())
            probabilities[np.repeat(rows, lengths), level.next[entries]] += \
                level.explicit[entries]
        return probabilities

    def level(self, order):
        """The Level of an order, or None (add-k has no intermediate levels)."""
        return next((lv for lv in self.levels if lv.order == order), None)

    def arrays(self):
        """The distribution as named arrays, for a model file."""
        out = {"base": self.base}
        for lv in self.levels:
            prefix = f"level{lv.order}_"
            out.update({prefix + "contexts": lv.contexts, prefix + "indptr": lv.indptr,
                        prefix + "next": lv.next, prefix + "explicit": lv.explicit,
                        prefix + "weight": lv.weight})
        return out


def _interpolate_level(table, explicit, weight):
    return Level(table.order, table.contexts, table.indptr, table.next, explicit, weight)


def raw_tables(top):
    """Maximum-likelihood tables of every order from the top one, by shortening contexts."""
    tables = {top.order: top}
    for order in range(top.order - 1, 1, -1):
        tables[order] = tables[order + 1].lower()
    return tables


def smooth_ngrams(top, method="add-k", parameter=None):
    """The interpolated distribution of a top-order count table by `method`."""
    check(method, parameter)
    strength = default_parameter(method) if parameter is None else float(parameter)
    size, order = top.size, top.order
    if method == "add-k":
        c = top.totals().astype(np.float64)
        denominator = c + strength * size
        with np.errstate(divide="ignore", invalid="ignore"):
            explicit = top.count / np.repeat(denominator, top.types())
            weight = strength * size / denominator
        level = _interpolate_level(top, explicit, weight)
        return Interpolated(order, size, method, strength, np.full(size, 1.0 / size), [level])
    tables = raw_tables(top)
    if method == "witten-bell":
        unigram = tables[2].lower()
        base = np.bincount(unigram.next, weights=unigram.count, minlength=size)
        levels = []
        for n in range(2, order + 1):
            table = tables[n]
            c = table.totals().astype(np.float64)
            mass = strength * table.types()
            denominator = c + mass
            explicit = table.count / np.repeat(denominator, table.types())
            levels.append(_interpolate_level(table, explicit, mass / denominator))
        return Interpolated(order, size, method, strength, base / base.sum(), levels)
    # Kneser-Ney: raw counts at the top, continuation counts below.
    used = {order: top}
    for n in range(order - 1, 1, -1):
        used[n] = tables[n + 1].continuation()
    first = tables[2].continuation()
    base = np.bincount(first.next, weights=first.count, minlength=size).astype(np.float64)
    levels, discounts = [], {}
    for n in range(2, order + 1):
        table = used[n]
        discount = estimated_discount(table.count) if parameter is None else strength
        discounts[n] = discount
        c = table.totals().astype(np.float64)
        explicit = np.maximum(table.count - discount, 0) / np.repeat(c, table.types())
        levels.append(_interpolate_level(table, explicit, discount * table.types() / c))
    return Interpolated(order, size, method, parameter, base / base.sum(), levels, discounts)


# ---------------------------------------------------------------------- bigrams, dense



def add_k_matrix(counts, k):
    """(N + k) / (N + k).sum(1, keepdim=True) through the engine, as the lecture computes it."""
    from . import tensor as torch

    N = torch.tensor(np.asarray(counts)).float()
    smoothed = N + k
    totals = smoothed.sum(1, keepdim=True)
    if (totals == 0).any():
        row = int(np.flatnonzero(totals.numpy()[:, 0] == 0)[0])
        raise OptionError(f"row {row} of the counts is empty and --smoothing is 0, so its "
                          "probabilities are undefined; use a smoothing above 0")
    return (smoothed / totals).numpy()


def bigram_matrix(distribution):
    """The V x V matrix of an order-2 distribution (add-k exactly as the lecture's)."""
    size = distribution.size
    return distribution.rows(np.arange(size)).astype(np.float32)
