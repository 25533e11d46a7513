"""From many results to one matrix: metrics, model names, directions, duplicates, public sets.

Every decision that changes what a user's files say (two names taken for one model, a duplicate
resolved, a direction assumed or flipped, a model matched to a public one) is written to the
merge report, which ``swjax import`` prints and saves beside the matrix.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import METADATA_COLUMNS, Dataset
from ..errors import SwjaxError
from . import capabilities as capsets
from . import detect, eee, epoch, helm, inspect_logs, lm_eval, long_table, open_llm, wide_table
from . import metrics as metricnames
from .models import normalise, read_mapping
from .records import Result

__all__ = ["ImportResult", "read_results", "MIN_MODELS"]

#: Fewest models a matrix may have after merging (the analysis needs 5).
MIN_MODELS = 5
DUPLICATE_RULES = ("latest", "mean", "best", "missing")
IDENTICAL = "identical"  # _resolve's note for a result repeated with the same values


@dataclass(frozen=True)
class ImportResult:
    """One wide matrix built from evaluation results, with everything needed to trust it.

    Attributes
    ----------
    scores : pandas.DataFrame
        Models x benchmarks, oriented so that higher is better (lower-is-better scores negated).
    stderr, n : pandas.DataFrame
        Standard errors and sample counts, same shape, NaN where the source gives none.
    info : pandas.DataFrame
        Per benchmark: ``name``, ``metric``, ``direction`` (``higher`` or ``lower (negated)``),
        ``direction_from`` (``source``, ``--lower-is-better`` or ``assumed``), ``source``
        (formats), ``capability`` (bool); ``category`` where a source names what its benchmarks
        measure (benchbench's file names: :func:`swjax.importers.wide_table.category`), which
        marks ``capability`` when no capability set is given.
    meta : pandas.DataFrame
        Per model metadata (``name``; public metadata for models of a public set).
    capabilities : tuple of str or None
        The capability columns asked for.
    report : tuple of str
        The merge report, one decision per line.
    """

    scores: pd.DataFrame
    stderr: pd.DataFrame
    n: pd.DataFrame
    info: pd.DataFrame
    meta: pd.DataFrame
    capabilities: tuple[str, ...] | None
    report: tuple[str, ...]

    def dataset(self, label: str = "imported") -> Dataset:
        """The matrix as a :class:`swjax.Dataset` for every analysis function."""
        return Dataset(label=label, scores=self.scores.copy(), meta=self.meta.copy(),
                       info=self.info[["name", "metric"]].copy())

    def write(self, out) -> Path:
        """Write ``scores.csv``, ``info.csv``, ``stderr.csv``, ``n.csv`` and ``merge_report.txt``.

        All or nothing: the files are written in a temporary folder that replaces ``out`` at the end.
        """
        from ..outputs import atomic_dir

        out = Path(out)
        with atomic_dir(out, "import") as tmp:
            wide = pd.concat([self.meta, self.scores], axis=1)
            wide.index.name = "model"
            wide.to_csv(tmp / "scores.csv")  # shortest repr: every float64 reads back exactly
            info = self.info.copy()
            info.index.name = "benchmark"
            info.to_csv(tmp / "info.csv")
            for name, frame in (("stderr", self.stderr), ("n", self.n)):
                if np.isfinite(frame.to_numpy(dtype=float)).any():
                    frame.rename_axis("model").to_csv(tmp / f"{name}.csv")
            (tmp / "merge_report.txt").write_text("\n".join(self.report) + "\n", encoding="utf-8")
        return out


def _parse_overrides(metric) -> dict[str, str]:
    if metric is None:
        return {}
    if isinstance(metric, dict):
        return dict(metric)
    out = {}
    for item in [m.strip() for m in str(metric).split(";") if m.strip()]:
        bench, sep, name = item.partition("=")
        if not sep or not bench.strip() or not name.strip():
            raise SwjaxError(f"metric: expected BENCHMARK=METRIC (separated by ';'), got {item!r}")
        out[bench.strip()] = name.strip()
    return out


def _read_one(found: detect.Found, overrides, subtasks, wanted, aggregates) -> list[Result]:
    fmt, path, obj = found.format, found.path, found.payload
    if fmt == lm_eval.FORMAT:
        return lm_eval.read(path, obj, subtasks=subtasks, wanted=wanted)
    if fmt == inspect_logs.FORMAT:
        return inspect_logs.read(path, obj)
    if fmt == helm.FORMAT:
        return helm.read(path, metrics=overrides)
    if fmt == open_llm.FORMAT_V1:
        return open_llm.read_v1(path, obj)
    if fmt == open_llm.FORMAT_V2:
        return open_llm.read_v2(path)
    if fmt == eee.FORMAT:
        return eee.read(path, obj, aggregates=aggregates)
    if fmt == epoch.FORMAT:
        return epoch.read(path, obj, metrics=overrides)
    if fmt == wide_table.FORMAT:
        return wide_table.read(path, obj)
    return long_table.read(path)


def _read_all(scan: detect.Scan, overrides, subtasks, wanted=frozenset(), aggregates=False) -> list[Result]:
    """Every result of every file found. A file named on the command line that its reader
    refuses stops the import; one found in a folder is skipped with its reason (in
    ``scan.reasons``), unless no file is left."""
    records: list[Result] = []
    for found in scan.found:
        try:
            records += _read_one(found, overrides, subtasks, wanted, aggregates)
        except SwjaxError as err:
            if not found.in_folder:
                raise
            scan.skipped.append(found.path)
            scan.reasons[found.path] = str(err)
    if not records and scan.skipped:
        first = scan.skipped[0]
        raise SwjaxError(f"no file could be read ({len(scan.skipped)} skipped); first: "
                         + scan.reasons.get(first, f"{first}: unknown file format"))
    return records


def _skipped_lines(scan: detect.Scan, limit: int = 20) -> list[str]:
    """One report line per skipped file (its reason), the first ``limit`` of them."""
    lines = [f"skipped {scan.reasons[p]}" if p in scan.reasons else f"skipped {p}: no known format"
             for p in scan.skipped[:limit]]
    if len(scan.skipped) > limit:
        lines.append(f"skipped {len(scan.skipped) - limit} more files")
    return lines


#: Formats whose metric order means nothing (lm-evaluation-harness writes a group's metrics in
#: an order that changes from run to run).
_UNORDERED = frozenset({lm_eval.FORMAT})


def _canonical(metric: str) -> str:
    return ",".join(metricnames.base_name(metric))


def _pick(rs: list[Result], want: str, file, bench) -> Result:
    pick = [r for r in rs if metricnames.same_metric(want, r.metric)]
    if not pick:
        have = sorted({r.metric for r in rs})
        raise SwjaxError(f"{file}: benchmark {bench!r} has no metric {want!r} (it has {have})")
    return pick[0]


def _metric_summary(per_file: list[list[str]], limit: int = 8) -> str:
    counts = Counter(m for ms in per_file for m in set(ms))
    items = [f"{m} ({n} of {len(per_file)})" for m, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return ", ".join(items[:limit]) + (f", ... {len(items) - limit} more" if len(items) > limit else "")


def _choose_metrics(records, overrides, members, report) -> list[Result]:
    """One metric per benchmark column (the rule of :mod:`.metrics`), the same in every file;
    capability benchmarks renamed to their columns."""
    mapped = {}
    for m in members or ():
        for fmt, bench, metric in m.sources:
            mapped[(fmt, bench)] = (m.column, metric)
    groups: dict[tuple, list[Result]] = defaultdict(list)
    for r in records:
        groups[(r.file, r.run, r.model, r.benchmark)].append(r)
    columns: dict[str, list] = defaultdict(list)
    for key, rs in groups.items():
        target = mapped.get((rs[0].source, key[3]))
        columns[target[0] if target else key[3]].append((key, rs, target))
    chosen = []
    notes: dict[tuple, list[str]] = defaultdict(list)
    for column, items in columns.items():
        want = overrides.get(column)
        if want is None:
            want = next((overrides[k[3]] for k, _, _ in items if k[3] in overrides), None)
        if want is None:
            want = next((t[1] for _, _, t in items if t and t[1]), None)
        per_file = [[_canonical(r.metric) for r in sorted(rs, key=lambda x: x.order)]
                    for (_f, _r, _m, _b), rs, _t in items if rs[0].source != helm.FORMAT]
        if want is None and per_file:
            ordered = all(rs[0].source not in _UNORDERED for _, rs, _ in items)
            want, why = metricnames.choose(per_file, ordered)
            if want is None:
                raise SwjaxError(
                    f"benchmark {column!r}: the files report different metrics ({_metric_summary(per_file)}): "
                    f"{why}; choose one with --metric '{column}=METRIC'"
                )
            found = sorted({m for ms in per_file for m in ms})
            if len(found) > 1:
                notes[(want, why, tuple(m for m in found if m != want))].append(column)
        for (file, _run, _model, bench), rs, _target in items:
            if rs[0].source == helm.FORMAT:  # the HELM reader applies --metric itself
                r = min(rs, key=lambda x: x.order)
            else:
                r = _pick(rs, want, file, bench)
            if column != bench:
                r = Result(**{**r.__dict__, "benchmark": column, "display": ""})
            chosen.append(r)
    for (want, why, others), cols in notes.items():
        shown_cols = ", ".join(cols[:6]) + (f", ... ({len(cols)} benchmarks)" if len(cols) > 6 else "")
        report.append(f"metric {want!r} ({why}; also reported: {', '.join(others[:6])}"
                      f"{' ...' if len(others) > 6 else ''}) for {shown_cols}; --metric BENCH=METRIC chooses another")
    renamed = sorted({(b, c) for (f, b), (c, _) in mapped.items() if any(
        r.source == f and r.benchmark == c for r in chosen)})
    for bench, col in renamed:
        if bench != col:
            report.append(f"benchmark {col!r} <- {bench!r} (capability set)")
    return chosen


def _names(records, mapping, public, report):
    """model key -> canonical id, for every source name."""
    by_raw = {}
    for raw in sorted({r.model for r in records}):
        if raw in mapping:
            target = mapping[raw]
            key = target.lower() if target.lower() in public else normalise(target).key
            by_raw[raw] = (key, target, "", ("--models",))
            continue
        nm = normalise(raw)
        by_raw[raw] = (nm.key, nm.name, nm.org, nm.dropped)
    keys: dict[str, list[str]] = defaultdict(list)
    for raw, (key, *_rest) in by_raw.items():
        keys[key].append(raw)
    canonical = {}
    org_only = []
    clashes = []
    for key, raws in keys.items():
        orgs = sorted({by_raw[r][2] for r in raws if by_raw[r][2]})
        if len({o.lower() for o in orgs}) > 1:
            clashes.append((raws, orgs))
    if clashes:
        # every clash at once, so that one models file settles them all
        def where(raws):
            files = sorted({Path(r.file).name for r in records if r.model in raws})
            return ", ".join(files[:3]) + (f" and {len(files) - 3} more files" if len(files) > 3 else "")

        raws, orgs = clashes[0]
        if len(clashes) == 1:
            raise SwjaxError(
                f"models {raws} (in {where(raws)}): different organisations ({', '.join(orgs)}) give the same name "
                f"{by_raw[raws[0]][1]!r}; they cannot be merged without a models file: tell them apart with "
                "--models FILE (columns from,to)"
            )
        listed = "; ".join(f"{raws} (in {where(raws)})" for raws, _ in clashes[:10])
        raise SwjaxError(
            f"{len(clashes)} model names are given by different organisations and cannot be merged without a "
            f"models file: {listed}{' ...' if len(clashes) > 10 else ''}; tell them apart with --models FILE "
            "(columns from,to)"
        )
    for key, raws in keys.items():
        if key in public:
            name = public[key]
        else:
            fewest = min(len(by_raw[r][3]) for r in raws)  # prefer the name that needed no suffix dropped
            name = Counter(by_raw[r][1] for r in raws if len(by_raw[r][3]) == fewest).most_common(1)[0][0]
        canonical[key] = name
        if raws != [name]:
            why = sorted({d for r in raws for d in by_raw[r][3]})
            notes = []
            if any(by_raw[r][2] for r in raws):
                notes.append("organisation dropped")
            if why:
                notes.append("dropped " + ", ".join(why))
            if key in public:
                notes.append("public id")
            if len(raws) > 1:
                notes.append(f"{len(raws)} source names merged")
            if notes in (["organisation dropped"], ["organisation dropped", "public id"]):
                org_only.append((notes[-1] == "public id", f"{raws[0]} -> {name}"))
                continue
            report.append(f"model {name!r} <- {', '.join(repr(r) for r in raws)}"
                          + (f" ({'; '.join(notes)})" if notes else ""))
    for public_id, label in ((True, "matched to public ids"), (False, "new models")):
        items = [text for p, text in org_only if p == public_id]
        if items:
            report.append(f"{label}, organisation dropped ({len(items)}): " + ", ".join(items))
    return {raw: canonical[by_raw[raw][0]] for raw in by_raw}


def _directions(records, lower_is_better, report):
    """benchmark -> (higher is better, where that comes from): the source where it says, else
    ``--lower-is-better``, else the metric's name (:func:`.metrics.direction_by_name`), else
    assumed higher-is-better, each assumed benchmark named on its own report line."""
    said: dict[str, dict[bool, set]] = defaultdict(lambda: {True: set(), False: set()})
    by_name: dict[str, set] = defaultdict(set)
    metric_of: dict[str, str] = {}
    benches = set()
    for r in records:
        benches.add(r.benchmark)
        metric_of.setdefault(r.benchmark, r.metric)
        if r.higher_is_better is not None:
            said[r.benchmark][r.higher_is_better].add(r.file)
        by_name[r.benchmark].add(metricnames.direction_by_name(r.metric))
    lower = set(lower_is_better or ())
    for name in sorted(lower - benches):
        raise SwjaxError(f"lower-is-better: benchmark {name!r} is in no file")
    out = {}
    assumed = []
    for b in sorted(benches):
        up, down = said[b][True], said[b][False]
        if up and down:
            raise SwjaxError(
                f"benchmark {b!r}: higher_is_better is true in {sorted(up)[0]} but false in {sorted(down)[0]}"
            )
        named = by_name[b]
        if b in lower:
            if up:
                raise SwjaxError(
                    f"lower-is-better: {b!r} is higher-is-better according to {sorted(up)[0]} (field higher_is_better)"
                )
            out[b] = (False, "--lower-is-better")
        elif down:
            out[b] = (False, "source")
        elif up:
            out[b] = (True, "source")
        elif len(named) == 1 and None not in named:
            out[b] = (next(iter(named)), "metric name")
        else:
            out[b] = (True, "assumed")
            assumed.append(b)
    negated: dict[str, list[str]] = defaultdict(list)
    for b, (hib, why) in out.items():
        if not hib:
            negated[f"metric name {metric_of[b]!r}" if why == "metric name" else why].append(b)
    for what, names in negated.items():
        report.append(f"benchmark {names[0]!r}: lower is better ({what}); scores negated so that higher is better"
                      if len(names) == 1 else
                      f"lower is better ({what}), scores negated so that higher is better: {len(names)} "
                      f"benchmarks: {', '.join(names)}")
    for b in assumed:
        report.append(f"direction assumed higher-is-better for {b!r} (metric {metric_of[b]!r}; the source "
                      f"does not say): if lower is better, pass --lower-is-better {b}")
    return out


def _resolve(rs: list[Result], rule, model, bench, higher=True):
    if len(rs) == 1 or len({(repr(r.score), repr(r.stderr), repr(r.n)) for r in rs}) == 1:
        r = rs[0]  # one result, or the same one repeated (a record copied twice): not a conflict
        return r.score, r.stderr, r.n, None if len(rs) == 1 else IDENTICAL
    where = ", ".join(f"{Path(r.file).name} ({r.score:.6g})" for r in rs[:3])
    if rule is None:
        raise SwjaxError(
            f"{len(rs)} results for model {model!r}, benchmark {bench!r}: {where}; "
            "pass --duplicates latest, mean, best or missing"
        )
    if rule == "missing":  # results that disagree: no one of them is the cell's
        return math.nan, math.nan, math.nan, f"left missing ({len(rs)} different results)"
    if rule == "best":
        top = (max if higher else min)(r.score for r in rs)
        # ties: the smallest standard error, then the largest n; a choice by content, never by read order
        r = min((r for r in rs if r.score == top), key=lambda x: (
            math.isnan(x.stderr), 0 if math.isnan(x.stderr) else x.stderr, math.isnan(x.n), 0 if math.isnan(x.n) else -x.n))
        where = Path(r.file).name + (f" row {r.run}" if r.run else "")
        return r.score, r.stderr, r.n, f"kept the best of {len(rs)} ({where})"
    if rule == "latest":
        undated = [r for r in rs if r.date is None]
        if undated:
            raise SwjaxError(f"{undated[0].file}: no date for --duplicates latest "
                             f"(model {model!r}, benchmark {bench!r})")
        top = max(r.date for r in rs)
        best = [r for r in rs if r.date == top]
        if len({r.score for r in best}) > 1:
            raise SwjaxError(f"model {model!r}, benchmark {bench!r}: {len(best)} results with the same date "
                             f"and different scores ({where}); --duplicates latest cannot choose")
        r = best[0]
        return r.score, r.stderr, r.n, f"kept the latest of {len(rs)} ({Path(r.file).name})"
    scores = np.array([r.score for r in rs])
    se = np.array([r.stderr for r in rs])
    ns = np.array([r.n for r in rs])
    stderr = float(np.sqrt(np.sum(se**2)) / len(rs)) if np.isfinite(se).all() else math.nan
    n = float(ns.sum()) if np.isfinite(ns).all() else math.nan
    return float(scores.mean()), stderr, n, f"mean of {len(rs)}"


def _public_index(ds: Dataset) -> dict[str, str]:
    """Lower-cased id and display name -> public model id."""
    out = {}
    for model in ds.models:
        out.setdefault(model.lower(), model)
        out.setdefault(normalise(model).key, model)
        display = ds.model_name(model)
        out.setdefault(display.lower(), model)
        out.setdefault(" ".join(display.lower().split()), model)
    return out


def read_results(
    paths,
    *,
    capabilities=None,
    lower_is_better=(),
    models=None,
    duplicates: str | None = None,
    with_set: str | None = None,
    metric=None,
    subtasks: bool = False,
    aggregates: bool = False,
    data_dir=None,
    min_models: int = MIN_MODELS,
    missing: str = "drop",
) -> ImportResult:
    """Read evaluation results from files and folders into one oriented, wide matrix.

    Parameters
    ----------
    paths : path or list of paths
        Files and folders; formats are recognised by content (see :mod:`swjax.importers.detect`).
    capabilities : str or list of str, optional
        ``"paper"``, ``"openllm-v2"``, ``"openllm-v1"`` or benchmark names: checked to be present,
        and for the named sets the source benchmarks are renamed to the set's columns.
    lower_is_better : iterable of str
        Benchmarks where lower is better although the source does not say so.
    models : path or dict, optional
        Source name -> model id (a CSV with columns ``from,to``), applied before normalising.
    duplicates : {None, "latest", "mean", "best", "missing"}
        Two results for one (model, benchmark) are an error unless this says how to resolve them
        (``best``: the best score in the benchmark's direction; among equal ones the smallest
        standard error, then the largest n; ``missing``: results that disagree leave the cell
        missing).
    with_set : {None, "base", "chat"}
        Merge with a public matrix; your models are matched to its ids and display names.
    metric : dict or str, optional
        Benchmark -> metric to take (``"gsm8k=exact_match,flexible-extract;..."``).
    subtasks : bool
        Keep the subtasks of lm-evaluation-harness groups.
    aggregates : bool
        Keep aggregates over the other results (Every Eval Ever's "Mean win rate").
    data_dir : path, optional
        Folder of the public files (for ``with_set``).
    min_models : int
        Fewest models (with every capability score, when capabilities are given) the matrix may
        have; 5 by default, as the analysis needs.
    missing : {"drop", "impute"}
        How the analysis will treat models lacking a capability score; with ``"impute"`` the
        models count whatever they lack, and a capability missing for more than half of them
        is an error (as in the analysis).

    Raises
    ------
    SwjaxError
        Unknown format, a missing field (naming file and field), an unknown capability, conflicting
        duplicates, fewer than 5 models after merging.
    """
    if missing not in ("drop", "impute"):
        raise SwjaxError(f"missing: expected 'drop' or 'impute', got {missing!r}")
    if duplicates is not None and duplicates not in DUPLICATE_RULES:
        raise SwjaxError(f"duplicates: expected one of {DUPLICATE_RULES}, got {duplicates!r}")
    if isinstance(lower_is_better, str):
        lower_is_better = [b.strip() for b in lower_is_better.split(",") if b.strip()]
    overrides = _parse_overrides(metric)
    members = capsets.resolve(capabilities)
    mapping = models if isinstance(models, dict) else (read_mapping(models) if models is not None else {})
    report: list[str] = []

    found = detect.scan(paths)
    if not found.found:
        raise SwjaxError(f"no results files found in {', '.join(str(p) for p in np.atleast_1d(paths))}")
    wanted = (frozenset(overrides) | {m.column for m in members or ()}
              | {b for m in members or () for _f, b, _m in m.sources})
    raw = _read_all(found, overrides, subtasks, wanted, aggregates)
    counts = Counter(f.format for f in found.found if f.path not in found.reasons)
    report.append("read " + ", ".join(f"{n} {fmt}" for fmt, n in sorted(counts.items()))
                  + (f"; skipped {len(found.skipped)} files" if found.skipped else ""))
    report += _skipped_lines(found)
    records = raw
    unnamed = [r for r in records if not r.model]
    if unnamed:
        report.append(f"{len(unnamed)} rows name no model, left out: "
                      + ", ".join(f"{Path(r.file).name} row {r.run}" for r in unnamed[:4])
                      + (" ..." if len(unnamed) > 4 else ""))
        records = [r for r in records if r.model]
    records = _choose_metrics(records, overrides, members, report)

    public = None
    if with_set is not None:
        from ..data import load_dataset

        public = load_dataset(with_set, data_dir)
    names = _names(records, mapping, _public_index(public) if public is not None else {}, report)
    directions = _directions(records, lower_is_better, report)

    cells: dict[tuple[str, str], list[Result]] = defaultdict(list)
    not_run = []
    for r in records:
        if math.isnan(r.score):  # an empty cell, or a result the source marks as not run
            not_run.append(f"{names[r.model]} / {r.benchmark}")
            continue
        cells[(names[r.model], r.benchmark)].append(r)
    if not_run:
        report.append(f"{len(not_run)} results without a score (empty, or below the source's min_score: not run) "
                      f"left missing: {', '.join(not_run[:4])}" + (" ..." if len(not_run) > 4 else ""))
    rows = []
    resolved = []
    identical = []
    for (model, bench), rs in cells.items():
        score, stderr, n, note = _resolve(rs, duplicates, model, bench, directions[bench][0])
        if not directions[bench][0]:
            score = -score
        rows.append((model, bench, score, stderr, n))
        if note is IDENTICAL:
            identical.append(f"{model} / {bench}")
        elif note:
            resolved.append(f"{model} / {bench}: {note}")
    if identical:
        report.append(f"identical duplicates kept once: {len(identical)} cells, e.g. " + "; ".join(identical[:3]))
    if resolved:
        report.append(f"duplicates resolved ({duplicates}): {len(resolved)} cells, e.g. " + "; ".join(resolved[:3]))
    long = pd.DataFrame(rows, columns=["model", "benchmark", "score", "stderr", "n"])
    order_models = list(dict.fromkeys(long["model"]))
    order_bench = list(dict.fromkeys(r.benchmark for r in records))
    wide = {c: long.pivot(index="model", columns="benchmark", values=c).reindex(index=order_models, columns=order_bench)
            for c in ("score", "stderr", "n")}
    for frame in wide.values():
        frame.columns.name = None
        frame.index.name = "model"

    info = _info(records, directions, members, report)
    meta = pd.DataFrame(index=wide["score"].index)
    if public is not None:
        wide, info, meta = _merge_public(wide, info, public, duplicates, report)
    if "category" in info.columns:
        info["category"] = info["category"].fillna("")
        if members is None:
            _mark_by_category(info, report)
    developers = _developers(records, names, report)
    if developers:
        meta["developer"] = pd.Series(developers, dtype=object).reindex(meta.index)

    caps = None
    if members is not None:
        caps = tuple(m.column for m in members)
        absent = [m for m in members if m.column not in wide["score"].columns]
        if absent:
            looked = "; ".join(
                f"{m.column!r}" + (" (" + " or ".join(f"{fmt} {b!r}" + (f" metric {mt!r}" if mt else "")
                                                     for fmt, b, mt in m.sources) + ")" if m.sources else "")
                for m in absent)
            raise SwjaxError(f"capabilities: {len(absent)} of {len(members)} benchmarks are in no file: {looked}")
        info["capability"] = info.index.isin(caps)
        complete = wide["score"][list(caps)].notna().all(axis=1)
        if missing == "impute":
            from ..validate import imputable, imputation_validated

            observed = wide["score"][list(caps)].notna()
            imputable(observed)
            complete = observed.any(axis=1)
            try:  # the matrix is still written: its estimates, or a smaller capability set, remain
                imputation_validated(observed[complete].to_numpy(), caps)
            except SwjaxError as err:
                report.append(f"bootstrap will refuse this matrix's imputed intervals: {err}")
        if complete.sum() < min_models:
            raise SwjaxError(
                f"fewer than {min_models} models left after merging: {int(complete.sum())} have "
                f"{'every' if missing == 'drop' else 'a'} capability score ({', '.join(complete[complete].index[:5])})"
            )
        lacking = list(complete[~complete].index) if missing == "drop" else []
        if lacking:
            report.append(f"{len(lacking)} models lack a capability score (left out of the analysis with "
                          f"--missing drop): {', '.join(lacking[:8])}" + (" ..." if len(lacking) > 8 else ""))
    elif len(wide["score"]) < min_models:
        raise SwjaxError(f"fewer than {min_models} models left after merging: {len(wide['score'])}")
    report.append(f"matrix: {wide['score'].shape[0]} models x {wide['score'].shape[1]} benchmarks")
    return ImportResult(scores=wide["score"], stderr=wide["stderr"], n=wide["n"], info=info, meta=meta,
                        capabilities=caps, report=tuple(report))


def _developers(records, names, report) -> dict[str, str]:
    """Model id -> developer: the one the source names (Every Eval Ever's ``model_info.developer``),
    else the organisation of an ``org/model`` id, lower-cased; models with neither are left out."""
    said: dict[str, set] = defaultdict(set)
    orgs = {raw: normalise(raw).org for raw in {r.model for r in records}}
    for r in records:
        dev = r.developer or orgs[r.model]
        if dev:
            said[names[r.model]].add(dev.lower())
    out = {}
    for model, devs in sorted(said.items()):
        if len(devs) > 1:
            report.append(f"model {model!r}: developers {', '.join(sorted(devs))} disagree; developer left empty")
            continue
        out[model] = next(iter(devs))
    return out


def _info(records, directions, members, report=None) -> pd.DataFrame:
    display = {m.column: m.display for m in members or ()}
    by = defaultdict(lambda: {"metric": Counter(), "source": set(), "display": "", "category": defaultdict(set)})
    for r in records:
        entry = by[r.benchmark]
        entry["metric"][r.metric] += 1
        entry["source"].add(r.source)
        if r.display and not entry["display"]:
            entry["display"] = r.display
        if r.category:
            entry["category"][r.category].add(Path(r.file).name)
    categorised = any(entry["category"] for entry in by.values())
    rows = {}
    for bench, entry in by.items():
        hib, why = directions[bench]
        rows[bench] = {
            "name": display.get(bench) or entry["display"] or bench,
            "metric": "; ".join(m for m, _ in entry["metric"].most_common()),
            "direction": "higher" if hib else "lower (negated)",
            "direction_from": why,
            "source": ",".join(sorted(entry["source"])),
            "capability": False,
        }
        if categorised:
            kinds = entry["category"]
            rows[bench]["category"] = next(iter(kinds)) if len(kinds) == 1 else ""
            if len(kinds) > 1 and report is not None:
                report.append(f"benchmark {bench!r}: the files give it different categories ("
                              + "; ".join(f"{k} in {', '.join(sorted(f))}" for k, f in sorted(kinds.items()))
                              + "): no category, not marked as a capability")
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "benchmark"
    return frame


def _mark_by_category(info: pd.DataFrame, report) -> None:
    """Mark the columns of capability categories (:data:`.wide_table.CAPABILITY_CATEGORIES`) as
    capabilities, in place, and say which were marked and which were not."""
    if "category" not in info.columns:
        return
    kinds = info["category"].fillna("")
    info["capability"] = kinds.isin(wide_table.CAPABILITY_CATEGORIES).to_numpy()
    marked = info.index[info["capability"]]
    if not (kinds != "").any():
        return
    per = Counter(kinds[marked])
    report.append(f"capabilities marked by the source's categories (benchbench file names; every category but "
                  f"safety): {len(marked)} benchmarks ("
                  + ", ".join(f"{k} {n}" for k, n in sorted(per.items())) + ")"
                  + (f": {', '.join(marked[:12])}{' ...' if len(marked) > 12 else ''}" if len(marked) else ""))
    safety = list(info.index[kinds == "safety"])
    if safety:
        report.append(f"not capabilities (category safety): {len(safety)} benchmarks: {', '.join(safety[:12])}"
                      + (" ..." if len(safety) > 12 else ""))


def _merge_public(wide, info, public: Dataset, duplicates, report):
    ours = wide["score"]
    shared_models = [m for m in ours.index if m in public.scores.index]
    new_models = [m for m in ours.index if m not in public.scores.index]
    shared_cols = [c for c in ours.columns if c in public.scores.columns]
    report.append(
        f"with {public.label}: {len(shared_models)} of your {len(ours)} models are public models"
        + (f" ({', '.join(shared_models[:6])}{' ...' if len(shared_models) > 6 else ''})" if shared_models else "")
        + f"; {len(new_models)} new; {len(shared_cols)} of your benchmarks are public columns"
    )
    models = list(public.scores.index) + new_models
    cols = list(public.scores.columns) + [c for c in ours.columns if c not in public.scores.columns]
    out = {}
    for key in ("score", "stderr", "n"):
        base = public.scores if key == "score" else pd.DataFrame(np.nan, index=public.scores.index,
                                                                  columns=public.scores.columns)
        merged = base.reindex(index=models, columns=cols).astype(float)
        mine = wide[key].reindex(index=models, columns=cols)
        if key == "score":
            both = merged.notna() & mine.notna()
            clash = both & ~np.isclose(merged.fillna(0), mine.fillna(0), rtol=0, atol=1e-12)
            if clash.to_numpy().any():
                m, c = next((m, c) for m in models for c in cols if clash.at[m, c])
                if duplicates is None:
                    raise SwjaxError(
                        f"model {m!r}, benchmark {c!r}: the public {public.label} matrix has "
                        f"{merged.at[m, c]:.6g}, your results {mine.at[m, c]:.6g}; pass --duplicates latest "
                        "(yours) or mean"
                    )
                n_clash = int(clash.to_numpy().sum())
                report.append(f"{n_clash} cells differ from the public matrix: "
                              + {"latest": "kept yours (latest)", "missing": "left missing",
                                 "best": "kept the better (higher) score"}.get(duplicates, "averaged"))
                if duplicates == "mean":
                    mine = mine.where(~both, (merged + mine) / 2)
                elif duplicates == "best":  # both are on the higher-is-better scale here
                    mine = mine.where(~both, np.maximum(merged, mine))
                elif duplicates == "missing":
                    merged, mine = merged.mask(clash), mine.mask(clash)
        merged = mine.combine_first(merged) if key == "score" else mine.combine_first(merged)
        merged.index.name = "model"
        out[key] = merged
    pub_info = public.describe(public.scores.columns)
    rows = pd.DataFrame({
        "name": pub_info["name"], "metric": pub_info["metric"], "direction": "higher",
        "direction_from": "public matrix", "source": f"public {public.label}", "capability": False,
    }, index=pd.Index(public.scores.columns, name="benchmark"))
    for c in info.index:
        if c in rows.index:
            rows.loc[c, "source"] = rows.loc[c, "source"] + "," + info.loc[c, "source"]
    info = pd.concat([rows, info.loc[[c for c in info.index if c not in rows.index]]])
    meta = public.meta.reindex(models)
    if "name" not in meta.columns:
        meta["name"] = np.nan
    meta.loc[new_models, "name"] = new_models
    meta = meta[[c for c in METADATA_COLUMNS if c in meta.columns]]
    return out, info, meta


def open_matrix(path, info=None, label: str | None = None) -> Dataset:
    """A matrix for the analysis commands: a wide CSV, a folder written by ``swjax import``, or
    evaluation results (files or folders of any importable format), imported with the defaults.

    A file is read once, whatever its name: ``-`` (standard input), a named pipe and a shell's
    ``<(...)`` work, and a wide matrix (a ``model`` column) need not be named ``.csv``.
    """
    from ..data import csv_header, read_csv, read_input

    path = Path(path)
    if path.is_dir():
        if (path / "scores.csv").is_file():
            extra = info if info is not None else (path / "info.csv" if (path / "info.csv").is_file() else None)
            if info is None and extra is not None:
                warn_assumed(_direction_column(extra))
            return read_csv(path / "scores.csv", info=extra, label=label or path.name, announce=False)
        return _imported(path, info, label)
    regular = str(path) != "-" and path.is_file()
    if regular and path.suffix.lower() != ".csv" and detect.sniff(path) is not None:
        return _imported(path, info, label)  # JSON, an inspect log, Parquet: by content
    data = read_input(path)  # once: a pipe cannot be read twice
    text = None
    if data[:4] not in (b"PAR1", b"PK\x03\x04"):
        with contextlib.suppress(UnicodeDecodeError):
            text = data.decode("utf-8-sig")
    cols = csv_header(text) if text is not None else []
    if text is not None and not (long_table.sniff(cols) or open_llm.sniff_v2(cols) or epoch.sniff(cols)) and (
            any(c.lower() == "model" for c in cols) or not data.lstrip().startswith((b"{", b"["))):
        return read_csv(path, info=info, label=label, data=data)
    if regular:
        return _imported(path, info, label)
    with tempfile.TemporaryDirectory(prefix="swjax-input-") as tmp:  # results from a pipe: a file to import
        copy = Path(tmp) / ("input.csv" if cols else "input.json")
        copy.write_bytes(data)
        return _imported(copy, info, label or ("stdin" if str(path) == "-" else path.name))


def _imported(path: Path, info, label) -> Dataset:
    if info is not None:
        raise SwjaxError("info: --info goes with a wide matrix CSV (imported results carry their own)")
    result = read_results([path])
    warn_assumed(result.info["direction_from"])
    return result.dataset(label=label or path.name)


def _direction_column(info_path) -> pd.Series:
    try:
        frame = pd.read_csv(info_path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError, pd.errors.ParserError):
        return pd.Series(dtype=str)  # read_csv names the problem when it reads the file
    if "benchmark" not in frame.columns or "direction_from" not in frame.columns:
        return pd.Series(dtype=str)
    return frame.set_index("benchmark")["direction_from"]


def warn_assumed(direction_from: pd.Series) -> None:
    """One warning per benchmark of an analysed matrix whose direction was assumed at import."""
    import warnings

    from ..errors import AssumedDirectionWarning

    for bench in direction_from.index[direction_from == "assumed"]:
        warnings.warn(f"benchmark {bench!r}: direction assumed higher-is-better at import (the source does "
                      f"not say; re-import with --lower-is-better {bench} if lower is better)",
                      AssumedDirectionWarning, stacklevel=3)
