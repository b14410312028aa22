"""Whole numbers in as few bits as their largest needs, packed into little-endian uint64 words.

Value i of a packed array of `bits`-bit values occupies bits i * bits .. i * bits + bits - 1
of the stream of words (bit 0 the lowest bit of word 0). A value spans at most two
words, so reading any set of positions is two gathers and a few shifts, all
vectorised; one spare word after the last keeps the second gather in bounds for
every position below the array's length. Packing goes 64 values at a time (64
values of `bits` bits fill exactly `bits` words), so a long array is packed in
slices that start on a word boundary and can be written out one after the other.
"""

import numpy as np

# Values per slice packed at once (a multiple of 64: slices start on word boundaries).
SLICE = 1 << 20
MAX_BITS = 63


def bits_for(largest):
    """Bits a value of up to `largest` (>= 0) needs; at least 1."""
    return max(int(largest).bit_length(), 1)


def packed_words(n, bits):
    """uint64 words of n packed `bits`-bit values, the spare word included."""
    return (n * bits + 63) // 64 + 1


def pack_slice(values, bits):
    """The words of values (non-negative integers below 2**bits), packed from bit 0 of the
    first word; len(values) * bits / 64 words, rounded up (no spare word).

    64 values fill `bits` words exactly, and value i of every such group lands at the same
    word and shift of its group: so the groups are rows, and each of the 64 values is
    shifted into its word (and the part past that word's end into the next) for every row
    at once: 64 to 128 array steps over a 64th of the values, where a step per value
    would be one pass over all of them."""
    values = np.asarray(values).astype(np.uint64, copy=False)
    n = len(values)
    if not n:
        return np.zeros(0, dtype=np.uint64)
    rows = -(-n // 64)
    if n % 64:
        grouped = np.zeros(rows * 64, dtype=np.uint64)
        grouped[:n] = values
    else:
        grouped = values
    grouped = grouped.reshape(rows, 64)
    words = np.zeros((rows, bits), dtype=np.uint64)
    for i in range(64):
        word, shift = divmod(i * bits, 64)
        if shift:
            words[:, word] |= grouped[:, i] << np.uint64(shift)
        else:
            words[:, word] |= grouped[:, i]
        if shift + bits > 64:   # the high part starts the next word
            words[:, word + 1] |= grouped[:, i] >> np.uint64(64 - shift)
    return words.reshape(-1)[:(n * bits + 63) // 64]


def write_packed(stream, values, bits, checksum=None):
    """Write values packed in `bits` bits to a binary stream, slice by slice, with the spare
    word; returns the bytes written. `checksum(bytes-like)` sees every byte written."""
    written = 0
    n = len(values)
    for start in range(0, n, SLICE):
        part = pack_slice(values[start:start + SLICE], bits)
        if start + SLICE < n:   # a whole slice fills its last word exactly
            data = memoryview(part).cast("B")
        else:
            whole = np.zeros(packed_words(n, bits) - start * bits // 64, dtype=np.uint64)
            whole[:len(part)] = part
            data = memoryview(whole).cast("B")
        stream.write(data)
        if checksum is not None:
            checksum(data)
        written += len(data)
    if not n:
        data = memoryview(np.zeros(1, dtype=np.uint64)).cast("B")
        stream.write(data)
        if checksum is not None:
            checksum(data)
        written += 8
    return written


def unpack(words, bits, positions):
    """The `bits`-bit values at `positions` (int64, each below the packed array's length)
    of packed words, as int64."""
    position = np.asarray(positions, dtype=np.int64) * bits
    word = position >> 6
    shift = (position & 63).astype(np.uint64)
    low = words[word] >> shift
    # The high part from the next word; shifting in two steps makes a shift of 0 give 0.
    high = words[word + 1] << np.uint64(1)
    high <<= np.uint64(63) - shift
    low |= high
    low &= np.uint64((1 << bits) - 1)
    return low.view(np.int64)


def unpack_range(words, bits, start, stop):
    """Values start .. stop - 1 of packed words (int64), a slice at a time."""
    out = np.empty(max(stop - start, 0), dtype=np.int64)
    for first in range(start, stop, SLICE):
        last = min(first + SLICE, stop)
        out[first - start:last - start] = unpack(words, bits, np.arange(first, last))
    return out
