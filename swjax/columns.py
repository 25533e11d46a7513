"""The statistics of one resampled run as columns: the benchmarks' correlations, then the
scalar statistics (:data:`SCALARS`), in one (rows, columns) array; each column's scale for the
t intervals; and which standard error goes with each column's interval method.

Shared by every analysis that summarises the whole pipeline's resamples (``bootstrap``,
``compare``), so that none of them reaches into another's private helpers.
"""

from __future__ import annotations

import numpy as np

from .problem import FLOP_COLUMN, Layout

__all__ = ["SCALARS", "stat_columns", "column_scales", "method_se"]

#: Scalar statistics that get intervals beside the benchmarks (rows of ``BootstrapResult.summary``).
SCALARS = ("variance_explained", "mean_intercorrelation", "compute_correlation")


def stat_columns(stats, layout: Layout) -> tuple[np.ndarray, list[str]]:
    """Benchmarks, then the scalar statistics, as columns of one (rows, columns) array.

    In the computation's dtype (float32 unless x64): a million resamples stay half the size,
    and the interval code interpolates in float64 on the few values it picks.
    """
    get = stats.__getitem__ if isinstance(stats, dict) else lambda f: getattr(stats, f)
    corr = np.asarray(get("corr"))
    cols = [corr[:, : layout.n_benchmarks]]
    flop = corr[:, layout.columns.index(FLOP_COLUMN)] if layout.has_flop else np.full(len(corr), np.nan, corr.dtype)
    cols.append(np.stack([get("variance_explained"), get("mean_intercorr"), flop], axis=1).astype(corr.dtype))
    return np.concatenate(cols, axis=1), list(layout.benchmarks) + list(SCALARS)


def column_scales(names) -> np.ndarray:
    """Scale of each statistic for the t intervals: logit for variance explained, else Fisher's z."""
    return np.array(["logit" if n == "variance_explained" else "fisher" for n in names], dtype=object)


def method_se(used, boot_se, jack_se, model_se, families: bool):
    """(standard error, where it comes from) of each column's interval method (``used``).

    The bootstrap intervals (BCa, percentile, basic): the spread of the resamples they are read
    from; jackknife-t: the jackknife standard error (raw scale) over the units it leaves out;
    cluster-t, the hull of the family jackknife-t and the model bootstrap's BCa: the larger of
    those two standard errors, as the hull takes the wider bound.
    """
    boot = "family bootstrap" if families else "model bootstrap"
    jack = "family jackknife" if families else "model jackknife"
    se = np.array(boot_se, np.float64)
    source = np.full(len(se), boot, dtype=object)
    t = np.array([u == "jackknife-t" for u in used])
    se[t], source[t] = jack_se[t], jack
    if model_se is not None:
        fallback = np.array([u.startswith("bca over models") for u in used])
        se[fallback], source[fallback] = model_se[fallback], "model bootstrap"
        hull = np.array([u == "cluster-t" for u in used])
        larger = hull & ~(jack_se >= model_se)  # the model bootstrap's where the jackknife's is NaN
        se[hull] = np.where(larger, model_se, jack_se)[hull]
        source[hull] = np.where(larger, "model bootstrap", jack)[hull]
    return se, source
