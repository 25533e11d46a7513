"""A user's own benchmark scores, joined to a model set: read (a CSV or a DataFrame with a
``model`` column), their models matched to the set's (by id, then by display name), and
combined with the set's matrix into one dataset that every analysis takes (``correlate``,
``adjust``, the figures). No jax.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .data import METADATA_COLUMNS, Dataset, read_csv
from .errors import SwjaxError, SwjaxWarning, warn

__all__ = ["MIN_MODELS", "UnmatchedModelWarning", "combine", "match_models", "read_scores"]

#: Fewest models of the set that must have a score for a new benchmark.
MIN_MODELS = 5

class UnmatchedModelWarning(SwjaxWarning):
    """Rows of the user's scores whose model is not in the public set (left out)."""


def _key(text) -> str:
    """Case-insensitive, whitespace-normalized form of a model id or name."""
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


def read_scores(scores) -> pd.DataFrame:
    """The user's new benchmark scores as a models x benchmarks frame (higher = safer).

    ``scores`` is a CSV path (a ``model`` column and one numeric column per new benchmark;
    an optional ``name`` column gives display names used as a second way to match), a
    DataFrame indexed by model id, or a :class:`Dataset`. A ``name`` column, when present, is
    kept as the frame's ``attrs["names"]``.
    """
    if isinstance(scores, (str, os.PathLike)):
        ds = read_csv(Path(scores))
        frame = ds.scores.copy()
        if "name" in ds.meta.columns:
            frame.attrs["names"] = ds.meta["name"].to_dict()
        return frame
    if isinstance(scores, Dataset):
        frame = scores.scores.copy()
        if "name" in scores.meta.columns:
            frame.attrs["names"] = scores.meta["name"].to_dict()
        return frame
    if isinstance(scores, pd.DataFrame):
        frame = scores.copy()
        names = frame.pop("name").to_dict() if "name" in frame.columns else None
        frame = frame.drop(columns=[c for c in METADATA_COLUMNS if c in frame.columns])
        if frame.shape[1] == 0:
            raise SwjaxError("scores: no benchmark columns")
        try:
            frame = frame.apply(pd.to_numeric, errors="raise").astype("float64")
        except (ValueError, TypeError) as err:
            raise SwjaxError(f"scores: non-numeric benchmark cell ({err})") from None
        if np.isinf(frame.to_numpy()).any():
            raise SwjaxError("scores: infinite value")
        frame.index = pd.Index([str(i).strip() for i in frame.index], name="model")
        if frame.index.duplicated().any():
            raise SwjaxError(f"scores: duplicate model id {frame.index[frame.index.duplicated()][0]!r}")
        if names is not None:
            frame.attrs["names"] = {str(k).strip(): v for k, v in names.items()}
        return frame
    raise SwjaxError(
        f"scores: expected a CSV path, a DataFrame or a Dataset, got {type(scores).__name__}"
    )


def match_models(ids, dataset: Dataset, names: dict | None = None) -> pd.DataFrame:
    """Match the user's model ids to the set's models: by id, then by display name.

    Both comparisons are case-insensitive with whitespace normalized. The display name is the
    set's ``name`` column (e.g. "Llama 2 13B Chat" for ``Llama-2-13b-chat-hf``); ``names``
    (user id -> the user's display name) is tried against both the set's ids and names.

    Returns
    -------
    pandas.DataFrame
        Indexed by the user's id: ``model`` (the set's id, "" when unmatched) and ``how``.

    Raises
    ------
    SwjaxError
        When two of the user's rows match the same model of the set.
    """
    by_id = {_key(m): m for m in dataset.models}
    by_name = {}
    if "name" in dataset.meta.columns:
        for m, name in dataset.meta["name"].items():
            if isinstance(name, str) and name.strip():
                by_name.setdefault(_key(name), m)
    rows = []
    for uid in ids:
        k = _key(uid)
        if k in by_id:
            rows.append((uid, by_id[k], "id"))
        elif k in by_name:
            rows.append((uid, by_name[k], "name"))
        else:
            alt = names.get(uid) if names else None
            alt = _key(alt) if isinstance(alt, str) else None
            if alt and alt in by_id:
                rows.append((uid, by_id[alt], "name"))
            elif alt and alt in by_name:
                rows.append((uid, by_name[alt], "name"))
            else:
                rows.append((uid, "", "unmatched"))
    frame = pd.DataFrame(rows, columns=["user_model", "model", "how"]).set_index("user_model")
    taken = frame.loc[frame["model"] != "", "model"]
    dup = taken[taken.duplicated(keep=False)]
    if len(dup):
        users = ", ".join(repr(u) for u in dup.index)
        raise SwjaxError(f"scores: rows {users} all match the model {dup.iloc[0]!r} of {dataset.label}")
    return frame


def combine(dataset: Dataset, scores, *, min_models: int = MIN_MODELS):
    """The set's matrix with the user's columns joined by model.

    Returns
    -------
    (Dataset, pandas.DataFrame, tuple, tuple, tuple)
        The combined dataset, the matches (see :func:`match_models`), the unmatched user
        models, the set's models without a score, and the new benchmark columns.

    Raises
    ------
    SwjaxError
        A new column named like a benchmark of the set (rename it), fewer than ``min_models``
        matched models with a score for a new column, or a constant new column.
    """
    frame = read_scores(scores)
    new = tuple(frame.columns)
    clash = [c for c in new if c in dataset.scores.columns]
    if clash:
        raise SwjaxError(
            f"scores: column {clash[0]!r} is already a benchmark of the {dataset.label} set; "
            "rename your column (e.g. 'my_" + clash[0] + "')"
        )
    matches = match_models(list(frame.index), dataset, frame.attrs.get("names"))
    unmatched = tuple(matches.index[matches["how"] == "unmatched"])
    ok = matches[matches["how"] != "unmatched"]
    joined = frame.loc[ok.index].set_axis(ok["model"].to_list(), axis=0)
    joined = joined.reindex(dataset.scores.index)
    for col in new:
        have = int(joined[col].notna().sum())
        if have < min_models:
            raise SwjaxError(
                f"scores: column {col!r} has scores for {have} model(s) of the {dataset.label} "
                f"set, expected at least {min_models}"
                + (f" ({len(unmatched)} of your models are not in the set)" if unmatched else "")
            )
        if joined[col].nunique(dropna=True) < 2:
            raise SwjaxError(f"scores: column {col!r} is constant over the matched models")
    missing = tuple(m for m in dataset.models if joined.loc[m].isna().all())
    if unmatched:
        warn(
            f"{dataset.label}: {len(unmatched)} model(s) of your scores are not in the set and "
            f"are left out: {', '.join(unmatched)}",
            UnmatchedModelWarning,
        )
    info_new = pd.DataFrame(
        {"name": list(new), "metric": ["new benchmark"] * len(new)},
        index=pd.Index(new, name="benchmark"),
    )
    combined = Dataset(
        label=dataset.label,
        scores=pd.concat([dataset.scores, joined], axis=1),
        meta=dataset.meta,
        info=pd.concat([dataset.info, info_new]),
    )
    return combined, matches, unmatched, missing, new
