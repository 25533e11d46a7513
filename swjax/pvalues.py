"""Permutation p-values for capabilities correlations, and false-discovery-rate q-values.

The permutation test holds the capabilities score fixed and permutes a benchmark's scores
among the models where the benchmark is observed: under the null of no association every
permutation is as likely as the observed pairing. Correlations of a permutation share their
denominator with the observed one, so the test compares the numerators ``sum(a[perm] * b)``
of centred mid-ranks, which are exact (multiples of 1/4), and ``|numerator| >= |observed|``
counts ties as extreme without a floating-point tolerance.
"""

from __future__ import annotations

import jax
import numpy as np

from . import engine
from .errors import SwjaxError
from .ranks import column_ranks_host

__all__ = ["permutation_pvalues", "bh_qvalues", "by_qvalues"]


def _centred_ranks(problem, y: np.ndarray):
    """Full-sample centred mid-ranks of each column and of ``y`` over the column's pairs."""
    obs = np.asarray(problem.obs, np.float64)
    y = np.asarray(y, np.float64)
    y_obs = np.isfinite(y).astype(np.float64)
    u = obs * y_obs  # (q, m)
    n = u.sum(axis=1, keepdims=True)
    a = column_ranks_host(problem, y_obs) - n / 2
    y_cmp = (y[None, :] < y[:, None]) + 0.5 * (y[None, :] == y[:, None])
    b = u @ y_cmp.T - n / 2
    return a, b, u > 0


def permutation_pvalues(problem, y: np.ndarray, n_permutations: int, key) -> np.ndarray:
    """Two-sided permutation p-values ``(b + 1) / (N + 1)`` of every ranked column.

    Parameters
    ----------
    problem : Problem
    y : (m,) target values: the full-sample capabilities score, or the ``against`` column.
    n_permutations : int
        N, at least 1.
    key : jax key
        Permutation ``r`` of pattern ``p`` uses ``fold_in(fold_in(key, p), r)``.
    """
    if n_permutations < 1:
        raise SwjaxError(f"permutations: expected a positive integer, got {n_permutations}")
    a, b, pairs = _centred_ranks(problem, y)
    q = a.shape[0]
    pvalues = np.full(q, np.nan)
    patterns, inverse = np.unique(pairs, axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        cols = np.flatnonzero(inverse.ravel() == p)
        idx = np.flatnonzero(pattern)
        if len(idx) < 3:
            continue
        A = a[cols][:, idx]  # (J, n)
        bp = b[cols[0], idx]  # the target's ranks are shared by the pattern's columns
        observed = np.abs(A @ bp)
        degenerate = (np.abs(A).sum(axis=1) == 0) | (np.abs(bp).sum() == 0)
        count = np.zeros(len(cols), np.int64)

        def tally(perms, A=A, bp=bp, observed=observed, count=count):
            count += np.sum(np.abs(bp[perms] @ A.T) >= observed, axis=0)  # (rows, J) numerators

        engine.permutations(jax.random.fold_in(key, p), n_permutations, len(idx), tally)
        pvalues[cols] = np.where(degenerate, np.nan, (count + 1) / (n_permutations + 1))
    return pvalues


def bh_qvalues(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN p-values are left out."""
    return _step_up(pvalues, by=False)


def by_qvalues(pvalues) -> np.ndarray:
    """Benjamini-Yekutieli adjusted p-values, valid under any dependence between benchmarks."""
    return _step_up(pvalues, by=True)


def _step_up(pvalues, by: bool) -> np.ndarray:
    p = np.asarray(pvalues, np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    n = int(ok.sum())
    if n == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv)
    scale = n / np.arange(1, n + 1)
    if by:
        scale = scale * np.sum(1.0 / np.arange(1, n + 1))
    adjusted = np.minimum.accumulate((pv[order] * scale)[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(adjusted, 1.0)
    out[ok] = q
    return out
