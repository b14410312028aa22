"""torch.set_num_threads / get_num_threads, applied to the BLAS under numpy."""

import numpy as np
import pytest

import bigram.tensor as torch


def test_set_num_threads_is_what_get_num_threads_reports():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert torch.get_num_threads() == 1
        a = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
        np.testing.assert_allclose((a @ a).numpy(), a.numpy() @ a.numpy(), rtol=1e-6)
    finally:
        torch.set_num_threads(before)
    assert torch.get_num_threads() == before


def test_set_num_threads_needs_a_positive_count():
    with pytest.raises(RuntimeError, match="positive"):
        torch.set_num_threads(0)
