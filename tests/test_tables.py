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


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
@pytest.mark.parametrize("width", [80, 100, 160])
def test_table_fits_the_width_and_keeps_every_id_whole(result, width, monkeypatch):
    text = _render(result, width, monkeypatch)
    lines = text.splitlines()
    table_lines = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert table_lines and max(len(line) for line in table_lines) <= width
    # Every benchmark id is printed whole: its column holds the ids' characters and nothing else
    # (an id longer than the column is folded onto the next lines, never cut with an ellipsis).
    cells = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│"))
    assert len(cells) == sum(len(b) for b in result.table.index)
    assert all(b in cells for b in result.table.index) and "…" not in cells


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_p_columns_only_with_permutations_and_small_p_as_less_than(result, monkeypatch):
    text = _render(result, 160, monkeypatch)
    header = next(line for line in text.splitlines() if line.startswith("┃"))
    assert re.search(r"┃\s+p\s+┃", header) and "q (BH)" in header
    columns = [c.strip() for c in header.split("┃")]
    p_at, q_at = columns.index("p"), columns.index("q (BH)")
    rows = [[c.strip() for c in line.split("│")] for line in text.splitlines() if line.startswith("│")]
    p_cells = {r[p_at] for r in rows} | {r[q_at] for r in rows}
    assert "<0.001" in p_cells and "0.000" not in p_cells
    plain = swjax.bootstrap("chat", n=200, seed=0)
    header = next(line for line in _render(plain, 160, monkeypatch).splitlines() if line.startswith("┃"))
    assert "q (BH)" not in header and not re.search(r"┃\s+p\s+┃", header)


def test_p_format():
    assert [_fmt_p(p) for p in (0.0004, 0.001, 0.0123, 0.5, np.nan, None)] == [
        "<0.001", "0.001", "0.012", "0.500", "", ""]


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
@pytest.mark.parametrize("width", [60, 90, 140])
def test_any_result_frame_fits_the_width_and_says_what_it_left_out(width, monkeypatch):
    """lobo, subsets and compare print through frame_rich: intervals as one column, every id
    whole, the table within the width, and the columns that did not fit named."""
    monkeypatch.setenv("COLUMNS", str(width))
    res = swjax.subsets("chat", min_size=11)
    out = io.StringIO()
    tables.frame_rich(res.table, "subsets", file=out)
    lines = out.getvalue().splitlines()
    table_lines = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert max(len(line) for line in table_lines) <= width
    cells = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│"))
    assert len(cells) == sum(len(b) for b in res.table.index)
    shown = lines[1] + lines[2]
    row = res.table.iloc[0]
    assert f"{row['full']:.3f}" in out.getvalue()
    if "across specs" in shown:  # q025 and q975 printed as one interval
        assert f"[{row['q025']:.3f}, {row['q975']:.3f}]" in out.getvalue()
    if width == 60:
        note = " ".join(lines[[i for i, line in enumerate(lines) if line.startswith("(not shown")][0]:])
        assert "at this width:" in note and "--format csv" in note


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
