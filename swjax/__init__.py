"""swjax: uncertainty for the capabilities correlations of AI-safety benchmarks.

The Safetywashing analysis (Ren et al., 2024) as one pure JAX statistic of
(model weights, capability mask), resampled thousands to millions of times at once.
"""

import sys
import types
from typing import TYPE_CHECKING

from .errors import (
    DegenerateResampleWarning,
    DroppedBenchmarkWarning,
    DroppedModelWarning,
    FewClustersWarning,
    SwjaxError,
    SwjaxWarning,
)

# The API is loaded on first use (PEP 562), so that ``import swjax`` (and the command line's
# start-up, where Ctrl-C must be handled) does not wait for JAX. Each name -> its module:
_LAZY = {
    "Analysis": "analysis", "analyze": "analysis",
    "BootstrapResult": "bootstrap", "bootstrap": "bootstrap",
    "CompareResult": "compare", "compare": "compare", "compare_between": "compare",
    "CorrelateResult": "correlate", "correlate": "correlate",
    "CoverageResult": "coverage", "coverage": "coverage",
    "PAPER_CAPABILITIES": "data", "Dataset": "data", "load_dataset": "data", "read_csv": "data",
    "FamilyResult": "families", "family_bootstrap": "families", "family_labels": "clusters",
    "leave_one_family_out": "families", "load_family_map": "clusters",
    "write_report": "report",
    "LoboResult": "sensitivity", "SubsetsResult": "sensitivity", "lobo": "sensitivity", "subsets": "sensitivity",
    "Design": "simulate", "Simulation": "simulate", "population": "simulate", "simulate": "simulate",
    "AdjustResult": "adjust", "adjust": "adjust",
    "PlanResult": "plan", "plan": "plan",
    "ImportResult": "importers", "read_results": "importers",
    "AtlasResult": "atlas", "atlas": "atlas",
    "AxesResult": "axes", "axes": "axes",
}

if TYPE_CHECKING:  # for readers and type checkers: the same names, imported eagerly
    from .analysis import Analysis, analyze
    from .bootstrap import BootstrapResult, bootstrap
    from .compare import CompareResult, compare, compare_between
    from .correlate import CorrelateResult, correlate
    from .coverage import CoverageResult, coverage
    from .data import PAPER_CAPABILITIES, Dataset, load_dataset, read_csv
    from .clusters import family_labels, load_family_map
    from .families import FamilyResult, family_bootstrap, leave_one_family_out
    from .report import write_report
    from .sensitivity import LoboResult, SubsetsResult, lobo, subsets
    from .simulate import Design, Simulation, population, simulate
    from .adjust import AdjustResult, adjust
    from .plan import PlanResult, plan
    from .importers import ImportResult, read_results
    from .atlas import AtlasResult, atlas
    from .axes import AxesResult, axes


def __getattr__(name: str):
    import importlib

    module = _LAZY.get(name)
    if module is None:
        try:  # a submodule (swjax.report, swjax.engine ...), as the eager imports made them attributes
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """Keeps ``swjax.bootstrap`` (and the other names shared by a function and its module) the
    function: importing the submodule binds the module on the package, which would hide it."""

    def __setattr__(self, name, value):
        if (
            isinstance(value, types.ModuleType)
            and _LAZY.get(name) == name
            and value.__name__ == f"{__name__}.{name}"
        ):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

from ._version import __version__  # noqa: E402

__all__ = [
    "AdjustResult",
    "AtlasResult",
    "atlas",
    "AxesResult",
    "axes",
    "ImportResult",
    "PlanResult",
    "adjust",
    "plan",
    "read_results",
    "PAPER_CAPABILITIES",
    "Analysis",
    "BootstrapResult",
    "CompareResult",
    "CorrelateResult",
    "CoverageResult",
    "Dataset",
    "DegenerateResampleWarning",
    "Design",
    "DroppedBenchmarkWarning",
    "DroppedModelWarning",
    "FamilyResult",
    "FewClustersWarning",
    "LoboResult",
    "Simulation",
    "SubsetsResult",
    "SwjaxError",
    "SwjaxWarning",
    "analyze",
    "bootstrap",
    "compare",
    "compare_between",
    "correlate",
    "coverage",
    "family_bootstrap",
    "family_labels",
    "leave_one_family_out",
    "load_dataset",
    "load_family_map",
    "lobo",
    "population",
    "read_csv",
    "simulate",
    "subsets",
    "write_report",
]
