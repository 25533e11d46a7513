"""A new benchmark's capabilities correlation, from a CSV of its scores on the public models.

The user's columns are joined to one public set's score matrix (rows matched by model id,
then by display name), and the whole pipeline is bootstrapped on the combined matrix, so the
new benchmark is resampled jointly with the capabilities score and every public benchmark. The
capabilities score uses only the capability benchmarks, so adding columns does not change it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .data import Dataset
from .errors import DegenerateResampleWarning, SwjaxError, SwjaxWarning, warn
from .user_scores import MIN_MODELS, UnmatchedModelWarning, combine, match_models, read_scores

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

#: How many public benchmarks to list as nearest neighbours of a new one.
N_NEIGHBOURS = 3


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
    score: str = "paper",
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
    score : {"paper", "pearson", "mean-z", "irt", "compute"}
        The capability measure (:mod:`swjax.scores`); it reads only the capability benchmarks
        (or FLOP), so the new columns do not change it. Recorded in ``result.metadata["score"]``.

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
    from .options import check

    score = check(score=score).score  # before the user's file is read
    dataset = as_dataset(data)
    combined, matches, unmatched, missing, new = combine(dataset, scores)
    with warnings.catch_warnings():  # about the public columns: not the author's concern here
        warnings.simplefilter("ignore", DegenerateResampleWarning)
        result = bootstrap(
            combined, n=n, seed=seed, method=method, level=level, threshold=threshold,
            permutations=permutations, capabilities=capabilities, device=device, x64=x64,
            progress=progress, eigenvalues=eigenvalues, clusters=clusters, score=score,
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
