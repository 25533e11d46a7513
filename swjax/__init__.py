"""swjax: uncertainty for the capabilities correlations of AI-safety benchmarks.

The Safetywashing analysis (Ren et al., 2024) as one pure JAX statistic of
(model weights, capability mask), resampled thousands to millions of times at once.
"""

from .analysis import Analysis, analyze
from .bootstrap import BootstrapResult, bootstrap
from .data import PAPER_CAPABILITIES, Dataset, load_dataset, read_csv
from .errors import (
    DegenerateResampleWarning,
    DroppedBenchmarkWarning,
    DroppedModelWarning,
    SwjaxError,
    SwjaxWarning,
)

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
]

from .correlate import CorrelateResult, correlate  # noqa: E402
from .report import write_report  # noqa: E402

__all__ += ["CorrelateResult", "correlate", "write_report"]
