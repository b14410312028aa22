"""The engine's errors: torch-like exceptions with one clear sentence, never a numpy traceback."""

import pytest

import bigram.tensor as torch
import bigram.tensor.functional as F


def raises(kind, pattern, fn):
    with pytest.raises(kind, match=pattern) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message and "numpy" not in message.lower()
    return message


def test_broadcast_mismatch_names_both_shapes():
    message = raises(RuntimeError, r"size of tensor a \(3\) must match the size of tensor b "
                     r"\(4\) at non-singleton dimension 1",
                     lambda: torch.zeros(2, 3) + torch.zeros(2, 4))
    assert "[2, 3]" in message and "[2, 4]" in message


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = torch.ones(3, requires_grad=True)
    raises(RuntimeError, "grad can be implicitly created only for scalar outputs",
           lambda: (x * 2).backward())


def test_backward_on_a_tensor_without_grad():
    raises(RuntimeError, "does not require grad", lambda: torch.ones(2).sum().backward())


def test_one_hot_index_out_of_range():
    raises(RuntimeError, "Class values must be smaller than num_classes",
           lambda: F.one_hot(torch.tensor([0, 27]), num_classes=27))
    raises(RuntimeError, "Class values must be non-negative",
           lambda: F.one_hot(torch.tensor([-1]), num_classes=3))
    raises(RuntimeError, "only applicable to index tensor of type LongTensor",
           lambda: F.one_hot(torch.tensor([1.0]), num_classes=3))


@pytest.mark.parametrize("weights, replacement, pattern", [
    ([0.5, -0.1, 0.6], False, "probability tensor contains either `inf`, `nan` or element < 0"),
    ([0.5, float("nan")], False, "probability tensor contains either `inf`, `nan`"),
    ([0.0, 0.0], False, r"sum of probabilities <= 0"),
    ([0.5, -0.1, 0.6], True, r"encountering probability entry < 0"),
    ([0.5, float("inf")], True, r"encountering probability entry = infinity or NaN"),
    ([0.0, 0.0], True, r"sum of probabilities <= 0"),
])
def test_multinomial_rejects_bad_weights(weights, replacement, pattern):
    g = torch.Generator().manual_seed(0)
    raises(RuntimeError, pattern,
           lambda: torch.multinomial(torch.tensor(weights), 4 if replacement else 1,
                                     replacement=replacement, generator=g))


def test_multinomial_argument_errors():
    p = torch.tensor([0.2, 0.8])
    raises(RuntimeError, "cannot sample n_sample > prob_dist.size", lambda: torch.multinomial(p, 3))
    raises(RuntimeError, "cannot sample n_sample <= 0", lambda: torch.multinomial(p, 0))
    raises(RuntimeError, "prob_dist must be 1 or 2 dim",
           lambda: torch.multinomial(torch.ones(2, 2, 2), 1))


def test_view_to_an_incompatible_size():
    raises(RuntimeError, r"shape '\[4, 2\]' is invalid for input of size 6",
           lambda: torch.zeros(2, 3).view(4, 2))
    raises(RuntimeError, "only one dimension can be inferred",
           lambda: torch.zeros(2, 3).view(-1, -1))


def test_in_place_change_of_a_leaf_that_requires_grad():
    w = torch.ones(3, requires_grad=True)
    raises(RuntimeError, "a leaf Variable that requires grad is being used in an in-place",
           lambda: w.__iadd__(1))
    raises(RuntimeError, "a leaf Variable that requires grad", lambda: w.__setitem__(0, 5.0))


def test_matmul_shape_and_dtype_errors():
    raises(RuntimeError, r"mat1 and mat2 shapes cannot be multiplied \(5x27 and 26x27\)",
           lambda: torch.zeros(5, 27) @ torch.zeros(26, 27))
    raises(RuntimeError, "expected m1 and m2 to have the same dtype",
           lambda: torch.zeros(2, 2) @ torch.zeros(2, 2, dtype=torch.float64))


def test_indexing_errors():
    raises(IndexError, "index 27 is out of bounds for dimension 0 with size 27",
           lambda: torch.zeros(27, 27)[27])
    raises(IndexError, "tensors used as indices must be long, int, byte or bool",
           lambda: torch.zeros(3)[torch.tensor([0.0])])
    raises(IndexError, r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)",
           lambda: torch.zeros(2, 2).sum(2))


def test_cross_entropy_errors():
    logits = torch.zeros(3, 4)
    raises(IndexError, "Target 4 is out of bounds", lambda: F.cross_entropy(logits,
                                                                             torch.tensor([0, 4, 1])))
    raises(ValueError, r"Expected input batch_size \(3\) to match target batch_size \(2\)",
           lambda: F.cross_entropy(logits, torch.tensor([0, 1])))
    raises(RuntimeError, "expected target dtype to be Long",
           lambda: F.cross_entropy(logits, torch.tensor([0, 1, 2], dtype=torch.int32)))


def test_mean_of_integers_and_requires_grad_on_integers():
    raises(RuntimeError, r"mean\(\): could not infer output dtype", lambda: torch.arange(3).mean())

    def set_flag():
        torch.arange(3).requires_grad = True

    raises(RuntimeError, "only Tensors of floating point dtype can require gradients", set_flag)


def test_in_place_result_type_cannot_narrow():
    counts = torch.zeros(3, dtype=torch.int32)
    raises(RuntimeError, "result type Float can't be cast to the desired output type Int",
           lambda: counts.__itruediv__(2))


def test_ragged_data():
    raises(ValueError, r"expected sequence of length 2 at dim 1 \(got 3\)",
           lambda: torch.tensor([[1, 2], [3, 4, 5]]))


def test_histogram_of_integers_and_bad_bins():
    raises(NotImplementedError, "\"histogramdd\" not implemented for 'Long'",
           lambda: torch.histogram(torch.tensor([1, 2]), bins=3))
    raises(RuntimeError, "bins must be > 0", lambda: torch.histogram(torch.ones(3), bins=0))
    raises(RuntimeError, "max must be larger than min",
           lambda: torch.histc(torch.ones(3), bins=3, min=2, max=1))


def test_indexing_shapes_that_do_not_broadcast():
    raises(IndexError, r"shape mismatch: indexing tensors could not be broadcast together with "
           r"shapes \[32\], \[5\]$",
           lambda: torch.zeros(40, 6)[torch.arange(32), torch.arange(5)])
    raises(IndexError, "too many indices for tensor of dimension 1",
           lambda: torch.zeros(3)[torch.tensor([0]), torch.tensor([0])])


def test_in_place_through_a_view_of_a_leaf_that_requires_grad():
    w = torch.ones(3, 2, requires_grad=True)
    raises(RuntimeError, "a view of a leaf Variable that requires grad is being used in an "
           "in-place operation", lambda: w[0].__imul__(2))


def test_in_place_on_a_saved_output_then_backward():
    logits = torch.ones(2, 3, requires_grad=True)
    probs = F.softmax(logits, 1)
    probs[0, 1] -= 1
    raises(RuntimeError, "modified by an inplace operation", lambda: probs.sum().backward())
