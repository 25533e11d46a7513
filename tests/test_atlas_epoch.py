"""The atlas of Epoch AI's benchmarking hub (../shared/real/epoch: Epoch's own runs and 37
per-benchmark tables): eight cells against a reader and pipeline written here from the raw
files, independent of swjax's importer."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from swjax.atlas import atlas

EPOCH = Path(__file__).resolve().parents[1].parent / "shared" / "real" / "epoch"
CAPS = ["GPQA diamond", "MATH level 5", "OTIS Mock AIME 2024-2025"]
# benchmark -> (file, the score column Epoch's table leads with); FrontierMath is in Epoch's runs
EXTERNAL = {"weirdml": "Accuracy", "livebench": "Global average", "aider_polyglot": "Percent correct",
            "arc_agi": "Score", "mmlu": "EM", "simple_bench": "Score (AVG@5)"}
RUNS = ["FrontierMath-2025-02-28-Private", "FrontierMath-2025-02-28-Public"]


def _key(name) -> str:
    """This test's own join rule: case-insensitive, an FP8 build the same model."""
    k = str(name).strip().lower()
    return k.removesuffix("-fp8")


def _number(v) -> float:
    text = str(v).strip()
    return float(text.rstrip("%")) if text not in ("", "nan") else np.nan


def _reference_matrix() -> pd.DataFrame:
    """Models x benchmarks from the raw CSVs: Epoch's runs by their best score, each table by
    its score column ("77.0%" read as 77.0), the best of duplicate rows, rows without a model
    version left out."""
    runs = pd.read_csv(EPOCH / "benchmarks_runs.csv", encoding="utf-8-sig")
    runs["key"] = runs["model"].map(_key)
    wide = runs.pivot_table(index="key", columns="task", values="Best score (across scorers)", aggfunc="max")
    for bench, column in EXTERNAL.items():
        t = pd.read_csv(EPOCH / f"external_benchmark_{bench}.csv", encoding="utf-8-sig")
        t = t.dropna(subset=["Model version"])
        t["key"] = t["Model version"].map(_key)
        t["value"] = t[column].map(_number)
        wide = wide.join(t.groupby("key")["value"].max().rename(bench), how="outer")
    return wide


@pytest.mark.skipif(not EPOCH.is_dir(), reason=f"Epoch's files are not here ({EPOCH})")
@pytest.mark.slow  # imports 38 files and bootstraps a 447-model population
def test_atlas_of_epochs_hub_against_an_independent_computation():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = atlas([EPOCH], capabilities=CAPS, duplicates="best", n=300, permutations=300, seed=0, cache=False)
    t = res.table.set_index("benchmark")
    assert res.populations.loc[0, "models"] == 447 and (t["population"] == "epoch").all()
    wide = _reference_matrix()
    cc = wide.dropna(subset=CAPS)
    assert len(cc) == 83  # models with all three capability scores
    x = cc[CAPS].to_numpy(float)
    z = (x - x.mean(0)) / x.std(0)
    _, vecs = np.linalg.eigh(stats.spearmanr(x).statistic)
    v = vecs[:, -1]
    score = z @ (v if v[np.argmax(np.abs(v))] > 0 else -v)
    for bench in RUNS + list(EXTERNAL):
        seen = cc[bench].notna().to_numpy()
        expected = stats.spearmanr(cc[bench].to_numpy()[seen], score[seen]).statistic
        assert t.loc[bench, "estimate"] == pytest.approx(expected, abs=1e-5), bench
        assert t.loc[bench, "n_models"] == seen.sum(), bench
    # the benchmarks with fewer than 20 of those models are listed, not analysed
    few = res.populations.loc[0, "below_min_models"]
    assert "SWE-Bench verified (17)" in few and "SWE-Bench verified" not in t.index
