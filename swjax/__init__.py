"""swjax: uncertainty for the capabilities correlations of AI-safety benchmarks.

The Safetywashing analysis (Ren et al., 2024) as one pure JAX statistic of
(model weights, capability mask), resampled thousands to millions of times at once.
"""

from .adjust import AdjustResult, adjust
from .analysis import Analysis, analyze
from .bootstrap import BootstrapResult, bootstrap
from .compare import CompareResult, compare, compare_between
from .correlate import CorrelateResult, correlate
from .coverage import CoverageResult, coverage
from .data import PAPER_CAPABILITIES, Dataset, load_dataset, read_csv
from .errors import (
    DegenerateResampleWarning,
    DroppedBenchmarkWarning,
    DroppedModelWarning,
    FewClustersWarning,
    SwjaxError,
    SwjaxWarning,
)
from .families import FamilyResult, family_bootstrap, family_labels, leave_one_family_out, load_family_map
from .importers import ImportResult, read_results
from .plan import PlanResult, plan
from .report import write_report
from .sensitivity import LoboResult, SubsetsResult, lobo, subsets
from .simulate import Design, Simulation, population, simulate

__version__ = "0.1.0"

__all__ = [
    "PAPER_CAPABILITIES",
    "AdjustResult",
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
    "ImportResult",
    "LoboResult",
    "PlanResult",
    "Simulation",
    "SubsetsResult",
    "SwjaxError",
    "SwjaxWarning",
    "adjust",
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
    "plan",
    "population",
    "read_csv",
    "read_results",
    "simulate",
    "subsets",
    "write_report",
]
