"""``score=`` in every analysis that builds a capabilities score, and ``--score`` on its command.

Each analysis under ``score="mean-z"`` is checked against an independent way to the same
numbers: :func:`swjax.analyze` with that measure (on the same models, capabilities or combined
data), :func:`swjax.bootstrap` with the same seed, or numpy/scipy from the measure's definition
(the mean of the capability benchmarks' z-scores; log10 FLOP for ``compute``). Each check
also asserts that the paper's measure gives other numbers, so a measure that is dropped on the
way to the Problem fails it.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

import swjax
from swjax import families as F
from swjax import options
from swjax.cli import app
from swjax.data import PAPER_CAPABILITIES as CAPS
from swjax.errors import SwjaxError

MZ = "mean-z"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def mean_z_reference(dataset, capabilities=CAPS):
    """(score by model, Spearman correlation of every benchmark with it), numpy and scipy only."""
    caps = [c for c in capabilities if c in dataset.scores.columns]
    x = dataset.scores[caps].dropna()
    z = (x - x.mean()) / x.std(ddof=0)
    score = z.mean(axis=1)
    corr = {}
    for b in dataset.scores.columns:
        y = dataset.scores.loc[score.index, b]
        ok = y.notna()
        if ok.sum() >= 3 and y[ok].nunique() > 1:
            corr[b] = stats.spearmanr(y[ok], score[ok]).statistic
    return score, pd.Series(corr)


def differs_from_paper(ours: pd.Series, paper: pd.Series) -> None:
    """The measure made a difference here (else the comparison could not tell it was passed on)."""
    common = ours.index.intersection(paper.index)
    assert np.nanmax(np.abs(ours[common] - paper[common])) > 1e-3


def test_options_check_normalizes_and_refuses_a_measure():
    assert options.check(score=" Mean-Z ").score == MZ
    assert options.check(score=None).score == "paper"
    assert options.check().score is None  # not taken
    with pytest.raises(SwjaxError, match=r"^score: expected one of paper, pearson, mean-z, irt, compute"):
        options.check(score="pca")


@pytest.mark.parametrize("call", [
    lambda: swjax.lobo("chat", score="pca"),
    lambda: swjax.subsets("chat", score="pca"),
    lambda: swjax.compare("chat", "MT_Bench", score="pca"),
    lambda: swjax.compare_between("mmlu", score="pca"),
    lambda: swjax.correlate(pd.DataFrame({"x": [1.0]}, index=["nobody"]), "chat", score="pca"),
    lambda: swjax.adjust("chat", "MT_Bench", score="pca"),
    lambda: F.leave_one_family_out("chat", pd.Series(dtype=object), score="pca"),
    lambda: F.family_bootstrap("chat", pd.Series(dtype=object), score="pca"),
], ids=["lobo", "subsets", "compare", "compare_between", "correlate", "adjust", "lofo", "family_bootstrap"])
def test_a_bad_measure_is_refused_before_any_work(call):
    with pytest.raises(SwjaxError, match=r"^score: expected one of"):
        call()


def test_lobo_mean_z_is_analyze_with_and_without_each_capability(base):
    res = swjax.lobo(base, score=MZ, x64=True)
    assert res.metadata["score"] == MZ
    full = swjax.analyze(base, score=MZ, x64=True).correlations
    np.testing.assert_allclose(res.correlations["full"], full.reindex(res.correlations.index), atol=1e-9)
    _, ref = mean_z_reference(base)
    np.testing.assert_allclose(res.correlations["full"], ref.reindex(res.correlations.index), atol=1e-9)
    differs_from_paper(res.correlations["full"], swjax.analyze(base, x64=True).correlations)
    dropped = CAPS[0]
    rest = [c for c in CAPS if c != dropped]
    without = swjax.analyze(base, capabilities=rest, score=MZ, x64=True).correlations
    col = res.correlations[f"-{dropped}"]
    np.testing.assert_allclose(col.drop(dropped), without.reindex(col.index.drop(dropped)), atol=1e-9)


def test_subsets_mean_z_every_subset_is_analyze_on_it(base):
    res = swjax.subsets(base, min_size=len(CAPS) - 1, score=MZ, x64=True)
    assert res.metadata["score"] == MZ
    full = swjax.analyze(base, score=MZ, x64=True).correlations
    np.testing.assert_allclose(res.table["full"], full.reindex(res.table.index), atol=1e-9)
    caps = list(res.capabilities)
    i = int(np.flatnonzero(res.masks.sum(axis=1) < len(caps))[0])
    members = [c for c, on in zip(caps, res.masks[i]) if on]
    ref = swjax.analyze(base, capabilities=members, score=MZ, x64=True).correlations
    np.testing.assert_allclose(res.estimates[i], ref.reindex(list(res.benchmarks)), atol=1e-9)


def test_compare_single_benchmark_is_the_bootstraps_interval_under_mean_z(base):
    res = swjax.compare(base, "MT_Bench", n=60, seed=3, score=MZ)
    boot = swjax.bootstrap(base, n=60, seed=3, score=MZ)
    assert res.metadata["score"] == MZ and boot.metadata["score"] == MZ
    got = res.table.loc["MT_Bench"]
    want = boot.table.loc["MT_Bench"]
    for col in ("estimate", "low", "high"):
        assert got[col] == pytest.approx(want[col], abs=1e-6)
    paper = swjax.compare(base, "MT_Bench", n=60, seed=3).table.loc["MT_Bench"]
    assert abs(paper["estimate"] - got["estimate"]) > 1e-3


def test_compare_between_estimates_are_analyze_under_mean_z(base, chat):
    res = swjax.compare_between("MT_Bench", (base, chat), n=40, score=MZ)
    assert res.metadata["score"] == MZ
    for ds in (base, chat):
        ref = swjax.analyze(ds, score=MZ).correlations["MT_Bench"]
        assert res.table.loc[f"MT_Bench@{ds.label}", "estimate"] == pytest.approx(ref, abs=1e-5)
    b = res.table.loc["MT_Bench@base", "estimate"]
    assert abs(b - swjax.analyze(base).correlations["MT_Bench"]) > 1e-3


def test_correlate_estimate_is_analyze_on_the_combined_data(base):
    rng = np.random.default_rng(0)
    mine = pd.DataFrame({"my_bench": base.scores["MT_Bench"].rank() + rng.normal(0, 6, len(base.models))})
    res = swjax.correlate(mine, base, n=40, score=MZ)
    assert res.result.metadata["score"] == MZ
    ref = swjax.analyze(res.dataset, score=MZ).correlations["my_bench"]
    assert res.table.loc["my_bench", "estimate"] == pytest.approx(ref, abs=1e-5)
    score, _ = mean_z_reference(base)
    y = mine["my_bench"].reindex(score.index)
    assert ref == pytest.approx(stats.spearmanr(y, score).statistic, abs=1e-5)
    assert abs(ref - swjax.analyze(res.dataset).correlations["my_bench"]) > 1e-3


def test_adjust_fits_on_the_mean_z_score(base):
    res = swjax.adjust(base, "wmdp_bio", n=40, score=MZ, x64=True)
    assert res.metadata["score"] == MZ
    score, corr = mean_z_reference(base)
    np.testing.assert_allclose(res.table["score"], score.reindex(res.table.index), atol=1e-9)
    y = base.scores.loc[score.index, "wmdp_bio"]
    ok = y.notna()
    # the rank slope is the Spearman correlation when the benchmark has no ties
    assert y[ok].is_unique
    assert res.slopes.loc["rank", "estimate"] == pytest.approx(stats.spearmanr(y[ok], score[ok]).statistic, abs=1e-9)


def test_adjust_under_compute_leaves_out_models_without_flop(chat):
    from swjax.data import flop

    res = swjax.adjust(chat, "MT_Bench", n=40, score="compute", x64=True)
    fl = flop(chat).reindex(chat.models)
    y = chat.scores["MT_Bench"].reindex(chat.models)
    ok = fl.notna() & y.notna()
    assert set(res.table.index) == set(ok[ok].index) and len(res.table) < len(chat.models)
    assert np.isfinite(res.table["low"]).all()
    # the rank regression's slope (FLOP has ties, so not quite the Spearman correlation)
    ry = stats.rankdata(y[ok]) - (ok.sum() + 1) / 2
    rs = stats.rankdata(np.log10(fl[ok])) - (ok.sum() + 1) / 2
    assert res.slopes.loc["rank", "estimate"] == pytest.approx((ry * rs).sum() / (rs * rs).sum(), abs=1e-9)


def test_leave_one_family_out_under_mean_z_is_analyze_without_the_family(chat):
    fam = F.family_labels(chat, families="public")
    lofo = F.leave_one_family_out(chat, fam, score=MZ, x64=True)
    assert lofo.attrs["score"] == MZ
    full = swjax.analyze(chat, score=MZ, x64=True).correlations
    np.testing.assert_allclose(lofo["full"], full.reindex(lofo.index), atol=1e-9)
    w = np.array([0 if fam[m] == "falcon" else 1 for m in chat.models])
    ref = swjax.analyze(chat, weights=w, score=MZ, x64=True).correlations
    np.testing.assert_allclose(lofo["-falcon"], ref.reindex(lofo.index), atol=1e-9)
    differs_from_paper(lofo["-falcon"], F.leave_one_family_out(chat, fam, x64=True)["-falcon"])


def test_family_bootstrap_passes_the_measure_to_both_bootstraps(chat):
    fam = F.family_labels(chat, families="public")
    res = F.family_bootstrap(chat, fam, n=40, score=MZ)
    assert res.clustered.metadata["score"] == MZ and res.models.metadata["score"] == MZ
    boot = swjax.bootstrap(chat, n=40, score=MZ)
    np.testing.assert_allclose(res.models.table["low"], boot.table["low"].reindex(res.models.table.index),
                               atol=1e-6)
    assert res.leave_one_family_out.attrs["score"] == MZ


# ------------------------------------------------------------------ the command line

COMMANDS = {
    "lobo": ["lobo", "--set", "chat"],
    "subsets": ["subsets", "--set", "chat", "--max-subsets", "2"],
    "compare": ["compare", "MT_Bench", "--n", "40"],
    "adjust": ["adjust", "MT_Bench", "--n", "40"],
    "correlate": ["correlate", "--scores", "{SCORES}", "--n", "40"],
    "report": ["report", "--set", "chat", "--n", "40", "--out", "{OUT}"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_cli_refuses_a_bad_measure_in_one_line_with_exit_2(name, tmp_path):
    scores = tmp_path / "mine.csv"
    scores.write_text("model,x\nnobody,1\n")
    args = [a.replace("{SCORES}", str(scores)).replace("{OUT}", str(tmp_path / "rep")) for a in COMMANDS[name]]
    out = runner.invoke(app, args + ["--score", "pca"])
    assert out.exit_code == 2, out.output
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "--score" in lines[0] and "pca" in lines[0], out.output
    assert not (tmp_path / "rep").exists()


def test_cli_lobo_and_compare_name_a_non_default_measure():
    out = runner.invoke(app, ["lobo", "--set", "chat", "--score", MZ])
    assert out.exit_code == 0, out.output
    assert "capability measure mean-z" in out.output
    paper = runner.invoke(app, ["lobo", "--set", "chat"])
    assert paper.exit_code == 0 and "capability measure" not in paper.output
    js = runner.invoke(app, ["compare", "MT_Bench", "--set", "base", "--n", "40", "--score", MZ, "--format", "csv"])
    assert js.exit_code == 0, js.output
    est = float(pd.read_csv(io.StringIO(js.stdout), index_col=0).loc["MT_Bench", "estimate"])
    assert est == pytest.approx(swjax.analyze("base", score=MZ).correlations["MT_Bench"], abs=1e-5)


def test_report_names_the_measure_in_its_title_and_methods(chat):
    from swjax.report import build_report

    res = swjax.bootstrap(chat, n=40, score=MZ)
    out = build_report([res])
    assert "capability measure mean-z" in out["markdown"].splitlines()[0]
    assert "the mean of the capability benchmarks' z-scores" in out["markdown"]
    assert '"score": "mean-z"' in out["manifest"]
