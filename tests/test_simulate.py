"""The simulator: its host-side pipeline against swjax, its truth, invariances, validation, CLI."""

import importlib
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import swjax
from swjax.cli import app
from swjax.errors import SwjaxError

S = importlib.import_module("swjax.simulate")  # the module; swjax.simulate is the function

POP = 20_000  # population size in tests: enough for 0.01, far cheaper than 200,000

DESIGNS = [
    {},
    {"hetero": 0.5},
    {"families": 9},
    {"link": "logistic", "step": 0.02, "missing": 0.15},
    {"capabilities": 3, "rho": (-0.4, 0.0), "n_models": 12},
]


def _caps(sim):
    return list(sim.design.capability_names)


@pytest.mark.parametrize("options", DESIGNS)
@pytest.mark.parametrize("seed", [0, 1])
def test_host_pipeline_equals_swjax(options, seed):
    sim = S.simulate(seed=seed, population_size=POP, **options)
    ours = swjax.analyze(sim.dataset, capabilities=_caps(sim))
    host = S.pipeline_correlations(sim.dataset.scores.to_numpy(), sim.design.capabilities)
    np.testing.assert_allclose(ours.correlations.to_numpy(), host, atol=1e-5, equal_nan=True)


def test_host_pipeline_matches_independent_reference():
    from .reference import reference

    sim = S.simulate(seed=4, missing=0.2, step=0.05, population_size=POP)
    ref = reference(sim.dataset.scores, _caps(sim))["correlations"]
    host = S.pipeline_correlations(sim.dataset.scores.to_numpy(), 8)
    np.testing.assert_allclose(host, ref.reindex(sim.dataset.scores.columns).to_numpy(), atol=1e-12)


def test_truth_is_near_requested_and_cached():
    design = S.Design(rho=(0.3, 0.65, 0.87))
    truth = S.population(design, POP)
    np.testing.assert_allclose(truth.to_numpy(), design.rho, atol=0.03)
    assert S.population(design, POP) is not truth  # a fresh Series ...
    pd.testing.assert_series_equal(S.population(design, POP), truth)  # ... of cached values


def test_same_seed_same_data_and_shape():
    a = S.simulate(seed=7, families=9, population_size=POP)
    b = S.simulate(seed=7, families=9, population_size=POP)
    c = S.simulate(seed=8, families=9, population_size=POP)
    pd.testing.assert_frame_equal(a.dataset.scores, b.dataset.scores)
    assert not a.dataset.scores.equals(c.dataset.scores)
    assert a.dataset.scores.shape == (26, 11)
    fam = a.dataset.meta["family"]
    assert fam.nunique() == 9 and fam.value_counts().between(2, 3).all()


def test_families_make_members_alike():
    design = S.check_design(S.Design(families=9, family_share=0.8, rho=(0.0,)))
    x = S.draw_many(design, 400, 0)[:, :, -1]  # the safety column, unrelated to capability
    codes = design.family_codes()
    same = codes[:, None] == codes[None, :]
    corr = np.corrcoef(x, rowvar=False)
    off = ~np.eye(len(codes), dtype=bool)
    assert corr[same & off].mean() > 0.6 > 0.1 > abs(corr[~same].mean())


def test_logistic_step_missing():
    sim = S.simulate(seed=2, link="logistic", step=0.05, missing=0.3, population_size=POP)
    x = sim.dataset.scores.to_numpy()
    caps, safety = x[:, :8], x[:, 8:]
    assert np.isfinite(caps).all() and ((caps >= 0) & (caps <= 1)).all()
    np.testing.assert_allclose(caps / 0.05, np.round(caps / 0.05), atol=1e-9)
    assert 0 < np.isnan(safety).mean() < 0.6


# ----------------------------------------------------------------------------- invariances


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000))
def test_model_order_does_not_matter(seed, perm_seed):
    sim = S.simulate(seed=seed, missing=0.1, step=0.05, population_size=POP)
    x = sim.dataset.scores.to_numpy()
    perm = np.random.default_rng(perm_seed).permutation(len(x))
    host = S.pipeline_correlations(x, 8)
    np.testing.assert_allclose(S.pipeline_correlations(x[perm], 8), host, atol=1e-12, equal_nan=True)
    shuffled = swjax.data.Dataset(
        label="shuffled", scores=sim.dataset.scores.iloc[perm], meta=sim.dataset.meta.iloc[perm],
        info=sim.dataset.info,
    )
    a = swjax.analyze(sim.dataset, capabilities=_caps(sim)).correlations
    b = swjax.analyze(shuffled, capabilities=_caps(sim)).correlations
    np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), atol=1e-6)


TRANSFORMS = [np.exp, np.arctan, lambda v: v**3 + 2, lambda v: 1 / (1 + np.exp(-3 * v))]


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), which=st.integers(0, len(TRANSFORMS) - 1))
def test_monotone_transform_of_a_safety_benchmark(seed, which):
    sim = S.simulate(seed=seed, missing=0.1, population_size=POP)
    scores = sim.dataset.scores.copy()
    before = swjax.analyze(sim.dataset, capabilities=_caps(sim)).correlations
    scores["safety_2"] = TRANSFORMS[which](scores["safety_2"])
    moved = swjax.data.Dataset(label="t", scores=scores, meta=sim.dataset.meta, info=sim.dataset.info)
    after = swjax.analyze(moved, capabilities=_caps(sim)).correlations
    np.testing.assert_allclose(after.to_numpy(), before.to_numpy(), atol=1e-6)


def test_affine_transform_of_a_capability_benchmark():
    # z-scores (and so the score) are unchanged by a positive affine map of a capability column.
    sim = S.simulate(seed=5, population_size=POP)
    x = sim.dataset.scores.to_numpy().copy()
    host = S.pipeline_correlations(x, 8)
    x[:, 3] = 40 * x[:, 3] + 7
    np.testing.assert_allclose(S.pipeline_correlations(x, 8), host, atol=1e-10)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"n_models": 3}, "n_models"),
        ({"capabilities": 1}, "capabilities"),
        ({"rho": (1.2,)}, "rho"),
        ({"rho": ()}, "rho"),
        ({"loading": 1.0}, "loading"),
        ({"link": "probit"}, "link"),
        ({"step": -1.0}, "step"),
        ({"missing": 0.9}, "missing"),
        ({"hetero": -1.0}, "hetero"),
        ({"families": 1}, "families"),
        ({"families": 30}, "families"),
        ({"family_share": 1.0}, "family_share"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_design_names_the_parameter(options, name):
    with pytest.raises(SwjaxError, match=f"^{name}: expected"):
        S.simulate(population_size=POP, **options)


def test_population_needs_many_models():
    with pytest.raises(SwjaxError, match="^n: "):
        S.population(S.Design(), 100)


# ----------------------------------------------------------------------------- CLI


def test_cli_simulate_roundtrip(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", "--seed", "3", "--rho", "0.5", "--capabilities", "4", "--population", "20000"])
    assert res.exit_code == 0, res.output
    path = tmp_path / "m.csv"
    path.write_text(res.stdout)
    data = swjax.read_csv(path)
    assert data.scores.shape == (26, 5)
    res = runner.invoke(app, ["simulate", "--families", "9", "--population", "20000", "--out", str(tmp_path / "sim")])
    assert res.exit_code == 0, res.output
    truth = json.loads((tmp_path / "sim" / "truth.json").read_text())
    assert set(truth["truth"]) == {"safety_1", "safety_2", "safety_3"}
    fam = pd.read_csv(tmp_path / "sim" / "families.csv")
    assert fam["family"].nunique() == 9


def test_cli_simulate_bad_input():
    res = CliRunner().invoke(app, ["simulate", "--rho", "0.5,abc"])
    assert res.exit_code == 2
    assert "rho: expected comma-separated numbers" in res.output


def test_unequal_family_sizes():
    """family_skew: one model per family plus the rest shared in proportion to 1/(j+1)**skew."""
    d = S.check_design(S.Design(n_models=150, families=47, family_skew=1.0))
    sizes = d.family_sizes()
    assert sizes.sum() == 150 and len(sizes) == 47 and sizes.min() == 1 and (np.diff(sizes) <= 0).all()
    weights = [1 / (j + 1) for j in range(47)]
    for j, size in enumerate(sizes):  # largest remainders: within one model of the exact share
        assert abs(size - 1 - 103 * weights[j] / sum(weights)) < 1
    np.testing.assert_array_equal(np.bincount(d.family_codes()), sizes)
    # the population repeats the dataset's family sizes
    counts = np.bincount(d.family_codes(1000))
    np.testing.assert_array_equal(counts[:47], sizes)
    np.testing.assert_array_equal(counts[47:94], sizes)
    assert counts.sum() == 1000
    assert S.draw(d, 150, np.random.default_rng(0)).shape == (150, 11)
    assert "skew 1" in d.label()
    with pytest.raises(SwjaxError, match="^family_skew: expected"):
        S.check_design(S.Design(families=9, family_skew=-1.0))


def test_capability_target_truth_is_the_reference_pipeline_on_the_population():
    """``capability_targets``: a capability benchmark correlated with the score it is part of.
    Its truth is the independent reference pipeline run on the population's own draw, and the
    coverage study reports it beside the safety benchmarks, with no requested rho."""
    from .reference import reference

    design = S.Design(capability_targets=2)
    assert design.targets == ("cap_1", "cap_2", "safety_1", "safety_2", "safety_3")
    truth = S.population(design, POP)
    values = S.draw(S.check_design(design), POP, np.random.default_rng([0, 7]))  # the population's draw
    frame = pd.DataFrame(values, columns=list(design.benchmarks))
    ref = reference(frame, list(design.capability_names))["correlations"]
    np.testing.assert_allclose(truth.to_numpy(), ref.reindex(list(design.targets)).to_numpy(), atol=1e-9)
    assert 0.8 < truth["cap_1"] < 0.95  # a capability benchmark loading 0.85 sits near the score
    # the safety truths are those of the same design without capability targets
    np.testing.assert_allclose(truth[list(design.safety_names)], S.population(S.Design(), POP), atol=1e-12)
    assert "capability targets=2" in design.label()
    with pytest.raises(SwjaxError, match="^capability_targets: expected"):
        S.check_design(S.Design(capability_targets=9))


def test_coverage_reports_capability_targets_beside_the_safety_benchmarks():
    """A capability target's row carries its population truth and no requested rho."""
    from swjax.coverage import coverage

    design = S.Design(capability_targets=2)
    truth = S.population(design, POP)
    table = coverage([design], datasets=3, n=40, seed=0, methods=("bca",), population_size=POP).table
    assert list(table["benchmark"]) == list(design.targets)
    assert table["rho"].isna().tolist() == [True, True, False, False, False]
    np.testing.assert_allclose(table["truth"], truth.to_numpy())
