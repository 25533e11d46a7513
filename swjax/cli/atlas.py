"""``atlas``: every benchmark of many result sources, with its capabilities correlation,
interval, q-value across the atlas and verdict, into one folder with a self-contained page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import (
    Device, DeviceOpt, Duplicates, LevelOpt, Missing, MissingCapsOpt, READS, SeedOpt, ThresholdOpt, WRITES_INTO,
    writes_folder,
)
from .common import handle_errors, progress_lines


@handle_errors
def atlas(
    sources: Annotated[list[Path], typer.Argument(help="Result files and folders, one population each (any format import reads)."), READS],
    out: Annotated[Path, typer.Option("--out", help="Folder for atlas.csv, atlas.json, atlas.parquet, populations.csv, index.html, manifest.json."),
                   writes_folder("atlas")],
    capabilities: Annotated[
        Optional[str], typer.Option("--capabilities", help="Comma-separated capability benchmarks (those a population has; at least 3), or a named set.")
    ] = None,
    merge: Annotated[bool, typer.Option("--merge", help="One population of all sources instead of one per source.")] = False,
    min_models: Annotated[int, typer.Option("--min-models", help="Fewest models a benchmark needs to be analysed.")] = 20,
    families: Annotated[
        Optional[str], typer.Option("--families", help="'auto': each model's developer is its family (cluster-t intervals).")
    ] = None,
    n: Annotated[int, typer.Option("--n", help="Bootstrap resamples per population.")] = 2000,
    permutations: Annotated[int, typer.Option("--permutations", help="Permutations per population (the p-values behind the q-values).")] = 1000,
    seed: SeedOpt = 0,
    level: LevelOpt = 0.95,
    threshold: ThresholdOpt = 0.4,
    duplicates: Annotated[
        Optional[Duplicates], typer.Option("--duplicates", help="Resolve two results for one model and benchmark.")
    ] = None,
    models: Annotated[Optional[Path], typer.Option("--models", help="CSV from,to mapping source model names to ids."), READS] = None,
    lower_is_better: Annotated[
        Optional[str], typer.Option("--lower-is-better", help="Comma-separated benchmarks where lower is better (tables do not say).")
    ] = None,
    missing: MissingCapsOpt = Missing.drop,
    revision: Annotated[Optional[str], typer.Option("--revision", help="The sources' revision (a datastore commit), recorded in the provenance.")] = None,
    cache: Annotated[
        Optional[Path], typer.Option("--cache", help="Folder keeping finished populations (default $SWJAX_CACHE_DIR/atlas or ~/.cache/swjax/atlas)."),
        WRITES_INTO,
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Keep nothing between runs.")] = False,
    device: DeviceOpt = Device.auto,
    part: Annotated[
        Optional[str], typer.Option("--part", help="Analyse only part I/N of the populations (hosts sharing one --cache run one part each; a run without --part assembles).")
    ] = None,
):
    """The atlas: every benchmark of every population in SOURCES with its capabilities correlation."""
    from ..atlas import atlas as run
    from ..atlas import parse_part
    from ..errors import SwjaxError

    if families not in (None, "auto"):
        raise SwjaxError(f"families: the atlas takes 'auto' (each model's developer), got {families!r}")
    imports = {k: v for k, v in dict(duplicates=duplicates and duplicates.value, models=models,
                                     lower_is_better=lower_is_better).items() if v is not None}
    res = run(
        [str(s) for s in sources], capabilities=capabilities, merge=merge, min_models=min_models, families=families,
        n=n, seed=seed, level=level, threshold=threshold, permutations=permutations, device=device.value,
        cache=False if no_cache else cache, progress=progress_lines(), revision=revision, missing=missing.value, part=part,
        **imports,
    )
    res.write(out)
    split = res.metadata.get("part")
    pops = res.populations
    # the populations another part analyses: listed in populations.csv, not reported here as skipped
    elsewhere = (pops["part"].notna() & (pops["part"] != parse_part(split)[0])).to_numpy(bool) if split \
        else [False] * len(pops)
    for row, other in zip(pops.itertuples(index=False), elsewhere):
        if row.skipped and not other:
            typer.echo(f"{row.population}: not analysed ({row.skipped})", err=True)
    for pop, benches in res.metadata.get("assumed_directions", {}).items():
        typer.echo(f"{pop}: direction assumed higher-is-better for {len(benches)} analysed benchmark(s) "
                   f"({', '.join(benches[:6])}{' ...' if len(benches) > 6 else ''}); if lower is better, "
                   "pass --lower-is-better (see import_report.txt)", err=True)
    counts = res.table["verdict"].value_counts()
    typer.echo(f"{len(res.table)} benchmark(s) in {int((res.populations['skipped'] == '').sum())} population(s): "
               + ", ".join(f"{v} {k}" for k, v in counts.items()), err=True)
    if split:
        others = int(sum(elsewhere))
        typer.echo(f"part {split}: {others} population(s) are the other parts'; once every part is done, the same "
                   "command without --part on the same --cache assembles the whole atlas (q-values across all of it)",
                   err=True)
    typer.echo(f"wrote {out}/ (open {out}/index.html)", err=True)
