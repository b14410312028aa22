"""What the numbers in a model file must satisfy before anything uses them.

Each check takes the array, the file's path and `what` (how the message names
the array, e.g. "the test counts") and raises a one-line ModelFileError,
"<path> is damaged: <what> ...", when the values cannot be right. All of them
are vectorised, so checking costs a few passes over arrays already in memory.
"""

import numpy as np

from bigram.formats.npzfile import damaged

INT64_MAX = np.iinfo(np.int64).max
SUM_BLOCK = 1 << 31   # halves of 32 bits: 2^31 of them sum exactly in uint64


def check_counts(counts, path, what):
    """Counts are non-negative and their total fits in int64; returns the exact total.

    Integer counts are summed exactly (as Python ints, from their 32-bit halves),
    so a total that would wrap around int64 is caught instead of going negative.
    Float counts (weighted) must be finite; their total is a float.
    """
    counts = np.asarray(counts)
    if counts.dtype.kind == "f" and not np.isfinite(counts).all():
        raise damaged(path, f"{what} include NaN or infinite values")
    if (counts < 0).any():
        raise damaged(path, f"{what} include negative values")
    if counts.dtype.kind == "f":
        return float(counts.sum(dtype=np.float64))
    total = 0
    for start in range(0, len(counts), SUM_BLOCK):
        block = counts[start:start + SUM_BLOCK].astype(np.uint64)  # exact: none is negative
        high = int((block >> np.uint64(32)).sum(dtype=np.uint64))
        low = int((block & np.uint64(0xFFFFFFFF)).sum(dtype=np.uint64))
        total += (high << 32) + low
    if total > INT64_MAX:
        raise damaged(path, f"{what} sum to {total:,}, more than a 64-bit count can hold")
    return total


# Checks go through large arrays a slice at a time: their temporaries stay small (and
# in cache) instead of costing fresh pages the size of the array.
SLICE = 1 << 20


def check_indices(values, upper, path, what, range_name):
    """Every value is an index in 0 .. upper - 1; `range_name` says what that range is."""
    values = np.asarray(values)
    for start in range(0, len(values), SLICE):
        part = values[start:start + SLICE]
        outside = part < 0
        if upper <= INT64_MAX:  # larger bounds (V ** order for long orders) hold every int64
            outside |= part >= upper
        if outside.any():
            value = int(part[np.argmax(outside)])
            raise damaged(path, f"{what} include {value:,}, outside {range_name}")


def check_increasing(keys, path, what):
    """Keys are sorted and distinct (what a binary search over them relies on)."""
    for start in range(0, len(keys) - 1, SLICE):
        part = keys[start:start + SLICE + 1]
        if (part[1:] <= part[:-1]).any():
            raise damaged(path, f"{what} are not sorted without repeats")


def check_pointers(indptr, entries, path, what, allow_empty_rows=True):
    """CSR row pointers: start at 0, never decrease (or always rise), end at `entries`."""
    indptr = np.asarray(indptr)
    if (len(indptr) == 0 or indptr[0] != 0 or indptr[-1] != entries
            or (np.diff(indptr) < 0).any()):
        raise damaged(path, f"{what} do not rise from 0 to {entries:,}, the number of entries")
    if not allow_empty_rows and (np.diff(indptr) == 0).any():
        raise damaged(path, f"{what} leave a row without entries")


def check_rows_increasing(values, indptr, path, what):
    """Within each CSR row (pointers already checked), values are sorted and distinct."""
    values = np.asarray(values)
    if len(values) < 2:
        return
    same_row = np.ones(len(values) - 1, dtype=bool)
    starts = np.asarray(indptr)[1:-1]
    same_row[starts[(starts > 0) & (starts < len(values))] - 1] = False
    if (np.diff(values)[same_row] <= 0).any():
        raise damaged(path, f"{what} are not sorted without repeats within each row")


def check_finite(values, path, what):
    """No NaN or infinite values."""
    values = np.asarray(values)
    if values.ndim != 1:
        values = values.reshape(-1)
    for start in range(0, len(values), SLICE):
        if not np.isfinite(values[start:start + SLICE]).all():
            raise damaged(path, f"{what} are not all finite")


def check_probability_rows(matrix, path, what):
    """Rows are distributions: finite, non-negative, summing to 1 within float32 rounding.

    The tolerance is the worst-case rounding of a float32 row normalised by its
    float32 sum: (row length + 1) float32 epsilons.
    """
    matrix = np.asarray(matrix)
    if not np.isfinite(matrix).all() or (matrix < 0).any():
        raise damaged(path, f"{what} include negative, NaN or infinite values")
    if matrix.size == 0:
        return
    sums = matrix.astype(np.float64).sum(axis=-1).ravel()
    tolerance = (matrix.shape[-1] + 1) * float(np.finfo(np.float32).eps)
    errors = np.abs(sums - 1.0)
    if (errors > tolerance).any():
        row = int(np.argmax(errors))
        raise damaged(path, f"row {row} of {what} sums to {sums[row]:.9g}, not 1")
