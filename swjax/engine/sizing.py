"""What a run runs on and how large its chunks are: devices, precision, the one chunk-size rule.

Every run of :mod:`swjax.engine` takes its devices from :func:`select_devices` and its chunk
size from :func:`default_batch_size` (unless given one); both decisions come back with the
results (:class:`swjax.engine.Decision`), so no caller derives them again.
"""

from __future__ import annotations

import contextlib

import jax
import numpy as np

from ..errors import SwjaxError
from ..problem import Problem

__all__ = [
    "select_device", "select_devices", "precision", "chunk_budget", "rows_per_chunk", "row_bytes",
    "default_batch_size",
]

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


