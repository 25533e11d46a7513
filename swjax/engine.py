"""vmap + jit + chunking + devices: the one place that compiles the statistic.

One entry point, :func:`run`, evaluates the statistic of :mod:`swjax.core` for

* **weight rows**: explicit rows (``weights``: full sample, jackknife, leave one family out)
  and/or ``draws`` (:class:`Draws`: random weights made on the device from a scheme of
  :mod:`swjax.resample`, one key per resample index), fixed rows first;
* **capability masks**: one ``mask`` for every row, one mask per explicit row, or ``masks``
  (M, k) crossed with every row (leave one benchmark out, subsets: the mask-independent part
  of the statistic is then computed once per row and shared by its masks);
* **problems**: one, or R same-shaped problems stacked along a leading axis (coverage studies
  and ``plan``), resample ``r`` of dataset ``d`` drawn from ``fold_in(fold_in(key, d), r)``.

Every call streams chunks through one compiled kernel (:func:`_kernel`; the last chunk is
padded, so a run compiles once), so memory is ``O(chunk x columns x models)`` whatever the
number of resamples, and results do not depend on the chunk size: resample ``r`` always uses
``fold_in(key, r)``. Chunks are rows, or datasets for stacked problems; their size comes from
one rule, :func:`default_batch_size`. The next chunk is dispatched before the previous one is
fetched (:func:`_run_chunks`, the one chunk loop).

Several devices. When more than one device of the chosen platform is visible (several GPUs,
several hosts under ``jax.distributed``, or CPU devices simulated with
``XLA_FLAGS=--xla_force_host_platform_device_count=N``), every kind of run is split the same
way: each chunk's rows (or datasets) are laid out on a one-axis mesh ``Mesh(devices, ("r",))``
and ``shard_map`` runs the single-device kernel on each device's ``batch_size`` rows, at the
single-device shape, so the numbers equal the single-device ones exactly. Under
``jax.distributed`` every process runs the same call, feeds only its addressable shard
(``jax.make_array_from_callback``) and receives every chunk whole
(``multihost_utils.process_allgather``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from functools import partial
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from .core import Stats, complete_spectrum, finish, statistic, weight_state
from .errors import SwjaxError
from .problem import Problem

__all__ = [
    "run", "Draws", "select_device", "select_devices", "default_batch_size", "precision",
    "chunk_budget", "rows_per_chunk", "permutations", "compiled_count", "RESAMPLE_FIELDS",
]

#: Fields kept from every resample unless asked otherwise (small per resample). The whole
#: spectrum (``"eigenvalues"``) is left out: it costs an eigensolver call per resample, which
#: is then most of the work (:func:`swjax.core.finish` needs only the leading pair).
RESAMPLE_FIELDS = ("corr", "variance_explained", "mean_intercorr", "rule_flip", "cos_ref")

_TARGET_BYTES = 64 * 2**20
_TARGET_ROWS = 8192
#: On the CPU, a chunk of a problem on the sort path (:mod:`swjax.ranks`) takes at most this
#: much work memory, and at least :data:`_CACHE_MIN_ROWS` rows: its gathers, sorts and
#: cumulative sums run at the speed of the caches, not of RAM. On the shared 2-core CPU, under
#: load (``benchmarks/bench_scale.py --chunks M``, batch sizes interleaved in one process):
#: 4,500 models x 7 benchmarks, 4-32 rows a chunk ran 1.1-2.5x faster than 64-256 (the
#: smaller the better in one run, flat from 4 to 32 in another); 1,000 models, 64-128 rows
#: 3.6x faster than 256 and 2x faster than 16 (each chunk also has a fixed cost of a few ms).
#: 16 MiB gives 16 rows at 4,500 models and 74 at 1,000. The comparison path's matrix
#: products prefer large chunks and keep :data:`_TARGET_BYTES`.
_CACHE_BYTES = 16 * 2**20
_CACHE_MIN_ROWS = 8

#: On an accelerator a chunk's work arrays may take this share of the device memory that is
#: free when the run starts (the rest is left to XLA's temporaries, the problem's arrays and
#: chunks still in flight), and a chunk at most this many rows.
_DEVICE_SHARE = 1 / 16
_DEVICE_MAX_ROWS = 65536


class Draws(NamedTuple):
    """``n`` random weight rows: row ``r`` is ``scheme(fold_in(key, r))``.

    ``scheme`` must be hashable and stable between calls (the functions of
    :mod:`swjax.resample` are cached per model count) so that repeated runs reuse the
    compiled kernel.
    """

    scheme: Callable
    n: int
    key: jax.Array


# ------------------------------------------------------------------ devices and precision


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


# ------------------------------------------------------------------ the one chunk-size rule


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


def rows_per_chunk(n: int, most: int) -> int:
    """Rows of a chunk for ``n`` rows when a chunk may hold ``most``: ``most``, or for fewer
    rows the next power of two (the last chunk is padded to it).

    A run compiles one program per chunk shape; by powers of two, runs of any ``n`` share at
    most ``log2(most)`` of them (``n = 40`` and ``n = 60`` the same one) instead of one per
    ``n``, for at most twice the work on a run that fits in one chunk.
    """
    most = max(1, int(most))
    return most if n >= most else min(most, 1 << max(0, int(n) - 1).bit_length())


def _shape(problem: Problem):
    """(columns, models, capabilities, pair sets, itemsize) of a problem, stacked or not."""
    q, m = problem.obs.shape[-2:]
    return q, m, problem.caps.shape[-1], problem.patterns.shape[-2], np.dtype(problem.caps.dtype).itemsize


def row_bytes(problem: Problem, n_masks: int | None = None) -> int:
    """Work memory of one weight row of a chunk.

    One mask: about ``8 x columns x models`` numbers (the largest arrays of a row are a few
    (columns x models) arrays). ``n_masks`` crossed masks: the row keeps its ranks, about
    ``2 x columns x models`` numbers, for all its masks, and one (row, mask) pair needs about
    ``columns x pair sets + 2 k^2 + models x (k + models)`` numbers (its PC1 work, its score's
    comparisons and its covariances; measured from XLA's buffer assignment on the CPU, within
    a factor of two).
    """
    q, m, k, n_pat, itemsize = _shape(problem)
    if n_masks is None:
        return 8 * q * m * itemsize
    return (2 * q * m + n_masks * (q * n_pat + 2 * k * k + m * (k + m))) * itemsize


def default_batch_size(
    problem: Problem,
    n: int,
    device: jax.Device | None = None,
    *,
    n_masks: int | None = None,
    rows_per_dataset: int | None = None,
) -> int:
    """Units per chunk so that one chunk's work arrays fit :func:`chunk_budget` of ``device``.

    The one rule of every run: units are weight rows (:func:`row_bytes` each, with
    ``n_masks`` crossed masks when given), or for a stacked problem (``rows_per_dataset``
    given) datasets of that many rows, with ``2 x models^2`` more numbers per row for the
    score's comparisons. Rows are vectorized, so their count is rounded to a power of two
    (:func:`rows_per_chunk`); datasets are mapped one after another, so a chunk holds at
    most ``n`` of them. On the CPU, rows of a problem on the sort path are further held to
    :data:`_CACHE_BYTES` a chunk.
    """
    budget, max_rows = chunk_budget(device)
    if rows_per_dataset is not None:
        _, m, _, _, itemsize = _shape(problem)
        per = (row_bytes(problem) + 2 * m * m * itemsize) * max(1, int(rows_per_dataset))
        return int(max(1, min(int(n), budget // per)))
    if n_masks is not None:
        max_rows //= 2
    per_row = max(1, row_bytes(problem, n_masks))
    rows = budget // per_row
    if problem.cmp is None and n_masks is None and (device is None or device.platform == "cpu"):
        rows = min(rows, max(_CACHE_MIN_ROWS, _CACHE_BYTES // per_row))
    return rows_per_chunk(n, min(max_rows, rows))


# ------------------------------------------------------------------ the kernel


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
    with_full: bool  # the full sample from the kernel (module docstring of run): its PC1 the ref


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


def _device_chunk(spec: _Spec, problem, fixed, key, start, n_fixed, mask, ref, datasets, first):
    """One device's part of a chunk (the whole chunk on a single device)."""
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
    if spec.stacked:
        in_specs = (row, rep, rep, rep, rep, rep, row, row, rep)
    else:
        in_specs = (rep, row, rep, rep, rep, row if spec.mask_rows else rep, rep, rep, rep)
    smap = getattr(jax, "shard_map", None)
    if smap is None:  # JAX releases before the top-level shard_map
        from jax.experimental.shard_map import shard_map as smap

        return smap(f, mesh=spec.mesh, in_specs=in_specs, out_specs=row, check_rep=False)
    return smap(f, mesh=spec.mesh, in_specs=in_specs, out_specs=row, check_vma=False)


@partial(jax.jit, static_argnames=("spec",))
def _kernel(problem, fixed, key, start, n_fixed, mask, ref, datasets, first, spec: _Spec):
    """The compiled kernel: one chunk of any run (rows or datasets; one device or a mesh)."""
    f = partial(_device_chunk, spec)
    if spec.mesh is not None:
        f = _sharded(spec, f)
    return f(problem, fixed, key, start, n_fixed, mask, ref, datasets, first)


# ------------------------------------------------------------------ the program cache
#
# Tracing and lowering the kernel takes about a second per problem shape on a CPU, in every new
# process, even when JAX's persistent compilation cache then finds the compiled program. Where
# that cache is on (``jax_compilation_cache_dir``: the command line turns it on), the engine
# keeps the lowered kernel beside it, as ``jax.export`` artifacts in ``programs/``, named by a
# hash of everything the program depends on: the run's static description, the shapes and
# dtypes of its arguments, the JAX and jaxlib versions, the JAX settings that change a trace
# (random bits, dtype promotion, dot precision), the platform and device kind, and the source
# of the swjax package. A later process loads the artifact (milliseconds) and compiles
# it from the compilation cache, with the same numbers bit for bit
# (tests/test_program_cache.py). CPU runs on one device only; any failure (no flatbuffers,
# which serialization needs; an unreadable file) falls back to tracing.

_programs: dict = {}
_program_cache_failed = False


def _program_folder():
    if _program_cache_failed:
        return None
    folder = getattr(jax.config, "jax_compilation_cache_dir", None)
    if not folder:
        return None
    from pathlib import Path

    return Path(folder) / "programs"


@functools.lru_cache(maxsize=1)
def _source_hash() -> str:
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.rglob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


_TRACE_SETTINGS = (
    "jax_enable_x64", "jax_default_prng_impl", "jax_threefry_partitionable", "jax_numpy_dtype_promotion",
    "jax_default_matmul_precision", "jax_numpy_rank_promotion", "jax_enable_checks",
)


def _program_id(args, spec: _Spec, device) -> str | None:
    """The program cache's name for this kernel call, or None when it cannot be named."""
    import hashlib

    scheme = None if spec.scheme is None else getattr(spec.scheme, "cache_key", None)
    if spec.scheme is not None and scheme is None:
        return None
    reduce = None if spec.reduce is None else f"{spec.reduce.__module__}.{spec.reduce.__qualname__}"
    leaves, tree = jax.tree.flatten(args)
    avals = [(tuple(np.shape(x)), str(getattr(x, "dtype", type(x).__name__))) for x in leaves]
    import jaxlib

    # JAX settings that change what a trace lowers to (random bits, dtypes, dot precision).
    settings = tuple(repr(getattr(jax.config, name, None)) for name in _TRACE_SETTINGS)
    parts = (
        repr(spec._replace(scheme=scheme, reduce=reduce, mesh=None)), str(tree), repr(avals),
        jax.__version__, jaxlib.__version__, device.platform, device.device_kind, _source_hash(),
        settings,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:40]


def _register_trees() -> None:
    from .problem import Pairs

    for cls, name in ((Problem, "swjax.Problem"), (Pairs, "swjax.Pairs"), (Stats, "swjax.Stats")):
        try:
            jax.export.register_namedtuple_serialization(cls, serialized_name=name)
        except ValueError:  # registered already
            pass


def _cached_program(args, spec: _Spec, device):
    """A callable running the kernel from the program cache, or None (then trace as usual)."""
    global _program_cache_failed
    folder = _program_folder()
    if folder is None or spec.mesh is not None or device.platform != "cpu":
        return None
    ident = _program_id(args, spec, device)
    if ident is None:
        return None
    if ident in _programs:
        return _programs[ident]
    path = folder / f"{ident}.bin"
    try:
        _register_trees()
        try:
            exported = jax.export.deserialize(bytearray(path.read_bytes()))
        except Exception:  # noqa: BLE001 - absent, unreadable or damaged: lower it again
            kernel = jax.jit(lambda *xs: _kernel(*xs, spec=spec))
            exported = jax.export.export(kernel, platforms=("cpu",))(*args)
            blob = exported.serialize()
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # per process and thread
            tmp.write_bytes(blob)
            os.replace(tmp, path)  # whole or absent: never a half-written program
    except Exception:  # noqa: BLE001 - any trouble with the cache: trace as usual from now on
        _program_cache_failed = True
        return None
    if len(_programs) >= MAX_COMPILED:
        _programs.clear()
    _programs[ident] = fn = jax.jit(exported.call)
    return fn


def _kernel_caller(spec: _Spec, device):
    """``call(args)`` running the kernel on one chunk: from the program cache where it is on,
    else traced. The program is looked up on the first chunk only: every chunk of a run has
    the same shapes (the last one is padded)."""
    program = None

    def call(args):
        nonlocal program
        if program is not None:
            return program(*args)
        before = compiled_count()
        program = _cached_program(args, spec, device) or partial(_kernel, spec=spec)
        out = program(*args)  # compiles (synchronously) when the program is new
        if compiled_count() > before:
            _release_heap()
        return out

    return call


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows): nothing to do
        return None


def _release_heap() -> None:
    """Give the heap's free pages back to the system after a compilation.

    Compiling a kernel leaves a few hundred MB of freed temporaries in glibc's heap, which stay
    resident under everything that follows: 230 MiB of a 680 MiB process after the first
    bootstrap of a set. ``malloc_trim`` returns them (a few ms), so a million resamples kept in
    memory sit on the process's real baseline. Nowhere but glibc does this do anything.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


# ------------------------------------------------------------------ the chunk loop


#: Compiled programs the engine keeps at most. Each new shape of problem compiles its own, and
#: a long-lived process that analyses many datasets of different shapes would otherwise keep
#: them all (LLVM runs out of memory maps after about 90); past this count they are dropped
#: and compiled again when next needed.
MAX_COMPILED = 32


def _compiled_functions():
    return (_kernel, _permutations_chunk)


def compiled_count() -> int:
    """Compiled programs held by the engine's functions now (0 where JAX does not say);
    programs loaded from the program cache count one each."""
    return sum(getattr(f, "_cache_size", lambda: 0)() for f in _compiled_functions()) + len(_programs)


def _bound_compiled() -> None:
    if compiled_count() > MAX_COMPILED:
        for f in _compiled_functions():
            f.clear_cache()
        _programs.clear()


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
    shard : split each chunk over every visible device of the platform (module docstring);
        False: one device. The numbers are the same either way.
    with_full : compute the full sample (every weight 1, the released sign rule) with the
        kernel and align every row's PC1 with its PC1 (in place of ``ref``): the full sample, its
        jackknife and its resamples in one compiled program, with one copy of the statistic in
        it. The run's first call evaluates a chunk of all-ones rows by the released rule (its
        first row is the full sample), the later calls the rows, aligned with that PC1; a
        stacked problem computes each dataset's full sample in the dataset's own step. The call
        then returns ``(full, rows)``, ``full`` a ``Stats`` of every field with one row (of each
        dataset: leading axes (R, 1)).

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
    dev = lay.devices[0]
    n_units = _n_datasets(problem) if stacked else n_rows
    # Explicit rows only: chunks of at least 32 rows (then a power of two), so that the full
    # sample, the jackknife and leave-one-out runs of one problem share a compiled kernel.
    rule_units = -(-n_units // 32) * 32 if draws is None and not (stacked or cross) else n_units
    batch = batch_size or default_batch_size(
        problem, rule_units, dev, n_masks=len(mask_arr) if cross else None,
        rows_per_dataset=n_rows if stacked else None,
    )
    spec = _Spec(
        scheme=None if draws is None else draws.scheme, fixed=fixed_rows is not None,
        mask_rows=mask_rows, cross=cross, stacked=stacked,
        fields=None if fields is None else tuple(fields),
        columns=None if columns is None else tuple(int(j) for j in columns),
        reduce=reduce, batch=int(batch), mesh=lay.mesh, n_draws=n_draws if stacked else 0,
        with_full=bool(with_full),
    )
    collect = _Collect(stacked=stacked, n_fixed=0 if stacked else n_fixed, has_draws=draws is not None,
                       with_full=with_full, sink=sink, progress=progress)
    per_chunk = batch * lay.n
    call = _kernel_caller(spec, dev)
    with jax.default_device(dev):
        key = lay.put_key(None if draws is None else draws.key)
        if stacked:
            c = lay.put(np.asarray(mask_arr, dtype))
            w = None if fixed_rows is None else lay.put(np.asarray(fixed_rows, dtype))
            refs = None if ref is None else np.asarray(ref, dtype)

            def compute(start, stop):
                probs = jax.tree.map(lambda x: _padded(x, start, stop, per_chunk), problem)
                r = None if refs is None else _padded(refs, start, stop, per_chunk)
                d = np.arange(start, start + per_chunk, dtype=np.uint32)
                probs, r, d = lay.put_rows((probs, r, d))
                return call((probs, w, key, np.uint32(0), np.uint32(0), c, r, d, None))

            _run_chunks(n_units, per_chunk, compute, sink=collect, fetch=lay.to_host)
        else:
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
                # The full sample first (module docstring of this function), then its PC1 is
                # every later row's reference.
                ones = lay.put_rows(np.ones((per_chunk, fill.shape[1]), dtype))
                full = lay.to_host(call((prob, ones, key, np.uint32(0), np.uint32(per_chunk), c,
                                         lay.put(np.zeros(k, dtype)), None, np.bool_(True))))["full"]
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
                return call((prob, w, key, np.uint32(start), np.uint32(n_fixed), c if cm is None else cm, r, None,
                             first))

            _run_chunks(n_units, per_chunk, compute, sink=collect, fetch=lay.to_host)
    out = collect.result()
    if out is not None and fields is None:
        out = Stats(**out._asdict())
    if not with_full:
        return out
    return Stats(*collect.full_sample()), out


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


@partial(jax.jit, static_argnames="n_items")
def _permutations_chunk(key, index, n_items):
    return jax.vmap(lambda i: jax.random.permutation(jax.random.fold_in(key, i), n_items))(index)


@_one_run_at_a_time
def permutations(key: jax.Array, n: int, n_items: int, sink: Callable[[np.ndarray], None], batch: int = 16384) -> None:
    """Hand ``sink`` the permutations ``0 .. n - 1`` of ``range(n_items)``, a host (rows,
    n_items) array per chunk; permutation ``r`` is ``jax.random.permutation(fold_in(key, r),
    n_items)``, whatever the chunk. The chunk loop is the engine's (:func:`_run_chunks`)."""
    batch = rows_per_chunk(n, batch)

    def compute(start, stop):
        return _permutations_chunk(key, jnp.arange(start, start + batch, dtype=jnp.uint32), int(n_items))

    _run_chunks(int(n), batch, compute, sink=sink)
