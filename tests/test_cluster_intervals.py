"""The family-aware intervals: jackknife-t and cluster-t against plain references, seeds and
batch sizes, a binomial coverage check, and bad input."""

import importlib
import math
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from typer.testing import CliRunner

import swjax
from swjax import engine, intervals, resample
from swjax.cli import app
from swjax.coverage import stacked_problems
from swjax.resample import cluster_jackknife_weights
from swjax.errors import SwjaxError

S = importlib.import_module("swjax.simulate")  # the module; swjax.simulate is the function

runner = CliRunner()


def _sim(m=20, families=6, seed=3):
    return swjax.simulate(m, rho=(0.3, 0.7), families=families, seed=seed, population_size=20_000)


def _reference_jackknife_t(values, k, codes, level, columns, on="statistic"):
    """Plain loop: drop each family, rerun the numpy pipeline, jackknife SE, t(G-1) on Fisher's z.

    ``on="statistic"`` (the default): the jackknife SE of r times 1 / (1 - r^2) (delta method);
    ``on="scale"``: the jackknife SE of atanh(r) (the study's ``-z`` methods)."""
    full = S.pipeline_correlations(values, k)
    groups = sorted(set(codes))
    G = len(groups)
    out = []
    for j in columns:
        z_full = math.atanh(full[j])
        xs = []
        for g in groups:
            keep = np.array([c != g for c in codes])
            r = S.pipeline_correlations(values[keep], k)[j]
            xs.append(math.atanh(r) if on == "scale" else r)
        mean = sum(xs) / G
        se = math.sqrt((G - 1) / G * sum((x - mean) ** 2 for x in xs))
        if on == "statistic":
            se /= 1 - full[j] ** 2
        t = sps.t.ppf(1 - (1 - level) / 2, G - 1)
        out.append((math.tanh(z_full - t * se), math.tanh(z_full + t * se)))
    return np.array(out)


@pytest.mark.parametrize("level", [0.95, 0.8])
def test_jackknife_t_over_families_equals_a_plain_loop_float64(level):
    sim = _sim()
    ds, k = sim.dataset, sim.design.capabilities
    fam = ds.meta["family"]
    res = swjax.bootstrap(ds, n=40, seed=1, clusters=fam, method="jackknife-t", level=level,
                          capabilities=list(sim.design.capability_names), x64=True)
    values = ds.scores.to_numpy()
    cols = [k, k + 1]
    ref = _reference_jackknife_t(values, k, list(fam), level, cols)
    got = res.table.loc[["safety_1", "safety_2"], ["low", "high"]].to_numpy()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
    assert (res.table["interval"] == "jackknife-t").all()
    # the study's jackknife on z, from the same leave-one-family-out values
    est = res.table.loc[["safety_1", "safety_2"], "estimate"].to_numpy()
    z_low, z_high, _ = intervals.jackknife_t_interval(est, res.jackknife[:, cols], level, on="scale")
    ref_z = _reference_jackknife_t(values, k, list(fam), level, cols, on="scale")
    np.testing.assert_allclose(np.c_[z_low, z_high], ref_z, rtol=0, atol=1e-9)


def test_jackknife_t_over_models_equals_a_plain_loop_float64():
    sim = _sim(m=20, families=0, seed=5)
    ds, k = sim.dataset, sim.design.capabilities
    res = swjax.bootstrap(ds, n=40, seed=0, method="jackknife-t",
                          capabilities=list(sim.design.capability_names), x64=True)
    ref = _reference_jackknife_t(ds.scores.to_numpy(), k, list(range(20)), 0.95, [k, k + 1])
    got = res.table.loc[["safety_1", "safety_2"], ["low", "high"]].to_numpy()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)


def test_jackknife_t_scales_and_degenerate_columns():
    est = np.array([0.5, 0.6, 0.2, 0.5])
    jack = np.array([[0.4, 0.55, 0.1, np.nan], [0.6, 0.62, 0.3, np.nan], [0.5, 0.64, 0.25, 0.4],
                     [0.45, 0.58, 0.2, 0.6]])
    low, high, ok = intervals.jackknife_t_interval(est, jack, 0.9, ["fisher", "logit", "identity", "fisher"])
    assert ok.tolist() == [True, True, True, False] and np.isnan(low[3])
    def se(col):  # jackknife s.e. of the statistic, by hand
        m = statistics.mean(col)
        return math.sqrt((len(col) - 1) / len(col) * sum((x - m) ** 2 for x in col))

    t = sps.t.ppf(0.95, 3)
    assert math.isclose(low[2], 0.2 - t * se(jack[:, 2]), abs_tol=1e-12)
    assert math.isclose(high[2], 0.2 + t * se(jack[:, 2]), abs_tol=1e-12)
    expit = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    # logit scale: s.e. of the share times d logit(p) / dp = 1 / (p (1 - p)) at the estimate 0.6
    assert math.isclose(high[1], expit(math.log(0.6 / 0.4) + t * se(jack[:, 1]) / (0.6 * 0.4)), abs_tol=1e-12)
    # Fisher's z: s.e. of r times 1 / (1 - r^2) at the estimate 0.5
    assert math.isclose(low[0], math.tanh(math.atanh(0.5) - t * se(jack[:, 0]) / 0.75), abs_tol=1e-12)
    # on the transformed values instead (the study's -z methods)
    _, zh, _ = intervals.jackknife_t_interval(est, jack, 0.9, ["fisher", "logit", "identity", "fisher"], on="scale")
    lg = [math.log(p / (1 - p)) for p in jack[:, 1]]
    assert math.isclose(zh[1], expit(math.log(0.6 / 0.4) + t * se(lg)), abs_tol=1e-12)
    # interval(): the percentile fallback where the jackknife has fewer than 3 values
    dist = np.tile(np.linspace(0, 1, 101)[:, None], (1, 4))
    lo2, hi2, used = intervals.interval(dist, est, 0.9, "jackknife-t", jack, scale="fisher")
    assert used[3] == "percentile (jackknife-t failed)" and math.isclose(lo2[3], 0.05)


#: Near |r| = 1 with families: 27 models in 17 families (as a public instruct set), capability
#: benchmarks loading 0.95, safety benchmarks at population correlations 0.97 and 0.99. In
#: datasets 194 and 138 of this design (``draw`` with seed ``[0, r]``) one leave-one-family-out
#: value near 1 dominated the jackknife on Fisher's z and the interval collapsed downward.
NEAR_ONE = S.Design(n_models=27, families=17, loading=0.95, rho=(0.97, 0.99))
NEAR_ONE_DATASETS = (194, 138)


def _near_one(r):
    design = S.check_design(NEAR_ONE)
    return design, S.draw(design, design.n_models, np.random.default_rng([0, r]))


def test_default_interval_near_one_is_not_collapsed():
    """The family-aware default is at most 3 times as wide as the model bootstrap's BCa interval
    near r = 0.98, where the jackknife on z (the default before) was more than 3 times as wide.

    Every statistic here comes from the numpy pipeline in plain loops (no jax): the estimate,
    the leave-one-family-out and leave-one-model-out values, 400 model resamples.
    """
    collapsed_before = []
    for r in NEAR_ONE_DATASETS:
        design, values = _near_one(r)
        k, m, codes = design.capabilities, design.n_models, design.family_codes()
        full = S.pipeline_correlations(values, k)
        fam_jack = np.array([S.pipeline_correlations(values[codes != g], k) for g in np.unique(codes)])
        model_jack = np.array([S.pipeline_correlations(np.delete(values, i, axis=0), k) for i in range(m)])
        rng = np.random.default_rng(r)
        boot = np.array([S.pipeline_correlations(values[rng.integers(0, m, m)], k) for _ in range(400)])
        m_low, m_high, used = intervals.interval(boot, full, 0.95, "bca", model_jack)
        assert (used == "bca").all()
        low, high, used = intervals.interval(boot, full, 0.95, "cluster-t", fam_jack, models=(m_low, m_high))
        assert (used == "cluster-t").all()
        ratio = (high - low) / (m_high - m_low)
        assert np.all(ratio <= 3), (r, ratio.round(2))
        assert np.all((low <= full) & (full <= high))
        z_low, z_high, _ = intervals.interval(boot, full, 0.95, "cluster-t-z", fam_jack, models=(m_low, m_high))
        collapsed_before.append(((z_high - z_low) / (m_high - m_low))[k + 1])
    assert max(collapsed_before) > 3, collapsed_before  # the check sees the collapse it guards against


@pytest.mark.slow  # compiles the bootstrap for 27 models
def test_default_interval_near_one_end_to_end():
    """The same through swjax.bootstrap with families: every benchmark's default interval at
    most 3 times the model bootstrap's, where the jackknife on z was not."""
    design, values = _near_one(NEAR_ONE_DATASETS[0])
    ds = S.to_dataset(design, values)
    res = swjax.bootstrap(ds, n=400, seed=0, clusters=ds.meta["family"], capabilities=list(design.capability_names))
    t = res.table
    assert (t["interval"] == "cluster-t").all()
    model_width = t["high_models"] - t["low_models"]
    assert ((t["high"] - t["low"]) <= 3 * model_width).all(), ((t["high"] - t["low"]) / model_width).round(2)
    z_low, z_high, _ = intervals.cluster_t_interval(t["estimate"].to_numpy(), res.jackknife, t["low_models"],
                                                    t["high_models"], 0.95, on="scale")
    assert ((z_high - z_low) / model_width).max() > 3


@pytest.mark.slow
def test_default_coverage_near_one():
    """Coverage of the default near r = 0.99 with families (400 datasets): not below 95 % by a
    binomial test, and no wider than 3 times the model bootstrap in 95 % of the datasets."""
    from swjax.coverage import coverage

    res = coverage(S.Design(n_models=27, families=17, loading=0.95, rho=(0.99,)), datasets=400, n=300,
                   methods=("bca", "cluster-t"), population_size=50_000)
    row = res.table.query("scheme == 'families' and method == 'cluster-t'").iloc[0]
    hits = round(row["coverage"] * 400)
    assert sps.binomtest(hits, 400, 0.95, alternative="less").pvalue > 1e-3, row["coverage"]
    assert row["width_ratio_p95"] <= 3, row["width_ratio_p95"]
    assert row["no_interval"] == 0


def test_jackknife_t_at_one_up_to_float32_rounding_stays_at_one():
    """A correlation of 1 whose jackknife values differ from 1 by float32 rounding only: the
    delta method's slope is taken 1e-6 from the boundary, so rounding cannot widen the interval."""
    est = np.array([1.0, np.float32(1 - 2**-24)])
    jack = np.array([[1.0, 1.0], [np.float32(1 - 2**-24)] * 2, [1.0, 1.0], [1.0, np.float32(1 - 2**-24)]])
    low, high, ok = intervals.jackknife_t_interval(est, jack, 0.95)
    assert ok.all() and (low > 0.999).all() and (high <= 1).all()
    # the slope by hand: se_r / (1 - (1 - 1e-6)^2) for the first column
    m = jack[:, 0].mean()
    se = math.sqrt(3 / 4 * ((jack[:, 0] - m) ** 2).sum()) / (1 - (1 - 1e-6) ** 2)
    assert math.isclose(low[0], math.tanh(math.atanh(1 - 1e-12) - sps.t.ppf(0.975, 3) * se), abs_tol=1e-12)


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_cluster_t_is_the_hull_of_family_t_and_model_bca():
    sim = _sim()
    ds, caps = sim.dataset, list(sim.design.capability_names)
    fam = ds.meta["family"]
    kw = dict(n=60, seed=2, capabilities=caps)
    ct = swjax.bootstrap(ds, clusters=fam, **kw)  # the default with families
    jt = swjax.bootstrap(ds, clusters=fam, method="jackknife-t", **kw)
    bca = swjax.bootstrap(ds, **kw)
    assert ct.metadata["method"] == "cluster-t" and "never narrower" in ct.metadata["interval_note"]
    t = ct.table
    np.testing.assert_array_equal(t["low"], np.fmin(jt.table["low"], bca.table["low"]))
    np.testing.assert_array_equal(t["high"], np.fmax(jt.table["high"], bca.table["high"]))
    np.testing.assert_array_equal(t["low_models"], bca.table["low"])
    np.testing.assert_array_equal(t["low_families"], jt.table["low"])
    assert (t["low"] <= t["low_models"]).all() and (t["high"] >= t["high_models"]).all()
    # the distribution is the cluster bootstrap's, as with any method
    np.testing.assert_array_equal(ct.distribution, jt.distribution)
    np.testing.assert_allclose(ct.summary["low"], np.fmin(jt.summary["low"], bca.summary["low"]))


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_cluster_t_same_numbers_for_any_batch_size():
    sim = _sim()
    ds, caps = sim.dataset, list(sim.design.capability_names)
    fam = ds.meta["family"]
    a = swjax.bootstrap(ds, n=60, seed=9, clusters=fam, capabilities=caps, batch_size=8)
    b = swjax.bootstrap(ds, n=60, seed=9, clusters=fam, capabilities=caps)
    cols = ["low", "high", "se", "low_models", "high_models", "low_families", "high_families"]
    pd.testing.assert_frame_equal(a.table[cols], b.table[cols])


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_family_jackknife_t_coverage_binomial():
    """Coverage of the family jackknife-t interval on 800 datasets with 9 families.

    The interval needs only the 9 leave-one-family-out rows, so many datasets are cheap. At
    R = 800 a true coverage of 90 % gives a binomial p-value against 95 % of about 1e-8, so this
    check fails for an interval as poor as the model bootstrap's on this design.
    """
    design = S.check_design(S.Design(rho=(0.65,), families=9))
    R = 800
    truth = float(S.population(design, 50_000).iloc[0])
    values = S.draw_many(design, R, seed=4)
    problems, columns = stacked_problems(design, values, np.float32)
    m, k = design.n_models, design.capabilities
    full = engine.run(problems, np.ones((1, m)), fields=("corr", "loadings"), columns=columns)
    est = full["corr"][:, 0, 0].astype(np.float64)
    jack = engine.run(problems, cluster_jackknife_weights(design.family_codes()), ref=full["loadings"][:, 0],
                      fields=("corr",), columns=columns)["corr"][:, :, 0].astype(np.float64)
    low, high, ok = intervals.jackknife_t_interval(est, jack.T, 0.95)
    assert ok.all()
    hits = int(((low <= truth) & (truth <= high)).sum())
    assert sps.binomtest(hits, R, 0.95).pvalue > 1e-3, hits / R
    assert sps.binomtest(int(0.90 * R), R, 0.95).pvalue < 1e-6  # the check has the power it claims


@pytest.mark.slow
def test_cluster_t_coverage_binomial_full_study():
    """The whole default (cluster-t, with model resamples) on 600 datasets of the hardest design."""
    from swjax.coverage import coverage

    res = coverage(S.Design(rho=(0.3,), families=9, hetero=0.5), datasets=600, n=300,
                   methods=("bca", "cluster-t"), population_size=50_000)
    row = res.table.query("method == 'cluster-t'").iloc[0]
    hits = round(row["coverage"] * 600)
    assert sps.binomtest(hits, 600, 0.95).pvalue > 1e-3, row["coverage"]


# ------------------------------------------------------------------------------- bad input


def test_bad_input_is_one_clear_error(chat, tmp_path):
    sim = _sim()
    ds, caps = sim.dataset, list(sim.design.capability_names)
    two = pd.Series(np.where(np.arange(20) < 10, "a", "b"), index=ds.scores.index)
    with pytest.raises(SwjaxError, match="at least 3 families"):
        swjax.bootstrap(ds, n=40, clusters=two, capabilities=caps)
    with pytest.raises(SwjaxError, match="needs model families"):
        swjax.bootstrap(ds, n=40, method="cluster-t", capabilities=caps)
    with pytest.raises(SwjaxError, match="level"):
        swjax.bootstrap(ds, n=40, clusters=ds.meta["family"], capabilities=caps, level=1.0)
    with pytest.raises(SwjaxError, match="stream"):
        swjax.bootstrap(ds, n=40, clusters=ds.meta["family"], capabilities=caps, stream_to=tmp_path / "d.f32")
    with pytest.raises(SwjaxError, match="scale"):
        intervals.jackknife_t_interval(np.zeros(1), np.zeros((4, 1)), 0.95, "log")
    with pytest.raises(SwjaxError, match="needs model families"):
        swjax.compare(ds, "safety_1", n=40, method="cluster-t", capabilities=caps)
    path = tmp_path / "fam.csv"
    path.write_text("model,family\n" + "\n".join(f"{m},x" for m in chat.scores.index) + "\nNoSuchModel-7B,x\n")
    with pytest.raises(SwjaxError, match="NoSuchModel-7B"):
        swjax.family_labels(chat, families=path)


@pytest.mark.parametrize(
    "extra, phrase",
    [
        (["--method", "cluster-t"], "needs model families"),
        (["--families", "public", "--level", "1.5"], "level"),
        (["--families", "BAD"], "families"),
        (["--cluster-by", "type"], "at least 3 families"),
    ],
)
def test_cli_bad_input_exit_2(extra, phrase):
    result = runner.invoke(app, ["bootstrap", "--set", "chat", "--n", "40", *extra])
    assert result.exit_code == 2, result.output
    assert phrase in result.output and "Traceback" not in result.output


def test_cli_unknown_model_in_family_file_exit_2(tmp_path, chat):
    path = tmp_path / "fam.csv"
    path.write_text("model,family\n" + "\n".join(f"{m},{m.split('-')[0]}" for m in chat.scores.index) + "\nNoSuchModel,x\n")
    result = runner.invoke(app, ["bootstrap", "--set", "chat", "--n", "40", "--families", str(path)])
    assert result.exit_code == 2 and "NoSuchModel" in result.output


def test_cli_families_default_is_cluster_t_and_says_why():
    result = runner.invoke(app, ["bootstrap", "--set", "chat", "--n", "40", "--families", "public"])
    assert result.exit_code == 0, result.output
    assert "cluster-t" in result.output and "never narrower" in " ".join(result.output.split())


def test_compare_with_families_defaults_to_cluster_t(chat):
    fam = swjax.family_labels(chat, families="public")
    ct = swjax.compare(chat, "adv_glue", "glue", n=40, clusters=fam)
    jt = swjax.compare(chat, "adv_glue", "glue", n=40, clusters=fam, method="jackknife-t")
    bca = swjax.compare(chat, "adv_glue", "glue", n=40, method="bca")
    assert ct.metadata["method"] == "cluster-t" and (ct.table["interval"] == "cluster-t").all()
    np.testing.assert_array_equal(ct.table["low"], np.fmin(jt.table["low"], bca.table["low"]))
    np.testing.assert_array_equal(ct.table["high"], np.fmax(jt.table["high"], bca.table["high"]))
    # the difference's t interval is on the raw scale: symmetric about the estimate
    d = jt.table.loc["difference"]
    assert math.isclose(d["high"] - d["estimate"], d["estimate"] - d["low"], rel_tol=1e-9)
