"""Every op's forward value, dtype, grad_fn name and input gradients against PyTorch.

The cases live in engine_cases.py; scripts/make_torch_fixtures.py ran them
under PyTorch 2.13.0 and stored the results in tests/fixtures/ops.*.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from engine_cases import OP_CASES, case_upstream

import bigram.tensor as torch
import bigram.tensor.functional as F

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = {c["name"]: c for c in json.loads((FIXTURES / "ops.json").read_text())}
ARRAYS = np.load(FIXTURES / "ops.npz")


def tolerance(dtype_name):
    return (dict(rtol=1e-10, atol=1e-12) if dtype_name.endswith("float64")
            else dict(rtol=2e-5, atol=2e-6))


def run_case(case):
    inputs = {}
    for name in case["inputs"]:
        t = torch.tensor(ARRAYS[f"{case['name']}|in|{name}"])
        if t.dtype.is_floating_point:
            t.requires_grad = True
        inputs[name] = t
    scope = dict(inputs, torch=torch, F=F)
    exec(case["code"], scope)  # noqa: S102 - the fixed case code
    return inputs, scope["out"]


@pytest.mark.parametrize("case", OP_CASES, ids=[c["name"] for c in OP_CASES])
def test_op_matches_torch(case):
    reference = REFERENCE[case["name"]]
    inputs, out = run_case(case)
    assert str(out.dtype) == reference["dtype"]
    expected = ARRAYS[f"{case['name']}|out"]
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.detach().numpy(), expected, **tolerance(reference["dtype"]))
    grad_fn = None if out.grad_fn is None else out.grad_fn.name
    assert grad_fn == reference["grad_fn"]
    if not reference["grads"]:
        return
    upstream = torch.tensor(case_upstream(case["name"], out.shape)).to(out.dtype)
    (out * upstream).sum().backward()
    assert sorted(n for n, t in inputs.items() if t.grad is not None) == reference["grads"]
    for name in reference["grads"]:
        grad = inputs[name].grad
        assert grad.dtype == inputs[name].dtype
        np.testing.assert_allclose(grad.numpy(), ARRAYS[f"{case['name']}|grad|{name}"],
                                   **tolerance(str(grad.dtype)), err_msg=f"d out / d {name}")
