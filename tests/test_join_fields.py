"""`score --file`'s output rows (scoring.join_fields): fields, tabs and each line as read, against
a plain-Python join of the same strings, on both roads (lines in a row, each ended by one
line feed; and lines with carriage returns or gaps between them, which take the gather)."""

import numpy as np
import pytest

from bigram.models import scoring
from bigram.models.scoring import fixed, join_fields

LINE_BYTES = [b"", b"a", b"return x", b"caf\xc3\xa9 \xe6\x9d\xb1", b"x" * 150, b"\x00 nul",
              b"tab\there", b"  spaced  "]


def python_rows(values, text, starts, ends):
    """The expected output, one f-string per row."""
    out = []
    for (a, b, c, d, e), start, end in zip(values, starts.tolist(), ends.tolist()):
        numbers = [f"{a:.6f}", f"{b:.6f}", f"{c:.0f}", f"{d:.0f}", f"{e:.4f}"]
        out.append("\t".join(numbers).encode() + b"\t" + bytes(text[start:end]) + b"\n")
    return b"".join(out)


def fields_of(values):
    columns = np.array(values, dtype=np.float64).reshape(-1, 5).T
    return [fixed(columns[0], 6), fixed(columns[1], 6), fixed(columns[2], 0),
            fixed(columns[3], 0), fixed(columns[4], 4)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("separator", [b"\n", b"\r\n"])
@pytest.mark.parametrize("final", [True, False])
def test_rows_are_the_fields_and_each_line_as_python_joins_them(seed, separator, final):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    lines = [LINE_BYTES[i] for i in rng.integers(0, len(LINE_BYTES), n)]
    raw = separator.join(lines) + (separator if final else b"")
    text = np.frombuffer(raw, dtype=np.uint8)
    lengths = np.array([len(line) for line in lines], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths + len(separator))[:-1]]).astype(np.int64)
    ends = starts + lengths
    # Away from zero (Python prints "-0.000000" where we print 0) and, being random
    # doubles, from halfway cases (rounded half to even here, by the binary value there).
    values = np.column_stack([-0.01 - rng.exponential(10, n), -0.01 - rng.exponential(20, n),
                              rng.integers(0, 40, n), rng.integers(0, 5, n),
                              rng.exponential(500, n)])
    expected = python_rows(values.tolist(), text, starts, ends)
    assert scoring._lines_in_a_row(text, starts, ends) == (separator == b"\n")
    assert join_fields(fields_of(values), text, starts, ends) == expected


def test_lines_with_gaps_or_other_endings_are_not_in_a_row():
    text = np.frombuffer(b"ab\ncd\n\nef", dtype=np.uint8)
    starts, ends = np.array([0, 3, 6, 7]), np.array([2, 5, 6, 9])
    assert scoring._lines_in_a_row(text, starts, ends)
    assert not scoring._lines_in_a_row(text, starts[[0, 1, 3]], ends[[0, 1, 3]])   # a gap
    assert not scoring._lines_in_a_row(text, np.array([0]), np.array([1]))    # b follows
    assert scoring._lines_in_a_row(text, np.array([7]), np.array([9]))        # text ends
