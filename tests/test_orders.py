"""Longer contexts (--order N): counts, smoothing, evaluation, sampling, ARPA, splits, tuning.

The references here are written plainly with dictionaries and loops: n-gram
counting as the lecture's exercise would, and the textbook recursions of
interpolated Witten-Bell and Kneser-Ney.
"""

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_same_index, names

import bigram.tensor as torch
from bigram.formats.modelfile import load
from bigram.models.language_models import CountModel, _input_rows, counts_loss
from bigram.models.sampling import chain_for, sample, sample_one_at_a_time
from bigram.ngrams.index import count_items
from bigram.ngrams.smoothing import estimated_discount
from bigram.ngrams.training_data import load_training_data
from bigram.settings import Reading, TrainingSettings
from bigram.training.tune import tune

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def reference_counts(words, order, stoi):
    """counts[n][(context, w)] for n = 1..order, contexts padded with order-1 boundaries."""
    counts = {n: Counter() for n in range(1, order + 1)}
    for word in words:
        padded = [0] * (order - 1) + [stoi[c] for c in word] + [0]
        for i in range(order - 1, len(padded)):
            for n in range(1, order + 1):
                counts[n][(tuple(padded[i - n + 1:i]), padded[i])] += 1
    return counts


class Reference:
    """Interpolated smoothing by the textbook recursion, one probability at a time."""

    def __init__(self, words, order, size, method, strength):
        self.order, self.size, self.method, self.strength = order, size, method, strength
        chars = sorted(set("".join(words)))
        self.stoi = {c: i + 1 for i, c in enumerate(chars)}
        counts = reference_counts(words, order, self.stoi)
        self.used = {order: counts[order]}
        if method == "kneser-ney":
            for n in range(order - 1, 0, -1):
                self.used[n] = Counter({(ctx[1:], w): 0 for (ctx, w) in counts[n + 1]})
                for (ctx, w) in counts[n + 1]:
                    self.used[n][(ctx[1:], w)] += 1
        else:
            for n in range(1, order):
                self.used[n] = counts[n]
        self.totals = {n: Counter() for n in self.used}
        self.types = {n: Counter() for n in self.used}
        for n, table in self.used.items():
            for (ctx, _), c in table.items():
                self.totals[n][ctx] += c
                self.types[n][ctx] += 1
        self.discount = {n: estimated_discount(np.array(list(self.used[n].values())))
                         if strength is None else strength for n in self.used}

    def p(self, context, w, n=None):
        n = self.order if n is None else n
        context = tuple(context[len(context) - (n - 1):]) if n > 1 else ()
        if self.method == "add-k":
            c = self.used[self.order]
            total = self.totals[self.order][context]
            return (c[(context, w)] + self.strength) / (total + self.strength * self.size)
        if n == 1:
            total = sum(self.used[1].values())
            return self.used[1][((), w)] / total
        c, total, types = self.used[n][(context, w)], self.totals[n][context], \
            self.types[n][context]
        lower = self.p(context[1:], w, n - 1)
        if total == 0:
            return lower
        if self.method == "witten-bell":
            k = self.strength
            return (c + k * types * lower) / (total + k * types)
        d = self.discount[n]
        return max(c - d, 0) / total + d * types / total * lower


WORDS = names()[:4000] + ["zoë", "mary ann", "qqq"]


def encode(words, stoi):
    tokens = np.array([stoi[c] for w in words for c in w], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(w) for w in words])])
    return tokens, offsets


def level_counts(index, n):
    """{(context, next): count} of the windows of n tokens an index counted."""
    level = index.level(n)
    seen = np.flatnonzero(level.count)
    tokens = index.tokens(n, seen)
    return {(tuple(row[:-1].tolist()), int(row[-1])): int(c)
            for row, c in zip(tokens, level.count[seen])}


@pytest.mark.parametrize("order", [3, 4, 5])
def test_counts_of_every_order_match_a_direct_count(order):
    chars = sorted(set("".join(WORDS)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    size = len(chars) + 1
    index = count_items(*encode(WORDS, stoi), order, size)
    expected = reference_counts(WORDS, order, stoi)
    for n in range(1, order + 1):
        assert level_counts(index, n) == dict(expected[n])


@pytest.mark.parametrize("method, strength", [("add-k", 0.1), ("witten-bell", 1.0),
                                              ("witten-bell", 3.0), ("kneser-ney", None),
                                              ("kneser-ney", 0.6)])
@pytest.mark.parametrize("order", [3, 4])
def test_interpolated_probabilities_match_the_recursion(tmp_path, order, method, strength):
    path = tmp_path / "words.txt"
    path.write_text("\n".join(WORDS) + "\n")
    data = load_training_data([str(path)], Reading(test_size=0), order=order)
    model = CountModel(data.vocabulary, data.counts["train"], strength, method)
    reference = Reference(WORDS, order, len(data.vocabulary), method, strength)
    probe = ["emma", "zoë", "xqzy", "mary ann", "aaaaa", "olivia"]  # seen and unseen contexts
    for word in probe:
        padded = [0] * (order - 1) + [reference.stoi[c] for c in word] + [0]
        state = model.start_state()
        for i in range(order - 1, len(padded)):
            context = padded[i - order + 1:i]
            row = model.next_token_probabilities(np.array([state]))[0]
            expected = [reference.p(context, w) for w in range(model.size)]
            np.testing.assert_allclose(row, expected, rtol=2e-6, atol=1e-9)
            assert abs(row.astype(np.float64).sum() - 1) < 1e-5
            state = model.advance(np.array([state]), np.array([padded[i]]))[0]


def test_eval_of_a_trigram_model_against_direct_computation(cli, tmp_path):
    train, held = WORDS[:3500], WORDS[3500:] + ["zzzz"]
    (tmp_path / "train.txt").write_text("\n".join(train) + "\n")
    (tmp_path / "held.txt").write_text("\n".join(held) + "\n")
    assert cli("train", "train.txt", "--order", "3", "--test-size", "0",
               "--smoothing", "0.1").code == 0
    report = json.loads(cli("eval", "held.txt", "--json").out)["held.txt"]
    reference = Reference(train, 3, len(set("".join(train))) + 1, "add-k", 0.1)
    total, tokens = 0.0, 0
    for word in held:
        padded = [0, 0] + [reference.stoi.get(c, -1) for c in word] + [0]
        for i in range(2, len(padded)):
            if -1 in padded[i - 2:i + 1]:
                continue  # a trigram touching an unknown character is skipped
            total += math.log(reference.p(padded[i - 2:i], padded[i]))
            tokens += 1
    assert report["tokens"] == tokens and report["oov"] == sum(c not in reference.stoi
                                                             for w in held for c in w)
    assert report["nll"] == pytest.approx(-total / tokens, rel=1e-6)


@pytest.mark.parametrize("order, method", [(3, "kneser-ney"), (4, "add-k"), (6, "witten-bell")])
def test_sampling_higher_orders_equals_one_at_a_time(order, method):
    data = load_training_data([], Reading(test_size=0), order=order)
    model = CountModel(data.vocabulary, data.counts["train"], None, method)
    prefix = model.start_state()
    for token in data.vocabulary.encode_text("ma"):
        prefix = model.advance(np.array([prefix]), np.array([token]))[0]
    for start in (model.start_state(), int(prefix)):
        g = torch.Generator().manual_seed(order)
        fast = sample(chain_for(model), 500, g, start, 40)
        reference = sample_one_at_a_time(model, 500, torch.Generator().manual_seed(order),
                                         start, 40)
        assert [fast.tokens[a:b].tolist() for a, b in zip(fast.offsets[:-1],
                                                          fast.offsets[1:])] == reference


def test_neural_trigram_fast_path_equals_concatenated_one_hot_loop():
    words = WORDS[:600]
    chars = sorted(set("".join(words)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    size = len(chars) + 1
    index = count_items(*encode(words, stoi), 3, size)
    xs, ys = [], []
    for word in words:  # the lecture's exercise: two characters predict the third
        padded = [0, 0] + [stoi[c] for c in word] + [0]
        for i in range(2, len(padded)):
            xs.append(padded[i - 2:i])
            ys.append(padded[i])
    xs, ys = torch.tensor(xs), torch.tensor(ys)
    g = torch.Generator().manual_seed(1)
    W = torch.randn((2 * size, size), generator=g, dtype=torch.float64, requires_grad=True)
    xenc = torch.cat([torch.nn.functional.one_hot(xs[:, 0], size),
                      torch.nn.functional.one_hot(xs[:, 1], size)], 1).double()
    plain = torch.nn.functional.cross_entropy(xenc @ W, ys) + 0.01 * (W ** 2).mean()
    plain.backward()
    W2 = W.detach().clone().requires_grad_()
    # One row of counts per distinct context (the level-2 rows that trigrams extend).
    top = index.level(3)
    contexts, inverse = np.unique(index.parent(3)[top.count > 0], return_inverse=True)
    dense = np.zeros((len(contexts), size))
    np.add.at(dense, (inverse.ravel(), index.token(3)[top.count > 0]), top.count[top.count > 0])
    rows = _input_rows(index.tokens(2, contexts), size)
    fast = counts_loss(W2, rows, torch.tensor(dense), 0.01)
    fast.backward()
    assert fast.item() == pytest.approx(plain.item(), abs=1e-12)
    np.testing.assert_allclose(W2.grad.numpy(), W.grad.numpy(), atol=1e-13)


def test_neural_trigram_trains_samples_and_scores(cli):
    result = cli("train", "--model", "neural", "--order", "3", "--steps", "30", "--test-size", "0")
    assert result.code == 0 and "neural trigram model" in result.out
    model = load(Path("bigram.npz")).model
    assert model.order == 3 and model.weights.shape == (54, 27)
    assert model.losses[-1] < model.losses[0]
    g = torch.Generator().manual_seed(3)
    start = model.start_state()
    fast = sample(chain_for(model), 300, g, start, 30)
    reference = sample_one_at_a_time(model, 300, torch.Generator().manual_seed(3), start, 30)
    assert [fast.tokens[a:b].tolist() for a, b in zip(fast.offsets[:-1],
                                                      fast.offsets[1:])] == reference
    scored = json.loads(cli("score", "emma", "--json").out)[0]
    assert [g["ngram"] for g in scored["ngrams"]] == ["..e", ".em", "emm", "mma", "ma."]


def test_split_80_10_10_is_the_seeded_permutation(cli):
    words = names()
    rp = np.load(FIXTURES / "rng.npz")["makemore_split|0"]  # torch.manual_seed(3407); randperm
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    data = load_training_data([], Reading(split="80/10/10"))
    assert data.items == {"train": n1, "dev": n2 - n1, "test": len(words) - n2}
    assert sorted(data.held_out["dev"]) == sorted(words[i] for i in rp[n1:n2])
    assert sorted(data.held_out["test"]) == sorted(words[i] for i in rp[n2:])
    assert cli("train", "--split", "80/10/10").code == 0
    report = json.loads(cli("eval", "--json").out)
    assert list(report) == ["train", "dev", "test"]
    assert report["dev"]["items"] == n2 - n1
    bad = cli("train", "--split", "80/30")
    assert bad.code == 2 and bad.err.startswith("error: --split must be 'makemore' or "
                                                "percentages")


def test_tune_chooses_on_dev_and_reports_test_once(cli, tmp_path):
    result = tune([], [2, 3], "counts", ["add-k", "kneser-ney"], [0.1, 0.5])
    assert len(result.trials) == 2 * 2 * 2
    assert result.chosen.dev == min(t.dev for t in result.trials)
    assert [t.test for t in result.trials if t is not result.chosen] == [None] * 7
    # The chosen model, saved with its splits, gives the same dev and test losses.
    from bigram.models.evaluation import evaluate_splits

    reports = {r.name: r.nll for r in evaluate_splits(result.saved)}
    assert reports["dev"] == pytest.approx(result.chosen.dev)
    assert reports["test"] == pytest.approx(result.chosen.test)
    # The order-3 add-k k=0.1 trial, recomputed directly from the split's items.
    data = load_training_data([], Reading(split="80/10/10"), order=3)
    direct = CountModel(data.vocabulary, data.counts["train"], 0.1, "add-k")
    total, tokens = direct.log_likelihood(data.counts["dev"])
    trial = next(t for t in result.trials if (t.order, t.method, t.strength) == (3, "add-k", 0.1))
    assert trial.dev == pytest.approx(-total / tokens)
    cli_run = cli("tune", "--order", "2,3", "--smoothing-method", "witten-bell",
                  "--smoothing", "1,3", "--plot", "dev.png", "--json")
    assert cli_run.code == 0 and (tmp_path / "dev.png").exists()
    payload = json.loads(cli_run.out)
    assert len(payload["trials"]) == 4 and payload["chosen"]["test"] is not None
    assert load(tmp_path / "bigram.npz").model.order == payload["chosen"]["order"]


def test_tune_errors(cli):
    assert cli("tune", "--split", "makemore").err.startswith("error: tuning needs a dev split")
    assert cli("tune", "--order", "2,x").err.startswith("error: --order takes a "
                                                        "comma-separated list")
    assert cli("tune", "--model", "neural", "--smoothing", "1").code == 2


def test_neural_tune_over_reg(cli):
    result = tune([], [2], "neural", regs=[0.001, 0.1], settings=TrainingSettings.of(split="80/10/10", steps=20))
    assert {t.strength for t in result.trials} == {0.001, 0.1}
    assert result.chosen.method == "neural" and result.saved.model.reg == result.chosen.strength


def test_orders_beyond_base_v_context_keys(cli, tmp_path):
    # Contexts were base-V integers below 2**62 (27**19 is not); the index has no such limit.
    result = cli("train", "--order", "20", "--test-size", "0")
    assert result.code == 0, result.err
    model = load(tmp_path / "bigram.npz").model
    words = names()
    assert model.order == 20
    assert len(model.counts.level(20)) <= sum(len(w) + 1 for w in words)   # grows with the text
    # After 19 boundaries, add-k 1: (names starting with w + 1) / (names + V), in float32.
    first = Counter(w[0] for w in words)
    chars = model.vocabulary.chars
    counts = np.array([0] + [first[c] for c in chars], dtype=np.float32)
    expected = (counts + 1) / (counts + 1).sum()
    row = model.next_token_probabilities(np.array([model.start_state()]))[0]
    np.testing.assert_allclose(row, expected, rtol=1e-6)
    assert cli("train", "--order", "1").code == 2
    refused = cli("train", "--model", "neural", "--order", "20")   # its states are base-V keys
    assert refused.code == 2 and refused.err.startswith("error: ")
    assert len(refused.err.strip().splitlines()) == 1




def test_higher_order_commands_through_the_cli(cli, tmp_path):
    assert cli("train", "--order", "4", "--smoothing-method", "witten-bell",
               "--split", "80/10/10").code == 0
    info = json.loads(cli("info", "--json").out)
    assert info["order"] == 4 and set(info["data"]["tokens"]) == {"train", "dev", "test"}
    assert "counts (order 4)" in cli("info").out
    names_out = cli("sample", "-n", "20", "--seed", "5", "--prefix", "mar").out.splitlines()
    assert len(names_out) == 20 and all(n.startswith("mar") for n in names_out)
    assert cli("plot", "-o", "ctx.png", "--what", "probs").code == 0
    assert (tmp_path / "ctx.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    grid = cli("show").out.splitlines()
    assert grid[1].split()[0] == "..." and len(grid) > 27  # most frequent context first
    assert cli("export", "-o", "m.arpa").code == 0
    assert "ngram 4=" in (tmp_path / "m.arpa").read_text()


def test_merge_of_trigram_shards_equals_training_on_all(cli, tmp_path):
    words = names()
    (tmp_path / "a.txt").write_text("\n".join(words[:20000]) + "\n")
    (tmp_path / "b.txt").write_text("\n".join(words[20000:]) + "\n")
    (tmp_path / "all.txt").write_text("\n".join(words) + "\n")
    for name in ("a", "b", "all"):
        assert cli("train", f"{name}.txt", "--order", "3", "--test-size", "0",
                   "--smoothing-method", "kneser-ney", "-o", f"{name}.npz").code == 0
    assert cli("merge", "a.npz", "b.npz", "-o", "merged.npz").code == 0
    merged, whole = load(tmp_path / "merged.npz"), load(tmp_path / "all.npz")
    assert_same_index(merged.model.counts, whole.model.counts)
    states = np.arange(whole.model.n_states())
    assert merged.model.n_states() == len(states)
    np.testing.assert_allclose(merged.model.next_token_probabilities(states),
                               whole.model.next_token_probabilities(states), rtol=1e-6)
