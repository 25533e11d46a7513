"""figures: each kind renders with the right elements, and PNG/SVG files are written."""

import dataclasses
import warnings

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

import swjax
from swjax import figures
from swjax.errors import SwjaxError


@pytest.fixture(scope="module")
def res(chat):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", swjax.DegenerateResampleWarning)
        return swjax.bootstrap(chat, n=300, seed=0, eigenvalues=True)


def test_areas_cover_the_public_benchmarks(chat, base):
    amap = figures.areas()
    assert set(chat.benchmarks) | set(base.benchmarks) <= set(amap.index)
    assert amap["headline"].sum() == 25
    assert set(amap.loc[list(swjax.PAPER_CAPABILITIES), "area"]) == {"capabilities"}


def test_forest_elements_and_colours(res):
    fig = figures.forest(res)
    ax = fig.axes[0]
    rows = figures.forest_rows(res)
    assert len(rows) == 25 + 12
    # one errorbar container per verdict present, coloured by verdict, one point per row
    present = list(dict.fromkeys(v for v in figures.VERDICT_COLOURS if v in set(rows["verdict"])))
    assert len(ax.containers) == len(present)
    assert sum(len(c.lines[0].get_xdata()) for c in ax.containers) == len(rows)
    for c, verdict in zip(ax.containers, present):
        assert mcolors.same_color(c.lines[0].get_color(), figures.VERDICT_COLOURS[verdict])
        assert c.get_label() == verdict
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == rows["name"].iloc[0] and len(labels) == len(rows)
    assert "MT Bench" in labels and "WMDP Biological Split" in labels
    assert ax.get_xlabel() == "Spearman correlation with the capabilities score"
    assert "300 bootstrap resamples" in ax.get_title(loc="left")
    areas_drawn = {t.get_text() for t in ax.texts}
    assert {"alignment", "weaponization", "capabilities"} <= areas_drawn


@pytest.mark.parametrize("which", ["all", "headline"])
def test_forest_title_and_axes_inside_the_canvas(res, which):
    """With all 178 rows the long names leave a narrow axes; the title (which starts at the
    axes' left edge), the tick labels and the area labels must still lie on the canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figures.forest(res, benchmarks=which)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    w, h = fig.canvas.get_width_height()
    title = next(t for t in ax.get_children() if isinstance(t, Text) and t.get_text() == ax.get_title(loc="left"))
    for name, box in [("title", title.get_window_extent(renderer)), ("axes", ax.get_tightbbox(renderer)),
                      ("legend", fig.legends[0].get_window_extent(renderer))]:
        assert 0 <= box.x0 and box.x1 <= w and 0 <= box.y0 and box.y1 <= h, (name, box.extents, (w, h))
    # the whole title is there, only broken into lines
    assert "Capabilities correlations: chat models (n=26), 300 bootstrap resamples, bca 95% intervals" == " ".join(
        title.get_text().split())
    labels = ax.get_yticklabels()
    assert len(labels) == len(figures.forest_rows(res, which))


def test_forest_all_and_list(res):
    assert len(figures.forest_rows(res, "all")) == len(res.table)
    # a tall forest (178 rows) repeats its x axis at the top; the 37-row headline one does not
    top = [t.label2.get_visible() for t in figures.forest(res, benchmarks="all").axes[0].xaxis.get_major_ticks()]
    assert top and all(top)
    assert not any(t.label2.get_visible() for t in figures.forest(res).axes[0].xaxis.get_major_ticks())
    fig = figures.forest(res, benchmarks=["MT_Bench", "wmdp_bio"])
    assert len(fig.axes[0].get_yticklabels()) == 2
    with pytest.raises(SwjaxError, match="unknown benchmark .nope. in the results"):
        figures.forest(res, benchmarks=["nope"])


def test_scatter(res, chat):
    fig = figures.scatter(res, "MT_Bench", chat, n_band=100)
    ax = fig.axes[0]
    assert len(ax.collections) == 2  # the band and the points
    pts = ax.collections[1]
    assert len(pts.get_offsets()) == int(res.table.at["MT_Bench", "n_models"])
    assert ax.get_xlabel().startswith("capabilities score")
    assert "MT Bench" in ax.get_ylabel() and "entangled" in ax.get_title(loc="left")
    with pytest.raises(SwjaxError, match="needs the scores"):
        figures.scatter(res, "MT_Bench")


def _boxes_inside(boxes, fig):
    w, h = fig.canvas.get_width_height()
    return all(b.x0 >= 0 and b.y0 >= 0 and b.x1 <= w and b.y1 <= h for b in boxes)


@pytest.mark.parametrize("benchmark", ["MT_Bench", "wmdp_bio"])
def test_scatter_labels_do_not_overlap(res, chat, benchmark):
    """Every model's label is drawn, in the canvas, inside the axes, on no other label and on no
    other model's point (the points crowd at the top of the capabilities score)."""
    import itertools

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figures.scatter(res, benchmark, chat, n_band=50)
    FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text()]
    n = int(res.table.at[benchmark, "n_models"])
    assert len(labels) == n
    boxes = [t.get_window_extent(renderer) for t in labels]
    clashes = [(a.get_text(), b.get_text()) for (a, p), (b, q) in itertools.combinations(zip(labels, boxes), 2)
               if p.overlaps(q)]
    assert clashes == []
    assert _boxes_inside(boxes, fig)
    frame = ax.get_window_extent(renderer)
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    points = ax.transData.transform(ax.collections[1].get_offsets())
    for t, b in zip(labels, boxes):
        others = [p for p, s in zip(points, labels) if s is not t]
        assert not any(b.x0 < px < b.x1 and b.y0 < py < b.y1 for px, py in others), t.get_text()
    # the same placement in a saved file at another dpi (offsets are in points)
    fig.set_dpi(160)
    fig.draw(renderer := FigureCanvasAgg(fig).get_renderer())
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert not any(p.overlaps(q) for p, q in itertools.combinations(boxes, 2))


@pytest.fixture(scope="module")
def res_base(base):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", swjax.DegenerateResampleWarning)
        return swjax.bootstrap(base, n=300, seed=0)


def _line_pixels(line, step: float = 0.5) -> np.ndarray:
    """The drawn line as display points at most ``step`` pixels apart."""
    xy = line.get_transform().transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
    out = [xy[:1]]
    for a, b in zip(xy[:-1], xy[1:]):
        n = max(int(np.ceil(np.hypot(*(b - a)) / step)), 1)
        out.append(a + (b - a) * np.linspace(0, 1, n + 1)[1:, None])
    return np.vstack(out)


@pytest.mark.parametrize("which, benchmark", [
    ("chat", "wmdp_bio"), ("base", "anli"),
    # 1.5 s each: drawn twice and measured
    *(pytest.param(w, b, marks=pytest.mark.slow)
      for w, b in [("chat", "MT_Bench"), ("chat", "truthfulqa_mc1"), ("chat", "gpqa"), ("base", "wmdp_bio")]),
])
def test_scatter_fitted_line_crosses_no_label(res, res_base, chat, base, which, benchmark):
    """No label box meets the fitted line or another label, measured from the renderer's extents
    of the drawn figure, at the figure's dpi and at the dpi ``swjax plot`` saves (130); the line
    as drawn, sampled every half pixel. The line used to run through labels (issue 32)."""
    import itertools

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    result, dataset = (res, chat) if which == "chat" else (res_base, base)
    fig = figures.scatter(result, benchmark, dataset, n_band=200)
    ax = fig.axes[0]
    fit = next(ln for ln in ax.lines if ln.get_label() == "least-squares line")
    labels = [t for t in ax.texts if t.get_text()]
    assert len(labels) == int(result.table.at[benchmark, "n_models"])
    for dpi in (fig.dpi, 130):
        fig.set_dpi(dpi)
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        boxes = [t.get_window_extent(renderer) for t in labels]
        pix = _line_pixels(fit)
        assert len(pix) > 100
        crossed = [t.get_text() for t, b in zip(labels, boxes)
                   if ((pix[:, 0] >= b.x0) & (pix[:, 0] <= b.x1) & (pix[:, 1] >= b.y0) & (pix[:, 1] <= b.y1)).any()]
        assert crossed == [], (dpi, crossed)
        clashes = [(a.get_text(), c.get_text()) for (a, p), (c, q) in
                   itertools.combinations(zip(labels, boxes), 2) if p.overlaps(q)]
        assert clashes == [], (dpi, clashes)


def test_scree(res):
    ax = figures.scree(res).axes[0]
    (bars,) = ax.containers
    assert len(bars.lines[0].get_xdata()) == 12
    assert "PC1 explains" in ax.get_title(loc="left")
    assert ax.get_ylabel() == "eigenvalue of the Spearman matrix"
    without = dataclasses.replace(res, eigenvalues=None)  # a run that did not keep them
    with pytest.raises(SwjaxError, match="eigenvalues=True"):
        figures.scree(without)


def test_scree_subtitle_and_legend_name_the_same_interval(res):
    import re

    ax = figures.scree(res).axes[0]
    heading, subtitle = ax.get_title(loc="left").split("\n")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    pattern = r"(bca|percentile|basic|jackknife-t|cluster-t) (\d+%) intervals?"
    drawn = {re.search(pattern, t).groups() for t in legend if "eigenvalue" in t}
    assert drawn == {re.search(pattern, subtitle).groups()} == {("percentile", "95%")}
    # PC1's share keeps the run's own interval, named beside it
    assert re.search(pattern, heading).groups() == (res.summary.at["variance_explained", "interval"], "95%")


def test_heatmap(res):
    fig = figures.heatmap(res)
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (12, 12)
    assert len(ax.texts) == 144 and len(fig.axes) == 2  # annotations and colour bar


def test_spec_curve_long_format():
    frame = pd.DataFrame(
        {"subset": np.repeat(np.arange(10), 2), "size": np.repeat(np.arange(3, 13), 2),
         "benchmark": ["a", "b"] * 10, "correlation": np.linspace(-0.5, 0.9, 20)}
    )
    fig = figures.spec_curve(frame, "a", estimate=0.3)
    ax = fig.axes[0]
    pts = ax.collections[0]
    y = pts.get_offsets()[:, 1]
    assert len(y) == 10 and np.all(np.diff(y) >= 0)
    assert "10 capability subsets" in ax.get_title(loc="left")
    renamed = frame.rename(columns={"subset": "subset_id", "size": "subset_size"})
    figures.spec_curve(renamed, "b")
    with pytest.raises(SwjaxError, match="long format"):
        figures.spec_curve(frame.drop(columns="size"), "a")


def test_spec_curve_from_subsets(chat):
    from swjax.correlate import subset_correlations

    from swjax.sensitivity import sample_subset_masks

    frame = subset_correlations(chat, ["MT_Bench"], n_subsets=3, min_size=11, seed=1)
    assert set(frame.columns) >= {"subset", "size", "benchmark", "correlation"}
    drawn = sample_subset_masks(12, 11, 3, 1)
    full_drawn = bool((drawn.sum(axis=1) == 12).any())
    assert frame["size"].max() == 12 and len(frame) == 3 + (not full_drawn)
    full = frame.loc[frame["size"] == 12, "correlation"].iloc[0]
    assert full == pytest.approx(swjax.analyze(chat).correlations["MT_Bench"], abs=1e-6)
    figures.spec_curve(frame, "MT_Bench")


def test_distribution(res):
    ax = figures.distribution(res, "MT_Bench").axes[0]
    heights = [p.get_height() for p in ax.patches if hasattr(p, "get_height") and p.get_width() < 0.1]
    assert sum(heights) == res.table.at["MT_Bench", "n_valid"]
    assert "bootstrap distribution" in ax.get_title(loc="left")


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_save_png_and_svg(res, tmp_path, suffix, magic):
    path = figures.save(figures.scree(res), tmp_path / f"scree{suffix}")
    data = path.read_bytes()
    assert data.startswith(magic) and len(data) > 5000
    with pytest.raises(SwjaxError, match=".png or .svg"):
        figures.save(figures.scree(res), tmp_path / "scree.jpg")


def test_cli_plot(tmp_path):
    from typer.testing import CliRunner

    from swjax.cli import app

    runner = CliRunner()
    for kind, extra in [("forest", []), ("distribution", ["--benchmark", "MT_Bench"]),
                        ("spec-curve", ["--benchmark", "MT_Bench", "--subsets", "2"])]:
        out = tmp_path / f"{kind}.svg"
        res = runner.invoke(app, ["plot", kind, "--set", "chat", "--n", "300", "--out", str(out), *extra])
        assert res.exit_code == 0, res.output
        assert out.stat().st_size > 5000
    res = runner.invoke(app, ["plot", "scatter", "--out", str(tmp_path / "s.png")])
    assert res.exit_code == 2 and "needs --benchmark" in res.stderr
