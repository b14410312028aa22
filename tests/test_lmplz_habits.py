"""lmplz's habits on bigram's command line: `-o 5` and `--prune 0 1 1` refused with the
spelling bigram wants, and `--kenlm`, the short form of lmplz's model of words."""

import gzip
import json
from pathlib import Path

import pytest
from cli_child import bigram
from test_kenlm_fixtures import parse_arpa_text

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kenlm"
WORDS = FIXTURES / "words.train.txt"


@pytest.mark.parametrize("command", ["train", "tune"])
def test_a_number_as_output_is_refused_pointing_at_order(tmp_path, command):
    done = bigram(command, WORDS, "--unit", "word", "-o", "5", cwd=tmp_path)
    assert done.returncode == 2 and not (tmp_path / "5").exists()
    assert done.stderr == ("error: -o is the output file, not the order as in lmplz: for a "
                           "5-gram model give --order 5 (to write a file named 5, give -o ./5)\n")


def test_prune_thresholds_as_separate_words_are_refused_with_commas(tmp_path):
    for arguments in ([WORDS, "--prune", "0", "1", "1"], ["--prune", "0", "1", "1", WORDS]):
        done = bigram("train", *arguments, "--unit", "word", "--order", "3",
                      "--smoothing-method", "modified-kneser-ney", cwd=tmp_path)
        assert done.returncode == 2
        assert done.stderr.startswith("error: --prune takes its thresholds as one value, "
                                      "comma-separated: --prune 0,1,1 ")


def _arpa(path):
    return parse_arpa_text(path.read_text(encoding="utf-8"))


def test_kenlm_preset_is_lmplz_order_5_on_words(tmp_path):
    done = bigram("train", WORDS, "--kenlm", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    trained = json.loads(done.stdout)
    assert (trained["unit"], trained["order"], trained["settings"]["smoothing_method"],
            list(trained["splits"])) == ("word", 5, "modified-kneser-ney", ["train"])
    assert bigram("export", "-o", "mine.arpa", cwd=tmp_path).returncode == 0
    lmplz = parse_arpa_text(gzip.decompress((FIXTURES / "words.o5.arpa.gz").read_bytes())
                            .decode("utf-8"))
    mine = _arpa(tmp_path / "mine.arpa")
    for ours, theirs in zip(mine, lmplz, strict=True):
        assert set(ours) == set(theirs)
        assert max((abs(a - b) for g in theirs for a, b in zip(ours[g], theirs[g]) if a != b),
                   default=0.0) < 2e-5


def test_options_given_with_kenlm_win(tmp_path):
    done = bigram("train", WORDS, "--kenlm", "--order", "3", "--split", "80/10/10", "--json",
                  cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    trained = json.loads(done.stdout)
    assert trained["order"] == 3 and set(trained["splits"]) == {"train", "dev", "test"}
