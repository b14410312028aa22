"""torch.nn.functional's functions for language models: one_hot, softmax,
log_softmax, cross_entropy and nll_loss.

Softmax-based functions subtract the row maximum before exponentiating, so
logits of 100 or 1000 stay finite. `cross_entropy` is one fused node whose
backward is the classic softmax minus one-hot.
"""

import warnings

import numpy as np

from . import dtypes
from .autograd import Function
from .ops.elementwise import relu, sigmoid, tanh  # noqa: F401 - F.tanh etc., as in torch
from .tensor import Tensor, _normalize_dim


def one_hot(tensor, num_classes=-1):
    """int64 one-hot rows: `one_hot(ix, 27)` has a 1 in column ix of each row."""
    if tensor.dtype is not dtypes.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    index = tensor._data
    if num_classes == -1:
        if index.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(index.max()) + 1
    if index.size and index.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if index.size and index.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = np.zeros(index.shape + (int(num_classes),), dtype=np.int64)
    np.put_along_axis(out, index[..., None], 1, axis=-1)
    return Tensor._wrap(out)


def _legacy_softmax_dim(ndim, name):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _axis(dim, ndim):
    """numpy's axis for `dim`; None for a 0-dim tensor, which torch treats as one entry."""
    axis = _normalize_dim(dim, ndim)
    return None if ndim == 0 else axis


def _max_along(x, axis):
    """The maximum along `axis`, kept as a size-1 dimension. Along the rows of a matrix
    (every softmax over logits) numpy's argmax is several times faster than its max,
    so the maximum is read off where argmax points (a NaN still wins, as in torch)."""
    if x.ndim == 2 and axis in (1, -1) and x.size:
        return x.take(np.arange(0, x.size, x.shape[1]) + x.argmax(axis=1))[:, None]
    return np.maximum.reduce(x, axis=axis, keepdims=True)


def _stable_log_softmax(x, axis):
    shifted = x - _max_along(x, axis)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))


class Softmax(Function):
    name = "SoftmaxBackward0"
    saves_output = True

    def forward(self, x, axis):
        self.axis = axis
        shifted = np.exp(x - _max_along(x, axis))
        self.out = shifted / np.add.reduce(shifted, axis=axis, keepdims=True)
        return self.out

    def backward(self, g):
        return self.out * (g - (g * self.out).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    name = "LogSoftmaxBackward0"
    saves_output = True

    def forward(self, x, axis):
        self.axis = axis
        self.out = _stable_log_softmax(x, axis)
        return self.out

    def backward(self, g):
        return g - np.exp(self.out) * g.sum(axis=self.axis, keepdims=True)


def _float_input(x, name):
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"\"{name}_lastdim_kernel_impl\" not implemented for "
                           f"'{x.dtype.name.capitalize()}'")
    return x


def softmax(input, dim=None, dtype=None):  # noqa: A002 - torch's argument name
    """exp(x) / exp(x).sum(dim), computed stably."""
    if dtype is not None:
        input = input.to(dtype)
    dim = _legacy_softmax_dim(input.ndim, "softmax") if dim is None else dim
    return Softmax.apply(_float_input(input, "softmax"), axis=_axis(dim, input.ndim))


def log_softmax(input, dim=None, dtype=None):  # noqa: A002
    """x - log(exp(x).sum(dim)), computed stably."""
    if dtype is not None:
        input = input.to(dtype)
    dim = _legacy_softmax_dim(input.ndim, "log_softmax") if dim is None else dim
    return LogSoftmax.apply(_float_input(input, "log_softmax"), axis=_axis(dim, input.ndim))


class CrossEntropy(Function):
    """Fused log_softmax + negative log-likelihood over rows of class scores.

    Forward:  loss_i = -w[y_i] * (z_iy - log sum_c exp(z_ic)), z = logits - row max.
    Backward: dloss_i/dlogits_i = w[y_i] * (softmax(logits_i) - onehot(y_i)).
    """

    name = "NllLossBackward0"
    saves_inputs = (0,)

    def forward(self, logits, targets, weight, ignore_index, reduction, smoothing):
        rows = np.arange(len(targets))
        self.rows, self.reduction, self.smoothing = rows, reduction, smoothing
        self.targets, self.row_weight, self.dtype = targets, None, logits.dtype
        if weight is None and not smoothing and ignore_index is None:
            # Every row counts once (the training loop's case): loss_i = log s_i - z_iy,
            # with s_i the row sum of e = exp(z); backward needs only e / s.
            shifted = logits - _max_along(logits, 1)
            self.exps = np.exp(shifted)
            self.sums = np.add.reduce(self.exps, axis=1)
            self.flat_targets = rows * logits.shape[1] + targets
            picked = shifted.take(self.flat_targets)
            losses = np.log(self.sums) - picked
            self.denominator = float(len(targets)) or float("nan")  # no rows: nan, as torch
        else:
            self.log_probs = _stable_log_softmax(logits, 1)
            kept = targets != ignore_index
            safe_targets = np.where(kept, targets, 0)
            picked = self.log_probs[rows, safe_targets]
            row_weight = (weight[safe_targets] if weight is not None
                          else np.ones(len(targets), dtype=logits.dtype)) * kept
            losses = -picked * row_weight
            if smoothing:
                losses = (1 - smoothing) * losses - smoothing * self.log_probs.mean(axis=1) * kept
            self.targets, self.row_weight = safe_targets, row_weight
            self.classes = logits.shape[1]
            self.denominator = row_weight.sum(dtype=np.float64)
        if reduction == "none":
            return losses.astype(logits.dtype)
        total = float(np.add.reduce(losses, dtype=np.float64))
        if reduction == "sum":
            return np.array(total, dtype=logits.dtype)
        return np.array(total / self.denominator, dtype=logits.dtype)

    def backward(self, g):
        if self.row_weight is None:
            grad = self.exps / self.sums[:, None]  # softmax
            grad.reshape(-1)[self.flat_targets] -= 1  # one target per row: no repeats
            if self.reduction == "none":
                return (grad * g[:, None]).astype(self.dtype, copy=False)
            # A Python number scales the float32 rows in float32 (numpy's rule for scalars).
            grad *= float(g) if self.reduction == "sum" else float(g) / self.denominator
            return grad
        grad = np.exp(self.log_probs)
        if self.smoothing:
            grad = grad - self.smoothing / self.classes
            grad[self.rows, self.targets] -= 1 - self.smoothing
        else:
            grad[self.rows, self.targets] -= 1
        if self.reduction == "mean":
            scale = self.row_weight * (g / self.denominator)
        else:
            scale = self.row_weight * g
        return (grad * scale[:, None]).astype(self.dtype)


def _check_targets(input, target, weight):
    if target.dtype.is_floating_point:
        return
    if target.dtype is not dtypes.int64:
        word = {"int32": "Int", "bool": "Bool"}[target.dtype.name]
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {word}")
    if weight is not None and weight.shape != (input.shape[1],):
        raise RuntimeError(f"weight tensor should be defined either for all {input.shape[1]} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")


def _rows(input, target):
    """(N, C) scores and (N,) targets from torch's accepted layouts."""
    if input.ndim == 1:
        return input.unsqueeze(0), target.reshape(1)
    if input.ndim > 2:
        # (N, C, d1, ...) with targets (N, d1, ...): move classes last, flatten the rest.
        order = (0,) + tuple(range(2, input.ndim)) + (1,)
        return input.permute(order).reshape(-1, input.shape[1]), target.reshape(-1)
    return input, target


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",  # noqa: A002
                  label_smoothing=0.0):
    """Mean (or summed, or per-row) negative log-likelihood of `target` under softmax(input).

    Targets are class indices (int64), or class probabilities shaped like the input.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if (weight is None and target._data.dtype == np.int64 and input._data.ndim == 2
            and target._data.ndim == 1):
        scores, targets = input, target  # rows of scores and their classes: nothing to check
    else:
        scores, targets = _checked_rows(input, target, weight, label_smoothing, reduction)
        if not isinstance(targets, Tensor):
            return scores  # probability targets, already reduced
    if scores._data.shape[0] != targets._data.shape[0]:
        raise ValueError(f"Expected input batch_size ({scores.shape[0]}) to match target "
                         f"batch_size ({targets.shape[0]}).")
    t = targets._data
    # Seen as unsigned, a negative target is huge: one maximum finds every bad target.
    if t.size and np.maximum.reduce(t.view(np.uint64)) >= scores._data.shape[1]:
        bad = (t != ignore_index) & ((t < 0) | (t >= scores._data.shape[1]))
        if bad.any():
            raise IndexError(f"Target {int(t[np.argmax(bad)])} is out of bounds.")
    elif not 0 <= ignore_index < scores._data.shape[1]:
        ignore_index = None  # every target is a class, so none is the ignored one
    out = CrossEntropy.apply(scores, targets=t,
                             weight=None if weight is None else weight._data.astype(
                                 scores._data.dtype),
                             ignore_index=ignore_index, reduction=reduction,
                             smoothing=float(label_smoothing))
    if reduction == "none" and input.ndim != 2:
        return out.reshape(target.shape)
    return out


def _checked_rows(input, target, weight, label_smoothing, reduction):  # noqa: A002
    """cross_entropy's other layouts: (scores, targets) as rows, after torch's checks; or,
    for probability targets, (the finished loss, None)."""
    _check_targets(input, target, weight)
    if target.dtype.is_floating_point:
        if weight is not None or label_smoothing:
            raise ValueError("probability targets take neither weight nor label_smoothing here")
        losses = -(target * log_softmax(input, dim=1 if input.ndim > 1 else 0)).sum(
            dim=1 if input.ndim > 1 else 0)
        if reduction == "none":
            return losses, None
        return (losses.sum() if reduction == "sum" else losses.mean()), None
    if label_smoothing and weight is not None:
        raise ValueError("label_smoothing together with class weights is not supported")
    return _rows(input, target)


class NllLoss(Function):
    """Negative log-likelihood of targets given log-probabilities."""

    name = "NllLossBackward0"

    def forward(self, log_probs, targets, weight, ignore_index, reduction):
        rows = np.arange(len(targets))
        kept = targets != ignore_index
        safe = np.where(kept, targets, 0)
        row_weight = (weight[safe] if weight is not None
                      else np.ones(len(targets), log_probs.dtype)) * kept
        losses = -log_probs[rows, safe] * row_weight
        self.shape, self.rows = log_probs.shape, rows
        self.targets, self.row_weight = safe, row_weight
        self.reduction = reduction
        if reduction == "none":
            return losses.astype(log_probs.dtype)
        if reduction == "sum":
            return np.asarray(losses.sum(), dtype=log_probs.dtype)
        self.denominator = row_weight.sum()
        return np.asarray(losses.sum() / self.denominator, dtype=log_probs.dtype)

    def backward(self, g):
        grad = np.zeros(self.shape, dtype=g.dtype)
        scale = self.row_weight * g if self.reduction != "mean" else \
            self.row_weight * (g / self.denominator)
        grad[self.rows, self.targets] = -scale
        return grad


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):  # noqa: A002
    """Mean negative log-likelihood where `input` already holds log-probabilities."""
    _check_targets(input, target, weight)
    scores, targets = _rows(input, target)
    t = targets._data
    bad = (t != ignore_index) & ((t < 0) | (t >= scores.shape[1]))
    if bad.any():
        raise IndexError(f"Target {int(t[np.argmax(bad)])} is out of bounds.")
    return NllLoss.apply(scores, targets=t,
                         weight=None if weight is None else weight._data,
                         ignore_index=ignore_index, reduction=reduction)
