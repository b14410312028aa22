"""A vocabulary of 20,001 characters in bounded memory: training, sampling and the grid.

The corpus is made here: 200,000 items of 2 to 8 characters drawn uniformly
from the 20,001 code points from U+4E00 on (every one of them appears). A
dense bigram matrix of that vocabulary would hold 400 million cells (1.6 GB
as float32); the sparse core keeps what was seen. Each command runs in a
child process, exactly as `python -m bigram` runs it, which reports its own
peak resident memory (VmHWM: a forked child's ru_maxrss would count the
parent's pages).
"""

import subprocess
import sys

import numpy as np
import pytest

FIRST = 0x4E00
DISTINCT = 20_001
ITEMS = 200_000
PEAK_LIMIT_KB = 600 * 1024

CHILD = ("import runpy, sys\n"
         "sys.argv = ['bigram', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('bigram', run_name='__main__')\n"
         "except SystemExit as e:\n    code = e.code\n"
         "peak = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
         "print(f'peak {peak[0]} code {code}', file=sys.stderr)\n")


def run_bigram(folder, *args):
    """`python -m bigram ARGS` in a child: (stdout, stderr lines before the report, peak KB)."""
    child = subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], cwd=folder,
                           capture_output=True, text=True, check=False, timeout=120)
    *messages, report = child.stderr.splitlines()
    _, peak_kb, _, code = report.split()
    assert code == "0", child.stderr
    return child.stdout, messages, int(peak_kb)


def corpus(rng):
    """Items as code points: every one of the DISTINCT characters at least once."""
    lengths = rng.integers(2, 9, ITEMS)
    codes = rng.integers(0, DISTINCT, int(lengths.sum()))
    codes[:DISTINCT] = rng.permutation(DISTINCT)
    return codes + FIRST, lengths


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("large")
    codes, lengths = corpus(np.random.default_rng(20_001))
    lines = np.full(len(codes) + ITEMS, 0x0A, dtype="<u4")
    lines[np.arange(len(codes)) + np.repeat(np.arange(ITEMS), lengths)] = codes
    (folder / "han.txt").write_bytes(lines.tobytes().decode("utf-32-le").encode("utf-8"))
    _, messages, peak_kb = run_bigram(folder, "train", "han.txt", "-o", "han.npz")
    return folder, codes, lengths, messages, peak_kb


def test_training_20001_characters_stays_in_bounded_memory(trained):
    folder, codes, lengths, messages, peak_kb = trained
    assert messages == ["wrote han.npz"]
    assert peak_kb < PEAK_LIMIT_KB, f"peak {peak_kb / 1024:.0f} MB"
    from bigram.formats.modelfile import load

    saved = load(folder / "han.npz")
    assert saved.vocabulary.tokens == [chr(FIRST + i) for i in range(DISTINCT)]
    items, tokens = saved.meta["data"]["items"], saved.meta["data"]["tokens"]
    assert items == {"train": ITEMS - 1000, "test": 1000}
    assert tokens["train"] + tokens["test"] == len(codes) + ITEMS   # characters and ends
    # The training split's bigrams, counted here with numpy, are the stored ones.
    from bigram.text.splits import split_assignment

    train = split_assignment(ITEMS, 3407, test_size=1000) == 0
    ids = codes - FIRST + 1                       # the vocabulary is the code points in order
    item_of = np.repeat(np.arange(ITEMS), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    previous = np.concatenate([[0], ids[:-1]])
    previous[starts] = 0                          # each item starts after the boundary
    size = DISTINCT + 1
    keys = np.concatenate([(previous * size + ids)[train[item_of]],
                           (ids[starts + lengths - 1] * size)[train]])   # last char, end
    expected_keys, expected_counts = np.unique(keys, return_counts=True)
    level = saved.data_counts["train"].level(2)
    np.testing.assert_array_equal(level.keys, expected_keys)
    np.testing.assert_array_equal(level.count, expected_counts)


def test_sampling_20001_characters_stays_in_bounded_memory(trained):
    folder = trained[0]
    out, messages, peak_kb = run_bigram(folder, "sample", "-m", "han.npz", "-n", "10",
                                        "--seed", "3", "--max-len", "30")
    assert peak_kb < PEAK_LIMIT_KB, f"peak {peak_kb / 1024:.0f} MB"
    lines = out.splitlines()
    assert len(lines) == 10
    assert all(FIRST <= ord(c) < FIRST + DISTINCT for line in lines for c in line)
    # Add-one smoothing over 20,002 tokens leaves about 1 in 2,000 for the end of an item,
    # so most items run to --max-len.
    cut = [str(i) for i, line in enumerate(lines, 1) if len(line) == 30]
    expected = (f"warning: item {cut[0]} reached --max-len 30 and was cut short" if len(cut) == 1
                else f"warning: {len(cut)} items reached --max-len 30 and were cut short: "
                     f"items {', '.join(cut)}")
    assert cut and messages == [expected]


def test_the_grid_of_a_large_vocabulary_shows_the_most_frequent_and_says_so(trained, cli):
    folder = trained[0]
    result = cli("show", "-m", folder / "han.npz")
    assert result.code == 0, result.err
    assert "the 64 most frequent of 20,002 tokens (rows and columns)" in result.out
    header = result.out.splitlines()[0].split()
    assert len(header) == 64
