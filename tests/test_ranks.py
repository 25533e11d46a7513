"""The sort-based rank path gives the comparison path's numbers exactly."""

import numpy as np
import pandas as pd
import pytest

from swjax import engine, ranks, resample
from swjax.core import statistic
from swjax.data import Dataset
from swjax.problem import build_problem, comparisons, stack_problems


def tied_dataset(seed, m=30, p=14):
    """Scores on a coarse grid (many ties), some missing values, a column with -0.0 and 0.0."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 6, size=(m, p)).astype(float) / 5
    x[rng.random((m, p)) < 0.1] = np.nan
    x[:, :4] = rng.integers(0, 8, size=(m, 4))  # capabilities: complete, tied
    x[::3, 5] = -0.0
    names = [f"b{j}" for j in range(p)]
    df = pd.DataFrame(x, index=[f"m{i}" for i in range(m)], columns=names)
    return Dataset(label=f"tied{seed}", scores=df, meta=pd.DataFrame(index=df.index),
                   info=pd.DataFrame(columns=["name", "metric"]))


def test_sort_tables_reproduce_comparisons():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(7, 25)).astype(float)
    x[rng.random(x.shape) < 0.2] = np.nan
    order, lo, hi = ranks.sort_tables(x)
    v = rng.integers(0, 4, 25).astype(np.float32)
    got = np.asarray(ranks.column_ranks(order, lo, hi, v))
    want = comparisons(x, np.float32) @ v
    np.testing.assert_array_equal(got, want)


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("against", [None, "b6"])
def test_sort_path_equals_compare_path(seed, against):
    ds = tied_dataset(seed)
    caps = ["b0", "b1", "b2", "b3"]
    pc, lay = build_problem(ds, caps, against, drop_degenerate=False, ranks="compare")
    ps, _ = build_problem(ds, caps, against, drop_degenerate=False, ranks="sort")
    assert pc.rank_path == "compare" and ps.rank_path == "sort" and ps.cmp is None
    m, k = len(lay.models), len(caps)
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 4, size=(40, m))  # integer weights: copies tie exactly
    w[0] = 1
    masks = np.ones((len(w), k))
    masks[1::3, 0] = 0  # one mask per row, some without the first capability
    a = engine.run(pc, w, mask=masks, fields=None)
    b = engine.run(ps, w, mask=masks, fields=None)
    for name, x, y in zip(a._fields, a, b):
        np.testing.assert_array_equal(x, y, err_msg=name)
    key = resample.key_from_seed(seed)
    draws = engine.Draws(resample.bootstrap_scheme(m), 300, key)
    ra = engine.run(pc, draws=draws, ref=a.loadings[0])
    rb = engine.run(ps, draws=draws, ref=a.loadings[0])
    for f in ra:
        np.testing.assert_array_equal(ra[f], rb[f], err_msg=f)


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_tied_scores_tie_exactly_on_sort_path():
    ds = tied_dataset(3)
    ps, lay = build_problem(ds, ["b0", "b1", "b2", "b3"], drop_degenerate=False, ranks="sort")
    m = len(lay.models)
    w = np.zeros(m, np.float32)
    w[:6] = 3  # three copies each: equal scores must get equal mid-ranks
    s = statistic(ps, w, np.ones(4))
    pc, _ = build_problem(ds, ["b0", "b1", "b2", "b3"], drop_degenerate=False, ranks="compare")
    np.testing.assert_array_equal(s.corr, statistic(pc, w, np.ones(4)).corr)


def test_automatic_switch(monkeypatch):
    ds = tied_dataset(0)
    p, _ = build_problem(ds, ["b0", "b1", "b2", "b3"], drop_degenerate=False)
    assert p.rank_path == "compare"
    monkeypatch.setattr(ranks, "COMPARE_BUDGET_BYTES", 1000)
    p, _ = build_problem(ds, ["b0", "b1", "b2", "b3"], drop_degenerate=False)
    assert p.rank_path == "sort" and p.order.shape == p.obs.shape


def test_sort_problems_stack():
    ps = [build_problem(tied_dataset(s), ["b0", "b1", "b2", "b3"], drop_degenerate=False, ranks="sort")[0]
          for s in (0, 1)]
    stacked = stack_problems(ps)
    assert stacked.cmp is None and stacked.order.shape == (2,) + ps[0].order.shape


def test_bad_rank_path():
    from swjax.errors import SwjaxError

    with pytest.raises(SwjaxError, match="ranks"):
        build_problem(tied_dataset(0), ["b0", "b1"], ranks="fast")


def test_exclusive_cumsum_and_target_ranks_against_plain_numpy():
    """The blocked cumulative sum and the score's ranks from integer order keys, at sizes around
    the block boundaries, against numpy's cumsum and the comparison matrix built in float64."""
    import jax.numpy as jnp

    rng = np.random.default_rng(5)
    for m in (1, 7, 8, 9, 63, 64, 65, 700):
        v = rng.integers(0, 5, (3, m)).astype(np.float32)
        want = np.concatenate([np.zeros((3, 1)), np.cumsum(v, axis=1)], axis=1)
        np.testing.assert_array_equal(np.asarray(ranks._exclusive_cumsum(jnp.asarray(v))), want)
        y = np.round(rng.normal(size=m), 1).astype(np.float32)
        y[::5] = -0.0  # equal to 0.0
        y[m // 2] = np.nan
        u = rng.integers(0, 4, (2, m)).astype(np.float32)
        u[:, m // 2] = 0  # a missing target has no weight
        yy = y.astype(np.float64)
        cmp = (yy[None, :] < yy[:, None]) + 0.5 * (yy[None, :] == yy[:, None])
        np.testing.assert_array_equal(np.asarray(ranks.target_ranks(jnp.asarray(y), jnp.asarray(u))), u @ cmp.T)
        fin = np.isfinite(yy)
        groups = np.asarray(ranks.tie_groups(jnp.asarray(y)))[fin]
        np.testing.assert_array_equal(groups, (yy[None, fin] < yy[fin, None]).sum(axis=1))


def test_order_keys_sort_like_the_floats():
    import jax.numpy as jnp

    x = np.array([-np.inf, -3.5, -1e-30, -0.0, 0.0, 1e-30, 2.0, np.inf, np.nan], np.float32)
    keys = np.asarray(ranks.order_keys(jnp.asarray(x)))
    assert keys.dtype == np.int32
    assert np.all(np.diff(keys[[0, 1, 2, 3, 5, 6, 7, 8]]) > 0) and keys[3] == keys[4]


@pytest.mark.slow  # two compilations of a 300-model problem
def test_sort_path_same_bits_for_every_batch_size():
    """Float sums over hundreds of models are no longer exact, but a resample's numbers still do
    not depend on the chunk it runs in."""
    rng = np.random.default_rng(3)
    m = 300
    x = np.round(rng.normal(size=(m, 1)) + rng.normal(size=(m, 8)), 2)
    x[:, 5:][rng.random((m, 3)) < 0.1] = np.nan
    df = pd.DataFrame(x, index=[f"m{i}" for i in range(m)], columns=[f"b{j}" for j in range(8)])
    ds = Dataset(label="big", scores=df, meta=pd.DataFrame(index=df.index), info=pd.DataFrame(columns=["name", "metric"]))
    p, _ = build_problem(ds, ["b0", "b1", "b2", "b3", "b4"], drop_degenerate=False)
    assert p.rank_path == "sort"
    draws = engine.Draws(resample.bootstrap_scheme(m), 40, resample.key_from_seed(1))
    a = engine.run(p, draws=draws, fields=None, batch_size=8)
    b = engine.run(p, draws=draws, fields=None, batch_size=64)
    for name, x, y in zip(a._fields, a, b):
        np.testing.assert_array_equal(x, y, err_msg=name)
