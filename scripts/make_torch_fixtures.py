"""Generate the reference outputs the engine's tests compare against, with real PyTorch.

Run with PyTorch 2.13.0 CPU installed (`pip install torch==2.13.0` takes the
build on this machine's disk); the results go to tests/fixtures/ and are
committed, so the tests themselves never need torch.

    python scripts/make_torch_fixtures.py

Every case is written once as code over `torch` and `F`; the tests run the
same code with `bigram.tensor` in their place (the tinygrad test pattern).
"""

import json
import sys
from pathlib import Path

import lecture
import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
sys.path.insert(0, str(ROOT / "tests"))

from engine_cases import OP_CASES, REPR_CASES, RNG_CASES, case_upstream, make_inputs  # noqa: E402


def run_op_case(case, arrays):
    """Forward value, grad_fn name and input gradients of one case under torch."""
    inputs = {}
    for name, array in arrays.items():
        t = torch.tensor(array)
        if t.dtype.is_floating_point:
            t.requires_grad = True
        inputs[name] = t
    scope = dict(inputs, torch=torch, F=F)
    exec(case["code"], scope)  # noqa: S102 - fixed code from engine_cases.py
    out = scope["out"]
    record = {"grad_fn": None if out.grad_fn is None else type(out.grad_fn).__name__,
              "out": out.detach().numpy().copy(), "dtype": str(out.dtype)}
    if out.requires_grad:
        upstream = torch.tensor(case_upstream(case["name"], out.shape), dtype=out.dtype)
        (out * upstream).sum().backward()
        record["grads"] = {name: t.grad.numpy().copy() for name, t in inputs.items()
                           if t.requires_grad and t.grad is not None}
    return record


def make_op_fixtures():
    arrays_out, index = {}, []
    for case in OP_CASES:
        arrays = make_inputs(case)
        record = run_op_case(case, arrays)
        key = case["name"]
        for name, array in arrays.items():
            arrays_out[f"{key}|in|{name}"] = array
        arrays_out[f"{key}|out"] = record["out"]
        for name, grad in record.get("grads", {}).items():
            arrays_out[f"{key}|grad|{name}"] = grad
        index.append({"name": key, "grad_fn": record["grad_fn"], "dtype": record["dtype"],
                      "grads": sorted(record.get("grads", {}))})
    np.savez_compressed(FIXTURES / "ops.npz", **arrays_out)
    (FIXTURES / "ops.json").write_text(json.dumps(index, indent=1) + "\n")


def make_repr_fixtures():
    out = []
    for code in REPR_CASES:
        scope = {"torch": torch, "F": F}
        exec(code, scope)  # noqa: S102
        out.append({"code": code, "repr": repr(scope["out"])})
    (FIXTURES / "repr.json").write_text(json.dumps(out, indent=1) + "\n")


def make_rng_fixtures():
    arrays, index = {}, []
    for case in RNG_CASES:
        scope = {"torch": torch, "F": F}
        exec(case["code"], scope)  # noqa: S102
        results = scope["out"]
        for k, value in enumerate(results):
            arrays[f"{case['name']}|{k}"] = value.numpy()
        index.append({"name": case["name"], "count": len(results)})
    np.savez_compressed(FIXTURES / "rng.npz", **arrays)
    (FIXTURES / "rng.json").write_text(json.dumps(index, indent=1) + "\n")


def make_training_fixture():
    """The makemore lecture's neural bigram loop, run by PyTorch on names.txt."""
    record = {"losses": lecture.training_losses(torch),
              "note": "losses[k] is the loss after k updates", "torch": torch.__version__}
    (FIXTURES / "training.json").write_text(json.dumps(record, indent=1) + "\n")


def main():
    FIXTURES.mkdir(parents=True, exist_ok=True)
    torch.set_printoptions(profile="default")
    make_op_fixtures()
    make_repr_fixtures()
    make_rng_fixtures()
    make_training_fixture()
    print(f"fixtures written to {FIXTURES} with torch {torch.__version__}")


if __name__ == "__main__":
    main()
