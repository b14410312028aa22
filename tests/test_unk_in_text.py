"""The word `<unk>` written in training text: the unknown word, said on stderr with its
count (SRILM's -unk); `--skip-symbols` reads `<s>`, `</s>` and `<unk>` as spaces, as lmplz's
--skip_symbols does (checked entry by entry against lmplz's ARPA in
test_modified_kneser_ney.py, fixture `symbols.o3.skip-symbols`)."""

import json
from pathlib import Path

from cli_child import bigram

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kenlm"


def test_literal_unk_is_the_unknown_word_and_said_with_its_count(tmp_path):
    lines = [line.replace("<s>", "").replace("</s>", "")
             for line in (FIXTURES / "symbols.train.txt").read_text().splitlines()]
    (tmp_path / "text.txt").write_text("\n".join(lines) + "\n")
    literal = sum(line.split().count("<unk>") for line in lines)
    assert literal > 10
    done = bigram("train", "text.txt", "--kenlm", "--order", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "<unk>" in line]
    assert notes == [(f"note: the text holds the word <unk> {literal:,} time(s); it was read "
                      "as the unknown word (as SRILM's -unk); lmplz refuses it, or with "
                      "--skip_symbols reads it as a space, as --skip-symbols does")]
    info = json.loads(bigram("info", "--json", cwd=tmp_path).stdout)
    assert info["vocabulary_control"]["literal_unk"] == literal
    assert "<unk>" not in info["vocabulary"] and info["unk"] is True
    [scored] = json.loads(bigram("score", "<unk>", "--json", cwd=tmp_path).stdout)
    assert [g["ngram"] for g in scored["ngrams"]] == ["<s> <unk>", "<s> <unk> </s>"]


def test_no_note_without_the_word(tmp_path):
    done = bigram("train", FIXTURES / "words.train.txt", "--kenlm", "--order", "2",
                  cwd=tmp_path)
    assert done.returncode == 0 and "<unk>" not in done.stderr


def test_boundary_words_point_at_skip_symbols(tmp_path):
    refused = bigram("train", FIXTURES / "symbols.train.txt", "--kenlm", cwd=tmp_path)
    assert refused.returncode != 0 and "--skip-symbols" in refused.stderr
    assert refused.stderr.count("\n") == 1
    skipped = bigram("train", FIXTURES / "symbols.train.txt", "--kenlm", "--skip-symbols",
                     "--json", cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr
    assert "<unk>" not in skipped.stderr   # nothing to say: they were read as spaces
    chars = bigram("train", "--skip-symbols", cwd=tmp_path)
    assert chars.returncode != 0 and "goes with --unit word" in chars.stderr
