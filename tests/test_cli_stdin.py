"""Text piped to a command that was given no FILE is read, as KenLM's lmplz and query read
stdin; never ignored. Each command runs in a child process with a real pipe on stdin."""

import json
import os
import pty

import pytest
from cli_child import bigram

CORPUS = "the cat sat\nthe dog sat\na cat ran\nthe dog ran home\n" * 5


@pytest.fixture
def word_model(tmp_path):
    (tmp_path / "corpus.txt").write_text(CORPUS)
    done = bigram("train", "corpus.txt", "--unit", "word", "--test-size", "0", "-o", "m.npz",
                  cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path


def test_train_reads_piped_text(tmp_path):
    done = bigram("train", "--unit", "word", "--test-size", "0", "--json", stdin=CORPUS,
                  cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    trained = json.loads(done.stdout)
    assert trained["data"]["sources"] == ["<stdin>"]
    assert trained["splits"]["train"]["items"] == 20
    from_file = tmp_path / "corpus.txt"
    from_file.write_text(CORPUS)
    again = json.loads(bigram("train", from_file, "--unit", "word", "--test-size", "0", "-o",
                              "f.npz", "--json", cwd=tmp_path).stdout)
    assert again["splits"] == trained["splits"]


def test_eval_reads_piped_text(word_model):
    text = "the cat ran\nthe dog sat home\n"
    piped = bigram("eval", "-m", "m.npz", "--json", stdin=text, cwd=word_model)
    assert piped.returncode == 0, piped.stderr
    (word_model / "t.txt").write_text(text)
    named = bigram("eval", "t.txt", "-m", "m.npz", "--json", cwd=word_model)
    [got], [expected] = json.loads(piped.stdout).values(), json.loads(named.stdout).values()
    assert got == expected and got["items"] == 2


def test_score_file_reads_piped_text(word_model):
    piped = bigram("score", "--file", "-m", "m.npz", stdin="the cat\n\nthe dog\n", cwd=word_model)
    assert piped.returncode == 0, piped.stderr
    named = bigram("score", "--file", "-", "-m", "m.npz", stdin="the cat\n\nthe dog\n",
                   cwd=word_model)
    assert piped.stdout == named.stdout and len(piped.stdout.splitlines()) == 3


def test_score_dash_scores_the_lines_of_stdin_as_items(word_model):
    piped = bigram("score", "-m", "m.npz", "-", "--json", stdin="the cat\nthe dog\n",
                   cwd=word_model)
    assert piped.returncode == 0, piped.stderr
    named = bigram("score", "-m", "m.npz", "the cat", "the dog", "--json", cwd=word_model)
    assert json.loads(piped.stdout) == json.loads(named.stdout)
    assert [s["item"] for s in json.loads(piped.stdout)] == ["the cat", "the dog"]
    mixed = bigram("score", "-m", "m.npz", "the cat", "-", stdin="x\n", cwd=word_model)
    assert mixed.returncode != 0 and "--file -" in mixed.stderr


def test_nothing_piped_keeps_the_defaults(word_model):
    """/dev/null and a terminal carry no text: eval shows the stored splits."""
    stored = bigram("eval", "-m", "m.npz", "--json", cwd=word_model)
    assert stored.returncode == 0 and list(json.loads(stored.stdout)) == ["train"]
    leader, follower = pty.openpty()
    try:
        terminal = bigram("eval", "-m", "m.npz", "--json", stdin=follower, cwd=word_model)
    finally:
        os.close(leader)
        os.close(follower)
    assert terminal.returncode == 0 and json.loads(terminal.stdout) == json.loads(stored.stdout)


def test_tune_reads_piped_text(tmp_path):
    options = ["--unit", "word", "--order", "2,3", "--smoothing-method", "add-k", "--json"]
    piped = bigram("tune", *options, "-o", "p.npz", stdin=CORPUS * 4, cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr
    (tmp_path / "corpus.txt").write_text(CORPUS * 4)
    named = bigram("tune", "corpus.txt", *options, "-o", "f.npz", cwd=tmp_path)
    assert json.loads(piped.stdout) == json.loads(named.stdout)
