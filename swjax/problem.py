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

import difflib
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .data import PAPER_CAPABILITIES, Dataset, flop
from . import ranks as _ranks
from .errors import DroppedBenchmarkWarning, DroppedModelWarning, SwjaxError

__all__ = ["Problem", "Layout", "build_problem", "stack_problems", "MIN_MODELS", "FLOP_COLUMN"]

MIN_MODELS = 5
FLOP_COLUMN = "FLOP"


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


def _unknown(name: str, choices, what: str) -> SwjaxError:
    close = difflib.get_close_matches(name, list(choices), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return SwjaxError(f"{what}: unknown benchmark {name!r}{hint}")


def check_capabilities(dataset: Dataset, capabilities) -> tuple[str, ...]:
    """Validate a capability list against a dataset's benchmark columns."""
    caps = tuple(PAPER_CAPABILITIES if capabilities is None else capabilities)
    if isinstance(capabilities, str):
        caps = tuple(c.strip() for c in capabilities.split(",") if c.strip())
    for name in caps:
        if name not in dataset.scores.columns:
            raise _unknown(name, dataset.scores.columns, "capabilities")
    dup = [c for i, c in enumerate(caps) if c in caps[:i]]
    if dup:
        raise SwjaxError(f"capabilities: {dup[0]!r} is listed twice")
    if len(caps) < 2:
        raise SwjaxError(f"capabilities: need at least 2 capability benchmarks, got {len(caps)}")
    return caps


def comparisons(values: np.ndarray, dtype) -> np.ndarray:
    """``cmp[..., i, u] = [x_u < x_i] + [x_u == x_i] / 2``, zero where ``x_u`` is NaN.

    ``values`` has shape (..., m); the result (..., m, m).
    """
    x = np.asarray(values, dtype=np.float64)
    xi, xu = x[..., :, None], x[..., None, :]
    out = (xu < xi) + 0.5 * (xu == xi)
    return out.astype(dtype)


def build_problem(
    dataset: Dataset,
    capabilities=None,
    against: str | None = None,
    dtype=np.float32,
    drop_degenerate: bool = True,
    ranks: str = "auto",
) -> tuple[Problem, Layout]:
    """Check an analysis request and build its arrays.

    The shapes of the arrays depend only on (models, ranked columns, capabilities), so problems
    of datasets with the same shape stack along a new leading axis (``jax.tree.map(np.stack, ...)``)
    for vmap. ``drop_degenerate=False`` keeps all-missing or constant benchmarks (their
    correlation is NaN) so that simulated datasets of one design always have the same shape.
    ``ranks`` is ``"auto"`` (the comparison tensor up to
    :data:`swjax.ranks.COMPARE_BUDGET_BYTES`, sort tables beyond), ``"compare"`` or ``"sort"``;
    both paths give the same numbers.

    Raises
    ------
    SwjaxError
        Unknown capability or ``against`` benchmark, fewer than 2 capabilities, a capability
        benchmark that is constant or has no scores, fewer than 5 models with every capability.
    """
    caps = check_capabilities(dataset, capabilities)
    scores = dataset.scores
    _ranks.choose(1, 1, dtype, ranks)  # validate before any work

    missing_cap = scores[list(caps)].isna().any(axis=1)
    dropped_models = tuple(scores.index[missing_cap])
    if dropped_models:
        warnings.warn(
            f"{dataset.label}: left out {len(dropped_models)} model(s) missing a capability "
            f"score: {', '.join(dropped_models)}",
            DroppedModelWarning,
            stacklevel=3,
        )
        scores = scores.loc[~missing_cap]
    if len(scores) < MIN_MODELS:
        raise SwjaxError(
            f"{dataset.label}: need at least {MIN_MODELS} models with every capability score, "
            f"got {len(scores)}"
        )

    distinct = scores.nunique(dropna=True)
    degenerate = distinct[distinct <= 1].index
    for name in degenerate:
        if name in caps:
            state = "has no scores" if scores[name].isna().all() else "is constant"
            raise SwjaxError(f"capabilities: capability benchmark {name!r} {state}")
    if not drop_degenerate:
        degenerate = degenerate[:0]
    if len(degenerate):
        warnings.warn(
            f"{dataset.label}: dropped {len(degenerate)} benchmark(s) that are all missing or "
            f"constant: {', '.join(degenerate)}",
            DroppedBenchmarkWarning,
            stacklevel=3,
        )
        scores = scores.drop(columns=degenerate)

    if against is not None and against not in scores.columns:
        if against in degenerate:
            raise SwjaxError(f"against: benchmark {against!r} is all missing or constant")
        raise _unknown(against, scores.columns, "against")

    columns = list(scores.columns)
    values = scores.to_numpy(dtype=np.float64).T  # (q, m)
    fl = flop(dataset)
    if fl is not None:
        fl = fl.reindex(scores.index)
        if fl.notna().sum() >= 3 and fl.nunique() > 1:
            columns.append(FLOP_COLUMN)
            values = np.vstack([values, fl.to_numpy(dtype=np.float64)[None, :]])

    obs = np.isfinite(values)
    target = None
    pairs = obs
    if against is not None:
        target = values[columns.index(against)].astype(dtype)
        pairs = obs & np.isfinite(target)[None, :]
    patterns, col_pattern = np.unique(pairs, axis=0, return_inverse=True)
    path = _ranks.choose(values.shape[0], values.shape[1], dtype, ranks)
    tables = _ranks.sort_tables(values) if path == "sort" else (None, None, None)
    problem = Problem(
        caps=scores[list(caps)].to_numpy(dtype=np.float64).astype(dtype),
        cap_index=np.array([columns.index(c) for c in caps], dtype=np.int32),
        cmp=comparisons(values, dtype) if path == "compare" else None,
        obs=obs.astype(dtype),
        patterns=patterns.astype(dtype),
        col_pattern=col_pattern.reshape(-1).astype(np.int32),
        target=target,
        order=tables[0],
        tie_lo=tables[1],
        tie_hi=tables[2],
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


def stack_problems(problems: list[Problem]) -> Problem:
    """Stack problems of same-shaped datasets along a new leading axis (for vmap).

    Pattern tables are padded with empty patterns to the largest count.
    """
    n_pat = max(p.patterns.shape[0] for p in problems)
    padded = [
        p._replace(patterns=np.pad(p.patterns, ((0, n_pat - p.patterns.shape[0]), (0, 0))))
        for p in problems
    ]
    shapes = {tuple(np.shape(x) for x in p if x is not None) for p in padded}
    if len(shapes) != 1:
        raise SwjaxError("problems: cannot stack datasets of different shapes")
    return Problem(*(None if xs[0] is None else np.stack(xs) for xs in zip(*padded)))
