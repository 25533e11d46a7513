"""``import``: evaluation results into one matrix that every command reads with ``--data``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import DataDirOpt, Duplicates, Missing, MissingCapsOpt, PublicSet, READS, writes_folder
from .common import HOST, handle_errors


@handle_errors(heavy=HOST)
def import_results(
    paths: Annotated[list[Path], typer.Argument(help="Results files and folders (lm-eval, inspect_ai, HELM, Open LLM Leaderboard, long tables)."), READS],
    out: Annotated[Path, typer.Option("--out", help="Folder for scores.csv, info.csv, stderr.csv, n.csv, merge_report.txt."),
                   writes_folder("import")],
    capabilities: Annotated[
        Optional[str], typer.Option("--capabilities", help="paper, openllm-v2, openllm-v1, or a comma-separated list.")
    ] = None,
    lower_is_better: Annotated[
        Optional[str], typer.Option("--lower-is-better", help="Comma-separated benchmarks where lower is better.")
    ] = None,
    models: Annotated[Optional[Path], typer.Option("--models", help="CSV from,to mapping source model names to ids."), READS] = None,
    duplicates: Annotated[
        Optional[Duplicates], typer.Option("--duplicates", help="Resolve two results for one model and benchmark.")
    ] = None,
    with_set: Annotated[Optional[PublicSet], typer.Option("--with", help="Merge with a public matrix.")] = None,
    metric: Annotated[
        Optional[str], typer.Option("--metric", help="BENCH=METRIC[;BENCH=METRIC...]: the metric to take.")
    ] = None,
    subtasks: Annotated[bool, typer.Option("--subtasks", help="Keep the subtasks of lm-eval groups.")] = False,
    aggregates: Annotated[
        bool, typer.Option("--aggregates", help="Keep aggregate columns such as Every Eval Ever's 'Mean win rate'.")
    ] = False,
    data_dir: DataDirOpt = None,
    missing: MissingCapsOpt = Missing.drop,
):
    """Read evaluation results into one matrix that every command accepts with --data."""
    from ..importers import read_results

    result = read_results(
        paths, capabilities=capabilities, lower_is_better=lower_is_better or (), models=models,
        duplicates=duplicates and duplicates.value, with_set=with_set and with_set.value, metric=metric,
        subtasks=subtasks, aggregates=aggregates, data_dir=data_dir, missing=missing.value,
    )
    result.write(out)
    for line in result.report:
        typer.echo(line, err=True)
    import shlex

    caps = f" --capabilities {shlex.quote(capabilities)}" if capabilities and capabilities != "paper" else ""
    caps += " --missing impute" if missing is Missing.impute else ""
    typer.echo(f"wrote {out}/ (next: swjax bootstrap --data {out}{caps})", err=True)
