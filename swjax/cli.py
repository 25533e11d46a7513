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
import typer.core

from .errors import SwjaxError

# The click that typer runs on: vendored as typer._click since typer 0.27, the click package before.
click = getattr(typer.core, "_click", None) or __import__("click")


class _Commands(typer.core.TyperGroup):
    """The command group: a usage error (a bad choice, an unknown option, a missing value) is one
    line naming the problem and the command's help, exit code 2, instead of a framed panel."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        run = functools.partial(super().main, args=args, prog_name=prog_name, complete_var=complete_var, **extra)
        if not standalone_mode:
            return run(standalone_mode=False)
        try:
            code = run(standalone_mode=False)
        except click.exceptions.UsageError as err:
            if isinstance(err, getattr(click.exceptions, "NoArgsIsHelpError", ())):
                _framed_error(err)  # the help itself
            # One line: choices listed on several lines joined, typer's "Value error, " dropped.
            message = " ".join(err.format_message().split()).replace("Value error, ", "")
            where = f" (see '{err.ctx.command_path} --help')" if err.ctx is not None else ""
            typer.echo(f"error: {message}{where}", err=True)
            sys.exit(2)
        except click.exceptions.ClickException as err:
            _framed_error(err)
        except typer.Abort:
            from typer import rich_utils

            rich_utils.rich_abort_error()
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _framed_error(err):
    from typer import rich_utils

    rich_utils.rich_format_error(err)
    sys.exit(err.exit_code)


# Flags are shown as flags: typer 0.29 writes ``--x64 <bool>`` and ``--help <bool>`` otherwise.
_display_type = getattr(typer.core.TyperOption, "display_type_rich", None)

if _display_type is not None:

    def _flag_display_type(self, ctx):
        return None if self.is_flag and self.metavar is None else _display_type(self, ctx)

    typer.core.TyperOption.display_type_rich = _flag_display_type

app = typer.Typer(
    name="swjax",
    help="Uncertainty for the capabilities correlations of AI-safety benchmarks.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=_Commands,
)


def _version(value: bool) -> None:
    if value:
        from .provenance import devices, environment

        env = environment()
        typer.echo(f"swjax {env['swjax']}")
        typer.echo(f"jax {env['jax']}, jaxlib {env['jaxlib']}, numpy {env['numpy']}, python {env['python']}")
        typer.echo(f"devices: {devices()}")
        raise typer.Exit()


#: ``swjax --quiet COMMAND``: no progress on stderr (warnings and errors still print).
QUIET = {"on": False}


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
) -> None:
    """Uncertainty for the capabilities correlations of AI-safety benchmarks."""
    QUIET["on"] = quiet


class ModelSet(str, Enum):
    base = "base"
    chat = "chat"
    both = "both"


class Format(str, Enum):
    table = "table"
    parquet = "parquet"
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
    jackknife_t = "jackknife-t"
    cluster_t = "cluster-t"


# ------------------------------------------------------------------------- shared options

SetOpt = Annotated[ModelSet, typer.Option("--set", help="Model set of the public data.")]
NOpt = Annotated[int, typer.Option("--n", help="Bootstrap resamples.")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", help="Write to this file.")]
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
SeedOpt = Annotated[int, typer.Option("--seed")]
LevelOpt = Annotated[float, typer.Option("--level", help="Confidence level.")]
ThresholdOpt = Annotated[float, typer.Option("--threshold", help="Verdict boundary |r| = t.")]
PermutationsOpt = Annotated[int, typer.Option("--permutations", help="Permutations for p-values (0: none).")]
DeviceOpt = Annotated[Device, typer.Option("--device")]
MethodOpt = Annotated[
    Optional[Method],
    typer.Option("--method", help="Interval method (default bca; cluster-t with families; percentile across sets)."),
]
BatchOpt = Annotated[Optional[int], typer.Option("--batch-size", help="Resamples per compiled chunk.")]
ClusterByOpt = Annotated[
    Optional[str], typer.Option("--cluster-by", help="Resample whole clusters given by this data column.")
]
class Missing(str, Enum):
    drop = "drop"
    impute = "impute"


MissingCapsOpt = Annotated[
    Missing,
    typer.Option("--missing", help="Models lacking a capability score: drop them, or impute the scores in every resample."),
]
FamiliesOpt = Annotated[
    Optional[str],
    typer.Option("--families", help="CSV of model,family ('public': the shipped map; 'auto': by developer): resample whole families."),
]


def _print_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


#: What a command that does not compute, or checks its input before it does, imports first.
HOST = ("numpy", "pandas")


def handle_errors(func=None, *, heavy=None):
    """Turn SwjaxError (and a failed read or write) into one message and exit code 2; Ctrl-C into
    one true line and exit code 130 (see :mod:`swjax.interrupt`).

    ``heavy``: the libraries imported with signals held before the command runs (default
    ``interrupt.HEAVY``, JAX included); a command given :data:`HOST` checks its input first and
    calls ``interrupt.import_held()`` itself before it computes, or never computes."""
    if func is None:
        return functools.partial(handle_errors, heavy=heavy)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from . import interrupt

        warnings.showwarning = _print_warning
        interrupt.begin()
        try:
            # swjax.outputs imports numpy and pandas: it too loads with the signal held.
            interrupt.import_held((*(interrupt.HEAVY if heavy is None else heavy), f"{__package__}.outputs"))
            result = func(*args, **kwargs)
        except typer.Exit:
            if interrupt.requested():  # e.g. check's verdict after a swallowed Ctrl-C
                raise typer.Exit(interrupt.report()) from None
            raise
        except KeyboardInterrupt:
            raise typer.Exit(interrupt.report()) from None
        except SwjaxError as err:
            if interrupt.requested():
                raise typer.Exit(interrupt.report()) from None
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        except OSError as err:  # a file system problem that no check could foresee
            if interrupt.requested():
                raise typer.Exit(interrupt.report()) from None
            where = f"{err.filename}: " if err.filename else ""
            typer.echo(f"error: {where}{err.strerror or err}", err=True)
            raise typer.Exit(2) from None
        except BaseException:
            if interrupt.requested():  # an interrupt turned into another error by a callback
                raise typer.Exit(interrupt.report()) from None
            raise
        finally:
            outputs = sys.modules.get(f"{__package__}.outputs")  # None if interrupted before it loaded
            if outputs is not None:
                outputs.remove_temporaries()
        if interrupt.requested():  # an interrupt swallowed somewhere (a callback, a finaliser)
            raise typer.Exit(interrupt.report())
        return result

    return wrapper


def check_paths(files=(), dirs=(), inputs=()) -> None:
    """Check every output path of a command before it computes anything (:mod:`swjax.outputs`).

    ``files``: (option, path) written as files; ``dirs``: (option, path, kind) folders, replaced
    as a whole when ``kind`` is given (a key of ``outputs.FOLDERS``), written into otherwise;
    ``inputs``: paths the command reads, which no output may overwrite.
    """
    import os

    from .outputs import check_output_dir, check_output_file

    seen: dict[str, str] = {}
    read = {os.path.realpath(p): p for p in inputs if p is not None and str(p) not in ("", "public", "auto")}
    for option, path in files:
        if path is not None:
            seen.setdefault(os.path.realpath(check_output_file(path, option)), option)
    for option, path, kind in dirs:
        if path is not None:
            seen.setdefault(os.path.realpath(check_output_dir(path, option, kind)), option)
    options = [o for o, p in files] + [o for o, p, k in dirs]
    given = [o for o, p in files if p is not None] + [o for o, p, k in dirs if p is not None]
    if len(seen) < len(given):
        raise SwjaxError(f"{given[-1]}: same path as another output option ({', '.join(options)})")
    for real, option in seen.items():
        if real in read:
            raise SwjaxError(f"{option}: {read[real]} is an input of this command; refusing to overwrite it")


def interruptible(advance=None):
    """A progress callback that also stops the run between chunks after a Ctrl-C (even one
    that a callback swallowed), then moves the bar if there is one."""
    from . import interrupt

    def progress(k):
        interrupt.checkpoint()
        if advance is not None:
            advance(k)

    return progress


def load_sets(model_set: ModelSet, data: Path | None, info: Path | None, data_dir: Path | None):
    """The datasets a command runs on: the user's CSV, or one or both public sets."""
    from .data import load_dataset

    if data is not None:  # a wide CSV, a folder from `swjax import`, or results files to import
        from .importers import open_matrix

        return [open_matrix(data, info=info)]
    if info is not None:
        raise SwjaxError("info: --info goes with --data (the public sets carry their own)")
    names = ["base", "chat"] if model_set is ModelSet.both else [model_set.value]
    return [load_dataset(name, data_dir) for name in names]


def parse_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    from .importers.capabilities import CAPABILITY_SETS

    if value.strip() in CAPABILITY_SETS:  # a named capability set: paper, openllm-v2, openllm-v1
        return [m.column for m in CAPABILITY_SETS[value.strip()]]
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise SwjaxError("capabilities: empty list")
    return items


def write_stdout(text) -> None:
    """Text to stdout; bytes (Parquet) too, unless stdout is a terminal."""
    if isinstance(text, bytes):
        if sys.stdout.isatty():
            raise SwjaxError("format: parquet is binary: give --out FILE or redirect stdout to a file")
        sys.stdout.flush()
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(text)


def emit(text, out: Path | None) -> None:
    """Print ``text`` (or Parquet bytes), or write it atomically to ``out``."""
    from .outputs import write_text

    if out is None:
        write_stdout(text)
    else:
        write_text(out, text)
        typer.echo(f"wrote {out}", err=True)


def progress_lines():
    """A callback printing progress lines on stderr, terminal or not (a long ``plan`` or
    ``coverage`` in a pipe or a CI log says where it is), unless ``--quiet``."""
    if QUIET["on"]:
        return None
    return lambda line: typer.echo(line, err=True)


#: Said while the first chunk runs: it includes compiling the program on first use.
COMPILING = "compiling on first use; later runs are faster"


def _show_progress(stream) -> bool:
    return not QUIET["on"] and hasattr(stream, "isatty") and stream.isatty()


@contextlib.contextmanager
def progress_bar(total: int, label: str, stream=None):
    """A rich progress bar on a terminal (stderr), quiet otherwise or with ``--quiet``. Until
    the first chunk is done it says that the program may be compiling."""
    stream = sys.stderr if stream is None else stream
    if not _show_progress(stream):
        yield interruptible()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), transient=True, console=Console(file=stream),
    ) as bar:
        task = bar.add_task(f"{label} ({COMPILING})", total=total)

        def advance(k):
            bar.update(task, advance=k, description=label)

        yield interruptible(advance)


@contextlib.contextmanager
def working(label: str, stream=None):
    """A spinner on a terminal (stderr) for work without chunks to count; quiet otherwise."""
    stream = sys.stderr if stream is None else stream
    if not _show_progress(stream):
        yield
        return
    from rich.console import Console

    with Console(file=stream).status(f"{label} ({COMPILING})"):
        yield


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
    out: OutOpt = None,
    missing: MissingCapsOpt = Missing.drop,
):
    """The Safetywashing analysis: every benchmark's correlation with the capabilities score."""
    import pandas as pd

    from . import tables
    from .analysis import analyze as run

    check_paths(files=[("out", out)], inputs=[data, info])
    caps = parse_list(capabilities)
    results = [
        run(ds, capabilities=caps, against=against, x64=x64, missing=missing.value)
        for ds in load_sets(model_set, data, info, data_dir)
    ]
    if fmt is Format.json:
        text = tables.analysis_json(results)
    elif fmt is Format.csv:
        text = tables.frames_csv([tables.analysis_long(a) for a in results])
    elif fmt is Format.parquet:
        text = tables.parquet_bytes(pd.concat([tables.analysis_long(a) for a in results], ignore_index=True))
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
    n: NOpt = 10000,
    seed: SeedOpt = 0,
    method: MethodOpt = None,
    level: LevelOpt = 0.95,
    permutations: PermutationsOpt = 0,
    threshold: ThresholdOpt = 0.4,
    capabilities: CapsOpt = None,
    against: AgainstOpt = None,
    device: DeviceOpt = Device.auto,
    batch_size: BatchOpt = None,
    x64: X64Opt = False,
    fmt: FormatOpt = Format.table,
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Folder for table.csv, table.json, distributions.npz, manifest.json.")
    ] = None,
    cluster_by: ClusterByOpt = None,
    families: FamiliesOpt = None,
    # Scale: keep the distribution on disk for very large --n (bounded memory).
    stream_to: Annotated[
        Optional[Path],
        typer.Option("--stream-to", help="Folder for SET.f32 distributions on disk (bounded memory for large --n)."),
    ] = None,
    eigenvalues: Annotated[
        bool, typer.Option("--eigenvalues", help="Also keep every resample's eigenvalues (written to distributions.npz).")
    ] = False,
    missing: MissingCapsOpt = Missing.drop,
    show: Annotated[
        Optional[str],
        typer.Option("--benchmarks", help="Rows to show and write: 'main' (the paper's main-table benchmarks), "
                     "'all', or a comma-separated list. Default: 'main' in the terminal table of the public "
                     "sets, else 'all'."),
    ] = None,
):
    """Bootstrap the whole pipeline: interval, p-value and verdict for every correlation."""
    from . import tables
    from .bootstrap import bootstrap as run

    check_paths(dirs=[("out", out, "bootstrap"), ("stream-to", stream_to, None)], inputs=[data, info, families])
    caps = parse_list(capabilities)
    datasets = load_sets(model_set, data, info, data_dir)
    if show not in (None, "main", "all", "headline"):  # a mistyped name fails before the resampling
        for ds in datasets:
            for name in parse_list(show):
                ds.resolve(name)
    check_bootstrap_space(datasets, n, x64, eigenvalues, out, stream_to)
    results = []
    for ds in datasets:
        with progress_bar(n, f"{ds.label}: resampling") as advance:
            results.append(
                run(
                    ds, n=n, seed=seed, method=method and method.value, level=level, permutations=permutations,
                    threshold=threshold, capabilities=caps, against=against, device=device.value,
                    batch_size=batch_size, x64=x64, progress=advance,
                    clusters=cluster_labels(ds, cluster_by, families, known=datasets),
                    stream_to=None if stream_to is None else stream_to / f"{ds.label}.f32",
                    eigenvalues=eigenvalues, missing=missing.value,
                )
            )
    full = results
    results = _shown(results, show, terminal=fmt is Format.table)
    if fmt is Format.json:
        text = tables.bootstrap_json(results)
    elif fmt is Format.csv:
        text = tables.bootstrap_frame(results).to_csv()
    elif fmt is Format.parquet:
        text = tables.parquet_bytes(tables.bootstrap_frame(results))
    else:
        text = render(lambda f: [tables.bootstrap_rich(r, file=f) for r in results])
    write_stdout(text)
    if out is not None:
        from .writers import write_bootstrap

        write_bootstrap(_shown(full, show, terminal=False), out, argv=sys.argv)
        typer.echo(f"wrote {out}/", err=True)


def _shown(results, show, terminal: bool):
    """The results restricted to the rows to show (``--benchmarks``): by default the paper's
    main-table benchmarks in the terminal table of a public set, every row elsewhere."""
    from .data import DATASETS

    if show is None:
        return [r.select("main") if terminal and r.metadata["set"] in DATASETS else r for r in results]
    which = show if show in ("main", "all", "headline") else parse_list(show)
    return [r.select(which) for r in results]


# ------------------------------------------------------------------------- benchmark authors

ScoresOpt = Annotated[
    Path, typer.Option("--scores", help="CSV: a 'model' column and one column per new benchmark (higher = safer).")
]


class PlotKind(str, Enum):
    forest = "forest"
    scatter = "scatter"
    scree = "scree"
    heatmap = "heatmap"
    spec_curve = "spec-curve"
    distribution = "distribution"


def _public_sets(model_set: ModelSet, data_dir: Path | None):
    from .data import load_dataset

    names = ["base", "chat"] if model_set is ModelSet.both else [model_set.value]
    return [load_dataset(name, data_dir) for name in names]


def _correlate_all(scores, model_set, data_dir, clusters=None, **kw):
    from .correlate import correlate as run

    results = []
    for ds in _public_sets(model_set, data_dir):
        with progress_bar(kw["n"], f"{ds.label}: resampling") as advance:
            results.append(run(scores, ds, progress=advance, clusters=(clusters or {}).get(ds.label), **kw))
    return results


@app.command()
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
):
    """A new benchmark's capabilities correlation, interval and verdict, placed among the paper's."""
    from .tables import correlate_frame, correlate_rich
    from .outputs import dumps, frame_to_json

    check_paths(files=[("out", out)], inputs=[scores])
    results = _correlate_all(
        scores, model_set, data_dir, n=n, seed=seed, method=method and method.value, level=level,
        threshold=threshold, device=device.value,
    )
    if fmt is Format.json:
        text = dumps({
            r.set: {
                "metadata": r.result.metadata, "table": frame_to_json(r.table),
                "unmatched": list(r.unmatched), "missing": list(r.missing),
                "matches": frame_to_json(r.matches),
            } for r in results
        })
    elif fmt is Format.csv:
        text = correlate_frame(results).to_csv()
    elif fmt is Format.parquet:
        from .tables import parquet_bytes

        text = parquet_bytes(correlate_frame(results))
    else:
        text = render(lambda f: [correlate_rich(r, file=f) for r in results])
    emit(text, out)


@app.command()
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
    junit: Annotated[Optional[Path], typer.Option("--junit", help="Also write JUnit XML here.")] = None,
    summary: Annotated[Optional[Path], typer.Option("--summary", help="Also write the markdown summary here.")] = None,
):
    """CI gate: exit 1 when a new benchmark is entangled with capabilities, 0 otherwise, 2 on bad input.

    Prints a markdown summary (append it to $GITHUB_STEP_SUMMARY in a CI job).
    """
    from . import check as gate
    from .outputs import write_text

    check_paths(files=[("summary", summary), ("junit", junit)], inputs=[scores])
    results = _correlate_all(
        scores, model_set, data_dir, n=n, seed=seed, method=method and method.value, level=level,
        threshold=threshold, device="cpu",
    )
    text = gate.markdown_summary(results)
    sys.stdout.write(text)
    if summary is not None:
        write_text(summary, text, option="summary")
        typer.echo(f"wrote {summary}", err=True)
    if junit is not None:
        write_text(junit, gate.junit_xml(results), option="junit")
        typer.echo(f"wrote {junit}", err=True)
    raise typer.Exit(gate.exit_code(results))


@app.command()
@handle_errors(heavy=HOST)
def plot(
    kind: Annotated[
        PlotKind, typer.Argument(metavar="KIND", help="The figure: forest, scatter, scree, heatmap, spec-curve or distribution.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Figure file: .png or .svg.")],
    model_set: Annotated[ModelSet, typer.Option("--set", help="Public model set (base or chat).")] = ModelSet.chat,
    benchmark: Annotated[Optional[str], typer.Option("--benchmark", help="Benchmark for scatter, spec-curve, distribution.")] = None,
    scores: Annotated[Optional[Path], typer.Option("--scores", help="Add your new benchmarks (CSV).")] = None,
    show: Annotated[str, typer.Option("--benchmarks", help="forest: 'headline', 'all' or a comma-separated list.")] = "headline",
    data_dir: DataDirOpt = None,
    n: NOpt = 2000,
    seed: SeedOpt = 0,
    level: LevelOpt = 0.95,
    threshold: ThresholdOpt = 0.4,
    subsets: Annotated[Optional[int], typer.Option("--subsets", help="spec-curve: sample this many capability subsets (default: all of at least 3).")] = None,
):
    """Draw one figure (PNG or SVG) of a bootstrap run."""

    if model_set is ModelSet.both:
        raise SwjaxError("set: plot draws one model set, expected base or chat")
    if out.suffix.lower() not in (".png", ".svg"):
        raise SwjaxError(f"out: expected a .png or .svg file, got {out.name!r}")
    needs = kind in (PlotKind.scatter, PlotKind.spec_curve, PlotKind.distribution)
    if needs and benchmark is None:
        raise SwjaxError(f"benchmark: '{kind.value}' needs --benchmark")
    check_paths(files=[("out", out)], inputs=[scores])
    (ds,) = _public_sets(model_set, data_dir)
    if needs:  # the name checked (id or display name) before anything is computed
        from .correlate import combine

        benchmark = (ds if scores is None else combine(ds, scores)[0]).resolve(benchmark)
    from . import interrupt

    interrupt.import_held()  # JAX, once the input is known to be good
    from . import figures
    if kind is PlotKind.spec_curve:
        from .correlate import combine, subset_correlations

        if scores is not None:
            ds = combine(ds, scores)[0]
        with working(f"{ds.label}: {benchmark} over capability subsets"):
            frame = subset_correlations(ds, [benchmark], n_subsets=subsets, seed=seed)
        fig = figures.spec_curve(frame, benchmark, threshold=threshold, label=ds.display_name(benchmark))
    else:
        spectrum = kind is PlotKind.scree  # resampled eigenvalues cost extra: only for the scree plot
        if scores is not None:
            from .correlate import correlate as run

            with working(f"{ds.label}: {n} resamples"):
                result = run(scores, ds, n=n, seed=seed, level=level, threshold=threshold, eigenvalues=spectrum)
            data = result.dataset
        else:
            from .bootstrap import bootstrap as run

            with working(f"{ds.label}: {n} resamples"):
                result = run(ds, n=n, seed=seed, level=level, threshold=threshold, eigenvalues=spectrum)
            data = ds
        if kind is PlotKind.forest:
            which = show if show in ("headline", "all") else parse_list(show)
            fig = figures.forest(result, benchmarks=which)
        elif kind is PlotKind.scatter:
            fig = figures.scatter(result, benchmark, data)
        elif kind is PlotKind.scree:
            fig = figures.scree(result)
        elif kind is PlotKind.heatmap:
            fig = figures.heatmap(result)
        else:
            fig = figures.distribution(result, benchmark)
    figures.save(fig, out)
    typer.echo(f"wrote {out}", err=True)


@app.command()
@handle_errors
def report(
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html, report.md, figures and manifest.json.")],
    model_set: SetOpt = ModelSet.both,
    scores: Annotated[Optional[Path], typer.Option("--scores", help="Include your new benchmarks (CSV).")] = None,
    data_dir: DataDirOpt = None,
    n: NOpt = 10000,
    seed: SeedOpt = 0,
    method: MethodOpt = None,
    level: LevelOpt = 0.95,
    threshold: ThresholdOpt = 0.4,
    device: DeviceOpt = Device.auto,
    published: Annotated[
        Optional[Path],
        typer.Option("--published", help="JSON of published estimates (default: $SWJAX_PAPER_TARGETS or paper_targets.json beside the data)."),
    ] = None,
    plan_datasets: Annotated[
        int, typer.Option("--plan", help="Add 'What would settle it': swjax plan with this many datasets per grid point (0: none).")
    ] = 0,
    permutations: PermutationsOpt = 0,
    cluster_by: ClusterByOpt = None,
    families: FamiliesOpt = None,
):
    """A self-contained HTML report (figures, sortable table, methods, manifest) and its markdown twin."""
    from .report import write_report

    check_paths(dirs=[("out", out, "report")], inputs=[scores, published, families])
    kw = dict(n=n, seed=seed, method=method and method.value, level=level, threshold=threshold, device=device.value,
              permutations=permutations, eigenvalues=True)  # eigenvalues for the scree plot
    sets = _public_sets(model_set, data_dir)
    clusters = {ds.label: cluster_labels(ds, cluster_by, families, known=sets) for ds in sets}
    scatter_for = None
    if scores is not None:
        results = _correlate_all(scores, model_set, data_dir, clusters=clusters, **kw)
        # the author's own benchmarks, each against the capabilities score
        scatter_for = {r.result.metadata["set"]: [(b, r.dataset) for b in r.new] for r in results}
    else:
        from .bootstrap import bootstrap as run

        results = []
        for ds in sets:
            with progress_bar(n, f"{ds.label}: resampling") as advance:
                results.append(run(ds, progress=advance, clusters=clusters[ds.label], **kw))
    plans = None
    if plan_datasets:  # the power section: swjax/plan.py, on each public set
        from .plan import plan as run_plan

        plans = {ds.label: run_plan(ds, datasets=plan_datasets, seed=seed, threshold=threshold, level=level,
                                    device=device.value) for ds in _public_sets(model_set, data_dir)}
    write_report(out, results, published=published, command=" ".join(sys.argv), plans=plans, scatter_for=scatter_for)
    typer.echo(f"wrote {out}/report.html and {out}/report.md", err=True)


# ------------------------------------------------------------------ sensitivity analyses


def cluster_labels(dataset, cluster_by, families, known=None):
    """Model -> family for --cluster-by/--families, or None (``known``: all datasets of the run)."""
    if cluster_by is None and families is None:
        return None
    from .clusters import AUTO, family_labels

    labels = family_labels(dataset, cluster_by=cluster_by, families=families, known=known)
    if families == AUTO:
        groups = labels.groupby(labels, sort=True)
        typer.echo(f"families auto ({dataset.label}): {groups.ngroups} families by developer", err=True)
        for family, members in groups:
            typer.echo(f"  {family} ({len(members)}): {', '.join(members.index)}", err=True)
    return labels


@app.command()
@handle_errors
def lobo(
    model_set: SetOpt = ModelSet.both,
    data: DataOpt = None,
    info: InfoOpt = None,
    data_dir: DataDirOpt = None,
    n: Annotated[int, typer.Option("--n", help="Bootstrap resamples per variant (0: point estimates).")] = 0,
    seed: SeedOpt = 0,
    method: MethodOpt = None,
    level: LevelOpt = 0.95,
    threshold: ThresholdOpt = 0.4,
    capabilities: CapsOpt = None,
    against: AgainstOpt = None,
    device: DeviceOpt = Device.auto,
    x64: X64Opt = False,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
):
    """Leave each capability benchmark out of the score in turn: range and largest move."""
    from .tables import frame_text
    import pandas as pd

    from .sensitivity import lobo as run

    check_paths(files=[("out", out)], inputs=[data, info])
    caps = parse_list(capabilities)
    parts = []
    for ds in load_sets(model_set, data, info, data_dir):
        with working(f"{ds.label}: leaving each capability benchmark out" + (f", {n} resamples" if n else "")):
            res = run(ds, capabilities=caps, against=against, n=n, seed=seed, method=method and method.value,
                      level=level, threshold=threshold, device=device.value, x64=x64)
        frame = res.table.join(res.correlations.drop(columns="full"))
        if res.intervals is not None:
            wide = res.intervals.pivot(index="benchmark", columns="variant", values=["low", "high"])
            wide.columns = [f"{v}:{s}" for s, v in wide.columns]
            frame = frame.join(wide)
        if fmt is Format.table:  # the spread, and with --n the full set's interval and verdict
            frame = res.table.drop(columns=["min", "max"])
            if res.intervals is not None:
                iv = res.intervals.set_index("benchmark")
                full = iv[iv["variant"] == "full"][["low", "high", "verdict"]]
                changed = (iv[iv["variant"] != "full"]["verdict"] != full["verdict"].reindex(
                    iv.index[iv["variant"] != "full"])).groupby(level=0).sum()
                frame = frame.join(full).join(changed.rename("verdict_changes"))
        if fmt is Format.table:  # one table per set
            parts.append(frame_text(frame, fmt, f"{ds.label}: leave one capability benchmark out of the score"))
            continue
        frame.insert(0, "set", ds.label)
        parts.append(frame)
    emit("".join(parts) if fmt is Format.table else frame_text(pd.concat(parts), fmt), out)


@app.command()
@handle_errors
def subsets(
    model_set: SetOpt = ModelSet.both,
    data: DataOpt = None,
    info: InfoOpt = None,
    data_dir: DataDirOpt = None,
    min_size: Annotated[int, typer.Option("--min-size", help="Smallest capability subset.")] = 3,
    max_subsets: Annotated[Optional[int], typer.Option("--max-subsets", help="Sample this many subsets at random.")] = None,
    n: Annotated[int, typer.Option("--n", help="Bootstrap resamples of the whole curve (0: none).")] = 0,
    seed: SeedOpt = 0,
    level: LevelOpt = 0.95,
    threshold: ThresholdOpt = 0.4,
    capabilities: CapsOpt = None,
    against: AgainstOpt = None,
    device: DeviceOpt = Device.auto,
    batch_size: BatchOpt = None,
    x64: X64Opt = False,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
):
    """Every capability subset as the score (a specification curve): spread and verdict stability."""
    from .tables import frame_text
    import pandas as pd

    from .sensitivity import subsets as run

    check_paths(files=[("out", out)], inputs=[data, info])
    caps = parse_list(capabilities)
    parts = []
    for ds in load_sets(model_set, data, info, data_dir):
        with working(f"{ds.label}: every capability subset" + (f", {n} resamples" if n else "")):
            res = run(ds, capabilities=caps, against=against, min_size=min_size, max_subsets=max_subsets,
                      n=n, seed=seed, level=level, threshold=threshold, device=device.value,
                      batch_size=batch_size, x64=x64)
        frame = res.table.copy()
        md = res.metadata
        if fmt is Format.table:  # one table per set
            parts.append(frame_text(frame, fmt, f"{ds.label}: {md['n_subsets']} of {md['n_subsets_total']} capability "
                                                f"subsets (specification curve)" + (f", {n} resamples" if n else "")))
            continue
        frame.insert(0, "set", ds.label)
        parts.append(frame)
        typer.echo(f"{ds.label}: {md['n_subsets']} of {md['n_subsets_total']} subsets", err=True)
    emit("".join(parts) if fmt is Format.table else frame_text(pd.concat(parts), fmt), out)


@app.command()
@handle_errors
def compare(
    a: Annotated[str, typer.Argument(help="Benchmark (or 'compute').")],
    b: Annotated[Optional[str], typer.Argument(help="Second benchmark: the difference A - B.")] = None,
    model_set: SetOpt = ModelSet.chat,
    between: Annotated[
        Optional[tuple[str, str]], typer.Option("--between", help="Two model sets: A in the first minus A in the second.")
    ] = None,
    data: DataOpt = None,
    info: InfoOpt = None,
    data_dir: DataDirOpt = None,
    n: NOpt = 10000,
    seed: SeedOpt = 0,
    method: MethodOpt = None,
    level: LevelOpt = 0.95,
    capabilities: CapsOpt = None,
    against: AgainstOpt = None,
    cluster_by: ClusterByOpt = None,
    families: FamiliesOpt = None,
    device: DeviceOpt = Device.auto,
    x64: X64Opt = False,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
):
    """Interval and p-value of A - B on the same resamples, of A across sets, or of A alone."""
    from .tables import frame_text
    from .compare import compare as run_pair
    from .compare import compare_between

    check_paths(files=[("out", out)], inputs=[data, info, families])
    caps = parse_list(capabilities)
    common = dict(n=n, seed=seed, method=method and method.value, level=level, capabilities=caps,
                  against=against, device=device.value, x64=x64)
    if between is not None:
        if b is not None:
            raise SwjaxError("between: compare one benchmark across sets (got two benchmarks)")
        from .analysis import as_dataset

        sets = [as_dataset(s) if s in ("base", "chat") else None for s in between]
        if None in sets:
            raise SwjaxError(f"between: expected two of base, chat, got {between[0]} {between[1]}")
        with working(f"{a} across {between[0]} and {between[1]}: {n} resamples each"):
            res = compare_between(a, tuple(sets), **common)
    else:
        if model_set is ModelSet.both:
            raise SwjaxError("set: compare runs on one set (use --between base chat across sets)")
        (ds,) = load_sets(model_set, data, info, data_dir)
        with working(f"{ds.label}: {n} resamples"):
            res = run_pair(ds, a, b, clusters=cluster_labels(ds, cluster_by, families), **common)
    emit(frame_text(res.table, fmt, f"n={n} seed={seed} ({res.metadata['pairing']})"), out)


def _floats(name: str, value: str) -> list[float]:
    try:
        items = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise SwjaxError(f"{name}: expected comma-separated numbers, got {value!r}") from None
    if not items:
        raise SwjaxError(f"{name}: expected at least one number, got {value!r}")
    return items


def _ints(name: str, value: str) -> list[int]:
    numbers = _floats(name, value)
    if any(v != int(v) for v in numbers):
        raise SwjaxError(f"{name}: expected comma-separated integers, got {value!r}")
    return [int(v) for v in numbers]


class Link(str, Enum):
    linear = "linear"
    logistic = "logistic"


ModelsOpt = Annotated[int, typer.Option("--models", help="Models per simulated dataset.")]
SimCapsOpt = Annotated[int, typer.Option("--capabilities", help="Capability benchmarks.")]
LoadingOpt = Annotated[float, typer.Option("--loading", help="Loading of each capability benchmark on the latent.")]
LinkOpt = Annotated[Link, typer.Option("--link", help="linear scores or bounded accuracies (logistic).")]
StepOpt = Annotated[Optional[float], typer.Option("--step", help="Round scores to this grid (ties).")]
MissingOpt = Annotated[float, typer.Option("--missing", help="Share of safety cells missing at random.")]
ShareOpt = Annotated[float, typer.Option("--family-share", help="Share of variance from the family effect.")]


@app.command()
@handle_errors
def simulate(
    models: ModelsOpt = 26,
    capabilities: SimCapsOpt = 8,
    rho: Annotated[str, typer.Option("--rho", help="Population capabilities correlations of the safety benchmarks.")] = "0.3,0.65,0.87",
    loading: LoadingOpt = 0.85,
    link: LinkOpt = Link.linear,
    step: StepOpt = None,
    missing: MissingOpt = 0.0,
    hetero: Annotated[float, typer.Option("--hetero", help="Heteroscedasticity of the noise (0: none).")] = 0.0,
    families: Annotated[int, typer.Option("--families", help="Model families sharing random effects (0: none).")] = 0,
    family_share: ShareOpt = 0.5,
    seed: SeedOpt = 0,
    population: Annotated[int, typer.Option("--population", help="Models in the sample that defines the truth.")] = 200_000,
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Folder for scores.csv, info.csv, families.csv, truth.json.")
    ] = None,
):
    """A benchmark matrix from a latent-factor model, with its population correlations.

    Prints the matrix as CSV (readable by --data); the truth goes to stderr, or with --out to
    truth.json beside the matrix, its benchmark names and each model's family.
    """
    from .simulate import simulate as run
    from .writers import write_simulation

    check_paths(dirs=[("out", out, "simulate")])
    sim = run(
        models, capabilities=capabilities, rho=_floats("rho", rho), loading=loading, link=link.value,
        step=step, missing=missing, hetero=hetero, families=families, family_share=family_share,
        seed=seed, population_size=population,
    )
    scores = sim.dataset.scores.rename_axis("model")
    if out is None:
        sys.stdout.write(scores.to_csv())
        listing = ", ".join(f"{b} {v:.3f}" for b, v in sim.truth.items())
        typer.echo(f"population capabilities correlations: {listing}", err=True)
        return
    write_simulation(sim, out, seed)
    typer.echo(f"wrote {out}/", err=True)


@app.command()
@handle_errors
def coverage(
    datasets: Annotated[int, typer.Option("--datasets", help="R: simulated datasets per design.")] = 2000,
    n: Annotated[int, typer.Option("--n", help="B: bootstrap resamples per dataset.")] = 1000,
    methods: Annotated[str, typer.Option("--methods", help="Interval methods, comma-separated.")] = "bca,percentile,basic",
    rho: Annotated[str, typer.Option("--rho", help="Population correlations of the safety benchmarks.")] = "0.3,0.65,0.87",
    families: Annotated[str, typer.Option("--families", help="Family counts, one design each (0: independent models).")] = "0",
    hetero: Annotated[str, typer.Option("--hetero", help="Heteroscedasticity values, one design each.")] = "0",
    models: ModelsOpt = 26,
    capabilities: SimCapsOpt = 8,
    loading: LoadingOpt = 0.85,
    link: LinkOpt = Link.linear,
    step: StepOpt = None,
    missing: MissingOpt = 0.0,
    family_share: ShareOpt = 0.5,
    level: Annotated[float, typer.Option("--level", help="Nominal coverage.")] = 0.95,
    population: Annotated[int, typer.Option("--population", help="Models in the sample that defines the truth.")] = 200_000,
    seed: SeedOpt = 0,
    device: DeviceOpt = Device.auto,
    x64: X64Opt = False,
    fmt: FormatOpt = Format.table,
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Folder for coverage.json, coverage.csv, coverage.png.")
    ] = None,
):
    """Coverage study: R simulated datasets x B resamples per design, against the known truth.

    One design per (families, hetero) pair; designs with families are bootstrapped over models
    and over families. Reports coverage with its Monte Carlo s.e., misses below and above,
    mean width and degenerate resamples per design, scheme, method and true correlation.
    """
    import itertools

    from .coverage import coverage as run, format_table
    from .writers import write_coverage
    from .outputs import dumps, frame_to_json
    from .simulate import Design

    check_paths(dirs=[("out", out, "coverage")])
    rhos = tuple(_floats("rho", rho))
    designs = [
        Design(
            n_models=models, capabilities=capabilities, rho=rhos, loading=loading, link=link.value,
            step=step, missing=missing, hetero=h, families=f, family_share=family_share,
        )
        for f, h in itertools.product(_ints("families", families), _floats("hetero", hetero))
    ]
    tell = progress_lines()

    def echo(line):  # also stops between designs after a Ctrl-C
        interruptible()(0)
        if tell is not None:
            tell(line)
    result = run(
        designs, datasets=datasets, n=n, methods=methods, level=level, seed=seed,
        population_size=population, device=device.value, x64=x64, progress=echo,
    )
    if fmt is Format.json:
        text = dumps({"metadata": result.metadata, "rows": frame_to_json(result.table.set_index("design"))})
    elif fmt is Format.csv:
        text = result.table.to_csv(index=False)
    elif fmt is Format.parquet:
        from .tables import parquet_bytes

        text = parquet_bytes(result.table)
    else:
        text = format_table(result.table).to_string(index=False) + "\n"
        text += f"{result.metadata['seconds_total']:.1f} s\n"
    write_stdout(text)
    if out is not None:
        write_coverage(result, out, argv=sys.argv)
        typer.echo(f"wrote {out}/", err=True)


# ------------------------------------------------------------------------- importing results


class Duplicates(str, Enum):
    latest = "latest"
    mean = "mean"
    best = "best"


class PublicSet(str, Enum):
    base = "base"
    chat = "chat"


@app.command("import")
@handle_errors(heavy=HOST)
def import_results(
    paths: Annotated[list[Path], typer.Argument(help="Results files and folders (lm-eval, inspect_ai, HELM, Open LLM Leaderboard, long tables).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for scores.csv, info.csv, stderr.csv, n.csv, merge_report.txt.")],
    capabilities: Annotated[
        Optional[str], typer.Option("--capabilities", help="paper, openllm-v2, openllm-v1, or a comma-separated list.")
    ] = None,
    lower_is_better: Annotated[
        Optional[str], typer.Option("--lower-is-better", help="Comma-separated benchmarks where lower is better.")
    ] = None,
    models: Annotated[Optional[Path], typer.Option("--models", help="CSV from,to mapping source model names to ids.")] = None,
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
    from .importers import read_results

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


# ------------------------------------------------------------ capability-adjusted scores


@app.command()
@handle_errors
def adjust(
    benchmark: Annotated[Optional[str], typer.Argument(help="Benchmark to adjust (optional with a one-column --scores).")] = None,
    model_set: SetOpt = ModelSet.chat,
    data: DataOpt = None,
    info: InfoOpt = None,
    data_dir: DataDirOpt = None,
    scores: Annotated[Optional[Path], typer.Option("--scores", help="Your own benchmark (CSV, as correlate reads it).")] = None,
    linear: Annotated[bool, typer.Option("--linear", help="Least squares on the raw scores instead of the rank regression.")] = False,
    partial: Annotated[Optional[str], typer.Option("--partial", help="Second benchmark: partial Spearman correlation given the score.")] = None,
    n: NOpt = 2000,
    seed: SeedOpt = 0,
    method: Annotated[Method, typer.Option("--method", help="Interval method.")] = Method.bca,
    level: LevelOpt = 0.95,
    capabilities: CapsOpt = None,
    device: DeviceOpt = Device.auto,
    x64: X64Opt = False,
    fmt: FormatOpt = Format.table,
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for adjust.csv, slopes.csv, adjust.json, adjust.png.")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also draw the residuals figure (.png or .svg).")] = None,
):
    """Capability-adjusted score of each model (residual from the fit on the capabilities score).

    Rank regression by default (residuals in ranks), --linear for least squares; each model's
    interval says whether it is safer or less safe than its capabilities predict, and the
    slopes (rank and linear) come with intervals.
    """
    from .tables import frame_text
    from .adjust import adjust as run
    from .writers import write_adjust
    from .outputs import dumps, frame_to_json

    if model_set is ModelSet.both:
        raise SwjaxError("set: adjust runs on one set, expected base or chat")
    if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
        raise SwjaxError(f"plot: expected a .png or .svg file, got {plot.name!r}")
    (ds,) = load_sets(model_set, data, info, data_dir)
    with working(f"{ds.label}: {benchmark}, {n} resamples"):
        res = run(
            ds, benchmark, method="linear" if linear else "rank", partial=partial, scores=scores, n=n,
            seed=seed, interval=method.value, level=level, capabilities=parse_list(capabilities),
            device=device.value, x64=x64,
        )
    if fmt is Format.json:
        sys.stdout.write(dumps({"metadata": res.metadata, "table": frame_to_json(res.table),
                                "slopes": frame_to_json(res.slopes)}))
    elif fmt in (Format.csv, Format.parquet):
        write_stdout(frame_text(res.table, fmt.value))
    else:
        md = res.metadata
        title = (f"{md['benchmark_name']} ({md['set']}): capability-adjusted scores, {md['method']} fit, "
                 f"residuals in {md['units']}; {md['level']:.0%} {md['interval']} intervals, n={md['n']}")
        sys.stdout.write(frame_text(res.table, fmt, title) + frame_text(res.slopes, fmt, "slopes"))
    if out is not None:
        write_adjust(res, out, argv=sys.argv)
        typer.echo(f"wrote {out}/", err=True)
    if plot is not None:
        from .figures import plot_adjust, save

        save(plot_adjust(res), plot)
        typer.echo(f"wrote {plot}", err=True)


# ------------------------------------------------------------ power and sample size


@app.command()
@handle_errors
def plan(
    benchmarks: Annotated[Optional[str], typer.Argument(help="Comma-separated benchmarks (default: the paper's main-table ones).")] = None,
    model_set: Annotated[ModelSet, typer.Option("--set", help="Model set the generative model is fitted to.")] = ModelSet.chat,
    data: DataOpt = None,
    info: InfoOpt = None,
    data_dir: DataDirOpt = None,
    rho: Annotated[Optional[str], typer.Option("--rho", help="Hypothetical benchmarks with these capabilities correlations instead.")] = None,
    grid: Annotated[str, typer.Option("--grid", help="Model counts, comma-separated (each >= 5).")] = "15,20,26,40,60,90,130,200",
    target: Annotated[float, typer.Option("--target", help="Power that the number of models needed must reach.")] = 0.8,
    datasets: Annotated[int, typer.Option("--datasets", help="R: simulated datasets per grid point.")] = 500,
    n: Annotated[int, typer.Option("--n", help="B: bootstrap resamples per dataset.")] = 1000,
    threshold: ThresholdOpt = 0.4,
    level: LevelOpt = 0.95,
    seed: SeedOpt = 0,
    capabilities: CapsOpt = None,
    cluster_by: ClusterByOpt = None,
    families: FamiliesOpt = None,
    compare: Annotated[Optional[tuple[str, str]], typer.Option("--compare", help="Two planned benchmarks: minimum detectable difference per m.")] = None,
    device: DeviceOpt = Device.auto,
    x64: X64Opt = False,
    fmt: FormatOpt = Format.table,
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for plan.csv, needed.csv, plan.json, plan.png.")] = None,
):
    """How many models would settle each verdict: power over a grid of model counts.

    A generative model fitted to the data (capability structure, each benchmark's relation to
    the score, ties, missing cells, families when given) is simulated at each m; every dataset
    is analysed by the compiled pipeline with its bootstrap.
    """
    from .tables import frame_text
    from .outputs import dumps, frame_to_json
    from .plan import plan as run
    from .writers import write_plan

    if model_set is ModelSet.both:
        raise SwjaxError("set: plan runs on one set, expected base or chat")
    (ds,) = load_sets(model_set, data, info, data_dir)
    if rho is not None and benchmarks is not None:
        raise SwjaxError("rho: give either benchmarks or --rho, not both")
    echo = progress_lines()
    res = run(
        ds, parse_list(benchmarks) if benchmarks else None, rho=None if rho is None else _floats("rho", rho),
        grid=_ints("grid", grid), target=target, datasets=datasets, n=n, threshold=threshold, level=level,
        seed=seed, capabilities=parse_list(capabilities), clusters=cluster_labels(ds, cluster_by, families),
        compare=compare, device=device.value, x64=x64, progress=echo,
    )
    if fmt is Format.json:
        text = dumps({"metadata": res.metadata, "needed": frame_to_json(res.needed),
                      "power": frame_to_json(res.table.reset_index().set_index("benchmark"))})
    elif fmt in (Format.csv, Format.parquet):
        text = frame_text(res.table, fmt.value)
    else:
        md = res.metadata
        wide = res.table["power"].unstack("m")
        wide.index = [res.needed.at[b, "name"] for b in wide.index]
        text = frame_text(
            res.needed.drop(columns="name"), fmt,
            f"{md['set']}: models needed for {md['target']:.0%} power of a settled verdict (t = {md['threshold']:g}, "
            f"{md['level']:.0%} {md['method']}; R={md['datasets']} x B={md['n']}; m_needed NaN: beyond the grid)",
        )
        se = float(res.table["mc_se"].max())
        text += frame_text(wide, fmt, f"power by number of models (Monte Carlo s.e. at most {se:.3f})")
        if res.compare is not None:
            text += frame_text(res.compare, fmt, "difference of the two correlations: power and minimum detectable difference")
        text += f"{md['seconds_total']:.1f} s\n"
    write_stdout(text)
    if out is not None:
        write_plan(res, out, argv=sys.argv)
        typer.echo(f"wrote {out}/", err=True)


def check_bootstrap_space(datasets, n, x64, eigenvalues, out, stream_to) -> None:
    """Refuse before resampling when the distributions cannot fit on the disk of --out or
    --stream-to (an upper bound from the matrix sizes: n x benchmarks numbers per set)."""
    from .outputs import check_free_space

    columns = sum(ds.scores.shape[1] for ds in datasets)
    if out is not None:
        spectra = 8 * 12 * n * len(datasets) if eigenvalues else 0
        check_free_space(out, n * columns * (8 if x64 else 4) + spectra, "out")
    if stream_to is not None:
        check_free_space(stream_to, n * (columns + 3 * len(datasets)) * 4, "stream-to")


def use_compile_cache() -> None:
    """Keep compiled functions between runs (JAX's persistent cache) in the user cache folder.

    A repeated command then skips most of its compilation. ``SWJAX_COMPILE_CACHE=0`` turns
    it off; ``SWJAX_COMPILE_CACHE=DIR`` puts it elsewhere. Only the command line does this:
    the library never changes JAX's configuration.
    """
    import os

    setting = os.environ.get("SWJAX_COMPILE_CACHE", "")
    if setting == "0":
        return
    folder = Path(setting) if setting else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "swjax" / "xla"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    settings = {
        "jax_compilation_cache_dir": str(folder),
        "jax_persistent_cache_min_compile_time_secs": 0.1,
        "jax_persistent_cache_min_entry_size_bytes": 0,
    }
    if "jax" in sys.modules:  # already imported (e.g. the command line called from Python)
        import jax

        for name, value in settings.items():
            jax.config.update(name, value)
        return
    # Not imported yet: JAX reads these when it is, so `--help` and bad input never import it.
    for name, value in settings.items():
        os.environ.setdefault(name.upper(), str(value))
    if setting:  # SWJAX_COMPILE_CACHE=DIR wins over an inherited JAX setting
        os.environ["JAX_COMPILATION_CACHE_DIR"] = str(folder)


def main() -> None:
    use_compile_cache()
    app()


if __name__ == "__main__":
    main()
