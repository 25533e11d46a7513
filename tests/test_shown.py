"""Which benchmarks a bootstrap shows: the paper's main tables by default on screen, all in files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from swjax import SwjaxError, bootstrap
from swjax.cli import app

AREAS = Path(__file__).resolve().parents[1] / "data" / "areas.csv"


def _main_table() -> set[str]:
    with open(AREAS, newline="", encoding="utf-8") as fh:
        return {row["benchmark"] for row in csv.DictReader(fh) if row["headline"] == "1"}


@pytest.fixture(scope="module")
def chat():
    return bootstrap("chat", n=40, seed=3)


def test_select_main_keeps_the_runs_numbers(chat):
    main = chat.select("main")
    assert set(main.table.index) == _main_table() and len(main.table) == 25
    pd.testing.assert_frame_equal(main.table, chat.table.loc[main.table.index])
    cols = [list(chat.table.index).index(b) for b in main.table.index]
    np.testing.assert_array_equal(main.distribution, chat.distribution[:, cols])
    np.testing.assert_array_equal(main.jackknife, chat.jackknife[:, cols])
    assert main.metadata["shown"] == {"benchmarks": 25, "of": 178, "which": "main"}
    assert chat.select("all").table.equals(chat.table)


def test_select_by_display_name_and_refusals(chat):
    two = chat.select(["MT Bench", "wmdp_bio", "MT_Bench"])
    assert list(two.table.index) == ["MT_Bench", "wmdp_bio"]
    assert two.select("all").metadata["shown"]["of"] == 178
    with pytest.raises(SwjaxError, match="did you mean 'MT_Bench'"):
        chat.select(["MT Bnch"])
    with pytest.raises(SwjaxError, match="expected 'main', 'all'"):
        chat.select("everything")


def test_cli_shows_main_on_screen_and_writes_every_row(tmp_path):
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["bootstrap", "--set", "chat", "--n", "40", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "25 of 178 benchmarks shown (the paper's main tables); --benchmarks all for every one" in res.stdout
    shown = {b for b in _main_table() if b in res.stdout}
    assert shown == _main_table()
    assert "brier_temp_tuned_medqa_4o" not in res.stdout
    written = pd.read_csv(out / "table.csv", index_col="benchmark")
    assert (written["kind"] == "benchmark").sum() == 178


def test_cli_benchmark_list_is_checked_before_resampling():
    res = CliRunner().invoke(app, ["bootstrap", "--set", "chat", "--n", "100000000", "--benchmarks", "MT Bnch"])
    assert res.exit_code == 2
    assert "unknown benchmark 'MT Bnch'" in res.output and "MT_Bench" in res.output


def test_csv_counts_are_whole_numbers():
    res = CliRunner().invoke(app, ["bootstrap", "--set", "chat", "--n", "40", "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(res.stdout.splitlines()))
    lmsys = next(r for r in rows if r["benchmark"] == "LMSYS_Chatbot_Arena")
    assert lmsys["n_models"] == "20" and lmsys["n_valid"].isdigit()
    summary = {r["benchmark"]: r["n_models"] for r in rows if r["kind"] == "summary"}
    assert summary == {"variance_explained": "26", "mean_intercorrelation": "26", "compute_correlation": "21"}
