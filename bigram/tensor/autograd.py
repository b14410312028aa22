"""Reverse-mode automatic differentiation: graph nodes, grad mode, the backward walk.

Every differentiable operation is a `Function` subclass with a `forward` on
numpy arrays and a `backward` that maps the output gradient to one gradient per
input. `Function.apply` runs the forward and, when some input requires grad,
records the node on the output tensor. `backward()` sorts the recorded nodes
topologically and walks them in reverse, *adding* every contribution, so a
tensor used twice (a diamond) receives both.
"""

import functools
import threading

import numpy as np


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled():
    """True unless inside `no_grad()`."""
    return _grad_mode.enabled


class _GradModeContext:
    """Sets grad mode on entry, restores it on exit; also usable as a decorator."""

    mode = True

    def __enter__(self):
        self._previous = _grad_mode.enabled
        _grad_mode.enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        _grad_mode.enabled = self._previous
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with type(self)():
                return function(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):  # noqa: N801 - torch's name
    """Context manager (and decorator) that records no graph: for inference and updates."""

    mode = False


class enable_grad(_GradModeContext):  # noqa: N801 - torch's name
    """Context manager (and decorator) that turns graph recording back on."""

    mode = True


class set_grad_enabled(_GradModeContext):  # noqa: N801 - torch's name
    """Set grad mode now (as a function) or for a `with` block."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._previous = _grad_mode.enabled
        _grad_mode.enabled = self.mode

    def __enter__(self):
        return self

    def __call__(self, function):
        mode = self.mode
        _grad_mode.enabled = self._previous

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return function(*args, **kwargs)

        return wrapper


def unbroadcast(grad, shape):
    """Sum `grad` over the axes broadcasting added or stretched, giving `shape` back.

    The one helper every binary op's backward uses: an input of shape (27, 1)
    divided into a (27, 27) tensor receives the row sums of the gradient.
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


class Function:
    """A node of the graph. Subclasses define `forward` and `backward` on arrays.

    Class attributes:
      name          the grad_fn name torch prints (`AddBackward0`), shown by repr.
      saves_inputs  indices of the inputs whose values `backward` reads; changing
                    one in place before backward is then an error, as in torch.
      saves_output  True when `backward` reads the output's values.
    """

    name = "Function"
    saves_inputs = ()
    saves_output = False

    def __init__(self):
        self.inputs = ()
        self.n_outputs = 1
        self._output_shapes = ()
        self._output_dtypes = ()
        self._saved_versions = ()
        self._retained = {}
        self._released = False

    def forward(self, *arrays, **params):  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def backward(self, *grads):  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the forward on the inputs' arrays; record the node if grad is needed."""
        from .tensor import Tensor

        fn = cls()
        result = fn.forward(*[t._data for t in inputs], **params)
        multiple = isinstance(result, tuple)
        arrays = result if multiple else (result,)
        track = _grad_mode.enabled and any(t.requires_grad for t in inputs)
        outputs = tuple(Tensor._wrap(a) for a in arrays)
        if track:
            fn.inputs = inputs
            fn.n_outputs = len(outputs)
            fn._output_shapes = tuple(a.shape for a in arrays)
            fn._output_dtypes = tuple(a.dtype for a in arrays)
            saved = [inputs[i] for i in cls.saves_inputs]
            if cls.saves_output:
                saved.extend(outputs)
            fn._saved_versions = tuple((t, t._version[0]) for t in saved)
            for nr, out in enumerate(outputs):
                if out.dtype.is_floating_point:
                    out._ctx, out._output_nr = fn, nr
        return outputs if multiple else outputs[0]

    def check_saved(self):
        """Raise, as torch does, if a value backward needs was freed or changed in place."""
        if self._released and (self.saves_inputs or self.saves_output):
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access "
                "saved tensors after they have already been freed). Saved intermediate "
                "values of the graph are freed when you call .backward(). Specify "
                "retain_graph=True if you need to backward through the graph a second time.")
        for tensor, version in self._saved_versions:
            if tensor._version[0] != version:
                shape = list(tensor.shape)
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [{tensor.dtype} {shape}], needed by "
                    f"{self.name}, is at version {tensor._version[0]}; expected version "
                    f"{version} instead.")

    def next_functions(self):
        """The nodes feeding this one, as torch's `grad_fn.next_functions` lists them."""
        return tuple((t._ctx, t._output_nr) if t.requires_grad else (None, 0)
                     for t in self.inputs)

    def __repr__(self):
        return f"<{self.name} object at {id(self):#x}>"


def _topological_order(root_fn):
    """Nodes reachable from `root_fn`, each after every node that consumes its output."""
    order, visited = [], set()
    stack = [(root_fn, False)]
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        stack.append((fn, True))
        for t in fn.inputs:
            if t._ctx is not None and id(t._ctx) not in visited:
                stack.append((t._ctx, False))
    order.reverse()
    return order


def _accumulate_into_grad(tensor, grad):
    """Add `grad` into `tensor.grad`, creating it on first use (gradients accumulate)."""
    from .tensor import Tensor

    grad = np.asarray(grad, dtype=tensor.dtype.numpy)
    if grad.shape != tensor.shape:
        grad = np.broadcast_to(grad, tensor.shape)
    if tensor.grad is None:
        tensor.grad = Tensor._wrap(np.array(grad, copy=True))
    else:
        tensor.grad._data = tensor.grad._data + grad


def run_backward(root, gradient, retain_graph):
    """Propagate `gradient` (an array shaped like `root`) to every leaf that requires grad."""
    if root._ctx is None:
        _accumulate_into_grad(root, gradient)
        return
    order = _topological_order(root._ctx)
    pending = {id(root._ctx): [None] * root._ctx.n_outputs}
    pending[id(root._ctx)][root._output_nr] = gradient
    for fn in order:
        out_grads = pending.pop(id(fn), None)
        if out_grads is None:
            continue
        fn.check_saved()
        for nr, ref in fn._retained.items():
            tensor = ref()
            if tensor is not None and out_grads[nr] is not None:
                _accumulate_into_grad(tensor, out_grads[nr])
        out_grads = [np.zeros(shape, dtype) if g is None else g
                     for g, shape, dtype in zip(out_grads, fn._output_shapes, fn._output_dtypes)]
        in_grads = fn.backward(*out_grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for tensor, grad in zip(fn.inputs, in_grads):
            if grad is None or not tensor.requires_grad:
                continue
            grad = np.asarray(grad, dtype=tensor.dtype.numpy)
            if tensor._ctx is None:
                _accumulate_into_grad(tensor, grad)
                continue
            slots = pending.setdefault(id(tensor._ctx), [None] * tensor._ctx.n_outputs)
            nr = tensor._output_nr
            slots[nr] = grad if slots[nr] is None else slots[nr] + grad
        if not retain_graph:
            fn._released = True
