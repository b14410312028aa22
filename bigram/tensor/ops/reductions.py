"""Reductions: sum, mean, max/min (with indices), argmax/argmin, var, cumsum, topk.

A keepdim reduction's backward is the tinygrad rule: reshape the gradient to
the kept shape, then broadcast it back over the reduced axes.
"""

import contextlib
import math
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..autograd import Function, unbroadcast
from ..tensor import Tensor, _normalize_dim


def reduced_axes(dim, ndim):
    """`dim` (None, an int, or a sequence) as a sorted tuple of non-negative axes."""
    if ndim == 0:
        _normalize_dim(0 if dim is None or isinstance(dim, (tuple, list)) else int(dim), 0)
        return ()  # torch lets a 0-dim tensor be reduced over dim 0 or -1: a no-op
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        axes = tuple(sorted({_normalize_dim(int(d), ndim) for d in dim}))
        return axes if axes else tuple(range(ndim))
    return (_normalize_dim(int(dim), ndim),)


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _spread(g, shape, axes, keepdim):
    """The gradient of a reduction, broadcast back over the reduced axes."""
    if not keepdim:
        g = g.reshape(_kept_shape(shape, axes))
    return np.broadcast_to(g, shape)


class Sum(Function):
    name = "SumBackward1"

    def forward(self, a, axes, keepdim, dtype):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        return np.asarray(np.sum(a, axis=axes, keepdims=keepdim, dtype=dtype))

    def backward(self, g):
        return _spread(g, self.shape, self.axes, self.keepdim)


class SumAll(Sum):
    name = "SumBackward0"


class Mean(Function):
    name = "MeanBackward1"

    def forward(self, a, axes, keepdim, dtype):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        self.count = math.prod([a.shape[i] for i in axes])
        # np.mean's own arithmetic (a pairwise sum, then one division), minus its wrapper.
        total = np.add.reduce(a, axis=axes, keepdims=keepdim, dtype=dtype)
        if self.count:
            return np.asarray(total / self.count)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(total / self.count)  # the mean of nothing: nan, as torch

    def backward(self, g):
        return _spread(g / g.dtype.type(self.count), self.shape, self.axes, self.keepdim)


class MeanAll(Mean):
    name = "MeanBackward0"


def _sum_dtype(a, dtype):
    if dtype is not None:
        return dtypes.as_dtype(dtype)
    # torch sums integers and bools into int64 so counts never overflow.
    return a.dtype if a.dtype.is_floating_point else dtypes.int64


def sum(a, dim=None, keepdim=False, dtype=None):  # noqa: A001 - torch's name
    """Sum over all elements, or over `dim` (int or tuple), optionally keeping it."""
    axes = reduced_axes(dim, a.ndim)
    fn = SumAll if dim is None else Sum
    return fn.apply(a, axes=axes, keepdim=keepdim, dtype=_sum_dtype(a, dtype).numpy)


def mean(a, dim=None, keepdim=False, dtype=None):
    """Mean over all elements, or over `dim`; floating-point tensors only, as torch."""
    out = dtypes.as_dtype(dtype) if dtype is not None else a.dtype
    if not out.is_floating_point:
        word = {"int32": "Int", "int64": "Long", "bool": "Bool"}[out.name]
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either "
                           f"a floating point or complex dtype. Got: {word}")
    axes = reduced_axes(dim, a.ndim)
    fn = MeanAll if dim is None else Mean
    return fn.apply(a, axes=axes, keepdim=keepdim, dtype=out.numpy)


class Var(Function):
    """Variance with torch's correction (Bessel's n - 1 by default)."""

    name = "VarBackward0"
    saves_inputs = (0,)

    def forward(self, a, axes, keepdim, correction, root):
        count = math.prod([a.shape[i] for i in axes])
        self.divisor = a.dtype.type(max(count - correction, 0))
        self.shape, self.axes, self.keepdim, self.root = a.shape, axes, keepdim, root
        # Too few elements divide by zero, giving nan (or inf) without a warning, as torch.
        quiet = np.errstate(divide="ignore", invalid="ignore") if not self.divisor else None
        with quiet or contextlib.nullcontext():
            self.centered = a - np.add.reduce(a, axis=axes, keepdims=True) / count
            out = np.add.reduce(self.centered * self.centered, axis=axes,
                                keepdims=keepdim) / self.divisor
        if root:
            self.name = "StdBackward0"
            out = np.sqrt(out)
        self.out = np.asarray(out)
        return self.out

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = g * 2 / self.divisor if not self.root else g / (self.divisor * self.out)
        return _spread(scale, self.shape, self.axes, self.keepdim) * self.centered


def var(a, dim=None, keepdim=False, correction=1, root=False):
    """Variance (or, with root=True, standard deviation) over `dim`."""
    if not a.dtype.is_floating_point:
        raise RuntimeError("std and var only support floating point and complex dtypes")
    return Var.apply(a, axes=reduced_axes(dim, a.ndim), keepdim=keepdim,
                     correction=correction, root=root)


# ---------------------------------------------------------------------- max / min

_max_type = namedtuple("max", ["values", "indices"])
_min_type = namedtuple("min", ["values", "indices"])
_topk_type = namedtuple("topk", ["values", "indices"])


def _return_type_repr(self):
    return (f"torch.return_types.{type(self).__name__}(\nvalues={self.values!r},\n"
            f"indices={self.indices!r})")


for _type in (_max_type, _min_type, _topk_type):
    _type.__repr__ = _return_type_repr
    _type.__module__ = "torch.return_types"


class MaxMinAll(Function):
    """max()/min() of every element; ties share the gradient evenly, as in torch."""

    saves_inputs = (0,)
    saves_output = True

    def forward(self, a, kind):
        self.name = "MaxBackward1" if kind == "max" else "MinBackward1"
        if a.size == 0:
            raise RuntimeError(f"{kind}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the "
                               "'dim' argument.")
        self.a = a
        self.out = np.asarray(a.max() if kind == "max" else a.min())
        return self.out

    def backward(self, g):
        hits = self.a == self.out
        return np.where(hits, g / hits.sum(dtype=g.dtype), 0).astype(g.dtype)


class MaxMinDim(Function):
    """max(dim)/min(dim): values and indices; the gradient goes to each index."""

    def forward(self, a, axis, keepdim, kind):
        self.name = "MaxBackward0" if kind == "max" else "MinBackward0"
        if a.shape[axis] == 0:
            raise IndexError(f"{kind}(): Expected reduction dim {axis} to have non-zero size.")
        self.shape, self.axis, self.keepdim = a.shape, axis, keepdim
        find = np.argmax if kind == "max" else np.argmin
        self.indices = np.expand_dims(find(a, axis=axis), axis)
        values = np.take_along_axis(a, self.indices, axis=axis)
        if keepdim:
            return values, self.indices.astype(np.int64)
        return np.squeeze(values, axis), np.squeeze(self.indices, axis).astype(np.int64)

    def backward(self, g, _indices_grad):
        grad = np.zeros(self.shape, dtype=g.dtype)
        kept = g if self.keepdim else np.expand_dims(g, self.axis)
        np.put_along_axis(grad, self.indices, kept, axis=self.axis)
        return grad


class Maximum(Function):
    """Elementwise max/min of two tensors; ties split the gradient in half, as torch."""

    saves_inputs = (0, 1)

    def forward(self, a, b, kind, dtype):
        self.name = "MaximumBackward0" if kind == "max" else "MinimumBackward0"
        a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
        self.a, self.b = a, b
        return np.maximum(a, b) if kind == "max" else np.minimum(a, b)

    def backward(self, g):
        a_wins = (self.a > self.b) if self.name == "MaximumBackward0" else (self.a < self.b)
        tie = self.a == self.b
        share = np.where(tie, 0.5, a_wins.astype(g.dtype)).astype(g.dtype)
        return (unbroadcast(g * share, self.a.shape),
                unbroadcast(g * (np.where(tie, 0.5, 1 - share)).astype(g.dtype), self.b.shape))


def max_min(a, dim, keepdim, kind):
    """Tensor.max / Tensor.min in all three of torch's forms."""
    if isinstance(dim, Tensor):
        from .elementwise import binary_operands

        a, b, out = binary_operands(a, dim)
        return Maximum.apply(a, b, kind=kind, dtype=out.numpy)
    if dim is None:
        return MaxMinAll.apply(a, kind=kind)
    axis = _normalize_dim(int(dim), a.ndim)
    if a.ndim == 0:
        values, indices = a.clone(), Tensor._wrap(np.asarray(0, dtype=np.int64))
    else:
        values, indices = MaxMinDim.apply(a, axis=axis, keepdim=keepdim, kind=kind)
    return (_max_type if kind == "max" else _min_type)(values, indices)


def arg_max_min(a, dim, keepdim, kind):
    """argmax/argmin: int64 indices, first occurrence on ties (as torch on the CPU)."""
    find = np.argmax if kind == "max" else np.argmin
    if a.numel() == 0:
        raise RuntimeError(f"arg{kind}(): Expected reduction dim to be specified for "
                           "input.numel() == 0.")
    if dim is None:
        index = find(a._data.reshape(-1))
        shape = (1,) * a.ndim if keepdim else ()
        return Tensor._wrap(np.asarray(index, dtype=np.int64).reshape(shape))
    axis = _normalize_dim(int(dim), a.ndim)
    if a.ndim == 0:
        return Tensor._wrap(np.asarray(0, dtype=np.int64))
    return Tensor._wrap(np.asarray(find(a._data, axis=axis, keepdims=keepdim), dtype=np.int64))


def cumsum(a, dim):
    """Running sum along `dim` (integers accumulate in int64, as torch)."""
    axis = _normalize_dim(int(dim), a.ndim)
    dtype = a.dtype if a.dtype.is_floating_point else dtypes.int64
    if a.ndim == 0:
        return Tensor._wrap(a._data.astype(dtype.numpy))
    return Tensor._wrap(np.cumsum(a._data, axis=axis, dtype=dtype.numpy))


def topk(a, k, dim=-1, largest=True):
    """The k largest (or smallest) values along `dim`, sorted, with their indices."""
    axis = _normalize_dim(int(dim), a.ndim)
    if not 0 <= k <= (a.shape[axis] if a.ndim else 1):
        raise RuntimeError("selected index k out of range")
    keys = -a._data if largest else a._data
    order = np.argsort(keys, axis=axis, kind="stable")
    indices = np.take(order, np.arange(k), axis=axis).astype(np.int64)
    from .indexing import gather

    return _topk_type(gather(a, axis, Tensor._wrap(indices)), Tensor._wrap(indices))


# ---------------------------------------------------------------------- logic and counting


def all_any(a, dim, keepdim, kind):
    """torch.all / torch.any: a bool tensor, over every element or along `dim` (no gradient)."""
    test = np.all if kind == "all" else np.any
    axes = reduced_axes(dim, a.ndim)
    if dim is None:
        return Tensor._wrap(np.asarray(test(a._data)))
    return Tensor._wrap(np.asarray(test(a._data, axis=axes, keepdims=keepdim)))


_histogram_type = namedtuple("histogram", ["hist", "bin_edges"])
_TYPE_WORDS = {"int32": "Int", "int64": "Long", "bool": "Bool"}


def _histogram_repr(self):
    return (f"torch.return_types.histogram(\nhist={self.hist!r},\n"
            f"bin_edges={self.bin_edges!r})")


_histogram_type.__repr__ = _histogram_repr
_histogram_type.__module__ = "torch.return_types"


def _bin_positions(x, edges, search):
    """The bin of each value of `x` (in range) as ATen's linear histogram kernel finds it.

    The first guess is (x - left) * bins / (right - left), truncated, in the
    input's precision; with `search`, torch.histogram then moves it to the edge
    interval that really holds x (one of guess - 1, guess, guess + 1), so that
    the counts agree with the bin edges it returns. torch.histc does not.
    """
    bins = len(edges) - 1
    left, right = edges[0], edges[-1]
    guess = ((x - left) * x.dtype.type(bins) / (right - left)).astype(np.int64)
    if search:
        low = np.maximum(guess - 1, 0)
        padded = np.append(edges, np.inf).astype(edges.dtype)
        # upper_bound over edges[low : min(guess + 2, bins + 1)], minus one.
        window = np.stack([np.where(low + k < np.minimum(guess + 2, bins + 1),
                                    padded[np.minimum(low + k, bins + 1)] <= x, False)
                           for k in range(3)])
        guess = low + window.sum(axis=0) - 1
    return np.minimum(guess, bins - 1)  # the last bin includes its right edge


def _count_bins(x, edges, search, dtype):
    x = x.reshape(-1)
    inside = (x >= edges[0]) & (x <= edges[-1])  # also drops NaN
    positions = _bin_positions(x[inside], edges, search)
    return np.bincount(positions, minlength=len(edges) - 1).astype(dtype)


def _bin_edges(left, right, bins, dtype):
    from ..creation import linspace

    return linspace(left, right, bins + 1, dtype=dtype)._data


def histogram(a, bins=100, *, range=None, weight=None, density=False):  # noqa: A002
    """torch.histogram with a bin count: `(hist, bin_edges)`, edges from min to max.

    Counts come back in the input's float dtype; `density=True` divides them by
    the total and by each bin's width, so the histogram integrates to one.
    """
    if not a.dtype.is_floating_point:
        raise NotImplementedError(f"\"histogramdd\" not implemented for "
                                  f"'{_TYPE_WORDS[a.dtype.name]}'")
    if isinstance(bins, Tensor):
        raise NotImplementedError("torch.histogram with a tensor of bin edges is not supported "
                                  "here; pass the number of bins")
    if int(bins) <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {int(bins)} for "
                           "dimension 0")
    if weight is not None:
        raise NotImplementedError("torch.histogram's weight argument is not supported here")
    data = a._data
    if range is not None:
        left, right = float(range[0]), float(range[1])
    elif data.size:
        left, right = float(data.min()), float(data.max())
    else:
        left, right = 0.0, 1.0
    if not (np.isfinite(left) and np.isfinite(right)):
        raise RuntimeError(f"torch.histogramdd: dimension 0's range [{left}, {right}] is not "
                           "finite")
    if left > right:
        raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {left} "
                           f"max {right} for dimension 0")
    if left == right:
        left, right = left - 0.5, right + 0.5
    edges = _bin_edges(left, right, int(bins), a.dtype)
    hist = _count_bins(data, edges, True, data.dtype)
    if density:
        hist = hist / hist.sum(dtype=data.dtype) / np.diff(edges)
    return _histogram_type(Tensor._wrap(hist), Tensor._wrap(edges))


def histc(a, bins=100, min=0, max=0):  # noqa: A002 - torch's names
    """torch.histc: counts in `bins` equal bins over [min, max] (the data's range if equal)."""
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"\"histogram_cpu\" not implemented for "
                           f"'{_TYPE_WORDS[a.dtype.name]}'")
    if int(bins) <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {int(bins)} for "
                           "dimension 0")
    data = a._data
    left, right = float(min), float(max)
    if left == right and data.size:
        left, right = float(data.min()), float(data.max())
    if left == right:
        left, right = left - 1, right + 1
    if not (np.isfinite(left) and np.isfinite(right)):
        raise RuntimeError(f"torch.histc: range of [{left}, {right}] is not finite")
    if left > right:
        raise RuntimeError("torch.histc: max must be larger than min")
    edges = _bin_edges(left, right, int(bins), a.dtype)
    return Tensor._wrap(_count_bins(data, edges, False, data.dtype))
