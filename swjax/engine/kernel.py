"""The kernel: the statistic of one chunk of a run, vmapped over its rows, jitted once per run.

A chunk's traced arguments travel as one :class:`ChunkArgs` (named, a pytree), its static
description as one :class:`_Spec`; :func:`_kernel` is the one compiled function of every run
(one device, or ``shard_map`` over a mesh of several), :func:`_permutations_chunk` the
p-values' permutations.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from ..core import Stats, complete_spectrum, finish, statistic, weight_state
from ..problem import Problem

__all__ = ["RESAMPLE_FIELDS", "ChunkArgs"]

#: Fields kept from every resample unless asked otherwise (small per resample). The whole
#: spectrum (``"eigenvalues"``) is left out: it costs an eigensolver call per resample, which
#: is then most of the work (:func:`swjax.core.finish` needs only the leading pair).
RESAMPLE_FIELDS = ("corr", "variance_explained", "mean_intercorr", "rule_flip", "cos_ref")


class _Spec(NamedTuple):
    """The static part of a run: what the compiled kernel does with a chunk."""

    scheme: Callable | None  # draws' scheme, or None (explicit rows only)
    fixed: bool  # explicit weight rows in the chunk
    mask_rows: bool  # one mask per explicit row
    cross: bool  # masks (M, k) crossed with every row
    stacked: bool  # chunks of datasets of a stacked problem
    fields: tuple[str, ...] | None
    columns: tuple[int, ...] | None
    reduce: Callable | None
    batch: int  # rows (or datasets) per device and chunk
    mesh: Mesh | None  # several devices: shard_map over the "r" axis
    n_draws: int  # draws per dataset of a stacked problem (0 otherwise)
    with_full: bool  # the full sample from the kernel (``with_full`` of run): its PC1 the ref


class ChunkArgs(NamedTuple):
    """The traced arguments of one chunk: the kernel's one argument, by name.

    Built by :func:`swjax.engine.chunks.run` for every chunk, split over a mesh field by field
    (:func:`_sharded`), named in the program cache's key. Fields a run does not use are None.
    """

    #: the problem (every device holds it whole), or the chunk's datasets of a stacked problem
    problem: Problem
    #: explicit weight rows: the chunk's (rows split over the devices), or every dataset's
    fixed: Any = None
    #: the draws' key (typed, replicated), or None without draws
    key: Any = None
    #: index of the chunk's first row (uint32)
    start: Any = None
    #: explicit rows of the run: indices from there on are draws (uint32)
    n_fixed: Any = None
    #: capability mask (k,), crossed masks (M, k), or one per explicit row of the chunk
    mask: Any = None
    #: PC1 reference: (k,), one per crossed mask, or the chunk's datasets' (R, k)
    ref: Any = None
    #: indices of the chunk's datasets (stacked problems)
    datasets: Any = None
    #: with_full: True on the run's first call (the full sample), then False
    first: Any = None


def _pick(stats: Stats, spec: _Spec):
    if spec.fields is None:
        return stats
    out = {f: getattr(stats, f) for f in spec.fields}
    if spec.columns is not None:
        idx = jnp.asarray(spec.columns)
        for f in ("corr", "n_pairs"):
            if f in out:
                out[f] = out[f][..., idx]
    return out


def _weights(spec: _Spec, dtype, key, index, fixed, n_fixed):
    """The chunk's weight rows: explicit rows where ``index < n_fixed``, then draws."""
    if spec.scheme is None:
        return fixed
    if not spec.fixed:
        return jax.vmap(lambda i: spec.scheme(jax.random.fold_in(key, i)))(index).astype(dtype)
    drawn = jax.vmap(lambda i: spec.scheme(jax.random.fold_in(key, i - n_fixed)))(index).astype(dtype)
    return jnp.where((index < n_fixed)[:, None], fixed, drawn)


def _rows(spec: _Spec, problem, w, mask, ref):
    """The statistic of every row of ``w`` with its mask(s)."""
    if spec.cross:
        # The mask-independent part once per row, ``finish`` vmapped over the masks, each
        # with its own PC1 reference; leading axes (rows, masks).
        def per_row(wi):
            state = weight_state(problem, wi, per_mask=True)
            if ref is None:
                stats = jax.vmap(lambda c: finish(problem, state, wi, c, None))(mask)
            else:
                stats = jax.vmap(lambda c, r: finish(problem, state, wi, c, r))(mask, ref)
            return _pick(stats, spec)

        return jax.vmap(per_row)(w)
    in_mask = 0 if spec.mask_rows else None
    return _pick(jax.vmap(statistic, in_axes=(None, 0, in_mask, None))(problem, w, mask, ref), spec)


def _full_sample(problem, mask):
    """Every field of the full sample (all weights 1) with ``mask``, released sign rule.

    Evaluated as a vmapped pair of identical rows: the numbers are those of any batched
    evaluation of the full sample (``analyze``; a batch of one rounds the score differently).
    """
    m = problem.caps.shape[0]
    w = jnp.ones((2, m), problem.caps.dtype)
    stats = jax.vmap(statistic, in_axes=(None, 0, None, None))(problem, w, mask, None)
    return jax.tree.map(lambda x: x[:1], stats)


def _device_chunk(spec: _Spec, args: ChunkArgs):
    """One device's part of a chunk (the whole chunk on a single device)."""
    problem, fixed, key, start, n_fixed = args.problem, args.fixed, args.key, args.start, args.n_fixed
    mask, ref, datasets, first = args.mask, args.ref, args.datasets, args.first
    dtype = problem.caps.dtype
    if not spec.stacked:
        offset = 0 if spec.mesh is None else lax.axis_index("r").astype(jnp.uint32) * spec.batch
        index = start + offset + jnp.arange(spec.batch, dtype=jnp.uint32)
        w = _weights(spec, dtype, key, index, fixed, n_fixed)
        if not spec.with_full:
            out = _rows(spec, problem, w, mask, ref)
            return out if spec.reduce is None else spec.reduce(out)
        # ``first`` (a run's first call, every row all ones): the full sample by the released
        # sign rule, with its whole spectrum; later calls: rows aligned with its PC1 (``ref``).
        # One statistic in the program for both, so it compiles once.
        # Every row's spectrum only when asked for; the full sample's from one eigensolver call.
        spectrum = spec.fields is None or "eigenvalues" in spec.fields
        stats = jax.vmap(statistic, in_axes=(None, 0, None, None, None, None))(problem, w, mask, ref, ~first, spectrum)
        out = _pick(stats, spec)
        out = out if spec.reduce is None else spec.reduce(out)
        full = jax.tree.map(lambda x: x[:1], stats)
        if not spectrum:
            full = full._replace(eigenvalues=complete_spectrum(full.cap_corr[0], full.eigenvalues[0])[None])
        return {"rows": out, "full": full}

    # Datasets one after another (``lax.map``), each with its rows vectorized. Vectorizing over
    # datasets as well would batch the PC1 fallback's ``lax.cond`` into a select, so the
    # eigensolver would run for every resample instead of for the few that need it.
    # Every dataset shares the explicit rows (padded to the draws' rows once, here).
    rows = 0 if fixed is None else fixed.shape[0]
    index = jnp.arange(rows + spec.n_draws, dtype=jnp.uint32)
    if fixed is not None and spec.scheme is not None:
        fixed = jnp.concatenate([fixed, jnp.zeros((spec.n_draws, fixed.shape[1]), dtype)])

    def one_dataset(args):
        prob, d, ref_d = args
        full = None
        if spec.with_full:
            full = _full_sample(prob, mask)
            ref_d = full.loadings[0]
        key_d = None if spec.scheme is None else jax.random.fold_in(key, d)
        w = _weights(spec, dtype, key_d, index, fixed, jnp.uint32(rows))
        out = _rows(spec, prob, w, mask, ref_d)
        return out if full is None else {"rows": out, "full": full}

    return lax.map(one_dataset, (problem, datasets, ref))


def _sharded(spec: _Spec, f):
    """``f`` as a shard_map over the mesh: chunk axis split, everything else replicated."""
    row, rep = P("r"), P()
    if spec.stacked:  # the chunk's datasets, their references and indices split
        split = ChunkArgs(problem=row, fixed=rep, key=rep, start=rep, n_fixed=rep, mask=rep, ref=row,
                          datasets=row, first=rep)
    else:  # the chunk's explicit rows (and their masks) split
        split = ChunkArgs(problem=rep, fixed=row, key=rep, start=rep, n_fixed=rep,
                          mask=row if spec.mask_rows else rep, ref=rep, datasets=rep, first=rep)
    in_specs = (split,)
    smap = getattr(jax, "shard_map", None)
    if smap is None:  # JAX releases before the top-level shard_map
        from jax.experimental.shard_map import shard_map as smap

        return smap(f, mesh=spec.mesh, in_specs=in_specs, out_specs=row, check_rep=False)
    return smap(f, mesh=spec.mesh, in_specs=in_specs, out_specs=row, check_vma=False)


@partial(jax.jit, static_argnames=("spec",))
def _kernel(args: ChunkArgs, spec: _Spec):
    """The compiled kernel: one chunk of any run (rows or datasets; one device or a mesh)."""
    f = partial(_device_chunk, spec)
    if spec.mesh is not None:
        f = _sharded(spec, f)
    return f(args)


@partial(jax.jit, static_argnames="n_items")
def _permutations_chunk(key, index, n_items):
    return jax.vmap(lambda i: jax.random.permutation(jax.random.fold_in(key, i), n_items))(index)

