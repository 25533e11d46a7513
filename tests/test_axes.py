"""axes: each benchmark under every capability measure, on the same resamples; the differences
between measures against a textbook BCa written here; robust or not; the command line."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

import swjax
from swjax.cli import app

N, SEED = 120, 4
MEASURES = ["paper", "mean-z"]  # two measures: the cheapest programs to compile


@pytest.fixture(scope="module")
def res(chat):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return swjax.axes(chat, ["MT_Bench", "wmdp_bio", "truthfulqa_mc1"], scores=MEASURES, n=N, seed=SEED)


def _bca(dist, est, jack, level=0.95):
    """Efron's BCa from the resamples and the jackknife (ties at the estimate count half)."""
    z0 = stats.norm.ppf((np.sum(dist < est) + np.sum(dist <= est)) / (2 * len(dist)))
    d = jack.mean() - jack
    a = np.sum(d**3) / (6 * np.sum(d**2) ** 1.5)
    za = stats.norm.ppf([(1 - level) / 2, (1 + level) / 2])
    probs = stats.norm.cdf(z0 + (z0 + za) / (1 - a * (z0 + za)))
    return np.quantile(dist, probs)


@pytest.mark.slow  # compiles two measures' bootstraps (9 s)
def test_every_measure_is_bootstrap_with_that_score_on_the_same_resamples(res, chat):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = {m: swjax.bootstrap(chat, n=N, seed=SEED, score=m) for m in MEASURES}
    for m, r in runs.items():
        got = res.table.xs(m, level="measure")
        pd.testing.assert_frame_equal(got[["estimate", "low", "high", "verdict"]],
                                      r.table.loc[got.index, ["estimate", "low", "high", "verdict"]], check_names=False)
    # the same draws under both measures: the resample weights depend on the seed alone, so the
    # paired differences are those of the two runs' resamples, column by column
    for b in ["MT_Bench", "wmdp_bio", "truthfulqa_mc1"]:
        ra, rb = runs["paper"], runs["mean-z"]
        dist = np.asarray(ra.distribution, np.float64)[:, ra.benchmarks.index(b)] - \
            np.asarray(rb.distribution, np.float64)[:, rb.benchmarks.index(b)]
        jack = np.asarray(ra.jackknife, np.float64)[:, ra.benchmarks.index(b)] - \
            np.asarray(rb.jackknife, np.float64)[:, rb.benchmarks.index(b)]
        est = ra.table.at[b, "estimate"] - rb.table.at[b, "estimate"]
        row = res.differences.loc[(b, "paper", "mean-z")]
        assert row["estimate"] == pytest.approx(est, abs=1e-12)
        lo, hi = _bca(dist, est, jack)
        assert (row["low"], row["high"]) == pytest.approx((lo, hi), abs=1e-9)
        assert row["excludes_zero"] == bool(lo > 0 or hi < 0)


@pytest.mark.slow  # shares the runs above
def test_robust_means_one_verdict_under_every_measure(res):
    for b, row in res.verdicts.iterrows():
        given = {v for v in row[MEASURES] if v != "no interval"}
        assert row["robustness"] == ("robust" if len(given) == 1 else "depends on the measure")
    assert list(res.verdicts.index) == ["MT_Bench", "wmdp_bio", "truthfulqa_mc1"]
    assert res.metadata["scores"] == MEASURES and res.metadata["left_out"] == {}


def test_compute_is_left_out_without_flop_and_two_measures_are_needed(chat):
    ds = swjax.Dataset("noflop", chat.scores, chat.meta.drop(columns=["FLOP"]), chat.info)
    with pytest.raises(swjax.SwjaxError, match=r"at least 2 capability measures.*compute: noflop has no FLOP column"):
        swjax.axes(ds, ["MT_Bench"], scores=["paper", "compute"], n=N)
    with pytest.raises(swjax.SwjaxError, match="score: expected one of"):
        swjax.axes(chat, ["MT_Bench"], scores=["paper", "pca"], n=N)
    # settings and names are checked before any measure runs (nothing compiles here)
    with pytest.raises(swjax.SwjaxError, match="unknown benchmark 'nosuch'"):
        swjax.axes(chat, ["nosuch"], scores="paper,mean-z", n=N)
    with pytest.raises(swjax.SwjaxError, match="n: expected an integer >= 40"):
        swjax.axes(chat, ["MT_Bench"], scores="paper,mean-z", n=0)


@pytest.mark.slow  # compiles five measures' programs
def test_cli_axes_every_measure(tmp_path):
    runner = CliRunner()
    # the benchmarks, n and seed of the API tests' run: the same shapes, so the same compiled programs
    got = runner.invoke(app, ["axes", "MT_Bench", "wmdp_bio", "truthfulqa_mc1", "--set", "chat", "--n", str(N),
                              "--seed", str(SEED), "--format", "json", "--plot", str(tmp_path / "axes.png"), "--scale"])
    assert got.exit_code == 0, got.output
    doc = json.loads(got.stdout)
    assert {r["measure"] for r in doc["table"]} == {"paper", "pearson", "mean-z", "irt", "compute"}
    assert len(doc["differences"]) == 3 * 10  # three benchmarks, 5 choose 2 pairs
    assert (tmp_path / "axes.png").stat().st_size > 10000
    compute = [r for r in doc["table"] if r["measure"] == "compute"]
    assert all(r["n_models"] == 21 for r in compute)  # FLOP is known for 21 of the 26 chat models
    scale = {(r["benchmark"], r["statistic"]) for r in doc["scale"]}
    assert ("wmdp_bio", "capabilities | scale") in scale and ("MT_Bench", "scale | capabilities") in scale
    bad = runner.invoke(app, ["axes", "MT_Bench", "--set", "both"])
    assert bad.exit_code == 2 and "axes runs on one set" in bad.output


@pytest.mark.slow  # compiles the paper and compute programs on the 21 chat models with FLOP
def test_partial_correlations_of_capabilities_and_scale(chat):
    """Partial Spearman correlations against residuals of ranks (least squares), on the chat
    models whose FLOP is known; intervals around their estimates."""
    import importlib

    from swjax.data import PAPER_CAPABILITIES

    from .reference import reference

    axes_mod = importlib.import_module("swjax.axes")
    benches = ["MT_Bench", "wmdp_bio"]
    table = axes_mod.scale(chat, benches, n=N, seed=SEED)
    flop = chat.meta["FLOP"]
    sub = chat.scores[flop.notna() & (flop > 0)]
    score = reference(sub, PAPER_CAPABILITIES)["scores"]
    ranks = {"f": stats.rankdata(np.log10(flop[sub.index])), "c": stats.rankdata(score.reindex(sub.index))}

    def partial(x, y, z):  # correlation of x and y after a least-squares fit on z each
        design = np.column_stack([np.ones_like(z), z])
        rx = x - design @ np.linalg.lstsq(design, x, rcond=None)[0]
        ry = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
        return np.corrcoef(rx, ry)[0, 1]

    for b in benches:
        rb = stats.rankdata(sub[b].to_numpy())
        t = table.loc[b]
        assert t.loc["capabilities", "estimate"] == pytest.approx(stats.spearmanr(rb, ranks["c"]).statistic, abs=1e-5)
        assert t.loc["scale", "estimate"] == pytest.approx(stats.spearmanr(rb, ranks["f"]).statistic, abs=1e-5)
        assert t.loc["capabilities | scale", "estimate"] == pytest.approx(partial(rb, ranks["c"], ranks["f"]), abs=1e-5)
        assert t.loc["scale | capabilities", "estimate"] == pytest.approx(partial(rb, ranks["f"], ranks["c"]), abs=1e-5)
        assert (t["low"] <= t["estimate"] + 1e-12).all() and (t["estimate"] <= t["high"] + 1e-12).all()
        assert (t["n_models"] == len(sub)).all()
    with pytest.raises(swjax.SwjaxError, match="no FLOP column"):
        axes_mod.scale(swjax.Dataset("noflop", chat.scores, chat.meta.drop(columns=["FLOP"]), chat.info), "MT_Bench", n=N)
