"""Capability-adjusted scores: what a safety benchmark measures beyond the capabilities score.

The paper's second recommendation is to report what capabilities do not explain. For one
benchmark ``y`` and the capabilities score ``s`` (the pipeline's, :mod:`swjax.core`), over the
``n`` models where ``y`` is observed:

**Rank-based (default): residuals of a rank regression.** Let ``R_i`` be the mid-rank of
``y_i`` among the observed models and ``S_i`` the mid-rank of ``s_i`` among the same models
(average ranks for ties, 1 = lowest). Both have mean ``c = (n + 1) / 2``. The rank regression
is the least-squares line of ``R`` on ``S``; its slope is

    b = sum_i (R_i - c) (S_i - c) / sum_i (S_i - c)^2

(Spearman's correlation when ``y`` has no ties), and the capability-adjusted score of model
``i`` is its residual

    e_i = (R_i - c) - b (S_i - c),

in ranks: ``e_i = +3`` means the model ranks three places higher (safer, higher = better) on
the benchmark than the line predicts from its capabilities rank. Being rank-based, it is
unchanged by any increasing transform of the benchmark or of the score.

**Linear (``method="linear"``):** the ordinary least-squares line of ``y`` on ``s``, slope
``cov(y, s) / var(s)`` in benchmark units per unit of the capabilities score, residuals in
benchmark units. Both slopes are always reported: the rank slope says how tightly the
benchmark follows capabilities (like the correlation), the linear slope how much it moves per
unit of capabilities (a correlation of 0.9 with a tiny slope is a different finding from one
with a steep slope).

**Partial correlation** of two benchmarks given the score: over the models observed in both,
with Spearman correlations ``r_ab, r_as, r_bs`` (ranks over those models),
``(r_ab - r_as r_bs) / sqrt((1 - r_as^2) (1 - r_bs^2))``: the correlation of the two rank
regressions' residuals.

**Uncertainty.** Every quantity is recomputed on bootstrap resamples of the models, as
:func:`swjax.bootstrap` draws them (the same resamples for the same seed): with integer model
weights ``w`` the sums above run over the data with model ``i`` repeated ``w_i`` times, the
score is the resample's own (PC1 turned along the full-sample PC1; :class:`swjax.core.Stats`
``score``, one compiled call of :func:`swjax.engine.run`), and ranks are the weighted
mid-ranks ``sum_u w_u ([x_u < x_i] + [x_u = x_i] / 2) + 1/2``, defined for a model left out of
the resample too. With missing cells the rank residuals of a resample are rescaled by
``n / N`` (``N`` the resample's observed weight) so that they stay in ranks among ``n``
models. Intervals are BCa by default (acceleration from the leave-one-model-out jackknife);
a model is *safer than capabilities predict* when its interval lies above 0, *less safe*
when below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from . import engine, intervals, options, resample
from .analysis import as_dataset, float_dtype
from .errors import SwjaxError
from .problem import build_problem

__all__ = [
    "AdjustResult", "adjust", "rank_fit", "linear_fit", "partial_spearman", "weighted_ranks",
    "METHODS",
]

METHODS = ("rank", "linear")
VERDICTS = ("safer than predicted", "less safe than predicted", "as predicted")


@dataclass(frozen=True)
class AdjustResult:
    """Capability-adjusted scores of one benchmark.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by model (observed on the benchmark), in increasing order of the capabilities
        score: ``name``, ``score`` (capabilities score), ``value`` (the benchmark's score),
        ``residual`` (the capability-adjusted score: ranks, or benchmark units when linear),
        ``low``, ``high``, ``se``, ``interval`` (method used), ``verdict`` (one of
        ``safer than predicted``, ``less safe than predicted``, ``as predicted``).
    slopes : pandas.DataFrame
        Rows ``rank`` and ``linear``: ``estimate``, ``low``, ``high``, ``se``, ``interval``;
        with ``partial``, a third row ``partial`` (the partial Spearman correlation).
    distribution : numpy.ndarray
        (n, models + 2 [+ 1]) resampled residuals (table order), rank slope, linear slope
        [, partial correlation]; NaN where degenerate.
    metadata : dict
    """

    table: pd.DataFrame
    slopes: pd.DataFrame
    distribution: np.ndarray = field(repr=False)
    metadata: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        from . import display

        md = self.metadata
        return display.result(
            "AdjustResult",
            dict(set=md.get("set"), benchmark=md.get("benchmark"), method=md.get("method"), n=md.get("n"),
                 interval=md.get("interval"), models=len(self.table)),
            verdicts=self.table["verdict"],
            body=display.rows(self.slopes, what="slopes"),
        )


# ------------------------------------------------------------------ the fits (host, numpy)


def weighted_ranks(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mid-ranks of every entry of ``x`` (m,) under each weight row ``w`` (n, m).

    ``rank_i = sum_u w_u ([x_u < x_i] + [x_u = x_i] / 2) + 1/2``: with integer weights, the
    mid-rank of model ``i`` on the data with model ``u`` repeated ``w_u`` times. ``x`` may also
    be (n, m), one row per weight row. Returns (n, m).
    """
    x = np.asarray(x, np.float64)
    w = np.atleast_2d(np.asarray(w, np.float64))
    if x.ndim == 1:
        cmp = (x[None, :] < x[:, None]) + 0.5 * (x[None, :] == x[:, None])  # (i, u)
        return w @ cmp.T + 0.5
    cmp = (x[:, None, :] < x[:, :, None]) + 0.5 * (x[:, None, :] == x[:, :, None])  # (n, i, u)
    return np.einsum("niu,nu->ni", cmp, w) + 0.5


def _wmean(x, w):
    return (w * x).sum(axis=-1) / w.sum(axis=-1)


def rank_fit(y: np.ndarray, s: np.ndarray, w: np.ndarray):
    """Rank regression of ``y`` on ``s`` under weight rows ``w`` (module docstring).

    ``y`` (m,) with NaN where missing, ``s`` (n, m) or (m,) the score, ``w`` (n, m) integer
    weights. Returns (residuals (n, m), NaN where ``y`` is missing, rescaled to ranks among the
    observed models; slope (n,)).
    """
    y = np.asarray(y, np.float64)
    obs = np.isfinite(y)
    w = np.atleast_2d(np.asarray(w, np.float64)) * obs
    s = np.broadcast_to(np.asarray(s, np.float64), w.shape)
    total = w.sum(axis=1, keepdims=True)
    c = (total + 1) / 2
    ry = weighted_ranks(np.where(obs, y, np.inf), w) - c
    rs = weighted_ranks(np.where(obs, s, np.inf), w) - c
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (w * ry * rs).sum(axis=1) / (w * rs * rs).sum(axis=1)
        resid = (ry - slope[:, None] * rs) * (obs.sum() / total)
    return np.where(obs, resid, np.nan), slope


def linear_fit(y: np.ndarray, s: np.ndarray, w: np.ndarray):
    """Weighted least squares of ``y`` on ``s``: (residuals (n, m), NaN where missing; slope (n,))."""
    y = np.asarray(y, np.float64)
    obs = np.isfinite(y)
    w = np.atleast_2d(np.asarray(w, np.float64)) * obs
    s = np.broadcast_to(np.asarray(s, np.float64), w.shape)
    y0 = np.where(obs, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dy = y0 - _wmean(y0, w)[:, None]
        ds = s - _wmean(s, w)[:, None]
        slope = (w * dy * ds).sum(axis=1) / (w * ds * ds).sum(axis=1)
        resid = dy - slope[:, None] * ds
    return np.where(obs, resid, np.nan), slope


def partial_spearman(a: np.ndarray, b: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Partial Spearman correlation of ``a`` and ``b`` given ``s`` under weight rows ``w`` (n,)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    obs = np.isfinite(a) & np.isfinite(b)
    w = np.atleast_2d(np.asarray(w, np.float64)) * obs
    s = np.broadcast_to(np.asarray(s, np.float64), w.shape)
    c = (w.sum(axis=1, keepdims=True) + 1) / 2
    ra = weighted_ranks(np.where(obs, a, np.inf), w) - c
    rb = weighted_ranks(np.where(obs, b, np.inf), w) - c
    rs = weighted_ranks(np.where(obs, s, np.inf), w) - c

    def r(x, y):
        return (w * x * y).sum(axis=1) / np.sqrt((w * x * x).sum(axis=1) * (w * y * y).sum(axis=1))

    with np.errstate(invalid="ignore", divide="ignore"):
        rab, ras, rbs = r(ra, rb), r(ra, rs), r(rb, rs)
        return (rab - ras * rbs) / np.sqrt((1 - ras**2) * (1 - rbs**2))


# ------------------------------------------------------------------ the analysis


def _benchmark(name, dataset, what: str, capabilities) -> str:
    name = dataset.resolve(name, what)
    if name in capabilities:
        raise SwjaxError(f"{what}: {name!r} is a capability benchmark (part of the score itself)")
    return name


def bootstrap_weights(m: int, n: int, seed: int) -> np.ndarray:
    """(n, m) resample weights, resample ``r`` from ``fold_in(key(seed), r)``.

    The very counts :func:`swjax.bootstrap` draws inside the engine for the same seed.
    """
    key = resample.key_from_seed(seed)
    scheme = resample.bootstrap_scheme(m)
    index = jnp.arange(n, dtype=jnp.uint32)
    return np.asarray(jax.vmap(lambda i: scheme(jax.random.fold_in(key, i)))(index), np.int64)


def adjust(
    data="chat",
    benchmark: str | None = None,
    *,
    method: str = "rank",
    partial: str | None = None,
    scores=None,
    n: int = 2000,
    seed: int = 0,
    interval: str = "bca",
    level: float = 0.95,
    capabilities=None,
    device: str = "auto",
    x64: bool = False,
    score: str = "paper",
) -> AdjustResult:
    """Capability-adjusted score of every model on one benchmark, with intervals.

    Parameters
    ----------
    data : Dataset or {"base", "chat"}
    benchmark : str
        The benchmark (higher = safer). With ``scores`` holding one column, that column.
    method : {"rank", "linear"}
        Rank regression (default) or least squares on the raw scores (module docstring).
    partial : str, optional
        A second benchmark: also the partial Spearman correlation of the two given the score.
    scores : path, DataFrame or Dataset, optional
        Your own benchmark's scores by model, joined to the set as
        :func:`swjax.correlate` does.
    n : int
        Bootstrap resamples (those of :func:`swjax.bootstrap` with the same seed).
    seed : int
    interval : {"bca", "percentile", "basic"}
    level : float
    capabilities : sequence of str, optional
    device : {"auto", "cpu", "gpu"}
    x64 : bool
        Compute the score in float64 (the fits are always float64 on the host).
    score : {"paper", "pearson", "mean-z", "irt", "compute"}
        The capability measure the benchmark is adjusted for (:mod:`swjax.scores`), recomputed
        in every resample. Under ``compute`` the models without FLOP have no score and are left
        out of the fit (as a model without the benchmark's score is).

    Examples
    --------
    >>> res = adjust("chat", "MT_Bench", n=200)
    >>> round(float(res.slopes.loc["rank", "estimate"]), 3)   # Spearman: no ties in MT_Bench
    0.787
    >>> sorted(res.table["verdict"].unique())
    ['as predicted', 'less safe than predicted', 'safer than predicted']
    """
    if method not in METHODS:
        raise SwjaxError(f"method: expected 'rank' or 'linear', got {method!r}")
    opts = options.check(n=n, seed=seed, method=intervals.check_method(interval), level=level, device=device,
                         score=score)
    interval, level, n, score = opts.method, opts.level, opts.n, opts.score
    dataset = as_dataset(data)
    if scores is not None:
        from .user_scores import combine

        dataset, _, _, _, new = combine(dataset, scores)
        if benchmark is None:
            if len(new) != 1:
                raise SwjaxError(f"benchmark: your scores have {len(new)} columns; name the one to adjust")
            benchmark = new[0]
    if benchmark is None:
        raise SwjaxError("benchmark: expected a benchmark name")
    with engine.precision(x64):
        problem, layout = build_problem(dataset, capabilities, None, float_dtype(x64), score=score)
    caps = layout.capabilities
    benchmark = _benchmark(benchmark, dataset, "benchmark", caps)
    if partial is not None:
        partial = _benchmark(partial, dataset, "partial", caps)
        if partial == benchmark:
            raise SwjaxError(f"partial: {partial!r} is the adjusted benchmark itself")
    models = list(layout.models)
    m, k = len(models), len(caps)
    y = dataset.scores.loc[models, benchmark].to_numpy(np.float64)
    if np.isfinite(y).sum() < 5:
        raise SwjaxError(f"benchmark: {benchmark!r} has scores for fewer than 5 models")
    if np.unique(y[np.isfinite(y)]).size < 3:
        raise SwjaxError(f"benchmark: {benchmark!r} has fewer than 3 distinct scores")

    boot_w = bootstrap_weights(m, n, seed)
    jack_w = resample.jackknife_weights(m).astype(np.int64)
    with engine.precision(x64):
        full = engine.run(problem, np.ones((1, m)), fields=("score", "loadings"), device=device)
        ref = full["loadings"][0]
        rows = np.vstack([jack_w, boot_w])
        s_rows = engine.run(problem, rows, ref=ref, fields=("score",), device=device)["score"]
    s_full = full["score"][0].astype(np.float64)
    if not np.isfinite(s_full).all():  # compute: no score without FLOP, the same in every resample
        y = np.where(np.isfinite(s_full), y, np.nan)
        if np.isfinite(y).sum() < 5 or np.unique(y[np.isfinite(y)]).size < 3:
            raise SwjaxError(f"benchmark: {benchmark!r} has scores for fewer than 5 models (or fewer than 3 "
                             f"distinct ones) among those with a {score!r} capability score")
    weights = np.vstack([np.ones((1, m), np.int64), rows])
    s_all = np.vstack([s_full[None], np.asarray(s_rows, np.float64)])

    fit = rank_fit if method == "rank" else linear_fit
    resid, slope = fit(y, s_all, weights)
    _, rank_slope = rank_fit(y, s_all, weights) if method == "linear" else (None, slope)
    _, lin_slope = linear_fit(y, s_all, weights) if method == "rank" else (None, slope)
    obs = np.isfinite(y)
    order = np.argsort(np.where(obs, s_full, np.inf), kind="stable")[: obs.sum()]
    cols = [resid[:, order], rank_slope[:, None], lin_slope[:, None]]
    if partial is not None:
        yb = dataset.scores.loc[models, partial].to_numpy(np.float64)
        cols.append(partial_spearman(y, yb, s_all, weights)[:, None])
    stat = np.concatenate(cols, axis=1)
    est, jack, dist = stat[0], stat[1 : m + 1], stat[m + 1 :]
    low, high, used = intervals.interval(dist, est, level, interval, jack)
    se = intervals.standard_error(dist)
    n_res = len(order)

    verdict = np.full(n_res, "as predicted", dtype=object)
    verdict[low[:n_res] > 0] = "safer than predicted"
    verdict[high[:n_res] < 0] = "less safe than predicted"
    picked = [models[i] for i in order]
    names = dataset.meta["name"].reindex(picked) if "name" in dataset.meta.columns else pd.Series(picked, index=picked)
    table = pd.DataFrame(
        {
            "name": names.fillna(pd.Series(picked, index=picked)).to_numpy(),
            "score": s_full[order],
            "value": y[order],
            "residual": est[:n_res],
            "low": low[:n_res],
            "high": high[:n_res],
            "se": se[:n_res],
            "interval": used[:n_res],
            "verdict": verdict,
        },
        index=pd.Index(picked, name="model"),
    )
    labels = ["rank", "linear"] + (["partial"] if partial is not None else [])
    sl = slice(n_res, None)
    slopes = pd.DataFrame(
        {"estimate": est[sl], "low": low[sl], "high": high[sl], "se": se[sl], "interval": used[sl]},
        index=pd.Index(labels, name="statistic"),
    )
    from ._version import __version__

    metadata = dict(
        set=dataset.label, benchmark=benchmark, benchmark_name=dataset.display_name(benchmark),
        method=method, partial=partial, n=n, seed=seed, interval=interval, level=level,
        n_models=n_res, capabilities=list(caps), score=score, dtype=np.dtype(float_dtype(x64)).name,
        units="ranks among the observed models" if method == "rank" else "benchmark units",
        version=__version__,
    )
    return AdjustResult(table=table, slopes=slopes, distribution=dist, metadata=metadata)
