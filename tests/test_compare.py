"""Paired differences and cross-set comparisons."""

import numpy as np
import pytest
from typer.testing import CliRunner

import swjax
from swjax.cli import app
from swjax.compare import bootstrap_pvalue, compare, compare_between


def test_paired_difference_is_row_by_row_difference(chat):
    res = compare(chat, "adv_glue", "glue", n=80, seed=4)
    d = res.distribution
    np.testing.assert_array_equal(d[:, 2], d[:, 0] - d[:, 1])
    boot = swjax.bootstrap(chat, n=80, seed=4, method="percentile")
    cols = list(boot.table.index)
    np.testing.assert_allclose(d[:, 0], boot.distribution[:, cols.index("adv_glue")])
    np.testing.assert_allclose(d[:, 1], boot.distribution[:, cols.index("glue")])
    t = res.table
    assert np.isclose(t.loc["difference", "estimate"], t.loc["adv_glue", "estimate"] - t.loc["glue", "estimate"])


def test_bootstrap_pvalue_definition():
    d = np.array([[-1.0, 1, 2, 3, np.nan]]).T
    assert np.isclose(bootstrap_pvalue(d)[0], 2 * 2 / 5)
    assert bootstrap_pvalue(np.ones((9, 1)))[0] == pytest.approx(0.2)


@pytest.mark.slow
def test_between_sets_and_compute_interval(chat, base):
    res = compare_between("mmlu", (base, chat), n=40, seed=1)
    d = res.distribution
    np.testing.assert_array_equal(d[:, 2], d[:, 0] - d[:, 1])
    assert res.metadata["seeds"][0] != res.metadata["seeds"][1]
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
