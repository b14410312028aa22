"""A small tensor and autograd engine on numpy, with PyTorch's names and semantics.

`import bigram.tensor as torch` and `import bigram.tensor.functional as F` run
a learner's PyTorch notes unchanged, and seeded randomness reproduces PyTorch's
CPU generator bit for bit (see `random.py`).
"""

import importlib

from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    equal,
    eye,
    from_numpy,
    full,
    full_like,
    is_tensor,
    linspace,
    numel,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from .dtypes import bool_ as bool  # noqa: A001 - torch.bool
from .dtypes import dtype, float32, float64, int32, int64, promote_types, result_type
from .tensor import Size, Tensor

# Everything else loads on first use (PEP 562), so a command that only needs the
# generator does not pay for importing every operation.
_LAZY = {
    "functional": None, "nn": None, "random": None, "ops": None, "printing": None,
    "threads": None,
    **dict.fromkeys(["abs", "cat", "clamp", "exp", "histc", "histogram", "log", "log10", "matmul",
                     "mean", "relu", "sigmoid", "split", "sqrt", "squeeze", "stack", "sum",
                     "tanh", "transpose", "unbind", "unsqueeze"], "ops"),
    **dict.fromkeys(["get_num_threads", "set_num_threads"], "threads"),
    **dict.fromkeys(["Generator", "default_generator", "get_rng_state", "initial_seed",
                     "manual_seed", "multinomial", "normal_values", "rand", "randint",
                     "randn", "randperm", "seed", "set_rng_state"], "random"),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'bigram.tensor' has no attribute {name!r}")
    module = _LAZY[name]
    value = importlib.import_module(f".{module or name}", __name__)
    if module is not None:
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


float = float32  # noqa: A001 - torch.float
double = float64
long = int64
int = int32  # noqa: A001 - torch.int


def clip(input, min=None, max=None):  # noqa: A001,A002 - torch's names
    """Limit values to [min, max] (torch.clip, an alias of clamp)."""
    return input.clamp(min, max)


def max(input, dim=None, keepdim=False):  # noqa: A001,A002 - torch's names
    """torch.max: of all elements, `(values, indices)` along dim, or elementwise of two."""
    return input.max(dim, keepdim)


def min(input, dim=None, keepdim=False):  # noqa: A001,A002
    """torch.min: of all elements, `(values, indices)` along dim, or elementwise of two."""
    return input.min(dim, keepdim)


def maximum(a, b):
    """Elementwise maximum of two tensors."""
    return a.max(b)


def minimum(a, b):
    """Elementwise minimum of two tensors."""
    return a.min(b)


def argmax(input, dim=None, keepdim=False):  # noqa: A002
    """Index of the maximum."""
    return input.argmax(dim, keepdim)


def argmin(input, dim=None, keepdim=False):  # noqa: A002
    """Index of the minimum."""
    return input.argmin(dim, keepdim)


def softmax(input, dim, dtype=None):  # noqa: A002
    """Softmax along `dim`."""
    return input.softmax(dim) if dtype is None else input.to(dtype).softmax(dim)


def log_softmax(input, dim, dtype=None):  # noqa: A002
    """Log-softmax along `dim`."""
    return input.log_softmax(dim) if dtype is None else input.to(dtype).log_softmax(dim)


def mm(a, b):
    """Product of two matrices."""
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError("self must be a matrix")
    return a @ b


def pow(input, exponent):  # noqa: A001,A002
    """input ** exponent."""
    return input ** exponent if isinstance(input, Tensor) else exponent.__rpow__(input)


def where(condition, input, other):  # noqa: A002
    """Elementwise choice: `input` where `condition` holds, else `other`."""
    from .ops.elementwise import where as _where

    return _where(condition, input, other)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True if every element of `a` is close to `b`'s."""
    import builtins

    import numpy as _np

    # `bool` here is torch.bool, the dtype; the answer is a Python bool, as torch's.
    return builtins.bool(_np.allclose(a._data, b._data, rtol=rtol, atol=atol,
                                      equal_nan=equal_nan))


def isnan(t):
    """Elementwise NaN test."""
    import numpy as _np

    return Tensor._wrap(_np.isnan(t._data))


def isinf(t):
    """Elementwise infinity test."""
    import numpy as _np

    return Tensor._wrap(_np.isinf(t._data))


def isfinite(t):
    """Elementwise finiteness test."""
    import numpy as _np

    return Tensor._wrap(_np.isfinite(t._data))


def all(input, dim=None, keepdim=False):  # noqa: A001,A002 - torch's names
    """True where every element (of all, or along `dim`) is nonzero, as a bool tensor."""
    return input.all(dim, keepdim)


def any(input, dim=None, keepdim=False):  # noqa: A001,A002
    """True where some element (of all, or along `dim`) is nonzero, as a bool tensor."""
    return input.any(dim, keepdim)


def std(input, dim=None, unbiased=True, keepdim=False, *, correction=None):  # noqa: A002
    """Standard deviation (Bessel-corrected unless `unbiased=False` or `correction=0`)."""
    return input.std(dim, unbiased, keepdim, correction=correction)


def var(input, dim=None, unbiased=True, keepdim=False, *, correction=None):  # noqa: A002
    """Variance (Bessel-corrected unless `unbiased=False` or `correction=0`)."""
    return input.var(dim, unbiased, keepdim, correction=correction)


def get_default_dtype():
    """float32, the dtype Python floats become."""
    return float32


__all__ = [
    "Generator", "Size", "Tensor", "abs", "all", "allclose", "any", "arange", "argmax", "argmin",
    "as_tensor", "bool", "cat", "clamp", "clip", "default_generator", "double", "dtype",
    "empty", "empty_like", "enable_grad", "equal", "exp", "eye", "float", "float32", "float64",
    "from_numpy", "full", "full_like", "functional", "get_default_dtype", "get_num_threads",
    "get_rng_state", "set_num_threads",
    "histc", "histogram", "log10", "split", "squeeze", "std", "transpose", "unsqueeze", "var",
    "initial_seed", "int", "int32", "int64", "is_grad_enabled", "is_tensor", "isfinite",
    "isinf", "isnan", "linspace", "log", "log_softmax", "long", "manual_seed", "matmul", "max",
    "maximum", "mean", "min", "minimum", "mm", "multinomial", "nn", "no_grad", "normal_values",
    "numel", "ones", "ones_like", "pow", "promote_types", "rand", "randint", "randn",
    "randperm", "relu", "result_type", "seed", "set_grad_enabled", "set_rng_state",
    "sigmoid", "softmax", "sqrt", "stack", "sum", "tanh", "tensor", "unbind", "where",
    "zeros", "zeros_like",
]
