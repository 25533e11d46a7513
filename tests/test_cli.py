"""The analyze and bootstrap commands: output formats, and one clear message with exit 2 for
every kind of bad input, never a traceback and never a half-written output."""

import json
import re
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from swjax.cli import app
from swjax.data import DATASETS, PAPER_CAPABILITIES, REGISTRY

runner = CliRunner()


def run(*args, env=None):
    return runner.invoke(app, list(args), env=env)


def assert_bad(result, *phrases):
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    text = result.output.lower()
    for phrase in phrases:
        assert phrase.lower() in text, (phrase, result.output)


@pytest.fixture
def good_csv(tmp_path, chat):
    """A user matrix in the public schema: 10 chat models, the capabilities and 3 safety columns."""
    frame = chat.scores[list(PAPER_CAPABILITIES) + ["MT_Bench", "sycophancy", "wmdp_bio"]].iloc[:10].copy()
    frame.insert(0, "name", chat.meta["name"].iloc[:10])
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index_label="model")
    return path


def write(tmp_path, text, name="bad.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def csv_text(good_csv: Path) -> str:
    return good_csv.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- good input


def test_analyze_table_sorted_with_display_names():
    res = run("analyze", "--set", "chat")
    assert res.exit_code == 0, res.output
    assert "PC1 explains 70.8%" in res.output
    assert "MT-Bench" in res.output or "MT Bench" in res.output
    lines = res.output.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.strip() and set(line.strip()) == {"─"})
    rows = [line for line in lines[rule + 1:] if line.strip()]
    cells = [line.split()[-2:] for line in rows]  # correlation and n end each row (a wrapped name does not)
    corr = [float(c) for c, n in (x for x in cells if len(x) == 2) if re.fullmatch(r"-?\d\.\d{3}", c) and n.isdigit()]
    assert len(corr) > 100 and corr == sorted(corr, reverse=True), res.output[:2000]


def test_analyze_json_carries_every_field(tmp_path):
    out = tmp_path / "a.json"
    res = run("analyze", "--set", "both", "--format", "json", "--x64", "--out", str(out))
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert set(data) == {"base", "chat"}
    chat = data["chat"]
    for key in ["correlations", "scores", "loadings", "eigenvalues", "variance_explained",
                "mean_intercorrelation", "std_intercorrelation", "compute_correlation",
                "n_models_per_benchmark", "capability_matrix", "names", "metrics", "dtype"]:
        assert key in chat
    assert chat["correlations"]["MT_Bench"] == pytest.approx(0.787, abs=5e-4)
    assert data["base"]["compute_correlation"] == pytest.approx(0.965, abs=5e-4)
    assert data["base"]["compute_n_models"] == 24


def test_analyze_csv_is_tidy(tmp_path):
    res = run("analyze", "--set", "chat", "--format", "csv", "--against", "mmlu")
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(pd.io.common.StringIO(res.stdout))
    assert set(frame["kind"]) >= {"correlation", "score", "loading", "eigenvalue", "summary", "capability_matrix"}
    row = frame[(frame["kind"] == "correlation") & (frame["key"] == "rmsce_mmlu")]
    assert float(row["value"].iloc[0]) == pytest.approx(0.201, abs=5e-4)


def test_analyze_user_csv_and_capabilities(good_csv):
    res = run("analyze", "--data", str(good_csv), "--capabilities", "mmlu,gsm8k,bbh", "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["mine.csv"]["capabilities"] == ["mmlu", "gsm8k", "bbh"]


def test_bootstrap_writes_all_files(tmp_path):
    out = tmp_path / "run"
    res = run("bootstrap", "--set", "chat", "--n", "200", "--out", str(out), "--permutations", "50", "--eigenvalues")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == [".swjax-output.json", "distributions.npz", "manifest.json", "table.csv", "table.json"]
    table = pd.read_csv(out / "table.csv", index_col="benchmark")
    assert {"estimate", "low", "high", "verdict", "p_value", "q_value"} <= set(table.columns)
    arrays = np.load(out / "distributions.npz")
    bench = table[table["kind"] == "benchmark"]
    assert list(table.index[table["kind"] == "summary"]) == ["variance_explained", "mean_intercorrelation", "compute_correlation"]
    assert arrays["chat/distribution"].shape == (200, len(bench))
    assert list(arrays["chat/benchmarks"]) == list(bench.index)
    assert arrays["chat/eigenvalues"].shape == (200, 12)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"][0]["metadata"]["n"] == 200
    assert "entangled" in res.output


def test_bootstrap_failure_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "run"
    res = run("bootstrap", "--set", "chat", "--n", "50", "--capabilities", "mmlu,nope", "--out", str(out))
    assert_bad(res, "nope")
    assert not out.exists()
    assert not any(p.name.startswith(".run") for p in tmp_path.iterdir())


# --------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path):
    assert_bad(run("analyze", "--data", str(tmp_path / "nope.csv")), "nope.csv", "not found")


def test_unreadable_file(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x81model\n")
    assert_bad(run("analyze", "--data", str(path)), "binary.csv")


def test_folder_instead_of_file(tmp_path):
    assert_bad(run("analyze", "--data", str(tmp_path)), "folder")


def test_no_model_column(tmp_path):
    assert_bad(run("analyze", "--data", write(tmp_path, "id,mmlu\na,1\n")), "bad.csv", "no 'model' column")


def test_duplicate_model_ids(tmp_path, good_csv):
    lines = csv_text(good_csv).splitlines()
    text = "\n".join(lines + [lines[1]]) + "\n"
    model = lines[1].split(",")[0]
    assert_bad(run("analyze", "--data", write(tmp_path, text)), "duplicate model id", model)


def test_duplicate_benchmark_columns(tmp_path, good_csv):
    lines = csv_text(good_csv).splitlines()
    text = "\n".join(line + "," + line.split(",")[-1] if i else line + ",wmdp_bio" for i, line in enumerate(lines))
    assert_bad(run("analyze", "--data", write(tmp_path, text)), "duplicate column", "wmdp_bio")


def test_non_numeric_cell(tmp_path, good_csv):
    frame = pd.read_csv(good_csv, dtype=str)
    frame.loc[3, "mmlu"] = "n/a?"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    model = frame.loc[3, "model"]
    assert_bad(run("analyze", "--data", str(path)), "non-numeric", "mmlu", model)


def test_infinite_value(tmp_path, good_csv):
    frame = pd.read_csv(good_csv, dtype=str)
    frame.loc[2, "sycophancy"] = "inf"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    assert_bad(run("analyze", "--data", str(path)), "infinite", "sycophancy", frame.loc[2, "model"])


def test_unknown_capability_benchmark():
    assert_bad(run("analyze", "--set", "chat", "--capabilities", "mmlu,gsm8kk"), "unknown benchmark", "gsm8kk", "gsm8k")


def test_fewer_than_two_capabilities():
    assert_bad(run("analyze", "--set", "chat", "--capabilities", "mmlu"), "at least 2")


def test_unknown_against():
    assert_bad(run("analyze", "--set", "chat", "--against", "mmlu_x"), "against", "mmlu_x")


def test_fewer_than_five_models(tmp_path, good_csv):
    lines = csv_text(good_csv).splitlines()[:5]
    assert_bad(run("analyze", "--data", write(tmp_path, "\n".join(lines) + "\n")), "at least 5 models", "got 4")


def test_all_nan_and_constant_benchmarks_are_dropped_with_a_warning(tmp_path, good_csv):
    frame = pd.read_csv(good_csv)
    frame["empty"] = np.nan
    frame["flat"] = 0.5
    path = tmp_path / "drop.csv"
    frame.to_csv(path, index=False)
    res = run("analyze", "--data", str(path), "--format", "json")
    assert res.exit_code == 0, res.output
    assert "warning" in res.stderr and "empty" in res.stderr and "flat" in res.stderr
    data = json.loads(res.stdout)
    assert data["drop.csv"]["dropped_benchmarks"] == ["empty", "flat"]


def test_constant_capability_is_an_error(tmp_path, good_csv):
    frame = pd.read_csv(good_csv)
    frame["mmlu"] = 0.5
    path = tmp_path / "flat.csv"
    frame.to_csv(path, index=False)
    assert_bad(run("analyze", "--data", str(path)), "mmlu", "constant")


def test_model_missing_a_capability_is_left_out_with_a_warning(tmp_path, good_csv):
    frame = pd.read_csv(good_csv)
    frame.loc[1, "gsm8k"] = np.nan
    path = tmp_path / "hole.csv"
    frame.to_csv(path, index=False)
    res = run("analyze", "--data", str(path), "--format", "json")
    assert res.exit_code == 0, res.output
    assert "warning" in res.stderr and frame.loc[1, "model"] in res.stderr
    data = json.loads(res.stdout)
    assert data["hole.csv"]["n_models"] == 9
    assert data["hole.csv"]["dropped_models"] == [frame.loc[1, "model"]]


def test_hash_mismatch_of_a_dataset_file(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    shared = Path(os.environ["SWJAX_DATA_DIR"])
    for name in REGISTRY:
        shutil.copy(shared / name, folder / name)
    with open(folder / DATASETS["chat"], "a", encoding="utf-8") as fh:
        fh.write("\n")
    res = run("analyze", "--set", "chat", "--data-dir", str(folder))
    assert_bad(res, "sha256 mismatch", DATASETS["chat"])
    assert run("analyze", "--set", "base", "--data-dir", str(folder)).exit_code == 0


def test_info_without_data(tmp_path):
    assert_bad(run("analyze", "--set", "chat", "--info", write(tmp_path, "benchmark,name\n", "i.csv")), "--info")


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["--n", "0"], "n: expected"),
        (["--n", "-5"], "n: expected"),
        (["--level", "1.5"], "level"),
        (["--level", "0"], "level"),
        (["--threshold", "0"], "threshold"),
        (["--permutations", "-1"], "permutations"),
        (["--batch-size", "0"], "batch_size"),
        (["--seed", "-3"], "seed"),
    ],
)
def test_bootstrap_bad_numbers(args, phrase):
    assert_bad(run("bootstrap", "--set", "chat", *args), phrase)


@pytest.mark.parametrize("args", [["--method", "studentized"], ["--device", "tpu"], ["--set", "instruct"], ["--n", "many"]])
def test_bootstrap_bad_choices_exit_2(args):
    res = run("bootstrap", *args)
    assert res.exit_code == 2
    assert "Traceback" not in res.output


def test_gpu_asked_without_gpu():
    import jax

    if any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("a GPU is visible")
    assert_bad(run("bootstrap", "--set", "chat", "--n", "40", "--device", "gpu"), "no gpu")
