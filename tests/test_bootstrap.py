"""bootstrap(): scipy equivalence, determinism, degenerate resamples, p-values, q-values."""

import types
import warnings

import jax
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import swjax
from swjax import intervals, pvalues, resample
from swjax.data import Dataset

BENCHES = ["MT_Bench", "sycophancy", "LMSYS_Chatbot_Arena", "crows_pairs_english", "wmdp_bio"]


@pytest.fixture(scope="module")
def chat64():
    return swjax.bootstrap("chat", n=400, seed=3, x64=True)


@pytest.mark.parametrize("method", ["percentile", "basic", "bca"])
def test_intervals_equal_scipy_bootstrap(chat, chat64, method):
    """scipy.stats.bootstrap, given swjax's distribution and a statistic that calls the library
    with model weights, gives the same interval (its own jackknife included, for BCa)."""
    m = len(chat.models)
    cache = {}

    def statistic(idx):
        key = tuple(np.bincount(np.asarray(idx, int), minlength=m))
        if key not in cache:
            cache[key] = swjax.analyze(chat, weights=np.array(key), x64=True).correlations
        return cache[key][bench]

    res = swjax.bootstrap("chat", n=400, seed=3, x64=True, method=method)
    for bench in BENCHES:
        j = res.table.index.get_loc(bench)
        dist = res.distribution[:, j]
        given = types.SimpleNamespace(bootstrap_distribution=dist[np.isfinite(dist)])
        ref = stats.bootstrap(
            (np.arange(m),), statistic, vectorized=False, n_resamples=0, bootstrap_result=given,
            method=method, confidence_level=0.95,
        )
        row = res.table.loc[bench]
        assert row["interval"] == method
        assert row["low"] == pytest.approx(ref.confidence_interval.low, abs=1e-9)
        assert row["high"] == pytest.approx(ref.confidence_interval.high, abs=1e-9)
        assert row["se"] == pytest.approx(ref.standard_error, abs=1e-9)


def test_a_resample_row_equals_analyze_of_its_counts(chat):
    res = swjax.bootstrap(chat, n=50, seed=11)
    m = len(chat.models)
    key = resample.key_from_seed(11)
    for r in [0, 17, 49]:
        counts = np.asarray(resample.bootstrap_scheme(m)(jax.random.fold_in(key, r)))
        assert counts.sum() == m
        direct = swjax.analyze(chat, weights=counts).correlations
        np.testing.assert_allclose(res.distribution[r], direct.to_numpy(), atol=2e-6, equal_nan=True)


def test_same_seed_same_numbers_for_every_batch_size(chat):
    a = swjax.bootstrap(chat, n=130, seed=5, batch_size=130)
    b = swjax.bootstrap(chat, n=130, seed=5, batch_size=7)
    c = swjax.bootstrap(chat, n=130, seed=6, batch_size=130)
    np.testing.assert_array_equal(a.distribution, b.distribution)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.summary, b.summary)  # PC1 summaries too, to the last bit
    assert not np.allclose(a.distribution, c.distribution, equal_nan=True)


def test_jackknife_is_the_whole_pipeline_leaving_one_model_out(chat):
    res = swjax.bootstrap(chat, n=40, seed=0)
    for i in [0, 9]:
        w = np.ones(len(chat.models), int)
        w[i] = 0
        direct = swjax.analyze(chat, weights=w).correlations
        np.testing.assert_allclose(res.jackknife[i], direct.to_numpy(), atol=2e-6)


def test_degenerate_resamples_are_counted_not_fatal(chat):
    scores = chat.scores.copy()
    almost = np.zeros(len(scores))
    almost[:2] = 1.0  # constant unless one of two models is drawn
    scores["almost_constant"] = almost
    ds = Dataset(label="chat+", scores=scores, meta=chat.meta, info=chat.info)
    with pytest.warns(swjax.DegenerateResampleWarning, match="almost_constant"):
        res = swjax.bootstrap(ds, n=300, seed=1)
    row = res.table.loc["almost_constant"]
    p_none = (24 / 26) ** 26  # chance that neither of the two models is drawn
    assert row["n_degenerate"] > 0
    assert row["n_degenerate"] + row["n_valid"] == 300
    assert abs(row["n_degenerate"] / 300 - p_none) < 0.06
    assert np.isnan(res.distribution[:, res.table.index.get_loc("almost_constant")]).sum() == row["n_degenerate"]
    assert np.isfinite([row["low"], row["high"]]).all()


def test_bca_falls_back_to_percentile_when_it_cannot_be_computed():
    rng = np.random.default_rng(0)
    dist = rng.normal(size=(500, 3))
    estimate = np.array([0.0, 10.0, 0.0])  # column 1: every resample below the estimate
    jack = rng.normal(size=(20, 3))
    jack[:, 2] = np.nan  # degenerate jackknife
    low, high, used = intervals.interval(dist, estimate, 0.95, "bca", jack)
    assert list(used) == ["bca", "percentile (bca failed)", "percentile (bca failed)"]
    p_low, p_high = intervals.percentile_interval(dist, 0.95)
    assert low[1] == p_low[1] and high[2] == p_high[2]


def test_quantiles_match_numpy_with_nans():
    rng = np.random.default_rng(1)
    dist = rng.normal(size=(1001, 4))
    dist[:50, 1] = np.nan
    probs = np.array([0.025, 0.4, 0.975, 0.5])
    got = intervals.quantiles(dist, probs)
    want = [np.nanquantile(dist[:, j], probs[j]) for j in range(4)]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)


def test_verdicts():
    low = np.array([0.5, -0.9, -0.3, 0.1, np.nan])
    high = np.array([0.9, -0.5, 0.3, 0.6, np.nan])
    assert list(intervals.verdicts(low, high, 0.4)) == [
        "entangled", "anti-correlated", "distinct", "indeterminate", "no interval",
    ]


def test_permutation_pvalues_equal_a_plain_loop(chat):
    """The same permutations, replayed through scipy.stats.spearmanr one by one."""
    from swjax.analysis import prepare

    problem, layout = prepare(chat, x64=True)
    a = swjax.analyze(chat, x64=True)
    key = jax.random.key(123)
    n_perm = 200
    p = pvalues.permutation_pvalues(problem, a.scores.to_numpy(), n_perm, key)
    obs = np.asarray(problem.obs, bool)
    patterns, inverse = np.unique(obs, axis=0, return_inverse=True)
    for bench in ["MT_Bench", "crows_pairs_english", "LMSYS_Chatbot_Arena", "machiavelli-steps"]:
        j = layout.columns.index(bench)
        pat = int(inverse.ravel()[j])
        idx = np.flatnonzero(patterns[pat])
        pkey = jax.random.fold_in(key, pat)  # the documented rule, one permutation at a time
        perms = [np.asarray(jax.random.permutation(jax.random.fold_in(pkey, r), len(idx))) for r in range(n_perm)]
        x = chat.scores[bench].to_numpy()[idx]
        s = a.scores.to_numpy()[idx]
        observed = abs(stats.spearmanr(x, s).statistic)
        count = sum(abs(stats.spearmanr(x, s[perm]).statistic) >= observed - 1e-12 for perm in perms)
        assert p[j] == pytest.approx((count + 1) / (n_perm + 1), abs=1e-12), bench


def test_qvalues_equal_scipy():
    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan, 0.5, 0.001])
    ok = np.isfinite(p)
    np.testing.assert_allclose(pvalues.bh_qvalues(p)[ok], stats.false_discovery_control(p[ok], method="bh"))
    np.testing.assert_allclose(pvalues.by_qvalues(p)[ok], stats.false_discovery_control(p[ok], method="by"))
    assert np.isnan(pvalues.bh_qvalues(p)[4])


def test_bootstrap_table_and_metadata(chat):
    res = swjax.bootstrap(chat, n=200, seed=0, permutations=99)
    t = res.table
    assert list(t.index) == list(res.analysis.correlations.index)
    assert res.distribution.shape == (200, len(t))
    assert res.jackknife.shape == (26, len(t))
    for col in ["estimate", "low", "high", "se", "bias", "n_valid", "p_value", "q_value", "verdict", "name"]:
        assert col in t.columns
    assert (t["low"] <= t["estimate"] + 1e-6).mean() > 0.9
    assert t.loc["MT_Bench", "p_value"] == pytest.approx(1 / 100)
    assert t.loc[t["capability"], "q_value"].isna().all()
    md = res.metadata
    for key in ["seed", "n", "method", "level", "device", "dtype", "version", "seconds", "pc1_rule_flip_share"]:
        assert key in md
    assert list(res.summary.index) == ["variance_explained", "mean_intercorrelation", "compute_correlation"]
    assert res.summary.loc["variance_explained", "low"] < 0.708 < res.summary.loc["variance_explained", "high"]


@pytest.mark.parametrize("x64", [False, pytest.param(True, marks=pytest.mark.slow)])  # float64: 7 s
def test_the_bootstraps_full_sample_is_analyze_bit_for_bit(chat, x64):
    """The full sample is the kernel's first call (a chunk of all-ones rows, the released sign
    rule, its spectrum from one eigensolver call), not analyze's program: every field agrees."""
    res = swjax.bootstrap(chat, n=40, seed=0, x64=x64)
    a, b = res.analysis, swjax.analyze(chat, x64=x64)
    for name in ("correlations", "scores", "loadings", "capability_matrix", "models_per_benchmark"):
        pd.testing.assert_frame_equal(pd.DataFrame(getattr(a, name)), pd.DataFrame(getattr(b, name)), check_exact=True)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    for name in ("variance_explained", "mean_intercorrelation", "std_intercorrelation", "compute_correlation"):
        assert getattr(a, name) == getattr(b, name), name


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, "n: expected an integer >= 40"),
        ({"n": 2.5}, "n: expected an integer"),
        ({"level": 1.0}, "level"),
        ({"level": 0}, "level"),
        ({"method": "studentized"}, "method"),
        ({"permutations": -1}, "permutations"),
        ({"threshold": 1.5}, "threshold"),
        ({"batch_size": 0}, "batch_size"),
        ({"seed": -1}, "seed"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_options_are_clear_errors(chat, kwargs, match):
    with pytest.raises(swjax.SwjaxError, match=match):
        swjax.bootstrap(chat, **{"n": 40, **kwargs})


def test_gpu_without_gpu_is_an_error(chat):
    if jax.devices()[0].platform == "gpu":
        pytest.skip("a GPU is visible")
    with pytest.raises(swjax.SwjaxError, match="no GPU"):
        swjax.bootstrap(chat, n=40, device="gpu")


def test_float32_and_float64_distributions_agree(chat):
    a = swjax.bootstrap(chat, n=100, seed=2)
    b = swjax.bootstrap(chat, n=100, seed=2, x64=True)
    assert a.metadata["dtype"] == "float32" and b.metadata["dtype"] == "float64"
    np.testing.assert_allclose(a.distribution, b.distribution, atol=1e-5, equal_nan=True)


def test_no_recompile_on_second_run(chat):
    from swjax import engine

    swjax.bootstrap(chat, n=64, seed=0, batch_size=32)
    before = engine.compiled_count()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        swjax.bootstrap(chat, n=96, seed=9, batch_size=32)
    assert engine.compiled_count() == before


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_resampled_spectrum_is_opt_in_and_changes_nothing_else(chat):
    plain = swjax.bootstrap(chat, n=120, seed=2)
    full = swjax.bootstrap(chat, n=120, seed=2, eigenvalues=True)
    assert plain.eigenvalues is None
    pd.testing.assert_frame_equal(plain.table, full.table)
    pd.testing.assert_frame_equal(plain.summary, full.summary)
    ev = full.eigenvalues
    assert ev.shape == (120, 12)
    assert (np.diff(ev, axis=1) <= 1e-6).all()  # largest first
    np.testing.assert_allclose(ev.sum(axis=1), 12, atol=1e-4)  # the trace of a correlation matrix
    # The leading one is PC1's eigenvalue, the one behind the variance explained.
    m = len(chat.models)
    key = resample.key_from_seed(2)
    counts = np.asarray(resample.bootstrap_scheme(m)(jax.random.fold_in(key, 7)))
    direct = swjax.analyze(chat, weights=counts)
    np.testing.assert_allclose(ev[7], direct.eigenvalues, rtol=1e-6)
