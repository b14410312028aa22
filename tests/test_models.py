"""Models: the count model's normalisation, the neural model's fast path, model files."""

import numpy as np
import pytest
from conftest import NAMES, assert_same_index, bigram_rows, lecture_counts, names

import bigram.tensor as torch
from bigram.errors import OptionError, TrainingDiverged
from bigram.formats.modelfile import load, save
from bigram.formats.saved import SavedModel, build_meta
from bigram.models.language_models import (
    CountModel,
    NeuralModel,
    counts_loss,
    per_example_loss,
)
from bigram.ngrams.training_data import load_training_data
from bigram.settings import Reading
from bigram.text.vocabulary import Vocabulary


@pytest.fixture(scope="module")
def lecture():
    N, chars = lecture_counts(names())
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    xs, ys = [], []
    for w in names():
        tokens = [0] + [stoi[c] for c in w] + [0]
        xs += tokens[:-1]
        ys += tokens[1:]
    data = load_training_data([str(NAMES)], Reading(test_size=0))
    assert data.vocabulary == Vocabulary(chars)
    return N, data, torch.tensor(xs), torch.tensor(ys)


def test_count_model_rows_are_normalised_counts(lecture):
    N, data, _, _ = lecture
    model = CountModel.fit(data.vocabulary, data.counts["train"], 1.0)
    expected = (N + 1) / (N + 1).sum(1, keepdims=True)
    rows = bigram_rows(model)   # P(next | h) for every token h
    np.testing.assert_allclose(rows, expected, rtol=1e-6)
    np.testing.assert_allclose(rows.sum(1), 1.0, rtol=1e-6)
    with pytest.raises(OptionError):
        CountModel.fit(data.vocabulary, data.counts["train"], -0.5)


def test_fast_path_loss_and_gradient_equal_the_per_example_loop(lecture):
    N, _, xs, ys = lecture
    g = torch.Generator().manual_seed(2147483647)
    W = torch.randn((27, 27), generator=g, requires_grad=True)
    W64 = W.detach().double().requires_grad_()
    fast = counts_loss(W64, np.arange(27)[:, None], torch.tensor(N).double(), 0.01)
    fast.backward()
    plain = per_example_loss(W, xs, ys, 0.01)
    plain.backward()
    assert fast.item() == pytest.approx(plain.item(), abs=1e-6)
    np.testing.assert_allclose(W64.grad.numpy(), W.grad.numpy(), rtol=1e-4, atol=1e-7)
    # The same equality in exact float64 for the per-example path too.
    W64b = W.detach().double().requires_grad_()
    logits = torch.nn.functional.one_hot(xs, 27).double() @ W64b
    loss = torch.nn.functional.cross_entropy(logits, ys) + 0.01 * (W64b ** 2).mean()
    loss.backward()
    assert fast.item() == pytest.approx(loss.item(), abs=1e-12)
    np.testing.assert_allclose(W64.grad.numpy(), W64b.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_neural_training_rejects_divergence(lecture):
    _, data, _, _ = lecture
    with pytest.raises(TrainingDiverged, match="training diverged at step"):
        NeuralModel.fit(data.vocabulary, data.counts["train"], steps=50, lr=1e7)


def test_model_file_round_trip(tmp_path):
    data = load_training_data([], Reading(test_size=None))
    for model in (CountModel.fit(data.vocabulary, data.counts["train"], 0.5),
                  NeuralModel.fit(data.vocabulary, data.counts["train"], steps=3)):
        saved = SavedModel(model, data.counts, build_meta(model, data), data.train_items)
        path = tmp_path / f"{model.kind}.npz"
        assert save(path, saved) is False
        assert save(path, saved) is True
        loaded = load(path)
        assert type(loaded.model) is type(model)
        states = np.arange(model.n_states())
        np.testing.assert_array_equal(loaded.model.next_token_probabilities(states),
                                      model.next_token_probabilities(states))
        if model.kind == "counts":
            assert_same_index(loaded.model.counts, model.counts)
        for split in ("train", "test"):
            assert_same_index(loaded.data_counts[split], data.counts[split])
        assert loaded.meta == saved.meta
        assert loaded.training_items() == set(data.train_items.split("\n"))
        assert loaded.model.hyperparameters() == model.hyperparameters()
        with np.load(path, allow_pickle=False) as raw:
            assert all(raw[name].dtype != object for name in raw.files)
