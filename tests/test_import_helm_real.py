"""Real helm-run output (../shared/real/helm/v4): the main metric of each run, its judges'
variants, and the standard errors, checked against the raw files read with json in the test."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from swjax.importers import read_results

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
V4 = REAL / "helm" / "v4"
pytestmark = pytest.mark.skipif(not V4.is_dir(), reason=f"real helm-run output not here ({V4})")


@pytest.fixture(scope="module")
def imported():
    return read_results([V4])


def _runs():
    return sorted(p.parent for p in V4.glob("*/run_spec.json"))


def _main_names():
    schema = json.loads((V4 / "schema.json").read_text())
    return {g["name"]: g["environment"]["main_name"] for g in schema["run_groups"] if g.get("environment")}


def test_main_metric_and_judges_match_the_raw_stats(imported):
    runs = _runs()
    assert len(runs) == 45
    main_names = _main_names()
    checked = 0
    for run in runs:
        spec = json.loads((run / "run_spec.json").read_text())
        stats = json.loads((run / "stats.json").read_text())
        plain = {s["name"]["name"]: s for s in stats if s["name"].get("split") == "test" and "perturbation" not in s["name"]}
        model = spec["adapter_spec"]["model"].split("/")[-1]
        scenario, _, args = spec["name"].partition(":")
        kept = ",".join(a for a in args.split(",") if not a.startswith("model="))
        bench = f"{scenario}:{kept}" if kept else scenario
        main = main_names[spec["groups"][0]]
        assert imported.scores.at[model, bench] == plain[main]["mean"]
        checked += 1
        if main.endswith("_score"):
            for judge in ("gpt", "claude"):
                stat = main.replace("_score", f"_{judge}_score")
                assert imported.scores.at[model, f"{bench}:judge={judge}"] == plain[stat]["mean"]
                checked += 1
    assert checked == 9 * (1 + 4 * 3)
    assert imported.scores.shape == (9, 13)
    assert not any(c.startswith("bbq") and "judge" in c for c in imported.scores.columns)


def test_stderr_and_n_from_per_instance_stats(imported):
    """stats.json's count is 1 (train trials): the standard error comes from the instances."""
    main_names = _main_names()
    for run in _runs()[::4]:
        spec = json.loads((run / "run_spec.json").read_text())
        main = main_names[spec["groups"][0]]
        per = json.loads((run / "per_instance_stats.json").read_text())
        values = np.array([s["mean"] for inst in per for s in inst["stats"]
                           if s["name"] == {"name": main, "split": "test"} and "mean" in s])
        model = spec["adapter_spec"]["model"].split("/")[-1]
        bench = next(c for c in imported.scores.columns if c.split(":")[0] == spec["name"].split(":")[0])
        if len(values) == 0:  # bbq_accuracy: no per-instance values, so no standard error
            assert math.isnan(imported.stderr.at[model, bench])
            assert imported.n.at[model, bench] == 100  # num_instances
            continue
        assert len(values) == 100
        assert imported.scores.at[model, bench] == pytest.approx(values.mean(), abs=1e-12)
        assert imported.stderr.at[model, bench] == pytest.approx(values.std(ddof=1) / math.sqrt(100), abs=1e-12)
        assert imported.n.at[model, bench] == 100


def test_directions_from_the_schema(imported):
    assert (imported.info["direction_from"] == "source").all()  # judges inherit their main stat's
    assert (imported.info["direction"] == "higher").all()
    assert imported.info.at["xstest", "metric"] == "xst_score (test)"
