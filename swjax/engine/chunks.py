"""Running chunks: :func:`run`, the one entry point of every run, and the one chunk loop.

:func:`run` checks its arguments, decides the run's devices and chunk size (returned with the
results when asked, as a :class:`Decision`), builds each chunk's :class:`~.kernel.ChunkArgs`
and streams the chunks through the compiled kernel (:func:`_run_chunks`); :class:`_Layout`
puts a chunk's arrays on one device or splits them over a mesh, :class:`_Collect` sorts what
comes back (explicit rows kept, draws kept or handed to a sink, full samples).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from ..core import Stats
from ..errors import SwjaxError
from ..problem import Problem
from .cache import _bound_compiled, _kernel_caller
from .kernel import RESAMPLE_FIELDS, ChunkArgs, _permutations_chunk, _Spec
from .sizing import default_batch_size, rows_per_chunk, select_devices

__all__ = ["run", "Draws", "Decision", "permutations"]


class Draws(NamedTuple):
    """``n`` random weight rows: row ``r`` is ``scheme(fold_in(key, r))``.

    ``scheme`` must be hashable and stable between calls (the functions of
    :mod:`swjax.resample` are cached per model count) so that repeated runs reuse the
    compiled kernel.
    """

    scheme: Callable
    n: int
    key: jax.Array


@dataclass(frozen=True)
class Decision:
    """What a run decided: its devices and its chunks (``run(..., with_decision=True)``).

    Callers report these (a result's ``device`` and ``batch_size``) instead of deriving them
    again.
    """

    #: units (weight rows, or datasets of a stacked problem) per chunk and device: the given
    #: ``batch_size``, else :func:`~.sizing.default_batch_size`'s
    batch_size: int
    #: the devices the chunks ran on (several: each chunk split over them)
    devices: tuple
    #: units of the run: weight rows (explicit rows, then draws), or datasets when stacked
    units: int
    #: chunks of datasets of a stacked problem, not of weight rows
    stacked: bool

    @property
    def device(self) -> jax.Device:
        """The run's first device (its only one when not sharded)."""
        return self.devices[0]

    @property
    def per_chunk(self) -> int:
        """Units per chunk over all devices."""
        return self.batch_size * len(self.devices)

    @property
    def chunks(self) -> int:
        """Chunks the run took (the last one padded to :attr:`per_chunk`)."""
        return -(-self.units // self.per_chunk)


def _to_host(tree):
    return jax.tree.map(np.asarray, tree)


def _concat(chunks):
    return jax.tree.map(lambda *xs: np.concatenate(xs, axis=0), *chunks)


def _padded(x, start: int, stop: int, size: int) -> np.ndarray:
    """Rows ``start:stop`` of ``x``, padded to ``size`` rows by repeating row ``start``.

    Every chunk then has the same shape, so one compilation serves a whole run.
    """
    x = np.asarray(x)
    pad = size - (stop - start)
    part = x[start:stop]
    return np.concatenate([part, np.repeat(x[start:start + 1], pad, 0)]) if pad else part


#: Held by every run of the engine: one run executes at a time in a process, whichever thread
#: calls it. Two threads executing large programs at once (every capability subset of both sets
#: side by side, 100 resamples each) hung XLA's CPU runtime in jaxlib 0.10.2 on the second try:
#: both threads waited on chunk results that no XLA worker was computing. A caller's other work
#: (building a problem, intervals and tables on the host) still runs beside another thread's run.
_ONE_RUN = threading.RLock()


def _one_run_at_a_time(func):
    """One run at a time, traced under JAX's default rank promotion: the kernels broadcast
    implicitly, and a user's ``JAX_NUMPY_RANK_PROMOTION=raise`` (a check meant for their own
    code) must not break them (the setting is part of JAX's trace cache key, so nothing stale)."""

    @functools.wraps(func)
    def locked(*args, **kwargs):
        with _ONE_RUN, jax.numpy_rank_promotion("allow"):
            return func(*args, **kwargs)

    return locked


def _run_chunks(n: int, batch: int, compute, sink=None, progress=None, fetch=None):
    """Stream ``n`` units in chunks of ``batch``: the one loop of every run.

    ``compute(start, stop)`` dispatches one padded chunk and returns its device arrays;
    ``fetch`` (default: copy to host numpy) brings them back. The next chunk is dispatched
    before the previous one is fetched, so the device never waits for the host in between.
    Results are cut to ``stop - start`` units, handed to ``sink`` (then None is returned) or
    kept and concatenated, and ``progress`` is told how many units were finished.
    """
    _bound_compiled()
    fetch = fetch or _to_host
    chunks = []

    def finish_chunk(pending):
        out, rows = pending
        out = jax.tree.map(lambda x: x[:rows], fetch(out))
        if sink is not None:
            sink(out)
        else:
            chunks.append(out)
        if progress is not None:
            progress(rows)

    pending = None
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        dispatched = (compute(start, stop), stop - start)
        if pending is not None:
            finish_chunk(pending)
        pending = dispatched
    if pending is not None:
        finish_chunk(pending)
    return None if sink is not None else _concat(chunks)


class _Layout:
    """Where a chunk's arrays go: one device, or the chunk axis split over a mesh of several."""

    def __init__(self, devices: list[jax.Device]):
        self.devices = devices
        self.n = len(devices)
        self.mesh = None
        if self.n > 1:
            self.mesh = Mesh(np.array(devices), ("r",))
            self.rows = NamedSharding(self.mesh, P("r"))
            self.replicated = NamedSharding(self.mesh, P())

    def put(self, tree):
        """Replicate arrays (problem, masks, refs) on every device."""
        if self.n == 1:
            return jax.device_put(tree, self.devices[0])
        return jax.device_put(tree, self.replicated)

    def put_key(self, key: jax.Array | None):
        """A typed key, replicated from its raw data (host numpy, the same on every process)."""
        if key is None or self.n == 1:
            return None if key is None else jax.device_put(key, self.devices[0])
        data = self.put(np.asarray(jax.random.key_data(key)))
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(key))

    def put_rows(self, tree):
        """Arrays split along their first axis, each device (each process) placing its shard."""
        if self.n == 1:
            return jax.device_put(tree, self.devices[0])

        def one(x):
            x = np.asarray(x)
            return jax.make_array_from_callback(x.shape, self.rows, lambda idx: x[idx])

        return jax.tree.map(one, tree)

    def to_host(self, tree):
        if self.n > 1 and jax.process_count() > 1:
            return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))
        return _to_host(tree)


def _n_datasets(problem: Problem) -> int:
    return int(problem.caps.shape[0])


@_one_run_at_a_time
def run(
    problem: Problem,
    weights: np.ndarray | None = None,
    *,
    draws: Draws | None = None,
    mask: np.ndarray | None = None,
    masks: np.ndarray | None = None,
    ref: np.ndarray | None = None,
    fields: Sequence[str] | None = RESAMPLE_FIELDS,
    columns: Sequence[int] | None = None,
    reduce: Callable | None = None,
    sink: Callable | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    shard: bool = True,
    with_full: bool = False,
    with_decision: bool = False,
):
    """The statistic for every weight row (explicit ``weights`` first, then ``draws``).

    Parameters
    ----------
    problem : Problem
        From :func:`swjax.problem.build_problem`, or R of them stacked along a leading axis
        (:func:`swjax.problem.stack_problems`), which every row is evaluated on.
    weights : (F, m) array, optional
        Explicit weight rows (the full sample, jackknife rows, ...).
    draws : Draws, optional
        Random weight rows after the explicit ones; row ``r`` of the draws is
        ``scheme(fold_in(key, r))`` (of a stacked dataset ``d``: ``fold_in(fold_in(key, d), r)``),
        whatever the chunk size or the devices.
    mask : (k,) or (F, k) array, optional
        The capability mask of every row (default: all ones), or one per explicit row.
    masks : (M, k) array, optional
        Masks crossed with every row instead (results gain a masks axis after the rows).
    ref : array, optional
        PC1 reference: (k,) for every row, (M, k) one per crossed mask, (R, k) one per stacked
        dataset. None: the released sign rule.
    fields : names of :class:`~swjax.core.Stats` fields to keep (None: all, as ``Stats``).
    columns : keep only these columns of ``corr`` and ``n_pairs`` (stacked problems).
    reduce : hashable function applied on the device to each chunk's dict (rows first; it
        must keep the rows axis, so that padded rows can be cut off).
    sink : called with each chunk's dict instead of keeping it (then None is returned).
    progress : called with the number of rows (datasets, when stacked) finished per chunk.
    batch_size : rows (datasets) per chunk and device; default :func:`default_batch_size`.
    shard : split each chunk over every visible device of the platform (:mod:`swjax.engine`);
        False: one device. The numbers are the same either way.
    with_full : compute the full sample (every weight 1, the released sign rule) with the
        kernel and align every row's PC1 with its PC1 (in place of ``ref``): the full sample, its
        jackknife and its resamples in one compiled program, with one copy of the statistic in
        it. The run's first call evaluates a chunk of all-ones rows by the released rule (its
        first row is the full sample), the later calls the rows, aligned with that PC1; a
        stacked problem computes each dataset's full sample in the dataset's own step. The call
        then returns ``(full, rows)``, ``full`` a ``Stats`` of every field with one row (of each
        dataset: leading axes (R, 1)).
    with_decision : also return what the run decided (:class:`Decision`: its batch size,
        devices and chunks): the call then returns ``(result, decision)``, ``result`` what it
        returns otherwise.

    Returns
    -------
    dict of numpy arrays (``Stats`` when ``fields`` is None) with leading axes (rows,),
    (rows, M) with ``masks``, or (R, rows) for a stacked problem. With ``sink``, the draws go
    to the sink (and ``progress`` counts them) and the explicit rows are returned (None when
    there are none).
    """
    stacked = problem.caps.ndim == 3
    fixed_rows = None if weights is None else np.atleast_2d(np.asarray(weights))
    n_fixed = 0 if fixed_rows is None else len(fixed_rows)
    n_draws = 0 if draws is None else int(draws.n)
    n_rows = n_fixed + n_draws
    if n_rows == 0:
        raise SwjaxError("run: no weight rows (give weights, draws or both)")
    k = problem.caps.shape[-1]
    if masks is not None and mask is not None:
        raise SwjaxError("run: give mask or masks, not both")
    cross = masks is not None
    mask_arr = np.atleast_2d(np.asarray(masks)) if cross else np.ones(k) if mask is None else np.asarray(mask)
    mask_rows = not cross and mask_arr.ndim == 2
    if mask_rows and n_fixed == 1 and len(mask_arr) > 1 and draws is None:
        fixed_rows = np.repeat(fixed_rows, len(mask_arr), axis=0)  # one row for every mask
        n_fixed = n_rows = len(fixed_rows)
    if mask_rows and (draws is not None or stacked or len(mask_arr) != n_fixed):
        if len(mask_arr) == 1:
            mask_arr, mask_rows = mask_arr[0], False
        else:
            raise SwjaxError("run: one mask per row is for explicit weight rows of one problem")
    if stacked and reduce is not None:
        raise SwjaxError("run: reduce is for runs of one problem")
    if with_full and (cross or mask_rows or ref is not None):
        raise SwjaxError("run: with_full aligns with the full sample of one mask; give no ref and no masks")

    dtype = problem.caps.dtype
    if with_full and not stacked and fixed_rows is None:
        # The first call takes explicit rows (all ones): so do the others, none of them here.
        fixed_rows = np.ones((0, problem.caps.shape[0]), dtype)
    lay = _Layout(select_devices(device, shard))
    n_units = _n_datasets(problem) if stacked else n_rows
    # Explicit rows only: chunks of at least 32 rows (then a power of two), so that the full
    # sample, the jackknife and leave-one-out runs of one problem share a compiled kernel.
    rule_units = -(-n_units // 32) * 32 if draws is None and not (stacked or cross) else n_units
    batch = batch_size or default_batch_size(
        problem, rule_units, lay.devices[0], n_masks=len(mask_arr) if cross else None,
        rows_per_dataset=n_rows if stacked else None,
    )
    decided = Decision(batch_size=int(batch), devices=tuple(lay.devices), units=int(n_units), stacked=stacked)
    spec = _Spec(
        scheme=None if draws is None else draws.scheme, fixed=fixed_rows is not None,
        mask_rows=mask_rows, cross=cross, stacked=stacked,
        fields=None if fields is None else tuple(fields),
        columns=None if columns is None else tuple(int(j) for j in columns),
        reduce=reduce, batch=decided.batch_size, mesh=lay.mesh, n_draws=n_draws if stacked else 0,
        with_full=bool(with_full),
    )
    collect = _Collect(stacked=stacked, n_fixed=0 if stacked else n_fixed, has_draws=draws is not None,
                       with_full=with_full, sink=sink, progress=progress)
    call = _kernel_caller(spec, decided.device)
    with jax.default_device(decided.device):
        key = lay.put_key(None if draws is None else draws.key)
        if stacked:
            compute = _dataset_chunks(call, lay, decided.per_chunk, problem, key, fixed_rows, mask_arr, ref)
        else:
            compute = _row_chunks(call, lay, decided.per_chunk, problem, key, fixed_rows, mask_arr, mask_rows, ref,
                                  n_draws=n_draws, with_full=with_full, collect=collect)
        _run_chunks(n_units, decided.per_chunk, compute, sink=collect, fetch=lay.to_host)
    out = collect.result()
    if out is not None and fields is None:
        out = Stats(**out._asdict())
    result = (Stats(*collect.full_sample()), out) if with_full else out
    return (result, decided) if with_decision else result


def _dataset_chunks(call, lay: _Layout, per_chunk: int, problem, key, fixed_rows, mask_arr, ref):
    """``compute(start, stop)`` of a stacked problem: chunks of ``per_chunk`` datasets, each
    with every explicit row and draw."""
    dtype = problem.caps.dtype
    c = lay.put(np.asarray(mask_arr, dtype))
    w = None if fixed_rows is None else lay.put(np.asarray(fixed_rows, dtype))
    refs = None if ref is None else np.asarray(ref, dtype)

    def compute(start, stop):
        probs = jax.tree.map(lambda x: _padded(x, start, stop, per_chunk), problem)
        r = None if refs is None else _padded(refs, start, stop, per_chunk)
        d = np.arange(start, start + per_chunk, dtype=np.uint32)
        probs, r, d = lay.put_rows((probs, r, d))
        return call(ChunkArgs(problem=probs, fixed=w, key=key, start=np.uint32(0), n_fixed=np.uint32(0), mask=c,
                              ref=r, datasets=d, first=None))

    return compute


def _row_chunks(call, lay: _Layout, per_chunk: int, problem, key, fixed_rows, mask_arr, mask_rows, ref, *,
                n_draws, with_full, collect):
    """``compute(start, stop)`` of one problem: chunks of ``per_chunk`` weight rows, explicit
    rows first, then draws. With ``with_full``, the full sample is computed here first (into
    ``collect``) and its PC1 is every later row's reference."""
    dtype = problem.caps.dtype
    k = problem.caps.shape[-1]
    n_fixed = 0 if fixed_rows is None else len(fixed_rows)
    prob = lay.put(problem)
    c = None if mask_rows else lay.put(np.asarray(mask_arr, dtype))
    r = None if ref is None else lay.put(np.asarray(ref, dtype))
    fill = None if fixed_rows is None else np.asarray(fixed_rows, dtype)
    # Chunks past the explicit rows take only draws: one placeholder for all of them.
    blank = None
    if fill is not None and (n_draws or with_full):
        blank = lay.put_rows(np.zeros((per_chunk, fill.shape[1]), dtype))
    first = None
    if with_full:
        # The full sample first (``with_full`` in run's docstring), then its PC1 is every later
        # row's reference.
        ones = lay.put_rows(np.ones((per_chunk, fill.shape[1]), dtype))
        full = lay.to_host(call(ChunkArgs(problem=prob, fixed=ones, key=key, start=np.uint32(0),
                                          n_fixed=np.uint32(per_chunk), mask=c, ref=lay.put(np.zeros(k, dtype)),
                                          datasets=None, first=np.bool_(True))))["full"]
        collect.full.append(full)
        r, first = lay.put(np.asarray(full.loadings[0], dtype)), np.bool_(False)

    def compute(start, stop):
        w = cm = None
        if fill is not None:
            # Explicit rows of the chunk; past them the kernel takes draws.
            top = min(stop, n_fixed)
            w = lay.put_rows(_padded(fill, start, top, per_chunk)) if start < n_fixed else blank
            if mask_rows:
                cm = lay.put_rows(_padded(np.asarray(mask_arr, dtype), start, top, per_chunk))
        return call(ChunkArgs(problem=prob, fixed=w, key=key, start=np.uint32(start), n_fixed=np.uint32(n_fixed),
                              mask=c if cm is None else cm, ref=r, datasets=None, first=first))

    return compute


class _Collect:
    """The sink of :func:`run`'s chunk loop: explicit rows kept, draws kept or handed on,
    and the full sample of a stacked ``with_full`` run taken from every chunk (of a run of one
    problem, :func:`run` puts its first call's there)."""

    def __init__(self, stacked, n_fixed, has_draws, with_full, sink, progress):
        self.stacked, self.n_fixed, self.has_draws, self.with_full = stacked, n_fixed, has_draws, with_full
        self.sink, self.progress = sink, progress
        self.split = has_draws and sink is not None  # explicit rows kept, draws handed on
        self.seen, self.kept, self.full = 0, [], []

    def full_sample(self):
        """Every chunk's full sample of a stacked run (its datasets'), else the run's."""
        if self.stacked:
            return _concat(self.full)
        return jax.tree.map(lambda x: x[:1], self.full[0])  # one per device of a sharded chunk

    def __call__(self, out):
        if self.with_full:
            out, full = out["rows"], out["full"]
            if self.stacked:
                self.full.append(full)
        rows = len(jax.tree.leaves(out)[0])
        head = min(max(self.n_fixed - self.seen, 0), rows)  # explicit rows in this chunk
        self.seen += rows
        if self.progress is not None:
            self.progress(rows - head if self.has_draws else rows)
        if not self.split:
            if self.sink is not None:
                self.sink(out)
            else:
                self.kept.append(out)
            return
        if head:
            self.kept.append(jax.tree.map(lambda x: x[:head], out))
        if head < rows:
            self.sink(jax.tree.map(lambda x: x[head:], out))

    def result(self):
        if self.sink is not None and not self.split:
            return None
        return _concat(self.kept) if self.kept else None


# ------------------------------------------------------------------ permutations (p-values)


@_one_run_at_a_time
def permutations(key: jax.Array, n: int, n_items: int, sink: Callable[[np.ndarray], None], batch: int = 16384) -> None:
    """Hand ``sink`` the permutations ``0 .. n - 1`` of ``range(n_items)``, a host (rows,
    n_items) array per chunk; permutation ``r`` is ``jax.random.permutation(fold_in(key, r),
    n_items)``, whatever the chunk. The chunk loop is the engine's (:func:`_run_chunks`)."""
    batch = rows_per_chunk(n, batch)

    def compute(start, stop):
        return _permutations_chunk(key, jnp.arange(start, start + batch, dtype=jnp.uint32), int(n_items))

    _run_chunks(int(n), batch, compute, sink=sink)
