"""Measurement error (``stderr=``, ``--stderr``, ``--items``): each resample also perturbs the
scores by their standard errors; checked against the independent reference pipeline run on
the perturbed, reweighted data."""

import dataclasses
import json
import math
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import swjax
from swjax import measurement, resample
from swjax.cli import app
from swjax.data import Dataset
from swjax.simulate import Design, check_design, draw, pipeline_correlations, population, to_dataset

from .reference import reference

EPOCH = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "epoch" / "benchmarks_runs.csv"
CAPS = ["cap_1", "cap_2", "cap_3", "cap_4"]


def _data(seed=3, m=18):
    design = Design(n_models=m, capabilities=4, rho=(0.5, 0.8), link="logistic", items=40)
    values = draw(design, m, np.random.default_rng(seed))
    values[2, 5] = np.nan  # a model without one safety score
    ds = to_dataset(design, values)
    se = measurement.binomial_stderr(ds.scores, design.items).fillna(0.0)
    se.iloc[0, 0] = np.nan  # a cell whose standard error is unknown: not perturbed
    return ds, se


def _written(folder):
    """The data and standard errors of :func:`_data`, also as ``scores.csv`` and ``stderr.csv``."""
    ds, se = _data()
    ds.scores.rename_axis("model").to_csv(folder / "scores.csv")
    se.rename_axis("model").to_csv(folder / "stderr.csv")
    return ds, se


def test_binomial_stderr_is_the_binomial_formula_for_shares_only():
    scores = pd.DataFrame({"a": [0.5, 0.9, np.nan], "b": [40.0, 60.0, 70.0]}, index=["x", "y", "z"])
    items = pd.DataFrame({"a": [100, 10, 5], "b": [100, 100, 100]}, index=["x", "y", "z"])
    se = measurement.binomial_stderr(scores, items)
    assert se.loc["x", "a"] == pytest.approx(math.sqrt(0.25 / 100), rel=1e-15)
    assert se.loc["y", "a"] == pytest.approx(math.sqrt(0.09 / 10), rel=1e-15)
    assert np.isnan(se.loc["z", "a"])  # no score
    assert se["b"].isna().all()  # a column outside [0, 1] is not a share


def test_bad_standard_errors_are_refused_by_name():
    ds, se = _data()
    bad = se.copy()
    bad.iloc[3, 1] = -0.1
    with pytest.raises(swjax.SwjaxError, match=r"stderr: the standard error of 'sim-004' on 'cap_2' is -0.1"):
        swjax.bootstrap(ds, capabilities=CAPS, n=40, stderr=bad)
    with pytest.raises(swjax.SwjaxError, match="no standard error above 0"):
        swjax.bootstrap(ds, capabilities=CAPS, n=40, stderr=se.rename(index=lambda s: s + "-other"))
    with pytest.raises(swjax.SwjaxError, match="jackknife-t"):
        swjax.bootstrap(ds, capabilities=CAPS, n=40, stderr=se, method="jackknife-t")
    with pytest.raises(swjax.SwjaxError, match="stream"):
        swjax.bootstrap(ds, capabilities=CAPS, n=40, stderr=se, stream_to="/nonexistent/x.f32")


@pytest.mark.parametrize("x64", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_resample_is_the_reference_on_its_perturbed_copy_and_weights(x64):
    """Resample i: copy d = i mod copies of the scores plus normal errors (numpy's generator
    seeded (seed, d, 7919), the documented rule), weight row b = i div copies of that copy
    (fold_in(fold_in(key, d), b)); the reference pipeline on those rows repeated by weight."""
    ds, se = _data()
    n, seed = 230, 4
    res = swjax.bootstrap(ds, capabilities=CAPS, n=n, seed=seed, stderr=se, x64=x64)
    copies, per_copy = measurement.copies_for(n)
    assert (copies, per_copy) == (min(measurement.COPIES, n), math.ceil(n / min(measurement.COPIES, n)))
    assert res.metadata["errors"]["copies"] == copies
    x = ds.scores.to_numpy(float)
    s = np.nan_to_num(se.to_numpy(float))
    key = resample.key_from_seed(seed)
    m = len(ds.models)
    tol = 1e-9 if x64 else 2e-5
    for i in [0, 1, copies - 1, copies, n - 1]:
        d, b = i % copies, i // copies
        noisy = x + s * np.random.default_rng([seed, d, 7919]).standard_normal(x.shape)
        w = np.asarray(resample.bootstrap_scheme(m)(jax.random.fold_in(jax.random.fold_in(key, d), b)))
        rows = pd.DataFrame(np.repeat(noisy, w, axis=0), columns=ds.benchmarks)
        rows.index = [f"r{j}" for j in range(len(rows))]
        want = reference(rows, CAPS)["correlations"].reindex(ds.benchmarks)
        np.testing.assert_allclose(res.distribution[i], want.to_numpy(), atol=tol, equal_nan=True)
    # The point estimate and the jackknife are those of the scores as given.
    plain = swjax.bootstrap(ds, capabilities=CAPS, n=n, seed=seed, x64=x64)
    pd.testing.assert_series_equal(res.table["estimate"], plain.table["estimate"])
    np.testing.assert_array_equal(res.jackknife, plain.jackknife)
    # The spread without errors is that of the plain run, on the same seed.
    np.testing.assert_allclose(res.table["se_without_errors"], plain.distribution.std(axis=0, ddof=1),
                               rtol=1e-6 if x64 else 1e-4)
    share = res.table["error_share"].to_numpy()
    want_share = np.clip(1 - (res.table["se_without_errors"] / res.distribution.std(axis=0, ddof=1)) ** 2, 0, 1)
    np.testing.assert_allclose(share, want_share, rtol=1e-4, atol=1e-6)


@pytest.mark.slow  # four bootstraps over families and models, two of them with the copies' program
def test_errors_enter_cluster_t_through_its_model_bootstrap():
    ds, se = _data(m=20)
    families = pd.Series([f"f{i // 2}" for i in range(20)], index=ds.models)
    with_errors = swjax.bootstrap(ds, capabilities=CAPS, n=200, seed=1, clusters=families, stderr=se)
    without = swjax.bootstrap(ds, capabilities=CAPS, n=200, seed=1, clusters=families)
    assert (with_errors.table["interval"] == without.table["interval"]).all()
    # se_without_errors is the model bootstrap's spread without errors; the families' own
    # jackknife interval does not read resamples, so it is the same.
    np.testing.assert_allclose(with_errors.table["low_families"], without.table["low_families"])
    assert not np.allclose(with_errors.table["low_models"], without.table["low_models"])


def test_simulated_items_are_binomial_shares_around_the_true_scores():
    design = Design(n_models=30, rho=(0.7,), link="logistic", items=25)
    true = Design(n_models=30, rho=(0.7,), link="logistic")
    values = draw(design, 30, np.random.default_rng(0))
    np.testing.assert_allclose(values * 25, np.round(values * 25), atol=1e-9)  # k / items
    # The truth is the true accuracies', the same loadings as without items.
    pd.testing.assert_series_equal(population(design, 20_000), population(true, 20_000))
    big = draw(design, 20_000, np.random.default_rng(1))
    attenuated = pipeline_correlations(big, design.capabilities)[-1]
    assert attenuated < population(design, 20_000).iloc[-1] - 0.01  # item error attenuates
    se = measurement.binomial_stderr(pd.DataFrame(values), design.items)  # one count for every cell
    np.testing.assert_allclose(se, np.sqrt(values * (1 - values) / 25))
    sim = swjax.simulate(20, rho=(0.5,), link="logistic", items=30, seed=2, population_size=20_000)
    x = sim.dataset.scores.to_numpy()
    np.testing.assert_allclose(x * 30, np.round(x * 30), atol=1e-9)
    assert sim.design.items == 30 and "items=30" in sim.design.label()
    with pytest.raises(swjax.SwjaxError, match="items: expected 0 unless link='logistic'"):
        check_design(dataclasses.replace(true, link="linear", items=10))


@pytest.mark.slow  # three bootstraps through the command line and three through the API
def test_cli_stderr_and_items_files(tmp_path):
    ds, se = _written(tmp_path)
    items = pd.DataFrame(10, index=ds.models, columns=ds.benchmarks).rename_axis("model")
    items.to_csv(tmp_path / "n.csv")
    runner = CliRunner()
    base = ["bootstrap", "--data", str(tmp_path / "scores.csv"), "--capabilities", ",".join(CAPS), "--n", "120",
            "--format", "json"]
    label = "scores.csv"

    def table(output):
        return pd.DataFrame(json.loads(output)[label]["table"]).set_index("benchmark")

    got = runner.invoke(app, base + ["--stderr", str(tmp_path / "stderr.csv")])
    assert got.exit_code == 0, got.output
    api = swjax.bootstrap(swjax.read_csv(tmp_path / "scores.csv"), capabilities=CAPS, n=120, stderr=se)
    cli = table(got.stdout)
    for col in ("low", "high", "se_without_errors", "error_share"):
        np.testing.assert_allclose(cli[col].astype(float), api.table[col].astype(float), rtol=1e-12, equal_nan=True)
    # --items alone: binomial standard errors of the shares, as binomial_stderr gives them.
    by_items = runner.invoke(app, base + ["--items", str(tmp_path / "n.csv")])
    assert by_items.exit_code == 0, by_items.output
    want = swjax.bootstrap(swjax.read_csv(tmp_path / "scores.csv"), capabilities=CAPS, n=120,
                           stderr=measurement.binomial_stderr(ds.scores, items))
    np.testing.assert_allclose(table(by_items.stdout)["high"].astype(float), want.table["high"], rtol=1e-12)
    assert not np.allclose(table(by_items.stdout)["high"].astype(float), cli["high"].astype(float))
    shown = runner.invoke(app, base[:-2] + ["--stderr", str(tmp_path / "stderr.csv")], env={"COLUMNS": "160"})
    assert shown.exit_code == 0, shown.output
    assert "error share" in shown.stdout and "perturbed by their standard errors (100 copies)" in shown.stdout
    (tmp_path / "bad.csv").write_text("model,cap_1\nsim-001,oops\n")
    bad = runner.invoke(app, base + ["--stderr", str(tmp_path / "bad.csv")])
    assert bad.exit_code == 2 and "stderr:" in bad.output and "Traceback" not in bad.output, bad.output


@pytest.mark.skipif(not EPOCH.is_file(), reason=f"real Epoch data not here ({EPOCH})")
@pytest.mark.slow  # imports Epoch's runs and compiles the stacked copies' program
def test_epoch_runs_with_their_own_standard_errors(tmp_path):
    """Epoch's benchmark runs carry ``mean±stderr``: imported, then bootstrapped with them."""
    runner = CliRunner()
    imported = runner.invoke(app, ["import", str(EPOCH), "--duplicates", "mean", "--out", str(tmp_path / "ep")])
    assert imported.exit_code == 0, imported.output
    stderr = pd.read_csv(tmp_path / "ep" / "stderr.csv", index_col="model")
    assert stderr["GPQA diamond"].notna().sum() > 100
    got = runner.invoke(app, ["bootstrap", "--data", str(tmp_path / "ep"), "--capabilities",
                              "GPQA diamond,MATH level 5,OTIS Mock AIME 2024-2025", "--n", "200", "--format", "csv",
                              "--stderr", str(tmp_path / "ep" / "stderr.csv")])
    assert got.exit_code == 0, got.output
    table = pd.read_csv(__import__("io").StringIO(got.stdout)).set_index("benchmark")
    assert {"se_without_errors", "error_share"} <= set(table.columns)
    row = table.loc["FrontierMath-2025-02-28-Private"]
    assert row["n_models"] > 30 and 0 <= row["error_share"] <= 1


@pytest.mark.slow  # two capability measures, each with the copies' program
def test_axes_pairs_the_measures_on_the_same_perturbed_copies(tmp_path):
    ds, se = _written(tmp_path)
    got = CliRunner().invoke(app, ["axes", "safety_1", "--data", str(tmp_path / "scores.csv"), "--capabilities",
                                   ",".join(CAPS), "--measures", "paper,mean-z", "--n", "120", "--format", "json",
                                   "--stderr", str(tmp_path / "stderr.csv")])
    assert got.exit_code == 0, got.output
    res = swjax.axes(swjax.read_csv(tmp_path / "scores.csv"), ["safety_1"], capabilities=CAPS, scores="paper,mean-z",
                     n=120, stderr=se)
    runs = {s: swjax.bootstrap(ds, capabilities=CAPS, n=120, score=s, stderr=se) for s in ("paper", "mean-z")}
    j = runs["paper"].benchmarks.index("safety_1")
    diff = runs["paper"].distribution[:, j].astype(float) - runs["mean-z"].distribution[:, j].astype(float)
    row = res.differences.loc[("safety_1", "paper", "mean-z")]
    # the difference's interval is read from the paired resamples (BCa with the paired jackknife)
    from swjax import intervals

    jack = (runs["paper"].jackknife[:, j] - runs["mean-z"].jackknife[:, j])[:, None].astype(float)
    low, high, _ = intervals.interval(diff[:, None], np.array([row["estimate"]]), 0.95, "bca", jack)
    assert (row["low"], row["high"]) == pytest.approx((low[0], high[0]), abs=1e-12)
    assert json.loads(got.stdout)["differences"][0]["low"] == pytest.approx(row["low"], abs=1e-12)
