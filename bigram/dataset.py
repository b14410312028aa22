"""Training data: items read from the sources, split into train and test, counted.

The split is makemore's: a permutation of the item indices from a generator
seeded with `split_seed` (the stream of `torch.manual_seed(3407);
torch.randperm(n)`), whose last `test_size` entries are the test items;
by default `min(1000, 10%)` of them. The vocabulary is every character of
every item, as makemore builds it before splitting.
"""

from dataclasses import dataclass, field

import numpy as np

from . import tensor as torch
from .corpus import Reader, count_items, resolve_sources
from .counting import BigramCounter
from .errors import InputError, OptionError
from .vocabulary import Vocabulary

DEFAULT_SPLIT_SEED = 3407
# Training text kept in the model file for `sample --novel`, up to this many characters
# (names.txt is 0.23 M); beyond it the file keeps none, and memory stays bounded.
KEEP_TEXT_LIMIT = 16 << 20


def default_test_size(n_items):
    """makemore's held-out size: 10% of the items, at most 1000."""
    return min(1000, int(n_items * 0.1))


def held_out_indices(n_items, test_size, split_seed):
    """Sorted indices of the test items: the last `test_size` of a seeded randperm."""
    if test_size == 0:
        return np.zeros(0, dtype=np.int64)
    generator = torch.Generator().manual_seed(split_seed)
    permutation = torch.randperm(n_items, generator=generator).numpy()
    return np.sort(permutation[n_items - test_size:])


@dataclass
class TrainingData:
    """What a model is trained and evaluated on: counts per split and the items behind them."""

    vocabulary: Vocabulary
    counts: dict                       # split name -> (V, V) int64 bigram counts
    items: dict                        # split name -> number of items
    sources: list
    sha256: str
    bytes_read: int
    split: dict                        # how the test set was chosen
    test_items: list = field(default_factory=list)
    train_items: str | None = None     # training items joined by newlines, or None if too many

    @property
    def splits(self):
        """The split names that hold items, train first."""
        return [s for s in ("train", "test") if self.items.get(s)]

    def bigrams(self, split):
        """Number of bigrams (predicted tokens) in a split."""
        return int(self.counts[split].sum())


def _train_mask(n_items, local_test):
    mask = np.ones(n_items, dtype=bool)
    mask[local_test] = False
    return mask


def load_training_data(arguments, test_size=None, split_seed=DEFAULT_SPLIT_SEED,
                       encoding_errors="strict", block_bytes=None, keep_text=KEEP_TEXT_LIMIT):
    """Read, split and count the training sources (paths, globs, '-'; names.txt if none).

    The training items' text is kept (for `sample --novel`) while it is at
    most `keep_text` characters; plain ASCII blocks are counted from their
    byte pairs either way, without materialising items.
    """
    sources = resolve_sources(arguments)
    options = {} if block_bytes is None else {"block_bytes": block_bytes}
    reader = Reader(sources, encoding_errors, **options)
    try:
        return _load(reader, sources, test_size, split_seed, keep_text)
    finally:
        reader.close()


def _load(reader, sources, test_size, split_seed, keep_text):
    labels = ", ".join(s.label for s in sources)
    test = np.zeros(0, dtype=np.int64)
    n_items = None
    if test_size != 0:
        reader.spool_stdin()
        n_items = count_items(reader)
        if n_items == 0:
            raise InputError(f"{labels} holds no items (it is empty or only has blank lines)")
        test_size = default_test_size(n_items) if test_size is None else int(test_size)
        if test_size < 0:
            raise OptionError("--test-size must be 0 or more")
        if test_size >= n_items:
            raise OptionError(f"--test-size {test_size} leaves nothing to train on: the data "
                              f"has {n_items} items")
        test = held_out_indices(n_items, test_size, split_seed)
    counter = BigramCounter()
    test_items, kept, kept_size, keep = [], [], 0, True
    base = 0
    for _, block in reader.blocks(hash_bytes=True):
        n_block = block.n_items
        lo, hi = np.searchsorted(test, [base, base + n_block])
        local_test = test[lo:hi] - base
        keep = keep and kept_size + len(block.codepoints) <= keep_text
        train = _train_mask(n_block, local_test) if len(local_test) else None
        if block.plain:
            # Byte pairs count the whole block; held-out items are then taken back out.
            counter.add_plain_block(block, "train")
            if len(local_test):
                chars, offsets = block.item_chars(local_test)
                counter.add(chars, offsets, "train", sign=-1)
                counter.add(chars, offsets, "test")
            if keep:
                # Whole lines as read; `SavedModel.training_items` applies the item rule.
                kept.append(block.joined(train) if train is not None else block.text())
                kept_size += len(kept[-1])
        else:
            chars, offsets = block.item_chars(train)
            counter.add(chars, offsets, "train")
            if keep:
                kept.append(block.joined(train))
                kept_size += len(kept[-1])
            if len(local_test):
                chars, offsets = block.item_chars(local_test)
                counter.add(chars, offsets, "test")
        if len(local_test):
            test_items.extend(block.item_strings(local_test))
        base += n_block
    if base == 0:
        raise InputError(f"{labels} holds no items (it is empty or only has blank lines)")
    vocabulary = counter.vocabulary()
    splits = ("train", "test") if len(test) else ("train",)
    return TrainingData(
        vocabulary=vocabulary,
        counts={s: counter.counts(s, vocabulary) for s in splits},
        items={s: counter.items.get(s, 0) for s in splits},
        sources=[s.label for s in sources],
        sha256=reader.sha256.hexdigest(),
        bytes_read=reader.bytes_read,
        split={"method": "makemore", "seed": split_seed, "test_size": int(len(test))},
        test_items=test_items,
        train_items="\n".join(k for k in kept if k) if keep else None,
    )
