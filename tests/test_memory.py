"""Streaming the distribution to disk gives the in-memory results exactly."""

import pytest

import numpy as np
import pandas as pd

import swjax


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_stream_to_disk_equals_in_memory(tmp_path):
    a = swjax.bootstrap("chat", n=700, seed=4, batch_size=64, eigenvalues=True)
    b = swjax.bootstrap("chat", n=700, seed=4, batch_size=64, stream_to=tmp_path / "chat.f32", eigenvalues=True)
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=True)
    assert isinstance(b.distribution, np.memmap)
    np.testing.assert_array_equal(a.distribution, b.distribution)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)


@pytest.mark.parametrize("method", ["bca", pytest.param("percentile", marks=pytest.mark.slow)])
def test_summary_blocks_do_not_change_the_numbers(monkeypatch, method):
    """Intervals, SE and bias from 3 columns at a time equal those from one block of all, and
    the in-memory distribution equals the statistic's own resamples (scipy-free: the values)."""
    from swjax import streaming

    whole = swjax.bootstrap("chat", n=300, seed=1, method=method)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 0)
    monkeypatch.setattr(streaming, "BLOCK_COLUMNS", 3)
    assert streaming.block_columns(300) == 3
    blocks = swjax.bootstrap("chat", n=300, seed=1, method=method)
    pd.testing.assert_frame_equal(whole.table, blocks.table, check_exact=True)
    pd.testing.assert_frame_equal(whole.summary, blocks.summary, check_exact=True)
    np.testing.assert_array_equal(whole.distribution, blocks.distribution)
    # the SE column is the sample standard deviation of the kept distribution
    np.testing.assert_allclose(whole.table["se"], np.nanstd(whole.distribution.astype(np.float64), axis=0, ddof=1), rtol=1e-12)
