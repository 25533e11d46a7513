"""Results as terminal tables (rich), CSV and JSON. No jax."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from .outputs import dumps, frame_to_json, to_jsonable

__all__ = ["analysis_long", "analysis_rich", "bootstrap_rich", "frames_csv"]


def _fmt(x, digits=3) -> str:
    return "" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{digits}f}"


def _fmt_p(p) -> str:
    """A p- or q-value: three decimals, ``<0.001`` below that (never a rounded 0.000)."""
    if p is None or not np.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _id_column(table, ids, title="benchmark") -> None:
    """A column of ids that is never cut short: an id longer than the column wraps onto the
    next line (folded), so no two ids ever print as the same truncated string."""
    width = max([len(str(i)) for i in ids] + [len(title)])
    table.add_column(title, overflow="fold", min_width=min(width, 24))


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


def _console(file=None, width=None):
    """The terminal's width (or ``$COLUMNS``); 140 columns when writing to a pipe or a file."""
    import os
    import sys

    from rich.console import Console

    stream = file if file is not None else sys.stdout
    fits = "COLUMNS" in os.environ or (hasattr(stream, "isatty") and stream.isatty())
    return Console(file=file, width=width or (None if fits else 140), soft_wrap=False)


def analysis_rich(analysis, file=None) -> None:
    """Print an Analysis as a table sorted by correlation."""
    from rich.table import Table

    s = analysis.summary()
    against = f" against {analysis.against}" if analysis.against else ""
    title = (
        f"{analysis.label}: {s['n_models']} models, PC1 explains {s['variance_explained']:.1%}, "
        f"mean capability intercorrelation {s['mean_intercorrelation']:.3f}, "
        f"compute correlation {_fmt(s['compute_correlation'])} ({s['compute_n_models']} models)"
    )
    table = Table(title=title, title_justify="left")
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


def bootstrap_rich(result, file=None) -> None:
    """Print a BootstrapResult's table: estimate, interval, verdict, sorted by estimate."""
    from rich.table import Table

    md = result.metadata
    title = (
        f"{md['set']}: {md['n']:,} bootstrap resamples of {md['n_models']} models, "
        f"{md['method']} {md['level']:.0%} intervals, threshold {md['threshold']}, "
        f"{md['dtype']} on {md['device']}"
    )
    console = _console(file)
    table = Table(title=title, title_justify="left")
    frame = result.table.sort_values("estimate", ascending=False, na_position="last")
    with_p = bool(np.isfinite(frame["p_value"].to_numpy(dtype=float)).any())  # only with permutations
    with_name = console.width >= 100  # a narrow terminal keeps the ids and the numbers
    _id_column(table, frame.index)
    for col, justify in [
        *([("name", "left")] if with_name else []), ("estimate", "right"), ("interval", "right"), ("se", "right"),
        *([("p", "right"), ("q (BH)", "right")] if with_p else []), ("verdict", "left"), ("note", "left"),
    ]:
        table.add_column(col, justify=justify, no_wrap=col not in ("name", "verdict", "note"))
    for bench, row in frame.iterrows():
        notes = []
        if row["capability"]:
            notes.append("capability")
        if row["n_degenerate"]:
            notes.append(f"{row['n_degenerate']} degenerate resamples")
        if row["interval"] != md["method"]:
            notes.append(row["interval"])
        colour = _COLOURS.get(row["verdict"], "")
        pq = [_fmt_p(row["p_value"]), _fmt_p(row["q_value"])] if with_p else []
        table.add_row(
            bench, *([row["name"]] if with_name else []), _fmt(row["estimate"]),
            f"[{_fmt(row['low'])}, {_fmt(row['high'])}]", _fmt(row["se"]), *pq,
            f"[{colour}]{row['verdict']}[/]" if colour else row["verdict"], "; ".join(notes),
        )
    console.print(table)
    for stat, row in result.summary.iterrows():
        console.print(
            f"{stat}: {_fmt(row['estimate'])} [{_fmt(row['low'])}, {_fmt(row['high'])}]"
        )
    if md.get("interval_note"):  # the family-aware default: how it differs from the model bootstrap
        console.print(md["interval_note"])
    console.print(
        f"PC1 sign: the released rule would have flipped {md['pc1_rule_flip_share']:.2%} of "
        f"resamples; smallest |cos| to the full-sample PC1 {md['pc1_min_abs_cos']:.3f}"
    )


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
    frames = []
    for r in results:
        f = r.table.copy()
        f.insert(0, "set", r.metadata["set"])
        frames.append(f)
    return pd.concat(frames)


__all__ += ["analysis_json", "bootstrap_json", "bootstrap_frame", "to_jsonable"]


def frame_text(frame, fmt: str, title: str = "") -> str:
    """A DataFrame as a plain table, CSV or JSON records."""
    if fmt == "csv":
        return frame.to_csv()
    if fmt == "json":
        return dumps(frame_to_json(frame))
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_rows", 400):
        body = frame.to_string(float_format=lambda x: f"{x:.3f}")
    return (f"{title}\n" if title else "") + body + "\n\n"


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
    """Print a :class:`CorrelateResult`: the new benchmarks and the model matching."""
    from rich.console import Console
    from rich.table import Table


    md = result.result.metadata
    console = Console(file=file, width=140, soft_wrap=False)
    table = Table(
        title=(
            f"{md['set']}: new benchmarks among {int(result.table['of'].max())} public ones; "
            f"{md['n']:,} bootstrap resamples, {md['method']} {md['level']:.0%} intervals, "
            f"threshold {md['threshold']}"
        ),
        title_justify="left",
    )
    for col in ("benchmark", "estimate", "interval", "verdict", "models", "rank", "nearest public benchmarks"):
        table.add_column(col, justify="right" if col in ("estimate", "models", "rank") else "left")
    for b, row in result.table.iterrows():
        colour = _COLOURS.get(row["verdict"], "")
        table.add_row(
            b, _fmt(row["estimate"]), f"[{_fmt(row['low'])}, {_fmt(row['high'])}]",
            f"[{colour}]{row['verdict']}[/]" if colour else row["verdict"],
            str(row["n_models"]),
            "" if not np.isfinite(row["rank"]) else f"{int(row['rank'])}/{row['of'] + 1}",
            row["neighbours"],
        )
    console.print(table)
    by = result.matches["how"].value_counts()
    console.print(
        f"matched {by.get('id', 0) + by.get('name', 0)} of your {len(result.matches)} models "
        f"({by.get('id', 0)} by id, {by.get('name', 0)} by display name); "
        f"{len(result.missing)} model(s) of the set have no score"
    )
    if result.unmatched:
        console.print(f"[yellow]not in the {md['set']} set (left out):[/] {', '.join(result.unmatched)}")
