"""Label placement in the scatter plot: swjax's own search against adjustText, side by side.

    PYTHONPATH=$PWD SWJAX_DATA_DIR=... python benchmarks/bench_labels.py [--repeat 3]

On the project's own scatter figures (``figures.scatter(result, benchmark, dataset)``: eight
benchmarks of the chat set and six of the base set, one label per model), the same figure gets
its model labels placed by:

- ``own, no line``: swjax's ``_place_labels`` with only the markers, the other labels and the
  legend as obstacles (today's search without the fitted line as an obstacle: it ran so until
  issue 32, but without the spare 10% and the anchoring that now keep it at another dpi);
- ``own``: the same with the fitted line as an obstacle (what ``figures.scatter`` does);
- ``adjustText``: ``adjust_text`` with its defaults, the points and the legend to avoid, grey
  leader lines;
- ``adjustText + line``: the same with 200 points sampled along the fitted line and along each
  edge of the band added to the points it repels from (it takes points and boxes, not lines);
- ``shipped``: ``figures.scatter`` itself, unchanged (a check that the row ``own`` is what users get).

Every count is measured afterwards from the drawn figure, from the renderer's extents of the label
texts, independent of either placement code, twice: at the figure's dpi (100, the one the
placement ran at) and at the dpi ``swjax plot`` saves (130):

- ``label-label``: pairs of label boxes that overlap;
- ``label-point``: (label, other model) pairs where the box meets that model's marker disc
  (radius from the marker size, with its white edge); ``own point``: labels on their own marker;
- ``line``: labels whose box the fitted line crosses (``Path.intersects_bbox`` of the line's
  display path); ``band edge``: labels crossed by the band's outline;
- ``outside``: labels not wholly inside the axes;
- ``gap pt``: mean (and max) distance in points from a model's point to the nearest point of
  its label box;
- ``place ms``: time of the placement call alone, ``fig ms``: of the whole figure with its labels
  (each the median of ``--repeat`` fresh figures, then the mean over figures);
- ``flawed figures``: figures with any label on the line, another label, another point or
  outside the axes.

Prints a table per dpi with a row per placement (totals over the figures), and writes
``benchmarks/results/bench_labels.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

import swjax  # noqa: E402
from swjax import figures  # noqa: E402

FIGURES = {
    "chat": ["wmdp_bio", "MT_Bench", "truthfulqa_mc1", "LMSYS_Chatbot_Arena", "ethics_all", "bbq_amb",
             "HarmBench-HumanJailbreaks-all", "gpqa"],
    "base": ["wmdp_bio", "truthfulqa_mc1", "ethics_all", "bbq_amb", "anli", "crows_pairs_english"],
}
MARKER_S = 28  # figures.scatter's marker area, points^2
MARKER_PT = np.sqrt(MARKER_S) / 2 + 0.6  # its radius with the white edge, as scatter passes it
SAVE_DPI = 130  # figures.save's default
PLACEMENTS = ("own, no line", "own", "adjustText", "adjustText + line", "shipped")


def bare(res, benchmark, ds):
    """The scatter without labels, and the models' names and points (data coordinates)."""
    fig = figures.scatter(res, benchmark, ds, label_models=False)
    score = res.analysis.scores
    y = ds.scores[benchmark].reindex(score.index)
    ok = y.notna().to_numpy()
    names = [ds.model_name(m) for m in score.index[ok]]
    return fig, names, np.column_stack([score.to_numpy()[ok], y.to_numpy()[ok]])


def place(kind, res, benchmark, ds):
    """A figure with its labels placed by ``kind``: (fig, ax, texts, anchors, seconds of the
    placement, seconds of the whole figure)."""
    start = time.perf_counter()
    if kind == "shipped":
        fig = figures.scatter(res, benchmark, ds)
        ax = fig.axes[0]
        texts = [t for t in ax.texts if t.get_text()]
        return fig, ax, texts, np.array([t.xy for t in texts]), np.nan, time.perf_counter() - start
    fig, names, xy = bare(res, benchmark, ds)
    ax = fig.axes[0]
    legend = ax.get_legend()
    fit = ax.lines[0]
    if kind.startswith("own"):
        texts = [ax.annotate(n, tuple(p), xytext=(3, 3), textcoords="offset points", fontsize=6, color="0.35",
                             ha="left", va="bottom") for n, p in zip(names, xy)]
        t0 = time.perf_counter()
        figures._place_labels(fig, ax, texts, legend, marker_pt=MARKER_PT, lines=[fit] if kind == "own" else ())
        t1 = time.perf_counter()
        return fig, ax, texts, xy, t1 - t0, t1 - start
    from adjustText import adjust_text

    texts = [ax.text(p[0], p[1], n, fontsize=6, color="0.35") for n, p in zip(names, xy)]
    px, py = xy[:, 0], xy[:, 1]
    if kind == "adjustText + line":
        gx, gy = fit.get_xdata(), fit.get_ydata()
        s = np.linspace(gx.min(), gx.max(), 200)
        band = ax.collections[0].get_paths()[0].vertices
        n = len(band) // 2  # fill_between's outline: the lower edge forward, the upper edge back
        lo, hi = band[1:n], band[n + 1:-1]
        extra = [np.column_stack([s, np.interp(s, gx, gy)])]
        for edge in (lo, hi):
            e = edge[np.argsort(edge[:, 0])]
            extra.append(np.column_stack([s, np.interp(s, e[:, 0], e[:, 1])]))
        extra = np.vstack(extra)
        px, py = np.concatenate([px, extra[:, 0]]), np.concatenate([py, extra[:, 1]])
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        adjust_text(texts, x=px, y=py, objects=[legend.get_window_extent(figures._renderer(fig))], ax=ax,
                    arrowprops=dict(arrowstyle="-", color="0.65", lw=0.5))
    t1 = time.perf_counter()
    return fig, ax, texts, xy, t1 - t0, t1 - start


def _disc_meets_box(c, r, b):
    qx, qy = np.clip(c[0], b.x0, b.x1), np.clip(c[1], b.y0, b.y1)
    return np.hypot(qx - c[0], qy - c[1]) < r


def measure(fig, ax, texts, anchors, dpi):
    """The counts of the module docstring, from the renderer's extents at ``dpi``."""
    fig.set_dpi(dpi)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    k = dpi / 72
    boxes = [t.get_window_extent(renderer) for t in texts]
    pts = ax.transData.transform(anchors)
    r = MARKER_PT * k
    fit = ax.lines[0]
    line = fit.get_transform().transform_path(fit.get_path())
    band_coll = ax.collections[0]
    band = band_coll.get_paths()[0].transformed(band_coll.get_transform())
    frame = ax.get_window_extent(renderer)
    gaps = []
    for b, p in zip(boxes, pts):
        qx, qy = np.clip(p[0], b.x0, b.x1), np.clip(p[1], b.y0, b.y1)
        gaps.append(np.hypot(qx - p[0], qy - p[1]) / k)
    return {
        "labels": len(boxes),
        "label_label": sum(bool(p.overlaps(q)) for p, q in itertools.combinations(boxes, 2)),
        "label_point": sum(bool(_disc_meets_box(c, r, b)) for i, b in enumerate(boxes) for j, c in enumerate(pts)
                           if i != j),
        "label_own_point": sum(bool(_disc_meets_box(c, r, b)) for b, c in zip(boxes, pts)),
        "line": sum(bool(line.intersects_bbox(b, filled=False)) for b in boxes),
        "band_edge": sum(bool(band.intersects_bbox(b, filled=False)) for b in boxes),
        "outside": sum(not (frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1)
                       for b in boxes),
        "gap_mean_pt": float(np.mean(gaps)),
        "gap_max_pt": float(np.max(gaps)),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_labels.json"))
    args = ap.parse_args()
    import adjustText

    rows = []
    for set_, benches in FIGURES.items():
        ds = swjax.load_dataset(set_)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = swjax.bootstrap(ds, n=300, seed=0)
        for b in benches:
            for kind in PLACEMENTS:
                times, totals_ = [], []
                for i in range(args.repeat):
                    fig, ax, texts, anchors, sec, total = place(kind, res, b, ds)
                    times.append(sec)
                    totals_.append(total)
                for dpi in (fig.dpi, SAVE_DPI):  # the dpi the placement ran at, then the saved file's
                    m = measure(fig, ax, texts, anchors, dpi)
                    rows.append({"set": set_, "benchmark": b, "placement": kind, "dpi": dpi, **m,
                                 "ms": None if np.isnan(times).any() else 1e3 * float(np.median(times)), "figure_ms": 1e3 * float(np.median(totals_))})
                    print(f"  {set_:4s} {b:30s} {kind:18s} {dpi} {m} {rows[-1]['figure_ms']:.0f} ms", file=sys.stderr,
                          flush=True)
    cols = ["label_label", "label_point", "label_own_point", "line", "band_edge", "outside"]
    n_fig = sum(len(v) for v in FIGURES.values())
    totals = {}
    for dpi in sorted({r["dpi"] for r in rows}):
        print(f"\nLabel placement on {n_fig} scatter figures (chat {len(FIGURES['chat'])}, base "
              f"{len(FIGURES['base'])}); counts from the renderer's extents at {dpi:g} dpi\n")
        head = f"{'placement':18s} {'labels':>6s} {'label-label':>11s} {'label-point':>11s} {'own point':>9s} " \
               f"{'line':>5s} {'band edge':>9s} {'outside':>7s} {'gap pt':>7s} {'max gap':>7s} {'place ms':>8s} " \
               f"{'fig ms':>7s} {'flawed figures':>14s}"
        print(head)
        print("-" * len(head))
        for kind in PLACEMENTS:
            sub = [r for r in rows if r["placement"] == kind and r["dpi"] == dpi]
            t = {c: int(sum(r[c] for r in sub)) for c in ["labels"] + cols}
            t["gap_mean_pt"] = float(np.sum([r["gap_mean_pt"] * r["labels"] for r in sub]) / t["labels"])
            t["gap_max_pt"] = float(max(r["gap_max_pt"] for r in sub))
            ms = [r["ms"] for r in sub if r["ms"] is not None]  # none for "shipped": one call does all
            t["placement_ms"] = float(np.mean(ms)) if ms else None
            t["figure_ms"] = float(np.mean([r["figure_ms"] for r in sub]))
            # a figure with a label on the line, on another label or point, or outside the axes
            t["flawed_figures"] = [f"{r['set']}/{r['benchmark']}" for r in sub
                                   if r["line"] or r["label_label"] or r["label_point"] or r["outside"]]
            totals[f"{kind} @ {dpi:g} dpi"] = t
            place_ms = "-" if t["placement_ms"] is None else f"{t['placement_ms']:.0f}"
            print(f"{kind:18s} {t['labels']:6d} {t['label_label']:11d} {t['label_point']:11d} "
                  f"{t['label_own_point']:9d} {t['line']:5d} {t['band_edge']:9d} {t['outside']:7d} "
                  f"{t['gap_mean_pt']:7.1f} {t['gap_max_pt']:7.1f} {place_ms:>8s} {t['figure_ms']:7.0f} "
                  f"{len(t['flawed_figures']):8d} of {len(sub)}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "versions": {"swjax": swjax.__version__, "adjustText": adjustText.__version__,
                     "matplotlib": matplotlib.__version__, "python": platform.python_version()},
        "machine": platform.platform(), "repeat": args.repeat, "dpi": [100, SAVE_DPI],
        "figures": FIGURES, "totals": totals, "rows": rows,
    }, indent=1) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
