"""Scoring word models from the UTF-8 bytes (`score --file`'s road for text read strictly):
lines stripped and words looked up in the bytes, against Python's str.strip, a dictionary,
and the code-point road (`score_lines`) that reads the same lines as strings."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bigram.text.words as words_module
from bigram.models.scoring import render_sources, score_lines, tsv_lines
from bigram.settings import TrainingSettings
from bigram.text.sources import strip_utf8_spans
from bigram.text.words import WordIndex, split_words
from bigram.training.train import train_model

ASCII_SPACES = "".join(chr(c) for c in range(128) if chr(c).isspace())
# Characters a line may hold: letters, ASCII whitespace (some of it no delimiter), and
# whitespace and letters past ASCII.
LINE_CHARS = ["a", "b", "é", "東", " ", "\t", "\x0b", "\x1c", "\u00a0", "\u3000", "\u2028",
              "\x85", "\u1680"]


def byte_spans(lines):
    """The lines joined by line feeds, as UTF-8 bytes (uint8), and each line's byte span."""
    encoded = [line.encode("utf-8") for line in lines]
    starts = np.cumsum([0] + [len(e) + 1 for e in encoded[:-1]]).astype(np.int64)
    ends = starts + np.array([len(e) for e in encoded], dtype=np.int64)
    return np.frombuffer(b"\n".join(encoded), dtype=np.uint8), starts, ends


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=LINE_CHARS, max_size=8), min_size=1, max_size=12))
def test_stripped_spans_are_python_strip_or_refused_at_wide_spaces(lines):
    text, starts, ends = byte_spans(lines)
    result = strip_utf8_spans(text, starts, ends)
    inner = [line.strip(ASCII_SPACES) for line in lines]
    wide_edge = any(s and (s[0].isspace() or s[-1].isspace()) for s in inner)
    assert (result is None) == wide_edge
    if result is None:
        return
    for line, start, new_start, new_end in zip(lines, starts.tolist(), *map(list, result)):
        kept = line.strip()
        if not kept:
            assert new_start == new_end
            continue
        before = len(line[:line.index(kept)].encode("utf-8"))
        assert bytes(text[new_start:new_end]).decode("utf-8") == kept
        assert new_start == start + before


WORD_CHARS = ["a", "b", "c", "é", "ß", "東", "\U0001f600"]
words_strategy = st.text(alphabet=WORD_CHARS, min_size=1, max_size=20)


@settings(max_examples=100, deadline=None)
@given(st.lists(words_strategy, min_size=1, max_size=30, unique=True),
       st.lists(st.lists(words_strategy, max_size=6), min_size=1, max_size=10))
def test_words_found_in_the_bytes_are_a_dictionary_lookup(vocabulary, lines):
    index = WordIndex.from_words(vocabulary)
    # Half the lines' words taken from the vocabulary, so that most are known.
    lines = [" ".join(w if i % 2 else vocabulary[i % len(vocabulary)] for i, w in
                      enumerate(line)) for line in lines]
    text, starts, ends = byte_spans(lines)
    word_starts, word_ends, _ = split_words(text, np.array([0, len(text)]))
    found = index.find_utf8(text, word_starts, word_ends).tolist()
    positions = {word: i for i, word in enumerate(vocabulary)}
    expected = [positions.get(word, -1) for line in lines for word in line.split(" ") if word]
    assert found == expected


def test_long_words_whose_chunk_hashes_clash_are_still_found_exactly(monkeypatch):
    """Chunk hashes made of the length alone: two long words of the vocabulary share one
    (the polynomial hashes take over), and a word not in it but of a known word's length
    is unknown, not that word."""
    monkeypatch.setattr(words_module, "chunk_hashes",
                        lambda windows, starts, lengths: lengths.astype(np.uint64))
    for vocabulary in (["abcdefghij", "jihgfedcba", "short"], ["abcdefghij", "short"]):
        index = WordIndex.from_words(vocabulary)
        text, _, _ = byte_spans(["abcdefghij zzzzzzzzzz jihgfedcba short"])
        word_starts, word_ends, _ = split_words(text, np.array([0, len(text)]))
        found = index.find_utf8(text, word_starts, word_ends).tolist()
        known = {word: i for i, word in enumerate(vocabulary)}
        assert found == [known.get(w, -1) for w in
                         ["abcdefghij", "zzzzzzzzzz", "jihgfedcba", "short"]]


@pytest.fixture(scope="module", params=["kneser-ney", "modified-kneser-ney"])
def word_model(tmp_path_factory, request):
    corpus = tmp_path_factory.mktemp("utf8") / "corpus.txt"
    corpus.write_text("\n".join([
        "the café is open", "a naïve reader reads", "東京 is a city", "the city is open",
        "the reader is naïve", "extraordinarily long words appear", "open the café",
    ] * 3) + "\n", encoding="utf-8")
    settings = TrainingSettings.of(method=request.param, order=3, unit="word", test_size=0)
    return train_model([str(corpus)], settings).saved.model


@pytest.mark.parametrize("lines", [
    ["the café is open", "", "  東京 is a city\t", "extraordinarily long words", "zzz ü"],
    ["the\u00a0café", "\u3000open the café", "plain ascii only", "the reader"],
    ["a naïve reader\r", "the city", "unknown wörds here", " "],
])
def test_score_file_lines_equal_the_code_point_road(word_model, tmp_path, lines):
    path = tmp_path / "in.txt"
    path.write_bytes("\n".join(lines).encode("utf-8"))   # no final line feed
    rows = b"".join(render_sources(word_model, [str(path)], tsv_lines, workers=1))
    rows = [row.split(b"\t") for row in rows.decode("utf-8").encode().split(b"\n")[:-1]]
    expected = list(score_lines(word_model, [line.rstrip("\r") for line in lines]))
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected):
        assert float(row[1]) == pytest.approx(want.logprob, abs=1e-6)
        assert (int(row[2]), int(row[3])) == (want.tokens, want.oov)
