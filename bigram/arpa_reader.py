"""Reading back-off ARPA files (KenLM's lmplz, SRILM, IRSTLM, bigram's own writer).

The file becomes plain arrays, one set per order: the n-grams as rows of indices into
the unigram section's words, their log10 probabilities and their log10 back-off weights.

What is accepted, because real files have it: any text before `\\data\\`; fields separated
by tabs or runs of spaces; CRLF line ends; blank lines inside sections; a missing back-off
(read as 0); a probability of `-inf` (log10 of 0, kept as -inf) besides the usual -99;
gzip-compressed files (recognised by their first bytes, whatever the name); text after
`\\end\\`. Tokens are UTF-8.

What is refused, each as one ModelFileError naming the file and line: a missing `\\data\\`,
header or section line; a declared count that disagrees with the entries read (counts are
never used to reserve memory, so a header declaring 10^12 unigrams fails where its section
ends, in memory bounded by the file's size); a line longer than MAX_LINE_BYTES; a line with
the wrong number of fields for its section; a back-off on the highest order; a field that
is not a number; a NaN or infinite value other than a `-inf` probability; a word missing
from the unigrams; a duplicate n-gram; an n-gram whose prefix (its context) is absent
from the order below. (KenLM itself tolerates the last one in SRILM files; we do not.)

Parsing is vectorised per block of lines: numpy finds the fields of every line from the
bytes, and the numbers and words are converted by C-level maps, not a Python loop per line.
"""

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelFileError

MAX_LINE_BYTES = 1 << 20
_BLOCK_BYTES = 8 << 20
# bytes.split() splits on exactly these.
_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True


@dataclass
class ArpaModel:
    """The content of an ARPA file; lists are indexed by order - 1."""

    order: int
    words: list        # the unigram section's tokens, in file order
    ngrams: list       # per order n, an (E_n, n) int32 array of indices into words
    log10prob: list    # per order, (E_n,) float64
    log10backoff: list  # per order, (E_n,) float64, 0.0 where the file gives none


class _Error(Exception):
    """A problem at a line of the file; read_arpa adds the file name."""

    def __init__(self, line, message):
        super().__init__(message)
        self.line, self.message = line, message


def _show(token):
    """A token for an error message: quoted, shortened, unprintable bytes escaped."""
    text = token.decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return f"'{text}'" if len(text) <= 40 else f"'{text[:40]}...'"


def _read_bytes(path):
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ModelFileError(f"cannot read {path}: {error.strerror or error}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise ModelFileError(f"{path}: damaged gzip data ({error})") from None
    return data


class _Lines:
    """A cursor over the lines of the file, for the few lines read one at a time."""

    def __init__(self, data):
        self.data, self.offset, self.number = data, 0, 0

    def next(self):
        """The next line, stripped, or None at the end of the file."""
        if self.offset >= len(self.data):
            return None
        end = self.data.find(b"\n", self.offset)
        end = len(self.data) if end < 0 else end
        if end - self.offset > MAX_LINE_BYTES:
            raise _Error(self.number + 1, f"line longer than {MAX_LINE_BYTES} bytes")
        line = self.data[self.offset:end].strip()
        self.offset, self.number = end + 1, self.number + 1
        return line

    def next_content(self):
        """The next line that is not blank, or None."""
        line = self.next()
        while line is not None and not line:
            line = self.next()
        return line


def _find_data_marker(lines):
    """Move the cursor past the `\\data\\` line, skipping any text before it."""
    data, at = lines.data, -1
    while True:
        at = data.find(b"\\data\\", at + 1)
        if at < 0:
            last = data.count(b"\n") + (not data.endswith(b"\n"))
            raise _Error(last, "no \\data\\ line: not an ARPA file")
        start = data.rfind(b"\n", 0, at) + 1
        end = data.find(b"\n", at)
        if data[start:len(data) if end < 0 else end].strip() == b"\\data\\":
            lines.offset, lines.number = start, data.count(b"\n", 0, start)
            lines.next()
            return


def _read_header(lines):
    """The declared count of each order, from the `ngram N=COUNT` lines."""
    declared = []
    while True:
        line = lines.next_content()
        if line is None or not line.startswith(b"ngram "):
            break
        order, _, count = line[6:].partition(b"=")
        try:
            order, count = int(order), int(count)
        except ValueError:
            raise _Error(lines.number, f"bad header line {_show(line)}") from None
        if order != len(declared) + 1 or count < 0:
            raise _Error(lines.number, f"bad header line {_show(line)}: expected "
                                       f"'ngram {len(declared) + 1}=COUNT'")
        declared.append(count)
    if not declared:
        raise _Error(lines.number, "no 'ngram 1=COUNT' line after \\data\\")
    return declared, line


def _section_body(lines, order):
    """The bytes of section `order`'s entries and the number of the line before them."""
    data = lines.data
    start, first_line = lines.offset, lines.number
    # The section ends at the next line that begins with a backslash.
    end = data.find(b"\n\\", start - 1)
    end = len(data) if end < 0 else end + 1
    lines.number += data.count(b"\n", start, end)
    lines.offset = end
    return data[start:end], first_line


def _blocks(body):
    """The body cut at line ends into blocks of about _BLOCK_BYTES."""
    start = 0
    while start < len(body):
        end = body.find(b"\n", min(start + _BLOCK_BYTES, len(body)) - 1)
        end = len(body) if end < 0 else end + 1
        yield body[start:end]
        start = end


def _fields_per_line(block, first_line):
    """Each line's number of whitespace-separated fields (the block ends with a newline)."""
    raw = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    lengths = np.diff(ends, prepend=-1) - 1
    if len(lengths) and lengths.max() > MAX_LINE_BYTES:
        bad = int(np.argmax(lengths > MAX_LINE_BYTES))
        raise _Error(first_line + bad, f"line longer than {MAX_LINE_BYTES} bytes")
    space = _WHITESPACE[raw]
    starts = np.flatnonzero(~space & np.concatenate(([True], space[:-1])))
    return np.diff(np.searchsorted(starts, ends), prepend=0)


def _numbers(tokens, lines, what, allow_minus_inf):
    try:
        values = np.fromiter(map(float, tokens), dtype=np.float64, count=len(tokens))
    except ValueError:
        bad = next(i for i, t in enumerate(tokens) if not _is_number(t))
        raise _Error(int(lines[bad]), f"{what} {_show(tokens[bad])} is not a number") from None
    ok = np.isfinite(values)
    if allow_minus_inf:
        ok |= values == -np.inf
    if not ok.all():
        bad = int(np.argmin(ok))
        raise _Error(int(lines[bad]), f"{what} {_show(tokens[bad])} is not finite")
    return values


def _is_number(token):
    try:
        float(token)
    except ValueError:
        return False
    return True


def _word_ids(tokens, vocabulary, lines):
    try:
        return np.fromiter(map(vocabulary.__getitem__, tokens), dtype=np.int32,
                           count=len(tokens))
    except KeyError:
        bad = next(i for i, t in enumerate(tokens) if t not in vocabulary)
        raise _Error(int(lines[bad]), f"word {_show(tokens[bad])} is not among the "
                                      "unigrams") from None


class _Section:
    """The entries of one order, read block by block; the unigram section defines the words."""

    def __init__(self, order, top, vocabulary):
        self.order, self.top, self.vocabulary = order, top, vocabulary
        self.probs, self.backoffs, self.ids, self.lines = [], [], [], []

    def add_block(self, block, first_line):
        n = self.order
        fields = _fields_per_line(block, first_line)
        numbers = np.arange(first_line, first_line + len(fields))
        used = fields > 0
        fields, numbers = fields[used], numbers[used]
        wrong = (fields != n + 1) & ((fields != n + 2) | self.top)
        if wrong.any():
            bad = int(np.argmax(wrong))
            if self.top and fields[bad] == n + 2:
                raise _Error(int(numbers[bad]), f"a back-off weight on the highest order ({n})")
            expected = f"{n + 1}" + ("" if self.top else f" or {n + 2}")
            raise _Error(int(numbers[bad]), f"{fields[bad]} fields where a {n}-gram line has "
                                            f"{expected}")
        tokens = np.empty(int(fields.sum()), dtype=object)
        tokens[:] = block.split()
        first = np.cumsum(fields) - fields
        self.probs.append(_numbers(tokens[first].tolist(), numbers, "probability", True))
        backoff = np.zeros(len(fields))
        has = fields == n + 2
        if has.any():
            backoff[has] = _numbers(tokens[first[has] + n + 1].tolist(), numbers[has],
                                    "back-off", False)
        self.backoffs.append(backoff)
        words = tokens[first[:, None] + np.arange(1, n + 1)].ravel().tolist()
        if n == 1:
            self._add_unigrams(words, numbers)
        self.ids.append(_word_ids(words, self.vocabulary, np.repeat(numbers, n)).reshape(-1, n))
        self.lines.append(numbers)

    def _add_unigrams(self, words, numbers):
        vocabulary = self.vocabulary
        size = len(vocabulary)
        vocabulary.update(zip(words, range(size, size + len(words))))
        if len(vocabulary) != size + len(words):
            seen = set()
            bad = next(i for i, w in enumerate(words) if w in seen or seen.add(w))
            raise _Error(int(numbers[bad]), f"unigram {_show(words[bad])} listed twice")

    def finish(self):
        """The section's word indices, log10 probabilities, back-offs and line numbers."""
        if not self.ids:
            empty = np.zeros(0)
            return (np.zeros((0, self.order), dtype=np.int32), empty, empty,
                    np.zeros(0, dtype=np.int64))
        return (np.concatenate(self.ids), np.concatenate(self.probs),
                np.concatenate(self.backoffs), np.concatenate(self.lines))


def _check_prefixes(ngrams, lines, vocabulary_size):
    """Every n-gram's prefix is an (n-1)-gram of the file, and no n-gram is listed twice.

    Each n-gram gets the key (row of its prefix in order n-1) * V + last word; an order's
    sorted keys then find the rows of the next order's prefixes, word by word.
    """
    sorted_keys, rows_of_sorted = [], []
    for n, grams in enumerate(ngrams, start=1):
        prefix_rows = np.zeros(len(grams), dtype=np.int64)
        if n > 1:
            prefix_rows = grams[:, 0].astype(np.int64)
            for k in range(2, n):
                key = prefix_rows * vocabulary_size + grams[:, k - 1]
                at = np.searchsorted(sorted_keys[k - 1], key)
                at_clipped = np.minimum(at, len(sorted_keys[k - 1]) - 1)
                found = (at < len(sorted_keys[k - 1])) & (sorted_keys[k - 1][at_clipped] == key)
                if not found.all():
                    bad = int(np.argmin(found))
                    raise _Error(int(lines[n - 1][bad]), f"the prefix of this {n}-gram "
                                                         f"(its first {k} words) is not listed")
                prefix_rows = rows_of_sorted[k - 1][at_clipped]
        keys = prefix_rows * vocabulary_size + grams[:, -1]
        order_of_keys = np.argsort(keys, kind="stable")
        keys = keys[order_of_keys]
        repeated = np.flatnonzero(keys[1:] == keys[:-1])
        if len(repeated):
            bad = order_of_keys[repeated + 1].min()
            raise _Error(int(lines[n - 1][bad]), f"this {n}-gram is listed twice")
        sorted_keys.append(keys)
        rows_of_sorted.append(order_of_keys)


def _parse(data):
    lines = _Lines(data)
    _find_data_marker(lines)
    declared, line = _read_header(lines)
    order = len(declared)
    vocabulary, ngrams, probs, backoffs, entry_lines = {}, [], [], [], []
    for n in range(1, order + 1):
        if line != f"\\{n}-grams:".encode():
            raise _Error(lines.number, f"expected '\\{n}-grams:', found "
                                       f"{_show(line or b'end of file')}")
        body, before = _section_body(lines, n)
        section = _Section(n, n == order, vocabulary)
        line_number = before + 1
        for block in _blocks(body if body.endswith(b"\n") or not body else body + b"\n"):
            section.add_block(block, line_number)
            line_number += block.count(b"\n")
        grams, prob, backoff, at = section.finish()
        if len(grams) != declared[n - 1]:
            raise _Error(lines.number, f"the {n}-gram section has {len(grams)} entries where "
                                       f"\\data\\ declares {declared[n - 1]}")
        ngrams.append(grams)
        probs.append(prob)
        backoffs.append(backoff)
        entry_lines.append(at)
        line = lines.next_content()
    if line != b"\\end\\":
        raise _Error(lines.number, f"expected '\\end\\', found {_show(line or b'end of file')}")
    _check_prefixes(ngrams, entry_lines, max(len(vocabulary), 1))
    words = []
    for token, number in zip(vocabulary, entry_lines[0].tolist()):
        try:
            words.append(token.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Error(number, f"unigram {_show(token)} is not UTF-8") from None
    return ArpaModel(order, words, ngrams, probs, backoffs)


def read_arpa(path):
    """Read an ARPA back-off model file (plain or gzip) into an ArpaModel.

    Raises ModelFileError with a one-line message naming the file and line on any
    malformed input (see the module docstring for what is accepted and what is not).
    """
    data = _read_bytes(path)
    try:
        return _parse(data)
    except _Error as error:
        raise ModelFileError(f"{path}: line {error.line}: {error.message}") from None
