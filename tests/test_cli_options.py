"""Every command and option of the command line is exercised by a test: the options no other
test reaches are run here and checked against the Python API with the same arguments."""

from __future__ import annotations

import io
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import swjax
from swjax.cli import app
from swjax.data import METADATA_COLUMNS

runner = CliRunner()
TESTS = Path(__file__).resolve().parent
FIX = TESTS / "fixtures" / "importers"


def invoke(*args):
    out = runner.invoke(app, [str(a) for a in args])
    assert out.exit_code == 0, out.output
    return out


def test_every_command_and_option_appears_in_a_test_invocation():
    """A quoted "--option" (or the command name) somewhere in tests/ for every one the app has."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in TESTS.glob("*.py"))
    quoted = set(re.findall(r"""["'](--?[a-z][a-z0-9-]*)["']""", text)) | set(re.findall(r"""["']([a-z][a-z-]*)["']""", text))
    missing = []
    for name, command in typer.main.get_command(app).commands.items():
        if name not in quoted:
            missing.append(name)
        for param in command.params:
            opts = [o for o in param.opts if o.startswith("-") and o != "--help"]
            if opts and not any(o in quoted for o in opts):
                missing.append(f"{name} {opts[0]}")
    assert missing == []


def test_simulate_options_reach_the_design():
    out = invoke("simulate", "--models", 20, "--loading", 0.7, "--link", "logistic", "--step", 0.05,
                 "--hetero", 0.5, "--families", 4, "--family-share", 0.3, "--seed", 2, "--population", 20000)
    got = pd.read_csv(io.StringIO(out.stdout), index_col=0)
    ref = swjax.simulate(20, loading=0.7, link="logistic", step=0.05, hetero=0.5, families=4, family_share=0.3,
                         seed=2, population_size=20000)
    np.testing.assert_allclose(got.to_numpy(), ref.dataset.scores.to_numpy(), rtol=0, atol=1e-12)
    on_grid = got.to_numpy() / 0.05
    np.testing.assert_allclose(on_grid, np.round(on_grid), atol=1e-6)  # --step: scores on the grid


def test_coverage_options_reach_the_design():
    out = invoke("coverage", "--datasets", 4, "--n", 40, "--rho", "0.5", "--models", 12, "--loading", 0.7,
                 "--link", "logistic", "--step", 0.05, "--hetero", "0.5", "--families", "4",
                 "--family-share", 0.3, "--methods", "percentile", "--population", 20000, "--format", "json")
    design = json.loads(out.stdout)["metadata"]["designs"][0]
    assert (design["loading"], design["link"], design["step"], design["hetero"], design["family_share"]) == (
        0.7, "logistic", 0.05, 0.5, 0.3)


def test_import_metric_subtasks_and_direction_options_match_the_api(tmp_path):
    lm, inspect = FIX / "example" / "lm_eval", FIX / "example" / "inspect"
    common = dict(capabilities="paper", duplicates="latest", with_set="chat")
    args = [lm, inspect, "--capabilities", "paper", "--duplicates", "latest", "--with", "chat"]
    invoke("import", *args, "--subtasks", "--out", tmp_path / "sub")
    api = swjax.read_results([lm, inspect], subtasks=True, **common)
    got = pd.read_csv(tmp_path / "sub" / "scores.csv", index_col=0)
    got = got.drop(columns=[c for c in METADATA_COLUMNS if c in got.columns])
    assert sorted(got.columns) == sorted(api.scores.columns)
    assert len(got.columns) > len(swjax.read_results([lm, inspect], **common).scores.columns)  # subtasks kept
    invoke("import", *args, "--metric", "gsm8k=exact_match,flexible-extract", "--out", tmp_path / "met")
    api = swjax.read_results([lm, inspect], metric="gsm8k=exact_match,flexible-extract", **common)
    got = pd.read_csv(tmp_path / "met" / "scores.csv", index_col=0)
    cols = [c for c in api.scores.columns if c in got.columns]
    assert "gsm8k" in cols and "hellaswag" in cols
    np.testing.assert_allclose(got.loc[api.scores.index, cols].to_numpy(float), api.scores[cols].to_numpy(float),
                               equal_nan=True)
    invoke("import", FIX / "long.csv", "--lower-is-better", "toxicity", "--out", tmp_path / "low")
    api = swjax.read_results([FIX / "long.csv"], lower_is_better="toxicity")
    got = pd.read_csv(tmp_path / "low" / "scores.csv", index_col=0)
    np.testing.assert_allclose(got.loc[api.scores.index, "toxicity"], api.scores["toxicity"], equal_nan=True)
    raw = pd.read_csv(FIX / "long.csv")
    assert (raw["benchmark"] == "toxicity").any()


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_adjust_linear_partial_and_plot(tmp_path):
    out = invoke("adjust", "MT_Bench", "--set", "chat", "--linear", "--partial", "truthfulqa_mc1", "--n", 60,
                 "--format", "csv", "--plot", tmp_path / "a.png")
    got = pd.read_csv(io.StringIO(out.stdout), index_col=0)
    ref = swjax.adjust("chat", "MT_Bench", method="linear", partial="truthfulqa_mc1", n=60).table
    np.testing.assert_allclose(got["residual"], ref["residual"], rtol=0, atol=1e-9)
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_forest_with_a_list_of_benchmarks_and_subsets_sampled(tmp_path):
    invoke("plot", "forest", "--set", "chat", "--benchmarks", "MT_Bench,truthfulqa_mc1", "--n", 60, "--out", tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000
    out = invoke("subsets", "--set", "chat", "--max-subsets", 7, "--seed", 3, "--format", "csv")
    assert "chat: 7 of 4017 subsets" in out.stderr
    frame = pd.read_csv(io.StringIO(out.stdout), index_col=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", swjax.SwjaxWarning)
        ref = swjax.subsets("chat", max_subsets=7, seed=3).table
    np.testing.assert_allclose(frame.loc[ref.index, "median"], ref["median"], rtol=0, atol=1e-9)


@pytest.mark.slow
def test_report_with_published_figures_and_a_plan(tmp_path, monkeypatch):
    import importlib

    plan_module = importlib.import_module("swjax.plan")  # the module (swjax.plan is also the function)
    # --plan reaches swjax.plan with its datasets; the plan runs for real, on one grid size and
    # 40 resamples (its default grid costs minutes, and tests/test_plan.py checks the plan itself)
    real, asked = plan_module.plan, []

    def smaller(data, **kw):
        asked.append(kw)
        return real(data, **dict(kw, grid=[15], n=40))

    monkeypatch.setattr(plan_module, "plan", smaller)
    published = tmp_path / "published.json"
    published.write_text(json.dumps({"chat": {"safety_correlations": {"MT_Bench": 0.5}, "capability_correlations": {}}}))
    invoke("report", "--set", "chat", "--n", 60, "--published", published, "--plan", 20, "--out", tmp_path / "r")
    assert [k["datasets"] for k in asked] == [20]
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "0.500" in html and "power_chat.png" in {p.name for p in (tmp_path / "r").iterdir()}
    assert "What would settle it" in html
