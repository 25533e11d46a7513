"""Leave one benchmark out and capability subsets equal analyze() on the smaller capability set."""

import numpy as np
import pytest

import swjax
from swjax import engine, resample
from swjax.analysis import prepare
from swjax.sensitivity import lobo, point_labels, sample_subset_masks, subsets

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


def test_resampled_masks_equal_resample_per_mask(chat):
    """A mask's column of the many-mask bootstrap equals the one-mask engine with that mask."""
    p, layout = prepare(chat)
    m, k = len(layout.models), len(layout.capabilities)
    masks = sample_subset_masks(k, 3, 5, seed=1)
    full = engine.evaluate_masks(p, np.ones((1, m)), masks, None, fields=("corr", "loadings"))
    refs = full["loadings"][0]
    key = resample.key_from_seed(3)
    many = engine.resample_masks(p, resample.bootstrap_scheme(m), 7, key, masks, refs, batch_size=3)["corr"]
    for s in (0, 4):
        one = engine.resample(p, resample.bootstrap_scheme(m), 7, key, masks[s], refs[s], fields=("corr",))["corr"]
        np.testing.assert_allclose(many[:, s], one, atol=2e-6)


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
