"""Training data: items read from the sources, split, and counted as n-grams of an order.

Splits come from one permutation of the item indices drawn from a generator
seeded with `split_seed` (the stream of `torch.manual_seed(3407);
torch.randperm(n)`):

* `makemore` (default): the last `test_size` entries are the test items; by
  default `min(1000, 10%)` of them, as makemore.py holds them out.
* percentages such as `80/10/10`: the first 80% of the permutation is train,
  the next 10% dev, the rest test (`int(0.8 n)` and `int(0.9 n)` are the cuts).

The vocabulary is every character of every item, as makemore builds it before
splitting.
"""

from dataclasses import dataclass, field

import numpy as np

from . import tensor as torch
from .corpus import Reader, count_items, resolve_sources
from .counting import BigramCounter
from .errors import InputError, OptionError
from .ngrams import NgramTable, check_order, count_ngrams
from .vocabulary import Vocabulary

DEFAULT_SPLIT_SEED = 3407
SPLITS = ("train", "dev", "test")
# Training text kept in the model file for `sample --novel`, up to this many characters
# (names.txt is 0.23 M); beyond it the file keeps none, and memory stays bounded.
KEEP_TEXT_LIMIT = 16 << 20


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
    if len(parts) not in (2, 3) or any(p < 0 for p in parts) or abs(sum(parts) - 100) > 1e-9 \
            or parts[0] <= 0:
        raise OptionError(f"--split must be 'makemore' or percentages train/dev/test adding up "
                          f"to 100 such as 80/10/10, not {text!r}")
    return parts if len(parts) == 3 else [parts[0], 0.0, parts[1]]


def split_assignment(n_items, split_seed, test_size=None, percentages=None):
    """The split of every item (0 train, 1 dev, 2 test), from a seeded randperm."""
    assignment = np.zeros(n_items, dtype=np.uint8)
    if percentages is None and test_size == 0:
        return assignment
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


@dataclass
class TrainingData:
    """What a model is trained and evaluated on: n-gram counts per split, and the items."""

    vocabulary: Vocabulary
    order: int
    counts: dict                       # split name -> NgramTable of the order
    items: dict                        # split name -> number of items
    sources: list
    sha256: str
    bytes_read: int
    split: dict                        # how the splits were chosen
    held_out: dict = field(default_factory=dict)   # split name -> its items (not train)
    train_items: str | None = None     # training text for --novel, or None if too long

    @property
    def splits(self):
        """The split names that hold items, in train, dev, test order."""
        return [s for s in SPLITS if self.items.get(s)]

    def tokens(self, split):
        """Number of predicted tokens (n-grams) in a split."""
        return int(self.counts[split].count.sum())


def load_training_data(arguments, test_size=None, split_seed=DEFAULT_SPLIT_SEED,
                       encoding_errors="strict", block_bytes=None, keep_text=KEEP_TEXT_LIMIT,
                       order=2, split=None):
    """Read, split and count the training sources (paths, globs, '-'; names.txt if none).

    Bigrams are counted while streaming: plain ASCII blocks from their byte
    pairs, without materialising items. Higher orders keep the items of each
    split in memory (4 bytes per character) and count once the vocabulary is
    known. The training text is kept (for `sample --novel`) while it is at
    most `keep_text` characters.
    """
    percentages = parse_split(split)
    if percentages is not None and test_size is not None:
        raise OptionError("--test-size belongs to the makemore split; --split sets every "
                          "split's share")
    sources = resolve_sources(arguments)
    options = {} if block_bytes is None else {"block_bytes": block_bytes}
    reader = Reader(sources, encoding_errors, **options)
    try:
        return _load(reader, sources, test_size, split_seed, keep_text, order, percentages)
    finally:
        reader.close()


def _assignment(reader, labels, test_size, split_seed, percentages):
    if percentages is None and test_size == 0:
        return None, {"method": "none", "seed": split_seed, "test_size": 0}
    reader.spool_stdin()
    n_items = count_items(reader)
    if n_items == 0:
        raise InputError(f"{labels} holds no items (it is empty or only has blank lines)")
    if percentages is not None:
        return (split_assignment(n_items, split_seed, percentages=percentages),
                {"method": "percent", "seed": split_seed,
                 "shares": "/".join(f"{p:g}" for p in percentages)})
    test_size = default_test_size(n_items) if test_size is None else int(test_size)
    if test_size < 0:
        raise OptionError("--test-size must be 0 or more")
    if test_size >= n_items:
        raise OptionError(f"--test-size {test_size} leaves nothing to train on: the data has "
                          f"{n_items} items")
    return (split_assignment(n_items, split_seed, test_size),
            {"method": "makemore", "seed": split_seed, "test_size": test_size})


def _load(reader, sources, test_size, split_seed, keep_text, order, percentages):
    labels = ", ".join(s.label for s in sources)
    assignment, split_info = _assignment(reader, labels, test_size, split_seed, percentages)
    counter = BigramCounter()
    held_out = {"dev": [], "test": []}
    collected = {name: [] for name in SPLITS}   # higher orders: (chars, offsets) per split
    kept, kept_size, keep = [], 0, True
    base = 0
    for _, block in reader.blocks(hash_bytes=True):
        n_block = block.n_items
        local = None if assignment is None else assignment[base:base + n_block]
        keep = keep and kept_size + len(block.codepoints) <= keep_text
        others = np.zeros(0, dtype=np.int64) if local is None else np.flatnonzero(local != 0)
        train = None if not len(others) else local == 0
        if order == 2 and block.plain:
            # Byte pairs count the whole block; held-out items are then taken back out.
            counter.add_plain_block(block, "train")
            if len(others):
                chars, offsets = block.item_chars(others)
                counter.add(chars, offsets, "train", sign=-1)
        else:
            chars, offsets = block.item_chars(train)
            counter.add(chars, offsets, "train")
            if order > 2:
                collected["train"].append((chars, offsets))
        for name, code in (("dev", 1), ("test", 2)):
            which = np.zeros(0, dtype=np.int64) if local is None else np.flatnonzero(local == code)
            if len(which):
                chars, offsets = block.item_chars(which)
                counter.add(chars, offsets, name)
                if order > 2:
                    collected[name].append((chars, offsets))
                held_out[name].extend(block.item_strings(which))
        if keep:
            text = block.joined(train) if train is not None or not block.plain else block.text()
            kept.append(text)
            kept_size += len(text)
        base += n_block
    if base == 0:
        raise InputError(f"{labels} holds no items (it is empty or only has blank lines)")
    vocabulary = counter.vocabulary()
    check_order(order, len(vocabulary))
    splits = [s for s in SPLITS if counter.items.get(s, 0) > 0 or s == "train"]
    if order == 2:
        counts = {s: NgramTable.from_dense(counter.counts(s, vocabulary)) for s in splits}
    else:
        counts = {s: _count_collected(collected[s], vocabulary, order) for s in splits}
    return TrainingData(
        vocabulary=vocabulary, order=order, counts=counts,
        items={s: counter.items.get(s, 0) for s in splits},
        sources=[s.label for s in sources], sha256=reader.sha256.hexdigest(),
        bytes_read=reader.bytes_read, split=split_info,
        held_out={k: v for k, v in held_out.items() if v},
        train_items="\n".join(k for k in kept if k) if keep else None,
    )


def _count_collected(parts, vocabulary, order):
    """The n-gram table of items collected block by block, under the final vocabulary."""
    if not parts:
        return NgramTable.empty(order, len(vocabulary))
    chars = np.concatenate([c for c, _ in parts])
    lengths = np.concatenate([np.diff(o) for _, o in parts])
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens, _ = vocabulary.encode(chars)
    return count_ngrams(tokens, offsets, order, len(vocabulary))
