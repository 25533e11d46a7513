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
