"""A new benchmark's capabilities correlation, from a CSV of its scores on the public models.

The user's columns are joined to one public set's score matrix (rows matched by model id,
then by display name), and the whole pipeline is bootstrapped on the combined matrix, so the
new benchmark is resampled jointly with the capabilities score and every public benchmark. The
capabilities score uses only the capability benchmarks, so adding columns does not change it.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .data import METADATA_COLUMNS, Dataset, read_csv
from .errors import DegenerateResampleWarning, SwjaxError, SwjaxWarning, warn

__all__ = [
    "MIN_MODELS",
    "CorrelateResult",
    "UnmatchedModelWarning",
    "combine",
    "correlate",
    "match_models",
    "place",
    "read_scores",
]

#: Fewest models of the set that must have a score for a new benchmark.
MIN_MODELS = 5
#: How many public benchmarks to list as nearest neighbours of a new one.
N_NEIGHBOURS = 3


class UnmatchedModelWarning(SwjaxWarning):
    """Rows of the user's scores whose model is not in the public set (left out)."""


@dataclass(frozen=True)
class CorrelateResult:
    """New benchmarks placed among the public ones of one model set.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per new benchmark: ``name``, ``estimate``, ``low``, ``high``, ``verdict``,
        ``n_models`` (matched models with a score), ``se``, ``p_value``, ``rank`` (1 = most
        correlated with capabilities) among ``of`` public benchmarks, ``percentile`` (share of
        public benchmarks with a lower estimate) and ``neighbours`` (the public benchmarks with
        the nearest estimates, as display names).
    matches : pandas.DataFrame
        One row per row of the user's file: ``model`` (the set's id or empty), ``how``
        (``"id"``, ``"name"`` or ``"unmatched"``).
    unmatched : tuple of str
        The user's models that are not in the set (left out).
    missing : tuple of str
        Models of the set without any score in the user's file (NaN there).
    new : tuple of str
        The new benchmark columns.
    result : BootstrapResult
        The bootstrap of the combined matrix (public and new benchmarks).
    dataset : Dataset
        The combined matrix.
    """

    table: pd.DataFrame
    matches: pd.DataFrame
    unmatched: tuple[str, ...]
    missing: tuple[str, ...]
    new: tuple[str, ...]
    result: object = field(repr=False)
    dataset: Dataset = field(repr=False)

    def __repr__(self) -> str:
        from . import display

        md = self.result.metadata
        return display.result(
            "CorrelateResult",
            dict(set=md.get("set"), n=md.get("n"), method=md.get("method"), level=md.get("level"),
                 new=len(self.new), unmatched=len(self.unmatched)),
            verdicts=self.table["verdict"],
            body=display.rows(self.table, extra=("verdict", "rank")),
        )

    @property
    def set(self) -> str:
        return self.result.metadata["set"]


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


def place(table: pd.DataFrame, benchmark: str, among, n_neighbours: int = N_NEIGHBOURS) -> dict:
    """Rank of ``benchmark``'s estimate among the benchmarks ``among`` and its nearest ones.

    Rank 1 is the most correlated with capabilities. ``percentile`` is the share of the
    others with a lower estimate.
    """
    est = table.loc[benchmark, "estimate"]
    others = table.loc[[b for b in among if b != benchmark], "estimate"].dropna()
    if not np.isfinite(est) or others.empty:
        return dict(rank=np.nan, of=len(others), percentile=np.nan, neighbours="")
    rank = int((others > est).sum()) + 1
    nearest = (others - est).abs().sort_values(kind="stable").index[:n_neighbours]
    names = table["name"] if "name" in table.columns else pd.Series(table.index, index=table.index)
    neighbours = "; ".join(f"{names[b]} ({others[b]:+.2f})" for b in nearest)
    return dict(
        rank=rank, of=len(others), percentile=float((others < est).mean()), neighbours=neighbours,
    )


def correlate(
    scores,
    data="chat",
    *,
    n: int = 2000,
    seed: int = 0,
    method: str | None = None,
    level: float = 0.95,
    threshold: float = 0.4,
    permutations: int = 0,
    capabilities=None,
    device: str = "auto",
    x64: bool = False,
    progress=None,
    eigenvalues: bool = False,
    clusters=None,
) -> CorrelateResult:
    """Capabilities correlation, interval and verdict of new benchmarks, placed among the paper's.

    Parameters
    ----------
    scores : path, DataFrame or Dataset
        The new benchmarks' scores: a ``model`` column (or index) of model ids and one column
        per new benchmark, higher = safer. Models are matched to the set by id, then by display
        name (case-insensitive); unmatched ones are listed and left out; models of the set
        without a score are missing (pairwise-complete correlations).
    data : Dataset or {"base", "chat"}
        The public set the new benchmarks are placed in.
    n, seed, method, level, threshold, permutations, capabilities, device, x64, progress, eigenvalues
        As in :func:`swjax.bootstrap`.
    clusters : pandas.Series, optional
        Model id -> family of the set's models: the family-aware interval, as in
        :func:`swjax.bootstrap`.

    Examples
    --------
    >>> import pandas as pd, swjax
    >>> chat = swjax.load_dataset("chat")
    >>> mine = pd.DataFrame({"my_bench": chat.scores["MT_Bench"] * 2 + 1})
    >>> res = correlate(mine, chat, n=200)
    >>> row = res.table.loc["my_bench"]
    >>> row["verdict"], int(row["n_models"])
    ('entangled', 26)
    """
    from .analysis import as_dataset
    from .bootstrap import bootstrap

    dataset = as_dataset(data)
    combined, matches, unmatched, missing, new = combine(dataset, scores)
    with warnings.catch_warnings():  # about the public columns: not the author's concern here
        warnings.simplefilter("ignore", DegenerateResampleWarning)
        result = bootstrap(
            combined, n=n, seed=seed, method=method, level=level, threshold=threshold,
            permutations=permutations, capabilities=capabilities, device=device, x64=x64,
            progress=progress, eigenvalues=eigenvalues, clusters=clusters,
        )
    table = result.table
    lost = [c for c in new if c not in table.index]
    if lost:
        raise SwjaxError(f"scores: column {lost[0]!r} was left out of the analysis (constant or empty)")
    degenerate = [f"{b} ({int(table.at[b, 'n_degenerate'])})" for b in new if table.at[b, "n_degenerate"]]
    if degenerate:
        warn(
            f"{dataset.label}: resamples with no correlation (constant among the drawn models), "
            f"left out of the intervals: {', '.join(degenerate)}",
            DegenerateResampleWarning,
        )
    public = [b for b in table.index if b not in new]
    rows = []
    for b in new:
        row = table.loc[b]
        rows.append(
            dict(
                benchmark=b, name=row["name"], estimate=row["estimate"], low=row["low"],
                high=row["high"], verdict=row["verdict"], n_models=int(row["n_models"]),
                se=row["se"], p_value=row["p_value"], interval=row["interval"],
                n_degenerate=int(row["n_degenerate"]), **place(table, b, public),
            )
        )
    out = pd.DataFrame(rows).set_index("benchmark")
    return CorrelateResult(
        table=out, matches=matches, unmatched=unmatched, missing=missing, new=new,
        result=result, dataset=combined,
    )


def subset_correlations(
    data, benchmarks=None, *, n_subsets: int | None = None, min_size: int = 3, seed: int = 0,
    capabilities=None,
) -> pd.DataFrame:
    """Point estimates over capability subsets (long format), for the specification curve.

    Every subset with at least ``min_size`` members, or ``n_subsets`` of them at random, through
    :func:`swjax.subsets` (one compiled function for all masks); the full capability set is
    always included.

    Returns
    -------
    pandas.DataFrame
        Columns ``subset``, ``size``, ``members`` (";"-joined), ``benchmark``, ``correlation``.
    """
    from .analysis import as_dataset
    from .sensitivity import subsets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SwjaxWarning)
        res = subsets(as_dataset(data), capabilities=capabilities, min_size=min_size,
                      max_subsets=n_subsets, seed=seed)
    masks, est = res.masks, res.estimates
    if not (masks.sum(axis=1) == masks.shape[1]).any():
        masks = np.vstack([masks, np.ones((1, masks.shape[1]), masks.dtype)])
        est = np.vstack([est, res.table["full"].reindex(list(res.benchmarks)).to_numpy()[None]])
    names = list(res.benchmarks)
    cols = names if benchmarks is None else list(benchmarks)
    idx = [names.index(b) for b in cols]
    caps = list(res.capabilities)
    frames = [
        pd.DataFrame(
            {"subset": i, "size": int(mask.sum()), "members": ";".join(c for c, on in zip(caps, mask) if on),
             "benchmark": cols, "correlation": est[i, idx]}
        )
        for i, mask in enumerate(masks)
    ]
    return pd.concat(frames, ignore_index=True)
