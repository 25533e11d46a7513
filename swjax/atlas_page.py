"""The atlas as one self-contained HTML page: a sortable table of every (population, benchmark)
with filters by verdict and by population, a forest figure per population, the models each row
rests on, and the method, versions and provenance of the data. Figures are embedded (base64
PNG), the script is inline: the page opens from a file with no network."""

from __future__ import annotations

import base64
import html

from . import figures
from .report import _CSS, _JS, _badge, _f

__all__ = ["render"]

_FILTER_JS = """
function atlasFilter(){
  var v = document.getElementById('f-verdict').value, p = document.getElementById('f-population').value;
  var shown = 0;
  document.querySelectorAll('#atlas tbody tr').forEach(function(r){
    var ok = (!v || r.getAttribute('data-verdict') === v) && (!p || r.getAttribute('data-population') === p);
    r.style.display = ok ? '' : 'none';
    if (ok) shown += 1;
  });
  document.getElementById('f-count').textContent = shown + ' of ' +
    document.querySelectorAll('#atlas tbody tr').length + ' rows';
}
document.getElementById('f-verdict').addEventListener('change', atlasFilter);
document.getElementById('f-population').addEventListener('change', atlasFilter);
atlasFilter();
"""

_COLUMNS = [("population", "population", "text"), ("benchmark", "benchmark", "id"), ("n_models", "models", "int"),
            ("estimate", "estimate", "num"), ("low", "low", "num"), ("high", "high", "num"),
            ("interval", "interval", "text"), ("q_value", "q (BH)", "num"), ("verdict", "verdict", "verdict")]


def _cell(value, kind: str) -> str:
    if kind in ("num", "int"):
        v = _f(value, 0 if kind == "int" else 3)
        return f'<td class="num" data-v="{v or "NaN"}">{v}</td>'
    if kind == "verdict":
        return f'<td data-v="{html.escape(str(value))}">{_badge(str(value))}</td>'
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    cls = ' class="id"' if kind == "id" else ""
    return f'<td{cls} data-v="{html.escape(text)}">{html.escape(text)}</td>'


def _table(result) -> str:
    head = "".join(f'<th class="{"num" if k in ("num", "int") else ""}">{html.escape(h)}</th>' for _, h, k in _COLUMNS)
    body = []
    for row in result.table.itertuples(index=False):
        d = row._asdict()
        cells = "".join(_cell(d[f], k) for f, _, k in _COLUMNS)
        models = result.models.get((d["population"], d["benchmark"]), [])
        listed = html.escape(", ".join(map(str, models)))
        cells += f"<td><details><summary>{len(models)}</summary>{listed}</details></td>"
        body.append(f'<tr data-verdict="{html.escape(str(d["verdict"]))}" '
                    f'data-population="{html.escape(str(d["population"]))}">{cells}</tr>')
    return (f'<div class="table scroll"><table id="atlas" class="sortable"><thead><tr>{head}<th>rests on</th>'
            f'</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _options(values) -> str:
    return "".join(f'<option value="{html.escape(str(v))}">{html.escape(str(v))}</option>' for v in values)


def _population_sections(result) -> str:
    md = result.metadata
    out = []
    for p in result.populations.itertuples(index=False):
        parts = [f"<h3>{html.escape(p.population)}</h3>",
                 f"<p>Sources: <code>{html.escape(p.sources)}</code>; {p.models if p.models is not None else 'no'} "
                 "models.</p>"]
        if p.skipped:
            parts.append(f"<p><b>Not analysed:</b> {html.escape(p.skipped)}</p>")
        else:
            parts.append(f"<p>Capability set ({html.escape(p.capabilities_from)}): {html.escape(p.capabilities)}.</p>")
            if p.below_min_models:
                parts.append(f"<p>Below {md['min_models']} models (not analysed): {html.escape(p.below_min_models)}.</p>")
            rows = result.table[result.table["population"] == p.population]
            if len(rows):
                fig = figures.atlas_forest(rows, threshold=md["threshold"], level=md["level"],
                                           title=f"{p.population}: capabilities correlations ({md['n']:,} resamples)")
                png = base64.b64encode(figures.to_bytes(fig)).decode()
                parts.append(f'<figure><img alt="forest of {html.escape(p.population)}" '
                             f'src="data:image/png;base64,{png}"></figure>')
        out.append("".join(parts))
    return "".join(out)


def _provenance(result) -> str:
    md = result.metadata
    rows = [f"<tr><td>{html.escape(k)}</td><td><code>{html.escape(str(v))}</code></td></tr>"
            for k, v in md.get("environment", {}).items()]
    for src in md.get("sources", []):
        rows.append(f"<tr><td>source</td><td><code>{html.escape(src['path'])}</code>: {src['files']} files, "
                    f"sha256 <code>{html.escape(src['sha256'])}</code>"
                    + (f", revision <code>{html.escape(str(src['revision']))}</code>" if src.get("revision") else "")
                    + "</td></tr>")
    for name, sha in md.get("data_sha256", {}).items():
        rows.append(f"<tr><td>matrix of {html.escape(name)}</td><td>sha256 <code>{html.escape(sha)}</code></td></tr>")
    return f'<div class="table"><table>{"".join(rows)}</table></div>'


def render(result) -> str:
    """The atlas page of an :class:`swjax.atlas.AtlasResult`, as one HTML string."""
    md = result.metadata
    t = result.table
    counts = t["verdict"].value_counts()
    lede = (f"{len(t)} benchmark(s) in {int((result.populations['skipped'] == '').sum())} population(s) "
            f"({len(result.populations)} read); " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    method = (
        f"Each population is analysed as <code>swjax bootstrap</code> does: {md['n']:,} bootstrap resamples of the "
        f"models (seed {md['seed']}), the capabilities score as PC1 of the Spearman matrix of the population's "
        f"capability set, {md['level']:.0%} intervals ({html.escape(str(md.get('interval_note', '')))}), and a "
        f"verdict against |r| = {md['threshold']}. Benchmarks need {md['min_models']} models; fewer than 5 models "
        f"(or 3 families) give no interval. p-values come from {md['permutations']:,} permutations of the "
        f"benchmark against the score; q-values: {html.escape(md['q_values'])}."
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>swjax atlas</title><style>{_CSS}</style></head><body>
<h1>The capabilities atlas</h1>
<p class="lede">{html.escape(lede)}</p>
<h2>Every benchmark</h2>
<p><label>verdict <select id="f-verdict"><option value="">all</option>{_options(sorted(t["verdict"].unique()))}</select></label>
<label>population <select id="f-population"><option value="">all</option>{_options(result.populations["population"])}</select></label>
<span id="f-count"></span></p>
{_table(result)}
<h2>Populations</h2>
{_population_sections(result)}
<h2>Method</h2>
<p>{method}</p>
<h2>Provenance</h2>
{_provenance(result)}
<script>{_JS}</script><script>{_FILTER_JS}</script>
</body></html>
"""
