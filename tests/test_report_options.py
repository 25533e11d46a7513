"""`swjax report` computes what `bootstrap` can: families, permutations, and a scatter of the
author's own benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from swjax.cli import app

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "my_benchmark.csv"


@pytest.mark.slow  # a whole report: compiles the cluster bootstrap and the permutations
def test_report_with_families_permutations_and_the_authors_scatter(tmp_path):
    out = tmp_path / "rep"
    res = CliRunner().invoke(app, ["report", "--set", "chat", "--n", "40", "--families", "public",
                                   "--permutations", "60", "--scores", str(EXAMPLE), "--out", str(out)])
    assert res.exit_code == 0, res.output
    mine = [c for c in pd.read_csv(EXAMPLE).columns if c != "model"]
    names = {p.name for p in out.iterdir()}
    assert {f"scatter_chat_{b}.png" for b in mine} <= names
    md = (out / "report.md").read_text()
    assert all(f"(scatter_chat_{b}.png)" in md for b in mine)
    assert "resampled by family" in md and "permutations of the capabilities score" in md
    assert "scatter band" in md
    run = json.loads((out / "manifest.json").read_text())["runs"][0]["metadata"]
    assert run["scheme"] == "clusters" and run["permutations"] == 60 and run["method"] == "cluster-t"
