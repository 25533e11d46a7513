"""Simulated benchmark matrices with a known population capabilities correlation: numpy only.

A latent-factor model of a benchmark matrix. Each model ``i`` has a latent capability
``g_i ~ N(0, 1)``. Capability benchmark ``j`` is ``loading * g_i + sqrt(1 - loading^2) * e_ij``;
safety benchmark ``s`` is ``a_s * g_i + sqrt(1 - a_s^2) * e_is`` with ``a_s`` chosen so that the
pipeline's capabilities correlation of that benchmark is about the requested ``rho_s``.
Options:

* ``link="logistic"``: bounded accuracies, ``expit(1.7 x + d_j)`` with a difficulty ``d_j``
  per benchmark (a monotone transform per column: ranks do not change, z-scores do);
* ``step``: scores rounded to a grid (ties), e.g. 0.01 for whole percentage points;
* ``missing``: share of safety-benchmark cells missing completely at random (capability cells
  are never missing: a model without every capability score leaves the analysis, and datasets
  of one design must keep one shape);
* ``hetero``: heteroscedastic noise, the noise of model ``i`` scaled by
  ``exp(hetero * g_i - hetero^2)`` (mean square 1: more capable models are noisier for
  ``hetero > 0``);
* ``families``: models grouped in that many families of near-equal size; a family shares a
  random effect on the latent capability and on every benchmark's noise, with ``family_share``
  of each variance. Family members are then correlated, the models are no longer independent,
  and the ordinary bootstrap over models is no longer justified: use the cluster bootstrap
  over families (the ``family`` metadata column).

The *truth* is not assumed from the design: :func:`population` runs the pipeline (host-side,
sort-based, at unit weights) on a very large sample (200,000 models by default) from the same
model, so it is the value the pipeline's estimate converges to.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.special import expit

from .core import SIGN_TIE
from .data import Dataset
from .errors import SwjaxError

__all__ = [
    "Design",
    "Simulation",
    "simulate",
    "draw",
    "population",
    "pipeline_correlations",
    "POPULATION_SIZE",
]

#: Models in the sample that defines a design's population capabilities correlation.
POPULATION_SIZE = 200_000
LINKS = ("linear", "logistic")


@dataclass(frozen=True)
class Design:
    """Parameters of the latent-factor model (hashable: populations are cached per design).

    Attributes
    ----------
    n_models : int
        Models per simulated dataset.
    capabilities : int
        Capability benchmarks (columns ``cap_1`` ...), each loading ``loading`` on the latent.
    rho : tuple of float
        Requested population capabilities correlation of each safety benchmark (columns
        ``safety_1`` ...); the true value is :func:`population`'s.
    loading : float
        Correlation of every capability benchmark with the latent capability (before the link).
    link : {"linear", "logistic"}
    step : float or None
        Round every score to this grid (ties); None: continuous scores.
    missing : float
        Share of safety cells missing at random.
    hetero : float
        Heteroscedasticity of the noise (0: none).
    families : int
        Number of model families sharing random effects (0: independent models).
    family_share : float
        Share of the latent's and of each noise's variance that is the family effect.
    family_skew : float
        0: families of near-equal size. Above 0: unequal sizes, family ``j`` (from 0) holding
        one model plus a share of the rest proportional to ``(j + 1) ** -family_skew``
        (largest remainders), as public populations have a few large families and many of
        one or two models.
    capability_targets : int
        Also study the capabilities correlation of the first ``capability_targets`` capability
        benchmarks (``cap_1`` ...): a benchmark that is part of the score it is correlated with,
        as every capability row of the paper's table is.
    items : int
        0: every score is its model's true score. Above 0 (with ``link="logistic"``, whose
        scores are accuracies in (0, 1)): each score is the share of ``items`` items answered
        right, a binomial draw around the true accuracy, as a benchmark of that many
        questions measures it (item-level measurement error). The truth stays that of the true
        accuracies; :func:`swjax.measurement.binomial_stderr` of the scores and ``items`` gives
        each score's binomial standard error.
    """

    n_models: int = 26
    capabilities: int = 8
    rho: tuple[float, ...] = (0.3, 0.65, 0.87)
    loading: float = 0.85
    link: str = "linear"
    step: float | None = None
    missing: float = 0.0
    hetero: float = 0.0
    families: int = 0
    family_share: float = 0.5
    family_skew: float = 0.0
    capability_targets: int = 0
    items: int = 0

    @property
    def capability_names(self) -> tuple[str, ...]:
        return tuple(f"cap_{j + 1}" for j in range(self.capabilities))

    @property
    def safety_names(self) -> tuple[str, ...]:
        return tuple(f"safety_{s + 1}" for s in range(len(self.rho)))

    @property
    def targets(self) -> tuple[str, ...]:
        """The benchmarks whose capabilities correlation is studied: the capability targets,
        then every safety benchmark."""
        return self.capability_names[: self.capability_targets] + self.safety_names

    @property
    def benchmarks(self) -> tuple[str, ...]:
        return self.capability_names + self.safety_names

    def family_sizes(self) -> np.ndarray:
        """Models in each of the ``families`` families of one dataset (contiguous blocks)."""
        n, groups = self.n_models, self.families
        if not self.family_skew:
            return np.array([len(b) for b in np.array_split(np.arange(n), groups)])
        share = (n - groups) * (np.arange(groups) + 1.0) ** -self.family_skew
        share /= ((np.arange(groups) + 1.0) ** -self.family_skew).sum()
        extra = np.floor(share).astype(int)
        order = np.argsort(-(share - extra), kind="stable")
        extra[order[: n - groups - extra.sum()]] += 1
        return 1 + extra

    def family_codes(self, n_models: int | None = None) -> np.ndarray:
        """Family of each model (0 .. families-1, contiguous blocks); each model its own without.

        ``n_models`` other than the design's (the population): near-equal families scaled to
        ``n_models``, or with ``family_skew`` the dataset's family sizes repeated."""
        n = self.n_models if n_models is None else n_models
        if not self.families:
            return np.arange(n)
        if self.family_skew:
            sizes = self.family_sizes()
            sizes = np.resize(sizes, len(sizes) * -(-n // self.n_models))
            return np.repeat(np.arange(len(sizes)), sizes)[:n]
        groups = self.families if n_models is None else max(1, round(n * self.families / self.n_models))
        return np.repeat(np.arange(groups), [len(b) for b in np.array_split(np.arange(n), groups)])

    def label(self) -> str:
        """Short name of the design's options (``plain`` when none is set)."""
        parts = [] if self.n_models == 26 else [f"m={self.n_models}"]
        if self.families:
            parts.append(f"families={self.families}" + (f" (skew {self.family_skew:g})" if self.family_skew else ""))
        if self.hetero:
            parts.append(f"hetero={self.hetero:g}")
        if self.link != "linear":
            parts.append(self.link)
        if self.step:
            parts.append(f"step={self.step:g}")
        if self.missing:
            parts.append(f"missing={self.missing:g}")
        if self.capability_targets:
            parts.append(f"capability targets={self.capability_targets}")
        if self.items:
            parts.append(f"items={self.items}")
        return ", ".join(parts) or "plain"

    def to_dict(self) -> dict:
        return {**asdict(self), "rho": list(self.rho), "label": self.label()}


@dataclass(frozen=True)
class Simulation:
    """One simulated dataset and the truth it is drawn around.

    Attributes
    ----------
    dataset : Dataset
        Models ``sim-001`` ... with metadata ``family`` (and ``type = "simulated"``).
    design : Design
    truth : pandas.Series
        Population capabilities correlation of each safety benchmark (:func:`population`).
    seed : int
    """

    dataset: Dataset
    design: Design
    truth: pd.Series = field(repr=False)
    seed: int = 0


def check_design(design: Design) -> Design:
    """Validate every parameter on the host, naming it in the message."""

    def bad(name, expected, value):
        return SwjaxError(f"{name}: expected {expected}, got {value!r}")

    def is_int(x):
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool)

    def is_num(x):
        return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)

    if not is_int(design.n_models) or design.n_models < 5:
        raise bad("n_models", "an integer >= 5", design.n_models)
    if not is_int(design.capabilities) or design.capabilities < 2:
        raise bad("capabilities", "an integer >= 2", design.capabilities)
    rho = tuple(design.rho)
    if not rho or not all(is_num(r) and -1 < r < 1 for r in rho):
        raise bad("rho", "one or more correlations in (-1, 1)", design.rho)
    if not is_num(design.loading) or not 0 < design.loading < 1:
        raise bad("loading", "a number in (0, 1)", design.loading)
    if design.link not in LINKS:
        raise bad("link", "'linear' or 'logistic'", design.link)
    if design.step is not None and (not is_num(design.step) or not design.step > 0):
        raise bad("step", "a positive number or None", design.step)
    if not is_num(design.missing) or not 0 <= design.missing < 0.8:
        raise bad("missing", "a share in [0, 0.8)", design.missing)
    if not is_num(design.hetero) or not 0 <= design.hetero <= 2:
        raise bad("hetero", "a number in [0, 2]", design.hetero)
    if not is_int(design.families) or not (design.families == 0 or 2 <= design.families < design.n_models):
        raise bad("families", f"0 or an integer in [2, {design.n_models})", design.families)
    if not is_num(design.family_share) or not 0 <= design.family_share < 1:
        raise bad("family_share", "a share in [0, 1)", design.family_share)
    if not is_num(design.family_skew) or not 0 <= design.family_skew <= 3:
        raise bad("family_skew", "a number in [0, 3]", design.family_skew)
    if not is_int(design.capability_targets) or not 0 <= design.capability_targets <= design.capabilities:
        raise bad("capability_targets", f"an integer in [0, {design.capabilities}]", design.capability_targets)
    if not is_int(design.items) or design.items < 0:
        raise bad("items", "an integer >= 0", design.items)
    if design.items and design.link != "logistic":
        raise bad("items", "0 unless link='logistic' (item counts need accuracies in (0, 1))", design.items)
    return replace(design, rho=tuple(float(r) for r in rho))


def _difficulties(p: int) -> np.ndarray:
    """Per-benchmark offsets of the logistic link: benchmarks of varied difficulty."""
    return np.linspace(-1.0, 1.0, p) if p > 1 else np.zeros(p)


def draw(design: Design, n: int, rng: np.random.Generator, safety_loadings=None) -> np.ndarray:
    """(n, capabilities + safety) scores of ``n`` models drawn from ``design``.

    ``safety_loadings`` (one per safety benchmark) default to :func:`safety_loadings`.
    """
    k, s = design.capabilities, len(design.rho)
    p = k + s
    a = np.asarray(safety_loadings if safety_loadings is not None else safety_loadings_of(design))
    lam = np.concatenate([np.full(k, design.loading), a])
    g = rng.standard_normal(n)
    noise = rng.standard_normal((n, p))
    if design.families:
        codes = design.family_codes(n)
        n_fam = int(codes.max()) + 1
        sh = design.family_share
        g = math.sqrt(1 - sh) * g + math.sqrt(sh) * rng.standard_normal(n_fam)[codes]
        noise = math.sqrt(1 - sh) * noise + math.sqrt(sh) * rng.standard_normal((n_fam, p))[codes]
    if design.hetero:
        h = design.hetero
        noise = noise * np.exp(h * g - h * h)[:, None]
    x = lam * g[:, None] + np.sqrt(1 - lam**2) * noise
    if design.link == "logistic":
        x = expit(1.7 * x + _difficulties(p))
    if design.step:
        x = np.round(x / design.step) * design.step
    if design.items:  # each score the share of `items` items answered right
        x = rng.binomial(design.items, x) / design.items
    if design.missing:
        gone = rng.random((n, s)) < design.missing
        x[:, k:][gone] = np.nan
    return x


def _pearson_to_spearman(r):
    return 6 / np.pi * np.arcsin(np.asarray(r) / 2)


def _spearman_to_pearson(rho):
    return 2 * np.sin(np.pi * np.asarray(rho) / 6)


def _first_guess(design: Design) -> np.ndarray:
    """Safety loadings for Gaussian scores: the score is about the equal-weight composite."""
    k, lam = design.capabilities, design.loading
    c = lam * math.sqrt(k) / math.sqrt(1 + (k - 1) * lam * lam)  # corr(score, latent)
    return np.clip(_spearman_to_pearson(design.rho) / c, -0.995, 0.995)


@functools.lru_cache(maxsize=64)
def safety_loadings_of(design: Design) -> tuple[float, ...]:
    """Loadings of the safety benchmarks that put the pipeline's population value near ``rho``.

    A Gaussian first guess, then two corrections in Pearson space measured on 20,000 models
    (the link, ties and heteroscedasticity move the pipeline's value away from the guess).
    The true scores hit ``rho``: item error (``items``) is not calibrated away.
    """
    if design.items:
        return safety_loadings_of(replace(design, items=0))
    a = _first_guess(design)
    rng = np.random.default_rng(20240731)
    target = _spearman_to_pearson(design.rho)
    for _ in range(2):
        got = pipeline_correlations(draw(design, 20_000, rng, a), design.capabilities)
        got = _spearman_to_pearson(got[design.capabilities:])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(np.abs(got) > 1e-3, target / got, 1.0)
        a = np.clip(a * ratio, -0.995, 0.995)
    return tuple(float(v) for v in a)


def _ranks(x: np.ndarray) -> np.ndarray:
    return sps.rankdata(x, method="average", axis=0)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    va, vb = np.dot(a, a), np.dot(b, b)
    if len(a) < 3 or va <= 0 or vb <= 0:
        return np.nan
    return float(np.clip(np.dot(a, b) / math.sqrt(va * vb), -1, 1))


def pipeline_correlations(values: np.ndarray, n_capabilities: int) -> np.ndarray:
    """The released pipeline at unit weights, sort-based, for any number of models.

    ``values`` is (models, benchmarks) with the capability benchmarks first and no missing
    capability score. Steps: ddof-0 z-scores of the capability columns, Spearman matrix
    (Pearson of average ranks), PC1 by eigh with the sign rule of :mod:`swjax.core` (largest-magnitude
    loading positive; the first of tied ones), score = z @ PC1, then each column's Spearman correlation with the
    score over the models where the column is observed (NaN when fewer than 3 or constant).
    Memory is linear in the models, so it runs on hundreds of thousands of them.
    """
    values = np.asarray(values, np.float64)
    k = n_capabilities
    cap = values[:, :k]
    if not np.all(np.isfinite(cap)):
        raise SwjaxError("values: capability columns must have no missing score")
    sd = cap.std(axis=0)
    if np.any(sd == 0):
        raise SwjaxError("values: a capability column is constant")
    z = (cap - cap.mean(axis=0)) / sd
    spearman = np.corrcoef(_ranks(cap), rowvar=False)
    _, vecs = np.linalg.eigh(spearman)
    v = vecs[:, -1]
    first = np.argmax(np.abs(v) >= np.abs(v).max() - SIGN_TIE)  # swjax.core's sign rule
    if v[first] < 0:
        v = -v
    score = z @ v
    out = np.empty(values.shape[1])
    score_ranks = _ranks(score)
    for j in range(values.shape[1]):
        ok = np.isfinite(values[:, j])
        if ok.all():
            out[j] = _pearson(_ranks(values[:, j]), score_ranks)
        else:
            out[j] = _pearson(_ranks(values[ok, j]), _ranks(score[ok]))
    return out


@functools.lru_cache(maxsize=64)
def _population(design: Design, n: int, seed: int) -> tuple[float, ...]:
    rng = np.random.default_rng([seed, 7])
    values = draw(replace(design, items=0), n, rng)  # the truth: true scores, no item error
    corr = pipeline_correlations(values, design.capabilities)
    k = design.capabilities
    return tuple(float(v) for v in np.concatenate([corr[: design.capability_targets], corr[k:]]))


def population(design: Design, n: int = POPULATION_SIZE, seed: int = 0) -> pd.Series:
    """The pipeline's population capabilities correlation of each target benchmark
    (:attr:`Design.targets`: the safety benchmarks and any capability targets).

    The pipeline run on one sample of ``n`` models from ``design`` (cached per design).
    Its Monte Carlo error is about ``(1 - rho^2) / sqrt(n)``: below 0.002 for 200,000 models.
    """
    design = check_design(design)
    if n < 1000:
        raise SwjaxError(f"n: expected at least 1000 models for a population value, got {n}")
    return pd.Series(_population(design, int(n), int(seed)), index=list(design.targets), name="truth")


def to_dataset(design: Design, values: np.ndarray, label: str = "simulated") -> Dataset:
    """Wrap one (models, benchmarks) draw as a :class:`~swjax.data.Dataset`."""
    n = values.shape[0]
    index = pd.Index([f"sim-{i + 1:03d}" for i in range(n)], name="model")
    scores = pd.DataFrame(values, index=index, columns=list(design.benchmarks))
    meta = pd.DataFrame(
        {"family": [f"family-{c + 1:02d}" for c in design.family_codes(n)], "type": "simulated"},
        index=index,
    )
    info = pd.DataFrame(
        {
            "name": [f"Capability {j + 1}" for j in range(design.capabilities)]
            + [f"Safety {s + 1} (rho {r:g})" for s, r in enumerate(design.rho)],
            "metric": "simulated",
        },
        index=pd.Index(list(design.benchmarks), name="benchmark"),
    )
    return Dataset(label=label, scores=scores, meta=meta, info=info)


def simulate(
    n_models: int = 26,
    *,
    capabilities: int = 8,
    rho=(0.3, 0.65, 0.87),
    loading: float = 0.85,
    link: str = "linear",
    step: float | None = None,
    missing: float = 0.0,
    hetero: float = 0.0,
    families: int = 0,
    family_share: float = 0.5,
    seed: int = 0,
    population_size: int = POPULATION_SIZE,
    items: int = 0,
) -> Simulation:
    """One benchmark matrix from the latent-factor model, with its population truth.

    Parameters are those of :class:`Design`; ``seed`` seeds numpy's default generator;
    ``population_size`` models define the truth (:func:`population`). With ``items``, the
    scores' binomial standard errors are :func:`swjax.measurement.binomial_stderr` of the
    dataset's scores and ``items``.

    Examples
    --------
    >>> sim = simulate(26, rho=(0.5,), seed=1, population_size=20_000)
    >>> sim.dataset.scores.shape
    (26, 9)
    >>> round(float(sim.truth["safety_1"]), 1)
    0.5
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SwjaxError(f"seed: expected a non-negative integer, got {seed!r}")
    if isinstance(rho, (int, float)):
        rho = (rho,)
    design = check_design(
        Design(
            n_models=n_models, capabilities=capabilities, rho=tuple(rho), loading=loading, link=link,
            step=step, missing=missing, hetero=hetero, families=families, family_share=family_share, items=items,
        )
    )
    values = draw(design, design.n_models, np.random.default_rng(seed))
    return Simulation(
        dataset=to_dataset(design, values, label=f"simulated (seed {seed})"),
        design=design,
        truth=population(design, population_size),
        seed=int(seed),
    )


def draw_many(design: Design, count: int, seed: int) -> np.ndarray:
    """(count, models, benchmarks) independent datasets; dataset ``r`` uses seed ``(seed, r)``."""
    design = check_design(design)
    return np.stack(
        [draw(design, design.n_models, np.random.default_rng([seed, r])) for r in range(count)]
    )
