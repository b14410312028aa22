"""Matrix products: `a @ b` for vectors, matrices and batches, with torch's messages."""

import numpy as np

from ..autograd import Function, unbroadcast
from ..tensor import Tensor


def _node_name(a_ndim, b_ndim):
    """Torch's grad_fn name for each kind of product."""
    if a_ndim == 1 and b_ndim == 1:
        return "DotBackward0"
    if a_ndim == 2 and b_ndim == 1:
        return "MvBackward0"
    if a_ndim == 2 and b_ndim == 2:
        return "MmBackward0"
    if a_ndim == 1 and b_ndim == 2:
        return "SqueezeBackward4"
    return "UnsafeViewBackward0"


class MatMul(Function):
    saves_inputs = (0, 1)

    def forward(self, a, b):
        self.name = "MmBackward0" if a.ndim == 2 and b.ndim == 2 else _node_name(a.ndim, b.ndim)
        self.a, self.b = a, b
        if a.ndim > 2 and b.ndim == 2:
            # A batch times a matrix (a Linear layer on (B, T, C)) is one matrix product
            # over the stacked rows: numpy's stacked matmul does not reach BLAS as well.
            rows = a.reshape(-1, a.shape[-1])
            return (rows @ b).reshape(a.shape[:-1] + (b.shape[1],))
        out = a @ b
        return out if a.ndim > 1 or b.ndim > 1 else np.asarray(out)  # vector @ vector: 0-dim

    def backward(self, g):
        a, b = self.a, self.b
        if a.ndim == 2 and b.ndim == 2:
            return g @ b.T, a.T @ g
        if a.ndim > 2 and b.ndim == 2:
            rows, g_rows = a.reshape(-1, a.shape[-1]), g.reshape(-1, g.shape[-1])
            return (g_rows @ b.T).reshape(a.shape), rows.T @ g_rows
        # Treat vectors as a row (on the left) or a column (on the right), as matmul does.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g2 = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        grad_a = np.matmul(g2, np.swapaxes(b2, -1, -2))
        grad_b = np.matmul(np.swapaxes(a2, -1, -2), g2)
        grad_a = unbroadcast(grad_a, a2.shape).reshape(a.shape)
        grad_b = unbroadcast(grad_b, b2.shape).reshape(b.shape)
        return grad_a, grad_b


def matmul(a, b):
    """Matrix product with torch's rules and messages for shapes and dtypes."""
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul(): argument 'other' must be Tensor")
    x, y = a._data, b._data
    if x.ndim == 2 and y.ndim == 2 and x.shape[1] == y.shape[0] and x.dtype == y.dtype:
        return MatMul.apply(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_c_name(a.dtype)} != {_c_name(b.dtype)}")
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        if a.ndim == 1 and b.ndim == 1:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and "
                               f"src [{b.shape[0]}] to have the same number of elements, but "
                               f"got {a.shape[0]} and {b.shape[0]} elements respectively")
        if b.ndim == 1:
            raise RuntimeError(f"size mismatch, got input ({a.shape[-2]}), mat "
                               f"({a.shape[-2]}x{a.shape[-1]}), vec ({b.shape[0]})")
        left = "x".join(str(n) for n in (a.shape if a.ndim <= 2 else
                                          (int(np.prod(a.shape[:-1])), a.shape[-1])))
        right = "x".join(str(n) for n in b.shape[-2:])
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({left} and {right})")
    return MatMul.apply(a, b)


def _c_name(dtype):
    return {"float32": "float", "float64": "double", "int32": "int", "int64": "long int",
            "bool": "bool"}[dtype.name]
