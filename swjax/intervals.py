"""Confidence intervals from resample distributions, and verdicts: numpy only.

Every function works column-wise on a distribution of shape (resamples, statistics) and leaves
out non-finite values of a column (degenerate resamples), as if they had not been drawn. The
formulas follow scipy.stats.bootstrap: percentile and basic intervals, and BCa with the bias
correction counting ties at the estimate as half and the acceleration from a jackknife.

``jackknife-t`` needs no resamples: a studentized interval on Fisher's z scale (or the logit
scale for a share, or the raw scale) with the jackknife standard error over the units that
are independent (models, or whole families when families are given) and Student t quantiles
with G - 1 degrees of freedom, G the number of jackknife rows. The standard error is the
jackknife's on the statistic itself (bounded, so one leave-one-out value near +-1 cannot
dominate it), carried to the interval's scale by the delta method (see
:func:`jackknife_t_interval` and the coverage study in docs/coverage.md).

``cluster-t``, the default when model families are given, is the ``jackknife-t`` interval over
families widened, where needed, to contain the BCa interval of the bootstrap over models: a
family-aware interval is never narrower than the model bootstrap's, because a narrower one
would rest on a variance estimated from only G families (see :func:`cluster_t_interval`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri, stdtr, stdtrit  # not scipy.stats: 0.7 s to import

from . import validate
from .errors import SwjaxError

__all__ = [
    "METHODS",
    "DEFAULT_METHOD",
    "default_method",
    "pvalue", "pvalue_side",
    "column_mean",
    "VERDICTS",
    "check_level",
    "check_method",
    "quantiles",
    "percentile_interval",
    "basic_interval",
    "bca_interval",
    "jackknife_t_interval",
    "cluster_t_interval",
    "SCALES",
    "standard_error",
    "jackknife_standard_error",
    "verdicts",
]

METHODS = ("bca", "percentile", "basic", "jackknife-t", "cluster-t")
#: Methods of the coverage study only (:mod:`swjax.coverage`), kept to compare with: the t
#: intervals with the jackknife taken on the transformed values (``jackknife-t-z``,
#: ``cluster-t-z``), the family-aware default before the jackknife moved to the statistic's
#: own scale. Near a correlation of +-1 one leave-one-family-out value can dominate their
#: standard error (``atanh`` turns a small move of r into a huge one).
STUDY_METHODS = ("jackknife-t-z", "cluster-t-z")
#: The interval of every analysis when none is asked (model resamples); with model families,
#: ``cluster-t`` (:func:`default_method`).
DEFAULT_METHOD = "bca"
#: Methods that need model families (clusters).
CLUSTER_METHODS = ("cluster-t", "cluster-t-z")
#: Where the t methods take the jackknife: on the statistic (``"statistic"``, carried to the
#: scale by the delta method) or on its transformed values (``"scale"``).
JACKKNIFE_ON = ("statistic", "scale")
#: Scales of ``jackknife-t``: Fisher's z (atanh) for correlations, logit for shares in (0, 1),
#: identity for differences and other unbounded statistics.
SCALES = ("fisher", "logit", "identity")
#: How close to the boundary (+-1 for correlations, 0/1 for shares) a value is moved before the
#: scale transform, so that an estimate or jackknife value on the boundary stays finite.
_EDGE = 1e-12
#: Verdict labels, from where an interval lies against the threshold t.
VERDICTS = {
    "entangled": "low bound above t: correlated with capabilities",
    "anti-correlated": "high bound below -t: anti-correlated with capabilities",
    "distinct": "whole interval inside (-t, t): low correlation with capabilities",
    "indeterminate": "interval straddles t or -t: the data cannot tell",
    "no interval": "no interval: too few models or families, no data (no FLOP), or no valid resample",
}


def check_level(level) -> float:
    return validate.level(level)


def check_method(method, study: bool = False) -> str:
    """``method`` lower-cased, one of :data:`METHODS` (``study``: or of :data:`STUDY_METHODS`)."""
    name = str(method).lower()
    known = METHODS + STUDY_METHODS if study else METHODS
    if name not in known:
        raise SwjaxError(f"method: expected one of {', '.join(known)}, got {method!r}")
    return name


def default_method(method=None, clusters=None) -> str:
    """``method`` checked, or the default of every analysis: ``cluster-t`` when model families
    (``clusters``) are given, else :data:`DEFAULT_METHOD`."""
    if method is None:
        return "cluster-t" if clusters is not None else DEFAULT_METHOD
    return check_method(method)


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


def _to_scale(x, scale):
    x = np.asarray(x, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        fisher = np.arctanh(np.clip(x, -1 + _EDGE, 1 - _EDGE))
        p = np.clip(x, _EDGE, 1 - _EDGE)
        logit = np.log(p) - np.log1p(-p)
    return np.where(scale == "fisher", fisher, np.where(scale == "logit", logit, x))


def _from_scale(z, scale):
    z = np.asarray(z, np.float64)
    with np.errstate(over="ignore"):
        return np.where(scale == "fisher", np.tanh(z), np.where(scale == "logit", 1 / (1 + np.exp(-z)), z))


def check_scale(scale, n_cols: int) -> np.ndarray:
    """One scale name per column (a single name is used for every column)."""
    scale = np.broadcast_to(np.asarray("fisher" if scale is None else scale, dtype=object), (n_cols,))
    bad = [s for s in scale if s not in SCALES]
    if bad:
        raise SwjaxError(f"scale: expected one of {', '.join(SCALES)}, got {bad[0]!r}")
    return np.asarray(scale, dtype=object)


#: How close to the boundary the delta method's slope g'(x) is taken at most: a correlation
#: computed in float32 that is 1 up to rounding (its jackknife values 1 - 6e-8 and 1) would
#: otherwise get an unbounded standard error on Fisher's z from rounding alone.
_SLOPE_EDGE = 1e-6


def _slope(x, scale):
    """g'(x), the derivative of the scale transform (at ``x`` moved 1e-6 inside the boundary)."""
    x = np.asarray(x, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip(x, -1 + _SLOPE_EDGE, 1 - _SLOPE_EDGE)
        p = np.clip(x, _SLOPE_EDGE, 1 - _SLOPE_EDGE)
        return np.where(scale == "fisher", 1 / ((1 - r) * (1 + r)),
                        np.where(scale == "logit", 1 / (p * (1 - p)), 1.0))


def check_jackknife_on(on) -> str:
    if on not in JACKKNIFE_ON:
        raise SwjaxError(f"jackknife_on: expected one of {', '.join(JACKKNIFE_ON)}, got {on!r}")
    return on


def _jackknife_se(estimate, jackknife, scale=None, on="statistic"):
    """(g(estimate), jackknife s.e. on the scale, finite jackknife rows G, ok, scales) per column:
    what the t interval and its p-value share (:func:`jackknife_t_interval`).

    ``on="statistic"``: the jackknife s.e. of the statistic times ``g'(estimate)`` (delta
    method); ``on="scale"``: the jackknife s.e. of the transformed values ``g(jackknife)``.
    """
    estimate = np.asarray(estimate, np.float64)
    scale = check_scale(scale, estimate.shape[0])
    z = _to_scale(estimate, scale)
    values = np.atleast_2d(np.asarray(jackknife, np.float64))
    if check_jackknife_on(on) == "scale":
        values = _to_scale(values, scale[None, :])
    finite = np.isfinite(values)
    g = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, values, 0.0).sum(axis=0) / g
        se = np.sqrt((g - 1) / g * (np.where(finite, values - mean, 0.0) ** 2).sum(axis=0))
        if on == "statistic":
            se = se * _slope(estimate, scale)
    ok = (g >= 3) & np.isfinite(z) & np.isfinite(se)
    return z, se, g, ok, scale


def jackknife_t_interval(estimate, jackknife, level, scale=None, on="statistic"):
    """Studentized interval from the jackknife: ``g(est) -/+ t(G-1) x se`` mapped back.

    Parameters
    ----------
    estimate : array (columns,)
        Full-sample values.
    jackknife : array (G, columns)
        Leave-one-unit-out values: one row per model, or per family when families are given.
        Non-finite rows of a column are left out (G is then the number of finite ones).
    level : float
    scale : str or array of str, optional
        Per column, one of :data:`SCALES` (default ``"fisher"``): the transform ``g`` the
        interval is symmetric on (``atanh`` for correlations, ``logit`` for shares).
    on : {"statistic", "scale"}
        Where the jackknife is taken: on the statistic, its standard error carried to the
        scale by the delta method (the default), or on the transformed values (the coverage
        study's ``jackknife-t-z``, the default before).

    Returns
    -------
    low, high, ok : arrays (columns,)
        ``ok`` is False (and low, high NaN) where fewer than 3 jackknife values are finite.

    Notes
    -----
    ``se_jack^2 = (G - 1) / G * sum_g (x_(g) - mean x_(.))^2``: the leave-one-cluster-out
    (CV3) variance that MacKinnon, Nielsen and Webb (2023) recommend with t(G - 1) critical
    values when clusters are few, and Cameron, Gelbach and Miller (2008) show that the usual
    large-G normal critical values over-reject with few clusters. With ``on="statistic"``,
    ``x_(g)`` is the statistic without unit g and ``se = g'(est) x se_jack`` (for Fisher's z
    ``g'(r) = 1 / (1 - r^2)``, for the logit ``1 / (p (1 - p))``), the slope taken at most
    ``1e-6`` from the boundary. With ``on="scale"``, ``x_(g) = g(statistic without unit g)``
    and ``se = se_jack``: near a correlation of 1 one leave-one-family-out value (0.9987
    beside an estimate of 0.989, say) then dominates the standard error, because ``atanh``
    turns a small move of r into a huge one, and the interval collapses towards 0 (the
    coverage study in docs/coverage.md compares the two). Values on the boundary of the scale (a
    correlation of +-1) are moved ``1e-12`` inside it.
    """
    alpha = (1 - check_level(level)) / 2
    z, se, g, ok, scale = _jackknife_se(estimate, jackknife, scale, on)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stdtrit(np.maximum(g - 1, 1), 1 - alpha)  # Student t quantile (scipy.stats.t.ppf)
    low = np.where(ok, _from_scale(z - t * se, scale), np.nan)
    high = np.where(ok, _from_scale(z + t * se, scale), np.nan)
    return low, high, ok


def cluster_t_interval(estimate, cluster_jackknife, model_low, model_high, level, scale=None, on="statistic"):
    """The ``jackknife-t`` interval over clusters, widened to contain the model interval.

    Parameters
    ----------
    estimate : array (columns,)
    cluster_jackknife : array (G, columns)
        Leave-one-family-out values.
    model_low, model_high : arrays (columns,)
        The interval of the bootstrap over models (swjax uses BCa).
    level, scale, on : as in :func:`jackknife_t_interval`.

    Returns
    -------
    low, high, ok : arrays (columns,)
        ``ok`` is False where the jackknife-t interval cannot be computed (the model interval
        is then returned alone).

    Notes
    -----
    Why never narrower: under a family structure the bootstrap over models is too narrow when
    family members are alike (a design effect above 1), and the family jackknife-t widens it.
    A family interval *narrower* than the model one (a design effect below 1) is possible in
    principle but rests on a variance estimated from G families: with G = 9 its 95 % sampling
    range is about 0.27 to 2.2 times the truth (chi-square with 8 degrees of freedom), so such
    narrowing cannot be told from noise. The interval therefore takes the wider bound on each
    side.
    """
    low_t, high_t, ok = jackknife_t_interval(estimate, cluster_jackknife, level, scale, on)
    model_low, model_high = np.asarray(model_low, np.float64), np.asarray(model_high, np.float64)
    low = np.where(ok, np.fmin(low_t, model_low), model_low)
    high = np.where(ok, np.fmax(high_t, model_high), model_high)
    return low, high, ok


def column_mean(dist) -> tuple[np.ndarray, np.ndarray]:
    """(mean of the finite values, their count) of each column, in float64; each column summed
    pairwise along its own length, so the bits do not depend on the other columns."""
    dist = np.asarray(dist)
    cols = np.ascontiguousarray(dist.T)
    finite = np.isfinite(cols)
    count = finite.sum(axis=1)
    total = np.where(finite, cols, 0).sum(axis=1, dtype=np.float64)
    return total / np.maximum(count, 1), count


def standard_error(dist) -> np.ndarray:
    """Sample standard deviation (ddof 1) of the finite resample values of each column."""
    dist = np.asarray(dist)
    finite = np.isfinite(dist)
    clean = finite.all(axis=0)
    out = np.full(dist.shape[1], np.nan)
    if clean.any() and len(dist) > 1:  # in float64, in one pass over the columns without NaN
        # Each column contiguous: numpy sums it pairwise along its own length, so a column's
        # bits do not depend on which other columns share the block (a row-major block is
        # summed in an order that depends on the block's width).
        block = np.ascontiguousarray((dist if clean.all() else dist[:, clean]).T)
        out[clean] = np.sqrt(block.var(axis=1, ddof=1, dtype=np.float64))
    for j in np.flatnonzero(~clean):
        values = dist[finite[:, j], j]
        if len(values) > 1:
            out[j] = np.sqrt(values.var(ddof=1, dtype=np.float64))
    return out


def jackknife_standard_error(jackknife) -> np.ndarray:
    """Jackknife standard error of each column on the raw scale,
    ``sqrt((G - 1) / G * sum_g (x_(g) - mean)^2)`` over its G finite rows; NaN where G < 3
    (as :func:`jackknife_t_interval`)."""
    jack = np.atleast_2d(np.asarray(jackknife, np.float64))
    _, se, _, ok, _ = _jackknife_se(np.zeros(jack.shape[1]), jack, "identity")
    return np.where(ok, se, np.nan)


def interval(dist, estimate, level, method, jackknife=None, scale=None, models=None):
    """(low, high, method used per column) for one of :data:`METHODS`.

    ``jackknife`` (rows, columns) is needed by ``bca``, ``jackknife-t`` and ``cluster-t`` (for
    the last, the leave-one-family-out rows); ``scale`` (per column, :data:`SCALES`) by the two
    t methods only; ``models`` = (low, high) of the model bootstrap's interval by
    ``cluster-t``. Where ``jackknife-t`` has fewer than 3 finite jackknife values, the
    percentile interval is used (``cluster-t``: the model interval) and the method column
    says so. The study methods (:data:`STUDY_METHODS`) are accepted too: ``jackknife-t-z``
    and ``cluster-t-z`` are the t methods with the jackknife on the transformed values.
    """
    method = check_method(method, study=True)
    on = "scale" if method in STUDY_METHODS else "statistic"
    method = method.removesuffix("-z")
    estimate = np.asarray(estimate, dtype=np.float64)
    n_cols = estimate.shape[0]
    if method == "percentile":
        low, high = percentile_interval(dist, level)
        used = np.full(n_cols, "percentile", dtype=object)
    elif method == "basic":
        low, high = basic_interval(dist, estimate, level)
        used = np.full(n_cols, "basic", dtype=object)
    elif method == "cluster-t":
        if jackknife is None or models is None:
            raise SwjaxError("method: 'cluster-t' needs the family jackknife and the model-bootstrap interval")
        low, high, ok = cluster_t_interval(estimate, jackknife, models[0], models[1], level, scale, on)
        used = np.where(ok, "cluster-t", "bca over models (jackknife-t failed)").astype(object)
    elif method == "jackknife-t":
        if jackknife is None:
            raise SwjaxError("method: 'jackknife-t' needs the jackknife values")
        low, high, ok = jackknife_t_interval(estimate, jackknife, level, scale, on)
        if not ok.all():
            p_low, p_high = percentile_interval(dist, level)
            low, high = np.where(ok, low, p_low), np.where(ok, high, p_high)
        used = np.where(ok, "jackknife-t", "percentile (jackknife-t failed)").astype(object)
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


# ------------------------------------------------------------------ p-values that agree with the intervals


def _crossings(dist, null):
    """(P_lo, P_hi, N) per column: the probabilities at which :func:`quantiles` (linear
    interpolation) crosses ``null``, ``P_lo = sup{p: q(p) <= null}`` and
    ``P_hi = inf{p: q(p) >= null}``, so ``q(p) > null`` exactly when ``p > P_lo`` and
    ``q(p) < null`` exactly when ``p < P_hi``; N the number of finite values."""
    dist = np.asarray(dist, np.float64)
    null = np.broadcast_to(np.asarray(null, np.float64), (dist.shape[1],))
    ordered = np.sort(np.where(np.isfinite(dist), dist, np.nan), axis=0)
    n = np.isfinite(ordered).sum(axis=0)
    cols = np.arange(dist.shape[1])
    filled = np.where(np.isfinite(ordered), ordered, np.inf)
    at_most = (filled <= null).sum(axis=0)
    below = (filled < null).sum(axis=0)
    span = np.maximum(n - 1, 1)

    def cross(count):
        j = np.clip(count, 1, np.maximum(n - 1, 1))
        a, b = ordered[j - 1, cols], ordered[np.minimum(j, np.maximum(n - 1, 0)), cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(b > a, (null - a) / (b - a), 0.0)
        return ((j - 1) + np.clip(frac, 0.0, 1.0)) / span

    p_lo = np.where(at_most == 0, 0.0, np.where(at_most >= n, 1.0, cross(at_most)))
    p_hi = np.where(below == 0, 0.0, np.where(below >= n, 1.0, cross(below)))
    return p_lo, p_hi, n


def _tails(p_lo, p_hi, z0=0.0, a=0.0, side=False):
    """Smallest two-sided alpha at which the (bias-corrected and accelerated) quantile interval
    excludes the null: the BCa endpoint map inverted (z0 = a = 0: the percentile interval).
    ``side=True``: also the side it then lies on (+1 above the null, -1 below)."""
    inside_lo = (p_lo > 0) & (p_lo < 1)
    inside_hi = (p_hi > 0) & (p_hi < 1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        w_lo = ndtri(np.where(inside_lo, p_lo, 0.5)) - z0
        w_hi = ndtri(np.where(inside_hi, p_hi, 0.5)) - z0
        lower = 2 * ndtr(w_lo / (1 + a * w_lo) - z0)  # low endpoint above the null
        upper = 2 * ndtr(z0 - w_hi / (1 + a * w_hi))  # high endpoint below the null
    # every value above the null (p_lo = 0): the low endpoint is above it at every alpha;
    # none above it (p_lo = 1): never. The same for the high endpoint.
    lower = np.where(p_lo <= 0, 0.0, np.where(p_lo >= 1, np.inf, lower))
    upper = np.where(p_hi >= 1, 0.0, np.where(p_hi <= 0, np.inf, upper))
    if side:
        return np.minimum(lower, upper), np.where(lower <= upper, 1, -1)
    return np.minimum(lower, upper)


def pvalue(dist, estimate, method, jackknife=None, scale=None, model_p=None, null: float = 0.0):
    """The p-value of :func:`pvalue_side` alone."""
    return pvalue_side(dist, estimate, method, jackknife, scale, model_p, null)[0]


def pvalue_side(dist, estimate, method, jackknife=None, scale=None, model_p=None, null: float = 0.0):
    """Two-sided p-value of ``statistic == null`` that agrees with :func:`interval`.

    The p-value is the smallest ``1 - level`` at which the interval of ``method`` (the same
    quantiles, bias correction, acceleration and t quantiles) excludes ``null``: for every
    level, ``p < 1 - level`` exactly when the interval excludes it (up to the rounding of the
    interpolated quantiles). Percentile: twice the smaller share of the distribution on either
    side of the null; basic: the same about ``2 x estimate - null``; BCa: the BCa endpoint map
    inverted; jackknife-t: ``2 P(T_(G-1) > |g(est) - g(null)| / se)``; cluster-t: its
    interval is the hull of the family t interval and the model bootstrap's BCa interval, which
    excludes the null only where both do on the same side: the larger of the two p-values when
    they exclude it on the same side, else 1 (``model_p`` is the pair ``(p, side)`` of
    :func:`pvalue_side` for the model bootstrap's BCa). Where a method falls back (a
    degenerate jackknife), so does the p-value. A resampling p-value is at least ``2 / (N + 1)``
    for N finite resamples: a smaller one cannot be told from N resamples.

    Returns ``(p, side)``: ``side`` +1 where the interval, at levels below ``1 - p``, lies
    above the null, -1 below it.
    """
    method = check_method(method)
    estimate = np.asarray(estimate, np.float64)
    dist = np.asarray(dist, np.float64)
    n_cols = estimate.shape[0]

    def floor(p, n):
        p = np.clip(p, 2.0 / (n + 1), 1.0)
        return np.where(n >= 2, p, np.nan)

    p_lo, p_hi, n = _crossings(dist, null)
    percentile, percentile_side = _tails(p_lo, p_hi, side=True)
    percentile = floor(percentile, n)
    if method == "percentile":
        return percentile, percentile_side
    if method == "basic":
        b_lo, b_hi, n = _crossings(dist, 2 * estimate - null)
        p, side = _tails(1 - b_hi, 1 - b_lo, side=True)
        return floor(p, n), side
    if method == "bca":
        if jackknife is None:
            raise SwjaxError("method: 'bca' needs the jackknife values")
        z0, a = bias_correction(dist, estimate), acceleration(jackknife)
        ok = np.isfinite(z0) & np.isfinite(a)
        bca, side = _tails(p_lo, p_hi, np.where(ok, z0, 0.0), np.where(ok, a, 0.0), side=True)
        return np.where(ok, floor(bca, n), percentile), np.where(ok, side, percentile_side)
    if jackknife is None:
        raise SwjaxError(f"method: {method!r} needs the jackknife values")
    z, se, g, ok, scale = _jackknife_se(estimate, jackknife, scale)
    shift = z - _to_scale(np.full(n_cols, null), scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_p = 2 * stdtr(np.maximum(g - 1, 1), -np.abs(shift) / se)
    t_side = np.where(shift >= 0, 1, -1)
    if method == "jackknife-t":
        return np.where(ok, t_p, percentile), np.where(ok, t_side, percentile_side)
    if model_p is None:
        raise SwjaxError("method: 'cluster-t' needs the model bootstrap's (p-value, side)")
    m_p, m_side = (np.asarray(x) for x in model_p)
    m_p = m_p.astype(np.float64)
    # The hull excludes the null only where both intervals do, on the same side.
    hull = np.where(t_side == m_side, np.fmax(t_p, m_p), 1.0)
    return np.where(ok, hull, m_p), np.where(ok, t_side, m_side)
