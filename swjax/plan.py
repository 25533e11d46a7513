"""Power and sample size, counted in models: how many models would settle each verdict?

A verdict is *settled* when the benchmark's interval (swjax's default: BCa over models;
``cluster-t``, the family jackknife-t interval hulled with that BCa interval, when model
families are given) lies clear of the
threshold band: above ``t``, below ``-t`` or inside ``(-t, t)`` (*entangled*,
*anti-correlated* or *distinct*). The power at ``m`` models is the probability of a settled
verdict for a dataset of ``m`` models drawn from a generative model fitted to the user's data;
it is estimated from ``R`` simulated datasets, each analysed by the compiled pipeline with
``B`` bootstrap resamples (:func:`swjax.engine.run` on stacked problems: all datasets x resamples of a
grid point vectorized), with Monte Carlo standard error ``sqrt(p (1 - p) / R)``.

**The generative model** (:func:`fit_generator`), a Gaussian copula fitted to the data:

- *capabilities*: latent normals with correlation ``2 sin(pi R / 6)``, ``R`` the data's
  capability Spearman matrix (the Gaussian Pearson value with that Spearman correlation),
  made positive definite;
- *each benchmark's relation to the capabilities score*: its latent is
  ``a g + sqrt(1 - a^2) e``, with ``g`` the standardized population capabilities score (the
  latent capabilities along the PC1 of their population Spearman matrix), and ``a`` tuned so
  that the pipeline's population capabilities correlation (measured on 20,000 models, as
  :mod:`swjax.simulate` does) equals the data's estimate (or ``rho``);
- *dependence between benchmarks* beyond the score: the residuals ``e`` are correlated as the
  data's normal scores are after regressing out the score's;
- *marginals and ties*: every column is mapped to the data's own values through its
  interpolated empirical quantiles, and columns with ties in the data are rounded to their
  smallest gap between distinct values (accuracies on a finite test set);
- *missing cells*: each benchmark misses the data's share of its cells, at random;
- *families* (when given): models come in contiguous families, as many per model as in the
  data, sharing the data's intra-family correlation of the score (one-way ANOVA on normal
  scores) in every latent, as :func:`swjax.simulate.draw` does; analysed with ``cluster-t``,
  swjax's default with families (the coverage study in docs/coverage.md).

A design of :mod:`swjax.simulate` can stand in for the fitted model (``generator=Design(...)``,
:class:`DesignGenerator`): the datasets are then the coverage study's, and the power at the
design's own size equals the share of settled verdicts there (``tests/test_plan.py``).

Dataset ``r`` of grid point ``m`` is drawn with ``numpy.random.default_rng([seed, m, r])``,
its resample ``b`` uses ``fold_in(fold_in(key(seed ^ m), r), b)``: the same numbers for any
``dataset_batch``.

What it does not model: a benchmark whose relation to capabilities is not monotone in the
score, heteroscedastic noise, missingness that depends on the model, and the uncertainty of
the fitted model itself (the power is that of a world where the estimate is the truth; near
the threshold it is low at any m).
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from . import engine, intervals, options, resample
from .analysis import as_dataset, float_dtype
from .data import Dataset
from .errors import SwjaxError
from .problem import build_problem, stack_problems
from .simulate import (
    POPULATION_SIZE, Design, check_design, pipeline_correlations, population, safety_loadings_of, to_dataset,
)
from .simulate import draw as simulate_draw

__all__ = [
    "Generator", "DesignGenerator", "PlanResult", "fit_generator", "draw", "plan", "fisher_power",  "DEFAULT_GRID",
]

DEFAULT_GRID = (15, 20, 26, 40, 60, 90, 130, 200)
#: Models in the sample on which the benchmarks' loadings are tuned.
TUNE_SIZE = 20_000
#: A grid point whose stacked comparison tensors (``datasets x columns x m^2`` numbers) would
#: take more than this uses the sort-based rank path (same numbers, slower on CPU, far less
#: memory): 500 datasets of 37 columns stay on the comparison path up to about 230 models.
COMPARE_STACK_BYTES = 4 * 2**30


@dataclass(frozen=True)
class Generator:
    """A Gaussian-copula model of a benchmark matrix (module docstring).

    Attributes
    ----------
    capabilities, benchmarks : tuple of str
    latent : (k, k) correlation of the capabilities' latent normals.
    direction : (k,) the population PC1, so that ``g = z @ direction / sd``.
    loadings : (s,) correlation of each benchmark's latent with ``g``.
    residual : (s, s) correlation of the benchmarks' latent residuals.
    missing : (s,) share of missing cells of each benchmark.
    marginals : tuple of (k + s) sorted arrays of observed values (None: the latent itself).
    steps : (k + s,) rounding grid of each column (0: none).
    target : (s,) the capabilities correlation each benchmark was fitted to.
    truth : (s,) the pipeline's population value at the tuned loadings.
    families_per_model : float, 0 without families; family_share : float.
    """

    capabilities: tuple
    benchmarks: tuple
    latent: np.ndarray = field(repr=False)
    direction: np.ndarray = field(repr=False)
    loadings: np.ndarray
    residual: np.ndarray = field(repr=False)
    missing: np.ndarray
    marginals: tuple = field(repr=False)
    steps: np.ndarray = field(repr=False)
    target: np.ndarray
    truth: np.ndarray
    families_per_model: float = 0.0
    family_share: float = 0.0

    def family_codes(self, m: int) -> np.ndarray | None:
        """Contiguous near-equal families of ``m`` models (None without families)."""
        if not self.families_per_model:
            return None
        groups = int(min(m - 1, max(2, round(m * self.families_per_model))))
        return np.repeat(np.arange(groups), [len(b) for b in np.array_split(np.arange(m), groups)])

    def draw(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """(m, capabilities + benchmarks) scores: :func:`draw`."""
        return draw(self, m, rng)


@dataclass(frozen=True)
class DesignGenerator:
    """A design of :mod:`swjax.simulate` as the generative model of :func:`plan`.

    Its datasets are those of the coverage study (:func:`swjax.simulate.draw` at ``m``
    models), its truth the design's population value: with it, the power at the design's own
    ``m`` is the share of settled verdicts among the coverage study's datasets of that size.
    """

    design: Design
    truth: np.ndarray

    @classmethod
    def of(cls, design: Design, population_size: int | None = None) -> "DesignGenerator":
        design = check_design(design)
        truth = population(design, population_size or POPULATION_SIZE).to_numpy(np.float64)
        return cls(design=design, truth=truth)

    @property
    def capabilities(self) -> tuple:
        return self.design.capability_names

    @property
    def benchmarks(self) -> tuple:
        return self.design.safety_names

    @property
    def target(self) -> np.ndarray:
        return np.asarray(self.design.rho, np.float64)

    @property
    def loadings(self) -> np.ndarray:
        return np.asarray(safety_loadings_of(self.design), np.float64)

    @property
    def missing(self) -> np.ndarray:
        return np.full(len(self.design.rho), float(self.design.missing))

    @property
    def families_per_model(self) -> float:
        return self.design.families / self.design.n_models if self.design.families else 0.0

    @property
    def family_share(self) -> float:
        return float(self.design.family_share) if self.design.families else 0.0

    def family_codes(self, m: int) -> np.ndarray | None:
        return self.design.family_codes(m) if self.design.families else None

    def draw(self, m: int, rng: np.random.Generator) -> np.ndarray:
        return simulate_draw(self.design, m, rng)


@dataclass(frozen=True)
class PlanResult:
    """Power of every benchmark over the grid of model counts.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (benchmark, m): ``power`` (share of settled verdicts), ``mc_se``,
        ``entangled``, ``anti_correlated``, ``distinct`` (shares of each verdict),
        ``no_interval``, ``width`` (mean interval width).
    needed : pandas.DataFrame
        Per benchmark: ``name``, ``estimate`` (the correlation the benchmark was fitted to),
        ``truth`` (the generator's population value), ``n_models`` (in the data), ``m_needed``
        (smallest grid m whose power reaches the target; NaN when none does), ``power_max``
        (power at the largest m) and ``verdict_at_need`` (the most common settled verdict at the
        largest m: the verdict the benchmark would settle on; empty when none is ever settled).
    compare : pandas.DataFrame or None
        With ``compare=(a, b)``, per m: the difference ``a - b`` fitted, ``power`` to detect
        it (paired percentile interval clear of 0), ``mc_se``, ``se`` (mean bootstrap s.e. of
        the difference) and ``mdd`` (minimum detectable difference, ``(z_{1-alpha/2} +
        z_{target}) x se``).
    generator : Generator
    metadata : dict
    """

    table: pd.DataFrame
    needed: pd.DataFrame
    compare: pd.DataFrame | None
    generator: Generator = field(repr=False)
    metadata: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        from . import display

        md = self.metadata
        need = self.needed.rename(columns={"m_needed": "models needed"})
        return display.result(
            "PlanResult",
            dict(set=md.get("set"), benchmarks=len(self.needed), grid=tuple(md.get("grid", ())),
                 target=md.get("target"), datasets=md.get("datasets")),
            body=display.rows(need, estimate="estimate", low=None, extra=("models needed", "verdict_at_need"),
                              what="benchmarks in .needed"),
        )


# ------------------------------------------------------------------ validation


def _check_grid(grid) -> tuple[int, ...]:
    if isinstance(grid, str):
        try:
            grid = [float(g) for g in grid.split(",") if g.strip()]
        except ValueError:
            raise SwjaxError(f"grid: expected comma-separated model counts, got {grid!r}") from None
    try:
        values = [float(g) for g in grid]
    except (TypeError, ValueError):
        raise SwjaxError(f"grid: expected model counts, got {grid!r}") from None
    if not values or any(v != int(v) for v in values):
        raise SwjaxError(f"grid: expected integer model counts, got {grid!r}")
    if min(values) < 5:
        raise SwjaxError(f"grid: every model count must be at least 5, got {int(min(values))}")
    return tuple(sorted({int(v) for v in values}))


def _check_unit(name: str, value, low=0.0, high=1.0, what="a number in (0, 1)") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not low < value < high:
        raise SwjaxError(f"{name}: expected {what}, got {value!r}")
    return float(value)


def _pick_benchmarks(dataset: Dataset, benchmarks, caps) -> tuple[str, ...]:
    cols = list(dataset.scores.columns)
    if benchmarks is None or benchmarks == "headline":
        from .data import areas

        head = areas()
        picked = [b for b in head.index[head["headline"] == 1] if b in cols]
        if not picked:
            raise SwjaxError(f"benchmarks: the {dataset.label} set has none of the paper's main-table benchmarks; name some")
        return tuple(picked)
    if isinstance(benchmarks, str):
        benchmarks = [b.strip() for b in benchmarks.split(",") if b.strip()]
    out = []
    for b in benchmarks:
        b = dataset.resolve(b, "benchmarks")
        if b in caps:
            raise SwjaxError(f"benchmarks: {b!r} is a capability benchmark")
        if b not in out:
            out.append(b)
    if not out:
        raise SwjaxError("benchmarks: expected at least one benchmark")
    return tuple(out)


# ------------------------------------------------------------------ the generative model


def _nearest_correlation(c: np.ndarray, floor: float = 1e-4) -> np.ndarray:
    """Clip the eigenvalues at ``floor`` and rescale to unit diagonal."""
    c = (np.asarray(c, np.float64) + np.asarray(c, np.float64).T) / 2
    vals, vecs = np.linalg.eigh(c)
    c = (vecs * np.maximum(vals, floor)) @ vecs.T
    d = np.sqrt(np.diag(c))
    return c / np.outer(d, d)


def _normal_scores(x: np.ndarray) -> np.ndarray:
    """van der Waerden scores of the observed entries (NaN stays NaN)."""
    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    r = sps.rankdata(x[ok])
    out[ok] = sps.norm.ppf((r - 0.5) / ok.sum())
    return out


def _step(values: np.ndarray) -> float:
    """The smallest gap between distinct values when the column has ties, else 0."""
    v = np.sort(values[np.isfinite(values)])
    if len(np.unique(v)) == len(v):
        return 0.0
    gaps = np.diff(np.unique(v))
    return float(gaps.min()) if len(gaps) else 0.0


def _icc(x: np.ndarray, codes: np.ndarray) -> float:
    """One-way ANOVA intra-class correlation of ``x`` within groups ``codes`` (clipped to [0, 0.9])."""
    groups = [x[codes == g] for g in np.unique(codes)]
    n = np.array([len(g) for g in groups], float)
    big_n, k = n.sum(), len(groups)
    if k < 2 or big_n <= k:
        return 0.0
    grand = x.mean()
    msb = sum(len(g) * (g.mean() - grand) ** 2 for g in groups) / (k - 1)
    msw = sum(((g - g.mean()) ** 2).sum() for g in groups) / (big_n - k)
    n0 = (big_n - (n**2).sum() / big_n) / (k - 1)
    icc = (msb - msw) / (msb + (n0 - 1) * msw) if msb + (n0 - 1) * msw > 0 else 0.0
    return float(np.clip(icc, 0.0, 0.9))


def _latent(gen: Generator, size: int, rng: np.random.Generator) -> np.ndarray:
    k, s = len(gen.capabilities), len(gen.benchmarks)
    zc = rng.standard_normal((size, k)) @ np.linalg.cholesky(gen.latent).T
    sd = float(np.sqrt(gen.direction @ gen.latent @ gen.direction))
    g = zc @ gen.direction / sd
    e = rng.standard_normal((size, s)) @ np.linalg.cholesky(gen.residual).T
    a = np.asarray(gen.loadings)
    return np.hstack([zc, g[:, None] * a + np.sqrt(1 - a**2) * e])


def draw(gen: Generator, m: int, rng: np.random.Generator, *, with_missing: bool = True) -> np.ndarray:
    """(m, capabilities + benchmarks) scores of ``m`` models drawn from the generator."""
    codes = gen.family_codes(m)
    if codes is None:
        x = _latent(gen, m, rng)
    else:
        sh = gen.family_share
        x = np.sqrt(1 - sh) * _latent(gen, m, rng) + np.sqrt(sh) * _latent(gen, int(codes.max()) + 1, rng)[codes]
    u = sps.norm.cdf(x)
    out = np.empty_like(x)
    for j, marg in enumerate(gen.marginals):
        if marg is None:
            out[:, j] = x[:, j]
            continue
        col = np.interp(u[:, j], (np.arange(len(marg)) + 0.5) / len(marg), marg)
        step = gen.steps[j]
        out[:, j] = np.round(col / step) * step if step else col
    if with_missing:
        k = len(gen.capabilities)
        gone = rng.random((m, len(gen.benchmarks))) < np.asarray(gen.missing)
        out[:, k:][gone] = np.nan
    return out


def fit_generator(
    data="chat",
    benchmarks=None,
    *,
    rho=None,
    capabilities=None,
    clusters=None,
    family_share: float | None = None,
    x64: bool = False,
) -> Generator:
    """Fit the generative model of the module docstring to a dataset.

    ``rho`` (one or more correlations in (-1, 1)): hypothetical benchmarks with these
    population capabilities correlations (continuous, no missing cells) on the data's
    capabilities, instead of the data's benchmarks. ``clusters`` (model -> family) adds
    families; ``family_share`` overrides the intra-family correlation estimated from the data.
    """
    from .analysis import analyze

    dataset = as_dataset(data)
    a = analyze(dataset, capabilities=capabilities, x64=True)
    caps = tuple(a.capabilities)
    models = list(a.scores.index)
    scores = dataset.scores.loc[models]
    latent = _nearest_correlation(2 * np.sin(np.pi * a.capability_matrix.to_numpy() / 6))
    spearman = 6 / np.pi * np.arcsin(latent / 2)
    direction = np.linalg.eigh(spearman)[1][:, -1]
    direction = direction if np.max(direction) >= np.max(np.abs(direction)) else -direction
    cap_marg = [np.sort(scores[c].to_numpy(np.float64)) for c in caps]
    cap_steps = [_step(scores[c].to_numpy(np.float64)) for c in caps]
    if rho is not None:
        rho = (rho,) if isinstance(rho, (int, float, np.integer, np.floating)) else tuple(rho)
        if not rho:
            raise SwjaxError("rho: expected at least one correlation")
        target = np.array([_check_unit("rho", r, -1.0, 1.0, "a correlation in (-1, 1)") for r in rho])
        names = tuple(f"rho={r:g}" for r in target)
        if len(set(names)) != len(names):
            raise SwjaxError("rho: a correlation is listed twice")
        residual = np.eye(len(target))
        missing = np.zeros(len(target))
        marginals = tuple(cap_marg) + (None,) * len(target)
        steps = np.array(cap_steps + [0.0] * len(target))
    else:
        names = _pick_benchmarks(dataset, benchmarks, caps)
        target = a.correlations.reindex(list(names)).to_numpy(np.float64)
        bad = [b for b, t in zip(names, target) if not np.isfinite(t)]
        if bad:
            raise SwjaxError(f"benchmarks: {bad[0]!r} has no capabilities correlation (constant or too few models)")
        vals = scores[list(names)].to_numpy(np.float64)
        missing = 1 - np.isfinite(vals).mean(axis=0)
        ns = np.column_stack([_normal_scores(vals[:, j]) for j in range(vals.shape[1])])
        gs = _normal_scores(a.scores.to_numpy())
        res = np.full_like(ns, np.nan)
        for j in range(ns.shape[1]):
            ok = np.isfinite(ns[:, j])
            beta = np.dot(ns[ok, j], gs[ok]) / np.dot(gs[ok], gs[ok])
            res[ok, j] = ns[ok, j] - beta * gs[ok]
        psi = pd.DataFrame(res).corr(min_periods=5).fillna(0.0).to_numpy().copy()
        np.fill_diagonal(psi, 1.0)
        residual = _nearest_correlation(psi)
        marginals = tuple(cap_marg) + tuple(np.sort(v[np.isfinite(v)]) for v in vals.T)
        steps = np.array(cap_steps + [_step(v) for v in vals.T])
    fpm, share = 0.0, 0.0
    if clusters is not None:
        labels = pd.Series(clusters).reindex(models)
        if labels.isna().any():
            raise SwjaxError(f"clusters: no family for model {labels.index[labels.isna()][0]!r}")
        codes = pd.factorize(labels)[0]
        fpm = len(np.unique(codes)) / len(models)
        share = _icc(_normal_scores(a.scores.to_numpy()), codes) if family_share is None else _check_unit(
            "family_share", family_share, -1e-12, 1.0, "a share in [0, 1)")
    gen = Generator(
        capabilities=caps, benchmarks=names, latent=latent, direction=direction,
        loadings=np.clip(2 * np.sin(np.pi * target / 6), -0.995, 0.995), residual=residual,
        missing=missing, marginals=marginals, steps=steps, target=target, truth=target,
        families_per_model=fpm, family_share=share,
    )
    return _tune(gen)


def _population_values(gen: Generator, size: int, seed: int) -> np.ndarray:
    x = draw(gen, size, np.random.default_rng([seed, 11]), with_missing=False)
    return pipeline_correlations(x, len(gen.capabilities))[len(gen.capabilities):]


def _tune(gen: Generator, rounds: int = 3) -> Generator:
    """Correct the loadings in Pearson space until the population value is the target."""
    from dataclasses import replace

    want = 2 * np.sin(np.pi * gen.target / 6)
    a = np.asarray(gen.loadings, np.float64)
    for i in range(rounds):
        got = 2 * np.sin(np.pi * _population_values(replace(gen, loadings=a), TUNE_SIZE, 20240731 + i) / 6)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(np.abs(got) > 1e-3, want / got, 1.0)
        a = np.clip(a * ratio, -0.995, 0.995)
    gen = replace(gen, loadings=a)
    return replace(gen, truth=_population_values(gen, 4 * TUNE_SIZE, 7))


# ------------------------------------------------------------------ the study


def _datasets(gen: Generator, m: int, R: int, seed: int, dtype):
    """Stacked problems of R datasets of m models, and the benchmarks' column positions."""
    names = list(gen.capabilities) + list(gen.benchmarks)
    index = pd.Index([f"model-{i + 1:03d}" for i in range(m)], name="model")
    meta = pd.DataFrame(index=index)
    info = pd.DataFrame({"name": names, "metric": ""}, index=pd.Index(names, name="benchmark"))
    stack_bytes = R * len(names) * m * m * np.dtype(dtype).itemsize
    ranks = "sort" if stack_bytes > COMPARE_STACK_BYTES else "auto"
    problems, layout = [], None
    for r in range(R):
        x = gen.draw(m, np.random.default_rng([seed, m, r]))
        ds = Dataset(label=f"plan m={m}", scores=pd.DataFrame(x, index=index, columns=names), meta=meta, info=info)
        problem, layout = build_problem(ds, list(gen.capabilities), dtype=dtype, drop_degenerate=False, ranks=ranks)
        problems.append(problem)
    columns = tuple(layout.columns.index(b) for b in gen.benchmarks)
    return stack_problems(problems), columns


def fisher_power(rho, m, *, threshold: float = 0.4, level: float = 0.95, spearman: bool = True) -> np.ndarray:
    """Closed-form power of a settled verdict for a plain correlation, from Fisher's z.

    The estimate's z = atanh(r) is taken as normal around atanh(rho) with variance
    ``(1 + rho^2 / 3) / (m - 3)`` for Spearman's correlation of bivariate normal data (``1 /
    (m - 3)`` for Pearson's), and the interval as ``tanh(z +- z_{level} sd)``: the power is
    the probability that it lies above ``t``, below ``-t`` or inside ``(-t, t)``.

    The constant ``1 + rho^2 / 3`` lies between Fieller, Hartley and Pearson's 1.06 and Bonett
    and Wright's conservative ``1 + rho^2 / 2``; it matches a direct simulation of Spearman's
    rho within 2 % for ``|rho| <= 0.7`` at 60 and 100 models (``tests/test_plan.py``), and is
    an approximation, not an exact result.
    """
    rho, m = np.broadcast_arrays(np.asarray(rho, float), np.asarray(m, float))
    sd = np.sqrt(((1 + rho**2 / 3) if spearman else 1.0) / (m - 3))
    c = sps.norm.ppf(0.5 + level / 2)
    mu, zt = np.arctanh(rho), np.arctanh(threshold)
    above = sps.norm.sf((zt + c * sd - mu) / sd)  # z - c sd > zt
    below = sps.norm.cdf((-zt - c * sd - mu) / sd)
    inside = np.clip(sps.norm.cdf((zt - c * sd - mu) / sd) - sps.norm.cdf((-zt + c * sd - mu) / sd), 0, None)
    return above + below + inside


def plan(
    data="chat",
    benchmarks=None,
    *,
    rho=None,
    grid: Sequence[int] = DEFAULT_GRID,
    target: float = 0.8,
    datasets: int = 500,
    n: int = 1000,
    threshold: float = 0.4,
    level: float = 0.95,
    seed: int = 0,
    capabilities=None,
    clusters=None,
    family_share: float | None = None,
    compare: tuple[str, str] | None = None,
    device: str = "auto",
    x64: bool = False,
    dataset_batch: int | None = None,
    progress: Callable[[str], None] | None = None,
    generator: Generator | None = None,
) -> PlanResult:
    """Power of a settled verdict for each benchmark over a grid of model counts.

    Parameters
    ----------
    data : Dataset or {"base", "chat"}
        The data the generative model is fitted to (module docstring).
    benchmarks : sequence of str or "headline", optional
        Benchmarks to plan for; default the paper's main-table benchmarks present in the data.
    rho : float or sequence of float, optional
        Hypothetical benchmarks with these population capabilities correlations instead.
    grid : sequence of int
        Model counts (each at least 5).
    target : float
        Power in (0, 1) that ``m_needed`` must reach.
    datasets, n : int
        R simulated datasets per grid point, B bootstrap resamples per dataset.
    threshold, level : float
        The verdict's band ``+-t`` and the interval's level.
    seed : int
        Numbers depend on the seed only (not on ``dataset_batch``): module docstring.
    capabilities : sequence of str, optional
    clusters : pandas.Series, optional
        Model -> family: families in the generator, cluster bootstrap in the analysis.
    family_share : float, optional
        Intra-family correlation (default: estimated from the data).
    compare : (str, str), optional
        Two of the planned benchmarks: power to detect their fitted difference and the
        minimum detectable difference at each m.
    device, x64, dataset_batch, progress
        Device, float64, datasets per compiled chunk, a callable told of each grid point.
    generator : Generator, optional
        A generator already fitted (:func:`fit_generator`) to ``data``, ``benchmarks`` and
        ``rho``; those are then not fitted again.

    Examples
    --------
    >>> res = plan("chat", ["MT_Bench"], grid=[15], datasets=5, n=40, dataset_batch=1)
    >>> list(res.table.columns[:2]), int(res.needed.loc["MT_Bench", "n_models"])
    (['power', 'mc_se'], 26)
    """
    started = time.perf_counter()
    target = _check_unit("target", target, what="a power in (0, 1)")
    grid = _check_grid(grid)
    opts = options.check(n=n, seed=seed, level=level, threshold=threshold, datasets=datasets, device=device,
                         dataset_batch=dataset_batch)
    level, R, n, seed, threshold, dataset_batch = (
        opts.level, opts.datasets, opts.n, opts.seed, opts.threshold, opts.dataset_batch
    )
    if isinstance(generator, Design):
        generator = DesignGenerator.of(generator)
    if isinstance(generator, DesignGenerator):
        design = generator.design
        dataset = to_dataset(design, generator.draw(design.n_models, np.random.default_rng([seed, 0])))
    else:
        dataset = as_dataset(data)
    gen = generator or fit_generator(
        dataset, benchmarks, rho=rho, capabilities=capabilities, clusters=clusters, family_share=family_share
    )
    names = list(gen.benchmarks)
    pair = None
    if compare is not None:
        if len(compare) != 2 or compare[0] == compare[1]:
            raise SwjaxError(f"compare: expected two different benchmarks, got {compare!r}")
        for c in compare:
            if c not in names:
                close = difflib.get_close_matches(str(c), names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise SwjaxError(f"compare: {c!r} is not among the planned benchmarks{hint}")
        pair = (names.index(compare[0]), names.index(compare[1]))
    method = "cluster-t" if gen.families_per_model else "bca"
    dev = engine.select_device(device)
    k, s = len(gen.capabilities), len(names)
    rows, cmp_rows, seconds = [], [], {}
    with engine.precision(x64):
        dtype = float_dtype(x64)
        for m in grid:
            t0 = time.perf_counter()
            problems, columns = _datasets(gen, m, R, seed, dtype)
            key = resample.key_from_seed(seed ^ m)
            # Full sample, jackknife and resamples of every dataset in one compiled program.
            full, out = engine.run(
                problems, resample.jackknife_weights(m), draws=engine.Draws(resample.bootstrap_scheme(m), n, key),
                with_full=True, fields=("corr",), columns=columns, batch_size=dataset_batch, device=dev.platform,
            )
            estimate = full.corr[:, 0][:, list(columns)].astype(np.float64)  # (R, s)
            refs = full.loadings[:, 0]
            jack = out["corr"][:, :m].astype(np.float64)
            dist = out["corr"][:, m:].astype(np.float64)  # (R, B, s)
            flat = _rows_first(dist)  # (B, R x s)
            est = estimate.reshape(R * s)
            low, high, _ = intervals.interval(flat, est, level, "bca", _rows_first(jack))
            codes = gen.family_codes(m)
            if codes is not None:  # cluster-t: the family jackknife-t interval hulled with BCa over models
                family_jack = engine.run(
                    problems, resample.cluster_jackknife_weights(codes), mask=np.ones(k), ref=refs, fields=("corr",),
                    columns=columns, batch_size=dataset_batch, device=dev.platform,
                )["corr"].astype(np.float64)
                low, high, _ = intervals.interval(
                    flat, est, level, "cluster-t", _rows_first(family_jack), models=(low, high)
                )
            verdict = intervals.verdicts(low, high, threshold).reshape(R, s)
            width = (high - low).reshape(R, s)
            for j, b in enumerate(names):
                v = verdict[:, j]
                p = float(np.isin(v, ("entangled", "anti-correlated", "distinct")).mean())
                rows.append(dict(
                    benchmark=b, m=m, power=p, mc_se=np.sqrt(p * (1 - p) / R),
                    entangled=float((v == "entangled").mean()),
                    anti_correlated=float((v == "anti-correlated").mean()),
                    distinct=float((v == "distinct").mean()),
                    no_interval=int((v == "no interval").sum()),
                    width=float(np.nanmean(width[:, j])) if np.isfinite(width[:, j]).any() else np.nan,
                ))
            if pair is not None:
                d = dist[:, :, pair[0]] - dist[:, :, pair[1]]  # (R, B)
                lo, hi = intervals.percentile_interval(d.T, level)
                p = float(((lo > 0) | (hi < 0)).mean())
                se = float(np.nanmean(np.nanstd(d, axis=1, ddof=1)))
                z = sps.norm.ppf(0.5 + level / 2) + sps.norm.ppf(target)
                cmp_rows.append(dict(
                    a=names[pair[0]], b=names[pair[1]], m=m,
                    difference=float(gen.truth[pair[0]] - gen.truth[pair[1]]),
                    power=p, mc_se=np.sqrt(p * (1 - p) / R), se=se, mdd=z * se,
                ))
            seconds[m] = time.perf_counter() - t0
            if progress is not None:
                progress(f"m = {m}: {seconds[m]:.1f} s")
    table = pd.DataFrame(rows).set_index(["benchmark", "m"])
    needed = _needed(table, gen, dataset, names, target, rho is not None)
    from ._version import __version__

    metadata = dict(
        set=dataset.label, grid=list(grid), target=target, datasets=R, n=n, threshold=threshold,
        level=level, seed=seed, method=method, scheme="families" if gen.families_per_model else "models",
        family_share=gen.family_share, families_per_model=gen.families_per_model,
        capabilities=list(gen.capabilities), hypothetical=rho is not None, device=str(dev),
        dtype=np.dtype(float_dtype(x64)).name, seconds=seconds,
        seconds_total=time.perf_counter() - started, version=__version__,
    )
    cmp = pd.DataFrame(cmp_rows).set_index("m") if cmp_rows else None
    return PlanResult(table=table, needed=needed, compare=cmp, generator=gen, metadata=metadata)


def _rows_first(values: np.ndarray) -> np.ndarray:
    """(R, rows, s) per-dataset values as (rows, R x s): one column per (dataset, benchmark)."""
    return np.transpose(values, (1, 0, 2)).reshape(values.shape[1], -1)


def _needed(table, gen, dataset, names, target, hypothetical) -> pd.DataFrame:
    rows = []
    for j, b in enumerate(names):
        sub = table.loc[b]
        reach = sub.index[sub["power"] >= target]
        settled = sub[["entangled", "anti_correlated", "distinct"]].iloc[-1]
        rows.append(dict(
            benchmark=b,
            name=b if hypothetical else dataset.display_name(b),
            estimate=float(gen.target[j]),
            truth=float(gen.truth[j]),
            n_models=np.nan if hypothetical else int(dataset.scores[b].notna().sum()),
            m_needed=float(reach[0]) if len(reach) else np.nan,
            power_max=float(sub["power"].iloc[-1]),
            verdict_at_need=settled.idxmax().replace("_", "-") if settled.max() > 0 else "",
        ))
    return pd.DataFrame(rows).set_index("benchmark")
