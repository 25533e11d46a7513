"""Figures and the report: ``plot`` and ``report``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import SwjaxError
from .options import (
    ClusterByOpt, DataDirOpt, Device, DeviceOpt, FamiliesOpt, LevelOpt, MethodOpt, ModelSet, NOpt,
    PermutationsOpt, PlotKind, READS, Score, ScoreOpt, SeedOpt, SetOpt, ThresholdOpt, WRITES_FILE, writes_folder,
)
from .common import HOST, cluster_labels, correlate_all, handle_errors, parse_list, progress_bar, public_sets, working


@handle_errors(heavy=HOST)
def plot(
    kind: Annotated[
        PlotKind, typer.Argument(metavar="KIND", help="The figure: forest, scatter, scree, heatmap, spec-curve or distribution.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Figure file: .png or .svg."), WRITES_FILE],
    model_set: Annotated[ModelSet, typer.Option("--set", help="Public model set (base or chat).")] = ModelSet.chat,
    benchmark: Annotated[Optional[str], typer.Option("--benchmark", help="Benchmark for scatter, spec-curve, distribution.")] = None,
    scores: Annotated[Optional[Path], typer.Option("--scores", help="Add your new benchmarks (CSV)."), READS] = None,
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
    (ds,) = public_sets(model_set, data_dir)
    if needs:  # the name checked (id or display name) before anything is computed
        from ..user_scores import combine

        benchmark = (ds if scores is None else combine(ds, scores)[0]).resolve(benchmark)
    from .. import interrupt

    interrupt.import_held()  # JAX, once the input is known to be good
    from .. import figures
    if kind is PlotKind.spec_curve:
        from ..correlate import subset_correlations
        from ..user_scores import combine

        if scores is not None:
            ds = combine(ds, scores)[0]
        with working(f"{ds.label}: {benchmark} over capability subsets"):
            frame = subset_correlations(ds, [benchmark], n_subsets=subsets, seed=seed)
        fig = figures.spec_curve(frame, benchmark, threshold=threshold, label=ds.display_name(benchmark))
    else:
        spectrum = kind is PlotKind.scree  # resampled eigenvalues cost extra: only for the scree plot
        if scores is not None:
            from ..correlate import correlate as run

            with working(f"{ds.label}: {n} resamples"):
                result = run(scores, ds, n=n, seed=seed, level=level, threshold=threshold, eigenvalues=spectrum)
            data = result.dataset
        else:
            from ..bootstrap import bootstrap as run

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


@handle_errors
def report(
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html, report.md, figures and manifest.json."),
                   writes_folder("report")],
    model_set: SetOpt = ModelSet.both,
    scores: Annotated[Optional[Path], typer.Option("--scores", help="Include your new benchmarks (CSV)."), READS] = None,
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
        READS,
    ] = None,
    plan_datasets: Annotated[
        int, typer.Option("--plan", help="Add 'What would settle it': swjax plan with this many datasets per grid point (0: none).")
    ] = 0,
    permutations: PermutationsOpt = 0,
    cluster_by: ClusterByOpt = None,
    families: FamiliesOpt = None,
    score: ScoreOpt = Score.paper,
):
    """A self-contained HTML report (figures, sortable table, methods, manifest) and its markdown twin."""
    from ..report import write_report

    kw = dict(n=n, seed=seed, method=method and method.value, level=level, threshold=threshold, device=device.value,
              permutations=permutations, eigenvalues=True, score=score.value)  # eigenvalues for the scree plot
    sets = public_sets(model_set, data_dir)
    clusters = {ds.label: cluster_labels(ds, cluster_by, families, known=sets) for ds in sets}
    scatter_for = None
    if scores is not None:
        results = correlate_all(scores, model_set, data_dir, clusters=clusters, **kw)
        # the author's own benchmarks, each against the capabilities score
        scatter_for = {r.result.metadata["set"]: [(b, r.dataset) for b in r.new] for r in results}
    else:
        from ..bootstrap import bootstrap as run

        results = []
        for ds in sets:
            with progress_bar(n, f"{ds.label}: resampling") as advance:
                results.append(run(ds, progress=advance, clusters=clusters[ds.label], **kw))
    plans = None
    if plan_datasets:  # the power section: swjax/plan.py, on each public set
        from ..plan import plan as run_plan

        plans = {ds.label: run_plan(ds, datasets=plan_datasets, seed=seed, threshold=threshold, level=level,
                                    device=device.value) for ds in public_sets(model_set, data_dir)}
    write_report(out, results, published=published, command=" ".join(sys.argv), plans=plans, scatter_for=scatter_for)
    typer.echo(f"wrote {out}/report.html and {out}/report.md", err=True)
