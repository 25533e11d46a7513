"""The report: one self-contained HTML file and its markdown twin. No jax.

Built from bootstrap results already computed (:func:`swjax.bootstrap` or
:func:`swjax.correlate.correlate`): figures embedded as base64 PNG, a sortable table of every
benchmark (a few lines of inline JavaScript, no network), a methods paragraph, "The paper's
verdicts with uncertainty" (the paper's main-table benchmarks, from ``data/areas.csv``,
with our interval and verdict beside the published point estimate when one is given), and the
run manifest.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from pathlib import Path

import pandas as pd

from . import figures
from .errors import SwjaxError
from .outputs import atomic_dir, dumps, frame_to_json
from .provenance import environment

__all__ = ["load_published", "paper_verdicts", "build_report", "write_report"]

PUBLISHED_ENV = "SWJAX_PAPER_TARGETS"


def load_published(source=None) -> dict:
    """Published point estimates: set -> benchmark -> correlation.

    ``source`` is a mapping of that shape, or a JSON file with per-set objects holding
    ``safety_correlations`` and ``capability_correlations`` (as ``paper_targets.json``).
    Default: ``$SWJAX_PAPER_TARGETS``, else the copy that swjax ships
    (``data/paper_targets.json``, the figures as published).
    """
    if isinstance(source, dict):
        return {s: dict(v) for s, v in source.items()}
    if source is None:
        env = os.environ.get(PUBLISHED_ENV)
        if env:
            source = env
        else:
            from .data import shipped

            source = shipped("paper_targets.json")
    if source is None:
        return {}
    path = Path(source)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SwjaxError(f"published: {path} not found") from None
    except (OSError, json.JSONDecodeError) as err:
        raise SwjaxError(f"published: cannot read {path} as JSON ({err})") from None
    out = {}
    for s, block in raw.items():
        if not isinstance(block, dict):
            continue
        merged = {}
        for key in ("capability_correlations", "safety_correlations"):
            if isinstance(block.get(key), dict):
                merged.update(block[key])
        if merged:
            out[s] = merged
    return out


def paper_verdicts(result, published: dict | None = None) -> pd.DataFrame:
    """The paper's main-table benchmarks: published estimate beside our interval and verdict.

    The list of benchmarks comes from ``data/areas.csv`` (``headline`` = 1); every
    number except ``published`` is computed from the data.
    """
    res, _, _ = figures._unpack(result)
    amap = figures.areas()
    keys = [b for b in amap.index[amap["headline"] == 1] if b in res.table.index]
    pub = (published or {}).get(res.metadata["set"], {})
    t = res.table.loc[keys]
    frame = pd.DataFrame(
        {
            "name": t["name"],
            "area": amap.loc[keys, "area"],
            "published": [pub.get(b, math.nan) for b in keys],
            "estimate": t["estimate"],
            "low": t["low"],
            "high": t["high"],
            "verdict": t["verdict"],
            "n_models": t["n_models"],
        }
    )
    frame.index.name = "benchmark"
    return frame.sort_values("estimate", ascending=False)


# ------------------------------------------------------------------------------ rendering


def _f(x, digits=3) -> str:
    try:
        return "" if x is None or not math.isfinite(float(x)) else f"{float(x):.{digits}f}"
    except (TypeError, ValueError):
        return str(x)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2rem auto;
 padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
.lede{color:#555} figure{margin:1rem 0} figure img{max-width:100%;display:block;margin:auto;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}
div.table{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;font-size:.85rem;width:100%} th,td{padding:.25rem .5rem;border-bottom:1px solid #eee;text-align:left}
td{overflow-wrap:break-word} td.id{overflow-wrap:anywhere;min-width:6em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums} td.num{white-space:nowrap}
table.sortable th{cursor:pointer;user-select:none;background:#f6f6f6;position:sticky;top:0}
table.sortable th:after{content:" \\2195";color:#bbb} table.sortable th.asc:after{content:" \\2191";color:#333}
table.sortable th.desc:after{content:" \\2193";color:#333}
.v{padding:.05rem .4rem;border-radius:.6rem;color:#fff;font-size:.78rem;white-space:nowrap}
.scroll{max-height:34rem;overflow:auto;border:1px solid #eee} .scroll div.table{overflow-x:visible}
pre{background:#f7f7f7;padding:.8rem;overflow:auto;font-size:.75rem;max-height:24rem;white-space:pre-wrap;overflow-wrap:anywhere}
@media(max-width:900px){body{margin:1rem auto;padding:0 .6rem} th,td{padding:.2rem .25rem} table{font-size:.75rem}
 .v{white-space:normal} td.id{min-width:4.5em}}
"""

_JS = """
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th, col){
    th.addEventListener('click', function(){
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = !th.classList.contains('asc');
      table.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});
      th.classList.add(asc ? 'asc' : 'desc');
      rows.sort(function(a, b){
        var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
        var nx = parseFloat(x), ny = parseFloat(y);
        var r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : (isNaN(nx) - isNaN(ny)) || x.localeCompare(y);
        return asc ? r : -r;
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
});
"""


def _badge(verdict: str) -> str:
    colour = figures.VERDICT_COLOURS.get(verdict, "#999")
    return f'<span class="v" style="background:{colour}">{html.escape(verdict)}</span>'


def _html_table(frame: pd.DataFrame, columns: list[tuple[str, str, str]], css: str = "sortable") -> str:
    """columns: (field, header, kind) with kind in num, text, verdict, index."""
    head = "".join(
        f'<th class="{"num" if kind in ("num", "int") else ""}">{html.escape(label)}</th>' for _, label, kind in columns
    )
    body = []
    for idx, row in frame.iterrows():
        cells = []
        for fieldname, _, kind in columns:
            value = idx if kind == "index" else row[fieldname]
            if kind in ("num", "int"):
                v = _f(value, 0 if kind == "int" else 3)
                cells.append(f'<td class="num" data-v="{v or "NaN"}">{v}</td>')
            elif kind == "verdict":
                cells.append(f'<td data-v="{html.escape(str(value))}">{_badge(str(value))}</td>')
            else:  # ids (the index) may break anywhere, names and areas between words
                text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
                cls = ' class="id"' if kind == "index" else ""
                cells.append(f'<td{cls} data-v="{html.escape(text)}">{html.escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="table"><table class="{css}"><thead><tr>{head}</tr></thead>'
        f'<tbody>{"".join(body)}</tbody></table></div>'
    )


def _md_table(frame: pd.DataFrame, columns: list[tuple[str, str, str]]) -> str:
    lines = [
        "| " + " | ".join(label for _, label, _ in columns) + " |",
        "|" + "|".join("---:" if kind in ("num", "int") else "---" for _, _, kind in columns) + "|",
    ]
    for idx, row in frame.iterrows():
        cells = []
        for fieldname, _, kind in columns:
            value = idx if kind == "index" else row[fieldname]
            cells.append(_f(value, 0 if kind == "int" else 3) if kind in ("num", "int") else str(value).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


_PAPER_COLUMNS = [
    ("", "benchmark", "index"), ("name", "name", "text"), ("area", "area", "text"),
    ("published", "published", "num"), ("estimate", "estimate", "num"), ("low", "low", "num"),
    ("high", "high", "num"), ("verdict", "verdict", "verdict"), ("n_models", "models", "int"),
]
_ALL_COLUMNS = [
    ("", "benchmark", "index"), ("name", "name", "text"), ("area", "area", "text"),
    ("estimate", "estimate", "num"), ("low", "low", "num"), ("high", "high", "num"),
    ("se", "se", "num"), ("verdict", "verdict", "verdict"), ("n_models", "models", "int"),
    ("n_degenerate", "degenerate", "int"),
]


#: What the capabilities score is under each measure other than the paper's (docs/scores.md).
_MEASURES = {
    "pearson": "PC1 of the Pearson correlation matrix of the capability benchmarks' z-scores (no ranking)",
    "mean-z": "the mean of the capability benchmarks' z-scores",
    "irt": "the ability of a two-parameter logistic item-response model of the capability scores",
    "compute": "log10 training FLOP (models without FLOP have no score)",
}


def _measure(results) -> str:
    """The capability measure of the runs (``score`` in their metadata), "paper" by default."""
    return figures._unpack(results[0])[0].metadata.get("score") or "paper"


def _methods(results, scatter: bool = False) -> str:
    md = figures._unpack(results[0])[0].metadata
    score = _measure(results)
    measure = (f" In this report the capabilities score is not the paper's: it is capability measure {score}, "
               f"{_MEASURES[score]}, recomputed in every resample (swjax docs/scores.md)."
               if score != "paper" else "")
    families = (
        f" Models were resampled by family ({md.get('n_clusters')} families in the {md['set']} set): the "
        "cluster bootstrap redraws whole families. " + md["interval_note"][:1].upper() + md["interval_note"][1:]
        if md.get("scheme") == "clusters" and md.get("interval_note") else
        f" Models were resampled by family ({md.get('n_clusters')} families in the {md['set']} set)."
        if md.get("scheme") == "clusters" else ""
    )
    pvalues = (
        f" p-values come from {md['permutations']:,} permutations of the capabilities score against each "
        "benchmark; q-values are Benjamini-Hochberg over the non-capability benchmarks."
        if md.get("permutations") else ""
    )
    band = (" The scatter band is a bootstrap of the least-squares line with the capabilities score "
            "held at its full-sample value.") if scatter else ""
    return (
        "For each model set, the capability benchmarks' scores are z-scored over the models; "
        "PC1 of their Spearman correlation matrix (sign: largest loading positive) gives each "
        "model a capabilities score, and each benchmark's capabilities correlation is its "
        "Spearman correlation with that score over the models that have a score for it "
        "(Ren et al. 2024, arXiv 2407.21792). Uncertainty comes from a nonparametric bootstrap "
        f"over models: {md['n']:,} resamples (seed {md['seed']}), each redrawing the models with "
        "replacement and recomputing the whole pipeline (z-scores, Spearman matrix, PC1, score, "
        f"correlations); {md['method']} {md['level']:.0%} intervals"
        + (" with the acceleration from the whole-pipeline jackknife" if md["method"] == "bca" else "")
        + ". Verdicts compare the interval with the threshold "
        f"t = {md['threshold']}: entangled when it lies above t, anti-correlated below -t, "
        "distinct inside (-t, t), indeterminate when it straddles a boundary. Resamples in which "
        "a benchmark is constant among the drawn models give no correlation and are counted as "
        "degenerate. Safety areas follow swjax's documented map (data/areas.csv)."
        + measure + families + pvalues + band
    )


def _file_part(name: str) -> str:
    """A benchmark id as part of a file name: letters, digits, '.', '-' and '_' kept, the rest '_'."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in str(name))


def _png(fig) -> bytes:
    return figures.to_bytes(fig, "png", dpi=110)


_SETTLE_COLUMNS = [
    ("", "benchmark", "index"), ("name", "name", "text"), ("verdict", "verdict now", "verdict"),
    ("estimate", "estimate", "num"), ("n_models", "models", "int"), ("m_needed", "models needed", "int"),
    ("power_max", "power at the largest m", "num"),
]


def _settle_section(plan, table: pd.DataFrame, s: str):
    """(html, markdown, file name, PNG) of the "What would settle it" part of one set (:mod:`swjax.plan`)."""
    md = plan.metadata
    need = plan.needed.copy()
    need["verdict"] = table["verdict"].reindex(need.index).fillna("")
    need = need.sort_values("m_needed", na_position="last")
    name = f"power_{s}.png"
    png = _png(figures.plot_power(plan))
    text = (
        f"How many models would settle each verdict: the power (probability that the {md['level']:.0%} "
        f"{md['method']} interval clears the band +-{md['threshold']:g}) over {', '.join(map(str, md['grid']))} "
        f"models, from {md['datasets']} datasets x {md['n']} resamples per point simulated from a model fitted to "
        f"this set (capability structure, each benchmark's correlation, ties, missing cells; swjax/plan.py). "
        f"'models needed' is the smallest of these reaching {md['target']:.0%} power; empty: none does."
    )
    caption = "Power against number of models, one line per benchmark; the dashed line is the target."
    data = base64.b64encode(png).decode("ascii")
    html_part = "\n".join([
        "<h3>What would settle it</h3>", f"<p>{html.escape(text)}</p>", _html_table(need, _SETTLE_COLUMNS),
        f'<figure><img alt="{name}" src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}</figcaption></figure>',
    ])
    md_part = "\n".join([
        "### What would settle it", "", text, "",
        _md_table(need, [(f, lab, "text" if k == "verdict" else k) for f, lab, k in _SETTLE_COLUMNS]), "",
        f"![{caption}]({name})", "",
    ])
    return html_part, md_part, name, png


def build_report(results, *, published=None, command: str | None = None, scatter_for=None, plans=None) -> dict:
    """The report's parts: ``html``, ``markdown``, ``figures`` (file name -> PNG bytes), ``manifest``.

    Parameters
    ----------
    results : list of BootstrapResult or CorrelateResult
        One per model set.
    published : dict or path, optional
        See :func:`load_published`.
    command : str, optional
        The command line, for the manifest.
    scatter_for : dict, optional
        set -> (benchmark, Dataset), or a list of them: a scatter figure of each benchmark
        (``scatter_SET_BENCHMARK.png``).
    plans : dict, optional
        set -> :class:`swjax.plan.PlanResult`: add a "What would settle it" section (models
        needed per benchmark and the power curves).

    The scree plot is drawn for results that kept their resampled eigenvalues
    (``bootstrap(..., eigenvalues=True)``, as ``swjax report`` does).
    """
    results = list(results)
    if not results:
        raise SwjaxError("results: nothing to report")
    pub = load_published(published)
    pngs: dict[str, bytes] = {}
    html_parts, md_parts = [], []
    manifest = {"command": command or "", "environment": environment(), "runs": []}
    for r in results:
        res, new, _ = figures._unpack(r)
        md = res.metadata
        s = md["set"]
        manifest["runs"].append({"metadata": md, "summary": frame_to_json(res.summary)})
        figs = [
            (f"forest_{s}.png", figures.forest(r), "Capabilities correlation of the paper's main-table "
             "safety benchmarks (and capability benchmarks for reference) with the bootstrap interval, "
             "coloured by verdict, grouped by safety area."),
            (f"heatmap_{s}.png", figures.heatmap(r), "Spearman correlations between the capability benchmarks."),
        ]
        if res.eigenvalues is not None:  # kept by bootstrap(..., eigenvalues=True)
            figs.insert(1, (f"scree_{s}.png", figures.scree(r), "Eigenvalues of the capability correlation "
                            "matrix with bootstrap percentile intervals."))
        wanted = (scatter_for or {}).get(s, [])
        for bench, ds in [wanted] if isinstance(wanted, tuple) else wanted:
            figs.append((f"scatter_{s}_{_file_part(bench)}.png", figures.scatter(r, bench, ds),
                         f"{bench} against the capabilities score."))
        for name, fig, _ in figs:
            pngs[name] = _png(fig)
        summ = res.summary
        counts = res.table.loc[~res.table["capability"], "verdict"].value_counts()
        stats_line = (
            f"{md['n_models']} models; PC1 explains {_f(summ.at['variance_explained', 'estimate'], 3)} "
            f"[{_f(summ.at['variance_explained', 'low'], 3)}, {_f(summ.at['variance_explained', 'high'], 3)}] "
            f"of the capability variance; compute correlation {_f(summ.at['compute_correlation', 'estimate'], 2)} "
            f"[{_f(summ.at['compute_correlation', 'low'], 2)}, {_f(summ.at['compute_correlation', 'high'], 2)}]. "
            "Non-capability benchmarks: "
            + ", ".join(f"{c} {v}" for v, c in counts.items()) + "."
        )
        pv = paper_verdicts(r, pub)
        full = res.table.copy()
        amap = figures.areas()
        full["area"] = [
            "new" if b in new else ("capabilities" if full.at[b, "capability"] else amap["area"].get(b, "other"))
            for b in full.index
        ]
        full = full.sort_values("estimate", ascending=False, na_position="last")
        # HTML
        sec = [f'<h2 id="set-{s}">{html.escape(s)} models</h2>', f"<p>{html.escape(stats_line)}</p>"]
        if new:
            nt = r.table
            sec.append("<h3>New benchmarks</h3>")
            sec.append(_html_table(nt, [
                ("", "benchmark", "index"), ("estimate", "estimate", "num"), ("low", "low", "num"),
                ("high", "high", "num"), ("verdict", "verdict", "verdict"), ("n_models", "models", "int"),
                ("rank", "rank", "int"), ("neighbours", "nearest public benchmarks", "text"),
            ]))
            if r.unmatched:
                sec.append(f"<p>Not in the set (left out): {html.escape(', '.join(r.unmatched))}</p>")
        sec.append("<h3>The paper's verdicts with uncertainty</h3>")
        sec.append(
            "<p>Each benchmark of the paper's main tables: the published point estimate"
            + ("" if pub.get(s) else " (none given for this run)")
            + f" beside the estimate, {md['level']:.0%} interval and verdict computed here from the data.</p>"
        )
        sec.append(_html_table(pv, _PAPER_COLUMNS))
        settle = _settle_section(plans[s], res.table, s) if plans and s in plans else None
        if settle is not None:
            sec.append(settle[0])
            pngs[settle[2]] = settle[3]
        for name, _, caption in figs:
            # one figure a row, shown at its own size (shrunk only on a narrower page): side by
            # side, the heatmap's and scree plot's labels came out too small to read
            data = base64.b64encode(pngs[name]).decode("ascii")
            sec.append(
                f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        sec.append(f"<h3>Every benchmark ({len(full)})</h3><p>Click a column header to sort.</p>")
        sec.append('<div class="scroll">' + _html_table(full, _ALL_COLUMNS) + "</div>")
        html_parts.append("\n".join(sec))
        # markdown
        mds = [f"## {s} models", "", stats_line, ""]
        if new:
            mds += ["### New benchmarks", "", _md_table(r.table, [
                ("", "benchmark", "index"), ("estimate", "estimate", "num"), ("low", "low", "num"),
                ("high", "high", "num"), ("verdict", "verdict", "text"), ("n_models", "models", "text"),
                ("neighbours", "nearest public benchmarks", "text"),
            ]), ""]
        mds += ["### The paper's verdicts with uncertainty", "",
                _md_table(pv, [(f, lab, "text" if k == "verdict" else k) for f, lab, k in _PAPER_COLUMNS]), ""]
        if settle is not None:
            mds += [settle[1]]
        for name, _, caption in figs:
            mds += [f"![{caption}]({name})", ""]
        mds += [f"### Every benchmark ({len(full)})", "",
                _md_table(full, [(f, lab, "text" if k == "verdict" else k) for f, lab, k in _ALL_COLUMNS]), ""]
        md_parts.append("\n".join(mds))

    title = "swjax report: capabilities correlations with uncertainty"
    if _measure(results) != "paper":
        title += f" (capability measure {_measure(results)})"
    sets = ", ".join(figures._unpack(r)[0].metadata["set"] for r in results)
    methods = _methods(results, scatter=any(name.startswith("scatter_") for name in pngs))
    manifest_json = dumps(manifest)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="lede">Model sets: {html.escape(sets)}. Does each safety benchmark measure something other than general
capabilities, and how sure can we be with this many models?</p>
<h2>Methods</h2><p>{html.escape(methods)}</p>
{''.join(html_parts)}
<h2>Run manifest</h2><pre id="manifest">{html.escape(manifest_json)}</pre>
<script>{_JS}</script>
</body></html>
"""
    markdown = "\n".join(
        [f"# {title}", "", f"Model sets: {sets}.", "", "## Methods", "", methods, ""]
        + md_parts
        + ["## Run manifest", "", "```json", manifest_json.rstrip(), "```", ""]
    )
    return {"html": page, "markdown": markdown, "figures": pngs, "manifest": manifest_json}


def write_report(out, results, *, published=None, command: str | None = None, scatter_for=None, plans=None) -> Path:
    """Write ``report.html``, ``report.md``, the figures (PNG) and ``manifest.json`` to ``out``, all or nothing."""
    parts = build_report(results, published=published, command=command, scatter_for=scatter_for, plans=plans)
    out = Path(out)
    with atomic_dir(out, "report") as tmp:
        tmp.chmod(0o755)
        (tmp / "report.html").write_text(parts["html"], encoding="utf-8")
        (tmp / "report.md").write_text(parts["markdown"], encoding="utf-8")
        (tmp / "manifest.json").write_text(parts["manifest"], encoding="utf-8")
        for name, data in parts["figures"].items():  # flat: the folder holds files only
            (tmp / name).write_bytes(data)
    return out
