"""Which capability? One benchmark's capabilities correlation under every capability measure.

:func:`axes` runs :func:`swjax.bootstrap` once per capability measure (:mod:`swjax.scores`:
``paper``, ``pearson``, ``mean-z``, ``irt``, ``compute``) with the same seed, so that resample
``r`` draws the same models (the same weights) under every measure. It reports each
benchmark's correlation, interval and verdict per measure; the difference of every pair of
measures for the same benchmark, with its interval from the paired resamples (BCa over the
scheme used, with the paired jackknife; percentile where BCa cannot be computed); and whether
the verdict is **robust** (the same under every measure that gives one) or **depends on the
measure**.

``compute`` needs a FLOP column: without one it is left out, said in ``metadata["left_out"]``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import SwjaxError

__all__ = ["AxesResult", "axes", "scale", "ROBUST", "DEPENDS"]

#: Verdict column values of :attr:`AxesResult.verdicts`.
ROBUST = "robust"
DEPENDS = "depends on the measure"


@dataclass(frozen=True)
class AxesResult:
    """The capabilities correlation of benchmarks under several capability measures.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (benchmark, measure): ``estimate``, ``n_models``, ``low``, ``high``,
        ``interval``, ``verdict``.
    differences : pandas.DataFrame
        One row per (benchmark, first measure, second measure): ``estimate`` (first minus
        second), ``low``, ``high``, ``interval`` from the paired resamples, ``excludes_zero``.
    verdicts : pandas.DataFrame
        One row per benchmark: the verdict under each measure and ``robustness``
        (:data:`ROBUST` or :data:`DEPENDS`).
    metadata : dict
    """

    table: pd.DataFrame
    differences: pd.DataFrame
    verdicts: pd.DataFrame
    metadata: dict = field(default_factory=dict)


def _measures(scores, dataset) -> tuple[list[str], dict]:
    from .data import flop
    from .scores import SCORES, check_score

    if scores is None:
        scores = list(SCORES)
    elif isinstance(scores, str):
        scores = [s.strip() for s in scores.split(",") if s.strip()]
    picked = list(dict.fromkeys(check_score(s) for s in scores))
    left_out = {}
    if "compute" in picked and flop(dataset) is None:
        picked.remove("compute")
        left_out["compute"] = f"{dataset.label} has no FLOP column"
    if len(picked) < 2:
        raise SwjaxError(f"scores: axes compares at least 2 capability measures, got {picked}"
                         + (f" ({'; '.join(f'{k}: {v}' for k, v in left_out.items())})" if left_out else ""))
    return picked, left_out


def axes(
    data,
    benchmarks=None,
    *,
    scores=None,
    n: int = 10000,
    seed: int = 0,
    method: str | None = None,
    level: float = 0.95,
    threshold: float = 0.4,
    capabilities=None,
    clusters=None,
    device: str = "auto",
    batch_size: int | None = None,
    x64: bool = False,
    missing: str = "drop",
    progress=None,
    stderr=None,
) -> AxesResult:
    """Each benchmark's capabilities correlation under every capability measure, on the same
    resamples (module docstring).

    Parameters
    ----------
    data : Dataset or {"base", "chat"}
    benchmarks : "main", "all" or list of str, optional
        The benchmarks to report: ``"main"`` the safety benchmarks of the paper's main tables
        (as :meth:`swjax.BootstrapResult.select`), ``"all"`` every benchmark outside the
        capability set; default ``"main"`` for the public sets, else ``"all"``.
    scores : list of str or str, optional
        Capability measures (default every one of :data:`swjax.scores.SCORES` the data allows).
    n, seed, method, level, threshold, capabilities, clusters, device, batch_size, x64, missing, stderr
        As :func:`swjax.bootstrap`, the same for every measure (with ``stderr``, every measure
        reads the same perturbed copies of the scores: the differences stay paired).
    progress : callable, optional
        Called with one line per measure.
    """
    import warnings

    from . import intervals
    from .analysis import as_dataset
    from .bootstrap import bootstrap

    from .options import check

    check(n=n, seed=seed, method=method, level=level, threshold=threshold, device=device, batch_size=batch_size,
          clusters=clusters)
    dataset = as_dataset(data)
    picked, left_out = _measures(scores, dataset)
    if benchmarks is not None and not (isinstance(benchmarks, str) and benchmarks in ("main", "headline", "all")):
        from .validate import benchmark as check_benchmark

        for b in [benchmarks] if isinstance(benchmarks, str) else benchmarks:  # before any resampling
            check_benchmark(b, list(dataset.scores.columns), dataset.info["name"] if "name" in dataset.info else None,
                            where=f"the {dataset.label} set")
    say = progress or (lambda text: None)
    runs = {}
    for i, measure in enumerate(picked, 1):
        say(f"[{i}/{len(picked)}] capability measure {measure}")
        with warnings.catch_warnings():
            if i > 1:  # the data's warnings were given by the first run
                warnings.simplefilter("ignore")
            runs[measure] = bootstrap(
                dataset, n=n, seed=seed, method=method, level=level, threshold=threshold,
                capabilities=capabilities, clusters=clusters, device=device, batch_size=batch_size, x64=x64,
                missing=missing, score=measure, stderr=stderr,
            )
    first = runs[picked[0]]
    caps = set(first.analysis.capabilities)
    names = list(first.table.index)
    if benchmarks is None:
        from .data import DATASETS

        benchmarks = "main" if dataset.label in DATASETS else "all"
    if isinstance(benchmarks, str) and benchmarks in ("main", "headline"):
        chosen = [b for b in first.select("main").table.index if b not in caps]
    elif isinstance(benchmarks, str) and benchmarks == "all":
        chosen = [b for b in names if b not in caps]
    else:
        from .validate import benchmark as check_benchmark

        chosen = list(dict.fromkeys(
            check_benchmark(b, names, first.table["name"], where=f"the {dataset.label} set")
            for b in ([benchmarks] if isinstance(benchmarks, str) else benchmarks)))
    if not chosen:
        raise SwjaxError(f"benchmarks: none to report in the {dataset.label} set outside the capability set")
    rows = []
    for b in chosen:
        for measure in picked:
            t = runs[measure].table.loc[b]
            rows.append(dict(benchmark=b, measure=measure, estimate=t["estimate"], n_models=t["n_models"],
                             low=t["low"], high=t["high"], interval=t["interval"], verdict=t["verdict"]))
    table = pd.DataFrame(rows).set_index(["benchmark", "measure"])
    table["n_models"] = table["n_models"].astype("Int64")

    # Each pair of measures in one interval call over the benchmarks, each run's arrays read once.
    dists = {m: np.asarray(r.distribution, np.float64) for m, r in runs.items()}
    jacks = {m: np.asarray(r.jackknife, np.float64) for m, r in runs.items()}
    cols = {m: r.table.index.get_indexer(chosen) for m, r in runs.items()}  # the distribution's columns
    frames = []
    for a, c in itertools.combinations(picked, 2):
        ra, rc = runs[a], runs[c]
        est = (ra.table.loc[chosen, "estimate"].to_numpy(np.float64) - rc.table.loc[chosen, "estimate"].to_numpy(np.float64))
        none = ((ra.table.loc[chosen, "verdict"] == "no interval").to_numpy()
                | (rc.table.loc[chosen, "verdict"] == "no interval").to_numpy())
        low, high = np.full(len(chosen), np.nan), np.full(len(chosen), np.nan)
        used = np.empty(len(chosen), object)
        ok = np.flatnonzero(~none)
        if len(ok):
            ia, ic = cols[a][ok], cols[c][ok]
            lo, hi, u = intervals.interval(dists[a][:, ia] - dists[c][:, ic], est[ok], level, "bca",
                                           jacks[a][:, ia] - jacks[c][:, ic])
            low[ok], high[ok], used[ok] = lo, hi, [str(x) for x in u]
        for j in np.flatnonzero(none):
            b = chosen[j]
            used[j] = "none: " + "; ".join(f"{m}: {r.table.at[b, 'interval'].removeprefix('none: ')}"
                                           for m, r in ((a, ra), (c, rc)) if r.table.at[b, "verdict"] == "no interval")
        frames.append(pd.DataFrame(dict(
            benchmark=chosen, first=a, second=c, estimate=est, low=low, high=high, interval=used.astype(str),
            excludes_zero=np.isfinite(low) & ((low > 0) | (high < 0)), order=np.arange(len(chosen)))))
    # benchmark by benchmark, each with its pairs of measures in the order of the measures
    diffs = pd.concat(frames, ignore_index=True).sort_values("order", kind="stable").drop(columns="order")
    differences = diffs.set_index(["benchmark", "first", "second"])

    wide = table["verdict"].unstack("measure")[picked]
    given = wide.where(wide != "no interval")
    same = given.nunique(axis=1, dropna=True) <= 1
    verdicts = wide.copy()
    verdicts["robustness"] = np.where(same & given.notna().any(axis=1), ROBUST, DEPENDS)
    verdicts.loc[~given.notna().any(axis=1), "robustness"] = "no interval"
    md = dict(first.metadata)
    metadata = dict(set=md.get("set"), n=n, seed=seed, method=md.get("method"), level=level, threshold=threshold,
                    scores=picked, left_out=left_out, scheme=md.get("scheme"),
                    differences="first minus second, on the same resamples; BCa of the scheme with the paired jackknife",
                    seconds={m: r.metadata.get("seconds") for m, r in runs.items()})
    return AxesResult(table, differences, verdicts.loc[chosen], metadata)


def scale(
    data,
    benchmarks,
    *,
    n: int = 10000,
    seed: int = 0,
    level: float = 0.95,
    capabilities=None,
    device: str = "auto",
    batch_size: int | None = None,
    x64: bool = False,
) -> pd.DataFrame:
    """Capabilities or scale: each benchmark's partial correlation with the capabilities score
    given log training FLOP, and with log FLOP given the score, with bootstrap intervals.

    Over the models whose FLOP is known (the capabilities score is the paper's, computed from
    those models), with ``r_bc`` the benchmark's Spearman correlation with the score, ``r_bf``
    with log FLOP (the ``compute`` measure) and ``r_cf`` the score's with log FLOP (the compute
    correlation), all from the same resample:

    ``capabilities | scale = (r_bc - r_bf r_cf) / sqrt((1 - r_bf^2)(1 - r_cf^2))`` and
    ``scale | capabilities = (r_bf - r_bc r_cf) / sqrt((1 - r_bc^2)(1 - r_cf^2))``

    (partial Spearman correlations: Pearson partial correlations of the ranks). Intervals: BCa
    over the resamples of those models, with the jackknife of the same formula. A benchmark
    missing for some of them has ``r_bc`` and ``r_bf`` over the models that have it and ``r_cf``
    over all of them (pairwise-complete, as every correlation of the analysis).

    Returns
    -------
    pandas.DataFrame
        Rows (benchmark, statistic) with statistic in ``capabilities``, ``scale``,
        ``capabilities_vs_scale``, ``capabilities | scale``, ``scale | capabilities``; columns
        ``estimate``, ``low``, ``high``, ``interval``, ``n_models``.
    """
    from . import engine, intervals, resample
    from .analysis import as_dataset
    from .bootstrap import resample_pipeline
    from .columns import stat_columns
    from .data import Dataset, flop

    dataset = as_dataset(data)
    f = flop(dataset)
    if f is None:
        raise SwjaxError(f"scale: {dataset.label} has no FLOP column; capabilities and scale cannot be told apart")
    known = (f.notna() & (f > 0)).reindex(dataset.scores.index, fill_value=False)
    sub = Dataset(f"{dataset.label} (FLOP known)", dataset.scores[known], dataset.meta[known], dataset.info)
    dev = engine.select_device(device).platform
    common = dict(n=n, key=resample.key_from_seed(seed), capabilities=capabilities, against=None, device=dev,
                  batch_size=batch_size, x64=x64)
    runs = {}
    for measure in ("paper", "compute"):
        run = resample_pipeline(sub, score=measure, **common)
        full, names = stat_columns(run.full, run.layout)
        runs[measure] = (names, full[0], stat_columns(run.jack, run.layout)[0], stat_columns(run.draws, run.layout)[0])
    names_p, est_p, jack_p, dist_p = runs["paper"]
    names_c, est_c, jack_c, dist_c = runs["compute"]
    cf = names_p.index("compute_correlation")
    rows = []
    if isinstance(benchmarks, str):
        benchmarks = [benchmarks]
    from .validate import benchmark as check_benchmark

    for b in benchmarks:
        b = check_benchmark(b, names_p, dataset.info["name"] if "name" in dataset.info else None,
                            where=f"the {dataset.label} set")
        jb, jc = names_p.index(b), names_c.index(b)
        count = int(sub.scores[b].notna().sum())

        def parts(p, c):
            return p[..., jb], c[..., jc], p[..., cf]

        def partials(bc, bf, cfv):
            with np.errstate(invalid="ignore", divide="ignore"):
                given_scale = (bc - bf * cfv) / np.sqrt((1 - bf**2) * (1 - cfv**2))
                given_caps = (bf - bc * cfv) / np.sqrt((1 - bc**2) * (1 - cfv**2))
            return [bc, bf, cfv, given_scale, given_caps]

        est = partials(*parts(est_p, est_c))
        dist = partials(*parts(np.asarray(dist_p, np.float64), np.asarray(dist_c, np.float64)))
        jack = partials(*parts(np.asarray(jack_p, np.float64), np.asarray(jack_c, np.float64)))
        labels = ["capabilities", "scale", "capabilities_vs_scale", "capabilities | scale", "scale | capabilities"]
        for label, e, d, j in zip(labels, est, dist, jack):
            lo, hi, used = intervals.interval(d[:, None], np.array([e]), level, "bca", j[:, None])
            rows.append(dict(benchmark=b, statistic=label, estimate=float(e), low=float(lo[0]), high=float(hi[0]),
                             interval=str(used[0]), n_models=count if label != "capabilities_vs_scale" else int(known.sum())))
    return pd.DataFrame(rows).set_index(["benchmark", "statistic"])
