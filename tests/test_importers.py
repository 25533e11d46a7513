"""Importers: every format read field by field against the fixture files themselves (plain json /
csv / zip reads, independent of the importers), the merge rules, and every bad input ending in one
message, exit code 2 and nothing written."""

import json
import math
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import swjax
from swjax.cli import app
from swjax.errors import SwjaxError
from swjax.importers import read_results
from swjax.importers.models import normalise

from .rawfiles import zip_header

FIX = Path(__file__).parent / "fixtures" / "importers"
LM = FIX / "example" / "lm_eval"
INSPECT = FIX / "example" / "inspect"
runner = CliRunner()


def assert_bad(result, *phrases):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase.lower() in result.output.lower(), (phrase, result.output)


def lm_files():
    return sorted(LM.rglob("results_*.json"))


# --------------------------------------------------------------------------- lm-evaluation-harness


def test_lm_eval_values_are_the_files_values():
    res = read_results([LM], duplicates="latest", min_models=1)
    seen = 0
    latest = {}
    for path in lm_files():
        obj = json.loads(path.read_text())
        model = obj["config"]["model_args"].split(",")[0].split("=", 1)[1].split("/", 1)[1]
        below = {s for subs in obj["group_subtasks"].values() for s in subs}
        for task, entry in obj["results"].items():
            if task in below:
                assert task not in res.scores.columns  # subtasks left out by default
                continue
            first = next(k for k in entry if "," in k and "_stderr" not in k)
            if (model, task) not in latest or obj["date"] > latest[(model, task)][0]:
                se = entry[first.replace(",", "_stderr,", 1)]
                latest[(model, task)] = (obj["date"], entry[first], se)
    for (model, task), (_, value, se) in latest.items():
        assert res.scores.at[model, task] == value
        if se == "N/A":
            assert math.isnan(res.stderr.at[model, task])
        else:
            assert res.stderr.at[model, task] == se
        seen += 1
    assert seen == 3 * 12
    assert res.info.loc["gsm8k", "metric"] == "exact_match,strict-match"
    assert res.info.loc["hellaswag", "direction_from"] == "source"
    # n: n-samples.effective for tasks, sample_count for groups
    assert res.n.at["Nova-7B-Chat", "piqa"] == 1838 and res.n.at["Nova-7B-Chat", "mmlu"] == 14042


def test_lm_eval_subtasks_on_request():
    res = read_results([LM], duplicates="latest", subtasks=True, min_models=1)
    assert {"mmlu_stem", "mmlu_abstract_algebra", "bbh_cot_fewshot_navigate"} <= set(res.scores.columns)


def test_lm_eval_duplicate_is_an_error_naming_both_files():
    with pytest.raises(SwjaxError, match=r"2 results for model 'Nova-7B-Chat', benchmark 'gsm8k'.*results_2024-11-30.*results_2024-12-05"):
        read_results([LM], min_models=1)


def test_lm_eval_duplicates_latest_and_mean():
    values = []
    for path in lm_files():
        obj = json.loads(path.read_text())
        if "Nova-7B" in str(path) and "gsm8k" in obj["results"]:
            e = obj["results"]["gsm8k"]
            values.append((obj["date"], e["exact_match,strict-match"], e["exact_match_stderr,strict-match"]))
    values.sort()
    latest = read_results([LM], duplicates="latest", min_models=1)
    mean = read_results([LM], duplicates="mean", min_models=1)
    assert latest.scores.at["Nova-7B-Chat", "gsm8k"] == values[-1][1]
    assert mean.scores.at["Nova-7B-Chat", "gsm8k"] == pytest.approx((values[0][1] + values[1][1]) / 2, abs=1e-15)
    assert mean.stderr.at["Nova-7B-Chat", "gsm8k"] == pytest.approx(math.hypot(values[0][2], values[1][2]) / 2)
    assert any("kept the latest of 2" in line for line in latest.report)


def test_paper_capabilities_rename_and_fix_the_metric():
    res = read_results([LM], duplicates="latest", capabilities="paper",
                       metric="gsm8k=exact_match,flexible-extract", min_models=1)
    assert res.capabilities == swjax.PAPER_CAPABILITIES
    assert "superglue_copa" in res.scores.columns and "copa" not in res.scores.columns
    path = next(p for p in lm_files() if "Nova-70B" in str(p) and "gsm8k" in p.read_text())
    entry = json.loads(path.read_text())["results"]["gsm8k"]
    assert res.scores.at["Nova-70B-Chat", "gsm8k"] == entry["exact_match,flexible-extract"]
    assert res.info.loc["bbh", "metric"] == "exact_match,get-answer"
    assert any("'superglue_copa' <- 'copa'" in line for line in res.report)


def test_lm_eval_old_format_and_model_name_fallback(tmp_path):
    obj = {"results": {"hellaswag": {"acc": 0.5, "acc_stderr": 0.01, "acc_norm": 0.6}},
           "versions": {"hellaswag": 0}, "config": {"model": "hf-causal", "model_args": ""}}
    rows = []
    for i in range(5):
        o = dict(obj, model_name=f"org/m{i}")
        o["results"] = {"hellaswag": {"acc": 0.5 + i / 100, "acc_stderr": 0.01, "acc_norm": 0.6}}
        (tmp_path / f"results_{i}.json").write_text(json.dumps(o))
        rows.append(0.5 + i / 100)
    res = read_results([tmp_path])
    assert list(res.scores["hellaswag"]) == rows and list(res.scores.index) == [f"m{i}" for i in range(5)]


# --------------------------------------------------------------------------- inspect_ai


def test_inspect_eval_logs():
    pytest.importorskip("zstandard")
    res = read_results([INSPECT])
    logs = sorted(INSPECT.glob("*.eval"))
    assert len(res.scores) == len(logs) == 15
    for path in logs:
        head = zip_header(path)
        model = head["eval"]["model"].split("/")[-1]
        metrics = head["results"]["scores"][0]["metrics"]
        assert res.scores.at[model, "refusal_demo"] == metrics["accuracy"]["value"]
        assert res.stderr.at[model, "refusal_demo"] == metrics["stderr"]["value"]
        assert res.n.at[model, "refusal_demo"] == head["results"]["scores"][0]["scored_samples"]
    assert res.info.loc["refusal_demo", "direction_from"] == "metric name"  # accuracy: higher is better by its name


def test_inspect_deflate_and_json_logs_agree_with_zstd(monkeypatch):
    deflate = sorted((FIX / "inspect_deflate").glob("*.eval"))[0]
    with zipfile.ZipFile(deflate) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    from swjax.importers import inspect_logs

    monkeypatch.setattr(inspect_logs, "_header_from_inspect", lambda path: None)  # the documented layout
    (r,) = inspect_logs.read(deflate)
    head = zip_header(deflate)
    assert r.score == head["results"]["scores"][0]["metrics"]["accuracy"]["value"]
    [jpath] = sorted((FIX / "inspect_json").glob("*.json"))
    obj = json.loads(jpath.read_text())
    (j,) = inspect_logs.read(jpath, obj)
    assert j.model == "meta-llama/Llama-2-7b-chat-hf" and j.score == 15 / 20
    assert j.stderr == obj["results"]["scores"][0]["metrics"]["stderr"]["value"]


def test_inspect_json_log_validates_against_inspect_schema():
    log_mod = pytest.importorskip("inspect_ai.log")
    [jpath] = sorted((FIX / "inspect_json").glob("*.json"))
    log = log_mod.EvalLog.model_validate_json(jpath.read_text())
    assert log.status == "success"


def test_inspect_unfinished_log_is_refused(tmp_path):
    [jpath] = sorted((FIX / "inspect_json").glob("*.json"))
    obj = json.loads(jpath.read_text())
    obj["status"] = "error"
    bad = tmp_path / "log.json"
    bad.write_text(json.dumps(obj))
    with pytest.raises(SwjaxError, match=r"log.json: field 'status' is 'error'"):
        read_results([bad])


# --------------------------------------------------------------------------- HELM


def test_helm_runs():
    res = read_results([FIX / "helm"])
    runs = sorted((FIX / "helm").rglob("run_spec.json"))
    assert len(runs) == 12
    for spec_path in runs:
        spec = json.loads(spec_path.read_text())
        stats = json.loads((spec_path.parent / "stats.json").read_text())
        [stat] = [s for s in stats if s["name"] == {"name": "exact_match", "split": "test"}]
        model = spec["adapter_spec"]["model"].split("/")[-1]
        scenario, _, args = spec["name"].partition(":")
        kept = [a for a in args.split(",") if not a.startswith("model")]
        bench = scenario + (":" + ",".join(kept) if kept else "")
        assert res.scores.at[model, bench] == stat["mean"]
        assert res.stderr.at[model, bench] == pytest.approx(stat["stddev"] / math.sqrt(stat["count"] - 1))
    assert set(res.scores.columns) == {"mmlu:subject=anatomy,method=multiple_choice_joint", "boolq"}
    assert (res.info["direction_from"] == "source").all()  # schema.json: exact_match lower_is_better false


def test_helm_metric_override():
    res = read_results([FIX / "helm"], metric="boolq=quasi_exact_match")
    spec_path = next((FIX / "helm").rglob("boolq*/run_spec.json"))
    stats = json.loads((spec_path.parent / "stats.json").read_text())
    want = next(s["mean"] for s in stats if s["name"] == {"name": "quasi_exact_match", "split": "test"})
    model = json.loads(spec_path.read_text())["adapter_spec"]["model"].split("/")[-1]
    assert res.scores.at[model, "boolq"] == want


# --------------------------------------------------------------------------- Open LLM Leaderboard


def test_open_llm_v2_csv_and_parquet():
    table = pd.read_csv(FIX / "openllm_v2_contents.csv")
    res = read_results([FIX / "openllm_v2_contents.csv"], capabilities="openllm-v2")
    assert res.capabilities == ("openllm_ifeval_raw", "openllm_bbh_raw", "openllm_math_lvl5_raw",
                                "openllm_gpqa_raw", "openllm_musr_raw", "openllm_mmlu_pro_raw")
    for _, row in table.iterrows():
        model = row["fullname"].split("/")[1]
        assert res.scores.at[model, "openllm_math_lvl5_raw"] == row["MATH Lvl 5 Raw"]
        assert res.scores.at[model, "openllm_mmlu_pro"] == row["MMLU-PRO"]
    pytest.importorskip("pyarrow")
    par = read_results([FIX / "openllm_v2_contents.parquet"])
    pd.testing.assert_frame_equal(par.scores, read_results([FIX / "openllm_v2_contents.csv"]).scores)


def test_open_llm_v2_precisions_are_duplicates(tmp_path):
    table = pd.read_csv(FIX / "openllm_v2_contents.csv")
    again = table.iloc[[1]].copy()
    again["Precision"], again["Submission Date"], again["BBH Raw"] = "float16", "2024-09-01", 0.5
    pd.concat([table, again]).to_csv(tmp_path / "contents.csv", index=False)
    with pytest.raises(SwjaxError, match="2 results for model 'Yi-1.5-34B'"):
        read_results([tmp_path / "contents.csv"])
    res = read_results([tmp_path / "contents.csv"], duplicates="latest")
    assert res.scores.at["Yi-1.5-34B", "openllm_bbh_raw"] == 0.5


def test_open_llm_v1_results():
    res = read_results([FIX / "openllm_v1"], capabilities="openllm-v1")
    for path in sorted((FIX / "openllm_v1").rglob("*.json")):
        obj = json.loads(path.read_text())
        model = obj["config_general"]["model_name"].split("/")[1]
        r = obj["results"]
        mmlu = np.mean([v["acc"] for k, v in r.items() if k.startswith("harness|hendrycksTest-")])
        assert res.scores.at[model, "openllm_v1_mmlu"] == pytest.approx(mmlu, abs=1e-15)
        assert res.scores.at[model, "openllm_v1_arc"] == r["harness|arc:challenge|25"]["acc_norm"]
        assert res.scores.at[model, "openllm_v1_truthfulqa"] == r["harness|truthfulqa:mc|0"]["mc2"]
        assert res.stderr.at[model, "openllm_v1_gsm8k"] == r["harness|gsm8k|5"]["acc_stderr"]


# --------------------------------------------------------------------------- long tables, names, directions


def test_long_table_and_na_stderr():
    table = pd.read_csv(FIX / "long.csv", keep_default_na=False)
    res = read_results([FIX / "long.csv"], lower_is_better="toxicity")
    for _, row in table.iterrows():
        sign = -1 if row["benchmark"] == "toxicity" else 1
        assert res.scores.at[row["model"], row["benchmark"]] == sign * row["score"]
        se = res.stderr.at[row["model"], row["benchmark"]]
        assert math.isnan(se) if row["stderr"] == "N/A" else se == float(row["stderr"])
    assert res.info.loc["toxicity", "direction"] == "lower (negated)"
    assert any("'toxicity': lower is better (--lower-is-better)" in line for line in res.report)


@pytest.mark.parametrize("raw, name", [
    ("meta-llama/Llama-2-7b-chat-hf", "Llama-2-7b-chat-hf"),
    ("meta-llama__Llama-2-7b-chat-hf", "Llama-2-7b-chat-hf"),
    ("/scratch/ckpt/Llama-2-7b-chat-hf/", "Llama-2-7b-chat-hf"),
    ("/hf/hub/models--meta-llama--Llama-2-7b-chat-hf/snapshots/abc123", "Llama-2-7b-chat-hf"),
    ("meta-llama/Llama-2-7b-chat-hf@main", "Llama-2-7b-chat-hf"),
    ("TheBloke/Llama-2-7b-chat-hf-GPTQ", "Llama-2-7b-chat-hf"),
    ("Llama-2-7b-chat-hf.Q4_K_M", "Llama-2-7b-chat-hf"),
    ("Llama-2-7b-chat-hf-bf16", "Llama-2-7b-chat-hf"),
    ("Qwen1.5-7B-Chat", "Qwen1.5-7B-Chat"),
    ("Mixtral-8x7B-Instruct-v0.1", "Mixtral-8x7B-Instruct-v0.1"),
])
def test_normalise(raw, name):
    assert normalise(raw).name == name


def _long(tmp_path, models, name="t.csv"):
    rows = [{"model": m, "benchmark": b, "score": 0.1 * i + 0.01 * j} for i, m in enumerate(models)
            for j, b in enumerate(["a", "b"])]
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_names_merged_and_reported(tmp_path):
    a = _long(tmp_path, ["org/m1", "org/m2", "m3", "m4", "m5"], "a.csv")
    rows = [{"model": "ORG/M1-fp16", "benchmark": "c", "score": 1.0}]
    pd.DataFrame(rows).to_csv(tmp_path / "b.csv", index=False)
    res = read_results([a, tmp_path / "b.csv"])
    assert res.scores.at["m1", "c"] == 1.0 and len(res.scores) == 5
    assert any("'m1' <- 'ORG/M1-fp16', 'org/m1'" in line for line in res.report)


def test_two_organisations_one_name_needs_a_mapping(tmp_path):
    path = _long(tmp_path, ["alice/m1", "bob/m1", "m2", "m3", "m4", "m5"])
    with pytest.raises(SwjaxError, match="different organisations"):
        read_results([path])
    (tmp_path / "map.csv").write_text("from,to\nbob/m1,bob-m1\n")
    res = read_results([path], models=tmp_path / "map.csv")
    assert {"m1", "bob-m1"} <= set(res.scores.index)


def test_direction_conflicts(tmp_path):
    path = _long(tmp_path, ["m1", "m2", "m3", "m4", "m5"])
    with pytest.raises(SwjaxError, match="lower-is-better: benchmark 'zz' is in no file"):
        read_results([path], lower_is_better="zz")
    with pytest.raises(SwjaxError, match="'hellaswag' is higher-is-better according to"):
        read_results([LM], duplicates="latest", lower_is_better="hellaswag", min_models=1)


# --------------------------------------------------------------------------- public sets and the analysis


def test_with_chat_keeps_public_cells_and_adds_models(chat):
    res = read_results([LM, INSPECT], capabilities="paper", duplicates="latest", with_set="chat")
    pd.testing.assert_frame_equal(res.scores.loc[chat.models, chat.benchmarks], chat.scores, check_names=False)
    assert set(res.scores.index[-3:]) == {"Nova-7B-Chat", "Nova-14B-Chat", "Nova-70B-Chat"}
    assert list(res.scores.index[:26]) == chat.models
    assert res.scores.loc["Llama-2-7b-chat-hf", "refusal_demo"] == 15 / 20
    assert res.meta.loc["Nova-7B-Chat", "name"] == "Nova-7B-Chat"
    assert res.meta.loc["Llama-2-7b-chat-hf", "FLOP"] == chat.meta.loc["Llama-2-7b-chat-hf", "FLOP"]


def test_public_clash_needs_a_rule(tmp_path, chat):
    rows = [{"model": m, "benchmark": "mmlu", "score": float(chat.scores.at[m, "mmlu"]) + (0.01 if i == 0 else 0)}
            for i, m in enumerate(chat.models[:6])]
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(SwjaxError, match="the public chat matrix has"):
        read_results([tmp_path / "t.csv"], with_set="chat")
    res = read_results([tmp_path / "t.csv"], with_set="chat", duplicates="mean")
    m = chat.models[0]
    assert res.scores.at[m, "mmlu"] == pytest.approx(chat.scores.at[m, "mmlu"] + 0.005)
    # best: the higher of the two; missing: neither; the agreeing cells stay under every rule
    best = read_results([tmp_path / "t.csv"], with_set="chat", duplicates="best")
    assert best.scores.at[m, "mmlu"] == pytest.approx(chat.scores.at[m, "mmlu"] + 0.01)
    assert any("kept the better (higher) score" in line for line in best.report)
    gone = read_results([tmp_path / "t.csv"], with_set="chat", duplicates="missing")
    assert np.isnan(gone.scores.at[m, "mmlu"]) and any("1 cells differ from the public matrix: left missing" in line
                                                        for line in gone.report)
    for r in (best, gone):
        np.testing.assert_array_equal(r.scores.loc[chat.models[1:], "mmlu"], chat.scores.loc[chat.models[1:], "mmlu"])


def test_import_folder_is_accepted_by_analysis_commands(tmp_path):
    out = tmp_path / "matrix"
    r = runner.invoke(app, ["import", str(LM), str(INSPECT), "--capabilities", "paper", "--duplicates", "latest",
                            "--with", "chat", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} == {"scores.csv", "info.csv", "stderr.csv", "n.csv", "merge_report.txt", ".swjax-output.json"}
    assert "kept the latest of 2" in (out / "merge_report.txt").read_text()
    a = runner.invoke(app, ["analyze", "--data", str(out), "--format", "json"])
    assert a.exit_code == 0, a.output
    got = json.loads(a.stdout)["matrix"]
    direct = swjax.analyze(read_results([LM, INSPECT], capabilities="paper", duplicates="latest",
                                        with_set="chat").dataset())
    assert got["correlations"]["refusal_demo"] == pytest.approx(direct.correlations["refusal_demo"], abs=1e-6)
    assert got["n_models"] == 29


def test_results_folder_directly_as_data():
    a = runner.invoke(app, ["analyze", "--data", str(FIX / "openllm_v2_contents.csv"), "--capabilities",
                            "openllm-v2", "--format", "json"])
    assert a.exit_code == 0, a.output
    assert json.loads(a.stdout)["openllm_v2_contents.csv"]["n_models"] == 11


# --------------------------------------------------------------------------- bad input: exit 2, nothing written


def _bad_import(tmp_path, *args):
    out = tmp_path / "out"
    result = runner.invoke(app, ["import", *map(str, args), "--out", str(out)])
    assert not out.exists(), "something was written"
    return result


def test_unknown_format(tmp_path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    assert_bad(_bad_import(tmp_path, tmp_path / "x.json"), "x.json: unknown file format")


def test_missing_required_field_names_file_and_field(tmp_path):
    obj = json.loads(lm_files()[0].read_text())
    del obj["config"], obj["model_name"]
    (tmp_path / "results_1.json").write_text(json.dumps(obj))
    assert_bad(_bad_import(tmp_path, tmp_path / "results_1.json"), "results_1.json", "config.model_args")
    spec_dir = tmp_path / "run"
    shutil.copytree(next((FIX / "helm").rglob("boolq*")), spec_dir)
    spec = json.loads((spec_dir / "run_spec.json").read_text())
    del spec["adapter_spec"]
    (spec_dir / "run_spec.json").write_text(json.dumps(spec))
    assert_bad(_bad_import(tmp_path, spec_dir), "run_spec.json: no field 'adapter_spec'")
    (tmp_path / "t.csv").write_text("model,benchmark,value\na,b,1\n")
    assert_bad(_bad_import(tmp_path, tmp_path / "t.csv"), "unknown file format")
    (tmp_path / "t2.csv").write_text("model,benchmark,score\na,b,high\n")
    assert_bad(_bad_import(tmp_path, tmp_path / "t2.csv"), "t2.csv: row 2: field 'score' is not a finite number")


def test_capability_in_no_file(tmp_path):
    assert_bad(_bad_import(tmp_path, FIX / "long.csv", "--capabilities", "cap_a,cap_z"),
               "capabilities: 1 of 2 benchmarks are in no file: 'cap_z'")
    assert_bad(_bad_import(tmp_path, FIX / "openllm_v1", "--capabilities", "paper"),
               "12 of 12 benchmarks are in no file", "'logiqa' (lm-eval 'logiqa' metric 'acc,none')")


def test_conflicting_duplicates(tmp_path):
    assert_bad(_bad_import(tmp_path, LM), "2 results for model 'Nova-7B-Chat', benchmark 'gsm8k'", "--duplicates")


def test_fewer_than_five_models(tmp_path):
    assert_bad(_bad_import(tmp_path, LM, "--duplicates", "latest"), "fewer than 5 models left after merging: 3")
    assert_bad(_bad_import(tmp_path, LM, INSPECT, "--duplicates", "latest", "--capabilities", "paper"),
               "fewer than 5 models", "3 have every capability score")
