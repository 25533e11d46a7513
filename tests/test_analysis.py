"""analyze(): the published figures, an independent scipy reference, and invariants."""

import json
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import swjax
from swjax.analysis import prepare
from swjax.core import statistic
from swjax.data import Dataset, flop, shipped

from .reference import reference

#: The paper's published figures, as the project ships them (data/paper_targets.json), so that
#: anyone who clones the repository runs the reproduction tests.
TARGETS = json.loads(shipped("paper_targets.json").read_text(encoding="utf-8"))
SHARED_TARGETS = Path(__file__).resolve().parents[2] / "shared" / "paper_targets.json"


@pytest.mark.skipif(not SHARED_TARGETS.is_file(), reason="no ../shared/paper_targets.json beside the checkout")
def test_shipped_targets_are_the_published_file():
    """The shipped copy is byte for byte the published-figures file it was taken from."""
    assert shipped("paper_targets.json").read_bytes() == SHARED_TARGETS.read_bytes()


def _accuracy_column(key: str) -> str:
    """brier_temp_tuned_mmlu -> mmlu (the accuracy on the same dataset)."""
    return key.split("_", 1)[1].replace("temp_tuned_", "")


def _published(which):
    t = TARGETS[which]
    figures = [("variance_explained", t["variance_explained"]), ("mean_intercorrelation", t["mean_capability_intercorrelation"])]
    figures += [(("corr", b), v) for b, v in {**t["capability_correlations"], **t["safety_correlations"]}.items()]
    figures += [(("score", m), v) for m, v in t["capabilities_scores"].items()]
    return figures


def _half_unit(value) -> float:
    """Half a unit in the last published digit (the figures are rounded)."""
    text = repr(float(value))
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0**-decimals + 1e-12


@pytest.mark.parametrize("which", ["base", "chat"])
def test_every_published_figure_float64(which):
    a = swjax.analyze(which, x64=True)
    assert a.dtype == "float64"
    checked = 0
    for key, value in _published(which):
        if key == "variance_explained":
            got = a.variance_explained
        elif key == "mean_intercorrelation":
            got = a.mean_intercorrelation
        elif key[0] == "corr":
            got = a.correlations[key[1]]
        else:
            got = a.scores[key[1]]
        assert abs(got - value) <= _half_unit(value), (key, got, value)
        checked += 1
    for bench, value in TARGETS[which]["accuracy_correlations"].items():
        got = swjax.analyze(which, against=_accuracy_column(bench), x64=True).correlations[bench]
        assert abs(got - value) <= _half_unit(value), (bench, got, value)
        checked += 1
    if "compute_correlation" in TARGETS[which]:
        cc = TARGETS[which]["compute_correlation"]
        assert abs(a.compute_correlation - cc["value"]) <= _half_unit(cc["value"])
        assert a.compute_n_models == cc["n_models"]
    assert checked > 50


@pytest.mark.parametrize("which", ["base", "chat"])
def test_float32_within_1e5_of_float64(which):
    a64 = swjax.analyze(which, x64=True)
    a32 = swjax.analyze(which)
    assert a32.dtype == "float32"
    np.testing.assert_allclose(a32.correlations, a64.correlations, atol=1e-5)
    np.testing.assert_allclose(a32.scores, a64.scores, atol=1e-5)
    np.testing.assert_allclose(a32.loadings, a64.loadings, atol=1e-5)
    assert abs(a32.variance_explained - a64.variance_explained) < 1e-5
    assert abs(a32.mean_intercorrelation - a64.mean_intercorrelation) < 1e-5
    assert abs(a32.compute_correlation - a64.compute_correlation) < 1e-5
    for against in ["mmlu", "piqa"]:
        b64 = swjax.analyze(which, against=against, x64=True).correlations
        b32 = swjax.analyze(which, against=against).correlations
        np.testing.assert_allclose(b32, b64, atol=1e-5)


def _compare_reference(ds: Dataset, caps, against=None, atol=1e-10):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", swjax.SwjaxWarning)
        a = swjax.analyze(ds, capabilities=caps, against=against, x64=True)
    ref = reference(ds.scores, caps, against=against, flop=flop(ds))
    np.testing.assert_allclose(a.correlations.to_numpy(), ref["correlations"].reindex(a.correlations.index).to_numpy(), atol=atol)
    np.testing.assert_allclose(a.scores.to_numpy(), ref["scores"].reindex(a.scores.index).to_numpy(), atol=atol)
    np.testing.assert_allclose(a.loadings.to_numpy(), ref["loadings"].to_numpy(), atol=atol)
    np.testing.assert_allclose(a.eigenvalues, ref["eigenvalues"], atol=atol)
    assert a.variance_explained == pytest.approx(ref["variance_explained"], abs=atol)
    assert a.mean_intercorrelation == pytest.approx(ref["mean_intercorrelation"], abs=atol)
    assert a.std_intercorrelation == pytest.approx(ref["std_intercorrelation"], abs=atol)
    if "compute_correlation" in ref and against is None:
        assert a.compute_correlation == pytest.approx(ref["compute_correlation"], abs=atol)
    return a


@pytest.mark.parametrize("which", [pytest.param("base", marks=pytest.mark.slow), "chat"])  # 17 s each
def test_real_data_matches_scipy_reference(which):
    ds = swjax.load_dataset(which)
    _compare_reference(ds, list(swjax.PAPER_CAPABILITIES))
    _compare_reference(ds, list(swjax.PAPER_CAPABILITIES), against="mmlu")
    _compare_reference(ds, ["mmlu", "gsm8k", "bbh", "arc_challenge"])


def random_dataset(seed, m=12, p=9, k=4, levels=5, nan_share=0.1, flop_known=True) -> Dataset:
    """A random matrix with many ties (few distinct levels) and missing cells outside the capabilities."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=m)
    values = latent[:, None] + rng.normal(size=(m, p))
    values = np.round(values * levels / 3) / levels  # ties
    cols = [f"b{j}" for j in range(p)]
    holes = rng.random((m, p - k)) < nan_share
    values[:, k:][holes] = np.nan
    scores = pd.DataFrame(values, index=[f"m{i}" for i in range(m)], columns=cols)
    meta = pd.DataFrame(index=scores.index)
    if flop_known:
        f = np.exp(latent + rng.normal(size=m))
        f[rng.random(m) < 0.2] = np.nan
        meta["FLOP"] = f
    return Dataset(label=f"random{seed}", scores=scores, meta=meta, info=pd.DataFrame(columns=["name", "metric"]))


@pytest.mark.parametrize("seed", range(6))
def test_random_matrices_with_ties_and_nans_match_reference(seed):
    ds = random_dataset(seed)
    caps = list(ds.scores.columns[:4])
    a = _compare_reference(ds, caps)
    assert (a.models_per_benchmark <= len(ds.models)).all() and a.n_models == len(a.scores)
    _compare_reference(ds, caps, against=ds.scores.columns[5])


def _repeat_rows(ds: Dataset, counts: np.ndarray) -> Dataset:
    index, rows, meta = [], [], []
    for model, c in zip(ds.models, counts):
        for copy in range(int(c)):
            index.append(f"{model}#{copy}")
            rows.append(ds.scores.loc[model].to_numpy())
            meta.append(ds.meta.loc[model].to_numpy())
    scores = pd.DataFrame(np.array(rows, dtype=float), index=index, columns=ds.scores.columns)
    return Dataset(label="repeated", scores=scores, meta=pd.DataFrame(meta, index=index, columns=ds.meta.columns), info=ds.info)


@pytest.mark.slow  # compile-heavy (each example's repeated data compiles its own program, 5-8 s)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), data=st.data())
def test_integer_weights_equal_repeated_rows(seed, data):
    ds = random_dataset(seed % 7, m=10)
    counts = np.array(data.draw(st.lists(st.integers(0, 3), min_size=10, max_size=10)))
    if np.count_nonzero(counts) < 6:
        counts[:6] = np.maximum(counts[:6], 1)
    caps = list(ds.scores.columns[:4])
    note(f"counts={counts.tolist()}")
    rep = _repeat_rows(ds, counts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", swjax.SwjaxWarning)
        try:
            weighted = swjax.analyze(ds, capabilities=caps, weights=counts, x64=True)
            repeated = swjax.analyze(rep, capabilities=caps, x64=True)
        except swjax.SwjaxError:
            return  # a capability constant among the drawn models: both refuse it
    common = repeated.correlations.index
    np.testing.assert_allclose(weighted.correlations[common], repeated.correlations, atol=1e-10)
    # Copies of a model are tied exactly in the score.
    for model, c in zip(ds.models, counts):
        copies = [f"{model}#{i}" for i in range(int(c))]
        if len(copies) > 1:
            assert repeated.scores[copies].nunique() == 1
        if c:
            assert weighted.scores[model] == pytest.approx(repeated.scores[copies[0]], abs=1e-10)
    # And the scipy reference on the repeated rows agrees.
    ref = reference(rep.scores, caps)
    np.testing.assert_allclose(repeated.correlations, ref["correlations"].reindex(common), atol=1e-10)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16))
def test_permuting_models_changes_nothing(seed):
    ds = swjax.load_dataset("chat")
    order = np.random.default_rng(seed).permutation(len(ds.models))
    shuffled = Dataset(label="chat", scores=ds.scores.iloc[order], meta=ds.meta.iloc[order], info=ds.info)
    a = swjax.analyze(ds, x64=True)
    b = swjax.analyze(shuffled, x64=True)
    np.testing.assert_allclose(b.correlations, a.correlations, atol=1e-12)
    np.testing.assert_allclose(b.scores[a.scores.index], a.scores, atol=1e-12)
    assert b.compute_correlation == pytest.approx(a.compute_correlation, abs=1e-12)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    column=st.sampled_from(["MT_Bench", "sycophancy", "LMSYS_Chatbot_Arena", "wmdp_bio"]),
    transform=st.sampled_from(["exp", "cube", "affine", "logit"]),
)
def test_monotone_transform_of_a_benchmark_changes_nothing(column, transform):
    ds = swjax.load_dataset("chat")
    x = ds.scores[column]
    scaled = (x - x.min()) / (x.max() - x.min()) * 0.98 + 0.01
    f = {"exp": np.exp(x / x.abs().max()), "cube": x**3, "affine": 3 * x - 7, "logit": np.log(scaled / (1 - scaled))}[transform]
    scores = ds.scores.copy()
    scores[column] = f
    a = swjax.analyze(ds, x64=True)
    b = swjax.analyze(Dataset(label="chat", scores=scores, meta=ds.meta, info=ds.info), x64=True)
    np.testing.assert_allclose(b.correlations, a.correlations, atol=1e-12)


def test_monotone_transform_of_a_capability_keeps_the_spearman_matrix():
    ds = swjax.load_dataset("base")
    scores = ds.scores.copy()
    scores["gsm8k"] = np.sqrt(scores["gsm8k"])
    a = swjax.analyze(ds, x64=True)
    b = swjax.analyze(Dataset(label="base", scores=scores, meta=ds.meta, info=ds.info), x64=True)
    np.testing.assert_allclose(b.capability_matrix, a.capability_matrix, atol=1e-12)
    np.testing.assert_allclose(b.loadings, a.loadings, atol=1e-12)


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_jit_equals_no_jit():
    problem, layout = prepare("chat")
    m, k = len(layout.models), len(layout.capabilities)
    w = jnp.asarray(np.random.default_rng(0).multinomial(m, np.ones(m) / m), problem.caps.dtype)
    c = jnp.ones(k, problem.caps.dtype)
    jitted = jax.jit(statistic)(problem, w, c)
    with jax.disable_jit():
        plain = statistic(problem, w, c)
    for x, y in zip(jitted, plain):
        np.testing.assert_allclose(np.asarray(x, float), np.asarray(y, float), atol=1e-5, equal_nan=True)


def test_second_call_with_same_shapes_does_not_recompile():
    from swjax import engine

    swjax.analyze("chat")
    before = engine.compiled_count()
    swjax.analyze("chat", weights=np.r_[np.full(13, 2), np.zeros(13)].astype(int))
    assert engine.compiled_count() == before


def test_analysis_fields_and_table(chat):
    a = swjax.analyze(chat)
    assert set(a.correlations.index) == set(chat.benchmarks)
    assert a.table()["correlation"].is_monotonic_decreasing
    assert a.models_per_benchmark["LMSYS_Chatbot_Arena"] == 20
    assert a.models_per_benchmark["MT_Bench"] == 26
    assert a.n_models == 26 and isinstance(a.n_models, int)
    assert a.loadings.abs().idxmax() == a.loadings.idxmax()  # released sign rule
    assert a.eigenvalues[0] == pytest.approx(a.variance_explained * 12, rel=1e-6)
    d = a.to_dict()
    json.dumps(d)
    assert d["correlations"]["MT_Bench"] == pytest.approx(0.787, abs=5e-4)


def test_weights_validation(chat):
    with pytest.raises(swjax.SwjaxError, match="weights"):
        swjax.analyze(chat, weights=np.ones(3))
    with pytest.raises(swjax.SwjaxError, match="non-negative integers"):
        swjax.analyze(chat, weights=np.full(26, 0.5))
    with pytest.raises(swjax.SwjaxError, match="unknown model"):
        swjax.analyze(chat, weights=pd.Series({"nope": 1}))
    w = pd.Series(1, index=chat.models)
    assert swjax.analyze(chat, weights=w).correlations.equals(swjax.analyze(chat).correlations)
