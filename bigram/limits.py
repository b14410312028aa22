"""Ranges of numeric options, checked where a value enters (command line or Python API),
so that a value no computation can use is one line naming the option, never an overflow
deep inside numpy.
"""

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

