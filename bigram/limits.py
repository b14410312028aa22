"""Ranges of numeric options, checked where a value enters (command line or Python API),
so that a value no computation can use is one line naming the option, never an overflow
deep inside numpy.
"""

import math

from bigram.errors import OptionError

# torch.manual_seed takes 64 bits: -2^63 up to 2^64 - 1 (negatives wrap to their bits).
SEED_MIN, SEED_MAX = -(1 << 63), (1 << 64) - 1
# Beyond these the smoothed sums (counts + k over the vocabulary, in float32) overflow;
# long before them every distribution is uniform to float32's seven digits.
MAX_SMOOTHING = 1e12
# Sampling divides log-probabilities (down to about -104 in float32) by the temperature:
# below the range every draw is the most probable token, above it every draw is uniform,
# to float precision; outside it the arithmetic overflows.
TEMPERATURE_RANGE = (1e-6, 1e6)
MAX_COUNT = (1 << 63) - 1       # items to sample: numpy counts them in int64
MAX_LENGTH = (1 << 31) - 1      # tokens in one sampled item


def check_seed(seed, option="--seed"):
    """Refuse a seed that is not a 64-bit integer (as torch.manual_seed does)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not SEED_MIN <= seed <= SEED_MAX:
        raise OptionError(f"{option} must be a whole number from -2^63 to 2^64-1 (64 bits, as "
                          f"torch.manual_seed takes), not {seed}")


def check_number(value, option, low=None, high=None, low_open=False):
    """Refuse a value that is not a finite number in [low, high] (or (low, high])."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bound = "" if low is None else f" {'>' if low_open else '>='} {low:g}"
        bound += "" if high is None else f"{' and' if bound else ''} <= {high:g}"
        raise OptionError(f"{option} must be a finite number{bound}, not {value}")
