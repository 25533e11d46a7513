"""The coverage study: the stacked engine against the per-dataset one, the bookkeeping, a cheap
statistical check of the default interval, and the CLI."""

import importlib
import json

import jax
import numpy as np
import pytest
from scipy import stats as sps
from typer.testing import CliRunner

from swjax import engine, resample
from swjax.cli import app
from swjax.coverage import coverage, coverage_table, stacked_problems
from swjax.resample import cluster_jackknife_weights
from swjax.errors import SwjaxError

S = importlib.import_module("swjax.simulate")  # the module; swjax.simulate is the function

POP = 50_000


@pytest.fixture(scope="module")
def stack():
    design = S.check_design(S.Design(rho=(0.4, 0.8), families=9, missing=0.1, step=0.05))
    values = S.draw_many(design, 5, seed=11)
    problems, columns = stacked_problems(design, values, np.float32)
    return design, problems, columns


def _one(problems, r):
    return jax.tree.map(lambda x: x[r], problems)


def test_stacked_evaluate_equals_per_dataset(stack):
    design, problems, columns = stack
    m, k = design.n_models, design.capabilities
    weights = resample.jackknife_weights(m)
    refs = np.random.default_rng(0).standard_normal((5, k))
    out = engine.run(problems, weights, ref=refs, fields=("corr", "loadings"), columns=columns, batch_size=2)
    assert out["corr"].shape == (5, m, len(columns))
    for r in range(5):
        one = engine.run(_one(problems, r), weights, ref=refs[r], fields=None)
        np.testing.assert_allclose(out["corr"][r], one.corr[:, list(columns)], atol=1e-6)
        np.testing.assert_allclose(out["loadings"][r], one.loadings, atol=1e-6)


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
@pytest.mark.parametrize("scheme_name", ["models", "families"])
def test_stacked_resample_equals_per_dataset(stack, scheme_name):
    design, problems, columns = stack
    m, k = design.n_models, design.capabilities
    scheme = (resample.bootstrap_scheme(m) if scheme_name == "models"
              else resample.cluster_scheme(tuple(int(c) for c in design.family_codes())))
    key = resample.key_from_seed(3)
    draws = engine.Draws(scheme, 40, key)
    a = engine.run(problems, draws=draws, fields=("corr",), columns=columns, batch_size=2)
    if scheme_name == "models":  # the chunk size does not matter
        b = engine.run(problems, draws=draws, fields=("corr",), columns=columns, batch_size=5)
        np.testing.assert_array_equal(a["corr"], b["corr"])
    for r in (0, 4):
        one = engine.run(_one(problems, r), draws=engine.Draws(scheme, 40, jax.random.fold_in(key, r)),
                         fields=("corr",), batch_size=16)
        np.testing.assert_allclose(a["corr"][r], one["corr"][:, list(columns)], atol=1e-6)


def test_family_jackknife_leaves_out_whole_families():
    w = cluster_jackknife_weights([0, 0, 1, 2, 2, 2])
    np.testing.assert_array_equal(w, [[0, 0, 1, 1, 1, 1], [1, 1, 0, 1, 1, 1], [1, 1, 1, 0, 0, 0]])


def test_coverage_table_counts():
    # 4 datasets, one benchmark; percentile intervals of uniform resamples around known centres.
    grid = np.linspace(-0.1, 0.1, 201)
    centres = np.array([0.0, 0.5, -0.5, 0.05])
    dist = (centres[:, None] + grid[None, :])[:, :, None]
    dist[3, :10, 0] = np.nan  # degenerate resamples of dataset 3
    jack = np.zeros((4, 5, 1))
    table, bounds = coverage_table(np.array([0.0]), centres[:, None], dist, jack,
                                   methods=("percentile",), level=0.9)
    row = table.iloc[0]
    assert row["coverage"] == 0.5  # datasets 0 and 3 cover 0
    assert row["miss_above"] == 0.25 and row["miss_below"] == 0.25
    assert row["degenerate"] == 10 and row["degenerate_datasets"] == 1
    np.testing.assert_allclose(row["mc_se"], 0.25)
    np.testing.assert_allclose(bounds["percentile"]["low"][0, 0], -0.09, atol=1e-12)


def test_width_ratio_columns_against_a_plain_loop():
    """width_ratio / width_ratio_p95: per benchmark, the median and 95th percentile over the
    datasets of (interval width) / (model BCa width), datasets without a finite ratio left out."""
    rng = np.random.default_rng(0)
    R, B = 40, 101
    centres = rng.uniform(-0.5, 0.5, size=(R, 2))
    dist = centres[:, None, :] + rng.normal(0, 0.1, size=(R, B, 2))
    models = {"low": centres - rng.uniform(0.05, 0.2, size=(R, 2)), "high": centres + 0.1}
    models["high"][3, 1] = models["low"][3, 1]  # a zero-width model interval: left out
    table, bounds = coverage_table(np.zeros(2), centres, dist, np.zeros((R, 5, 2)), methods=("percentile",),
                                   level=0.9, models=models)
    for j in range(2):
        ratios = []
        for r in range(R):
            model_width = models["high"][r, j] - models["low"][r, j]
            if model_width > 0:
                ratios.append((bounds["percentile"]["high"][r, j] - bounds["percentile"]["low"][r, j]) / model_width)
        assert len(ratios) == (R - 1 if j == 1 else R)
        assert table["width_ratio"].iloc[j] == pytest.approx(np.median(ratios), rel=1e-12)
        assert table["width_ratio_p95"].iloc[j] == pytest.approx(np.percentile(ratios, 95), rel=1e-12)


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_default_interval_covers_on_a_plain_design():
    """R = 200 datasets x B = 200 resamples: BCa coverage judged with a binomial test.

    Two-sided at alpha = 0.001: it fails when coverage is truly far from 95 % (85 % gives
    p ~ 1e-7) and is deterministic under its seeds, so it does not flake.
    """
    res = coverage(S.Design(rho=(0.65,)), datasets=200, n=200, methods="bca", seed=1,
                   population_size=POP)
    row = res.table.iloc[0]
    hits = round(row["coverage"] * 200)
    assert sps.binomtest(hits, 200, 0.95).pvalue > 0.001, row.to_dict()
    assert abs(row["miss_below"] - row["miss_above"]) < 0.06, row.to_dict()
    assert row["degenerate"] == 0 and row["no_interval"] == 0


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_coverage_rows_and_methods():
    # the configuration of the CLI test below, so that one of them reuses the other's compilation
    design = S.Design(rho=(0.6,), families=6)
    a = coverage(design, datasets=10, n=40, seed=2, population_size=20_000)
    # models: bca, percentile, basic, jackknife-t; families: the same and cluster-t
    assert len(a.table) == 9 and a.table["truth"].nunique() == 1
    assert list(a.table["scheme"].unique()) == ["models", "families"]
    assert list(a.table["method"].unique()) == ["bca", "percentile", "basic", "jackknife-t", "cluster-t"]
    # cluster-t is the family jackknife-t interval widened to the same dataset's model BCa one
    fam, mod = a.estimates[design.label()]["families"], a.estimates[design.label()]["models"]
    np.testing.assert_array_equal(fam["cluster-t"]["low"], np.fmin(fam["jackknife-t"]["low"], mod["bca"]["low"]))
    np.testing.assert_array_equal(fam["cluster-t"]["high"], np.fmax(fam["jackknife-t"]["high"], mod["bca"]["high"]))
    # percentile and basic intervals have the same width, reflected about the estimate
    pw = a.table.query("method == 'percentile'")["width"].to_numpy()
    bw = a.table.query("method == 'basic'")["width"].to_numpy()
    np.testing.assert_allclose(pw, bw, rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"datasets": 1}, "datasets"), ({"n": 2}, "n"), ({"methods": "bca,student"}, "method"),
     ({"level": 1.5}, "level"), ({"schemes": ["blocks"]}, "schemes")],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(SwjaxError, match=f"^{name}: expected"):
        coverage(S.Design(), **{"datasets": 10, "n": 40, **kwargs})


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_cli_coverage_writes_json_and_figure(tmp_path):
    res = CliRunner().invoke(app, [
        "coverage", "--datasets", "10", "--n", "40", "--rho", "0.6", "--families", "6",
        "--population", "20000",
        "--methods", "percentile", "--out", str(tmp_path / "cov"), "--format", "json",
    ])
    assert res.exit_code == 0, res.output
    payload = json.loads((tmp_path / "cov" / "coverage.json").read_text())
    assert {r["scheme"] for r in payload["rows"]} == {"models", "families"}
    assert (tmp_path / "cov" / "coverage.png").stat().st_size > 1000


def test_cli_coverage_bad_input():
    res = CliRunner().invoke(app, ["coverage", "--datasets", "10", "--n", "40", "--families", "1.5"])
    assert res.exit_code == 2
    assert "families: expected comma-separated integers" in res.output


@pytest.mark.slow
def test_default_interval_covers_every_rho_on_a_plain_design():
    """R = 1000 x B = 1000 (minutes): BCa within a binomial test of 95 % at each true rho."""
    res = coverage(S.Design(), datasets=1000, n=1000, methods="bca", seed=5)
    for _, row in res.table.iterrows():
        hits = round(row["coverage"] * 1000)
        assert sps.binomtest(hits, 1000, 0.95).pvalue > 0.001, row.to_dict()


def test_second_call_does_not_recompile(stack):
    design, problems, columns = stack
    m, k = design.n_models, design.capabilities
    scheme = resample.bootstrap_scheme(m)
    run = lambda seed: engine.run(  # noqa: E731
        problems, draws=engine.Draws(scheme, 16, resample.key_from_seed(seed)), fields=("corr",),
        columns=columns, batch_size=3,
    )
    run(0)
    size = engine.compiled_count()
    run(1)
    assert engine.compiled_count() == size
