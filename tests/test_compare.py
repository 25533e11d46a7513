"""Paired differences and cross-set comparisons."""

import numpy as np
import pytest
from typer.testing import CliRunner

import swjax
from swjax.cli import app
from swjax import intervals
from swjax.compare import compare, compare_between


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_paired_difference_is_that_of_the_bootstraps_resamples(chat):
    """The difference is taken resample by resample on swjax.bootstrap's own resamples (same
    seed): checked against that run's distribution and the point estimates of analyze."""
    res = compare(chat, "adv_glue", "glue", n=80, seed=4)
    boot = swjax.bootstrap(chat, n=80, seed=4)
    cols = list(boot.table.index)
    a, b = boot.distribution[:, cols.index("adv_glue")], boot.distribution[:, cols.index("glue")]
    np.testing.assert_allclose(res.distribution[:, 2], a.astype(np.float64) - b, rtol=0, atol=1e-12)
    est = swjax.analyze(chat).correlations
    assert res.table.loc["difference", "estimate"] == pytest.approx(est["adv_glue"] - est["glue"], abs=1e-6)


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_a_single_benchmark_has_the_bootstraps_interval_by_default(chat):
    """One default everywhere: compare(a) with the same n and seed is swjax.bootstrap's BCa interval."""
    res = compare(chat, "MT_Bench", n=300, seed=7)
    boot = swjax.bootstrap(chat, n=300, seed=7).table.loc["MT_Bench"]
    row = res.table.loc["MT_Bench"]
    assert row["interval"] == boot["interval"] == "bca"
    assert (row["low"], row["high"]) == pytest.approx((boot["low"], boot["high"]), abs=1e-12)


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_the_p_value_agrees_with_the_interval(chat):
    """At any level, p < 1 - level exactly when the table's interval at that level excludes 0."""
    for method in ("bca", "percentile", "basic"):
        res = compare(chat, "adv_glue", "glue", n=300, seed=2, method=method)
        for level in (0.5, 0.8, 0.9, 0.95, 0.99):
            other = compare(chat, "adv_glue", "glue", n=300, seed=2, method=method, level=level).table
            excludes = (other["low"] > 0) | (other["high"] < 0)
            assert ((res.table["p_value"] < 1 - level) == excludes).all(), (method, level)


@pytest.mark.slow
def test_between_sets_and_compute_interval(chat, base):
    res = compare_between("mmlu", (base, chat), n=40, seed=1)
    seeds = res.metadata["seeds"]
    assert seeds[0] != seeds[1]
    # each set is swjax.bootstrap with its own seed; the difference is theirs, resample by resample
    col = [swjax.bootstrap(ds, n=40, seed=s).distribution_frame()["mmlu"].to_numpy() for ds, s in zip((base, chat), seeds)]
    np.testing.assert_allclose(res.distribution[:, 2], col[0] - col[1], rtol=0, atol=1e-12)
    comp = compare(chat, "compute", n=40)
    assert comp.table.index.tolist() == ["compute_correlation"]
    assert np.isclose(comp.table["estimate"].iloc[0], swjax.analyze(chat).compute_correlation)
    with pytest.raises(swjax.SwjaxError, match="(?i)bca"):
        compare_between("mmlu", (base, chat), n=40, method="bca")
    with pytest.raises(swjax.SwjaxError, match="did you mean"):
        compare(chat, "mmlux", n=40)


def test_cli_commands():
    r = CliRunner()
    out = r.invoke(app, ["compare", "adv_glue", "glue", "--set", "chat", "--n", "40", "--format", "csv"])
    assert out.exit_code == 0, out.output
    assert "difference" in out.output
    out = r.invoke(app, ["lobo", "--set", "chat", "--format", "csv"])
    assert out.exit_code == 0 and "most_moved_by" in out.output
    out = r.invoke(app, ["subsets", "--set", "chat", "--min-size", "11"])
    assert out.exit_code == 0 and "keep_share" in out.output
    out = r.invoke(app, ["compare", "nosuch", "--set", "chat", "--n", "40"])
    assert out.exit_code == 2


@pytest.mark.slow
def test_cli_between():
    out = CliRunner().invoke(app, ["compare", "mmlu", "--between", "base", "chat", "--n", "40"])
    assert out.exit_code == 0, out.output
    assert "mmlu@base" in out.output
