"""engine.run's contract: explicit rows first, then draws; what a sink, progress and with_full
receive; and one clear error for a run that cannot be described."""

import numpy as np
import pytest

from swjax import engine, resample
from swjax.analysis import prepare
from swjax.errors import SwjaxError


@pytest.fixture(scope="module")
def chat_problem():
    p, _ = prepare("chat")
    return p


def test_rows_then_draws_with_and_without_a_sink(chat_problem):
    p = chat_problem
    m = p.caps.shape[0]
    jack = resample.jackknife_weights(m)
    draws = engine.Draws(resample.bootstrap_scheme(m), 70, resample.key_from_seed(5))
    full = engine.run(p, np.ones((1, m)), fields=None)
    ref = full.loadings[0]
    alone_rows = engine.run(p, jack, ref=ref, batch_size=16)
    alone_draws = engine.run(p, draws=draws, ref=ref, batch_size=16)
    both = engine.run(p, jack, draws=draws, ref=ref, batch_size=16)
    for f in both:
        assert len(both[f]) == m + 70
        np.testing.assert_array_equal(both[f][:m], alone_rows[f])
        np.testing.assert_array_equal(both[f][m:], alone_draws[f])

    got, counted = [], []
    rows = engine.run(p, jack, draws=draws, ref=ref, batch_size=16, sink=got.append, progress=counted.append)
    assert sum(counted) == 70  # progress counts the draws
    for f in rows:
        np.testing.assert_array_equal(rows[f], alone_rows[f])  # explicit rows come back
        np.testing.assert_array_equal(np.concatenate([g[f] for g in got]), alone_draws[f])  # draws, in order

    got = []
    assert engine.run(p, jack, ref=ref, batch_size=16, sink=got.append) is None  # rows only: all to the sink
    np.testing.assert_array_equal(np.concatenate([g["corr"] for g in got]), alone_rows["corr"])

    # with_full: the full sample's every field, and the rows aligned with its PC1 in the kernel.
    full_k, rows_k = engine.run(p, jack, draws=draws, with_full=True, batch_size=16)
    for f in full._fields:
        np.testing.assert_array_equal(getattr(full_k, f), getattr(full, f), err_msg=f)
    for f in rows_k:
        np.testing.assert_array_equal(rows_k[f], both[f], err_msg=f)


def test_runs_that_cannot_be_described_are_one_error(chat_problem):
    p = chat_problem
    m, k = p.caps.shape
    with pytest.raises(SwjaxError, match="no weight rows"):
        engine.run(p)
    with pytest.raises(SwjaxError, match="mask or masks"):
        engine.run(p, np.ones((1, m)), mask=np.ones(k), masks=np.ones((2, k)))
    with pytest.raises(SwjaxError, match="with_full"):
        engine.run(p, np.ones((1, m)), ref=np.ones(k), with_full=True)
    with pytest.raises(SwjaxError, match="one mask per row"):
        engine.run(p, np.ones((3, m)), mask=np.ones((2, k)))


def test_a_run_returns_what_it_decided(chat_problem):
    """with_decision: the same numbers, and the batch size, devices and chunks the run used
    (here the one rule's), so that callers need not derive them again."""
    import jax

    p = chat_problem
    m = p.caps.shape[0]
    cpu = jax.devices("cpu")
    draws = engine.Draws(resample.bootstrap_scheme(m), 40, resample.key_from_seed(3))
    plain = engine.run(p, np.ones((3, m)), draws=draws, fields=("corr",), device="cpu")
    got, decided = engine.run(p, np.ones((3, m)), draws=draws, fields=("corr",), device="cpu", with_decision=True)
    np.testing.assert_array_equal(got["corr"], plain["corr"])
    assert decided.batch_size == engine.default_batch_size(p, 43, cpu[0]) == 64
    assert decided.units == 43 and not decided.stacked
    assert decided.device == cpu[0] and decided.devices == tuple(cpu)
    assert decided.per_chunk == 64 * len(cpu) and decided.chunks == -(-43 // decided.per_chunk)
