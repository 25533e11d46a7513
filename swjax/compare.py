"""Paired comparisons: two benchmarks on the same resamples, or one benchmark across model sets.

* :func:`compare` ``(a, b)``: the difference of two capabilities correlations of one model set
  (e.g. adversarial GLUE vs GLUE) computed on the same model resamples, so the dependence
  between them is kept. With ``b=None``, the interval of ``a`` alone: this is how the compute
  correlation (``"compute"``) and correlations ``against`` a benchmark get intervals.
* :func:`compare_between` ``(a, sets)``: one benchmark in two model sets (base vs chat), from
  independent resamples of each set; resample ``r`` of the first set is paired with resample
  ``r`` of the second.

P-value of a difference (or of a single correlation) being 0: the bootstrap test
``p = min(1, 2 * min(#{d <= 0} + 1, #{d >= 0} + 1) / (N + 1))`` over the N resamples with a
value: twice the smaller share of the distribution on either side of 0, with the +1 of a Monte
Carlo p-value so that it is never 0. It is the smallest ``1 - level`` at which the percentile
interval would exclude 0 (up to the +1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import engine, intervals, resample, validate
from .analysis import as_dataset
from .bootstrap import _stat_columns, resample_pipeline
from .errors import SwjaxError

__all__ = ["CompareResult", "compare", "compare_between", "bootstrap_pvalue", "ALIASES"]

#: Short names of the scalar statistics.
ALIASES = {"compute": "compute_correlation", "flop": "compute_correlation"}


@dataclass(frozen=True)
class CompareResult:
    """A paired comparison.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows: each compared statistic, then ``difference`` (first minus second) when two are
        compared. Columns: ``set``, ``estimate``, ``low``, ``high``, ``se``, ``n_valid``,
        ``p_value`` (bootstrap test of 0, module docstring), ``interval``.
    distribution : numpy.ndarray
        (n, rows) the resampled values; the difference column is the first minus the second,
        row by row.
    metadata : dict
    """

    table: pd.DataFrame
    distribution: np.ndarray = field(repr=False)
    metadata: dict = field(default_factory=dict)


def bootstrap_pvalue(dist) -> np.ndarray:
    """Column-wise two-sided bootstrap p-value of 0 (module docstring); NaN without values."""
    dist = np.asarray(dist, np.float64)
    finite = np.isfinite(dist)
    n = finite.sum(axis=0)
    below = np.sum(finite & (dist <= 0), axis=0)
    above = np.sum(finite & (dist >= 0), axis=0)
    p = np.minimum(1.0, 2 * (np.minimum(below, above) + 1) / (n + 1))
    return np.where(n > 0, p, np.nan)


def _check_stat(dataset, stat: str) -> None:
    """Before computing: ``stat`` is a benchmark of ``dataset`` or a statistic it has."""
    from .bootstrap import SCALARS
    from .data import flop

    name = ALIASES.get(stat, stat)
    _name(stat, list(dataset.scores.columns) + list(SCALARS), dataset.label)
    if name == "compute_correlation":
        f = flop(dataset)
        if f is None or f.notna().sum() < 3 or f.nunique() < 2:
            raise SwjaxError(
                f"benchmark: {dataset.label} has no compute correlation: it needs a FLOP column "
                f"(training compute) known for at least 3 models with 2 different values"
            )


def _name(stat: str, names: list[str], label: str) -> str:
    stat = ALIASES.get(stat, stat)
    if stat not in names:
        import difflib

        close = difflib.get_close_matches(stat, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SwjaxError(f"benchmark: {label} has no benchmark or statistic {stat!r}{hint}")
    return stat


def _distribution(dataset, *, n, key, capabilities, against, device, batch_size, x64, clusters=None):
    """(names, estimate, jackknife, distribution, label) of every benchmark and scalar statistic."""
    _, layout, full, jack, draws, _ = resample_pipeline(
        dataset, n=n, key=key, capabilities=capabilities, against=against, device=device,
        batch_size=batch_size, x64=x64, clusters=clusters,
    )
    estimate, names = _stat_columns(full, layout)
    jack_cols, _ = _stat_columns(jack, layout)
    dist, _ = _stat_columns(draws, layout)
    return names, estimate[0], jack_cols, dist, layout.label


def _table(labels, sets, estimate, dist, jack, method, level):
    low, high, used = intervals.interval(dist, estimate, level, method, jack)
    return pd.DataFrame(
        {
            "set": sets,
            "estimate": estimate,
            "low": low,
            "high": high,
            "se": intervals.standard_error(dist),
            "n_valid": np.isfinite(dist).sum(axis=0),
            "p_value": bootstrap_pvalue(dist),
            "interval": used,
        },
        index=pd.Index(labels, name="statistic"),
    )


def _check(n, method, level, batch_size):
    method = intervals.check_method(method)
    level = validate.level(level)
    n = validate.resamples(n, level)
    batch_size = validate.batch_size(batch_size)
    return n, method, level, batch_size


def compare(
    data,
    a: str,
    b: str | None = None,
    *,
    n: int = 10000,
    seed: int = 0,
    method: str = "percentile",
    level: float = 0.95,
    capabilities=None,
    against: str | None = None,
    clusters=None,
    device: str = "auto",
    batch_size: int | None = None,
    x64: bool = False,
) -> CompareResult:
    """Interval and p-value of ``a - b`` on the same resamples (or of ``a`` alone).

    ``a`` and ``b`` are benchmark columns or scalar statistics (``compute`` for the compute
    correlation, ``variance_explained``, ``mean_intercorrelation``). Resamples are those of
    :func:`swjax.bootstrap` with the same seed (``clusters``: whole families). BCa uses the
    jackknife of the difference.

    Examples
    --------
    >>> res = compare("chat", "MT_Bench", "mmlu", n=200)
    >>> list(res.table.index)
    ['MT_Bench', 'mmlu', 'difference']
    """
    n, method, level, batch_size = _check(n, method, level, batch_size)
    dataset = as_dataset(data)
    for stat in [a] + ([] if b is None else [b]):
        _check_stat(dataset, stat)
    dev = engine.select_device(device).platform
    names, est, jack, dist, label = _distribution(
        dataset, n=n, key=resample.key_from_seed(seed), capabilities=capabilities, against=against,
        device=dev, batch_size=batch_size, x64=x64, clusters=clusters,
    )
    picked = [_name(a, names, label)] + ([] if b is None else [_name(b, names, label)])
    if len(picked) == 2 and picked[0] == picked[1]:
        raise SwjaxError(f"benchmark: compared {picked[0]!r} with itself")
    cols = [names.index(x) for x in picked]
    est, jack, dist = est[cols], jack[:, cols], dist[:, cols]
    if b is not None:
        est = np.append(est, est[0] - est[1])
        jack = np.column_stack([jack, jack[:, 0] - jack[:, 1]])
        dist = np.column_stack([dist, dist[:, 0] - dist[:, 1]])
        picked = picked + ["difference"]
    table = _table(picked, [label] * len(picked), est, dist, jack, method, level)
    return CompareResult(
        table, dist,
        dict(set=label, n=n, seed=seed, method=method, level=level, against=against,
             scheme="models" if clusters is None else "clusters", pairing="same resamples"),
    )


def compare_between(
    a: str,
    sets=("base", "chat"),
    *,
    n: int = 10000,
    seed: int = 0,
    method: str = "percentile",
    level: float = 0.95,
    capabilities=None,
    against: str | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    x64: bool = False,
) -> CompareResult:
    """One statistic in two model sets: the first set's value minus the second's.

    Each set is bootstrapped independently: set ``i`` uses the seed
    ``numpy.random.SeedSequence(seed).generate_state(2)[i]`` (63 bits), and resample ``r`` of
    the first set is paired with resample ``r`` of the second. Only percentile and basic
    intervals (a jackknife of two independent samples is not the one BCa needs).

    Examples
    --------
    >>> res = compare_between("mmlu", ("base", "chat"), n=100)
    >>> list(res.table.index)
    ['mmlu@base', 'mmlu@chat', 'difference']
    """
    n, method, level, batch_size = _check(n, method, level, batch_size)
    if method == "bca":
        raise SwjaxError("method: BCa is not available across model sets; use percentile or basic")
    if len(sets) != 2:
        raise SwjaxError(f"between: expected two model sets, got {len(sets)}")
    datasets = [as_dataset(s) for s in sets]
    if datasets[0].label == datasets[1].label:
        raise SwjaxError(f"between: compared {datasets[0].label!r} with itself")
    for ds in datasets:
        _check_stat(ds, a)
    dev = engine.select_device(device).platform
    seeds = np.random.SeedSequence(validate.seed(seed)).generate_state(2, np.uint64) >> np.uint64(1)
    ests, dists, labels = [], [], []
    for ds, s in zip(datasets, seeds):
        names, est, _, dist, label = _distribution(
            ds, n=n, key=resample.key_from_seed(int(s)), capabilities=capabilities, against=against,
            device=dev, batch_size=batch_size, x64=x64,
        )
        col = names.index(_name(a, names, label))
        ests.append(est[col])
        dists.append(dist[:, col])
        labels.append(label)
    stat = ALIASES.get(a, a)
    est = np.array([ests[0], ests[1], ests[0] - ests[1]])
    dist = np.column_stack([dists[0], dists[1], dists[0] - dists[1]])
    rows = [f"{stat}@{labels[0]}", f"{stat}@{labels[1]}", "difference"]
    table = _table(rows, [labels[0], labels[1], f"{labels[0]}-{labels[1]}"], est, dist, None, method, level)
    return CompareResult(
        table, dist,
        dict(sets=labels, seeds=[int(s) for s in seeds], n=n, seed=seed, method=method, level=level,
             against=against, pairing="independent resamples, r with r"),
    )
