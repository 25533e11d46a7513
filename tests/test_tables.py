"""Terminal tables: they fit the width, never cut an id short, and show only what was computed."""

import io
import re

import numpy as np
import pytest

import swjax
from swjax import tables
from swjax.tables import _fmt_p


@pytest.fixture(scope="module")
def result():
    return swjax.bootstrap("chat", n=200, seed=0, permutations=2000)


def _render(result, width, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(width))
    out = io.StringIO()
    tables.bootstrap_rich(result, file=out)
    return out.getvalue()


def _body(text):
    """(header line, row lines) of the first table in ``text``: the rows follow the header's rule."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.strip() and set(line.strip()) == {"─"})
    rows = []
    for line in lines[rule + 1:]:
        if not line.strip() or line.startswith("("):
            break
        rows.append(line)
    return lines[rule - 1], rows


def _cell(line, header, head):
    """The cell of a right-justified column: the text that ends where its header ends."""
    end = header.index(head) + len(head)
    return line[:end].split()[-1]


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
@pytest.mark.parametrize("which, width", [("main", 80), ("all", 120), ("all", 160), ("all", 80)])
def test_table_fits_the_width_and_keeps_every_id_and_verdict_whole(result, which, width, monkeypatch):
    full = result.select(which)
    text = _render(full, width, monkeypatch)
    header, rows = _body(text)
    if (which, width) != ("all", 80):  # a 55-character id beside the interval and verdict needs 104
        assert max(len(line) for line in text.splitlines()) <= width
    # One row a benchmark: the id whole at the start of its line (never folded nor cut), and the
    # verdict whole after the interval.
    assert len(rows) == len(full.table)
    ids = [line.split()[0] for line in rows]
    assert sorted(ids) == sorted(full.table.index) and "…" not in text
    for line in rows:
        row = full.table.loc[line.split()[0]]
        interval = f"[{row['low']:.3f}, {row['high']:.3f}]"
        assert interval in line and re.search(rf"\s{re.escape(row['verdict'])}(\s|$)", line[line.index(interval):])
    lines = text.splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith("(not shown at")]
    missing = [h for h in ("name", "se", "note") if h not in header.split()]
    assert bool(at) == bool(missing), text[:400]
    if at:  # what gave way is named, and only that
        note = " ".join(" ".join(lines[at[0]:at[0] + 2]).split())
        assert note.startswith(f"(not shown at {width} columns: ") and "--format csv" in note
        named = note.split(": ", 1)[1].split(";")[0].split(", ")
        assert set(missing) <= set(named) and not any(h in header.split() for h in named if " " not in h)


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_p_columns_only_with_permutations_and_small_p_as_less_than(result, monkeypatch):
    header, rows = _body(_render(result, 160, monkeypatch))
    assert re.search(r"\s p\s", header) and "q (BH)" in header
    p_cells = {_cell(r, header, " p") for r in rows} | {_cell(r, header, "q (BH)").split()[-1] for r in rows}
    assert "<0.001" in p_cells and "0.000" not in p_cells
    plain = swjax.bootstrap("chat", n=200, seed=0)
    header, _ = _body(_render(plain, 160, monkeypatch))
    assert "q (BH)" not in header and not re.search(r"\s p\s", header)


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_model_counts_show_where_a_benchmark_has_fewer_models(result, monkeypatch):
    header, rows = _body(_render(result.select("main"), 80, monkeypatch))
    assert re.search(r"\s n\s", header)
    counts = {line.split()[0]: _cell(line, header, " n") for line in rows}
    assert counts["LMSYS_Chatbot_Arena"] == "20" and counts["MT_Bench"] == "26"


def test_p_format():
    assert [_fmt_p(p) for p in (0.0004, 0.001, 0.0123, 0.5, np.nan, None)] == [
        "<0.001", "0.001", "0.012", "0.500", "", ""]


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
@pytest.mark.parametrize("width", [80, 100, 140])
def test_any_result_frame_fits_the_width_and_says_what_it_left_out(width, monkeypatch):
    """lobo, subsets and compare print through frame_rich: intervals as one column, every id
    whole, the table within the width, and the columns that did not fit named."""
    monkeypatch.setenv("COLUMNS", str(width))
    res = swjax.subsets("chat", min_size=11)
    out = io.StringIO()
    tables.frame_rich(res.table, "subsets", file=out)
    text = out.getvalue()
    header, rows = _body(text)
    assert max(len(line) for line in text.splitlines()) <= width
    assert [line.split()[0] for line in rows] == list(res.table.index)
    row = res.table.iloc[0]
    assert f"{row['full']:.3f}" in rows[0] and row["label"] in rows[0]
    if "across specs" in header:  # q025 and q975 printed as one interval
        assert f"[{row['q025']:.3f}, {row['q975']:.3f}]" in text
    if width == 80:
        note = " ".join(text.splitlines()[[i for i, line in enumerate(text.splitlines())
                                           if line.startswith("(not shown")][0]:])
        assert "at 80 columns:" in note and "--format csv" in note


def test_a_method_column_beside_an_interval_is_headed_method():
    import pandas as pd

    frame = pd.DataFrame({"estimate": [0.5], "low": [0.1], "high": [0.7], "interval": ["bca"],
                          "verdict": ["indeterminate"]}, index=pd.Index(["a"], name="model"))
    out = io.StringIO()
    tables.frame_rich(frame, file=out)
    header, rows = _body(out.getvalue())
    assert header.split() == ["model", "estimate", "interval", "method", "verdict"]
    assert "[0.100, 0.700]  bca" in rows[0]


def test_p_values_and_verdicts_in_a_result_frame():
    import pandas as pd

    frame = pd.DataFrame({"estimate": [0.5, -0.1], "p_value": [0.0004, 0.2], "verdict": ["entangled", "distinct"],
                          "empty": [np.nan, np.nan]}, index=pd.Index(["a", "b"], name="benchmark"))
    out = io.StringIO()
    tables.frame_rich(frame, file=out)
    text = out.getvalue()
    assert "<0.001" in text and "0.200" in text and "entangled" in text and "empty" not in text


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_bootstrap_csv_has_the_summary_rows_and_parquet_the_same_frame(tmp_path):
    from typer.testing import CliRunner

    from swjax.cli import app

    r = CliRunner()
    out = r.invoke(app, ["bootstrap", "--set", "chat", "--n", "60", "--format", "csv"])
    assert out.exit_code == 0, out.output
    import pandas as pd

    csv = pd.read_csv(io.StringIO(out.stdout), index_col=0)
    summary = csv[csv["kind"] == "summary"]
    assert list(summary.index) == ["variance_explained", "mean_intercorrelation", "compute_correlation"]
    boot = swjax.bootstrap("chat", n=60).summary
    np.testing.assert_allclose(summary["low"], boot["low"], rtol=0, atol=1e-12)
    pytest.importorskip("pyarrow")
    out = r.invoke(app, ["bootstrap", "--set", "chat", "--n", "60", "--format", "parquet", "--out", str(tmp_path / "o")])
    assert out.exit_code == 0
    res = r.invoke(app, ["compare", "adv_glue", "glue", "--set", "chat", "--n", "60", "--format", "parquet",
                         "--out", str(tmp_path / "c.parquet")])
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(tmp_path / "c.parquet")
    ref = swjax.compare("chat", "adv_glue", "glue", n=60).table
    assert list(table.index) == list(ref.index)
    np.testing.assert_array_equal(table["p_value"].to_numpy(), ref["p_value"].to_numpy())


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_lobo_with_resamples_shows_its_intervals(monkeypatch):
    from typer.testing import CliRunner

    from swjax.cli import app

    monkeypatch.setenv("COLUMNS", "160")
    out = CliRunner().invoke(app, ["lobo", "--set", "chat", "--n", "60"])
    assert out.exit_code == 0, out.output
    lo = swjax.lobo("chat", n=60)
    full = lo.intervals[(lo.intervals["variant"] == "full") & (lo.intervals["benchmark"] == "toxigen")].iloc[0]
    assert f"[{full['low']:.3f}, {full['high']:.3f}]" in out.stdout and "verdict_changes" in out.stdout


@pytest.mark.parametrize("width", [80, 120])
def test_correlate_table_fits_the_width_like_the_others(width, monkeypatch):
    """correlate's table follows the terminal's width (it printed at 140 whatever the terminal):
    a long id stays whole, the verdict whole and coloured only on a terminal, and the columns
    that give way are named below."""
    import pandas as pd
    from types import SimpleNamespace

    long_id = "my_refusal_score_long_name_v2"  # with the required columns: 78 wide
    table = pd.DataFrame(
        {"estimate": [0.405, -0.9], "low": [0.005, np.nan], "high": [0.726, np.nan],
         "verdict": ["indeterminate", "no interval"], "n_models": [26, 4], "rank": [77.0, np.nan],
         "of": [178, 178], "neighbours": ["MT_Bench (0.91), truthfulqa_mc1 (0.88), wmdp_bio (0.80)", ""]},
        index=pd.Index([long_id, "b"], name="benchmark"))
    matches = pd.DataFrame({"how": ["id"] * 26})
    res = SimpleNamespace(table=table, matches=matches, unmatched=[], missing=[],
                          result=SimpleNamespace(metadata=dict(set="chat", n=300, method="bca", level=0.95,
                                                               threshold=0.4)))
    monkeypatch.setenv("COLUMNS", str(width))
    out = io.StringIO()
    tables.correlate_rich(res, file=out)
    text = out.getvalue()
    header, rows = _body(text)
    assert all(len(line) <= width for line in [header, *rows])
    assert rows[0].split()[0] == long_id and "indeterminate" in rows[0] and "[0.005, 0.726]" in rows[0]
    assert "no interval" in rows[1] and " none " in rows[1] + " "
    assert "nearest public benchmarks" not in header  # 54 characters wide: gives way first
    assert f"(not shown at {width} columns:" in text and "nearest public benchmarks;" in text
    assert ("rank" in header) == (width == 120)
    assert "\x1b[" not in text  # not a terminal: no colour codes
