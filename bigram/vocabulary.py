"""The vocabulary: a boundary token at index 0, then the characters seen, in code-point order.

Text moves through the toolkit as numpy arrays of Unicode code points, so
encoding is one `searchsorted`, never a Python loop over characters.
"""

import numpy as np

BOUNDARY = 0
# How tokens print in tables and figures: the boundary as '.', as in the lecture's stoi,
# and characters that would be invisible as visible stand-ins.
_VISIBLE = {" ": "␣", "\t": "⇥", "\u00a0": "⍽"}


class Vocabulary:
    """Characters of a model, with the boundary token (start and end of an item) at index 0."""

    def __init__(self, chars):
        chars = sorted(set(chars))
        if any(len(c) != 1 for c in chars):
            raise ValueError("vocabulary entries must be single characters")
        self.chars = chars
        self.codepoints = np.array([ord(c) for c in chars], dtype=np.uint32)

    @classmethod
    def from_codepoints(cls, codepoints):
        """The vocabulary of an array of code points (any order, repeats allowed)."""
        return cls(chr(int(c)) for c in np.unique(np.asarray(codepoints, dtype=np.uint32)))

    def __len__(self):
        return len(self.chars) + 1

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and self.chars == other.chars

    def __repr__(self):
        return f"Vocabulary({''.join(self.chars)!r})"

    @property
    def boundary_label(self):
        """'.' for the boundary, or '<.>' when '.' is itself a character of the data."""
        return "<.>" if "." in self.chars else "."

    def label(self, index):
        """How token `index` is shown to people."""
        if index == BOUNDARY:
            return self.boundary_label
        char = self.chars[index - 1]
        return _VISIBLE.get(char, char if char.isprintable() else f"U+{ord(char):04X}")

    def labels(self):
        """Every token's label, in index order."""
        return [self.label(i) for i in range(len(self))]

    def stoi(self):
        """Character to index, as in the lecture (the boundary appears as '.' unless taken)."""
        table = {c: i + 1 for i, c in enumerate(self.chars)}
        table.setdefault(".", BOUNDARY)
        return table

    def encode(self, codepoints):
        """Token indices for code points, and a mask of those outside the vocabulary."""
        codepoints = np.asarray(codepoints)
        if codepoints.dtype == np.uint8:
            # ASCII text: one gather through a 256-entry table.
            tokens = self._byte_table()[codepoints]
            return tokens, tokens < 0
        codepoints = codepoints.astype(np.uint32, copy=False)
        position = np.searchsorted(self.codepoints, codepoints)
        clipped = np.minimum(position, max(len(self.chars) - 1, 0))
        known = (self.codepoints[clipped] == codepoints) if len(self.chars) else \
            np.zeros(codepoints.shape, bool)
        return np.where(known, clipped + 1, -1).astype(np.int64), ~known

    def _byte_table(self):
        table = getattr(self, "_bytes", None)
        if table is None:
            table = np.full(256, -1, dtype=np.int64)
            small = self.codepoints < 256
            table[self.codepoints[small]] = np.flatnonzero(small) + 1
            self._bytes = table
        return table

    def encode_text(self, text):
        """Token indices of a string; raises KeyError naming characters outside the vocabulary."""
        codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        tokens, unknown = self.encode(codepoints)
        if unknown.any():
            missing = sorted({text[i] for i in np.flatnonzero(unknown)})
            raise KeyError("".join(missing))
        return tokens

    def decode(self, tokens):
        """The string of token indices (the boundary, if present, is dropped)."""
        tokens = np.asarray(tokens, dtype=np.int64)
        tokens = tokens[tokens != BOUNDARY]
        return self.codepoints[tokens - 1].astype("<u4").tobytes().decode("utf-32-le")
