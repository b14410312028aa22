"""Training data: items read from the sources, split (bigram.text.splits), and counted as
n-grams of an order.

The vocabulary is every token (character or word) of every item, as makemore
builds it before splitting; `--min-count` and `--max-vocab` keep only the
tokens frequent enough in the training split and map the rest to `<unk>`.
"""

from dataclasses import dataclass, field

import numpy as np

from bigram.errors import InputError, OptionError
from bigram.ngrams.counting import TokenCollector
from bigram.ngrams.index import MAX_ORDER, PADDINGS
from bigram.read_ahead import ReadAhead
from bigram.settings import Reading
from bigram.text.sources import (
    BYTE_IS_SPACE,
    KEEP_TEXT_LIMIT,
    Reader,
    count_items,
    resolve_sources,
)
from bigram.text.splits import SPLITS, default_test_size, parse_split, split_assignment
from bigram.text.vocabulary import UNITS, UNK, Vocabulary
from bigram.text.words import delimiter_table, split_text_words


@dataclass
class TrainingData:
    """What a model is trained and evaluated on: n-gram counts per split, and the items."""

    vocabulary: Vocabulary
    order: int
    counts: dict                       # split name -> NgramIndex of the order
    items: dict                        # split name -> number of items
    sources: list
    sha256: str
    bytes_read: int
    split: dict                        # how the splits were chosen
    held_out: dict = field(default_factory=dict)   # split name -> its items (not train)
    train_items: str | None = None     # training text for --novel, or None if too long
    vocabulary_control: dict = field(default_factory=dict)   # min_count, max_vocab, unk_tokens
    token_rank: object = None          # lmplz's word id of each token (first appearance)
    collector: object = None           # the token ids, to count again at another order
    mapping: object = None

    @property
    def splits(self):
        """The split names that hold items, in train, dev, test order."""
        return [s for s in SPLITS if self.items.get(s)]

    def tokens(self, split):
        """Number of predicted tokens in a split."""
        return self.counts[split].predictions()

    def release_tokens(self):
        """Let the token ids go (4 bytes per token) once nothing will count them again."""
        self.collector = self.mapping = None

    def recount(self, order, padding="makemore"):
        """The counts of every split at another order or padding (the ids are kept)."""
        return {s: self.collector.count(s, self.mapping, len(self.vocabulary), order, padding)
                for s in self.counts}


def check_vocabulary_options(unit, min_count, max_vocab):
    """Reject bad --unit, --min-count and --max-vocab values before any data is read."""
    if unit not in UNITS:
        raise OptionError(f"--unit must be char or word, not {unit!r}")
    if min_count is not None and min_count < 1:
        raise OptionError(f"--min-count must be 1 or more, not {min_count} (tokens seen fewer "
                          "times become <unk>)")
    if max_vocab is not None and max_vocab < 1:
        raise OptionError(f"--max-vocab must be 1 or more, not {max_vocab}")


def check_reading(reading, order, padding):
    """Refuse reading settings no reader can follow, before any data is read; returns the
    split's percentages (None for makemore's split)."""
    check_vocabulary_options(reading.unit, reading.min_count, reading.max_vocab)
    if reading.skip_symbols and reading.unit != "word":
        raise OptionError("--skip-symbols drops the words <s>, </s> and <unk>: it goes with "
                          "--unit word")
    if padding not in PADDINGS:
        raise OptionError(f"unknown padding {padding!r}")
    if not 2 <= order <= MAX_ORDER:
        raise OptionError(f"--order must be from 2 to {MAX_ORDER}, not {order}")
    percentages = parse_split(reading.split)
    if percentages is not None and reading.test_size is not None:
        raise OptionError("--test-size belongs to the makemore split; --split sets every "
                          "split's share")
    return percentages


def load_training_data(arguments, reading=None, order=2, padding="makemore",
                       keep_text=KEEP_TEXT_LIMIT, keep_tokens=True):
    """Read, split and count the training sources (paths, globs, '-'; names.txt if none).

    `reading` (bigram.settings.Reading; the defaults if None) says how: unit, split,
    vocabulary control, encoding errors, block size. Items become token ids block by
    block (4 bytes per token are kept until counting); bigrams of characters in plain
    ASCII blocks are counted from byte pairs instead, without materialising items.
    The training text is kept (for `sample --novel`) while it is at most `keep_text`
    characters. With `reading.skip_symbols` the words <s>, </s> and <unk> of word text
    are read as spaces (lmplz's --skip_symbols); without it <unk> is the unknown word and
    its count is recorded.
    """
    reading = reading if reading is not None else Reading()
    percentages = check_reading(reading, order, padding)
    sources = resolve_sources(arguments)
    options = {} if reading.block_bytes is None else {"block_bytes": reading.block_bytes}
    # Sentence padding reads lines as KenLM does: a blank line is the sentence <s> </s>.
    reader = Reader(sources, reading.encoding_errors, lines=padding == "sentence", **options)
    try:
        return _load(reader, sources, reading, order, percentages, padding, keep_text,
                     keep_tokens)
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


def collect_blocks(reader, labels, assignment, collector, keep_text, byte_pairs=False,
                   progress=None, size=None):
    """Every block of the sources into `collector` by split (`assignment`: 0 train, 1 dev,
    2 test per item; None: all train), ASCII blocks as byte pairs when `byte_pairs`.
    Returns the held-out items as strings per split, and the training text while it is at
    most `keep_text` characters (for `sample --novel`; None beyond). `progress("reading",
    bytes read, size)` hears of each block."""
    held_out = {"dev": [], "test": []}
    kept, kept_size, keep = [], 0, True
    base = 0
    # When every item trains, a block's words are split on the reading thread too.
    prepare = _split_words if collector.unit == "word" and assignment is None else _items
    with ReadAhead(reader.blocks(hash_bytes=True), prepare) as blocks:
        for source, block, words in blocks:
            n_block = block.n_items
            local = None if assignment is None else assignment[base:base + n_block]
            keep = keep and kept_size + block.n_chars <= keep_text
            if not keep:
                kept = []   # too long to keep: let it go now, not at the end
            others = (np.zeros(0, dtype=np.int64) if local is None
                      else np.flatnonzero(local != 0))
            train = None if not len(others) else local == 0
            if byte_pairs and block.plain:
                collector.add_plain_block(block, "train", others)
            else:
                _add_items(collector, block, train, "train", source.label, words)
            del words
            for name, code in (("dev", 1), ("test", 2)):
                which = (np.zeros(0, dtype=np.int64) if local is None
                         else np.flatnonzero(local == code))
                if len(which):
                    _add_items(collector, block, which, name, source.label)
                    held_out[name].extend(block.item_strings(which))
            if keep:
                text = (block.joined(train) if train is not None or not block.plain
                        else block.text())
                kept.append(text)
                kept_size += len(text)
            base += n_block
            if progress is not None:
                progress("reading", reader.bytes_read, size or None)
    if base == 0:
        raise InputError(f"{labels} holds no items (it is empty or only has blank lines)")
    train_items = "\n".join(k for k in kept if k) if keep else None
    return {k: v for k, v in held_out.items() if v}, train_items


_UNSPLIT = object()


def _add_items(collector, block, which, split, label, words=_UNSPLIT):
    """The chosen items of a block into the collector: words from the UTF-8 bytes where
    they split as the text does (no code points made), else from the code points;
    `words`, when given, is what _block_words(block) gave."""
    if collector.unit != "word" or not block.splits_as_bytes:
        collector.add_items(*block.item_chars(which), split, label)
        return
    if which is not None:
        words = None
    elif words is _UNSPLIT:
        words = _block_words(block)
    if words is not None:
        collector.add_items(block.raw, None, split, label, utf8=True, words=words)
    else:
        collector.add_items(*block.item_utf8(which), split, label, utf8=True)


def _items(source_block):
    """(source, block, words not split): the block's items found."""
    source, block = source_block
    block.n_items       # noqa: B018 - finds the items (cached in the block)
    return source, block, _UNSPLIT


def _split_words(source_block):
    """(source, block, words): the block's items found and its words split (_block_words;
    None when its words cannot be split on the whole block)."""
    source, block = source_block
    block.n_items       # noqa: B018 - finds the items (cached in the block)
    return source, block, _block_words(block) if block.splits_as_bytes else _UNSPLIT


# Bytes that strip_spans removes from an item's edges but that do not cut words.
_SPACES_NOT_DELIMITERS = BYTE_IS_SPACE & ~delimiter_table()


def _block_words(block):
    """The words of every item of a block that splits_as_bytes, as spans of its bytes
    (starts, ends, word_offsets as split_words gives them), split in place (no copy of
    the items): when the lines are cut and stripped at delimiters only, the words of the
    whole block are those of its items. None when some other space could lie between
    items (a form feed, a vertical tab, 0x1C to 0x1F)."""
    raw = block.raw
    if _SPACES_NOT_DELIMITERS[raw].any():
        return None
    starts, ends = split_text_words(raw)
    word_offsets = np.append(np.searchsorted(starts, block.byte_spans()[0]), len(starts))
    return starts, ends, word_offsets


def _load(reader, sources, reading, order, percentages, padding, keep_text, keep_tokens):
    unit = reading.unit
    labels = ", ".join(s.label for s in sources)
    assignment, split_info = _assignment(reader, labels, reading.test_size, reading.split_seed,
                                         percentages)
    byte_pairs = unit == "char" and order == 2 and padding == "makemore"
    collector = TokenCollector(unit, byte_pairs, reading.skip_symbols)
    held_out, train_items = collect_blocks(reader, labels, assignment, collector, keep_text,
                                           byte_pairs)
    vocabulary, mapping, control = _vocabulary(collector, unit, reading.min_count,
                                               reading.max_vocab, force_unk=padding == "sentence")
    splits = [s for s in SPLITS if collector.items(s) > 0 or s == "train"]
    counts = {s: collector.count(s, mapping, len(vocabulary), order, padding,
                                 consume=not keep_tokens) for s in splits}
    return TrainingData(
        vocabulary=vocabulary, order=order, counts=counts,
        items={s: collector.items(s) for s in splits},
        sources=[s.label for s in sources], sha256=reader.sha256.hexdigest(),
        bytes_read=reader.bytes_read, split=split_info,
        held_out=held_out, train_items=train_items,
        vocabulary_control=control, collector=collector, mapping=mapping,
        token_rank=_lmplz_ranks(mapping, len(vocabulary), vocabulary.unk_id),
    )


def _lmplz_ranks(mapping, size, unk_id):
    """lmplz's word id of every token: `<unk>` 0, `</s>` (the boundary) 2, then words from 3
    in order of first appearance (the compact ids' order)."""
    rank = np.zeros(size, dtype=np.int64)
    seen = mapping[1:] >= 0
    compact = np.flatnonzero(seen) + 1
    rank[mapping[compact][::-1]] = (compact + 2)[::-1]   # first appearance wins on merges
    rank[0] = 2
    if unk_id is not None:
        rank[unk_id] = 0
    return rank


def _vocabulary(collector, unit, min_count, max_vocab, force_unk=False):
    """The vocabulary, the renaming of compact ids into it, and what vocabulary control did.

    Without --min-count or --max-vocab every token seen (in any split) is in
    the vocabulary. With them, the training split's frequencies decide: tokens
    seen fewer than min_count times, and all but the max_vocab most frequent
    (ties go to the token that sorts first), become `<unk>`. The word `<unk>` in the
    text is that token; `<s>` and `</s>` are refused (ARPA files could not tell them from
    the boundaries), as lmplz refuses all three by default.
    """
    tokens = collector.tokens()
    if unit == "word":
        reserved = sorted({"<s>", "</s>"} & set(tokens))
        if reserved:
            raise InputError(f"the text holds the word {reserved[0]}, which bigram reserves for "
                             "the boundaries of items; replace it in the text, or pass "
                             "--skip-symbols to read <s>, </s> and <unk> as spaces as lmplz's "
                             "--skip_symbols does")
    literal_unk = UNK in tokens
    if min_count is None and max_vocab is None:
        # Modified Kneser-Ney always has `<unk>`, as lmplz's models do.
        vocabulary = Vocabulary(tokens, unit, unk=force_unk or literal_unk)
        kept = np.array([t != UNK for t in tokens], dtype=bool)
    else:
        frequency = collector.train_frequencies()[1:]
        kept = frequency >= (min_count or 1)
        if max_vocab is not None and kept.sum() > max_vocab:
            order = sorted(np.flatnonzero(kept).tolist(), key=lambda i: (-frequency[i], tokens[i]))
            kept = np.zeros(len(tokens), dtype=bool)
            kept[order[:max_vocab]] = True
        kept &= np.array([t != UNK for t in tokens], dtype=bool)
        vocabulary = Vocabulary([t for t, k in zip(tokens, kept) if k], unit, unk=True)
    stoi = {t: i + vocabulary.first for i, t in enumerate(vocabulary.tokens)}
    mapping = np.full(len(tokens) + 1, vocabulary.unk_id if vocabulary.unk else -1,
                      dtype=np.int64)
    mapping[0] = 0
    for i in np.flatnonzero(kept).tolist():
        mapping[i + 1] = stoi[tokens[i]]
    control = {"min_count": min_count, "max_vocab": max_vocab,
               "unk_types": int((~kept).sum()) - int(literal_unk)}
    if collector.literal_unk:
        control["literal_unk"] = collector.literal_unk
    return vocabulary, mapping, control
