"""Leaderboard tables (IBM benchbench, ../shared/real/benchbench) and the model-name matcher that
joins their differently spelt names: the merges it must make, those it must never make."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest

from swjax import SwjaxError
from swjax.importers import read_results
from swjax.importers.models import match_key

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
BB = REAL / "benchbench" / "benchmarks"
FILES = ["helm_lite_240829_holistic.csv", "helm_mmlu_240829_knowledge.csv", "arena_hard_240829_holistic.csv",
         "mmlu_pro_240829_knowledge.csv", "chatbot_arena_241104_holistic.csv", "mixeval_240829_holistic.csv"]
needs_real = pytest.mark.skipif(not BB.is_dir(), reason=f"real benchbench tables not here ({BB})")


def raw(name):
    with open(BB / name, newline="", encoding="utf-8-sig") as fh:
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def imported():
    return read_results([BB / f for f in FILES])


@pytest.mark.parametrize("names", [
    ("GPT-4o-20240513", "gpt-4o-2024-05-13", "OpenAI/gpt-4o-2024-05-13", "GPT-4o (2024-05-13)"),
    ("Claude 3.5 Sonnet (20240620)", "claude-3-5-sonnet-20240620"),
    ("GPT-4 (0613)", "gpt-4-0613", "gpt_4_0613"),
    ("Llama 3 (70B)", "Llama-3-70B", "meta-llama/Llama-3-70B"),
    ("Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b-instruct-v0.1"),
])
def test_spellings_of_one_model_meet(names):
    from swjax.importers.models import normalise

    assert len({normalise(n).key for n in names}) == 1


@pytest.mark.parametrize("a, b", [
    ("GPT-4o-mini", "GPT-4o mini (2024-07-18)"),          # a dated snapshot is not the alias
    ("gpt-4-0613", "gpt-4-0314"),                          # dates
    ("GPT-4o (2024-05-13)", "GPT-4o (2024-08-06)"),
    ("Llama-2-7B", "Llama-2-70B"),                         # sizes
    ("Qwen1.5-7B-Chat", "Qwen1.5-72B-Chat"),
    ("Llama 3 (8B)", "Llama-3-8B-Instruct"),               # base and instruct
    ("Claude 3 Sonnet (20240229)", "Claude 3.5 Sonnet (20240620)"),  # versions
    ("claude-3-5-sonnet", "claude-35-sonnet"),
    ("Mistral-7B-Instruct-v0.1", "Mistral-7B-Instruct-v0.2"),
    ("c4ai-command-r+", "c4ai-command-r"),
    ("Llama-3.1-8B-Instruct", "Llama-3-8B-Instruct"),
    ("Aligner_2B+GPT-4_Turbo_(04/09)", "GPT-4_Turbo_(04/09)"),  # a "/" in brackets is no organisation
])
def test_different_models_never_meet(a, b):
    from swjax.importers.models import normalise

    assert normalise(a).key != normalise(b).key
    assert normalise(a).org == normalise(b).org == ""


@needs_real
def test_merges_keep_every_digit_and_are_reported(imported):
    """A merged group's names have the same digits in the same order (sizes, versions, dates)."""
    names = {}
    for f in FILES:
        for row in raw(f)[1:]:
            names.setdefault(match_key(row[0].split("/")[-1]), set()).add(row[0])
    merged = {k: v for k, v in names.items() if len(v) > 1}
    assert len(merged) >= 30
    for group in merged.values():
        assert len({"".join(re.findall(r"\d", n)) for n in group}) == 1, group
    lines = [line for line in imported.report if line.startswith("model ")]
    assert ("model 'GPT-4o (2024-05-13)' <- 'GPT-4o (2024-05-13)', 'GPT-4o-2024-05-13', 'gpt-4o-2024-05-13' "
            "(3 source names merged)") in lines
    for group in merged.values():  # every merge is in the report, with every name it joined
        assert any(all(repr(n) in line for n in group) for line in lines), group


@needs_real
def test_cells_match_the_raw_tables(imported):
    checked = 0
    for f in FILES:
        rows = raw(f)
        header = rows[0]
        for row in rows[1:][:: max(1, len(rows) // 8)]:
            for col, text in zip(header[1:], row[1:]):
                key = match_key(row[0].split("/")[-1])
                [model] = [m for m in imported.scores.index if match_key(m) == key]
                got = imported.scores.at[model, col]
                if text.strip() in ("", "-"):
                    assert math.isnan(got)
                else:
                    assert got == float(text), (f, row[0], col)
                checked += 1
    assert checked >= 40
    assert imported.scores.at["GPT-4o (2024-05-13)", "helm_lite"] == 0.963
    assert imported.scores.at["GPT-4o (2024-05-13)", "arena_hard"] == 79.2
    assert set(imported.info["direction_from"]) == {"assumed"}


@needs_real
def test_models_file_joins_what_the_rule_does_not(tmp_path):
    mapping = tmp_path / "models.csv"
    mapping.write_text("from,to\ngpt-4o-mini,gpt-4o-mini-2024-07-18\n")  # arena_hard's undated name
    res = read_results([BB / f for f in FILES], models=mapping)
    row = res.scores.loc["GPT-4o mini (2024-07-18)"]
    arena = {r[0]: r[1] for r in raw("arena_hard_240829_holistic.csv")[1:]}
    assert row["arena_hard"] == float(arena["gpt-4o-mini"])
    assert math.isnan(res.scores.at["GPT-4o mini", "arena_hard"])  # the other spellings stay apart


@needs_real
def test_a_model_twice_in_one_table_needs_a_rule():
    with pytest.raises(SwjaxError, match=r"2 results for model 'hydro-safe-Mistral-7B-Instruct-v0.1-dpo-full-1-epoch'"):
        read_results([BB / "hydrox_safety_241001_safety.csv"])


@needs_real
def test_old_long_layout_joins_the_new_wide_one():
    """benchbench's older model,score,scenario files: snake_case ids meet the display names."""
    old = REAL / "benchbench" / "benchmarks_old" / "helm_lite_240610.csv"
    res = read_results([old, BB / "helm_lite_240829_holistic.csv"])
    with open(old, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    model = next(m for m in res.scores.index if m == "GPT-4 (0613)")
    for row in rows:
        if row["model"] == "gpt_4_0613":
            assert res.scores.at[model, row["scenario"]] == float(row["score"])
    assert sum(r["model"] == "gpt_4_0613" for r in rows) == 11
    assert res.scores.at[model, "helm_lite"] == float(
        {r[0]: r[1] for r in raw("helm_lite_240829_holistic.csv")}["GPT-4 (0613)"])
    assert "model 'GPT-4 (0613)' <- 'GPT-4 (0613)', 'gpt_4_0613' (2 source names merged)" in res.report
    assert res.scores.shape == (75, 12)
