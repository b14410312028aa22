"""Reverse-mode automatic differentiation: graph nodes, grad mode, the backward walk.

Every differentiable operation is a `Function` subclass with a `forward` on
numpy arrays and a `backward` that maps the output gradient to one gradient per
input. `Function.apply` runs the forward and, when some input requires grad,
records the node on the output tensor. `backward()` visits the recorded nodes
newest first, *adding* every contribution, so a tensor used twice (a diamond)
receives both.
"""

import functools
import heapq
import itertools
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
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = np.add.reduce(grad, axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = np.add.reduce(grad, axis=stretched, keepdims=True)
    return grad


class Function:
    """A node of the graph. Subclasses define `forward` and `backward` on arrays.

    Class attributes:
      name          the grad_fn name torch prints (`AddBackward0`), shown by repr.
      saves_inputs  indices of the inputs whose values `backward` reads; changing
                    one in place before backward is then an error, as in torch.
      saves_output  True when `backward` reads the output's values.

    A recorded node keeps `edges`: for each input, where its gradient goes, taken
    when the node is made (the input's node and output number, or the leaf tensor
    itself, or None), so that later in-place changes cannot re-route it; and a
    sequence number, so that the backward walk can visit nodes newest first.
    """

    name = "Function"
    saves_inputs = ()
    saves_output = False
    edges = ()
    sequence = 0
    n_outputs = 1
    _output_meta = ()  # (shape, dtype) per output, for multi-output nodes
    _saved_versions = ()
    _retained = None  # {output_nr: weakref} once retain_grad() is asked of an output
    _released = False

    def forward(self, *arrays, **params):  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def backward(self, *grads):  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the forward on the inputs' arrays; record the node if grad is needed."""
        fn = _new_object(cls)  # no __init__: only recorded nodes need more than forward sets
        # Spelled out for one and two inputs: this line runs for every operation.
        if len(inputs) == 1:
            result = fn.forward(inputs[0]._data, **params)
        elif len(inputs) == 2:
            result = fn.forward(inputs[0]._data, inputs[1]._data, **params)
        else:
            result = fn.forward(*[t._data for t in inputs], **params)
        if type(result) is tuple:
            outputs = tuple([_wrap(a) for a in result])
        else:
            outputs = None
            result = _wrap(result)
        if _grad_mode.enabled:
            for t in inputs:
                if t._requires_grad or t._ctx is not None:
                    fn._record(inputs, (result,) if outputs is None else outputs)
                    break
        return result if outputs is None else outputs

    def _record(self, inputs, outputs):
        """Link this node into the graph: edges to its inputs, itself onto its outputs."""
        self.sequence = next(_sequence)
        edges = []
        for t in inputs:
            ctx = t._ctx
            if ctx is not None:
                edges.append((ctx, t._output_nr, t._data.dtype))
            else:
                edges.append((t if t._requires_grad else None, 0, t._data.dtype))
        self.edges = edges
        if len(outputs) > 1:
            self.n_outputs = len(outputs)
            self._output_meta = tuple((o._data.shape, o._data.dtype) for o in outputs)
        if self.saves_inputs or self.saves_output:
            saved = []
            for i in self.saves_inputs:
                saved.append((inputs[i], inputs[i]._version[0]))
            if self.saves_output:
                for t in outputs:
                    saved.append((t, t._version[0]))
            self._saved_versions = saved
        if len(outputs) == 1:
            if outputs[0]._data.dtype.kind == "f":
                outputs[0]._ctx = self
            return
        for nr, out in enumerate(outputs):
            if out._data.dtype.kind == "f":  # integer outputs (indices) carry no gradient
                out._ctx, out._output_nr = self, nr

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
        return tuple((target, nr) if isinstance(target, Function) else (None, 0)
                     for target, nr, _ in self.edges)

    def __repr__(self):
        return f"<{self.name} object at {id(self):#x}>"


_new_object = object.__new__
_sequence = itertools.count(1)


def _wrap(array):
    from .tensor import Tensor

    global _wrap
    _wrap = Tensor._wrap  # bind once: tensor.py imports this module, not the reverse
    return _wrap(array)


def _accumulate_into_grad(tensor, grad):
    """Add `grad` into `tensor.grad`, creating it on first use (gradients accumulate)."""
    data = tensor._data
    if grad.dtype != data.dtype:
        grad = grad.astype(data.dtype)
    if grad.shape != data.shape:
        grad = np.broadcast_to(grad, data.shape)
    if tensor.grad is None:
        tensor.grad = _wrap(grad.copy())
    else:
        tensor.grad._data = tensor.grad._data + grad


def run_backward(root, gradient, retain_graph):
    """Propagate `gradient` (an array shaped like `root`) to every leaf that requires grad.

    Nodes run newest first: every node that feeds gradient into another was made after
    it, so by the time a node is the newest one waiting, all its gradient has arrived.
    """
    root_fn = root._ctx
    if root_fn is None:
        _accumulate_into_grad(root, gradient)
        return
    pending = {root_fn: [None] * root_fn.n_outputs}
    pending[root_fn][root._output_nr] = gradient
    waiting = [(-root_fn.sequence, root_fn)]
    while waiting:
        fn = heapq.heappop(waiting)[1]
        out_grads = pending.pop(fn)
        if fn._saved_versions or fn._released:
            fn.check_saved()
        if fn._retained:
            for nr, ref in fn._retained.items():
                tensor = ref()
                if tensor is not None and out_grads[nr] is not None:
                    _accumulate_into_grad(tensor, out_grads[nr])
        if fn.n_outputs == 1:
            in_grads = fn.backward(out_grads[0])
        else:
            in_grads = fn.backward(*[np.zeros(shape, dtype) if g is None else g
                                     for g, (shape, dtype) in zip(out_grads, fn._output_meta)])
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        for (target, nr, dtype), grad in zip(fn.edges, in_grads):
            if target is None or grad is None:
                continue
            if type(grad) is not np.ndarray:
                grad = np.asarray(grad)
            if grad.dtype != dtype:
                grad = grad.astype(dtype)
            if not isinstance(target, Function):
                _accumulate_into_grad(target, grad)
                continue
            slots = pending.get(target)
            if slots is None:
                slots = pending[target] = [None] * target.n_outputs
                heapq.heappush(waiting, (-target.sequence, target))
            slots[nr] = grad if slots[nr] is None else slots[nr] + grad
        if not retain_graph:
            fn._released = True
