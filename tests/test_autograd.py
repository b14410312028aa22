"""Autograd semantics as torch defines them: accumulation, leaves, grad mode, views, versions."""

import numpy as np
import pytest

import bigram.tensor as torch
import bigram.tensor.functional as F


def test_grad_is_none_until_backward_then_accumulates():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    assert w.grad is None
    (w * 3).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]
    (w * w).sum().backward()
    assert w.grad.tolist() == [5.0, 7.0]  # 3 + 2w, accumulated
    w.grad = None
    (w * w).sum().backward()
    assert w.grad.tolist() == [2.0, 4.0]


def test_diamond_receives_every_contribution():
    a = torch.tensor(3.0, requires_grad=True)
    b = a * 2
    c = a + 1
    (b * c + b).backward()  # d/da = 2c + 2 + 2 = 2a + 2 + 2 + 2
    assert a.grad.item() == 2 * (3 + 1) + 2 * 3 + 2


def test_lecture_update_through_data():
    g = torch.Generator().manual_seed(2147483647)
    W = torch.randn((27, 27), generator=g, requires_grad=True)
    xs = torch.tensor([0, 5, 13, 13, 1])
    ys = torch.tensor([5, 13, 13, 1, 0])
    before = W.detach().clone()
    logits = F.one_hot(xs, num_classes=27).float() @ W
    loss = F.cross_entropy(logits, ys)
    loss.backward()
    grad = W.grad.clone()
    W.data += -50 * W.grad
    np.testing.assert_allclose(W.detach().numpy(), (before - 50 * grad).numpy(), rtol=1e-6)
    assert W.is_leaf and W.requires_grad


def test_no_grad_records_nothing_and_allows_updates():
    w = torch.ones(3, requires_grad=True)
    with torch.no_grad():
        y = w * 2
        w -= 0.5
    assert y.grad_fn is None and not y.requires_grad
    assert w.tolist() == [0.5, 0.5, 0.5] and w.is_leaf

    @torch.no_grad()
    def infer(x):
        return x * 2

    assert not infer(w).requires_grad
    assert torch.is_grad_enabled()


def test_detach_and_retain_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.retain_grad()
    d = h.detach()
    assert not d.requires_grad and d.grad_fn is None
    (h * 3).sum().backward()
    assert h.grad.tolist() == [3.0, 3.0]
    assert x.grad.tolist() == [6.0, 12.0]


def test_backward_with_explicit_gradient_on_any_shape():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * x
    y.backward(torch.tensor([[1.0, 0.0], [0.5, 2.0]]))
    assert x.grad.tolist() == [[2.0, 0.0], [3.0, 16.0]]


def test_second_backward_needs_retain_graph():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp([1, 2]) * (1 + np.array([1, 2]))))
    z = (x.exp() * x).sum()
    z.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        z.backward()


def test_view_shares_storage_and_reshape_copies_only_when_it_must():
    t = torch.arange(12)
    v = t.view(3, 4)
    v[0, 0] = 100
    assert t[0].item() == 100
    r = t.reshape(4, 3)
    r[1, 1] = 7
    assert t[4].item() == 7  # contiguous: reshape gave a view
    transposed = v.T
    copied = transposed.reshape(12)
    copied[0] = -1
    assert v[0, 0].item() == 100  # non-contiguous: reshape had to copy
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        transposed.view(12)


def test_basic_index_is_a_view_and_index_assignment_writes_through():
    N = torch.zeros((3, 3), dtype=torch.int32)
    row = N[1]
    N[1, 2] += 1
    N[torch.tensor([0, 0]), torch.tensor([1, 1])] += 1  # repeated index: written once
    assert row.tolist() == [0, 0, 1]
    assert N.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]


def test_saved_value_changed_in_place_is_caught():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * y
    y += 1  # z's backward needs y as it was: torch refuses, and so do we
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (z.sum() + y.sum()).backward()


def test_inplace_on_non_leaf_is_recorded():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y *= x
    assert y.grad_fn.name == "MulBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_integer_and_bool_promotion():
    i = torch.tensor([1, 2, 3])
    assert (i + 0.5).dtype == torch.float32
    assert (i / torch.tensor([2, 2, 2])).dtype == torch.float32
    assert (i.int() + 5).dtype == torch.int32
    assert (torch.tensor([True, False]) + 1).dtype == torch.int64
    assert (torch.tensor([1.0]) + torch.tensor(2.0, dtype=torch.float64)).dtype == torch.float32
    assert (torch.tensor([1.0]) * torch.tensor([2.0], dtype=torch.float64)).dtype == torch.float64
    assert torch.zeros(2, dtype=torch.int32).sum().dtype == torch.int64
    assert (i > 1).dtype == torch.bool and (i > 1).tolist() == [False, True, True]


def test_numpy_and_matplotlib_accept_tensors():
    t = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert np.asarray(t).sum() == 10.0
    assert np.array(t, dtype=np.float64).dtype == np.float64
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(torch.ones(2, requires_grad=True))


def test_max_with_dim_returns_named_values_and_indices():
    t = torch.tensor([[1.0, 9.0, 3.0], [7.0, 2.0, 7.0]])
    best = t.max(1)
    assert best.values.tolist() == [9.0, 7.0] and best.indices.tolist() == [1, 0]
    assert t.max(dim=1, keepdims=True).values.shape == (2, 1)
    assert t.argmax().item() == 1 and t.argmax(1).tolist() == [1, 0]
