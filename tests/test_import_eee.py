"""Every Eval Ever records: the real HELM Classic slice in ../shared/real, read cell by cell with
plain json in the test, and 0.3.0 records made from them by adding the 0.3.0 fields."""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from swjax import SwjaxError
from swjax.importers import read_results

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
EEE = REAL / "every_eval_ever" / "records"
pytestmark = pytest.mark.skipif(not EEE.is_dir(), reason=f"real Every Eval Ever records not here ({EEE})")


def raw_records():
    """(path, parsed record) of every real record, read with json only."""
    return [(p, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(EEE.rglob("*.json"))]


@pytest.fixture(scope="module")
def imported():
    return read_results([EEE])


def test_every_cell_matches_the_raw_records(imported):
    records = raw_records()
    assert len(records) == 67
    checked = missing = 0
    for _path, rec in records:
        model = rec["model_info"]["id"].split("/")[-1]
        for res in rec["evaluation_results"]:
            name = res["evaluation_name"]
            if name == "Mean win rate":
                assert name not in imported.scores.columns
                continue
            raw = res["score_details"]["score"]
            got = imported.scores.at[model, name]
            if raw < res["metric_config"]["min_score"]:
                assert math.isnan(got), (model, name)
                missing += 1
            else:
                assert got == raw, (model, name)  # read as is: exact
                checked += 1
    assert missing == 159  # HELM's -1.0 "not run" cells (README of the copy)
    assert checked == 67 * 14 - 159
    assert imported.scores.shape == (67, 14)
    assert any(line.startswith("159 results without a score") for line in imported.report)


def test_metric_direction_and_named_cells(imported):
    assert imported.scores.at["GLM-130B", "MMLU"] == 0.344
    assert imported.scores.at["GLM-130B", "BoolQ"] == 0.784
    assert imported.info.at["QuAC", "metric"] == "F1 on QuAC"
    assert imported.info.at["MS MARCO (TREC)", "metric"] == "NDCG@10 on MS MARCO (TREC)"
    assert (imported.info["direction_from"] == "source").all()
    assert (imported.info["direction"] == "higher").all()  # lower_is_better false everywhere here


def test_aggregates_only_when_asked():
    res = read_results([EEE], aggregates=True)
    for _path, rec in raw_records()[:10]:
        [win] = [r for r in rec["evaluation_results"] if r["evaluation_name"] == "Mean win rate"]
        model = rec["model_info"]["id"].split("/")[-1]
        assert res.scores.at[model, "Mean win rate"] == win["score_details"]["score"]


def test_developer_column_and_families_auto(imported, capsys):
    from swjax.cli import cluster_labels

    dev = imported.meta["developer"]
    for _path, rec in raw_records():
        model = rec["model_info"]["id"].split("/")[-1]
        want = rec["model_info"]["developer"]
        if want == "unknown":
            assert not isinstance(dev.get(model), str)
        else:
            assert dev[model] == want.lower()
    labels = cluster_labels(imported.dataset("eee"), None, "auto")
    assert labels["GPT-J-6B"] == "openai"  # the source's attribution, kept as it is
    assert labels["Anthropic-LM-v4-s3-52B"] == "Anthropic-LM-v4-s3-52B"  # developer unknown: its own family
    assert labels.nunique() == 19
    err = capsys.readouterr().err
    assert "families auto (eee): 19 families by developer" in err
    assert "  meta (9): " in err


def test_families_auto_needs_developers():
    from swjax.clusters import family_labels
    from swjax.data import load_dataset

    with pytest.raises(SwjaxError, match="auto needs a 'developer' column"):
        family_labels(load_dataset("chat"), families="auto")


def _as_v030(rec: dict) -> dict:
    out = copy.deepcopy(rec)
    out["schema_version"] = "0.3.0"
    out["eval_library"] = {"name": "helm", "version": "unknown"}
    for res in out["evaluation_results"]:
        res["metric_config"]["metric_id"] = "exact_match"
    return out


def test_schema_030_metric_and_uncertainty(tmp_path):
    records = raw_records()[:6]
    for k, (path, rec) in enumerate(records):
        rec = _as_v030(rec)
        mmlu = next(r for r in rec["evaluation_results"] if r["evaluation_name"] == "MMLU")
        if k % 2 == 0:
            mmlu["score_details"]["uncertainty"] = {"standard_error": {"value": 0.01 + k / 1000, "method": "analytic"},
                                                    "num_samples": 100 + k}
        else:
            s = mmlu["score_details"]["score"]
            mmlu["score_details"]["uncertainty"] = {"confidence_interval": {
                "lower": s - 0.05, "upper": s + 0.05, "confidence_level": 0.9}}
        (tmp_path / f"r{k}.json").write_text(json.dumps(rec), encoding="utf-8")
    res = read_results([tmp_path])
    assert res.info.at["MMLU", "metric"] == "exact_match"
    for k, (_path, rec) in enumerate(records):
        model = rec["model_info"]["id"].split("/")[-1]
        if k % 2 == 0:
            assert res.stderr.at[model, "MMLU"] == 0.01 + k / 1000
            assert res.n.at[model, "MMLU"] == 100 + k
        else:
            assert res.stderr.at[model, "MMLU"] == pytest.approx(0.05 / stats.norm.ppf(0.95), abs=1e-12)
            assert math.isnan(res.n.at[model, "MMLU"])
    assert np.isnan(res.stderr["BoolQ"].to_numpy()).all()


def test_conflicting_duplicates_need_a_rule(tmp_path):
    paths = [p for p, _ in raw_records()[:5]]
    for p in paths:
        shutil.copy(p, tmp_path / p.name)
    rec = json.loads(paths[0].read_text())
    rec["retrieved_timestamp"] = str(float(rec["retrieved_timestamp"]) + 100)
    mmlu = next(r for r in rec["evaluation_results"] if r["evaluation_name"] == "MMLU")
    mmlu["score_details"]["score"] = 0.5
    (tmp_path / "rerun.json").write_text(json.dumps(rec))
    model = rec["model_info"]["id"].split("/")[-1]
    with pytest.raises(SwjaxError, match=f"2 results for model '{model}', benchmark 'MMLU'.*rerun.json \\(0.5\\)"):
        read_results([tmp_path])
    res = read_results([tmp_path], duplicates="latest")
    assert res.scores.at[model, "MMLU"] == 0.5
    assert any(line.startswith("duplicates resolved (latest): 1 cells") for line in res.report)
    # the 12 other results of the copy agree with the original: kept once and reported, not an error
    assert any(line.startswith("identical duplicates kept once: 12 cells") for line in res.report)


@pytest.mark.parametrize("change, message", [
    (lambda r: r["evaluation_results"][1]["score_details"].__setitem__("score", 1.5), "above max_score 1.0"),
    (lambda r: r["evaluation_results"][1]["score_details"].__setitem__("score", "high"), "score_details.score' should be a finite number"),
    (lambda r: r["evaluation_results"][1]["metric_config"].pop("lower_is_better"), "no field 'evaluation_results\\[1\\].metric_config.lower_is_better'"),
    (lambda r: r.__setitem__("schema_version", "9.0"), "schema_version' is '9.0'"),
    (lambda r: r["model_info"].pop("id"), "no field 'model_info.id'"),
])
def test_bad_records_name_file_and_field(tmp_path, change, message):
    path, rec = raw_records()[0]
    change(rec)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(rec))
    with pytest.raises(SwjaxError, match=message):
        read_results([bad], min_models=1)


def test_cli_bad_record_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from swjax.cli import app

    path, rec = raw_records()[0]
    rec["evaluation_results"][2]["score_details"]["score"] = 7.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(rec))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["import", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "above max_score" in result.output
    assert not out.exists()


def test_cli_aggregates_and_developer_column(tmp_path):
    import pandas as pd
    from typer.testing import CliRunner

    from swjax.cli import app

    out = tmp_path / "m"
    result = CliRunner().invoke(app, ["import", str(EEE), "--aggregates", "--duplicates", "best", "--out", str(out)])
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out / "scores.csv", index_col=0)
    api = read_results([EEE], aggregates=True)
    assert "Mean win rate" in got.columns
    np.testing.assert_array_equal(got[api.scores.columns].to_numpy(float), api.scores.to_numpy(float))
    assert (got["developer"].fillna("") == api.meta["developer"].fillna("")).all()


def test_families_auto_from_org_model_ids():
    """Without a developer field, the organisation of an org/model id is the developer."""
    from swjax.clusters import family_labels

    example = Path(__file__).resolve().parent / "fixtures" / "importers" / "example"
    res = read_results([example / "lm_eval"], duplicates="latest", min_models=3)
    orgs = {}
    for path in sorted((example / "lm_eval").rglob("*.json")):
        args = json.loads(path.read_text())["config"]["model_args"]
        org, name = dict(kv.split("=", 1) for kv in args.split(","))["pretrained"].split("/")
        orgs[name] = org.lower()
    assert len(orgs) == 3
    labels = family_labels(res.dataset(), families="auto")
    for name, org in orgs.items():
        assert labels[name] == org == "example-org"


@pytest.mark.parametrize("bad", ["1e400", "1" + "0" * 400])
def test_out_of_range_scores_are_refused_not_infinite(tmp_path, bad):
    path, _rec = raw_records()[0]
    text = path.read_text(encoding="utf-8")
    mmlu = next(r for r in _rec["evaluation_results"] if r["evaluation_name"] == "MMLU")
    rec = json.loads(text)
    target = next(r for r in rec["evaluation_results"] if r["evaluation_name"] == "MMLU")
    target["metric_config"].pop("max_score")  # no bound to catch it
    raw = json.dumps(rec).replace(f'"score": {mmlu["score_details"]["score"]}', f'"score": {bad}', 1)
    (tmp_path / "big.json").write_text(raw)
    with pytest.raises(SwjaxError, match="score' should be a finite number"):
        read_results([tmp_path / "big.json"], min_models=1)
