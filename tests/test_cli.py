"""Every command through the CLI: outputs, files, and one-line errors with exit codes."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import NAMES, lecture_counts, names


@pytest.fixture
def trained(cli):
    """A counts model on all of names.txt in the test's folder."""
    assert cli("train", "--test-size", "0").code == 0
    return cli


def test_train_prints_summary_and_writes_model(cli, tmp_path):
    result = cli("train")
    assert result.code == 0
    assert (tmp_path / "bigram.npz").exists()
    for expected in ["31,033", "1,000", "220,980", "7,166", "2.45479", "2.44967",
                     "vocabulary: 27 tokens", "smoothing: add-k, k 1"]:
        assert expected in result.out
    assert "wrote bigram.npz" in result.err
    again = cli("train")
    assert "replaced bigram.npz" in again.err
    assert not list(tmp_path.glob(".bigram.npz.*"))  # no temporary file left behind


def test_train_output_option_and_environment(cli, tmp_path, monkeypatch):
    assert cli("train", "-o", "custom.npz").code == 0
    assert (tmp_path / "custom.npz").exists()
    monkeypatch.setenv("BIGRAM_MODEL", str(tmp_path / "env.npz"))
    assert cli("train").code == 0
    assert (tmp_path / "env.npz").exists()
    assert cli("info").code == 0


def dense_bigrams(index):
    """The V x V count matrix of an order-2 index (small vocabularies, for comparisons)."""
    matrix = np.zeros((index.size, index.size), dtype=np.int64)
    tokens = index.tokens(2)
    matrix[tokens[:, 0], tokens[:, 1]] = index.level(2).count
    return matrix


def test_train_several_files_glob_and_stdin(cli, tmp_path):
    (tmp_path / "a.txt").write_text("emma\nolivia\n")
    (tmp_path / "b.txt").write_text("ava\n")
    cli("train", "a.txt", "b.txt", "--test-size", "0", "-o", "two.npz")
    cli("train", "*.txt", "--test-size", "0", "-o", "glob.npz")
    cli("train", "-", "--test-size", "0", "-o", "stdin.npz", stdin="emma\nolivia\nava\n")
    from bigram.formats.modelfile import load

    expected, _ = lecture_counts(["emma", "olivia", "ava"])
    for name in ["two.npz", "glob.npz", "stdin.npz"]:
        np.testing.assert_array_equal(dense_bigrams(load(tmp_path / name).data_counts["train"]),
                                      expected)


def test_stdin_with_a_split_is_read_twice_safely(cli, tmp_path):
    words = [f"name{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(200)]
    result = cli("train", "-", stdin="\n".join(words) + "\n")
    assert result.code == 0
    report = json.loads(cli("eval", "--json").out)
    assert report["train"]["items"] == 180 and report["test"]["items"] == 20


def test_sample_prints_only_names_on_stdout(trained):
    result = trained("sample", "-n", "20", "--seed", "7")
    lines = result.out.splitlines()
    assert len(lines) == 20 and all(line.isalpha() and line.islower() for line in lines)
    assert result.err == ""
    assert trained("sample", "-n", "20", "--seed", "7").out == result.out


def test_sample_without_seed_reports_one_that_reproduces(trained):
    first = trained("sample", "-n", "8")
    seed = int(first.err.split("seed:")[1].split()[0])
    assert trained("sample", "-n", "8", "--seed", seed).out == first.out


def test_sample_prefix_novel_json_and_temperature(trained):
    prefixed = trained("sample", "-n", "30", "--seed", "3", "--prefix", "zo").out.splitlines()
    assert len(prefixed) == 30 and all(name.startswith("zo") for name in prefixed)
    lines = trained("sample", "-n", "50", "--seed", "3", "--novel", "--json").out.splitlines()
    novel = [json.loads(line) for line in lines]  # JSON Lines: one JSON string per line
    assert len(novel) == 50 and not set(novel) & set(names())
    assert novel == trained("sample", "-n", "50", "--seed", "3", "--novel").out.splitlines()
    # Near-zero temperature is greedy decoding: always the most likely next character.
    N, chars = lecture_counts(names())
    P = (N + 1) / (N + 1).sum(1, keepdims=True)
    state, greedy = 0, ""
    while True:
        state = int(P[state].argmax())
        if state == 0 or len(greedy) > 20:
            break
        greedy += chars[state - 1]
    cold = trained("sample", "-n", "3", "--seed", "1", "--temperature", "0.001").out
    assert cold.splitlines() == [greedy] * 3


def test_sample_zero_names_and_max_len(trained):
    assert trained("sample", "-n", "0", "--seed", "1").out == ""
    result = trained("sample", "-n", "200", "--seed", "1", "--max-len", "3")
    assert result.code == 0
    assert all(len(name) <= 3 for name in result.out.splitlines())
    assert "reached --max-len 3 and were cut short" in result.err


def test_eval_reports_each_split_and_files(cli, tmp_path):
    cli("train")
    table = cli("eval").out
    assert "train" in table and "test" in table and "2.44967" in table
    report = json.loads(cli("eval", "--json").out)
    assert set(report) == {"train", "test"}
    test = report["test"]
    assert test["bits_per_char"] == pytest.approx(test["nll"] / np.log(2))
    assert test["perplexity"] == pytest.approx(np.exp(test["nll"]))
    (tmp_path / "more.txt").write_text("anna\nbob\n")
    by_file = json.loads(cli("eval", "more.txt", "--json").out)
    assert list(by_file) == ["more.txt"] and by_file["more.txt"]["tokens"] == 9


def test_eval_reports_out_of_vocabulary_characters(cli, tmp_path):
    cli("train")
    (tmp_path / "accents.txt").write_text("zoé\nnoël\nanna\n")
    result = cli("eval", "accents.txt", "--json")
    report = json.loads(result.out)["accents.txt"]
    assert report["oov"] == 2 and report["oov_chars"] == "éë"  # code-point order
    # Skipped: the bigrams into and out of each unknown character (4) of the 14.
    assert report["tokens"] == 14 - 4
    strict = cli("eval", "accents.txt", "--oov", "error")
    assert strict.code == 1
    assert strict.err.startswith("error: accents.txt has 2 character(s) outside the model's "
                                 "vocabulary (é ë)")


def test_eval_infinite_loss_with_zero_smoothing(cli, tmp_path):
    cli("train", "--smoothing", "0", "--test-size", "0")
    (tmp_path / "odd.txt").write_text("qqq\n")
    report = json.loads(cli("eval", "odd.txt", "--json").out)["odd.txt"]
    assert report["nll"] == "inf" and report["perplexity"] == "inf"
    assert "inf" in cli("eval", "odd.txt").out


def test_score_walks_through_a_name(trained):
    result = trained("score", "andrejq")
    N, chars = lecture_counts(names())
    P = (N + 1) / (N + 1).sum(1, keepdims=True)
    tokens = [0] + [chars.index(c) + 1 for c in "andrejq"] + [0]
    logs = [np.log(P[a, b]) for a, b in zip(tokens, tokens[1:])]
    assert f"{P[0, 1]:.4f}" in result.out and ".a" in result.out and "q." in result.out
    assert f"log-likelihood {sum(logs):.4f}" in result.out
    assert f"nll {-sum(logs) / 8:.4f} over 8 predicted tokens" in result.out
    data = json.loads(trained("score", "andrejq", "emma", "--json").out)
    assert [d["item"] for d in data] == ["andrejq", "emma"]
    assert data[0]["log_likelihood"] == pytest.approx(sum(logs), rel=1e-6)
    assert [b["ngram"] for b in data[1]["ngrams"]] == [".e", "em", "mm", "ma", "a."]


def test_info_describes_the_model(trained):
    result = trained("info")
    digest = hashlib.sha256(NAMES.read_bytes()).hexdigest()
    assert "counts (order 2)" in result.out and "27 tokens" in result.out
    meta = json.loads(trained("info", "--json").out)
    assert meta["data"]["sha256"] == digest
    assert meta["vocabulary"] == list("abcdefghijklmnopqrstuvwxyz")
    assert meta["hyperparameters"] == {"smoothing": 1.0, "smoothing_method": "add-k"}
    assert meta["data"]["items"] == {"train": 32033}


def test_python_dash_m_is_the_same_program(tmp_path):
    version = subprocess.run([sys.executable, "-m", "bigram", "--version"], capture_output=True,
                             text=True, cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip().startswith("bigram ")


@pytest.mark.parametrize("args, message, code", [
    (["sample"], "error: no model at bigram.npz; run `bigram train` first", 1),
    (["eval", "-m", "missing.npz"], "error: no model at missing.npz", 1),
    (["train", "missing.txt"], "error: no such file: missing.txt", 1),
    (["train", "nothing*.txt"], "error: no files match nothing*.txt", 1),
    (["train", "--smoothing", "-1"], "error: --smoothing must be a finite number >= 0", 2),
    (["train", "--model", "neural", "--steps", "0"], "error: --steps must be at least 1", 2),
    (["train", "--test-size", "-3"], "error: --test-size must be 0 or more", 2),
    (["train", "--model", "bogus"], "error: Invalid value for '--model'", 2),
    (["sample", "-n", "abc"], "error: Invalid value for '--count'", 2),
    (["frobnicate"], "error: No such command 'frobnicate'", 2),
])
def test_user_mistakes_are_one_line_errors(cli, args, message, code):
    result = cli(*args)
    assert result.code == code
    assert result.err.startswith(message)
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert result.out == ""


def test_empty_training_data_is_an_error(cli, tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.txt").write_text("\n  \n\t\n")
    for name in ["empty.txt", "blank.txt"]:
        result = cli("train", name)
        assert result.code == 1
        assert result.err == f"error: {name} holds no items (it is empty or only has blank lines)\n"


def test_debug_shows_the_traceback(cli):
    with pytest.raises(Exception, match="no model at"):
        cli("--debug", "sample")


def test_merge_equals_training_on_the_concatenation(cli, tmp_path):
    words = names()
    shards = [words[:10000], words[10000:25000] + ["zoë", "ñandú"], words[25000:]]
    for k, shard in enumerate(shards):
        (tmp_path / f"shard{k}.txt").write_text("\n".join(shard) + "\n")
        assert cli("train", f"shard{k}.txt", "--test-size", "0", "-o", f"s{k}.npz").code == 0
    (tmp_path / "all.txt").write_text("\n".join(w for s in shards for w in s) + "\n")
    assert cli("train", "all.txt", "--test-size", "0", "-o", "whole.npz").code == 0
    result = cli("merge", "s0.npz", "s1.npz", "s2.npz", "-o", "merged.npz")
    assert result.code == 0 and "wrote merged.npz: 3 models, 30 tokens" in result.err
    from bigram.formats.modelfile import load

    whole, merged = load(tmp_path / "whole.npz"), load(tmp_path / "merged.npz")
    assert merged.vocabulary == whole.vocabulary
    np.testing.assert_array_equal(dense_bigrams(merged.model.counts),
                                  dense_bigrams(whole.model.counts))
    states = np.arange(whole.model.n_states())
    np.testing.assert_array_equal(merged.model.next_token_probabilities(states),
                                  whole.model.next_token_probabilities(states))
    assert merged.training_items() == whole.training_items()
    assert json.loads(cli("eval", "-m", "merged.npz", "--json").out) == \
        json.loads(cli("eval", "-m", "whole.npz", "--json").out)


def test_merge_refuses_neural_models_and_mixed_smoothing(cli):
    cli("train", "--test-size", "0", "-o", "a.npz")
    cli("train", "--test-size", "0", "--smoothing", "0.5", "-o", "b.npz")
    cli("train", "--model", "neural", "--steps", "2", "-o", "n.npz")
    mixed = cli("merge", "a.npz", "b.npz", "-o", "m.npz")
    assert mixed.code == 2 and mixed.err.startswith("error: the models use different smoothing")
    assert cli("merge", "a.npz", "b.npz", "-o", "m.npz", "--smoothing", "1").code == 0
    neural = cli("merge", "a.npz", "n.npz", "-o", "m.npz")
    assert neural.code == 1 and "only count models can be merged" in neural.err
