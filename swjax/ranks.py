"""Weighted mid-ranks without an ``models x models`` comparison matrix: the sort-based path.

The comparison form of :mod:`swjax.problem` stores ``cmp[j, i, u] = [x_u < x_i] + [x_u == x_i]/2``
for every ranked column, ``columns x models^2`` numbers: 26 models x 180 columns is 0.5 MB, but
2,000 models x 2,000 columns would be 32 GB. The sort form stores, per column, ``columns x
models`` integers computed once on the host:

* ``order[j]``: the models sorted by their value in column ``j``, missing values last;
* ``tie_lo[j, i]``, ``tie_hi[j, i]``: the first and one-past-last position, in that order, of
  the group of models tied with model ``i`` (``0, 0`` where model ``i`` is missing).

For any model weights ``v``, the weighted mid-rank of model ``i`` is then

    S = exclusive cumsum of v[order[j]]            (S[p] = weight sorted before position p)
    rank_i = S[tie_lo] + (S[tie_hi] - S[tie_lo]) / 2

which is ``cmp[j, i] @ v`` exactly: with integer weights every term is an integer or a half
(exact in float32 below 2^23), so both forms give the same bits. The target (capabilities
score) changes with every resample: its ranks come from an argsort of the score per resample
and the same cumsum, with the tie groups found by comparing neighbours in sorted order, so
exactly equal scores tie exactly as in the comparison form.

:func:`choose` picks the form: the comparison tensor for at most :data:`COMPARE_MAX_MODELS`
models while it takes at most :data:`COMPARE_BUDGET_BYTES`, the sort form beyond.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax
import numpy as np
from jax import Array

from .errors import SwjaxError

__all__ = [
    "COMPARE_BUDGET_BYTES",
    "COMPARE_MAX_MODELS",
    "RANK_PATHS",
    "choose",
    "sort_tables",
    "column_ranks",
    "target_ranks",
    "tie_groups",
    "column_ranks_host",
]

#: Largest comparison tensor (columns x models^2 numbers) built before switching to the sort
#: form. 256 MiB: the public matrices (180 x 27^2 numbers, 0.5 MB) stay on the comparison
#: form.
COMPARE_BUDGET_BYTES = 256 * 2**20
#: Most models for which "auto" takes the comparison form. Up to here it carries the bilinear
#: :class:`swjax.problem.Pairs` (exact in float32); beyond, without them, the comparison form
#: is 1.2x and 3.8x slower than the sort form per resample on a CPU (130 and 200 models,
#: ``benchmarks/bench_ranks.py``), with the same numbers.
COMPARE_MAX_MODELS = 128

RANK_PATHS = ("auto", "compare", "sort")


def choose(q: int, m: int, dtype, ranks: str = "auto") -> str:
    """``"compare"`` or ``"sort"`` for ``q`` columns of ``m`` models (``ranks`` may force one)."""
    if ranks not in RANK_PATHS:
        raise SwjaxError(f"ranks: expected one of {', '.join(RANK_PATHS)}, got {ranks!r}")
    if ranks != "auto":
        return ranks
    small = m <= COMPARE_MAX_MODELS and q * m * m * np.dtype(dtype).itemsize <= COMPARE_BUDGET_BYTES
    return "compare" if small else "sort"


def sort_tables(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(order, tie_lo, tie_hi)`` of the columns ``values`` (q, m), NaN as missing; int32."""
    x = np.asarray(values, np.float64)
    q, m = x.shape
    order = np.argsort(x, axis=1, kind="stable")  # NaN last
    xs = np.take_along_axis(x, order, axis=1)
    finite = np.isfinite(xs)
    pos = np.broadcast_to(np.arange(m), (q, m))
    new = np.ones((q, m), bool)
    new[:, 1:] = xs[:, 1:] != xs[:, :-1]
    lo_sorted = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
    end = np.ones((q, m), bool)
    end[:, :-1] = new[:, 1:]
    hi_sorted = np.minimum.accumulate(np.where(end, pos + 1, m)[:, ::-1], axis=1)[:, ::-1]
    lo_sorted = np.where(finite, lo_sorted, 0)
    hi_sorted = np.where(finite, hi_sorted, 0)
    tie_lo = np.empty((q, m), np.int64)
    tie_hi = np.empty((q, m), np.int64)
    np.put_along_axis(tie_lo, order, lo_sorted, axis=1)
    np.put_along_axis(tie_hi, order, hi_sorted, axis=1)
    return order.astype(np.int32), tie_lo.astype(np.int32), tie_hi.astype(np.int32)


def _exclusive_cumsum(v: Array) -> Array:
    """(..., m) -> (..., m + 1), starting with 0."""
    zero = jnp.zeros(v.shape[:-1] + (1,), v.dtype)
    return jnp.concatenate([zero, jnp.cumsum(v, axis=-1)], axis=-1)


def column_ranks(order: Array, tie_lo: Array, tie_hi: Array, v: Array) -> Array:
    """``cmp @ v`` for every column of the sort tables (q, m), weights ``v`` (m,): (q, m)."""
    s = _exclusive_cumsum(v[order])
    lo = jnp.take_along_axis(s, tie_lo, axis=-1)
    hi = jnp.take_along_axis(s, tie_hi, axis=-1)
    return lo + (hi - lo) / 2


def _sorted_ties(y: Array):
    """``(ys, order, lo, hi)`` of one target ``y`` (m,): its values in sorted order (NaN last),
    the sort order, and each sorted position's tie group, first and one-past-last position.

    The sorted values come out of the sort itself, never from ``y[order]``. XLA may fuse the
    computation of ``y`` into each of its consumers and evaluate it once per use, and two
    evaluations of one float expression can round differently (one vectorized, one not): the
    comparison ``y[:, None] < y[None, :]`` of a freshly computed score once found a score
    smaller than itself, and a gather ``y[order]`` could disagree with the order the sort saw.
    A sort's outputs are one materialized buffer, so order and tie groups agree by construction.
    """
    m = y.shape[0]
    ys, order = lax.sort((y, jnp.arange(m, dtype=jnp.int32)), num_keys=1)
    pos = jnp.arange(m, dtype=jnp.int32)
    same = ys[1:] == ys[:-1]
    new = jnp.concatenate([jnp.ones((1,), bool), ~same])
    end = jnp.concatenate([~same, jnp.ones((1,), bool)])
    lo = lax.cummax(jnp.where(new, pos, 0), axis=0)
    hi = lax.cummin(jnp.where(end, pos + 1, m), axis=0, reverse=True)
    return ys, order, lo, hi


def target_ranks(y: Array, u: Array) -> Array:
    """``u @ cmp(y).T`` for one target ``y`` (m,) and weights ``u`` (P, m): (P, m).

    ``cmp(y)[i, v] = [y_v < y_i] + [y_v == y_i] / 2``; NaN targets compare false both ways, so
    their own rank is 0 and they add nothing to others (their weight must be 0 in ``u``).
    """
    ys, order, lo, hi = _sorted_ties(y)
    finite = jnp.isfinite(ys)
    s = _exclusive_cumsum(u[:, order])
    r_sorted = s[:, lo] + (s[:, hi] - s[:, lo]) / 2
    r_sorted = jnp.where(finite, r_sorted, 0)
    return jnp.zeros_like(r_sorted).at[:, order].set(r_sorted)


def tie_groups(y: Array, tiebreak: Array | None = None) -> Array:
    """(m,) int32 labels of ``y``'s tie groups, increasing with ``y``: equal values share one.

    Each model's label is the sorted position of the first model tied with it, so
    ``[g_u < g_i] + [g_u == g_i] / 2`` is the comparison matrix of ``y`` computed from
    integers, consistent whatever XLA fuses (see :func:`_sorted_ties`).

    ``tiebreak`` (m,) int32, optional: a second key. Values equal in the kernel's dtype but
    different on the host (two float64 scores that float32 rounds together) are told apart
    by their host order, so that ranks are those of the values as read whatever the dtype.
    """
    if tiebreak is None:
        _, order, lo, _ = _sorted_ties(y)
        return jnp.zeros(y.shape, jnp.int32).at[order].set(lo)
    m = y.shape[0]
    ys, tb, order = lax.sort((y, tiebreak, jnp.arange(m, dtype=jnp.int32)), num_keys=2)
    pos = jnp.arange(m, dtype=jnp.int32)
    new = jnp.concatenate([jnp.ones((1,), bool), (ys[1:] != ys[:-1]) | (tb[1:] != tb[:-1])])
    lo = lax.cummax(jnp.where(new, pos, 0), axis=0)
    return jnp.zeros(y.shape, jnp.int32).at[order].set(lo)


def column_ranks_host(problem, v: np.ndarray) -> np.ndarray:
    """``cmp @ v`` of every ranked column on the host in float64, for either form of ``problem``."""
    v = np.asarray(v, np.float64)
    if problem.cmp is not None:
        return np.einsum("qiu,u->qi", np.asarray(problem.cmp, np.float64), v)
    order = np.asarray(problem.order)
    s = np.concatenate([np.zeros((order.shape[0], 1)), np.cumsum(v[order], axis=1)], axis=1)
    lo = np.take_along_axis(s, np.asarray(problem.tie_lo), axis=1)
    hi = np.take_along_axis(s, np.asarray(problem.tie_hi), axis=1)
    return lo + (hi - lo) / 2
