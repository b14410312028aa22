"""Tuning modified Kneser-Ney's discounts on dev (bigram/tuning.py).

The search is checked on a function whose minimum is known, the tuned model's dev loss
against the plain-Python lmplz reference (tests/reference_kneser_ney.py) given the same
discounts and scored by a back-off walk written here, and the chosen discounts against
the model file and `bigram train --discounts`, which must reproduce the same dev loss.
"""

import json
import math

import pytest
import reference_kneser_ney as reference
from conftest import NAMES

from bigram.formats.modelfile import load
from bigram.models.evaluation import evaluate_splits
from bigram.text.sources import read_items
from bigram.text.splits import split_assignment
from bigram.training.tune import (
    discount_range,
    format_discounts,
    parse_discounts,
    search_discounts,
    tune,
)

ORDER = 3


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The first 400 names, and the tuning of modified Kneser-Ney at order 3 on them."""
    path = tmp_path_factory.mktemp("mkn") / "small.txt"
    path.write_text("\n".join(NAMES.read_text().split("\n")[:400]) + "\n")
    return path, tune([str(path)], [ORDER], "counts", ["modified-kneser-ney"])


def test_search_finds_a_known_minimum_inside_the_range_and_stops_at_its_edges():
    target = {1: (0.3, 5.0, 2.2), 2: (0.7, 1.1, 0.001)}   # 5.0 and 0.001 lie outside

    def loss(discounts):
        return sum(math.log(d / t) ** 2 for k, ds in discounts.items()
                   for d, t in zip(ds, target[k]))

    found = search_discounts(loss, {1: (0.5, 1.0, 1.5), 2: (0.5, 1.0, 1.5)})
    expected = {1: (0.3, discount_range(2)[1], 2.2), 2: (0.7, 1.1, discount_range(3)[0])}
    for k, ds in expected.items():
        assert found.discounts[k] == pytest.approx(ds, rel=0.03)
    assert found.dev == pytest.approx(loss(found.discounts))
    assert found.start_dev == pytest.approx(loss({1: (0.5, 1.0, 1.5), 2: (0.5, 1.0, 1.5)}))
    capped = search_discounts(loss, {1: (0.5, 1.0, 1.5), 2: (0.5, 1.0, 1.5)},
                              max_evaluations=7)
    assert capped.evaluations == 7 and capped.dev <= capped.start_dev


def test_search_never_takes_a_setting_without_a_finite_loss():
    def loss(discounts):
        return math.inf if discounts[1][0] < 0.45 else discounts[1][0]

    found = search_discounts(loss, {1: (0.5, 1.0, 1.5)})
    assert 0.45 <= found.discounts[1][0] < 0.5 and math.isfinite(found.dev)


def _reference_dev_nll(train, dev, discounts):
    """The reference model with the given discounts, scored on dev by walking back-offs."""
    given = iter(discounts[k] for k in sorted(discounts))
    original = reference.discounts
    reference.discounts = lambda histogram, fallback=None: next(given)
    try:
        model = reference.estimate([list(name) for name in train], ORDER)
    finally:
        reference.discounts = original
    total, tokens = 0.0, 0
    for name in dev:
        words = [reference.BOS, *name, reference.EOS]
        for i in range(1, len(words)):
            history = tuple(words[max(0, i - ORDER + 1):i])
            log10 = 0.0
            while (*history, words[i]) not in model.arpa[len(history)]:
                log10 += model.arpa[len(history) - 1].get(history, (0.0, 0.0))[1]
                history = history[1:]
            total += log10 + model.arpa[len(history)][(*history, words[i])][0]
            tokens += 1
    return -total * math.log(10) / tokens


def test_tuned_discounts_beat_the_estimated_ones_on_dev_as_the_reference_scores_them(small):
    path, result = small
    estimated, tuned = result.trials
    assert (estimated.searched, tuned.searched) == (False, True)
    assert tuned.dev < estimated.dev and result.chosen is tuned
    assert [t.test for t in result.trials] == [None, tuned.test] and tuned.test is not None
    items = read_items([str(path)])
    split = split_assignment(len(items), 3407, percentages=(80, 10, 10))
    train = [s for s, x in zip(items, split) if x == 0]
    dev = [s for s, x in zip(items, split) if x == 1]
    assert set("".join(dev)) <= set("".join(train))    # no <unk> to score
    assert _reference_dev_nll(train, dev, tuned.discounts) == pytest.approx(tuned.dev, abs=1e-9)
    assert _reference_dev_nll(train, dev, estimated.discounts) == pytest.approx(estimated.dev,
                                                                                abs=1e-9)
    for ds in tuned.discounts.values():
        for j, d in enumerate(ds, 1):
            low, high = discount_range(j)
            assert low <= d <= high


def test_the_saved_model_and_train_with_its_discounts_reproduce_the_dev_loss(small, cli,
                                                                             tmp_path):
    path, result = small
    tuned = result.chosen
    assert result.saved.meta["tuning"]["chosen"]["discounts"] == {
        str(k): list(ds) for k, ds in tuned.discounts.items()}
    from bigram.formats.modelfile import save

    save(tmp_path / "tuned.npz", result.saved)
    reports = {r.name: r.nll for r in evaluate_splits(load(tmp_path / "tuned.npz"))}
    assert reports["dev"] == pytest.approx(tuned.dev, abs=1e-12)
    assert reports["test"] == pytest.approx(tuned.test, abs=1e-12)
    text = format_discounts(tuned.discounts)
    assert parse_discounts(text, ORDER) == tuned.discounts
    run = cli("train", path, "--order", ORDER, "--smoothing-method", "modified-kneser-ney",
              "--split", "80/10/10", "--discounts", text, "-o", "again.npz")
    assert run.code == 0, run.err
    again = {r.name: r.nll for r in evaluate_splits(load(tmp_path / "again.npz"))}
    assert again["dev"] == pytest.approx(tuned.dev, abs=1e-12)


def test_tune_json_lists_the_discounts(small, cli):
    path, result = small
    run = cli("tune", path, "--order", ORDER, "--smoothing-method", "modified-kneser-ney",
              "--json")
    assert run.code == 0, run.err
    payload = json.loads(run.out)
    assert [t["searched"] for t in payload["trials"]] == [False, True]
    assert payload["chosen"]["discounts"] == {str(k): list(ds) for k, ds in
                                              result.chosen.discounts.items()}
    assert payload["chosen"]["dev"] == pytest.approx(result.chosen.dev, abs=1e-12)


@pytest.mark.parametrize("value, message", [
    ("3:0.5,1", "--discounts takes 'order:D1,D2,D3' groups separated by ';', and '3:0.5,1'"),
    ("x", "--discounts takes 'order:D1,D2,D3' groups"),
    ("2:0.5,1,x", "--discounts takes 'order:D1,D2,D3' groups"),
    ("4:0.5,1,1.5", "--discounts gives order 4, but the model's orders are 1 to 3"),
    ("2:0.5,1,1.5;2:0.5,1,1.5", "--discounts gives order 2 twice"),
    ("3:1.5,1,1", "--discounts: D1 of order 3 must lie in [0, 1], not 1.5"),
    ("3:0.5,1,-1", "--discounts: D3+ of order 3 must lie in [0, 3], not -1"),
    ("3:0.5,inf,1", "--discounts: D2 of order 3 must lie in [0, 2], not inf"),
    (";", "--discounts needs at least one"),
])
def test_bad_discounts_are_one_line_errors(cli, value, message):
    run = cli("train", "--order", ORDER, "--smoothing-method", "modified-kneser-ney",
              "--discounts", value)
    assert run.code != 0 and run.err.startswith(f"error: {message}") and run.err.count("\n") == 1


def test_discounts_and_smoothing_belong_to_the_right_methods(cli):
    assert cli("train", "--discounts", "2:0.5,1,1.5").err.startswith(
        "error: --prune and --discounts belong to --smoothing-method modified-kneser-ney")
    assert cli("tune", "--smoothing-method", "modified-kneser-ney", "--smoothing",
               "0.5").err.startswith("error: modified-kneser-ney tunes its discounts on dev")
