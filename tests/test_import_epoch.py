"""Epoch's benchmark data (../shared/real/epoch): runs and per-benchmark tables, checked against
the raw CSVs read with the csv module in the test."""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from pathlib import Path

import pytest

from swjax import SwjaxError
from swjax.importers import read_results

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
EPOCH = REAL / "epoch"
pytestmark = pytest.mark.skipif(not EPOCH.is_dir(), reason=f"real Epoch data not here ({EPOCH})")


def rows(name):
    with open(EPOCH / name, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def pct(text):
    text = text.strip()
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def test_percent_strings_and_repeated_versions_refused():
    with pytest.raises(SwjaxError, match=r"results for model '.*', benchmark 'mmlu'.*--duplicates latest, mean, best or missing"):
        read_results([EPOCH / "external_benchmark_mmlu.csv"])


def test_table_cells_match_the_raw_file_best_rule():
    res = read_results([EPOCH / "external_benchmark_mmlu.csv"], duplicates="best")
    by_model = defaultdict(list)
    for row in rows("external_benchmark_mmlu.csv"):
        if row["Model version"].strip() and row["EM"].strip():
            by_model[row["Model version"].strip()].append(pct(row["EM"]))
    checked = 0
    for model, values in by_model.items():
        if "/" in model:  # org/model ids are shown without the organisation
            continue
        assert res.scores.at[model, "mmlu"] == pytest.approx(max(values), abs=1e-12), model
        checked += 1
    assert checked >= 100
    assert res.scores.at["amazon.nova-lite-v1:0", "mmlu"] == pytest.approx(0.77, abs=1e-12)  # "77.0%"
    assert res.info.at["mmlu", "metric"] == "EM"
    unlinked = sum(1 for r in rows("external_benchmark_mmlu.csv") if not r["Model version"].strip())
    assert any(line.startswith(f"{unlinked} rows name no model, left out") for line in res.report)


def test_standard_error_columns():
    res = read_results([EPOCH / "external_benchmark_balrog.csv"])
    for row in rows("external_benchmark_balrog.csv")[:8]:
        model = row["Model version"].strip()
        assert res.scores.at[model, "balrog"] == pytest.approx(pct(row["Average progress"]), abs=1e-12)
        assert res.stderr.at[model, "balrog"] == pytest.approx(pct(row["Average Standard error"]), abs=1e-12)


def test_metric_chooses_another_column_and_empty_cells_stay_missing():
    res = read_results([EPOCH / "external_benchmark_arc_ai2.csv"], duplicates="mean", metric="arc_ai2=Easy score")
    easy = defaultdict(list)
    challenge_only = set()
    for row in rows("external_benchmark_arc_ai2.csv"):
        model = row["Model version"].strip()
        if not model or "/" in model:
            continue
        if row["Easy score"].strip():
            easy[model].append(pct(row["Easy score"]))
        else:
            challenge_only.add(model)
    for model, values in list(easy.items())[:20]:
        assert res.scores.at[model, "arc_ai2"] == pytest.approx(sum(values) / len(values), abs=1e-12)
    gone = challenge_only - set(easy)
    assert gone
    for model in gone:  # an empty Easy score is missing, never the Challenge score
        assert model not in res.scores.index or math.isnan(res.scores.at[model, "arc_ai2"])


def test_no_headline_column_is_refused_with_the_columns_then_metric_reads_it():
    with pytest.raises(SwjaxError, match=r"fictionlivebench.csv: no score column .*16k token score.*--metric 'fictionlivebench=COLUMN'"):
        read_results([EPOCH / "external_benchmark_fictionlivebench.csv"])


def test_runs_best_score_and_scorers():
    raw = rows("benchmarks_runs.csv")
    res = read_results([EPOCH / "benchmarks_runs.csv"], duplicates="best")
    seen = defaultdict(list)
    for row in raw:
        seen[(row["model"], row["task"])].append(row)
    checked = 0
    for (model, task), rs in seen.items():
        if len(rs) > 1 or "/" in model or model.endswith("-FP8"):
            continue
        [row] = rs
        assert res.scores.at[model, task] == float(row["Best score (across scorers)"])
        parts = [re.match(r"(.+):(.+)±(.+)", p).groups() for p in row["Scores"].split(",")]
        top = max(parts, key=lambda p: float(p[1]))
        assert res.stderr.at[model, task] == float(top[2])
        checked += 1
    assert checked > 400
    assert sum(len(v) > 1 for v in seen.values()) == 2  # the 2 duplicate (model, task) pairs of the README
    assert (res.info["direction_from"] == "source").all()


def test_runs_metric_takes_one_scorer():
    res = read_results([EPOCH / "benchmarks_runs.csv"], duplicates="best", metric="MATH level 5=sympy_equiv")
    for row in rows("benchmarks_runs.csv"):
        if row["task"] == "MATH level 5" and "sympy_equiv:" in row["Scores"] and "/" not in row["model"]:
            mean, se = re.search(r"sympy_equiv:([^±]+)±([^,]+)", row["Scores"]).groups()
            assert res.scores.at[row["model"], "MATH level 5"] == float(mean)
            assert res.stderr.at[row["model"], "MATH level 5"] == float(se)
            break
    else:
        pytest.fail("no MATH level 5 row with a sympy_equiv scorer")


def test_bad_scores_string_names_row_and_field(tmp_path):
    lines = (EPOCH / "benchmarks_runs.csv").read_text(encoding="utf-8-sig").splitlines()
    bad = tmp_path / "runs.csv"
    bad.write_text("\n".join([lines[0], lines[1].replace("choice:0.85±0.02", "choice:0.85+-0.02")] + lines[2:8]) + "\n")
    with pytest.raises(SwjaxError, match=r"runs.csv: row 2: field 'Scores' should be scorer:mean±stderr"):
        read_results([bad])


@pytest.mark.parametrize("name", ["external_benchmark_mmlu.csv", "external_benchmark_terminal_bench.csv"])
def test_best_rule_does_not_depend_on_row_order(tmp_path, name):
    """Shuffled rows give the same matrix and standard errors: ties of the best score are broken
    by file and row, not by the order rows were read."""
    import random

    with open(EPOCH / name, newline="", encoding="utf-8-sig") as fh:
        header, *body = list(csv.reader(fh))  # rows, not lines: Notes hold line breaks
    random.Random(3).shuffle(body)
    with open(tmp_path / name, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header] + body)
    a = read_results([EPOCH / name], duplicates="best", min_models=1)
    b = read_results([tmp_path / name], duplicates="best", min_models=1)
    assert a.scores.sort_index().equals(b.scores.sort_index())
    assert a.stderr.sort_index().equals(b.stderr.sort_index())


def test_best_ties_take_the_smallest_standard_error_in_any_order(tmp_path):
    with open(EPOCH / "external_benchmark_terminal_bench.csv", newline="", encoding="utf-8-sig") as fh:
        header, *body = list(csv.reader(fh))
    mean, se = header.index("Accuracy mean"), header.index("Accuracy SE")
    first = list(body[0])
    twin = list(first)
    twin[se] = "9.9%"  # the same best score, a larger standard error
    for k, rows in enumerate(([first, twin], [twin, first])):
        path = tmp_path / f"{k}" / "external_benchmark_terminal_bench.csv"
        path.parent.mkdir()
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([header] + rows)
        res = read_results([path], duplicates="best", min_models=1)
        model = first[header.index("Model version")]
        assert res.scores.at[model, "terminal_bench"] == pytest.approx(pct(first[mean]), abs=1e-12)
        assert res.stderr.at[model, "terminal_bench"] == pytest.approx(pct(first[se]), abs=1e-12)
