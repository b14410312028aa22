"""Decimal numbers of an ARPA block parsed by whole arrays, exactly as float() parses them.

ARPA files print log10 values as plain decimals (`-1.2345678`, `0`, `-99`). A token of
that form, an optional `-`, digits and at most one `.`, with at most MAX_DIGITS digits,
is read as an integer mantissa m and a count f of digits after the point; m < 2**53 and
10**f (f <= 22) are exact doubles, so the one division m / 10**f is correctly rounded:
the same double that float() gives for the decimal. Any other token (an exponent,
`-inf`, a `+`, junk) is left to the caller, which parses it with float() and names it
if it is not a number.
"""

import numpy as np

# 17 digits fit an int64 with room for one more step; values of 2**53 and more go to float().
MAX_DIGITS = 17
MAX_WIDTH = 24        # longer tokens go to float()
_POWERS = np.array([float(10 ** f) for f in range(23)])
_EXACT = 1 << 53


def parse_decimals(raw, starts, lengths):
    """(values, parsed): float64 of each token raw[starts[i]:starts[i] + lengths[i]] (raw a
    uint8 array), and whether it was of the plain form; values where not parsed are 0."""
    n = len(starts)
    values = np.zeros(n)
    parsed = (lengths > 0) & (lengths <= MAX_WIDTH)
    if not n:
        return values, parsed
    width = int(min(lengths.max(), MAX_WIDTH))
    columns = np.arange(width)
    where = starts[:, None] + columns
    np.minimum(where, len(raw) - 1, out=where)
    chars = raw[where]
    inside = columns < lengths[:, None]
    digit = (chars >= 48) & (chars <= 57) & inside
    point = (chars == 46) & inside
    minus = chars[:, 0] == 45
    allowed = digit | point | ~inside
    allowed[:, 0] |= minus
    points = point.sum(axis=1)
    # Every character is a digit but the sign and the point: count them from the length.
    after = np.where(points > 0, lengths - 1 - point.argmax(axis=1), 0)
    digits = lengths - minus - points
    parsed &= allowed.all(axis=1) & (points <= 1) & (digits >= 1) & \
        (digits <= MAX_DIGITS) & (after <= 22)
    mantissa = np.zeros(n, dtype=np.int64)
    for j in range(width):
        step = digit[:, j]
        mantissa = np.where(step, mantissa * 10 + (chars[:, j].astype(np.int64) - 48), mantissa)
    parsed &= mantissa < _EXACT
    np.divide(mantissa.astype(np.float64), _POWERS[np.minimum(after, 22)], out=values)
    np.negative(values, out=values, where=minus)
    values[~parsed] = 0.0
    return values, parsed
