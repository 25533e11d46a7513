"""vmap + jit + chunking + devices: the one place that compiles the statistic.

Two entry points:

* :func:`evaluate` runs given (weights, masks) rows (full sample, jackknife, leave one
  benchmark out, subsets);
* :func:`resample` draws random weights on the device from a scheme of
  :mod:`swjax.resample`, one key per resample index, and evaluates them.

Both stream chunks of ``batch_size`` rows through one compiled function (the last chunk is
padded, so a run compiles once), so memory is ``O(batch_size x columns x models)`` whatever the
number of resamples, and results do not depend on ``batch_size``.

Several devices. When more than one device of the chosen platform is visible (several GPUs,
several hosts under ``jax.distributed``, or CPU devices simulated with
``XLA_FLAGS=--xla_force_host_platform_device_count=N``), each chunk's rows are laid out on a
one-axis mesh ``Mesh(devices, ("r",))`` with ``NamedSharding(mesh, P("r"))``, the problem is
replicated, and jit runs the vmapped statistic data-parallel. Resample ``r`` still uses
``fold_in(key, r)`` and each device takes ``batch_size`` rows (the rows and the shape of one
single-device chunk), so the numbers equal the single-device ones exactly. Under
``jax.distributed`` every process runs the same call, feeds only its addressable shard
(``jax.make_array_from_callback``) and receives every chunk whole
(``multihost_utils.process_allgather``).
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from .core import Stats, statistic
from .errors import SwjaxError
from .problem import Problem

__all__ = [
    "evaluate", "resample", "select_device", "select_devices", "default_batch_size", "precision",
    "chunk_budget",
]

#: Fields kept from every resample unless asked otherwise (small per resample). The whole
#: spectrum (``"eigenvalues"``) is left out: it costs an eigensolver call per resample, which
#: is then most of the work (:func:`swjax.core.finish` needs only the leading pair).
RESAMPLE_FIELDS = ("corr", "variance_explained", "mean_intercorr", "rule_flip", "cos_ref")

_TARGET_BYTES = 64 * 2**20
_TARGET_ROWS = 8192

#: On an accelerator a chunk's work arrays may take this share of the device memory that is
#: free when the run starts (the rest is left to XLA's temporaries, the problem's arrays and
#: chunks still in flight), and a chunk at most this many rows.
_DEVICE_SHARE = 1 / 16
_DEVICE_MAX_ROWS = 65536


def chunk_budget(device: jax.Device | None = None) -> tuple[int, int]:
    """``(bytes, max_rows)`` that one chunk of work arrays may take on ``device``.

    On the CPU (or ``device=None``, or a device that reports no memory): 64 MiB and 8,192 rows,
    sized for host RAM and caches. On an accelerator whose ``memory_stats()`` reports
    ``bytes_limit``: ``1/16 x (bytes_limit - bytes_in_use)`` and 65,536 rows, so that a GPU
    gets chunks sized by its own free memory, not by the host's.
    """
    if device is None or device.platform == "cpu":
        return _TARGET_BYTES, _TARGET_ROWS
    try:
        stats = device.memory_stats()
    except Exception:  # a backend without memory statistics
        stats = None
    if not stats or "bytes_limit" not in stats:
        return _TARGET_BYTES, _TARGET_ROWS
    free = max(0, int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0)))
    return int(free * _DEVICE_SHARE), _DEVICE_MAX_ROWS


def default_batch_size(problem: Problem, n: int, device: jax.Device | None = None) -> int:
    """Rows per chunk so that one chunk's work arrays fit :func:`chunk_budget` of ``device``.

    The largest arrays of one row are a few (columns x models) arrays, so a chunk of ``B`` rows
    takes about ``8 x B x columns x models`` numbers: about 64 MiB on the CPU, a share of the
    free device memory on a GPU.
    """
    budget, max_rows = chunk_budget(device)
    return rows_per_chunk(n, min(max_rows, budget // chunk_bytes_per_row(problem)))


def rows_per_chunk(n: int, most: int) -> int:
    """Rows of a chunk for ``n`` rows when a chunk may hold ``most``: ``most``, or for fewer
    rows the next power of two (the last chunk is padded to it).

    A run compiles one program per chunk shape; by powers of two, runs of any ``n`` share at
    most ``log2(most)`` of them (``n = 40`` and ``n = 60`` the same one) instead of one per
    ``n``, for at most twice the work on a run that fits in one chunk.
    """
    most = max(1, int(most))
    return most if n >= most else min(most, 1 << max(0, int(n) - 1).bit_length())


def chunk_bytes_per_row(problem: Problem) -> int:
    """Work memory of one row of a chunk: about ``8 x columns x models`` numbers."""
    q, m = problem.obs.shape
    return 8 * q * m * np.dtype(problem.caps.dtype).itemsize


def select_device(device: str = "auto") -> jax.Device:
    """``"cpu"``, ``"gpu"`` or ``"auto"`` (a GPU when JAX sees one, else the CPU)."""
    if device not in ("auto", "cpu", "gpu"):
        raise SwjaxError(f"device: expected 'auto', 'cpu' or 'gpu', got {device!r}")
    if device in ("auto", "gpu"):
        try:
            return jax.devices("gpu")[0]
        except RuntimeError:
            if device == "gpu":
                raise SwjaxError(
                    "device: 'gpu' was asked for but JAX sees no GPU (install jax[cuda12] or "
                    "jax[cuda13], or use --device cpu)"
                ) from None
    return jax.devices("cpu")[0]


def select_devices(device: str = "auto", shard: bool = True) -> list[jax.Device]:
    """Every device (of every process) of the platform :func:`select_device` picks.

    ``shard=False``: only that one device.
    """
    first = select_device(device)
    return list(jax.devices(first.platform)) if shard else [first]


class _Layout:
    """Where a chunk's arrays go: one device, or rows split over a mesh of several."""

    def __init__(self, devices: list[jax.Device]):
        self.devices = devices
        self.n = len(devices)
        if self.n > 1:
            mesh = Mesh(np.array(devices), ("r",))
            self.rows = NamedSharding(mesh, P("r"))
            self.replicated = NamedSharding(mesh, P())

    def batch(self, batch: int) -> int:
        """Rows per chunk: ``batch`` rows on every device.

        Each device then runs the single-device program at the single-device shape on the
        very rows a single-device run would put in one chunk, so every number is the same bit
        for bit (XLA may round a product differently at another batch shape).
        """
        return batch * self.n

    def put(self, tree):
        """Replicate small arrays (problem, mask, key) on every device."""
        if self.n == 1:
            return jax.device_put(tree, self.devices[0])
        return jax.device_put(tree, self.replicated)

    def put_key(self, key: jax.Array) -> jax.Array:
        """A typed key, replicated from its raw data (host numpy, the same on every process)."""
        if self.n == 1:
            return jax.device_put(key, self.devices[0])
        data = self.put(np.asarray(jax.random.key_data(key)))
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(key))

    def put_rows(self, rows: np.ndarray, dtype=None):
        """Rows of the chunk, each device (each process) placing only its own shard."""
        rows = np.asarray(rows) if dtype is None else np.asarray(rows, dtype)
        if self.n == 1:
            return jax.device_put(rows, self.devices[0])
        return jax.make_array_from_callback(rows.shape, self.rows, lambda idx: rows[idx])

    def to_host(self, tree):
        if self.n > 1 and jax.process_count() > 1:
            return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))
        return _to_host(tree)


def _put(tree, device):
    """Place arrays on one device (the many-mask and stacked-problem runs are single-device)."""
    return jax.device_put(tree, device)


def precision(x64: bool):
    """Context in which arrays are float64 (``x64=True``) or the caller's default.

    Scoped: JAX's global setting is left as it was (``jax.enable_x64`` on recent JAX,
    ``jax.experimental.enable_x64`` on older releases).
    """
    if not x64:
        return contextlib.nullcontext()
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # JAX releases before the top-level context

    return enable_x64()


def _select(stats: Stats, fields: Sequence[str] | None):
    return stats if fields is None else {f: getattr(stats, f) for f in fields}


@partial(jax.jit, static_argnames=("fields",))
def _evaluate_chunk(problem, w, c, ref, fields):
    stats = jax.vmap(statistic, in_axes=(None, 0, 0, None))(problem, w, c, ref)
    return _select(stats, fields)


@partial(jax.jit, static_argnames=("scheme", "fields", "batch", "rows"))
def _resample_chunk(problem, key, start, c, ref, scheme, fields, batch, rows):
    # Resample indices made on the device (laid out over the devices' rows when sharded):
    # nothing but a scalar crosses from the host per chunk.
    index = start + jnp.arange(batch, dtype=jnp.uint32)
    if rows is not None:
        index = jax.lax.with_sharding_constraint(index, rows)

    def one(i):
        w = scheme(jax.random.fold_in(key, i)).astype(problem.caps.dtype)
        return statistic(problem, w, c, ref)

    return _select(jax.vmap(one)(index), fields)


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


#: Compiled programs the engine keeps at most. Each new shape of problem compiles its own, and
#: a long-lived process that analyses many datasets of different shapes would otherwise keep
#: them all (LLVM runs out of memory maps after about 90); past this count they are dropped
#: and compiled again when next needed.
MAX_COMPILED = 32


def _compiled_functions():
    return (
        _evaluate_chunk, _resample_chunk, _masks_chunk, _masks_resample_chunk,
        _evaluate_stacked_chunk, _resample_stacked_chunk, _permutations_chunk,
    )


def compiled_count() -> int:
    """Compiled programs held by the engine's functions now (0 where JAX does not say)."""
    return sum(getattr(f, "_cache_size", lambda: 0)() for f in _compiled_functions())


def _bound_compiled() -> None:
    if compiled_count() > MAX_COMPILED:
        for f in _compiled_functions():
            f.clear_cache()


def _run_chunks(n: int, batch: int, compute, sink=None, progress=None, fetch=None):
    """Stream ``n`` rows in chunks of ``batch``: the one loop of every entry point here.

    ``compute(start, stop)`` dispatches one padded chunk and returns its device arrays;
    ``fetch`` (default: copy to host numpy) brings them back. The next chunk is dispatched
    before the previous one is fetched, so the device never waits for the host in between.
    Results are cut to ``stop - start`` rows, handed to ``sink`` (then None is returned) or
    kept and concatenated, and ``progress`` is told how many rows were finished.
    """
    _bound_compiled()
    fetch = fetch or _to_host
    chunks = []

    def finish(pending):
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
            finish(pending)
        pending = dispatched
    if pending is not None:
        finish(pending)
    return None if sink is not None else _concat(chunks)


def evaluate(
    problem: Problem,
    weights: np.ndarray,
    masks: np.ndarray,
    ref: np.ndarray | None = None,
    *,
    batch_size: int | None = None,
    device: str = "auto",
    fields: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
    shard: bool = True,
):
    """The statistic for each row of ``weights`` (n, m) and ``masks`` (n, k).

    Either may have a single row, which is then used for every row of the other.
    Returns :class:`~swjax.core.Stats` (or a dict of ``fields``) of numpy arrays with a
    leading axis of n. Memory: ``O(batch_size x columns x models)``. ``shard``: split the
    rows over every visible device of the platform (module docstring); False: one device.
    """
    weights = np.atleast_2d(np.asarray(weights))
    masks = np.atleast_2d(np.asarray(masks))
    n = max(len(weights), len(masks))
    weights = np.broadcast_to(weights, (n, weights.shape[1]))
    masks = np.broadcast_to(masks, (n, masks.shape[1]))
    dtype = problem.caps.dtype
    # Chunks hold at least 32 rows (then a power of two, rows_per_chunk), so that the full
    # sample, the jackknife and leave-one-benchmark-out runs of one problem share a compiled
    # function.
    lay = _Layout(select_devices(device, shard))
    batch = lay.batch(batch_size or default_batch_size(problem, -(-n // 32) * 32, lay.devices[0]))
    dev = lay.devices[0]
    fields = tuple(fields) if fields is not None else None
    with jax.default_device(dev):
        prob = lay.put(problem)
        ref_arr = None if ref is None else lay.put(np.asarray(ref, dtype))

        def compute(start, stop):
            w = lay.put_rows(_padded(weights, start, stop, batch), dtype)
            c = lay.put_rows(_padded(masks, start, stop, batch), dtype)
            return _evaluate_chunk(prob, w, c, ref_arr, fields)

        result = _run_chunks(n, batch, compute, progress=progress, fetch=lay.to_host)
    return Stats(**result._asdict()) if fields is None else result


def resample(
    problem: Problem,
    scheme,
    n: int,
    key: jax.Array,
    mask: np.ndarray,
    ref: np.ndarray | None,
    *,
    batch_size: int | None = None,
    device: str = "auto",
    fields: Sequence[str] = RESAMPLE_FIELDS,
    progress: Callable[[int], None] | None = None,
    sink: Callable[[dict], None] | None = None,
    shard: bool = True,
):
    """Evaluate ``n`` random resamples with weights from ``scheme(fold_in(key, r))``.

    ``scheme`` must be hashable and stable between calls (the functions of
    :mod:`swjax.resample` are cached per model count) so that repeated runs reuse the
    compiled function. With ``sink``, each chunk's dict of fields is handed over instead of
    kept (bounded memory for very large ``n``); the function then returns None.
    ``shard``: split each chunk over every visible device of the platform (module docstring),
    ``batch_size`` rows per device; the numbers are the same as on one device.
    """
    dtype = problem.caps.dtype
    lay = _Layout(select_devices(device, shard))
    batch = lay.batch(batch_size or default_batch_size(problem, n, lay.devices[0]))
    dev = lay.devices[0]
    fields = tuple(fields)
    with jax.default_device(dev):
        prob = lay.put(problem)
        c = lay.put(np.asarray(mask, dtype))
        ref_arr = None if ref is None else lay.put(np.asarray(ref, dtype))
        key = lay.put_key(key)

        def compute(start, stop):
            rows = lay.rows if lay.n > 1 else None
            return _resample_chunk(prob, key, np.uint32(start), c, ref_arr, scheme, fields, batch, rows)

        return _run_chunks(n, batch, compute, sink=sink, progress=progress, fetch=lay.to_host)


# ------------------------------------------------------------------ many masks per weight row
#
# Capability subsets and leave-one-benchmark-out evaluate many masks for each model-weight row.
# The mask-independent part (ranks of every column, the capability Spearman matrix, z-scores)
# is computed once per weight row and ``finish`` is vmapped over the masks, each with its own
# PC1 reference. Outputs have a leading axis of weight rows, then masks.


def _mask_batch(problem, w, masks, refs, fields):
    from .core import finish, weight_state

    def per_weight(wi):
        state = weight_state(problem, wi, per_mask=True)
        if refs is None:
            stats = jax.vmap(lambda c: finish(problem, state, wi, c, None))(masks)
        else:
            stats = jax.vmap(lambda c, r: finish(problem, state, wi, c, r))(masks, refs)
        return _select(stats, fields)

    return jax.vmap(per_weight)(w)


@partial(jax.jit, static_argnames=("fields", "reduce"))
def _masks_chunk(problem, w, masks, refs, fields, reduce):
    out = _mask_batch(problem, w, masks, refs, fields)
    return out if reduce is None else reduce(out)


@partial(jax.jit, static_argnames=("scheme", "fields", "reduce"))
def _masks_resample_chunk(problem, key, index, masks, refs, scheme, fields, reduce):
    w = jax.vmap(lambda i: scheme(jax.random.fold_in(key, i)))(index).astype(problem.caps.dtype)
    out = _mask_batch(problem, w, masks, refs, fields)
    return out if reduce is None else reduce(out)


def default_mask_batch_size(problem: Problem, n_masks: int, n: int, device: jax.Device | None = None) -> int:
    """Weight rows per chunk so that one chunk's work arrays fit :func:`chunk_budget`.

    A weight row keeps its ranks, about ``2 x columns x models`` numbers, for all its masks;
    one (weight row, mask) pair needs about ``columns x patterns + 2 k^2 + models x (k +
    models)`` numbers (its PC1 work, its score's comparisons and its covariances; measured
    from XLA's buffer assignment on the CPU, within a factor of two).
    """
    q, m = problem.obs.shape
    k = problem.caps.shape[1]
    n_pat = problem.patterns.shape[0]
    itemsize = np.dtype(problem.caps.dtype).itemsize
    per_row = (2 * q * m + n_masks * (q * n_pat + 2 * k * k + m * (k + m))) * itemsize
    budget, max_rows = chunk_budget(device)
    return rows_per_chunk(n, min(max_rows // 2, budget // max(per_row, 1)))


def evaluate_masks(
    problem: Problem,
    weights: np.ndarray,
    masks: np.ndarray,
    refs: np.ndarray | None = None,
    *,
    batch_size: int | None = None,
    device: str = "auto",
    fields: Sequence[str] | None = ("corr",),
    reduce=None,
    sink: Callable | None = None,
):
    """The statistic for every (weight row, mask) pair: ``weights`` (n, m) x ``masks`` (M, k).

    ``refs`` (M, k) gives each mask its own PC1 reference (None: the released sign rule).
    Returns a dict of ``fields`` with leading axes (n, M), or, with ``reduce`` (a hashable
    function of that dict applied on the device to each chunk), the reduced chunks
    concatenated on the first axis. With ``sink`` each chunk is handed over instead of kept.
    Memory: ``O(batch_size x M x columns x models)``.
    """
    weights = np.atleast_2d(np.asarray(weights))
    masks = np.atleast_2d(np.asarray(masks))
    n = len(weights)
    dtype = problem.caps.dtype
    dev = select_device(device)
    batch = batch_size or default_mask_batch_size(problem, len(masks), n, dev)
    fields = tuple(fields) if fields is not None else None
    with jax.default_device(dev):
        prob = _put(problem, dev)
        c = jnp.asarray(masks, dtype)
        r = None if refs is None else jnp.asarray(refs, dtype)

        def compute(start, stop):
            w = jnp.asarray(_padded(weights, start, stop, batch), dtype)
            return _masks_chunk(prob, w, c, r, fields, reduce)

        return _run_chunks(n, batch, compute, sink=sink)


def resample_masks(
    problem: Problem,
    scheme,
    n: int,
    key: jax.Array,
    masks: np.ndarray,
    refs: np.ndarray | None,
    *,
    batch_size: int | None = None,
    device: str = "auto",
    fields: Sequence[str] = ("corr",),
    reduce=None,
    sink: Callable | None = None,
    progress: Callable[[int], None] | None = None,
):
    """``n`` random weight rows from ``scheme(fold_in(key, r))``, each with every mask.

    Resample ``r`` draws the same weights as :func:`resample` with the same key, whatever the
    batch size, so a mask's distribution here equals :func:`resample` with that mask.
    ``reduce`` and ``sink`` as in :func:`evaluate_masks` (``reduce`` sees a leading axis of
    resamples and must keep it, so that padded rows can be cut off).
    """
    masks = np.atleast_2d(np.asarray(masks))
    dtype = problem.caps.dtype
    dev = select_device(device)
    batch = batch_size or default_mask_batch_size(problem, len(masks), n, dev)
    fields = tuple(fields)
    with jax.default_device(dev):
        prob = _put(problem, dev)
        c = jnp.asarray(masks, dtype)
        r = None if refs is None else jnp.asarray(refs, dtype)
        key = jax.device_put(key, dev)

        def compute(start, stop):
            index = jnp.arange(start, start + batch, dtype=jnp.uint32)
            return _masks_resample_chunk(prob, key, index, c, r, scheme, fields, reduce)

        return _run_chunks(n, batch, compute, sink=sink, progress=progress)


# ------------------------------------------------------- many datasets at once (coverage studies)

__all__ += ["evaluate_stacked", "resample_stacked", "default_dataset_batch"]


def _float_dtype(problems) -> np.dtype:
    """The floating dtype of a (stacked) problem: that of its first floating-point array."""
    for leaf in jax.tree.leaves(problems):
        if jnp.issubdtype(leaf.dtype, jnp.floating):
            return leaf.dtype
    raise SwjaxError("problems: no floating-point array in the problem")


def _pick(stats: Stats, fields: tuple[str, ...], columns: tuple[int, ...] | None):
    out = {f: getattr(stats, f) for f in fields}
    if columns is not None:
        idx = jnp.asarray(columns)
        for f in ("corr", "n_pairs"):
            if f in out:
                out[f] = out[f][..., idx]
    return out


# Datasets of a chunk are taken one after another (``lax.map``), each with its rows vectorized.
# Vectorizing over datasets as well would batch the PC1 fallback's ``lax.cond`` into a select,
# so the eigensolver would run for every resample instead of for the few that need it; the
# numbers are the same either way.

@partial(jax.jit, static_argnames=("fields", "columns"))
def _evaluate_stacked_chunk(problems, w, c, refs, fields, columns):
    def one_dataset(problem, ref):
        stats = jax.vmap(statistic, in_axes=(None, 0, None, None))(problem, w, c, ref)
        return _pick(stats, fields, columns)

    return lax.map(lambda x: one_dataset(*x), (problems, refs))


@partial(jax.jit, static_argnames=("scheme", "fields", "columns"))
def _resample_stacked_chunk(problems, key, datasets, index, c, refs, scheme, fields, columns):
    dtype = _float_dtype(problems)

    def one_dataset(problem, d, ref):
        key_d = jax.random.fold_in(key, d)

        def one(i):
            w = scheme(jax.random.fold_in(key_d, i)).astype(dtype)
            return statistic(problem, w, c, ref)

        return _pick(jax.vmap(one)(index), fields, columns)

    return lax.map(lambda x: one_dataset(*x), (problems, datasets, refs))


def _n_datasets(problems) -> int:
    return int(jax.tree.leaves(problems)[0].shape[0])


def _dataset_chunk(problems, refs, start: int, stop: int, per_chunk: int):
    """Problems (and refs) ``start:stop`` along the dataset axis, padded to ``per_chunk``."""
    cut = lambda x: _padded(x, start, stop, per_chunk)  # noqa: E731
    return jax.tree.map(cut, problems), None if refs is None else cut(refs)


def default_dataset_batch(problems, rows_per_dataset: int, device: jax.Device | None = None) -> int:
    """Datasets per chunk so that a chunk's work arrays fit :func:`chunk_budget` of ``device``.

    One (dataset, row) pair takes about ``8 x columns x models + 2 x models^2`` numbers.
    """
    leaves = jax.tree.leaves(problems)
    m = max(int(x.shape[-1]) for x in leaves if x.ndim >= 2)
    q = max(int(x.shape[1]) for x in leaves if x.ndim >= 3)
    itemsize = np.dtype(_float_dtype(problems)).itemsize
    per_row = (8 * q * m + 2 * m * m) * itemsize
    budget, _ = chunk_budget(device)
    return int(max(1, min(_n_datasets(problems), budget // (per_row * max(1, rows_per_dataset)))))


def evaluate_stacked(
    problems: Problem,
    weights: np.ndarray,
    mask: np.ndarray,
    refs: np.ndarray | None = None,
    *,
    fields: Sequence[str] = ("corr",),
    columns: Sequence[int] | None = None,
    dataset_batch: int | None = None,
    device: str = "auto",
) -> dict:
    """The statistic of every weight row (n, m) on each of R stacked problems.

    ``problems`` are problems of same-shaped datasets stacked along a new leading axis
    (:func:`swjax.problem.build_problem` with ``drop_degenerate=False``, then
    :func:`swjax.problem.stack_problems`); ``refs`` is (R, k) or None. Returns a
    dict of ``fields`` with leading axes (R, n); ``corr`` and ``n_pairs`` keep only
    ``columns`` when given. Memory: ``O(dataset_batch x n x (columns x models + models^2))``.
    """
    weights = np.atleast_2d(np.asarray(weights))
    dtype = _float_dtype(problems)
    fields = tuple(fields)
    columns = None if columns is None else tuple(int(j) for j in columns)
    dev = select_device(device)
    per_chunk = dataset_batch or default_dataset_batch(problems, len(weights), dev)
    with jax.default_device(dev):
        w = jnp.asarray(weights, dtype)
        c = jnp.asarray(mask, dtype)

        def compute(start, stop):
            probs, ref = _dataset_chunk(problems, refs, start, stop, per_chunk)
            ref = None if ref is None else jnp.asarray(ref, dtype)
            return _evaluate_stacked_chunk(_put(probs, dev), w, c, ref, fields, columns)

        return _run_chunks(_n_datasets(problems), per_chunk, compute)


def resample_stacked(
    problems: Problem,
    scheme,
    n: int,
    key: jax.Array,
    mask: np.ndarray,
    refs: np.ndarray | None,
    *,
    fields: Sequence[str] = ("corr",),
    columns: Sequence[int] | None = None,
    dataset_batch: int | None = None,
    device: str = "auto",
    progress: Callable[[int], None] | None = None,
) -> dict:
    """``n`` random resamples of each of R stacked problems, vectorized over both axes.

    Resample ``r`` of dataset ``d`` uses weights ``scheme(fold_in(fold_in(key, d), r))``, so
    results do not depend on ``dataset_batch``. Returns a dict of ``fields`` with leading axes
    (R, n). Datasets are streamed in chunks of ``dataset_batch`` through one compiled function
    (the last chunk is padded); memory is ``O(dataset_batch x n x (columns x models + models^2))``.
    ``progress`` is called with the number of datasets finished after each chunk.
    """
    dtype = _float_dtype(problems)
    fields = tuple(fields)
    columns = None if columns is None else tuple(int(j) for j in columns)
    dev = select_device(device)
    per_chunk = dataset_batch or default_dataset_batch(problems, n, dev)
    with jax.default_device(dev):
        c = jnp.asarray(mask, dtype)
        key = jax.device_put(key, dev)
        index = jnp.arange(n, dtype=jnp.uint32)

        def compute(start, stop):
            probs, ref = _dataset_chunk(problems, refs, start, stop, per_chunk)
            ref = None if ref is None else jnp.asarray(ref, dtype)
            datasets = jnp.arange(start, start + per_chunk, dtype=jnp.uint32)
            return _resample_stacked_chunk(_put(probs, dev), key, datasets, index, c, ref, scheme, fields, columns)

        return _run_chunks(_n_datasets(problems), per_chunk, compute, progress=progress)


# ------------------------------------------------------------------ permutations (p-values)

__all__ += ["permutations"]


@partial(jax.jit, static_argnames="n_items")
def _permutations_chunk(key, index, n_items):
    return jax.vmap(lambda i: jax.random.permutation(jax.random.fold_in(key, i), n_items))(index)


def permutations(key: jax.Array, start: int, stop: int, n_items: int) -> np.ndarray:
    """Permutations ``start .. stop - 1`` of ``range(n_items)`` as a host (rows, n_items) array;
    permutation ``r`` is ``jax.random.permutation(fold_in(key, r), n_items)``, whatever the chunk."""
    _bound_compiled()
    return np.asarray(_permutations_chunk(key, jnp.arange(start, stop, dtype=jnp.uint32), int(n_items)))
