"""swjax: uncertainty for the capabilities correlations of AI-safety benchmarks.

The Safetywashing analysis (Ren et al., 2024) as one pure JAX statistic of
(model weights, capability mask), resampled thousands to millions of times at once.
"""

from .analysis import Analysis, analyze
from .bootstrap import BootstrapResult, bootstrap
from .data import PAPER_CAPABILITIES, Dataset, load_dataset, read_csv
from .compare import CompareResult, compare, compare_between
from .errors import (
    DegenerateResampleWarning,
    FewClustersWarning,
    DroppedBenchmarkWarning,
    DroppedModelWarning,
    SwjaxError,
    SwjaxWarning,
)
from .families import FamilyResult, family_bootstrap, family_labels, leave_one_family_out, load_family_map
from .sensitivity import LoboResult, SubsetsResult, lobo, subsets

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "BootstrapResult",
    "Dataset",
    "DegenerateResampleWarning",
    "DroppedBenchmarkWarning",
    "DroppedModelWarning",
    "PAPER_CAPABILITIES",
    "SwjaxError",
    "SwjaxWarning",
    "analyze",
    "bootstrap",
    "load_dataset",
    "read_csv",
    "CompareResult",
    "FamilyResult",
    "FewClustersWarning",
    "LoboResult",
    "SubsetsResult",
    "compare",
    "compare_between",
    "family_bootstrap",
    "family_labels",
    "leave_one_family_out",
    "load_family_map",
    "lobo",
    "subsets",
]

from .correlate import CorrelateResult, correlate  # noqa: E402
from .report import write_report  # noqa: E402

__all__ += ["CorrelateResult", "correlate", "write_report"]
