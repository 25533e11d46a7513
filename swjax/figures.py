"""Figures of bootstrap results: matplotlib only (no jax), each function returns a Figure.

Colours are by verdict (Okabe-Ito palette, legible to colour-blind readers) and every figure
draws the verdict threshold where it applies. :func:`save` writes PNG or SVG by suffix,
atomically.

- :func:`forest`: every benchmark's correlation and interval, grouped by safety area;
- :func:`scatter`: a benchmark against the capabilities score, with a bootstrap band;
- :func:`scree`: eigenvalues of the capability correlation matrix with intervals;
- :func:`heatmap`: the capability correlation matrix;
- :func:`spec_curve`: a benchmark's correlation over capability-benchmark subsets;
- :func:`distribution`: a benchmark's bootstrap distribution.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # figures are built without pyplot: no backend is touched
from matplotlib.lines import Line2D
from matplotlib.transforms import Bbox

from .data import areas  # the safety-area map (data/areas.csv), re-exported for the figures
from .errors import SwjaxError
from .outputs import atomic_file

__all__ = [
    "VERDICT_COLOURS",
    "KINDS",
    "areas",
    "forest",
    "scatter",
    "scree",
    "heatmap",
    "spec_curve",
    "distribution",
    "atlas_forest",
    "axes_forest",
    "save",
]

#: Verdict -> colour (Okabe-Ito).
VERDICT_COLOURS = {
    "entangled": "#D55E00",
    "anti-correlated": "#CC79A7",
    "distinct": "#009E73",
    "indeterminate": "#7F7F7F",
    "no interval": "#C8C8C8",
}
#: Figure kinds of ``swjax plot``.
KINDS = ("forest", "scatter", "scree", "heatmap", "spec-curve", "distribution")
NEW_AREA = "new"


def _unpack(result):
    """(BootstrapResult, new benchmark names, combined dataset or None) of either result kind."""
    if hasattr(result, "new") and hasattr(result, "result"):
        return result.result, tuple(result.new), result.dataset
    if hasattr(result, "table") and hasattr(result, "distribution"):
        return result, (), None
    raise SwjaxError(f"result: expected a BootstrapResult or CorrelateResult, got {type(result).__name__}")


def _benchmark(table: pd.DataFrame, benchmark: str) -> str:
    """The id of a benchmark of the results, named by id or display name (:func:`swjax.validate.benchmark`)."""
    from . import validate

    names = table["name"] if "name" in table.columns else None
    return validate.benchmark(benchmark, table.index, names, where="the results")


def _row(table: pd.DataFrame, benchmark: str) -> pd.Series:
    return table.loc[_benchmark(table, benchmark)]


def _subtitle(md: dict, method: str | None = None) -> str:
    """Model set, resamples and the intervals drawn (``method`` where a figure's own
    intervals are not the run's, as the scree plot's percentile intervals)."""
    return (
        f"{md['set']} models (n={md['n_models']}), {md['n']:,} bootstrap resamples, "
        f"{method or md['method']} {md['level']:.0%} intervals"
    )


def _fit_title(fig: Figure, ax, text: str, fontsize: float = 9) -> None:
    """Set the axes' left title, broken into lines at its clauses (after ", " or ": ") when
    it would run past the canvas' right edge (long tick labels leave a narrow axes)."""
    box = ax.set_title(text, fontsize=fontsize, loc="left")
    renderer = _renderer(fig)
    width = fig.canvas.get_width_height()[0]
    ext = box.get_window_extent(renderer)
    if ext.x1 <= width - 4:
        return
    room = width - 4 - ext.x0
    lines = []
    for part in text.split("\n"):
        line = ""
        for w in re.split(r"(?<=[,:]) ", part):
            trial = f"{line} {w}" if line else w
            box.set_text(trial)
            if line and box.get_window_extent(renderer).width > room:
                lines.append(line)
                line = w
            else:
                line = trial
        lines.append(line)
    box.set_text("\n".join(lines))


def _threshold_lines(ax, t: float, vertical: bool = True) -> None:
    line = ax.axvline if vertical else ax.axhline
    span = ax.axvspan if vertical else ax.axhspan
    span(-t, t, color="#009E73", alpha=0.07, lw=0, zorder=0)
    for v in (-t, t):
        line(v, color="0.45", lw=0.8, ls="--", zorder=1)
    line(0, color="0.2", lw=0.8, zorder=1)


def forest_rows(result, benchmarks="headline", capabilities: bool = True) -> pd.DataFrame:
    """The rows a forest plot draws, in order: area, then estimate (largest first).

    ``benchmarks``: ``"headline"`` (the paper's main-table safety benchmarks, the new ones,
    and the capability benchmarks when ``capabilities``), ``"all"``, or a list of keys.
    """
    res, new, _ = _unpack(result)
    table = res.table
    amap = areas()
    if isinstance(benchmarks, str) and benchmarks == "all":
        keys = list(table.index)
    elif isinstance(benchmarks, str) and benchmarks == "headline":
        head = set(amap.index[amap["headline"] == 1])
        keys = [b for b in table.index if b in head or b in new or (capabilities and table.at[b, "capability"])]
    else:
        keys = list(benchmarks)
        for b in keys:
            _row(table, b)
    for b in new:
        if b not in keys:
            keys.append(b)
    frame = table.loc[keys].copy()
    frame["area"] = [
        NEW_AREA if b in new else (
            "capabilities" if frame.at[b, "capability"] else
            amap["area"].get(b, "other")
        )
        for b in frame.index
    ]
    order = [NEW_AREA] + list(dict.fromkeys(amap["area"])) + ["other"]
    if "capabilities" in order:  # the reference group goes last
        order.remove("capabilities")
        order.append("capabilities")
    frame["_o"] = frame["area"].map(order.index)
    frame = frame.sort_values(["_o", "estimate"], ascending=[True, False], na_position="last")
    return frame.drop(columns="_o")


#: Rows above which a forest plot repeats its x axis at the top (about a screen's height).
TALL_FOREST = 40


def _verdict_errorbars(ax, rows: pd.DataFrame, pos: np.ndarray, ms: float = 5, lw: float = 1.8,
                       capsize: float = 2.5) -> None:
    """One errorbar container per verdict present (``ax.containers``, labelled by verdict): each
    row's estimate at its y position ``pos`` with its interval, in the verdict's colour; a row
    without an interval shows its estimate alone."""
    for verdict, colour in VERDICT_COLOURS.items():
        sel = (rows["verdict"] == verdict).to_numpy()
        if not sel.any():
            continue
        est = rows["estimate"].to_numpy(float)[sel]
        lo, hi = rows["low"].to_numpy(float)[sel], rows["high"].to_numpy(float)[sel]
        xerr = np.vstack([np.clip(est - lo, 0, None), np.clip(hi - est, 0, None)])
        ax.errorbar(est, pos[sel], xerr=np.where(np.isfinite(xerr), xerr, 0), fmt="o", color=colour,
                    ecolor=colour, ms=ms, lw=lw, capsize=capsize, label=verdict, zorder=3)


def _verdict_legend(fig: Figure, verdicts, level: float, threshold: float) -> None:
    """The legend of the verdicts present, under the axes, titled with the level and threshold."""
    handles = [Line2D([], [], marker="o", color=VERDICT_COLOURS[v], label=v)
               for v in VERDICT_COLOURS if v in set(verdicts)]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8,
                   title=f"verdict ({level:.0%} interval against |r| = {threshold})", title_fontsize=8)


def forest(result, *, benchmarks="headline", capabilities: bool = True, title: str | None = None) -> Figure:
    """Forest plot: each benchmark's correlation (dot) and interval (bar), grouped by area.

    Parameters
    ----------
    result : BootstrapResult or CorrelateResult
        New benchmarks of a CorrelateResult come first, in the area "new", labelled in bold.
    benchmarks : "headline", "all" or list of str
        See :func:`forest_rows`.
    capabilities : bool
        Include the capability benchmarks as a reference group (with ``"headline"``).

    The axes carry one errorbar container per verdict present (``ax.containers``) and the
    rows' display names as y tick labels, top to bottom in the order of :func:`forest_rows`.
    """
    res, new, _ = _unpack(result)
    md = res.metadata
    t = float(md["threshold"])
    rows = forest_rows(result, benchmarks, capabilities)
    n = len(rows)
    fig = Figure(figsize=(8.5, 1.3 + 0.24 * n + 0.12 * rows["area"].nunique()), layout="constrained")
    ax = fig.add_subplot()
    # y positions: a gap between areas
    y, pos, prev = 0.0, [], None
    for area in rows["area"]:
        if prev is not None and area != prev:
            y += 0.7
        pos.append(y)
        prev = area
        y += 1
    pos = np.array(pos)
    _threshold_lines(ax, t)
    _verdict_errorbars(ax, rows, pos)
    labels = [
        rows.at[b, "name"] if isinstance(rows.at[b, "name"], str) and rows.at[b, "name"] else b
        for b in rows.index
    ]
    ax.set_yticks(pos, labels, fontsize=8)
    for tick, b in zip(ax.get_yticklabels(), rows.index):
        if b in new:
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(pos.max() + 0.8 if n else 1, -0.8)
    # area labels on the right, separators between areas
    for area, grp in pd.Series(pos, index=rows["area"].to_numpy()).groupby(level=0, sort=False):
        ax.text(
            1.07, grp.mean(), textwrap.fill(area, 16), transform=ax.get_yaxis_transform(), fontsize=8,
            va="center", ha="left", color="0.25", style="italic",
        )
        if grp.min() > 0:
            ax.axhline(grp.min() - 0.85, color="0.85", lw=0.6, zorder=0)
    ax.set_xlabel("Spearman correlation with the capabilities score")
    if n > TALL_FOREST:  # a tall figure: the axis at the top too, readable without scrolling down
        ax.tick_params(axis="x", top=True, labeltop=True)
    ax.grid(axis="x", color="0.92", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    _verdict_legend(fig, rows["verdict"], md["level"], t)
    _fit_title(fig, ax, title or f"Capabilities correlations: {_subtitle(md)}", fontsize=10)
    return fig


def _scatter_band(x, y, grid, n_band: int, seed: int, level: float):
    """Least-squares line of y on x and its pointwise bootstrap band over models."""
    rng = np.random.default_rng(seed)
    m = len(x)
    fits = []
    for _ in range(n_band):
        idx = rng.integers(0, m, m)
        xs, ys = x[idx], y[idx]
        if np.ptp(xs) == 0:
            continue
        slope, icpt = np.polyfit(xs, ys, 1)
        fits.append(icpt + slope * grid)
    fits = np.array(fits)
    alpha = (1 - level) / 2
    slope, icpt = np.polyfit(x, y, 1)
    return icpt + slope * grid, np.quantile(fits, alpha, axis=0), np.quantile(fits, 1 - alpha, axis=0)


def _renderer(fig: Figure):
    """A renderer of ``fig`` after its layout has run (an Agg canvas when it has none)."""
    if not hasattr(fig.canvas, "get_renderer"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    return fig.canvas.get_renderer()


def _overlaps(box, boxes) -> np.ndarray:
    """Whether ``box`` (x0, y0, x1, y1) overlaps each row of ``boxes``."""
    if len(boxes) == 0:
        return np.zeros(0, bool)
    b = np.asarray(boxes)
    return (box[0] < b[:, 2]) & (b[:, 0] < box[2]) & (box[1] < b[:, 3]) & (b[:, 1] < box[3])


def _place_labels(
    fig: Figure, ax, anns, legend=None, marker_pt: float = 3.0, pad_pt: float = 1.0, lines=(),
) -> None:
    """Move each annotation to a nearby spot where its box overlaps no other label, no
    marker, not the legend and crosses none of ``lines`` (artists drawn as paths, e.g. the
    fitted line), inside the axes; a thin leader line joins a label set apart.

    Deterministic and greedy: the most crowded points choose first; each tries positions
    around its point at growing distance (upper right first), taking the first free one.
    Offsets are in points, so the placement holds at any dpi.
    """
    for a in anns:
        a.set_in_layout(False)  # they stay inside the axes, so the layout need not see them
    renderer = _renderer(fig)
    ax.set_xlim(ax.get_xlim())  # freeze the view: the placement is in display coordinates
    ax.set_ylim(ax.get_ylim())
    k = fig.dpi / 72.0  # pixels per point
    pad = pad_pt * k
    frame = ax.get_window_extent(renderer)
    inner = (frame.x0 + pad, frame.y0 + pad, frame.x1 - pad, frame.y1 - pad)
    pts = np.array([ax.transData.transform(a.xy) for a in anns])
    sizes = []
    for a in anns:
        a.xyann = (0.0, 0.0)
        ext = a.get_window_extent(renderer)
        # 10% to spare: a text's extent in points varies by up to 9% with the dpi it is drawn at
        # (hinting; 6-point labels at 100 and 130 dpi), and a file is saved at another dpi
        sizes.append((1.1 * ext.width + 2 * pad, 1.1 * ext.height + 2 * pad))
    r = marker_pt * k
    fixed = [(px - r, py - r, px + r, py + r) for px, py in pts]  # the markers
    if legend is not None:
        lb = legend.get_window_extent(renderer)
        fixed.append((lb.x0 - pad, lb.y0 - pad, lb.x1 + pad, lb.y1 + pad))
    fixed = np.array(fixed)
    # the obstacle lines as display paths (the view is frozen, so they stay where they are drawn)
    paths = [ln.get_transform().transform_path(ln.get_path()) for ln in lines]
    dist = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    crowd = (dist < 40 * k).sum(axis=1)
    order = sorted(range(len(anns)), key=lambda i: (-crowd[i], pts[i, 0], pts[i, 1]))
    angles = np.deg2rad([45, 0, 90, -45, 135, 180, -90, -135, 22.5, 67.5, -22.5, -67.5, 112.5, 157.5, -112.5, -157.5])
    radii = np.array([1.5, 4, 7, 11, 16, 22, 29, 37, 46, 56, 68, 82, 100]) * k
    placed = []
    for i in order:
        (px, py), (w, h) = pts[i], sizes[i]
        own = np.ones(len(fixed), bool)
        own[i] = False  # a label may touch its own marker's box edge, never cover others
        best, best_cost, found = None, np.inf, False
        for rad in radii:
            for ang in angles:
                c, s_ = np.cos(ang), np.sin(ang)
                # the box's near corner (or edge middle) sits at distance rad from the point
                ax_ = px + (rad + r) * c
                ay_ = py + (rad + r) * s_
                x0 = ax_ - w * (0.5 - 0.5 * np.sign(round(c, 6))) if abs(c) > 1e-6 else ax_ - w / 2
                y0 = ay_ - h * (0.5 - 0.5 * np.sign(round(s_, 6))) if abs(s_) > 1e-6 else ay_ - h / 2
                box = (x0, y0, x0 + w, y0 + h)
                outside = max(inner[0] - box[0], 0) + max(box[2] - inner[2], 0) + \
                    max(inner[1] - box[1], 0) + max(box[3] - inner[3], 0)
                hits = int(_overlaps(box, fixed[own]).sum()) + int(_overlaps(box, placed).sum())
                if paths and not hits:
                    bb = Bbox.from_extents(*box)
                    hits = sum(p.intersects_bbox(bb, filled=False) for p in paths)
                cost = hits * 1e6 + outside * 1e3 + rad
                if cost < best_cost:
                    best, best_cost = box, cost
                if hits == 0 and outside == 0:
                    found = True
                    break
            if found:
                break
        placed.append(best)
        a = anns[i]
        # anchor the text at its side facing the point: text extents do not scale exactly with
        # dpi (hinting), and a label drawn at another dpi then grows away from its point
        x0, y0, x1, y1 = best[0] + pad, best[1] + pad, best[2] - pad, best[3] - pad
        ha, hx = ("left", x0) if x0 >= px else ("right", x1) if x1 <= px else ("center", (x0 + x1) / 2)
        va, vy = ("bottom", y0) if y0 >= py else ("top", y1) if y1 <= py else ("center", (y0 + y1) / 2)
        a.set_horizontalalignment(ha)
        a.set_verticalalignment(va)
        a.xyann = ((hx - px) / k, (vy - py) / k)
        # a leader line when the label sits apart: from the marker's edge to the box's nearest point
        qx, qy = np.clip(px, best[0] + pad, best[2] - pad), np.clip(py, best[1] + pad, best[3] - pad)
        gap = np.hypot(qx - px, qy - py)
        if gap > r + 6 * k:
            ux, uy = (qx - px) / gap, (qy - py) / gap
            ends = ax.transData.inverted().transform([(px + ux * r, py + uy * r), (qx, qy)])
            ax.plot(ends[:, 0], ends[:, 1], color="0.65", lw=0.5, zorder=2, scalex=False, scaley=False)


def scatter(
    result, benchmark: str, dataset=None, *, label_models: bool = True, n_band: int = 1000, seed: int = 0,
) -> Figure:
    """A benchmark's scores against the capabilities score, one point per model.

    The line is the least-squares fit; the band its pointwise interval over a bootstrap of the
    models (``n_band`` resamples at the result's level, the capabilities score held at its
    full-sample value). The title carries the Spearman correlation with the interval and
    verdict of ``result``. ``dataset`` gives the raw scores (a CorrelateResult carries its own).
    """
    res, _, combined = _unpack(result)
    dataset = dataset if dataset is not None else combined
    if dataset is None:
        raise SwjaxError("dataset: the scatter plot needs the scores (pass the Dataset)")
    benchmark = _benchmark(res.table, benchmark)
    row = res.table.loc[benchmark]
    if benchmark not in dataset.scores.columns:
        raise SwjaxError(f"benchmark: {benchmark!r} is not a column of {dataset.label}")
    score = res.analysis.scores
    y_all = dataset.scores[benchmark].reindex(score.index)
    ok = y_all.notna().to_numpy()
    x, y = score.to_numpy()[ok], y_all.to_numpy()[ok]
    md = res.metadata
    colour = VERDICT_COLOURS.get(row["verdict"], "0.3")
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.add_subplot()
    obstacles = []
    if len(x) >= 3 and np.ptp(x) > 0:
        grid = np.linspace(x.min(), x.max(), 100)
        fit, lo, hi = _scatter_band(x, y, grid, n_band, seed, float(md["level"]))
        ax.fill_between(grid, lo, hi, color=colour, alpha=0.18, lw=0, label=f"{md['level']:.0%} bootstrap band")
        obstacles = ax.plot(grid, fit, color=colour, lw=1.5, label="least-squares line")
    ax.scatter(x, y, s=28, color=colour, edgecolor="white", linewidth=0.6, zorder=3, label="models")
    anns = []
    if label_models:
        for model, xi, yi in zip(score.index[ok], x, y):
            anns.append(ax.annotate(
                dataset.model_name(model) if hasattr(dataset, "model_name") else model,
                (xi, yi), xytext=(3, 3), textcoords="offset points", fontsize=6, color="0.35",
                ha="left", va="bottom",
            ))
    metric = row.get("metric", "") if hasattr(row, "get") else ""
    ax.set_xlabel("capabilities score (PC1 of the capability benchmarks)")
    ax.set_ylabel(f"{row['name']}" + (f" ({metric})" if isinstance(metric, str) and metric else ""))
    ax.set_title(
        f"{row['name']}: Spearman {row['estimate']:.2f} [{row['low']:.2f}, {row['high']:.2f}], "
        f"{row['verdict']}\n{_subtitle(md)}, {int(row['n_models'])} models with a score",
        fontsize=9, loc="left",
    )
    ax.grid(color="0.92", lw=0.6)
    legend = ax.legend(fontsize=8, loc="best")
    if anns:
        _place_labels(fig, ax, anns, legend, marker_pt=np.sqrt(28) / 2 + 0.6, lines=obstacles)
    return fig


def scree(result) -> Figure:
    """Eigenvalues of the capability correlation matrix with their bootstrap intervals.

    The title carries PC1's share of variance with its interval. Percentile intervals of the
    resampled eigenvalues (sorted largest first within each resample).
    """
    res, _, _ = _unpack(result)
    md = res.metadata
    if res.eigenvalues is None:
        raise SwjaxError(
            "scree: this bootstrap result kept no resampled eigenvalues; run "
            "swjax.bootstrap(..., eigenvalues=True)"
        )
    ev = np.asarray(res.analysis.eigenvalues, np.float64)
    dist = np.asarray(res.eigenvalues, np.float64)
    alpha = (1 - float(md["level"])) / 2
    lo = np.nanquantile(dist, alpha, axis=0)
    hi = np.nanquantile(dist, 1 - alpha, axis=0)
    k = np.arange(1, len(ev) + 1)
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(k, ev, color="0.6", lw=1, zorder=2)
    ax.errorbar(
        k, ev, yerr=np.vstack([np.clip(ev - lo, 0, None), np.clip(hi - ev, 0, None)]),
        fmt="o", color="#0072B2", ms=6, capsize=3, lw=1.5, zorder=3,
        label=f"eigenvalue, percentile {md['level']:.0%} interval",
    )
    ax.axhline(1, color="0.45", ls="--", lw=0.8, label="1 (Kaiser)")
    ve = res.summary.loc["variance_explained"] if "variance_explained" in res.summary.index else None
    share = (
        f"PC1 explains {ve['estimate']:.1%} [{ve['low']:.1%}, {ve['high']:.1%}] "
        f"({ve.get('interval', md['method'])} {md['level']:.0%} interval)" if ve is not None
        else f"PC1 explains {res.analysis.variance_explained:.1%}"
    )
    # the subtitle names the intervals drawn (percentile, as the legend), the share its own
    ax.set_title(f"Scree plot of the {len(ev)} capability benchmarks: {share}\n{_subtitle(md, 'percentile')}",
                 fontsize=9, loc="left")
    ax.set_xlabel("component")
    ax.set_ylabel("eigenvalue of the Spearman matrix")
    ax.set_xticks(k)
    ax.grid(color="0.92", lw=0.6)
    ax.legend(fontsize=8)
    return fig


def heatmap(result) -> Figure:
    """The Spearman correlation matrix of the capability benchmarks, annotated."""
    analysis = result.analysis if hasattr(result, "analysis") else result
    if hasattr(result, "result"):
        analysis = result.result.analysis
    mat = analysis.capability_matrix
    names = [
        analysis.info["name"].get(b, b) if isinstance(analysis.info["name"].get(b, b), str) else b
        for b in mat.index
    ]
    k = len(mat)
    fig = Figure(figsize=(1.2 + 0.55 * k, 0.8 + 0.5 * k), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(mat.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    for i in range(k):
        for j in range(k):
            v = mat.iat[i, j]
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7.5,
                    color="white" if abs(v) > 0.6 else "black")
    fig.colorbar(im, ax=ax, shrink=0.8, label="Spearman correlation")
    ax.set_title(
        f"Capability benchmarks ({analysis.label}): mean intercorrelation "
        f"{analysis.mean_intercorrelation:.2f}", fontsize=9, loc="left",
    )
    return fig


_SPEC_ALIASES = {
    "subset": ("subset", "subset_id", "spec", "specification"),
    "size": ("size", "subset_size", "n_capabilities", "k"),
    "benchmark": ("benchmark",),
    "correlation": ("correlation", "estimate", "corr"),
}


def _spec_columns(frame: pd.DataFrame) -> dict:
    cols = {}
    for role, names in _SPEC_ALIASES.items():
        hit = next((c for c in names if c in frame.columns), None)
        if hit is None:
            raise SwjaxError(
                f"frame: expected a column {' or '.join(repr(c) for c in names)} "
                f"(long format: subset, size, benchmark, correlation), got {list(frame.columns)}"
            )
        cols[role] = hit
    return cols


def spec_curve(
    frame: pd.DataFrame, benchmark: str, *, estimate: float | None = None, threshold: float = 0.4,
    label: str | None = None,
) -> Figure:
    """Specification curve: a benchmark's correlation for each subset of capability benchmarks.

    Parameters
    ----------
    frame : pandas.DataFrame
        Long format, one row per (subset, benchmark): columns ``subset`` (id), ``size``
        (number of capability benchmarks), ``benchmark``, ``correlation``.
    benchmark : str
    estimate : float, optional
        The correlation with all capability benchmarks (drawn as a line); default: that of the
        frame's largest subset when it holds every capability benchmark (as
        :func:`swjax.correlate.subset_correlations` always includes).
    threshold : float
        Verdict boundary drawn at +-t.

    The subsets are sorted by correlation; points are coloured by subset size.
    """
    c = _spec_columns(frame)
    sub = frame[frame[c["benchmark"]] == benchmark]
    if sub.empty:
        raise SwjaxError(f"benchmark: {benchmark!r} is not in the subsets frame")
    sub = sub.sort_values(c["correlation"], kind="stable")
    r = sub[c["correlation"]].to_numpy(np.float64)
    size = sub[c["size"]].to_numpy()
    if estimate is None and "members" in sub.columns:
        every = set().union(*(set(str(m).split(";")) for m in sub["members"]))
        full = sub[sub["members"].map(lambda m: set(str(m).split(";")) == every)]
        if len(full):
            estimate = float(full[c["correlation"]].iloc[0])
    fig = Figure(figsize=(8, 4.2), layout="constrained")
    ax = fig.add_subplot()
    _threshold_lines(ax, threshold, vertical=False)
    pts = ax.scatter(np.arange(1, len(r) + 1), r, c=size, cmap="viridis", s=14, zorder=3)
    fig.colorbar(pts, ax=ax, label="capability benchmarks in the subset")
    if estimate is not None and np.isfinite(estimate):
        ax.axhline(estimate, color="#D55E00", lw=1.2, label=f"all capability benchmarks: {estimate:.2f}")
        ax.legend(fontsize=8, loc="lower right")
    share = np.mean(r > threshold) if len(r) else np.nan
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("subset of capability benchmarks (sorted by correlation)")
    ax.set_ylabel("Spearman correlation with the capabilities score")
    ax.set_title(
        f"Specification curve of {label or benchmark}: {len(r)} capability subsets, "
        f"{share:.0%} above {threshold}", fontsize=9, loc="left",
    )
    ax.grid(color="0.92", lw=0.6)
    return fig


def distribution(result, benchmark: str, *, bins: int = 60) -> Figure:
    """A benchmark's bootstrap distribution with the estimate, interval and thresholds."""
    res, _, _ = _unpack(result)
    benchmark = _benchmark(res.table, benchmark)
    row = res.table.loc[benchmark]
    md = res.metadata
    j = list(res.table.index).index(benchmark)
    d = res.distribution[:, j]
    d = d[np.isfinite(d)]
    colour = VERDICT_COLOURS.get(row["verdict"], "0.3")
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    t = float(md["threshold"])
    _threshold_lines(ax, t)
    ax.hist(d, bins=np.linspace(-1, 1, bins + 1), color=colour, alpha=0.75, label=f"{len(d):,} resamples")
    ax.axvline(row["estimate"], color="black", lw=1.5, label=f"estimate {row['estimate']:.3f}")
    if np.isfinite(row["low"]) and np.isfinite(row["high"]):
        ax.axvspan(row["low"], row["high"], color=colour, alpha=0.15, lw=0,
                   label=f"{md['level']:.0%} {row['interval']} interval [{row['low']:.2f}, {row['high']:.2f}]")
    ax.set_xlim(-1.02, 1.02)
    ax.set_xlabel("Spearman correlation with the capabilities score")
    ax.set_ylabel("resamples")
    ax.set_title(f"{row['name']}: bootstrap distribution, {row['verdict']}\n{_subtitle(md)}", fontsize=9, loc="left")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def save(fig: Figure, path, dpi: int = 130) -> Path:
    """Write ``fig`` to ``path`` (``.png`` or ``.svg``) atomically."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise SwjaxError(f"out: expected a .png or .svg file, got {path.name!r}")
    with atomic_file(path, suffix=f".{fmt}") as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
    return path


def to_bytes(fig: Figure, fmt: str = "png", dpi: int = 110) -> bytes:
    """The figure as PNG or SVG bytes (for embedding)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


# ------------------------------------------------------------------ the figures of adjust, plan, coverage


def plot_adjust(result):
    """Residual of every model with its interval, models ordered by capabilities score."""
    colours = {
        "safer than predicted": VERDICT_COLOURS["distinct"],
        "less safe than predicted": VERDICT_COLOURS["entangled"],
        "as predicted": VERDICT_COLOURS["indeterminate"],
    }
    t = result.table
    md = result.metadata
    fig = Figure(figsize=(7.0, 0.22 * len(t) + 1.6))
    ax = fig.subplots()
    y = np.arange(len(t))
    for verdict, colour in colours.items():
        sel = (t["verdict"] == verdict).to_numpy()
        if sel.any():
            ax.errorbar(
                t["residual"][sel], y[sel],
                xerr=[(t["residual"] - t["low"])[sel], (t["high"] - t["residual"])[sel]],
                fmt="o", ms=4, capsize=2, color=colour, label=f"{verdict} ({int(sel.sum())})",
            )
    ax.axvline(0, color="0.3", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels(t["name"], fontsize=7)
    unit = "ranks" if md["method"] == "rank" else "benchmark units"
    ax.set_xlabel(f"capability-adjusted score ({unit}; > 0: safer than capabilities predict)", fontsize=8)
    ax.set_ylabel("models, by capabilities score (lowest at the bottom)", fontsize=8)
    rs = result.slopes.loc["rank"]
    ax.set_title(
        f"{md['benchmark_name']} ({md['set']}): residual from the {md['method']} fit on the capabilities score\n"
        f"rank slope {rs['estimate']:.2f} [{rs['low']:.2f}, {rs['high']:.2f}], "
        f"{md['level']:.0%} {md['interval']} intervals, n = {md['n']} resamples",
        fontsize=8, loc="left",
    )
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def plot_power(result):
    """Power against number of models, one line per benchmark (bands: 2 MC s.e.), target marked."""
    table, md = result.table, result.metadata
    names = list(dict.fromkeys(table.index.get_level_values(0)))
    fig = Figure(figsize=(9.5, 5.2))
    ax = fig.subplots()
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    styles = ["-", "--", ":", "-."]
    for i, b in enumerate(names):
        sub = table.loc[b]
        label = result.needed.at[b, "name"]
        need = result.needed.at[b, "m_needed"]
        label += f" ({int(need)})" if np.isfinite(need) else f" (>{md['grid'][-1]})"
        ax.plot(sub.index, sub["power"], styles[(i // 20) % 4] if len(names) > 20 else styles[i % 4 if len(names) > 10 else 0],
                marker="o", ms=3, lw=1.2, color=cmap(i % 20), label=label)
        ax.fill_between(sub.index, sub["power"] - 2 * sub["mc_se"], sub["power"] + 2 * sub["mc_se"],
                        color=cmap(i % 20), alpha=0.12, lw=0)
    ax.axhline(md["target"], color="0.2", lw=1, ls="--")
    ax.text(md["grid"][0], md["target"] + 0.015, f"target {md['target']:.0%}", fontsize=8)
    ax.set_xscale("log")
    ax.set_xticks(md["grid"])
    ax.set_xticklabels([str(g) for g in md["grid"]])
    ax.minorticks_off()
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("number of models")
    ax.set_ylabel(f"power: P(verdict settled at t = {md['threshold']:g})")
    ax.set_title(
        f"How many models would settle each verdict? {md['set']}: R = {md['datasets']} simulated datasets x "
        f"B = {md['n']} resamples per point,\n{md['level']:.0%} {md['method']} intervals "
        f"({md['scheme']} bootstrap); legend: smallest m on the grid reaching the target",
        fontsize=9, loc="left",
    )
    ax.legend(fontsize=6.5, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def plot_coverage(result):
    """Coverage with 2 Monte Carlo standard errors against the nominal level, one panel per rho."""
    table = result.table
    level = result.metadata["level"]
    rhos = sorted(table["rho"].unique())
    rows = list(dict.fromkeys(zip(table["design"], table["scheme"])))
    methods = list(dict.fromkeys(table["method"]))
    fig = Figure(figsize=(4 * len(rhos), 0.5 * len(rows) + 1.6))
    axes = fig.subplots(1, len(rhos), sharey=True, squeeze=False)
    for ax, rho in zip(axes[0], rhos):
        ax.axvspan(level - 0.015, level + 0.015, color="0.9")
        ax.axvline(level, color="0.4", lw=1)
        for i, method in enumerate(methods):
            sub = table[(table["rho"] == rho) & (table["method"] == method)]
            pos = {r: y for y, r in enumerate(rows)}
            y = np.array([pos[(d, s)] for d, s in zip(sub["design"], sub["scheme"])]) + (i - 1) * 0.2
            ax.errorbar(
                sub["coverage"], y, xerr=2 * sub["mc_se"], fmt="o", ms=4, capsize=2, label=method
            )
        truth = table.loc[table["rho"] == rho, "truth"].mean()
        ax.set_title(f"rho {rho:g} (truth about {truth:.3f})")
        ax.set_xlabel("coverage")
    axes[0][0].set_yticks(range(len(rows)))
    axes[0][0].set_yticklabels([f"{d}\n{s} bootstrap" for d, s in rows], fontsize=8)
    axes[0][0].invert_yaxis()
    axes[0][-1].legend(fontsize=8, loc="best")
    meta = result.metadata
    fig.suptitle(
        f"Coverage of {level:.0%} intervals: R = {meta['datasets']} datasets x B = {meta['n']} "
        f"resamples, m = {meta['designs'][0]['n_models']} models (bars: 2 MC s.e.)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ the atlas


def atlas_forest(rows: pd.DataFrame, *, threshold: float, level: float, title: str) -> Figure:
    """Forest of one population of the atlas: each benchmark's correlation and interval
    (``rows``: the atlas table's rows of that population), sorted by estimate, coloured by
    verdict; rows without an interval show their estimate alone."""
    rows = rows.sort_values("estimate", ascending=False, na_position="last").reset_index(drop=True)
    n = len(rows)
    fig = Figure(figsize=(8.5, 1.5 + 0.24 * n), layout="constrained")
    ax = fig.add_subplot()
    pos = np.arange(n, dtype=float)
    _threshold_lines(ax, threshold)
    _verdict_errorbars(ax, rows, pos)
    ax.set_yticks(pos, [f"{b} ({int(k)})" for b, k in zip(rows["benchmark"], rows["n_models"])], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(n - 0.2 if n else 1, -0.8)
    ax.set_xlabel("Spearman correlation with the capabilities score (models behind each row in brackets)")
    if n > TALL_FOREST:
        ax.tick_params(axis="x", top=True, labeltop=True)
    ax.grid(axis="x", color="0.92", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    _verdict_legend(fig, rows["verdict"], level, threshold)
    _fit_title(fig, ax, title, fontsize=10)
    return fig


def axes_forest(result, *, title: str | None = None) -> Figure:
    """Forest of :func:`swjax.axes`: for each benchmark, its correlation and interval under
    every capability measure (one row per measure, coloured by verdict), benchmarks separated
    and labelled, each marked robust or not on the right."""
    table = result.table.reset_index()
    md = result.metadata
    measures = list(md["scores"])
    benches = list(dict.fromkeys(table["benchmark"]))
    n = len(table)
    fig = Figure(figsize=(8.5, 1.6 + 0.2 * n + 0.2 * len(benches)), layout="constrained")
    ax = fig.add_subplot()
    pos, y, starts, centres = [], 0.0, [], []
    for b in benches:
        rows = table[table["benchmark"] == b]
        y += 0.9  # room for the benchmark's name above its rows
        start = y
        for _ in range(len(rows)):
            pos.append(y)
            y += 1
        starts.append(start)
        centres.append((start + y - 1) / 2)
    pos = np.array(pos)
    _threshold_lines(ax, float(md["threshold"]))
    _verdict_errorbars(ax, table, pos, ms=4, lw=1.5, capsize=2)
    ax.set_yticks(pos, list(table["measure"]), fontsize=7)
    robust = result.verdicts["robustness"]
    for b, start, c in zip(benches, starts, centres):
        ax.text(-1.03, start - 0.75, b, ha="left", va="center", fontsize=8, fontweight="bold")
        ax.text(1.01, c, str(robust.get(b, "")), transform=ax.get_yaxis_transform(), ha="left", va="center",
                fontsize=7, color="0.3", style="italic", clip_on=False)
    ax.set_ylim(y, -0.2)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel("Spearman correlation with the capabilities score, under each capability measure")
    ax.grid(axis="x", color="0.92", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    _verdict_legend(fig, table["verdict"], md["level"], md["threshold"])
    _fit_title(fig, ax, title or f"{md['set']}: capabilities correlations under {len(measures)} capability measures "
               f"({md['n']:,} resamples, the same for every measure)", fontsize=10)
    return fig
