"""The ``swjax`` command line: each command parses options, calls the library, renders.

Bad input of any kind ends in one line on stderr naming the problem and exit code 2; outputs
are written atomically (see :mod:`swjax.outputs`).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import SwjaxError

app = typer.Typer(
    name="swjax",
    help="Uncertainty for the capabilities correlations of AI-safety benchmarks.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class ModelSet(str, Enum):
    base = "base"
    chat = "chat"
    both = "both"


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


class Method(str, Enum):
    bca = "bca"
    percentile = "percentile"
    basic = "basic"


# ------------------------------------------------------------------------- shared options

SetOpt = Annotated[ModelSet, typer.Option("--set", help="Model set of the public data.")]
DataOpt = Annotated[
    Optional[Path], typer.Option("--data", help="Your own matrix CSV (model column + benchmarks).")
]
InfoOpt = Annotated[Optional[Path], typer.Option("--info", help="CSV of benchmark,name,metric.")]
DataDirOpt = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Folder holding the public files (default $SWJAX_DATA_DIR or the cache)."),
]
CapsOpt = Annotated[
    Optional[str], typer.Option("--capabilities", help="Comma-separated capability benchmarks.")
]
AgainstOpt = Annotated[
    Optional[str], typer.Option("--against", help="Correlate with this benchmark instead of the score.")
]
X64Opt = Annotated[bool, typer.Option("--x64", help="Compute in float64.")]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]


def _print_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def handle_errors(func):
    """Turn SwjaxError into one message and exit code 2; Ctrl-C into exit code 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        warnings.showwarning = _print_warning
        try:
            return func(*args, **kwargs)
        except SwjaxError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: nothing was written", err=True)
            raise typer.Exit(130) from None

    return wrapper


def load_sets(model_set: ModelSet, data: Path | None, info: Path | None, data_dir: Path | None):
    """The datasets a command runs on: the user's CSV, or one or both public sets."""
    from .data import load_dataset, read_csv

    if data is not None:
        return [read_csv(data, info=info)]
    if info is not None:
        raise SwjaxError("info: --info goes with --data (the public sets carry their own)")
    names = ["base", "chat"] if model_set is ModelSet.both else [model_set.value]
    return [load_dataset(name, data_dir) for name in names]


def parse_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise SwjaxError("capabilities: empty list")
    return items


def emit(text: str, out: Path | None) -> None:
    """Print ``text``, or write it atomically to ``out``."""
    from .outputs import write_text

    if out is None:
        sys.stdout.write(text)
    else:
        write_text(out, text)
        typer.echo(f"wrote {out}", err=True)


@contextlib.contextmanager
def progress_bar(total: int, label: str):
    """A rich progress bar on a terminal; nothing when stderr is not one."""
    if not sys.stderr.isatty() or total < 20000:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda k: bar.advance(task, k)


def render(text_fn) -> str:
    import io

    buf = io.StringIO()
    text_fn(buf)
    return buf.getvalue()


# ------------------------------------------------------------------------- commands


@app.command()
@handle_errors
def analyze(
    model_set: SetOpt = ModelSet.both,
    data: DataOpt = None,
    info: InfoOpt = None,
    data_dir: DataDirOpt = None,
    capabilities: CapsOpt = None,
    against: AgainstOpt = None,
    x64: X64Opt = False,
    fmt: FormatOpt = Format.table,
    out: Annotated[Optional[Path], typer.Option("--out", help="Write to this file.")] = None,
):
    """The Safetywashing analysis: every benchmark's correlation with the capabilities score."""
    from . import tables
    from .analysis import analyze as run

    caps = parse_list(capabilities)
    results = [
        run(ds, capabilities=caps, against=against, x64=x64)
        for ds in load_sets(model_set, data, info, data_dir)
    ]
    if fmt is Format.json:
        text = tables.analysis_json(results)
    elif fmt is Format.csv:
        text = tables.frames_csv([tables.analysis_long(a) for a in results])
    else:
        text = render(lambda f: [tables.analysis_rich(a, file=f) for a in results])
    emit(text, out)


@app.command()
@handle_errors
def bootstrap(
    model_set: SetOpt = ModelSet.both,
    data: DataOpt = None,
    info: InfoOpt = None,
    data_dir: DataDirOpt = None,
    n: Annotated[int, typer.Option("--n", help="Bootstrap resamples.")] = 10000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    method: Annotated[Method, typer.Option("--method", help="Interval method.")] = Method.bca,
    level: Annotated[float, typer.Option("--level", help="Confidence level.")] = 0.95,
    permutations: Annotated[int, typer.Option("--permutations", help="Permutations for p-values (0: none).")] = 0,
    threshold: Annotated[float, typer.Option("--threshold", help="Verdict boundary |r| = t.")] = 0.4,
    capabilities: CapsOpt = None,
    against: AgainstOpt = None,
    device: Annotated[Device, typer.Option("--device")] = Device.auto,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Resamples per compiled chunk.")] = None,
    x64: X64Opt = False,
    fmt: FormatOpt = Format.table,
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Folder for table.csv, table.json, distributions.npz, manifest.json.")
    ] = None,
    # Scale: keep the distribution on disk for very large --n (bounded memory).
    stream_to: Annotated[
        Optional[Path],
        typer.Option("--stream-to", help="Folder for SET.f32 distributions on disk (bounded memory for large --n)."),
    ] = None,
):
    """Bootstrap the whole pipeline: interval, p-value and verdict for every correlation."""
    from . import tables
    from .bootstrap import bootstrap as run

    caps = parse_list(capabilities)
    datasets = load_sets(model_set, data, info, data_dir)
    results = []
    for ds in datasets:
        with progress_bar(n, f"{ds.label}: resampling") as advance:
            results.append(
                run(
                    ds, n=n, seed=seed, method=method.value, level=level, permutations=permutations,
                    threshold=threshold, capabilities=caps, against=against, device=device.value,
                    batch_size=batch_size, x64=x64, progress=advance,
                    stream_to=None if stream_to is None else stream_to / f"{ds.label}.f32",
                )
            )
    if fmt is Format.json:
        text = tables.bootstrap_json(results)
    elif fmt is Format.csv:
        text = tables.bootstrap_frame(results).to_csv()
    else:
        text = render(lambda f: [tables.bootstrap_rich(r, file=f) for r in results])
    sys.stdout.write(text)
    if out is not None:
        write_bootstrap(results, out, argv=sys.argv)
        typer.echo(f"wrote {out}/", err=True)


def write_bootstrap(results, out: Path, argv=None) -> None:
    """table.csv, table.json, distributions.npz and manifest.json, all or nothing."""
    import numpy as np

    from . import tables
    from .outputs import atomic_dir, dumps, frame_to_json

    with atomic_dir(out) as tmp:
        (tmp / "table.csv").write_text(tables.bootstrap_frame(results).to_csv(), encoding="utf-8")
        (tmp / "table.json").write_text(tables.bootstrap_json(results), encoding="utf-8")
        arrays = {}
        for r in results:
            s = r.metadata["set"]
            arrays[f"{s}/distribution"] = r.distribution
            arrays[f"{s}/jackknife"] = r.jackknife
            arrays[f"{s}/eigenvalues"] = r.eigenvalues
            arrays[f"{s}/benchmarks"] = np.array(r.table.index, dtype=str)
        with open(tmp / "distributions.npz", "wb") as fh:
            np.savez_compressed(fh, **arrays)
        manifest = {
            "command": " ".join(argv or []),
            "files": ["table.csv", "table.json", "distributions.npz", "manifest.json"],
            "runs": [
                {"metadata": r.metadata, "summary": frame_to_json(r.summary)} for r in results
            ],
        }
        (tmp / "manifest.json").write_text(dumps(manifest), encoding="utf-8")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
