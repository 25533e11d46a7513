"""Epoch AI's benchmark data (the benchmark-stitching release): runs and per-benchmark tables.

Two layouts, both CSV:

- **runs** (``benchmarks_runs.csv``): one row per run, ``model`` (a model version such as
  ``gpt-5.1_medium``), ``task``, ``Best score (across scorers)`` and ``Scores``
  (``scorer:mean±stderr``, several separated by commas). The score of a (model, task) is the best
  score across scorers, the metric ``best``, its standard error the ``±`` of the scorer with the
  highest mean (the first of equal ones; a scorer listed again is ``SCORER#2``);
  ``--metric 'TASK=SCORER'`` takes one scorer's
  ``mean±stderr`` instead (rounded to the digits the string has).
- **per-benchmark tables** (``external_benchmark_<name>.csv``, recognised by ``Model version`` and
  ``Source`` columns): one row per (model, source), keyed
  by ``Model version`` (a row without one, which Epoch did not link to a model, is left out and
  counted in the merge report; its ``Name`` is a display name, not an id), one or more score columns written as
  numbers or as percentages (``"77.0%"`` is read as 0.77, a standard error ``"2.2%"`` as 0.022).
  The benchmark is ``<name>``; its score is the first column of :data:`MAIN` that the table has
  (the benchmark's headline number), the other numeric columns are metrics that
  ``--metric '<name>=COLUMN'`` can choose. A ``<stem> Standard error`` or ``<stem> SE`` column is
  the standard error of the ``<stem>`` / ``<stem> progress`` / ``<stem> mean`` column. A table
  with none of :data:`MAIN` is refused with its numeric columns named.

Models repeat: a table lists a model once per source and number of shots (MMLU 80 repeats). Two
rows of one model are duplicates, resolved as any others (``--duplicates``, with ``best``: the row
with the best score in the benchmark's direction, the convention of Epoch's own "Best score
(across scorers)"); without a rule they are an error naming both rows.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from ..errors import SwjaxError
from .records import Result, number

FORMAT = "epoch"
RUNS = ("model", "task", "Best score (across scorers)", "Scores")
#: The headline column of a per-benchmark table, first found wins (all higher-is-better).
MAIN = (
    "EM", "Score", "Accuracy", "Overall accuracy", "Average", "Challenge score", "Percent correct",
    "Global average", "Average progress", "Average score", "Mean score", "Overall pass (%)",
    "Unguided % Solved", "Score (AVG@5)", "Correct", "Accuracy mean", "% Score", "Weighted Score",
    "Time horizon", "Score OPT@1", "Overall (no subtitles)", "Production score", "ACW Avg Score", "ELO",
)
#: Columns that are never scores: keys, counts, costs, dates.
_NOT_SCORES = frozenset({"id", "Name", "Model version", "Shots", "Source", "Source link", "Notes", "UUID",
                         "ID", "Cost", "Cost per run", "Total tasks", "Votes", "Date", "Date added", "Prompt"})
_SCORE = re.compile(r"^\s*([^:,]+):\s*([-+0-9.eE]+)\s*±\s*([-+0-9.eE]+)\s*$")
_STEMS = (" progress", " mean")


def sniff(cols) -> str | None:
    """``"runs"``, ``"table"`` or None, from a CSV header."""
    if all(c in cols for c in RUNS):
        return "runs"
    if "Model version" in cols and any(c.startswith("Source") for c in cols):
        return "table"
    return None


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            return [c.strip() for c in reader.fieldnames or []], rows
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise SwjaxError(f"{path}: cannot read the CSV ({err})") from None


def value(text: str) -> float | None:
    """A cell: a number, a percentage (``"77.0%"`` -> 0.77), NaN when empty, None when neither (or
    infinite)."""
    text = (text or "").strip()
    x = number(text[:-1] if text.endswith("%") else text)
    if x is None or math.isinf(x):  # "1e400" is no score either
        return None
    return x / 100 if text.endswith("%") else x


def scorers(text: str, path, row) -> list[tuple[str, float, float]]:
    """``"a:0.84±0.05,b:0.85±0.05"`` -> ``[("a", 0.84, 0.05), ("b", 0.85, 0.05)]``; a scorer named
    again (``choice:0.77±0.03,choice:0.8±0.02``: two runs) is ``choice#2``."""
    out = []
    for part in [p for p in (text or "").split(",") if p.strip()]:
        m = _SCORE.match(part)
        if not m:
            raise SwjaxError(f"{path}: row {row}: field 'Scores' should be scorer:mean±stderr, got {part.strip()!r}")
        name = m.group(1).strip()
        if not all(math.isfinite(float(g)) for g in m.group(2, 3)):
            raise SwjaxError(f"{path}: row {row}: field 'Scores' has a non-finite value in {part.strip()!r}")
        k = sum(1 for n, *_ in out if n.split("#")[0] == name)
        out.append((f"{name}#{k + 1}" if k else name, float(m.group(2)), float(m.group(3))))
    return out


def read(path: Path, kind: str, *, metrics: dict[str, str] | None = None) -> list[Result]:
    """The results of one runs file or per-benchmark table (``metrics``: benchmark -> the
    table's score column, for ``--metric``)."""
    cols, rows = _rows(path)
    return _read_runs(path, rows) if kind == "runs" else _read_table(path, cols, rows, metrics or {})


def _read_runs(path, rows) -> list[Result]:
    out = []
    for i, row in enumerate(rows, start=2):
        model, task = row["model"].strip(), row["task"].strip()
        if not model or not task:
            raise SwjaxError(f"{path}: row {i}: empty field 'model' or 'task'")
        best = number(row["Best score (across scorers)"])
        if best is None or not math.isfinite(best):
            raise SwjaxError(f"{path}: row {i}: field 'Best score (across scorers)' should be a finite number")
        found = scorers(row["Scores"], path, i)
        top = max(found, key=lambda s: s[1]) if found else None
        common = dict(model=model, benchmark=task, higher_is_better=True, source=FORMAT, file=str(path), run=str(i))
        out.append(Result(metric="best", score=best, stderr=top[2] if top else math.nan, **common))
        for k, (name, mean, se) in enumerate(found, start=1):
            out.append(Result(metric=name, score=mean, stderr=se, order=k, **common))
    return out


def _read_table(path, cols, rows, metrics) -> list[Result]:
    bench = path.stem.removeprefix("external_benchmark_")
    numeric = []
    for col in cols:
        if col in _NOT_SCORES:
            continue
        vals = [value(r.get(col, "")) for r in rows]
        if any(v is None for v in vals) or not any(v is not None and not math.isnan(v) for v in vals):
            continue
        numeric.append(col)
    main = metrics.get(bench) or next((c for c in MAIN if c in numeric), None)
    if main is not None and main not in numeric:
        raise SwjaxError(f"{path}: no numeric column {main!r} (--metric); numeric columns: {', '.join(numeric)}")
    if main is None:
        raise SwjaxError(f"{path}: no score column of {', '.join(MAIN[:4])}... (numeric columns: "
                         f"{', '.join(numeric) or 'none'}); name one with --metric '{bench}=COLUMN'")
    errors = {}
    for col in numeric:
        stem = next((col[: -len(s)] for s in _STEMS if col.endswith(s)), col)
        errors[col] = next((c for c in (f"{stem} Standard error", f"{stem} SE") if c in numeric), None)
    metrics = [main] + [c for c in numeric if c != main and c not in errors.values()]
    out = []
    for i, row in enumerate(rows, start=2):
        model = (row.get("Model version") or "").strip()
        if not model:  # Epoch did not link the row to a model version: counted in the report
            out.append(Result(model="", benchmark=bench, metric=main, score=math.nan, source=FORMAT,
                              file=str(path), run=str(i)))
            continue
        for order, col in enumerate(metrics):  # an empty cell is a missing score (NaN), never another metric
            score = value(row[col])
            se = value(row[errors[col]]) if errors[col] else math.nan
            out.append(Result(
                model=model, benchmark=bench, metric=col, score=score, stderr=se,
                higher_is_better=True if col == main else None, source=FORMAT, file=str(path), order=order,
                run=str(i), display=bench,
            ))
    return out
