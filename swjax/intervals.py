"""Confidence intervals from resample distributions, and verdicts: numpy only.

Every function works column-wise on a distribution of shape (resamples, statistics) and leaves
out non-finite values of a column (degenerate resamples), as if they had not been drawn. The
formulas follow scipy.stats.bootstrap: percentile and basic intervals, and BCa with the bias
correction counting ties at the estimate as half and the acceleration from a jackknife.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from . import validate
from .errors import SwjaxError

__all__ = [
    "METHODS",
    "VERDICTS",
    "check_level",
    "check_method",
    "quantiles",
    "percentile_interval",
    "basic_interval",
    "bca_interval",
    "standard_error",
    "verdicts",
]

METHODS = ("bca", "percentile", "basic")
#: Verdict labels, from where an interval lies against the threshold t.
VERDICTS = {
    "entangled": "low bound above t: correlated with capabilities",
    "anti-correlated": "high bound below -t: anti-correlated with capabilities",
    "distinct": "whole interval inside (-t, t): low correlation with capabilities",
    "indeterminate": "interval straddles t or -t: the data cannot tell",
    "no interval": "no valid resample",
}


def check_level(level) -> float:
    return validate.level(level)


def check_method(method) -> str:
    name = str(method).lower()
    if name not in METHODS:
        raise SwjaxError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    return name


def quantiles(dist: np.ndarray, probs) -> np.ndarray:
    """Column-wise quantiles with linear interpolation (numpy's default), NaNs left out.

    ``probs`` has shape (columns,) or (n_probs, columns): one probability per column (per row
    of ``probs``). The distribution is sorted once for all of them. Columns without a finite
    value give NaN.
    """
    dist = np.asarray(dist)
    probs = np.asarray(probs, np.float64)
    squeeze = probs.ndim == 1
    probs = np.atleast_2d(probs)
    ordered = np.sort(np.where(np.isfinite(dist), dist, np.nan), axis=0)  # NaN last
    n_valid = np.isfinite(ordered).sum(axis=0)
    cols = np.arange(dist.shape[1])
    out = np.empty(probs.shape)
    for row, p in enumerate(probs):
        virtual = np.where(np.isfinite(p), p, 0.0) * (n_valid - 1)
        lo = np.clip(np.floor(virtual).astype(np.int64), 0, None)
        hi = np.minimum(lo + 1, np.maximum(n_valid - 1, 0))
        t = virtual - lo
        a = ordered[lo, cols].astype(np.float64)
        b = ordered[hi, cols].astype(np.float64)
        diff = b - a
        value = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)  # numpy's _lerp
        out[row] = np.where((n_valid == 0) | ~np.isfinite(p), np.nan, value)
    return out[0] if squeeze else out


def percentile_interval(dist, level):
    alpha = (1 - check_level(level)) / 2
    n_cols = np.shape(dist)[1]
    low, high = quantiles(dist, np.array([np.full(n_cols, alpha), np.full(n_cols, 1 - alpha)]))
    return low, high


def basic_interval(dist, estimate, level):
    low, high = percentile_interval(dist, level)
    return 2 * estimate - high, 2 * estimate - low


def bias_correction(dist, estimate) -> np.ndarray:
    """z0: normal quantile of the share of resamples below the estimate (ties count half)."""
    finite = np.isfinite(dist)
    n_valid = finite.sum(axis=0)
    below = np.sum(finite & (dist < estimate), axis=0)
    at_or_below = np.sum(finite & (dist <= estimate), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ndtri((below + at_or_below) / (2.0 * n_valid))


def acceleration(jackknife) -> np.ndarray:
    """a: skewness of the jackknife values (NaN where any jackknife value is NaN)."""
    jack = np.asarray(jackknife, dtype=np.float64)
    n = jack.shape[0]
    u = (n - 1) * (jack.mean(axis=0) - jack)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.sum(u**3, axis=0) / n**3) / 6 / (np.sum(u**2, axis=0) / n**2) ** 1.5


def bca_interval(dist, estimate, jackknife, level):
    """BCa interval; returns (low, high, ok), falling back to the percentile one where not ok.

    ``ok`` is False where z0 or the acceleration is not finite (a degenerate jackknife, or every
    resample on one side of the estimate).
    """
    alpha = (1 - check_level(level)) / 2
    z0 = bias_correction(dist, estimate)
    a = acceleration(jackknife)
    za = ndtri(alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha_1 = ndtr(z0 + (z0 + za) / (1 - a * (z0 + za)))
        alpha_2 = ndtr(z0 + (z0 - za) / (1 - a * (z0 - za)))
    ok = np.isfinite(alpha_1) & np.isfinite(alpha_2)
    q = quantiles(
        dist,
        np.array([np.where(ok, alpha_1, alpha), np.where(ok, alpha_2, 1 - alpha)]),
    )
    return q[0], q[1], ok


def standard_error(dist) -> np.ndarray:
    """Sample standard deviation (ddof 1) of the finite resample values of each column."""
    dist = np.asarray(dist)
    finite = np.isfinite(dist)
    clean = finite.all(axis=0)
    out = np.full(dist.shape[1], np.nan)
    if clean.any() and len(dist) > 1:  # in float64, in one pass over the columns without NaN
        # C order: numpy then sums each column row by row, the same bits for any block of columns
        # (a column-major block would be summed pairwise).
        block = np.ascontiguousarray(dist if clean.all() else dist[:, clean])
        out[clean] = np.sqrt(block.var(axis=0, ddof=1, dtype=np.float64))
    for j in np.flatnonzero(~clean):
        values = dist[finite[:, j], j]
        if len(values) > 1:
            out[j] = np.sqrt(values.var(ddof=1, dtype=np.float64))
    return out


def interval(dist, estimate, level, method, jackknife=None):
    """(low, high, method used per column) for one of :data:`METHODS`."""
    method = check_method(method)
    estimate = np.asarray(estimate, dtype=np.float64)
    n_cols = estimate.shape[0]
    if method == "percentile":
        low, high = percentile_interval(dist, level)
        used = np.full(n_cols, "percentile", dtype=object)
    elif method == "basic":
        low, high = basic_interval(dist, estimate, level)
        used = np.full(n_cols, "basic", dtype=object)
    else:
        if jackknife is None:
            raise SwjaxError("method: 'bca' needs the jackknife values")
        low, high, ok = bca_interval(dist, estimate, jackknife, level)
        used = np.where(ok, "bca", "percentile (bca failed)").astype(object)
    return low, high, used


def verdicts(low, high, threshold: float) -> np.ndarray:
    """Where each interval lies against ``threshold`` t (labels in :data:`VERDICTS`)."""
    threshold = validate.threshold(threshold)
    low, high = np.asarray(low), np.asarray(high)
    out = np.full(low.shape, "indeterminate", dtype=object)
    out[(low > -threshold) & (high < threshold)] = "distinct"
    out[low > threshold] = "entangled"
    out[high < -threshold] = "anti-correlated"
    out[~(np.isfinite(low) & np.isfinite(high))] = "no interval"
    return out
