"""Words of items and their ids, against a plain-Python reading of lmplz's rule."""

import io
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigram.errors import InputError
from bigram.ngrams.counting import TokenCollector
from bigram.ngrams.training_data import collect_blocks
from bigram.text.sources import Reader, Source
from bigram.text.words import (
    MAX_WORD_CHARS,
    WordIndex,
    WordTooLong,
    check_utf8_word_lengths,
    encode_words,
    increasing_spans,
    split_text_words,
    split_words,
    word_hashes,
)

# lmplz's delimiters; only space, tab and CR can be inside an item.
DELIMITERS = re.compile("[\0\t\n\r ]+")


def python_words(item):
    """The words of an item as lmplz reads a line: split at runs of delimiters, no empties."""
    return [w for w in DELIMITERS.split(item) if w]


def python_ids(items, seen=None):
    """Ids in order of first appearance, with a plain dictionary."""
    seen = {} if seen is None else seen
    return [seen.setdefault(w, len(seen)) for item in items for w in python_words(item)], seen


def as_arrays(items, ascii_as_bytes=True):
    """Items as the reader gives them: concatenated code points (uint8 if ASCII) and offsets."""
    text = "".join(items)
    offsets = np.cumsum([0] + [len(i) for i in items]).astype(np.int64)
    if ascii_as_bytes and text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8), offsets
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), offsets


def words_of(items, **kwargs):
    """Our split, as strings per item."""
    chars, offsets = as_arrays(items, **kwargs)
    starts, ends, word_offsets = split_words(chars, offsets)
    text = "".join(items)
    words = [text[a:b] for a, b in zip(starts.tolist(), ends.tolist())]
    return [words[a:b] for a, b in zip(word_offsets[:-1].tolist(), word_offsets[1:].tolist())]


HANDMADE = [
    "the cat  sat",
    "a\tb\t\tc",
    "cr\rinside",
    "wide\u3000space stays\u00a0in words",
    "form\x0cfeed and\x0bvtab",
    "zoë ñandú 東京 東京",
    "x",
    "the the the",
]


@pytest.mark.parametrize("ascii_as_bytes", [True, False])
def test_split_matches_python_on_handmade_items(ascii_as_bytes):
    assert words_of(HANDMADE, ascii_as_bytes=ascii_as_bytes) == \
        [python_words(i) for i in HANDMADE]
    assert words_of(["a b", "c"], ascii_as_bytes=ascii_as_bytes) == [["a", "b"], ["c"]]


def test_split_keeps_items_apart_and_handles_edges():
    # Items are joined with no delimiter between them: "ab" + "cd" is two words, not one.
    assert words_of(["ab", "cd", "e f"]) == [["ab"], ["cd"], ["e", "f"]]
    # Unstripped and empty items (not from the reader, but allowed) give no empty words.
    assert words_of([" a ", "", "\t", "b  "]) == [["a"], [], [], ["b"]]
    starts, ends, word_offsets = split_words(np.zeros(0, dtype=np.uint8), np.zeros(1, np.int64))
    assert len(starts) == len(ends) == 0 and word_offsets.tolist() == [0]


def test_ids_follow_first_appearance_across_blocks():
    first, second = HANDMADE[:4], HANDMADE[4:] + HANDMADE[:2]
    expected, seen = python_ids(first)
    expected_second, _ = python_ids(second, seen)
    index = WordIndex()
    for items, want in ((first, expected), (second, expected_second)):
        chars, offsets = as_arrays(items)
        starts, ends, _ = split_words(chars, offsets)
        assert index.ids(chars, starts, ends).tolist() == want
    assert index.words() == list(seen)
    assert len(index) == len(seen)


def test_positions_map_ids_into_a_sorted_vocabulary():
    index = WordIndex()
    chars, offsets = as_arrays(HANDMADE)
    index.ids(chars, *split_words(chars, offsets)[:2])
    vocabulary = sorted(index.words())
    positions = index.positions(["<s>"] + vocabulary)
    assert [vocabulary[p - 1] for p in positions] == index.words()
    with pytest.raises(ValueError, match="lacks"):
        index.positions(vocabulary[1:])


def test_hashes_depend_on_the_word_not_where_it_lies():
    chars, offsets = as_arrays(["abc xabc abcabc abc"])
    starts, ends, _ = split_words(chars, offsets)
    hashes = word_hashes(chars, starts, ends)
    assert hashes[0] == hashes[3] and len(set(hashes.tolist())) == 3
    # The same words in the other dtype, and in shuffled order, hash the same.
    wide = chars.astype(np.uint32)
    order = np.array([3, 1, 0, 2])
    assert word_hashes(wide, starts[order], ends[order]).tolist() == hashes[order].tolist()


@pytest.mark.parametrize("bits", [0, 1, 3, 8])
def test_colliding_hashes_never_merge_words(bits):
    # With a hash this narrow nearly every word collides; ids must still be exact.
    blocks = [HANDMADE[:3], HANDMADE[3:], HANDMADE, ["zz yy zz", "the cat", "new words here"]]
    index = WordIndex(hash_bits=bits)
    seen = {}
    for items in blocks:
        expected, seen = python_ids(items, seen)
        chars, offsets = as_arrays(items)
        starts, ends, _ = split_words(chars, offsets)
        assert index.ids(chars, starts, ends).tolist() == expected
        assert index.find(chars, starts, ends).tolist() == expected
        # The same words as code points (no short-word keys: every word by its hash).
        assert index.find(chars.astype(np.uint32), starts, ends).tolist() == expected
    assert index.words() == list(seen)


@pytest.mark.parametrize("bits", [1, 64])
def test_find_keys_short_ascii_words_by_their_bytes_and_long_ones_by_hash(bits):
    # Words of up to eight ASCII bytes are looked up by their bytes, longer ones (and
    # non-ASCII text) by their hash: both exact, with hashes that all collide too.
    vocabulary = ["a", "ab", "abcdefgh", "abcdefghi", "hgfedcba", "ihgfedcba", "zz" * 9, "é"]
    index = WordIndex.from_words(vocabulary, hash_bits=bits)
    items = ["abcdefgh abcdefghi abcdefg abcdefghij a ab ba", "ihgfedcba zz hgfedcba é",
             "zz" * 9 + " " + "zz" * 8 + "z"]
    for some in (items, items[::2]):   # with "é": code points; without: ASCII bytes
        expected = [vocabulary.index(w) if w in vocabulary else -1
                    for item in some for w in python_words(item)]
        for ascii_as_bytes in (True, False):
            chars, offsets = as_arrays(some, ascii_as_bytes=ascii_as_bytes)
            assert (chars.dtype == np.uint8) == (ascii_as_bytes and some is not items)
            starts, ends, _ = split_words(chars, offsets)
            assert index.find(chars, starts, ends).tolist() == expected


@pytest.mark.parametrize("bits", [1, 8, 64])
@pytest.mark.parametrize("letters", ["abcdefghé", "abcdefgh"])
def test_an_index_from_stored_hashes_finds_what_a_dictionary_finds(bits, letters):
    # A query file stores the hash table (stored_form) and its words joined by line
    # feeds; the index made from them answers small batches by a binary search in the
    # stored hashes and large ones by the lookup tables, both as a dictionary of the
    # words does, collisions (narrow hashes) included, ASCII words or not.
    rng = np.random.default_rng(bits)
    letters = list(letters)
    vocabulary = sorted({"".join(rng.choice(letters, rng.integers(1, 12))) for _ in range(400)})
    built = WordIndex.from_words(vocabulary, hash_bits=bits)
    hashes, hash_ids, collided = built.stored_form()
    assert len(hashes) + len(collided) == len(vocabulary) and (bits == 64) == (not collided)
    stored = WordIndex.from_joined("\n".join(vocabulary), hashes, hash_ids.astype("<u4"),
                                   collided, hash_bits=bits)
    assert stored.words() == vocabulary and len(stored) == len(vocabulary)
    position = {w: i for i, w in enumerate(vocabulary)}
    tokens = list(rng.choice(vocabulary, 300)) + ["".join(rng.choice(letters, 5))
                                                   for _ in range(100)]
    for count in (3, 20, len(tokens)):   # searched, searched, then the tables made
        some = [" ".join(tokens[:count])]
        expected = [position.get(w, -1) for w in python_words(some[0])]
        for ascii_as_bytes in (True, False):
            chars, offsets = as_arrays(some, ascii_as_bytes=ascii_as_bytes)
            starts, ends, _ = split_words(chars, offsets)
            assert stored.find(chars, starts, ends).tolist() == expected
    # The large batch made the lookup tables (ASCII words: the short and long words' own).
    assert any(getattr(stored, name, None) is not None
               for name in ("_bucket_cache", "_short_cache", "_long_cache"))


def test_a_forced_collision_between_two_words():
    # The hash's low bit is the parity of the code points' sum plus the length: anagrams
    # collide at one bit.
    first, second = word_hashes(*spans_of("ab ba"), bits=1)
    assert first == second
    index = WordIndex(hash_bits=1)
    assert index.ids(*spans_of("ab ba ba ab")).tolist() == [0, 1, 1, 0]
    assert index.ids(*spans_of("ba ab")).tolist() == [1, 0]
    assert index.find(*spans_of("ab ba cd")).tolist() == [0, 1, -1]


def spans_of(item):
    chars, offsets = as_arrays([item])
    return (chars, *split_words(chars, offsets)[:2])


def test_encode_words_with_unknown_words():
    vocabulary = sorted({"the", "cat", "sat", "東京", "wide\u3000space"})
    items = ["the cat sat on the mat", "東京 京 wide\u3000space wide"]
    chars, offsets = as_arrays(items)
    starts, ends, _ = split_words(chars, offsets)
    ids, unknown = encode_words(chars, starts, ends, vocabulary)
    words = [w for i in items for w in python_words(i)]
    assert unknown.tolist() == [w not in vocabulary for w in words]
    assert ids.tolist() == [vocabulary.index(w) if w in vocabulary else -1 for w in words]


def test_empty_inputs():
    none = np.zeros(0, dtype=np.int64)
    empty = WordIndex.from_words([])
    assert len(empty) == 0 and empty.words() == []
    assert empty.ids(np.zeros(0, dtype=np.uint8), none, none).tolist() == []
    ids, unknown = encode_words(*spans_of("a b"), [])
    assert ids.tolist() == [-1, -1] and unknown.all()


@pytest.mark.parametrize("bits", [1, 64])
def test_a_vocabulary_must_not_repeat_words(bits):
    for words in (["a", "b", "a"], ["ab", "ba", "cd", "ba"], ["ab", "ab"]):
        with pytest.raises(ValueError, match="distinct"):
            WordIndex.from_words(words, hash_bits=bits)


@pytest.mark.parametrize("bits", [1, 3, 64])
def test_an_index_of_words_grows_as_one_built_token_by_token(bits):
    """from_words (ids known, hashes sorted once) and ids() over the same words give
    indexes that find, and number new words, alike; with hashes that collide too."""
    vocabulary = ["ab", "ba", "abc", "cba", "bca", "zz" * 9, "é", "x"]
    built = WordIndex.from_words(vocabulary, hash_bits=bits)
    grown = WordIndex(hash_bits=bits)
    assert grown.ids(*spans_of(" ".join(vocabulary))).tolist() == list(range(8))
    text = "x é ab zz cab ba abc " + "zz" * 9 + " q bca"
    assert built.find(*spans_of(text)).tolist() == grown.find(*spans_of(text)).tolist() == \
        [7, 6, 0, -1, -1, 1, 2, 5, -1, 4]
    assert built.ids(*spans_of(text)).tolist() == grown.ids(*spans_of(text)).tolist() == \
        [7, 6, 0, 8, 9, 1, 2, 5, 10, 4]


def test_words_through_the_reader_with_small_blocks():
    lines = ["  the cat\tsat  ", "", "zoë\u3000x zoë", "a" * 300 + " b", "the end\r"] * 30
    data = ("\n".join(lines) + "\n").encode()
    items = [line.strip() for line in lines if line.strip()]
    expected, seen = python_ids(items)
    reader = Reader([Source("<text>")], block_bytes=64)
    index = WordIndex()
    got = []
    for _, block in reader._source_blocks(reader.sources[0], io.BytesIO(data), False):
        chars, offsets = block.item_chars()
        starts, ends, _ = split_words(chars, offsets)
        got.extend(index.ids(chars, starts, ends).tolist())
    assert got == expected
    assert index.words() == list(seen)


WORD_CHARS = st.characters(codec="utf-8", exclude_characters="\0\n\r")
ITEM_CHARS = st.sampled_from(" \t\r\u3000\u00a0\x0b\x0c") | WORD_CHARS


@st.composite
def items(draw):
    """Items with words from a small pool (so words repeat) and odd characters between."""
    pool = draw(st.lists(st.text(WORD_CHARS.filter(lambda c: c not in " \t"), min_size=1,
                                 max_size=6), min_size=1, max_size=8))
    long_word = draw(st.text(WORD_CHARS.filter(lambda c: c not in " \t"), min_size=200,
                             max_size=400))
    words = st.sampled_from(pool + [long_word])
    separators = st.text(st.sampled_from(" \t\r"), min_size=1, max_size=3)
    result = []
    for _ in range(draw(st.integers(0, 12))):
        parts = draw(st.lists(st.tuples(words, separators), min_size=1, max_size=8))
        result.append("".join(w + s for w, s in parts).rstrip(" \t\r") or "x")
    return result


@settings(max_examples=150, deadline=None)
@given(items(), st.integers(0, 12), st.sampled_from([64, 2]))
def test_ids_match_python_on_generated_text(all_items, cut, bits):
    blocks = [all_items[:cut], all_items[cut:]]
    index = WordIndex(hash_bits=bits)
    seen = {}
    for block in blocks:
        expected, seen = python_ids(block, seen)
        chars, offsets = as_arrays(block)
        starts, ends, word_offsets = split_words(chars, offsets)
        assert np.diff(word_offsets).tolist() == [len(python_words(i)) for i in block]
        assert index.ids(chars, starts, ends).tolist() == expected
    assert index.words() == list(seen)
    vocabulary = sorted(seen)[::2]
    chars, offsets = as_arrays(all_items)
    starts, ends, _ = split_words(chars, offsets)
    ids, unknown = encode_words(chars, starts, ends, vocabulary)
    where = {w: i for i, w in enumerate(vocabulary)}
    words = [w for i in all_items for w in python_words(i)]
    assert ids.tolist() == [where.get(w, -1) for w in words]
    assert unknown.tolist() == [w not in where for w in words]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(ITEM_CHARS, max_size=20), max_size=10))
def test_split_matches_python_on_any_text(all_items):
    assert words_of(all_items) == [python_words(i) for i in all_items]


def growing_blocks(rng, pool, blocks, first, step):
    """(block number, items) for `blocks` blocks, each drawing its words mostly from those
    seen so far (the pool's first `first + step * block`), plus a few new ones."""
    for block in range(blocks):
        reach = min(len(pool), first + step * block)
        yield block, [" ".join(rng.choice(pool[:reach], size=rng.integers(1, 9)))
                      for _ in range(rng.integers(1, 30))]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([64, 3]), st.booleans())
def test_ids_match_python_over_many_blocks_while_lookups_lag(seed, bits, wide):
    """Block after block, known words are found through lookup tables that are rebuilt only
    once the vocabulary grew by an eighth; the words added since then must still get
    their own ids (and new ones theirs, in order of first appearance). Now and then the
    tables are let go (release_tables, as a budgeted build does after reading) and made
    again on the next lookup."""
    rng = np.random.default_rng(seed)
    letters = list("abcdefgh") + (["é", "東", "\u00a0"] if wide else [])
    pool = ["".join(rng.choice(letters, size=rng.integers(1, 12))) for _ in range(300)]
    index = WordIndex(hash_bits=bits)
    seen = {}
    for _, block_items in growing_blocks(rng, pool, 25, 40, 12):
        expected, seen = python_ids(block_items, seen)
        chars, offsets = as_arrays(block_items)
        starts, ends, _ = split_words(chars, offsets)
        assert index.ids(chars, starts, ends).tolist() == expected
        # What find (exact, never lagging) says agrees.
        assert index.find(chars, starts, ends).tolist() == expected
        if rng.random() < 0.3:
            index.release_tables()
    assert index.words() == list(seen)


def as_utf8(items):
    """Items as UTF-8 bytes (uint8) and offsets in bytes, as Block.item_utf8 gives them."""
    encoded = [i.encode("utf-8") for i in items]
    offsets = np.cumsum([0] + [len(e) for e in encoded]).astype(np.int64)
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([64, 3]))
def test_words_given_as_utf8_bytes_get_the_ids_of_their_text(seed, bits):
    """ids_utf8 decodes only the words past ASCII and the new ones; block after block,
    mixed with blocks given as code points, every word gets the id of its first
    appearance."""
    rng = np.random.default_rng(seed)
    letters = list("abcdefghij") + ["é", "東", "\u00a0", "😀"]
    pool = ["".join(rng.choice(letters, size=rng.integers(1, 14))) for _ in range(200)]
    index = WordIndex(hash_bits=bits)
    seen = {}
    for block, block_items in growing_blocks(rng, pool, 12, 30, 15):
        expected, seen = python_ids(block_items, seen)
        as_bytes = block % 3 != 2
        chars, offsets = as_utf8(block_items) if as_bytes else as_arrays(block_items)
        starts, ends, _ = split_words(chars, offsets)
        ids = index.ids_utf8(chars, starts, ends) if as_bytes else index.ids(chars, starts, ends)
        assert ids.tolist() == expected
    assert index.words() == list(seen)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300).map(lambda b: bytes(c if c % 4 else 32 for c in b)))
def test_split_text_words_finds_the_runs_of_non_delimiters(data):
    array = np.frombuffer(data, dtype=np.uint8)
    starts, ends = split_text_words(array)
    expected = [(m.start(), m.end()) for m in re.finditer(rb"[^\0\t\n\r ]+", data)]
    assert list(zip(starts.tolist(), ends.tolist())) == expected


def test_long_words_given_as_utf8_are_measured_in_characters():
    fits = "é" * MAX_WORD_CHARS                # twice as many bytes as the limit: accepted
    data, offsets = as_utf8([fits, "a " + fits + "é"])
    starts, ends, _ = split_words(data, offsets)
    check_utf8_word_lengths(data, starts[:2], ends[:2])
    with pytest.raises(WordTooLong) as error:
        check_utf8_word_lengths(data, starts, ends)
    assert error.value.length == MAX_WORD_CHARS + 1 and error.value.beginning == "é" * 20


# Items of text and their words read from UTF-8 bytes (Block.item_utf8, split in place)
# or from code points (blocks with a break or space past ASCII, or invalid UTF-8), in
# blocks of any size: the same words as Python's splitlines, strip and split say.
TEXT_CHARS = st.sampled_from(list("ab é東😀 \t\r\n\x0b\x0c\x1f\u00a0\u2028\u3000\x85"))


@settings(max_examples=150, deadline=None)
@given(st.text(TEXT_CHARS, max_size=150), st.integers(8, 120), st.booleans())
def test_words_of_blocks_are_those_of_the_text(text, block_bytes, held_out):
    items = [line.strip() for line in text.splitlines() if line.strip()]
    reader = Reader([Source("<text>", data=text.encode("utf-8"))], block_bytes=block_bytes)
    collector = TokenCollector("word")
    assignment = np.arange(len(items)) % 3 if held_out else None
    if not items:
        with pytest.raises(InputError):
            collect_blocks(reader, "<text>", assignment, collector, 0)
        return
    collect_blocks(reader, "<text>", assignment, collector, 0)
    tokens = collector.tokens()
    every = []
    for code, split in enumerate(["train", "dev", "test"] if held_out else ["train"]):
        chosen = [i for n, i in enumerate(items) if not held_out or assignment[n] == code]
        words = [w for item in chosen for w in python_words(item)]
        every += words
        if chosen:
            ids, offsets = collector.splits[split].arrays()
            assert [tokens[i - 1] for i in ids.tolist()] == words
            assert len(offsets) == len(chosen) + 1
    assert sorted(tokens) == sorted(set(every))


def _joined_spans(words):
    data = np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8)
    breaks = np.flatnonzero(data == 0x0A)
    return (data, np.concatenate([[0], breaks + 1]).astype(np.int64),
            np.concatenate([breaks, [len(data)]]).astype(np.int64))


def test_increasing_spans_is_pythons_order_of_the_decoded_words():
    # A query file's vocabulary is checked sorted and distinct on its UTF-8 bytes, eight at
    # a time; the reference is Python's comparison of the strings. Words share prefixes
    # of every length across the eight-byte steps (one to four bytes a character), and
    # one word begins the next, in order or not.
    rng = np.random.default_rng(23)
    alphabet = ["a", "b", "z", "\x01", "\x7f", "é", "€", "𝄞"]
    cases = [["abcdefgh", "abcdefghi"], ["abcdefghi", "abcdefgh"], ["abcdefgh", "abcdefgh"],
             ["aaaaaaaaaaaaaaaab", "aaaaaaaaaaaaaaaab"], ["a" * 16, "a" * 17, "a" * 16 + "b"],
             ["a", "b"], ["b", "a"], ["€", "𝄞"], ["𝄞", "€"], ["z", "é"], ["é", "z"]]
    for _ in range(3000):
        stem = "".join(rng.choice(alphabet, rng.integers(0, 20)))
        words = sorted({stem[:rng.integers(0, len(stem) + 1)]
                        + "".join(rng.choice(alphabet, rng.integers(0 if stem else 1, 4)))
                        for _ in range(rng.integers(2, 8))} - {""})
        if len(words) < 2:
            continue
        cases.append(words)
        i = int(rng.integers(0, len(words) - 1))
        swapped, repeated = list(words), list(words)
        swapped[i], swapped[i + 1] = words[i + 1], words[i]
        repeated[i + 1] = words[i]
        cases += [swapped, repeated]
    verdicts = []
    for words in cases:
        expected = all(a < b for a, b in zip(words, words[1:]))
        assert increasing_spans(*_joined_spans(words)) == expected, words
        verdicts.append(expected)
    assert 1000 < sum(verdicts) < len(verdicts) - 1000   # both answers, many times
