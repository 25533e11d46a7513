"""The one error class and the warning classes of swjax.

Lower layers raise :class:`SwjaxError` for anything a user can fix (a file, a column, an
option); only the command line (:mod:`swjax.cli`) turns it into a message and exit code 2.
Data-dependent problems found inside compiled code never raise: they become NaN there and a
named warning on the host.
"""

from __future__ import annotations


class SwjaxError(ValueError):
    """Bad input: a file, column, model or option that the analysis cannot use."""


class SwjaxWarning(UserWarning):
    """Base class of the warnings swjax emits."""


class DroppedBenchmarkWarning(SwjaxWarning):
    """A benchmark column was left out (all missing or constant), as the released analysis does."""


class DroppedModelWarning(SwjaxWarning):
    """A model was left out of the whole analysis (it lacks a capability score)."""


class DegenerateResampleWarning(SwjaxWarning):
    """Some resamples gave no correlation for a benchmark (constant among the drawn models)."""


class FewClustersWarning(SwjaxWarning):
    """A cluster bootstrap with fewer than 10 clusters (model families): intervals are rough."""


class AssumedDirectionWarning(SwjaxWarning):
    """An imported benchmark whose direction no source states: taken as higher-is-better."""


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` pointing at the first caller outside swjax: the line of the user's
    script or notebook cell that started the analysis, not a line inside the package."""
    import os
    import sys
    import warnings

    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 2  # level 2: warn's caller
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
