"""Printing tensors exactly as torch prints them.

The rules follow torch/_tensor_str.py: one number format for the whole tensor
(integer-valued floats as `6.`, plain `{:.4f}`, or scientific `{:.4e}` when the
magnitudes span more than 1000x or leave [1e-4, 1e8]), every element
right-aligned to the widest, rows wrapped at 80 columns, and tensors of more
than 1000 elements summarised to their first and last 3 items per dimension.
Suffixes name a non-default dtype, `requires_grad=True` or the `grad_fn`.
"""

import math

import numpy as np

from . import dtypes

PRECISION = 4
THRESHOLD = 1000
EDGE_ITEMS = 3
LINE_WIDTH = 80


def _shown_indices(shape, summarize):
    """Per dimension, the indices printed (all, or the first and last EDGE_ITEMS)."""
    shown = []
    for n in shape:
        if summarize and n > 2 * EDGE_ITEMS:
            shown.append(np.r_[0:EDGE_ITEMS, n - EDGE_ITEMS:n])
        else:
            shown.append(np.arange(n))
    return shown


class _Formatter:
    """One format and width for every element shown, decided as torch decides them."""

    def __init__(self, values, dtype):
        self.floating = dtype.is_floating_point
        self.int_mode, self.sci_mode = True, False
        flat = values.ravel()
        if not self.floating:
            self.strings = self._plain_strings(flat)
            self.width = max(1, int(np.char.str_len(self.strings).max(initial=1)))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        self.width = 1
        if finite.size == 0:
            return
        magnitude = np.abs(finite)
        self.int_mode = bool((finite == np.ceil(finite)).all())
        self.sci_mode = bool(magnitude.max() / magnitude.min() > 1000.0
                             or magnitude.max() > 1.0e8 or magnitude.min() < 1.0e-4)
        if self.sci_mode:
            self.width = int(np.char.str_len(np.char.mod(f"%.{PRECISION}e", finite)).max())
        elif self.int_mode:
            self.width = int(np.char.str_len(np.char.mod("%.0f", finite)).max()) + 1
        else:
            self.width = int(np.char.str_len(np.char.mod(f"%.{PRECISION}f", finite)).max())

    @staticmethod
    def _plain_strings(values):
        if values.dtype == np.bool_:
            return np.where(values, "True", "False")
        return np.char.mod("%d", values)

    def format(self, values):
        """The padded text of each value, as an array of the same shape."""
        if not self.floating:
            text = self._plain_strings(values.ravel())
        elif self.sci_mode:
            text = np.char.mod(f"%{self.width}.{PRECISION}e", values.ravel().astype(np.float64))
        elif self.int_mode:
            flat = values.ravel().astype(np.float64)
            text = np.char.mod("%.0f", flat)
            text = np.where(np.isfinite(flat), np.char.add(text, "."), text)
        else:
            text = np.char.mod(f"%.{PRECISION}f", values.ravel().astype(np.float64))
        text = np.char.rjust(text.astype(str), self.width)
        return text.reshape(values.shape)


def _vector(cells, indent, width, elided):
    """One dimension's elements, wrapped to the line width."""
    items = list(cells)
    if elided:
        items = items[:EDGE_ITEMS] + [" ..."] + items[EDGE_ITEMS:]
    per_line = max(1, math.floor((LINE_WIDTH - indent) / (width + 2)))
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(cells, indent, width, elided_dims):
    """Brackets around each dimension, blank lines between blocks, as torch nests them."""
    if cells.ndim == 1:
        return _vector(cells, indent, width, elided_dims[0])
    parts = [_nested(cells[i], indent + 1, width, elided_dims[1:]) for i in range(len(cells))]
    if elided_dims[0]:
        parts = parts[:EDGE_ITEMS] + ["..."] + parts[EDGE_ITEMS:]
    return "[" + ("," + "\n" * (cells.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def array_str(data, dtype, indent):
    """The bracketed body of a tensor's repr."""
    if data.size == 0:
        return "[]"
    summarize = data.size > THRESHOLD
    shown = _shown_indices(data.shape, summarize)
    visible = data[np.ix_(*shown)] if data.ndim else data
    formatter = _Formatter(visible, dtype)
    cells = formatter.format(visible)
    if data.ndim == 0:
        return str(cells)
    elided = [summarize and n > 2 * EDGE_ITEMS for n in data.shape]
    return _nested(cells, indent, formatter.width, elided)


def _with_suffixes(body, suffixes, indent):
    parts = [body]
    last_line = len(body) - body.rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > LINE_WIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(parts) + ")"


def tensor_repr(t):
    """`repr(t)`, character for character what torch prints for the same tensor."""
    prefix = "tensor("
    indent = len(prefix)
    dtype, data = t.dtype, t._data
    suffixes = []
    if data.size == 0:
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        if dtype is not dtypes.default_float():
            suffixes.append(f"dtype={dtype!r}")
        body = "[]"
    else:
        if dtype not in (dtypes.default_float(), dtypes.int64, dtypes.bool_):
            suffixes.append(f"dtype={dtype!r}")
        body = array_str(data, dtype, indent)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, indent)
