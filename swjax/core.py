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
4. capabilities score = z-scores . PC1, row by row (identical rows get identical scores);
5. weighted Spearman correlation of every ranked column with the score (or the ``against``
   column), pairwise-complete: ranks of both sides over the models where the column is observed.

Mid-ranks need no sort: ``rank = cmp @ u + 1/2`` (see :mod:`swjax.problem`), and because the
mean mid-rank over total weight ``W`` is exactly ``(W + 1) / 2``, the centred ranks are
``cmp @ u - W / 2``: small multiples of 1/2, exact in float32.

The columns of the most common pair set are not even ranked (:class:`swjax.problem.Pairs`):
their covariance with the target's ranks is the bilinear form ``<S_j, g w^T>`` of a fixed
sign matrix, one matrix product for all of them, and their rank variance the tie formula
``(n^3 - sum t^3) / 12``; exact too, so the numbers are those of the ranks bit for bit.

Problems too large for the comparison tensor carry sort tables instead (:mod:`swjax.ranks`):
the same ranks from a cumulative sum in sort order, and the target's ranks from an argsort of
the score per resample; the choice is static (``problem.cmp is None``), the numbers identical.

Data-dependent failures never raise here: a column constant among the drawn models, or with
fewer than 3 distinct drawn models, gets NaN; a resample in which a kept capability benchmark
is constant gets NaN everywhere.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax

from . import ranks as _ranks
from . import scores as _scores
from .problem import Problem

__all__ = [
    "Stats", "WeightState", "statistic", "weight_state", "finish", "MIN_PAIRS", "SIGN_TIE",
    "impute_capabilities", "weight_state_imputed", "IMPUTE_SWEEPS", "ORTHOGONAL", "complete_spectrum",
]

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


class WeightState(NamedTuple):
    """Everything that depends on the model weights but not on the capability mask.

    :func:`finish` turns it into :class:`Stats` for one mask, so many masks can share it
    (capability subsets x bootstrap resamples).
    """

    total: Array  # () total weight
    cap_corr: Array  # (k, k) Spearman matrix of all capability columns
    cap_sd: Array  # (k,) rank spread of each capability column (0: constant)
    z: Array  # (m, k) weighted z-scores (0 where a column is constant)
    ranks: Array  # (q, m) centred mid-ranks of every column over its pair set (only of the
    #               columns outside problem.pairs when the state was built with pairs)
    va: Array  # (q,) weighted sum of squared centred ranks
    n_pat: Array  # (P,) total weight of each pattern
    distinct_pat: Array  # (P,) models with weight in each pattern


# Sums and norms of floats over a short axis, written as elementwise additions in a fixed order.
#
# XLA vectorizes a reduction differently for different array shapes and device layouts, which
# can change the last bit of a sum. Written as pairwise additions of slices, every resample's
# numbers are the same bits whatever the batch size, the number of devices or the rest of the
# program (tests/test_bootstrap.py checks every field). Matrix products (dot_general) keep one
# order per element already, and sums of ranks and weights need none of this: their terms are
# small multiples of 1/4, exact in any order. A division by a per-resample scalar is written
# as a product with its reciprocal for the same reason: XLA makes that rewrite itself in some
# programs and not in others.


def _fsum(x: Array) -> Array:
    """Sum along the last axis by pairwise additions of its slices (a short, fixed axis)."""
    parts = [x[..., i] for i in range(x.shape[-1])]
    while len(parts) > 1:
        parts = [a + b for a, b in zip(parts[::2], parts[1::2])] + parts[len(parts) - len(parts) % 2:]
    return parts[0]


def _one_buffer(x, total: Array):
    """``x``, computed once into one buffer that every consumer reads.

    XLA fuses a cheap computation into each of its consumers and evaluates it once per
    consumer, and two evaluations of one float expression can round differently (one
    vectorized, one not): comparisons of a score with itself then see two different scores.
    ``lax.optimization_barrier`` does not prevent this on the CPU (XLA removes it before
    fusion); a loop's result is a buffer. The loop never runs: its condition, ``total < 0``,
    is false for every (non-negative) total weight, which XLA cannot know.
    """
    def never(state):
        return state[0] < 0

    def body(state):  # not the identity, which XLA would remove with the loop
        t, x = state
        return t + 1, jax.tree.map(lambda a: -a, x)

    return lax.while_loop(never, body, (total, x))[1]


def _dot(x: Array, y: Array) -> Array:
    return _fsum(x * y)


def _norm(x: Array) -> Array:
    return jnp.sqrt(_dot(x, x))


#: Loadings whose magnitudes differ by less than this (on the unit PC1) count as tied for the
#: sign rule. Above float32's rounding of PC1 and the same for every dtype, so float32 and
#: float64 pick the same sign; far below any difference of loadings seen in real data.
SIGN_TIE = 1e-5


#: A PC1 whose |cos| with the reference direction is at most this is orthogonal to it for the
#: purpose of its sign: the reference cannot orient it (the sign of the dot product would be
#: rounding noise), and the released rule does. This happens, for one, to a two-benchmark
#: subset whose correlation turns negative in a resample: its PC1 is then exactly the
#: difference of the two benchmarks, orthogonal to their sum.
ORTHOGONAL = 1e-4


def _sign_rule(v: Array) -> Array:
    """+1 or -1: the sign that makes the largest-magnitude loading of ``v`` positive.

    The released rule, made deterministic where it is not defined: when several loadings tie
    in magnitude (within :data:`SIGN_TIE`) with opposite signs, the released script's choice
    depends on the eigensolver's rounding; here the first of them in capability order is made
    positive. Where one loading is clearly largest this is exactly the released rule.
    """
    a = jnp.abs(v)
    first = jnp.argmax(a >= jnp.max(a) - SIGN_TIE)  # the first tied loading
    return jnp.where(v[first] >= 0, 1.0, -1.0).astype(v.dtype)


@jax.custom_batching.custom_vmap
def _eigh(x: Array):
    return tuple(jnp.linalg.eigh(x))


@_eigh.def_vmap
def _eigh_vmap(axis_size, in_batched, x):
    # With several CPU devices (sharded resamples), one eigensolver call per matrix in a loop:
    # the batched CPU kernel splits its batch over the shared thread pool and waits for it,
    # which deadlocks when several CPU devices run it at once on few cores. Each matrix goes
    # through the same LAPACK routine either way: the same bits. Elsewhere (one CPU device,
    # GPUs) the batched solver, which is faster and, on a GPU, one kernel instead of a loop.
    def batched(x):
        return tuple(jnp.linalg.eigh(x))

    def on_cpu(x):
        return lax.map(_eigh, x) if len(jax.devices("cpu")) > 1 else batched(x)

    return lax.platform_dependent(x, cpu=on_cpu, default=batched), (True, True)


# Leading eigenpair by power iteration, with a certificate; the eigensolver where it fails.
#
# A general eigensolver costs far more than the rest of the statistic on a 12 x 12 matrix,
# and only PC1 and its eigenvalue enter the score. Power iteration with M^4, started from the
# reference direction (the full-sample PC1, which every resample's PC1 is close to), reaches
# rounding level in a few steps. Each step is checked: the pair (rho, v) is accepted when
#
#   * the residual ||M v - rho v|| is at most RESIDUAL_TOL * eps * ||M||_F, and
#   * the gap between rho and every other eigenvalue is provably larger than four times that,
#     by the Laguerre-Samuelson bound on the other eigenvalues from their sum (trace - rho) and
#     sum of squares (||M||_F^2 - rho^2).
#
# Then v is exactly the leading eigenvector of a symmetric matrix within 2 ||r|| of M (the
# residual folded back into M), the same guarantee a backward-stable eigensolver gives.
# Pairs that are not accepted after POWER_STEPS steps (no clear gap, or a start orthogonal to
# PC1) go to the eigensolver; in a batch it runs only when some member needs it, and each
# member's result depends only on that member, so results do not depend on the batch.

RESIDUAL_TOL = 8
POWER_STEPS = 16


#: Steps the whole batch takes together; the members still unsettled after them (about 1 %
#: of capability-subset pairs) go on in compacted groups up to POWER_STEPS.
BATCH_STEPS = 3


def _power_start(a: Array, x0: Array):
    """``(p, tol, fro2, state)``: M^4 scaled, the residual tolerance, ||M||_F^2 and the
    iteration state ``(steps, x, rho, residual)`` at the normalized start ``x0``."""
    eps = jnp.finfo(a.dtype).eps
    fro2 = _fsum(_fsum(a * a))
    tol = RESIDUAL_TOL * eps * jnp.sqrt(fro2)
    p = a @ a
    p = p * (1 / jnp.max(jnp.abs(p)))
    p = p @ p
    p = p * (1 / jnp.max(jnp.abs(p)))
    x = x0 * (1 / _norm(x0))
    return p, tol, fro2, (jnp.zeros((), jnp.int32), x, *_measure(a, x))


def _measure(a: Array, x: Array):
    y = a @ x
    rho = _dot(x, y)
    return rho, _norm(y - rho * x)


def _unsettled(state, tol) -> Array:
    i, _, _, res = state
    return (i < POWER_STEPS) & ~(res <= tol)  # NaN residuals stop too


def _power_run(a: Array, p: Array, tol: Array, state, limit: int):
    """Power steps from ``state`` until the residual is within ``tol`` or ``limit`` steps in all."""

    def step(s):
        i, x, _, _ = s
        x = p @ x
        x = x * (1 / _norm(x))
        return (i + 1, x, *_measure(a, x))

    return lax.while_loop(lambda s: _unsettled(s, tol) & (s[0] < limit), step, state)


def _power_certify(a: Array, fro2: Array, tol: Array, kept: Array, rho: Array, res: Array) -> Array:
    """Whether (rho, x) is certainly the leading pair (the two conditions above)."""
    # Laguerre-Samuelson: n values with sum s and sum of squares t are all at most
    # s/n + sqrt((n-1)/n * (t - s^2/n)). Here the kept - 1 other eigenvalues of the kept block.
    n = jnp.maximum(kept - 1, 1)
    s = _fsum(jnp.diagonal(a)) - rho
    t = fro2 - rho * rho
    second = s / n + jnp.sqrt(jnp.maximum((n - 1) / n * (t - s * s / n), 0))
    return (res <= tol) & (rho - jnp.maximum(second, 0) > 4 * tol)


def _power_pair(a: Array, x0: Array, kept: Array):
    """(rho, v, accepted) for symmetric ``a`` (masked rows zero), ``kept`` nonzero rows."""
    p, tol, fro2, state = _power_start(a, x0)
    _, x, rho, res = _power_run(a, p, tol, state, POWER_STEPS)
    return rho, x, _power_certify(a, fro2, tol, kept, rho, res)


def _power_pairs(a: Array, x0: Array, kept: Array):
    """:func:`_power_pair` of every member of a batch, each the same steps as alone.

    A batched loop runs until its slowest member settles, so the whole batch takes
    :data:`BATCH_STEPS` steps together, and the members still unsettled then are gathered into
    compacted groups that go on to :data:`POWER_STEPS` without the rest.
    """
    p, tol, fro2, state = jax.vmap(_power_start)(a, x0)
    state = jax.vmap(partial(_power_run, limit=BATCH_STEPS))(a, p, tol, state)
    take = partial(jnp.take, axis=0, mode="clip")
    run_on = jax.vmap(partial(_power_run, limit=POWER_STEPS))

    def go_on(idx):
        return run_on(take(a, idx), take(p, idx), take(tol, idx), jax.tree.map(lambda x: take(x, idx), state))

    state = _in_groups(jax.vmap(_unsettled)(state, tol), go_on, state)
    _, x, rho, res = state
    return rho, x, jax.vmap(_power_certify)(a, fro2, tol, kept, rho, res)


def _in_groups(todo: Array, solve, values):
    """``values`` (arrays or a tuple of them, leading axis N) with the members marked ``todo``
    replaced by ``solve(idx)``, computed for compacted groups of members at a time.

    ``idx`` holds a group's member indices (:func:`_group_size` of them), padded with N, which
    ``solve`` may read as any member (gathers clip) and whose results are dropped. The loop runs
    once per group, not at all when nothing is marked.
    """
    n = todo.shape[0]
    size = _group_size(n)

    def group(carry):
        values, todo = carry
        idx = jnp.nonzero(todo, size=size, fill_value=n)[0]
        values = jax.tree.map(lambda x, y: x.at[idx].set(y, mode="drop"), values, solve(idx))
        return values, todo.at[idx].set(False, mode="drop")

    return lax.while_loop(lambda c: jnp.any(c[1]), group, (values, todo))[0]


def _group_size(n: int) -> int:
    """Members of a compacted group: :data:`FALLBACK_SHARE` of a batch of ``n``, at least
    :data:`FALLBACK_MIN`."""
    return min(n, max(FALLBACK_MIN, int(n * FALLBACK_SHARE)))


def _solver_pair(a: Array):
    vals, vecs = _eigh(a)
    return vals[-1], vecs[:, -1]


@jax.custom_batching.custom_vmap
def _leading_pair(a: Array, x0: Array, kept: Array, needed: Array):
    """Largest eigenvalue and its unit eigenvector of symmetric ``a`` (sign not fixed).

    ``needed`` False: the caller discards the result, so no eigensolver call is made for it.
    Under ``vmap`` the batch goes to :func:`_leading_pairs` (one fallback decision per batch).
    """
    rho, v, accepted = _power_pair(a, x0, kept)
    return lax.cond(needed & ~accepted, _solver_pair, lambda a: (rho, v), a)


@_leading_pair.def_vmap
def _leading_pair_vmap(axis_size, in_batched, a, x0, kept, needed):
    args = _broadcast_batch(axis_size, in_batched, (a, x0, kept, needed))
    return _leading_pairs(*args), (True, True)


def _broadcast_batch(axis_size, in_batched, args):
    return tuple(
        x if b else jnp.broadcast_to(x, (axis_size, *jnp.shape(x))) for x, b in zip(args, in_batched)
    )


#: Compacted groups (the power iteration's stragglers, the eigensolver fallback) take this
#: share of the batch (at least :data:`FALLBACK_MIN` members), as many groups as it takes.
FALLBACK_SHARE = 1 / 64
FALLBACK_MIN = 8


@jax.custom_batching.custom_vmap
def _leading_pairs(a: Array, x0: Array, kept: Array, needed: Array):
    """:func:`_leading_pair` of a batch ``a`` (N, k, k): power iteration for every member, the
    eigensolver only for the members that need it.

    The members that fail the certificate are gathered into a small array (compacted) and
    solved there, a group at a time until none is left (no group at all in the usual case).
    The eigensolver handles each matrix on its own, so a member's pair does not depend on the
    rest of the batch, and the program holds one eigensolver call whatever the batch.
    """
    rho, v, accepted = _power_pairs(a, x0, kept)

    def solve(idx):
        return jax.vmap(_solver_pair)(jnp.take(a, idx, axis=0, mode="clip"))

    return _in_groups(needed & ~accepted, solve, (rho, v))


@_leading_pairs.def_vmap
def _leading_pairs_vmap(axis_size, in_batched, a, x0, kept, needed):
    # A batch of batches (masks under model-weight rows, datasets under resamples): one flat
    # batch, so that the fallback decision stays a branch and is not turned into a select that
    # would run the eigensolver for every member.
    args = _broadcast_batch(axis_size, in_batched, (a, x0, kept, needed))
    outer, inner = args[0].shape[:2]
    flat = [x.reshape(outer * inner, *x.shape[2:]) for x in args]
    rho, v = _leading_pairs(*flat)
    return (rho.reshape(outer, inner), v.reshape(outer, inner, -1)), (True, True)


def _pc1(corr: Array, c: Array, ref: Array | None, valid: Array, align=True, spectrum=True):
    """Top eigenpair of the masked matrix, signed by ``ref`` (dot product) or the released rule.

    Returns (v, leading eigenvalue, every eigenvalue largest first, rule_flip, cos_ref); the
    whole spectrum costs an eigensolver call, made only where it is used. ``align`` may be a
    traced boolean (one compiled program for both cases): False signs PC1 by the released rule
    although ``ref`` is given. ``spectrum`` False leaves the eigensolver out of the program
    (every eigenvalue but the first NaN; :func:`complete_spectrum` adds them for one row).
    """
    masked = corr * c[:, None] * c[None, :]
    if spectrum:
        vals, _ = _eigh(masked)  # removed by the compiler unless eigenvalues are kept
    else:
        vals = jnp.full(masked.shape[:1], jnp.nan, masked.dtype)
    start = c if ref is None else ref * c if align is True else jnp.where(align, ref * c, c)
    lead, v = _leading_pair(masked, start, jnp.sum(c), valid)
    v = v * c
    v = v * (1 / _norm(v))
    spectrum = vals[::-1].at[0].set(lead)
    rule = _sign_rule(v)
    if ref is None:
        return v * rule, lead, spectrum, jnp.zeros((), bool), jnp.ones((), v.dtype)
    dot = _dot(v, ref) * (1 / _norm(ref))
    sign = jnp.where(jnp.abs(dot) <= ORTHOGONAL, rule, jnp.where(dot < 0, -1.0, 1.0).astype(v.dtype))
    if align is True:
        return v * sign, lead, spectrum, rule != sign, jnp.abs(dot)
    sign = jnp.where(align, sign, rule)
    return v * sign, lead, spectrum, align & (rule != sign), jnp.where(align, jnp.abs(dot), jnp.ones((), v.dtype))


def complete_spectrum(cap_corr: Array, eigenvalues: Array) -> Array:
    """The eigenvalues of one row of :class:`Stats` computed with ``spectrum=False``, completed:
    the eigensolver on its masked capability matrix (``cap_corr``) after PC1's eigenvalue, the
    first (the numbers of ``spectrum=True``; NaN where the row is degenerate)."""
    ok = jnp.isfinite(eigenvalues[0])
    vals, _ = _eigh(jnp.where(ok, cap_corr, jnp.eye(cap_corr.shape[0], dtype=cap_corr.dtype)))
    return jnp.where(ok, vals[::-1].at[0].set(eigenvalues[0]), jnp.nan)


def _rank_covariance(a: Array, w: Array) -> Array:
    """(k, k) weighted sums ``sum_i w_i a[:, i] a[:, i]`` of centred ranks ``a`` (k, m): one
    matrix product (an (m, k, k) array of products before, summed over the models). Exact for
    total weights below about 200 (sums of multiples of 1/4, any order); beyond, float sums
    in the product's order. ``Precision.HIGHEST``: ranks are never rounded to fewer bits."""
    return jnp.matmul(a * w, a.T, precision=lax.Precision.HIGHEST)


def _tied_rank_variance(pairs, u: Array, n: Array) -> Array:
    """Weighted sum of squared centred mid-ranks, ``(n^3 - sum of t^3 over tie groups) / 12``.

    ``u`` (m,) integer weights on the pair set, total ``n``; ``pairs.groups`` the groups of two
    or more tied models (of the column ``pairs.owner``), every other model a group of its own
    weight. Integers throughout (12 times a multiple of 1/4, so divisible by 3): exact.
    """
    excess = (pairs.groups @ u) ** 3 - pairs.groups @ u**3  # (G,) a group's t^3 beyond its members'
    per_column = jax.ops.segment_sum(excess, pairs.owner, pairs.cols.shape[0], indices_are_sorted=True)
    cubes = jnp.sum(u**3) + per_column
    return jnp.round((n**3 - cubes) / 3) * 0.25


def _ranked_patterns(problem: Problem, pairs) -> Array:
    """The pair set of each column that :func:`weight_state` ranks (all, or those outside pairs)."""
    return problem.col_pattern if pairs is None else problem.col_pattern[pairs.rest]


def weight_state(problem: Problem, w: Array, per_mask: bool = False) -> WeightState:
    """The mask-independent part of the statistic for model weights ``w`` (m,).

    With ``problem.pairs`` (and not ``per_mask``) the columns of the main pair set are not
    ranked: :func:`finish` takes their covariances as bilinear forms. ``per_mask=True`` ranks
    every column, so that :func:`finish` costs little per capability mask when many masks
    share one state (the same numbers either way).
    """
    dtype = problem.caps.dtype
    w = jnp.asarray(w, dtype)
    total = jnp.sum(w)
    q, m = problem.obs.shape

    # Spearman matrix of the capability columns: weighted Pearson of centred mid-ranks.
    if problem.cmp is None:
        ci = problem.cap_index
        a = _ranks.column_ranks(problem.order[ci], problem.tie_lo[ci], problem.tie_hi[ci], w) - total / 2
    else:
        cap_cmp = problem.cmp[problem.cap_index]  # (k, m, m)
        a = cap_cmp @ w - total / 2  # (k, m)
    cov = _rank_covariance(a, w)
    sd = jnp.sqrt(jnp.diag(cov))
    cap_corr = cov / jnp.where(sd > 0, sd[:, None] * sd[None, :], 1.0)

    # Weighted z-scores (ddof 0).
    x = problem.caps
    inv_total = 1 / total
    mean = (w @ x) * inv_total
    sdx = jnp.sqrt((w @ (x - mean) ** 2) * inv_total)
    z = jnp.where(sdx > 0, (x - mean) / jnp.where(sdx > 0, sdx, 1.0), 0.0)

    # Centred mid-ranks of every column over its pair set, by one product with the fixed
    # comparison tensor (one large matrix product over a vmapped batch).
    u_pat = problem.patterns * w  # (P, m)
    n_pat = jnp.sum(u_pat, axis=-1)
    n_pairs = n_pat[problem.col_pattern]
    y_obs = jnp.max(problem.patterns, axis=0)  # models in some pair set
    pairs = None if per_mask else problem.pairs
    if problem.cmp is None:
        raw = _ranks.column_ranks(problem.order, problem.tie_lo, problem.tie_hi, w * y_obs)
    elif pairs is None:
        raw = (problem.cmp.reshape(q * m, m) @ (w * y_obs)).reshape(q, m)
    else:  # only the columns outside the main pair set
        rest = pairs.rest
        raw = (problem.cmp[rest].reshape(-1, m) @ (w * y_obs)).reshape(rest.shape[0], m)
        n_pairs = n_pairs[rest]
    ranks = raw - n_pairs[:, None] / 2
    va = jnp.sum(problem.patterns[_ranked_patterns(problem, pairs)] * w * ranks * ranks, axis=-1)
    if pairs is not None:
        main = pairs.main
        va_main = _tied_rank_variance(pairs, u_pat[main], n_pat[main])
        va = jnp.concatenate([va_main, va])[pairs.order]
    return WeightState(
        total=total, cap_corr=cap_corr, cap_sd=sd, z=z, ranks=ranks, va=va, n_pat=n_pat,
        distinct_pat=jnp.sum(u_pat > 0, axis=-1),
    )


def _ranked_covariances(ranks: Array, g_pat: Array, col_pattern: Array) -> Array:
    """Each ranked column's covariance with the target of its own pair set: one (columns, m) @
    (m, P) product, then each column's pattern (under vmap over masks, one large product)."""
    return jnp.take_along_axis(ranks @ g_pat.T, col_pattern[:, None], axis=1)[:, 0]


def finish(
    problem: Problem, state: WeightState, w: Array, c: Array, ref: Array | None = None, align=True, spectrum=True,
) -> Stats:
    """The statistic for capability mask ``c`` from the weights' :class:`WeightState`.

    Vmapped over masks and again over weight rows, PC1 still comes from certified power
    iteration with one eigensolver fallback for the whole (rows x masks) batch
    (:func:`_leading_pairs`), so a mask's numbers are those of :func:`statistic` with it.
    """
    dtype = problem.caps.dtype
    w = jnp.asarray(w, dtype)
    c = jnp.asarray(c, dtype)
    kept = c > 0
    valid = jnp.all(jnp.where(kept, state.cap_sd > 0, True))
    measure = problem.measure or {}  # static: the capability measure (swjax.scores), paper's if empty
    cap_corr = _scores.pearson_matrix(state.z, w) if "pearson" in measure else state.cap_corr
    corr = jnp.where(valid, cap_corr, jnp.eye(c.shape[0], dtype=dtype))

    # PC1 of the masked matrix, and summaries of the kept off-diagonal entries.
    v, lead, eigenvalues, rule_flip, cos_ref = _pc1(corr, c, ref, valid, align, spectrum)
    v = _one_buffer(v, state.total)  # the loadings and the score from one PC1
    variance_explained = lead * (1 / jnp.sum(c))
    pair = jnp.triu(c[:, None] * c[None, :], 1)
    n_pair = jnp.sum(pair)
    mean_ic = _fsum(_fsum(pair * corr)) * (1 / n_pair)
    std_ic = jnp.sqrt(_fsum(_fsum(pair * (corr - mean_ic) ** 2)) * (1 / n_pair))

    # An elementwise product and a per-row sum, not a matrix product: identical rows (copies of
    # a model in the data) must get bit-identical scores, or their ties break at random.
    score = _one_buffer(_fsum(state.z * (c * v)), state.total)
    if "mean-z" in measure:
        score = _one_buffer(_scores.mean_z(state.z, c, _fsum), state.total)
    elif "irt" in measure:
        start = _scores.mean_z(state.z, c, _fsum)
        score = _one_buffer(_scores.irt_abilities(measure["irt"], w, c, start, _fsum), state.total)
    elif "compute" in measure:  # fixed; the correlations take its ranks from problem.target
        score = measure["compute"]

    # Target ranks once per pair set (pattern); correlation of every column with the target.
    y = score if problem.target is None else problem.target
    u_pat = problem.patterns * w
    if problem.cmp is None:
        b_pat = _ranks.target_ranks(y, u_pat) - state.n_pat[:, None] / 2  # (P, m) centred target ranks
    else:
        # Comparisons of ``y`` with itself read one buffer (``_one_buffer`` above): XLA would
        # otherwise evaluate the fused score once per side, and the two can round differently.
        y_cmp = ((y[None, :] < y[:, None]) + 0.5 * (y[None, :] == y[:, None])).astype(dtype)
        b_pat = u_pat @ y_cmp.T - state.n_pat[:, None] / 2  # (P, m) centred target ranks
    g_pat = u_pat * b_pat
    # Per pair set, in one buffer each before they are spread over the columns: XLA would
    # otherwise fuse each pattern's sum over the models into every column that reads it.
    vb_pat, distinct_pat = _one_buffer((jnp.sum(g_pat * b_pat, axis=-1), state.distinct_pat), state.total)
    vb = vb_pat[problem.col_pattern]
    # The ranked columns' covariances with the target: matrix products of the ranks with the
    # patterns' targets, far cheaper under vmap over masks than gathering g_pat to (q, m) per
    # mask. A state built with pairs ranked only the columns outside them.
    pairs = problem.pairs if state.ranks.shape[0] < problem.obs.shape[0] else None
    if pairs is not None:
        # The main pair set's columns: <S_j, g w^T> for all of them in one product, over the
        # upper triangle of the antisymmetric S_j (problem.Pairs). Exact: halves of integers.
        g = g_pat[pairs.main]
        i, u = np.triu_indices(w.shape[-1], 1)
        outer = g[i] * w[u] - g[u] * w[i]
        cov = _ranked_covariances(state.ranks, g_pat, problem.col_pattern[pairs.rest])
        cov = jnp.concatenate([pairs.sign @ outer, cov])[pairs.order]
    elif problem.pairs is not None:
        # Every column ranked (many masks share the ranks): the main pair set's columns, most
        # of them, need only that pattern's target, one product with no patterns to pick from.
        main, rest = problem.pairs.cols, problem.pairs.rest
        cov_main = state.ranks[main] @ g_pat[problem.pairs.main]
        # The few other columns: each with its own pattern's target, elementwise.
        cov_rest = jnp.sum(state.ranks[rest] * g_pat[problem.col_pattern[rest]], axis=-1)
        cov = jnp.concatenate([cov_main, cov_rest])
        cov = cov[problem.pairs.order]
    else:
        cov = _ranked_covariances(state.ranks, g_pat, problem.col_pattern)
    # A variance of mid-ranks is 0 or at least W(W-1)/4 >= 1/2 (times W, as summed here).
    tol = jnp.asarray(0.25, dtype)
    ok = (state.va > tol) & (vb > tol) & (distinct_pat[problem.col_pattern] >= MIN_PAIRS)
    # sqrt(va) * sqrt(vb), not sqrt(va * vb): with large weights the product of two rank
    # variances (each about W^3 / 12) overflows float32 long before either does.
    scale = jnp.sqrt(jnp.where(ok, state.va, 1.0)) * jnp.sqrt(jnp.where(ok, vb, 1.0))
    col_corr = jnp.where(ok, jnp.clip(cov / scale, -1.0, 1.0), jnp.nan)

    nan = jnp.asarray(jnp.nan, dtype)
    invalid = ~valid
    return Stats(
        corr=jnp.where(invalid, nan, col_corr),
        n_pairs=state.n_pat[problem.col_pattern],
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


def statistic(problem: Problem, w: Array, c: Array, ref: Array | None = None, align=True, spectrum=True) -> Stats:
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
    align : bool, or a traced boolean scalar
        False: the released rule although ``ref`` is given (one program for the full sample
        and its resamples; :func:`swjax.engine.run` with ``with_full``).
    spectrum : bool
        False: no eigensolver in the program, ``eigenvalues`` after the first (PC1's) are NaN.

    Returns
    -------
    Stats
    """
    if problem.cap_obs is not None:  # static: missing capability scores imputed per resample
        return finish(problem, weight_state_imputed(problem, w), w, c, ref, align, spectrum)
    return finish(problem, weight_state(problem, w), w, c, ref, align, spectrum)


# Missing capability scores, imputed inside the statistic.
#
# A problem of :func:`swjax.problem.build_problem_imputed` keeps the models that lack some
# capability scores (``cap_obs`` marks the observed cells). For each weight vector the missing
# cells are filled by iterative PCA imputation of fixed rank r (as in Ruan et al.'s
# observational scaling laws, and missMDA's imputePCA without regularisation): start from the
# weighted column means of the observed cells, then IMPUTE_SWEEPS times z-score the completed
# matrix (weighted, ddof 0), take the top r eigenvectors V of its weighted covariance and
# replace the missing cells by those of (z V V^T) mapped back to the raw scale. With integer
# weights this is exactly the imputation of the data with model i repeated w_i times, so a
# bootstrap resample re-imputes from the drawn models only, and copies of a model get one
# imputed row (they still tie). The completed capability matrix then takes the place of the
# fixed one: its mid-ranks change with every resample, so they come from comparisons made per
# resample (k x m x m) instead of the precomputed comparison tensor; every other column is
# ranked as before.

#: Sweeps of the iterative PCA imputation (a fixed number: one compiled program).
IMPUTE_SWEEPS = 30


def impute_capabilities(problem: Problem, w: Array) -> Array:
    """The capability matrix (m, k) with its missing cells imputed from weights ``w`` (m,).

    Observed cells are returned unchanged. A column with no observed model of positive weight
    gives NaN (the resample is then degenerate).
    """
    dtype = problem.caps.dtype
    w = jnp.asarray(w, dtype)
    o = problem.cap_obs
    x = problem.caps
    total = jnp.sum(w)
    mean0 = (w @ (o * x)) / (w @ o)  # matrix products: one summation order whatever the batch
    x = jnp.where(o > 0, x, mean0[None, :])
    keep = problem.impute_rank

    def sweep(x, _):
        mean = (w @ x) * (1 / total)
        sd = jnp.sqrt((w @ (x - mean) ** 2) * (1 / total))
        sd = jnp.where(sd > 0, sd, 1.0)
        z = (x - mean) / sd
        cov = (z * w[:, None]).T @ z * (1 / total)
        _, vecs = _eigh(cov)
        v = vecs[:, ::-1] * keep[None, :]  # the top r eigenvectors, the rest zeroed
        fit = (z @ v) @ v.T
        return jnp.where(o > 0, x, fit * sd + mean), None

    x, _ = lax.scan(sweep, x, None, length=IMPUTE_SWEEPS)
    return x


def weight_state_imputed(problem: Problem, w: Array) -> WeightState:
    """:func:`weight_state` with the capability part taken from the imputed capability matrix."""
    dtype = problem.caps.dtype
    w = jnp.asarray(w, dtype)
    state = weight_state(problem, w)
    x = impute_capabilities(problem, w)
    total = state.total
    # Mid-ranks of the completed columns, ranked for this resample as the score is in finish()
    # (integer order keys, never a computed array compared with itself, which XLA may evaluate
    # twice with different rounding): O(m log m) a column, not the (k, m, m) comparisons.
    # Observed cells keep their float64 order (problem.cap_tiebreak): ranks never depend on the
    # kernel's dtype, as on the host-ranked path of complete data.
    a = jax.vmap(lambda col, tb: _ranks.target_ranks(col, w, tb))(x.T, problem.cap_tiebreak.T) - total / 2  # (k, m)
    cov = _rank_covariance(a, w)
    sd = jnp.sqrt(jnp.diag(cov))
    cap_corr = cov / jnp.where(sd > 0, sd[:, None] * sd[None, :], 1.0)
    inv_total = 1 / total
    mean = (w @ x) * inv_total
    sdx = jnp.sqrt((w @ (x - mean) ** 2) * inv_total)
    z = jnp.where(sdx > 0, (x - mean) / jnp.where(sdx > 0, sdx, 1.0), 0.0)
    sd = jnp.where(jnp.all(jnp.isfinite(x), axis=0), sd, 0.0)  # NaN imputation: degenerate
    return state._replace(cap_corr=cap_corr, cap_sd=sd, z=z)
