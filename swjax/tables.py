"""Results as terminal tables (rich), CSV and JSON. No jax."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from .outputs import dumps, frame_to_json, to_jsonable

__all__ = ["analysis_long", "analysis_rich", "bootstrap_rich", "frames_csv", "frame_rich", "frame_text", "measure_note"]


def measure_note(metadata) -> str:
    """", capability measure X" for a title when a result's capability measure (its metadata's
    ``score``) is not the paper's; "" for the paper's (docs/scores.md)."""
    score = (metadata or {}).get("score") or "paper"
    return "" if score == "paper" else f", capability measure {score}"


def _fmt(x, digits=3) -> str:
    return "" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{digits}f}"


def _fmt_p(p) -> str:
    """A p- or q-value: three decimals, ``<0.001`` below that (never a rounded 0.000)."""
    if p is None or not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _id_column(table, ids, title="benchmark") -> None:
    """A column of ids that is never cut short nor folded: each id stays whole on one line, so
    it can be read, copied and found with grep (the other columns give way, :func:`_fit`)."""
    width = max([len(str(i)) for i in ids] + [len(title)])
    table.add_column(title, no_wrap=True, min_width=width)


def _fit(console_width: int, id_width: int, columns, drop_order=None):
    """The columns that fit beside the id column, and the headers of those left out.

    ``columns``: (header, width, required) triples in display order; a column takes its width
    plus 2 (the space between columns, :func:`_table`). Columns that are not required are left out,
    in ``drop_order`` (headers; default from the last column back), until the table fits.
    Required columns (ids, estimates, intervals, verdicts) are never left out or cut.
    """
    kept = list(columns)
    order = list(drop_order) if drop_order is not None else [h for h, _, _ in reversed(columns)]
    order = [h for h in order if any(h == c[0] and not c[2] for c in columns)]

    def total(cols):
        return id_width + sum(w + 2 for _, w, _ in cols)

    left_out = []
    while total(kept) > console_width and order:
        head = order.pop(0)
        kept = [c for c in kept if c[0] != head]
        left_out.append(head)
    return kept, [h for h, _, _ in columns if h in left_out]


def _fit_console(file, id_width: int, columns, drop_order=None):
    """(console, kept columns, left-out headers, width asked for): :func:`_fit` at the console's
    width, and a wider console where the required columns alone need more (never cut them; the
    lines then run on)."""
    console = _console(file)
    width = console.width
    kept, left_out = _fit(width, id_width, columns, drop_order)
    needed = id_width + sum(w + 2 for _, w, _ in kept)
    if needed > width:
        console = _console(file, width=needed)
    return console, kept, left_out, width


def _left_out_line(left_out, width: int) -> str:
    return f"(not shown at {width} columns: {', '.join(left_out)}; every column with --format csv)"


def analysis_long(analysis) -> pd.DataFrame:
    """Every field of an Analysis as one tidy frame: kind, key, value (+ name, metric, n_models)."""
    rows = []
    table = analysis.table()
    for bench, row in table.iterrows():
        rows.append(("correlation", bench, row["name"], row["metric"], row["correlation"], row["n_models"]))
    for model, v in analysis.scores.items():
        rows.append(("score", model, "", "", v, np.nan))
    for cap, v in analysis.loadings.items():
        rows.append(("loading", cap, "", "", v, np.nan))
    for i, v in enumerate(analysis.eigenvalues):
        rows.append(("eigenvalue", str(i + 1), "", "", v, np.nan))
    for a in analysis.capability_matrix.index:
        for b in analysis.capability_matrix.columns:
            rows.append(("capability_matrix", f"{a}|{b}", "", "", analysis.capability_matrix.at[a, b], np.nan))
    for key, v in analysis.summary().items():
        if isinstance(v, (list, tuple)):
            v = ";".join(v)
        if key == "compute_correlation":
            rows.append(("summary", key, "", "", v, analysis.compute_n_models))
        elif key not in ("set", "compute_n_models"):
            rows.append(("summary", key, "", "", v, np.nan))
    frame = pd.DataFrame(rows, columns=["kind", "key", "name", "metric", "value", "n_models"])
    frame.insert(0, "set", analysis.label)
    return frame


def frames_csv(frames: list[pd.DataFrame], index: bool = False) -> str:
    buf = io.StringIO()
    pd.concat(frames).to_csv(buf, index=index)
    return buf.getvalue()


def analysis_json(analyses) -> str:
    return dumps({a.label: a.to_dict() for a in analyses})


class StdoutBuffer(io.StringIO):
    """Text to be written to stdout, rendered with stdout's encoding: rich draws its tables with
    ASCII boxes where stdout cannot write others (``PYTHONIOENCODING=ascii``, a C locale)."""

    @property
    def encoding(self):
        import sys

        return getattr(sys.stdout, "encoding", None) or "utf-8"


def _console(file=None, width=None):
    """A rich console as wide as the terminal that stdout is (or ``$COLUMNS``); 140 columns when
    stdout is a pipe or a file. Text rendered into a buffer for stdout gets the same width."""
    import os
    import shutil
    import sys

    from rich.console import Console

    tty = sys.stdout is not None and sys.stdout.isatty()  # None: started with stdout closed
    if width is None and "COLUMNS" not in os.environ:
        width = shutil.get_terminal_size((140, 24)).columns if tty else 140
    # Verdicts in colour where stdout is a terminal (the text is rendered into a buffer first);
    # rich leaves colour out where NO_COLOR is set, and a pipe or a file gets plain text.
    return Console(file=file, width=width, soft_wrap=False, force_terminal=True if tty else None)


def _table(title=None):
    """A terminal table in the one style of every command: a rule under the header, no
    vertical rules, two spaces between columns (so more columns fit at 80)."""
    from rich import box
    from rich.table import Table

    return Table(title=title or None, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                 collapse_padding=True)


def analysis_rich(analysis, file=None) -> None:
    """Print an Analysis as a table sorted by correlation."""

    s = analysis.summary()
    against = f" against {analysis.against}" if analysis.against else ""
    compute = (f"compute correlation {_fmt(s['compute_correlation'])} ({s['compute_n_models']} models)"
               if s["compute_n_models"] else "no FLOP")
    title = (
        f"{analysis.label}: {s['n_models']} models, PC1 explains {s['variance_explained']:.1%}, "
        f"mean capability intercorrelation {s['mean_intercorrelation']:.3f}, {compute}"
    )
    table = _table(title)
    frame = analysis.table()
    _id_column(table, [f"{b} (capability)" for b in frame.index])
    table.add_column("name")
    table.add_column("metric")
    table.add_column(f"correlation{against}", justify="right")
    table.add_column("n", justify="right")
    for bench, row in frame.iterrows():
        label = f"{bench} (capability)" if row["capability"] and not analysis.against else bench
        table.add_row(label, row["name"], row["metric"], _fmt(row["correlation"]), str(row["n_models"]))
    _console(file).print(table)


_COLOURS = {
    "entangled": "red",
    "anti-correlated": "magenta",
    "distinct": "green",
    "indeterminate": "yellow",
    "no interval": "dim",
}


def _cells_table(title, ids, cells, kept, required, text_columns):
    """A table of an id column and the ``kept`` columns of ``cells`` (header -> strings):
    numbers right-justified and never wrapped, required columns whole, verdicts coloured.
    Cells are Text, not markup strings: rich then has no markup to parse in 2,000 cells."""
    from rich.text import Text

    table = _table(title)
    _id_column(table, ids)
    for head, head_width, _ in kept:
        numeric = head not in text_columns
        table.add_column(head, justify="right" if numeric else "left", no_wrap=head in required or numeric,
                         min_width=head_width if head in required or numeric else min(head_width, 12))
    for i, label in enumerate(ids):
        row = [Text(label)]
        for head, _, _ in kept:
            text = cells[head][i]
            row.append(Text.assemble((text, _COLOURS.get(text, ""))) if head == "verdict" else Text(text))
        table.add_row(*row)
    return table


def bootstrap_rich(result, file=None) -> None:
    """Print a BootstrapResult's table: estimate, interval, verdict, sorted by estimate.

    The id, estimate, interval and verdict columns are never cut; the model count shows where a
    benchmark has fewer models than the set; the other columns (name, se, p, q, note) give way,
    in that order, on a narrow terminal, and a line names those left out."""

    md = result.metadata
    title = (
        f"{md['set']}: {md['n']:,} bootstrap resamples of {md['n_models']} models, "
        f"{md['method']} {md['level']:.0%} intervals, threshold {md['threshold']}, "
        f"{md['dtype']} on {md['device']}"
        + measure_note(md)
        + (f", each resample's scores perturbed by their standard errors ({md['errors']['copies']} copies)"
           if md.get("errors") else "")
    )
    frame = result.table.sort_values("estimate", ascending=False, na_position="last")
    with_err = "error_share" in frame.columns  # measurement error: the share of the spread it adds
    with_p = bool(np.isfinite(frame["p_value"].to_numpy(dtype=float)).any())  # only with permutations
    counts = frame["n_models"].to_numpy(dtype=float)
    with_n = bool((counts < md["n_models"]).any())  # some benchmark rests on fewer models than the set
    cells: dict[str, list[str]] = {"name": [], "estimate": [], "n": [], "interval": [], "se": [], "p": [],
                                   "q (BH)": [], "verdict": [], "note": [], "error share": []}
    for row in frame.itertuples():
        notes = []
        if row.capability:
            notes.append("capability")
        if row.interval.startswith("none: "):  # no interval: why, and nothing about resamples
            notes.append(row.interval[len("none: "):])
        elif row.n_degenerate:
            notes.append(f"{row.n_degenerate} degenerate resamples")
        if row.interval != md["method"] and not row.interval.startswith("none: "):
            notes.append(row.interval)
        cells["name"].append(str(row.name))
        cells["estimate"].append(_fmt(row.estimate))
        cells["n"].append("" if not np.isfinite(row.n_models) else str(int(row.n_models)))
        cells["interval"].append(_interval_text(row.low, row.high))
        cells["se"].append(_fmt(row.se))
        cells["p"].append(_fmt_p(row.p_value))
        cells["q (BH)"].append(_fmt_p(row.q_value))
        cells["verdict"].append(str(row.verdict))
        cells["note"].append("; ".join(notes))
        share = row.error_share if with_err else np.nan
        cells["error share"].append("" if not np.isfinite(share) else f"{share:.2f}")
    order = ["name", "estimate", *(["n"] if with_n else []), "interval", "se",
             *(["error share"] if with_err else []), *(["p", "q (BH)"] if with_p else []), "verdict", "note"]
    required = {"estimate", "n", "interval", "verdict"}
    ids = [str(i) for i in frame.index]
    id_width = max([len(i) for i in ids] + [len("benchmark")])
    widths = {h: max([len(c) for c in cells[h]] + [len(h)]) for h in order}
    console, kept, left_out, width = _fit_console(file, id_width, [(h, widths[h], h in required) for h in order],
                                                  drop_order=["name", "note", "error share", "q (BH)", "p", "se"])
    console.print(_cells_table(title, ids, cells, kept, required, text_columns=("name", "verdict", "note")))
    if left_out:
        console.print(_left_out_line(left_out, width))
    shown = md.get("shown")
    if shown and shown["benchmarks"] < shown["of"]:
        what = "the paper's main tables" if shown["which"] == "main" else "--benchmarks"
        console.print(f"{shown['benchmarks']} of {shown['of']} benchmarks shown ({what}); --benchmarks all for every one")
    for stat, row in result.summary.iterrows():
        if str(row["interval"]).startswith("none: "):  # no interval, and why ("no FLOP", too few models)
            what = row["interval"][len("none: "):]
            value = "" if not np.isfinite(row["estimate"]) else f"{_fmt(row['estimate'])}, "
            console.print(f"{stat}: {value}no interval ({what})")
        else:
            console.print(f"{stat}: {_fmt(row['estimate'])} {_interval_text(row['low'], row['high'])}")
    if md.get("interval_note"):  # the family-aware default: how it differs from the model bootstrap
        console.print(md["interval_note"])
    sources = result.table["se_from"].value_counts() if "se_from" in result.table.columns else {}
    sources = {k: v for k, v in dict(sources).items() if k}
    if sources:  # which standard error the se column holds
        listing = ", ".join(k if len(sources) == 1 else f"{k} ({v})" for k, v in sources.items())
        hull = " (cluster-t: the larger of the two)" if md["method"] == "cluster-t" else ""
        console.print(f"se: the standard error of the interval's method: {listing}{hull}")
    console.print(
        f"PC1 sign: the released rule would have flipped {md['pc1_rule_flip_share']:.2%} of "
        f"resamples; smallest |cos| to the full-sample PC1 {md['pc1_min_abs_cos']:.3f}"
    )


def _interval_text(low, high) -> str:
    """``[low, high]``, or "none" where a statistic has no interval (the note says why)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "none"
    return f"[{_fmt(low)}, {_fmt(high)}]"


def bootstrap_json(results) -> str:
    return dumps(
        {
            r.metadata["set"]: {
                "metadata": r.metadata,
                "table": frame_to_json(r.table),
                "summary": frame_to_json(r.summary),
            }
            for r in results
        }
    )


def bootstrap_frame(results) -> pd.DataFrame:
    """Every set's table, then its summary rows (variance explained, mean intercorrelation,
    compute correlation): ``set`` and ``kind`` (``benchmark`` or ``summary``) first."""
    frames = []
    for r in results:
        for kind, part in (("benchmark", r.table), ("summary", r.summary)):
            f = part.copy()
            f.index.name = "benchmark"
            f.insert(0, "kind", kind)
            f.insert(0, "set", r.metadata["set"])
            frames.append(f)
    frame = pd.concat(frames)
    # Counts stay whole numbers in CSV (26, not 26.0) although the summary rows have none.
    for col in ("n_models", "n_valid", "n_degenerate"):
        if col in frame.columns:
            values = pd.to_numeric(frame[col], errors="coerce")
            if (values.dropna() % 1 == 0).all():
                frame[col] = values.astype("Int64")
    return frame


__all__ += ["analysis_json", "bootstrap_json", "bootstrap_frame", "to_jsonable"]


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """A result frame as Parquet (pyarrow, imported only here): the index kept as columns,
    columns of mixed Python objects as text."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        from .errors import SwjaxError

        raise SwjaxError("format: parquet needs pyarrow (pip install pyarrow, or swjax[import])") from None
    out = frame.copy()
    out.columns = [str(c) for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object:
            kinds = {type(v) for v in out[col] if v is not None and not (isinstance(v, float) and np.isnan(v))}
            if len(kinds) > 1 or (kinds and not kinds <= {str}):
                out[col] = [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in out[col]]
    buf = io.BytesIO()
    out.to_parquet(buf, engine="pyarrow")
    return buf.getvalue()


def frame_text(frame, fmt: str, title: str = ""):
    """A DataFrame as a terminal table (rich), CSV, JSON records, or Parquet bytes."""
    if fmt == "parquet":
        return parquet_bytes(frame)
    if fmt == "csv":
        return frame.to_csv()
    if fmt == "json":
        return dumps(frame_to_json(frame))
    buf = StdoutBuffer()
    frame_rich(frame, title, file=buf)
    return buf.getvalue() + "\n"


#: Columns shown as p-values (``<0.001``), as counts, and coloured as verdicts.
_P_COLUMNS = ("p_value", "q_value", "q_value_by", "p")
_VERDICT_COLUMNS = ("verdict", "verdict_full", "verdict_at_need")


def _cell(col: str, value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if col in _P_COLUMNS:
            return _fmt_p(float(value))
        if np.isfinite(value) and float(value).is_integer() and col.startswith(("n_", "m_", "size")):
            return str(int(value))
        return _fmt(float(value))
    text = "" if value is None else str(value)
    colour = _COLOURS.get(text) if col in _VERDICT_COLUMNS else None
    return f"[{colour}]{text}[/]" if colour else text


#: (low, high) column pairs shown as one interval column in terminal tables.
_PAIRS = (("low", "high", "interval"), ("q025", "q975", "across specs"), ("full_low", "full_high", "full set"),
          ("median_low", "median_high", "median interval"), ("min", "max", "min, max"))
#: Terminal columns that are never left out: the numbers a table exists for and its verdicts.
_REQUIRED = {"estimate", "full", "residual", "interval", "full set", *_VERDICT_COLUMNS}
#: Columns that give way first on a narrow terminal (then the others, from the last back).
_DROP_FIRST = ("name", "min, max", "spread", "across specs")
#: A plain column whose header would repeat a pair's: shown under another header.
_RENAMED = {"interval": "method"}


def frame_rich(frame: pd.DataFrame, title: str = "", file=None) -> None:
    """Print any result frame as a rich table that fits the console: the index as a column that
    never cuts nor folds an id, numbers to three decimals, (low, high) pairs as one ``[low, high]``
    column, p-values as ``<0.001``, verdicts coloured; empty columns left out. On a narrow
    console the columns that are not required (:data:`_REQUIRED`) give way, :data:`_DROP_FIRST`
    first, then from the last back, and a line names them."""
    from rich.markup import escape

    frame = frame.loc[:, [c for c in frame.columns if not frame[c].isna().all()]]
    names = [str(n) for n in (frame.index.names if frame.index.nlevels > 1 else [frame.index.name or ""])]
    ids = [" / ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in frame.index]
    columns: list[tuple[str, list[str], bool]] = []  # (header, cells, numeric)
    taken = set()
    frame = frame.rename(columns=str)  # headers as text (plan's power table has the model counts)
    pairs = {lo: (hi, head) for lo, hi, head in _PAIRS if lo in frame.columns and hi in frame.columns}
    for col in frame.columns:
        if col in taken:
            continue
        if col in pairs:
            hi, header = pairs[col]
            cells = [f"[{_cell(col, a)}, {_cell(hi, b)}]" for a, b in zip(frame[col], frame[hi])]
            columns.append((header, cells, True))
            taken |= {col, hi}
            continue
        numeric = pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col])
        header = _RENAMED.get(col, col) if any(head == col for _, head in pairs.values()) else col
        columns.append((header, [_cell(col, v) for v in frame[col]], numeric))
        taken.add(col)
    title_row = " / ".join(n for n in names if n) or ""
    id_width = max([len(i) for i in ids] + [len(title_row)])
    # a number or a verdict keeps its header whole on one line; other headers may wrap at 12
    widths = {h: max([len(c) for c in cells] + [len(h) if numeric or h in _REQUIRED else min(len(h), 12)])
              for h, cells, numeric in columns}
    console, kept, left_out, width = _fit_console(
        file, id_width, [(h, widths[h], h in _REQUIRED) for h, _, _ in columns],
        drop_order=[*_DROP_FIRST, *[h for h, _, _ in reversed(columns)]])
    keep = {h for h, _, _ in kept}
    table = _table(title)
    _id_column(table, ids, title_row)
    shown = [(h, cells, numeric) for h, cells, numeric in columns if h in keep]
    for header, cells, numeric in shown:
        # numbers and verdicts never wrap (their width is kept), a long header or text wraps instead
        fixed = numeric or header in _REQUIRED
        table.add_column(header, justify="right" if numeric else "left", no_wrap=fixed,
                         min_width=widths[header] if fixed else min(widths[header], 12))
    for i, label in enumerate(ids):
        table.add_row(escape(label), *[cells[i] if header in _VERDICT_COLUMNS else escape(cells[i])
                                       for header, cells, numeric in shown])
    console.print(table)
    if left_out:
        console.print(_left_out_line(left_out, width))


def correlate_frame(results) -> pd.DataFrame:
    """The tables of several :class:`CorrelateResult` with a ``set`` column first."""
    frames = []
    for r in results:
        f = r.table.copy()
        f.insert(0, "set", r.set)
        f["unmatched"] = "; ".join(r.unmatched)
        frames.append(f)
    return pd.concat(frames)


def correlate_rich(result, file=None) -> None:
    """Print a :class:`CorrelateResult`: the new benchmarks and the model matching, at the
    terminal's width as the other tables (ids, estimates, intervals and verdicts never cut; the
    nearest public benchmarks, then the rank, give way and are named below)."""
    md = result.result.metadata
    title = (
        f"{md['set']}: new benchmarks among {int(result.table['of'].max())} public ones; "
        f"{md['n']:,} bootstrap resamples, {md['method']} {md['level']:.0%} intervals, "
        f"threshold {md['threshold']}{measure_note(md)}"
    )
    frame = result.table
    cells = {
        "estimate": [_fmt(v) for v in frame["estimate"]],
        "interval": [_interval_text(lo, hi) for lo, hi in zip(frame["low"], frame["high"])],
        "verdict": [str(v) for v in frame["verdict"]],
        "models": [str(v) for v in frame["n_models"]],
        "rank": ["" if not np.isfinite(r) else f"{int(r)}/{o + 1}" for r, o in zip(frame["rank"], frame["of"])],
        "nearest public benchmarks": [str(v) for v in frame["neighbours"]],
    }
    required = {"estimate", "interval", "verdict", "models"}
    ids = [str(i) for i in frame.index]
    id_width = max([len(i) for i in ids] + [len("benchmark")])
    widths = {h: max([len(c) for c in v] + [len(h) if h in required else min(len(h), 12)]) for h, v in cells.items()}
    console, kept, left_out, width = _fit_console(
        file, id_width, [(h, widths[h], h in required) for h in cells], drop_order=["nearest public benchmarks", "rank"])
    console.print(_cells_table(title, ids, cells, kept, required,
                               text_columns=("verdict", "nearest public benchmarks")))
    if left_out:
        console.print(_left_out_line(left_out, width))
    by = result.matches["how"].value_counts()
    console.print(
        f"matched {by.get('id', 0) + by.get('name', 0)} of your {len(result.matches)} models "
        f"({by.get('id', 0)} by id, {by.get('name', 0)} by display name); "
        f"{len(result.missing)} model(s) of the set have no score"
    )
    if result.unmatched:
        console.print(f"[yellow]not in the {md['set']} set (left out):[/] {', '.join(result.unmatched)}")
