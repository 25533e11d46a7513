"""--missing impute: the imputed statistic against an independent numpy/scipy implementation on
rows repeated by their weights (float64 and float32), no-op without missing cells, batch-size
invariance, and the bad input it adds."""

import warnings

import jax
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

import swjax
from swjax import engine
from swjax.cli import app
from swjax.core import IMPUTE_SWEEPS, statistic
from swjax.data import PAPER_CAPABILITIES as CAPS
from swjax.errors import SwjaxError
from swjax.problem import IMPUTE_RANK, build_problem, build_problem_imputed

from .reference import imputed_reference

OTHERS = ["MT_Bench", "wmdp_bio", "sycophancy", "truthfulqa_mc1", "ifeval", "mmlu", "gsm8k"]


def holed(chat, share, seed):
    rng = np.random.default_rng(seed)
    sc = chat.scores.copy()
    cap = sc[list(CAPS)].to_numpy().copy()
    cap[rng.random(cap.shape) < share] = np.nan
    sc[list(CAPS)] = cap
    return swjax.Dataset(f"holed{seed}", sc, chat.meta, chat.info)


def ref_correlations(scores: pd.DataFrame, weights):
    """The pipeline on the rows repeated ``weights`` times, capabilities imputed first."""
    corr, pc = imputed_reference(scores, CAPS, OTHERS, weights, IMPUTE_RANK, IMPUTE_SWEEPS)
    return pd.Series(corr, index=OTHERS), pc


@pytest.mark.parametrize("seed", [0, 1])
def test_imputed_statistic_equals_reference_on_repeated_rows(chat, seed):
    ds = holed(chat, 0.2, seed)
    rng = np.random.default_rng(seed + 10)
    with engine.precision(True):
        problem, layout = build_problem_imputed(ds, dtype=np.float64)
        cols = [layout.columns.index(c) for c in OTHERS]
        fn = jax.jit(statistic)
        for trial in range(3):
            m = len(layout.models)
            w = np.ones(m) if trial == 0 else rng.multinomial(m, np.ones(m) / m).astype(float)
            st = fn(problem, w, np.ones(len(CAPS)))
            ref, pc = ref_correlations(ds.scores.loc[list(layout.models)], w)
            sign = np.sign(np.asarray(st.loadings) @ pc)
            np.testing.assert_allclose(sign * np.asarray(st.corr)[cols], ref.to_numpy(), atol=1e-10)
            # float32: the same up to rounding (no rank of the test flips)
            p32, _ = build_problem_imputed(ds, dtype=np.float32)
            st32 = jax.jit(statistic)(p32, w.astype(np.float32), np.ones(len(CAPS), np.float32))
            np.testing.assert_allclose(np.asarray(st32.corr)[cols], np.asarray(st.corr)[cols], atol=2e-3)


def test_no_missing_cells_is_the_released_analysis(chat):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = swjax.analyze(chat, x64=True)
        b = swjax.analyze(chat, x64=True, missing="impute")
    pd.testing.assert_series_equal(a.correlations, b.correlations, atol=1e-12, rtol=0)


@pytest.mark.slow
def test_imputed_bootstrap_independent_of_batch_size(chat):
    ds = holed(chat, 0.1, 3)
    r1 = swjax.bootstrap(ds, n=48, seed=2, missing="impute", batch_size=48)
    r2 = swjax.bootstrap(ds, n=48, seed=2, missing="impute", batch_size=16)
    np.testing.assert_array_equal(r1.distribution, r2.distribution)
    assert r1.metadata["missing"] == "impute" and r1.table.loc["MT_Bench", "n_valid"] == 48


def test_drop_keeps_the_released_rule(chat):
    ds = holed(chat, 0.02, 4)
    with pytest.warns(swjax.DroppedModelWarning):
        p, lay = build_problem(ds)
    p2, lay2 = build_problem_imputed(ds)
    assert len(lay2.models) == 26 > len(lay.models)


def test_capability_missing_for_more_than_half_is_an_error(chat, tmp_path):
    ds = holed(chat, 0.1, 5)
    sc = ds.scores.copy()
    sc.iloc[:14, sc.columns.get_loc("bbh")] = np.nan
    bad = swjax.Dataset("bad", sc, chat.meta, chat.info)
    with pytest.raises(SwjaxError, match=r"'bbh' is missing for 1[4-9] of 26 models \(more than half\)"):
        swjax.bootstrap(bad, n=40, missing="impute")
    path = tmp_path / "m.csv"
    sc.to_csv(path, index_label="model")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["bootstrap", "--data", str(path), "--missing", "impute", "--n", "40",
                                   "--out", str(out)])
    assert res.exit_code == 2 and "more than half" in res.output and not out.exists()


def test_import_checks_the_impute_rule(tmp_path):
    rows = [{"model": f"m{i}", "benchmark": b, "score": 0.1 * i + 0.01 * j}
            for i in range(8) for j, b in enumerate(["a", "b", "c"]) if not (b == "c" and i < 5)]
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    from swjax.importers import read_results

    with pytest.raises(SwjaxError, match="fewer than 5 models"):
        read_results([tmp_path / "t.csv"], capabilities="a,b,c")
    with pytest.raises(SwjaxError, match="'c' is missing for 5 of 8 models"):
        read_results([tmp_path / "t.csv"], capabilities="a,b,c", missing="impute")
    # within the rule of half but beyond the validated share (4 of 24 cells: 17 %; 6 of 24: 25 %)
    for holes, said in ((4, False), (6, True)):
        kept = [r for r in rows if not (r["benchmark"] == "c" and r["model"] in {f"m{i}" for i in range(holes // 2)})
                and not (r["benchmark"] == "b" and r["model"] in {f"m{i}" for i in range(7, 7 - holes // 2, -1)})]
        kept += [{"model": f"m{i}", "benchmark": "c", "score": 0.5 + i} for i in range(holes // 2, 5)]
        pd.DataFrame(kept).to_csv(tmp_path / "u.csv", index=False)
        res = read_results([tmp_path / "u.csv"], capabilities="a,b,c", missing="impute")
        assert res.scores[["a", "b", "c"]].isna().to_numpy().sum() == holes
        line = (f"bootstrap will refuse this matrix's imputed intervals: {holes / 24:.1%} of the capability scores "
                f"are missing ({holes} of 24), more than the 20% up to which")
        assert any(line in r for r in res.report) is said


def test_cli_impute_with_families_keeps_every_model(tmp_path):
    """4 complete models of 12: ``--missing impute`` runs, and so does it with ``--families``
    (its model bootstrap once used the complete models only, and failed below 5 of them), with
    no warning that models were left out. 8 of 60 capability cells missing (13 %: within the
    validated share)."""
    rng = np.random.default_rng(7)
    f = rng.normal(size=12)
    x = f[:, None] + 0.6 * rng.normal(size=(12, 7))
    for i in range(8):  # 8 models lack one capability score
        x[i, i % 5] = np.nan
    frame = pd.DataFrame(x, columns=["c0", "c1", "c2", "c3", "c4", "s0", "s1"], index=[f"m{i}" for i in range(12)])
    frame.to_csv(tmp_path / "scores.csv", index_label="model")
    pd.DataFrame({"model": frame.index, "family": [f"f{i % 4}" for i in range(12)]}).to_csv(
        tmp_path / "families.csv", index=False)
    args = ["bootstrap", "--data", str(tmp_path / "scores.csv"), "--capabilities", "c0,c1,c2,c3,c4", "--n", "40",
            "--missing", "impute", "--format", "csv"]
    alone = CliRunner().invoke(app, args)
    assert alone.exit_code == 0, alone.output
    res = CliRunner().invoke(app, args + ["--families", str(tmp_path / "families.csv")])
    assert res.exit_code == 0, res.output
    assert "left out" not in res.output and "need at least" not in res.output
    # the model half of cluster-t is the --missing impute run's BCa interval, bit for bit
    import io

    one, fam = (pd.read_csv(io.StringIO(r.stdout), index_col="benchmark").query("kind == 'benchmark'")
                for r in (alone, res))
    assert (fam["interval"] == "cluster-t").all() and (one["interval"] == "bca").all()
    np.testing.assert_array_equal(fam["low_models"], one["low"])
    np.testing.assert_array_equal(fam["high_models"], one["high"])


def test_imputed_capabilities_are_ranked_at_the_datas_precision(chat):
    """Scores 1e-9 apart are two values in float64 and one in float32: the imputed path ranks
    the capability columns in the kernel, and must still rank them as the data says (as the
    host-ranked path does), so float32 and float64 agree to float32 rounding."""
    from swjax.core import weight_state_imputed

    sc = chat.scores.copy()
    for c in CAPS:
        col = sc[c].to_numpy().copy()
        idx = np.argsort(col)
        for a, b in zip(idx[0::2], idx[1::2]):
            col[b] = col[a] * (1 + 1e-9) + 1e-12
        sc[c] = col
    sc.iloc[0, sc.columns.get_loc(CAPS[0])] = np.nan
    ds = swjax.Dataset("near", sc, chat.meta, chat.info)
    p32, layout = build_problem_imputed(ds, dtype=np.float32)
    caps32 = np.asarray(p32.caps)
    assert len(np.unique(caps32[:, 1])) < sc[CAPS[1]].nunique()  # float32 does merge values
    w = np.ones(len(layout.models))
    s32 = weight_state_imputed(p32, w.astype(np.float32))
    with engine.precision(True):
        p64, _ = build_problem_imputed(ds, dtype=np.float64)
        s64 = weight_state_imputed(p64, w)
        ref = stats.spearmanr(sc.loc[list(layout.models), CAPS[1:]]).statistic  # complete columns
        np.testing.assert_allclose(np.asarray(s64.cap_corr)[1:, 1:], ref, atol=1e-9)
    np.testing.assert_allclose(np.asarray(s32.cap_corr, np.float64), np.asarray(s64.cap_corr), atol=1e-5)


def test_intervals_refused_above_the_validated_share(chat, tmp_path):
    """Above :data:`IMPUTE_VALIDATED_SHARE` of missing capability cells the coverage study found
    the imputed intervals too narrow: ``bootstrap`` refuses (exit 2, the share, the limit and
    the sparsest capabilities named, nothing written)."""
    from swjax.validate import IMPUTE_VALIDATED_SHARE

    ds = holed(chat, 0.3, 5)
    cap = ds.scores[list(CAPS)]
    share = cap.isna().to_numpy().mean()
    assert share > IMPUTE_VALIDATED_SHARE
    with pytest.raises(SwjaxError, match=f"of the capability scores are missing .* more than the "
                       f"{IMPUTE_VALIDATED_SHARE:.0%} up to which --missing impute's intervals were validated"):
        swjax.bootstrap(ds, n=40, missing="impute")
    worst = cap.isna().mean().idxmax()
    path = tmp_path / "holed.csv"
    ds.scores.to_csv(path, index_label="model")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["bootstrap", "--data", str(path), "--missing", "impute", "--n", "40",
                                   "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert f"{100 * share:.1f}% of the capability scores are missing" in res.output
    assert worst in res.output and "Traceback" not in res.output and not out.exists()


def test_intervals_given_below_the_validated_share_and_estimates_above(chat):
    """Below the share the imputed bootstrap runs; above it the point estimate stays available."""
    from swjax.validate import IMPUTE_VALIDATED_SHARE

    assert np.isfinite(swjax.analyze(holed(chat, 0.3, 5), missing="impute").correlations["MT_Bench"])
    ok = holed(chat, 0.1, 0)
    assert ok.scores[list(CAPS)].isna().to_numpy().mean() <= IMPUTE_VALIDATED_SHARE
    assert swjax.bootstrap(ok, n=40, missing="impute").table.loc["MT_Bench", "n_valid"] > 0
