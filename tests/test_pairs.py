"""Columns of the main pair set as bilinear forms: the ranks' numbers, bit for bit."""

import jax
import numpy as np
import pytest

from swjax import core, engine
from swjax.problem import build_problem, comparisons, stack_problems

from .test_ranks import tied_dataset

CAPS = ["b0", "b1", "b2", "b3"]


def _centred_ranks(x, u):
    """Weighted mid-ranks of ``x`` among the models with weight, centred, in float64."""
    c = comparisons(x, np.float64)
    return c @ u - u.sum() / 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tables_give_the_ranks_covariances_and_rank_variances(seed):
    ds = tied_dataset(seed)
    problem, lay = build_problem(ds, CAPS, drop_degenerate=False, dtype=np.float64)
    pairs = problem.pairs
    assert pairs is not None and len(pairs.groups) > 0  # the grid has ties
    m = len(lay.models)
    values = ds.scores.loc[list(lay.models), list(lay.columns)].to_numpy().T
    main = problem.patterns[int(pairs.main)] > 0
    rng = np.random.default_rng(seed)
    for _ in range(5):
        w = rng.integers(0, 5, m).astype(float)
        u = w * main
        g = u * rng.integers(-3, 4, m)
        with jax.enable_x64(True):
            va = np.asarray(core._tied_rank_variance(pairs, u, u.sum()))
        for row, j in enumerate(pairs.cols):
            r = _centred_ranks(np.where(main, values[j], np.nan), u)
            r = np.where(main, r, 0.0)
            sign = np.zeros((m, m))  # the antisymmetric S_j from its upper triangle
            sign[np.triu_indices(m, 1)] = pairs.sign[row]
            sign -= sign.T
            np.testing.assert_array_equal(np.where(main, sign @ u, 0.0), r)
            assert g @ sign @ w == pytest.approx(g @ r, abs=1e-9)
            assert va[row] == np.sum(u * r * r)


@pytest.mark.parametrize("x64", [False, True])
@pytest.mark.parametrize("against", [None, "b6"])
def test_pair_route_equals_rank_route_exactly(x64, against):
    ds = tied_dataset(3)
    with engine.precision(x64):
        problem, lay = build_problem(ds, CAPS, against, dtype=np.float64 if x64 else np.float32,
                                     drop_degenerate=False)
        assert problem.pairs is not None and len(problem.pairs.rest) > 0
        m, k = len(lay.models), len(CAPS)
        rng = np.random.default_rng(4)
        w = rng.integers(0, 4, size=(64, m)).astype(problem.caps.dtype)
        c = np.ones(k, problem.caps.dtype)

        def run(per_mask):
            def one(wi):
                state = core.weight_state(problem, wi, per_mask=per_mask)
                return core.finish(problem, state, wi, c)

            return jax.jit(jax.vmap(one))(w)

        a, b = run(False), run(True)
    assert a.corr.shape == (64, len(lay.columns))
    for name, x, y in zip(a._fields, a, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=name)


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_stacking_keeps_pairs_of_one_shape_and_drops_them_otherwise():
    a, lay = build_problem(tied_dataset(0), CAPS, drop_degenerate=False)
    b, _ = build_problem(tied_dataset(1), CAPS, drop_degenerate=False)
    same = [a, a._replace(pairs=a.pairs._replace(groups=a.pairs.groups[:3], owner=a.pairs.owner[:3]))]
    stacked = stack_problems(same)
    assert stacked.pairs is not None
    assert stacked.pairs.groups.shape == (2, len(a.pairs.groups), len(lay.models))
    assert not stacked.pairs.groups[1, 3:].any()  # padded with empty groups
    assert a.pairs.cols.shape != b.pairs.cols.shape
    assert stack_problems([a, b]).pairs is None  # the ranks of every column instead
    m, k = len(lay.models), len(CAPS)
    w = np.random.default_rng(0).integers(0, 3, size=(8, m))
    c, _ = build_problem(tied_dataset(2), CAPS, drop_degenerate=False)
    for pair in ([a, b], [a, c]):  # without pairs, and with them (main pair sets of one size)
        both = stack_problems(pair)
        assert (both.pairs is None) == (pair[1] is b)
        got = engine.run(both, w, fields=("corr",))
        for i, p in enumerate(pair):
            want = engine.run(p, w, fields=("corr",))
            np.testing.assert_array_equal(got["corr"][i], want["corr"])
