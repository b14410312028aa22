"""Analytic gradients equal central finite differences in float64, for every differentiable op.

Hypothesis picks the shapes (broadcastable pairs included) and the values; a
second test builds random expression trees over broadcastable inputs.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays, mutually_broadcastable_shapes

import bigram.tensor as torch
import bigram.tensor.functional as F

EPS = 1e-6


def numeric_gradients(fn, arrays_in, upstream):
    """d/dx of sum(fn(x) * upstream) by central differences, one element at a time."""
    grads = []
    for k, base in enumerate(arrays_in):
        grad = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            values = []
            for sign in (1, -1):
                shifted = [a.copy() for a in arrays_in]
                shifted[k][index] += sign * EPS
                out = fn(*[torch.tensor(a) for a in shifted])
                values.append(float((out.numpy() * upstream).sum()))
            grad[index] = (values[0] - values[1]) / (2 * EPS)
        grads.append(grad)
    return grads


def check(fn, *arrays_in, seed=0):
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays_in]
    out = fn(*inputs)
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    (out * torch.tensor(upstream)).sum().backward()
    expected = numeric_gradients(fn, [np.array(a, dtype=np.float64) for a in arrays_in], upstream)
    for t, numeric in zip(inputs, expected):
        # An input the expression never reads keeps grad None, as in torch.
        analytic = np.zeros_like(numeric) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6)


def float_arrays(shape, low=-2.0, high=2.0, unique=False):
    if unique:
        # Distinct values on a 0.001 grid stay far (relative to EPS) from ties and kinks.
        grid = st.integers(int(low * 1000), int(high * 1000)).map(lambda k: k / 1000.0)
        return arrays(np.float64, shape, elements=grid, unique=True)
    return arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False))


def positive_arrays(shape):
    return arrays(np.float64, shape, elements=st.floats(0.5, 2.0))


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "maximum": lambda a, b: torch.max(a, b * 1.01 + 0.001),
    "where": lambda a, b: torch.where(a > 1.2, a, b),
}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(BINARY)), mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                                     max_side=3), st.data())
def test_binary_ops_broadcast_gradients(op, shapes, data):
    a_shape, b_shape = shapes.input_shapes
    a = data.draw(positive_arrays(a_shape))
    b = data.draw(positive_arrays(b_shape) if op in ("div",) else float_arrays(b_shape, -1, 1))
    check(BINARY[op], a, b)


UNARY = {
    "exp": lambda a: a.exp(),
    "log": lambda a: (a * a + 0.5).log(),
    "tanh": lambda a: torch.tanh(a),
    "sigmoid": lambda a: a.sigmoid(),
    "sqrt": lambda a: (a * a + 0.5).sqrt(),
    "abs": lambda a: (a + 0.01371).abs(),
    "neg": lambda a: -a,
    "relu": lambda a: (a + 0.00037).relu(),
    "pow_scalar": lambda a: a ** 3 + (a * a + 1) ** -0.5,
    "rpow": lambda a: 2 ** a,
    "clone": lambda a: a.clone() * 2,
    "sum": lambda a: a.sum(),
    "sum_last_keepdim": lambda a: a.sum(-1, keepdim=True) * a,
    "mean_first": lambda a: a.mean(0),
    "max_all": lambda a: a.max(),
    "max_last": lambda a: a.max(-1).values,
    "min_first_keepdim": lambda a: a.min(0, keepdim=True).values,
    "var": lambda a: a.var() if a.numel() > 1 else a.sum(),
    "softmax": lambda a: F.softmax(a, dim=-1),
    "log_softmax": lambda a: F.log_softmax(a, dim=0),
    "view_flat": lambda a: a.view(-1) * torch.arange(a.numel()).double(),
    "reshape_T": lambda a: a.T.reshape(-1),
    "permute": lambda a: a.permute(*reversed(range(a.ndim))) * 1.5,
    "unsqueeze_expand": lambda a: a.unsqueeze(0).expand(2, *a.shape),
    "cat_self": lambda a: torch.cat([a, a * 2], 0),
    "stack_self": lambda a: torch.stack([a, a.exp()], -1),
    "unbind": lambda a: torch.unbind(a, 0)[-1] * 3,
    "index_repeats": lambda a: a[[0, 0, -1]],
    "index_slice": lambda a: a[1:],
    "clamp": lambda a: a.clamp(-0.4037, 0.6091),
    "log10": lambda a: (a * a + 0.5).log10(),
    "std_first_keepdim": lambda a: a.std(0, keepdim=True) if a.shape[0] > 1 else a * 1,
    "var_all_dims_population": lambda a: a.var(tuple(range(a.ndim)), correction=0),
    "batchnorm": lambda a: (a - a.mean(0, keepdim=True)) / torch.sqrt(
        a.var(0, keepdim=True, unbiased=False) + 1e-5),
    "squeeze_unsqueeze": lambda a: a.unsqueeze(1).squeeze(1) * a.T.T,
    "inplace_through_view": lambda a: _scaled_first_row(a),
}


def _scaled_first_row(a):
    """An in-place change through a view of a computed tensor (torch's CopySlices)."""
    c = a * 1
    row = c[0]
    row *= 3
    return c * c


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(UNARY)), array_shapes(min_dims=1, max_dims=3, max_side=4),
       st.data())
def test_unary_and_shape_ops_gradients(op, shape, data):
    # Distinct values keep max/min away from ties, where they have no derivative.
    check(UNARY[op], data.draw(float_arrays(shape, unique=True)))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.data())
def test_matmul_gradients(n, k, m, data):
    a = data.draw(float_arrays((n, k)))
    b = data.draw(float_arrays((k, m)))
    v = data.draw(float_arrays((k,)))
    check(lambda x, y: x @ y, a, b)
    check(lambda x, y: x @ y, a, v)
    check(lambda x, y: x @ y, v, b)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(2, 5), st.data())
def test_cross_entropy_and_one_hot_gradients(n, classes, data):
    logits = data.draw(float_arrays((n, classes), -5, 5))
    targets = torch.tensor(data.draw(st.lists(st.integers(0, classes - 1), min_size=n,
                                              max_size=n)))
    weight = torch.tensor(data.draw(float_arrays((classes,), 0.1, 2.0)))
    check(lambda z: F.cross_entropy(z, targets), logits)
    check(lambda z: F.cross_entropy(z * 100, targets, reduction="sum") / 100, logits)
    check(lambda z: F.cross_entropy(z, targets, weight=weight), logits)
    check(lambda z: F.cross_entropy(z, targets, reduction="none"), logits)
    check(lambda W: (F.one_hot(targets, classes).double() @ W).tanh(),
          data.draw(float_arrays((classes, 3))))


# ---------------------------------------------------------------------- random expressions

LEAVES = ("a", "b", "c")
UNARY_NODES = {"tanh": torch.tanh, "exp_tanh": lambda x: (x.tanh()).exp(), "neg": lambda x: -x,
               "square": lambda x: x * x, "rowsum": lambda x: x.sum(-1, keepdim=True),
               "softmax": lambda x: F.softmax(x, dim=-1)}
BINARY_NODES = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y,
                "mul": lambda x, y: x * y, "div": lambda x, y: x / (y * y + 1)}


def expressions(depth):
    if depth == 0:
        return st.sampled_from(LEAVES)
    smaller = expressions(depth - 1)
    return st.one_of(
        st.sampled_from(LEAVES),
        st.tuples(st.sampled_from(sorted(UNARY_NODES)), smaller),
        st.tuples(st.sampled_from(sorted(BINARY_NODES)), smaller, smaller))


def evaluate(tree, env):
    if isinstance(tree, str):
        return env[tree]
    if len(tree) == 2:
        return UNARY_NODES[tree[0]](evaluate(tree[1], env))
    return BINARY_NODES[tree[0]](evaluate(tree[1], env), evaluate(tree[2], env))


@settings(max_examples=60, deadline=None)
@given(expressions(3), mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
       st.data())
def test_random_expressions_match_finite_differences(tree, shapes, data):
    values = [data.draw(float_arrays(s, -1.5, 1.5)) for s in shapes.input_shapes]
    check(lambda a, b, c: evaluate(tree, {"a": a, "b": b, "c": c}), *values)
