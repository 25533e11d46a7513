"""Short text forms of results for the Python prompt (``repr``), like scipy's result objects:
the run in one line, then the verdict counts and the first rows with estimate and interval.
pandas and numpy only; the full tables stay in the result's attributes."""

from __future__ import annotations

import math

#: Rows shown by a repr before "... N more".
ROWS = 5


def _num(x) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "nan" if math.isnan(x) else f"{x:.3f}"


def _head(kind: str, fields: dict) -> str:
    def show(v):
        if isinstance(v, float):
            return f"{v:g}"
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10_000:
            return f"{v:_}"
        return repr(v)

    return f"{kind}(" + ", ".join(f"{k}={show(v)}" for k, v in fields.items() if v is not None) + ")"


def verdict_counts(verdicts) -> str:
    counts = verdicts.value_counts()
    return ", ".join(f"{int(c)} {v}" for v, c in counts.items())


def rows(table, *, estimate="estimate", low="low", high="high", extra=(), limit=ROWS, what="rows") -> list[str]:
    """The first ``limit`` rows: index, estimate, [low, high], then the ``extra`` columns."""
    if table is None or len(table) == 0:
        return []
    shown = table.head(limit)
    width = min(32, max(len(str(i)) for i in shown.index))
    lines = []
    for idx, row in shown.iterrows():
        name = str(idx) if len(str(idx)) <= width else str(idx)[: width - 1] + "~"
        text = f"  {name:<{width}}  {_num(row[estimate]):>7}"
        if low is not None and low in row:
            text += f"  [{_num(row[low])}, {_num(row[high])}]"
        for col in extra:
            if col in row:
                value = row[col]
                text += f"  {_num(value) if isinstance(value, float) else value}"
        lines.append(text.rstrip())
    if len(table) > limit:
        lines.append(f"  ... {len(table) - limit} more {what}")
    return lines


def result(kind: str, fields: dict, *, verdicts=None, body=(), note: str | None = None) -> str:
    lines = [_head(kind, fields)]
    if verdicts is not None and len(verdicts):
        lines.append(f"  verdicts: {verdict_counts(verdicts)}")
    lines += list(body)
    if note:
        lines.append(f"  {note}")
    return "\n".join(lines)
