"""Shape operations: view/reshape, squeeze/unsqueeze, expand, permute/transpose,
clone, and joining or splitting tensors (cat, stack, unbind, split).

Views are numpy views of the same memory and share the base's version counter,
which is how `t.view(2, 5)` and `t` see each other's writes, as the notes explain.
"""

import builtins
import math

import numpy as np

from .. import dtypes
from ..autograd import Function, unbroadcast
from ..tensor import Tensor, _normalize_dim


def as_view(out, base, view_fn):
    """Mark `out` as a view of `base`: it shares the version counter, and remembers how
    to take the same view of an array shaped like the storage's owner (`view_fn`), so
    that an in-place change through the view can be recorded on the owner as torch's
    CopySlices. `view_fn` is None for views that cannot be written (expand)."""
    out._version = base._version
    if base._base is None:
        out._base, out._view_fn = base, view_fn
    else:
        outer = base._view_fn
        out._base = base._base
        out._view_fn = None if outer is None or view_fn is None else (
            lambda array: view_fn(outer(array)))
    return out


def _reshaped(shape):
    return lambda array: array.reshape(shape)


def infer_shape(shape, numel):
    """Resolve one -1 in `shape`; torch's messages for shapes that cannot hold `numel`."""
    if shape and min(shape) >= -1:
        size = math.prod(shape)
        if size == numel and size > 0:
            return shape
        if size < 0 and numel % -size == 0 and shape.count(-1) == 1:
            at = shape.index(-1)
            return shape[:at] + (numel // -size,) + shape[at + 1:]
    if shape and min(shape) < -1:
        raise RuntimeError(f"invalid shape dimension {min(shape)}")
    unknown = [i for i, n in enumerate(shape) if n == -1] if -1 in shape else ()
    if len(unknown) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = math.prod(shape) * (-1 if unknown else 1)
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[:unknown[0]] + (numel // known,) + shape[unknown[0] + 1:]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class View(Function):
    name = "ViewBackward0"

    def forward(self, a, shape):
        self.input_shape = a.shape
        try:
            return a.reshape(shape, copy=False)
        except ValueError:
            raise RuntimeError("view size is not compatible with input tensor's size and "
                               "stride (at least one dimension spans across two contiguous "
                               "subspaces). Use .reshape(...) instead.") from None

    def backward(self, g):
        return g.reshape(self.input_shape)


class ReshapeCopy(View):
    """reshape() that had to copy: torch names this node UnsafeViewBackward0."""

    name = "UnsafeViewBackward0"

    def forward(self, a, shape):
        self.input_shape = a.shape
        return np.reshape(a, shape).copy()


def view(a, shape):
    """The same storage with another shape; an error rather than a copy."""
    shape = infer_shape(shape, a.numel())
    return as_view(View.apply(a, shape=shape), a, _reshaped(shape))


def reshape(a, shape):
    """Another shape: a view when the memory layout allows it, otherwise a copy."""
    shape = infer_shape(shape, a.numel())
    try:
        np.reshape(a._data, shape, copy=False)
    except ValueError:
        return ReshapeCopy.apply(a, shape=shape)
    return as_view(View.apply(a, shape=shape), a, _reshaped(shape))


def flatten(a, start_dim=0, end_dim=-1):
    """Merge dimensions start_dim..end_dim into one."""
    if a.ndim == 0:
        return reshape(a, (1,))
    start, end = _normalize_dim(start_dim, a.ndim), _normalize_dim(end_dim, a.ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = a.shape[:start] + (-1,) + a.shape[end + 1:]
    return reshape(a, shape)


class Squeeze(View):
    name = "SqueezeBackward0"

    def forward(self, a, shape):
        self.input_shape = a.shape
        return a.reshape(shape)


class SqueezeDim(Squeeze):
    name = "SqueezeBackward1"


class Unsqueeze(Squeeze):
    name = "UnsqueezeBackward0"


def squeeze(a, dim=None):
    """Drop size-1 dimensions (all of them, or those in `dim`)."""
    if dim is None:
        axes = {i for i, n in enumerate(a.shape) if n == 1}
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = {_normalize_dim(d, a.ndim) for d in dims if a.ndim and a.shape[d] == 1}
    shape = tuple(n for i, n in enumerate(a.shape) if i not in axes)
    fn = Squeeze if dim is None else SqueezeDim
    return as_view(fn.apply(a, shape=shape), a, _reshaped(shape))


def unsqueeze(a, dim):
    """Insert a size-1 dimension at `dim`."""
    dim = _normalize_dim(dim, a.ndim + 1)
    shape = a.shape[:dim] + (1,) + a.shape[dim:]
    return as_view(Unsqueeze.apply(a, shape=shape), a, _reshaped(shape))


class Expand(Function):
    name = "ExpandBackward0"

    def forward(self, a, shape):
        self.input_shape = a.shape
        return np.broadcast_to(a, shape)

    def backward(self, g):
        return unbroadcast(g, self.input_shape)


def expand(a, shape):
    """Broadcast to `shape` without copying; -1 keeps a dimension's size."""
    if len(shape) < a.ndim:
        raise RuntimeError(f"expand: the number of sizes provided ({len(shape)}) must be "
                           f"greater or equal to the number of dimensions in the tensor "
                           f"({a.ndim})")
    lead = len(shape) - a.ndim
    resolved = tuple(a.shape[i - lead] if n == -1 else n for i, n in enumerate(shape))
    for i, n in enumerate(a.shape):
        if n != 1 and n != resolved[lead + i]:
            raise RuntimeError(f"The expanded size of the tensor ({resolved[lead + i]}) must "
                               f"match the existing size ({n}) at non-singleton dimension "
                               f"{lead + i}.  Target sizes: {list(shape)}.  Tensor sizes: "
                               f"{list(a.shape)}")
    return as_view(Expand.apply(a, shape=resolved), a, None)


class Permute(Function):
    name = "PermuteBackward0"

    def forward(self, a, dims):
        self.inverse = tuple(np.argsort(dims))
        return np.transpose(a, dims)

    def backward(self, g):
        return np.transpose(g, self.inverse)


class Transpose(Permute):
    name = "TransposeBackward0"


class TransposeT(Permute):
    name = "TBackward0"


def permute(a, dims):
    """Reorder dimensions; `a.T` is the full reversal."""
    dims = tuple(_normalize_dim(d, a.ndim) for d in dims)
    if len(dims) != a.ndim:
        raise RuntimeError(f"permute(): number of dimensions in the tensor input does not "
                           f"match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {a.ndim} is not equal to len(dims) = {len(dims)}")
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return as_view(Permute.apply(a, dims=dims), a, lambda array: array.transpose(dims))


def transpose(a, dim0, dim1, name=None):
    """Swap two dimensions (a view)."""
    if a.ndim == 0:
        return a
    dims = list(range(a.ndim))
    i, j = _normalize_dim(dim0, a.ndim), _normalize_dim(dim1, a.ndim)
    dims[i], dims[j] = dims[j], dims[i]
    fn = TransposeT if name == "TBackward0" else Transpose
    dims = tuple(dims)
    return as_view(fn.apply(a, dims=dims), a, lambda array: array.transpose(dims))


class Clone(Function):
    name = "CloneBackward0"

    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


def clone(a):
    """A copy with its own storage; gradients flow through it."""
    return Clone.apply(a)


# ---------------------------------------------------------------------- join and split


class Cat(Function):
    name = "CatBackward0"

    def forward(self, *arrays, axis, dtype):
        self.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        self.axis = axis
        return np.concatenate([a.astype(dtype, copy=False) for a in arrays], axis=axis)

    def backward(self, g):
        return tuple(np.split(g, self.bounds, axis=self.axis))


def cat(tensors, dim=0):
    """Join tensors along an existing dimension (dtypes promote, as torch)."""
    tensors = _tensor_list(tensors, "cat")
    shaped = [t for t in tensors if not (t.ndim == 1 and t.numel() == 0)]
    if not shaped:
        return Tensor._wrap(np.zeros((0,), dtype=dtypes.result_type(*tensors).numpy))
    ndim = shaped[0].ndim
    if ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    axis = _normalize_dim(dim, ndim)
    first = shaped[0].shape
    for k, t in enumerate(shaped):
        if t.ndim != ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ndim} and "
                               f"{t.ndim}")
        for d in range(ndim):
            if d != axis and t.shape[d] != first[d]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {axis}. "
                                   f"Expected size {first[d]} but got size {t.shape[d]} for "
                                   f"tensor number {k} in the list.")
    out = dtypes.result_type(*[_as_dim_tensor(t) for t in shaped])
    return Cat.apply(*shaped, axis=axis, dtype=out.numpy)


class Stack(Function):
    name = "StackBackward0"

    def forward(self, *arrays, axis, dtype):
        self.axis = axis
        return np.stack([a.astype(dtype, copy=False) for a in arrays], axis=axis)

    def backward(self, g):
        return tuple(np.moveaxis(g, self.axis, 0))


def stack(tensors, dim=0):
    """Join equal-shaped tensors along a new dimension."""
    tensors = _tensor_list(tensors, "stack")
    for k, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(tensors[0].shape)} at entry 0 and {list(t.shape)} at "
                               f"entry {k}")
    axis = _normalize_dim(dim, tensors[0].ndim + 1)
    out = dtypes.result_type(*[_as_dim_tensor(t) for t in tensors])
    return Stack.apply(*tensors, axis=axis, dtype=out.numpy)


class Unbind(Function):
    name = "UnbindBackward0"

    def forward(self, a, axis):
        self.axis = axis
        return tuple(np.moveaxis(a, axis, 0))

    def backward(self, *grads):
        return np.stack(grads, axis=self.axis)


def unbind(a, dim=0):
    """The slices along `dim`, as a tuple of views."""
    if a.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    axis = _normalize_dim(dim, a.ndim)
    if a.shape[axis] == 0:
        return ()
    parts = Unbind.apply(a, axis=axis)
    return tuple(as_view(p, a, lambda array, i=i: np.moveaxis(array, axis, 0)[i])
                 for i, p in enumerate(parts))


class Split(Function):
    name = "SplitBackward0"

    def forward(self, a, bounds, axis):
        self.axis = axis
        return tuple(np.split(a, bounds, axis=axis))

    def backward(self, *grads):
        return np.concatenate(grads, axis=self.axis)


class SplitWithSizes(Split):
    name = "SplitWithSizesBackward0"


def split(a, size, dim=0):
    """Chunks of `size` (or of the listed sizes) along `dim`, as views."""
    axis = _normalize_dim(dim, a.ndim)
    n = a.shape[axis]
    fn = Split
    if isinstance(size, int):
        bounds = list(range(size, n, size))
    else:
        fn = SplitWithSizes
        if builtins.sum(size) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {axis}), but got "
                               f"split_sizes={list(size)}")
        bounds = list(np.cumsum(size)[:-1])
    parts = fn.apply(a, bounds=bounds, axis=axis)
    return tuple(as_view(p, a, lambda array, i=i: np.split(array, bounds, axis=axis)[i])
                 for i, p in enumerate(parts))



def _tensor_list(tensors, op):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}(): argument 'tensors' must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{op}(): expected a non-empty list of Tensors")
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element in argument 0, but got "
                            f"{type(t).__name__}")
    return tensors


def _as_dim_tensor(t):
    """Promotion in cat/stack treats every input as a dimensioned tensor."""
    return t if t.ndim else Tensor._wrap(t._data.reshape(1))

