"""``plan``: the generator, the closed-form power check, seed invariance and bad input."""

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

import swjax
from swjax.cli import app
from swjax.intervals import verdicts
from swjax.plan import draw, fisher_power, fit_generator, plan


@pytest.fixture(scope="module")
def gen(chat):
    return fit_generator(chat, ["MT_Bench", "LMSYS_Chatbot_Arena", "wmdp_chem"])


def test_generator_reproduces_the_data(chat, gen):
    """Population value = the data's estimate; missing share and ties as in the data."""
    np.testing.assert_allclose(gen.truth, gen.target, atol=0.012)  # 80,000-model population: MC error ~0.004
    np.testing.assert_allclose(gen.missing, [0, 6 / 26, 0], atol=1e-12)
    x = draw(gen, 20_000, np.random.default_rng(1))
    k = len(gen.capabilities)
    assert abs(np.isnan(x[:, k + 1]).mean() - 6 / 26) < 0.015
    chem = x[:, k + 2]
    step = gen.steps[k + 2]
    assert step > 0 and np.allclose(chem / step, np.round(chem / step))  # on the data's grid
    assert chem.min() >= chat.scores["wmdp_chem"].min() - step  # within the data's range
    assert chem.max() <= chat.scores["wmdp_chem"].max() + step


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.6])
def test_fisher_power_against_direct_simulation(rho):
    """The closed form against a plain Monte Carlo of Spearman's rho and its Fisher-z interval."""
    rng = np.random.default_rng(0)
    m, reps = 100, 20000
    r = 2 * np.sin(np.pi * rho / 6)  # Pearson of the bivariate normal with this Spearman
    x = rng.standard_normal((reps, m))
    y = r * x + np.sqrt(1 - r * r) * rng.standard_normal((reps, m))
    rx, ry = stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)
    rx, ry = rx - rx.mean(1, keepdims=True), ry - ry.mean(1, keepdims=True)
    z = np.arctanh((rx * ry).sum(1) / np.sqrt((rx * rx).sum(1) * (ry * ry).sum(1)))
    var = (1 + rho**2 / 3) / (m - 3)
    assert np.var(z) == pytest.approx(var, rel=0.035)  # MC s.e. of a variance from 20,000 draws: 1 %
    sd = np.sqrt(var)
    lo, hi = np.tanh(z - 1.96 * sd), np.tanh(z + 1.96 * sd)
    settled = (lo > 0.4) | (hi < -0.4) | ((lo > -0.4) & (hi < 0.4))
    p = settled.mean()
    assert abs(p - fisher_power(rho, m)) < 3 * np.sqrt(p * (1 - p) / reps) + 1e-9


@pytest.mark.slow
def test_simulated_power_matches_fisher_z(chat):
    """At a large m the pipeline's BCa power equals the Fisher-z power within its MC error."""
    m, R = 100, 400
    res = plan(chat, rho=[0.6, -0.2], grid=[m], datasets=R, n=400, seed=5)
    for b, rho in (("rho=0.6", 0.6), ("rho=-0.2", -0.2)):
        row = res.table.loc[(b, m)]
        want = float(fisher_power(res.generator.truth[list(res.generator.benchmarks).index(b)], m))
        assert abs(row["power"] - want) < 3 * max(row["mc_se"], np.sqrt(want * (1 - want) / R)), (b, row["power"], want)


#: One small plan shape shared by the tests below, so that they reuse its compiled functions.
SMALL = dict(grid=[15], datasets=5, n=40, dataset_batch=1)


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_same_seed_same_numbers_for_any_batch(chat, gen):
    kw = dict(SMALL, seed=2, generator=gen)
    a = plan(chat, **kw)
    b = plan(chat, **{**kw, "dataset_batch": 3})
    np.testing.assert_array_equal(a.table.to_numpy(), b.table.to_numpy())
    c = plan(chat, **{**kw, "seed": 3})
    assert not np.array_equal(a.table["width"].to_numpy(), c.table["width"].to_numpy())


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(target=0.0), "target: expected a power in"),
        (dict(target=1.0), "target: expected a power in"),
        (dict(target=1.5), "target: expected a power in"),
        (dict(grid=[4, 20]), "grid: every model count must be at least 5"),
        (dict(grid="10,x"), "grid"),
        (dict(benchmarks=["MT_Bnch"]), "did you mean 'MT_Bench'"),
        (dict(benchmarks=["mmlu"]), "capability benchmark"),
        (dict(rho=[1.0]), r"rho: expected a correlation in \(-1, 1\)"),
        (dict(rho=[-1.2]), r"rho: expected a correlation in \(-1, 1\)"),
    ],
)
def test_bad_input(chat, kw, message):
    with pytest.raises(swjax.SwjaxError, match=message):
        plan(chat, datasets=2, n=40, grid=kw.pop("grid", [15]), **kw)


def test_bad_compare(chat, gen):
    with pytest.raises(swjax.SwjaxError, match="'LMSYS_Chatbot_Aren' is not among the planned benchmarks .did you mean"):
        plan(chat, datasets=2, n=40, grid=[15], generator=gen, compare=("MT_Bench", "LMSYS_Chatbot_Aren"))
    with pytest.raises(swjax.SwjaxError, match="two different benchmarks"):
        plan(chat, datasets=2, n=40, grid=[15], generator=gen, compare=("MT_Bench", "MT_Bench"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--target", "1.2"], "target"),
        (["--grid", "3,20"], "grid"),
        (["MT_Bnch"], "did you mean 'MT_Bench'"),
        (["--rho", "1.5"], "rho"),
    ],
)
def test_cli_bad_input(args, message):
    res = CliRunner().invoke(app, ["plan", "--set", "chat", *args])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


@pytest.mark.slow
def test_cli_writes_outputs(tmp_path):
    out = tmp_path / "plan"
    res = CliRunner().invoke(
        app, ["plan", "MT_Bench,sycophancy", "--grid", "15,20", "--datasets", "3", "--n", "40",
              "--compare", "MT_Bench", "sycophancy", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} == {"plan.csv", "needed.csv", "plan.json", "plan.png", "compare.csv", ".swjax-output.json"}


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_report_section(chat, gen):
    from swjax.report import build_report

    res = swjax.bootstrap(chat, n=50)
    p = plan(chat, generator=gen, **SMALL)
    parts = build_report([res], plans={"chat": p})
    assert "What would settle it" in parts["html"] and "power_chat.png" in parts["figures"]
    assert "### What would settle it" in parts["markdown"]
    assert "What would settle it" not in build_report([res])["html"]


def settled_share(bounds, threshold=0.4):
    low, high = bounds["low"], bounds["high"]
    v = verdicts(low, high, threshold)
    return np.isin(v, ("entangled", "anti-correlated", "distinct")).mean(axis=0)


@pytest.mark.slow
@pytest.mark.parametrize("families", [0, 9])
def test_power_at_own_m_is_the_coverage_studys_settled_share(families):
    """plan on a simulate design, at the design's own m, settles as often as the coverage study's
    datasets of that size do (independent datasets and resamples: within MC error). With
    families both use cluster-t, the default with families."""
    from swjax.coverage import coverage
    from swjax.simulate import Design

    design = Design(rho=(0.0, 0.7) if not families else (0.7, 0.8), n_models=26, families=families)
    R, B = 300, 200
    methods = ("bca", "cluster-t") if families else ("bca",)
    cov = coverage(design, datasets=R, n=B, methods=methods, seed=11, population_size=50_000,
                   schemes=("models", "families") if families else ("models",))
    scheme, method = ("families", "cluster-t") if families else ("models", "bca")
    share = settled_share(cov.estimates[design.label()][scheme][method])
    res = plan(generator=design, grid=[26], datasets=R, n=B, seed=3)
    assert res.metadata["method"] == method
    for j, b in enumerate(design.safety_names):
        p = res.table.loc[(b, 26), "power"]
        se = np.sqrt(p * (1 - p) / R + share[j] * (1 - share[j]) / R)
        assert 0.05 < share[j] < 0.95  # a design where the check has power
        assert abs(p - share[j]) < 3.5 * se, (b, p, share[j])
