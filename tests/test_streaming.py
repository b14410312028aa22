"""`bigram sample` streams: batches continue one stream, memory stays flat, pipes close quietly."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import NAMES, names

import bigram.tensor as torch
from bigram.models.language_models import CountModel
from bigram.models.sampling import sample_one_at_a_time, stream_items, utf8_lines
from bigram.ngrams.training_data import load_training_data
from bigram.settings import Reading


def count_model(path, smoothing=1.0, **options):
    data = load_training_data([str(path)], Reading(test_size=0, **options))
    return CountModel.fit(data.vocabulary, data.counts["train"], smoothing)


@pytest.fixture(scope="module")
def model():
    return count_model(NAMES)


def state_after(model, prefix):
    state = model.start_state()
    for token in model.vocabulary.encode_text(prefix):
        state = int(model.advance(np.array([state]), np.array([token]))[0])
    return state


def reference(model, n, seed, prefix="", max_steps=100):
    """Items drawn one token at a time, as strings (the plain reference)."""
    drawn = sample_one_at_a_time(model, n, torch.Generator().manual_seed(seed),
                                 state_after(model, prefix), max_steps)
    join = " ".join if model.vocabulary.unit == "word" else "".join
    return [prefix + join(model.vocabulary.token(t) for t in item) for item in drawn]


@pytest.mark.parametrize("n, batch_size", [(100, 1), (3000, 7), (3000, 300), (3000, 5000)])
def test_batches_continue_one_stream(model, n, batch_size):
    g = torch.Generator().manual_seed(2)
    batches = list(stream_items(model, n, g, max_len=6, batch_size=batch_size))
    expected = reference(model, n, 2, max_steps=6)
    assert [item for b in batches for item in b.items()] == expected
    assert b"".join(b.lines() for b in batches) == "".join(s + "\n" for s in expected).encode()
    assert sum(b.cut for b in batches) == sum(len(s) == 6 for s in expected)
    assert max(len(b.items()) for b in batches) <= batch_size


def test_novel_items_are_the_first_novel_ones_of_the_stream(model):
    training = set(names())
    expected = [s for s in reference(model, 800, 5) if s not in training][:300]
    assert len(expected) == 300
    batches = stream_items(model, 300, torch.Generator().manual_seed(5), exclude=training,
                           batch_size=100)
    assert [item for b in batches for item in b.items()] == expected


@pytest.mark.parametrize("text, prefix, options", [
    ("zoë\nañа\n日本\némile\nø\n", "ø", {}),
    ("the cat sat\nthe dog ran\na cat ran home\n", "the ", {"unit": "word"}),
])
def test_lines_in_utf8_with_a_prefix(tmp_path, text, prefix, options):
    (tmp_path / "train.txt").write_text(text)
    model = count_model(tmp_path / "train.txt", 0.5, **options)
    batches = list(stream_items(model, 500, torch.Generator().manual_seed(3), prefix=prefix,
                                batch_size=64))
    expected = reference(model, 500, 3, prefix, max_steps=99)   # the prefix is one token
    lines = b"".join(utf8_lines(b.vocabulary, b.samples, prefix) for b in batches)
    assert lines.decode("utf-8").splitlines() == expected


def test_json_lines_escape_what_json_escapes(cli, tmp_path):
    (tmp_path / "odd.txt").write_text('a"b\nc\\d\ne\tf\nzoë\n')
    assert cli("train", "odd.txt", "--test-size", "0").code == 0
    plain = cli("sample", "-n", "300", "--seed", "4").out.splitlines()
    lines = cli("sample", "-n", "300", "--seed", "4", "--json").out.splitlines()
    assert [json.loads(line) for line in lines] == plain
    assert any('"' in s or "\\" in s for s in plain)


PROBE = ("import sys\nfrom bigram.cli.app import main\n"
         "try:\n    main(sys.argv[1:])\nfinally:\n"
         "    peak = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
         "    sys.stderr.write(f'PEAK {peak[0]}\\n')\n")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("streaming")
    subprocess.run([sys.executable, "-m", "bigram", "train", "--test-size", "0", "-o",
                    str(folder / "m.npz")], check=True, capture_output=True)
    return folder / "m.npz"


def test_five_million_items_in_flat_memory_and_prefixes_agree(model_file):
    small = subprocess.run([sys.executable, "-m", "bigram", "sample", "-m", str(model_file),
                            "-n", "100000", "--seed", "2"], capture_output=True, check=True)
    big = subprocess.run([sys.executable, "-c", PROBE, "sample", "-m", str(model_file), "-n",
                          "5000000", "--seed", "2"], capture_output=True, check=False)
    assert big.returncode == 0, big.stderr
    lines = big.stdout.split(b"\n")
    assert len(lines) == 5_000_001 and lines[-1] == b""
    assert b"\n".join(lines[:100_000]) + b"\n" == small.stdout
    peak_kb = int(big.stderr.split(b"PEAK ")[1].split()[0])
    assert peak_kb < 300 * 1024   # all at once, 5,000,000 items took gigabytes


def test_a_reader_that_closes_early_ends_it_quietly(model_file):
    process = subprocess.Popen([sys.executable, "-m", "bigram", "sample", "-m", str(model_file),
                                "-n", "1000000000", "--seed", "1"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    first = [process.stdout.readline() for _ in range(5)]
    process.stdout.close()
    closed = time.monotonic()
    err = process.stderr.read()
    process.wait(timeout=30)
    assert time.monotonic() - closed < 5
    assert process.returncode == 0 and err == b""
    assert all(line.endswith(b"\n") and len(line) > 1 for line in first)


def test_sample_speaks_of_items_not_names(cli):
    from bigram.cli.app import app

    result = cli("sample", "--help")
    assert result.code == 0
    for text in (result.out, app.info.help):
        assert "item" in text and "name" not in text.replace("names.txt", "")
