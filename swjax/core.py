"""The statistic for one (model weights, capability mask) pair: pure and jittable.

Everything the Safetywashing analysis computes is written as a function of

    statistic(problem, w, c, ref)

with ``w`` integer model weights (m,) and ``c`` a 0/1 capability mask (k,). With integer
weights every weighted quantity equals the unweighted one on the data with model ``i`` repeated
``w[i]`` times, so a bootstrap resample is ``w = counts``, the jackknife is ``w = 1`` with one 0,
and leaving capability benchmarks out is ``c`` with zeros: one function, one compilation.
Copies of a model share one score, so they tie exactly, as the released pipeline needs.

Steps (shared/design.md):

1. weighted z-scores of the capability columns (ddof = 0);
2. weighted Spearman matrix of the capability columns (weighted Pearson of mid-ranks);
3. PC1 of that matrix with rows and columns of masked capabilities zeroed;
4. capabilities score = z-scores @ PC1;
5. weighted Spearman correlation of every ranked column with the score (or the ``against``
   column), pairwise-complete: ranks of both sides over the models where the column is observed.

Mid-ranks need no sort: ``rank = cmp @ u + 1/2`` (see :mod:`swjax.problem`), and because the
mean mid-rank over total weight ``W`` is exactly ``(W + 1) / 2``, the centred ranks are
``cmp @ u - W / 2``: small multiples of 1/2, exact in float32.

Data-dependent failures never raise here: a column constant among the drawn models, or with
fewer than 3 distinct drawn models, gets NaN; a resample in which a kept capability benchmark
is constant gets NaN everywhere.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax import Array

from .problem import Problem

__all__ = ["Stats", "statistic", "MIN_PAIRS"]

#: A correlation needs at least this many distinct models with weight.
MIN_PAIRS = 3


class Stats(NamedTuple):
    """What the statistic returns for one (w, c); a batch axis comes first under vmap.

    Attributes
    ----------
    corr : (q,) Spearman correlation of each ranked column with the target; NaN if degenerate.
    n_pairs : (q,) total model weight behind each correlation.
    score : (m,) capabilities score of each model (for models of weight 0 too).
    loadings : (k,) PC1, zero on masked capabilities, signed as described in :func:`statistic`.
    eigenvalues : (k,) of the masked capability correlation matrix, largest first.
    variance_explained : () largest eigenvalue / number of kept capabilities.
    cap_corr : (k, k) capability Spearman matrix, zero rows/columns where masked.
    mean_intercorr, std_intercorr : () mean and std (ddof 0) of the kept off-diagonal entries.
    rule_flip : () True where the released sign rule points PC1 against ``ref``.
    cos_ref : () |cos| between PC1 and ``ref`` (1 when no ``ref``).
    """

    corr: Array
    n_pairs: Array
    score: Array
    loadings: Array
    eigenvalues: Array
    variance_explained: Array
    cap_corr: Array
    mean_intercorr: Array
    std_intercorr: Array
    rule_flip: Array
    cos_ref: Array


def _released_sign(v: Array) -> Array:
    """+1 where the largest-magnitude loading is positive (the released rule), else -1."""
    return jnp.where(jnp.max(v) >= jnp.max(jnp.abs(v)), 1.0, -1.0).astype(v.dtype)


def _pc1(corr: Array, c: Array, ref: Array | None):
    """Top eigenpair of the masked matrix, signed by ``ref`` (dot product) or the released rule."""
    masked = corr * c[:, None] * c[None, :]
    vals, vecs = jnp.linalg.eigh(masked)
    v = vecs[:, -1] * c
    v = v / jnp.linalg.norm(v)
    rule = _released_sign(v)
    if ref is None:
        return v * rule, vals[::-1], jnp.zeros((), bool), jnp.ones((), v.dtype)
    dot = jnp.dot(v, ref) / jnp.linalg.norm(ref)
    sign = jnp.where(dot < 0, -1.0, 1.0).astype(v.dtype)
    return v * sign, vals[::-1], rule != sign, jnp.abs(dot)


def _weighted_corr(a: Array, b: Array, u: Array, tol) -> Array:
    """Pearson correlation of centred ranks ``a``, ``b`` (..., m) under weights ``u`` (..., m)."""
    cov = jnp.sum(u * a * b, axis=-1)
    va = jnp.sum(u * a * a, axis=-1)
    vb = jnp.sum(u * b * b, axis=-1)
    ok = (va > tol) & (vb > tol) & (jnp.sum(u > 0, axis=-1) >= MIN_PAIRS)
    r = cov / jnp.sqrt(jnp.where(ok, va * vb, 1.0))
    return jnp.where(ok, jnp.clip(r, -1.0, 1.0), jnp.nan)


def statistic(problem: Problem, w: Array, c: Array, ref: Array | None = None) -> Stats:
    """The whole Safetywashing pipeline for model weights ``w`` and capability mask ``c``.

    Parameters
    ----------
    problem : Problem
        Arrays built by :func:`swjax.problem.build_problem`.
    w : (m,) array
        Non-negative integer model weights (stored in the problem's float dtype).
    c : (k,) array
        1 for a capability benchmark kept in the score, 0 for one left out (at least 2 ones).
    ref : (k,) array, optional
        Reference direction for the sign of PC1. None: the released rule (largest-magnitude
        loading positive). Given: PC1 is turned to point along ``ref`` (positive dot product)
        and ``rule_flip`` says whether the released rule would have disagreed.

    Returns
    -------
    Stats
    """
    dtype = problem.caps.dtype
    w = jnp.asarray(w, dtype)
    c = jnp.asarray(c, dtype)
    total = jnp.sum(w)
    # A variance of mid-ranks is 0 or at least W(W-1)/4 >= 1/2 (times W, as summed here).
    tol = jnp.asarray(0.25, dtype)

    # 1-2. Spearman matrix of the capability columns: weighted Pearson of centred mid-ranks.
    cap_cmp = problem.cmp[problem.cap_index]  # (k, m, m)
    a = cap_cmp @ w - total / 2  # (k, m)
    cov = (a * w) @ a.T
    sd = jnp.sqrt(jnp.diag(cov))
    kept = c > 0
    valid = jnp.all(jnp.where(kept, sd > 0, True))
    denom = jnp.where(valid, sd[:, None] * sd[None, :], 1.0)
    corr = jnp.where(valid, cov / denom, jnp.eye(cov.shape[0], dtype=dtype))

    # 3. PC1 of the masked matrix.
    v, eigenvalues, rule_flip, cos_ref = _pc1(corr, c, ref)
    n_kept = jnp.sum(c)
    variance_explained = eigenvalues[0] / n_kept

    pair = jnp.triu(c[:, None] * c[None, :], 1)
    n_pair = jnp.sum(pair)
    mean_ic = jnp.sum(pair * corr) / n_pair
    std_ic = jnp.sqrt(jnp.sum(pair * (corr - mean_ic) ** 2) / n_pair)

    # 1, 4. Weighted z-scores (ddof 0) and the capabilities score.
    x = problem.caps
    mean = (w @ x) / total
    sdx = jnp.sqrt((w @ (x - mean) ** 2) / total)
    use = kept & (sdx > 0)
    z = jnp.where(use, (x - mean) / jnp.where(use, sdx, 1.0), 0.0)
    score = z @ v

    # 5. Pairwise-complete weighted Spearman of every column with the target.
    if problem.target is None:
        y, y_obs = score, jnp.ones_like(w)
    else:
        y = problem.target
        y_obs = jnp.isfinite(y).astype(dtype)
    y_cmp = (y[None, :] < y[:, None]) + 0.5 * (y[None, :] == y[:, None])  # (m, m)
    u = w * problem.obs * y_obs  # (q, m) pair weights of each column
    n_pairs = jnp.sum(u, axis=-1)
    ranks = jnp.einsum("qiu,u->qi", problem.cmp, w * y_obs) - n_pairs[:, None] / 2
    y_ranks = (u @ y_cmp.astype(dtype).T) - n_pairs[:, None] / 2  # (q, m)
    col_corr = _weighted_corr(ranks, y_ranks, u, tol)

    nan = jnp.asarray(jnp.nan, dtype)
    invalid = ~valid
    return Stats(
        corr=jnp.where(invalid, nan, col_corr),
        n_pairs=n_pairs,
        score=jnp.where(invalid, nan, score),
        loadings=jnp.where(invalid, nan, v),
        eigenvalues=jnp.where(invalid, nan, eigenvalues),
        variance_explained=jnp.where(invalid, nan, variance_explained),
        cap_corr=jnp.where(invalid, nan, corr * c[:, None] * c[None, :]),
        mean_intercorr=jnp.where(invalid, nan, mean_ic),
        std_intercorr=jnp.where(invalid, nan, std_ic),
        rule_flip=rule_flip & valid,
        cos_ref=jnp.where(invalid, nan, cos_ref),
    )
