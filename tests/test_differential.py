"""The compiled statistic against the independent reference, on random matrices of every shape.

Each example draws a matrix (5 to 60 models, 2 to 5 capability benchmarks, 1 to 4 others;
continuous or coarse scores with many ties, missing cells, copies of a model), a rank path
(comparison tensor or sort tables) and a set of integer weight rows: the full sample, bootstrap
counts, and rows that keep only 3 or 4 models. Every row is evaluated by the compiled engine in
float32 and float64 and compared, row by row, with :func:`tests.reference.reference` run by
pandas/scipy on the data with each model repeated as often as its weight says.

The statistic is discontinuous where two capabilities scores tie or where PC1 is not well
defined, and there the last bit decides; rows whose reference scores nearly tie (without being
copies of one capability row), whose PC1 has no clear gap, or whose loadings sit at the sign
rule's tie threshold are skipped, and the test insists that most rows are not.
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swjax import engine
from swjax.core import MIN_PAIRS, SIGN_TIE
from swjax.data import Dataset
from swjax.problem import build_problem

from .reference import reference

TOL = {np.float32: dict(corr=2e-5, score=2e-4, gap=1e-4, near=2e-5),
       np.float64: dict(corr=1e-9, score=1e-8, gap=1e-8, near=1e-11)}


def random_matrix(seed: int, m: int, k: int, s: int, style: str) -> pd.DataFrame:
    """Scores of m models on k capability and s other benchmarks with a common factor."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=m)
    x = f[:, None] * rng.uniform(0.8, 1.5, k + s)[None, :] + rng.normal(size=(m, k + s))
    x[:, k:] *= rng.choice([-1.0, 1.0], s)
    if style in ("ties", "mixed"):
        cols = np.arange(k + s) if style == "ties" else rng.choice(k + s, size=(k + s) // 2, replace=False)
        x[:, cols] = np.round(x[:, cols] * rng.choice([1.0, 2.0]))  # a handful of levels
    if rng.random() < 0.5 and m >= 8:  # copies of a model: identical rows
        i, j = rng.choice(m, 2, replace=False)
        x[j] = x[i]
    miss = rng.choice([0.0, 0.1, 0.3])
    x[:, k:][rng.random((m, s)) < miss] = np.nan
    if rng.random() < 0.3:  # a model without one capability score leaves the analysis
        x[rng.integers(m), rng.integers(k)] = np.nan
    cols = [f"cap{j}" for j in range(k)] + [f"other{j}" for j in range(s)]
    return pd.DataFrame(x, index=[f"m{i}" for i in range(m)], columns=cols)


def as_dataset(df: pd.DataFrame) -> Dataset:
    return Dataset(label="random", scores=df, meta=pd.DataFrame(index=df.index),
                   info=pd.DataFrame(columns=["name", "metric"]))


def weight_rows(rng, m: int) -> np.ndarray:
    """The full sample, 4 bootstrap resamples and 2 rows that keep only 3 or 4 models."""
    rows = [np.ones(m, int)]
    rows += [rng.multinomial(m, np.full(m, 1 / m)) for _ in range(4)]
    for size in (3, 4):
        w = np.zeros(m, int)
        w[rng.choice(m, size, replace=False)] = rng.integers(1, 3, size)
        rows.append(w)
    return np.array(rows)


def expected_row(df: pd.DataFrame, caps, w: np.ndarray, tol: dict, near_ties: bool = False):
    """The reference for weights ``w``, or None where the statistic is not well defined.

    ``near_ties``: rows whose distinct models have nearly tied scores are kept (with hundreds of
    models there always are some) and the third item returned is each column's allowance for
    them (:func:`near_tie_allowance`); otherwise such rows are skipped.
    """
    rep = df.loc[np.repeat(df.index.to_numpy(), w)]
    kept = df.index[w > 0]
    cap_vals = df.loc[kept, caps]
    if (cap_vals.nunique() < 2).any():
        return "invalid"  # a kept capability is constant among the drawn models: all NaN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = reference(rep, caps)
    # PC1 must be well defined and its sign rule unambiguous.
    ev = ref["eigenvalues"]
    a = np.abs(ref["loadings"].to_numpy())
    borderline = np.abs(a.max() - a - SIGN_TIE) < 1e-6  # the sign rule's tie test is a coin toss
    if ev[0] - ev[1] < 1e-3 * ev[0] or borderline.any():
        return None
    # Distinct capability rows must have clearly distinct scores.
    score = ref["scores"].groupby(level=0).first().reindex(kept)
    # With near_ties, the gap within which rounding might order two scores either way: some
    # ulps of the score for the float32 engine (10x the rounding of z-scores and PC1 at 4,500
    # models), not the conservative gap that skips rows.
    pairs = near_pairs(score.to_numpy(), cap_vals.to_numpy(), tol["near" if near_ties else "gap"])
    if len(pairs) and not near_ties:
        return None
    corr = {}
    for col in df.columns:
        pair = df.loc[kept, col].notna()
        distinct = int(pair.sum())
        value = ref["correlations"].get(col, np.nan)
        corr[col] = value if distinct >= MIN_PAIRS else np.nan
    if near_ties:
        return pd.Series(corr), score, near_tie_allowance(df.loc[kept], w[w > 0], score.to_numpy(), pairs)
    return pd.Series(corr), score


def near_pairs(y: np.ndarray, rows: np.ndarray, gap: float) -> np.ndarray:
    """(P, 2) positions of models with distinct capability rows whose scores ``y`` differ by
    less than ``gap`` (relative to the largest score, at least 1)."""
    scale = max(1.0, np.abs(y).max())
    order = np.argsort(y, kind="stable")
    ys = y[order]
    out = []
    for a in range(len(ys)):
        b = a + 1
        while b < len(ys) and ys[b] - ys[a] < gap * scale:
            i, j = order[a], order[b]
            if not np.array_equal(rows[i], rows[j]):
                out.append((i, j))
            b += 1
    return np.array(out, int).reshape(-1, 2)


def near_tie_allowance(df: pd.DataFrame, w: np.ndarray, y: np.ndarray, pairs: np.ndarray) -> pd.Series:
    """How far each column's Spearman correlation with the score ``y`` may move when the
    models of each near pair are put in either order or tied, as float rounding may decide.

    With weighted mid-ranks ``rx`` of the column and ``ry`` of the score, swapping two models
    ``i`` and ``j`` adjacent in the score's order moves the sum ``sum_u w_u rx_u ry_u`` by
    ``w_i w_j |rx_i - rx_j|`` (a tie by half of it), and the ranks' spread not at all (a tie by
    ``w_i w_j (w_i + w_j) / 4`` of its ``W^3 / 12``, below the tolerance); over the rank spreads
    of the column and the score on the column's pair set.
    """
    from scipy.stats import rankdata

    def ranks(v, u):  # mid-ranks of the data with model i repeated u_i times, per model
        copies = np.repeat(np.arange(len(v)), u.astype(int))
        r = np.zeros(len(v))
        r[copies] = rankdata(v[copies])
        return r

    out = {}
    for col in df.columns:
        x = df[col].to_numpy(np.float64)
        obs = np.isfinite(x)
        if not len(pairs) or obs.sum() < MIN_PAIRS:
            out[col] = 0.0
            continue
        u = np.where(obs, w, 0).astype(np.float64)
        rx = ranks(np.where(obs, x, np.inf), u)
        ry = ranks(np.where(obs, y, np.inf), u)
        n = u.sum()
        sxx = np.sum(u * (rx - (n + 1) / 2) ** 2)
        syy = np.sum(u * (ry - (n + 1) / 2) ** 2)
        i, j = pairs[:, 0], pairs[:, 1]
        both = obs[i] & obs[j]
        moved = np.sum((w[i] * w[j] * np.abs(rx[i] - rx[j]))[both])
        out[col] = moved / np.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0
    return pd.Series(out)


def check_example(seed: int, m: int, k: int, s: int, style: str, path: str, jit: bool = True, df=None,
                  near_ties: bool = False):
    df = random_matrix(seed, m, k, s, style) if df is None else df
    caps = [c for c in df.columns if c.startswith("cap")]
    complete = df.loc[df[caps].notna().all(axis=1)]
    if len(complete) < 5 or (complete[caps].nunique() < 2).any():
        return 0, 0
    rng = np.random.default_rng(seed + 1)
    w = weight_rows(rng, len(complete))
    checked = total = 0
    for dtype in (np.float32, np.float64):
        tol = TOL[dtype]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with engine.precision(dtype == np.float64):
                problem, layout = build_problem(as_dataset(df), caps, dtype=dtype, drop_degenerate=False, ranks=path)
                if jit:
                    stats = engine.run(problem, w, fields=None)
                else:
                    with jax.disable_jit():
                        stats = engine.run(problem, w, fields=None)
        assert layout.models == tuple(complete.index)
        nb = layout.n_benchmarks
        for r in range(len(w)):
            total += 1
            want = expected_row(complete, caps, w[r], tol, near_ties)
            got = pd.Series(stats.corr[r][:nb].astype(np.float64), index=list(layout.columns[:nb]))
            if want is None:
                continue
            checked += 1
            where = f"{dtype.__name__}, {path} path, weights {w[r].tolist()}"
            if isinstance(want, str):
                assert np.isnan(got).all(), (where, got)
                continue
            corr, score, allowance = want if near_ties else (*want, 0.0)
            got_score = pd.Series(stats.score[r].astype(np.float64), index=list(layout.models))[score.index]
            np.testing.assert_allclose(got_score, score, rtol=tol["score"], atol=tol["score"], err_msg=where)
            corr = corr[got.index]
            np.testing.assert_array_equal(np.isnan(got), np.isnan(corr), err_msg=f"NaN pattern, {where}")
            if near_ties:
                allowance = allowance[got.index]
                assert allowance.max() < 1e-3, (where, allowance)  # near ties stay rare
                corr = corr.where(~np.isnan(corr), 0)
                off = np.abs(got.where(~np.isnan(got), 0) - corr)
                assert (off <= tol["corr"] + allowance).all(), (where, off, allowance)
            else:
                np.testing.assert_allclose(got, corr, atol=tol["corr"], rtol=0, err_msg=where)
    return checked, total


shapes = dict(
    seed=st.integers(0, 2**31 - 1),
    m=st.integers(5, 60),
    k=st.integers(2, 5),
    s=st.integers(1, 4),
    style=st.sampled_from(["continuous", "ties", "mixed"]),
    path=st.sampled_from(["compare", "sort"]),
)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # 40 under -m slow
@given(**shapes)
def test_compiled_statistic_matches_reference(seed, m, k, s, style, path):
    checked, total = check_example(seed, m, k, s, style, path)
    assert checked >= total // 2


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**shapes, jit=st.booleans())
def test_compiled_and_uncompiled_match_reference_many(seed, m, k, s, style, path, jit):
    checked, total = check_example(seed, m, k, s, style, path, jit)
    assert checked >= total // 2


@pytest.mark.parametrize("m", [150, pytest.param(1000, marks=pytest.mark.slow), pytest.param(4500, marks=pytest.mark.slow)])
def test_populations_of_public_leaderboards_match_reference(m):
    """Hundreds and thousands of models on the sort path (where "auto" puts them): tied scores in some columns, 10% missing cells in the others, a copy of a
    model and a model without one capability score. Distinct models whose scores nearly tie
    are many at this size; instead of skipping the row, each column may differ from the
    reference by what ordering them either way can move it (:func:`near_tie_allowance`)."""
    rng = np.random.default_rng(m)
    k, s = 4, 3
    f = rng.normal(size=m)
    x = f[:, None] * rng.uniform(0.8, 1.5, k + s)[None, :] + rng.normal(size=(m, k + s))
    x[:, [1, k + 1]] = np.round(x[:, [1, k + 1]] * 2)  # a capability and another column with ties
    x[5] = x[3]  # copies of a model
    x[:, k:][rng.random((m, s)) < 0.1] = np.nan
    x[7, 2] = np.nan  # leaves the analysis
    df = pd.DataFrame(x, index=[f"m{i}" for i in range(m)],
                      columns=[f"cap{j}" for j in range(k)] + [f"other{j}" for j in range(s)])
    checked, total = check_example(m, m, k, s, "given", "sort", df=df, near_ties=True)
    assert checked >= total - 2, (checked, total)  # only the rows of 3 or 4 models may go


SMALL = """model,cap0,cap1,cap2,safety0,safety1
model0,0.697,0.886,0.738,1.142,2.461
model1,-3.745,-1.415,-1.002,-0.882,-1.55
model2,-0.974,1.11,2.51,-0.752,1.646
model3,-0.519,-0.252,-1.244,-0.525,1.109
model4,1.754,2.904,2.349,1.61,2.915
model5,1.19,1.579,0.454,0.817,0.053
"""


@pytest.mark.parametrize("x64", [False, True])
def test_six_models_compiled_equals_scipy(tmp_path, x64):
    """The reported case: 6 untied models, where the compiled score once compared unequal to
    itself (XLA evaluated the fused score twice with different rounding)."""
    import swjax

    path = tmp_path / "small.csv"
    path.write_text(SMALL)
    a = swjax.analyze(swjax.read_csv(path), capabilities=["cap0", "cap1", "cap2"], x64=x64)
    df = pd.read_csv(path, index_col="model")
    want = reference(df, ["cap0", "cap1", "cap2"])["correlations"]
    assert abs(want["safety0"] - 5 / 7) < 1e-12 and want["cap1"] == 1.0
    np.testing.assert_allclose(a.correlations[want.index], want, atol=1e-6)
    # 6 untied models: every Spearman correlation is a multiple of 1/35.
    np.testing.assert_allclose(a.correlations * 35, np.round(a.correlations * 35), atol=1e-4)


@pytest.mark.parametrize("k", [2, 4])
def test_sign_rule_when_largest_loadings_tie(k):
    """Loadings equal in magnitude with opposite signs: the released rule is undefined (numpy's
    rounding decides); swjax makes the first of them positive, in float32 and float64 alike."""
    import swjax

    rng = np.random.default_rng(k)
    m = 12
    x = rng.normal(size=(m, k // 2))
    caps = np.column_stack([x, -x + 0.0])  # each pair perfectly anti-correlated: PC1 loadings tie
    if k == 4:
        caps[:, [1, 2]] = caps[:, [2, 1]]  # order cap0, -cap0 ... mixed
    df = pd.DataFrame(np.column_stack([caps, rng.normal(size=m)]), index=[f"m{i}" for i in range(m)],
                      columns=[f"cap{j}" for j in range(k)] + ["other"])
    names = [f"cap{j}" for j in range(k)]
    signs = []
    for x64 in (False, True):
        a = swjax.analyze(as_dataset(df), capabilities=names, x64=x64)
        v = a.loadings.to_numpy()
        tied = np.flatnonzero(np.abs(v) >= np.abs(v).max() - 1e-4)
        assert len(tied) >= 2 and v[tied[0]] > 0, v
        signs.append(np.sign(a.correlations["other"]))
    assert signs[0] == signs[1]
    want = reference(df, names)["correlations"]["other"]
    assert np.sign(want) == signs[0]


# ------------------------------------------------------------------ --missing impute with families

IMPUTED = ["MT_Bench", "truthfulqa_mc1", "sycophancy", "wmdp_bio"]


@pytest.mark.slow  # two imputing bootstraps and a reference loop; test_impute.py has the quick check
def test_impute_with_families_both_halves_from_the_imputed_matrix(chat):
    """``--missing impute --families``: the two halves of the cluster-t interval, the family
    jackknife-t and the model bootstrap's BCa, both equal a plain reference that imputes every
    resample and every leave-one-family-out row (numpy/scipy on repeated rows, the engine's
    resample weights; scipy's BCa on that distribution)."""
    import swjax
    from swjax import resample
    from swjax.core import IMPUTE_SWEEPS
    from swjax.data import PAPER_CAPABILITIES as CAPS
    from swjax.families import load_family_map
    from swjax.problem import IMPUTE_RANK

    from .reference import imputed_reference

    rng = np.random.default_rng(12)
    sc = chat.scores.copy()
    cap = sc[list(CAPS)].to_numpy().copy()
    cap[rng.random(cap.shape) < 0.08] = np.nan  # 6 models lack a capability score
    sc[list(CAPS)] = cap
    ds = Dataset("holed", sc, chat.meta, chat.info)
    families = load_family_map(None)
    n, seed, level = 60, 4, 0.95
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = swjax.bootstrap(ds, n=n, seed=seed, missing="impute", clusters=families, x64=True, level=level)
    assert not [w for w in caught if issubclass(w.category, swjax.DroppedModelWarning)]  # no drop-worded warning
    models = list(res.analysis.scores.index)
    m = len(models)
    assert m == len(sc) and sc.loc[models, list(CAPS)].isna().any(axis=1).sum() >= 4
    scores = sc.loc[models]

    def ref(w, align):
        return imputed_reference(scores, CAPS, IMPUTED, w, IMPUTE_RANK, IMPUTE_SWEEPS, align=align)[0]

    est, pc = imputed_reference(scores, CAPS, IMPUTED, np.ones(m), IMPUTE_RANK, IMPUTE_SWEEPS)
    table = res.table.loc[IMPUTED]
    np.testing.assert_allclose(table["estimate"], est, rtol=0, atol=1e-9)
    # The model bootstrap: resample r's counts are scheme(fold_in(key(seed), r)).
    key = resample.key_from_seed(seed)
    counts = [np.asarray(resample.bootstrap_scheme(m)(jax.random.fold_in(key, r))) for r in range(n)]
    dist = np.array([ref(w, pc) for w in counts])
    from types import SimpleNamespace

    from scipy import stats

    for j, bench in enumerate(IMPUTED):
        bca = stats.bootstrap(
            (np.arange(m),), lambda idx: ref(np.bincount(idx, minlength=m), pc)[j], vectorized=False,
            n_resamples=0, bootstrap_result=SimpleNamespace(bootstrap_distribution=dist[:, j]),
            method="BCa", confidence_level=level,
        ).confidence_interval
        assert table.loc[bench, "low_models"] == pytest.approx(bca.low, abs=1e-9), bench
        assert table.loc[bench, "high_models"] == pytest.approx(bca.high, abs=1e-9), bench
    # The family jackknife-t: each family left out, the rest imputed again; the jackknife s.e.
    # of r carried to Fisher's z by its slope 1 / (1 - r^2), t(G - 1).
    codes = families.reindex(models).to_numpy()
    groups = sorted(set(codes))
    lofo = np.array([ref((codes != g).astype(int), pc) for g in groups])
    se = np.sqrt((len(groups) - 1) / len(groups) * ((lofo - lofo.mean(0)) ** 2).sum(0)) / (1 - est**2)
    t = stats.t.ppf(1 - (1 - level) / 2, len(groups) - 1)
    np.testing.assert_allclose(table["low_families"], np.tanh(np.arctanh(est) - t * se), rtol=0, atol=1e-9)
    np.testing.assert_allclose(table["high_families"], np.tanh(np.arctanh(est) + t * se), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(table["low"], np.fmin(table["low_families"], table["low_models"]))
    np.testing.assert_array_equal(table["high"], np.fmax(table["high_families"], table["high_models"]))
