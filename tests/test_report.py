"""report: the HTML page and its markdown twin, checked in a real headless browser."""

import base64
import html
import json
import re
import subprocess
import warnings
from pathlib import Path

import pytest

import swjax
from swjax.report import build_report, load_published, paper_verdicts, write_report

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def results(chat, base):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", swjax.DegenerateResampleWarning)
        return [swjax.bootstrap(d, n=300, seed=0, eigenvalues=True) for d in (base, chat)]


@pytest.fixture(scope="module")
def published():
    path = Path(__file__).resolve().parents[1].parent / "shared" / "paper_targets.json"
    return load_published(path) if path.is_file() else {"chat": {"MT_Bench": 0.787}}


@pytest.fixture(scope="module")
def report_dir(results, published, tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "report"
    write_report(out, results, published=published, command="swjax report --n 300")
    return out


def test_paper_verdicts_are_computed_not_typed(results, published):
    chat = results[1]
    pv = paper_verdicts(chat, published)
    assert len(pv) == 25
    assert "MT_Bench" in pv.index and "wmdp_bio" in pv.index
    # our estimate is the data's, beside the published one (which it reproduces to rounding)
    assert pv.loc["MT_Bench", "estimate"] == chat.table.loc["MT_Bench", "estimate"]
    assert pv.loc["MT_Bench", "published"] == pytest.approx(pv.loc["MT_Bench", "estimate"], abs=0.002)
    assert (pv["low"] <= pv["estimate"]).all() and (pv["estimate"] <= pv["high"]).all()
    none = paper_verdicts(chat, {})
    assert none["published"].isna().all() and none["estimate"].notna().all()


def test_files_and_markdown(report_dir):
    names = {p.name for p in report_dir.iterdir()}
    assert {"report.html", "report.md", "manifest.json", "forest_chat.png", "scree_base.png", "heatmap_chat.png"} <= names
    md = (report_dir / "report.md").read_text()
    assert "## Methods" in md and "### The paper's verdicts with uncertainty" in md
    assert "![" in md and "(forest_chat.png)" in md
    assert re.search(r"\| MT_Bench \| MT Bench \| alignment \| 0\.787 \| 0\.78\d", md)
    manifest = json.loads((report_dir / "manifest.json").read_text())
    assert [r["metadata"]["set"] for r in manifest["runs"]] == ["base", "chat"]


def test_html_is_self_contained(report_dir):
    page = (report_dir / "report.html").read_text()
    assert "http://" not in page and "https://" not in page.replace("https://arxiv", "")
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 6
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert page.count('<table class="sortable">') == 4
    assert "swjax report --n 300" in html.unescape(page)


def test_build_report_with_new_benchmark(chat):
    import pandas as pd

    frame = pd.DataFrame({"mine": chat.scores["MT_Bench"]})
    res = swjax.correlate(frame, chat, n=300)
    parts = build_report([res], published={}, scatter_for={"chat": ("mine", res.dataset)})
    assert "New benchmarks" in parts["html"] and "scatter_chat_mine.png" in parts["figures"]
    assert "| mine |" in parts["markdown"]
    assert "scree_chat.png" not in parts["figures"]  # the run kept no resampled eigenvalues


def _chromium(*args, tmp):
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}", *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium (/usr/bin/chromium) is not installed; .ci/run installs it")
def test_report_renders_in_headless_chromium(report_dir, tmp_path):
    """Load the page in a real browser: the images decode (naturalWidth > 0), the tables render
    with their rows, and the inline sorter reorders a column on click."""
    probe = tmp_path / "probe.html"
    page = (report_dir / "report.html").read_text()
    script = """
<script>
window.addEventListener('load', function(){
  var imgs = Array.prototype.slice.call(document.images);
  var decoded = imgs.filter(function(i){ return i.complete && i.naturalWidth > 100 && i.naturalHeight > 100; });
  var tables = document.querySelectorAll('table.sortable');
  var big = tables[tables.length - 1];
  var th = big.querySelectorAll('th')[3];  /* estimate */
  th.click();
  var first = parseFloat(big.tBodies[0].rows[0].cells[3].getAttribute('data-v'));
  var second = parseFloat(big.tBodies[0].rows[1].cells[3].getAttribute('data-v'));
  var out = document.createElement('div');
  out.id = 'probe-result';
  out.textContent = JSON.stringify({images: imgs.length, decoded: decoded.length, tables: tables.length,
    rows: big.tBodies[0].rows.length, sorted_ascending: first <= second, heading: document.querySelector('h1').textContent});
  document.body.appendChild(out);
});
</script>"""
    probe.write_text(page.replace("</body>", script + "</body>"))
    res = _chromium("--virtual-time-budget=10000", "--dump-dom", probe.as_uri(), tmp=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    found = re.search(r'<div id="probe-result">(.*?)</div>', res.stdout)
    assert found, res.stdout[-2000:]
    info = json.loads(html.unescape(found.group(1)))
    assert info["images"] == 6 and info["decoded"] == 6
    assert info["tables"] == 4 and info["rows"] > 150
    assert info["sorted_ascending"] is True
    assert info["heading"].startswith("swjax report")
    shot = _chromium("--window-size=1200,1600", f"--screenshot={tmp_path / 'shot.png'}",
                     (report_dir / "report.html").as_uri(), tmp=tmp_path)
    assert shot.returncode == 0 and (tmp_path / "shot.png").stat().st_size > 20000


_LAYOUT_PROBE = """
<script>
window.addEventListener('load', function(){
  var view = document.documentElement.clientWidth;
  var tables = Array.prototype.slice.call(document.querySelectorAll('table')).map(function(t){
    var r = t.getBoundingClientRect(), box = t.parentElement;
    return {left: r.left, right: r.right, width: t.scrollWidth, room: box.clientWidth, rows: t.rows.length};
  });
  var images = Array.prototype.slice.call(document.images).map(function(i){
    return {alt: i.alt, shown: i.getBoundingClientRect().width, natural: i.naturalWidth};
  });
  var out = document.createElement('div');
  out.id = 'probe-result';
  out.textContent = JSON.stringify({inner: window.innerWidth, view: view,
    page: document.documentElement.scrollWidth, tables: tables, images: images});
  document.body.appendChild(out);
});
</script>"""


def _png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium (/usr/bin/chromium) is not installed; .ci/run installs it")
@pytest.mark.parametrize("width", [800, 1400])
def test_report_fits_the_page(report_dir, results, tmp_path, width):
    """At a narrow and a wide window: no table is wider than the room it has (nor runs past the
    window, nor makes the page scroll sideways), and the heatmap's and scree plot's smallest
    text is shown at 9 px or more. Screenshots at both widths are written too."""
    from matplotlib.text import Text

    from swjax import figures

    probe = tmp_path / "probe.html"
    probe.write_text((report_dir / "report.html").read_text().replace("</body>", _LAYOUT_PROBE + "</body>"))
    size = f"--window-size={width},1600"
    res = _chromium(size, "--hide-scrollbars", "--force-device-scale-factor=1", "--virtual-time-budget=10000",
                    "--dump-dom", probe.as_uri(), tmp=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    found = re.search(r'<div id="probe-result">(.*?)</div>', res.stdout)
    assert found, res.stdout[-2000:]
    info = json.loads(html.unescape(found.group(1)))
    assert info["inner"] == width
    assert info["page"] <= info["view"], "the page scrolls sideways"
    assert len(info["tables"]) == 4 and all(t["rows"] > 10 for t in info["tables"])
    for t in info["tables"]:
        assert 0 <= t["left"] and t["right"] <= info["view"] + 0.5, t
        assert t["width"] <= t["room"] + 1, t  # fits its box without a sideways scroll bar
    for r in results:
        s = r.metadata["set"]
        for kind, fig in (("heatmap", figures.heatmap(r)), ("scree", figures.scree(r))):
            (img,) = [i for i in info["images"] if i["alt"] == f"{kind}_{s}.png"]
            smallest = min(t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible())
            px = smallest * img["shown"] / (fig.get_figwidth() * 72)  # points -> pixels shown
            assert px >= 9, (kind, s, round(px, 1), img)
    shot = tmp_path / f"report_{width}.png"
    done = _chromium(size, "--hide-scrollbars", "--force-device-scale-factor=1", f"--screenshot={shot}",
                     (report_dir / "report.html").as_uri(), tmp=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _png_size(shot) == (width, 1600) and shot.stat().st_size > 20000


def test_cli_report(tmp_path):
    from typer.testing import CliRunner

    from swjax.cli import app

    out = tmp_path / "r"
    res = CliRunner().invoke(app, ["report", "--set", "chat", "--n", "300", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").stat().st_size > 10000 and (out / "report.md").exists()
