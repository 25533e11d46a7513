"""Model families: cluster codes, the cluster bootstrap, leave one family out, design effect.

Models of one family (every Qwen1.5 size, say) share data, architecture and training recipe,
so they are not independent draws. Resampling whole families (the cluster bootstrap) keeps
that dependence: a family's weight is how many times it was drawn, spread onto its models, so
a resample's weights sum to the total size of the drawn families.

``swjax/resources/families.csv`` maps every model id of the public base and chat sets to a
family (its name prefix: Llama-2, Llama-3, Mistral (Mistral and Mixtral), Qwen1.5, Yi, dbrx,
deepseek, falcon, gemma). The public sets have 9 families, fewer than the 10 below which
:class:`~swjax.errors.FewClustersWarning` says cluster intervals are rough.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from . import engine, resample
from .analysis import as_dataset, float_dtype
from .errors import FewClustersWarning, SwjaxError
from .problem import Layout, build_problem

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

#: Fewer clusters than this gives a FewClustersWarning.
MIN_CLUSTERS = 10
#: Fewer families than this is an error: the jackknife-t interval needs G - 1 >= 2 degrees of
#: freedom, and a cluster bootstrap of 2 families has only 3 distinct resamples.
MIN_FAMILIES = 3


def load_family_map(path: str | Path | None = None) -> pd.Series:
    """Model id -> family, from a CSV with columns ``model,family`` (default: the shipped map)."""
    try:
        if path is None:
            with resources.files("swjax").joinpath("resources/families.csv").open("r", encoding="utf-8") as fh:
                frame = pd.read_csv(fh, comment="#", dtype=str)
        else:
            frame = pd.read_csv(path, comment="#", dtype=str, encoding="utf-8-sig")
    except FileNotFoundError:
        raise SwjaxError(f"families: {path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise SwjaxError(f"families: {path}: the file is empty") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise SwjaxError(f"families: cannot read {path} ({first})") from None
    if not {"model", "family"} <= set(frame.columns):
        raise SwjaxError(f"families: expected columns model,family, got {','.join(frame.columns)}")
    if frame.columns.duplicated().any():
        raise SwjaxError(f"families: {path}: duplicate column {frame.columns[frame.columns.duplicated()][0]!r}")
    frame = frame.dropna(subset=["model", "family"])
    models, family = frame["model"].str.strip(), frame["family"].str.strip()
    dup = models[models.duplicated()]
    if len(dup):
        raise SwjaxError(f"families: model {dup.iloc[0]!r} is listed twice")
    return pd.Series(family.to_numpy(), index=pd.Index(models.to_numpy(), name="model"), name="family")


def family_labels(data, *, cluster_by: str | None = None, families=None, known=None) -> pd.Series:
    """Model id -> family for a dataset: a column of it (``cluster_by``), or a map.

    ``families`` is a Series, a CSV path, or ``"public"`` (the shipped map). A CSV that names a
    model that is not in the data (nor in ``known``, more model ids or datasets analysed with
    the same file) is an error: a misspelt id would otherwise leave its model without a family
    or silently in a family of its own.
    """
    if (cluster_by is None) == (families is None):
        raise SwjaxError("families: give exactly one of cluster_by (a column) or families (a map)")
    dataset = as_dataset(data)
    if cluster_by is not None:
        for frame in (dataset.meta, dataset.scores):
            if cluster_by in frame.columns:
                col = frame[cluster_by]
                if col.isna().any():
                    raise SwjaxError(f"cluster-by: column {cluster_by!r} is missing for model {col.index[col.isna()][0]!r}")
                return col.astype(str).rename("family")
        raise SwjaxError(f"cluster-by: no column {cluster_by!r} in {dataset.label}")
    if isinstance(families, pd.Series):
        return families.astype(str).rename("family")
    if str(families) == "public":
        return load_family_map(None)
    mapping = load_family_map(families)
    ids = set(dataset.scores.index.astype(str))
    for extra in known or ():
        ids |= set(extra.scores.index.astype(str)) if hasattr(extra, "scores") else {str(extra)}
    unknown = [m for m in mapping.index if m not in ids]
    if unknown:
        raise SwjaxError(
            f"families: {families} names {len(unknown)} model(s) not in the data, first {unknown[0]!r}"
        )
    return mapping


def cluster_codes(models, families: pd.Series) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Integer cluster code of each model (in ``models`` order) and the family of each code."""
    missing = [m for m in models if m not in families.index]
    if missing:
        raise SwjaxError(f"families: no family for model {missing[0]!r} ({len(missing)} missing)")
    labels = [str(families[m]) for m in models]
    names = tuple(dict.fromkeys(labels))
    index = {f: i for i, f in enumerate(names)}
    return tuple(index[f] for f in labels), names


def _warn_few(names, label):
    if len(names) < MIN_CLUSTERS:
        warnings.warn(
            f"{label}: only {len(names)} model families (clusters); cluster-bootstrap intervals "
            f"rest on few independent draws and are rough",
            FewClustersWarning,
            stacklevel=3,
        )


def cluster_setup(clusters: pd.Series, layout: Layout):
    """(weight scheme, leave-one-cluster-out jackknife weights, metadata) for a bootstrap."""
    codes, names = cluster_codes(layout.models, clusters)
    if len(names) < MIN_FAMILIES:
        raise SwjaxError(
            f"families: need at least {MIN_FAMILIES} families to resample them and to give a family-aware "
            f"interval, got {len(names)}"
        )
    _warn_few(names, layout.label)
    jack = resample.cluster_jackknife_weights(codes)
    return resample.cluster_scheme(codes), jack, {"scheme": "clusters", "n_clusters": len(names)}


def leave_one_family_out(data, families: pd.Series, *, capabilities=None, against=None, x64=False,
                         device: str = "auto") -> pd.DataFrame:
    """Every benchmark's correlation with each family left out in turn.

    Columns: ``full``, then ``-FAMILY`` per family, then ``min``, ``max``, ``range`` and
    ``most_moved_by`` (the family whose removal changes it most). A drop that leaves fewer than
    3 models for a benchmark gives NaN there.
    """
    dataset = as_dataset(data)
    with engine.precision(x64):
        problem, layout = build_problem(dataset, capabilities, against, float_dtype(x64))
        codes, names = cluster_codes(layout.models, families)
        m, k, nb = len(layout.models), len(layout.capabilities), layout.n_benchmarks
        weights = np.vstack([np.ones((1, m), np.int32), 1 - np.eye(len(names), dtype=np.int32)[:, list(codes)]])
        stats = engine.evaluate(problem, weights, np.ones((1, k)), device=device, fields=("corr",))
    corr = np.asarray(stats["corr"], np.float64)[:, :nb]
    cols = ["full"] + [f"-{f}" for f in names]
    frame = pd.DataFrame(corr.T, index=pd.Index(list(layout.benchmarks), name="benchmark"), columns=cols)
    change = frame.iloc[:, 1:].sub(frame["full"], axis=0).abs().fillna(-1.0).to_numpy()
    out = frame.copy()
    out["min"] = frame.min(axis=1)
    out["max"] = frame.max(axis=1)
    out["range"] = out["max"] - out["min"]
    out["most_moved_by"] = [names[j] for j in change.argmax(axis=1)]
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


def family_bootstrap(data, families: pd.Series, *, n: int = 2000, seed: int = 0, method: str | None = None,
                     level: float = 0.95, threshold: float = 0.4, capabilities=None, against=None,
                     device: str = "auto", batch_size=None, x64: bool = False) -> FamilyResult:
    """Cluster bootstrap over families, model bootstrap, design effect, leave one family out.

    ``method`` None: the defaults, cluster-t for the families and BCa for the models.
    """
    from .bootstrap import bootstrap

    dataset = as_dataset(data)
    common = dict(n=n, seed=seed, level=level, threshold=threshold,
                  capabilities=capabilities, against=against, device=device,
                  batch_size=batch_size, x64=x64)
    clustered = bootstrap(dataset, clusters=families, method=method, **common)
    models = bootstrap(dataset, method=None if method in (None, "cluster-t") else method, **common)

    def var(res):
        with np.errstate(invalid="ignore"):
            return np.nanvar(res.distribution, axis=0, ddof=1)

    vc, vm = var(clustered), var(models)
    index = list(clustered.table.index)
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = pd.DataFrame({"var_cluster": vc, "var_model": vm, "design_effect": vc / vm},
                            index=pd.Index(index, name="benchmark"))
    lofo = leave_one_family_out(dataset, families, capabilities=capabilities, against=against,
                                x64=x64, device=device)
    layout_models = list(clustered.analysis.scores.index)
    return FamilyResult(clustered, models, deff, lofo, families.reindex(layout_models))

