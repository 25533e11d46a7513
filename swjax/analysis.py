"""``analyze``: the Safetywashing analysis of one model set, as pandas objects."""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import numpy as np
import pandas as pd

from . import engine
from .data import Dataset, load_dataset
from .errors import SwjaxError
from .problem import FLOP_COLUMN, Layout, Problem, build_problem

__all__ = ["Analysis", "analyze", "as_dataset", "prepare"]


@dataclass(frozen=True)
class Analysis:
    """The analysis of one model set (the released pipeline's figures, and a few more).

    Attributes
    ----------
    label : str
        The model set.
    capabilities : tuple of str
        Capability benchmarks whose PC1 is the capabilities score.
    against : str or None
        When set, ``correlations`` are with this benchmark's column instead of the score.
    correlations : pandas.Series
        Spearman correlation of every benchmark (capability ones included) with the score.
    n_models : int
        Models in the analysis (after any left out for a missing capability score).
    models_per_benchmark : pandas.Series
        Models (total weight) behind each correlation (pairwise-complete): fewer than
        ``n_models`` where a benchmark's score is missing for some models.
    scores : pandas.Series
        Capabilities score of each model.
    loadings : pandas.Series
        PC1, indexed by capability benchmark, largest-magnitude loading positive.
    eigenvalues : numpy.ndarray
        Of the capability Spearman matrix, largest first.
    variance_explained : float
        Largest eigenvalue over the number of capability benchmarks.
    mean_intercorrelation, std_intercorrelation : float
        Mean and standard deviation (ddof 0) of the off-diagonal capability correlations.
    capability_matrix : pandas.DataFrame
        The capability Spearman matrix.
    compute_correlation : float
        Spearman correlation of the score (or ``against`` column) with training FLOP over the
        models whose FLOP is known; NaN when the data has no FLOP.
    compute_n_models : int
    dropped_models, dropped_benchmarks : tuple of str
        Left out before the analysis (missing capability score; all-missing or constant).
    info : pandas.DataFrame
        Display name and metric of every benchmark.
    dtype : str
    """

    label: str
    capabilities: tuple[str, ...]
    against: str | None
    correlations: pd.Series
    n_models: int
    models_per_benchmark: pd.Series
    scores: pd.Series
    loadings: pd.Series
    eigenvalues: np.ndarray
    variance_explained: float
    mean_intercorrelation: float
    std_intercorrelation: float
    capability_matrix: pd.DataFrame
    compute_correlation: float
    compute_n_models: int
    dropped_models: tuple[str, ...]
    dropped_benchmarks: tuple[str, ...]
    info: pd.DataFrame = field(repr=False)
    dtype: str = "float32"

    def __repr__(self) -> str:
        from . import display

        top = self.table().rename(columns={"correlation": "estimate"})
        return display.result(
            "Analysis",
            dict(set=self.label, n_models=self.n_models, capabilities=len(self.capabilities),
                 benchmarks=len(self.correlations), against=self.against,
                 variance_explained=round(float(self.variance_explained), 3)),
            body=display.rows(top, low=None, extra=("n_models",), what="benchmarks in .table()"),
        )

    def table(self) -> pd.DataFrame:
        """One row per benchmark, sorted by correlation (largest first)."""
        frame = pd.DataFrame(
            {
                "name": self.info["name"],
                "metric": self.info["metric"],
                "correlation": self.correlations,
                "n_models": self.models_per_benchmark,
                "capability": [b in self.capabilities for b in self.correlations.index],
            }
        )
        frame.index.name = "benchmark"
        return frame.sort_values("correlation", ascending=False, na_position="last")

    def summary(self) -> dict:
        """Scalar figures of the analysis."""
        return {
            "set": self.label,
            "capabilities": list(self.capabilities),
            "against": self.against,
            "n_models": self.n_models,
            "variance_explained": self.variance_explained,
            "mean_intercorrelation": self.mean_intercorrelation,
            "std_intercorrelation": self.std_intercorrelation,
            "compute_correlation": self.compute_correlation,
            "compute_n_models": self.compute_n_models,
            "dropped_models": list(self.dropped_models),
            "dropped_benchmarks": list(self.dropped_benchmarks),
            "dtype": self.dtype,
        }

    def to_dict(self) -> dict:
        """Every field, JSON-ready (NaN becomes None)."""

        def clean(x):
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, (list, tuple)):
                return [clean(v) for v in x]
            if isinstance(x, (float, np.floating)):
                return None if not np.isfinite(x) else float(x)
            if isinstance(x, np.integer):
                return int(x)
            return x

        out = self.summary()
        out.update(
            correlations=self.correlations.to_dict(),
            n_models_per_benchmark=self.models_per_benchmark.to_dict(),
            scores=self.scores.to_dict(),
            loadings=self.loadings.to_dict(),
            eigenvalues=list(self.eigenvalues),
            capability_matrix=self.capability_matrix.to_dict(),
            names=self.info["name"].to_dict(),
            metrics=self.info["metric"].to_dict(),
        )
        return clean(out)


def as_dataset(data, data_dir=None) -> Dataset:
    """A :class:`Dataset` from a Dataset or a public set name (``"base"``, ``"chat"``)."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, str):
        return load_dataset(data, data_dir)
    raise SwjaxError(f"data: expected a Dataset or 'base'/'chat', got {type(data).__name__}")


def float_dtype(x64: bool = False):
    """float64 when asked for or when jax_enable_x64 is on, else float32."""
    if x64 or jax.config.jax_enable_x64:
        return np.float64
    return np.float32


MISSING = ("drop", "impute")


def prepare(
    data, *, capabilities=None, against=None, x64=False, missing="drop", score="paper",
) -> tuple[Problem, Layout]:
    dataset = as_dataset(data)
    if missing not in MISSING:
        raise SwjaxError(f"missing: expected one of {MISSING}, got {missing!r}")
    if missing == "impute":
        from .problem import build_problem_imputed

        return build_problem_imputed(dataset, capabilities, against, float_dtype(x64), score=score)
    return build_problem(dataset, capabilities, against, float_dtype(x64), score=score)


#: Largest total model weight per dtype. The kernel's rank sums grow like W^3 (float32
#: overflows near W = 1e12) and weights are counted in the float dtype; these bounds keep every
#: intermediate far from overflow and the weights themselves exact.
MAX_TOTAL_WEIGHT = {np.dtype(np.float32): 2**32, np.dtype(np.float64): 2**52}


def model_weights(weights, layout: Layout, dtype=np.float32) -> np.ndarray:
    """Validate integer model weights: a Series by model id or an array in the analysis' order."""
    if weights is None:
        return np.ones(len(layout.models), np.int64)
    if isinstance(weights, pd.Series):
        unknown = [m for m in weights.index if m not in layout.models]
        if unknown:
            raise SwjaxError(f"weights: unknown model {unknown[0]!r}")
        weights = weights.reindex(list(layout.models)).fillna(0).to_numpy()
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(layout.models),):
        raise SwjaxError(
            f"weights: expected {len(layout.models)} weights (one per model), got shape {w.shape}"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(w != np.round(w)):
        raise SwjaxError("weights: expected non-negative integers (times each model is counted)")
    if np.count_nonzero(w) < 3:
        raise SwjaxError("weights: need at least 3 models with positive weight")
    limit = MAX_TOTAL_WEIGHT[np.dtype(dtype)]
    if w.sum() > limit:
        hint = "; use x64=True or smaller weights" if np.dtype(dtype) == np.float32 else ""
        raise SwjaxError(
            f"weights: total weight {w.sum():,.0f} is more than {np.dtype(dtype).name} computes "
            f"safely ({limit:,}){hint}"
        )
    return w.astype(np.int64)


def analyze(
    data,
    *,
    capabilities=None,
    against: str | None = None,
    weights=None,
    x64: bool = False,
    device: str = "auto",
    missing: str = "drop",
    score: str = "paper",
) -> Analysis:
    """The Safetywashing analysis: capabilities score and every benchmark's correlation with it.

    Parameters
    ----------
    data : Dataset or {"base", "chat"}
        A matrix from :func:`swjax.read_csv` or :func:`swjax.load_dataset`, or a set's name.
    capabilities : sequence of str, optional
        Capability benchmarks (default: the paper's 12).
    against : str, optional
        Correlate every benchmark with this benchmark's column instead of the score (the
        paper's calibration table correlates 1 - Brier with the accuracy on the same dataset).
    weights : array or Series of int, optional
        How many times each model counts (the analysis of the data with rows repeated).
    x64 : bool
        Compute in float64 (default float32, unless jax_enable_x64 is on).
    device : {"auto", "cpu", "gpu"}
    missing : {"drop", "impute"}
        Models lacking a capability score: left out (the released rule), or kept with the
        missing scores imputed by a low-rank fit (:func:`swjax.problem.build_problem_imputed`).
    score : {"paper", "pearson", "mean-z", "irt", "compute"}
        The capability measure (:mod:`swjax.scores`, docs/scores.md); default the paper's PC1
        of the Spearman matrix.

    Examples
    --------
    >>> a = analyze("chat", x64=True)
    >>> round(a.variance_explained, 3), round(float(a.correlations["MT_Bench"]), 3)
    (0.708, 0.787)
    """
    dataset = as_dataset(data)
    with engine.precision(x64):
        problem, layout = prepare(dataset, capabilities=capabilities, against=against, x64=x64, missing=missing,
                                  score=score)
        w = model_weights(weights, layout, problem.caps.dtype)
        stats = engine.run(problem, w[None], fields=None, device=device)
    return make_analysis(stats, layout, dataset, row=0)


def make_analysis(stats, layout: Layout, dataset: Dataset, row: int = 0) -> Analysis:
    """Wrap one row of :class:`~swjax.core.Stats` in an :class:`Analysis`."""
    nb = layout.n_benchmarks
    bench = list(layout.benchmarks)
    corr = stats.corr[row].astype(np.float64)
    n_pairs = stats.n_pairs[row]
    info = dataset.describe(bench)
    caps = list(layout.capabilities)
    flop_corr, flop_n = float("nan"), 0
    if layout.has_flop:
        j = layout.columns.index(FLOP_COLUMN)
        flop_corr, flop_n = float(corr[j]), int(round(n_pairs[j]))
    return Analysis(
        label=layout.label,
        capabilities=tuple(caps),
        against=layout.against,
        correlations=pd.Series(corr[:nb], index=bench, name="correlation"),
        n_models=int(len(layout.models)),
        models_per_benchmark=pd.Series(np.round(n_pairs[:nb]).astype(int), index=bench, name="n_models"),
        scores=pd.Series(stats.score[row].astype(np.float64), index=list(layout.models), name="score"),
        loadings=pd.Series(stats.loadings[row].astype(np.float64), index=caps, name="loading"),
        eigenvalues=stats.eigenvalues[row].astype(np.float64),
        variance_explained=float(stats.variance_explained[row]),
        mean_intercorrelation=float(stats.mean_intercorr[row]),
        std_intercorrelation=float(stats.std_intercorr[row]),
        capability_matrix=pd.DataFrame(stats.cap_corr[row].astype(np.float64), index=caps, columns=caps),
        compute_correlation=flop_corr,
        compute_n_models=flop_n,
        dropped_models=layout.dropped_models,
        dropped_benchmarks=layout.dropped_benchmarks,
        info=info,
        dtype=str(stats.corr.dtype),
    )
