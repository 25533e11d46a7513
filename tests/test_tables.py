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
