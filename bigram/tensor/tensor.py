"""The Tensor: a numpy array, the node that produced it, and torch's Python API over both.

Storage is a numpy array. Views (`view`, basic indexing, `.T`) are numpy views of
the same memory, so a write through one shows in the other, as in torch. Each
storage carries a version counter shared by its views; autograd nodes record it
so that changing a saved value in place before `backward()` is caught.
The operations themselves live in the `ops_*` modules; this class only routes
Python's operators and torch's method names to them.
"""

import numbers

import numpy as np

from . import dtypes
from .autograd import run_backward


class Size(tuple):
    """A tensor's shape: a tuple that prints as `torch.Size([27, 27])`."""

    def __repr__(self):
        return f"torch.Size({list(self)})"

    def numel(self):
        """Number of elements a tensor of this shape holds."""
        return int(np.prod(self, dtype=np.int64))


def _is_scalar(x):
    return isinstance(x, (numbers.Number, np.bool_)) and not isinstance(x, complex)


class Tensor:
    """An n-dimensional array with PyTorch's semantics and reverse-mode autograd.

    `Tensor([1.0, 2.0])` makes a float32 tensor from data, as `torch.Tensor` does;
    `Tensor(2, 3)` makes a zero-filled 2x3 float32 tensor.
    """

    # Make numpy hand mixed expressions (`np.float32(2) * t`) to our reflected operators.
    __array_priority__ = 1000
    # Defaults every tensor starts with; an instance stores only what differs, so that
    # making the result of an operation costs two attribute writes.
    _requires_grad = False
    grad = None
    _ctx = None  # the node that produced this tensor (None for a leaf)
    _output_nr = 0  # which of that node's outputs this tensor is
    _retains_grad = False
    _base = None  # for a view: the tensor whose storage it shows
    _view_fn = None  # ... and how to take the same view of an array shaped like it

    def __init__(self, *args):
        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            data = args[0]._data if isinstance(args[0], Tensor) else args[0]
            array = np.array(data, dtype=np.float32)
        else:
            shape = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
            array = np.zeros(tuple(int(n) for n in shape), dtype=np.float32)
        self._data = array
        self._version = [0]

    @classmethod
    def _wrap(cls, array, version=None):
        """A tensor around `array` without copying it (the engine's own constructor)."""
        if type(array) is not np.ndarray or array.dtype not in _STORED_NUMPY_TYPES:
            array = np.asarray(array)
            if array.dtype not in _STORED_NUMPY_TYPES:
                array = array.astype(dtypes.from_numpy(array.dtype).numpy)
        t = _new_object(cls)
        t._data = array
        t._version = [0] if version is None else version
        return t

    # ------------------------------------------------------------------ attributes

    @property
    def dtype(self):
        """Element type (`torch.float32`, ...)."""
        return _DTYPES.get(self._data.dtype) or dtypes.from_numpy(self._data.dtype)

    @property
    def shape(self):
        """The size of each dimension, as a tuple subclass."""
        return Size(self._data.shape)

    def size(self, dim=None):
        """The shape, or the size of one dimension."""
        if dim is None:
            return self.shape
        return self._data.shape[_normalize_dim(dim, self.ndim)]

    @property
    def ndim(self):
        """Number of dimensions."""
        return self._data.ndim

    def dim(self):
        """Number of dimensions."""
        return self._data.ndim

    def numel(self):
        """Number of elements."""
        return int(self._data.size)

    nelement = numel

    @property
    def is_leaf(self):
        """True for tensors not produced by a recorded operation."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The node that produced this tensor, or None for a leaf."""
        return self._ctx

    @property
    def requires_grad(self):
        """Whether gradients flow to (or through) this tensor."""
        return self._requires_grad or self._ctx is not None

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if self._ctx is not None and not value:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. "
                               "If you want to use a computed variable in a subgraph that "
                               "doesn't require differentiation use var_no_grad = var.detach().")
        if value and not self.dtype.is_floating_point:
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        if self._ctx is None:
            self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        """Set `requires_grad` in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def data(self):
        """The same storage, detached from the graph, with its own version counter.

        This is what makes the lecture's update `W.data += -50 * W.grad` legal.
        """
        t = _new_object(Tensor)
        t._data, t._version = self._data, [0]
        return t

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    @property
    def is_cuda(self):
        """Always False: this engine runs on the CPU."""
        return False

    @property
    def device(self):
        """Always 'cpu'."""
        return "cpu"

    def retain_grad(self):
        """Keep `.grad` on this non-leaf tensor after backward."""
        if self._ctx is None:
            return
        import weakref

        self._retains_grad = True
        if self._ctx._retained is None:
            self._ctx._retained = {}
        self._ctx._retained[self._output_nr] = weakref.ref(self)

    @property
    def retains_grad(self):
        """True after `retain_grad()` on a non-leaf tensor."""
        return self._retains_grad

    def detach(self):
        """The same storage and version counter, cut from the graph."""
        return Tensor._wrap(self._data, self._version)

    def detach_(self):
        """Cut this tensor from the graph in place."""
        self._ctx = None
        self._requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad`."""
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have "
                               "a grad_fn")
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            grad = np.array(1, dtype=self._data.dtype).reshape(self._data.shape)
        else:
            grad = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient)
            if grad.shape != self._data.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of "
                                   f"{Size(grad.shape)} and output[0] has a shape of {self.shape}.")
            grad = grad.astype(self._data.dtype, copy=False)
        run_backward(self, grad, bool(retain_graph))

    # ------------------------------------------------------------------ conversion

    def item(self):
        """The single value as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        """Nested Python lists (a number for a 0-dim tensor)."""
        return self._data.tolist()

    def numpy(self):
        """The storage as a numpy array (shared, not copied)."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        if dtype is not None and np.dtype(dtype) != array.dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.is_floating_point or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted "
                            "to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __format__(self, spec):
        if self.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __repr__(self):
        from .printing import tensor_repr

        return tensor_repr(self)

    __str__ = __repr__
    __hash__ = object.__hash__

    def to(self, dtype=None, *args, **kwargs):
        """Convert to `dtype` (a device argument of 'cpu' is accepted and ignored)."""
        target = kwargs.get("dtype", dtype)
        if isinstance(target, str) or target is None:
            target = next((a for a in args if isinstance(a, dtypes.dtype)), None)
            if target is None:
                return self
        return ops.to_dtype(self, dtypes.as_dtype(target))

    def type(self, dtype=None):
        """Convert to `dtype`, or name the tensor type when called without one."""
        if dtype is None:
            return {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor",
                    "int32": "torch.IntTensor", "int64": "torch.LongTensor",
                    "bool": "torch.BoolTensor"}[self.dtype.name]
        return self.to(dtype)

    def float(self):
        """Convert to float32 (returns self if already float32)."""
        return self.to(dtypes.float32)

    def double(self):
        """Convert to float64."""
        return self.to(dtypes.float64)

    def long(self):
        """Convert to int64."""
        return self.to(dtypes.int64)

    def int(self):
        """Convert to int32."""
        return self.to(dtypes.int32)

    def bool(self):
        """Convert to bool."""
        return self.to(dtypes.bool_)

    def cpu(self):
        """Self: there is only the CPU."""
        return self

    def is_floating_point(self):
        """True for float32 and float64 tensors."""
        return self.dtype.is_floating_point

    def element_size(self):
        """Bytes per element."""
        return self._data.itemsize

    def is_contiguous(self):
        """True when the elements lie in row-major order without gaps."""
        return bool(self._data.flags.c_contiguous)

    def contiguous(self):
        """Self if contiguous, else a contiguous copy."""
        return self if self.is_contiguous() else self.clone()

    def stride(self, dim=None):
        """Steps in elements between neighbours along each dimension."""
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_normalize_dim(dim, self.ndim)]

    def storage_offset(self):
        """Always reported as 0: numpy views hide their offset into the base buffer."""
        return 0

    def data_ptr(self):
        """Address of the first element (equal for views that start at the same place)."""
        return self._data.__array_interface__["data"][0]

    # ------------------------------------------------------------------ arithmetic

    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __floordiv__(self, other):
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return ops.floor_divide(other, self)

    def __mod__(self, other):
        return ops.remainder(self, other)

    def __pow__(self, other):
        return ops.pow(self, other)

    def __rpow__(self, other):
        return ops.pow(other, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __neg__(self):
        return ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    def __iadd__(self, other):
        return ops.inplace(self, "add", other)

    def __isub__(self, other):
        return ops.inplace(self, "sub", other)

    def __imul__(self, other):
        return ops.inplace(self, "mul", other)

    def __itruediv__(self, other):
        return ops.inplace(self, "div", other)

    def __ipow__(self, other):
        return ops.inplace(self, "pow", other)

    def add_(self, other, alpha=1):
        """In-place `self += alpha * other`."""
        return ops.inplace(self, "add", other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha=1):
        """In-place `self -= alpha * other`."""
        return ops.inplace(self, "sub", other if alpha == 1 else other * alpha)

    def mul_(self, other):
        """In-place multiply."""
        return ops.inplace(self, "mul", other)

    def div_(self, other):
        """In-place divide."""
        return ops.inplace(self, "div", other)

    def zero_(self):
        """Fill with zeros in place."""
        return ops.fill_(self, 0)

    def fill_(self, value):
        """Fill with `value` in place."""
        return ops.fill_(self, value)

    def add(self, other, alpha=1):
        """`self + alpha * other`."""
        return ops.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other, alpha=1):
        """`self - alpha * other`."""
        return ops.sub(self, other if alpha == 1 else other * alpha)

    def mul(self, other):
        """Elementwise product."""
        return ops.mul(self, other)

    def div(self, other):
        """Elementwise true division."""
        return ops.div(self, other)

    def pow(self, exponent):
        """Elementwise power."""
        return ops.pow(self, exponent)

    def matmul(self, other):
        """Matrix product."""
        return ops.matmul(self, other)

    def __eq__(self, other):
        return ops.compare(self, other, "eq")

    def __ne__(self, other):
        return ops.compare(self, other, "ne")

    def __lt__(self, other):
        return ops.compare(self, other, "lt")

    def __le__(self, other):
        return ops.compare(self, other, "le")

    def __gt__(self, other):
        return ops.compare(self, other, "gt")

    def __ge__(self, other):
        return ops.compare(self, other, "ge")

    def eq(self, other):
        """Elementwise ==, as a bool tensor."""
        return ops.compare(self, other, "eq")

    def ne(self, other):
        """Elementwise !=, as a bool tensor."""
        return ops.compare(self, other, "ne")

    def lt(self, other):
        """Elementwise <, as a bool tensor."""
        return ops.compare(self, other, "lt")

    def le(self, other):
        """Elementwise <=, as a bool tensor."""
        return ops.compare(self, other, "le")

    def gt(self, other):
        """Elementwise >, as a bool tensor."""
        return ops.compare(self, other, "gt")

    def ge(self, other):
        """Elementwise >=, as a bool tensor."""
        return ops.compare(self, other, "ge")

    def __and__(self, other):
        return ops.logical(self, other, "and")

    def __or__(self, other):
        return ops.logical(self, other, "or")

    def __xor__(self, other):
        return ops.logical(self, other, "xor")

    def __invert__(self):
        return ops.logical_not(self)

    __rand__ = __and__
    __ror__ = __or__
    __rxor__ = __xor__

    # ------------------------------------------------------------------ unary math

    def exp(self):
        """Elementwise e**x."""
        return ops.exp(self)

    def log(self):
        """Elementwise natural logarithm."""
        return ops.log(self)

    def log10(self):
        """Elementwise base-10 logarithm."""
        return ops.log10(self)

    def tanh(self):
        """Elementwise hyperbolic tangent."""
        return ops.tanh(self)

    def sigmoid(self):
        """Elementwise logistic function."""
        return ops.sigmoid(self)

    def relu(self):
        """Elementwise max(x, 0)."""
        return ops.relu(self)

    def sqrt(self):
        """Elementwise square root."""
        return ops.sqrt(self)

    def abs(self):
        """Elementwise absolute value."""
        return ops.abs(self)

    def neg(self):
        """Elementwise negation."""
        return ops.neg(self)

    def clamp(self, min=None, max=None):  # noqa: A002 - torch's argument names
        """Limit values to [min, max]."""
        return ops.clamp(self, min, max)

    clip = clamp

    def softmax(self, dim):
        """Softmax along `dim`."""
        from . import functional

        return functional.softmax(self, dim)

    def log_softmax(self, dim):
        """Log-softmax along `dim`."""
        from . import functional

        return functional.log_softmax(self, dim)

    # ------------------------------------------------------------------ reductions

    def sum(self, dim=None, keepdim=False, dtype=None, **kwargs):
        """Sum over all elements or over `dim` (`keepdims=` accepted as in torch)."""
        return ops.sum(self, dim, _keepdim(keepdim, kwargs), dtype)

    def mean(self, dim=None, keepdim=False, dtype=None, **kwargs):
        """Mean over all elements or over `dim`."""
        return ops.mean(self, dim, _keepdim(keepdim, kwargs), dtype)

    def max(self, dim=None, keepdim=False, **kwargs):
        """The maximum, or `(values, indices)` along `dim`; `max(other)` is elementwise."""
        return ops.max_min(self, dim, _keepdim(keepdim, kwargs), "max")

    def min(self, dim=None, keepdim=False, **kwargs):
        """The minimum, or `(values, indices)` along `dim`; `min(other)` is elementwise."""
        return ops.max_min(self, dim, _keepdim(keepdim, kwargs), "min")

    def argmax(self, dim=None, keepdim=False):
        """Index of the maximum (of the flattened tensor when `dim` is None)."""
        return ops.arg_max_min(self, dim, keepdim, "max")

    def argmin(self, dim=None, keepdim=False):
        """Index of the minimum (of the flattened tensor when `dim` is None)."""
        return ops.arg_max_min(self, dim, keepdim, "min")

    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None, **kwargs):
        """Standard deviation, Bessel-corrected by default (`unbiased=False` or
        `correction=0` for the population form), as torch's `std(dim, unbiased, keepdim)`."""
        if isinstance(dim, bool):  # torch's std(unbiased) overload
            dim, unbiased = None, dim
        correction = (1 if unbiased else 0) if correction is None else correction
        return ops.var(self, dim, _keepdim(keepdim, kwargs), correction, root=True)

    def var(self, dim=None, unbiased=True, keepdim=False, *, correction=None, **kwargs):
        """Variance, Bessel-corrected by default, with std's arguments."""
        if isinstance(dim, bool):
            dim, unbiased = None, dim
        correction = (1 if unbiased else 0) if correction is None else correction
        return ops.var(self, dim, _keepdim(keepdim, kwargs), correction)

    def all(self, dim=None, keepdim=False):
        """True where every element (of all, or along `dim`) is nonzero, as a bool tensor."""
        return ops.all_any(self, dim, keepdim, "all")

    def any(self, dim=None, keepdim=False):
        """True where some element (of all, or along `dim`) is nonzero, as a bool tensor."""
        return ops.all_any(self, dim, keepdim, "any")

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """True if every element is within atol + rtol * |other| of other's."""
        return bool(np.allclose(self._data, other._data, rtol=rtol, atol=atol,
                                equal_nan=equal_nan))

    def histc(self, bins=100, min=0, max=0):  # noqa: A002 - torch's names
        """Counts in `bins` equal bins over [min, max] (the data's range when they are equal)."""
        return ops.histc(self, bins, min, max)

    def cumsum(self, dim):
        """Cumulative sum along `dim` (no gradient)."""
        return ops.cumsum(self, dim)

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 - torch's names
        """The k largest (or smallest) values along `dim` and their indices."""
        return ops.topk(self, k, dim, largest)

    # ------------------------------------------------------------------ shape

    def view(self, *shape):
        """The same storage seen with another shape; never copies."""
        if len(shape) == 1 and isinstance(shape[0], dtypes.dtype):
            raise RuntimeError("view(dtype) is not supported; use .to(dtype)")
        return ops.view(self, _shape_args(shape))

    def view_as(self, other):
        """`view` to another tensor's shape."""
        return self.view(other.shape)

    def reshape(self, *shape):
        """Another shape: a view when the layout allows it, else a copy."""
        return ops.reshape(self, _shape_args(shape))

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dimensions start_dim..end_dim into one."""
        return ops.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        """Drop dimensions of size 1."""
        return ops.squeeze(self, dim)

    def unsqueeze(self, dim):
        """Insert a dimension of size 1 at `dim`."""
        return ops.unsqueeze(self, dim)

    def expand(self, *shape):
        """Broadcast to a larger shape without copying (-1 keeps a size)."""
        return ops.expand(self, _shape_args(shape))

    def permute(self, *dims):
        """Reorder the dimensions."""
        return ops.permute(self, _shape_args(dims))

    def transpose(self, dim0, dim1):
        """Swap two dimensions."""
        return ops.transpose(self, dim0, dim1)

    def t(self):
        """Transpose of a tensor with at most 2 dimensions."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D")
        return ops.transpose(self, 0, -1, name="TBackward0") if self.ndim == 2 else self

    @property
    def T(self):  # noqa: N802 - torch's name
        """All dimensions reversed."""
        return ops.permute(self, tuple(reversed(range(self.ndim))))

    def clone(self):
        """A copy with its own storage; gradients flow back through it."""
        return ops.clone(self)

    def unbind(self, dim=0):
        """The slices along `dim`, as a tuple of tensors."""
        return ops.unbind(self, dim)

    def split(self, size, dim=0):
        """Chunks of `size` along `dim`."""
        return ops.split(self, size, dim)

    def __getitem__(self, index):
        return ops.getitem(self, index)

    def __setitem__(self, index, value):
        ops.setitem(self, index, value)

    def index_select(self, dim, index):
        """Rows (or slices along `dim`) chosen by an index tensor."""
        return ops.getitem(self, (slice(None),) * _normalize_dim(dim, self.ndim) + (index,))

    def gather(self, dim, index):
        """Values picked along `dim` by an index tensor of the output's shape."""
        return ops.gather(self, dim, index)

    def masked_fill(self, mask, value):
        """A copy with `value` where `mask` is True."""
        return ops.masked_fill(self, mask, value)

    def nonzero(self):
        """Indices of the nonzero elements, one row each."""
        return Tensor._wrap(np.argwhere(self._data).astype(np.int64))

    # ------------------------------------------------------------------ random, in place

    def uniform_(self, from_=0.0, to=1.0, generator=None):
        """Fill with U(from_, to) draws from the torch-compatible generator."""
        from . import random

        return random.uniform_(self, from_, to, generator)

    def normal_(self, mean=0.0, std=1.0, generator=None):
        """Fill with N(mean, std) draws from the torch-compatible generator."""
        from . import random

        return random.normal_(self, mean, std, generator)

    def exponential_(self, lambd=1.0, generator=None):
        """Fill with Exp(lambd) draws from the torch-compatible generator."""
        from . import random

        return random.exponential_(self, lambd, generator)


_STORED_NUMPY_TYPES = frozenset(d.numpy for d in dtypes.ALL)
_DTYPES = {d.numpy: d for d in dtypes.ALL}
_new_object = object.__new__


def _keepdim(keepdim, kwargs):
    """Torch accepts numpy's spelling `keepdims=` as an alias of `keepdim=`."""
    if "keepdims" in kwargs:
        keepdim = kwargs.pop("keepdims")
    if kwargs:
        raise TypeError(f"unexpected keyword argument {next(iter(kwargs))!r}")
    return bool(keepdim)


def _shape_args(args):
    """Accept both `view(2, 5)` and `view((2, 5))`."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        args = args[0]
    return tuple([a if type(a) is int else int(a) for a in args])


def _normalize_dim(dim, ndim):
    """A dimension index in [0, ndim), accepting negative ones; torch's IndexError otherwise."""
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-size}, {size - 1}], but got {dim})")
    return dim % size


class _LazyOps:
    """Stands in for the `ops` package until an operation is first used, then replaces
    itself with it: importing `bigram.tensor` stays cheap, and every later operator
    call is a plain module attribute lookup."""

    def __getattr__(self, name):
        from . import ops as module

        globals()["ops"] = module
        return getattr(module, name)


ops = _LazyOps()
