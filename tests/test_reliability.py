"""A sample of benchmarks/reliability.py's CSV fuzzer in the default suite: every malformed
or odd matrix through ``swjax analyze --out`` is a clear error or the reference's numbers,
never a traceback, a silently wrong number or a changed output file."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load():
    spec = importlib.util.spec_from_file_location("reliability", ROOT / "benchmarks" / "reliability.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["reliability"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_fuzzed_csvs_are_clear_errors_or_right(tmp_path):
    rel = load()
    ctx = rel.Context(work=tmp_path)
    rel.fuzz(ctx, 10, 11, models=9)  # one model count: few compilations
    bad = [r for r in ctx.results if r.outcome in ("wrong result", "traceback", "partial output")]
    assert not bad, "\n".join(f"{r.outcome}: {r.name}: {r.detail}" for r in bad)
    assert {r.outcome for r in ctx.results} <= {"clear error", "correct", "accepted"}


def test_strict_reader_agrees_with_swjax_on_a_valid_file(tmp_path):
    """The fuzzer's own yardstick: a valid file gives 'correct', not a false alarm."""
    import numpy as np

    rel = load()
    frame = rel.base_matrix(np.random.default_rng(0), m=9)
    assert rel.strict_read(rel.to_bytes(frame)).equals(frame)
    with pytest.raises(ValueError):
        rel.strict_read(b"model,a,b\nm1,1,2,\n")


def test_mutated_real_result_files_are_clear_errors_or_exact(tmp_path):
    """Real harness files truncated, with wrong types, duplicated, with a metric removed or keys
    reordered: a clear error, or a matrix whose every cell is the files' value (read with plain
    json in the script), never a traceback or a silently wrong matrix."""
    rel = load()
    if not rel.REAL_LM.is_dir():
        pytest.skip(f"the real result files are not in {rel.REAL_LM} (see ../shared/real/README.md)")
    ctx = rel.Context(work=tmp_path)
    rel.real_file_cases(ctx, 8, seed=3)
    bad = [r for r in ctx.results if r.outcome not in ("clear error", "correct")]
    assert not bad, "\n".join(f"{r.outcome}: {r.name}: {r.detail}" for r in bad)
    assert "correct" in {r.outcome for r in ctx.results}
    assert any(k in r.name for r in ctx.results for k in ("truncated", "wrong type"))  # files skipped
