"""Seeded randomness against PyTorch 2.13's CPU generator (fixtures in tests/fixtures/rng.*).

Integers, uniforms, permutations and multinomial draws must be bit-identical;
randn within 2 units in the last place of float32 (it is in fact identical on
the machine the fixtures were made on).
"""

import json
from pathlib import Path

import numpy as np
import pytest
from engine_cases import RNG_CASES
from hypothesis import given, settings
from hypothesis import strategies as st

import bigram.tensor as torch
import bigram.tensor.functional as F
from bigram.tensor.random import fisher_yates

FIXTURES = Path(__file__).parent / "fixtures"
ARRAYS = np.load(FIXTURES / "rng.npz")
COUNTS = {c["name"]: c["count"] for c in json.loads((FIXTURES / "rng.json").read_text())}


def ulp_distance(a, b):
    a32, b32 = np.asarray(a, np.float32), np.asarray(b, np.float32)
    ia, ib = a32.view(np.int32).astype(np.int64), b32.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    return np.abs(ia - ib)


@pytest.mark.parametrize("case", RNG_CASES, ids=[c["name"] for c in RNG_CASES])
def test_stream_matches_torch(case):
    scope = {"torch": torch, "F": F}
    exec(case["code"], scope)  # noqa: S102 - fixed case code
    results = scope["out"]
    assert len(results) == COUNTS[case["name"]]
    for k, ours in enumerate(results):
        expected = ARRAYS[f"{case['name']}|{k}"]
        got = ours.numpy()
        assert got.shape == expected.shape and got.dtype == expected.dtype, k
        if got.dtype == np.float32 and "randn" in case["code"] and not np.array_equal(got, expected):
            assert ulp_distance(got, expected).max() <= 2, k
        else:
            assert np.array_equal(got, expected), f"result {k} of {case['name']}"


def test_issue_example_holds():
    g = torch.Generator().manual_seed(2147483647)
    p = torch.rand(3, generator=g)
    p = p / p.sum()
    assert repr(p) == "tensor([0.6064, 0.3033, 0.0903])"
    drawn = torch.multinomial(p, num_samples=20, replacement=True, generator=g)
    assert drawn.tolist() == [1, 1, 2, 0, 0, 2, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1]


def test_manual_seed_returns_generator_and_resets_stream():
    g = torch.Generator()
    assert g.manual_seed(5) is g
    first = torch.rand(4, generator=g)
    g.manual_seed(5)
    assert torch.equal(first, torch.rand(4, generator=g))
    assert g.initial_seed() == 5
    assert torch.Generator().initial_seed() == 67280421310721


def test_get_and_set_state_replay_the_stream():
    g = torch.Generator().manual_seed(11)
    torch.randn(5, generator=g)  # leaves a cached normal in the state
    state = g.get_state()
    a = torch.randn(7, generator=g)
    g.set_state(state)
    assert torch.equal(a, torch.randn(7, generator=g))


def fisher_yates_loop(words, n):
    """ATen's loop, written out plainly: the independent reference."""
    r = list(range(n))
    for i in range(n - 1):
        z = int(words[i]) % (n - i)
        r[i], r[i + z] = r[i + z], r[i]
    return r


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 300), st.integers(0, 2 ** 32 - 1))
def test_vectorised_fisher_yates_equals_the_loop(n, seed):
    words = np.random.default_rng(seed).integers(0, 2 ** 32, max(n - 1, 0), dtype=np.uint64)
    assert fisher_yates(words, n).tolist() == fisher_yates_loop(words, n)


def test_vectorised_fisher_yates_on_adversarial_words():
    # All-zero words make every step a no-op swap; words = n-i-1 make every step swap far.
    n = 50
    zeros = np.zeros(n - 1, dtype=np.uint64)
    far = (n - np.arange(n - 1) - 1).astype(np.uint64)
    assert fisher_yates(zeros, n).tolist() == fisher_yates_loop(zeros, n)
    assert fisher_yates(far, n).tolist() == fisher_yates_loop(far, n)
