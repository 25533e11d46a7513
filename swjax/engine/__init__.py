"""vmap + jit + chunking + devices: the one place that compiles the statistic.

The package, by concern (each module imports only those listed before it):

* :mod:`.sizing`: devices, precision, and the one chunk-size rule;
* :mod:`.kernel`: the statistic of one chunk, vmapped and jitted (its arguments named in
  :class:`ChunkArgs`);
* :mod:`.cache`: the compiled-program cache (in the process, and lowered programs on disk);
* :mod:`.chunks`: :func:`run` and the one chunk loop.

One entry point, :func:`run`, evaluates the statistic of :mod:`swjax.core` for

* **weight rows**: explicit rows (``weights``: full sample, jackknife, leave one family out)
  and/or ``draws`` (:class:`Draws`: random weights made on the device from a scheme of
  :mod:`swjax.resample`, one key per resample index), fixed rows first;
* **capability masks**: one ``mask`` for every row, one mask per explicit row, or ``masks``
  (M, k) crossed with every row (leave one benchmark out, subsets: the mask-independent part
  of the statistic is then computed once per row and shared by its masks);
* **problems**: one, or R same-shaped problems stacked along a leading axis (coverage studies
  and ``plan``), resample ``r`` of dataset ``d`` drawn from ``fold_in(fold_in(key, d), r)``.

Every call streams chunks through one compiled kernel (:func:`.kernel._kernel`; the last chunk
is padded, so a run compiles once), so memory is ``O(chunk x columns x models)`` whatever the
number of resamples, and results do not depend on the chunk size: resample ``r`` always uses
``fold_in(key, r)``. Chunks are rows, or datasets for stacked problems; their size comes from
one rule, :func:`default_batch_size`. The next chunk is dispatched before the previous one is
fetched (:func:`.chunks._run_chunks`, the one chunk loop). What a run decided (its batch size,
devices and chunks) comes back with its results when asked (``with_decision=True``: a
:class:`Decision`), so that callers report it rather than derive it again.

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

from .cache import MAX_COMPILED, compiled_count
from .chunks import Decision, Draws, permutations, run
from .kernel import RESAMPLE_FIELDS, ChunkArgs
from .sizing import (
    chunk_budget,
    default_batch_size,
    precision,
    row_bytes,
    rows_per_chunk,
    select_device,
    select_devices,
)

__all__ = [
    "run", "Draws", "Decision", "ChunkArgs", "select_device", "select_devices", "default_batch_size", "precision",
    "chunk_budget", "row_bytes", "rows_per_chunk", "permutations", "compiled_count", "MAX_COMPILED",
    "RESAMPLE_FIELDS",
]
