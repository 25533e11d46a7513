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

**Categories.** benchbench names each table ``<name>_<yymmdd>[_<yymmdd>]_<category>.csv``, the
category being upstream's (:data:`CATEGORIES`). A table whose file name has that form records the
category of each of its columns (``info["category"]`` of the import), and the import marks the
columns of capability categories as capabilities (``info["capability"]``) when no capability
set is given: every category but ``safety`` (:data:`CAPABILITY_CATEGORIES`, the rule and its
reasons in docs/atlas.md). A file of any other name has no category and marks nothing.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from ..errors import SwjaxError
from .records import Result, number

FORMAT = "table"
MODEL_COLUMNS = ("model", "llm_model")
#: The columns of benchbench's long layout (``aggragated_from`` is upstream's spelling).
LONG = ("model", "score", "scenario")
_MISSING = ("", "-")

#: benchbench's categories (the last part of its tables' file names), in upstream's spelling.
CATEGORIES = ("holistic", "knowledge", "code", "math", "reasoning", "agent", "tools", "longcontext", "language",
              "linguistics", "emotion", "instructionfollow", "tables", "safety")
#: The categories whose columns are marked as capabilities: all but ``safety``. ``holistic``
#: (leaderboard aggregates and chat-preference ratings such as Chatbot Arena, HELM Lite, the Open
#: LLM Leaderboard) is general capability by construction; ``instructionfollow`` scores whether
#: verifiable instructions were carried out and ``emotion`` (EQ-Bench) whether a dialogue's
#: emotions were read as the reference reads them: both have a right answer and no refusal in
#: them, so they are capabilities, not safety properties.
CAPABILITY_CATEGORIES = tuple(c for c in CATEGORIES if c != "safety")
_NAMED = re.compile(r"^.+?_\d{6}(?:_\d{6})?_(?P<category>[a-z]+)\.csv$")


def category(path) -> str:
    """benchbench's category of a table from its file name, or "" (not a benchbench name).

    Examples
    --------
    >>> category("hydrox_safety_241001_safety.csv"), category("livecodebench_240601_230701_code.csv")
    ('safety', 'code')
    >>> category("my_code.csv"), category("helm_lite_240610.csv")
    ('', '')
    """
    found = _NAMED.match(Path(path).name)
    return found.group("category") if found and found.group("category") in CATEGORIES else ""


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
    kind_of = category(path)
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
                              file=str(path), run=str(i), category=kind_of))
    return out


def _read_long(path: Path, rows) -> list[Result]:
    header = [c.strip() for c in rows[0]]
    at = {c: header.index(c) for c in LONG}
    kind_of = category(path)
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
                          file=str(path), run=str(i), category=kind_of))
    return out
