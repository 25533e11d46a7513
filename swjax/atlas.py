"""The atlas: every benchmark of a public record with its capabilities correlation and interval.

``atlas(SOURCES)`` turns result files into the paper's table for each population of models:

1. **Populations.** Each source (a file or folder that :func:`swjax.read_results` reads) is one
   population: models evaluated under one protocol, by one leaderboard or tool. Merging sources
   into one population is an explicit choice (``merge=True``); its name matcher's report is
   kept with the population.
2. **Capability set.** ``capabilities``: a list (the members a population has; at least
   :data:`MIN_CAPABILITIES`), or a dict of population name -> list. Without it, the benchmarks
   that the import marks as capabilities: a named set of :mod:`swjax.importers.capabilities`, or
   the source's own categories (IBM benchbench's file names: every category but ``safety``,
   :data:`swjax.importers.wide_table.CAPABILITY_CATEGORIES`).
   A population with no capability set of at least :data:`MIN_CAPABILITIES` members is listed
   with the reason and not analysed: the atlas never guesses which benchmarks measure
   capabilities.
3. **Benchmarks.** Every other benchmark with at least ``min_models`` models (default 20; counted
   among the models the analysis keeps: those with every capability score, unless
   ``missing="impute"``; a population with more than
   :data:`swjax.validate.IMPUTE_VALIDATED_SHARE` of its capability cells missing is then listed
   with that share and not analysed) gets
   its capabilities correlation, interval (family-aware with ``families="auto"``: cluster-t over
   each model's developer), verdict, the number of models behind it and its permutation
   p-value; q-values (Benjamini-Hochberg) are taken across the whole atlas, not per population.
   Benchmarks with fewer models are listed per population, with their count.
4. **Progress.** Before it starts, the atlas says how much there is to do and, where an earlier
   run with the same cache measured this machine's speed, about how long it will take; after
   each population, the time so far and the time left.
5. **Resuming.** Each finished population is kept in a cache folder under a key made of its
   data (the sha256 of its matrix and families) and every setting, so an interrupted atlas
   run again redoes only the populations it had not finished, and a changed setting redoes all.
6. **Across devices and hosts.** Each population's resamples run on every device of the
   platform (the engine's sharding). ``part=(i, count)`` analyses only the populations of
   part ``i`` of ``count`` (:func:`assign_parts`: balanced by work, the same on every host that
   reads the same sources with the same settings), so ``count`` hosts sharing one cache folder
   split the work; a run without ``part`` on that cache then takes every population from it and
   assembles the atlas, with q-values across all of it.

The computation is :func:`swjax.bootstrap` per population (the same resamples, intervals and
verdicts as the ``bootstrap`` command on that population alone).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import validate
from .errors import SwjaxError

__all__ = ["AtlasResult", "Population", "atlas", "populations", "bh_qvalues", "source_provenance", "assign_parts",
           "parse_part", "MIN_CAPABILITIES", "MIN_MODELS"]

#: Fewest capability benchmarks a population's capabilities score may rest on.
MIN_CAPABILITIES = 3
#: Default fewest models behind a benchmark of the atlas.
MIN_MODELS = 20
#: Columns of the atlas table, in order.
COLUMNS = ("population", "benchmark", "name", "n_models", "estimate", "low", "high", "interval", "se",
           "p_value", "q_value", "verdict")


@dataclass(frozen=True)
class Population:
    """One population of the atlas: its data, its capability set and why it was chosen, or the
    reason it is not analysed (``skipped``)."""

    name: str
    sources: tuple[str, ...]
    data: object = field(repr=False)  # ImportResult, or None where reading failed
    capabilities: tuple[str, ...] = ()
    capabilities_from: str = ""
    skipped: str = ""
    few_models: dict = field(default_factory=dict)  # benchmark -> models, below min_models


@dataclass(frozen=True)
class AtlasResult:
    """The atlas.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (population, benchmark): :data:`COLUMNS`.
    populations : pandas.DataFrame
        One row per population: sources, models, benchmarks analysed, capability set and where it
        came from, benchmarks below the minimum of models, and why a population was skipped.
    models : dict
        (population, benchmark) -> the model ids the benchmark's correlation rests on.
    metadata : dict
        Settings, versions and each population's data sha256.
    """

    table: pd.DataFrame
    populations: pd.DataFrame
    models: dict = field(repr=False, default_factory=dict)
    metadata: dict = field(default_factory=dict)

    def write(self, out, *, parquet: bool | None = None) -> Path:
        """Write ``atlas.csv``, ``atlas.json`` (rows, populations, models, metadata),
        ``populations.csv``, ``index.html`` (:mod:`swjax.atlas_page`), ``manifest.json``,
        ``import_report.txt`` (each population's import report: the names its matcher joined,
        the directions assumed, the capabilities marked) and,
        where pyarrow is installed (or ``parquet=True``, which then needs it), ``atlas.parquet``;
        all or nothing, into the folder ``out``."""
        from . import atlas_page
        from .outputs import atomic_dir, dumps

        if parquet is None:
            try:
                import pyarrow  # noqa: F401

                parquet = True
            except ImportError:
                parquet = False
        page = atlas_page.render(self)
        models = [{"population": p, "benchmark": b, "models": list(v)} for (p, b), v in self.models.items()]
        doc = {"table": self.table.astype(object).where(self.table.notna(), None).to_dict("records"),
               "populations": self.populations.astype(object).where(self.populations.notna(), None).to_dict("records"),
               "models": models, "metadata": self.metadata}
        with atomic_dir(out, "atlas") as tmp:
            self.table.to_csv(tmp / "atlas.csv", index=False)
            self.populations.to_csv(tmp / "populations.csv", index=False)
            (tmp / "atlas.json").write_text(dumps(doc))
            (tmp / "index.html").write_text(page, encoding="utf-8")
            (tmp / "manifest.json").write_text(dumps(self.metadata))
            reports = self.metadata.get("reports") or {}
            (tmp / "import_report.txt").write_text("".join(
                f"== {name}\n" + "\n".join(lines) + "\n\n" for name, lines in reports.items()), encoding="utf-8")
            if parquet:
                from .tables import parquet_bytes

                (tmp / "atlas.parquet").write_bytes(parquet_bytes(self.table))
        return Path(out)


def source_provenance(path) -> dict:
    """``path``, how many files it holds and the sha256 of their relative names and bytes (in
    sorted order): what a run read, checkable by anyone with the same files."""
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    h = hashlib.sha256()
    for f in files:
        rel = f.relative_to(root).as_posix() if root.is_dir() else f.name
        h.update(rel.encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return {"path": str(path), "files": len(files), "sha256": h.hexdigest()}


def bh_qvalues(p) -> np.ndarray:
    """Benjamini-Hochberg q-values of the finite p-values (NaN stays NaN)."""
    p = np.asarray(p, np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order] * ok.size / np.arange(1, ok.size + 1)
    q[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return q


def _unique(name: str, taken: set) -> str:
    out, i = name, 2
    while out in taken:
        out, i = f"{name}-{i}", i + 1
    taken.add(out)
    return out


def _capability_set(name, result, capabilities):
    """(capabilities, where they come from, reason skipped)."""
    columns = list(result.scores.columns)
    if isinstance(capabilities, dict):
        wanted, origin = capabilities.get(name), "given for this population"
    else:
        wanted, origin = capabilities, "given"
    if wanted is None:
        marked = [c for c in columns if bool(result.info["capability"].get(c, False))]
        wanted, origin = marked, "marked by the import (a named capability set)"
        if result.capabilities is None and "category" in result.info.columns and marked:
            kinds = sorted({str(result.info.at[c, "category"]) for c in marked})
            origin = f"marked by the source's categories (benchbench file names: {', '.join(kinds)})"
    if isinstance(wanted, str):
        wanted = [w.strip() for w in wanted.split(",") if w.strip()]
    present = tuple(c for c in wanted if c in columns)
    if len(present) < MIN_CAPABILITIES:
        have = f"{len(present)} of them present" if wanted else "none marked"
        return (), "", (f"no capability set of at least {MIN_CAPABILITIES} benchmarks ({have}); "
                        "give capabilities for this population")
    return present, origin, ""


def populations(sources, *, capabilities=None, merge: bool = False, min_models: int = MIN_MODELS,
                **import_options) -> list[Population]:
    """Read ``sources`` into the atlas's populations (module docstring, steps 1-3).

    ``import_options`` go to :func:`swjax.read_results` (``duplicates``, ``metric``,
    ``lower_is_better``, ``models``, ``missing`` ...). A source that cannot be read is a
    population skipped with the reader's message, so one bad source does not stop an atlas.
    """
    from .importers import read_results

    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    sources = [str(s) for s in sources]
    if not sources:
        raise SwjaxError("sources: expected at least one file or folder of results")
    for s in sources:
        if not os.path.exists(s):
            raise SwjaxError(f"sources: {s}: no such file or folder")
    groups = [(("merged" if len(sources) > 1 else Path(sources[0]).name), sources)] if merge else [
        (Path(s.rstrip("/")).name or s, [s]) for s in sources]
    taken: set = set()
    out = []
    for name, paths in groups:
        name = _unique(name, taken)
        try:
            result = read_results(paths if len(paths) > 1 else paths[0], **import_options)
        except SwjaxError as err:
            out.append(Population(name, tuple(paths), None, skipped=f"could not be read: {err}"))
            continue
        caps, origin, why = _capability_set(name, result, capabilities)
        behind = result.scores  # the models an analysis keeps: with every capability score under "drop"
        if import_options.get("missing", "drop") == "drop" and caps:
            behind = behind.dropna(subset=list(caps))
        elif caps and not why:  # imputed: only where its intervals were validated
            observed = behind[list(caps)].notna()
            try:
                validate.imputation_validated(observed[observed.any(axis=1)].to_numpy(), caps)
            except SwjaxError as err:
                why = str(err)
        counts = behind.notna().sum()
        few = {b: int(k) for b, k in counts.items() if b not in caps and k < min_models}
        if not why and len(counts) - len(caps) - len(few) == 0:
            why = f"no benchmark outside the capability set has {min_models} models or more"
        out.append(Population(name, tuple(paths), result, caps, origin, why, few))
    return out


def _key(population: Population, settings: dict, clusters) -> str:
    """The cache key of one population's analysis: its data, families and every setting."""
    from ._version import __version__

    h = hashlib.sha256()
    h.update(population.data.scores.to_csv().encode())
    h.update(json.dumps(sorted(population.capabilities)).encode())
    if clusters is not None:
        h.update(clusters.sort_index().to_csv().encode())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    h.update(__version__.encode())
    return h.hexdigest()


def _cache_dir(cache) -> Path | None:
    if cache is False:
        return None
    if cache is None:
        root = os.environ.get("SWJAX_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "swjax")
        cache = Path(root) / "atlas"
    return Path(cache)


def _units(pop: Population, n: int, permutations: int, families: bool) -> int:
    """Work of one population's analysis, for the time estimate: models x columns x resamples
    (the model bootstrap is run too under cluster-t)."""
    m, k = pop.data.scores.shape
    k -= len(pop.few_models)
    return m * k * (n * (2 if families else 1) + permutations)


def _rate(folder: Path | None) -> float | None:
    """Seconds per work unit measured by earlier runs with this cache, if any."""
    try:
        return float(json.loads((folder / "rate.json").read_text())["seconds_per_unit"])
    except (TypeError, OSError, ValueError, KeyError):
        return None


def _save_rate(folder: Path, rate: float) -> None:
    from .outputs import atomic_file

    with atomic_file(folder / "rate.json") as tmp:
        Path(tmp).write_text(json.dumps({"seconds_per_unit": rate}))


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def parse_part(part) -> tuple[int, int] | None:
    """``part`` as ``(i, count)`` with ``1 <= i <= count``: from None, ``"I/N"`` or a pair."""
    if part is None:
        return None
    text = part if isinstance(part, str) else "/".join(map(str, part)) if isinstance(part, (tuple, list)) else None
    try:
        i, count = (int(x) for x in text.strip().split("/"))
    except (AttributeError, TypeError, ValueError):
        raise SwjaxError(f"part: expected I/N (this run's part I of N, for example 2/4), got {part!r}") from None
    if not 1 <= i <= count:
        raise SwjaxError(f"part: expected I/N with 1 <= I <= N, got {i}/{count}")
    return i, count


def assign_parts(units, count: int) -> list[int]:
    """The part (1..count) of each population, given each one's work: the largest first, each
    to the part with the least work so far (the lowest-numbered among equals). Deterministic,
    so every host that plans the same populations agrees on who does what."""
    load = [0] * count
    part = [0] * len(units)
    for j in sorted(range(len(units)), key=lambda j: (-units[j], j)):
        best = min(range(count), key=lambda p: (load[p], p))
        part[j] = best + 1
        load[best] += units[j]
    return part


def _analyse(pop: Population, *, settings: dict, families, device, progress) -> tuple[pd.DataFrame, dict]:
    """The rows of one population (every analysed benchmark) and the models behind each."""
    import warnings

    from .bootstrap import bootstrap

    ds = pop.data.dataset(pop.name)
    keep = [c for c in ds.scores.columns if c in pop.capabilities or c not in pop.few_models]
    ds = type(ds)(ds.label, ds.scores[keep], ds.meta, ds.info.loc[keep])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # said in the populations table instead
        res = bootstrap(ds, capabilities=list(pop.capabilities), clusters=families, device=device,
                        progress=progress, **settings)
    table = res.table.drop(index=[c for c in pop.capabilities if c in res.table.index])
    rows = pd.DataFrame({
        "population": pop.name,
        "benchmark": table.index,
        "name": [str(ds.info["name"].get(b, b)) for b in table.index],
        "n_models": table["n_models"].to_numpy(),
        "estimate": table["estimate"].to_numpy(),
        "low": table["low"].to_numpy(),
        "high": table["high"].to_numpy(),
        "interval": table["interval"].to_numpy(),
        "se": table["se"].to_numpy(),
        "p_value": table["p_value"].to_numpy(),
        "verdict": table["verdict"].to_numpy(),
    })
    used = set(ds.scores.index) - set(res.analysis.dropped_models)  # the models the analysis kept
    models = {b: [m for m in ds.scores.index[ds.scores[b].notna()] if m in used] for b in table.index}
    return rows, models


def atlas(
    sources,
    *,
    capabilities=None,
    merge: bool = False,
    min_models: int = MIN_MODELS,
    families=None,
    n: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    threshold: float = 0.4,
    permutations: int = 1000,
    device: str = "auto",
    cache=None,
    progress=None,
    revision: str | None = None,
    part=None,
    **import_options,
) -> AtlasResult:
    """The capabilities correlation, interval, q-value and verdict of every benchmark of every
    population in ``sources`` (module docstring).

    Parameters
    ----------
    sources : path or list of paths
        Files and folders of results (any format :func:`swjax.read_results` reads).
    capabilities : list of str, str or dict, optional
        The capability set (for every population, or population name -> set).
    merge : bool
        One population of all sources instead of one per source.
    min_models : int
        Fewest models a benchmark needs to be analysed (20).
    families : None, "auto" or pandas.Series
        ``"auto"``: each model's developer is its family, and intervals are cluster-t.
    n, seed, level, threshold, permutations, device
        As :func:`swjax.bootstrap` (permutations give the p-values whose q-values are taken
        across the atlas).
    cache : path, False or None
        Folder keeping each finished population (default ``$SWJAX_CACHE_DIR/atlas`` or
        ``~/.cache/swjax/atlas``); False: none.
    progress : callable, optional
        Called with one line of text per step.
    revision : str, optional
        The revision of the sources (a datastore's commit), recorded with their sha256.
    part : "I/N" or (I, N), optional
        Analyse only part ``I`` of ``N`` of the populations (:func:`assign_parts`), keeping them
        in the cache; its table's q-values are across that part. Hosts sharing one cache run one
        part each; a run without ``part`` on that cache assembles the whole atlas.
    """
    from ._version import __version__
    from .validate import integer

    min_models = integer("min_models", min_models, minimum=5)
    if permutations < 1:
        raise SwjaxError("permutations: the atlas needs permutation p-values for its q-values (at least 1)")
    split = parse_part(part)
    folder = _cache_dir(cache)
    if split is not None and folder is None:
        raise SwjaxError("part: the parts of an atlas are put together through the cache; give a cache "
                         "folder that every part shares (not cache=False / --no-cache)")
    pops = populations(sources, capabilities=capabilities, merge=merge, min_models=min_models, **import_options)
    settings = dict(n=n, seed=seed, level=level, threshold=threshold, permutations=permutations,
                    missing=import_options.get("missing", "drop"))
    say = progress or (lambda text: None)
    todo = [p for p in pops if not p.skipped]
    if not todo:
        raise SwjaxError("atlas: no population could be analysed: "
                         + "; ".join(f"{p.name}: {p.skipped}" for p in pops))
    plan = []  # (population, families, cache key, cached file or None, work units)
    for pop in todo:
        clusters = None
        if families == "auto":
            from .clusters import auto_families

            clusters = auto_families(pop.data.dataset(pop.name))
        elif families is not None:
            clusters = families
        key = _key(pop, settings, clusters)
        cached = None if folder is None else folder / f"{key}.json"
        plan.append((pop, clusters, key, cached, _units(pop, n, permutations, clusters is not None)))
    elsewhere = {}  # population name -> the part that analyses it, for a run of one part
    part_of = {}  # population name -> its part, for every population analysed by some part
    if split is not None:
        i_part, count = split
        owner = assign_parts([units for *_, units in plan], count)
        part_of = {entry[0].name: o for entry, o in zip(plan, owner)}
        elsewhere = {name: o for name, o in part_of.items() if o != i_part}
        plan = [entry for entry, o in zip(plan, owner) if o == i_part]
        if not plan:
            raise SwjaxError(f"part: part {i_part} of {count} has no population (there are {len(todo)} to analyse); "
                             f"split into at most {len(todo)} parts")
        todo = [entry[0] for entry in plan]
    left = sum(u for *_, cached, u in plan if cached is None or not cached.is_file())
    rate = _rate(folder)
    benchmarks = sum(len(p.data.scores.columns) - len(p.capabilities) - len(p.few_models) for p in todo)
    done_before = sum(1 for *_, cached, _ in plan if cached is not None and cached.is_file())
    say(f"atlas: {len(pops)} population(s), {len(todo)} to analyse"
        + (f" in part {split[0]} of {split[1]}" if split else "") + f" ({done_before} finished in an earlier run), "
        f"{benchmarks} benchmark(s), {n:,} resamples and {permutations:,} permutations each; "
        + (f"about {_duration(rate * left)} left by the speed of earlier runs here" if rate and left
           else "a time estimate follows the first population" if left else "nothing to compute"))
    frames, models, digests = [], {}, {}
    clock = time.perf_counter()
    spent, worked = 0.0, 0
    for i, (pop, clusters, key, cached, units) in enumerate(plan, 1):
        digests[pop.name] = key
        if cached is not None and cached.is_file():
            doc = json.loads(cached.read_text())
            rows = pd.DataFrame(doc["rows"])
            found = {b: list(v) for b, v in doc["models"].items()}
            say(f"[{i}/{len(todo)}] {pop.name}: already computed (cache {cached.name[:12]})")
        else:
            say(f"[{i}/{len(todo)}] {pop.name}: {len(pop.data.scores)} models, capabilities "
                f"{', '.join(pop.capabilities)}")
            start = time.perf_counter()
            rows, found = _analyse(pop, settings=settings, families=clusters, device=device, progress=None)
            spent, worked = spent + time.perf_counter() - start, worked + units
            if cached is not None:
                from .outputs import atomic_file, dumps

                folder.mkdir(parents=True, exist_ok=True)
                doc = {"rows": json.loads(rows.to_json(orient="records")), "models": found}
                with atomic_file(cached) as tmp:
                    Path(tmp).write_text(dumps(doc))
                _save_rate(folder, spent / worked)
            left = sum(u for *_, c, u in plan[i:] if c is None or not c.is_file())
            if left:
                say(f"    {_duration(time.perf_counter() - clock)} so far, about {_duration(spent / worked * left)} left")
        frames.append(rows)
        models.update({(pop.name, b): v for b, v in found.items()})
    table = pd.concat(frames, ignore_index=True)
    table["q_value"] = bh_qvalues(table["p_value"].to_numpy(np.float64)) if len(table) else []
    table = table[list(COLUMNS)]
    table["n_models"] = table["n_models"].astype("Int64")
    summary = pd.DataFrame([{
        "population": p.name,
        "sources": "; ".join(p.sources),
        "models": pd.NA if p.data is None else len(p.data.scores),
        "benchmarks": int((table["population"] == p.name).sum()),
        "capabilities": ", ".join(p.capabilities),
        "capabilities_from": p.capabilities_from,
        "below_min_models": "; ".join(f"{b} ({k})" for b, k in p.few_models.items()),
        "skipped": p.skipped or (f"in part {elsewhere[p.name]} of {split[1]} (this run is part {split[0]})"
                                  if p.name in elsewhere else ""),
        "part": part_of.get(p.name, pd.NA),
    } for p in pops])
    summary["models"] = summary["models"].astype("Int64")
    summary["part"] = summary["part"].astype("Int64")
    from .provenance import environment, matrix_sha256

    metadata = dict(
        settings, min_models=min_models,
        families=None if families is None else families if isinstance(families, str) else "given",
        interval_note="cluster-t over model families (each model's developer)" if families is not None
        else "BCa over models",
        version=__version__, keys=digests,
        part=None if split is None else f"{split[0]}/{split[1]}",
        q_values="Benjamini-Hochberg over every row of the atlas with a permutation p-value" + (
            "" if split is None else f" (of part {split[0]} of {split[1]} only: a run without part on the "
            "same cache assembles the whole atlas)"),
        sources=[dict(source_provenance(s), revision=revision) for s in dict.fromkeys(
            s for p in pops for s in p.sources)],
        data_sha256={p.name: matrix_sha256(p.data.scores) for p in pops if p.data is not None},
        environment=environment(),
        reports={p.name: list(p.data.report) for p in pops if p.data is not None},
        assumed_directions={p.name: found for p in pops if p.data is not None and (found := [
            b for b in table.loc[table["population"] == p.name, "benchmark"]
            if p.data.info["direction_from"].get(b) == "assumed"])},
    )
    return AtlasResult(table, summary, models, metadata)
