"""Bad input around words and vocabularies: one `error:` line, the documented exit code
(1 for data, 2 for options), and the model file that was there left as it was."""

import json

import pytest

from bigram.models.language_models import NEURAL_BUDGET
from bigram.text.words import MAX_WORD_CHARS


def one_line_error(result, code, *pieces):
    assert result.code == code, result.err
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err
    for piece in pieces:
        assert piece in result.err, result.err


@pytest.fixture
def kept(cli, tmp_path):
    """A model at keep.npz; returns a check that it is still byte for byte the same."""
    (tmp_path / "small.txt").write_text("the cat sat\nthe dog ran\n")
    assert cli("train", "small.txt", "--unit", "word", "--test-size", "0", "-o",
               "keep.npz").code == 0
    before = (tmp_path / "keep.npz").read_bytes()
    return lambda: (tmp_path / "keep.npz").read_bytes() == before


def test_a_word_longer_than_the_limit(cli, tmp_path, kept):
    long_word = "x" * (MAX_WORD_CHARS + 1)
    (tmp_path / "blob.txt").write_text(f"a b c\nsome words then {long_word} and more\n")
    one_line_error(cli("train", "blob.txt", "--unit", "word", "--test-size", "0", "-o",
                       "keep.npz"), 1,
                   f"blob.txt has a word of {MAX_WORD_CHARS + 1:,} characters ('xxxx",
                   f"words are at most {MAX_WORD_CHARS:,} characters")
    assert kept()
    # Named by the file it is in, also among several sources and in held-out items.
    (tmp_path / "fine.txt").write_text("a b c\n" * 50)
    (tmp_path / "held.txt").write_text("d e\n" * 40 + f"{long_word}\n" + "d e\n" * 40)
    one_line_error(cli("train", "fine.txt", "held.txt", "--unit", "word", "--split", "50/50",
                       "-o", "keep.npz"), 1, "held.txt has a word of")
    assert kept()
    # tune reads its data the same way.
    one_line_error(cli("tune", "blob.txt", "--unit", "word", "-o", "keep.npz"), 1,
                   "blob.txt has a word of")
    assert kept()


def test_a_word_at_the_limit_and_long_tokens_of_other_kinds(cli, tmp_path):
    at_limit = "y" * MAX_WORD_CHARS
    (tmp_path / "edge.txt").write_text(f"a {at_limit} b\n")
    assert cli("train", "edge.txt", "--unit", "word", "--test-size", "0").code == 0
    assert at_limit in cli("info", "--json").out
    # Characters have no such limit: the same line is 4,100 one-character tokens.
    (tmp_path / "blob.txt").write_text("z" * (MAX_WORD_CHARS + 10) + "\n")
    assert cli("train", "blob.txt", "--test-size", "0", "-o", "chars.npz").code == 0
    # Evaluation only looks words up: a long unknown word is an OOV, not an error.
    report = cli("eval", "blob.txt", "--json")
    assert report.code == 0 and '"oov": 1' in report.out


def write_long_line(path, words):
    with open(path, "w") as f:
        f.write("the cat\n" + "word " * words + "\n")


def test_an_item_longer_than_the_block_limit(cli, tmp_path, kept):
    write_long_line(tmp_path / "huge.txt", 600_000)     # line 2 is 3 MB
    one_line_error(cli("train", "huge.txt", "--unit", "word", "-o", "keep.npz"), 1,
                   "huge.txt: line 2 is longer than 1,048,576 bytes")
    assert kept()
    one_line_error(cli("eval", "huge.txt", "-m", "keep.npz"), 1,
                   "huge.txt: line 2 is longer than 1,048,576 bytes")


def test_an_item_just_over_the_block_limit(cli, tmp_path, kept):
    write_long_line(tmp_path / "huge.txt", 220_000)     # line 2 is 1.1 MB
    one_line_error(cli("train", "huge.txt", "--unit", "word", "-o", "keep.npz"), 1,
                   "huge.txt: line 2 is longer than 1,048,576 bytes")
    assert kept()


def test_a_vocabulary_larger_than_the_neural_budget(cli, tmp_path, kept):
    # The weight matrix is (order-1)*V x V float32: V = 11,586 is the first bigram size over.
    words = [f"w{i}" for i in range(11_585)]
    assert 11_586 ** 2 * 4 > NEURAL_BUDGET >= 11_585 ** 2 * 4
    (tmp_path / "many.txt").write_text("\n".join(" ".join(words[i:i + 100])
                                                 for i in range(0, len(words), 100)) + "\n")
    budget = f"budget of {NEURAL_BUDGET >> 20} MiB; use --model counts"
    one_line_error(cli("train", "many.txt", "--unit", "word", "--model", "neural", "-o",
                       "keep.npz"), 2, "over 11,586 tokens", budget)
    assert kept()
    one_line_error(cli("train", "many.txt", "--unit", "word", "--model", "neural", "--order",
                       "3", "--max-vocab", "8200", "-o", "keep.npz"), 2,
                   "a neural model of order 3 over 8,202 tokens", budget)
    assert kept()
    one_line_error(cli("tune", "many.txt", "--unit", "word", "--model", "neural", "-o",
                       "keep.npz"), 2, budget)
    assert kept()
    # The alternative it names works on the same data.
    assert cli("train", "many.txt", "--unit", "word", "--model", "counts", "-o",
               "counts.npz").code == 0


@pytest.mark.parametrize("command", ["train", "tune"])
@pytest.mark.parametrize("option, value, message", [
    ("--min-count", "0", "--min-count must be 1 or more, not 0"),
    ("--min-count", "-2", "--min-count must be 1 or more, not -2"),
    ("--max-vocab", "0", "--max-vocab must be 1 or more, not 0"),
    ("--unit", "words", "'words' is not one of 'char', 'word'"),
])
def test_vocabulary_options_out_of_range(cli, tmp_path, kept, command, option, value,
                                         message):
    one_line_error(cli(command, "small.txt", "--unit", "word", option, value, "-o",
                       "keep.npz"), 2, message)
    assert kept()


@pytest.mark.parametrize("command", [
    ["eval"], ["score", "the cat"], ["sample"], ["info"], ["export", "-o", "m.arpa"],
    ["plot"], ["show"], ["merge", "keep.npz", "keep.npz", "-o", "both.npz"]])
@pytest.mark.parametrize("unit", ["word", "char"])
def test_unit_belongs_to_the_model_not_to_commands_that_read_one(cli, tmp_path, kept, command,
                                                                 unit):
    head, *rest = command
    args = [head, "--unit", unit, *rest] + (["-m", "keep.npz"] if head != "merge" else [])
    one_line_error(cli(*args), 2, "--unit belongs to train and tune; every other command reads the unit from the model file")
    assert kept()
    assert not any((tmp_path / name).exists() for name in ("m.arpa", "both.npz",
                                                            "bigram.png"))


def test_the_word_unk_in_the_text_is_the_unknown_token(cli, tmp_path):
    (tmp_path / "u.txt").write_text("the <unk> cat\nthe dog\n")
    assert cli("train", "u.txt", "--unit", "word", "--test-size", "0").code == 0
    info = json.loads(cli("info", "--json").out)
    assert info["unk"] is True and info["vocabulary"] == ["cat", "dog", "the"]
    # 7 predictions (3 + 1 and 2 + 1 with the ends), the <unk> among them.
    assert json.loads(cli("eval", "--json").out)["train"]["tokens"] == 7


@pytest.mark.parametrize("word", ["<s>", "</s>"])
def test_boundary_words_in_the_text_are_refused(cli, tmp_path, word):
    (tmp_path / "s.txt").write_text(f"a {word} b\n")
    one_line_error(cli("train", "s.txt", "--unit", "word", "-o", "m.npz"), 1,
                   f"the text holds the word {word}, which bigram reserves")
    assert not (tmp_path / "m.npz").exists()
