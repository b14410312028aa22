"""Splits of items into train, dev and test, as makemore draws them.

Splits come from one permutation of the item indices drawn from a generator
seeded with `split_seed` (the stream of `torch.manual_seed(3407);
torch.randperm(n)`):

* `makemore` (default): the last `test_size` entries are the test items; by
  default `min(1000, 10%)` of them, as makemore.py holds them out.
* percentages such as `80/10/10`: the first 80% of the permutation is train,
  the next 10% dev, the rest test (`int(0.8 n)` and `int(0.9 n)` are the cuts).
"""

import math

import numpy as np

from bigram.errors import OptionError
from bigram.limits import check_seed

SPLITS = ("train", "dev", "test")


def default_test_size(n_items):
    """makemore's held-out size: 10% of the items, at most 1000."""
    return min(1000, int(n_items * 0.1))


def parse_split(text):
    """'makemore' or 'train/dev/test' percentages such as '80/10/10'."""
    if text in (None, "makemore"):
        return None
    try:
        parts = [float(p) for p in str(text).split("/")]
    except ValueError:
        parts = []
    if not all(math.isfinite(p) for p in parts):   # nan/50/50 compares false to everything
        parts = []
    if len(parts) not in (2, 3) or any(p < 0 for p in parts) or abs(sum(parts) - 100) > 1e-9 \
            or parts[0] <= 0:
        raise OptionError(f"--split must be 'makemore' or percentages train/dev/test adding up "
                          f"to 100 such as 80/10/10, not {text!r}")
    return parts if len(parts) == 3 else [parts[0], 0.0, parts[1]]


def split_assignment(n_items, split_seed, test_size=None, percentages=None):
    """The split of every item (0 train, 1 dev, 2 test), from a seeded randperm."""
    check_seed(split_seed, "--split-seed")
    assignment = np.zeros(n_items, dtype=np.uint8)
    if percentages is None and test_size == 0:
        return assignment
    from bigram import (
        tensor as torch,  # the engine's randperm, only when a split is drawn
    )

    generator = torch.Generator().manual_seed(split_seed)
    permutation = torch.randperm(n_items, generator=generator).numpy()
    if percentages is None:
        assignment[permutation[n_items - test_size:]] = 2
        return assignment
    first = int(n_items * percentages[0] / 100)
    second = int(n_items * (percentages[0] + percentages[1]) / 100)
    assignment[permutation[first:second]] = 1
    assignment[permutation[second:]] = 2
    return assignment
