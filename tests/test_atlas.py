"""The atlas on real records (Every Eval Ever's HELM Classic, read from ../shared/real): its
cells against an independent computation written here, q-values across the atlas, resuming
from the cache, and populations it refuses to analyse with their reasons."""

import html
import importlib
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from swjax.atlas import atlas, bh_qvalues, populations

atlas_mod = importlib.import_module("swjax.atlas")  # the module (swjax.atlas is the function)

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real"
HELM = REAL / "every_eval_ever" / "records" / "helm_classic"
CAPS = ["MMLU", "BoolQ", "HellaSwag", "OpenbookQA", "NaturalQuestions (open-book)", "NarrativeQA", "QuAC", "RAFT"]

needs_real = pytest.mark.skipif(not HELM.is_dir(), reason=f"the real records are not here ({HELM})")
CHROMIUM = "/usr/bin/chromium"
SETTINGS = dict(capabilities=CAPS, n=300, permutations=300, seed=1)


@pytest.fixture(scope="module")
def helm(tmp_path_factory):
    """The atlas of HELM Classic (67 models, 8 capability benchmarks given) and its cache."""
    cache = tmp_path_factory.mktemp("atlas-cache")
    lines = []
    res = atlas([HELM], cache=cache, progress=lines.append, **SETTINGS)
    assert lines[0].startswith("atlas: 1 population(s), 1 to analyse (0 finished in an earlier run), 6 benchmark(s)")
    assert lines[0].endswith("a time estimate follows the first population")
    assert (cache / "rate.json").is_file()  # this machine's speed, for the next estimate
    return res, cache


def test_bh_qvalues_match_a_plain_loop():
    rng = np.random.default_rng(0)
    for size in (1, 2, 7, 50):
        p = rng.uniform(size=size) ** 3
        p[rng.uniform(size=size) < 0.2] = np.nan
        ok = np.flatnonzero(np.isfinite(p))
        m = len(ok)
        expected = np.full(size, np.nan)
        for i in ok:  # q_i = min over p_j >= p_i of p_j * m / rank_j
            expected[i] = min(1.0, min(p[j] * m / (np.sum(p[ok] <= p[j])) for j in ok if p[j] >= p[i]))
        np.testing.assert_allclose(bh_qvalues(p), expected, rtol=0, atol=1e-15)


def _reference(scores: pd.DataFrame, caps, bench) -> tuple[float, int]:
    """The released pipeline by scipy: complete-case models, ddof-0 z-scores, Spearman matrix,
    PC1 (largest loading positive), score, Spearman with the benchmark where it is observed."""
    cc = scores.dropna(subset=caps)
    x = cc[caps].to_numpy(float)
    z = (x - x.mean(0)) / x.std(0)
    rho = stats.spearmanr(x).statistic
    _, vecs = np.linalg.eigh(rho)
    v = vecs[:, -1]
    v = v if v[np.argmax(np.abs(v))] > 0 else -v
    score = z @ v
    seen = cc[bench].notna().to_numpy()
    return stats.spearmanr(cc[bench].to_numpy()[seen], score[seen]).statistic, int(seen.sum())


@needs_real
@pytest.mark.slow  # one bootstrap with permutations of a 67-model population
def test_atlas_of_helm_classic_against_an_independent_computation(helm, monkeypatch):
    res, cache = helm
    t = res.table.set_index("benchmark")
    assert (t["population"] == "helm_classic").all()
    assert set(t.index).isdisjoint(CAPS)  # capability benchmarks are the score, not rows
    scores = populations([HELM], capabilities=CAPS)[0].data.scores
    checked = 0
    for bench in t.index:
        est, k = _reference(scores, CAPS, bench)
        assert t.loc[bench, "estimate"] == pytest.approx(est, abs=1e-5), bench
        assert t.loc[bench, "n_models"] == k
        checked += 1
    assert checked >= 5
    assert (t["low"] <= t["estimate"]).all() and (t["estimate"] <= t["high"]).all()
    np.testing.assert_allclose(t["q_value"], bh_qvalues(t["p_value"].to_numpy(float)), rtol=0, atol=0)
    # the models behind each row: the complete-case models where the benchmark is observed
    cc = scores.dropna(subset=CAPS)
    assert res.models[("helm_classic", "XSUM")] == list(cc.index[cc["XSUM"].notna()])
    # run again: every population comes from the cache, nothing is recomputed
    monkeypatch.setattr(atlas_mod, "_analyse", lambda *a, **k: pytest.fail("recomputed a finished population"))
    lines = []
    again = atlas([HELM], cache=cache, progress=lines.append, **SETTINGS)
    pd.testing.assert_frame_equal(again.table, res.table, check_dtype=False)
    assert "(1 finished in an earlier run)" in lines[0] and lines[0].endswith("nothing to compute")
    # a changed setting is a new key: computed again
    lines = []
    with pytest.raises(pytest.fail.Exception):
        atlas([HELM], cache=cache, progress=lines.append, **dict(SETTINGS, n=301))
    assert "left by the speed of earlier runs here" in lines[0]


@needs_real
@pytest.mark.slow  # shares the atlas of the test above
def test_atlas_outputs_read_back(helm, tmp_path):
    res, _ = helm
    out = res.write(tmp_path / "atlas")
    csv = pd.read_csv(out / "atlas.csv")
    np.testing.assert_allclose(csv["estimate"], res.table["estimate"], rtol=0, atol=1e-12)
    assert list(csv.columns) == list(res.table.columns)
    doc = json.loads((out / "atlas.json").read_text())
    assert [r["benchmark"] for r in doc["table"]] == list(res.table["benchmark"])
    assert doc["metadata"]["sources"][0]["files"] == 67 and len(doc["metadata"]["sources"][0]["sha256"]) == 64
    assert {m["benchmark"]: len(m["models"]) for m in doc["models"]} == dict(zip(res.table["benchmark"], res.table["n_models"]))
    pytest.importorskip("pyarrow")
    pd.testing.assert_frame_equal(pd.read_parquet(out / "atlas.parquet"), res.table, check_dtype=False)


@needs_real
@pytest.mark.slow  # shares the atlas above; starts a browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium (/usr/bin/chromium) is not installed; .ci/run installs it")
def test_atlas_page_in_headless_chromium(helm, tmp_path):
    """The page in a real browser: the forest decodes, every row is there, the verdict filter
    hides the other verdicts, the sorter orders by estimate, each row lists its models."""
    res, _ = helm
    out = res.write(tmp_path / "atlas")
    verdict = res.table["verdict"].iloc[0]
    script = """
<script>
window.addEventListener('load', function(){
  var imgs = Array.prototype.slice.call(document.images);
  var decoded = imgs.filter(function(i){ return i.complete && i.naturalWidth > 100; });
  var table = document.getElementById('atlas');
  var rows = table.tBodies[0].rows.length;
  var sel = document.getElementById('f-verdict'); sel.value = %s; sel.dispatchEvent(new Event('change'));
  var shown = Array.prototype.filter.call(table.tBodies[0].rows, function(r){ return r.style.display !== 'none'; });
  table.querySelectorAll('th')[3].click();
  var v = Array.prototype.map.call(table.tBodies[0].rows, function(r){ return parseFloat(r.cells[3].getAttribute('data-v')); });
  var sorted = v.every(function(x, i){ return i === 0 || v[i - 1] <= x; });
  var out = document.createElement('div'); out.id = 'probe-result';
  out.textContent = JSON.stringify({images: imgs.length, decoded: decoded.length, rows: rows, shown: shown.length,
    shown_verdicts: shown.map(function(r){ return r.getAttribute('data-verdict'); }), sorted: sorted,
    listed: table.tBodies[0].rows[0].cells[9].querySelector('summary').textContent,
    count: document.getElementById('f-count').textContent});
  document.body.appendChild(out);
});
</script>""" % json.dumps(verdict)
    probe = tmp_path / "probe.html"
    probe.write_text((out / "index.html").read_text().replace("</body>", script + "</body>"))
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<div id="probe-result">(.*?)</div>', run.stdout)
    assert found, run.stdout[-2000:]
    info = json.loads(html.unescape(found.group(1)))
    assert info["images"] == 1 and info["decoded"] == 1  # one population, one forest
    assert info["rows"] == len(res.table) and info["sorted"] is True
    assert info["shown"] == int((res.table["verdict"] == verdict).sum()) and set(info["shown_verdicts"]) == {verdict}
    assert info["count"] == f"{info['shown']} of {len(res.table)} rows"
    assert int(info["listed"]) in set(res.table["n_models"])


def test_bad_sources_are_one_clear_error_before_any_work(tmp_path):
    import swjax

    with pytest.raises(swjax.SwjaxError, match=r"sources: .*nowhere: no such file or folder"):
        atlas([tmp_path / "nowhere"], capabilities=CAPS)
    board = tmp_path / "board.csv"
    pd.DataFrame({"model": [f"m{i}" for i in range(8)], "a": range(8), "b": range(8)}).to_csv(board, index=False)
    with pytest.raises(swjax.SwjaxError, match=r"no population could be analysed: board.csv: no capability set"):
        atlas([board], cache=False)


@needs_real
@pytest.mark.slow  # reads the 67 records five times
def test_populations_say_why_they_are_not_analysed(tmp_path):
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "x.json").write_text("{not json")
    pops = populations([HELM, bad], capabilities=["MMLU", "BoolQ"], min_models=20)
    helm, broken = pops
    assert helm.name == "helm_classic" and helm.skipped.startswith("no capability set of at least 3 benchmarks")
    assert broken.skipped.startswith("could not be read: ") and broken.data is None
    # no capability set given and none marked by the import: never guessed
    (pop,) = populations([HELM])
    assert pop.capabilities == () and "none marked" in pop.skipped
    # benchmarks below the minimum of models are listed with their counts
    # (counted among the models with every capability score, those the analysis keeps)
    (pop,) = populations([HELM], capabilities=CAPS, min_models=31)
    cc = pop.data.scores.dropna(subset=CAPS).drop(columns=CAPS)
    assert pop.few_models == {b: int(k) for b, k in cc.notna().sum().items() if k < 31} != {}
    assert not pop.skipped
    (merged,) = populations([HELM, HELM], capabilities=CAPS, merge=True, duplicates="mean")
    assert merged.name == "merged" and merged.sources == (str(HELM), str(HELM))


@needs_real
@pytest.mark.slow  # shares the atlas above (its cache): the command reads it back
def test_cli_atlas_writes_the_folder_and_names_what_it_skipped(helm, tmp_path):
    from typer.testing import CliRunner

    from swjax.cli import app

    _, cache = helm
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.json").write_text("{not json")
    out = tmp_path / "atlas"
    got = CliRunner().invoke(app, ["atlas", str(HELM), str(broken), "--capabilities", ",".join(CAPS), "--n", "300",
                                   "--permutations", "300", "--seed", "1", "--cache", str(cache), "--out", str(out),
                                   "--revision", "rev-1"])
    assert got.exit_code == 0, got.output
    assert "already computed" in got.output  # the population came from the cache the fixture filled
    assert "broken: not analysed (could not be read:" in got.output
    assert {p.name for p in out.iterdir()} >= {"atlas.csv", "atlas.json", "populations.csv", "index.html", "manifest.json"}
    assert len(pd.read_csv(out / "atlas.csv")) == 6
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sources"][0]["revision"] == "rev-1" and manifest["sources"][0]["files"] == 67
    bad = CliRunner().invoke(app, ["atlas", str(HELM), "--families", "public", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "the atlas takes 'auto'" in bad.output
    assert not (tmp_path / "x").exists()


@pytest.mark.slow  # compiles a bootstrap with permutations of the merged population
def test_cli_atlas_merge_is_one_population(tmp_path):
    from typer.testing import CliRunner

    from swjax.cli import app

    rng = np.random.default_rng(3)
    latent = rng.normal(size=24)
    paths = []
    for part, models in enumerate((range(0, 12), range(12, 24))):
        frame = pd.DataFrame({c: latent[list(models)] + rng.normal(scale=0.5, size=12) for c in ["c0", "c1", "c2", "s0"]})
        frame.insert(0, "model", [f"org{i % 5}/model-{i}" for i in models])
        paths.append(tmp_path / f"board{part}.csv")
        frame.to_csv(paths[-1], index=False)
    out = tmp_path / "atlas"
    got = CliRunner().invoke(app, ["atlas", *map(str, paths), "--merge", "--capabilities", "c0,c1,c2", "--min-models",
                                   "20", "--n", "200", "--permutations", "200", "--no-cache", "--out", str(out)])
    assert got.exit_code == 0, got.output
    pops = pd.read_csv(out / "populations.csv")
    assert list(pops["population"]) == ["merged"] and pops.loc[0, "models"] == 24
    table = pd.read_csv(out / "atlas.csv")
    assert list(table["benchmark"]) == ["s0"] and table.loc[0, "n_models"] == 24
    # one source alone has 12 models: below --min-models 20, so nothing to analyse
    alone = CliRunner().invoke(app, ["atlas", str(paths[0]), "--capabilities", "c0,c1,c2", "--no-cache",
                                     "--out", str(tmp_path / "alone")])
    assert alone.exit_code == 2 and "no population could be analysed" in alone.output


def test_imputed_population_beyond_the_validated_share_is_skipped_with_the_reason(tmp_path):
    """Under ``missing="impute"`` a population whose capability cells are missing beyond the
    share where imputed intervals were validated is listed, not analysed, with the share named."""
    from swjax.validate import IMPUTE_VALIDATED_SHARE

    rng = np.random.default_rng(3)
    g = rng.normal(size=30)
    frame = pd.DataFrame({c: g + rng.normal(size=30) for c in ("c1", "c2", "c3", "s1")},
                         index=pd.Index([f"m{i}" for i in range(30)], name="model"))
    sparse = frame.copy()
    sparse.iloc[:12, 0] = np.nan  # 12 of 90 capability cells: 13 %
    sparse.iloc[12:21, 1] = np.nan  # and 9 more: 23 %
    dense = frame.copy()
    dense.iloc[:12, 0] = np.nan
    for name, data in (("sparse.csv", sparse), ("dense.csv", dense)):
        data.to_csv(tmp_path / name)
    pops = populations([tmp_path / "sparse.csv", tmp_path / "dense.csv"], capabilities=["c1", "c2", "c3"],
                       missing="impute")
    assert 21 / 90 > IMPUTE_VALIDATED_SHARE >= 12 / 90
    assert pops[0].skipped.startswith("23.3% of the capability scores are missing (21 of 90), more than the")
    assert "most missing: c1 40%, c2 30%" in pops[0].skipped
    assert not pops[1].skipped
