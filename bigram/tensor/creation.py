"""Making tensors: from data (`tensor`), filled (`zeros`, `ones`, ...), and ranges."""

import builtins
import numbers

import numpy as np

from . import dtypes
from .tensor import Tensor


def finish(array, dtype, requires_grad):
    """Wrap `array` (cast to `dtype` if given) as a new leaf tensor."""
    if dtype is not None:
        array = array.astype(dtypes.as_dtype(dtype).numpy, copy=False)
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad = True
    return t


def _python_data_dtype(array):
    """The dtype torch infers for Python data: floats → float32, ints → int64, bools → bool."""
    kind = array.dtype.kind
    if kind == "b":
        return dtypes.bool_
    if kind in "iu":
        return dtypes.int64
    if kind == "f":
        return dtypes.default_float()
    raise TypeError(f"can't create a tensor from data of type {array.dtype}")


def _ragged_message(data):
    """Torch's message for nested sequences whose lengths disagree."""
    def walk(item, depth):
        if isinstance(item, (list, tuple)) and item and isinstance(item[0], (list, tuple)):
            expected = len(item[0])
            for sub in item:
                if not isinstance(sub, (list, tuple)) or len(sub) != expected:
                    got = len(sub) if isinstance(sub, (list, tuple)) else "a scalar"
                    return f"expected sequence of length {expected} at dim {depth + 1} (got {got})"
                found = walk(sub, depth + 1)
                if found:
                    return found
        return None

    return walk(data, 0) or "could not infer a rectangular shape from the data"


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of `data` (numbers, nested lists, arrays or tensors).

    Python floats become float32 and ints int64, as in torch; numpy arrays keep
    their dtype.
    """
    if isinstance(data, Tensor):
        array = data._data.copy()
    elif isinstance(data, np.ndarray):
        array = np.array(data, copy=True)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"can't convert np.ndarray of type {array.dtype}. The only "
                            "supported types are: float64, float32, int64, int32, and bool.")
    elif isinstance(data, np.generic):
        array = np.array(data)
    else:
        try:
            array = np.array(data)
        except ValueError:
            raise ValueError(_ragged_message(data)) from None
        if array.dtype == object:
            raise ValueError(_ragged_message(data))
        if dtype is None:
            if array.dtype.kind in "iu" and array.size and (
                    builtins.max(array.max(), -array.min()) >= 2 ** 63):
                raise RuntimeError("Overflow when unpacking long")
            array = array.astype(_python_data_dtype(array).numpy)
    return finish(array, dtype, requires_grad)


def as_tensor(data, dtype=None):
    """`data` as a tensor, sharing memory with a numpy array or tensor where possible."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray):
        return finish(data, dtype, False)
    return tensor(data, dtype=dtype)


def from_numpy(array):
    """A tensor sharing memory with a numpy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return Tensor._wrap(array)


def shape_from_args(size):
    """A shape from `f(2, 3)` or `f((2, 3))` style arguments; torch's error if negative."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = tuple(int(n) for n in size)
    if shape and builtins.min(shape) < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {builtins.min(shape)}"
                           f": {list(shape)}")
    return shape


def _default(dtype):
    return dtypes.as_dtype(dtype) or dtypes.default_float()


def zeros(*size, dtype=None, requires_grad=False, device=None):
    """A tensor of zeros (float32 unless `dtype` says otherwise)."""
    return finish(np.zeros(shape_from_args(size), dtype=_default(dtype).numpy), None, requires_grad)


def ones(*size, dtype=None, requires_grad=False, device=None):
    """A tensor of ones."""
    return finish(np.ones(shape_from_args(size), dtype=_default(dtype).numpy), None, requires_grad)


def empty(*size, dtype=None, requires_grad=False, device=None):
    """A new tensor (zero-filled here: uninitialised memory helps nobody learn)."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    """A tensor filled with `fill_value` (its dtype inferred from the value, as torch)."""
    if dtype is None:
        dtype = (dtypes.bool_ if isinstance(fill_value, bool)
                 else dtypes.int64 if isinstance(fill_value, numbers.Integral)
                 else dtypes.default_float())
    shape = shape_from_args((size,) if isinstance(size, int) else (tuple(size),))
    array = np.full(shape, fill_value,
                    dtype=dtypes.as_dtype(dtype).numpy)
    return finish(array, None, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    """Zeros with `t`'s shape and dtype."""
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    """Ones with `t`'s shape and dtype."""
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def empty_like(t, dtype=None, requires_grad=False):
    """A new tensor with `t`'s shape and dtype."""
    return zeros_like(t, dtype=dtype, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    """`fill_value` everywhere, with `t`'s shape and dtype."""
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """start, start+step, ... below end: int64 for integer arguments, else float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    integral = builtins.all(isinstance(v, numbers.Integral) for v in (start, end, step))
    if dtype is None:
        dtype = dtypes.int64 if integral else dtypes.default_float()
    dtype = dtypes.as_dtype(dtype)
    count = int(np.ceil((end - start) / step))
    values = start + step * np.arange(count, dtype=np.int64 if integral else np.float64)
    return finish(values.astype(dtype.numpy), None, requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    """`steps` evenly spaced values from start to end, computed as torch does.

    Torch fills the first half forward from `start` and the second half
    backward from `end`, in the output's precision, so both ends are exact.
    """
    steps = int(steps)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dtype = _default(dtype)
    typ = dtype.numpy.type
    if steps == 1:
        return finish(np.asarray([start], dtype=dtype.numpy), None, requires_grad)
    first, last = typ(start), typ(end)
    step = (last - first) / typ(steps - 1)
    index = np.arange(steps)
    half = steps // 2
    values = np.where(index < half,
                      first + step * index.astype(dtype.numpy),
                      last - step * (steps - 1 - index).astype(dtype.numpy))
    return finish(values.astype(dtype.numpy), None, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    """The identity matrix (n x m)."""
    return finish(np.eye(int(n), None if m is None else int(m), dtype=_default(dtype).numpy),
                   None, requires_grad)


def equal(a, b):
    """True if both tensors have the same shape and the same values."""
    return a.shape == b.shape and bool(np.array_equal(a._data, b._data))


def is_tensor(x):
    """True for tensors of this engine."""
    return isinstance(x, Tensor)


def numel(t):
    """Number of elements of `t`."""
    return t.numel()
