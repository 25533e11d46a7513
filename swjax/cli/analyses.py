"""The analyses of one matrix: ``analyze``, ``bootstrap``, ``lobo``, ``subsets``, ``compare``,
``adjust``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import SwjaxError
from .options import (
    AgainstOpt, BatchOpt, CapsOpt, ClusterByOpt, DataDirOpt, DataOpt, Device, DeviceOpt, FamiliesOpt, Format,
    FormatOpt, InfoOpt, ItemsOpt, LevelOpt, Method, MethodOpt, Missing, MissingCapsOpt, ModelSet, NOpt, OutOpt,
    PermutationsOpt, READS, Score, ScoreOpt, SeedOpt, SetOpt, StderrOpt, ThresholdOpt, WRITES_FILE, WRITES_INTO, X64Opt, writes_folder,
)
from .common import (
    check_bootstrap_space, cluster_labels, handle_errors, load_sets, measurement_errors, parse_list, progress_bar,
    working,
)
from .output import emit, formatted, render, write_stdout


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
    score: ScoreOpt = Score.paper,
):
    """The Safetywashing analysis: every benchmark's correlation with the capabilities score."""
    import pandas as pd

    from .. import tables
    from ..analysis import analyze as run

    caps = parse_list(capabilities)
    results = [
        run(ds, capabilities=caps, against=against, x64=x64, missing=missing.value, score=score.value)
        for ds in load_sets(model_set, data, info, data_dir)
    ]
    emit(formatted(
        fmt, table=lambda: render(lambda f: [tables.analysis_rich(a, file=f) for a in results]),
        frame=lambda: pd.concat([tables.analysis_long(a) for a in results], ignore_index=True), index=False,
        json=lambda: tables.analysis_json(results),
    ), out)


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
        Optional[Path], typer.Option("--out", help="Folder for table.csv, table.json, distributions.npz, manifest.json."),
        writes_folder("bootstrap"),
    ] = None,
    cluster_by: ClusterByOpt = None,
    families: FamiliesOpt = None,
    # Scale: keep the distribution on disk for very large --n (bounded memory).
    stream_to: Annotated[
        Optional[Path],
        typer.Option("--stream-to", help="Folder for SET.f32 distributions on disk (bounded memory for large --n)."),
        WRITES_INTO,
    ] = None,
    eigenvalues: Annotated[
        bool, typer.Option("--eigenvalues", help="Also keep every resample's eigenvalues (written to distributions.npz).")
    ] = False,
    missing: MissingCapsOpt = Missing.drop,
    score: ScoreOpt = Score.paper,
    show: Annotated[
        Optional[str],
        typer.Option("--benchmarks", help="Rows to show and write: 'main' (the paper's main-table benchmarks), "
                     "'all', or a comma-separated list. Default: 'main' in the terminal table of the public "
                     "sets, else 'all'."),
    ] = None,
    stderr: StderrOpt = None,
    items: ItemsOpt = None,
):
    """Bootstrap the whole pipeline: interval, p-value and verdict for every correlation."""
    from .. import tables
    from ..bootstrap import bootstrap as run

    caps = parse_list(capabilities)
    datasets = load_sets(model_set, data, info, data_dir)
    if show not in (None, "main", "all", "headline"):  # a mistyped name fails before the resampling
        for ds in datasets:
            for name in parse_list(show):
                ds.resolve(name)
    check_bootstrap_space(datasets, n, x64, eigenvalues, out, stream_to)
    errors = measurement_errors(stderr, items)
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
                    eigenvalues=eigenvalues, missing=missing.value, score=score.value,
                    stderr=errors(ds),
                )
            )
    full = results
    results = _shown(results, show, terminal=fmt is Format.table)
    text = formatted(
        fmt, table=lambda: render(lambda f: [tables.bootstrap_rich(r, file=f) for r in results]),
        frame=lambda: tables.bootstrap_frame(results), json=lambda: tables.bootstrap_json(results),
    )
    write_stdout(text, optional=out is not None)
    if out is not None:
        from ..writers import write_bootstrap

        write_bootstrap(_shown(full, show, terminal=False), out, argv=sys.argv)
        typer.echo(f"wrote {out}/", err=True)


def _shown(results, show, terminal: bool):
    """The results restricted to the rows to show (``--benchmarks``): by default the paper's
    main-table benchmarks in the terminal table of a public set, every row elsewhere."""
    from ..data import DATASETS

    if show is None:
        return [r.select("main") if terminal and r.metadata["set"] in DATASETS else r for r in results]
    which = show if show in ("main", "all", "headline") else parse_list(show)
    return [r.select(which) for r in results]


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
    score: ScoreOpt = Score.paper,
):
    """Leave each capability benchmark out of the score in turn: range and largest move."""
    from ..tables import frame_text, measure_note
    import pandas as pd

    from ..sensitivity import lobo as run

    caps = parse_list(capabilities)
    runs = []
    for ds in load_sets(model_set, data, info, data_dir):
        with working(f"{ds.label}: leaving each capability benchmark out" + (f", {n} resamples" if n else "")):
            runs.append((ds.label, run(ds, capabilities=caps, against=against, n=n, seed=seed,
                                       method=method and method.value, level=level, threshold=threshold,
                                       device=device.value, x64=x64, score=score.value)))
    emit(formatted(
        fmt, table=lambda: "".join(frame_text(_lobo_spread(res), "table", f"{label}: leave one capability benchmark "
                                              f"out of the score{measure_note(res.metadata)}") for label, res in runs),
        frame=lambda: pd.concat([_with_set(_lobo_wide(res), label) for label, res in runs]),
    ), out)


def _with_set(frame, label):
    """``frame`` with the model set as its first column (the rows of several sets in one table)."""
    frame = frame.copy()
    frame.insert(0, "set", label)
    return frame


def _lobo_wide(res):
    """Every variant's correlation (and with --n its interval) per benchmark: the files' table."""
    frame = res.table.join(res.correlations.drop(columns="full"))
    if res.intervals is not None:
        wide = res.intervals.pivot(index="benchmark", columns="variant", values=["low", "high"])
        wide.columns = [f"{v}:{s}" for s, v in wide.columns]
        frame = frame.join(wide)
    return frame


def _lobo_spread(res):
    """The terminal's table: the spread, and with --n the full set's interval and verdict."""
    frame = res.table.drop(columns=["min", "max"])
    if res.intervals is not None:
        iv = res.intervals.set_index("benchmark")
        full = iv[iv["variant"] == "full"][["low", "high", "verdict"]]
        changed = (iv[iv["variant"] != "full"]["verdict"] != full["verdict"].reindex(
            iv.index[iv["variant"] != "full"])).groupby(level=0).sum()
        frame = frame.join(full).join(changed.rename("verdict_changes"))
    return frame


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
    score: ScoreOpt = Score.paper,
):
    """Every capability subset as the score (a specification curve): spread and verdict stability."""
    from ..tables import frame_text, measure_note
    import pandas as pd

    from ..sensitivity import subsets as run

    caps = parse_list(capabilities)
    runs = []
    for ds in load_sets(model_set, data, info, data_dir):
        with working(f"{ds.label}: every capability subset" + (f", {n} resamples" if n else "")):
            runs.append((ds.label, run(ds, capabilities=caps, against=against, min_size=min_size,
                                       max_subsets=max_subsets, n=n, seed=seed, level=level, threshold=threshold,
                                       device=device.value, batch_size=batch_size, x64=x64,
                                       score=score.value)))

    def counted(label, md):
        return f"{label}: {md['n_subsets']} of {md['n_subsets_total']}"

    def frame():  # the files' table, every set's rows; the counts go to stderr
        for label, res in runs:
            typer.echo(f"{counted(label, res.metadata)} subsets", err=True)
        return pd.concat([_with_set(res.table, label) for label, res in runs])

    emit(formatted(
        fmt, table=lambda: "".join(
            frame_text(res.table, "table", f"{counted(label, res.metadata)} capability subsets (specification curve)"
                       + (f", {n} resamples" if n else "") + measure_note(res.metadata)) for label, res in runs),
        frame=frame,
    ), out)


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
    score: ScoreOpt = Score.paper,
):
    """Interval and p-value of A - B on the same resamples, of A across sets, or of A alone."""
    from ..tables import frame_text, measure_note
    from ..compare import compare as run_pair
    from ..compare import compare_between

    caps = parse_list(capabilities)
    common = dict(n=n, seed=seed, method=method and method.value, level=level, capabilities=caps,
                  against=against, device=device.value, x64=x64, score=score.value)
    if between is not None:
        if b is not None:
            raise SwjaxError("between: compare one benchmark across sets (got two benchmarks)")
        from ..analysis import as_dataset

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
    title = f"n={n} seed={seed} ({res.metadata['pairing']}){measure_note(res.metadata)}"
    emit(formatted(fmt, table=lambda: frame_text(res.table, "table", title),
                   frame=lambda: res.table), out)


@handle_errors
def adjust(
    benchmark: Annotated[Optional[str], typer.Argument(help="Benchmark to adjust (optional with a one-column --scores).")] = None,
    model_set: SetOpt = ModelSet.chat,
    data: DataOpt = None,
    info: InfoOpt = None,
    data_dir: DataDirOpt = None,
    scores: Annotated[Optional[Path], typer.Option("--scores", help="Your own benchmark (CSV, as correlate reads it)."), READS] = None,
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
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for adjust.csv, slopes.csv, adjust.json, adjust.png."),
                   writes_folder("adjust")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also draw the residuals figure (.png or .svg)."), WRITES_FILE] = None,
    score: ScoreOpt = Score.paper,
):
    """Capability-adjusted score of each model (residual from the fit on the capabilities score).

    Rank regression by default (residuals in ranks), --linear for least squares; each model's
    interval says whether it is safer or less safe than its capabilities predict, and the
    slopes (rank and linear) come with intervals.
    """
    from ..tables import frame_text, measure_note
    from ..adjust import adjust as run
    from ..writers import write_adjust
    from ..outputs import dumps, frame_to_json

    if model_set is ModelSet.both:
        raise SwjaxError("set: adjust runs on one set, expected base or chat")
    if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
        raise SwjaxError(f"plot: expected a .png or .svg file, got {plot.name!r}")
    (ds,) = load_sets(model_set, data, info, data_dir)
    with working(f"{ds.label}: {benchmark}, {n} resamples"):
        res = run(
            ds, benchmark, method="linear" if linear else "rank", partial=partial, scores=scores, n=n,
            seed=seed, interval=method.value, level=level, capabilities=parse_list(capabilities),
            device=device.value, x64=x64, score=score.value,
        )
    md = res.metadata
    title = (f"{md['benchmark_name']} ({md['set']}): capability-adjusted scores, {md['method']} fit, "
             f"residuals in {md['units']}; {md['level']:.0%} {md['interval']} intervals, n={md['n']}"
             f"{measure_note(md)}")
    write_stdout(formatted(
        fmt, table=lambda: frame_text(res.table, "table", title) + frame_text(res.slopes, "table", "slopes"),
        frame=lambda: res.table,
        json=lambda: dumps({"metadata": md, "table": frame_to_json(res.table), "slopes": frame_to_json(res.slopes)}),
    ), optional=out is not None or plot is not None)
    if out is not None:
        write_adjust(res, out, argv=sys.argv)
        typer.echo(f"wrote {out}/", err=True)
    if plot is not None:
        from ..figures import plot_adjust, save

        save(plot_adjust(res), plot)
        typer.echo(f"wrote {plot}", err=True)


@handle_errors
def axes(
    benchmarks: Annotated[
        Optional[list[str]],
        typer.Argument(help="Benchmarks (default: the paper's main-table benchmarks of a public set, else every "
                            "benchmark outside the capability set; 'all' for every one)."),
    ] = None,
    model_set: Annotated[ModelSet, typer.Option("--set", help="Model set of the public data (one).")] = ModelSet.chat,
    data: DataOpt = None,
    info: InfoOpt = None,
    data_dir: DataDirOpt = None,
    measures: Annotated[
        Optional[str],
        typer.Option("--measures", help="Comma-separated capability measures (default every one the data allows: "
                                        "paper, pearson, mean-z, irt, compute)."),
    ] = None,
    n: NOpt = 10000,
    seed: SeedOpt = 0,
    method: MethodOpt = None,
    level: LevelOpt = 0.95,
    threshold: ThresholdOpt = 0.4,
    capabilities: CapsOpt = None,
    device: DeviceOpt = Device.auto,
    batch_size: BatchOpt = None,
    x64: X64Opt = False,
    fmt: FormatOpt = Format.table,
    out: OutOpt = None,
    cluster_by: ClusterByOpt = None,
    families: FamiliesOpt = None,
    missing: MissingCapsOpt = Missing.drop,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also draw the forest across measures (.png or .svg)."),
                    WRITES_FILE] = None,
    with_scale: Annotated[bool, typer.Option("--scale", help="Also the partial correlations with the capabilities score "
                                             "given log FLOP and with log FLOP given the score (models with FLOP).")] = False,
    stderr: StderrOpt = None,
    items: ItemsOpt = None,
):
    """Which capability? Each benchmark's correlation, interval and verdict under every capability
    measure, on the same resamples, with the differences between measures."""
    import pandas as pd

    from ..axes import axes as run
    from ..tables import frame_text

    if model_set is ModelSet.both:
        raise SwjaxError("set: axes runs on one set (--set base or --set chat)")
    (ds,) = load_sets(model_set, data, info, data_dir)
    errors = measurement_errors(stderr, items)
    which = None if not benchmarks else benchmarks[0] if benchmarks in (["main"], ["all"]) else benchmarks
    with working(f"{ds.label}: {n} resamples under each capability measure"):
        res = run(ds, which, scores=measures, n=n, seed=seed, method=method and method.value, level=level,
                  threshold=threshold, capabilities=parse_list(capabilities), device=device.value,
                  batch_size=batch_size, x64=x64, missing=missing.value,
                  clusters=cluster_labels(ds, cluster_by, families), progress=lambda t: typer.echo(t, err=True),
                  stderr=errors(ds))
        partials = None
        if with_scale:
            import importlib

            partials = importlib.import_module("swjax.axes").scale(
                ds, list(res.verdicts.index), n=n, seed=seed, level=level, capabilities=parse_list(capabilities),
                device=device.value, batch_size=batch_size, x64=x64)

    def table():
        wide = res.table.copy()
        wide["interval"] = [f"[{lo:.3f}, {hi:.3f}]" if pd.notna(lo) and pd.notna(hi) else "none"
                            for lo, hi in zip(wide["low"], wide["high"])]
        shown = wide[["estimate", "interval", "verdict", "n_models"]].reset_index()
        shown.index = [b if i == 0 else "" for b, i in zip(shown["benchmark"], shown.groupby("benchmark").cumcount())]
        shown = shown.drop(columns="benchmark").rename_axis("benchmark")
        robust = res.verdicts[["robustness"]].rename_axis("benchmark")
        moved = res.differences[res.differences["excludes_zero"]].reset_index()
        text = frame_text(shown, "table", f"{res.metadata['set']}: {n:,} resamples, the same under every measure")
        text += frame_text(robust, "table", "the verdict under every measure")
        if len(moved):
            moved["pair"] = moved["first"] + " - " + moved["second"]
            moved = moved.set_index(["benchmark", "pair"])[["estimate", "low", "high", "interval"]]
            text += frame_text(moved, "table", "differences between measures whose interval excludes 0")
        else:
            text += "no difference between two measures has an interval excluding 0\n"
        if res.metadata["left_out"]:
            text += "".join(f"left out: {k} ({v})\n" for k, v in res.metadata["left_out"].items())
        if partials is not None:
            shown = partials.copy()
            shown["interval"] = [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(shown["low"], shown["high"])]
            text += frame_text(shown[["estimate", "interval", "n_models"]], "table",
                               "capabilities or scale: partial Spearman correlations over the models with FLOP")
        return text

    def frame():
        return res.table.join(res.verdicts[["robustness"]], on="benchmark").reset_index()

    def json():
        from ..outputs import dumps

        doc = {"table": frame().to_dict("records"), "differences": res.differences.reset_index().to_dict("records"),
               "metadata": res.metadata}
        if partials is not None:
            doc["scale"] = partials.reset_index().to_dict("records")
        return dumps(doc)

    emit(formatted(fmt, table=table, frame=frame, json=json, index=False), out)
    if plot is not None:
        from ..figures import axes_forest, save

        save(axes_forest(res), plot)
        typer.echo(f"wrote {plot}", err=True)
