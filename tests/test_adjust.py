"""``adjust``: rank and linear residuals, slopes and the partial correlation against numpy/scipy."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

import swjax
from swjax.adjust import adjust, linear_fit, partial_spearman, rank_fit
from swjax.cli import app
from swjax.data import PAPER_CAPABILITIES, Dataset

from .reference import reference

CAPS = list(PAPER_CAPABILITIES)


def _score(scores: pd.DataFrame, caps, ref_loadings=None) -> np.ndarray:
    out = reference(scores[list(caps)], caps)
    s, v = out["scores"].to_numpy(), out["loadings"].to_numpy()
    if ref_loadings is not None and v @ ref_loadings < 0:  # the resample's PC1 turned along the full one
        s = -s
    return s


def _rank_ref(y, s):
    """Residuals (observed models) and slope of ranks of y on ranks of s, by scipy and polyfit."""
    ok = np.isfinite(y)
    r, q = stats.rankdata(y[ok]), stats.rankdata(s[ok])
    slope, icpt = np.polyfit(q, r, 1)
    return r - (icpt + slope * q), slope, ok


def _lin_ref(y, s):
    ok = np.isfinite(y)
    slope, icpt = np.polyfit(s[ok], y[ok], 1)
    return y[ok] - (icpt + slope * s[ok]), slope, ok


@pytest.mark.parametrize("bench", ["MT_Bench", "LMSYS_Chatbot_Arena", "wmdp_chem"])  # plain, missing, ties
@pytest.mark.parametrize("method", ["rank", "linear"])
def test_full_sample_against_scipy(chat, bench, method):
    res = adjust(chat, bench, method=method, n=40, x64=True)
    s = _score(chat.scores, CAPS)
    y = chat.scores[bench].to_numpy(np.float64)
    resid, slope, ok = (_rank_ref if method == "rank" else _lin_ref)(y, s)
    got = res.table["residual"].reindex(chat.scores.index[ok]).to_numpy()
    np.testing.assert_allclose(got, resid, rtol=0, atol=1e-9)
    assert res.table.index.tolist() == list(chat.scores.index[ok][np.argsort(s[ok], kind="stable")])
    _, rs, _ = _rank_ref(y, s)
    _, ls, _ = _lin_ref(y, s)
    np.testing.assert_allclose(res.slopes.loc["rank", "estimate"], rs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.slopes.loc["linear", "estimate"], ls, rtol=0, atol=1e-9)


def test_partial_against_scipy(chat):
    res = adjust(chat, "LMSYS_Chatbot_Arena", partial="MT_Bench", n=40, x64=True)
    s = _score(chat.scores, CAPS)
    a, b = chat.scores["LMSYS_Chatbot_Arena"].to_numpy(), chat.scores["MT_Bench"].to_numpy()
    ok = np.isfinite(a) & np.isfinite(b)
    rho = stats.spearmanr(np.column_stack([a[ok], b[ok], s[ok]])).statistic
    want = (rho[0, 1] - rho[0, 2] * rho[1, 2]) / np.sqrt((1 - rho[0, 2] ** 2) * (1 - rho[1, 2] ** 2))
    np.testing.assert_allclose(res.slopes.loc["partial", "estimate"], want, rtol=0, atol=1e-9)
    # the same number as the correlation of the two rank regressions' residuals
    ea, _, _ = _rank_ref(a[ok], s[ok])
    eb, _, _ = _rank_ref(b[ok], s[ok])
    np.testing.assert_allclose(np.corrcoef(ea, eb)[0, 1], want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("bench", ["MT_Bench", "LMSYS_Chatbot_Arena"])
@pytest.mark.parametrize("method", ["rank", "linear"])
def test_resamples_equal_repeated_rows(chat, bench, method):
    """A bootstrap resample's residuals and slopes are those of the data with rows repeated."""
    from swjax.adjust import bootstrap_weights

    n = 40
    res = adjust(chat, bench, method=method, n=n, seed=3, x64=True)
    full = reference(chat.scores[CAPS], CAPS)["loadings"].to_numpy()
    w = bootstrap_weights(len(chat.models), n, 3)
    order = [chat.models.index(mdl) for mdl in res.table.index]
    y_all = chat.scores[bench].to_numpy(np.float64)
    for r in range(n):
        idx = np.repeat(np.arange(len(chat.models)), w[r])
        rep = chat.scores.iloc[idx]
        s = _score(rep, CAPS, full)
        y = y_all[idx]
        resid, slope, ok = (_rank_ref if method == "rank" else _lin_ref)(y, s)
        if method == "rank":
            resid = resid * np.isfinite(y_all).sum() / ok.sum()  # rescaled to ranks among the observed
        kept = idx[ok]
        for pos, i in enumerate(order):
            hit = np.flatnonzero(kept == i)
            if len(hit):  # drawn models: their copies share one residual
                np.testing.assert_allclose(res.distribution[r, pos], resid[hit], rtol=0, atol=1e-9)
        col = len(order) + (0 if method == "rank" else 1)
        np.testing.assert_allclose(res.distribution[r, col], slope, rtol=0, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_data_with_ties_and_missing(dtype):
    """Differential check on random matrices: the host fits given the pipeline's score."""
    rng = np.random.default_rng(7)
    m = 17
    y = np.round(rng.normal(size=m), 1).astype(dtype).astype(np.float64)
    y[[2, 9]] = np.nan
    s = rng.normal(size=m).astype(dtype).astype(np.float64)
    resid, slope = rank_fit(y, s, np.ones((1, m)))
    want, wslope, ok = _rank_ref(y, s)
    np.testing.assert_allclose(resid[0, ok], want, atol=1e-9)
    np.testing.assert_allclose(slope[0], wslope, atol=1e-9)
    resid, slope = linear_fit(y, s, np.ones((1, m)))
    want, wslope, ok = _lin_ref(y, s)
    np.testing.assert_allclose(resid[0, ok], want, atol=1e-9)
    np.testing.assert_allclose(slope[0], wslope, atol=1e-9)
    b = y + rng.normal(size=m)
    got = partial_spearman(y, b, s, np.ones((1, m)))[0]
    ok = np.isfinite(y) & np.isfinite(b)
    ea, _, _ = _rank_ref(y[ok], s[ok])
    eb, _, _ = _rank_ref(b[ok], s[ok])
    np.testing.assert_allclose(got, np.corrcoef(ea, eb)[0, 1], atol=1e-9)


def test_score_dtype_float32_close_to_float64(chat):
    a = adjust(chat, "MT_Bench", n=40)
    b = adjust(chat, "MT_Bench", n=40, x64=True)
    np.testing.assert_allclose(a.table["residual"], b.table["residual"], atol=1e-5)


def test_monotone_transform_changes_nothing(chat):
    mine = pd.DataFrame({"my_bench": np.exp(chat.scores["MT_Bench"])})
    a = adjust(chat, "MT_Bench", n=50, seed=1)
    b = adjust(chat, scores=mine, n=50, seed=1)
    np.testing.assert_array_equal(a.table["residual"].to_numpy(), b.table["residual"].to_numpy())
    np.testing.assert_array_equal(a.distribution[:, :-1], b.distribution[:, :-1])  # all but the linear slope


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(benchmark="MT_Bnch"), "did you mean 'MT_Bench'"),
        (dict(benchmark="mmlu"), "capability benchmark"),
        (dict(benchmark="MT_Bench", method="ols"), "method"),
        (dict(benchmark="MT_Bench", partial="MT_Bench"), "itself"),
        (dict(benchmark="MT_Bench", partial="ifevall"), "did you mean 'ifeval'"),
    ],
)
def test_bad_input(chat, kw, message):
    with pytest.raises(swjax.SwjaxError, match=message):
        adjust(chat, n=40, **kw)


def test_cli(tmp_path):
    runner = CliRunner()
    out = tmp_path / "adj"
    res = runner.invoke(app, ["adjust", "MT_Bench", "--set", "chat", "--n", "50", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} == {"adjust.csv", "slopes.csv", "adjust.json", "adjust.png", ".swjax-output.json"}
    res = runner.invoke(app, ["adjust", "MT_Bnch", "--set", "chat", "--n", "50"])
    assert res.exit_code == 2
    assert "did you mean 'MT_Bench'" in res.output
