"""Leave one benchmark out and capability subsets equal analyze() on the smaller capability set."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import swjax
from swjax import engine, resample
from swjax.analysis import prepare
from swjax.sensitivity import (
    CURVE_PROBS, SELECT_ROWS, _from_keys, _order_keys, lobo, point_labels, row_quantiles, sample_subset_masks,
    sorted_quantiles, subsets,
)

CAPS = swjax.PAPER_CAPABILITIES


def test_lobo_equals_analyze_without_that_benchmark(chat):
    res = lobo(chat)
    for j in (0, 5, 11):
        kept = [c for i, c in enumerate(CAPS) if i != j]
        a = swjax.analyze(chat, capabilities=kept)
        got = res.correlations[f"-{CAPS[j]}"]
        np.testing.assert_allclose(got.to_numpy(), a.correlations.reindex(got.index).to_numpy(), atol=2e-6)
    full = swjax.analyze(chat)
    np.testing.assert_allclose(res.correlations["full"], full.correlations.reindex(res.correlations.index), atol=2e-6)
    row = res.table.loc["MT_Bench"]
    assert row["min"] <= row["full"] <= row["max"]


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_every_subset_equals_analyze_for_a_sample(base):
    res = subsets(base, min_size=2)
    assert len(res.masks) == 4083 == res.metadata["n_subsets"]
    rng = np.random.default_rng(0)
    for s in rng.choice(len(res.masks), 3, replace=False):
        caps = [c for c, x in zip(CAPS, res.masks[s]) if x]
        a = swjax.analyze(base, capabilities=caps)
        np.testing.assert_allclose(res.estimates[s], a.correlations.reindex(res.benchmarks), atol=2e-6)


def test_summaries_definitions(chat):
    res = subsets(chat, min_size=10, threshold=0.4)
    t = res.table
    j = list(res.benchmarks).index("MT_Bench")
    col = res.estimates[:, j]
    assert np.isclose(t.loc["MT_Bench", "median"], np.median(col))
    labels = point_labels(col, 0.4)
    assert np.isclose(t.loc["MT_Bench", "keep_share"], np.mean(labels == t.loc["MT_Bench", "label"]))
    # inclusion effect: mean with minus mean without
    k = res.capabilities.index("bbh")
    with_k = res.masks[:, k] > 0
    assert np.isclose(res.inclusion.loc["MT_Bench", "bbh"], col[with_k].mean() - col[~with_k].mean())
    assert set(res.by_size.index.get_level_values("size")) == {10, 11, 12}


FIELDS = ("corr", "loadings", "variance_explained", "rule_flip", "cos_ref")


@pytest.mark.parametrize("batch", [3, 7])
def test_resampled_masks_equal_resample_per_mask(chat, batch):
    """Every field of a mask's column of the many-mask bootstrap is, bit for bit, the one-mask
    engine with that mask (the bootstrap's own path), whatever the batch: PC1 comes from the
    same certified power iteration under the double vmap."""
    p, layout = prepare(chat)
    m, k = len(layout.models), len(layout.capabilities)
    masks = sample_subset_masks(k, 2, 12, seed=1)
    full = engine.run(p, np.ones((1, m)), masks=masks, fields=FIELDS + ("loadings",))
    refs = full["loadings"][0]
    key = resample.key_from_seed(3)
    draws = engine.Draws(resample.bootstrap_scheme(m), 9, key)
    many = engine.run(p, draws=draws, masks=masks, ref=refs, batch_size=batch, fields=FIELDS)
    for s in range(len(masks)):
        one = engine.run(p, draws=draws, mask=masks[s], ref=refs[s], fields=FIELDS)
        point = engine.run(p, np.ones((1, m)), mask=masks[s], fields=FIELDS)
        for f in FIELDS:
            np.testing.assert_array_equal(many[f][:, s], one[f], err_msg=f)
            np.testing.assert_array_equal(full[f][0, s], point[f][0], err_msg=f)


def test_subsets_and_lobo_give_the_numbers_of_the_path_before_the_fast_one(chat):
    """Regression: tests/fixtures/sensitivity/before_fast_path.npz holds the outputs of the
    eigensolver-per-mask path with quantiles sorted on the device (commit 291f862); the fast
    path gives every one of them bit for bit."""
    before = np.load(Path(__file__).parent / "fixtures" / "sensitivity" / "before_fast_path.npz")
    r = subsets(chat, min_size=10, n=40, seed=3)
    t = r.table.loc[list(r.benchmarks)]
    np.testing.assert_array_equal(r.estimates, before["subsets_estimates"])
    for name in before.files:
        if name.startswith("subsets_") and name != "subsets_estimates":
            np.testing.assert_array_equal(t[name[len("subsets_"):]].to_numpy(), before[name], err_msg=name)
    lo = lobo(chat, n=40, seed=3, method="percentile")  # the method the fixture was made with
    np.testing.assert_array_equal(lo.correlations.to_numpy(), before["lobo_correlations"])
    for name in ("low", "high", "se"):
        np.testing.assert_array_equal(lo.intervals[name].to_numpy(), before[f"lobo_{name}"], err_msg=name)


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_the_full_sets_interval_is_the_bootstraps(chat):
    """The full capability set's sampling interval comes from the curve's own draws, which are
    those of swjax.bootstrap with the same seed."""
    r = subsets(chat, min_size=11, n=40, seed=5)
    b = swjax.bootstrap(chat, n=40, seed=5, method="percentile").table
    both = r.table.join(b[["low", "high"]], how="inner")
    assert len(both) > 20
    np.testing.assert_array_equal(both["full_low"], both["low"])
    np.testing.assert_array_equal(both["full_high"], both["high"])


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 6),
    size=st.integers(1, 40),
    nan_share=st.sampled_from([0.0, 0.2, 0.9, 1.0]),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_sorted_quantiles_are_numpys_nanquantile(seed, rows, size, nan_share, dtype):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, size)).astype(dtype)
    if rng.random() < 0.3:
        x = np.round(x, 1)  # ties
    x[rng.random(x.shape) < nan_share] = np.nan
    got = sorted_quantiles(np.sort(x, axis=-1), CURVE_PROBS)
    assert got.dtype == dtype and got.shape == (rows, 3)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nanquantile(x.astype(np.float64), CURVE_PROBS, axis=-1).T
    # The position p (n - 1) is rounded in the data's dtype (as on the device): its fraction t is
    # off by up to about 2 eps (n - 1), which moves the result by that times the gap between the
    # two order statistics; the interpolation itself adds a few ulps of the values' scale.
    eps = np.finfo(dtype).eps
    scale = np.nanmax(np.abs(x)) if np.isfinite(x).any() else 1.0
    gaps = np.diff(np.sort(x, axis=-1), axis=-1)
    gap = np.nanmax(gaps) if np.isfinite(gaps).any() else 0.0
    np.testing.assert_allclose(got, want, rtol=0, atol=4 * eps * (max(scale, 1.0) + (size - 1) * gap))
    assert np.array_equal(np.isnan(got), np.isnan(want))
    # Selection instead of a sort: the same order statistics, so the same bits, whatever mix of
    # finite counts the rows have.
    np.testing.assert_array_equal(row_quantiles(x, CURVE_PROBS), got)
    np.testing.assert_array_equal(row_quantiles(np.stack([x, x[::-1]]), CURVE_PROBS), np.stack([got, got[::-1]]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_order_keys_are_ordered_as_the_floats_and_give_them_back(dtype):
    info = np.finfo(dtype)
    x = np.array([-np.inf, -info.max, -1.5, -info.tiny, -info.smallest_subnormal, -0.0, 0.0,
                  info.smallest_subnormal, info.tiny, 1.0, info.max, np.inf], dtype)
    keys = _order_keys(x)
    assert keys.dtype.kind == "i" and keys.dtype.itemsize == x.itemsize
    assert np.all(np.diff(keys) > 0)
    np.testing.assert_array_equal(_from_keys(keys, dtype).view(keys.dtype), x.view(keys.dtype))  # bit for bit
    nans = np.array([np.nan, -np.nan], dtype)
    assert np.signbit(nans).tolist() == [False, True]
    assert np.all(_order_keys(nans) > keys[-1])  # either sign of NaN after +inf, as in a sort


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_quantiles_over_many_blocks_with_infinities_and_negative_nans(dtype):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, SELECT_ROWS + 7, 57)).astype(dtype)
    x[0, 5, 3] = np.inf
    x[1, 9, :4] = -np.inf
    x[2, 11] = np.inf  # a row of infinities: no finite value
    x[rng.random(x.shape) < 0.05] = np.nan
    x[rng.random(x.shape) < 0.05] = -np.nan
    x[0, 20, :30] = -np.nan
    x[1, 40, :] = np.round(x[1, 40, :])  # ties and zeros of both signs
    x[1, 40, ::2] *= -1
    with np.errstate(invalid="ignore"):  # inf - inf between two infinite order statistics
        want = sorted_quantiles(np.sort(x, axis=-1), CURVE_PROBS)
        got = row_quantiles(x, CURVE_PROBS)
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[2, 11]).all()
    empty = row_quantiles(np.empty((2, 3, 0), dtype), CURVE_PROBS)  # rows without a value
    assert empty.shape == (2, 3, 3) and empty.dtype == dtype and np.isnan(empty).all()


def test_subsets_bootstrap_keeps_two_spreads_apart(chat):
    res = subsets(chat, min_size=11, n=40, seed=2, batch_size=5)
    t = res.table
    for col in ("full_low", "full_high", "median_low", "median_high", "sampling_sd", "spread_resampled"):
        assert np.isfinite(t.loc["MT_Bench", col])
    assert t.loc["MT_Bench", "full_low"] <= t.loc["MT_Bench", "full"] <= t.loc["MT_Bench", "full_high"]


def test_sampled_subsets_are_distinct_and_ordered():
    m = sample_subset_masks(12, 2, 50, seed=0)
    assert len({r.tobytes() for r in m}) == 50 and (m.sum(axis=1) >= 2).all()
    assert (np.diff(m.sum(axis=1)) >= 0).all()
    with pytest.raises(swjax.SwjaxError, match="min-size"):
        sample_subset_masks(12, 1, None, 0)


@pytest.mark.slow
def test_lobo_bootstrap_intervals(chat):
    res = lobo(chat, n=40, seed=1)
    f = res.intervals
    assert set(f["variant"]) == {"full"} | {f"-{c}" for c in CAPS}
    row = f[(f.variant == "full") & (f.benchmark == "MT_Bench")].iloc[0]
    assert row["low"] <= row["high"]


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_lobo_full_variant_has_the_bootstraps_interval_by_default(chat):
    """One default everywhere: lobo's full variant (same n, seed) is swjax.bootstrap's BCa interval."""
    lo = lobo(chat, n=60, seed=3)
    full = lo.intervals[lo.intervals["variant"] == "full"].set_index("benchmark")
    boot = swjax.bootstrap(chat, n=60, seed=3).table.loc[full.index]
    assert lo.metadata["method"] == "bca" and set(full["interval"]) <= {"bca", "percentile (bca failed)"}
    np.testing.assert_allclose(full["low"], boot["low"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(full["high"], boot["high"], rtol=0, atol=1e-6)


def test_curve_sums_and_counts_equal_numpy_over_all_resamples():
    """The host side of the resampled curve, chunk by chunk, against numpy on the whole
    distribution: NaN where a column is degenerate in a resample (whole rows), where a mask is
    invalid (whole specifications), and scattered."""
    from swjax.sensitivity import _Curve

    rng = np.random.default_rng(5)
    nb, specs = 40, 70
    curve = _Curve(specs, nb, full_index=3)
    chunks = []
    for i, b in enumerate((4, 4, 1, 3, 4, 5)):
        corr = rng.uniform(-1, 1, (b, nb + 2, specs)).astype(np.float32)
        corr[0, 21] = np.nan  # degenerate in one resample of the chunk only
        if i % 2:
            corr[:, 7] = np.nan
            corr[-1, :, 11] = np.nan
            corr[rng.random(corr.shape) < 0.02] = np.nan
        chunks.append(corr[:, :nb])
        curve({"corr": corr})
    dist = np.concatenate(chunks)  # (resamples, nb, specs)
    np.testing.assert_array_equal(curve.count, np.isfinite(dist).sum(axis=0))
    np.testing.assert_allclose(curve.sum, np.nansum(dist.astype(np.float64), axis=0), rtol=1e-12, atol=1e-12)
    squares = (dist * dist).astype(np.float64)  # squared in the distribution's dtype, summed in float64
    np.testing.assert_allclose(curve.sq, np.nansum(squares, axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.concatenate(curve.quant), sorted_quantiles(np.sort(dist, axis=-1), CURVE_PROBS))
    np.testing.assert_array_equal(np.concatenate(curve.full), dist[:, :, 3])
