"""Simulation studies: ``simulate`` (a matrix with known correlations), ``coverage`` (how
good the intervals are) and ``plan`` (power and the models needed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import SwjaxError
from .options import (
    CapsOpt, ClusterByOpt, DataDirOpt, DataOpt, Device, DeviceOpt, FamiliesOpt, Format, FormatOpt, InfoOpt,
    LevelOpt, Link, LinkOpt, LoadingOpt, MissingOpt, ModelSet, ModelsOpt, SeedOpt, ShareOpt, SimCapsOpt,
    StepOpt, ThresholdOpt, X64Opt, writes_folder,
)
from .common import (
    parse_floats, parse_ints, cluster_labels, handle_errors, interruptible, load_sets, parse_list,
    progress_lines,
)
from .output import formatted, write_stdout


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
        Optional[Path], typer.Option("--out", help="Folder for scores.csv, info.csv, families.csv, truth.json."),
        writes_folder("simulate"),
    ] = None,
):
    """A benchmark matrix from a latent-factor model, with its population correlations.

    Prints the matrix as CSV (readable by --data); the truth goes to stderr, or with --out to
    truth.json beside the matrix, its benchmark names and each model's family.
    """
    from ..simulate import simulate as run
    from ..writers import write_simulation

    sim = run(
        models, capabilities=capabilities, rho=parse_floats("rho", rho), loading=loading, link=link.value,
        step=step, missing=missing, hetero=hetero, families=families, family_share=family_share,
        seed=seed, population_size=population,
    )
    scores = sim.dataset.scores.rename_axis("model")
    if out is None:
        write_stdout(scores.to_csv())
        listing = ", ".join(f"{b} {v:.3f}" for b, v in sim.truth.items())
        typer.echo(f"population capabilities correlations: {listing}", err=True)
        return
    write_simulation(sim, out, seed)
    typer.echo(f"wrote {out}/", err=True)


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
        Optional[Path], typer.Option("--out", help="Folder for coverage.json, coverage.csv, coverage.png."),
        writes_folder("coverage"),
    ] = None,
):
    """Coverage study: R simulated datasets x B resamples per design, against the known truth.

    One design per (families, hetero) pair; designs with families are bootstrapped over models
    and over families. Reports coverage with its Monte Carlo s.e., misses below and above,
    mean width and degenerate resamples per design, scheme, method and true correlation.
    """
    import itertools

    from ..coverage import coverage as run, format_table
    from ..writers import write_coverage
    from ..outputs import dumps, frame_to_json
    from ..simulate import Design

    rhos = tuple(parse_floats("rho", rho))
    designs = [
        Design(
            n_models=models, capabilities=capabilities, rho=rhos, loading=loading, link=link.value,
            step=step, missing=missing, hetero=h, families=f, family_share=family_share,
        )
        for f, h in itertools.product(parse_ints("families", families), parse_floats("hetero", hetero))
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
    text = formatted(
        fmt, table=lambda: (format_table(result.table).to_string(index=False) + "\n"
                            + f"{result.metadata['seconds_total']:.1f} s\n"),
        frame=lambda: result.table, index=False,
        json=lambda: dumps({"metadata": result.metadata, "rows": frame_to_json(result.table.set_index("design"))}),
    )
    write_stdout(text, optional=out is not None)
    if out is not None:
        write_coverage(result, out, argv=sys.argv)
        typer.echo(f"wrote {out}/", err=True)


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
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for plan.csv, needed.csv, plan.json, plan.png."),
                   writes_folder("plan")] = None,
):
    """How many models would settle each verdict: power over a grid of model counts.

    A generative model fitted to the data (capability structure, each benchmark's relation to
    the score, ties, missing cells, families when given) is simulated at each m; every dataset
    is analysed by the compiled pipeline with its bootstrap.
    """
    from ..outputs import dumps, frame_to_json
    from ..plan import plan as run
    from ..writers import write_plan

    if model_set is ModelSet.both:
        raise SwjaxError("set: plan runs on one set, expected base or chat")
    (ds,) = load_sets(model_set, data, info, data_dir)
    if rho is not None and benchmarks is not None:
        raise SwjaxError("rho: give either benchmarks or --rho, not both")
    echo = progress_lines()
    res = run(
        ds, parse_list(benchmarks) if benchmarks else None, rho=None if rho is None else parse_floats("rho", rho),
        grid=parse_ints("grid", grid), target=target, datasets=datasets, n=n, threshold=threshold, level=level,
        seed=seed, capabilities=parse_list(capabilities), clusters=cluster_labels(ds, cluster_by, families),
        compare=compare, device=device.value, x64=x64, progress=echo,
    )
    text = formatted(
        fmt, table=lambda: _plan_tables(res), frame=lambda: res.table,
        json=lambda: dumps({"metadata": res.metadata, "needed": frame_to_json(res.needed),
                            "power": frame_to_json(res.table.reset_index().set_index("benchmark"))}),
    )
    write_stdout(text, optional=out is not None)
    if out is not None:
        write_plan(res, out, argv=sys.argv)
        typer.echo(f"wrote {out}/", err=True)


def _plan_tables(res) -> str:
    """The terminal's tables of a plan: models needed, power by m, the difference's power."""
    from ..tables import frame_text

    md = res.metadata
    wide = res.table["power"].unstack("m")
    wide.index = [res.needed.at[b, "name"] for b in wide.index]
    text = frame_text(
        res.needed.drop(columns="name"), "table",
        f"{md['set']}: models needed for {md['target']:.0%} power of a settled verdict (t = {md['threshold']:g}, "
        f"{md['level']:.0%} {md['method']}; R={md['datasets']} x B={md['n']}; m_needed NaN: beyond the grid)",
    )
    se = float(res.table["mc_se"].max())
    text += frame_text(wide, "table", f"power by number of models (Monte Carlo s.e. at most {se:.3f})")
    if res.compare is not None:
        text += frame_text(res.compare, "table", "difference of the two correlations: power and minimum detectable difference")
    return text + f"{md['seconds_total']:.1f} s\n"
