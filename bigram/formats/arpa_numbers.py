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
    padded = np.zeros(len(raw) + width, dtype=np.uint8)   # a token's bytes past the end
    padded[:len(raw)] = raw
    minus = padded[starts] == 45
    mantissa = np.zeros(n, dtype=np.int64)
    digits = np.zeros(n, dtype=np.int8)
    points = np.zeros(n, dtype=np.int8)
    before = np.zeros(n, dtype=np.int8)     # digits before the point
    # Column by column: the j-th byte of every token at once. A token is plain when its
    # digits, points and leading minus add up to its length. The steps write into arrays
    # made once (out=, where=), not a new temporary each: a fifth to a third faster.
    at = starts.copy()
    digit = np.empty(n, dtype=np.uint8)
    is_digit, is_point, inside = (np.empty(n, dtype=bool) for _ in range(3))
    for j in range(width):
        np.greater(lengths, j, out=inside)
        chars = padded[at]
        at += 1
        np.subtract(chars, 48, out=digit)       # wraps around below '0'
        np.less(digit, 10, out=is_digit)
        is_digit &= inside
        np.equal(chars, 46, out=is_point)
        is_point &= inside
        np.multiply(mantissa, 10, out=mantissa, where=is_digit)
        np.add(mantissa, digit, out=mantissa, where=is_digit)
        digits += is_digit
        np.copyto(before, digits, where=is_point)
        points += is_point
    after = np.where(points > 0, digits - before, 0)
    parsed &= (digits + points + minus == lengths) & (points <= 1) & (digits >= 1) & \
        (digits <= MAX_DIGITS) & (after <= 22)
    parsed &= mantissa < _EXACT
    np.divide(mantissa.astype(np.float64), _POWERS[np.minimum(after, 22)], out=values)
    np.negative(values, out=values, where=minus)
    values[~parsed] = 0.0
    return values, parsed
