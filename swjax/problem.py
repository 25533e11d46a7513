"""The arrays the statistic reads, built once on the host from a :class:`~swjax.data.Dataset`.

Validation of an analysis request happens here, before anything is traced: unknown or too few
capability benchmarks, too few models, an unknown ``against`` column. All-missing or constant
benchmarks are dropped with a warning (as the released analysis drops them) and models without
every capability score are left out of the whole analysis with a warning naming them.

The comparison tensor ``cmp[j, i, u] = [x_u < x_i] + [x_u == x_i] / 2`` (zero where ``x_u`` is
missing) turns weighted mid-ranks into a matrix product: for integer model weights ``u``,
``rank_i = cmp[j, i] @ u + 1/2`` is exactly the mid-rank of model ``i`` among the models of
``u`` with each repeated ``u`` times. Its memory is ``columns x models^2`` numbers; beyond
:data:`swjax.ranks.COMPARE_BUDGET_BYTES` the problem carries sort tables instead (``columns x
models`` integers, same ranks bit for bit; see :mod:`swjax.ranks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .data import PAPER_CAPABILITIES, Dataset, flop
from . import ranks as _ranks
from . import scores as _scores
from . import validate as _validate
from .errors import DroppedBenchmarkWarning, DroppedModelWarning, SwjaxError, warn

__all__ = [
    "Problem", "Pairs", "Layout", "build_problem", "build_problem_imputed", "stack_problems", "MIN_MODELS",
    "FLOP_COLUMN", "IMPUTE_RANK", "IMPUTE_MAX_MISSING",
]

MIN_MODELS = 5
FLOP_COLUMN = "FLOP"
#: Problems of at most this many models carry :class:`Pairs` (on the comparison path): their
#: sums stay exact in float32 for total weights up to about 200. Beyond it "auto" ranks by sorting.
PAIRS_MAX_MODELS = _ranks.COMPARE_MAX_MODELS


class Pairs(NamedTuple):
    """The columns of the most common pair set as bilinear forms (a JAX pytree).

    For a column ``j`` observed (with the target) on the pair set ``p`` and integer weights
    ``w``, the centred mid-ranks are ``r = S_j @ w`` with ``S_j[i, u] = sign(x_i - x_u) / 2``
    on pairs of ``p`` (zero elsewhere), so its covariance with any ``g`` supported on ``p`` is
    ``g @ S_j @ w = <S_j, g w^T>``: for all such columns at once one product of ``sign`` with
    the outer product ``g w^T``, with no (columns x models) ranks. Their rank variance needs no
    ranks either: ``(n^3 - sum over tie groups of t^3) / 12`` with ``n`` the weight of ``p``
    and ``t`` the weight of each group of tied models (a model alone is a group, and so are
    the copies of a model). Every term is a small integer or a multiple of 1/4: the numbers
    equal those of the ranks bit for bit (:mod:`swjax.core`).

    ``S_j`` is antisymmetric, so ``<S_j, g w^T> = sum over i < u of S_j[i, u] (g_i w_u - g_u w_i)``:
    only its upper triangle is kept, and the product is half the size.

    Attributes
    ----------
    sign : (q_p, m (m - 1) / 2) the upper triangle of ``S_j`` (row by row), for the ``q_p``
        columns of the most common pair set.
    cols : (q_p,) int, those columns; ``rest`` : (q_r,) int, the other columns (ranked).
    order : (q,) int, the position of each column in ``cols`` followed by ``rest``.
    main : () int, the index of that pair set among ``Problem.patterns``.
    groups : (G, m) 0/1, every group of two or more tied models in these columns (zero rows pad).
    owner : (G,) int, the column (position in ``cols``) of each group, in increasing order.
    """

    sign: np.ndarray
    cols: np.ndarray
    rest: np.ndarray
    order: np.ndarray
    main: np.ndarray
    groups: np.ndarray
    owner: np.ndarray


class Problem(NamedTuple):
    """Arrays of one analysis (a JAX pytree). ``m`` models, ``q`` ranked columns, ``k`` capabilities.

    Attributes
    ----------
    caps : (m, k) raw capability scores, no missing values.
    cap_index : (k,) int, position of each capability among the ranked columns.
    cmp : (q, m, m) comparison tensor of every ranked column (module docstring), or None on
        the sort path.
    obs : (q, m) 1 where the column has a score for the model, else 0.
    patterns : (P, m) the distinct pair sets: models observed in a column (and in ``target``).
    col_pattern : (q,) int, the pattern of each column.
    target : (m,) the ``against`` column (NaN where missing), or None for the capabilities score.
    order, tie_lo, tie_hi : (q, m) int32 sort tables of every ranked column (:mod:`swjax.ranks`)
        on the sort path, None on the comparison path.
    pairs : :class:`Pairs` of the most common pair set on the comparison path for at most
        :data:`PAIRS_MAX_MODELS` models, else None.
    cap_obs : (m, k) 1 where a capability score was observed, or None. Not None only for
        problems of :func:`build_problem_imputed`: the static flag that makes the statistic
        impute missing capability scores inside every resample (``caps`` is 0 there).
    impute_rank : (k,) 1 for the components kept by the imputation's low-rank fit, or None.
    cap_tiebreak : (m, k) int32, the dense rank of each observed capability score among its
        column's float64 values (0 where missing), or None: the imputed path ranks the completed
        columns in the kernel's dtype and breaks its ties by this host order.
    measure : the capability measure other than the paper's, as ``{name: data}``
        (:func:`swjax.scores.prepare`), or None for the paper's. Static: its name is part of
        the pytree's structure.

    Shapes depend on (m, q, k) and the number of patterns P; :func:`stack_problems` pads P so
    that problems of same-shaped datasets stack (built on the same rank path).
    """

    caps: np.ndarray
    cap_index: np.ndarray
    cmp: np.ndarray
    obs: np.ndarray
    patterns: np.ndarray
    col_pattern: np.ndarray
    target: np.ndarray | None
    order: np.ndarray | None = None
    tie_lo: np.ndarray | None = None
    tie_hi: np.ndarray | None = None
    pairs: Pairs | None = None
    cap_obs: np.ndarray | None = None
    impute_rank: np.ndarray | None = None
    cap_tiebreak: np.ndarray | None = None
    measure: dict | None = None

    @property
    def rank_path(self) -> str:
        """``"compare"`` or ``"sort"``: how the ranks of the fixed columns are computed."""
        return "sort" if self.cmp is None else "compare"


@dataclass(frozen=True)
class Layout:
    """Names that go with a :class:`Problem`'s axes.

    ``columns`` lists the ranked columns: the ``n_benchmarks`` benchmarks first, then extra
    columns correlated with the target but not reported as benchmarks (training FLOP).
    """

    label: str
    models: tuple[str, ...]
    columns: tuple[str, ...]
    n_benchmarks: int
    capabilities: tuple[str, ...]
    against: str | None
    dropped_models: tuple[str, ...]
    dropped_benchmarks: tuple[str, ...]

    @property
    def benchmarks(self) -> tuple[str, ...]:
        return self.columns[: self.n_benchmarks]

    @property
    def has_flop(self) -> bool:
        return len(self.columns) > self.n_benchmarks


def check_capabilities(dataset: Dataset, capabilities) -> tuple[str, ...]:
    """Validate a capability list against a dataset's benchmark columns."""
    caps = tuple(PAPER_CAPABILITIES if capabilities is None else capabilities)
    if isinstance(capabilities, str):
        caps = tuple(c.strip() for c in capabilities.split(",") if c.strip())
    for name in caps:
        if not isinstance(name, str):
            raise SwjaxError(f"capabilities: expected benchmark names (strings), got {name!r}")
    caps = tuple(dataset.resolve(name, "capabilities") for name in caps)  # ids or display names
    dup = [c for i, c in enumerate(caps) if c in caps[:i]]
    if dup:
        raise SwjaxError(f"capabilities: {dup[0]!r} is listed twice")
    if len(caps) < 2:
        raise SwjaxError(f"capabilities: need at least 2 capability benchmarks, got {len(caps)}")
    return caps


def pair_tables(values: np.ndarray, pairs: np.ndarray, col_pattern: np.ndarray, dtype) -> Pairs:
    """:class:`Pairs` for ranked columns ``values`` (q, m) with pair sets ``pairs`` (q, m)."""
    q, m = values.shape
    main = int(np.bincount(col_pattern).argmax())
    cols = np.flatnonzero(col_pattern == main)
    rest = np.flatnonzero(col_pattern != main)
    order = np.empty(q, np.int32)
    order[np.concatenate([cols, rest])] = np.arange(q)
    x = np.where(pairs[cols], values[cols], np.nan)
    both = pairs[cols][:, :, None] & pairs[cols][:, None, :]
    sign = np.where(both, np.sign(x[:, :, None] - x[:, None, :]) / 2, 0.0)
    # Tie groups: each group is the row of its first model in the "same value" matrix.
    same = both & (x[:, :, None] == x[:, None, :])  # (q_p, m, m), NaN equal to nothing
    first = np.argmax(same, axis=2) == np.arange(m)
    owner, lead = np.nonzero(first & (same.sum(axis=2) > 1))
    groups = same[owner, lead]
    upper = np.triu_indices(m, 1)  # S_j is antisymmetric: its upper triangle says it all
    return Pairs(
        sign=sign[:, upper[0], upper[1]].astype(dtype),
        cols=cols.astype(np.int32),
        rest=rest.astype(np.int32),
        order=order,
        main=np.asarray(main, np.int32),
        groups=groups.astype(dtype),
        owner=owner.astype(np.int32),
    )


def comparisons(values: np.ndarray, dtype) -> np.ndarray:
    """``cmp[..., i, u] = [x_u < x_i] + [x_u == x_i] / 2``, zero where ``x_u`` is NaN.

    ``values`` has shape (..., m); the result (..., m, m).
    """
    x = np.asarray(values, dtype=np.float64)
    xi, xu = x[..., :, None], x[..., None, :]
    out = (xu < xi) + 0.5 * (xu == xi)
    return out.astype(dtype)


def unit_range(x: np.ndarray) -> np.ndarray:
    """Each column of ``x`` (float64, not constant; NaN stays NaN) shifted and scaled onto [-1, 1].

    z-scores do not change under a positive affine map, so the kernel's weighted z-scores of
    these columns are those of the data; but no magnitude can now overflow or underflow in the
    kernel's dtype (a column scaled by 1e20 has squares of 1e40, beyond float32; one of 1e308
    beyond float64). Computed without overflow: the midpoint and half-range from halves.
    """
    lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
    mid, half = lo / 2 + hi / 2, hi / 2 - lo / 2
    return np.clip((x - mid) / half, -1.0, 1.0)


def dense_ranks(values: np.ndarray) -> np.ndarray:
    """1, 2, ... by increasing value, equal values sharing one; NaN stays NaN."""
    out = np.full(values.shape, np.nan)
    seen = np.isfinite(values)
    out[seen] = np.unique(values[seen], return_inverse=True)[1] + 1
    return out


def build_problem(
    dataset: Dataset,
    capabilities=None,
    against: str | None = None,
    dtype=np.float32,
    drop_degenerate: bool = True,
    ranks: str = "auto",
    score: str = "paper",
) -> tuple[Problem, Layout]:
    """Check an analysis request and build its arrays.

    The shapes of the arrays depend only on (models, ranked columns, capabilities), so problems
    of datasets with the same shape stack along a new leading axis (``jax.tree.map(np.stack, ...)``)
    for vmap. ``drop_degenerate=False`` keeps all-missing or constant benchmarks (their
    correlation is NaN) so that simulated datasets of one design always have the same shape.
    ``ranks`` is ``"auto"`` (the comparison tensor up to
    :data:`swjax.ranks.COMPARE_BUDGET_BYTES`, sort tables beyond), ``"compare"`` or ``"sort"``;
    both paths give the same numbers. ``score`` is the capability measure (:mod:`swjax.scores`).

    Raises
    ------
    SwjaxError
        Unknown capability or ``against`` benchmark, fewer than 2 capabilities, a capability
        benchmark that is constant or has no scores, fewer than 5 models with every capability.
    """
    _validate.dataset(dataset)
    caps = check_capabilities(dataset, capabilities)
    score = _scores.check_score(score)
    scores = dataset.scores
    _ranks.choose(1, 1, dtype, ranks)  # validate before any work

    missing_cap = scores[list(caps)].isna().any(axis=1)
    dropped_models = tuple(scores.index[missing_cap])
    if dropped_models:
        warn(
            f"{dataset.label}: left out {len(dropped_models)} model(s) missing a capability "
            f"score: {', '.join(dropped_models)}",
            DroppedModelWarning,
        )
        scores = scores.loc[~missing_cap]
    if len(scores) < MIN_MODELS:
        raise SwjaxError(
            f"{dataset.label}: need at least {MIN_MODELS} models with every capability score, "
            f"got {len(scores)}"
        )

    x = scores.to_numpy(dtype=np.float64)
    seen = np.isfinite(x)
    lowest = np.where(seen, x, np.inf).min(axis=0)
    highest = np.where(seen, x, -np.inf).max(axis=0)
    degenerate = scores.columns[~seen.any(axis=0) | (lowest == highest)]  # at most one value
    for name in degenerate:
        if name in caps:
            state = "has no scores" if scores[name].isna().all() else "is constant"
            raise SwjaxError(f"capabilities: capability benchmark {name!r} {state}")
    if not drop_degenerate:
        degenerate = degenerate[:0]
    if len(degenerate):
        warn(
            f"{dataset.label}: dropped {len(degenerate)} benchmark(s) that are all missing or "
            f"constant: {', '.join(degenerate)}",
            DroppedBenchmarkWarning,
        )
        scores = scores.drop(columns=degenerate)

    if against is not None:
        against = dataset.resolve(against, "against")
        if against in degenerate:
            raise SwjaxError(f"against: benchmark {against!r} is all missing or constant")

    columns = list(scores.columns)
    values = scores.to_numpy(dtype=np.float64).T  # (q, m)
    fl = flop(dataset)
    if fl is not None:
        fl = fl.reindex(scores.index)
        if fl.notna().sum() >= 3 and fl.nunique() > 1:
            columns.append(FLOP_COLUMN)
            values = np.vstack([values, fl.to_numpy(dtype=np.float64)[None, :]])

    obs = np.isfinite(values)
    log_flop = compute_score(dataset, scores.index) if score == "compute" else None
    target = None
    pairs = obs
    if against is None and log_flop is not None:
        # The compute score is fixed data: correlated as an ``against`` column is, over the
        # models whose FLOP is known (pairwise-complete).
        target = dense_ranks(log_flop).astype(dtype)
        pairs = obs & np.isfinite(target)[None, :]
    if against is not None:
        # Only the order of the target matters: its dense ranks (small integers, exact in any
        # dtype) instead of its values, which float32 could round together or to infinity.
        target = dense_ranks(values[columns.index(against)]).astype(dtype)
        pairs = obs & np.isfinite(target)[None, :]
    patterns, col_pattern = np.unique(pairs, axis=0, return_inverse=True)
    path = _ranks.choose(values.shape[0], values.shape[1], dtype, ranks)
    tables = _ranks.sort_tables(values) if path == "sort" else (None, None, None)
    problem = Problem(
        caps=unit_range(scores[list(caps)].to_numpy(dtype=np.float64)).astype(dtype),
        cap_index=np.array([columns.index(c) for c in caps], dtype=np.int32),
        cmp=comparisons(values, dtype) if path == "compare" else None,
        obs=obs.astype(dtype),
        patterns=patterns.astype(dtype),
        col_pattern=col_pattern.reshape(-1).astype(np.int32),
        target=target,
        order=tables[0],
        tie_lo=tables[1],
        tie_hi=tables[2],
        pairs=pair_tables(values, pairs, col_pattern.reshape(-1), dtype)
        if path == "compare" and values.shape[1] <= PAIRS_MAX_MODELS else None,
        measure=_scores.prepare(score, scores[list(caps)].to_numpy(dtype=np.float64), log_flop, dtype),
    )
    layout = Layout(
        label=dataset.label,
        models=tuple(scores.index),
        columns=tuple(columns),
        n_benchmarks=scores.shape[1],
        capabilities=caps,
        against=against,
        dropped_models=dropped_models,
        dropped_benchmarks=tuple(degenerate),
    )
    return problem, layout


def compute_score(dataset: Dataset, models) -> np.ndarray:
    """log10 training FLOP of ``models`` (NaN where unknown), for ``score="compute"``.

    Raises SwjaxError when the data has no FLOP column, FLOP for fewer than 3 models or only
    one value, or a FLOP that is not positive.
    """
    fl = flop(dataset)
    if fl is None:
        raise SwjaxError(f"score: 'compute' needs training FLOP per model (a {FLOP_COLUMN} column); "
                         f"{dataset.label} has none")
    fl = fl.reindex(models).to_numpy(dtype=np.float64)
    known = np.isfinite(fl)
    if np.any(fl[known] <= 0):
        bad = list(np.asarray(models)[known & (fl <= 0)])
        raise SwjaxError(f"score: 'compute' needs positive FLOP; {dataset.label} has {fl[known & (fl <= 0)][0]!r} "
                         f"for {bad[0]!r}")
    if known.sum() < 3 or len(np.unique(fl[known])) < 2:
        raise SwjaxError(f"score: 'compute' needs FLOP for at least 3 models with 2 different values; "
                         f"{dataset.label} has {int(known.sum())} known")
    return np.log10(np.where(known, fl, np.nan))


def stack_problems(problems: list[Problem]) -> Problem:
    """Stack problems of same-shaped datasets along a new leading axis (for vmap).

    Pattern tables are padded with empty patterns to the largest count, the tie groups of
    :class:`Pairs` with empty groups. Problems whose most common pair sets differ in size
    are stacked without their :class:`Pairs` (the ranks give the same numbers).
    """
    n_pat = max(p.patterns.shape[0] for p in problems)
    padded = [
        p._replace(patterns=np.pad(p.patterns, ((0, n_pat - p.patterns.shape[0]), (0, 0))))
        for p in problems
    ]
    pairs = [p.pairs for p in padded]
    if any(x is None for x in pairs) or len({x.cols.shape for x in pairs}) != 1:
        stacked_pairs = None
    else:
        n_groups = max(len(x.groups) for x in pairs)
        pairs = [
            x._replace(
                groups=np.pad(x.groups, ((0, n_groups - len(x.groups)), (0, 0))),
                owner=np.pad(x.owner, (0, n_groups - len(x.owner)), mode="edge" if len(x.owner) else "constant"),
            )
            for x in pairs
        ]
        stacked_pairs = Pairs(*(np.stack(xs) for xs in zip(*pairs)))
    measures = [p.measure for p in padded]
    if len({None if x is None else tuple(x) for x in measures}) != 1:
        raise SwjaxError("problems: cannot stack datasets of different capability measures")
    stacked_measure = None if measures[0] is None else {
        name: None if measures[0][name] is None else np.stack([x[name] for x in measures]) for name in measures[0]
    }
    padded = [p._replace(pairs=None, measure=None) for p in padded]
    shapes = {tuple(np.shape(x) for x in p if x is not None) for p in padded}
    if len(shapes) != 1:
        raise SwjaxError("problems: cannot stack datasets of different shapes")
    stacked = Problem(*(None if xs[0] is None else np.stack(xs) for xs in zip(*padded)))
    return stacked._replace(pairs=stacked_pairs, measure=stacked_measure)


# --------------------------------------------------------------------------- missing capabilities

#: Components of the low-rank fit that imputes missing capability scores.
IMPUTE_RANK = 2
IMPUTE_MAX_MISSING = _validate.IMPUTE_MAX_MISSING


def build_problem_imputed(
    dataset: Dataset,
    capabilities=None,
    against: str | None = None,
    dtype=np.float32,
    drop_degenerate: bool = True,
    ranks: str = "auto",
    rank: int = IMPUTE_RANK,
    score: str = "paper",
) -> tuple[Problem, Layout]:
    """A problem whose missing capability scores are imputed inside the statistic.

    Models that lack some capability scores are kept (a model with none is left out with a
    warning); :func:`swjax.core.statistic` then fills the missing cells of every resample by a
    weighted rank-``rank`` iterative PCA fit of the capability matrix
    (:func:`swjax.core.impute_capabilities`), so the imputation's uncertainty is in the interval.
    Every other array is that of :func:`build_problem` on the same models: the capability
    columns' own correlations are pairwise-complete over their observed models. With
    ``score="irt"`` the score's likelihood reads only the observed capability scores.

    Raises
    ------
    SwjaxError
        As :func:`build_problem`, and: a capability benchmark missing for more than half of the
        models, ``rank`` not in [1, k - 1].
    """
    caps = check_capabilities(dataset, capabilities)
    if not 1 <= int(rank) < len(caps):
        raise SwjaxError(f"impute rank: expected 1 to {len(caps) - 1} components, got {rank}")
    scores = dataset.scores
    observed = scores[list(caps)].notna()
    empty = observed.index[~observed.any(axis=1)]
    if len(empty):
        warn(
            f"{dataset.label}: left out {len(empty)} model(s) with no capability score to impute "
            f"from: {', '.join(empty)}",
            DroppedModelWarning,
        )
        scores, observed = scores.drop(index=empty), observed.drop(index=empty)
    _validate.imputable(observed, dataset.label)
    # Build on a copy whose missing capability cells hold a placeholder (so no model is dropped),
    # then redo the rank tables from the real values, where those cells are missing.
    filled = scores.copy()
    for name in caps:
        filled[name] = filled[name].fillna(filled[name].median())
    placeholder = Dataset(label=dataset.label, scores=filled, meta=dataset.meta.reindex(filled.index),
                          info=dataset.info)
    problem, layout = build_problem(placeholder, caps, against, dtype, drop_degenerate, ranks, score)
    values = scores.reindex(index=list(layout.models), columns=list(layout.benchmarks)).to_numpy(np.float64).T
    if layout.has_flop:
        values = np.vstack([values, flop(placeholder).reindex(list(layout.models)).to_numpy(np.float64)[None, :]])
    obs = np.isfinite(values)
    target = problem.target if against is None else None  # the compute score's, or None
    pairs = obs if target is None else obs & np.isfinite(target)[None, :]
    if against is not None:
        target = dense_ranks(values[list(layout.columns).index(layout.against)]).astype(dtype)
        pairs = obs & np.isfinite(target)[None, :]
    patterns, col_pattern = np.unique(pairs, axis=0, return_inverse=True)
    col_pattern = col_pattern.reshape(-1)
    path = problem.rank_path
    tables = _ranks.sort_tables(values) if path == "sort" else (None, None, None)
    cap_values = scores.reindex(index=list(layout.models), columns=list(caps)).to_numpy(np.float64)
    cap_obs = np.isfinite(cap_values)
    if problem.measure is not None and "irt" in problem.measure:  # sparse: missing cells stay out
        problem = problem._replace(measure=_scores.prepare("irt", cap_values, None, dtype))
    problem = problem._replace(
        caps=np.where(cap_obs, unit_range(cap_values), 0.0).astype(dtype),
        cmp=comparisons(values, dtype) if path == "compare" else None,
        obs=obs.astype(dtype),
        patterns=patterns.astype(dtype),
        col_pattern=col_pattern.astype(np.int32),
        target=target,
        order=tables[0],
        tie_lo=tables[1],
        tie_hi=tables[2],
        pairs=pair_tables(values, pairs, col_pattern, dtype)
        if path == "compare" and values.shape[1] <= PAIRS_MAX_MODELS else None,
        cap_obs=cap_obs.astype(dtype),
        impute_rank=(np.arange(len(caps)) < int(rank)).astype(dtype),
        cap_tiebreak=np.nan_to_num(dense_ranks(cap_values), nan=0.0).astype(np.int32),
    )
    layout = Layout(
        label=layout.label, models=layout.models, columns=layout.columns, n_benchmarks=layout.n_benchmarks,
        capabilities=layout.capabilities, against=layout.against, dropped_models=tuple(empty),
        dropped_benchmarks=layout.dropped_benchmarks,
    )
    return problem, layout
