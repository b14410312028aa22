"""The Python API against the CLI (same samples, losses, files and error messages) and against
a plain dictionary count of bigrams (add-k log-probabilities of a few names)."""

import json
import math
import subprocess
import sys
from collections import Counter
from itertools import pairwise

import pytest
from conftest import NAMES, names

import bigram
from bigram.errors import python_wording

LECTURE_SEED = 2147483647


def error_line(result):
    """The message of the CLI's one `error: ...` line."""
    assert result.code != 0 and result.err.startswith("error: "), result.err
    return result.err.strip()[len("error: "):]


def add_k_logprob(words, item, k):
    """ln P(item) under add-k bigrams counted with a dictionary over `words` (the reference)."""
    pairs, contexts = Counter(), Counter()
    chars = sorted(set("".join(words)))
    for word in words:
        padded = ["."] + list(word) + ["."]
        for a, b in pairwise(padded):
            pairs[a, b] += 1
            contexts[a] += 1
    size = len(chars) + 1
    padded = ["."] + list(item) + ["."]
    return sum(math.log((pairs[a, b] + k) / (contexts[a] + k * size))
               for a, b in pairwise(padded))


@pytest.fixture(scope="module")
def everything():
    """The lecture's model: counts on all of names.txt (`bigram train --test-size 0`)."""
    return bigram.train()


def test_samples_are_the_cli_samples(cli, everything):
    assert cli("train", "--test-size", "0").code == 0
    shown = cli("sample", "--seed", LECTURE_SEED, "-n", 50).out.splitlines()
    assert everything.sample(50, seed=LECTURE_SEED) == shown
    assert shown[:5] == ["mor", "axx", "minaymoryles", "kondlaisah", "anchshizarie"]
    options = ("--temperature", 0.7, "--prefix", "ka", "--max-len", 6)
    shown = cli("sample", "--seed", 7, "-n", 40, *options).out.splitlines()
    assert everything.sample(40, seed=7, temperature=0.7, prefix="ka", max_len=6) == shown
    streamed = [item for batch in everything.sample_batches(3000, seed=3) for item in
                batch.items()]
    assert streamed == cli("sample", "--seed", 3, "-n", 3000).out.splitlines()


def test_split_losses_are_the_cli_losses(cli):
    assert cli("train").code == 0     # makemore's split: 1,000 test names
    shown = json.loads(cli("eval", "--json").out)
    held_out = bigram.train(split="makemore")
    parts = bigram.split(names())
    assert len(parts["test"]) == 1000 and not parts["dev"]
    by_hand = bigram.train(parts["train"])
    for split in ("train", "test"):
        assert held_out.reports[split].nll == pytest.approx(shown[split]["nll"], rel=1e-12)
        assert held_out.reports[split].tokens == shown[split]["tokens"]
    assert by_hand.reports["train"].nll == pytest.approx(shown["train"]["nll"], rel=1e-12)
    assert by_hand.evaluate(parts["test"]).nll == pytest.approx(shown["test"]["nll"], rel=1e-12)
    assert round(shown["train"]["nll"], 5) == 2.45479


def test_percentage_split_matches_the_cli(cli, tmp_path):
    assert cli("train", "--split", "80/10/10", "--split-seed", 5).code == 0
    shown = json.loads(cli("eval", "--json").out)
    parts = bigram.split(names(), "80/10/10", split_seed=5)
    model = bigram.train(parts["train"])
    for split in ("dev", "test"):
        report = model.evaluate(parts[split])
        assert (report.items, report.tokens) == (shown[split]["items"], shown[split]["tokens"])
        assert report.nll == pytest.approx(shown[split]["nll"], rel=1e-12)


def test_logprob_is_the_add_k_sum_of_a_dictionary_count(tmp_path):
    words = names()[:300]
    for k in (1.0, 0.5):
        model = bigram.train(words, smoothing=k)
        for item in ("emma", "ava", "zoe", words[17]):
            expected = add_k_logprob(words, item, k)
            # float32 probabilities at the top order, as the lecture's P
            assert model.logprob(item) == pytest.approx(expected, rel=1e-6)
            assert sum(lp for _, lp in model.logprobs(item)) == pytest.approx(expected, rel=1e-6)
        report = model.evaluate(["emma", "ava"])
        expected = add_k_logprob(words, "emma", k) + add_k_logprob(words, "ava", k)
        assert report.tokens == 9 and report.items == 2 and report.oov == 0
        assert report.nll == pytest.approx(-expected / 9, rel=1e-6)
        assert report.bits_per_token == pytest.approx(report.nll / math.log(2))
        assert report.perplexity == pytest.approx(math.exp(report.nll))


def test_logprobs_are_the_cli_scores(cli, everything):
    assert cli("train", "--test-size", "0").code == 0
    shown = json.loads(cli("score", "--json", "andrejq", "emma").out)
    for item in shown:
        assert everything.logprobs(item["item"]) == [(g["ngram"], g["log_prob"])
                                                     for g in item["ngrams"]]
        assert everything.logprob(item["item"]) == item["log_likelihood"]
    lines = [line.logprob for line in everything.score_lines(["andrejq\n", "emma"])]
    assert lines == pytest.approx([item["log_likelihood"] for item in shown], rel=1e-12)


def test_items_train_as_the_same_lines_in_a_file(tmp_path):
    words = ["emma", "olivia", " ava ", "isabella", "sophia", "mia"]
    path = tmp_path / "w.txt"
    path.write_text("\n".join(words) + "\n")
    from_items, from_file = bigram.train(words, order=3), bigram.train(path, order=3)
    assert from_items.vocabulary == from_file.vocabulary == tuple(".abehilmopsv")
    assert from_items.reports["train"] == from_file.reports["train"]
    assert from_items.evaluate(path).nll == from_file.evaluate(words).nll
    assert from_items.evaluate(str(path)).name == str(path)
    assert bigram.train([path, path]).reports["train"].items == 12


@pytest.mark.parametrize("items, message", [
    (["emma", "li\nam"], "item 1 of <items> ('li\\nam') holds a line break; an item is one line"),
    (["emma", "  "], "item 1 of <items> is blank; an item is one non-blank line"),
    ([], "<items> holds no items (the list is empty)"),
    (["emma", 3], "items must be strings (or the data a path), not int"),
])
def test_items_that_are_not_one_line_each_are_refused(items, message):
    with pytest.raises(bigram.InputError) as error:
        bigram.train(items)
    assert str(error.value) == message


def test_neural_model_is_the_cli_model(cli, tmp_path):
    words = names()[:500]
    (tmp_path / "w.txt").write_text("\n".join(words) + "\n")
    assert cli("train", "w.txt", "--model", "neural", "--steps", 5, "--test-size", 0).code == 0
    seen = []
    model = bigram.train(words, model="neural", steps=5,
                         progress=lambda step, loss: seen.append((step, loss)))
    assert [step for step, _ in seen] == list(range(6))
    assert model.settings == {"steps": 5, "lr": 50.0, "reg": 0.01, "seed": LECTURE_SEED}
    assert model.sample(30, seed=1) == cli("sample", "--seed", 1, "-n", 30).out.splitlines()
    shown = json.loads(cli("eval", "--json").out)
    assert model.reports["train"].nll == pytest.approx(shown["train"]["nll"], rel=1e-12)


def test_saved_and_exported_files_are_the_cli_files(cli, tmp_path, everything):
    assert cli("train", "--test-size", "0").code == 0
    assert cli("export", "-o", "cli.arpa").code == 0
    written = everything.export_arpa(tmp_path / "api.arpa")
    text = (tmp_path / "cli.arpa").read_text()
    assert (tmp_path / "api.arpa").read_text() == text
    header = [line.split()[1].split("=") for line in text.splitlines()
              if line.startswith("ngram ")]
    assert written == {int(order): int(n) for order, n in header}
    assert everything.save(tmp_path / "api.npz") is False
    again = bigram.load(tmp_path / "api.npz")
    assert again.sample(20, seed=4) == cli("sample", "--seed", 4, "-n", 20).out.splitlines()
    assert again.reports["train"].nll == everything.reports["train"].nll
    info = json.loads(cli("info", "--json").out)
    for key in ("kind", "order", "unit", "vocabulary", "hyperparameters", "data"):
        assert again.info()[key] == info[key]
    arpa = bigram.load(tmp_path / "api.arpa")
    assert (arpa.kind, arpa.order) == ("arpa", 2)
    assert arpa.vocabulary == everything.vocabulary[:1] + ("<unk>",) + everything.vocabulary[1:]
    assert arpa.logprob("emma") == pytest.approx(everything.logprob("emma"), rel=1e-5)


def test_errors_are_the_cli_errors(cli, tmp_path, everything):
    assert cli("train", "--test-size", "0").code == 0
    (tmp_path / "notes.txt").write_text("keep me\n")
    cases = [
        (("train", "--order", "1"), bigram.OptionError, lambda: bigram.train(order=1)),
        (("train", "--smoothing", "-1"), bigram.OptionError,
         lambda: bigram.train(smoothing=-1.0)),
        (("train", "--unit", "byte"), Exception, lambda: bigram.train(unit="byte")),
        (("sample", "--temperature", "0"), bigram.OptionError,
         lambda: everything.sample(temperature=0.0)),
        (("sample", "--prefix", "Zed"), bigram.OptionError,
         lambda: everything.sample(prefix="Zed")),
        (("sample", "-n", "-2"), bigram.OptionError, lambda: everything.sample(-2)),
        (("sample", "-m", "missing.npz"), bigram.ModelFileError,
         lambda: bigram.load(tmp_path / "missing.npz")),
        (("sample", "-m", "notes.txt"), bigram.ModelFileError,
         lambda: bigram.load(tmp_path / "notes.txt")),
        (("eval", "missing.txt"), bigram.InputError,
         lambda: everything.evaluate(str(tmp_path / "missing.txt"))),
        (("score", "--oov", "error", "zoë"), bigram.InputError,
         lambda: everything.logprob("zoë", oov="error")),
        (("export", "-o", "notes.txt"), bigram.OptionError,
         lambda: everything.export_arpa(tmp_path / "notes.txt")),
    ]
    for arguments, kind, call in cases:
        shown = error_line(cli(*arguments))
        if kind is Exception:   # typer checks the choice before bigram sees it
            with pytest.raises(bigram.OptionError, match="byte"):
                call()
            continue
        with pytest.raises(kind) as error:
            call()
        # The same message; the API's names the argument where the CLI's names the flag.
        assert error.value.cli_message.replace(str(tmp_path) + "/", "") == shown
        assert str(error.value) == python_wording(error.value.cli_message)
    assert (tmp_path / "notes.txt").read_text() == "keep me\n"


def test_api_errors_name_arguments_and_cli_errors_name_flags(cli, everything):
    with pytest.raises(bigram.OptionError) as error:
        everything.sample(temperature=0.0)
    assert str(error.value) == "temperature must be a positive number, not 0.0"
    assert error_line(cli("sample", "--temperature", "0")) == \
        "--temperature must be a positive number, not 0.0"
    with pytest.raises(bigram.OptionError) as error:
        everything.sample(n=-2)
    assert str(error.value) == "n must be 0 or more, not -2"
    with pytest.raises(bigram.OptionError) as error:
        bigram.train(["ab"], model="neural", method="kneser-ney", prune=[0, 1])
    assert "--" not in str(error.value) and "method='modified-kneser-ney'" in str(error.value)


def test_python_wording_of_flags():
    assert python_wording("--max-len must be at least 1, not 0") == \
        "max_len must be at least 1, not 0"
    assert python_wording("use --model counts (or --max-vocab to keep fewer)") == \
        "use model='counts' (or max_vocab to keep fewer)"
    assert python_wording("or pass --force to overwrite it") == "or pass force=True to overwrite it"
    assert python_wording("--split 80/10/10 or --split hash:80/10/10") == \
        "split='80/10/10' or split='hash:80/10/10'"
    assert python_wording("--threads goes with --file") == "--threads goes with --file"
    assert python_wording("--smoothing-method kneser-ney, --smoothing 0.5") == \
        "method='kneser-ney', smoothing 0.5"


def test_help_lists_the_api_and_import_stays_light():
    import pydoc

    text = pydoc.render_doc(bigram, renderer=pydoc.plaintext)
    for name in ("train(", "load(", "split(", "class Model", "logprob", "evaluate",
                 "sample", "export_arpa", "class Report", "BigramError"):
        assert name in text, name
    assert set(bigram.__all__) <= set(dir(bigram))
    code = ("import sys, bigram, bigram.cli.app; "
            "print(sorted(m for m in sys.modules if m in ('numpy', 'bigram.api')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert run.stdout.strip() == "[]"



def test_the_cli_goes_through_the_api(cli, monkeypatch):
    from bigram import api

    calls = []

    def spy(owner, name):
        original = getattr(owner, name)

        def recorded(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)
        monkeypatch.setattr(owner, name, recorded)

    for name in ("train", "load"):
        spy(api, name)
    for name in ("save", "sample_batches", "evaluate", "score_item", "info", "export_arpa"):
        spy(api.Model, name)
    commands = [("train", "--test-size", "0"), ("sample", "-n", "2", "--seed", "1"),
                ("eval", str(NAMES)), ("score", "emma"), ("info", "--json"),
                ("export", "-o", "m.arpa")]
    for command in commands:
        assert cli(*command).code == 0
    assert calls == ["train", "save", "load", "sample_batches", "load", "evaluate", "load",
                     "score_item", "load", "info", "load", "export_arpa"]
