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
(exact in float32 below 2^23), so both forms give the same ranks. The target (capabilities
score) changes with every resample: its ranks come from one sort per resample of integer keys
in the order of the score (:func:`order_keys`), each model's tie group found by a binary
search of its key (:func:`tie_groups`), so exactly equal scores tie exactly as in the
comparison form, and the group weights cumulated as above (:func:`target_ranks`).

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
    "order_keys",
    "per_row",
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


#: A cumulative sum along ``m`` runs as matrix products over blocks of about ``(2 m)^(1/3)``
#: elements (a power of two, at least this many). XLA lowers ``jnp.cumsum`` on the CPU to a
#: windowed reduction that costs about 15 ns per element (a quarter of the sort path's time at
#: 4,500 models); the blocked products cost ``2 x block`` multiply-adds per element at the
#: machine's matrix-product speed.
CUMSUM_MIN_BLOCK = 8


def _cumsum_block(m: int) -> int:
    """Block length of :func:`_exclusive_cumsum` for ``m`` elements: minimises ``m b + (m / b)^2``."""
    b = CUMSUM_MIN_BLOCK
    while b * b * b < 2 * m:
        b *= 2
    return b


def _exclusive_cumsum(v: Array) -> Array:
    """(..., m) -> (..., m + 1), starting with 0: ``S[p]`` = sum of ``v[:p]``.

    For the integer weights summed here every partial sum is an integer below 2^24 (float32),
    so the products give the exact sums in any order (``Precision.HIGHEST``: no reduced-precision
    inputs on accelerators that would otherwise round them). Within each block of ``b``
    elements an inclusive sum is one product with an upper-triangular matrix of ones; the
    blocks' totals are summed by one more such product, and added to their blocks.
    """
    m = v.shape[-1]
    b = _cumsum_block(m)
    nb = -(-(m + 1) // b)
    lead = v.shape[:-1]
    # One zero in front (the exclusive sum), zeros behind to whole blocks.
    x = jnp.concatenate([jnp.zeros(lead + (1,), v.dtype), v, jnp.zeros(lead + (nb * b - m - 1,), v.dtype)], axis=-1)
    x = x.reshape(lead + (nb, b))
    hi = lax.Precision.HIGHEST
    within = jnp.matmul(x, jnp.triu(jnp.ones((b, b), v.dtype)), precision=hi)  # inclusive, per block
    before = jnp.matmul(within[..., -1], jnp.triu(jnp.ones((nb, nb), v.dtype), 1), precision=hi)  # earlier blocks
    return (within + before[..., None]).reshape(lead + (nb * b,))[..., : m + 1]


def per_row(index: Array, v: Array) -> Array:
    """``index`` unchanged, but computed from ``v``: under ``vmap`` one copy per row of ``v``.

    A gather by a fixed index table from a vmapped array is lowered by XLA's CPU backend with
    the batch as the minor dimension of every gathered slice (a transpose before, one after,
    and 30 ns per element at 4,500 models x 66 resamples); with one index per row it is a plain
    gather per row, 3-6x faster (``benchmarks/bench_scale.py``). The select with equal
    branches costs nothing; ``v == v`` holds for the finite weights passed here.
    """
    return jnp.where(v[..., :1] == v[..., :1], index, index)


def column_ranks(order: Array, tie_lo: Array, tie_hi: Array, v: Array) -> Array:
    """``cmp @ v`` for every column of the sort tables (q, m), weights ``v`` (m,): (q, m)."""
    s = _exclusive_cumsum(_take(jnp.broadcast_to(v, order.shape), per_row(order, v)))
    lo = _take(s, per_row(tie_lo, v))
    hi = _take(s, per_row(tie_hi, v))
    return lo + (hi - lo) / 2


def _take(x: Array, index: Array) -> Array:
    """``x[..., index]`` row by row for indices known to be in bounds (no clamping)."""
    return jnp.take_along_axis(x, index, axis=-1, mode="promise_in_bounds")


def order_keys(y: Array) -> Array:
    """Integers in the order of the floats ``y`` (the same width): equal floats, equal keys.

    The bits of a float read as a signed integer are in its order for positive values and in
    reverse order for negative ones, so the magnitude bits of negative values are flipped;
    -0.0 becomes 0.0 and every NaN the one positive NaN, the largest key.
    """
    itype = jnp.int64 if y.dtype == jnp.float64 else jnp.int32
    y = jnp.where(y == 0, jnp.zeros_like(y), y)
    y = jnp.where(jnp.isnan(y), jnp.full_like(y, jnp.nan), y)
    i = lax.bitcast_convert_type(y, itype)
    bits = jnp.iinfo(itype).bits
    return i ^ ((i >> (bits - 1)) & jnp.iinfo(itype).max)


def tie_groups(y: Array, tiebreak: Array | None = None) -> Array:
    """(m,) int32 labels of ``y``'s tie groups, increasing with ``y``: equal values share one.

    Each model's label is the number of models with a smaller value (its group's first
    position in sorted order), so ``[g_u < g_i] + [g_u == g_i] / 2`` is the comparison matrix
    of ``y``. The labels come from one sort of integer keys (:func:`order_keys`), looked up by
    binary search: integers compare one way whatever XLA fuses, where a float computed twice
    may round two ways, and a sort of one integer operand costs a sixth of a sort of floats
    that carries the models' indices along (XLA's CPU sort, 4,500 values).

    ``tiebreak`` (m,) int32, optional: a second key. Values equal in the kernel's dtype but
    different on the host (two float64 scores that float32 rounds together) are told apart
    by their host order, so that ranks are those of the values as read whatever the dtype.
    """
    keys = order_keys(y)
    if tiebreak is None:
        return jnp.searchsorted(lax.sort(keys), keys, side="left").astype(jnp.int32)
    m = y.shape[0]
    ks, tb, order = lax.sort((keys, tiebreak, jnp.arange(m, dtype=jnp.int32)), num_keys=2)
    pos = jnp.arange(m, dtype=jnp.int32)
    new = jnp.concatenate([jnp.ones((1,), bool), (ks[1:] != ks[:-1]) | (tb[1:] != tb[:-1])])
    first = lax.cummax(jnp.where(new, pos, 0), axis=0)  # the sorted position of each group's first
    return jnp.zeros(y.shape, jnp.int32).at[order].set(first)


def target_ranks(y: Array, u: Array, tiebreak: Array | None = None) -> Array:
    """``u @ cmp(y).T`` for one target ``y`` (m,) and weights ``u`` (P, m): (P, m); ``tiebreak``
    as in :func:`tie_groups`.

    ``cmp(y)[i, v] = [y_v < y_i] + [y_v == y_i] / 2``; NaN targets compare false both ways, so
    their own rank is 0 and they add nothing to others (their weight must be 0 in ``u``).

    With ``g`` the tie-group labels (:func:`tie_groups`), each group's weight is summed at its
    label's position, and a model's rank is the weight at positions before its group's plus
    half its group's: O(m log m) for the sort, O(P m) for the rest.
    """
    g = tie_groups(y, tiebreak)
    m = y.shape[0]
    group_weight = jnp.zeros(u.shape[:-1] + (m,), u.dtype).at[..., g].add(u)
    s = _exclusive_cumsum(group_weight)
    r = s[..., g] + group_weight[..., g] / 2
    return jnp.where(jnp.isfinite(y), r, 0)


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
