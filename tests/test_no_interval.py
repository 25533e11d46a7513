"""Numbers that must not contradict the interval: no interval or verdict below the minimum of
models (and of families), the se column of the method shown, no verdict on summary rows, and
a missing FLOP column said in words; through the API and the CLI (table, CSV, JSON)."""

import io
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import swjax
from swjax.bootstrap import min_models
from swjax.cli import app

from .reference import reference

runner = CliRunner()
N, SEED = 60, 3
CAPS = ["c0", "c1", "c2", "c3"]


@pytest.fixture(scope="module")
def sparse():
    """14 models in 5 families, 4 capability benchmarks, 2 others, and two benchmarks present
    for few models: ``few4`` for 4 models in 2 families, ranked as the capabilities score (a
    perfect 1.0 from 4 models), and ``few6`` for 6 models in the same 2 families; no FLOP.
    Small, so that its programs compile fast."""
    rng = np.random.default_rng(5)
    models = [f"m{i:02d}" for i in range(14)]
    families = pd.Series([f"f{i}" for i in (0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4)], index=models, name="family")
    f = rng.normal(size=14)
    x = f[:, None] * rng.uniform(0.8, 1.4, 6) + 0.7 * rng.normal(size=(14, 6))
    sc = pd.DataFrame(x, index=pd.Index(models, name="model"), columns=CAPS + ["s0", "s1"])
    score = reference(sc, CAPS)["scores"]  # numpy/scipy: compiles nothing
    four, six = models[0:2] + models[3:5], models[0:6]
    sc["few4"] = np.nan
    sc.loc[four, "few4"] = score[four]
    sc["few6"] = np.nan
    sc.loc[six, "few6"] = rng.normal(size=6)
    info = pd.DataFrame({"name": list(sc.columns), "metric": "x"}, index=sc.columns)
    return swjax.Dataset("sparse", sc, pd.DataFrame(index=sc.index), info), families, four, six


def _run(ds, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return swjax.bootstrap(ds, n=N, seed=SEED, capabilities=CAPS, **kw)


def test_minimum_is_the_smallest_n_a_perfect_rank_correlation_can_reject():
    for level in (0.8, 0.9, 0.95, 0.99, 0.999):
        # the exact permutation test: P(rho = +-1 | n untied models, no correlation) = 2 / n!
        smallest = next(n for n in range(2, 20) if 2 / math.factorial(n) <= 1 - level)
        assert min_models(level) == max(5, smallest)
    assert (min_models(0.95), min_models(0.99), min_models(0.999)) == (5, 6, 7)


def test_few_families_get_no_interval(sparse):
    """First: its run compiles both the cluster and the model bootstrap, which the next reuse."""
    ds, families, four, six = sparse
    res = _run(ds, clusters=families)
    t = res.table
    assert t.loc["few6", "n_families"] == 2 and t.loc["few6", "n_models"] == 6
    assert t.loc["few6", "interval"] == "none: 2 families (at least 3 needed)"
    assert t.loc["few6", "verdict"] == "no interval"
    cols = ["low", "high", "se", "low_models", "high_models", "low_families", "high_families", "design_effect"]
    assert t.loc[["few4", "few6"], cols].isna().all().all()
    assert t.loc["few4", "interval"] == "none: 4 models (at least 5 needed)"  # models are checked first
    assert (t.drop(index=["few4", "few6"])["n_families"] >= 3).all()
    assert res.metadata["min_families"] == 3 and res.metadata["min_models"] == 5


def test_few_models_get_their_estimate_and_no_interval(sparse):
    ds, families, four, six = sparse
    res = _run(ds)
    row = res.table.loc["few4"]
    assert row["estimate"] == pytest.approx(1.0, abs=1e-6) and row["n_models"] == 4
    assert np.isnan(row["low"]) and np.isnan(row["high"]) and np.isnan(row["se"])
    assert row["verdict"] == "no interval" and row["interval"] == "none: 4 models (at least 5 needed)"
    six_row = res.table.loc["few6"]  # 6 models: an interval, families not asked
    assert six_row["n_models"] == 6 and np.isfinite(six_row["low"]) and six_row["interval"] in ("bca", "percentile (bca failed)")


@pytest.mark.slow  # two more compiled shapes
def test_other_benchmarks_unchanged_and_the_minimum_follows_the_level(sparse):
    ds, _, _, _ = sparse
    res = _run(ds)
    full = _run(swjax.Dataset("full", ds.scores.drop(columns=["few4", "few6"]), ds.meta, ds.info))
    pd.testing.assert_frame_equal(res.table.drop(index=["few4", "few6"])[["low", "high", "verdict"]],
                                  full.table[["low", "high", "verdict"]])
    # stricter at 99 %: 6 models needed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res99 = swjax.bootstrap(ds, n=200, seed=SEED, level=0.99, capabilities=CAPS)
    assert np.isfinite(res99.table.loc["few6", "low"])  # 6 >= 6
    assert res99.table.loc["few4", "interval"] == "none: 4 models (at least 6 needed)"


def test_se_is_the_standard_error_of_the_interval_shown(sparse):
    ds, families, _, _ = sparse
    ct = _run(ds, clusters=families)  # cluster-t
    models = _run(ds)  # the model bootstrap on the same seed: the model half of cluster-t
    t = ct.table.drop(index=["few4", "few6"])
    cols = [ct.benchmarks.index(b) for b in t.index]
    model_se = np.nanstd(np.asarray(models.distribution, np.float64)[:, cols], axis=0, ddof=1)
    jack = np.asarray(ct.jackknife, np.float64)[:, cols]  # leave one family out
    g = np.isfinite(jack).sum(axis=0)
    fam_se = np.sqrt((g - 1) / g * np.nansum((jack - np.nanmean(jack, axis=0)) ** 2, axis=0))
    np.testing.assert_allclose(t["se"], np.maximum(fam_se, model_se), rtol=0, atol=1e-6)
    assert (t["se_from"] == np.where(fam_se >= model_se, "family jackknife", "model bootstrap")).all()
    # the contradiction of the report: an interval wider than the model bootstrap's beside a
    # smaller se (the cluster bootstrap's spread)
    assert (t["se"] >= model_se - 1e-6).all()
    np.testing.assert_allclose(models.table.loc[t.index, "se"], model_se, rtol=0, atol=1e-6)
    assert set(models.table["se_from"]) <= {"model bootstrap", ""}
    # jackknife-t over models: the jackknife's own standard error
    jt = _run(ds, method="jackknife-t")
    jack = np.asarray(jt.jackknife, np.float64)[:, cols]
    g = np.isfinite(jack).sum(axis=0)
    se = np.sqrt((g - 1) / g * np.nansum((jack - np.nanmean(jack, axis=0)) ** 2, axis=0))
    np.testing.assert_allclose(jt.table.loc[t.index, "se"], se, rtol=0, atol=1e-6)
    assert (jt.table.loc[t.index, "se_from"] == "model jackknife").all()


def test_summary_rows_carry_no_verdict_and_no_flop_is_said(sparse):
    ds, _, _, _ = sparse
    res = _run(ds)
    assert "verdict" not in res.summary.columns
    row = res.summary.loc["compute_correlation"]
    assert row["interval"] == "none: no FLOP" and np.isnan(row["estimate"]) and np.isnan(row["low"])
    assert row["n_models"] == 0
    assert np.isfinite(res.summary.loc["variance_explained", "low"])


def _cli(tmp_path, ds, families, *extra):
    data = tmp_path / "scores.csv"
    ds.scores.to_csv(data, index_label="model")
    fam = tmp_path / "families.csv"
    families.reindex(ds.scores.index).rename_axis("model").reset_index().to_csv(fam, index=False)
    args = ["bootstrap", "--data", str(data), "--n", str(N), "--seed", str(SEED), "--families", str(fam),
            "--capabilities", ",".join(CAPS), *extra]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return res.stdout


def test_cli_csv_json_and_table(sparse, tmp_path):
    ds, families, _, _ = sparse
    frame = pd.read_csv(io.StringIO(_cli(tmp_path, ds, families, "--format", "csv")), index_col="benchmark")
    assert frame.loc["few4", "interval"] == "none: 4 models (at least 5 needed)"
    assert frame.loc["few6", "interval"] == "none: 2 families (at least 3 needed)"
    assert (frame.loc[["few4", "few6"], "verdict"] == "no interval").all()
    assert frame.loc[["few4", "few6"], ["low", "high", "se"]].isna().all().all()
    summary = frame[frame["kind"] == "summary"]
    assert list(summary.index) == ["variance_explained", "mean_intercorrelation", "compute_correlation"]
    assert summary["verdict"].isna().all()  # no verdict on summary rows
    assert summary.loc["compute_correlation", "interval"] == "none: no FLOP"
    bench = frame[frame["kind"] == "benchmark"].drop(index=["few4", "few6"])
    assert set(bench["se_from"]) <= {"family jackknife", "model bootstrap"}
    assert bench["verdict"].isin(["entangled", "anti-correlated", "distinct", "indeterminate"]).all()

    (doc,) = json.loads(_cli(tmp_path, ds, families, "--format", "json")).values()
    table = {r["benchmark"]: r for r in doc["table"]}
    assert table["few4"]["low"] is None and table["few4"]["se"] is None and table["few4"]["verdict"] == "no interval"
    assert table["few6"]["interval"] == "none: 2 families (at least 3 needed)"
    summary = {r["benchmark"]: r for r in doc["summary"]}
    assert not any("verdict" in r for r in summary.values())
    assert summary["compute_correlation"]["interval"] == "none: no FLOP"

    text = _cli(tmp_path, ds, families, "--benchmarks", "all")
    lines = {line.split()[0].strip("│"): line for line in text.splitlines() if line.split()}
    for bench in ("few4", "few6"):
        assert "none" in lines[bench].replace("│", " ").split() and "no interval" in lines[bench]
    assert "2 families (at least 3" in lines["few6"] and "[, ]" not in text
    assert "compute_correlation: no interval (no FLOP)" in text
    assert "se: the standard error of the interval's method" in text


@pytest.mark.slow  # compiles the leave-one-out kernel
def test_lobo_intervals_keep_the_minimum(sparse):
    ds, _, _, _ = sparse
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = swjax.lobo(ds, n=N, seed=SEED, capabilities=CAPS)
    iv = res.intervals
    few = iv[iv["benchmark"] == "few4"]
    assert len(few) == 1 + len(CAPS) and (few["verdict"] == "no interval").all() and few[["low", "high", "se"]].isna().all().all()
    assert (few["interval"] == "none: 4 models (at least 5 needed)").all()
    assert few.loc[few["variant"] == "full", "estimate"].item() == pytest.approx(1.0, abs=1e-6)  # kept
    np.testing.assert_allclose(few["estimate"], res.correlations.loc["few4"], rtol=0, atol=1e-12)
    six = iv[iv["benchmark"] == "few6"]
    assert np.isfinite(six["low"]).all()


@pytest.mark.slow  # compiles an analysis of another shape
def test_cli_analyze_says_no_flop(tmp_path):
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(8, 4)), columns=list("abcd"), index=[f"m{i}" for i in range(8)]).to_csv(
        tmp_path / "s.csv", index_label="model")
    res = runner.invoke(app, ["analyze", "--data", str(tmp_path / "s.csv"), "--capabilities", "a,b,c"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert "no FLOP" in text and "compute correlation (0 models)" not in text


@pytest.mark.slow  # compiles compare's programs
def test_compare_se_is_the_standard_error_of_its_interval(chat):
    fam = swjax.family_labels(chat, families="public")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ct = swjax.compare(chat, "MT_Bench", "mmlu", n=N, seed=SEED, clusters=fam)  # cluster-t
        bca = swjax.compare(chat, "MT_Bench", "mmlu", n=N, seed=SEED)  # the model bootstrap
    model_se = np.std(np.asarray(bca.distribution, np.float64), axis=0, ddof=1)
    np.testing.assert_allclose(bca.table["se"], model_se, rtol=0, atol=1e-9)
    # the family jackknife, from leave-one-family-out analyses
    codes = fam.reindex(chat.models)
    jack = []
    for g in sorted(set(codes)):
        c = swjax.analyze(chat, weights=(codes != g).astype(int).to_numpy()).correlations
        jack.append([c["MT_Bench"], c["mmlu"], c["MT_Bench"] - c["mmlu"]])
    jack = np.array(jack)
    G = len(jack)
    fam_se = np.sqrt((G - 1) / G * ((jack - jack.mean(0)) ** 2).sum(0))
    np.testing.assert_allclose(ct.table["se"], np.maximum(fam_se, model_se), rtol=0, atol=2e-5)
    assert list(ct.table["se_from"]) == list(np.where(fam_se >= model_se, "family jackknife", "model bootstrap"))


@pytest.mark.slow  # compiles compare's programs, with and without families
def test_compare_keeps_the_minimum(sparse):
    """A paired difference with a side below the minimum gets no interval, saying which side;
    the side itself gets its estimate and no interval, as in bootstrap; compare's n_models
    counts the models behind each row (the difference: the fewer of its sides)."""
    ds, families, four, six = sparse
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = swjax.compare(ds, "few4", "s0", n=N, seed=SEED, capabilities=CAPS)
        ok = swjax.compare(ds, "few6", "s0", n=N, seed=SEED, capabilities=CAPS)
        fam = swjax.compare(ds, "few6", "s0", n=N, seed=SEED, capabilities=CAPS, clusters=families)
    t = res.table
    assert list(t["n_models"]) == [4, 14, 4]
    assert t.loc["few4", "interval"] == "none: 4 models (at least 5 needed)"
    assert t.loc["difference", "interval"] == "none: few4: 4 models (at least 5 needed)"
    assert t.loc[["few4", "difference"], ["low", "high", "se"]].isna().all().all()
    assert t.loc["few4", "estimate"] == pytest.approx(1.0, abs=1e-6)
    assert np.isfinite(t.loc["s0", ["low", "high", "se"]].astype(float)).all()
    assert np.isfinite(ok.table[["low", "high"]].to_numpy(float)).all() and list(ok.table["n_models"]) == [6, 14, 6]
    # with families, few6 rests on 2 families: no interval for it or for the difference
    assert fam.table.loc["difference", "interval"] == "none: few6: 2 families (at least 3 needed)"
    assert np.isfinite(fam.table.loc["s0", "low"])
    # across sets: one side below the minimum
    other = swjax.Dataset("other", ds.scores, ds.meta, ds.info)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        between = swjax.compare_between("few4", (ds, other), n=N, seed=SEED, capabilities=CAPS)
    assert list(between.table["n_models"]) == [4, 4, 4]
    assert between.table["interval"].str.startswith("none: ").all()
