"""Indexing and index assignment, with torch's view and gradient semantics.

Basic indexing (ints, slices, None, ...) returns a view that shares storage.
Advanced indexing (lists, integer or bool tensors, `probs[arange(n), ys]`)
returns a copy; its backward scatter-*adds* the gradient, so an index repeated
k times receives k contributions.
"""

import re

import numpy as np

from ..autograd import Function, is_grad_enabled, unbroadcast
from ..tensor import Tensor, _normalize_dim
from .elementwise import commit_in_place, tracked_snapshot
from .shaping import as_view


def to_numpy_index(index):
    """The index as a tuple numpy understands; tensors become integer or bool arrays."""
    parts = index if isinstance(index, tuple) else (index,)
    converted = []
    for part in parts:
        if isinstance(part, Tensor):
            if part.dtype.is_floating_point:
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            # torch selects with a 0-dim integer tensor as with an int: a view (dC[ix]).
            part = int(part._data) if part.ndim == 0 and part.dtype.is_integer else part._data
        elif isinstance(part, (list, range)):
            part = _list_index(list(part))
        elif isinstance(part, (bool, np.bool_)):
            part = np.asarray(part)
        elif isinstance(part, np.ndarray) and part.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        converted.append(part)
    return tuple(converted)


def _list_index(items):
    array = np.asarray([x._data if isinstance(x, Tensor) else x for x in items])
    if array.dtype.kind == "f":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if array.dtype == object:
        raise IndexError("only integers, slices, ellipsis, None, lists of integers and "
                         "integer or bool tensors are valid indices")
    return array if array.size else array.astype(np.int64)


def is_basic(index):
    """True when no component is an array: numpy (and torch) then return a view."""
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis
               for p in index)


def _basic_name(index, shape):
    """Torch names a basic index's node after the last step that changed the shape."""
    for part in reversed(index):
        if part is None:
            return "UnsqueezeBackward0"
        if isinstance(part, (int, np.integer)):
            return "SelectBackward0"
        if isinstance(part, slice) and part != slice(None):
            return "SliceBackward0"
    return "AliasBackward0"


def _shape_text(numpy_shape):
    """numpy's '2,3' as torch's '[2, 3]'."""
    return "[" + ", ".join(n.strip() for n in numpy_shape.split(",") if n.strip()) + "]"


def _checked(run):
    """Run a numpy indexing step, rewording numpy's IndexError the way torch words it."""
    try:
        return run()
    except IndexError as error:
        message = str(error).replace("axis", "dimension")
        message = re.sub(r"too many indices for array: array is (\d+)-dimensional, but \d+ "
                         r"were indexed", r"too many indices for tensor of dimension \1",
                         message)
        if message.startswith("shape mismatch"):
            shapes = re.findall(r"\(([\d, ]*)\)", message)
            message = ("shape mismatch: indexing tensors could not be broadcast together with "
                       "shapes " + ", ".join(_shape_text(s) for s in shapes))
        raise IndexError(message) from None


def _view_index(index):
    """A basic index with a trailing Ellipsis, so numpy returns a view even of a scalar."""
    return index if Ellipsis in index else index + (Ellipsis,)


class BasicIndex(Function):
    def forward(self, a, index, name):
        self.name, self.shape, self.index = name, a.shape, index
        try:
            return a[_view_index(index)]
        except IndexError:
            return _checked(lambda: a[_view_index(index)])

    def backward(self, g):
        grad = np.zeros(self.shape, dtype=g.dtype)
        grad[self.index] = g
        return grad


class AdvancedIndex(Function):
    name = "IndexBackward0"

    def forward(self, a, index):
        self.shape, self.index = a.shape, index
        try:
            return np.asarray(a[index])
        except IndexError:
            return _checked(lambda: a[index])

    def backward(self, g):
        grad = np.zeros(self.shape, dtype=g.dtype)
        scatter_add(grad, self.index, g)
        return grad


def scatter_add(target, index, values):
    """target[index] += values, adding (not overwriting) at repeated indices."""
    if (len(index) == 1 and isinstance(index[0], np.ndarray) and index[0].dtype.kind in "iu"
            and index[0].ndim >= 1 and target.ndim >= 1):
        # Row gathers like W[xs] are the hot case: one bincount beats add.at.
        rows = index[0].ravel()
        rows = np.where(rows < 0, rows + target.shape[0], rows)
        flat = values.reshape(len(rows), -1)
        width = flat.shape[1]
        cells = (rows[:, None] * width + np.arange(width)).ravel()
        summed = np.bincount(cells, weights=flat.ravel(), minlength=target.size)
        target += summed.reshape(target.shape).astype(target.dtype, copy=False)
    else:
        np.add.at(target, index, values)


class RowIndex(AdvancedIndex):
    """`a[ix]` with one integer tensor: whole rows, gathered by `take` (numpy's fast path)."""

    def forward(self, a, index):
        self.shape, self.index, self.dtype = a.shape, index, a.dtype
        try:
            return a.take(index[0], axis=0)
        except IndexError:
            return _checked(lambda: a[index])

    def backward(self, g):
        rows = self.index[0].ravel()
        if len(rows) * self.shape[0] > 1 << 16:
            return super().backward(g)
        # Few rows (an embedding's minibatch): the sum of the rows each index picked is
        # one product with a one-hot matrix.
        one_hot = np.zeros((self.shape[0], len(rows)), dtype=g.dtype)
        one_hot[rows, np.arange(len(rows))] = 1  # negative rows wrap, as they did in take
        return (one_hot @ g.reshape(len(rows), -1)).reshape(self.shape)


def getitem(a, index):
    """a[index], a view for basic indices and a copy for advanced ones."""
    kind = type(index)
    if kind is Tensor:
        if index._data.ndim and index._data.dtype.kind in "iu" and a._data.ndim:
            return RowIndex.apply(a, index=(index._data,))
    elif kind is int or (kind is tuple and all([type(p) is int for p in index])):
        # Elements and rows by position, `Xb[k, j]`: the commonest index of all.
        index = index if kind is tuple else (index,)
        return _basic_view(a, index, "SelectBackward0")
    index = to_numpy_index(index)
    if is_basic(index):
        return _basic_view(a, index, _basic_name(index, a.shape))
    return AdvancedIndex.apply(a, index=index)


def _basic_view(a, index, name):
    view_index = _view_index(index)
    return as_view(BasicIndex.apply(a, index=index, name=name), a,
                   lambda array: array[view_index])


class IndexPut(Function):
    """The node recorded for `a[index] = value` when gradients must flow."""

    def forward(self, a, value, index, name):
        self.name, self.index, self.value_shape = name, index, value.shape
        out = a.copy()
        _checked(lambda: out.__setitem__(index, value))
        return out

    def backward(self, g):
        grad_a = g.copy()
        grad_a[self.index] = 0
        return grad_a, unbroadcast(np.asarray(g[self.index]), self.value_shape)


def setitem(a, index, value):
    """a[index] = value, writing through to every view of a's storage."""
    index = to_numpy_index(index)
    if not isinstance(value, Tensor):
        value = Tensor._wrap(np.asarray(value, dtype=a.dtype.numpy))
    tracking = is_grad_enabled() and (a.requires_grad or value.requires_grad)
    if not tracking:
        try:
            a._data[index] = value._data
        except IndexError:
            _checked(lambda: a._data.__setitem__(index, value._data))
        a._version[0] += 1
        return
    name = "CopySlices" if is_basic(index) else "IndexPutBackward0"
    result = IndexPut.apply(tracked_snapshot(a), value.to(a.dtype), index=index, name=name)
    commit_in_place(a, result)


class Gather(Function):
    name = "GatherBackward0"

    def forward(self, a, index, axis):
        self.shape, self.index, self.axis = a.shape, index, axis
        return np.take_along_axis(a, index, axis=axis)

    def backward(self, g):
        grad = np.zeros(self.shape, dtype=g.dtype)
        grid = list(np.indices(self.index.shape, sparse=True))
        grid[self.axis] = self.index
        np.add.at(grad, tuple(grid), g)
        return grad


def gather(a, dim, index):
    """out[i][j] = a[i][index[i][j]] for dim=1 (and likewise for other dims)."""
    axis = _normalize_dim(dim, a.ndim)
    if index.dtype.name != "int64":
        raise RuntimeError("gather(): Expected dtype int64 for index")
    return Gather.apply(a, index=index._data, axis=axis)


class MaskedFill(Function):
    name = "MaskedFillBackward0"

    def forward(self, a, mask, value):
        self.keep = ~mask
        return np.where(mask, np.asarray(value, dtype=a.dtype), a)

    def backward(self, g):
        return g * self.keep


def masked_fill(a, mask, value):
    """A copy of `a` with `value` wherever the bool `mask` is True."""
    if mask.dtype.name != "bool":
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with "
                           f"dtype {mask.dtype.name}")
    value = value.item() if isinstance(value, Tensor) else value
    return MaskedFill.apply(a, mask=np.broadcast_to(mask._data, a.shape), value=value)
