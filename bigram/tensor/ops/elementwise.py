"""Elementwise operations: arithmetic with broadcasting, unary math, comparisons, casts.

Each differentiable op is a Function whose backward sits right under its
forward. Binary ops promote dtypes as torch does, broadcast as numpy does, and
hand their backward's gradients to `unbroadcast` to get each input's shape back.
"""

import numpy as np

from .. import dtypes
from ..autograd import Function, _grad_mode, is_grad_enabled, unbroadcast
from ..tensor import _DTYPES, Tensor, _is_scalar


def check_broadcast(a_shape, b_shape):
    """Raise torch's message, naming both shapes, when two shapes cannot broadcast."""
    if a_shape == b_shape:
        return
    for offset in range(1, min(len(a_shape), len(b_shape)) + 1):
        a, b = a_shape[-offset], b_shape[-offset]
        if a != b and a != 1 and b != 1:
            dim = max(len(a_shape), len(b_shape)) - offset
            raise RuntimeError(
                f"The size of tensor a ({a}) must match the size of tensor b ({b}) at "
                f"non-singleton dimension {dim} (shapes {list(a_shape)} and {list(b_shape)} "
                "do not broadcast)")


def as_tensor_operand(x, dtype):
    """A Tensor for `x`; Python and numpy scalars become constants of `dtype`."""
    if isinstance(x, Tensor):
        return x
    if _is_scalar(x):
        return Tensor._wrap(np.asarray(x, dtype=dtype.numpy))
    if isinstance(x, np.ndarray):
        return Tensor._wrap(x)
    raise TypeError(f"unsupported operand type: {type(x).__name__}")


def common_result_type(a, b):
    """The result dtype of the everyday cases (two tensors of one dtype, a tensor and a
    Python number that cannot change its category), or None for the general rules."""
    if type(a) is Tensor:
        kind = a._data.dtype.kind
        if type(b) is Tensor:
            return _DTYPES[a._data.dtype] if a._data.dtype == b._data.dtype else None
        if (type(b) is float and kind == "f") or (type(b) is int and kind in "fi"):
            return _DTYPES[a._data.dtype]
    elif type(b) is Tensor:
        kind = b._data.dtype.kind
        if (type(a) is float and kind == "f") or (type(a) is int and kind in "fi"):
            return _DTYPES[b._data.dtype]
    return None


def binary_operands(a, b, true_division=False):
    """Both operands as tensors, plus the dtype the result takes."""
    out = common_result_type(a, b) or dtypes.result_type(a, b)
    if true_division and not out.is_floating_point:
        out = dtypes.default_float()
    if type(a) is not Tensor:
        a = as_tensor_operand(a, out)
    if type(b) is not Tensor:
        b = as_tensor_operand(b, out)
    check_broadcast(a._data.shape, b._data.shape)
    return a, b, out


class Add(Function):
    name = "AddBackward0"

    def forward(self, a, b, dtype):
        self.shapes = a.shape, b.shape
        if a.dtype == dtype and b.dtype == dtype:
            return np.add(a, b)
        return np.add(a, b, dtype=dtype)

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(g, self.shapes[1])


class Sub(Function):
    name = "SubBackward0"

    def forward(self, a, b, dtype):
        self.shapes = a.shape, b.shape
        return np.subtract(a, b, dtype=dtype)

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(-g, self.shapes[1])


class Rsub(Sub):
    """`scalar - tensor`: torch records it under its own name."""

    name = "RsubBackward1"


class Mul(Function):
    name = "MulBackward0"
    saves_inputs = (0, 1)

    def forward(self, a, b, dtype):
        self.a, self.b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
        return np.multiply(self.a, self.b)

    def backward(self, g):
        return unbroadcast(g * self.b, self.a.shape), unbroadcast(g * self.a, self.b.shape)


class AddScalar(Function):
    """tensor + number (and tensor - number): the number is a constant, not an input of
    the graph, so nothing is wrapped or summed for it. numpy computes a Python number
    with an array in the array's dtype, as torch does."""

    name = "AddBackward0"

    def forward(self, a, scalar, dtype):
        return np.add(a if a.dtype == dtype else a.astype(dtype), scalar)

    def backward(self, g):
        return g


class SubScalar(AddScalar):
    name = "SubBackward0"

    def forward(self, a, scalar, dtype):
        return np.subtract(a if a.dtype == dtype else a.astype(dtype), scalar)


class RsubScalar(AddScalar):
    """number - tensor."""

    name = "RsubBackward1"

    def forward(self, a, scalar, dtype):
        return np.subtract(scalar, a if a.dtype == dtype else a.astype(dtype))

    def backward(self, g):
        return -g


class MulScalar(Function):
    """tensor * number, the update step's `-lr * p.grad`."""

    name = "MulBackward0"

    def forward(self, a, scalar, dtype):
        self.scalar = scalar
        return np.multiply(a if a.dtype == dtype else a.astype(dtype), scalar)

    def backward(self, g):
        return g * self.scalar


def _scalar_operation(tensor, scalar, node):
    """`node` applied to a tensor and a Python number, or None to take the general path."""
    kind = type(scalar)
    if (kind is float or kind is int) and type(tensor) is Tensor:
        out = common_result_type(tensor, scalar) or dtypes.result_type(tensor, scalar)
        if out is not dtypes.bool_:
            return node.apply(tensor, scalar=scalar, dtype=out.numpy)
    return None


class Div(Function):
    name = "DivBackward0"
    saves_inputs = (0, 1)

    def forward(self, a, b, dtype):
        self.a, self.b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.divide(self.a, self.b)

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_a = g / self.b
            grad_b = -g * self.a / (self.b * self.b)
        return unbroadcast(grad_a, self.a.shape), unbroadcast(grad_b, self.b.shape)


class Pow(Function):
    """tensor ** tensor (PowBackward1); scalar exponents use PowScalar."""

    name = "PowBackward1"
    saves_inputs = (0, 1)
    saves_output = True

    def forward(self, a, b, dtype):
        self.a, self.b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            self.out = np.power(self.a, self.b)
        return self.out

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            grad_a = g * self.b * np.power(self.a, self.b - 1)
            grad_b = g * self.out * np.log(self.a)
        # torch defines d(a**b)/db as 0 where a == 0 and b >= 0, instead of nan.
        grad_b = np.where((self.a == 0) & (self.b >= 0), 0, grad_b)
        return unbroadcast(grad_a, self.a.shape), unbroadcast(grad_b, self.b.shape)


class PowScalar(Function):
    """tensor ** number."""

    name = "PowBackward0"
    saves_inputs = (0,)

    def forward(self, a, exponent, dtype):
        self.a, self.exponent = a.astype(dtype, copy=False), exponent
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.power(self.a, np.asarray(exponent, dtype=dtype))

    def backward(self, g):
        e = self.exponent
        if e == 0:
            return np.zeros_like(g)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return g * (e * np.power(self.a, np.asarray(e - 1, dtype=self.a.dtype)))


class RpowScalar(Function):
    """number ** tensor, e.g. the learning-rate sweep `10 ** lre`."""

    name = "PowBackward2"
    saves_output = True

    def forward(self, exponent, base, dtype):
        self.log_base = np.log(np.asarray(base, dtype=dtype))
        with np.errstate(over="ignore"):
            self.out = np.power(np.asarray(base, dtype=dtype), exponent.astype(dtype, copy=False))
        return self.out

    def backward(self, g):
        return g * self.out * self.log_base


def add(a, b):
    """a + b with broadcasting and torch's dtype promotion."""
    if type(a) is not Tensor or type(b) is not Tensor:
        fast = (_scalar_operation(a, b, AddScalar) if type(a) is Tensor
                else _scalar_operation(b, a, AddScalar))
        if fast is not None:
            return fast
    a, b, out = binary_operands(a, b)
    return Add.apply(a, b, dtype=out.numpy)


def sub(a, b):
    """a - b."""
    reflected = not isinstance(a, Tensor)
    if reflected or type(b) is not Tensor:
        fast = (_scalar_operation(b, a, RsubScalar) if reflected
                else _scalar_operation(a, b, SubScalar))
        if fast is not None:
            return fast
    a, b, out = binary_operands(a, b)
    if out is dtypes.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    return (Rsub if reflected else Sub).apply(a, b, dtype=out.numpy)


def mul(a, b):
    """a * b."""
    if type(a) is not Tensor or type(b) is not Tensor:
        fast = (_scalar_operation(a, b, MulScalar) if type(a) is Tensor
                else _scalar_operation(b, a, MulScalar))
        if fast is not None:
            return fast
    a, b, out = binary_operands(a, b)
    return Mul.apply(a, b, dtype=out.numpy)


def div(a, b):
    """a / b, true division: integers divide to float32, as in torch."""
    if not isinstance(a, Tensor):
        # torch computes `2 / t` as `2 * t.reciprocal()` and records MulBackward0.
        return mul(a, reciprocal(b))
    a, b, out = binary_operands(a, b, true_division=True)
    return Div.apply(a, b, dtype=out.numpy)


def reciprocal(a):
    """1 / a."""
    a, _, out = binary_operands(a, 1, true_division=True)
    return PowScalar.apply(a, exponent=-1, dtype=out.numpy)


def pow(a, b):  # noqa: A001 - torch's name
    """a ** b for tensor or number base and exponent."""
    if isinstance(a, Tensor) and _is_scalar(b):
        out = dtypes.result_type(a, b)
        if not out.is_floating_point and b < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return PowScalar.apply(a, exponent=b, dtype=out.numpy)
    if _is_scalar(a):
        out = dtypes.result_type(a, b)
        return RpowScalar.apply(b, base=a, dtype=out.numpy)
    a, b, out = binary_operands(a, b)
    return Pow.apply(a, b, dtype=out.numpy)


def floor_divide(a, b):
    """a // b, rounding toward negative infinity (no gradient)."""
    a, b, out = binary_operands(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return Tensor._wrap(np.floor_divide(a._data, b._data, dtype=out.numpy))


def remainder(a, b):
    """a % b with the sign of b, as Python and torch (no gradient)."""
    a, b, out = binary_operands(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return Tensor._wrap(np.remainder(a._data, b._data, dtype=out.numpy))


# ---------------------------------------------------------------------- unary math


class Neg(Function):
    name = "NegBackward0"

    def forward(self, a):
        if a.dtype == np.bool_:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return np.negative(a)

    def backward(self, g):
        return -g


class Exp(Function):
    name = "ExpBackward0"
    saves_output = True

    def forward(self, a):
        with np.errstate(over="ignore"):
            self.out = np.exp(_floating(a))
        return self.out

    def backward(self, g):
        return g * self.out


class Log(Function):
    name = "LogBackward0"
    saves_inputs = (0,)

    def forward(self, a):
        self.a = _floating(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(self.a)

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / self.a


class Log10(Function):
    name = "Log10Backward0"
    saves_inputs = (0,)

    def forward(self, a):
        self.a = _floating(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(self.a)

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (self.a * self.a.dtype.type(np.log(10)))


class Tanh(Function):
    name = "TanhBackward0"
    saves_output = True

    def forward(self, a):
        self.out = np.tanh(a if a.dtype.kind == "f" else _floating(a))
        return self.out

    def backward(self, g):
        return g * (1 - self.out * self.out)


class Sigmoid(Function):
    name = "SigmoidBackward0"
    saves_output = True

    def forward(self, a):
        a = _floating(a)
        with np.errstate(over="ignore"):
            self.out = (1 / (1 + np.exp(-a))).astype(a.dtype, copy=False)
        return self.out

    def backward(self, g):
        return g * self.out * (1 - self.out)


class Relu(Function):
    name = "ReluBackward0"
    saves_output = True

    def forward(self, a):
        self.out = np.maximum(a, 0).astype(a.dtype, copy=False)
        return self.out

    def backward(self, g):
        return g * (self.out > 0)


class Sqrt(Function):
    name = "SqrtBackward0"
    saves_output = True

    def forward(self, a):
        with np.errstate(invalid="ignore"):
            self.out = np.sqrt(_floating(a))
        return self.out

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (2 * self.out)


class Abs(Function):
    name = "AbsBackward0"
    saves_inputs = (0,)

    def forward(self, a):
        self.sign = np.sign(a)
        return np.abs(a)

    def backward(self, g):
        return g * self.sign


class Clamp(Function):
    name = "ClampBackward1"
    saves_inputs = (0,)

    def forward(self, a, low, high):
        self.inside = np.ones(a.shape, dtype=bool)
        if low is not None:
            self.inside &= a >= low
        if high is not None:
            self.inside &= a <= high
        return np.clip(a, low, high).astype(a.dtype, copy=False)

    def backward(self, g):
        return g * self.inside


def _floating(a):
    """Integer inputs to exp/log/... compute in the default float, as torch does."""
    return a if a.dtype.kind == "f" else a.astype(np.float32)


def neg(a):
    """-a."""
    return Neg.apply(a)


def exp(a):
    """e ** a."""
    return Exp.apply(_as_tensor(a))


def log(a):
    """Natural logarithm (log 0 = -inf, as in torch)."""
    return Log.apply(_as_tensor(a))


def log10(a):
    """Base-10 logarithm, as the lectures track their losses."""
    return Log10.apply(_as_tensor(a))


def tanh(a):
    """Hyperbolic tangent."""
    return Tanh.apply(_as_tensor(a))


def sigmoid(a):
    """1 / (1 + e ** -a)."""
    return Sigmoid.apply(_as_tensor(a))


def relu(a):
    """max(a, 0)."""
    return Relu.apply(_as_tensor(a))


def sqrt(a):
    """Square root."""
    return Sqrt.apply(_as_tensor(a))


def abs(a):  # noqa: A001 - torch's name
    """|a|."""
    return Abs.apply(_as_tensor(a))


def clamp(a, low=None, high=None):
    """Limit values to [low, high]; the gradient is zero where a value was clipped."""
    if low is None and high is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return Clamp.apply(a, low=low, high=high)


def _as_tensor(a):
    if isinstance(a, Tensor):
        return a
    raise TypeError(f"expected a Tensor, got {type(a).__name__}")


# ---------------------------------------------------------------------- comparisons

_COMPARISONS = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
                "gt": np.greater, "ge": np.greater_equal}


def compare(a, b, op):
    """Elementwise comparison giving a bool tensor (never part of the graph)."""
    if not isinstance(b, Tensor) and not _is_scalar(b):
        return NotImplemented
    a, b, out = binary_operands(a, b)
    data = _COMPARISONS[op](a._data.astype(out.numpy, copy=False),
                            b._data.astype(out.numpy, copy=False))
    return Tensor._wrap(np.asarray(data))


_LOGICAL = {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}


def logical(a, b, op):
    """&, |, ^ on bool or integer tensors."""
    a, b, out = binary_operands(a, b)
    if out.is_floating_point:
        raise RuntimeError(f"\"bitwise_{op}_cpu\" not implemented for 'Float'")
    return Tensor._wrap(_LOGICAL[op](a._data.astype(out.numpy), b._data.astype(out.numpy)))


def logical_not(a):
    """~a on bool or integer tensors."""
    if a.dtype.is_floating_point:
        raise RuntimeError("bitwise_not is only supported for integer and boolean tensors")
    return Tensor._wrap(np.invert(a._data))


# ---------------------------------------------------------------------- casts


class ToCopy(Function):
    name = "ToCopyBackward0"

    def forward(self, a, dtype):
        self.source = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return g.astype(self.source)


def to_dtype(a, dtype):
    """Convert to `dtype`; returns `a` itself when it already has that dtype, as torch."""
    if a.dtype is dtype:
        return a
    if a.requires_grad and not dtype.is_floating_point:
        return Tensor._wrap(a._data.astype(dtype.numpy))
    return ToCopy.apply(a, dtype=dtype.numpy)


# ---------------------------------------------------------------------- in place

_INPLACE = {"add": add, "sub": sub, "mul": mul, "div": div, "pow": pow}
_INPLACE_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
                   "pow": np.power}


def inplace(tensor, op, other):
    """`tensor op= other`, writing into tensor's storage so its views see the change."""
    data, kind = tensor._data, type(other)
    if data.dtype.kind == "f" and op != "pow":
        # The update step's case (`p.data += -lr * p.grad`): a float tensor, an operand of
        # its own dtype and shape or a Python number, and nothing to record.
        if kind is Tensor:
            operand = other._data
            plain = operand.dtype == data.dtype and operand.shape == data.shape
            tracked = other._requires_grad or other._ctx is not None
        else:
            operand, plain, tracked = other, kind is float or kind is int, False
        if plain and not (_grad_mode.enabled and (
                tracked or tensor._requires_grad or tensor._ctx is not None)):
            if op == "div":
                with np.errstate(divide="ignore", invalid="ignore"):
                    np.true_divide(data, operand, out=data)
            else:
                _INPLACE_UFUNCS[op](data, operand, out=data)
            tensor._version[0] += 1
            return tensor
    result_dtype = common_result_type(tensor, other) or dtypes.result_type(tensor, other)
    if op == "div" and not result_dtype.is_floating_point:
        result_dtype = dtypes.default_float()
    own = _DTYPES[tensor._data.dtype]
    if own is not result_dtype and (
            (result_dtype.is_floating_point and not own.is_floating_point)
            or (own is dtypes.bool_ and result_dtype is not dtypes.bool_)):
        raise RuntimeError(f"result type {_type_word(result_dtype)} can't be cast to the "
                           f"desired output type {_type_word(tensor.dtype)}")
    other_tracked = False
    if isinstance(other, Tensor):
        other_tracked = other._requires_grad or other._ctx is not None
        if other._data.shape != tensor._data.shape and other._data.ndim:
            check_broadcast(tensor.shape, other.shape)
            if np.broadcast_shapes(tensor.shape, other.shape) != tensor.shape:
                target = list(np.broadcast_shapes(tensor.shape, other.shape))
                raise RuntimeError(f"output with shape {list(tensor.shape)} doesn't match the "
                                   f"broadcast shape {target}")
    tracking = _grad_mode.enabled and (tensor._requires_grad or tensor._ctx is not None
                                       or other_tracked)
    if not tracking:
        if result_dtype is dtypes.bool_ or (op == "pow" and not result_dtype.is_floating_point):
            # Let the out-of-place op raise its own errors (bool minus, negative powers).
            _INPLACE[op](Tensor._wrap(tensor._data), other)
        operand = other._data if isinstance(other, Tensor) else other
        # The op in the result type, cast into the storage: what torch's `x op= y` does.
        if op == "div" or op == "pow":
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                _INPLACE_UFUNCS[op](tensor._data, operand, out=tensor._data,
                                    dtype=result_dtype.numpy, casting="unsafe")
        else:
            _INPLACE_UFUNCS[op](tensor._data, operand, out=tensor._data,
                                dtype=result_dtype.numpy, casting="unsafe")
        tensor._version[0] += 1
        return tensor
    result = _INPLACE[op](tracked_snapshot(tensor), other)
    commit_in_place(tensor, result)
    return tensor


def tracked_snapshot(tensor):
    """The value `tensor` holds now, as the input of an in-place op being recorded.

    Torch refuses in-place changes to leaves that require grad, and to views of them.
    """
    if tensor.is_leaf and tensor.requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    base = tensor._base
    if base is not None:
        if base.is_leaf and base.requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               "an in-place operation.")
        if tensor._view_fn is None:
            raise RuntimeError("unsupported operation: more than one element of the written-to "
                               "tensor refers to a single memory location. Please clone() the "
                               "tensor before performing the operation.")
    snapshot = Tensor._wrap(tensor._data.copy())
    snapshot._ctx, snapshot._output_nr = tensor._ctx, tensor._output_nr
    return snapshot


class CopySlices(Function):
    """The storage owner's new node after an in-place change through one of its views:
    the view's region takes its gradient from the new values, the rest from before."""

    name = "CopySlices"

    def forward(self, base, values, view_fn):
        self.view_fn = view_fn
        return base

    def backward(self, g):
        grad_base = np.array(g, copy=True)
        region = self.view_fn(grad_base)
        grad_values = region.copy()
        region[...] = 0
        return grad_base, grad_values


def commit_in_place(tensor, result):
    """Write a recorded in-place result into `tensor` and make it the tensor's history;
    through a view, the storage's owner is rebased onto a CopySlices node as well."""
    write_in_place(tensor, result._data)
    base = tensor._base
    if base is not None:
        before = Tensor._wrap(base._data)  # CopySlices reads no values, it routes gradients
        before._ctx, before._output_nr = base._ctx, base._output_nr
        rebased = CopySlices.apply(before, result, view_fn=tensor._view_fn)
        base._ctx, base._output_nr = rebased._ctx, rebased._output_nr
    tensor._ctx, tensor._output_nr = result._ctx, result._output_nr


def write_in_place(tensor, values):
    """Copy `values` into tensor's storage and bump the version its views share."""
    np.copyto(tensor._data, values, casting="unsafe")
    tensor._version[0] += 1


def fill_(tensor, value):
    """Fill every element with `value` in place."""
    if is_grad_enabled() and tensor.requires_grad and tensor.is_leaf:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    value = value.item() if isinstance(value, Tensor) else value
    tensor._data[...] = value
    tensor._version[0] += 1
    return tensor


def _type_word(dtype):
    return {"float32": "Float", "float64": "Double", "int32": "Int", "int64": "Long",
            "bool": "Bool"}[dtype.name]


# ---------------------------------------------------------------------- selection


class Where(Function):
    name = "WhereBackward0"

    def forward(self, a, b, condition, dtype):
        self.condition, self.shapes = condition, (a.shape, b.shape)
        return np.where(condition, a.astype(dtype, copy=False), b.astype(dtype, copy=False))

    def backward(self, g):
        zero = g.dtype.type(0)
        return (unbroadcast(np.where(self.condition, g, zero), self.shapes[0]),
                unbroadcast(np.where(self.condition, zero, g), self.shapes[1]))


def where(condition, a, b):
    """`a` where `condition` is True, else `b` (broadcasting all three)."""
    if condition.dtype is not dtypes.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {_type_word(condition.dtype)}")
    a, b, out = binary_operands(a, b)
    check_broadcast(condition.shape, np.broadcast_shapes(a.shape, b.shape))
    return Where.apply(a, b, condition=condition._data, dtype=out.numpy)
