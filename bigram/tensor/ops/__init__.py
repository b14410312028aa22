"""All tensor operations, gathered for `Tensor`'s methods and the public namespace."""

from .elementwise import (
                          abs,
                          add,
                          clamp,
                          compare,
                          div,
                          exp,
                          fill_,
                          floor_divide,
                          inplace,
                          log,
                          log10,
                          logical,
                          logical_not,
                          mul,
                          neg,
                          pow,
                          reciprocal,
                          relu,
                          remainder,
                          sigmoid,
                          sqrt,
                          sub,
                          tanh,
                          to_dtype,
)
from .indexing import gather, getitem, masked_fill, setitem
from .linalg import matmul
from .reductions import (
                          all_any,
                          arg_max_min,
                          cumsum,
                          histc,
                          histogram,
                          max_min,
                          mean,
                          sum,
                          topk,
                          var,
)
from .shaping import (
                          cat,
                          clone,
                          expand,
                          flatten,
                          permute,
                          reshape,
                          split,
                          squeeze,
                          stack,
                          transpose,
                          unbind,
                          unsqueeze,
                          view,
)

__all__ = [
    "abs", "add", "all_any", "arg_max_min", "cat", "clamp", "clone", "compare", "cumsum",
    "div", "exp", "expand", "fill_", "flatten", "floor_divide", "gather", "getitem", "histc",
    "histogram", "inplace", "log", "log10", "logical", "logical_not", "masked_fill", "matmul",
    "max_min", "mean", "mul", "neg", "permute", "pow", "reciprocal", "relu", "remainder",
    "reshape", "setitem", "sigmoid", "split", "sqrt", "squeeze", "stack", "sub", "sum", "tanh",
    "to_dtype", "topk", "transpose", "unbind", "unsqueeze", "var", "view",
]
