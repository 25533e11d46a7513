"""``bootstrap``: confidence intervals, p-values and verdicts for every capabilities correlation."""

from __future__ import annotations

import math
import time
from functools import partial
from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import numpy as np
import pandas as pd

from . import engine, intervals, options, provenance, pvalues, resample, validate
from .analysis import Analysis, as_dataset, float_dtype, make_analysis
from .columns import SCALARS, column_scales
from .columns import method_se as _method_se, stat_columns as _stat_columns
from .errors import DegenerateResampleWarning, SwjaxError, warn
from .options import check_positive_int
from .problem import FLOP_COLUMN, MIN_MODELS, Layout, Problem, build_problem, stack_problems

__all__ = ["BootstrapResult", "bootstrap", "check_positive_int", "min_models", "interval_support", "withhold"]

@dataclass(frozen=True)
class BootstrapResult:
    """Resampling results of one model set.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by benchmark: ``name``, ``metric``, ``estimate`` (the full-sample correlation,
        the paper's point estimate), ``n_models`` (and ``n_families`` with families) behind it,
        ``low``, ``high``, ``se`` (the standard error of the interval's method) and ``se_from``
        (which: model/family bootstrap or jackknife), ``bias``, ``n_valid`` and
        ``n_degenerate`` resamples, ``interval`` (the method used: BCa falls back to percentile
        where it cannot be computed; "none: why" where a statistic gets no interval, below
        :func:`min_models` models or 3 families), ``p_value``, ``q_value`` (BH),
        ``q_value_by`` (BY), ``verdict``, ``capability``.
    distribution : numpy.ndarray
        (n, benchmarks) resampled correlations, in the table's order and the computation's
        dtype (float32 unless x64); NaN where degenerate.
    jackknife : numpy.ndarray
        (models, benchmarks) leave-one-model-out correlations.
    summary : pandas.DataFrame
        The same interval columns, without a verdict, for the scalar statistics (variance
        explained, mean capability intercorrelation, compute correlation: "none: no FLOP"
        without FLOP).
    eigenvalues : numpy.ndarray or None
        (n, capabilities) resampled eigenvalues of the capability correlation matrix, largest
        first; None unless asked for (``bootstrap(..., eigenvalues=True)``).
    analysis : Analysis
        The full-sample analysis.
    metadata : dict
        seed, n, method, level, threshold, permutations, device, dtype, batch size, version,
        seconds, the share of resamples whose PC1 the released sign rule would have flipped
        and the smallest |cos| between a resample's PC1 and the full-sample one.
    """

    table: pd.DataFrame
    distribution: np.ndarray = field(repr=False)
    jackknife: np.ndarray = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    eigenvalues: np.ndarray | None = field(repr=False)
    analysis: Analysis = field(repr=False)
    metadata: dict = field(default_factory=dict)

    @property
    def benchmarks(self) -> tuple[str, ...]:
        """The columns of ``distribution`` and ``jackknife``: the table's benchmarks, in order."""
        return tuple(self.table.index)

    def select(self, benchmarks="main") -> BootstrapResult:
        """The same result restricted to some benchmarks: their table rows and distribution columns.

        Nothing is recomputed: each row keeps the numbers of the whole run, and the q-values stay
        those of the Benjamini-Hochberg (and BY) correction over every non-capability benchmark of
        the run. ``metadata["shown"]`` records how many of the run's benchmarks were kept.

        Parameters
        ----------
        benchmarks : "main", "all" or sequence of str
            ``"main"`` (alias ``"headline"``): the safety benchmarks of the paper's main tables that
            the set has (``data/areas.csv``); ``"all"``: every benchmark; or ids / display names.

        Examples
        --------
        >>> res = bootstrap("chat", n=200)
        >>> len(res.table), len(res.select("main").table)
        (178, 25)
        """
        table = self.table
        if isinstance(benchmarks, str) and benchmarks == "all":
            keys = list(table.index)
        elif isinstance(benchmarks, str) and benchmarks in ("main", "headline"):
            from .data import areas

            amap = areas()
            main = set(amap.index[amap["headline"] == 1])
            keys = [b for b in table.index if b in main]
        elif isinstance(benchmarks, str):
            raise SwjaxError(f"benchmarks: expected 'main', 'all' or a list of benchmarks, got {benchmarks!r}")
        else:
            keys = list(dict.fromkeys(
                validate.benchmark(b, table.index, table["name"], where=f"the {self.metadata.get('set')} run")
                for b in benchmarks))
        cols = [table.index.get_loc(b) for b in keys]
        which = benchmarks if isinstance(benchmarks, str) else "list"
        shown = {"benchmarks": len(keys), "of": self.metadata.get("shown", {}).get("of", len(table)),
                 "which": "main" if which == "headline" else which}
        return BootstrapResult(
            table=table.iloc[cols].copy(), distribution=self.distribution[:, cols], jackknife=self.jackknife[:, cols],
            summary=self.summary, eigenvalues=self.eigenvalues, analysis=self.analysis,
            metadata=dict(self.metadata, shown=shown),
        )

    def distribution_frame(self) -> pd.DataFrame:
        """``distribution`` as a DataFrame, one column per benchmark (a copy, in float64)."""
        return pd.DataFrame(np.asarray(self.distribution, np.float64), columns=pd.Index(self.benchmarks, name="benchmark"))

    def __repr__(self) -> str:
        from . import display

        md = self.metadata
        return display.result(
            "BootstrapResult",
            dict(set=md.get("set"), n=md.get("n"), method=md.get("method"), level=md.get("level"),
                 threshold=md.get("threshold"), benchmarks=len(self.table)),
            verdicts=self.table["verdict"],
            body=display.rows(self.table, extra=("verdict",), what="benchmarks in .table"),
        )


def min_models(level: float) -> int:
    """The fewest models behind a correlation that gets an interval and a verdict at ``level``.

    The smallest n at which even a perfect rank correlation can be told from none: an exact
    two-sided permutation test of Spearman's rho on n untied models rejects rho = 0 at
    ``1 - level`` only if ``2 / n! <= 1 - level`` (the chance that n ranks come out in one of
    the two perfect orders). Below it no interval of any method can mean anything at this level,
    and a bootstrap of so few models draws copies of a handful of rows (4 models: 35 distinct
    resamples; 34 % of draws hold fewer than 3 distinct models and have no correlation at all;
    with 2 families half the cluster draws are one family). It is never below the 5 models that the whole
    analysis needs (:data:`swjax.problem.MIN_MODELS`): 5 at 95 %, 6 at 99 %, 7 at 99.9 %.
    """
    n = MIN_MODELS
    while 2 / math.factorial(n) > 1 - level:
        n += 1
    return n


class Support(NamedTuple):
    """How much data stands behind each statistic (benchmarks, then :data:`SCALARS`), and why a
    statistic gets no interval: ``reason`` is "" where it gets one."""

    n_models: np.ndarray
    n_families: np.ndarray | None
    reason: np.ndarray
    min_models: int
    min_families: int | None


def interval_support(problem: Problem, layout: Layout, level: float, clusters=None) -> Support:
    """Models (and families, with ``clusters``) behind each statistic, and which fall below the
    minimum (:func:`min_models`; :data:`swjax.clusters.MIN_FAMILIES` families, the fewest
    whose jackknife-t has 2 degrees of freedom) or have no data (no FLOP column).

    A benchmark's models are those of its pair set (observed, and observed in ``against``);
    variance explained and the mean intercorrelation rest on every model of the analysis; the
    compute correlation on the models whose FLOP is known.
    """
    from .clusters import MIN_FAMILIES, cluster_codes

    m, nb = len(layout.models), layout.n_benchmarks
    pairs = np.asarray(problem.patterns)[np.asarray(problem.col_pattern)] > 0  # (columns, models)
    everyone = np.ones((1, m), bool)
    flop = pairs[[layout.columns.index(FLOP_COLUMN)]] if layout.has_flop else np.zeros((1, m), bool)
    used = np.concatenate([pairs[:nb], everyone, everyone, flop])  # in the order of _stat_columns
    n_models = used.sum(axis=1)
    need = min_models(level)
    reason = np.where(n_models < need, [f"{k} models (at least {need} needed)" for k in n_models], "").astype(object)
    n_families = min_families = None
    if clusters is not None:
        codes = np.asarray(cluster_codes(layout.models, clusters)[0])
        n_families = np.array([len(np.unique(codes[row])) for row in used])
        min_families = MIN_FAMILIES
        few = (reason == "") & (n_families < MIN_FAMILIES)
        reason[few] = [f"{g} families (at least {MIN_FAMILIES} needed)" for g in n_families[few]]
    if not layout.has_flop:
        reason[-1] = "no FLOP"
    return Support(n_models, n_families, reason, need, min_families)


#: What the ``se`` column is (in the result's metadata).
SE_NOTE = (
    "se: the standard error of each row's interval method (se_from): the spread of the "
    "resamples for bootstrap intervals, the jackknife's for jackknife-t, the larger of the "
    "family jackknife's and the model bootstrap's for cluster-t."
)
#: Interval columns emptied where a statistic gets no interval.
_INTERVAL_COLUMNS = ("low", "high", "se", "low_models", "high_models", "low_families", "high_families",
                     "design_effect")


def withhold(frame: pd.DataFrame, reason) -> None:
    """No interval, se or verdict where ``reason`` (one string per row, "" for none) gives one,
    or where no interval could be computed (every resample degenerate); the ``interval`` column
    says why ("none: ..."). ``frame`` has :func:`summarize`'s columns, changed in place."""
    reason = np.array(reason, dtype=object)
    failed = (reason == "") & ~(np.isfinite(frame["low"]) & np.isfinite(frame["high"])).to_numpy()
    reason[failed] = np.where(frame["n_valid"].to_numpy()[failed] == 0, "no valid resample",
                              "the interval could not be computed")
    blank = reason != ""
    if not blank.any():
        return
    for col in _INTERVAL_COLUMNS:
        if col in frame.columns:
            frame.loc[blank, col] = np.nan
    if "widened_to_models" in frame.columns:
        frame.loc[blank, "widened_to_models"] = False
    if "se_from" in frame.columns:
        frame.loc[blank, "se_from"] = ""
    if "verdict" in frame.columns:
        frame.loc[blank, "verdict"] = "no interval"
    frame.loc[blank, "interval"] = ["none: " + r for r in reason[blank]]


#: How the family-aware default differs from the model bootstrap (in the result's metadata).
CLUSTER_T_NOTE = (
    "cluster-t: the interval is the jackknife-t interval over model families (Fisher's z, "
    "leave-one-family-out standard error, t quantiles with G - 1 degrees of freedom), widened "
    "where needed to contain the BCa interval of the bootstrap over models. Families make it "
    "wider than the model bootstrap when family members are alike; it is never narrower, "
    "because a narrower family interval would rest on a variance estimated from only G families."
)


def summarize(
    dist: np.ndarray,
    estimate: np.ndarray,
    jack: np.ndarray,
    *,
    method: str,
    level: float,
    threshold: float,
    scale=None,
    models=None,
) -> pd.DataFrame:
    """Interval columns (estimate, low, high, se, bias, n_valid, n_degenerate, interval, verdict).

    ``scale`` and ``models`` (the model bootstrap's (low, high)) as in
    :func:`swjax.intervals.interval`.
    """
    estimate = np.asarray(estimate, np.float64)
    # Quantiles from the distribution as kept (a float32 sort, the same values); the moments
    # from float64 columns, each contiguous, so that numpy sums each column pairwise on its own.
    low, high, used = intervals.interval(dist, estimate, level, method, jack, scale=scale, models=models)
    dist = np.asfortranarray(dist, dtype=np.float64)
    mean, n_valid = intervals.column_mean(dist)
    return pd.DataFrame(
        {
            "estimate": estimate,
            "low": low,
            "high": high,
            "se": intervals.standard_error(dist),
            "bias": np.where(n_valid > 0, mean - estimate, np.nan),
            "n_valid": n_valid,
            "n_degenerate": dist.shape[0] - n_valid,
            "interval": used,
            "verdict": intervals.verdicts(low, high, threshold),
        }
    )


def bootstrap(
    data,
    *,
    n: int = 10000,
    seed: int = 0,
    method: str | None = None,
    level: float = 0.95,
    permutations: int = 0,
    threshold: float = 0.4,
    capabilities=None,
    against: str | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    x64: bool = False,
    progress=None,
    clusters=None,
    stream_to=None,
    eigenvalues: bool = False,
    missing: str = "drop",
    score: str = "paper",
    stderr=None,
) -> BootstrapResult:
    """Bootstrap the whole pipeline over models: an interval and verdict per benchmark.

    Each resample draws ``m`` models with replacement (multinomial counts as model weights)
    and recomputes z-scores, Spearman matrix, PC1, capabilities score and every correlation.
    PC1 of each resample is turned to point along the full-sample PC1. BCa's acceleration
    comes from the whole-pipeline jackknife over models.

    Parameters
    ----------
    data : Dataset or {"base", "chat"}
    n : int
        Number of bootstrap resamples.
    seed : int
        Resample ``r`` uses ``fold_in(key(seed), r)``: the same numbers for every batch size.
    method : {"bca", "percentile", "basic", "jackknife-t", "cluster-t"}, optional
        Default "bca", or "cluster-t" with ``clusters`` (the family-aware interval: the
        jackknife-t interval over families, widened to contain the BCa interval of the
        bootstrap over models, which is then run too; see :func:`swjax.intervals.interval`
        and docs/coverage.md, "How good are the intervals?"). "jackknife-t" alone is the studentized
        interval on Fisher's z scale from the jackknife over models, or over families with
        ``clusters``.
    level : float
        Confidence level in (0, 1).
    permutations : int
        Permutations for the p-values (0: none).
    threshold : float
        Verdict boundary t: entangled when the interval lies above t, anti-correlated below -t,
        distinct inside (-t, t), indeterminate when it straddles.
    capabilities, against : see :func:`swjax.analyze`.
    device : {"auto", "cpu", "gpu"}
    batch_size : int, optional
        Resamples per compiled chunk; memory is about ``8 x batch x columns x models`` numbers.
    x64 : bool
        float64 instead of float32.
    progress : callable, optional
        Called with the number of resamples finished after each chunk.
    clusters : pandas.Series, optional
        Model id -> cluster label (model family): resample whole clusters instead of models
        (:func:`swjax.resample.cluster_scheme`); the jackknife for BCa then leaves out one
        cluster at a time. See :mod:`swjax.clusters`.
    stream_to : path, optional
        Write the resample distribution to this file (float32, column-major; see
        :mod:`swjax.streaming`) instead of keeping it in memory, and compute the intervals a
        few columns at a time: the same numbers in bounded memory (n = 1,000,000 in well under
        1.5 GB). ``distribution`` is then a read-only memory map of the file.
    eigenvalues : bool
        Also keep every resample's whole spectrum (``BootstrapResult.eigenvalues``, for the
        scree plot's intervals). Off by default: it takes an eigensolver call per resample,
        which costs more than the rest of the statistic; PC1 itself needs only the leading
        eigenpair (certified power iteration, :mod:`swjax.core`).
    missing : {"drop", "impute"}
        Models lacking a capability score: left out (the released rule), or kept, their missing
        capability scores imputed by a rank-2 iterative PCA fit redone inside every resample and
        jackknife row from the models it draws (:func:`swjax.core.impute_capabilities`); refused
        (``SwjaxError``) when more than :data:`swjax.validate.IMPUTE_VALIDATED_SHARE` of the
        capability cells are missing, beyond the share where its intervals were validated.
    score : {"paper", "pearson", "mean-z", "irt", "compute"}
        The capability measure, recomputed in every resample (:mod:`swjax.scores`,
        docs/scores.md); default the paper's PC1 of the Spearman matrix.
    stderr : pandas.DataFrame, optional
        Each score's standard error (model ids x benchmark columns; missing or absent cells:
        none known), e.g. the ``stderr.csv`` of ``swjax import`` or
        :func:`swjax.measurement.binomial_stderr` of its ``n.csv``. Every resample then also
        perturbs the scores by their measurement error (:mod:`swjax.measurement`), so that
        the interval holds the sampling of items as well as of models; the table gains
        ``se_without_errors`` (the spread of the same resamples without the perturbation) and
        ``error_share`` (the share of the spread's variance that the errors add). Not with
        ``method="jackknife-t"`` (no resamples) or ``stream_to``.

    Examples
    --------
    >>> res = bootstrap("chat", n=200, seed=1)
    >>> row = res.table.loc["MT_Bench"]
    >>> round(float(row["estimate"]), 3), row["verdict"]
    (0.787, 'entangled')
    """
    opts = options.check(n=n, seed=seed, method=method, level=level, permutations=permutations,
                         threshold=threshold, device=device, batch_size=batch_size, score=score, clusters=clusters)
    n, method, level, permutations, threshold, batch_size, score = (
        opts.n, opts.method, opts.level, opts.permutations, opts.threshold, opts.batch_size, opts.score
    )
    if method in intervals.CLUSTER_METHODS and clusters is None:
        raise SwjaxError(f"method: {method!r} needs model families (clusters=, --families or --cluster-by)")
    if method in intervals.CLUSTER_METHODS and stream_to is not None:
        raise SwjaxError(f"method: {method!r} cannot stream the distribution to disk; use 'jackknife-t' with stream_to")
    if stderr is not None and method == "jackknife-t":
        raise SwjaxError("stderr: method 'jackknife-t' reads no resamples, so measurement error cannot enter it; "
                         "use 'bca' or 'percentile' (or 'cluster-t' with families)")
    if stderr is not None and stream_to is not None:
        raise SwjaxError("stderr: measurement error is not streamed to disk yet; leave out stream_to")
    dataset = as_dataset(data)
    key = resample.key_from_seed(seed)
    dev = engine.select_device(device)
    started = time.perf_counter()
    streamed = {}

    fields = engine.RESAMPLE_FIELDS + (("eigenvalues",) if eigenvalues else ())

    def sink_for(layout, into=streamed, path=stream_to, keep=fields):
        store, sink, kept = _stream_sink(path, n, layout, keep, float_dtype(x64))
        into.update(store=store, kept=kept)
        return sink

    # The distribution goes chunk by chunk into one store (a file with stream_to, else an array)
    # and is summarised a few columns at a time: no copy of the whole is ever made.
    run = resample_pipeline(
        dataset, n=n, key=key, capabilities=capabilities, against=against, device=dev.platform,
        batch_size=batch_size, x64=x64, clusters=clusters, progress=progress,
        sink_for=sink_for, fields=fields, stream_to=stream_to, missing=missing, score=score,
        stderr=stderr, seed=seed,
    )
    problem, layout, full, jack, draws, scheme_meta, decided, without_errors = run
    store = streamed["store"]
    store.close()
    draws = {f: np.concatenate(v) for f, v in streamed["kept"].items()}
    analysis = make_analysis(full, layout, dataset)
    models = None
    if method in intervals.CLUSTER_METHODS:  # the model bootstrap on the same seed, for its BCa interval
        model_streamed = {}
        model_run = resample_pipeline(
            dataset, n=n, key=key, capabilities=capabilities, against=against, device=dev.platform,
            batch_size=batch_size, x64=x64, sink_for=partial(sink_for, into=model_streamed, path=None, keep=()),
            built=(problem, layout), stderr=stderr, seed=seed, missing=missing, score=score,
        )
        models = _model_interval(model_run, model_streamed["store"], level)
        if stderr is not None:  # the errors enter cluster-t through its model bootstrap
            without_errors = model_run.without_errors
    pv = None
    if permutations:
        y = full.score[0] if problem.target is None else problem.target
        pv = pvalues.permutation_pvalues(problem, y, permutations, jax.random.fold_in(key, 2**31))
    return _result(
        analysis, layout, full, jack, draws, pv, store=store, models=models,
        without_errors=None if without_errors is None else _stat_columns(without_errors, layout)[0],
        support=interval_support(problem, layout, level, clusters),
        method=method, level=level, threshold=threshold,
        metadata=dict(
            set=layout.label, seed=seed, n=n, method=method, level=level, threshold=threshold,
            permutations=permutations, device=str(decided.device), dtype=analysis.dtype,
            **({"scheme": "models"} | scheme_meta), missing=missing, score=score,
            batch_size=decided.batch_size,
            seconds=time.perf_counter() - started, data=provenance.data_provenance(dataset, layout.models),
        ),
    )


class PipelineRun(NamedTuple):
    problem: Problem
    layout: Layout
    full: object
    jack: dict
    draws: dict
    scheme_meta: dict
    decision: engine.Decision  # the engine's batch size and devices, as the run used them
    without_errors: dict | None = None  # with stderr: the resamples of the scores as given (same fields)


def resample_pipeline(
    dataset, *, n, key, capabilities, against, device, batch_size, x64, clusters=None, progress=None,
    sink_for=None, fields=engine.RESAMPLE_FIELDS, stream_to=None, missing="drop", built=None, score="paper",
    stderr=None, seed=0,
) -> PipelineRun:
    """Full sample, jackknife and ``n`` bootstrap resamples of one dataset.

    Over models, or over whole clusters when ``clusters`` (model -> family) is given; every
    resample's PC1 is turned to point along the full-sample PC1. ``sink_for(layout)``, if
    given, returns a sink that receives each chunk of resamples instead of keeping them
    (``draws`` is then None). ``built``: the (problem, layout) of an earlier run of the same
    request, reused as they are (the same models, imputation and warnings, given once), so
    that a second scheme on the same data cannot differ from the first in what it analyses.
    ``stderr`` (models x benchmarks standard errors): each resample also perturbs the scores by
    their measurement error (:mod:`swjax.measurement`; perturbed copies seeded by ``seed``);
    ``without_errors`` then holds the resamples of the scores as given, on the same ``key``.
    """
    def build(ds):
        if missing == "drop":
            return build_problem(ds, capabilities, against, float_dtype(x64), score=score)
        from .analysis import prepare

        return prepare(ds, capabilities=capabilities, against=against, x64=x64, missing=missing, score=score)

    with engine.precision(x64):
        if built is not None:
            problem, layout = built
        else:
            problem, layout = build(dataset)
            if problem.cap_obs is not None:  # imputed: intervals only where they were validated
                validate.imputation_validated(problem.cap_obs, layout.capabilities, layout.label)
        m, k = len(layout.models), len(layout.capabilities)
        # Refuse before computing anything: the kept distribution and one chunk must fit.
        kept = len(layout.columns) + len(fields) - 1 + (k - 1 if "eigenvalues" in fields else 0)
        validate.memory(n, kept, problem.caps.dtype.itemsize, stream_to=stream_to)
        validate.batch_size(batch_size, engine.row_bytes(problem))
        scheme, jack_w, scheme_meta = resample.bootstrap_scheme(m), resample.jackknife_weights(m), {}
        if clusters is not None:  # model families: resample whole clusters (swjax.clusters)
            from .clusters import cluster_setup

            scheme, jack_w, scheme_meta = cluster_setup(clusters, layout)
        if stderr is not None:
            return _pipeline_with_errors(dataset, problem, layout, build, stderr, seed, n=n, key=key, scheme=scheme,
                                         jack_w=jack_w, scheme_meta=scheme_meta, batch_size=batch_size, device=device,
                                         progress=progress, sink_for=sink_for, fields=fields)
        # The full sample, the jackknife and the resamples in one compiled program, every PC1
        # aligned in the kernel with the full sample's.
        sink = None if sink_for is None else sink_for(layout)
        (full, rows), decided = engine.run(
            problem, jack_w, draws=engine.Draws(scheme, n, key), with_full=True, with_decision=True,
            batch_size=batch_size, device=device, progress=progress, fields=fields, sink=sink,
        )
        if sink is None:
            cut = len(jack_w)
            jack, draws = {f: v[:cut] for f, v in rows.items()}, {f: v[cut:] for f, v in rows.items()}
        else:
            jack, draws = rows, None
    return PipelineRun(problem, layout, full, jack, draws, scheme_meta, decided)


def _pipeline_with_errors(dataset, problem, layout, build, stderr, seed, *, n, key, scheme, jack_w, scheme_meta,
                          batch_size, device, progress, sink_for, fields) -> PipelineRun:
    """:func:`resample_pipeline` with measurement error: the scores as given (full sample,
    jackknife, and ``n`` resamples for the width without errors), then ``n`` resamples pooled
    from the perturbed copies (:mod:`swjax.measurement`), which go to the sink."""
    from . import measurement

    columns = list(layout.benchmarks)  # capabilities and an against column among them; FLOP is not perturbed
    se = measurement.stderr_matrix(stderr, layout.models, columns, layout.label)
    copies, per_copy = measurement.copies_for(n)
    sent = [0]

    def report(fraction):  # the two runs report as one run of n resamples, half each
        if progress is not None:
            target = min(n, int(fraction * n))
            if target > sent[0]:
                progress(target - sent[0])
                sent[0] = target

    done = [0, 0]

    def plain_progress(rows):
        done[0] += rows
        report(0.5 * done[0] / n)

    def copy_progress(finished):
        done[1] += finished
        report(0.5 + 0.5 * done[1] / copies)

    (full, rows), decided = engine.run(
        problem, jack_w, draws=engine.Draws(scheme, n, key), with_full=True, with_decision=True,
        batch_size=batch_size, device=device, progress=plain_progress, fields=fields,
    )
    cut = len(jack_w)
    jack, plain = {f: v[:cut] for f, v in rows.items()}, {f: v[cut:] for f, v in rows.items()}
    datasets = measurement.perturbed(dataset, se, layout.models, columns, copies, seed)
    stacked = stack_problems(measurement.build_copies(build, datasets, layout))

    _, copy_rows = engine.run(
        stacked, draws=engine.Draws(scheme, per_copy, key), with_full=True, device=device, fields=fields,
        progress=copy_progress,
    )
    order = measurement.pooled_order(copies, per_copy, n)
    pooled = {f: v.reshape((copies * per_copy,) + v.shape[2:])[order] for f, v in copy_rows.items()}
    if sink_for is not None:
        sink_for(layout)(pooled)
        draws = None
    else:
        draws = pooled
    meta = dict(scheme_meta, errors=dict(copies=copies, rows_per_copy=per_copy,
                                        cells_with_error=int((se > 0).sum()), cells=int(se.size)))
    return PipelineRun(problem, layout, full, jack, draws, meta, decided, without_errors=plain)


def _model_interval(run: PipelineRun, store, level: float) -> dict:
    """BCa interval and standard error of the bootstrap over models, per column (``store``
    holds its distribution), a few columns at a time."""
    estimate, _ = _stat_columns(run.full, run.layout)
    jack_cols, _ = _stat_columns(run.jack, run.layout)
    low, high, se = (np.empty(estimate.shape[1]) for _ in range(3))
    for lo, hi, block in store.blocks():
        low[lo:hi], high[lo:hi], _ = intervals.interval(block, estimate[0, lo:hi], level, "bca", jack_cols[:, lo:hi])
        se[lo:hi] = intervals.standard_error(np.asfortranarray(block, dtype=np.float64))
    return {"low": low, "high": high, "se": se}


def _stream_sink(path, n: int, layout: Layout, fields, dtype):
    """A store for the distribution (a file at ``path``, else memory in ``dtype``) and a sink
    that fills it chunk by chunk."""
    from .streaming import ColumnStore, MemoryStore

    columns = layout.n_benchmarks + len(SCALARS)
    store = ColumnStore(path, n, columns) if path is not None else MemoryStore(n, columns, dtype)
    kept = {f: [] for f in ("eigenvalues", "rule_flip", "cos_ref") if f in fields}

    def sink(chunk):
        store.append(_stat_columns(chunk, layout)[0])
        for f in kept:
            kept[f].append(chunk[f])

    return store, sink, kept


def _result(analysis, layout, full, jack, draws, pv, *, method, level, threshold, metadata, support: Support,
            store=None, models=None, without_errors=None):
    from ._version import __version__

    estimate, names = _stat_columns(full, layout)
    jack_cols, _ = _stat_columns(jack, layout)
    scales = column_scales(names)
    opts = dict(method=method, level=level, threshold=threshold)
    # A few columns at a time (every interval formula is column-wise): memory stays the kept
    # distribution plus one block, in memory or streamed alike.
    frame = pd.concat(
        [summarize(block, estimate[0, lo:hi], jack_cols[:, lo:hi], **opts, scale=scales[lo:hi],
                   models=None if models is None else (models["low"][lo:hi], models["high"][lo:hi]))
         for lo, hi, block in store.blocks()],
        ignore_index=True,
    )
    boot_se = frame["se"].to_numpy()  # the spread of this run's resamples
    if models is not None:  # how the family-aware interval differs from the model bootstrap
        fam_low, fam_high, _ = intervals.jackknife_t_interval(estimate[0], jack_cols, level, scales)
        with np.errstate(invalid="ignore", divide="ignore"):
            extra = {
                "low_models": models["low"], "high_models": models["high"],
                "low_families": fam_low, "high_families": fam_high,
                "design_effect": (boot_se / models["se"]) ** 2,
                "widened_to_models": (models["low"] < fam_low) | (models["high"] > fam_high),
            }
        for col, values in extra.items():
            frame[col] = values
    # The se of the interval shown, and where it comes from.
    se, se_from = _method_se(
        frame["interval"].to_numpy(), boot_se, intervals.jackknife_standard_error(jack_cols),
        None if models is None else models["se"], families=metadata.get("scheme") == "clusters",
    )
    frame["se"] = se
    frame.insert(frame.columns.get_loc("se") + 1, "se_from", se_from)
    if without_errors is not None:  # measurement error: how much of the spread it adds
        from .measurement import error_share

        spread = models["se"] if models is not None else boot_se  # where the errors entered
        frame["se_without_errors"] = intervals.standard_error(np.asfortranarray(without_errors, dtype=np.float64))
        frame["error_share"] = error_share(spread, frame["se_without_errors"].to_numpy())
    frame.insert(frame.columns.get_loc("estimate") + 1, "n_models", support.n_models)
    if support.n_families is not None:
        frame.insert(frame.columns.get_loc("n_models") + 1, "n_families", support.n_families)
    withhold(frame, support.reason)
    dist = store.array()
    frame.index = pd.Index(names, name="benchmark")
    nb = layout.n_benchmarks
    table = frame.iloc[:nb].copy()
    table.insert(0, "name", analysis.info["name"])
    table.insert(1, "metric", analysis.info["metric"])
    table["capability"] = [b in layout.capabilities and layout.against is None for b in table.index]
    p = np.full(nb, np.nan) if pv is None else pv[:nb]
    table["p_value"] = p
    family = ~table["capability"].to_numpy()
    table["q_value"] = np.nan
    table["q_value_by"] = np.nan
    table.loc[family, "q_value"] = pvalues.bh_qvalues(p[family])
    table.loc[family, "q_value_by"] = pvalues.by_qvalues(p[family])
    degenerate = table.loc[table["n_degenerate"] > 0, "n_degenerate"]
    if len(degenerate):
        listing = ", ".join(f"{b} ({c})" for b, c in degenerate.items())
        warn(
            f"{layout.label}: resamples with no correlation (constant among the drawn models), "
            f"left out of the intervals: {listing}",
            DegenerateResampleWarning,
        )
    flips = np.asarray(draws["rule_flip"])
    cos = np.asarray(draws["cos_ref"], np.float64)
    metadata = dict(
        metadata,
        version=__version__,
        n_models=len(layout.models),
        pc1_rule_flip_share=float(flips.mean()),
        pc1_min_abs_cos=float(np.nanmin(cos)) if np.isfinite(cos).any() else float("nan"),
    )
    metadata.update(min_models=support.min_models, se_note=SE_NOTE)
    if support.min_families is not None:
        metadata["min_families"] = support.min_families
    if models is not None:
        metadata["interval_note"] = CLUSTER_T_NOTE
    return BootstrapResult(
        table=table,
        distribution=dist[:, :nb],
        jackknife=jack_cols[:, :nb],
        summary=frame.iloc[nb:].drop(columns="verdict"),  # a verdict is about a benchmark
        eigenvalues=np.asarray(draws["eigenvalues"], np.float64) if "eigenvalues" in draws else None,
        analysis=analysis,
        metadata=metadata,
    )
