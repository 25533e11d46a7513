"""Long tables: one row per (model, benchmark) with ``model``, ``benchmark``, ``score`` and
optional ``stderr``, ``n``, ``metric``, ``higher_is_better`` and ``date`` columns, in CSV or Parquet.

Also the shared reader of CSV / Parquet files (Parquet needs pyarrow, imported only then).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..errors import SwjaxError
from .records import Result, number, shown

FORMAT = "long"
REQUIRED = ("model", "benchmark", "score")


def columns(path: Path) -> list[str]:
    """The column names of a CSV or Parquet file (the header only)."""
    if is_parquet(path):
        pq = _pyarrow(path)
        return list(pq.read_schema(path).names)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return [c.strip() for c in next(csv.reader(fh), [])]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def is_parquet(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


def _pyarrow(path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SwjaxError(f"{path}: reading Parquet needs pyarrow (pip install 'swjax[import]')") from None
    return pq


def read_frame(path: Path):
    """The whole table as a pandas DataFrame of strings / numbers."""
    import pandas as pd

    if is_parquet(path):
        _pyarrow(path)
        return pd.read_parquet(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise SwjaxError(f"{path}: cannot parse the CSV ({err})") from None
    frame.columns = [c.strip() for c in frame.columns]
    return frame


def sniff(cols) -> bool:
    return all(c in cols for c in ("model", "benchmark", "score"))


def _direction(value, path, row):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return None
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise SwjaxError(f"{path}: row {row}: column 'higher_is_better' should be true or false, got {value!r}")


def read(path: Path) -> list[Result]:
    frame = read_frame(path)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise SwjaxError(f"{path}: no column {missing[0]!r} (a long table needs model, benchmark, score)")
    out = []
    has = {c: c in frame.columns for c in ("stderr", "n", "metric", "higher_is_better", "date")}
    dates = None
    if has["date"]:
        import pandas as pd

        dates = pd.to_datetime(frame["date"].replace("", None), errors="coerce", utc=True)
    for i, row in enumerate(frame.to_dict("records")):
        line = i + 2
        model, bench = str(row["model"]).strip(), str(row["benchmark"]).strip()
        if not model or model == "nan":
            raise SwjaxError(f"{path}: row {line}: empty field 'model'")
        if not bench or bench == "nan":
            raise SwjaxError(f"{path}: row {line}: empty field 'benchmark'")
        score = number(row["score"])
        if score is None or math.isinf(score):
            raise SwjaxError(f"{path}: row {line}: field 'score' is not a finite number: {shown(row['score'])}")
        if math.isnan(score):
            continue
        values = {}
        for col in ("stderr", "n"):
            v = number(row[col]) if has[col] else math.nan
            if v is None:
                raise SwjaxError(f"{path}: row {line}: field {col!r} is not a finite number: {shown(row[col])}")
            values[col] = v
        date = None
        if dates is not None and not dates.isna().iloc[i]:
            date = dates.iloc[i].timestamp()
        out.append(
            Result(
                model=model, benchmark=bench, metric=str(row["metric"]) if has["metric"] else "score",
                score=score, stderr=values["stderr"], n=values["n"],
                higher_is_better=_direction(row["higher_is_better"], path, line) if has["higher_is_better"] else None,
                source=FORMAT, file=str(path), date=date, run=str(i),
            )
        )
    if not out:
        raise SwjaxError(f"{path}: no scores (column 'score' is empty)")
    return out
