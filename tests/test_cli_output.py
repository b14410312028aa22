"""What the commands print: plain and complete off a terminal, one meaning per label, one
number format, and JSON holding complete values in one shape per key."""

import gzip
import json
import os
import re
from pathlib import Path

import pytest
from cli_child import bigram

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kenlm"
MANIFEST = {m["name"]: m for m in json.loads((FIXTURES / "manifest.json").read_text())["models"]}
WORDS = FIXTURES / "words.train.txt"


def _plain(text):
    """No line with trailing spaces, no line of spaces only."""
    lines = text.splitlines()
    assert lines and all(line == line.rstrip() for line in lines), text
    return lines


@pytest.fixture
def word_model(tmp_path):
    done = bigram("train", WORDS, "--unit", "word", "--order", "3", "--smoothing-method",
                  "modified-kneser-ney", "--test-size", "0", "-o", "m.npz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path


# ---------------------------------------------------------------------- plain text in pipes


def test_eval_of_files_in_long_folders_names_each_in_full(word_model):
    names = []
    for folder in ("a-rather-long-folder-name-for-the-first-test-set/of/many/parts",
                   "a-rather-long-folder-name-for-the-first-test-set/of/many/other/parts"):
        (word_model / folder).mkdir(parents=True)
        (word_model / folder / "test.txt").write_text("sasega su\nkeku pilote\n")
        names.append(f"{folder}/test.txt")
    done = bigram("eval", "-m", "m.npz", *names, cwd=word_model)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in _plain(done.stdout)]
    assert [row[0] for row in rows if row[0] in names] == names


def test_export_to_stdout_writes_the_arpa_text_there(word_model):
    """`-o -` is stdout (as lmplz writes its ARPA text there by default): the same text as
    the file, no file named '-', and a pipe closed early ends quietly (the streamed export
    to stdout: test_memory_budget)."""
    bigram("export", "-m", "m.npz", "-o", "m.arpa", cwd=word_model)
    text = (word_model / "m.arpa").read_text(encoding="utf-8")
    done = bigram("export", "-m", "m.npz", "-o", "-", cwd=word_model)
    assert done.returncode == 0 and done.stdout == text
    assert "to stdout" in done.stderr and not (word_model / "-").exists()
    import subprocess
    import sys

    pipe = subprocess.run(f"{sys.executable} -m bigram export -m m.npz -o - | head -2",
                          shell=True, cwd=word_model, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
                          timeout=120, check=False)
    assert pipe.stdout == "\n".join(text.splitlines()[:2]) + "\n"
    assert "Traceback" not in pipe.stderr and "Error" not in pipe.stderr, pipe.stderr


def test_info_in_a_pipe_shows_the_whole_sha256(word_model):
    import hashlib

    done = bigram("info", "-m", "m.npz", cwd=word_model)
    lines = _plain(done.stdout)
    digest = hashlib.sha256(WORDS.read_bytes()).hexdigest()
    assert [line.split() for line in lines if line.split()[:1] == ["sha256"]] == [
        ["sha256", digest]]


def test_tune_prints_a_discounts_value_that_train_takes(tmp_path):
    done = bigram("tune", WORDS, "--unit", "word", "--order", "3", "--smoothing-method",
                  "modified-kneser-ney", "-o", "t.npz", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [line] = [line for line in _plain(done.stdout) if line.startswith("discounts")]
    value = line.split(": ", 1)[1]
    assert " " not in value
    again = bigram("train", WORDS, "--unit", "word", "--order", "3", "--smoothing-method",
                   "modified-kneser-ney", "--split", "80/10/10", "--discounts", value,
                   "-o", "again.npz", "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    tuned = json.loads(bigram("info", "-m", "t.npz", "--json", cwd=tmp_path).stdout)
    assert tuned["discounts_used"] == json.loads(again.stdout)["settings"]["discounts_used"]


def test_a_terminal_still_gets_the_drawn_table(word_model):
    import pty

    leader, follower = pty.openpty()
    try:
        done = bigram("eval", "-m", "m.npz", cwd=word_model, stdout=follower)
        os.close(follower)
        follower = None
        drawn = _read_all(leader)
    finally:
        os.close(leader)
        if follower is not None:
            os.close(follower)
    assert done.returncode == 0 and "─" in drawn and "perplexity" in drawn


def _read_all(fd):
    out = b""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:   # the terminal's other end is closed: all is read
            break
        if not chunk:
            break
        out += chunk
    return out.decode("utf-8", "replace")


# ---------------------------------------------------------------------- labels and numbers


def test_train_and_info_count_predicted_tokens_export_distinct_ngrams(word_model):
    trained = bigram("train", WORDS, "--unit", "word", "--order", "3", "--smoothing-method",
                     "modified-kneser-ney", "--test-size", "0", "-o", "m.npz", "--force",
                     cwd=word_model)
    lines = WORDS.read_text().splitlines()
    predicted = sum(len(line.split()) + 1 for line in lines if line.strip())
    assert re.search(rf"^  predicted tokens\s+{predicted:,}$", trained.stdout, re.MULTILINE)
    assert f"{len(lines):,} items, {predicted:,} predicted tokens" in bigram(
        "info", "-m", "m.npz", cwd=word_model).stdout
    exported = bigram("export", "-m", "m.npz", "-o", "m.arpa", cwd=word_model)
    header = re.findall(r"^ngram (\d)=(\d+)$", (word_model / "m.arpa").read_text(), re.MULTILINE)
    lmplz = gzip.decompress((FIXTURES / MANIFEST["words.o3"]["arpa"]).read_bytes()).decode()
    assert header == re.findall(r"^ngram (\d)=(\d+)$", lmplz, re.MULTILINE)   # lmplz's own counts
    listed = ", ".join(f"{int(n):,} distinct {k}-grams" for k, n in header)
    assert exported.stderr.strip() == f"wrote m.arpa: {listed}"


def test_info_of_modified_kneser_ney_shows_lmplz_discounts(word_model):
    shown = bigram("info", "-m", "m.npz", cwd=word_model).stdout
    assert "None" not in shown
    lmplz = MANIFEST["words.o3"]["statistics"]
    expected = "; ".join(f"{s['order']}: " + ", ".join(f"{d:.3g}" for d in s["discounts"])
                         for s in lmplz)
    assert f"smoothing          modified Kneser-Ney, discounts {expected} (estimated)" in shown
    used = json.loads(bigram("info", "-m", "m.npz", "--json", cwd=word_model).stdout)
    for record in lmplz:
        assert used["discounts_used"][str(record["order"])] == pytest.approx(
            record["discounts"], rel=1e-5)


def test_counts_have_thousands_separators(word_model):
    summary = bigram("train", WORDS, "--unit", "word", "--test-size", "0", "-o", "b.npz",
                     cwd=word_model).stdout
    types = len({w for line in WORDS.read_text().splitlines() for w in line.split()})
    assert types >= 200
    size = types + 1   # and the sentence boundary
    assert f"vocabulary: {size:,} tokens" in summary or size < 1000
    merged = bigram("merge", "m.npz", "b.npz", "-o", "x.npz", cwd=word_model)
    assert merged.returncode != 0   # (different orders) the format is checked below
    (word_model / "half.txt").write_text("".join(WORDS.read_text().splitlines(True)[:300]))
    (word_model / "rest.txt").write_text("".join(WORDS.read_text().splitlines(True)[300:]))
    for half in ("half", "rest"):
        assert bigram("train", f"{half}.txt", "--unit", "word", "--test-size", "0", "-o",
                      f"{half}.npz", cwd=word_model).returncode == 0
    merged = bigram("merge", "half.npz", "rest.npz", "-o", "x.npz", cwd=word_model)
    assert merged.returncode == 0, merged.stderr
    assert "bits/word" in merged.stdout and "bits/char" not in merged.stdout
    assert re.search(r"2 models, \d+ tokens$", merged.stderr.strip())


def test_merge_refuses_a_model_file_twice_and_warns_of_the_same_data(word_model):
    twice = bigram("merge", "m.npz", "./m.npz", "-o", "x.npz", cwd=word_model)
    assert twice.returncode != 0 and twice.stderr == (
        "error: m.npz is given twice: merging would count its training text twice; give "
        "each shard once\n")
    assert not (word_model / "x.npz").exists()
    (word_model / "copy.txt").write_bytes(WORDS.read_bytes())
    bigram("train", "copy.txt", "--unit", "word", "--order", "3", "--smoothing-method",
           "modified-kneser-ney", "--test-size", "0", "-o", "c.npz", cwd=word_model)
    same = bigram("merge", "m.npz", "c.npz", "-o", "x.npz", cwd=word_model)
    assert same.returncode == 0 and same.stderr.startswith(
        "warning: m.npz and c.npz were trained on the same data (the same sha256): the merged "
        "model counts that text twice\n")


def test_info_of_an_arpa_file_gives_its_time_not_the_reading_time(tmp_path):
    arpa = tmp_path / "lm.arpa.gz"
    arpa.write_bytes((FIXTURES / "words.o2.arpa.gz").read_bytes())
    os.utime(arpa, (1_000_000_000, 1_000_000_000))
    info = json.loads(bigram("info", "-m", arpa, "--json", cwd=tmp_path).stdout)
    assert "created" not in info and info["modified"] == "2001-09-09T01:46:40+00:00"
    assert "modified     2001-09-09T01:46:40+00:00" in bigram("info", "-m", arpa,
                                                              cwd=tmp_path).stdout


# ---------------------------------------------------------------------- JSON


def test_eval_json_lists_every_oov_word(word_model):
    unseen = [f"zz{i:03d}" for i in range(120)]
    (word_model / "t.txt").write_text("\n".join(f"sasega {w} su" for w in unseen) + "\n")
    [report] = json.loads(bigram("eval", "t.txt", "-m", "m.npz", "--json",
                                 cwd=word_model).stdout).values()
    assert report["oov_tokens"] == sorted(unseen) and report["oov"] == 120


def test_json_shapes_are_the_same_for_characters_and_words(word_model):
    (word_model / "names.txt").write_text("emma\nava\nzoë\n" * 10)
    assert bigram("train", "names.txt", "--test-size", "0", "-o", "c.npz",
                  cwd=word_model).returncode == 0
    (word_model / "t.txt").write_text("emmy\nxavi\n")
    chars = json.loads(bigram("info", "-m", "c.npz", "--json", cwd=word_model).stdout)
    words = json.loads(bigram("info", "-m", "m.npz", "--json", cwd=word_model).stdout)
    assert chars["vocabulary"] == sorted(set("emmavazoë"))
    assert isinstance(words["vocabulary"], list) and "sasega" in words["vocabulary"]
    [report] = json.loads(bigram("eval", "t.txt", "-m", "c.npz", "--json",
                                 cwd=word_model).stdout).values()
    assert report["oov_tokens"] == ["i", "x", "y"]
    [scored] = json.loads(bigram("score", "xavi", "-m", "c.npz", "--json",
                                 cwd=word_model).stdout)
    assert scored["oov_tokens"] == ["i", "x"]


def test_train_json_holds_what_train_prints(tmp_path):
    (tmp_path / "names.txt").write_text("".join(f"{n}\n" for n in ["emma", "olivia", "ava",
                                                                   "isabella", "sophia"] * 40))
    done = bigram("train", "names.txt", "--test-size", "50", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    trained = json.loads(done.stdout)
    assert (trained["model_file"], trained["kind"], trained["order"], trained["unit"]) == (
        "bigram.npz", "counts", 2, "char")
    assert trained["settings"] == {"smoothing": 1.0, "smoothing_method": "add-k"}
    stored = json.loads(bigram("eval", "--json", cwd=tmp_path).stdout)
    assert trained["splits"] == stored and set(stored) == {"train", "test"}
    assert stored["train"]["items"] == 150 and stored["test"]["items"] == 50
    assert trained["vocabulary_size"] == len(set("emmaoliviaavaisabellasophia")) + 1
