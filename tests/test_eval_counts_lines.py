"""`bigram eval FILE` counts what `bigram score --file` and KenLM's `query` count.

A blank line is an empty sentence (`<s> </s>`: one prediction) for sentence-padded models
(word models, ARPA files), so eval's perplexity including OOVs is query's, recorded in
tests/fixtures/kenlm by scripts/make_kenlm_fixtures.py (each held-out file ends with a
blank line), and equals the perplexity of the summed rows of `score --file`. Character
models of names (the lecture's padding) keep skipping blank lines, as training does.
"""

import json
import math
from pathlib import Path

import pytest

import bigram

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kenlm"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))


def _eval_json(cli, text, model):
    result = cli("eval", text, "-m", model, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)[str(text)]


def _score_rows(cli, text, model):
    result = cli("score", "--file", text, "-m", model, "--json")
    assert result.code == 0, result.err
    return [json.loads(line) for line in result.out.splitlines()]


@pytest.mark.parametrize("record", [m for m in MANIFEST["models"] if m["query"]],
                         ids=lambda r: r["name"])
def test_eval_of_an_arpa_file_equals_query(cli, record, tmp_path):
    lines = (FIXTURES / f"{record['corpus']}.heldout.txt").read_text("utf-8").split("\n")[:-1]
    assert "" in lines   # a blank line is there
    if bigram.load(FIXTURES / record["arpa"]).unit == "char":   # lmplz read them spaced out
        lines = ["".join(" " if t == "<space>" else t for t in line.split()) for line in lines]
    heldout = tmp_path / "heldout.txt"
    heldout.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    query = record["query"]
    report = _eval_json(cli, heldout, FIXTURES / record["arpa"])
    assert report["tokens"] == query["tokens"]
    assert report["items"] == len(query["sentences"])
    assert report["perplexity"] == pytest.approx(query["perplexity_including_oovs"], rel=1e-5)
    assert report["perplexity_excluding_oov"] == pytest.approx(
        query["perplexity_excluding_oovs"], rel=1e-5)


def test_eval_equals_the_rows_of_score_file_with_blank_lines(cli, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat\n\na dog ran\n" * 40 + "the dog sat on the cat\n",
                      encoding="utf-8")
    assert cli("train", corpus, "--unit", "word", "--order", "3", "--smoothing-method",
               "modified-kneser-ney", "--test-size", "0", "-o", "m.npz").code == 0
    text = tmp_path / "test.txt"
    text.write_text("\n\nthe cat ran\n   \n\na bird sat\n\n", encoding="utf-8")
    report = _eval_json(cli, text, "m.npz")
    rows = _score_rows(cli, text, "m.npz")
    assert len(rows) == 7 == report["items"]
    assert report["tokens"] == sum(r["tokens"] for r in rows)
    total = sum(r["logprob"] for r in rows)
    assert report["perplexity"] == pytest.approx(math.exp(-total / report["tokens"]), rel=1e-9)


def test_character_models_of_names_skip_blank_lines(cli, tmp_path):
    text = tmp_path / "names.txt"
    text.write_text("emma\n\nava\n\n\n", encoding="utf-8")
    report = _eval_json(cli, text, _names_model(cli))
    assert report["items"] == 2 and report["tokens"] == len("emma.") + len("ava.")


def _names_model(cli):
    assert cli("train", "-o", "names.npz").code == 0
    return "names.npz"
