"""Capability measures: the ways of turning the capability benchmarks into one score per model.

Each measure is a pure function of (model weights ``w``, capability mask ``c``) evaluated
inside :func:`swjax.core.finish`, so every resampling scheme (bootstrap, clusters, jackknife,
leave-one-benchmark-out, subsets) applies to it unchanged. The choice is static: it is the key
of the one-entry dict ``Problem.measure`` (part of the pytree's structure, so each measure
compiles its own program), whose value is the data the measure reads. ``Problem.measure`` is
None for the paper's score, whose code path is untouched.

``paper``
    PC1 of the weighted Spearman matrix of the capability benchmarks (:mod:`swjax.core`).
``pearson``
    PC1 of the weighted Pearson correlation matrix of the weighted z-scores (no ranking), signed
    as the paper's; the reported capability matrix, eigenvalues and variance explained are then
    those of the Pearson matrix.
``mean-z``
    The mean of the weighted z-scores over the kept capability benchmarks.
``compute``
    log10 training FLOP from the data's ``FLOP`` column. A model without FLOP stays in the
    analysis but has no score: each correlation is over the models that have both the benchmark
    and FLOP (pairwise-complete, the rule of ``against`` and of the compute correlation). The
    same for every weight and mask.
``irt``
    The ability of each model in a two-parameter logistic model of the capability scores
    scaled to (0, 1) (:func:`irt_abilities`).

See docs/scores.md.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax

from .errors import SwjaxError

__all__ = [
    "SCORES", "PAPER", "check_score", "prepare", "pearson_matrix", "mean_z", "irt_abilities",
    "irt_responses", "irt_fit", "IRT_SWEEPS", "IRT_TOLERANCE", "IRT_ITEM_STEPS", "IRT_STEP_LIMIT",
]

PAPER = "paper"
#: The capability measures, the paper's first (the default).
SCORES: tuple[str, ...] = (PAPER, "pearson", "mean-z", "irt", "compute")


def check_score(score) -> str:
    """The measure's name, or SwjaxError naming the parameter and the choices."""
    if score is None:
        return PAPER
    if not isinstance(score, str) or score.strip().lower() not in SCORES:
        raise SwjaxError(f"score: expected one of {', '.join(SCORES)}, got {score!r}")
    return score.strip().lower()


# --------------------------------------------------------------------------- on the host


def irt_responses(values: np.ndarray) -> np.ndarray:
    """Capability scores (m, k), NaN where missing, as responses in (0, 1) for :func:`irt_abilities`.

    Each column is scaled onto [0, 1] by its smallest and largest observed score, then squeezed
    away from the ends as Smithson & Verkuilen (2006) do for beta regression,
    ``y = (u (m - 1) + 1/2) / m`` with ``m`` the number of models: without it the best model on
    every benchmark (a response of exactly 1 everywhere) has no finite ability. Missing cells
    stay NaN (they are left out of the likelihood).
    """
    x = np.asarray(values, np.float64)
    m = x.shape[0]
    lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
    u = (x - lo) / (hi - lo)
    return (u * (m - 1) + 0.5) / m


def prepare(score: str, cap_values: np.ndarray, log_flop: np.ndarray | None, dtype) -> dict | None:
    """``Problem.measure`` for ``score``: None for the paper's, else ``{name: data}``.

    ``cap_values`` (m, k) raw capability scores (NaN where missing); ``log_flop`` (m,) log10
    training FLOP (NaN where unknown), needed only by ``compute``.
    """
    if score == PAPER:
        return None
    if score == "irt":
        return {score: irt_responses(cap_values).astype(dtype)}
    if score == "compute":
        return {score: np.asarray(log_flop, np.float64).astype(dtype)}
    return {score: None}  # pearson, mean-z: the z-scores are all they read


# --------------------------------------------------------------------------- in the kernel


def pearson_matrix(z: Array, w: Array) -> Array:
    """(k, k) weighted Pearson correlation matrix of weighted z-scores ``z`` (m, k).

    The columns of ``z`` already have weighted mean 0; a constant column (all 0) gets a zero
    row and column (the statistic is then degenerate anyway).
    """
    cov = jnp.matmul((z * w[:, None]).T, z, precision=lax.Precision.HIGHEST)
    sd = jnp.sqrt(jnp.diag(cov))
    return cov / jnp.where(sd > 0, sd[:, None] * sd[None, :], 1.0)


def mean_z(z: Array, c: Array, fsum) -> Array:
    """(m,) the mean of each model's z-scores over the kept capability benchmarks (``c`` = 1).

    ``fsum`` sums along the last axis in a fixed order (identical rows, identical scores)."""
    return fsum(z * c) * (1 / jnp.sum(c))


#: Most sweeps of the fit of :func:`irt_abilities` (three per accelerated step); it stops
#: earlier once a step's last sweep moves no ability by :data:`IRT_TOLERANCE` or more.
IRT_SWEEPS = 60
#: The fit has converged when one sweep moves every ability by less than this, per dtype (in
#: float32 a sweep's rounding alone moves an ability by up to about 1e-6).
IRT_TOLERANCE = {"float64": 1e-10, "float32": 4e-6}
#: Newton steps on each benchmark's two parameters per sweep.
IRT_ITEM_STEPS = 2
#: Largest change of a logit-scale parameter in one Newton step (a damping that only acts far
#: from the optimum, in the first sweeps).
IRT_STEP_LIMIT = 2.0


def irt_abilities(y: Array, w: Array, c: Array, start: Array, fsum=None) -> Array:
    """(m,) abilities of a two-parameter logistic model fitted by weighted maximum likelihood.

    Model: ``P(model i succeeds on benchmark b) = sigmoid(a_b (C_i - D_b))``, written
    ``sigmoid(a_b C_i + beta_b)``. The responses ``y`` (m, k) in (0, 1) (:func:`irt_responses`;
    NaN where missing) enter a fractional-logit (Bernoulli) log-likelihood

        sum over observed cells (i, b) with c_b = 1 of
            w_i [y_ib log p_ib + (1 - y_ib) log(1 - p_ib)]

    so missing cells and masked benchmarks are simply absent, and integer weights equal
    repeated models. The likelihood does not change under ``C -> s C + t`` (with ``a``, ``beta``
    following) nor under a change of sign of ``C`` and ``a``; the abilities are identified by
    weighted mean 0 and weighted standard deviation 1 (ddof 0) over the models of positive
    weight (and some kept score), and a positive sum of the kept discriminations ``a_b``.

    One sweep of the fit is, from ``start`` (any ability vector: the mean z-score),
    :data:`IRT_ITEM_STEPS` Newton steps on every benchmark's ``(a_b, beta_b)`` given the
    abilities, one Newton step on every model's ability given the benchmarks, and the
    standardization (which leaves the likelihood as it is). Alternating sweeps converge
    linearly, and slowly where the data nearly separate or many cells are missing (there 60 of
    them could stop an ability 0.037 from the optimum), so the sweeps are accelerated by SQUAREM
    (Varadhan & Roland 2008, scheme S3): two sweeps, an extrapolation along them with step
    length ``-|r| / |v|`` (at most -1; ``r`` and ``v`` the first and second differences of the
    parameters), the standardization, and a third sweep from there (or from the second sweep's
    point where that is not finite). The fit stops after the first such step whose last sweep
    moves no ability by :data:`IRT_TOLERANCE` or more, or after :data:`IRT_SWEEPS` sweeps. Under vmap
    a batch runs until its slowest fit stops, and each fit keeps the values of its own last
    sweep, so a resample's abilities do not depend on the batch it is in. A model of weight 0 gets the
    ability that maximizes its own likelihood given the fitted benchmarks. ``fsum`` sums along
    the last axis in a fixed order (default ``jnp.sum``): with it, identical rows of ``y`` get
    bit-identical abilities, as copies of a model must (they tie). Pure, fixed shapes:
    vmap and jit apply. (A model with no kept score at all has no ability of its own: it keeps
    its starting value, carried along by the standardizations.)
    """
    return irt_fit(y, w, c, start, fsum)[0]


def irt_fit(y: Array, w: Array, c: Array, start: Array, fsum=None, accelerate: bool = True,
            sweeps: int | None = None, tolerance: float | None = None) -> tuple[Array, Array]:
    """``(abilities, sweeps run)`` of the fit of :func:`irt_abilities`; ``accelerate=False``
    runs the plain alternating sweeps (each stopping check after one sweep), for comparison.
    ``sweeps`` overrides :data:`IRT_SWEEPS` and ``tolerance`` :data:`IRT_TOLERANCE` (0: run
    every sweep, as a converged reference does)."""
    most = IRT_SWEEPS if sweeps is None else int(sweeps)
    dtype = y.dtype
    fsum = (lambda x: jnp.sum(x, axis=-1)) if fsum is None else fsum
    obs = jnp.isfinite(y) & (c[None, :] > 0)
    o = obs.astype(dtype)
    y = jnp.where(obs, y, 0.5)
    wo = w[:, None] * o  # (m, k) weight of each cell in the likelihood
    ws = w * jnp.any(obs, axis=1)  # the models the likelihood sees set the scale
    total = jnp.sum(ws)
    lim = jnp.asarray(IRT_STEP_LIMIT, dtype)

    def standardize(theta, a, beta):
        mu = (ws @ theta) * (1 / total)
        s = jnp.sqrt((ws @ (theta - mu) ** 2) * (1 / total))
        s = jnp.where(s > 0, s, 1.0)
        return (theta - mu) / s, a * s, beta + a * mu

    def item_step(ab, theta):
        a, beta = ab
        p = jax.nn.sigmoid(theta[:, None] * a[None, :] + beta[None, :])
        r = wo * (p - y)  # (m, k)
        h = wo * p * (1 - p)
        ga, gb = theta @ r, jnp.sum(r, axis=0)
        haa, hab, hbb = (theta * theta) @ h, theta @ h, jnp.sum(h, axis=0)
        det = haa * hbb - hab * hab
        ok = det > 0
        det = jnp.where(ok, det, 1.0)
        da = jnp.where(ok, (hbb * ga - hab * gb) / det, 0.0)
        db = jnp.where(ok, (haa * gb - hab * ga) / det, 0.0)
        return (a - jnp.clip(da, -lim, lim), beta - jnp.clip(db, -lim, lim)), None

    def person_step(theta, a, beta):
        p = jax.nn.sigmoid(theta[:, None] * a[None, :] + beta[None, :])
        g = fsum(o * a[None, :] * (p - y))
        h = fsum(o * (a * a)[None, :] * p * (1 - p))
        step = jnp.where(h > 0, g / jnp.where(h > 0, h, 1.0), 0.0)
        return theta - jnp.clip(step, -lim, lim)

    def sweep(x):
        theta, a, beta = x
        (a, beta), _ = lax.scan(lambda ab, _: item_step(ab, theta), (a, beta), None, length=IRT_ITEM_STEPS)
        return standardize(person_step(theta, a, beta), a, beta)

    def squarem_step(state):
        i, x0, _ = state
        x1 = sweep(x0)
        x2 = sweep(x1)
        r = [p1 - p0 for p0, p1 in zip(x0, x1)]
        v = [p2 - 2 * p1 + p0 for p0, p1, p2 in zip(x0, x1, x2)]
        rr, vv = sum(jnp.sum(d * d) for d in r), sum(jnp.sum(d * d) for d in v)
        alpha = jnp.minimum(-jnp.sqrt(rr) / jnp.sqrt(jnp.where(vv > 0, vv, 1.0)), -1.0)
        xe = standardize(*(p0 - 2 * alpha * dr + alpha * alpha * dv for p0, dr, dv in zip(x0, r, v)))
        x3 = sweep(xe)
        finite = jnp.all(jnp.isfinite(x3[0])) & jnp.all(jnp.isfinite(x3[1])) & jnp.all(jnp.isfinite(x3[2]))
        nxt = tuple(jnp.where(finite, p3, p2) for p3, p2 in zip(x3, x2))
        move = jnp.where(finite, jnp.max(jnp.abs(x3[0] - xe[0])), jnp.max(jnp.abs(x2[0] - x1[0])))
        return i + 3, nxt, move

    def plain_step(state):
        i, x0, _ = state
        x1 = sweep(x0)
        return i + 1, x1, jnp.max(jnp.abs(x1[0] - x0[0]))

    if tolerance is None:
        tolerance = IRT_TOLERANCE["float64" if dtype == jnp.float64 else "float32"]
    tol = jnp.asarray(tolerance, dtype)

    k = y.shape[1]
    theta0, a0, b0 = standardize(jnp.asarray(start, dtype), jnp.ones(k, dtype), jnp.zeros(k, dtype))
    ybar = jnp.sum(wo * y, axis=0) / jnp.where(jnp.sum(wo, axis=0) > 0, jnp.sum(wo, axis=0), 1.0)
    ybar = jnp.clip(ybar, 1e-3, 1 - 1e-3)
    b0 = jnp.log(ybar) - jnp.log1p(-ybar)
    state = (jnp.asarray(0), (theta0, a0, b0), jnp.asarray(jnp.inf, dtype))
    step = squarem_step if accelerate else plain_step
    done, (theta, a, _), _ = lax.while_loop(lambda s: (s[0] < most) & (s[2] >= tol), step, state)
    return jnp.where(jnp.sum(c * a) < 0, -theta, theta), done
