"""Paired comparisons: two benchmarks on the same resamples, or one benchmark across model sets.

* :func:`compare` ``(a, b)``: the difference of two capabilities correlations of one model set
  (e.g. adversarial GLUE vs GLUE) computed on the same model resamples, so the dependence
  between them is kept. With ``b=None``, the interval of ``a`` alone: this is how the compute
  correlation (``"compute"``) and correlations ``against`` a benchmark get intervals.
* :func:`compare_between` ``(a, sets)``: one benchmark in two model sets (base vs chat), from
  independent resamples of each set; resample ``r`` of the first set is paired with resample
  ``r`` of the second.

Below :func:`swjax.bootstrap.min_models` models (or 3 families with ``clusters``) a statistic
keeps its estimate and gets no interval, as in :func:`swjax.bootstrap`; a difference gets none
when either side gets none, and rests on the fewer models of its two sides.

P-value of a difference (or of a single correlation) being 0: the smallest ``1 - level`` at
which the table's own interval (its method: BCa by default, as in :func:`swjax.bootstrap`)
excludes 0, so that the p-value and the interval never disagree (:func:`swjax.intervals.pvalue`;
at least ``2 / (N + 1)`` for N resamples with a value).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import engine, intervals, options, resample, validate
from .analysis import as_dataset
from .bootstrap import interval_support, resample_pipeline, withhold
from .columns import SCALARS, method_se, stat_columns
from .errors import SwjaxError

__all__ = ["CompareResult", "compare", "compare_between", "ALIASES"]

#: Short names of the scalar statistics.
ALIASES = {"compute": "compute_correlation", "flop": "compute_correlation"}


@dataclass(frozen=True)
class CompareResult:
    """A paired comparison.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows: each compared statistic, then ``difference`` (first minus second) when two are
        compared. Columns: ``set``, ``estimate``, ``n_models`` (the models behind it; of a
        difference, the fewer of its two sides'), ``low``, ``high``, ``se``, ``n_valid``,
        ``p_value`` (of 0, agreeing with the interval: module docstring), ``interval``.
    distribution : numpy.ndarray
        (n, rows) the resampled values; the difference column is the first minus the second,
        row by row.
    metadata : dict
    """

    table: pd.DataFrame
    distribution: np.ndarray = field(repr=False)
    metadata: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        from . import display

        md = self.metadata
        return display.result(
            "CompareResult",
            dict(set=md.get("set") or "-".join(md.get("sets", [])), n=md.get("n"), method=md.get("method"),
                 level=md.get("level"), pairing=md.get("pairing")),
            body=display.rows(self.table, extra=("p_value",)),
        )


def _check_stat(dataset, stat: str) -> None:
    """Before computing: ``stat`` is a benchmark of ``dataset`` or a statistic it has."""
    from .data import flop

    name = _name(stat, dataset)
    if name == "compute_correlation":
        f = flop(dataset)
        if f is None or f.notna().sum() < 3 or f.nunique() < 2:
            raise SwjaxError(
                f"benchmark: {dataset.label} has no compute correlation: it needs a FLOP column "
                f"(training compute) known for at least 3 models with 2 different values"
            )


def _name(stat: str, dataset) -> str:
    """The column id of a benchmark (id or display name) or of a scalar statistic."""

    stat = ALIASES.get(stat, stat)
    if stat in SCALARS:
        return stat
    return validate.benchmark(stat, list(dataset.scores.columns) + list(SCALARS),
                              dataset.info["name"] if "name" in dataset.info.columns else None,
                              where=f"the {dataset.label} set (or a statistic: {', '.join(SCALARS)}, compute)")


def _distribution(dataset, *, n, key, capabilities, against, device, batch_size, x64, level, clusters=None,
                  score="paper"):
    """(names, estimate, jackknife, distribution, label, support) of every benchmark and scalar
    statistic; ``support``: :func:`swjax.bootstrap.interval_support` at ``level``; ``score``: the
    capability measure."""
    run = resample_pipeline(
        dataset, n=n, key=key, capabilities=capabilities, against=against, device=device,
        batch_size=batch_size, x64=x64, clusters=clusters, score=score,
    )
    problem, layout, full, jack, draws = run.problem, run.layout, run.full, run.jack, run.draws
    estimate, names = stat_columns(full, layout)
    jack_cols, _ = stat_columns(jack, layout)
    dist, _ = stat_columns(draws, layout)
    support = interval_support(problem, layout, level, clusters)
    return names, estimate[0], jack_cols, dist, layout.label, support


def _supported(picked, n_models, reasons):
    """(n_models, reason) of each row: the picked statistics', then the difference's when two
    are compared (the fewer models; no interval where either side has none, saying which)."""
    n_models, reasons = list(n_models), list(reasons)
    if len(picked) == 2:
        n_models.append(min(n_models))
        why = [f"{name}: {r}" for name, r in zip(picked, reasons) if r]
        reasons.append("; ".join(why))
    return np.array(n_models), np.array(reasons, dtype=object)


def _table(labels, sets, estimate, dist, jack, method, level, support, models=None, model_p=None,
           model_se=None, families=False):
    # t intervals: Fisher's z for correlations, logit for variance explained, raw for differences
    scale = ["identity" if x == "difference" else "logit" if x.startswith("variance_explained") else "fisher"
             for x in labels]
    low, high, used = intervals.interval(dist, estimate, level, method, jack, scale=scale, models=models)
    jack_se = np.full(len(labels), np.nan) if jack is None else intervals.jackknife_standard_error(jack)
    # the se of the interval's method, as in bootstrap (se_from says which)
    se, se_from = method_se(used, intervals.standard_error(dist), jack_se, model_se, families)
    n_models, reason = support
    frame = pd.DataFrame(
        {
            "set": sets,
            "estimate": estimate,
            "n_models": pd.array(n_models, dtype="Int64"),
            "low": low,
            "high": high,
            "se": se,
            "se_from": se_from,
            "n_valid": np.isfinite(dist).sum(axis=0),
            "p_value": intervals.pvalue(dist, estimate, method, jack, scale=scale, model_p=model_p),
            "interval": used,
        },
        index=pd.Index(labels, name="statistic"),
    )
    withhold(frame, reason)
    return frame


def compare(
    data,
    a: str,
    b: str | None = None,
    *,
    n: int = 10000,
    seed: int = 0,
    method: str | None = None,
    level: float = 0.95,
    capabilities=None,
    against: str | None = None,
    clusters=None,
    device: str = "auto",
    batch_size: int | None = None,
    x64: bool = False,
    score: str = "paper",
) -> CompareResult:
    """Interval and p-value of ``a - b`` on the same resamples (or of ``a`` alone).

    ``a`` and ``b`` are benchmark columns or scalar statistics (``compute`` for the compute
    correlation, ``variance_explained``, ``mean_intercorrelation``). Resamples are those of
    :func:`swjax.bootstrap` with the same seed (``clusters``: whole families). BCa uses the
    jackknife of the difference. ``method`` None: BCa, or cluster-t with ``clusters``, as
    :func:`swjax.bootstrap` (with the same seed and n, ``a``'s interval is the bootstrap's;
    with cluster-t the model bootstrap is run too, and the difference's t interval is on the
    raw scale). ``score``: the capability measure (:mod:`swjax.scores`), recomputed in every
    resample, as :func:`swjax.bootstrap` does.

    Examples
    --------
    >>> res = compare("chat", "MT_Bench", "mmlu", n=200)
    >>> list(res.table.index)
    ['MT_Bench', 'mmlu', 'difference']
    """
    opts = options.check(n=n, seed=seed, method=method, level=level, device=device, batch_size=batch_size,
                         score=score, clusters=clusters)
    n, method, level, batch_size, score = opts.n, opts.method, opts.level, opts.batch_size, opts.score
    if method in intervals.CLUSTER_METHODS and clusters is None:
        raise SwjaxError(f"method: {method!r} needs model families (clusters=, --families or --cluster-by)")
    dataset = as_dataset(data)
    for stat in [a] + ([] if b is None else [b]):
        _check_stat(dataset, stat)
    dev = engine.select_device(device).platform
    common = dict(n=n, key=resample.key_from_seed(seed), capabilities=capabilities, against=against,
                  device=dev, batch_size=batch_size, x64=x64, score=score)
    names, est, jack, dist, label, support = _distribution(dataset, clusters=clusters, level=level, **common)
    model_cols = None
    if method in intervals.CLUSTER_METHODS:  # cluster-t widens to the model bootstrap's BCa interval
        _, _, m_jack, m_dist, _, _ = _distribution(dataset, level=level, **common)
        model_cols = (m_jack, m_dist)
    picked = [_name(a, dataset)] + ([] if b is None else [_name(b, dataset)])
    if len(picked) == 2 and picked[0] == picked[1]:
        raise SwjaxError(f"benchmark: compared {picked[0]!r} with itself")
    cols = [names.index(x) for x in picked]

    def pick(jack, dist):
        jack, dist = jack[:, cols], dist[:, cols]
        if b is not None:
            jack = np.column_stack([jack, jack[:, 0] - jack[:, 1]])
            dist = np.column_stack([dist, dist[:, 0] - dist[:, 1]])
        return jack, dist

    est = est[cols]
    rows_support = _supported(picked, support.n_models[cols], support.reason[cols])
    jack, dist = pick(jack, dist)
    if b is not None:
        est = np.append(est, est[0] - est[1])
        picked = picked + ["difference"]
    models = model_p = model_se = None
    if model_cols is not None:
        m_jack, m_dist = pick(*model_cols)
        models = intervals.interval(m_dist, est, level, "bca", m_jack)[:2]
        model_p = intervals.pvalue_side(m_dist, est, "bca", m_jack)
        model_se = intervals.standard_error(m_dist)
    table = _table(picked, [label] * len(picked), est, dist, jack, method, level, rows_support, models=models,
                   model_p=model_p, model_se=model_se, families=clusters is not None)
    return CompareResult(
        table, dist,
        dict(set=label, n=n, seed=seed, method=method, level=level, against=against, score=score,
             scheme="models" if clusters is None else "clusters", pairing="same resamples"),
    )


def compare_between(
    a: str,
    sets=("base", "chat"),
    *,
    n: int = 10000,
    seed: int = 0,
    method: str | None = None,
    level: float = 0.95,
    capabilities=None,
    against: str | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    x64: bool = False,
    score: str = "paper",
) -> CompareResult:
    """One statistic in two model sets: the first set's value minus the second's.

    Each set is bootstrapped independently: set ``i`` uses the seed
    ``numpy.random.SeedSequence(seed).generate_state(2)[i]`` (63 bits), and resample ``r`` of
    the first set is paired with resample ``r`` of the second. Only percentile (the default
    here) and basic intervals: a jackknife of two independent samples is not the one BCa needs.
    ``score``: the capability measure (:mod:`swjax.scores`), the same in both sets.

    Examples
    --------
    >>> res = compare_between("mmlu", ("base", "chat"), n=100)
    >>> list(res.table.index)
    ['mmlu@base', 'mmlu@chat', 'difference']
    """
    opts = options.check(n=n, seed=seed, method=method or "percentile", level=level, device=device,
                         batch_size=batch_size, score=score)
    n, method, level, batch_size, score = opts.n, opts.method, opts.level, opts.batch_size, opts.score
    if method in ("bca", "jackknife-t", "cluster-t"):
        raise SwjaxError(f"method: {method} is not available across model sets; use percentile or basic")
    if len(sets) != 2:
        raise SwjaxError(f"between: expected two model sets, got {len(sets)}")
    datasets = [as_dataset(s) for s in sets]
    if datasets[0].label == datasets[1].label:
        raise SwjaxError(f"between: compared {datasets[0].label!r} with itself")
    for ds in datasets:
        _check_stat(ds, a)
    dev = engine.select_device(device).platform
    seeds = np.random.SeedSequence(opts.seed).generate_state(2, np.uint64) >> np.uint64(1)
    ests, dists, labels, counts, reasons = [], [], [], [], []
    for ds, s in zip(datasets, seeds):
        names, est, _, dist, label, support = _distribution(
            ds, n=n, key=resample.key_from_seed(int(s)), capabilities=capabilities, against=against,
            device=dev, batch_size=batch_size, x64=x64, level=level, score=score,
        )
        col = names.index(_name(a, ds))
        ests.append(est[col])
        dists.append(dist[:, col])
        labels.append(label)
        counts.append(support.n_models[col])
        reasons.append(support.reason[col])
    stat = ALIASES.get(a, a)
    est = np.array([ests[0], ests[1], ests[0] - ests[1]])
    dist = np.column_stack([dists[0], dists[1], dists[0] - dists[1]])
    rows = [f"{stat}@{labels[0]}", f"{stat}@{labels[1]}", "difference"]
    table = _table(rows, [labels[0], labels[1], f"{labels[0]}-{labels[1]}"], est, dist, None, method, level,
                   _supported(rows[:2], counts, reasons))
    return CompareResult(
        table, dist,
        dict(sets=labels, seeds=[int(s) for s in seeds], n=n, seed=seed, method=method, level=level,
             against=against, score=score, pairing="independent resamples, r with r"),
    )
