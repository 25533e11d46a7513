"""The capability measures (``score=``) against independent references written here.

Each reference is numpy/scipy on the data with every model repeated as often as its weight
says, from the measure's definition in docs/scores.md: ``numpy.corrcoef`` and ``numpy.linalg.eigh``
for ``pearson``, a row mean for ``mean-z``, ``log10`` of the FLOP column for ``compute``, and for
``irt`` a fit of the two-parameter logistic likelihood by ``scipy.optimize.minimize`` (BFGS with
its analytic gradient), with no swjax code. Correlations with the score are
``scipy.stats.spearmanr`` over the models that have both (pairwise-complete).
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

import swjax
from swjax import engine
from swjax.data import PAPER_CAPABILITIES as CAPS
from swjax.data import Dataset
from swjax.errors import SwjaxError
from swjax.problem import build_problem

MEASURES = ["pearson", "mean-z", "irt", "compute"]
#: Correlations: float64 to 1e-9, float32 to 1e-5. Scores: the same, except irt's abilities,
#: which come from an optimizer (1e-4 against scipy's).
TOL = {True: 1e-9, False: 1e-5}


# ------------------------------------------------------------------ references


def zscores(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=0)) / x.std(axis=0, ddof=0)


def released_sign(v: np.ndarray) -> np.ndarray:
    """Largest-magnitude loading positive (ties within 1e-5: the first of them)."""
    tied = np.flatnonzero(np.abs(v) >= np.abs(v).max() - 1e-5)
    return v if v[tied[0]] >= 0 else -v


def irt_fit(y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Abilities of the 2PL model ``P = sigmoid(a_b C_i + beta_b)`` maximizing the weighted
    fractional-logit likelihood of responses ``y`` (m, k) in (0, 1), NaN cells left out; then
    weighted mean 0, sd 1 (ddof 0) and a positive sum of discriminations."""
    m, k = y.shape
    w = np.ones(m) if w is None else np.asarray(w, np.float64)
    obs = np.isfinite(y)
    yy = np.where(obs, y, 0.0)
    cell = w[:, None] * obs

    def nll(p):
        th, a, b = p[:m], p[m:m + k], p[m + k:]
        eta = th[:, None] * a[None, :] + b[None, :]
        ll = yy * eta - np.logaddexp(0.0, eta)
        r = cell * (special.expit(eta) - yy)
        return -np.sum(cell * ll), np.concatenate([r @ a, th @ r, r.sum(axis=0)])

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # masked (all-missing) columns
        start = np.nanmean(np.where(obs, (y - np.nanmean(y, 0)) / np.nanstd(y, 0), np.nan), axis=1)
    p0 = np.concatenate([start, np.ones(k), np.zeros(k)])
    res = optimize.minimize(nll, p0, jac=True, method="BFGS", options=dict(gtol=1e-10, maxiter=50000))
    grad = nll(res.x)[1]
    assert np.abs(grad).max() < 1e-6, (res.message, np.abs(grad).max())  # a stationary point
    th, a = res.x[:m], res.x[m:m + k]
    mu = w @ th / w.sum()
    th = (th - mu) / np.sqrt(w @ (th - mu) ** 2 / w.sum())
    return -th if a.sum() < 0 else th


def responses(x: np.ndarray, m: int) -> np.ndarray:
    """Scores onto [0, 1] by each column's observed min and max, squeezed by (u (m-1) + 1/2) / m."""
    u = (x - np.nanmin(x, axis=0)) / (np.nanmax(x, axis=0) - np.nanmin(x, axis=0))
    return (u * (m - 1) + 0.5) / m


def reference(scores: pd.DataFrame, caps, measure: str, flop: pd.Series | None = None, w=None) -> dict:
    """(score per model, correlation per benchmark) of ``measure`` on ``scores`` with model i
    repeated w_i times; models missing a capability left out, as the paper does."""
    scores = scores.loc[scores[list(caps)].notna().all(axis=1)]
    m = len(scores)
    w = np.ones(m, int) if w is None else np.asarray(w, int)
    rows = np.repeat(np.arange(m), w)
    rep = scores.iloc[rows]
    x = rep[list(caps)].to_numpy(np.float64)
    z = zscores(x)
    if measure == "pearson":
        _, vecs = np.linalg.eigh(np.corrcoef(z, rowvar=False))
        score = (z * released_sign(vecs[:, -1])).sum(axis=1)
    elif measure == "mean-z":
        score = z.mean(axis=1)
    elif measure == "compute":
        score = np.log10(flop.reindex(rep.index).to_numpy(np.float64))
    elif measure == "irt":
        # Responses scaled over the analysed models (all of them, whatever the weights), then
        # fitted on the weighted models: weights, not copies, so each model has one ability.
        y = responses(scores[list(caps)].to_numpy(np.float64), m)
        # Models with identical scores (copies) share one ability: fitted once, weights summed.
        keep = w > 0
        uniq, inv = np.unique(y[keep], axis=0, return_inverse=True)
        th = np.full(m, np.nan)
        th[keep] = irt_fit(uniq, np.bincount(inv.ravel(), weights=w[keep]))[inv.ravel()]
        score = th[rows]
    target = pd.Series(score, index=rep.index)
    corr = {}
    for col in scores.columns:
        pair = pd.DataFrame({"a": rep[col].to_numpy(), "b": target.to_numpy()}).dropna()
        ok = pair.a.nunique() > 1 and pair.b.nunique() > 1 and len(pair) >= 3
        corr[col] = stats.spearmanr(pair.a, pair.b).statistic if ok else np.nan
    per_model = pd.Series(score, index=rep.index).groupby(level=0).first().reindex(scores.index)
    return dict(score=per_model, corr=pd.Series(corr))


def flop_of(ds: Dataset) -> pd.Series:
    return ds.meta["FLOP"].astype(np.float64)


# ------------------------------------------------------------------ point estimates, public sets


def check_analysis(a, ref: dict, x64: bool, measure: str, score_tol=None):
    tol = TOL[x64]
    got = a.correlations
    want = ref["corr"][got.index]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got.fillna(0), want.fillna(0), rtol=0, atol=tol, err_msg=measure)
    s_tol = tol if score_tol is None else score_tol
    want_s = ref["score"][a.scores.index]
    np.testing.assert_array_equal(np.isnan(a.scores), np.isnan(want_s))
    np.testing.assert_allclose(a.scores.fillna(0), want_s.fillna(0), rtol=s_tol, atol=s_tol, err_msg=measure)


@pytest.mark.parametrize("x64", [True, False])
@pytest.mark.parametrize("name", ["chat", "base"])
@pytest.mark.parametrize("measure", MEASURES)
def test_public_sets_match_reference(name, measure, x64, request):
    ds = request.getfixturevalue(name)
    ref = reference(ds.scores, CAPS, measure, flop_of(ds))
    if measure == "irt":  # ranks decide the correlations: the abilities must not nearly tie
        gaps = np.diff(np.sort(ref["score"].to_numpy()))
        assert gaps.min() > 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = swjax.analyze(ds, score=measure, x64=x64)
    check_analysis(a, ref, x64, measure, score_tol=1e-4 if measure == "irt" else None)


def test_paper_problem_is_todays(chat):
    """The paper's measure adds nothing to the problem: the same arrays, the same program."""
    a, b = build_problem(chat)[0], build_problem(chat, score="paper")[0]
    assert a.measure is None and b.measure is None
    for x, y in zip(a, b):
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y)
    assert set(build_problem(chat, score="mean-z")[0].measure) == {"mean-z"}


def test_paper_is_the_default_bit_for_bit(chat):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = swjax.analyze(chat), swjax.analyze(chat, score="paper")
    np.testing.assert_array_equal(a.correlations, b.correlations)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert build_problem(chat)[0].measure is None


def test_pearson_reports_its_own_matrix(chat):
    """Under pearson, the capability matrix, PC1 and variance explained are the Pearson matrix's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = swjax.analyze(chat, score="pearson", x64=True)
    x = chat.scores[list(CAPS)].dropna().to_numpy(np.float64)
    r = np.corrcoef(x, rowvar=False)
    vals, vecs = np.linalg.eigh(r)
    np.testing.assert_allclose(a.capability_matrix.to_numpy(), r, atol=1e-12)
    np.testing.assert_allclose(a.loadings.to_numpy(), released_sign(vecs[:, -1]), atol=1e-10)
    assert a.variance_explained == pytest.approx(vals[-1] / len(CAPS), abs=1e-12)


# ------------------------------------------------------------------ random matrices, weights, no jit


def random_dataset(seed: int, m: int = 14, k: int = 4, s: int = 3) -> tuple[Dataset, list[str]]:
    """A common factor, coarse (tied) scores in one column, missing cells in the others, FLOP
    unknown for some models."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=m)
    x = f[:, None] * rng.uniform(0.8, 1.5, k + s) + rng.normal(size=(m, k + s))
    x[:, k] = np.round(x[:, k])
    x[1] = x[0]  # a copy of a model: its scores must tie exactly
    x[:, k + 1:][rng.random((m, s - 1)) < 0.2] = np.nan
    idx = [f"m{i}" for i in range(m)]
    caps = [f"cap{j}" for j in range(k)]
    df = pd.DataFrame(x, index=idx, columns=caps + [f"other{j}" for j in range(s)])
    flop = 10 ** (22 + 2 * f + 0.3 * rng.normal(size=m))
    flop[rng.choice(m, 3, replace=False)] = np.nan
    meta = pd.DataFrame({"FLOP": flop}, index=idx)
    return Dataset("random", df, meta, pd.DataFrame(columns=["name", "metric"])), caps


def rows_of(problem, stats, layout, r: int):
    nb = layout.n_benchmarks
    corr = pd.Series(stats.corr[r][:nb].astype(np.float64), index=list(layout.columns[:nb]))
    score = pd.Series(stats.score[r].astype(np.float64), index=list(layout.models))
    return corr, score


@pytest.mark.parametrize("jit", [True, False])
@pytest.mark.parametrize("measure", MEASURES)
def test_weighted_rows_match_reference_compiled_and_not(measure, jit):
    """Bootstrap-like integer weights (the analysis of the data with rows repeated), both dtypes,
    through the engine compiled and under ``jax.disable_jit``."""
    ds, caps = random_dataset(3)
    m = len(ds.scores)
    rng = np.random.default_rng(7)
    w = np.array([np.ones(m, int), rng.multinomial(m, np.full(m, 1 / m))])
    for x64 in (True, False):
        with engine.precision(x64):
            problem, layout = build_problem(ds, caps, dtype=np.float64 if x64 else np.float32, score=measure)
            if jit:
                stats = engine.run(problem, w, fields=None)
            else:
                with jax.disable_jit():
                    stats = engine.run(problem, w, fields=None)
        for r in range(len(w)):
            ref = reference(ds.scores, caps, measure, flop_of(ds), w[r])
            corr, score = rows_of(problem, stats, layout, r)
            keep = w[r] > 0
            tol = TOL[x64]
            want = ref["corr"][corr.index]
            np.testing.assert_array_equal(np.isnan(corr), np.isnan(want), err_msg=f"{measure} row {r}")
            np.testing.assert_allclose(corr.fillna(0), want.fillna(0), rtol=0, atol=tol, err_msg=f"{measure} row {r}")
            if measure != "compute":  # (FLOP differs) copies of a model tie exactly
                assert score["m0"] == score["m1"], (measure, r)
            s_tol = 1e-4 if measure == "irt" else tol
            np.testing.assert_allclose(score[keep], ref["score"][keep], rtol=s_tol, atol=s_tol,
                                       err_msg=f"{measure} row {r}")


# ------------------------------------------------------------------ irt on a sparse matrix


def test_irt_sparse_matrix_matches_scipy():
    """Missing cells are simply absent from the likelihood: the kernel's fit on a matrix with
    a quarter of its cells missing, and weights, equals scipy's, in both dtypes."""
    from swjax import scores

    rng = np.random.default_rng(11)
    m, k = 30, 6
    theta = rng.normal(size=m)
    a, d = rng.uniform(0.7, 2.0, k), rng.normal(scale=0.8, size=k)
    y = special.expit(a * (theta[:, None] - d) + 0.3 * rng.normal(size=(m, k)))
    y[rng.random((m, k)) < 0.25] = np.nan
    w = rng.integers(1, 4, m).astype(np.float64)
    c = np.ones(k)
    c[2] = 0  # a masked benchmark is absent too
    want = irt_fit(np.where(c > 0, y, np.nan), w)
    start = np.nanmean(y, axis=1)
    for dtype, tol in ((np.float64, 1e-4), (np.float32, 1e-4)):
        with engine.precision(dtype == np.float64):
            got = np.asarray(scores.irt_abilities(*(np.asarray(v, dtype) for v in (y, w, c, start))))
        np.testing.assert_allclose(got, want, rtol=0, atol=tol, err_msg=str(dtype))


def test_irt_with_missing_capability_scores_through_the_api(chat):
    """``missing="impute"`` keeps the models lacking capability scores; the irt score reads only
    their observed cells (no imputation enters it)."""
    rng = np.random.default_rng(5)
    sc = chat.scores.copy()
    cap = sc[list(CAPS)].to_numpy().copy()
    cap[rng.random(cap.shape) < 0.06] = np.nan
    sc[list(CAPS)] = cap
    ds = Dataset("holed", sc, chat.meta, chat.info)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = swjax.analyze(ds, score="irt", missing="impute", x64=True)
    x = sc.loc[list(a.scores.index), list(CAPS)].to_numpy(np.float64)
    assert np.isnan(x).any(axis=1).sum() >= 3
    want = irt_fit(responses(x, len(x)))
    np.testing.assert_allclose(a.scores.to_numpy(), want, rtol=0, atol=1e-4)


# ------------------------------------------------------------------ bootstrap runs, checks


@pytest.mark.parametrize("measure", MEASURES)
def test_bootstrap_runs_with_each_measure(chat, measure):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = swjax.bootstrap(chat, n=40, seed=2, score=measure)
        a = swjax.analyze(chat, score=measure)
    table = res.table.loc[list(a.correlations.index)]
    np.testing.assert_array_equal(table["estimate"].to_numpy(np.float32), a.correlations.to_numpy(np.float32))
    row = table.loc["MT_Bench"]
    assert np.isfinite(row["low"]) and row["low"] <= row["estimate"] <= row["high"], row
    assert res.metadata["score"] == measure
    dist = res.distribution_frame()["MT_Bench"].to_numpy()
    assert np.isfinite(dist).mean() > 0.9 and np.nanstd(dist) > 0


def test_score_errors_are_one_line(chat):
    with pytest.raises(SwjaxError, match=r"score: expected one of paper, pearson, mean-z, irt, compute, got 'pca'"):
        swjax.analyze(chat, score="pca")
    no_flop = Dataset("noflop", chat.scores, chat.meta.drop(columns=["FLOP"]), chat.info)
    with pytest.raises(SwjaxError, match=r"score: 'compute' needs training FLOP per model"):
        swjax.analyze(no_flop, score="compute")
    meta = chat.meta.copy()
    meta.loc[meta.index[0], "FLOP"] = -1.0
    with pytest.raises(SwjaxError, match=r"score: 'compute' needs positive FLOP"):
        swjax.analyze(Dataset("bad", chat.scores, meta, chat.info), score="compute")


@pytest.mark.parametrize("measure", ["pearson", "irt"])
def test_capability_masks_leave_benchmarks_out_of_the_measure(measure):
    """Crossed capability masks (leave one benchmark out) under weight rows: each mask's numbers
    are the reference's on the data without that benchmark (the measure reads only kept ones)."""
    ds, caps = random_dataset(5, m=12, k=4, s=2)
    m, k = len(ds.scores), len(caps)
    w = np.array([np.ones(m, int), np.random.default_rng(2).multinomial(m, np.full(m, 1 / m))])
    masks = 1 - np.eye(k, dtype=np.int32)
    with engine.precision(True):
        problem, layout = build_problem(ds, caps, dtype=np.float64, score=measure)
        stats = engine.run(problem, w, masks=masks, fields=None)
    nb = layout.n_benchmarks
    for r in range(len(w)):
        for j in range(k):
            kept = [c for i, c in enumerate(caps) if i != j]
            ref = reference(ds.scores, kept, measure, flop_of(ds), w[r])
            got = pd.Series(stats.corr[r, j][:nb], index=list(layout.columns[:nb]))
            want = ref["corr"][got.index]
            np.testing.assert_allclose(got.fillna(0), want.fillna(0), rtol=0, atol=1e-9, err_msg=f"row {r}, mask {j}")


def test_stacked_problems_keep_their_measure():
    """Same-shaped datasets stack with their measure's data; different measures do not stack."""
    from swjax.problem import stack_problems

    (a, _), (b, _) = (build_problem(random_dataset(s)[0], random_dataset(s)[1], score="irt") for s in (1, 2))
    stacked = stack_problems([a, b])
    assert set(stacked.measure) == {"irt"}
    np.testing.assert_array_equal(stacked.measure["irt"], np.stack([a.measure["irt"], b.measure["irt"]]))
    assert set(stack_problems([a._replace(measure={"mean-z": None})] * 2).measure) == {"mean-z"}
    with pytest.raises(SwjaxError, match="different capability measures"):
        stack_problems([a, a._replace(measure=None)])



# ------------------------------------------------------------------ irt's stopping rule


def test_irt_reaches_the_optimum_where_plain_sweeps_crawl(base):
    """A bootstrap resample of the base set with 30 % of its capability cells removed, where 60
    plain alternating sweeps stopped 0.037 from the optimum: the accelerated fit equals scipy's
    (float64 to 1e-6, float32 to 1e-4)."""
    from swjax import scores

    x = base.scores[list(CAPS)].to_numpy(np.float64).copy()
    x[np.random.default_rng(5).random(x.shape) < 0.3] = np.nan
    y = scores.irt_responses(x)
    w = np.array([2, 0, 2, 1, 1, 1, 0, 3, 1, 0, 0, 0, 0, 0, 1, 3, 2, 2, 0, 1, 1, 0, 0, 0, 1, 3, 2], float)
    assert len(w) == len(y)
    cz = np.nan_to_num(x - np.nanmean(x, axis=0))
    mean = w @ cz / w.sum()
    start = ((cz - mean) / np.sqrt(w @ (cz - mean) ** 2 / w.sum())).mean(axis=1)
    keep = w > 0
    want = irt_fit(y[keep], w[keep])
    for x64, tol in ((True, 1e-6), (False, 1e-4)):
        dtype = np.float64 if x64 else np.float32
        with engine.precision(x64):
            got = np.asarray(jax.jit(scores.irt_abilities)(*(np.asarray(v, dtype) for v in (y, w, np.ones(len(CAPS)), start))))
        np.testing.assert_allclose(got[keep], want, rtol=0, atol=tol, err_msg=str(dtype))


@pytest.mark.slow  # compiled fits of twelve resamples, accelerated and 1,000 plain sweeps, three matrices
def test_irt_stops_at_the_fixed_point_of_the_plain_sweeps():
    """The accelerated fit stops where the plain alternating sweeps arrive: its abilities equal
    those of all of 1,000 plain sweeps (no stopping rule; float64: to 1e-9; float32: to 2e-5), on
    bootstrap weights and masked benchmarks of the chat set, of a random matrix and of the base
    set with 30 % of its capability cells missing; and every fit stops by its rule, before
    :data:`swjax.scores.IRT_SWEEPS`."""
    from swjax import scores

    cases = [swjax.load_dataset("chat").scores[list(CAPS)].dropna().to_numpy(float)]
    ds, caps = random_dataset(4, m=20, k=5)
    cases.append(ds.scores[caps].to_numpy(float))
    sparse = swjax.load_dataset("base").scores[list(CAPS)].to_numpy(float).copy()
    sparse[np.random.default_rng(5).random(sparse.shape) < 0.3] = np.nan
    cases.append(sparse)
    rng = np.random.default_rng(5)
    for x in cases:
        y = scores.irt_responses(x)
        m, k = y.shape
        w = rng.multinomial(m, np.full(m, 1 / m), size=12).astype(float)
        c = np.ones((12, k))
        c[np.arange(0, 12, 2), rng.integers(0, k, 6)] = 0
        start = np.nan_to_num((x - np.nanmean(x, 0)) / np.nanstd(x, 0)).mean(1)
        for x64, tol in ((True, 1e-9), (False, 2e-5)):
            dtype = np.float64 if x64 else np.float32

            def fit(w, c, **kw):
                return scores.irt_fit(jax.numpy.asarray(y, dtype), w, c, start.astype(dtype), **kw)

            with engine.precision(x64):
                got, used = jax.jit(jax.vmap(fit))(w.astype(dtype), c.astype(dtype))
                plain, _ = jax.jit(jax.vmap(lambda w, c: fit(w, c, accelerate=False, sweeps=1000, tolerance=0.0)))(
                    w.astype(dtype), c.astype(dtype))
            keep = w > 0
            np.testing.assert_allclose(np.where(keep, got, 0), np.where(keep, plain, 0), rtol=0, atol=tol,
                                       err_msg=str(dtype))
            assert np.asarray(used).max() < scores.IRT_SWEEPS  # every fit stopped by its rule


@pytest.mark.slow  # three compiled bootstraps
def test_irt_resamples_do_not_depend_on_the_batch():
    """A batch runs until its slowest fit stops, each fit keeping its own last sweep: the same
    resamples in chunks of 7, 64 and the default are identical."""
    ds = swjax.load_dataset("chat")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = [swjax.bootstrap(ds, n=150, seed=3, score="irt", batch_size=b) for b in (7, 64, None)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.distribution, runs[0].distribution)
