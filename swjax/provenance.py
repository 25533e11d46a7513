"""Provenance of a run: which data (by hash), which models, and which software computed it.

Written into every run's ``manifest.json`` (``bootstrap --out``, ``report``) so that a result
can be traced to its inputs and reproduced:

* ``data``: the matrix as analysed, ``sha256`` of its model ids, benchmark ids and float64
  values (:func:`matrix_sha256`: the same digest whatever file format the matrix came from),
  the models the analysis used (those with every capability score, or every model with
  ``missing="impute"``), and for the public sets the pinned sha256 of the released files;
* ``environment``: the versions of Python, swjax, JAX, jaxlib, numpy, pandas and scipy, and the
  platform (:func:`environment`).
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from importlib import metadata as _metadata

import numpy as np

__all__ = ["data_provenance", "devices", "environment", "matrix_sha256"]

#: The libraries whose versions decide a run's numbers.
LIBRARIES = ("jax", "jaxlib", "numpy", "pandas", "scipy")


def matrix_sha256(scores) -> str:
    """sha256 of a models x benchmarks frame: ids and float64 values, in the frame's order.

    The digest covers, in this order, the model ids and the benchmark ids (each id UTF-8
    encoded and followed by a NUL byte, the two lists separated by an extra NUL) and the
    values as little-endian float64 in row-major order (NaN as numpy's canonical NaN).
    """
    digest = hashlib.sha256()
    for ids in (scores.index, scores.columns):
        for name in ids:
            digest.update(str(name).encode("utf-8") + b"\0")
        digest.update(b"\0")
    values = np.ascontiguousarray(scores.to_numpy(np.float64), dtype="<f8")
    values = np.where(np.isnan(values), np.nan, values)  # one NaN bit pattern
    digest.update(values.tobytes())
    return digest.hexdigest()


def data_provenance(dataset, models) -> dict:
    """The ``data`` entry of a run's metadata: label, matrix sha256, models used, public files."""
    from .data import _INFO_FILE, DATASETS, REGISTRY

    entry = {"label": dataset.label, "sha256": matrix_sha256(dataset.scores), "models": [str(m) for m in models]}
    if dataset.label in DATASETS:
        files = (DATASETS[dataset.label], _INFO_FILE)
        entry["files"] = {name: REGISTRY[name] for name in files}
    return entry


def environment() -> dict:
    """Versions of Python, swjax and the numerical libraries, and the platform."""
    from ._version import __version__

    versions = {"python": platform.python_version(), "swjax": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = _metadata.version(name)
        except _metadata.PackageNotFoundError:  # an unusual install: say so rather than guess
            versions[name] = "not installed"
    versions["platform"] = f"{sys.platform} {platform.machine()}"
    return versions


def devices() -> str:
    """The devices JAX can run on, by platform (``cpu: 1 (cpu)``), or why none can be listed."""
    import jax

    try:
        found = jax.devices()
    except Exception as err:  # noqa: BLE001 - JAX_PLATFORMS naming a missing platform fails in several ways
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        return f"none usable (JAX_PLATFORMS={os.environ.get('JAX_PLATFORMS', '')!r}: {reason})"
    kinds = {}
    for d in found:
        kinds.setdefault(d.platform, []).append(d.device_kind)
    return "; ".join(f"{plat}: {len(k)} ({', '.join(sorted(set(k)))})" for plat, k in kinds.items())
