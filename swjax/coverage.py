"""Coverage study: how often do swjax's intervals cover the true capabilities correlation?

For each design of :mod:`swjax.simulate`, draw ``R`` datasets, bootstrap each ``B`` times (all
``R x B`` resamples vectorized in one compiled kernel, :func:`swjax.engine.run` on stacked problems),
build every interval method from the same resamples (BCa's acceleration from each dataset's own
jackknife), and compare with the design's population value (the pipeline on 200,000 models).

Each dataset is analysed as :func:`swjax.bootstrap` does: the estimate with the released sign
rule, resamples and jackknife with PC1 turned along the dataset's own PC1. Designs with model
families are also resampled with the cluster bootstrap over families (``scheme="families"``),
whose BCa acceleration comes from the leave-one-family-out jackknife.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from . import engine, intervals, options, resample
from .analysis import float_dtype
from .errors import SwjaxError
from .problem import build_problem, stack_problems
from .simulate import POPULATION_SIZE, Design, check_design, draw_many, population, to_dataset

__all__ = ["CoverageResult", "coverage", "coverage_table", "scheme_run", "width_ratios"]

SCHEMES = ("models", "families")


@dataclass(frozen=True)
class CoverageResult:
    """Coverage of every (design, scheme, method, safety benchmark).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (design, scheme, method, benchmark): ``rho`` (requested), ``truth``
        (population value), ``coverage`` (share of datasets whose interval holds the truth),
        ``mc_se`` (its Monte Carlo standard error ``sqrt(p (1 - p) / R)``), ``miss_below``
        (share of intervals lying entirely below the truth), ``miss_above`` (entirely above),
        ``width`` (mean interval width), ``bias`` (mean estimate minus truth), ``p_binom``
        (two-sided binomial test of coverage = level), ``no_interval`` (datasets without an
        interval), ``bca_fallback`` (BCa fell back to percentile), ``degenerate`` (resamples
        without a correlation, over all datasets) and ``degenerate_datasets`` (datasets with any).
    estimates : dict
        Per design label: (R, safety) estimates, and per scheme and method the (R, safety)
        lower and upper bounds, for further study.
    metadata : dict
        datasets, n, level, seed, methods, seconds per design and in all, device, dtype.
    """

    table: pd.DataFrame
    estimates: dict = field(repr=False)
    metadata: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        from . import display

        md, t = self.metadata, self.table
        return display.result(
            "CoverageResult",
            dict(datasets=md.get("datasets"), n=md.get("n"), level=md.get("level"), rows=len(t)),
            body=display.rows(t.set_index(["design", "scheme", "method"])[["coverage", "mc_se"]]
                              .groupby(level=[0, 1, 2], sort=False).mean().rename(columns={"coverage": "estimate"})
                              .rename(index=lambda x: x), low=None, extra=("mc_se",), limit=8,
                              what="(design, scheme, method) in .table"),
            note="mean coverage over the benchmarks, with its Monte Carlo s.e.",
        )


def _check(designs, methods, schemes):
    """The settings only the coverage study takes: designs, interval methods, schemes."""
    if isinstance(designs, Design):
        designs = [designs]
    designs = [check_design(d) for d in designs]
    if not designs:
        raise SwjaxError("designs: expected at least one design")
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    methods = tuple(dict.fromkeys(intervals.check_method(m, study=True) for m in methods))
    if not methods:
        raise SwjaxError(f"methods: expected at least one of {', '.join(intervals.METHODS)}")
    schemes = tuple(schemes)
    for s in schemes:
        if s not in SCHEMES:
            raise SwjaxError(f"schemes: expected some of {', '.join(SCHEMES)}, got {s!r}")
    return designs, methods, schemes


def _requested_rho(design: Design, benchmark: str) -> float:
    """The correlation the design asked for: a safety benchmark's ``rho``; NaN for a capability
    target, whose correlation follows from the loadings (its truth is :func:`population`'s)."""
    if benchmark in design.safety_names:
        return design.rho[design.safety_names.index(benchmark)]
    return float("nan")


def stacked_problems(design: Design, values: np.ndarray, dtype):
    """Problems of the (R, models, benchmarks) draws, stacked, and the target columns' positions
    (:attr:`~swjax.simulate.Design.targets`)."""
    problems = []
    layout = None
    for r in range(values.shape[0]):
        problem, layout = build_problem(
            to_dataset(design, values[r]), list(design.capability_names), dtype=dtype,
            drop_degenerate=False,
        )
        problems.append(problem)
    stacked = stack_problems(problems)
    columns = tuple(layout.columns.index(s) for s in design.targets)
    return stacked, columns


def scheme_run(design: Design, problems, columns, scheme_name: str, *, n: int, key, dataset_batch=None,
               device: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(estimate (R, s), jackknife (R, G, s), resamples (R, B, s)) of stacked datasets, in float64.

    The bootstrap over models (``scheme_name="models"``, jackknife over models) or over the
    design's families (``"families"``, leave one family out); full sample, jackknife and
    resamples of every dataset in one compiled program. Resample ``b`` of dataset ``r`` uses
    ``fold_in(fold_in(key, r), b)``.
    """
    m = design.n_models
    if scheme_name == "models":
        scheme, jack_w = resample.bootstrap_scheme(m), resample.jackknife_weights(m)
    else:
        codes = design.family_codes()
        scheme = resample.cluster_scheme(tuple(int(c) for c in codes))
        jack_w = resample.cluster_jackknife_weights(codes)
    full, rows = engine.run(
        problems, jack_w, draws=engine.Draws(scheme, n, key), with_full=True, fields=("corr",),
        columns=columns, batch_size=dataset_batch, device=device,
    )
    estimate = full.corr[:, 0][:, list(columns)].astype(np.float64)
    return estimate, rows["corr"][:, : len(jack_w)].astype(np.float64), rows["corr"][:, len(jack_w):].astype(np.float64)


def width_ratios(bounds: dict, models: dict) -> tuple[np.ndarray, np.ndarray]:
    """(median, 95th percentile) over the datasets of each benchmark's interval width divided by
    the model bootstrap's BCa width on the same dataset; ``bounds`` and ``models`` hold (R, s)
    ``low`` and ``high``. Datasets where either width is missing or the model one is 0 are left out."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (bounds["high"] - bounds["low"]) / (models["high"] - models["low"])
    ratio = np.where(np.isfinite(ratio), ratio, np.nan)
    s = ratio.shape[1]
    med, p95 = np.full(s, np.nan), np.full(s, np.nan)
    for j in range(s):
        ok = ratio[np.isfinite(ratio[:, j]), j]
        if len(ok):
            med[j], p95[j] = np.median(ok), np.quantile(ok, 0.95)
    return med, p95


def coverage_table(truth, estimate, dist, jack, *, methods, level, models=None) -> tuple[pd.DataFrame, dict]:
    """Coverage rows (one per method and target benchmark) of one design and scheme.

    ``truth`` (s,): a Series by benchmark name (:func:`~swjax.simulate.population`) or an array
    (benchmarks then named ``safety_1`` ...), ``estimate`` (R, s), ``dist`` (R, B, s) resampled correlations (NaN where
    degenerate), ``jack`` (R, m, s) jackknife values. Intervals come from
    :func:`swjax.intervals.interval`, column-wise over all R x s (dataset, benchmark) pairs.
    ``models``: {"low", "high"} (R, s) bounds of the model bootstrap's BCa interval, needed by
    ``cluster-t`` (``jack`` is then the leave-one-family-out jackknife); given, every row also
    has ``width_ratio`` and ``width_ratio_p95`` (:func:`width_ratios`).
    """
    names = list(truth.index) if isinstance(truth, pd.Series) else [f"safety_{j + 1}" for j in range(len(truth))]
    truth = np.asarray(truth, np.float64)
    R, B, s = dist.shape
    flat_dist = np.transpose(dist, (1, 0, 2)).reshape(B, R * s)
    flat_jack = np.transpose(jack, (1, 0, 2)).reshape(jack.shape[1], R * s)
    flat_est = estimate.reshape(R * s).astype(np.float64)
    degenerate = (~np.isfinite(dist)).sum(axis=1)  # (R, s)
    rows, bounds = [], {}
    for method in methods:
        flat_models = None if models is None else tuple(models[b].reshape(R * s) for b in ("low", "high"))
        low, high, used = intervals.interval(flat_dist, flat_est, level, method, flat_jack, models=flat_models)
        low, high, used = low.reshape(R, s), high.reshape(R, s), used.reshape(R, s)
        bounds[method] = {"low": low, "high": high}
        ratio = width_ratios(bounds[method], models) if models is not None else (np.full(s, np.nan),) * 2
        ok = np.isfinite(low) & np.isfinite(high)
        covered = ok & (low <= truth) & (truth <= high)
        below = ok & (high < truth)
        above = ok & (low > truth)
        for j in range(s):
            hits = int(covered[:, j].sum())
            p = hits / R
            rows.append(
                {
                    "method": method,
                    "benchmark": names[j],
                    "truth": truth[j],
                    "coverage": p,
                    "mc_se": np.sqrt(p * (1 - p) / R),
                    "miss_below": below[:, j].mean(),
                    "miss_above": above[:, j].mean(),
                    "width": float(np.nanmean(np.where(ok[:, j], high[:, j] - low[:, j], np.nan)))
                    if ok[:, j].any() else np.nan,
                    "width_ratio": ratio[0][j],
                    "width_ratio_p95": ratio[1][j],
                    "bias": float(np.nanmean(estimate[:, j]) - truth[j]),
                    "p_binom": sps.binomtest(hits, R, level).pvalue,
                    "no_interval": int((~ok[:, j]).sum()),
                    "bca_fallback": int(np.char.startswith(used[:, j].astype(str), "percentile (").sum()),
                    "degenerate": int(degenerate[:, j].sum()),
                    "degenerate_datasets": int((degenerate[:, j] > 0).sum()),
                }
            )
    return pd.DataFrame(rows), bounds


def coverage(
    designs: Design | Sequence[Design],
    *,
    datasets: int = 2000,
    n: int = 1000,
    methods: Sequence[str] | str = ("bca", "percentile", "basic", "jackknife-t", "cluster-t"),
    level: float = 0.95,
    seed: int = 0,
    schemes: Sequence[str] = SCHEMES,
    population_size: int | None = None,
    dataset_batch: int | None = None,
    device: str = "auto",
    x64: bool = False,
    progress: Callable[[str], None] | None = None,
) -> CoverageResult:
    """Coverage of the bootstrap intervals on simulated data with a known truth.

    Parameters
    ----------
    designs : Design or sequence of Design
        Data-generating designs (:mod:`swjax.simulate`).
    datasets : int
        R, simulated datasets per design; dataset ``r`` is drawn with seed ``(seed, r)``.
    n : int
        B, bootstrap resamples per dataset; resample ``b`` of dataset ``r`` uses
        ``fold_in(fold_in(key(seed), r), b)``.
    methods : sequence of {"bca", "percentile", "basic", "jackknife-t", "cluster-t", "jackknife-t-z", "cluster-t-z"}
        Interval methods, all computed from the same resamples and jackknife (``jackknife-t``
        on Fisher's z scale, from the jackknife over the resampled units: models, or families
        under ``scheme="families"``). ``cluster-t`` (families scheme only) widens the family
        jackknife-t interval to contain the models scheme's BCa interval of the same dataset.
        The ``-z`` methods take the jackknife on Fisher's z instead of on the correlation
        (:data:`swjax.intervals.STUDY_METHODS`: the family-aware default before, for comparison).
    level : float
        Nominal coverage.
    schemes : sequence of {"models", "families"}
        Resampling schemes: the ordinary bootstrap over models, and (for designs with
        families only) the cluster bootstrap over families.
    population_size : int, optional
        Models in the sample that defines the truth (default 200,000).
    dataset_batch : int, optional
        Datasets per compiled chunk; memory is about
        ``dataset_batch x n x (8 x columns x models + 2 x models^2)`` numbers.
    progress : callable, optional
        Called with a line of text after each design and scheme.

    Examples
    --------
    >>> res = coverage(Design(rho=(0.6,)), datasets=20, n=50, methods="percentile",
    ...                population_size=20_000)
    >>> res.table[["design", "scheme", "method"]].iloc[0].tolist()
    ['plain', 'models', 'percentile']
    """
    designs, methods, schemes = _check(designs, methods, schemes)
    opts = options.check(n=n, seed=seed, level=level, datasets=datasets, device=device, dataset_batch=dataset_batch)
    R, n, level, dataset_batch = opts.datasets, opts.n, opts.level, opts.dataset_batch
    key = resample.key_from_seed(seed)
    dev = engine.select_device(device)
    frames, estimates, seconds = [], {}, {}
    started = time.perf_counter()
    with engine.precision(x64):
        dtype = float_dtype(x64)
        for design in designs:
            t0 = time.perf_counter()
            label = design.label()
            truth = population(design, population_size or POPULATION_SIZE)
            values = draw_many(design, R, seed)
            problems, columns = stacked_problems(design, values, dtype)
            estimates[label] = {}
            for scheme_name in schemes:
                if scheme_name == "families" and not design.families:
                    continue
                estimate, jack_scheme, dist = scheme_run(design, problems, columns, scheme_name, n=n, key=key,
                                                         dataset_batch=dataset_batch, device=dev.platform)
                estimates[label]["estimate"] = estimate
                scheme_methods = [x for x in methods if scheme_name == "families" or x not in intervals.CLUSTER_METHODS]
                cluster = [x for x in methods if x in intervals.CLUSTER_METHODS]
                if scheme_name == "models" and design.families and "bca" not in methods:
                    # cluster-t widens to the model bootstrap's BCa interval; widths are compared with it
                    scheme_methods.insert(0, "bca")
                models_bounds = None
                if scheme_name == "families":
                    if cluster and "models" not in estimates[label]:
                        raise SwjaxError(f"methods: {cluster[0]!r} needs the 'models' scheme too")
                    models_bounds = estimates[label].get("models", {}).get("bca")
                frame, bounds = coverage_table(
                    truth, estimate, dist, jack_scheme, methods=scheme_methods, level=level,
                    models=models_bounds,
                )
                if scheme_name == "models" and design.families:  # the model bootstrap against its own BCa
                    frame["width_ratio"], frame["width_ratio_p95"] = np.concatenate(
                        [width_ratios(bounds[x], bounds["bca"]) for x in scheme_methods], axis=1)
                frame.insert(0, "design", label)
                frame.insert(1, "scheme", scheme_name)
                frame.insert(4, "rho", [_requested_rho(design, b) for b in frame["benchmark"]])
                frames.append(frame)
                estimates[label][scheme_name] = bounds
                if progress is not None:
                    progress(f"{label} / {scheme_name}: {time.perf_counter() - t0:.1f} s")
            seconds[label] = time.perf_counter() - t0
    table = pd.concat(frames, ignore_index=True)
    from ._version import __version__

    metadata = dict(
        datasets=R, n=n, level=level, seed=seed, methods=list(methods), schemes=list(schemes),
        designs=[d.to_dict() for d in designs], population_size=population_size or POPULATION_SIZE,
        device=str(dev), dtype=np.dtype(dtype).name, seconds=seconds,
        seconds_total=time.perf_counter() - started, version=__version__,
    )
    return CoverageResult(table=table, estimates=estimates, metadata=metadata)


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table in percent, for reading (docs/coverage.md, terminal)."""
    out = table[["design", "scheme", "method", "rho", "truth"]].copy()
    out["truth"] = out["truth"].round(3)
    out["coverage %"] = (100 * table["coverage"]).round(1)
    out["± MC s.e."] = (100 * table["mc_se"]).round(1)
    out["miss below %"] = (100 * table["miss_below"]).round(1)
    out["miss above %"] = (100 * table["miss_above"]).round(1)
    out["width"] = table["width"].round(3)
    if "width_ratio" in table:
        out["width / models"] = table["width_ratio"].round(2)
        out["p95"] = table["width_ratio_p95"].round(2)
    out["degenerate"] = table["degenerate"]
    return out
