"""Data types with PyTorch's names and its type-promotion rules.

Only the five types a character language model needs exist here: float32,
float64, int32, int64 and bool. Each wraps the numpy dtype that stores it.
"""

import numpy as np


class dtype:  # noqa: N801 - named as torch names it, so `torch.dtype` reads the same
    """A tensor element type; prints as torch prints it (`torch.float32`)."""

    __slots__ = ("name", "numpy", "is_floating_point", "is_signed", "_rank")

    def __init__(self, name, numpy_type, is_floating_point, rank):
        self.name = name
        self.numpy = np.dtype(numpy_type)
        self.is_floating_point = is_floating_point
        self.is_signed = name != "bool"
        # Position in the promotion lattice bool < int32 < int64 < float32 < float64.
        self._rank = rank

    @property
    def itemsize(self):
        """Bytes per element."""
        return self.numpy.itemsize

    @property
    def is_integer(self):
        """True for int32 and int64 (bool is its own category, as in torch)."""
        return not self.is_floating_point and self.name != "bool"

    def __repr__(self):
        return f"torch.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


bool_ = dtype("bool", np.bool_, False, 0)
int32 = dtype("int32", np.int32, False, 1)
int64 = dtype("int64", np.int64, False, 2)
float32 = dtype("float32", np.float32, True, 3)
float64 = dtype("float64", np.float64, True, 4)

ALL = (bool_, int32, int64, float32, float64)
_BY_NUMPY = {d.numpy: d for d in ALL}
_NAMES = {d.name: d for d in ALL}


def _by_name(name):
    return _NAMES[name]


def default_float():
    """The dtype Python floats become: float32, as in torch."""
    return float32


def from_numpy(numpy_dtype):
    """The dtype that stores arrays of `numpy_dtype`, converting where torch would.

    numpy's other integer and float widths are widened to the nearest type this
    engine has, so `tensor(np.arange(3, dtype=np.int16))` still works.
    """
    numpy_dtype = np.dtype(numpy_dtype)
    found = _BY_NUMPY.get(numpy_dtype)
    if found is not None:
        return found
    if numpy_dtype.kind == "b":
        return bool_
    if numpy_dtype.kind in "iu":
        return int64 if numpy_dtype.itemsize >= 4 else int32
    if numpy_dtype.kind == "f":
        return float64 if numpy_dtype.itemsize > 4 else float32
    raise TypeError(f"can't convert a numpy array of dtype {numpy_dtype} to a tensor: "
                    "only bool, integer and floating-point arrays are supported")


def as_dtype(value):
    """Accept a dtype, a numpy dtype or a Python type (`float`, `int`, `bool`)."""
    if value is None or isinstance(value, dtype):
        return value
    if value is float:
        return float64  # torch.tensor(..., dtype=float) means double
    if value is int:
        return int64
    if value is bool:
        return bool_
    try:
        return from_numpy(value)
    except TypeError:
        raise TypeError(f"{value!r} is not a dtype this engine supports "
                        "(float32, float64, int32, int64, bool)") from None


def promote_types(a, b):
    """The smallest dtype both `a` and `b` convert to (torch.promote_types)."""
    return a if a._rank >= b._rank else b


def result_type(*operands):
    """Torch's result type for an operation over tensors and Python scalars.

    Torch ranks operands in three priority groups: tensors with dimensions,
    zero-dimensional tensors, then Python numbers. A lower group can only raise
    the result's *category* (bool < integer < float), never its width within a
    category, which is why `int32_tensor + 5` stays int32 while
    `int64_tensor + 2.5` becomes float32 (the default float).
    """
    from .tensor import Tensor  # local: dtypes sits below tensor in the import graph

    groups = [None, None, None]
    for x in operands:
        if isinstance(x, Tensor):
            slot, d = (0 if x.ndim else 1), x.dtype
        elif isinstance(x, (bool, np.bool_)):
            slot, d = 2, bool_
        elif isinstance(x, (int, np.integer)):
            slot, d = 2, int64
        elif isinstance(x, (float, np.floating)):
            slot, d = 2, default_float()
        else:
            raise TypeError(f"unsupported operand type {type(x).__name__!r}")
        groups[slot] = d if groups[slot] is None else promote_types(groups[slot], d)

    dims, zero_dim, scalars = groups
    return _combine(dims, _combine(zero_dim, scalars))


def _combine(higher, lower):
    """Merge a lower-priority group's dtype into a higher one's (c10's combine_categories)."""
    if higher is None:
        return lower
    if lower is None or higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher
