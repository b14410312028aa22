"""Reading and counting text: item rules, chunking, the ASCII fast path, the makemore split."""

import numpy as np
import pytest
from conftest import NAMES, count_matrix, lecture_counts, names

from bigram.ngrams.training_data import load_training_data
from bigram.settings import Reading
from bigram.text.sources import items_from_text, read_items
from bigram.text.splits import split_assignment

TRICKY = ("\ufeffemma\r\n  olivia \r\n\r\n\tava\t\nmary ann\n\n x \n\x0bzoë\u2028ñandú\n"
          "last line without newline")


def python_items(text):
    """The reference rule: str.splitlines, strip, drop blanks (as makemore reads names)."""
    text = text.removeprefix("\ufeff")
    return [w.strip() for w in text.splitlines() if w.strip()]


def test_items_follow_splitlines_strip_and_skip_blank():
    assert items_from_text(TRICKY) == python_items(TRICKY)
    assert items_from_text("a.b\n.\n") == ["a.b", "."]


def test_names_file_reads_as_the_lecture_reads_it():
    assert read_items([str(NAMES)]) == names()


@pytest.mark.parametrize("keep_text", [0, 10 ** 9])
@pytest.mark.parametrize("block_bytes", [64, 100, 997, 1 << 22])
def test_counts_do_not_depend_on_block_size(tmp_path, block_bytes, keep_text):
    path = tmp_path / "mixed.txt"
    words = names()[:3000] + ["zoë", "  padded  ", "mary ann", "", "crlf\r"] * 40
    path.write_bytes(("\n".join(words) + "\n").encode())
    data = load_training_data([str(path)], Reading(test_size=0, block_bytes=block_bytes), keep_text=keep_text)
    expected, chars = lecture_counts(python_items(path.read_text()))
    assert data.vocabulary.chars == chars
    np.testing.assert_array_equal(count_matrix(data.counts["train"]), expected)
    # Level 1 counts each token where it is predicted: the columns of N.
    np.testing.assert_array_equal(data.counts["train"].level(1).count, expected.sum(0))
    assert data.items["train"] == len(python_items(path.read_text()))


@pytest.mark.parametrize("text", [
    "emma\nolivia\nava\n", "emma\r\nolivia\r\n\r\nava", "a\n\n\nb\n", "\n\nx y\nz\n",
    "ab\rcd\x0bef\x0cgh\x1cij\n",
])
def test_ascii_fast_path_equals_general_path(tmp_path, text):
    path = tmp_path / "t.txt"
    path.write_bytes(text.encode())
    fast = load_training_data([str(path)], Reading(test_size=0), keep_text=0)
    expected, chars = lecture_counts(python_items(text))
    np.testing.assert_array_equal(count_matrix(fast.counts["train"]), expected)
    np.testing.assert_array_equal(fast.counts["train"].level(1).count, expected.sum(0))
    assert fast.vocabulary.chars == chars


def test_split_is_makemores_permutation():
    words = names()
    rp = np.load(NAMES.parent.parent / "tests" / "fixtures" / "rng.npz")["makemore_split|0"]
    np.testing.assert_array_equal(np.flatnonzero(split_assignment(len(words), 3407, 1000) == 2), np.sort(rp[-1000:]))
    data = load_training_data([], Reading(test_size=None))
    assert sorted(data.held_out["test"]) == sorted(words[i] for i in rp[-1000:])
    train_counts, _ = lecture_counts([words[i] for i in rp[:-1000]])
    np.testing.assert_array_equal(count_matrix(data.counts["train"]), train_counts)


def test_split_subtraction_on_the_fast_path_equals_direct_counts(tmp_path):
    # Past the kept-items limit the fast path counts everything, then subtracts test items.
    words = names()[:5000]
    path = tmp_path / "n.txt"
    path.write_text("\n".join(words) + "\n")
    data = load_training_data([str(path)], Reading(test_size=500, block_bytes=4096), keep_text=10)
    test = set(np.flatnonzero(split_assignment(5000, 3407, 500) == 2).tolist())
    train_counts, _ = lecture_counts([w for i, w in enumerate(words) if i not in test])
    test_counts, test_chars = lecture_counts([w for i, w in enumerate(words) if i in test])
    assert test_chars == data.vocabulary.chars   # so the two matrices index the same tokens
    np.testing.assert_array_equal(count_matrix(data.counts["train"]), train_counts)
    np.testing.assert_array_equal(count_matrix(data.counts["test"]), test_counts)
    assert data.train_items is None  # too many items to keep for --novel


@pytest.mark.parametrize("padding", ["makemore", "sentence"])
def test_packed_counting_equals_the_general_index(padding):
    """Small vocabularies are counted as packed windows; the index must be the one the
    per-level sort over the padded stream builds, array for array."""
    from bigram.ngrams.index import count_packed, index_text, pad_items, pads_for

    rng = np.random.default_rng(11)
    for _ in range(150):
        size, order = int(rng.integers(2, 9)), int(rng.integers(2, 6))
        lengths = rng.integers(0, 7, int(rng.integers(0, 30)))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        tokens = rng.integers(1, size, offsets[-1])
        packed = count_packed(tokens, offsets, order, size, padding)
        general = index_text(pad_items(tokens, offsets, pads_for(padding, order)), order, size,
                             padding)[0]
        for k in range(1, order + 1):
            for name in ("keys", "suffix", "count"):
                np.testing.assert_array_equal(getattr(packed.level(k), name),
                                              getattr(general.level(k), name))
