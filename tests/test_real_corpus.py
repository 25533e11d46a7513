"""Real result files from public repositories (``../shared/real``): every file imported or refused
in one line naming it, cells checked against the raw files by readers written here (plain json,
zipfile), the metric and direction rules on the files that broke them, and the matrix unchanged
by the order of metric keys, files and records."""

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from swjax.cli import app
from swjax.errors import SwjaxError
from swjax.importers import read_results

from .rawfiles import zip_header

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
SAUCAM = REAL / "lm_eval" / "saucam_model_evals"
PYTHIA = REAL / "lm_eval" / "pythia" / "pythia-v1"
INSPECT = REAL / "inspect" / "inspect_ai_tests"
runner = CliRunner()

pytestmark = pytest.mark.skipif(
    not (SAUCAM.is_dir() and PYTHIA.is_dir() and INSPECT.is_dir()),
    reason=f"the real result files are not in {REAL} (copied from public repositories; see its README)",
)


def raw_lm(path):
    """(model id, results) of a harness file, read here with plain json."""
    obj = json.loads(path.read_text())
    args = dict(kv.split("=", 1) for kv in obj["config"]["model_args"].split(","))
    return args["pretrained"], obj["results"]


def saucam_file(model, task):
    return SAUCAM / model / "openllm" / f"{task}.json"


# --------------------------------------------------------------------------- every file


def _one_line_naming(msg: str, path: Path) -> bool:
    # a HELM run is read as its folder: a refusal names the folder or one of its files
    return "\n" not in msg and (path.name in msg or path.parent.name in msg)


@pytest.mark.slow
def test_every_real_file_is_imported_or_refused_in_one_line():
    outcomes = {}
    for path in sorted(p for p in REAL.rglob("*") if p.is_file()):
        try:
            read_results([path], min_models=1, duplicates="latest")
            outcomes[path] = "imported"
        except SwjaxError as err:
            assert _one_line_naming(str(err), path), (path, str(err))
            outcomes[path] = "refused"
    by_kind = {}
    for path, what in outcomes.items():
        by_kind.setdefault((path.relative_to(REAL).parts[0], what), []).append(path)
    # every harness results file imports alone; the inspect logs too, except the cancelled
    # run and the one without scores
    assert len(by_kind[("lm_eval", "imported")]) == 111 and ("lm_eval", "refused") not in by_kind
    assert len(by_kind[("inspect", "imported")]) == 12
    assert sorted(p.name for p in by_kind[("inspect", "refused")]) == [
        "2025-02-11T15-17-00-05-00_popularity_dPiJifoWeEQBrfWsAopzWr.eval",
        "2025-05-12T20-28-13-04-00_popularity.json", "LICENSE.txt"]


def test_harness_and_inspect_files_import_or_refuse_in_one_line():
    for path in sorted(INSPECT.rglob("*")) + sorted(SAUCAM.glob("*/*/openllm/*.json"))[:12]:
        if not path.is_file():
            continue
        try:
            read_results([path], min_models=1, duplicates="latest")
        except SwjaxError as err:
            assert _one_line_naming(str(err), path), (path, str(err))


# --------------------------------------------------------------------------- lm-evaluation-harness 0.4


@pytest.fixture(scope="module")
def saucam():
    return read_results([SAUCAM], min_models=1)


def test_saucam_cells_are_the_files_values(saucam):
    checked = 0
    for model, task, column, key in [
        ("meta-llama/Meta-Llama-3-8B", "arc", "arc_challenge", "acc,none"),
        ("meta-llama/Meta-Llama-3-8B-Instruct", "gsm8k", "gsm8k", "exact_match,strict-match"),
        ("saucam/Proteus-8B", "hellaswag", "hellaswag", "acc,none"),
        ("saucam/Orpomis-Prime-7B-it", "mmlu", "mmlu", "acc,none"),
        ("meraGPT/mera-mix-4x7B", "winogrande", "winogrande", "acc,none"),
        ("meta-llama/Meta-Llama-3-8B", "truthfulqa", "truthfulqa", "acc,none"),
        ("saucam/Saga-8B", "truthfulqa", "truthfulqa", "acc,none"),
    ]:
        pretrained, results = raw_lm(saucam_file(model, task))
        assert pretrained == model
        row = model.split("/")[1]
        assert saucam.scores.at[row, column] == results[column][key]
        assert saucam.stderr.at[row, column] == results[column][key.replace(",", "_stderr,")]
        checked += 1
    assert checked == 7


def test_a_group_column_is_one_metric_whatever_the_key_order(saucam):
    # the truthfulqa group lists 13 metrics in an order that changes from file to file; its column
    # holds acc,none (the preference rule) in every row, never the first key of each file
    firsts = set()
    for path in sorted(SAUCAM.glob("*/*/openllm/truthfulqa.json")):
        pretrained, results = raw_lm(path)
        entry = results["truthfulqa"]
        firsts.add(next(k for k in entry if "," in k and "_stderr" not in k))
        assert saucam.scores.at[pretrained.split("/")[1], "truthfulqa"] == entry["acc,none"]
    assert len(firsts) > 3  # the files do disagree about which key comes first
    assert saucam.info.loc["truthfulqa", "metric"] == "acc,none"
    col = saucam.scores["truthfulqa"]
    assert col.between(0, 1).all()
    # group and subtasks are separate benchmarks: the subtasks are not columns by default
    assert "truthfulqa_mc2" not in saucam.scores.columns
    assert any("truthfulqa" in line and "preference order" in line for line in saucam.report)


def test_saucam_directions_from_configs_metric_list(saucam):
    # no top-level higher_is_better in these files: configs.<task>.metric_list says it
    assert "higher_is_better" not in json.loads(saucam_file("saucam/Saga-8B", "truthfulqa").read_text())
    assert (saucam.info["direction_from"] == "source").all()
    assert not any("direction assumed" in line for line in saucam.report)


def test_openllm_v1_from_harness_files_of_its_six_tasks():
    res = read_results([SAUCAM], capabilities="openllm-v1", min_models=5)
    metric = res.info["metric"].to_dict()
    assert metric["openllm_v1_arc"] == "acc_norm,none" and metric["openllm_v1_truthfulqa"] == "acc,none"
    pretrained, results = raw_lm(saucam_file("saucam/Nereus-7B", "arc"))
    assert res.scores.at["Nereus-7B", "openllm_v1_arc"] == results["arc_challenge"]["acc_norm,none"]
    pretrained, results = raw_lm(saucam_file("saucam/Nereus-7B", "truthfulqa"))
    assert res.scores.at["Nereus-7B", "openllm_v1_truthfulqa"] == results["truthfulqa_mc2"]["acc,none"]
    assert res.scores.at["Nereus-7B", "truthfulqa"] == results["truthfulqa"]["acc,none"]  # the group, apart


def test_mixed_metrics_without_a_rule_are_refused_naming_them(tmp_path):
    # two files whose only metrics differ: no metric is in every file, nothing may be mixed
    for i, (model, key) in enumerate([("org/a", "bleu_max,none"), ("org/b", "rouge1_max,none")]):
        obj = {"results": {"tqa_gen": {key: 1.0 + i}}, "config": {"model_args": f"pretrained={model}"},
               "versions": {}}
        (tmp_path / f"r{i}.json").write_text(json.dumps(obj))
    with pytest.raises(SwjaxError, match=r"benchmark 'tqa_gen': the files report different metrics "
                                         r"\(bleu_max,none \(1 of 2\), rouge1_max,none \(1 of 2\)\).*--metric 'tqa_gen=METRIC'"):
        read_results([tmp_path], min_models=1)


# --------------------------------------------------------------------------- lm-evaluation-harness 0.3


@pytest.fixture(scope="module")
def pythia():
    return read_results([PYTHIA], min_models=1)


def test_pythia_cells_and_directions(pythia):
    files = sorted(PYTHIA.glob("*/zero-shot/*.json"))
    assert len(files) == 16
    checked = 0
    for path in files[:5]:
        pretrained, results = raw_lm(path)
        row = pretrained.split("/")[1]
        row = row[: -len("-bf16")] if row.endswith("-bf16") else row
        # lambada_openai: acc (the rule prefers it to ppl, which the file lists first)
        assert list(results["lambada_openai"]).index("ppl") < list(results["lambada_openai"]).index("acc")
        assert pythia.scores.at[row, "lambada_openai"] == results["lambada_openai"]["acc"]
        # crows_pairs: pct_stereotype, lower is better by its name: negated
        assert pythia.scores.at[row, "crows_pairs_english"] == -results["crows_pairs_english"]["pct_stereotype"]
        assert pythia.stderr.at[row, "logiqa"] == results["logiqa"]["acc_stderr"]
        checked += 1
    assert checked == 5
    assert pythia.info.loc["lambada_openai", "metric"] == "acc"  # as the 0.3 file writes it
    assert pythia.info.loc["crows_pairs_english", "direction"] == "lower (negated)"
    assert pythia.info.loc["crows_pairs_english", "direction_from"] == "metric name"
    assert pythia.info.loc["arc_easy", "direction_from"] == "metric name"


def test_pythia_perplexity_is_lower_is_better():
    res = read_results([PYTHIA], metric="lambada_openai=ppl", min_models=1)
    path = sorted(PYTHIA.glob("pythia-160m/zero-shot/*.json"))[0]
    pretrained, results = raw_lm(path)
    assert res.scores.at[pretrained.split("/")[1], "lambada_openai"] == -results["lambada_openai"]["ppl"]
    assert res.info.loc["lambada_openai", "direction"] == "lower (negated)"
    # with ppl negated, the capability correlation of a more capable model is not reversed:
    # bigger models have lower perplexity, hence higher (negated) scores
    big = res.scores.filter(like="12b", axis=0)["lambada_openai"].min()
    small = res.scores.filter(like="70m", axis=0)["lambada_openai"].max()
    assert big > small


def test_paper_capabilities_on_pre_04_files_name_what_is_missing():
    # 'acc' in a 0.3 file is the paper's 'acc,none': the error is about the absent tasks only
    with pytest.raises(SwjaxError, match=r"capabilities: 7 of 12 benchmarks are in no file: 'hellaswag'") as err:
        read_results([PYTHIA], capabilities="paper", min_models=1)
    assert "has no metric" not in str(err.value) and "'logiqa'" not in str(err.value)


def test_paper_members_take_acc_from_pre_04_files():
    res = read_results([PYTHIA], capabilities="logiqa,piqa,winogrande,arc_challenge,lambada_openai",
                       metric="lambada_openai=acc,none", min_models=5)
    pretrained, results = raw_lm(sorted(PYTHIA.glob("pythia-410m/zero-shot/*.json"))[0])
    assert res.scores.at[pretrained.split("/")[1], "lambada_openai"] == results["lambada_openai"]["acc"]


# --------------------------------------------------------------------------- inspect_ai


def test_inspect_cells_are_the_logs_values():
    res = read_results([INSPECT], duplicates="latest", min_models=1)
    checked = 0
    for path in sorted(INSPECT.rglob("*.eval")) + sorted(INSPECT.rglob("*.json")):
        head = zip_header(path) if path.suffix == ".eval" else json.loads(path.read_text())
        if head["status"] != "success" or not head["results"]["scores"]:
            continue
        model = head["eval"]["model"].split("/", 1)[1]
        model = model.split("/")[-1]
        task = head["eval"]["task"].split("/")[-1]
        metrics = head["results"]["scores"][0]["metrics"]
        assert res.scores.at[model, task] == metrics["accuracy"]["value"], path
        assert res.stderr.at[model, task] == metrics["stderr"]["value"], path
        checked += 1
    assert checked >= 5
    assert res.scores.at["gpt-4o-mini", "popularity"] == 0.8 and res.n.at["gpt-4o-mini", "popularity"] == 10


def test_inspect_unscored_and_cancelled_logs_are_one_line_each():
    res = read_results([INSPECT], duplicates="latest", min_models=1)
    skipped = [line for line in res.report if line.startswith("skipped ")]
    assert any("dPiJifoWeEQBrfWsAopzWr.eval: field 'results.scores' is empty" in s for s in skipped)
    assert any("20-28-13-04-00_popularity.json: field 'status' is 'cancelled'" in s for s in skipped)
    assert len(skipped) == 2
    # named on the command line, such a log stops the import with that one line
    bad = next(INSPECT.rglob("*dPiJifoWeEQBrfWsAopzWr.eval"))
    with pytest.raises(SwjaxError, match="field 'results.scores' is empty"):
        read_results([bad], min_models=1)


# --------------------------------------------------------------------------- bad values in real files


def _copy_saucam(tmp_path, models=6):
    out = tmp_path / "in"
    for d in sorted(SAUCAM.glob("*/*"))[:models]:
        shutil.copytree(d, out / d.parent.name / d.name)
    return out


def _set(path, task, key, text):
    """Replace one value by raw JSON text (1e400 and 400-digit integers cannot pass json.dumps)."""
    obj = json.loads(path.read_text())
    obj["results"][task][key] = "@@"
    path.write_text(json.dumps(obj).replace('"@@"', text))


@pytest.mark.parametrize("text", ["1e400", "-1e400", "9" * 400])
def test_out_of_range_scores_are_refused_in_one_line(tmp_path, text):
    folder = _copy_saucam(tmp_path)
    path = sorted(folder.rglob("arc.json"))[0]
    _set(path, "arc_challenge", "acc,none", text)
    with pytest.raises(SwjaxError, match=r"arc.json: field 'results.arc_challenge.acc,none' is not a finite number"):
        read_results([path], min_models=1)
    # in a folder: that file is skipped and named, the others read, no infinity in the matrix
    res = read_results([folder], min_models=1)
    assert np.isfinite(res.scores.to_numpy(dtype=float)[res.scores.notna().to_numpy()]).all()
    assert any(line.startswith("skipped ") and "arc.json" in line for line in res.report)
    result = runner.invoke(app, ["import", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_deep_json_and_huge_integers_in_a_folder_are_listed_not_fatal(tmp_path):
    folder = _copy_saucam(tmp_path)
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "huge.json").write_text('{"results": {"x": {"acc,none": ' + "1" * 5000 + '}}}')
    (folder / "notes.json").write_text('{"hello": 1}')
    res = read_results([folder], min_models=1)
    lines = [line for line in res.report if line.startswith("skipped ")]
    assert any("deep.json: not readable JSON (nested too deeply)" in s for s in lines)
    assert any("huge.json: not readable JSON" in s for s in lines)
    assert any("notes.json" in s for s in lines)
    assert len(res.scores) == 6
    for name in ("deep.json", "huge.json"):
        result = runner.invoke(app, ["import", str(folder / name), "--out", str(tmp_path / "o")])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_a_folder_of_nothing_readable_is_an_error(tmp_path):
    (tmp_path / "a.json").write_text("[" * 100_000)
    (tmp_path / "b.json").write_text("{}")
    with pytest.raises(SwjaxError, match="no results files found|no file could be read"):
        read_results([tmp_path], min_models=1)


# --------------------------------------------------------------------------- precision


def test_import_writes_values_that_read_back_exactly(tmp_path, saucam):
    out = tmp_path / "m"
    saucam.write(out)
    from swjax.data import read_csv

    back = read_csv(out / "scores.csv")
    assert back.scores.shape == saucam.scores.shape
    a = back.scores.reindex(index=saucam.scores.index, columns=saucam.scores.columns).to_numpy(dtype=float)
    b = saucam.scores.to_numpy(dtype=float)
    assert np.array_equal(a, b, equal_nan=True)  # bit for bit, not to 10 digits


# --------------------------------------------------------------------------- order never matters


def _shuffled(obj, rng):
    if isinstance(obj, dict):
        items = list(obj.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(obj, list):
        return [_shuffled(v, rng) for v in obj]
    return obj


_FILES = sorted(SAUCAM.glob("*/*/openllm/*.json"))[:30] if SAUCAM.is_dir() else []


@pytest.fixture(scope="module")
def reference():
    return read_results(_FILES, min_models=1)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_shuffling_metric_keys_files_and_records_never_changes_the_matrix(tmp_path_factory, reference, seed):
    rng = random.Random(seed)
    folder = tmp_path_factory.mktemp("shuffled")
    paths = []
    for i, path in enumerate(_FILES):
        copy = folder / f"{i:03d}_{path.parent.parent.name}_{path.name}"
        copy.write_text(json.dumps(_shuffled(json.loads(path.read_text()), rng)))
        paths.append(copy)
    rng.shuffle(paths)
    res = read_results(paths, min_models=1)
    for got, want in ((res.scores, reference.scores), (res.stderr, reference.stderr), (res.n, reference.n)):
        got = got.sort_index().sort_index(axis=1)
        want = want.sort_index().sort_index(axis=1)
        assert list(got.index) == list(want.index) and list(got.columns) == list(want.columns)
        assert np.array_equal(got.to_numpy(dtype=float), want.to_numpy(dtype=float), equal_nan=True)
    assert res.info.sort_index()[["metric", "direction", "direction_from"]].equals(
        reference.info.sort_index()[["metric", "direction", "direction_from"]])
    assert res.scores["truthfulqa"].notna().sum() >= 4  # the mixed-metric group is in the sample


# --------------------------------------------------------------------------- names and families


def _saucam_ids():
    ids = []
    for path in sorted(SAUCAM.glob("*/*/openllm/arc.json")):
        ids.append(raw_lm(path)[0])
    return ids


def test_families_file_in_the_sources_own_ids(tmp_path, saucam):
    from swjax.clusters import family_labels
    from swjax.errors import SwjaxWarning

    ids = _saucam_ids()
    fams = {i: ("llama3" if "8B" in i or "llama" in i.lower() else "mistral") for i in ids}
    frame = "model,family\n" + "".join(f"{i},{f}\n" for i, f in fams.items())
    file = tmp_path / "families.csv"
    file.write_text(frame)
    with pytest.warns(SwjaxWarning, match=r"16 model\(s\) of .*families.csv matched .*meta-llama/Meta-Llama-3-8B -> Meta-Llama-3-8B"):
        labels = family_labels(saucam.dataset(), families=file)
    for source_id, family in fams.items():
        assert labels[source_id.split("/")[1]] == family
    # an id that matches nothing is still an error
    file.write_text(frame + "someone/Unknown-1B,x\n")
    with pytest.warns(SwjaxWarning), pytest.raises(
            SwjaxError, match=r"names 1 model\(s\) not in the data, first 'someone/Unknown-1B'"):
        family_labels(saucam.dataset(), families=file)


def test_text_family_column_and_model_id_column(tmp_path, saucam):
    from swjax.clusters import family_labels
    from swjax.data import read_csv

    path = tmp_path / "m.csv"
    lines = ["Model,Model Family," + ",".join(saucam.scores.columns)]
    for model, row in saucam.scores.iterrows():
        fam = "mistral" if "7B" in model else "llama3"
        lines.append(f"{model},{fam}," + ",".join("" if np.isnan(v) else repr(float(v)) for v in row))
    path.write_text("\n".join(lines) + "\n")
    ds = read_csv(path)
    assert list(ds.scores.columns) == list(saucam.scores.columns)  # the family is not a benchmark
    assert np.array_equal(ds.scores.to_numpy(dtype=float), saucam.scores.to_numpy(dtype=float), equal_nan=True)
    labels = family_labels(ds, cluster_by="Model Family")
    assert labels["Nereus-7B"] == "mistral" and labels["Saga-8B"] == "llama3"
    # a benchmark column with numbers and one text cell is still refused, naming the cell
    lines[2] = lines[2].replace(lines[2].split(",")[2], "oops", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SwjaxError, match="non-numeric cell 'oops'"):
        read_csv(path)


@pytest.mark.parametrize("text", ["1e400", "9" * 400])
def test_out_of_range_scores_in_a_long_table_are_refused(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_text("model,benchmark,score\n" + "".join(f"m{i},x,{0.1 * i}\n" for i in range(5)) + f"m9,x,{text}\n")
    with pytest.raises(SwjaxError, match=r"t.csv: row 7: field 'score' is not a finite number: '(1e400'|9{30}9*\.\.\.)$"):
        read_results([path], min_models=1)


def test_nested_group_directions_do_not_depend_on_key_order():
    from swjax.importers.lm_eval import directions

    subs = {"top": ["mid"], "mid": ["leaf_a", "leaf_b"]}
    configs = {t: {"metric_list": [{"metric": "acc", "higher_is_better": True}]} for t in ("leaf_a", "leaf_b")}
    for order in (["top", "mid"], ["mid", "top"]):
        got = directions({"group_subtasks": {g: subs[g] for g in order}, "configs": configs})
        assert got["top"] == {"acc": True} and got["mid"] == {"acc": True}
    configs["leaf_b"]["metric_list"][0]["higher_is_better"] = False  # the subtasks disagree: no direction
    assert directions({"group_subtasks": subs, "configs": configs})["top"] == {}
