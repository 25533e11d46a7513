"""Specification sensitivity: leave one capability benchmark out, and every capability subset.

Both are capability masks for the same compiled statistic (:func:`swjax.engine.run` with ``masks``):
the ranks of every column and the capability Spearman matrix are computed once per model-weight
row and shared by all masks.

Point estimates of a mask use the released PC1 sign rule on the masked vector, so the
correlations of a subset equal ``analyze(capabilities=subset)``. In bootstrap resamples each
mask's PC1 is turned to point along that mask's own full-sample PC1.

Verdict of a specification (point estimates; the paper's threshold ``t``), in the words of the
interval verdicts of :mod:`swjax.intervals`: ``entangled`` when r > t, ``anti-correlated`` when
r < -t, ``distinct`` otherwise. *Share of specifications that keep the
verdict* = among the specifications where the benchmark has a correlation, the share whose
label equals the label of the full capability set.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np
import pandas as pd

from . import engine, intervals, options, resample, validate
from .analysis import as_dataset, float_dtype
from .bootstrap import interval_support, summarize, withhold
from .errors import SwjaxError
from .problem import build_problem

__all__ = ["LoboResult", "SubsetsResult", "lobo", "subsets", "point_labels", "sample_subset_masks"]


def point_labels(r, threshold: float) -> np.ndarray:
    """``entangled`` (r > t), ``anti-correlated`` (r < -t), ``distinct``, or ``none`` (NaN): the
    interval verdicts' words, applied to point estimates."""
    r = np.asarray(r, np.float64)
    out = np.full(r.shape, "distinct", dtype=object)
    out[r > threshold] = "entangled"
    out[r < -threshold] = "anti-correlated"
    out[~np.isfinite(r)] = "none"
    return out



def _full_sample(problem, layout, masks, device):
    """Point estimates of every mask (released sign rule) and their PC1s (refs for resamples)."""
    m = len(layout.models)
    out = engine.run(problem, np.ones((1, m)), masks=masks, device=device, fields=("corr", "loadings"))
    return out["corr"][0].astype(np.float64), out["loadings"][0]


# --------------------------------------------------------------------------- leave one out


@dataclass(frozen=True)
class LoboResult:
    """Leave-one-capability-benchmark-out results of one model set.

    Attributes
    ----------
    correlations : pandas.DataFrame
        Benchmarks x variants: ``full`` (all capability benchmarks) then ``-CAP`` for each
        capability benchmark dropped from the score.
    table : pandas.DataFrame
        Per benchmark: ``full``, ``min``, ``max``, ``range`` (max - min over the variants,
        full included), ``most_moved_by`` (the dropped capability that changes it most) and
        ``max_change`` (that signed change).
    intervals : pandas.DataFrame or None
        With ``n``: one row per (variant, benchmark): estimate, low, high, se, verdict, ...
        from the same ``n`` model resamples for every variant.
    metadata : dict
    """

    correlations: pd.DataFrame
    table: pd.DataFrame
    intervals: pd.DataFrame | None = field(default=None, repr=False)
    metadata: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        from . import display

        md = self.metadata
        return display.result(
            "LoboResult",
            dict(set=md.get("set"), variants=self.correlations.shape[1], n=md.get("n") or None,
                 method=md.get("method") if md.get("n") else None),
            body=display.rows(self.table, estimate="full", low="min", high="max", extra=("most_moved_by",),
                              what="benchmarks in .table (by range)"),
            note="columns: full, [min, max] over the variants, the capability that moves it most",
        )


def lobo(
    data,
    *,
    capabilities=None,
    against: str | None = None,
    n: int = 0,
    seed: int = 0,
    method: str | None = None,
    level: float = 0.95,
    threshold: float = 0.4,
    device: str = "auto",
    batch_size: int | None = None,
    x64: bool = False,
    score: str = "paper",
) -> LoboResult:
    """Drop each capability benchmark from the score in turn.

    Parameters
    ----------
    data : Dataset or {"base", "chat"}
    capabilities, against : see :func:`swjax.analyze` (at least 3 capability benchmarks).
    n : int
        Bootstrap resamples per variant (0: point estimates only). Every variant uses the same
        resamples; each variant's PC1 is aligned with its own full-sample PC1.
    seed, method, level, threshold : as in :func:`swjax.bootstrap`: ``method`` None is BCa,
        with the jackknife over models of each variant, so the full variant's interval is the
        bootstrap's (cluster-t needs families, which lobo does not take).
    score : {"paper", "pearson", "mean-z", "irt", "compute"}
        The capability measure (:mod:`swjax.scores`), recomputed without each capability
        benchmark in turn (under ``compute``, which reads no capability benchmark, every variant
        is the full one).

    Examples
    --------
    >>> res = lobo("chat")
    >>> res.correlations.shape[1]
    13
    """
    opts = options.check(n=n, seed=seed, method=method, level=level, threshold=threshold, device=device,
                         batch_size=batch_size, score=score, allow_zero_n=True)
    n, seed, method, level, threshold, batch_size, score = (
        opts.n, opts.seed, opts.method, opts.level, opts.threshold, opts.batch_size, opts.score
    )
    if method in intervals.CLUSTER_METHODS:
        raise SwjaxError(f"method: {method!r} needs model families, which lobo does not take")
    dataset = as_dataset(data)
    dev = engine.select_device(device).platform
    started = time.perf_counter()
    with engine.precision(x64):
        problem, layout = build_problem(dataset, capabilities, against, float_dtype(x64), score=score)
        k, m, nb = len(layout.capabilities), len(layout.models), layout.n_benchmarks
        if k < 3:
            raise SwjaxError(f"capabilities: leaving one out needs at least 3 capability benchmarks, got {k}")
        masks = np.vstack([np.ones((1, k), np.int32), resample.lobo_masks(k)])
        est, refs = _full_sample(problem, layout, masks, dev)
        variants = ["full"] + [f"-{c}" for c in layout.capabilities]
        bench = list(layout.benchmarks)
        corr = pd.DataFrame(est[:, :nb].T, index=pd.Index(bench, name="benchmark"), columns=variants)
        frame = None
        if n:
            key = resample.key_from_seed(seed)
            draws = engine.run(
                problem, draws=engine.Draws(resample.bootstrap_scheme(m), n, key), masks=masks, ref=refs,
                fields=("corr",), batch_size=batch_size, device=dev,
            )["corr"]  # (n, variants, columns), as computed: summarize sorts it so, sums in float64
            jack = None
            if method in ("bca", "jackknife-t"):
                jack = engine.run(
                    problem, resample.jackknife_weights(m), masks=masks, ref=refs, fields=("corr",), device=dev,
                )["corr"].astype(np.float64)
            # Every variant's columns side by side in one call: the interval code works column
            # by column, so each variant gets its own numbers, without a call per variant.
            flat = draws[:, :, :nb].reshape(len(draws), -1)
            frame = summarize(
                flat, est[:, :nb].reshape(-1), None if jack is None else jack[:, :, :nb].reshape(len(jack), -1),
                method=method, level=level, threshold=threshold,
            )
            # below the minimum of models: the estimate, no interval (as bootstrap)
            withhold(frame, np.tile(interval_support(problem, layout, level).reason[:nb], len(variants)))
            frame.insert(0, "benchmark", bench * len(variants))
            frame.insert(0, "variant", np.repeat(variants, nb))
    changes = corr.iloc[:, 1:].sub(corr["full"], axis=0)
    absch = changes.abs().fillna(-1.0)
    which = absch.to_numpy().argmax(axis=1)
    table = pd.DataFrame(
        {
            "full": corr["full"],
            "min": corr.min(axis=1),
            "max": corr.max(axis=1),
            "range": corr.max(axis=1) - corr.min(axis=1),
            "most_moved_by": [layout.capabilities[j] for j in which],
            "max_change": changes.to_numpy()[np.arange(len(which)), which],
        },
        index=corr.index,
    )
    return LoboResult(
        correlations=corr,
        table=table.sort_values("range", ascending=False),
        intervals=frame,
        metadata=dict(
            set=layout.label, n=n, seed=seed, method=method, level=level, threshold=threshold,
            capabilities=list(layout.capabilities), score=score, seconds=time.perf_counter() - started,
        ),
    )


# --------------------------------------------------------------------------- every subset


@dataclass(frozen=True)
class SubsetsResult:
    """Every capability subset (a specification curve) of one model set.

    Attributes
    ----------
    masks : numpy.ndarray
        (S, k) 0/1 capability masks, one row per specification.
    estimates : numpy.ndarray
        (S, benchmarks) correlation of every benchmark under every specification.
    benchmarks, capabilities : tuple of str
    table : pandas.DataFrame
        Per benchmark: ``full`` (all capabilities) and its ``label``; across specifications
        ``median``, ``q025``, ``q975`` (2.5 and 97.5 % quantiles), ``min``, ``max``, ``spread``
        (q975 - q025, the *specification spread*), ``keep_share`` (share of specifications
        that keep the full set's verdict). With ``n`` resamples, the *sampling spread* beside
        it: ``full_low``/``full_high`` (percentile interval of the full-set correlation),
        ``median_low``/``median_high`` (percentile interval of the across-specification median
        over resamples), ``sampling_sd`` (bootstrap standard deviation of one specification's
        correlation, averaged over specifications) and ``spread_resampled`` (median over
        resamples of each resample's own specification spread). The two spreads answer
        different questions and are never added.
    by_size : pandas.DataFrame
        Rows (benchmark, size): ``n_specs``, ``median``, ``q025``, ``q975``, ``keep_share``.
    inclusion : pandas.DataFrame
        Benchmarks x capability benchmarks: mean correlation over the specifications that
        include that capability minus the mean over those that leave it out.
    metadata : dict
    """

    masks: np.ndarray = field(repr=False)
    estimates: np.ndarray = field(repr=False)
    benchmarks: tuple[str, ...]
    capabilities: tuple[str, ...]
    table: pd.DataFrame
    by_size: pd.DataFrame = field(repr=False)
    inclusion: pd.DataFrame = field(repr=False)
    metadata: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        from . import display

        md = self.metadata
        return display.result(
            "SubsetsResult",
            dict(set=md.get("set"), subsets=md.get("n_subsets"), of=md.get("n_subsets_total"),
                 min_size=md.get("min_size"), n=md.get("n") or None),
            body=display.rows(self.table, estimate="full", low="q025", high="q975", extra=("keep_share",),
                              what="benchmarks in .table"),
            note="columns: full set, [2.5 %, 97.5 %] across specifications, share keeping the verdict",
        )


def sample_subset_masks(k: int, min_size: int, max_subsets: int | None, seed: int) -> np.ndarray:
    """Every subset with at least ``min_size`` members, or ``max_subsets`` of them at random.

    The random sample (numpy ``default_rng(seed)``, without replacement, uniform over the
    subsets) is returned in the order of :func:`swjax.resample.subset_masks`.
    """
    total = resample.n_subsets(k, min_size)
    if not 2 <= min_size <= k:
        raise SwjaxError(f"min-size: expected 2 <= min-size <= {k}, got {min_size}")
    if max_subsets is None or max_subsets >= total:
        if total > 2**22:
            raise SwjaxError(f"max-subsets: {total} subsets are too many to enumerate; give --max-subsets")
        return resample.subset_masks(k, min_size)
    validate.integer("max_subsets", max_subsets)
    rng = np.random.default_rng(seed)
    if total <= 2**22:
        all_masks = resample.subset_masks(k, min_size)
        pick = np.sort(rng.choice(total, size=max_subsets, replace=False))
        return all_masks[pick]
    seen: dict[bytes, np.ndarray] = {}
    while len(seen) < max_subsets:
        row = rng.integers(0, 2, k).astype(np.int32)
        if row.sum() >= min_size:
            seen.setdefault(row.tobytes(), row)
    rows = np.stack(list(seen.values()))
    # Order of subset_masks: by size, then earlier members first (np.lexsort: last key first).
    return rows[np.lexsort(tuple(-rows[:, ::-1].T) + (rows.sum(axis=1),))]


#: Across-specification quantiles kept for every resample of the curve.
CURVE_PROBS = (0.025, 0.5, 0.975)


def _curve_reduce(out):
    """On the device: each resample's correlations with the specifications last, (B, q, S).

    The quantiles across specifications are then taken on the host (:class:`_Curve`), where
    a sort of contiguous rows is many times faster than XLA's CPU sort.
    """
    return {"corr": jnp.swapaxes(out["corr"], 1, 2)}


def sorted_quantiles(xs: np.ndarray, probs) -> np.ndarray:
    """Quantiles (linear interpolation, NaN skipped) of rows sorted with NaN last, ``xs`` (..., S).

    Returns (..., len(probs)) in the dtype of ``xs``: position ``p (n - 1)`` among the ``n``
    finite values, ``a + (b - a) t`` between its neighbours ``a`` and ``b`` rounded once, as a
    fused multiply-add on the device rounds it (NaN where a row has no finite value).
    """
    dtype = xs.dtype.type
    n = np.sum(np.isfinite(xs), axis=-1, keepdims=True)
    out = []
    for p in probs:
        pos = dtype(p) * (n - 1).astype(dtype)
        lo = np.clip(np.floor(pos).astype(np.int64), 0, None)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        t = pos - lo.astype(dtype)
        a = np.take_along_axis(xs, np.minimum(lo, xs.shape[-1] - 1), axis=-1)
        b = np.take_along_axis(xs, hi, axis=-1)
        out.append(np.where(n > 0, _lerp(a, b, t, dtype), np.nan).astype(dtype)[..., 0])
    return np.stack(out, axis=-1)


def _lerp(a, b, t, dtype):
    """``a + (b - a) t`` rounded once to ``dtype``, as a fused multiply-add rounds it."""
    wide = np.longdouble if dtype is np.float64 else np.float64  # exact product d * t
    return (np.asarray(a).astype(wide) + np.asarray(b - a).astype(wide) * np.asarray(t).astype(wide)).astype(dtype)


#: Rows selected together by :func:`row_quantiles` (fewer numpy calls per row as it grows; 128
#: rows of 4,083 specifications are 2 MB of work array).
SELECT_ROWS = 128


def row_quantiles(x: np.ndarray, probs) -> np.ndarray:
    """:func:`sorted_quantiles` of ``np.sort(x, axis=-1)``, by selection instead of a sort.

    The same numbers: each quantile reads the same two order statistics, found by partitioning
    each row in place at the lower one (``ndarray.partition``, one position at a time, each in
    the segment the previous ones left) and taking the next one as the smallest value right of
    it. Rows go :data:`SELECT_ROWS` at a time through one small work array, grouped by their
    number of finite values (NaN count as largest, as in a sort). The work array holds
    :func:`_order_keys`, integers in the order of the values, which numpy selects in about half
    the time of the floats.
    """
    size = x.shape[-1]
    # Blocks of rows within each index of the leading axes: views of ``x`` whatever its strides
    # (merging all axes but the last into rows would copy a sliced array, as the curve's is).
    # Not -1 in the shape: a row may have no values.
    x3 = x.reshape((math.prod(x.shape[:-2]),) + x.shape[-2:]) if x.ndim > 1 else x[None, None]
    out = np.empty(x3.shape[:2] + (len(probs),), x.dtype)
    work = np.empty((min(SELECT_ROWS, x3.shape[1]), size), _key_dtype(x.dtype))
    for i in range(x3.shape[0]):
        for j in range(0, x3.shape[1], SELECT_ROWS):
            block = x3[i, j:j + SELECT_ROWS]
            out[i, j:j + len(block)] = _block_quantiles(block, probs, work[:len(block)])
    return out.reshape(x.shape[:-1] + (len(probs),))


def _key_dtype(dtype) -> np.dtype:
    return np.dtype(f"i{np.dtype(dtype).itemsize}")


def _order_keys(x: np.ndarray, out: np.ndarray | None = None, nan: bool = True) -> np.ndarray:
    """Signed integers ordered as the floats ``x`` are: the bits of ``x`` with the magnitude bits
    of the negative ones flipped (IEEE 754 orders magnitudes as integers); any NaN the largest
    (``nan=False``: the caller knows there is none).

    The one exception to the floats' order: -0.0 comes before 0.0, which compare equal, so an
    order statistic that is a zero may come out with the other sign (the same number).
    :func:`_from_keys` reverses it.
    """
    out = _flip_negative(x.view(_key_dtype(x.dtype)), out)
    if nan:
        np.copyto(out, np.iinfo(out.dtype).max, where=np.isnan(x))
    return out


def _from_keys(keys: np.ndarray, dtype) -> np.ndarray:
    """The floats of :func:`_order_keys` (the same flip undoes it)."""
    return _flip_negative(np.asarray(keys)).view(dtype)


def _flip_negative(bits: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Signed integers with the bits below the sign flipped where the sign is set (its own inverse)."""
    out = np.empty_like(bits) if out is None else out
    np.right_shift(bits, 8 * bits.itemsize - 1, out=out)  # -1 where negative, else 0
    np.bitwise_and(out, np.iinfo(bits.dtype).max, out=out)
    np.bitwise_xor(out, bits, out=out)
    return out


def _block_quantiles(block: np.ndarray, probs, work: np.ndarray) -> np.ndarray:
    dtype = block.dtype.type
    # Finite values per row: all of them where the row's sum is finite (one pass), else counted.
    n = np.full(len(block), block.shape[-1])
    holes = ~np.isfinite(block.sum(axis=-1))
    if holes.any():
        n[holes] = np.isfinite(block[holes]).sum(axis=-1)
    out = np.full((len(block), len(probs)), np.nan, dtype)
    counts, often = np.unique(n[n > 0], return_counts=True)
    for count in counts[np.argsort(-often, kind="stable")]:
        rows = n == count
        if count == counts[np.argmax(often)]:
            # The most common count: every row partitioned together, without gathering them
            # (rows of other counts come out partitioned at the wrong places and are dropped).
            part = _order_keys(block, work, nan=bool(holes.any()))
        else:
            part = _order_keys(block[rows])  # a copy, partitioned in place
        plan = []
        for p in probs:  # the positions of sorted_quantiles, for rows of ``count`` finite values
            pos = dtype(p) * dtype(count - 1)
            lo = max(int(np.floor(pos)), 0)
            plan.append((lo, min(lo + 1, count - 1), pos - dtype(lo)))
        stats = _order_statistics(part, sorted({lo for lo, _, _ in plan}), int(count))
        values = np.stack(
            [_lerp(_from_keys(stats[lo], dtype), _from_keys(stats[hi], dtype), t, dtype) for lo, hi, t in plan],
            axis=-1,
        )
        out[rows] = values[rows] if part is work else values
    return out


def _order_statistics(part: np.ndarray, lows: list[int], count: int) -> dict[int, np.ndarray]:
    """Order statistics ``k`` and ``k + 1`` (below ``count``) of every row of ``part`` (order
    keys: NaN the largest) for each ``k`` in ``lows`` (sorted); ``part`` is partitioned in place."""

    def select(start, stop, ks):  # ks in [start, stop), each partitioned within its segment
        if ks:
            mid = len(ks) // 2
            k = ks[mid]
            part[:, start:stop].partition(k - start, axis=-1)
            select(start, k, ks[:mid])
            select(k + 1, stop, ks[mid + 1:])

    select(0, part.shape[-1], lows)
    stats = {}
    for i, k in enumerate(lows):
        stats[k] = part[:, k]
        if k + 1 < count and k + 1 not in stats:
            # Right of k, up to the next partitioned position (included), all values are at
            # least part[k]; the smallest of them is the next order statistic.
            stop = lows[i + 1] + 1 if i + 1 < len(lows) else count
            stats[k + 1] = part[:, k + 1] if k + 1 == stop - 1 else np.min(part[:, k + 1:stop], axis=-1)
    return stats


class _Curve:
    """Host side of the resampled curve: per resample the across-specification quantiles,
    per specification the sums over resamples (O((resamples + specifications) x columns)).

    The sums are float64, (columns, specifications) like the chunks, and added a few columns
    at a time (:data:`SUM_COLUMNS`), so that each block's temporaries stay in the CPU's cache.
    """

    def __init__(self, n_specs: int, nb: int, full_index: int | None):
        self.nb = nb
        self.full_index = full_index
        self.quant: list[np.ndarray] = []
        self.full: list[np.ndarray] = []  # the full capability set's correlations, (B, nb)
        self.rows = 0
        self.sum = np.zeros((nb, n_specs))
        self.sq = np.zeros((nb, n_specs))
        self.missing = np.zeros((nb, n_specs), np.int64)

    @property
    def count(self) -> np.ndarray:
        """Resamples with a correlation, per (column, specification)."""
        return (self.rows - self.missing).astype(np.float64)

    def __call__(self, out):
        corr = np.asarray(out["corr"])[:, : self.nb]  # (B, nb, S)
        self.quant.append(row_quantiles(corr, CURVE_PROBS).astype(np.float64))
        if self.full_index is not None:
            self.full.append(corr[:, :, self.full_index].astype(np.float64))
        self.rows += len(corr)
        # Columns with a NaN in this chunk (correlations are within [-1, 1]: no sum overflows).
        holes = ~np.isfinite(corr.sum(axis=(0, 2)))
        total = np.empty((SUM_COLUMNS, corr.shape[2]))
        squares = np.empty((len(corr), SUM_COLUMNS, corr.shape[2]), corr.dtype)
        for lo in range(0, self.nb, SUM_COLUMNS):
            hi = min(lo + SUM_COLUMNS, self.nb)
            z = corr[:, lo:hi]
            if holes[lo:hi].any():
                keep = np.isfinite(z)
                z = np.where(keep, z, 0)
                self.missing[lo:hi] += np.add.reduce(~keep, axis=0, dtype=np.int64)
            t = total[: hi - lo]
            self.sum[lo:hi] += _add_rows(z, t)
            self.sq[lo:hi] += _add_rows(np.multiply(z, z, out=squares[:, : hi - lo]), t)  # squared in the kept dtype


def _add_rows(rows: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``rows[0] + rows[1] + ...`` in ``out``'s dtype (float64), added in order: the numbers of
    ``np.add.reduce(rows, axis=0, dtype=np.float64)``, without its casting buffers."""
    out[...] = rows[0]
    for row in rows[1:]:
        np.add(out, row, out=out)
    return out


#: Columns of the curve's sums added together (a block's temporaries fit the CPU's cache).
SUM_COLUMNS = 16


def subsets(
    data,
    *,
    capabilities=None,
    against: str | None = None,
    min_size: int = 3,
    max_subsets: int | None = None,
    n: int = 0,
    seed: int = 0,
    level: float = 0.95,
    threshold: float = 0.4,
    device: str = "auto",
    batch_size: int | None = None,
    x64: bool = False,
    score: str = "paper",
) -> SubsetsResult:
    """Every capability subset with at least ``min_size`` members as the capabilities score.

    Parameters
    ----------
    data : Dataset or {"base", "chat"}
    min_size : int
        Smallest subset (2 to k). 12 capability benchmarks give 4,083 subsets at 2, 4,017 at 3.
    max_subsets, seed : int, optional
        Evaluate this many subsets drawn at random (seeded) instead of all of them. ``seed``
        also seeds the bootstrap (``fold_in(key(seed), r)``, as :func:`swjax.bootstrap`).
    n : int
        Bootstrap resamples (0: point estimates only). Each resample recomputes the whole curve;
        see :class:`SubsetsResult` for the sampling spread kept (memory O((n + S) x columns)).
    level : float
        Of the sampling intervals.
    threshold : float
        Verdict boundary t of :func:`point_labels`.
    score : {"paper", "pearson", "mean-z", "irt", "compute"}
        The capability measure (:mod:`swjax.scores`), computed from each subset.

    Examples
    --------
    >>> res = subsets("chat", min_size=11)
    >>> len(res.masks), float(res.table.loc["MT_Bench", "keep_share"])
    (13, 1.0)
    """
    min_size = validate.integer("min_size", min_size, minimum=2)
    opts = options.check(n=n, seed=seed, level=level, threshold=threshold, device=device, batch_size=batch_size,
                         score=score, allow_zero_n=True)
    n, seed, level, threshold, batch_size = opts.n, opts.seed, opts.level, opts.threshold, opts.batch_size
    score = opts.score
    if max_subsets is not None:
        max_subsets = validate.integer("max_subsets", max_subsets)
    dataset = as_dataset(data)
    dev = engine.select_device(device).platform
    started = time.perf_counter()
    with engine.precision(x64):
        problem, layout = build_problem(dataset, capabilities, against, float_dtype(x64), score=score)
        k, nb = len(layout.capabilities), layout.n_benchmarks
        masks = sample_subset_masks(k, min_size, max_subsets, seed)
        full_est, _ = _full_sample(problem, layout, np.ones((1, k), np.int32), dev)
        est, refs = _full_sample(problem, layout, masks, dev)
        full = full_est[0, :nb]
        est = est[:, :nb]
        sampling = None
        if n:
            sampling = _resample_curve(problem, layout, masks, refs, n, seed, level, batch_size, dev)
    table, by_size, inclusion = _summaries(est, full, masks, layout, threshold)
    if sampling is not None:
        for name, values in sampling.items():
            table[name] = values
    table = table.sort_values("median", ascending=False, na_position="last")
    return SubsetsResult(
        masks=masks,
        estimates=est,
        benchmarks=tuple(layout.benchmarks),
        capabilities=tuple(layout.capabilities),
        table=table,
        by_size=by_size,
        inclusion=inclusion,
        metadata=dict(
            set=layout.label, min_size=min_size, n_subsets=len(masks),
            n_subsets_total=resample.n_subsets(k, min_size), max_subsets=max_subsets, n=n,
            seed=seed, level=level, threshold=threshold, score=score, seconds=time.perf_counter() - started,
        ),
    )


def _resample_curve(problem, layout, masks, refs, n, seed, level, batch_size, dev):
    """Bootstrap the whole curve, keeping per-resample quantiles and per-specification sums."""
    nb, m = layout.n_benchmarks, len(layout.models)
    full_index = np.flatnonzero(masks.sum(axis=1) == masks.shape[1])
    curve = _Curve(len(masks), nb, int(full_index[0]) if len(full_index) else None)
    engine.run(
        problem, draws=engine.Draws(resample.bootstrap_scheme(m), n, resample.key_from_seed(seed)),
        masks=masks, ref=refs, fields=("corr",), batch_size=batch_size, device=dev,
        reduce=_curve_reduce, sink=curve,
    )
    quant = np.concatenate(curve.quant).transpose(0, 2, 1)  # (n, 3, nb)
    # (specifications, columns), C-ordered: the reductions below then add in the same order
    cnt, total, sq = (np.ascontiguousarray(a.T) for a in (curve.count, curve.sum, curve.sq))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / cnt
        var = (sq - cnt * mean**2) / (cnt - 1)
    sd = np.sqrt(np.clip(var, 0, None))
    alpha = (1 - level) / 2
    probs = np.array([np.full(nb, alpha), np.full(nb, 1 - alpha)])
    out = {}
    if curve.full:
        # The full set is one specification among the masks: its interval from the same draws
        # (those of swjax.bootstrap with the same seed, bit for bit).
        out["full_low"], out["full_high"] = intervals.quantiles(np.concatenate(curve.full), probs)
    out["median_low"], out["median_high"] = intervals.quantiles(quant[:, 1], probs)
    with np.errstate(invalid="ignore"):
        out["sampling_sd"] = np.nanmean(np.where(cnt > 1, sd, np.nan), axis=0)
        out["spread_resampled"] = np.nanmedian(quant[:, 2] - quant[:, 0], axis=0)
    return out


def _summaries(est, full, masks, layout, threshold):
    bench = pd.Index(list(layout.benchmarks), name="benchmark")
    finite = np.isfinite(est)
    full_label = point_labels(full, threshold)
    labels = point_labels(est, threshold)
    same = (labels == full_label[None, :]) & finite
    with np.errstate(invalid="ignore", divide="ignore"):
        keep = same.sum(axis=0) / finite.sum(axis=0)
    q = intervals.quantiles(est, np.array([np.full(est.shape[1], p) for p in (0.025, 0.5, 0.975)]))
    table = pd.DataFrame(
        {
            "full": full,
            "label": full_label,
            "median": q[1],
            "q025": q[0],
            "q975": q[2],
            "min": np.nanmin(np.where(finite, est, np.nan), axis=0) if finite.any() else np.nan,
            "max": np.nanmax(np.where(finite, est, np.nan), axis=0) if finite.any() else np.nan,
            "spread": q[2] - q[0],
            "keep_share": keep,
        },
        index=bench,
    )
    sizes = masks.sum(axis=1)
    rows = []
    for size in np.unique(sizes):
        sel = sizes == size
        part = est[sel]
        qs = intervals.quantiles(part, np.array([np.full(part.shape[1], p) for p in (0.025, 0.5, 0.975)]))
        with np.errstate(invalid="ignore", divide="ignore"):
            ks = same[sel].sum(axis=0) / finite[sel].sum(axis=0)
        rows.append(
            pd.DataFrame(
                {"benchmark": bench, "size": int(size), "n_specs": int(sel.sum()), "median": qs[1],
                 "q025": qs[0], "q975": qs[2], "keep_share": ks}
            )
        )
    by_size = pd.concat(rows, ignore_index=True).set_index(["benchmark", "size"])
    z = np.where(finite, est, 0.0)
    inc = np.empty((est.shape[1], masks.shape[1]))
    for j in range(masks.shape[1]):
        with_j = masks[:, j] > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_in = z[with_j].sum(axis=0) / finite[with_j].sum(axis=0)
            mean_out = z[~with_j].sum(axis=0) / finite[~with_j].sum(axis=0)
        inc[:, j] = mean_in - mean_out
    inclusion = pd.DataFrame(inc, index=bench, columns=list(layout.capabilities))
    return table, by_size, inclusion
