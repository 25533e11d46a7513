"""Measurement error: each score's own standard error, carried into the interval.

A benchmark score is itself an estimate: the accuracy on a finite set of items. Its standard
error (lm-evaluation-harness' ``*_stderr``, inspect's ``stderr`` metric, Every Eval Ever's
uncertainty fields, the ``stderr.csv`` that ``swjax import`` writes) or its item count
(``n.csv``: a binomial standard error for a share in [0, 1]) says how far it could move with
other items.

With standard errors given, a resample is a pair (perturbation, model weights): the whole
score matrix is perturbed by independent normal errors of the cells' standard errors, then
the models are resampled as usual. :data:`COPIES` perturbed matrices are drawn (numpy's
generator, seeded from the run's seed) and stacked; the engine runs ``ceil(n / COPIES)``
weight rows on each (row ``b`` of copy ``d`` from ``fold_in(fold_in(key, d), b)``, the
stacked-problem rule of :mod:`swjax.engine`), and resample ``i`` of the run is row
``i // COPIES`` of copy ``i % COPIES``. The point estimate and the jackknife stay those of
the scores as given: the perturbation widens the distribution (and lowers its centre, the
attenuation that noise causes, which BCa's bias correction reads), not the estimate.

A perturbation is one general mechanism, not a second statistic: each copy is an ordinary
problem (:func:`swjax.problem.build_problem`), so every capability measure, rank path,
``missing`` rule and weight scheme works on it unchanged.

It is an option, not the default. The coverage study with item-level noise
(``benchmarks/bench_errors_coverage.py``, docs/measurement.md) finds that the bootstrap over
models already covers the benchmark as it is. The perturbation moves the interval toward the
value with unlimited items, but covers it at 93.5 % or more only with about 100 items per score.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from .errors import SwjaxError

__all__ = [
    "COPIES", "binomial_stderr", "read_table", "combined", "stderr_matrix", "perturbed", "build_copies", "copies_for",
    "pooled_order", "error_share",
]

#: Perturbed copies of the score matrix per run (fewer when ``n`` is smaller). Each copy costs
#: one problem build on the host (about 6-10 ms for the public sets).
COPIES = 100


def binomial_stderr(scores: pd.DataFrame, items) -> pd.DataFrame:
    """Standard errors ``sqrt(p (1 - p) / n)`` of shares ``p`` in [0, 1] from item counts ``n``
    (a DataFrame of counts per cell, or one count for every cell).

    Cells without a count, or whose column holds a value outside [0, 1] (a percentage, a
    score on another scale: the binomial formula would be wrong there), are NaN.
    """
    p = scores.to_numpy(dtype=float)
    if isinstance(items, pd.DataFrame):
        n = items.reindex(index=scores.index, columns=scores.columns).to_numpy(dtype=float)
    else:
        n = np.full(p.shape, float(items))
    seen = np.isfinite(p)
    share = np.all(~seen | ((p >= 0) & (p <= 1)), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(p * (1 - p) / n)
    se[~(np.isfinite(n) & (n >= 1))] = np.nan
    se[:, ~share] = np.nan
    return pd.DataFrame(se, index=scores.index, columns=scores.columns)


def read_table(path, what: str) -> pd.DataFrame:
    """A models x benchmarks table of numbers (``stderr.csv`` or ``n.csv`` as ``swjax import``
    writes them: a ``model`` column, one column per benchmark); the message of a bad file
    names ``what`` (the option) and the file."""
    from .data import read_csv

    try:
        return read_csv(path, label=str(path), announce=False).scores
    except SwjaxError as exc:
        raise SwjaxError(f"{what}: {exc}") from None


def combined(scores: pd.DataFrame, stderr: pd.DataFrame | None = None, items: pd.DataFrame | None = None):
    """Standard errors from ``stderr`` where it has one, else binomial from ``items`` counts
    (:func:`binomial_stderr`), aligned with ``scores``; None when neither is given."""
    if stderr is None and items is None:
        return None
    if stderr is None:
        out = pd.DataFrame(np.nan, index=scores.index, columns=scores.columns)
    else:
        out = stderr.reindex(index=scores.index, columns=scores.columns).astype(float)
    if items is not None:
        out = out.fillna(binomial_stderr(scores, items))
    return out


def stderr_matrix(stderr, models, columns, label: str = "the data") -> np.ndarray:
    """(models, columns) float64 standard errors, 0 where none is known.

    ``stderr`` is a DataFrame indexed by model id with benchmark columns (models or columns it
    lacks count as known without error). Raises :class:`SwjaxError` for a negative or
    infinite standard error, or when no cell of the analysed columns has one.
    """
    if not isinstance(stderr, pd.DataFrame):
        raise SwjaxError(f"stderr: expected a DataFrame of standard errors (models x benchmarks), "
                         f"got {type(stderr).__name__}")
    frame = stderr.reindex(index=list(models), columns=list(columns))
    try:
        se = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise SwjaxError("stderr: every standard error must be a number") from None
    bad = np.isinf(se) | (se < 0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise SwjaxError(f"stderr: the standard error of {frame.index[i]!r} on {frame.columns[j]!r} is "
                         f"{float(se[i, j])!r}; expected a finite number >= 0")
    se = np.where(np.isnan(se), 0.0, se)
    if not (se > 0).any():
        raise SwjaxError(f"stderr: no standard error above 0 for the models and benchmarks analysed in {label} "
                         "(check that its model ids and benchmark columns match the scores')")
    return se


def perturbed(dataset, se: np.ndarray, models, columns, copies: int, seed: int):
    """``copies`` datasets: ``dataset`` restricted to ``models`` x ``columns``, each cell plus
    an independent normal error of standard deviation ``se`` (missing cells stay missing).

    Copy ``d`` uses numpy's generator seeded ``(seed, d, 7919)``: the same copies for a seed
    whatever else the run does.
    """
    from .data import Dataset

    scores = dataset.scores.loc[list(models), list(columns)]
    meta = dataset.meta.loc[list(models)]
    x = scores.to_numpy(dtype=np.float64)
    out = []
    for d in range(copies):
        noise = np.random.default_rng([int(seed), d, 7919]).standard_normal(x.shape)
        frame = pd.DataFrame(x + se * noise, index=scores.index, columns=scores.columns)
        out.append(Dataset(label=dataset.label, scores=frame, meta=meta, info=dataset.info))
    return out


def build_copies(build, datasets, layout):
    """The problems of perturbed datasets, built by ``build(dataset) -> (problem, layout)`` (the
    same request as the run's own problem), quietly: the run has already said whatever the
    data calls for. Raises :class:`SwjaxError` if a copy would analyse other columns."""
    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ds in datasets:
            problem, lay = build(ds)
            if lay.columns != layout.columns or lay.models != layout.models:
                raise SwjaxError(f"stderr: a perturbed copy of {layout.label} analyses other benchmarks or models than "
                                 "the scores as given")
            problems.append(problem)
    return problems


def copies_for(n: int) -> tuple[int, int]:
    """(copies, weight rows per copy) for ``n`` resamples."""
    copies = min(COPIES, n)
    return copies, math.ceil(n / copies)


def pooled_order(copies: int, per_copy: int, n: int) -> np.ndarray:
    """Flat indices into the (copies x per_copy) rows, in the run's resample order: resample
    ``i`` is row ``i // copies`` of copy ``i % copies``."""
    i = np.arange(n)
    return (i % copies) * per_copy + i // copies


def error_share(se: np.ndarray, se_without: np.ndarray) -> np.ndarray:
    """The share of the resamples' variance that the measurement error adds:
    ``1 - (se without errors / se with them)^2``, clipped to [0, 1] (NaN where either is
    unknown). An interval's width grows about as the standard error does."""
    with np.errstate(invalid="ignore", divide="ignore"):
        share = 1 - (np.asarray(se_without, float) / np.asarray(se, float)) ** 2
    return np.clip(share, 0.0, 1.0)
