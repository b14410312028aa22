"""repr(tensor) is the text torch prints for the same values (fixtures from PyTorch 2.13)."""

import json
from pathlib import Path

import pytest

import bigram.tensor as torch
import bigram.tensor.functional as F

CASES = json.loads((Path(__file__).parent / "fixtures" / "repr.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["code"][6:60] for c in CASES])
def test_repr_matches_torch(case):
    scope = {"torch": torch, "F": F}
    exec(case["code"], scope)  # noqa: S102 - fixed case code
    assert repr(scope["out"]) == case["repr"]


def test_str_and_format_of_scalars():
    t = torch.tensor(2.5)
    assert str(t) == repr(t) == "tensor(2.5000)"
    assert f"{t:.2f}" == "2.50"


def test_size_and_dtype_print_as_torch():
    assert repr(torch.zeros(27, 27).shape) == "torch.Size([27, 27])"
    assert torch.zeros(27, 27).shape == (27, 27)
    assert repr(torch.float32) == "torch.float32"
    assert torch.float is torch.float32 and torch.long is torch.int64


def test_return_types_print_values_and_indices():
    result = torch.tensor([[1.0, 5.0], [7.0, 2.0]]).max(1)
    assert repr(result) == ("torch.return_types.max(\nvalues=tensor([5., 7.]),\n"
                            "indices=tensor([1, 0]))")
    values, indices = result
    assert indices.tolist() == [1, 0] and values.tolist() == [5.0, 7.0]
