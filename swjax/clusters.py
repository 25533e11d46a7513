"""Model families as clusters: the family map, cluster codes and the cluster bootstrap's setup.

Models of one family (every Qwen1.5 size, say) share data, architecture and training recipe,
so they are not independent draws. Resampling whole families (the cluster bootstrap) keeps
that dependence: a family's weight is how many times it was drawn, spread onto its models, so
a resample's weights sum to the total size of the drawn families.

``data/families.csv`` maps every model id of the public base and chat sets to a
family (its name prefix: Llama-2, Llama-3, Mistral (Mistral and Mixtral), Qwen1.5, Yi, dbrx,
deepseek, falcon, gemma). The public sets have 9 families, fewer than the 10 below which
:class:`~swjax.errors.FewClustersWarning` says cluster intervals are rough.

This module sits below the analyses (:mod:`swjax.bootstrap` uses :func:`cluster_setup`); the
analyses over families (leave one family out, the design effect) are in :mod:`swjax.families`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import resample
from .analysis import as_dataset
from .data import shipped
from .errors import FewClustersWarning, SwjaxError, SwjaxWarning, warn
from .problem import Layout

__all__ = [
    "MIN_CLUSTERS",
    "MIN_FAMILIES",
    "load_family_map",
    "family_labels",
    "auto_families",
    "cluster_codes",
    "cluster_setup",
]

#: Fewer clusters than this gives a FewClustersWarning.
MIN_CLUSTERS = 10
#: The ``families`` value that takes each model's developer as its family.
AUTO = "auto"
#: Fewer families than this is an error: the jackknife-t interval needs G - 1 >= 2 degrees of
#: freedom, and a cluster bootstrap of 2 families has only 3 distinct resamples.
MIN_FAMILIES = 3


def load_family_map(path: str | Path | None = None) -> pd.Series:
    """Model id -> family, from a CSV with columns ``model,family`` (default: the shipped map)."""
    try:
        if path is None:
            frame = pd.read_csv(shipped("families.csv"), comment="#", dtype=str)
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

    ``families`` is a Series, a CSV path, ``"public"`` (the shipped map) or ``"auto"`` (each
    model's developer, :func:`auto_families`). A CSV that names a
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
    if str(families) == AUTO:
        return auto_families(dataset)
    if str(families) == "public":
        return load_family_map(None)
    mapping = load_family_map(families)
    ids = set(dataset.scores.index.astype(str))
    for extra in known or ():
        ids |= set(extra.scores.index.astype(str)) if hasattr(extra, "scores") else {str(extra)}
    unknown = [m for m in mapping.index if m not in ids]
    if unknown:
        mapping, unknown = _source_ids(mapping, unknown, ids, families)
    if unknown:
        raise SwjaxError(
            f"families: {families} names {len(unknown)} model(s) not in the data, first {unknown[0]!r}"
        )
    return mapping


def _source_ids(mapping: pd.Series, unknown, ids, path):
    """A families file in the source's own ids (``meta-llama/Llama-2-7b-hf``): those ids mapped
    to the data's by the import's name rule (:func:`swjax.importers.models.to_ids`), and said."""
    from .importers.models import to_ids

    found = to_ids(unknown, ids)
    taken = set(mapping.index) - set(unknown)
    clash = [f"{a} -> {b}" for a, b in found.items() if b in taken]
    if clash:
        raise SwjaxError(f"families: {path} names one model twice ({clash[0]}, and under its own id)")
    if len(set(found.values())) < len(found):
        raise SwjaxError(f"families: {path}: two of its names map to one model ({', '.join(sorted(found))})")
    if found:
        shown = ", ".join(f"{a} -> {b}" for a, b in list(found.items())[:6])
        warn(f"families: {len(found)} model(s) of {path} matched to the data's ids by the import's "
             f"name rule: {shown}{' ...' if len(found) > 6 else ''}", SwjaxWarning)
    mapping = mapping.rename(index=found)
    return mapping, [m for m in unknown if m not in found]


def auto_families(data) -> pd.Series:
    """``--families auto``: each model's family is its developer (the ``developer`` column that
    ``swjax import`` writes where the source names one: Every Eval Ever's ``model_info.developer``,
    the organisation of an ``org/model`` id); a model without one is a family of its own."""
    dataset = as_dataset(data)
    if "developer" not in dataset.meta.columns:
        raise SwjaxError(
            f"families: auto needs a 'developer' column, which {dataset.label} does not have (swjax import "
            "writes it where the source names developers or org/model ids); give a CSV of model,family"
        )
    dev = dataset.meta["developer"].reindex(dataset.scores.index)
    own = dev.isna() | (dev.astype(str).str.strip() == "")
    labels = dev.astype(object).where(~own, pd.Series(dataset.scores.index, index=dataset.scores.index))
    return labels.astype(str).rename("family")


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
        warn(
            f"{label}: only {len(names)} model families (clusters); cluster-bootstrap intervals "
            f"rest on few independent draws and are rough",
            FewClustersWarning,
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
