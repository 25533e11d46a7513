"""Checks of everything a user passes, on the host, before any tracing. No jax.

Every public entry point calls these, so each parameter is checked in one place, with one
message naming it and what was expected (``SwjaxError``; the command line turns it into one
line and exit code 2). Data-dependent failures during resampling never raise (they are NaN,
counted and warned about); what can be known before computing is refused here.

* scalars: :func:`integer`, :func:`seed`, :func:`level`, :func:`threshold`;
* resample counts: :func:`resamples` (a minimum that leaves resamples beyond each end of the
  interval, the key's index range) and :func:`memory` (the kept distribution must fit in
  memory, or on disk when it is streamed);
* chunks: :func:`batch_size` (a chunk must fit in memory);
* data: :func:`dataset` (every score finite or missing, unique ids, numeric) and
  :func:`capability_scale` (a capability column whose values cannot be z-scored in the working
  precision).
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import SwjaxError

__all__ = [
    "integer", "seed", "level", "threshold", "resamples", "min_resamples", "batch_size", "memory",
    "dataset", "capability_scale", "imputable", "available_memory", "MAX_RESAMPLES", "MAX_BATCH",
    "IMPUTE_MAX_MISSING", "benchmark",
]

#: Resample ``r`` uses ``fold_in(key, r)`` with a 32-bit ``r``; the engine indexes resamples
#: with int32. Beyond this the keys would repeat.
MAX_RESAMPLES = 2**31 - 1

#: Rows of one compiled chunk at most (per device). Above it XLA's buffers reach sizes where
#: a chunk no longer pays for itself, and very large values abort inside XLA.
MAX_BATCH = 1 << 20

#: Share of the machine's available memory that a run may plan to use.
MEMORY_SHARE = 0.8
#: Under imputation (``--missing impute``) a capability benchmark may be missing for at most
#: this share of the models.
IMPUTE_MAX_MISSING = 0.5
#: Under imputation, the largest share of missing capability cells (among the models kept) at
#: which its intervals were validated by the coverage study (docs/sparse.md,
#: ``benchmarks/bench_impute_coverage.py``); above it an interval is refused.
IMPUTE_VALIDATED_SHARE = 0.20


def _is_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _is_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def integer(name: str, value, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer in ``[minimum, maximum]``."""
    if not _is_int(value) or value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum:,}]"
        raise SwjaxError(f"{name}: expected an integer {bound}, got {value!r}")
    return int(value)


def seed(value) -> int:
    """A seed: an integer in [0, 2**63)."""
    if not _is_int(value):
        raise SwjaxError(f"seed: expected an integer, got {value!r}")
    if not 0 <= int(value) < 2**63:
        raise SwjaxError(f"seed: expected 0 <= seed < 2**63, got {value}")
    return int(value)


def _fraction(name: str, value) -> float:
    """A number in (0, 1); a percentage such as 95 is refused with the fraction it likely meant."""
    if not _is_number(value) or not 0 < value < 1:
        hint = f" (did you mean {value / 100:g}?)" if _is_number(value) and 1 < value < 100 else ""
        raise SwjaxError(f"{name}: expected a number in (0, 1), got {value!r}{hint}")
    return float(value)


def level(value) -> float:
    """A confidence level in (0, 1)."""
    return _fraction("level", value)


def threshold(value) -> float:
    """The verdict boundary t in (0, 1)."""
    return _fraction("threshold", value)


def min_resamples(level_: float) -> int:
    """The fewest resamples that give an interval at ``level_``: at least one resample beyond
    each end, ``n (1 - level) / 2 >= 1`` (40 at 95 %, 200 at 99 %), and never fewer than 20.

    That makes the interval's ends order statistics of the data, not extrapolations; their
    Monte Carlo error is still large at such ``n`` (use thousands for a reported figure).
    """
    return max(20, math.ceil(2 / (1 - level_) - 1e-9))


def resamples(n, level_: float | None = None, *, name: str = "n", allow_zero: bool = False) -> int:
    """A number of resamples: enough for an interval at ``level_`` and at most MAX_RESAMPLES.

    ``allow_zero``: 0 means "no resampling" (point estimates only, as in ``lobo``).
    """
    if allow_zero and _is_int(n) and n == 0:
        return 0
    low = 1 if level_ is None else min_resamples(level_)
    if not _is_int(n) or n < low:
        why = f" (an interval at level {level_:g} needs a resample beyond each end)" if level_ is not None else ""
        zero = "0 or " if allow_zero else ""
        raise SwjaxError(f"{name}: expected {zero}an integer >= {low}{why}, got {n!r}")
    if n > MAX_RESAMPLES:
        raise SwjaxError(
            f"{name}: at most {MAX_RESAMPLES:,} resamples (each resample's key is indexed by a "
            f"32-bit integer), got {n:,}"
        )
    return int(n)


def available_memory() -> int:
    """Bytes of memory available to this process now (MemAvailable, else physical memory)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**40


def _size(nbytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if nbytes < 1000 or unit == "PB":
            return f"{nbytes:,.0f} {unit}" if unit == "B" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} PB"


def memory(n: int, columns: int, itemsize: int, *, stream_to=None, name: str = "n") -> None:
    """Refuse a run whose kept distribution (``n x columns`` numbers) cannot fit.

    In memory the distribution is kept once and sorted a few columns at a time for the
    intervals: planned at twice its size. Streamed (``stream_to``) it goes to disk in float32
    and memory stays bounded: the disk must hold it.
    """
    kept = float(n) * columns * (4 if stream_to is not None else itemsize)
    if stream_to is not None:
        folder = Path(stream_to).expanduser().resolve().parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return
        if kept > free:
            raise SwjaxError(
                f"{name}: {n:,} resamples x {columns} statistics stream a {_size(kept)} distribution "
                f"to disk, but {folder} has {_size(free)} free; use a smaller --n"
            )
        return
    budget = MEMORY_SHARE * available_memory()
    if 2 * kept > budget:
        most = int(budget / (2 * columns * itemsize))
        raise SwjaxError(
            f"{name}: {n:,} resamples x {columns} statistics keep a {_size(kept)} distribution in "
            f"memory, more than this machine can hold ({_size(budget)} available; at most about "
            f"{most:,} resamples); stream it to disk with --stream-to DIR "
            f"(bootstrap(stream_to=...)) or use a smaller --n"
        )


def batch_size(value, per_row_bytes: int | None = None, *, name: str = "batch_size"):
    """Resamples per compiled chunk: None (the engine's choice) or 1..MAX_BATCH that fits."""
    if value is None:
        return None
    value = integer(name, value, 1, MAX_BATCH)
    if per_row_bytes is not None:
        need = float(value) * per_row_bytes
        budget = MEMORY_SHARE * available_memory()
        if need > budget:
            raise SwjaxError(
                f"{name}: a chunk of {value:,} resamples needs about {_size(need)} of work memory, "
                f"more than the {_size(budget)} available; use a smaller batch size (or leave it "
                f"to the engine)"
            )
    return value


def dataset(data) -> None:
    """A :class:`~swjax.data.Dataset` however built: scores numeric, finite or missing, ids unique.

    :func:`swjax.read_csv` checks its files as it reads them; a Dataset built in Python is
    checked here, by :func:`swjax.problem.build_problem`, before anything is computed.
    """
    scores = data.scores
    label = getattr(data, "label", "dataset")
    if not isinstance(scores, pd.DataFrame):
        raise SwjaxError(f"{label}: scores must be a pandas DataFrame, got {type(scores).__name__}")
    if scores.index.has_duplicates:
        raise SwjaxError(f"{label}: duplicate model id {scores.index[scores.index.duplicated()][0]!r}")
    if scores.columns.has_duplicates:
        raise SwjaxError(f"{label}: duplicate benchmark {scores.columns[scores.columns.duplicated()][0]!r}")
    for col, dtype in scores.dtypes.items():  # the dtypes at once: a column lookup each is slow
        if not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)) or (
                pd.api.types.is_complex_dtype(dtype)):  # complex: the imaginary part would be dropped
            raise SwjaxError(f"{label}: benchmark {col!r} is not numeric (dtype {dtype})")
    values = scores.to_numpy(dtype=np.float64)
    inf = np.isinf(values)
    if inf.any():
        i, j = np.argwhere(inf)[0]
        raise SwjaxError(
            f"{label}: benchmark {scores.columns[j]!r}, model {scores.index[i]!r}: infinite value "
            f"(scores must be finite, or NaN where missing)"
        )


def capability_scale(name: str, values: np.ndarray, dtype) -> None:
    """Refuse a capability column that cannot be z-scored in ``dtype`` without losing models.

    The kernel z-scores columns that :func:`swjax.problem.build_problem` has first shifted and
    scaled onto [-1, 1] on the host (z-scores do not change under that), so no magnitude
    overflows or underflows. What is left is precision: when distinct values of the column
    become equal at the working precision (one value 1e300 times the others), the z-scores
    cannot tell those models apart, and the score would be silently wrong.
    """
    x = values[np.isfinite(values)]
    distinct = np.unique(x)
    cast = np.unique(np.asarray(x, dtype))
    if len(cast) < len(distinct):
        kind = np.dtype(dtype).name
        hint = " or compute in float64 (--x64)" if np.dtype(dtype) == np.float32 else ""
        raise SwjaxError(
            f"capabilities: capability benchmark {name!r} spans too many orders of magnitude for "
            f"{kind} z-scores ({len(distinct)} distinct values become {len(cast)}): transform it "
            f"(a log scale, say){hint}"
        )


def imputable(observed, label: str = "") -> None:
    """Refuse imputation when a capability benchmark is missing for more than
    :data:`IMPUTE_MAX_MISSING` of the models. ``observed``: models x capability benchmarks,
    True where a score is there (a pandas DataFrame)."""
    share = 1 - observed.mean(axis=0)
    if (share > IMPUTE_MAX_MISSING).any():
        worst = share.idxmax()
        where = f"{label}: " if label else ""
        raise SwjaxError(
            f"{where}capability benchmark {worst!r} is missing for {int((~observed[worst]).sum())} "
            f"of {len(observed)} models (more than half): too few to impute it (--missing impute)"
        )


def imputation_validated(observed, capabilities, label: str = "") -> None:
    """Refuse intervals under imputation when more than :data:`IMPUTE_VALIDATED_SHARE` of the
    capability cells are missing: beyond it the coverage study found them too narrow (the
    imputation's bias, docs/sparse.md). ``observed``: (models, k) True or 1 where a capability
    score is there, for the models the analysis keeps."""
    observed = np.asarray(observed, bool)
    share = 1 - observed.mean()
    if share <= IMPUTE_VALIDATED_SHARE:
        return
    per = 1 - observed.mean(axis=0)
    worst = ", ".join(f"{capabilities[j]} {per[j]:.0%}" for j in np.argsort(-per, kind="stable")[:3] if per[j] > 0)
    where = f"{label}: " if label else ""
    raise SwjaxError(
        f"{where}{share:.1%} of the capability scores are missing ({int((~observed).sum())} of {observed.size}), "
        f"more than the {IMPUTE_VALIDATED_SHARE:.0%} up to which --missing impute's intervals were validated "
        f"(docs/sparse.md); most missing: {worst}. Leave the sparsest capability benchmarks out (--capabilities) "
        "or keep the complete models (--missing drop)"
    )


def _key(text: str) -> str:
    """A name as it matches: case, spaces and punctuation ignored ("MT Bench" ~ "MT_Bench")."""
    return "".join(ch for ch in str(text).casefold() if ch.isalnum())


def benchmark(name, columns, names=None, *, what: str = "benchmark", where: str = "") -> str:
    """The column id of a benchmark named by its id or its display name.

    ``columns``: the ids there are; ``names``: id -> display name (``Dataset.info["name"]``).
    An exact id wins; else an id or display name equal up to case, spaces and punctuation
    ("MT Bench", "mt-bench" for ``MT_Bench``). An unknown or ambiguous name is an error naming
    the closest ids (and their display names).
    """
    import difflib

    if isinstance(name, str) and name in columns:  # an exact id (a hash look-up on an Index)
        return name
    columns = [str(c) for c in columns]
    if isinstance(name, str) and name in columns:
        return name
    if not isinstance(name, str) or not name.strip():
        raise SwjaxError(f"{what}: expected a benchmark name, got {name!r}")
    names = {} if names is None else {str(k): str(v) for k, v in dict(names).items() if isinstance(v, str)}
    key = _key(name)
    hits = [c for c in columns if _key(c) == key or (c in names and _key(names[c]) == key)]
    if len(hits) == 1:
        return hits[0]
    place = f" in {where}" if where else ""
    if len(hits) > 1:
        raise SwjaxError(f"{what}: {name!r} names several benchmarks{place}: {', '.join(hits[:5])}; give the id")
    by_key = {}
    for c in columns:
        by_key.setdefault(_key(c), c)
        if c in names:
            by_key.setdefault(_key(names[c]), c)
    close = difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.6)
    ids = list(dict.fromkeys(by_key[k] for k in close))
    shown = [f"{c!r}" + (f" ({names[c]})" if c in names and names[c] != c else "") for c in ids]
    hint = f" (did you mean {' or '.join(shown)}?)" if shown else ""
    raise SwjaxError(f"{what}: unknown benchmark {name!r}{place}{hint}")
