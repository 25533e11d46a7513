"""benchbench's categories (its file names' last part) as the capability set of an atlas
population: the rule on small tables written here, then on the real tables of ../shared/real
(a merged safety-and-capabilities population checked against an independent computation, the
direction of HELM AIR-Bench given on the command line, clashing names refused with their names)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from swjax import SwjaxError
from swjax.atlas import atlas, populations
from swjax.cli import app
from swjax.importers import read_results
from swjax.importers.wide_table import CAPABILITY_CATEGORIES, CATEGORIES, category

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
BB = REAL / "benchbench" / "benchmarks"
needs_real = pytest.mark.skipif(not BB.is_dir(), reason=f"real benchbench tables not here ({BB})")
ENKRYPT = "enkrypt_ai_safety_240916_safety.csv"
AIRBENCH = "helm_airbench_240916_safety.csv"
LIVEBENCH = "livebench_240829_holistic.csv"
LB_COLUMNS = ["livebench_240725", "LB_Reasoning", "LB_Coding", "LB_Mathematics", "LB_Data_Analysis", "LB_Language",
              "LB_IF"]


def _board(folder: Path, name: str, columns, models, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.normal(size=len(models)).round(3) for c in columns})
    frame.insert(0, "model", models)
    frame.to_csv(folder / name, index=False)
    return folder / name


def _reference(scores: pd.DataFrame, caps, bench) -> tuple[float, int]:
    """Complete-case models, ddof-0 z-scores, Spearman matrix, PC1 (largest loading positive),
    the score, and its Spearman correlation with the benchmark where the benchmark is observed."""
    cc = scores.dropna(subset=caps)
    x = cc[caps].to_numpy(float)
    z = (x - x.mean(0)) / x.std(0)
    _, vecs = np.linalg.eigh(stats.spearmanr(x).statistic)
    v = vecs[:, -1]
    v = v if v[np.argmax(np.abs(v))] > 0 else -v
    seen = cc[bench].notna().to_numpy()
    return stats.spearmanr(cc[bench].to_numpy()[seen], (z @ v)[seen]).statistic, int(seen.sum())


def _raw(name) -> dict:
    with open(BB / name, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    return {r[0]: dict(zip(rows[0][1:], r[1:])) for r in rows[1:]}


def test_category_is_read_from_benchbench_file_names_only():
    assert [category(f"x_240829_{c}.csv") for c in CATEGORIES] == list(CATEGORIES)
    assert category("livecodebench_240601_230701_code.csv") == "code"
    assert category("/a/b/hydrox_safety_241001_safety.csv") == "safety"
    for name in ("my_code.csv", "helm_lite_240610.csv", "x_240829_poetry.csv", "x_240829_safety.json", "safety.csv"):
        assert category(name) == ""
    assert "safety" not in CAPABILITY_CATEGORIES and set(CAPABILITY_CATEGORIES) | {"safety"} == set(CATEGORIES)


def test_categories_mark_capabilities_and_a_named_set_or_given_list_wins(tmp_path):
    models = [f"org/model-{i}" for i in range(12)]
    know = _board(tmp_path, "quiz_240101_knowledge.csv", ["k1", "k2"], models, 1)
    code = _board(tmp_path, "coder_240101_code.csv", ["c1"], models, 2)
    safe = _board(tmp_path, "guard_240101_safety.csv", ["s1", "s2"], models, 3)
    plain = _board(tmp_path, "other.csv", ["o1"], models, 4)
    res = read_results([know, code, safe, plain])
    assert res.info["category"].to_dict() == {"k1": "knowledge", "k2": "knowledge", "c1": "code", "s1": "safety",
                                              "s2": "safety", "o1": ""}
    assert res.info["capability"].to_dict() == {"k1": True, "k2": True, "c1": True, "s1": False, "s2": False,
                                                "o1": False}
    assert any(line.startswith("capabilities marked by the source's categories") and "code 1, knowledge 2" in line
               for line in res.report)
    assert "not capabilities (category safety): 2 benchmarks: s1, s2" in res.report
    (pop,) = populations([know, code, safe, plain], merge=True, min_models=10)
    assert pop.capabilities == ("k1", "k2", "c1")
    assert pop.capabilities_from == "marked by the source's categories (benchbench file names: code, knowledge)"
    # a capability list given for the import replaces the marks
    given = read_results([know, code, safe, plain], capabilities="k1,s1,o1")
    assert given.info["capability"].to_dict() == {"k1": True, "k2": False, "c1": False, "s1": True, "s2": False,
                                                  "o1": True}
    (pop,) = populations([know, code, safe, plain], merge=True, capabilities="k1,k2,o1", min_models=10)
    assert pop.capabilities == ("k1", "k2", "o1") and pop.capabilities_from == "given"
    # one table alone: a safety table marks nothing, so it is not analysed, with the reason
    (pop,) = populations([safe])
    assert pop.capabilities == () and "none marked" in pop.skipped
    # files without benchbench names: no category column at all (as before)
    assert "category" not in read_results([plain]).info.columns


def test_a_column_two_files_put_in_different_categories_is_not_marked(tmp_path):
    models = [f"m{i}" for i in range(8)]
    a = _board(tmp_path, "a_240101_knowledge.csv", ["shared", "k"], models[:4], 1)
    b = _board(tmp_path, "b_240101_safety.csv", ["shared"], models[4:], 2)
    res = read_results([a, b])
    assert res.info.at["shared", "category"] == "" and not res.info.at["shared", "capability"]
    assert res.info.at["k", "capability"]
    assert any("'shared': the files give it different categories (knowledge in a_240101_knowledge.csv; "
               "safety in b_240101_safety.csv)" in line for line in res.report)


@needs_real
def test_real_tables_record_their_category_per_column():
    files = [AIRBENCH, "hydrox_safety_241001_safety.csv", LIVEBENCH, "eqbench_240912_emotion.csv",
             "mmlu_pro_240829_knowledge.csv", "opencompass_instruct_240829_instructionfollow.csv"]
    res = read_results([BB / f for f in files], duplicates="mean")
    for f in files:
        kind = f.rsplit("_", 1)[1].removesuffix(".csv")
        with open(BB / f, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh))[1:]
        for column in header:
            assert res.info.at[column, "category"] == kind, (f, column)
            assert res.info.at[column, "capability"] == (kind != "safety"), (f, column)
    assert int(res.info["capability"].sum()) == 7 + 1 + 1 + 1 and int((~res.info["capability"]).sum()) == 17 + 5


@needs_real
@pytest.mark.slow  # one bootstrap with permutations of the merged population
def test_merged_safety_and_capabilities_atlas_against_an_independent_computation():
    """Enkrypt AI's safety table merged with LiveBench: the capability set is LiveBench's seven
    columns (category holistic), the one row is the safety table's, and its estimate is scipy's."""
    sources = [BB / ENKRYPT, BB / LIVEBENCH]
    res = atlas(sources, merge=True, duplicates="mean", n=300, permutations=300, seed=1, cache=False)
    (row,) = res.table.itertuples(index=False)
    assert (row.population, row.benchmark) == ("merged", "Enkrypt_AI_Safety")
    pops = res.populations.set_index("population")
    assert pops.at["merged", "capabilities"] == ", ".join(LB_COLUMNS)
    assert pops.at["merged", "capabilities_from"] == "marked by the source's categories (benchbench file names: holistic)"
    # the independent computation, on the merged matrix rebuilt here from the raw tables by the
    # joins the import report lists (every row of the atlas rests on those joins)
    scores = populations(sources, merge=True, duplicates="mean")[0].data.scores
    est, k = _reference(scores, LB_COLUMNS, "Enkrypt_AI_Safety")
    assert row.estimate == pytest.approx(est, abs=1e-5) and row.n_models == k == 30
    assert row.low <= row.estimate <= row.high
    # a cell of that matrix is the raw tables' number: one model of both tables, by its spellings
    enk, live = _raw(ENKRYPT), _raw(LIVEBENCH)
    assert scores.at["Qwen2-72B-Instruct", "Enkrypt_AI_Safety"] == float(enk["Qwen2-72B-Instruct"]["Enkrypt_AI_Safety"])
    assert scores.at["Qwen2-72B-Instruct", "LB_Coding"] == float(live["qwen2-72b-instruct"]["LB_Coding"])
    report = res.metadata["reports"]["merged"]
    assert "model 'Qwen2-72B-Instruct' <- 'Qwen2-72B-Instruct', 'qwen2-72b-instruct' (2 source names merged)" in report
    assert any(line.startswith("duplicates resolved (mean): 3 cells") for line in report)


@needs_real
@pytest.mark.slow  # one bootstrap with permutations of the merged population, through the command line
def test_cli_airbench_direction_given_and_the_report_written(tmp_path):
    """HELM AIR-Bench's columns are lower = safer (Claude 3 lowest): --lower-is-better negates them,
    and the row is the correlation of the negated scores, computed here from the raw table."""
    with open(BB / AIRBENCH, newline="", encoding="utf-8-sig") as fh:
        air = next(csv.reader(fh))[1:]
    out = tmp_path / "atlas"
    got = CliRunner().invoke(app, ["atlas", str(BB / AIRBENCH), str(BB / LIVEBENCH), "--merge", "--lower-is-better",
                                   ",".join(air), "--min-models", "10", "--n", "200", "--permutations", "200",
                                   "--no-cache", "--out", str(out)])
    assert got.exit_code == 0, got.output
    table = pd.read_csv(out / "atlas.csv").set_index("benchmark")
    assert sorted(table.index) == sorted(air)
    assert "direction assumed" not in got.output
    text = (out / "import_report.txt").read_text()
    assert text.startswith("== merged\n") and "lower is better (--lower-is-better), scores negated" in text
    # independent: the raw AIR-Bench numbers negated, joined to LiveBench by the report's joins
    raw_air, live = _raw(AIRBENCH), _raw(LIVEBENCH)
    joined = {"anthropic/claude-3-haiku-20240307": "claude-3-haiku-20240307",
              "anthropic/claude-3-opus-20240229": "claude-3-opus-20240229",
              "anthropic/claude-3-sonnet-20240229": "claude-3-sonnet-20240229",
              "openai/gpt-4o-2024-05-13": "gpt-4o-2024-05-13"}
    joined = {a: b for a, b in joined.items() if a in raw_air and b in live}
    assert len(joined) >= 3
    scores = populations([BB / AIRBENCH, BB / LIVEBENCH], merge=True, lower_is_better=air)[0].data.scores
    for a, b in joined.items():
        model = next(m for m in scores.index if m.lower() == a.split("/")[1])
        assert scores.at[model, air[0]] == -float(raw_air[a][air[0]])
        assert scores.at[model, "LB_IF"] == float(live[b]["LB_IF"])
    bench = air[0]
    est, k = _reference(scores, LB_COLUMNS, bench)
    assert table.at[bench, "estimate"] == pytest.approx(est, abs=1e-5) and table.at[bench, "n_models"] == k


@needs_real
def test_names_two_organisations_give_are_refused_naming_them(tmp_path):
    """biggen's MaziyarPanahi AWQ copy of Mixtral 8x22B and AIR-Bench's mistralai original meet
    by name: the merge is refused, naming them and the models file that settles it."""
    got = CliRunner().invoke(app, ["atlas", str(BB / "biggen_240829_holistic.csv"), str(BB / AIRBENCH), "--merge",
                                   "--no-cache", "--out", str(tmp_path / "x")])
    assert got.exit_code == 2 and "Traceback" not in got.output
    text = " ".join(got.output.split())
    assert "'MaziyarPanahi/Mixtral-8x22B-Instruct-v0.1-AWQ'" in text and "'mistralai/mixtral-8x22b-instruct-v0.1'" in text
    assert "cannot be merged without a models file" in text and "--models FILE (columns from,to)" in text
    assert not (tmp_path / "x").exists()
    # the models file the message asks for settles it: the AWQ copy is its own model
    mapping = tmp_path / "models.csv"
    mapping.write_text("from,to\nMaziyarPanahi/Mixtral-8x22B-Instruct-v0.1-AWQ,Mixtral-8x22B-Instruct-v0.1 AWQ copy\n")
    res = read_results([BB / "biggen_240829_holistic.csv", BB / AIRBENCH], models=mapping)
    assert "Mixtral-8x22B-Instruct-v0.1 AWQ copy" in res.scores.index


def test_merge_refusal_lists_every_clash_at_once(tmp_path):
    a = tmp_path / "a_240101_knowledge.csv"
    pd.DataFrame({"model": ["x/m1", "x/m2", "x/m3", "x/m4", "x/m5"], "k": range(5)}).to_csv(a, index=False)
    b = tmp_path / "b_240101_safety.csv"
    pd.DataFrame({"model": ["y/m1", "y/m2", "x/m3", "x/m4", "x/m5"], "s": range(5)}).to_csv(b, index=False)
    with pytest.raises(SwjaxError, match=r"2 model names are given by different organisations and cannot be merged "
                                         r"without a models file: \['x/m1', 'y/m1'\] .*; \['x/m2', 'y/m2'\]"):
        read_results([a, b])


@needs_real
def test_hydrox_repeated_names_left_missing_where_they_disagree():
    """hydrox lists 8 models twice with different scores (86.56 and 8.26 for one of them):
    ``duplicates="missing"`` leaves those cells missing, keeps a cell the two rows agree on,
    and every other model's scores are the file's; without a rule the clash is an error."""
    path = BB / "hydrox_safety_241001_safety.csv"
    table = pd.read_csv(path)
    with pytest.raises(SwjaxError, match="pass --duplicates latest, mean, best or missing"):
        read_results([path])
    res = read_results([path], duplicates="missing")
    columns = [c for c in table.columns if c != "model"]
    by_model = table.groupby("model")
    want = by_model[columns].first().where(by_model[columns].nunique() == 1)  # agreeing rows only
    want.index = [m.split("/", 1)[1] for m in want.index]  # the import drops the organisation
    got = res.scores.reindex(index=want.index, columns=columns)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    repeated = [m.split("/", 1)[1] for m in table["model"][table["model"].duplicated()].unique()]
    assert len(repeated) == 8 and got.loc[repeated].isna().to_numpy().mean() > 0.9
    assert any(line.startswith("duplicates resolved (missing): ") and "left missing (2 different results)" in line
               for line in res.report)


@needs_real
def test_cli_import_duplicates_missing(tmp_path):
    out = tmp_path / "m"
    got = CliRunner().invoke(app, ["import", str(BB / "hydrox_safety_241001_safety.csv"), "--duplicates", "missing",
                                   "--out", str(out)])
    assert got.exit_code == 0, got.output
    scores = pd.read_csv(out / "scores.csv", index_col=0)
    assert scores.loc["dolly-v2-7b"].drop("developer").isna().all() and scores.loc["claude-3-5-sonnet", "hydrox_safety"] == 94.75
    assert "left missing (2 different results)" in (out / "merge_report.txt").read_text()
