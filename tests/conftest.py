"""Shared test helpers: run the CLI in-process, reference computations written plainly."""

import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from bigram.cli.app import main

ROOT = Path(__file__).resolve().parent.parent
NAMES = ROOT / "data" / "names.txt"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """Run `bigram ARGS...` in a fresh folder; returns exit code, stdout and stderr."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BIGRAM_MODEL", raising=False)
    monkeypatch.delenv("BIGRAM_DEBUG", raising=False)

    def run(*args, stdin=None):
        if stdin is not None:
            data = stdin.encode() if isinstance(stdin, str) else stdin
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def lecture_counts(words):
    """The lecture's loop: N[ix1, ix2] += 1 over every bigram (the independent reference)."""
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    N = np.zeros((len(chars) + 1, len(chars) + 1), dtype=np.int64)
    for w in words:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            N[stoi[ch1], stoi[ch2]] += 1
    return N, chars


def names():
    """names.txt as the lecture reads it."""
    return NAMES.read_text().splitlines()


def count_matrix(index):
    """N[h, w]: the counts of level 2 of an index (the bigrams, with makemore padding)."""
    tokens = index.tokens(2)
    N = np.zeros((index.size, index.size), dtype=np.int64)
    np.add.at(N, (tokens[:, 0], tokens[:, 1]), index.level(2).count)
    return N


def bigram_index_of(N):
    """The order-2 NgramIndex whose bigram counts are the matrix N (any counts, for tests)."""
    from bigram.ngrams.counting import bigram_index

    N = np.asarray(N, dtype=np.int64)
    rows, cols = np.nonzero(N)
    return bigram_index(rows, cols, N[rows, cols], len(N))


def assert_same_index(got, expected):
    """Two NgramIndexes hold the same windows (keys and suffix links) with the same counts."""
    assert (got.order, got.size, got.padding) == (expected.order, expected.size,
                                                  expected.padding)
    for k in range(1, expected.order + 1):
        for name in ("keys", "suffix", "count"):
            np.testing.assert_array_equal(getattr(got.level(k), name),
                                          getattr(expected.level(k), name), err_msg=f"{k} {name}")


def bigram_states(model):
    """The state after each token t of a bigram model: row t of the lecture's P."""
    size = model.size
    return model.advance(np.full(size, model.start_state()), np.arange(size))


def bigram_rows(model):
    """The lecture's V x V matrix P (row h: P(next | h)) through next_token_probabilities."""
    return model.next_token_probabilities(bigram_states(model))
