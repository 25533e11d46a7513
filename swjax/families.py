"""Analyses over model families: the cluster bootstrap beside the model bootstrap, the design
effect, and leave one family out.

The family map, cluster codes and the cluster bootstrap's weights are in :mod:`swjax.clusters`
(below :mod:`swjax.bootstrap`, which uses them); this module builds on both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import engine, options
from .analysis import as_dataset, float_dtype
from .bootstrap import bootstrap
from .clusters import MIN_CLUSTERS, MIN_FAMILIES, cluster_codes, cluster_setup, family_labels, load_family_map
from .problem import build_problem

__all__ = [
    "MIN_CLUSTERS",
    "MIN_FAMILIES",
    "FamilyResult",
    "load_family_map",
    "family_labels",
    "cluster_codes",
    "cluster_setup",
    "leave_one_family_out",
    "family_bootstrap",
]


def leave_one_family_out(data, families: pd.Series, *, capabilities=None, against=None, x64=False,
                         device: str = "auto", score: str = "paper") -> pd.DataFrame:
    """Every benchmark's correlation with each family left out in turn.

    Columns: ``full``, then ``-FAMILY`` per family, then ``min``, ``max``, ``range`` and
    ``most_moved_by`` (the family whose removal changes it most). A drop that leaves fewer than
    3 models for a benchmark gives NaN there. ``score``: the capability measure
    (:mod:`swjax.scores`), recomputed without each family; recorded in ``attrs["score"]``.
    """
    score = options.check(score=score).score
    dataset = as_dataset(data)
    with engine.precision(x64):
        problem, layout = build_problem(dataset, capabilities, against, float_dtype(x64), score=score)
        codes, names = cluster_codes(layout.models, families)
        m, k, nb = len(layout.models), len(layout.capabilities), layout.n_benchmarks
        weights = np.vstack([np.ones((1, m), np.int32), 1 - np.eye(len(names), dtype=np.int32)[:, list(codes)]])
        stats = engine.run(problem, weights, device=device, fields=("corr",))
    corr = np.asarray(stats["corr"], np.float64)[:, :nb]
    cols = ["full"] + [f"-{f}" for f in names]
    frame = pd.DataFrame(corr.T, index=pd.Index(list(layout.benchmarks), name="benchmark"), columns=cols)
    change = frame.iloc[:, 1:].sub(frame["full"], axis=0).abs().fillna(-1.0).to_numpy()
    out = frame.copy()
    out["min"] = frame.min(axis=1)
    out["max"] = frame.max(axis=1)
    out["range"] = out["max"] - out["min"]
    out["most_moved_by"] = [names[j] for j in change.argmax(axis=1)]
    out.attrs["score"] = score
    return out


@dataclass(frozen=True)
class FamilyResult:
    """Cluster (family) bootstrap of one model set beside the model bootstrap.

    Attributes
    ----------
    clustered : BootstrapResult
        Whole families resampled (cluster-t intervals unless another method was asked).
    models : BootstrapResult
        The ordinary bootstrap over models with the same n, seed and method.
    design_effect : pandas.DataFrame
        Per benchmark: ``var_cluster``, ``var_model`` (variances of the
        two resample distributions) and ``design_effect`` = var_cluster / var_model.
    leave_one_family_out : pandas.DataFrame
        See :func:`leave_one_family_out`.
    families : pandas.Series
        Family of each model in the analysis.
    """

    clustered: object
    models: object
    design_effect: pd.DataFrame
    leave_one_family_out: pd.DataFrame = field(repr=False)
    families: pd.Series = field(repr=False)

    def __repr__(self) -> str:
        from . import display

        md = self.clustered.metadata
        deff = self.design_effect["design_effect"]
        return display.result(
            "FamilyResult",
            dict(set=md.get("set"), families=int(self.families.nunique()), n=md.get("n"),
                 method=md.get("method"), median_design_effect=round(float(deff.median()), 2)),
            verdicts=self.clustered.table["verdict"],
            body=display.rows(self.clustered.table, extra=("verdict",), what="benchmarks in .clustered.table"),
        )


def family_bootstrap(data, families: pd.Series, *, n: int = 2000, seed: int = 0, method: str | None = None,
                     level: float = 0.95, threshold: float = 0.4, capabilities=None, against=None,
                     device: str = "auto", batch_size=None, x64: bool = False,
                     score: str = "paper") -> FamilyResult:
    """Cluster bootstrap over families, model bootstrap, design effect, leave one family out.

    ``method`` None: the defaults, cluster-t for the families and BCa for the models. ``score``:
    the capability measure of all three (:mod:`swjax.scores`), in each bootstrap's metadata.
    """
    score = options.check(score=score).score
    dataset = as_dataset(data)
    common = dict(n=n, seed=seed, level=level, threshold=threshold,
                  capabilities=capabilities, against=against, device=device,
                  batch_size=batch_size, x64=x64, score=score)
    clustered = bootstrap(dataset, clusters=families, method=method, **common)
    models = bootstrap(dataset, method=None if method in (None, "cluster-t") else method, **common)

    def var(res):
        with np.errstate(invalid="ignore"):
            return np.nanvar(np.ascontiguousarray(res.distribution, np.float64), axis=0, ddof=1)  # in float64: a float32 variance is good to about 1e-7 only

    vc, vm = var(clustered), var(models)
    index = list(clustered.table.index)
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = pd.DataFrame({"var_cluster": vc, "var_model": vm, "design_effect": vc / vm},
                            index=pd.Index(index, name="benchmark"))
    lofo = leave_one_family_out(dataset, families, capabilities=capabilities, against=against,
                                x64=x64, device=device, score=score)
    layout_models = list(clustered.analysis.scores.index)
    return FamilyResult(clustered, models, deff, lofo, families.reindex(layout_models))

