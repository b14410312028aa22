"""The figures the toolkit must reproduce, each against an independent computation.

References: the lecture's Python counting loop (conftest.lecture_counts), the
train/test permutation PyTorch itself drew (fixtures/rng.npz), and PyTorch's
run of the lecture's training loop (fixtures/training.json).
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import lecture_counts, names

FIXTURES = Path(__file__).parent / "fixtures"


def smoothed_nll(train_counts, eval_counts, k):
    """Average NLL of eval bigrams under (N + k) normalised in float32, as the lecture does."""
    P = (train_counts + k).astype(np.float32)
    P = P / P.sum(1, keepdims=True)
    seen = eval_counts > 0
    return -(eval_counts[seen] * np.log(P[seen].astype(np.float64))).sum() / eval_counts.sum()


@pytest.mark.parametrize("smoothing, expected", [(1, 2.45458), (0, 2.45401)])
def test_count_model_on_all_of_names(cli, smoothing, expected):
    N, _ = lecture_counts(names())
    reference = smoothed_nll(N, N, smoothing)
    assert round(reference, 5) == expected
    assert cli("train", "--test-size", "0", "--smoothing", smoothing).code == 0
    report = json.loads(cli("eval", "--json").out)
    assert report["train"]["tokens"] == 228146 == N.sum()
    assert report["train"]["items"] == 32033
    assert report["train"]["nll"] == pytest.approx(reference, abs=1e-9)
    assert round(report["train"]["nll"], 5) == expected


def test_default_split_test_loss(cli):
    words = names()
    permutation = np.load(FIXTURES / "rng.npz")["makemore_split|0"]  # torch.randperm(32033)
    test_words = [words[i] for i in permutation[-1000:]]
    train_words = [words[i] for i in permutation[:-1000]]
    vocab_all = sorted(set("".join(words)))
    N_train, chars_train = lecture_counts(train_words)
    N_test, chars_test = lecture_counts(test_words)
    assert chars_train == vocab_all  # every letter occurs in training, so indices agree
    N_test_full = np.zeros_like(N_train)
    where = [0] + [vocab_all.index(c) + 1 for c in chars_test]
    N_test_full[np.ix_(where, where)] = N_test
    reference = smoothed_nll(N_train, N_test_full, 1)
    assert round(reference, 5) == 2.44967
    assert cli("train").code == 0
    report = json.loads(cli("eval", "--json").out)
    assert report["test"]["items"] == 1000 and report["train"]["items"] == 31033
    assert report["test"]["tokens"] == N_test.sum()
    assert report["test"]["nll"] == pytest.approx(reference, abs=1e-9)


def test_neural_model_matches_pytorch_training_loop(cli):
    torch_losses = json.loads((FIXTURES / "training.json").read_text())["losses"]
    result = cli("train", "--model", "neural", "--test-size", "0", "--seed", "2147483647",
                 "--steps", "100", "--lr", "50", "--reg", "0.01")
    assert result.code == 0
    assert re.search(r"training loss: 3\.7686 [▁▂▃▄▅▆▇█]+ 2\.4900", result.out)
    from bigram.formats.modelfile import load

    losses = load("bigram.npz").model.losses
    assert len(losses) == 101
    np.testing.assert_allclose(losses, torch_losses, atol=1e-4)
    assert round(losses[0], 4) == 3.7686 and round(losses[-1], 4) == 2.4900


def test_lecture_samples_reproduce_through_the_cli(cli):
    assert cli("train", "--test-size", "0").code == 0
    result = cli("sample", "--seed", "2147483647", "-n", "5")
    assert result.code == 0
    # The makemore lecture's output for this seed (torch.multinomial, one draw per character).
    assert result.out.splitlines() == ["mor", "axx", "minaymoryles", "kondlaisah",
                                       "anchshizarie"]
    assert result.err == ""
