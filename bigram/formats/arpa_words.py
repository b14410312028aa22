"""Word ids for the tokens of an ARPA block, looked up by whole arrays instead of per token.

The unigram section defines the words. Each token is hashed from its bytes, read eight
at a time through an unaligned 64-bit view of the block, and found in an open-addressing
table over the words' hashes. A hash is never trusted alone: the token's bytes are
compared with the word's, and any token not matched exactly (absent, long, or sharing a
hash with another word) is left for the caller's exact dictionary.
"""

import numpy as np

# Longer tokens are rare in real files; the dictionary takes them, which keeps the number
# of eight-byte rounds small.
_MAX_HASHED_BYTES = 64
_MIX = np.uint64(0x9E3779B97F4A7C15)
# _LOW_BYTES[k] keeps the first k bytes of a little-endian eight-byte word.
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
# Runs are used when at least one token in this many repeats the one before it; fewer
# save less than the gather of each run's id costs.
RUNS_WORTH_IT = 5


def eight_byte_view(buffer):
    """An array whose element i is the 8 bytes of `buffer` from offset i (little-endian)."""
    padded = np.zeros(len(buffer) + 8, dtype=np.uint8)
    padded[:len(buffer)] = np.frombuffer(buffer, dtype=np.uint8)
    return np.ndarray((len(buffer),), dtype="<u8", buffer=padded, strides=(1,))


def _heads(view, starts, lengths):
    """The first eight bytes of each token (zero-padded): the whole token when it is no
    longer than that."""
    return view[starts] & _LOW_BYTES[np.minimum(lengths, 8)]


def _token_hashes(view, starts, lengths, head=None):
    """A 64-bit hash of each token view[starts[i]] of lengths[i] bytes, and its head
    (_heads; given or made here)."""
    if head is None:
        head = _heads(view, starts, lengths)
    mixed = (lengths.astype(np.uint64) * _MIX ^ head) * _MIX
    hashes = mixed ^ (mixed >> np.uint64(29))
    rows = np.flatnonzero(lengths > 8)
    offset = 8
    while len(rows):
        left = lengths[rows] - offset
        chunk = view[starts[rows] + offset] & _LOW_BYTES[np.minimum(left, 8)]
        mixed = (hashes[rows] ^ chunk) * _MIX
        hashes[rows] = mixed ^ (mixed >> np.uint64(29))
        rows = rows[left > 8]
        offset += 8
    return hashes, head


def _same_bytes(view, starts, other_view, other_starts, lengths, offset=0):
    """Whether each token equals the other token of the same length, byte for byte from
    `offset` on (the bytes before it known equal)."""
    same = np.ones(len(starts), dtype=bool)
    rows = np.flatnonzero(lengths > offset)
    while len(rows):
        left = lengths[rows] - offset
        mask = _LOW_BYTES[np.minimum(left, 8)]
        equal = (view[starts[rows] + offset] & mask) == (other_view[other_starts[rows] + offset]
                                                         & mask)
        same[rows[~equal]] = False
        rows = rows[equal & (left > 8)]
        offset += 8
    return same


class WordIndex:
    """The unigram words, for finding the ids of many tokens at once."""

    def __init__(self, words, table_type):
        """`words` are the unigram tokens (bytes) in id order; `table_type` builds a hash
        table from an array of hashes (arpa_reader's _HashTable)."""
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        self.starts = np.zeros(len(words), dtype=np.int64)
        np.cumsum(lengths[:-1], out=self.starts[1:])
        self.lengths = lengths
        self.view = eight_byte_view(b"".join(words))
        hashed = lengths <= _MAX_HASHED_BYTES
        hashes, self.head = _token_hashes(self.view, self.starts,
                                          np.minimum(lengths, _MAX_HASHED_BYTES))
        # A long word gets a hash no token is given, so it is only ever found by the dictionary.
        hashes[~hashed] = 0
        hashes[~hashed] ^= np.arange(np.count_nonzero(~hashed), dtype=np.uint64) * _MIX
        # A shared hash leaves a word out of the table; its tokens then go to the dictionary.
        self.table = table_type(hashes)

    def find(self, view, starts, lengths):
        """The id of each token (view, starts, lengths as from eight_byte_view), or -1 where
        the caller must ask the dictionary."""
        head = _heads(view, starts, lengths)
        # lmplz lists a level by its last word, then the one before it, ...: the last
        # columns' tokens come in runs. A token of up to eight bytes equal to the one
        # before it (same head, same length: the whole token) takes that one's id, so
        # only the first of each run is looked up.
        repeat = np.zeros(len(starts), dtype=bool)
        np.equal(head[1:], head[:-1], out=repeat[1:])
        repeat[1:] &= lengths[1:] == lengths[:-1]
        repeat &= lengths <= 8
        if np.count_nonzero(repeat) * RUNS_WORTH_IT < len(starts):
            return self._find(view, starts, lengths, head)
        first = np.flatnonzero(~repeat)
        run = np.cumsum(~repeat)
        run -= 1
        return self._find(view, starts[first], lengths[first], head[first])[run]

    def _find(self, view, starts, lengths, head):
        ids = np.full(len(starts), -1, dtype=np.int64)
        short = np.flatnonzero(lengths <= _MAX_HASHED_BYTES)
        if not len(short):
            return ids
        if len(short) < len(starts):
            starts, lengths, head = starts[short], lengths[short], head[short]
        hashes, head = _token_hashes(view, starts, lengths, head)
        found = self._find_hashes(hashes)
        match = found >= 0
        rows = np.where(match, found, 0)
        match &= self.lengths[rows] == lengths
        match &= self.head[rows] == head  # the whole comparison for tokens of up to 8 bytes
        longer = np.flatnonzero(match & (lengths > 8))
        if len(longer):
            # Their first eight bytes were compared as the heads.
            match[longer] = _same_bytes(view, starts[longer], self.view,
                                        self.starts[rows[longer]], lengths[longer], offset=8)
        ids[short[match]] = rows[match]
        return ids

    def _find_hashes(self, hashes):
        """The table's find, with the first probe (which settles most tokens) done inline."""
        table = self.table
        rows = table.rows[(hashes >> table.shift).astype(np.int64)]
        hit = rows >= 0
        hit &= table.hashes[rows] == hashes  # a -1 row reads the last hash; `hit` masks it
        probe_on = np.flatnonzero(~hit & (rows >= 0))
        rows[~hit] = -1
        if len(probe_on):
            rows[probe_on] = table.find(hashes[probe_on], past_home=True)
        return rows
