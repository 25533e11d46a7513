"""swjax: uncertainty for the capabilities correlations of AI-safety benchmarks.

The Safetywashing analysis (Ren et al., 2024) as one pure JAX statistic of
(model weights, capability mask), resampled thousands to millions of times at once.
"""

from .analysis import Analysis, analyze
from .bootstrap import BootstrapResult, bootstrap
from .coverage import CoverageResult, coverage
from .data import PAPER_CAPABILITIES, Dataset, load_dataset, read_csv
from .errors import (
    DegenerateResampleWarning,
    DroppedBenchmarkWarning,
    DroppedModelWarning,
    SwjaxError,
    SwjaxWarning,
)
from .simulate import Design, Simulation, population, simulate

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "BootstrapResult",
    "CoverageResult",
    "Dataset",
    "Design",
    "DegenerateResampleWarning",
    "DroppedBenchmarkWarning",
    "DroppedModelWarning",
    "PAPER_CAPABILITIES",
    "Simulation",
    "SwjaxError",
    "SwjaxWarning",
    "analyze",
    "bootstrap",
    "coverage",
    "load_dataset",
    "population",
    "read_csv",
    "simulate",
]
