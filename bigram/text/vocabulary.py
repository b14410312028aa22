"""The vocabulary: the boundary token at index 0, `<unk>` at 1 when the model has it, then
the tokens seen (characters or words) in code-point order.

Characters move through the toolkit as numpy arrays of code points, so
encoding is one `searchsorted`; words are found through bigram.text.words' hashed
index. Neither loops over tokens in Python.
"""

import re

import numpy as np

from bigram.arrays import distinct

BOUNDARY = 0
UNK = "<unk>"
UNITS = ("char", "word")
# How tokens print in tables and figures: the boundary as '.', as in the lecture's stoi,
# and characters that would be invisible as visible stand-ins.
_VISIBLE = {" ": "␣", "\t": "⇥", "\u00a0": "⍽"}


# What a word may not hold (checked over all words at once, joined).
_SEPARATOR = re.compile("[ \t\r\n\0]")


class Vocabulary:
    """The tokens of a model: characters or words, with the boundary and optionally `<unk>`."""

    def __init__(self, tokens, unit="char", unk=False):
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}")
        tokens = sorted(set(tokens) - {UNK})
        if unit == "char" and any(len(t) != 1 for t in tokens):
            raise ValueError("vocabulary entries must be single characters")
        if unit == "word" and tokens and (not tokens[0] or _SEPARATOR.search(
                "\x01".join(tokens))):   # sorted: an empty word would be first
            raise ValueError("words must be non-empty and hold no space, tab or line break")
        self.unit, self.unk, self.tokens = unit, bool(unk), tokens
        self.first = 2 if unk else 1          # index of the first real token
        if unit == "char":
            self.codepoints = np.array([ord(c) for c in tokens], dtype=np.uint32)
        self._words = None

    @classmethod
    def from_sorted(cls, tokens, unit, unk):
        """A vocabulary of tokens its caller has checked: sorted, distinct, no `<unk>`, each
        valid for the unit (a query file checks its vocabulary's bytes at once, which is
        many times faster than checking a large vocabulary word by word)."""
        vocabulary = cls([], unit, unk)
        vocabulary.tokens = list(tokens)
        if unit == "char":
            vocabulary.codepoints = np.array([ord(c) for c in tokens], dtype=np.uint32)
        return vocabulary

    @property
    def chars(self):
        """The characters of a char vocabulary (the lecture's name for its tokens)."""
        return self.tokens

    @property
    def unk_id(self):
        """The index of `<unk>`, or None."""
        return 1 if self.unk else None

    @classmethod
    def from_codepoints(cls, codepoints, unk=False):
        """The char vocabulary of an array of code points (any order, repeats allowed)."""
        unique = distinct(np.asarray(codepoints, dtype=np.uint32))
        return cls([chr(int(c)) for c in unique], "char", unk)

    def __len__(self):
        return len(self.tokens) + self.first

    def __eq__(self, other):
        return (isinstance(other, Vocabulary) and self.unit == other.unit
                and self.unk == other.unk and self.tokens == other.tokens)

    def __repr__(self):
        shown = self.tokens[:8]
        more = f", ... {len(self.tokens) - 8} more" if len(self.tokens) > 8 else ""
        return f"Vocabulary({self.unit}, {len(self)} tokens: {shown}{more})"

    @property
    def boundary_label(self):
        """'.' for the boundary of a char model ('<.>' if '.' is a character), else '</s>'."""
        if self.unit == "word":
            return "</s>"
        return "<.>" if "." in self.tokens else "."

    def token(self, index):
        """The token string at `index` (the boundary and `<unk>` by their labels)."""
        if index == BOUNDARY:
            return self.boundary_label
        if self.unk and index == 1:
            return UNK
        return self.tokens[index - self.first]

    def label(self, index):
        """How token `index` is shown to people."""
        text = self.token(index)
        if self.unit == "char" and index >= self.first:
            return _VISIBLE.get(text, text if text.isprintable() else f"U+{ord(text):04X}")
        return text

    def labels(self):
        """Every token's label, in index order."""
        return [self.label(i) for i in range(len(self))]

    def stoi(self):
        """Token to index, as in the lecture (the boundary appears as '.' unless taken)."""
        table = {t: i + self.first for i, t in enumerate(self.tokens)}
        if self.unk:
            table[UNK] = 1
        table.setdefault(".", BOUNDARY)
        return table

    # ------------------------------------------------------------------ encoding

    def encode(self, codepoints, starts=None, ends=None):
        """Token indices of characters (or of words spanning [starts, ends) of the code points),
        and a mask of those outside the vocabulary (mapped to `<unk>` when the model has it)."""
        if self.unit == "word":
            return self._word_tokens(self._index().find(codepoints, starts, ends))
        tokens, unknown = self._encode_chars(np.asarray(codepoints))
        tokens = np.where(unknown, 1 if self.unk else -1, tokens)
        return tokens.astype(np.int64), unknown

    def encode_utf8(self, text, starts, ends):
        """encode() of words given as spans of UTF-8 bytes (uint8), split at ASCII delimiters
        (a word vocabulary)."""
        return self._word_tokens(self._index().find_utf8(text, starts, ends))

    def _word_tokens(self, index):
        """Token indices of word ids (int64, -1 unknown), and the mask of unknown ones."""
        unknown = index < 0
        tokens = index + self.first
        tokens[unknown] = 1 if self.unk else -1
        return tokens, unknown

    def _encode_chars(self, codepoints):
        if codepoints.dtype == np.uint8:
            # ASCII text: one gather through a 256-entry table.
            tokens = self._byte_table()[codepoints]
            return tokens, tokens < 0
        codepoints = codepoints.astype(np.uint32, copy=False)
        if not len(self.tokens):
            return np.full(codepoints.shape, -1, np.int64), np.ones(codepoints.shape, bool)
        position = np.searchsorted(self.codepoints, codepoints)
        clipped = np.minimum(position, len(self.tokens) - 1)
        known = self.codepoints[clipped] == codepoints
        return np.where(known, clipped + self.first, -1).astype(np.int64), ~known

    def _index(self):
        if getattr(self, "_word_index", None) is None:
            from bigram.text.words import WordIndex

            self._word_index = WordIndex.from_words(self.tokens)
        return self._word_index

    def _byte_table(self):
        table = getattr(self, "_bytes", None)
        if table is None:
            table = np.full(256, -1, dtype=np.int64)
            small = self.codepoints < 256
            table[self.codepoints[small]] = np.flatnonzero(small) + self.first
            self._bytes = table
        return table

    def split(self, text):
        """Code points of a string and, for words, the spans of its tokens."""
        from bigram.text.words import split_words

        codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        if self.unit == "char":
            return codepoints, None, None
        starts, ends, _ = split_words(codepoints, np.array([0, len(codepoints)]))
        return codepoints, starts, ends

    def encode_text(self, text):
        """Token indices of a string; raises KeyError naming tokens outside the vocabulary
        (never for a model with `<unk>`)."""
        codepoints, starts, ends = self.split(text)
        tokens, unknown = self.encode(codepoints, starts, ends)
        if unknown.any() and not self.unk:
            if self.unit == "char":
                raise KeyError(sorted({text[i] for i in np.flatnonzero(unknown)}))
            pieces = [codepoints[a:b].astype("<u4").tobytes().decode("utf-32-le")
                      for a, b in zip(starts[unknown].tolist(), ends[unknown].tolist())]
            raise KeyError(sorted(set(pieces)))
        return tokens

    # ------------------------------------------------------------------ decoding

    def word_pool(self):
        """Every token's UTF-32 code points laid end to end, and where each starts (for decoding
        many samples at once)."""
        if self._words is None:
            texts = [self.token(i) if i >= self.first else "" for i in range(len(self))]
            if self.unk:
                texts[1] = UNK
            lengths = np.array([len(t) for t in texts], dtype=np.int64)
            offsets = np.zeros(len(texts) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            pool = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
            self._words = (pool, offsets)
        return self._words

    def decode(self, tokens):
        """The string of token indices (the boundary, if present, is dropped)."""
        tokens = np.asarray(tokens, dtype=np.int64)
        tokens = tokens[tokens != BOUNDARY]
        return join_tokens(self, tokens, np.array([0, len(tokens)]))[0]


class JoinedWords(Vocabulary):
    """A word vocabulary kept as one string, its words joined by line feeds, with their
    stored hash table (a query file's). Its caller has checked the words (sorted,
    distinct, non-empty, none `<unk>` or holding a delimiter: on the bytes, at once).
    Looking words up needs only the string and the table (WordIndex.from_joined), so
    the list of words as Python strings (`tokens`) is made only when something asks for
    it: scoring a few lines never does, and splitting 200,000 words costs tens of
    milliseconds of a start-up that should take a few hundred."""

    def __init__(self, text, count, unk, stored_hashes):
        super().__init__([], "word", unk)
        self._text, self._count, self._list = text, count, None
        self.stored_hashes = stored_hashes

    @property
    def tokens(self):
        if self._list is None:
            self._list = self._text.split("\n") if self._count else []
        return self._list

    @tokens.setter
    def tokens(self, tokens):   # Vocabulary.__init__ sets them
        self._list = tokens

    def __len__(self):
        return self._count + self.first

    def _index(self):
        if getattr(self, "_word_index", None) is None:
            from bigram.text.words import WordIndex

            self._word_index = WordIndex.from_joined(self._text, *self.stored_hashes)
        return self._word_index


# Fewer word tokens than 1/FEW_WORDS of the vocabulary are joined word by word, before the
# word pool is made: laying out every word end to end first took 0.45 s for the 200,000
# words of a 1.28 GB model, a third of `sample -n 5`'s CPU time on its query file.
FEW_WORDS = 8


def join_tokens(vocabulary, tokens, offsets, prefix=""):
    """Items given as token indices and offsets, as strings: characters joined directly, words
    with one space; each starts with `prefix`. Built with array operations, not a loop
    (a few words of a large vocabulary: word by word)."""
    if vocabulary.unit == "word" and getattr(vocabulary, "_words", None) is None \
            and len(tokens) * FEW_WORDS < len(vocabulary):
        return _join_few_words(vocabulary, tokens, offsets, prefix)
    return _join_in_arrays(vocabulary, tokens, offsets, prefix)


def _join_few_words(vocabulary, tokens, offsets, prefix):
    """join_tokens' strings from the words of these tokens only: a space between words,
    and between the prefix and the first word unless the prefix ends in one."""
    tokens = np.asarray(tokens, dtype=np.int64).tolist()
    # As the word pool holds them: the boundary as nothing, <unk> by its label.
    words = {token: "" if token == BOUNDARY else vocabulary.token(token)
             for token in set(tokens)}
    lead = prefix + " " if prefix and not prefix[-1:].isspace() else prefix
    bounds = np.asarray(offsets).tolist()
    return [lead + " ".join(words[token] for token in tokens[start:end]) if end > start
            else prefix for start, end in zip(bounds[:-1], bounds[1:])]


def _join_in_arrays(vocabulary, tokens, offsets, prefix=""):
    """join_tokens by array operations over the word pool."""
    pool, starts_of = vocabulary.word_pool()
    n = len(offsets) - 1
    if n == 0:
        return []
    tokens = np.asarray(tokens, dtype=np.int64)
    lengths = starts_of[tokens + 1] - starts_of[tokens]
    separator = 1 if vocabulary.unit == "word" else 0
    owner = np.repeat(np.arange(n), np.diff(offsets))
    first = np.zeros(len(tokens), dtype=bool)
    first[offsets[:-1][np.diff(offsets) > 0]] = True
    prefix_points = np.frombuffer(prefix.encode("utf-32-le"), dtype=np.uint32)
    gap = np.where(first, 0 if not len(prefix_points) or not separator
                   or prefix[-1:].isspace() else separator, separator)
    # Each token takes its gap (a space between words) and its characters.
    widths = gap + lengths
    per_item = np.bincount(owner, weights=widths, minlength=n).astype(np.int64)
    item_width = len(prefix_points) + per_item + 1
    item_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(item_width, out=item_start[1:])
    out = np.full(item_start[-1], 0x0A, dtype=np.uint32)
    if len(prefix_points):
        out[(item_start[:-1, None] + np.arange(len(prefix_points))).ravel()] = \
            np.tile(prefix_points, n)
    token_start = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.cumsum(widths, out=token_start[1:])
    within = token_start[:-1] - token_start[offsets[owner]]
    place = item_start[owner] + len(prefix_points) + within
    out[place[gap > 0]] = 0x20
    chars = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[np.repeat(place + gap, lengths) + chars] = pool[np.repeat(starts_of[tokens], lengths)
                                                        + chars]
    return out[:-1].astype("<u4").tobytes().decode("utf-32-le").split("\n")
