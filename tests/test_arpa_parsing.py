"""arpa_reader's field finder against a plain-Python split of the same lines: the fast
path for plainly laid-out blocks (one whitespace byte between fields) and the general
path (runs of spaces, tabs, CRLF, blank lines, control bytes inside tokens) must agree
with bytes.split() on every line, and so must whole files read through either."""

import re

import numpy as np
import pytest

from bigram.errors import ModelFileError
from bigram.formats import arpa_reader
from bigram.formats.arpa_reader import _fields_per_line, _plain_fields, read_arpa

TOKENS = [b"-1.25", b"0", b"-inf", b"1e-05", b"-3.5E+2", b"word", b"<s>", b"</s>",
          b"\xc3\xa9t\xc3\xa9", b"a\x01b", b"x" * 30]


def python_fields(block):
    """(fields per line, starts, lengths) by bytes.split's own notion of whitespace."""
    lines = block.split(b"\n")[:-1]
    counts = [len(line.split()) for line in lines]
    found = [(m.start(), m.end() - m.start()) for m in re.finditer(rb"[^\t\n\x0b\x0c\r ]+",
                                                                    block)]
    return counts, [s for s, _ in found], [n for _, n in found]


def random_block(rng, plain):
    lines = []
    for _ in range(rng.integers(1, 40)):
        fields = [TOKENS[i] for i in rng.integers(0, len(TOKENS), rng.integers(1, 7))]
        if plain:
            lines.append(b"\t".join([fields[0], b" ".join(fields[1:])][:len(fields)]))
        else:
            gaps = [[b" ", b"\t", b"  ", b" \t "][i] for i in rng.integers(0, 4, len(fields))]
            line = b"".join(g + f for g, f in zip(gaps, fields))
            lines.append(line[rng.integers(0, 2):] + [b"", b"\r", b" "][rng.integers(0, 3)])
            if rng.random() < 0.1:
                lines.append(b"")
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("plain", [True, False])
def test_fields_are_those_of_a_plain_python_split(plain):
    rng = np.random.default_rng(11)
    paths = set()
    for _ in range(300):
        block = random_block(rng, plain)
        counts, starts, lengths = _fields_per_line(block, 1)
        expected = python_fields(block)
        assert counts.tolist() == expected[0]
        assert starts.tolist() == expected[1] and lengths.tolist() == expected[2]
        fast = _plain_fields(np.frombuffer(block, dtype=np.uint8)) is not None
        if plain:   # the fast path, unless a token holds a control byte
            assert fast == (b"\x01" not in block)
        paths.add(fast)
    if plain:   # both paths were checked against the split
        assert paths == {True, False}


ARPA = (b"\\data\\\nngram 1=4\nngram 2=2\n\n\\1-grams:\n-1.0\t<s>\t-0.5\n-0.7\ta\t-1e-05\n"
        b"-0.4\tb\t-0\n-inf\t</s>\n\n\n\\2-grams:\n-0.3\t<s> a\n-2.5E-1\ta b\n\n\\end\\\n")


@pytest.mark.parametrize("block_bytes", [8 << 20, 7, 30])
@pytest.mark.parametrize("layout", ["plain", "crlf", "spaces"])
def test_files_read_the_same_in_any_layout_and_blocks(tmp_path, monkeypatch, layout,
                                                      block_bytes):
    monkeypatch.setattr(arpa_reader, "_BLOCK_BYTES", block_bytes)
    text = {"plain": ARPA, "crlf": ARPA.replace(b"\n", b"\r\n"),
            "spaces": ARPA.replace(b"\t", b"   ").replace(b"\n-", b"\n  -")}[layout]
    path = tmp_path / "m.arpa"
    path.write_bytes(text)
    model = read_arpa(path)
    assert model.words == ["<s>", "a", "b", "</s>"]
    assert model.log10prob[0].tolist() == [-1.0, -0.7, -0.4, float("-inf")]
    assert model.log10backoff[0].tolist() == [-0.5, -1e-05, -0.0, 0.0]
    assert np.signbit(model.log10backoff[0][2])   # -0 stays -0
    assert model.ngrams[1].tolist() == [[0, 1], [1, 2]]
    assert model.log10prob[1].tolist() == [-0.3, -0.25]
    # An error after the sections still names its line (blank lines counted).
    path.write_bytes(text.replace(b"\\end\\", b"\\end"))
    with pytest.raises(ModelFileError, match=r"line 16: expected .* found"):
        read_arpa(path)


@pytest.mark.parametrize("sorted_column", [True, False])
def test_word_ids_of_a_column_are_a_dictionarys(sorted_column):
    """WordIndex.find against a dict: columns in runs (lmplz's last words, which take the
    run path) and shuffled (the plain path); words of 8 and 9 bytes that share their first
    eight, words longer than the hashed length, and tokens that are no unigram (-1)."""
    from bigram.formats.arpa_reader import _HashTable
    from bigram.formats.arpa_words import WordIndex, eight_byte_view

    rng = np.random.default_rng(5)
    words = [b"<s>", b"</s>", b"a", b"abcdefgh", b"abcdefghi", b"abcdefghj", b"x" * 70,
             "\u00e9t\u00e9".encode()] + [b"w%d" % i for i in range(300)]
    absent = [b"abcdefgz", b"abcdefghk", b"x" * 71, b"q"]
    index = WordIndex(words, _HashTable)
    for _ in range(20):
        pool = words + absent
        tokens = [pool[i] for i in rng.integers(0, len(pool), 2000)]
        if sorted_column:   # runs of one token, as a level lmplz wrote
            tokens.sort(key=lambda t: pool.index(t))
        block = b" ".join(tokens) + b"\n"
        lengths = np.array([len(t) for t in tokens])
        starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
        ids = index.find(eight_byte_view(block), starts, lengths)
        known = {w: i for i, w in enumerate(words)}
        # -1 only where the dictionary must decide: absent words and the unhashed long one
        expected = [known.get(t, -1) if len(t) <= 64 else -1 for t in tokens]
        assert ids.tolist() == expected


def test_the_next_header_is_found_as_a_two_byte_search_finds_it():
    """_header_at against bytes.find(b"\\n\\\\") on chunks with few and with many
    backslashes (its fallback), with and without a header, and at the chunk's start."""
    from bigram.formats.arpa_reader import _header_at

    rng = np.random.default_rng(3)
    for _ in range(400):
        size = int(rng.integers(1, 300_000))
        alphabet = np.frombuffer(b"ab \t\n\\", dtype=np.uint8)
        weights = np.array([40, 40, 10, 2, 5, rng.choice([0.001, 0.05, 3.0])])
        chunk = alphabet[rng.choice(6, size, p=weights / weights.sum())].tobytes()
        if rng.random() < 0.2:
            chunk = b"\n\\" + chunk
        assert _header_at(chunk) == chunk.find(b"\n\\")
