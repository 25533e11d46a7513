"""The settings that the analyses share, as one object checked in one place.

Every analysis (``bootstrap``, ``compare``, ``adjust``, ``lobo``, ``subsets``, ``plan``,
``coverage``) takes some of the same keyword arguments: the number of resamples, the seed,
the interval method, the level, the verdict threshold, permutations, the device, the chunk
size, float64, the capability measure, the capability benchmarks and the column to correlate
with. Each passes the ones it takes to :func:`check`, which checks them in one fixed order (the
first problem is the one reported, with the message of :mod:`swjax.validate`) and returns them
as a frozen :class:`Options`. No jax at import (the measure's name is checked by
:func:`swjax.scores.check_score`, imported when a measure is given).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import intervals, validate
from .errors import SwjaxError

__all__ = ["Options", "check", "check_positive_int", "DEVICES"]

#: The devices an analysis runs on ("auto": a GPU when JAX sees one, else the CPU).
DEVICES = ("auto", "cpu", "gpu")


class _Unset:
    def __repr__(self) -> str:
        return "<not given>"


_UNSET = _Unset()


@dataclass(frozen=True)
class Options:
    """The shared settings of one analysis, checked (None: not taken by that analysis).

    ``n``: resamples (0 allowed where ``check(..., allow_zero_n=True)``); ``seed``; ``method``:
    the interval method, its default resolved; ``level``; ``threshold``: the verdict boundary;
    ``permutations``; ``device``; ``batch_size``: resamples per compiled chunk (None: chosen);
    ``x64``; ``score``: the capability measure's name, normalized (:data:`swjax.scores.SCORES`);
    ``capabilities`` and ``against`` as given (checked against the data where the
    problem is built); ``datasets``: simulated datasets per design or grid point (R);
    ``dataset_batch``: datasets per compiled chunk.
    """

    n: int | None = None
    seed: int | None = None
    method: str | None = None
    level: float | None = None
    threshold: float | None = None
    permutations: int | None = None
    device: str | None = None
    batch_size: int | None = None
    x64: bool = False
    capabilities: object = None
    against: str | None = None
    datasets: int | None = None
    dataset_batch: int | None = None
    score: str | None = None


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (the message names ``name``)."""
    return validate.integer(name, value, minimum)


def check(
    *,
    n=_UNSET,
    seed=_UNSET,
    method=_UNSET,
    level=_UNSET,
    threshold=_UNSET,
    permutations=_UNSET,
    device=_UNSET,
    batch_size=_UNSET,
    x64: bool = False,
    capabilities=None,
    against: str | None = None,
    datasets=_UNSET,
    dataset_batch=_UNSET,
    score=_UNSET,
    clusters=None,
    allow_zero_n: bool = False,
) -> Options:
    """The settings an analysis was given, checked once, in this order: method, level,
    datasets, n, seed, permutations, threshold, device, batch size, dataset batch, score.

    Only the settings passed are checked (the others stay None in the result). ``method``
    None is the analyses' default (:func:`swjax.intervals.default_method`: ``cluster-t`` with
    ``clusters``, else BCa). ``n`` needs a resample beyond each end of the interval at
    ``level``; ``allow_zero_n``: 0 means point estimates only. ``datasets`` is at least 2 (a
    Monte Carlo standard error needs two). Raises :class:`~swjax.errors.SwjaxError` with one
    line naming the setting.
    """
    given = {}
    if method is not _UNSET:
        given["method"] = intervals.default_method(method, clusters)
    if level is not _UNSET:
        given["level"] = validate.level(level)
    if datasets is not _UNSET:
        given["datasets"] = check_positive_int("datasets", datasets, minimum=2)
    if n is not _UNSET:
        given["n"] = validate.resamples(n, given.get("level"), allow_zero=allow_zero_n)
    if seed is not _UNSET:
        given["seed"] = validate.seed(seed)
    if permutations is not _UNSET:
        given["permutations"] = validate.integer("permutations", permutations, 0, validate.MAX_RESAMPLES)
    if threshold is not _UNSET:
        given["threshold"] = validate.threshold(threshold)
    if device is not _UNSET:
        if device not in DEVICES:
            raise SwjaxError(f"device: expected 'auto', 'cpu' or 'gpu', got {device!r}")
        given["device"] = device
    if batch_size is not _UNSET:
        given["batch_size"] = validate.batch_size(batch_size)
    if dataset_batch is not _UNSET and dataset_batch is not None:
        given["dataset_batch"] = check_positive_int("dataset_batch", dataset_batch)
    if score is not _UNSET:
        from .scores import check_score

        given["score"] = check_score(score)  # None: the paper's
    return Options(x64=bool(x64), capabilities=capabilities, against=against, **given)
