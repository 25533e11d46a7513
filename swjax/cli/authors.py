"""For benchmark authors: ``correlate`` (a new benchmark among the paper's) and ``check`` (the
CI gate).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import (
    DataDirOpt, Device, DeviceOpt, Format, FormatOpt, LevelOpt, MethodOpt, ModelSet, NOpt, OutOpt, Score, ScoreOpt,
    ScoresOpt, SeedOpt, ThresholdOpt, WRITES_FILE,
)
from .common import correlate_all, handle_errors
from .output import emit, formatted, render, write_stdout


@handle_errors
def correlate(
    scores: ScoresOpt,
    model_set: Annotated[ModelSet, typer.Option("--set", help="Public model set to place the new benchmarks in.")] = ModelSet.chat,
    data_dir: DataDirOpt = None,
    n: NOpt = 10000,
    seed: SeedOpt = 0,
    method: MethodOpt = None,
    level: LevelOpt = 0.95,
    threshold: ThresholdOpt = 0.4,
    device: DeviceOpt = Device.auto,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    score: ScoreOpt = Score.paper,
):
    """A new benchmark's capabilities correlation, interval and verdict, placed among the paper's."""
    from ..tables import correlate_frame, correlate_rich
    from ..outputs import dumps, frame_to_json

    results = correlate_all(
        scores, model_set, data_dir, n=n, seed=seed, method=method and method.value, level=level,
        threshold=threshold, device=device.value, score=score.value,
    )
    emit(formatted(
        fmt, table=lambda: render(lambda f: [correlate_rich(r, file=f) for r in results]),
        frame=lambda: correlate_frame(results),
        json=lambda: dumps({
            r.set: {
                "metadata": r.result.metadata, "table": frame_to_json(r.table),
                "unmatched": list(r.unmatched), "missing": list(r.missing),
                "matches": frame_to_json(r.matches),
            } for r in results
        }),
    ), out)


@handle_errors
def check(
    scores: ScoresOpt,
    model_set: Annotated[ModelSet, typer.Option("--set", help="Public model set to check against.")] = ModelSet.chat,
    data_dir: DataDirOpt = None,
    threshold: Annotated[float, typer.Option("--threshold", help="Fail when a whole interval lies above this.")] = 0.4,
    level: LevelOpt = 0.95,
    n: NOpt = 2000,
    seed: SeedOpt = 0,
    method: MethodOpt = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="Also write JUnit XML here."), WRITES_FILE] = None,
    summary: Annotated[Optional[Path], typer.Option("--summary", help="Also write the markdown summary here."), WRITES_FILE] = None,
):
    """CI gate: exit 1 when a new benchmark is entangled with capabilities, 0 otherwise, 2 on bad input.

    Prints a markdown summary (append it to $GITHUB_STEP_SUMMARY in a CI job).
    """
    from .. import check as gate
    from ..outputs import write_text

    results = correlate_all(
        scores, model_set, data_dir, n=n, seed=seed, method=method and method.value, level=level,
        threshold=threshold, device="cpu",
    )
    text = gate.markdown_summary(results)
    write_stdout(text)
    if summary is not None:
        write_text(summary, text, option="summary")
        typer.echo(f"wrote {summary}", err=True)
    if junit is not None:
        write_text(junit, gate.junit_xml(results), option="junit")
        typer.echo(f"wrote {junit}", err=True)
    raise typer.Exit(gate.exit_code(results))
