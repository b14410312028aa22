"""`bigram tune` within a memory budget (`--memory`, `--temp-dir`): a text too large for the
budget is counted on disk and every count model estimated and scored by the streaming
stages; the trials, their losses, the choice and the chosen model file are those of the
in-memory tune (the reference: tune in memory, itself checked in test_tuning_mkn.py and
test_cli.py against plain recounts)."""

import gc
import json

import pytest
from test_memory_budget import assert_same_model_files, leftovers, random_corpus

from bigram.settings import TrainingSettings
from bigram.training import budget
from bigram.training.tune import tune


@pytest.fixture
def forced(monkeypatch):
    """Every text takes the budgeted path."""
    monkeypatch.setattr(budget, "fits_in_memory", lambda size, memory: False)


def assert_same_tuning(got, expected):
    """The same trials (settings, searched discounts), losses to the last bits of a sum,
    and the same choice."""
    assert len(got.trials) == len(expected.trials)
    for x, y in zip(expected.trials, got.trials):
        assert (x.order, x.method, x.strength, x.discounts, x.searched) == \
            (y.order, y.method, y.strength, y.discounts, y.searched)
        assert y.dev == pytest.approx(x.dev, rel=1e-12, nan_ok=True)
        assert y.train == pytest.approx(x.train, rel=1e-12, nan_ok=True)
    c, d = expected.chosen, got.chosen
    assert (c.order, c.method, c.strength, c.discounts) == (d.order, d.method, d.strength,
                                                             d.discounts)
    assert d.test == pytest.approx(c.test, rel=1e-12)
    assert got.splits == expected.splits


@pytest.mark.parametrize("unit", ["char", "word"])
def test_tune_within_a_budget_is_the_in_memory_tune(tmp_path, forced, unit):
    path = str(random_corpus(tmp_path / "c.txt", 7, unit, lines=500))
    common = dict(split="80/10/10", unit=unit)
    expected = tune([path], [2, 3], settings=TrainingSettings.of(**common))
    got = tune([path], [2, 3], settings=TrainingSettings.of(memory=1 << 14,
                                                            temp_dir=str(tmp_path), **common))
    assert type(got.saved.model).__name__ == "StreamedCountModel"
    assert_same_tuning(got, expected)
    assert_same_model_files(tmp_path, expected, got)
    del got
    gc.collect()
    assert not leftovers(tmp_path)


def test_cli_tune_within_a_budget_prints_the_in_memory_choice(cli, tmp_path, forced):
    path = random_corpus(tmp_path / "c.txt", 3, "word", lines=400)
    args = ["tune", path, "--unit", "word", "--order", "2,3", "--smoothing-method",
            "witten-bell,kneser-ney", "--json"]
    plain = cli(*args, "-o", tmp_path / "a.npz")
    budgeted = cli(*args, "--memory", "1M", "--temp-dir", tmp_path, "-o", tmp_path / "b.npz")
    assert plain.code == 0 and budgeted.code == 0, budgeted.err
    x, y = json.loads(plain.out), json.loads(budgeted.out)
    # Words equal, numbers within 1e-12 (pytest 9.2's approx takes no strings).
    assert x["chosen"].keys() == y["chosen"].keys()
    for key, value in x["chosen"].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert value == pytest.approx(y["chosen"][key], rel=1e-12), key
        else:
            assert value == y["chosen"][key], key
    assert [t["dev"] for t in x["trials"]] == pytest.approx([t["dev"] for t in y["trials"]],
                                                             rel=1e-12)
    gc.collect()
    assert not leftovers(tmp_path)


def test_neural_tuning_that_needs_the_disk_is_refused_in_one_line(cli, tmp_path, forced):
    path = random_corpus(tmp_path / "c.txt", 3, "char", lines=300)
    result = cli("tune", path, "--model", "neural", "--memory", "1M", "-o", tmp_path / "m.npz")
    assert result.code != 0
    assert result.err.startswith("error: tune --model neural reads the counts whole")
    assert result.err.count("\n") == 1
    assert not (tmp_path / "m.npz").exists() and not leftovers(tmp_path)


def test_tune_reads_stdin_once_for_both_paddings(cli, tmp_path):
    """Modified Kneser-Ney's sentence padding and the others' makemore padding read the text
    twice: stdin is copied once (it used to be read empty the second time)."""
    path = random_corpus(tmp_path / "c.txt", 5, "word", lines=300)
    args = ["tune", "--unit", "word", "--order", "2", "--smoothing-method",
            "kneser-ney,modified-kneser-ney", "--json"]
    from_file = cli(*args, path, "-o", tmp_path / "a.npz")
    from_stdin = cli(*args, "-", "-o", tmp_path / "b.npz", stdin=path.read_text())
    assert from_file.code == 0 and from_stdin.code == 0, from_stdin.err
    assert json.loads(from_stdin.out) == json.loads(from_file.out)
