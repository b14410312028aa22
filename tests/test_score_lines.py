"""Scoring text line by line (`bigram score --file`, `scoring.score_lines`).

Per-line totals are checked against KenLM `query`'s "Total:" of every held-out sentence of
the fixture models, and against a plain-Python walk of the back-off rule (or of the model's
next-token distributions, for neural models) one token at a time on small data.
"""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bigram.errors import InputError
from bigram.formats.modelfile import load
from bigram.models.evaluation import evaluate_text_sources
from bigram.models.language_models import CountModel, NeuralModel
from bigram.models.scoring import LN10, fixed, score_lines
from bigram.ngrams.training_data import load_training_data
from bigram.settings import Reading, TrainingSettings
from bigram.training.train import train_model

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "kenlm"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
NAMES = (ROOT / "data" / "names.txt").read_text().split()


def fixture_line(line, unit):
    """A held-out sentence as text: a character model's tokens joined back into a word."""
    if unit == "char":
        return "".join(" " if t == "<space>" else t for t in line.split())
    return line


@pytest.mark.parametrize("entry", [m for m in MANIFEST["models"] if m["query"]],
                         ids=lambda m: m["name"])
def test_each_line_is_what_kenlm_query_prints_for_it(entry):
    model = load(FIXTURES / entry["arpa"]).model
    lines = (FIXTURES / f"{entry['corpus']}.heldout.txt").read_text().split("\n")[:-1]
    results = list(score_lines(model, [fixture_line(s, model.unit) for s in lines]))
    sentences = entry["query"]["sentences"]
    assert len(results) == len(sentences) == len(lines)
    for result, sentence in zip(results, sentences):
        assert result.log10prob == pytest.approx(sentence["total"], abs=1e-4)
        assert result.oov == sentence["oov"]
        assert result.tokens == len(sentence["words"])
        assert result.logprob == pytest.approx(result.log10prob * LN10)
        assert result.perplexity == pytest.approx(10 ** (-result.log10prob / result.tokens))


# ---------------------------------------------------------------------- plain-Python reference


def reference_backoff(model, items):
    """ln P of each item by the back-off rule over dicts, one token at a time."""
    backoff = model.backoff
    index, order = backoff.index, backoff.order
    listed, weights = {}, {}
    for k in range(1, order + 1):
        for window, lp, bo in zip(map(tuple, index.tokens(k).tolist()),
                                  backoff.logprob[k].tolist(), backoff.logbackoff[k].tolist()):
            if not math.isnan(lp):
                listed[window] = lp
            weights[window] = bo

    def score(history, token):
        if (*history, token) in listed:
            return listed[(*history, token)]
        return weights.get(history, 0.0) + score(history[1:], token)

    pads = order - 1 if model.padding == "makemore" else 1
    totals = []
    for item in items:
        tokens = [int(t) for t in model.vocabulary.encode_text(item)] + [0]
        history, total = (0,) * pads, 0.0
        for token in tokens:
            total += score(history[-(order - 1):] if order > 1 else (), token)
            history += (token,)
        totals.append((total, len(tokens)))
    return totals


def reference_states(model, items):
    """ln P of each item from next_token_probabilities, walking the state token by token."""
    totals = []
    for item in items:
        tokens = [int(t) for t in model.vocabulary.encode_text(item)] + [0]
        state, total = model.start_state(), 0.0
        for token in tokens:
            total += math.log(float(model.next_token_probabilities([state])[0, token]))
            state = int(model.advance([state], [token])[0])
        totals.append((total, len(tokens)))
    return totals


ITEMS = NAMES[:300] + ["", "x", "mary ann", "qqqqzz", "anna"]
WORD_ITEMS = ["the cat sat on the mat", "the dog sat", "a cat ran on the mat", "",
              "the mat sat on a dog", "dog", "the cat ran"] * 5


def char_model(order, method):
    data = load_training_data([str(ROOT / "data" / "names.txt")], Reading(test_size=0), order=order)
    return CountModel(data.vocabulary, data.counts["train"], None, method)


@pytest.mark.parametrize("order, method", [(2, "add-k"), (3, "witten-bell"),
                                           (4, "kneser-ney"), (6, "kneser-ney")])
def test_count_models_against_the_back_off_rule_in_plain_python(order, method):
    model = char_model(order, method)
    results = list(score_lines(model, ITEMS))
    items = [i for i in ITEMS if set(i) <= set(model.vocabulary.tokens)]
    expected = dict(zip(items, reference_backoff(model, items)))
    for result in results:
        if result.item in expected:
            assert result.logprob == pytest.approx(expected[result.item][0], abs=1e-9)
            assert result.tokens == expected[result.item][1] and result.oov == 0


def test_modified_kneser_ney_words_against_the_back_off_rule(tmp_path):
    (tmp_path / "words.txt").write_text("\n".join(WORD_ITEMS[::2]) + "\n")
    model = train_model([str(tmp_path / "words.txt")], TrainingSettings.of(method="modified-kneser-ney", order=3, unit="word", test_size=0)).saved.model
    lines = WORD_ITEMS + ["the zebra sat", "  the   cat\tsat  "]
    results = list(score_lines(model, lines))
    expected = reference_backoff(model, lines)
    for result, (total, tokens) in zip(results, expected):
        assert result.logprob == pytest.approx(total, abs=1e-9)
        assert result.tokens == tokens
    assert [r.oov for r in results[-2:]] == [1, 0]


def test_neural_models_against_their_next_token_distributions():
    data = load_training_data([str(ROOT / "data" / "names.txt")], Reading(test_size=0), order=3)
    model = NeuralModel.fit(data.vocabulary, data.counts["train"], steps=3)
    items = NAMES[:200] + ["", "zzz"]
    results = list(score_lines(model, items))
    for result, (total, tokens) in zip(results, reference_states(model, items)):
        assert result.logprob == pytest.approx(total, rel=1e-5)
        assert result.tokens == tokens


def test_unknown_characters_skip_the_windows_they_touch_as_eval_does(tmp_path):
    model = char_model(3, "kneser-ney")
    lines = ["emma", "ma4ry", "", "4", "zoë ann", "olivia"]
    (tmp_path / "t.txt").write_text("\n".join(lines) + "\n")
    results = list(score_lines(model, lines))
    assert [r.oov for r in results] == [0, 1, 0, 1, 2, 0]   # ë and the space
    report = evaluate_text_sources(model, str(tmp_path / "t.txt"))
    # eval skips blank lines; the empty line's one prediction is the only difference.
    blank = results[2]
    assert sum(r.logprob for r in results) - blank.logprob == pytest.approx(
        report.log_likelihood, abs=1e-9)
    assert sum(r.tokens for r in results) - blank.tokens == report.tokens
    assert results[3].tokens == 0 and math.isnan(results[3].perplexity)
    with pytest.raises(InputError, match="line 2 has characters outside"):
        list(score_lines(model, lines, oov="error"))


@pytest.mark.parametrize("decimals", [0, 4, 6])
def test_fixed_point_text_matches_python_formatting(decimals):
    values = np.array([-87.50966, 0.0, -1e-9, 1.5, 123456.789123, -3.25, 9.9999999, 1e20,
                       np.nan, np.inf, -np.inf, -10.337409, -9999.99999999, 0.000049, -0.000051,
                       -12345678.5, 42.0])
    rng = np.random.default_rng(decimals)
    values = np.concatenate([values, -rng.exponential(10, 1000), rng.uniform(0, 1e6, 1000)])
    if decimals == 0:
        values = np.abs(np.round(values[np.isfinite(values)] % 1e6))
    matrix, lengths = fixed(values, decimals)
    got = [bytes(row[len(row) - n:]).decode() for row, n in zip(matrix, lengths.tolist())]
    # Python prints "-0.000000" for a negative number that rounds to zero; we print 0.
    expected = [f"{v:.{decimals}f}" if np.isfinite(v) else str(v) for v in values]
    assert got == [e[1:] if e.startswith("-") and float(e) == 0 else e for e in expected]
    # Before each number, NUL bytes only (what the output leaves out).
    assert all(not row[:len(row) - n].any() for row, n in zip(matrix, lengths.tolist()))


# ---------------------------------------------------------------------- the command line


@pytest.fixture
def trained(cli):
    assert cli("train", str(ROOT / "data" / "names.txt"), "--order", "3", "--test-size", "0",
               "--smoothing-method", "kneser-ney").code == 0
    return load(Path("bigram.npz")).model


def test_file_gives_one_tab_separated_result_per_line_blank_ones_included(cli, trained,
                                                                          tmp_path):
    lines = ["emma", "", "  olivia\t", "zz9", "", "ava"]
    (tmp_path / "in.txt").write_bytes(("\n".join(lines[:3]) + "\r\n" + "\n".join(lines[3:]))
                                      .encode())   # a CRLF line, and no final line feed
    result = cli("score", "--file", "in.txt")
    assert result.code == 0, result.err
    rows = [row.split("\t", 5) for row in result.out.split("\n")[:-1]]
    assert [row[5] for row in rows] == lines
    expected = list(score_lines(trained, lines))
    for row, want in zip(rows, expected):
        assert float(row[0]) == pytest.approx(want.log10prob, abs=1e-6)
        assert float(row[1]) == pytest.approx(want.logprob, abs=1e-6)
        assert (int(row[2]), int(row[3])) == (want.tokens, want.oov)
        assert float(row[4]) == pytest.approx(want.perplexity, rel=1e-4)
    assert rows[1][:4] == rows[4][:4] and rows[1][2] == "1"   # an empty item: P(end | start)


def test_json_lines_and_stdin_and_globs(cli, trained, tmp_path):
    (tmp_path / "a.txt").write_text("emma\nzoë\n")
    (tmp_path / "b.txt").write_text("\nava\n")
    plain = cli("score", "--file", "*.txt").out.splitlines()
    objects = [json.loads(s) for s in cli("score", "--file", "a.txt", "-", "--json",
                                          stdin="\nava\n").out.splitlines()]
    assert [o["item"] for o in objects] == ["emma", "zoë", "", "ava"]
    assert set(objects[0]) == {"item", "log10prob", "logprob", "tokens", "oov", "perplexity"}
    for row, obj in zip(plain, objects):
        fields = row.split("\t")
        assert float(fields[0]) == pytest.approx(obj["log10prob"], abs=1e-6)
        assert int(fields[3]) == obj["oov"]
    assert objects[1]["oov"] == 1


def test_bad_input_is_one_line_and_output_files_are_whole_or_absent(cli, trained, tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"emma\n" * 3 + b"ol\xffvia\n")
    (tmp_path / "out.tsv").write_text("-1.0\t-2.3\t1\t0\t10.0\tolder results\n")
    result = cli("score", "--file", "bad.txt", "-o", "out.tsv")
    assert result.code != 0
    assert result.err.startswith("error: bad.txt: line 4 is not valid UTF-8")
    assert len(result.err.splitlines()) == 1
    assert (tmp_path / "out.tsv").read_text().endswith("older results\n")
    replaced = cli("score", "--file", "bad.txt", "--encoding-errors", "replace", "-o", "out.tsv")
    assert replaced.code == 0 and replaced.out == ""
    rows = (tmp_path / "out.tsv").read_text().splitlines()
    assert len(rows) == 4 and rows[3].endswith("\tol\ufffdvia") and rows[3].split("\t")[3] == "1"
    (tmp_path / "notes.txt").write_text("my notes\n")
    refused = cli("score", "--file", "bad.txt", "-o", "notes.txt")
    assert refused.code != 0 and "not overwriting notes.txt" in refused.err
    assert cli("score", "--file", "bad.txt", "-o", "bad.txt", "--force").code != 0
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"
    (tmp_path / "long.txt").write_bytes(b"emma\n" + b"a" * (2 << 20) + b"\n")
    long = cli("score", "--file", "long.txt")
    assert long.code != 0 and "line 2 is longer than" in long.err
    assert cli("score", "--file").code != 0
    oov = cli("score", "--file", "bad.txt", "--oov", "error", "--encoding-errors", "replace")
    assert oov.code != 0 and "bad.txt: line 4 has characters outside" in oov.err


def test_the_readme_filter_keeps_lines_under_a_perplexity(cli, trained, tmp_path):
    awk, cut = shutil.which("awk"), shutil.which("cut")
    if not (awk and cut):
        pytest.skip("needs awk and cut")
    lines = ["emma", "xqzvw", "olivia", "", "zzzzzzz", "ava"]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    scores = subprocess.run([sys.executable, "-m", "bigram", "score", "--file", "in.txt"],
                            capture_output=True, check=True, cwd=tmp_path).stdout
    kept = subprocess.run(f"{awk} -F'\\t' '$5 < 20' | {cut} -f6-", shell=True, input=scores,
                          capture_output=True, check=True).stdout.decode().splitlines()
    assert kept == [s.item for s in score_lines(trained, lines) if s.perplexity < 20]
    assert "emma" in kept and "xqzvw" not in kept


PROBE = ("import sys\nfrom bigram.cli.app import main\n"
         "try:\n    main(sys.argv[1:])\nfinally:\n"
         "    peak = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
         "    sys.stderr.write(f'PEAK {peak[0]}\\n')\n")


def test_streaming_memory_stays_flat_and_a_closed_pipe_ends_quietly(tmp_path):
    subprocess.run([sys.executable, "-m", "bigram", "train", "--order", "4", "--test-size",
                    "0", "-o", str(tmp_path / "m.npz")], check=True, capture_output=True)
    text = (ROOT / "data" / "names.txt").read_bytes().rstrip(b"\n") + b"\n"
    # More blocks than are ever in flight at once (two per scoring thread), and five
    # times as many.
    (tmp_path / "small.txt").write_bytes(text * 12)  # 2.7 MB, three blocks
    (tmp_path / "big.txt").write_bytes(text * 60)    # 13.7 MB, 1.9 million lines
    peaks = {}
    for name in ("small", "big"):
        run = subprocess.run([sys.executable, "-c", PROBE, "score", "-m", str(tmp_path / "m.npz"),
                              "--file", str(tmp_path / f"{name}.txt"), "-o",
                              str(tmp_path / f"{name}.tsv")], capture_output=True,
                             check=False)
        assert run.returncode == 0, run.stderr
        peaks[name] = int(run.stderr.split(b"PEAK ")[1].split()[0]) // 1024
    rows = (tmp_path / "big.tsv").read_bytes().split(b"\n")
    assert len(rows) == 60 * text.count(b"\n") + 1
    assert rows[:1000] == (tmp_path / "small.tsv").read_bytes().split(b"\n")[:1000]
    assert peaks["big"] < peaks["small"] + 60, peaks   # all at once: 4.5 times the working set
    process = subprocess.Popen([sys.executable, "-m", "bigram", "score", "-m",
                                str(tmp_path / "m.npz"), "--file", str(tmp_path / "big.txt")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = [process.stdout.readline() for _ in range(3)]
    process.stdout.close()
    assert process.stderr.read() == b"" and process.wait(timeout=60) == 0
    assert all(line.count(b"\t") == 5 for line in first)
