"""Leaderboard tables: one row per model, one column per benchmark (IBM benchbench's layout).

Also benchbench's older long layout, ``model,score,scenario,source,aggragated_from,tag``: one
row per (model, scenario), the scenario being the benchmark (:data:`LONG`).

A CSV whose first column is ``model`` (or ``llm_model``) and whose every other column holds
numbers (``-`` and empty cells are missing) is a leaderboard table: each column is a benchmark
under its own name, each row a model as the leaderboard names it. Leaderboards spell one model
in different ways (``GPT-4o-20240513``, ``gpt-4o-2024-05-13``, ``GPT-4o (2024-05-13)``): the
rows of several tables are joined by :func:`swjax.importers.models.match_key`, and every join
is in the merge report. A model listed twice in one table (two prompting modes stripped from its
name) is a duplicate: an error unless ``--duplicates`` resolves it. Tables say nothing of
direction: every column is assumed higher-is-better and named in the report
(``--lower-is-better`` for the others).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..errors import SwjaxError
from .records import Result, number

FORMAT = "table"
MODEL_COLUMNS = ("model", "llm_model")
#: The columns of benchbench's long layout (``aggragated_from`` is upstream's spelling).
LONG = ("model", "score", "scenario")
_MISSING = ("", "-")


def _cells(path: Path) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise SwjaxError(f"{path}: cannot read the CSV ({err})") from None


def _value(text: str):
    text = text.strip()
    if text in _MISSING:
        return math.nan
    x = number(text)
    return None if x is None or math.isinf(x) else x


def sniff(path: Path, cols) -> str | None:
    """``"wide"`` for a leaderboard table (a model column first, every other column numeric),
    ``"long"`` for benchbench's long layout, else None."""
    if all(c in cols for c in LONG) and "benchmark" not in cols:
        return "long"
    if len(cols) < 2 or cols[0] not in MODEL_COLUMNS:
        return None
    rows = _cells(path)[1:]
    return "wide" if rows and all(_value(v) is not None for row in rows for v in row[1:]) else None


def read(path: Path, kind: str = "wide") -> list[Result]:
    rows = _cells(path)
    if kind == "long":
        return _read_long(path, rows)
    header = [c.strip() for c in rows[0]]
    out = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise SwjaxError(f"{path}: row {i} has {len(row)} fields, the header {len(header)}")
        model = row[0].strip()
        if not model:
            raise SwjaxError(f"{path}: row {i}: empty field {header[0]!r}")
        for col, text in zip(header[1:], row[1:]):
            score = _value(text)
            if score is None:
                raise SwjaxError(f"{path}: row {i}: field {col!r} is not a number ({text!r})")
            out.append(Result(model=model, benchmark=col, metric=col, score=score, source=FORMAT,
                              file=str(path), run=str(i)))
    return out


def _read_long(path: Path, rows) -> list[Result]:
    header = [c.strip() for c in rows[0]]
    at = {c: header.index(c) for c in LONG}
    out = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise SwjaxError(f"{path}: row {i} has {len(row)} fields, the header {len(header)}")
        model, bench = row[at["model"]].strip(), row[at["scenario"]].strip()
        if not model or not bench:
            raise SwjaxError(f"{path}: row {i}: empty field 'model' or 'scenario'")
        score = _value(row[at["score"]])
        if score is None:
            raise SwjaxError(f"{path}: row {i}: field 'score' is not a number ({row[at['score']]!r})")
        out.append(Result(model=model, benchmark=bench, metric="score", score=score, source=FORMAT,
                          file=str(path), run=str(i)))
    return out
