"""Smoothing counts into probabilities: add-k, interpolated Witten-Bell, interpolated
Kneser-Ney, for any order, over the windows of an NgramIndex. Every method has the
interpolated form

    P_n(w|h) = explicit_n(h, w) + lambda_n(h) * P_{n-1}(w|h')        (h' = h minus its oldest token)

over the contexts h of each order n, with P_1 a distribution over the tokens; a context
never seen falls through to the order below (lambda = 1, nothing explicit). Each
estimator returns that as the back-off form an ARPA file stores: for every window (h, w)
of the index, P_n(w|h), and for every window as a context, lambda_{n+1}. Rows the index
holds without counts get their exact interpolated value too.

Notation at one order: c(h, w) the counts used there, c(h) = sum_w c(h, w),
T(h) = #{w : c(h, w) > 0}, V = number of tokens.

add-k        only the top order: P(w|h) = (c(h, w) + k) / (c(h) + k V), in float32 as the
             lecture computes `(N + k) / (N + k).sum(1, keepdim=True)`; below it 1 / V.
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

from bigram.errors import OptionError
from bigram.limits import MAX_SMOOTHING

METHODS = ("add-k", "witten-bell", "kneser-ney", "modified-kneser-ney")
CHUNK = 1 << 20
DEFAULT_DISCOUNT = 0.75


def default_parameter(method):
    """The strength used when --smoothing is not given (None: estimated from the counts)."""
    return {"add-k": 1.0, "witten-bell": 1.0}.get(method)


def check(method, parameter):
    """Reject unknown methods and out-of-range strengths before any data is read."""
    if method not in METHODS:
        raise OptionError(f"unknown --smoothing-method {method!r}: choose "
                          f"{', '.join(METHODS)}")
    if parameter is None:
        return
    if not math.isfinite(parameter) or parameter < 0:
        raise OptionError(f"--smoothing must be a finite number >= 0, not {parameter}")
    if parameter > MAX_SMOOTHING:
        raise OptionError(f"--smoothing must be at most {MAX_SMOOTHING:g} (beyond, float32 sums "
                          f"overflow), not {parameter}")
    if method == "kneser-ney" and parameter > 1:
        raise OptionError(f"--smoothing for kneser-ney is the discount D, which must lie in "
                          f"[0, 1], not {parameter}")
    if method == "modified-kneser-ney":
        raise OptionError("modified-kneser-ney estimates its three discounts per order from "
                          "the counts; set them with --discounts, not --smoothing")


def estimated_discount(counts):
    """D = n1 / (n1 + 2 n2), or DEFAULT_DISCOUNT when a count-of-count is zero."""
    counts = np.asarray(counts)
    n1 = int((counts == 1).sum())
    n2 = int((counts == 2).sum())
    if n1 == 0 or n2 == 0:
        return DEFAULT_DISCOUNT
    return n1 / (n1 + 2 * n2)


@dataclass
class Estimate:
    """A model in back-off form over an index: P_n(w|h) of every window, lambda of every
    window as a context (1 where it has none)."""

    prob: list                      # prob[k]: (rows of level k,) float64; prob[0] unused
    backoff: list                   # backoff[k]: lambda_{k+1} of each level-k row
    discounts: dict = field(default_factory=dict)   # Kneser-Ney: the D used at each order


def context_sums(index, k, values):
    """For every row of level k-1, the sum of `values` over its next tokens at level k."""
    return np.bincount(index.parent(k), weights=values, minlength=len(index.level(k - 1)))


def _interpolate(index, base, level_parts):
    """P_k of every row, bottom up, from P_1 and, per order k, (explicit_k, lambda_k, the
    rows' parents) as `level_parts(k)` computes them (one order at a time, so only one is
    in memory; the explicit array becomes P_k in place)."""
    prob = [None, base]
    backoff = [None]
    for k in range(2, index.order + 1):
        p, weight, parent = level_parts(k)
        suffix = index.level(k).suffix
        # In slices of a million windows: no temporary the size of the level.
        for start in range(0, len(p), CHUNK):
            end = start + CHUNK
            lower = prob[k - 1][suffix[start:end]]
            lower *= weight[parent[start:end]]
            p[start:end] += lower
        del parent
        prob.append(p)
        backoff.append(weight)
    backoff.append(_constant(1.0, len(index.level(index.order))))
    return prob, backoff


def _constant(value, length):
    """A read-only array of one value that takes no memory (the top order's back-offs)."""
    return np.broadcast_to(np.float64(value), (length,))


def _fractions(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1),
                        0.0)


def _weights_in_place(mass, totals):
    """lambda = mass / total per context, in place in `mass` (1 where a context has no total:
    it falls through to the order below)."""
    np.divide(mass, totals, out=mass, where=totals > 0)
    mass[totals <= 0] = 1.0
    return mass


def _divide_in_place(values, parent, totals):
    """values / totals[parent], in place (0 where the total is 0)."""
    denominator = totals[parent]
    np.divide(values, denominator, out=values, where=denominator > 0)
    values[denominator <= 0] = 0.0
    return values


def estimate(index, method="add-k", parameter=None):
    """The back-off form of `index`'s counts smoothed by `method`."""
    check(method, parameter)
    strength = default_parameter(method) if parameter is None else float(parameter)
    if method == "add-k":
        return _add_k(index, strength)
    order, size = index.order, index.size
    discounts = {}
    if method == "witten-bell":
        base = index.level(1).count.astype(np.float64)
        base = base / base.sum() if base.sum() else np.full(size, 1.0 / size)

        def level_parts(k):
            c = index.level(k).count.astype(np.float64)
            parent = index.parent(k)
            contexts = len(index.level(k - 1))
            totals = np.bincount(parent, weights=c, minlength=contexts)
            mass = strength * np.bincount(parent[c > 0], minlength=contexts)
            totals += mass
            explicit = _divide_in_place(c, parent, totals)
            return explicit, _weights_in_place(mass, totals), parent
    else:   # kneser-ney: raw counts at the top, continuation counts below
        def used(k):
            if k == order:
                return index.level(order).count.astype(np.float64)
            above = index.level(k + 1)
            return np.bincount(above.suffix[above.count > 0],
                               minlength=len(index.level(k))).astype(np.float64)

        first = used(1)
        base = first / first.sum() if first.sum() else np.full(size, 1.0 / size)

        def level_parts(k):
            c = used(k)
            discount = estimated_discount(c[c > 0]) if parameter is None else strength
            discounts[k] = discount
            parent = index.parent(k)
            contexts = len(index.level(k - 1))
            totals = np.bincount(parent, weights=c, minlength=contexts)
            positive = c > 0
            types = np.bincount(parent if positive.all() else parent[positive],
                                minlength=contexts).astype(np.float64)
            del positive
            c -= discount
            np.maximum(c, 0, out=c)
            explicit = _divide_in_place(c, parent, totals)
            types *= discount
            return explicit, _weights_in_place(types, totals), parent
    prob, backoff = _interpolate(index, base, level_parts)
    return Estimate(prob, backoff, discounts)


def _add_k(index, k):
    """(c + k) / (c(h) + k V) at the top order, in float32 as the lecture normalises rows;
    the back-off weight of a context makes lambda * (1 / V) the same float32 value."""
    order, size = index.order, index.size
    top = index.level(order)
    totals = context_sums(index, order, top.count.astype(np.float64))
    denominator = (totals + k * size).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        listed = (top.count + np.float32(k)).astype(np.float32) / denominator[index.parent(order)]
        unseen = np.float32(k) / denominator
    # A context never followed by anything (c(h) = 0, k = 0) has no distribution of its
    # own: it falls through to the uniform one, like an unseen context.
    lam = np.where(totals > 0, unseen.astype(np.float64) * size, 1.0)
    prob = [None] + [np.full(len(index.level(n)), 1.0 / size) for n in range(1, order)]
    prob.append(np.where(totals[index.parent(order)] > 0, listed.astype(np.float64), 1.0 / size))
    backoff = [None] + [np.ones(len(index.level(n))) for n in range(1, order - 1)]
    backoff += [lam, _constant(1.0, len(top))]
    return Estimate(prob, backoff)
