"""The engine's reference cases, written once for torch and for bigram.tensor.

Each op case is code that sets `out` from named inputs; scripts/make_torch_fixtures.py
runs it under PyTorch and tests/test_ops.py runs it under this engine.
Input specs: "f:3,4" float64 normal values, "f32:3,4" float32, "pos:3,4"
positive floats, "i<n>:5" int64 indices below n, "mask:3,4" booleans.
"""

import zlib

import numpy as np


def _case(name, code, **inputs):
    return {"name": name, "code": code, "inputs": inputs}


def make_inputs(case):
    """Deterministic input arrays for a case (seeded by its name)."""
    rng = np.random.default_rng(zlib.crc32(case["name"].encode()))
    arrays = {}
    for name, spec in case["inputs"].items():
        kind, _, dims = spec.partition(":")
        shape = tuple(int(d) for d in dims.split(",") if d)
        if kind == "f":
            arrays[name] = rng.standard_normal(shape)
        elif kind == "f32":
            arrays[name] = rng.standard_normal(shape).astype(np.float32)
        elif kind == "pos":
            arrays[name] = rng.uniform(0.5, 2.0, shape)
        elif kind.startswith("i"):
            arrays[name] = rng.integers(0, int(kind[1:]), shape).astype(np.int64)
        elif kind == "mask":
            arrays[name] = rng.random(shape) < 0.5
        else:
            raise ValueError(spec)
    return arrays


def case_upstream(name, shape):
    """The fixed upstream gradient a case's output is contracted with before backward."""
    return np.random.default_rng(zlib.crc32(name.encode()) + 1).standard_normal(shape)


BROADCAST_PAIRS = [("3,4", "3,4"), ("3,4", "4"), ("3,1", "1,4"), ("2,3,4", "3,1"),
                   ("", "3"), ("5,1", "5,5")]

OP_CASES = []
for _op, _sym in [("add", "+"), ("sub", "-"), ("mul", "*"), ("div", "/")]:
    for _a, _b in BROADCAST_PAIRS:
        OP_CASES.append(_case(f"{_op}[{_a}|{_b}]", f"out = a {_sym} b",
                              a=f"f:{_a}", b=f"pos:{_b}" if _op == "div" else f"f:{_b}"))
OP_CASES += [
    _case("radd", "out = 2.5 + a", a="f:3,4"),
    _case("rsub", "out = 2.5 - a", a="f:3,4"),
    _case("rmul", "out = 3 * a", a="f:3,4"),
    _case("rdiv", "out = 2 / a", a="pos:3,4"),
    _case("pow2", "out = a ** 2", a="f:3,4"),
    _case("pow_half", "out = a ** 0.5", a="pos:3,4"),
    _case("pow_neg", "out = a ** -1.5", a="pos:3,4"),
    _case("rpow", "out = 10 ** a", a="f:3,4"),
    _case("pow_tensor", "out = a ** b", a="pos:3,4", b="f:4"),
    _case("neg", "out = -a", a="f:3,4"),
    _case("exp", "out = a.exp()", a="f:3,4"),
    _case("torch_exp", "out = torch.exp(a)", a="f:3,4"),
    _case("log", "out = a.log()", a="pos:3,4"),
    _case("torch_log", "out = torch.log(a)", a="pos:3,4"),
    _case("tanh", "out = a.tanh()", a="f:3,4"),
    _case("torch_tanh", "out = torch.tanh(a)", a="f:3,4"),
    _case("sigmoid", "out = a.sigmoid()", a="f:3,4"),
    _case("relu", "out = a.relu()", a="f:3,4"),
    _case("sqrt", "out = a.sqrt()", a="pos:3,4"),
    _case("abs", "out = a.abs()", a="f:3,4"),
    _case("clamp", "out = a.clamp(-0.5, 0.5)", a="f:3,4"),
    _case("sum_all", "out = a.sum()", a="f:3,4"),
    _case("sum0", "out = a.sum(0)", a="f:3,4"),
    _case("sum1_keepdim", "out = a.sum(1, keepdim=True)", a="f:3,4"),
    _case("sum1_keepdims", "out = a.sum(1, keepdims=True)", a="f:3,4"),
    _case("sum_neg_dim", "out = a.sum(-1)", a="f:2,3,4"),
    _case("sum_tuple", "out = a.sum((0, 2))", a="f:2,3,4"),
    _case("mean_all", "out = a.mean()", a="f:3,4"),
    _case("mean0_keepdim", "out = a.mean(0, keepdim=True)", a="f:3,4"),
    _case("mean_dim1", "out = a.mean(dim=1)", a="f:3,4"),
    _case("max_all", "out = a.max()", a="f:3,4"),
    _case("max_dim", "out = a.max(1).values", a="f:3,4"),
    _case("max_dim_keepdim", "out = a.max(0, keepdim=True).values", a="f:3,4"),
    _case("min_all", "out = a.min()", a="f:3,4"),
    _case("min_dim", "out = a.min(dim=1).values", a="f:3,4"),
    _case("max_pair", "out = torch.max(a, b)", a="f:3,4", b="f:4"),
    _case("var", "out = a.var(1)", a="f:3,4"),
    _case("std", "out = a.std()", a="f:3,4"),
    _case("view", "out = a.view(2, 6)", a="f:3,4"),
    _case("view_infer", "out = a.view(-1)", a="f:3,4"),
    _case("reshape_copy", "out = a.T.reshape(12)", a="f:3,4"),
    _case("T", "out = a.T", a="f:3,4"),
    _case("t", "out = a.t()", a="f:3,4"),
    _case("permute", "out = a.permute(2, 0, 1)", a="f:2,3,4"),
    _case("transpose", "out = a.transpose(0, 2)", a="f:2,3,4"),
    _case("unsqueeze", "out = a.unsqueeze(1)", a="f:3,4"),
    _case("squeeze", "out = a.squeeze()", a="f:3,1,4"),
    _case("flatten", "out = a.flatten()", a="f:2,3,4"),
    _case("expand", "out = a.expand(3, 4)", a="f:4"),
    _case("clone", "out = a.clone()", a="f:3,4"),
    _case("cat0", "out = torch.cat([a, b])", a="f:2,4", b="f:3,4"),
    _case("cat1", "out = torch.cat((a, b), 1)", a="f:3,2", b="f:3,4"),
    _case("stack", "out = torch.stack([a, b], 1)", a="f:3,4", b="f:3,4"),
    _case("unbind", "out = torch.unbind(a, 1)[2]", a="f:3,4"),
    _case("unbind_cat", "out = torch.cat(torch.unbind(a, 1), 0)", a="f:3,4,2"),
    _case("split", "out = a.split(2, 1)[1]", a="f:3,5"),
    _case("index_int", "out = a[1]", a="f:3,4"),
    _case("index_int_int", "out = a[1, 2]", a="f:3,4"),
    _case("index_chain", "out = a[1][2]", a="f:3,4"),
    _case("index_slice", "out = a[:, 1:3]", a="f:3,4"),
    _case("index_step", "out = a[::2]", a="f:5,4"),
    _case("index_none", "out = a[None]", a="f:3,4"),
    _case("index_ellipsis", "out = a[..., 1]", a="f:2,3,4"),
    _case("index_list", "out = a[[0, 2, 2, 0]]", a="f:3,4"),
    _case("index_repeats", "out = a[i]", a="f:5,3", i="i5:12"),
    _case("index_2d", "out = a[i]", a="f:27,2", i="i27:6,3"),
    _case("index_pairs", "out = a[i, j]", a="f:5,6", i="i5:9", j="i6:9"),
    _case("index_arange", "out = a[torch.arange(4), i]", a="f:4,6", i="i6:4"),
    _case("index_mask", "out = a[m]", a="f:3,4", m="mask:3,4"),
    _case("index_neg", "out = a[-1, -2]", a="f:3,4"),
    _case("matmul_mm", "out = a @ b", a="f:3,4", b="f:4,5"),
    _case("matmul_mv", "out = a @ b", a="f:3,4", b="f:4"),
    _case("matmul_dot", "out = a @ b", a="f:4", b="f:4"),
    _case("matmul_vm", "out = a @ b", a="f:4", b="f:4,5"),
    _case("matmul_batch", "out = a @ b", a="f:2,3,4", b="f:4,5"),
    _case("matmul_fn", "out = torch.matmul(a, b)", a="f:3,4", b="f:4,2"),
    _case("softmax", "out = F.softmax(a, dim=1)", a="f:3,4"),
    _case("softmax0", "out = F.softmax(a, dim=0)", a="f:3,4"),
    _case("log_softmax", "out = F.log_softmax(a, dim=1)", a="f:3,4"),
    _case("softmax_big", "out = F.softmax(a * 1000, dim=1)", a="f:3,4"),
    _case("cross_entropy", "out = F.cross_entropy(a, t)", a="f:5,4", t="i4:5"),
    _case("cross_entropy_sum", "out = F.cross_entropy(a, t, reduction='sum')", a="f:5,4",
          t="i4:5"),
    _case("cross_entropy_none", "out = F.cross_entropy(a, t, reduction='none')", a="f:5,4",
          t="i4:5"),
    _case("cross_entropy_weight", "out = F.cross_entropy(a, t, weight=w.detach().abs())",
          a="f:6,4", t="i4:6", w="f:4"),
    _case("cross_entropy_100", "out = F.cross_entropy(a * 100, t)", a="f:5,4", t="i4:5"),
    _case("cross_entropy_1000", "out = F.cross_entropy(a * 1000, t)", a="f:5,4", t="i4:5"),
    _case("cross_entropy_1d", "out = F.cross_entropy(a, t[0])", a="f:4", t="i4:1"),
    _case("cross_entropy_ignore", "t[1] = 2\nout = F.cross_entropy(a, t, ignore_index=2)",
          a="f:5,4", t="i4:5"),
    _case("cross_entropy_f32", "out = F.cross_entropy(a, t)", a="f32:7,27", t="i27:7"),
    _case("nll_loss", "out = F.nll_loss(F.log_softmax(a, dim=1), t)", a="f:5,4", t="i4:5"),
    _case("one_hot_matmul", "out = F.one_hot(t, num_classes=5).double() @ W", W="f:5,5",
          t="i5:9"),
    _case("lecture_loss", "counts = (F.one_hot(t, num_classes=6).double() @ W).exp()\n"
          "probs = counts / counts.sum(1, keepdims=True)\n"
          "out = -probs[torch.arange(8), y].log().mean() + 0.01 * (W ** 2).mean()",
          W="f:6,6", t="i6:8", y="i6:8"),
    _case("diamond", "out = (a * a + a).sum() * a", a="f:3"),
    _case("reuse_chain", "h = a.tanh()\nout = h * h.exp() + h", a="f:3,4"),
    _case("mlp", "emb = C[X]\nh = torch.tanh(emb.view(-1, 4) @ W1 + b1)\n"
          "out = F.cross_entropy(h @ W2 + b2, Y)",
          C="f:27,2", X="i27:8,2", W1="f:4,5", b1="f:5", W2="f:5,27", b2="f:27", Y="i27:8"),
    _case("where", "out = torch.where(m, a, b)", m="mask:3,4", a="f:3,4", b="f:4"),
    _case("masked_fill", "out = a.masked_fill(m, 0.5)", a="f:3,4", m="mask:3,4"),
    _case("gather", "out = a.gather(1, i)", a="f:3,4", i="i4:3,5"),
    _case("inplace_add", "c = a * 1\nc += b\nout = c * 2", a="f:3,4", b="f:4"),
    _case("inplace_div_keepdim", "c = a.exp()\nc = c / c.sum(1, keepdim=True)\nout = c",
          a="f:3,4"),
    _case("setitem", "c = a * 1\nc[0] = b\nout = c", a="f:3,4", b="f:4"),
    _case("setitem_adv", "c = a * 1\nc[i] = 0.0\nout = c", a="f:5,2", i="i5:2"),
    _case("float_to_double", "out = a.double() * 2", a="f32:3,4"),
    _case("int_plus_float", "out = t + 0.5", t="i9:4"),
    _case("int_div_int", "out = t / (s + 1)", t="i9:4", s="i9:4"),
    _case("int32_sum", "out = t.int().sum()", t="i9:4,3"),
    _case("float32_sum", "out = a.sum(1)", a="f32:7,300"),
    _case("float32_mean_exp", "out = (a.exp() / a.exp().sum(1, keepdim=True)).log().mean()",
          a="f32:9,27"),
]

# What makemore parts 2 to 5 add (karpathy/nn-zero-to-hero): loss tracking in log10,
# batch normalisation's statistics, manual backprop's pieces, in-place updates
# through views, and the histograms of activations and gradients.
OP_CASES += [
    _case("log10", "out = a.log10()", a="pos:3,4"),
    _case("torch_log10", "out = torch.log10(a)", a="pos:3,4"),
    _case("loss_log10", "out = F.cross_entropy(a, t).log10()", a="f:6,5", t="i5:6"),
    _case("std_population", "out = a.std(unbiased=False)", a="f:3,4"),
    _case("std_bool", "out = a.std(False)", a="f:3,4"),
    _case("std0_keepdim", "out = a.std(0, keepdim=True)", a="f:6,4"),
    _case("std_positional", "out = a.std(1, False, True)", a="f:3,4"),
    _case("torch_std", "out = torch.std(a, dim=1)", a="f:3,4"),
    _case("var0_keepdim_unbiased", "out = a.var(0, keepdim=True, unbiased=True)", a="f:6,4"),
    _case("var_correction0", "out = a.var(1, correction=0)", a="f:3,4"),
    _case("var_dims_keepdim", "out = a.var((0, 1), keepdim=True)", a="f:4,3,5"),
    _case("torch_var", "out = torch.var(a, 0, keepdim=True)", a="f:3,4"),
    _case("mean_dims_keepdim", "out = a.mean((0, 1), keepdim=True)", a="f:4,3,5"),
    _case("batchnorm_std", "out = g * (a - a.mean(0, keepdim=True)) / a.std(0, keepdim=True)"
          " + b", a="f32:8,5", g="f32:1,5", b="f32:1,5"),
    _case("batchnorm_var", "xmean = a.mean((0, 1), keepdim=True)\n"
          "xvar = a.var((0, 1), keepdim=True)\n"
          "out = g * ((a - xmean) / torch.sqrt(xvar + 1e-5)) + b", a="f:4,2,5", g="f:5", b="f:5"),
    _case("batchnorm_manual", "n = 6\nmeani = 1/n*a.sum(0, keepdim=True)\ndiff = a - meani\n"
          "var = 1/(n-1)*(diff**2).sum(0, keepdim=True)\nvar_inv = (var + 1e-5)**-0.5\n"
          "out = g * (diff * var_inv) + b", a="f:6,4", g="f:1,4", b="f:1,4"),
    _case("running_mean_no_grad", "r = torch.zeros((1, 4))\nwith torch.no_grad():\n"
          "    r = 0.999 * r + 0.001 * a.mean(0, keepdim=True)\nout = r", a="f:5,4"),
    _case("no_grad_decorator", "@torch.no_grad()\ndef f(x):\n    return x * 2\n"
          "out = f(a) + 1", a="f:3,4"),
    _case("all", "out = torch.all(a > -5)", a="f:3,4"),
    _case("all_false", "out = torch.all(a > 0)", a="f:3,4"),
    _case("any", "out = torch.any(a > 1)", a="f:3,4"),
    _case("all_method", "out = (a == a.clone()).all()", a="f:3,4"),
    _case("all_dim", "out = torch.all(a > -0.5, dim=1)", a="f:3,4"),
    _case("any_dim_keepdim", "out = (a > 0.5).any(0, keepdim=True)", a="f:3,4"),
    _case("all_int", "out = torch.all(t)", t="i3:5"),
    _case("allclose_near", "out = torch.tensor(torch.allclose(a, a + 1e-9))", a="f:3,4"),
    _case("allclose_far", "out = torch.tensor(torch.allclose(a, b))", a="f:3,4", b="f:3,4"),
    _case("zeros_like", "out = torch.zeros_like(a) + a.sum()", a="f32:3,4"),
    _case("ones_like", "out = torch.ones_like(a) * a", a="f:3,4"),
    _case("zeros_like_int", "out = torch.zeros_like(t)", t="i9:4"),
    _case("histogram", "out = torch.histogram(a.detach(), bins=10)[0]", a="f:200"),
    _case("histogram_edges", "out = torch.histogram(a.detach(), bins=10)[1]", a="f:200"),
    _case("histogram_density", "out = torch.histogram(a.detach(), density=True).hist",
          a="f32:20,50"),
    _case("histogram_density_edges", "out = torch.histogram(a.detach(), density=True).bin_edges",
          a="f32:20,50"),
    _case("histogram_range", "out = torch.histogram(a.detach(), 5, range=(-1.0, 1.0))[0]",
          a="f32:300"),
    _case("histogram_tanh", "out = torch.histogram(torch.tanh(a * 3).detach(), bins=50)[0]",
          a="f32:32,100"),
    _case("histc", "out = torch.histc(a.detach(), bins=6)", a="f32:500"),
    _case("histc_range", "out = torch.histc(a.detach(), bins=4, min=-1, max=1)", a="f:100"),
    _case("histc_method", "out = a.detach().histc(7)", a="f32:64"),
    _case("squeeze_dim", "out = a.squeeze(1)", a="f:3,1,4"),
    _case("squeeze_dim_noop", "out = a.squeeze(0)", a="f:3,1,4"),
    _case("unsqueeze_neg", "out = a.unsqueeze(-1)", a="f:3,4"),
    _case("torch_squeeze", "out = torch.squeeze(a)", a="f:1,3,1"),
    _case("flatten_consecutive", "B, T, C = a.shape\nx = a.view(B, T // 2, C * 2)\n"
          "out = x.squeeze(1)", a="f:4,2,3"),
    _case("transpose2d", "out = a.transpose(0, 1)", a="f:3,4"),
    _case("torch_transpose", "out = torch.transpose(a, 1, 2)", a="f:2,3,4"),
    _case("T_matmul", "out = a.T @ b", a="f:5,3", b="f:5,4"),
    _case("split_sizes", "out = torch.split(a, [1, 3], 1)[1]", a="f:3,4"),
    _case("index_range", "out = a[range(4), i]", a="f:4,6", i="i6:4"),
    _case("index_0d", "out = a[t]", a="f:5,3", t="i5:"),
    _case("index_list_single", "out = a[[2]]", a="f:5,3"),
    _case("index_2d_view", "out = a[X].view(X.shape[0], -1)", a="f:27,4", X="i27:5,3"),
    _case("max_indices_one_hot", "out = F.one_hot(a.max(1).indices, num_classes=a.shape[1]) * b",
          a="f:5,4", b="f:5,1"),
    _case("max_keepdim_values", "out = a - a.max(1, keepdim=True).values", a="f:5,4"),
    _case("manual_softmax_grad", "with torch.no_grad():\n    c = F.softmax(a, 1)\n"
          "    c[range(5), t] -= 1\n    c /= 5\nout = c", a="f:5,4", t="i4:5"),
    _case("softmax_positional", "out = F.softmax(a, 1)[0]", a="f:3,4"),
    _case("linear_bias_inplace", "out = a @ W\nout += b", a="f:5,3", W="f:3,4", b="f:4"),
    _case("linear3d_bias_inplace", "out = a @ W\nout += b", a="f:2,3,4", W="f:4,5", b="f:5"),
    _case("view_inplace", "c = a * 1\nv = c[1]\nv += b\nout = c", a="f:3,4", b="f:4"),
    _case("view_slice_inplace", "c = a * 1\nflat = c.view(-1)\nflat[2:5] *= b[:3]\nout = c",
          a="f:3,4", b="f:4"),
    _case("embedding_grad_loop", "dC = torch.zeros_like(W)\nfor k in range(2):\n"
          "    for j in range(3):\n        ix = X[k, j]\n        dC[ix] += e[k, j]\nout = dC",
          W="f:5,4", X="i5:2,3", e="f:2,3,4"),
    _case("setitem_row_from_model", "out = torch.zeros(3, 4)\nfor i in range(3):\n"
          "    out[i] = (a[[i]] @ W)[0]", a="f:3,2", W="f:2,4"),
    _case("vector_matrix_column", "out = v @ (M @ w)", v="f:6", M="f:6,6", w="f:6,1"),
    _case("sqrt_fn", "out = torch.sqrt(a.var(0, keepdim=True) + 1e-5)", a="f:5,3"),
]

# Printing: each case's repr must match torch's character for character.
REPR_CASES = [
    "out = torch.tensor([1.0, 2.0, 3.0])",
    "out = torch.tensor([[1.0, 2.0], [1.5, 2.0]])",
    "out = torch.tensor([[6.0], [15.0]])",
    "out = torch.tensor(12.4636)",
    "out = torch.tensor(3)",
    "out = torch.tensor(True)",
    "out = torch.tensor([True, False, True])",
    "out = torch.tensor([1, 22, 333])",
    "out = torch.tensor([-1, 22, -333])",
    "out = torch.tensor([[1, 2], [3, 4]], dtype=torch.int32)",
    "out = torch.tensor([1.5, 2.25], dtype=torch.float64)",
    "out = torch.tensor([0.0, 0.0])",
    "out = torch.tensor([0.0, -0.0, 1.0])",
    "out = torch.tensor([1e-5, 1.0])",
    "out = torch.tensor([1e9, 1.0])",
    "out = torch.tensor([123456.0, 2.0])",
    "out = torch.tensor([1e-8, 3e-8])",
    "out = torch.tensor([float('nan'), 1.0, float('inf'), -float('inf')])",
    "out = torch.tensor([float('nan'), 1.5])",
    "out = torch.tensor([float('inf'), 100.0])",
    "out = torch.tensor([-1.0, 0.5, 100.25])",
    "out = torch.tensor([2.0], requires_grad=True)",
    "out = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)",
    "out = torch.tensor([2.0], requires_grad=True) * 3",
    "out = torch.tensor([2.0], requires_grad=True).exp().sum()",
    "out = torch.zeros(0)",
    "out = torch.zeros(0, 3)",
    "out = torch.zeros(0, dtype=torch.int64)",
    "out = torch.zeros((27, 27), dtype=torch.int32)",
    "out = torch.arange(10)",
    "out = torch.arange(10).view(2, 5)",
    "out = torch.arange(2000)",
    "out = torch.arange(2000).view(40, 50)",
    "out = torch.arange(3000).view(10, 15, 20)",
    "out = torch.arange(24).view(2, 3, 4)",
    "out = torch.arange(24).view(2, 3, 4).float() / 7",
    "out = torch.arange(100).float() / 3",
    "out = torch.arange(60).view(3, 20).float() * 1000",
    "out = torch.randn(40, 40, generator=torch.Generator().manual_seed(0))",
    "out = torch.randn(3, 5, generator=torch.Generator().manual_seed(1)) * 1e5",
    "out = torch.randn(4, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)",
    "out = torch.rand(30, generator=torch.Generator().manual_seed(3))",
    "out = torch.linspace(-3, 0, 1000)",
    "out = torch.linspace(-3, 0, 1001)",
    "out = torch.randn(1001, generator=torch.Generator().manual_seed(4)) > 0",
    "out = F.one_hot(torch.tensor([0, 15, 4, 2, 4]), num_classes=26)",
    "out = torch.ones(2, 2, dtype=torch.float64, requires_grad=True) @ torch.ones(2, 2, "
    "dtype=torch.float64)",
    "out = torch.tensor([[1000000.0, 2.0], [3.0, 4.0]], requires_grad=True).sum(1)",
    "out = torch.histogram(torch.arange(10).float(), bins=3)",
    "out = torch.histogram(torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64), bins=2)",
    "out = torch.tensor([1.0, 10.0, 0.5]).log10()",
    "out = torch.all(torch.tensor([True, False]))",
    "out = torch.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True).std(0, keepdim=True)",
    "out = (torch.tensor([1.0, 2.0], requires_grad=True) * 2)[torch.tensor(1)]",
    "out = torch.histc(torch.tensor([1.0, 1.0]), bins=4)",
]

# Randomness: each case's results must match torch bit for bit (randn to 2 ulp).
_SEEDS = [0, 1, 42, 1337, 3407, 2147483647, 2 ** 32 + 5, -1]
RNG_CASES = []
for _seed in _SEEDS:
    RNG_CASES.append({"name": f"sequence[{_seed}]", "code": (
        f"g = torch.Generator().manual_seed({_seed})\n"
        "out = [torch.rand(3, generator=g), torch.rand(5, dtype=torch.float64, generator=g),\n"
        "       torch.randn(5, generator=g), torch.randn(3, generator=g),\n"
        "       torch.randn(16, generator=g), torch.randn(17, generator=g),\n"
        "       torch.randn((27, 27), generator=g), torch.randn(1000, generator=g),\n"
        "       torch.randn(37, dtype=torch.float64, generator=g),\n"
        "       torch.randint(0, 10, (20,), generator=g), torch.randint(5, 2**40, (7,), generator=g),\n"
        "       torch.randint(27, (3, 4), generator=g),\n"
        "       torch.randperm(10, generator=g), torch.randperm(1000, generator=g),\n"
        "       torch.rand(2, generator=g)]")})
    RNG_CASES.append({"name": f"multinomial[{_seed}]", "code": (
        f"g = torch.Generator().manual_seed({_seed})\n"
        "p = torch.rand(27, generator=g)\n"
        "P = torch.rand(5, 27, generator=g)\n"
        "P[2, 3:9] = 0\n"
        "Q = P.double()\n"
        "out = [torch.multinomial(p, 1, replacement=True, generator=g),\n"
        "       torch.multinomial(p, 20, replacement=True, generator=g),\n"
        "       torch.multinomial(p, 1, generator=g),\n"
        "       torch.multinomial(p, 10, replacement=False, generator=g),\n"
        "       torch.multinomial(P, 1, replacement=True, generator=g),\n"
        "       torch.multinomial(P, 30, replacement=True, generator=g),\n"
        "       torch.multinomial(P, 4, generator=g),\n"
        "       torch.multinomial(Q, 12, replacement=True, generator=g),\n"
        "       torch.multinomial(Q, 3, generator=g),\n"
        "       torch.rand(2, generator=g)]")})
RNG_CASES += [
    {"name": "makemore_mlp", "code": (
        "g = torch.Generator().manual_seed(2147483647)\n"
        "out = [torch.randn((27, 10), generator=g), torch.randn((30, 200), generator=g),\n"
        "       torch.randn(200, generator=g), torch.randn((200, 27), generator=g),\n"
        "       torch.randn(27, generator=g)]\n"
        "out += [torch.randint(0, 182625, (32,), generator=g) for _ in range(3)]\n"
        "out += [torch.multinomial(torch.rand(1, 27, generator=g), num_samples=1, generator=g)]")},
    {"name": "makemore_backprop", "code": (
        "g = torch.Generator().manual_seed(2147483647)\n"
        "out = [torch.randn((27, 10), generator=g), torch.randn((30, 64), generator=g),\n"
        "       torch.randn(64, generator=g), torch.randn((64, 27), generator=g),\n"
        "       torch.randn(27, generator=g), torch.randint(0, 182625, (32,), generator=g)]\n"
        "torch.manual_seed(1)\n"
        "out += [torch.randn((1, 64)), torch.randn((1, 64))]\n"
        "g = torch.Generator().manual_seed(2147483647)\n"
        "out += [torch.randn((1000, 1), requires_grad=True, generator=g).detach(),\n"
        "        torch.randn(1000, generator=g)]")},
    {"name": "makemore_wavenet", "code": (
        "torch.manual_seed(42)\n"
        "out = [torch.randn((27, 24)), torch.randn((48, 128)), torch.randn((256, 128)),\n"
        "       torch.randn((256, 128)), torch.randn((128, 27)),\n"
        "       torch.randint(0, 182625, (32,)), torch.randint(0, 182625, (32,))]")},
    {"name": "randperm_sizes", "code": (
        "g = torch.Generator().manual_seed(3407)\n"
        "out = [torch.randperm(n, generator=g) for n in (0, 1, 2, 3, 7, 100, 32033)]")},
    {"name": "makemore_split", "code": (
        "torch.manual_seed(3407)\nout = [torch.randperm(32033)]")},
    {"name": "lecture_W", "code": (
        "g = torch.Generator().manual_seed(2147483647)\n"
        "out = [torch.randn((27, 27), generator=g)]")},
    {"name": "randn_large", "code": (
        "g = torch.Generator().manual_seed(7)\n"
        "out = [torch.randn(100003, generator=g), torch.randn(8, 8, generator=g)]")},
    {"name": "default_generator", "code": (
        "torch.manual_seed(42)\n"
        "out = [torch.rand(4), torch.randn(20), torch.randint(0, 100, (5,)),\n"
        "       torch.multinomial(torch.tensor([0.2, 0.3, 0.5]), 8, replacement=True)]")},
    {"name": "notes_1337", "code": (
        "g = torch.Generator().manual_seed(1337)\n"
        "p = torch.rand(3, generator=g)\n"
        "p = p / p.sum()\n"
        "out = [p, torch.multinomial(p, num_samples=10, replacement=True, generator=g)]")},
]
