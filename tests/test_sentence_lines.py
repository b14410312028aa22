"""Sentence-padded models read text as KenLM does: a line ends at a line feed only, is
stripped, and a blank line is the empty sentence `<s> </s>` (lmplz trains on it; `query`
and `bigram eval` score it). Checked against plain Python on the reader's items, and on
the models: blank lines train as the empty sentences `--skip-symbols` leaves of a line
holding only `<s>` (lmplz's own reading of both). lmplz's ARPA files of the `edge` corpus,
which has blank lines, are matched entry for entry in test_modified_kneser_ney.py and,
within a memory budget, in test_memory_budget.py."""

import io

import numpy as np
import pytest

from bigram.settings import TrainingSettings
from bigram.text.sources import Reader, Source
from bigram.training import budget
from bigram.training.train import train_model

PIECES = ["a b", "  c\td  ", "", "   ", "\t", "é ü", "x\x0cy", "\u2028z", "w\u00a0", "q\r",
          "日本 語", "k"]


def kenlm_items(text):
    """A text's lines as KenLM reads them, plainly: cut at line feeds, stripped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()   # nothing after the last line feed
    return [line.strip() for line in lines]


def reader_items(data, lines, block_bytes=64):
    reader = Reader([Source("<t>")], lines=lines, block_bytes=block_bytes)
    items, count = [], 0
    for _, block in reader._source_blocks(reader.sources[0], io.BytesIO(data), False):
        items.extend(block.item_strings())
        count += block.n_items
    assert count == len(items)
    return items


@pytest.mark.parametrize("seed", range(6))
def test_lines_are_kenlms_and_items_the_toolkits(seed):
    rng = np.random.default_rng(seed)
    pieces = PIECES if seed % 2 else PIECES[:6] + ["k"]   # odd seeds: past ASCII too
    text = "\n".join(pieces[i] for i in rng.integers(0, len(pieces), 200))
    text += "\n" if seed % 3 else ""
    if seed == 4:
        text = text.replace("\n", "\r\n")   # CRLF: still one line each
    data = text.encode("utf-8")
    assert reader_items(data, lines=True) == kenlm_items(text.replace("\r\n", "\n"))
    # The toolkit's items (characters, makemore padding) are unchanged: str.splitlines,
    # stripped, blank lines skipped.
    assert reader_items(data, lines=False) == [x.strip() for x in text.splitlines()
                                               if x.strip()]


def test_blank_lines_train_as_the_empty_sentences_skip_symbols_leaves(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    words = ["the", "a", "cat", "sat", "on", "mat", "dog"]
    lines = [" ".join(rng.choice(words, rng.integers(1, 7))) for _ in range(300)]
    for at in rng.choice(len(lines), 40, replace=False):
        lines[at] = rng.choice(["", "  ", "\t"])
    blank = tmp_path / "blank.txt"
    blank.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    marked = tmp_path / "marked.txt"
    marked.write_text("".join((x if x.strip() else "<s>") + "\n" for x in lines),
                      encoding="utf-8")
    common = dict(unit="word", method="modified-kneser-ney", order=3, test_size=0)
    expected = train_model([str(marked)], TrainingSettings.of(**common, skip_symbols=True))
    for on_disk in (False, True):
        if on_disk:   # counted within a budget, on disk (however small the text)
            monkeypatch.setattr(budget, "fits_in_memory", lambda size, memory: False)
        extra = {"memory": 1 << 14, "temp_dir": str(tmp_path)} if on_disk else {}
        got = train_model([str(blank)], TrainingSettings.of(**common, **extra))
        assert (type(got.saved.model).__name__ == "StreamedCountModel") == on_disk
        assert got.data.items["train"] == len(lines) == expected.data.items["train"]
        ours, theirs = got.saved.model.backoff, expected.saved.model.backoff
        for k in range(1, 4):
            np.testing.assert_array_equal(ours.logprob[k], theirs.logprob[k])
            np.testing.assert_array_equal(ours.logbackoff[k], theirs.logbackoff[k])
    # Character models of names (makemore padding) still skip them.
    names = train_model([str(blank)], TrainingSettings.of(unit="char", order=2, test_size=0))
    assert names.data.items["train"] == sum(1 for x in lines if x.strip())


def test_a_split_keeps_blank_lines_as_items(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("a b\n\nc\n\n\nd e f\n" * 50, encoding="utf-8")
    data = train_model([str(text)], TrainingSettings.of(
        unit="word", method="modified-kneser-ney", order=2, split="80/10/10")).data
    assert sum(data.items.values()) == 300   # six lines, three of them blank, 50 times
