"""Right or refused: extreme values, weights, datasets built in Python, and the limits of n,
batch size and the compiled-function cache; through the API (SwjaxError) and the command line
(exit 2, one line, no traceback)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import swjax
from swjax import engine, validate
from swjax.cli import app

from .reference import reference

CAPS = list(swjax.PAPER_CAPABILITIES)
runner = CliRunner()


def replaced(ds, scores):
    return dataclasses.replace(ds, scores=scores)


def assert_bad(result, *phrases):
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    for phrase in phrases:
        assert phrase.lower() in result.output.lower(), (phrase, result.output)


# ----------------------------------------------------------------------- extreme values


@pytest.mark.parametrize("scale", [1e20, 1e-20, 1e300])
@pytest.mark.parametrize("x64", [False, True])
def test_a_scaled_capability_changes_nothing(chat, scale, x64):
    """z-scores do not change under scaling; float32 squares of 1e20 overflowed to inf, those of
    1e-20 underflowed to 0, and either made the column's z-scores 0 (silently out of the score)."""
    scores = chat.scores.copy()
    scores["mmlu"] = scores["mmlu"] * scale
    got = swjax.analyze(replaced(chat, scores), x64=x64)
    want = swjax.analyze(chat, x64=x64)
    tol = 1e-9 if x64 else 1e-5
    np.testing.assert_allclose(got.correlations, want.correlations, atol=tol)
    assert abs(got.correlations["MT_Bench"] - 0.787) < 5e-4
    np.testing.assert_allclose(got.loadings, want.loadings, atol=tol)


@pytest.mark.parametrize("x64", [False, True])
def test_one_huge_cell_is_an_outlier_not_a_zero(chat, x64):
    """One mmlu cell of 1e308: the reference (scipy, float64) on the same matrix with that column
    divided by 1e300, which z-scores identically and does not overflow."""
    scores = chat.scores.copy()
    scores.iloc[3, scores.columns.get_loc("mmlu")] = 1e308
    got = swjax.analyze(replaced(chat, scores), x64=x64)
    tame = scores.copy()
    tame["mmlu"] = tame["mmlu"] / 1e300
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = reference(tame, CAPS)
    z_sd = np.abs(got.loadings["mmlu"])
    assert z_sd > 0.05  # mmlu still in the score (its z-scores were all 0 before)
    common = want["correlations"].index.intersection(got.correlations.index)
    np.testing.assert_allclose(got.correlations[common], want["correlations"][common], atol=1e-9 if x64 else 2e-5)


def test_against_a_column_beyond_float32(chat):
    """``against`` ranks by order only: a column of 1e45 (infinite in float32) changes nothing."""
    scores = chat.scores.copy()
    scores["mmlu"] = scores["mmlu"] * 1e45
    got = swjax.analyze(replaced(chat, scores), against="mmlu", capabilities=CAPS[:4] + ["bbh"])
    want = swjax.analyze(chat, against="mmlu", capabilities=CAPS[:4] + ["bbh"])
    np.testing.assert_allclose(got.correlations, want.correlations, atol=1e-6)


def test_large_weights_stay_right_or_are_refused(chat):
    rng = np.random.default_rng(0)
    w = rng.integers(1, 5, len(chat.models))
    f64 = swjax.analyze(chat, weights=w * 10**6, x64=True).correlations
    f32 = swjax.analyze(chat, weights=w * 10**6).correlations  # was 0.0: va * vb overflowed float32
    np.testing.assert_allclose(f32, f64, atol=2e-5)
    assert abs(f64["MT_Bench"]) > 0.5
    with pytest.raises(swjax.SwjaxError, match="weights: total weight"):
        swjax.analyze(chat, weights=np.full(len(chat.models), 10**9))
    swjax.analyze(chat, weights=np.full(len(chat.models), 10**9), x64=True)


@pytest.mark.parametrize(
    "cell, phrase",
    [(np.inf, "infinite value"), (-np.inf, "infinite value")],
)
def test_a_dataset_built_in_python_is_checked(chat, cell, phrase):
    scores = chat.scores.copy()
    scores.iloc[2, 5] = cell
    with pytest.raises(swjax.SwjaxError, match=phrase):
        swjax.analyze(replaced(chat, scores))
    with pytest.raises(swjax.SwjaxError, match=phrase):
        swjax.bootstrap(replaced(chat, scores), n=40)


def test_a_dataset_with_text_or_duplicate_ids_is_refused(chat):
    scores = chat.scores.copy().astype(object)
    scores.iloc[0, 0] = "n/a"
    with pytest.raises(swjax.SwjaxError, match="not numeric"):
        swjax.analyze(replaced(chat, scores))
    dup = chat.scores.copy()
    dup.index = [dup.index[0]] + list(dup.index[1:-1]) + [dup.index[0]]
    with pytest.raises(swjax.SwjaxError, match="duplicate model id"):
        swjax.analyze(replaced(chat, dup))


# ----------------------------------------------------------------------- limits


def test_minimum_resamples_follow_the_level():
    assert validate.min_resamples(0.95) == 40
    assert validate.min_resamples(0.99) == 200
    assert validate.min_resamples(0.5) == 20


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        (dict(n=1), "n: expected an integer >= 40"),
        (dict(n=100, level=0.999), "n: expected an integer >= 2000"),
        (dict(n=10**12), "at most 2,147,483,647"),
        (dict(n=2 * 10**9), "more than this machine can hold"),
        (dict(batch_size=0), "batch_size"),
        (dict(batch_size=-1), "batch_size"),
        (dict(batch_size=10**8), "batch_size"),
        (dict(seed=-1), "seed"),
    ],
)
def test_bootstrap_refuses_before_computing(chat, kwargs, phrase):
    with pytest.raises(swjax.SwjaxError, match=phrase):
        swjax.bootstrap(chat, **({"n": 100} | kwargs))


def test_streaming_is_refused_when_the_disk_cannot_hold_it(chat, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(swjax.SwjaxError, match="stream .* to disk"):
        swjax.bootstrap(chat, n=100_000, stream_to=tmp_path / "dist.f32")
    assert not (tmp_path / "dist.f32").exists()


@pytest.mark.parametrize("batch", [0, -1])
def test_subsets_and_lobo_check_batch_size(chat, batch):
    with pytest.raises(swjax.SwjaxError, match="batch_size"):
        swjax.subsets(chat, min_size=11, n=40, batch_size=batch)
    with pytest.raises(swjax.SwjaxError, match="batch_size"):
        swjax.lobo(chat, n=40, batch_size=batch)
    with pytest.raises(swjax.SwjaxError, match="seed"):
        swjax.subsets(chat, min_size=11, seed=-1)


def test_compare_compute_needs_flop(chat):
    no_flop = dataclasses.replace(chat, meta=chat.meta.drop(columns=["FLOP"]))
    with pytest.raises(swjax.SwjaxError, match="FLOP"):
        swjax.compare(no_flop, "compute", n=40)
    with pytest.raises(swjax.SwjaxError, match="did you mean"):
        swjax.compare(chat, "MT_Bench", "mmlux", n=40)


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_compiled_programs_are_bounded(monkeypatch):
    """Datasets of many shapes in one process: the engine drops compiled programs past a bound."""
    import importlib

    # the bound is read where the program cache keeps its programs (swjax/engine/cache.py);
    # swjax.engine re-exports the value only
    monkeypatch.setattr(importlib.import_module("swjax.engine.cache"), "MAX_COMPILED", 2)
    rng = np.random.default_rng(0)
    for m in (7, 8, 9, 10):
        x = rng.normal(size=(m, 4)) + rng.normal(size=(m, 1))
        df = pd.DataFrame(x, index=[f"m{i}" for i in range(m)], columns=["a", "b", "c", "s"])
        ds = swjax.Dataset(label=f"m{m}", scores=df, meta=pd.DataFrame(index=df.index),
                           info=pd.DataFrame(columns=["name", "metric"]))
        swjax.analyze(ds, capabilities=["a", "b", "c"])
        assert engine.compiled_count() <= 3


# ----------------------------------------------------------------------- command line


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["bootstrap", "--set", "chat", "--n", "1"], "n: expected an integer >= 40"),
        (["bootstrap", "--set", "chat", "--n", "1000000000000"], "at most"),
        (["bootstrap", "--set", "chat", "--n", "2000000000"], "--stream-to"),
        (["bootstrap", "--set", "chat", "--n", "100", "--batch-size", "100000000"], "batch_size"),
        (["subsets", "--set", "chat", "--min-size", "11", "--n", "40", "--batch-size", "0"], "batch_size"),
        (["subsets", "--set", "chat", "--min-size", "11", "--n", "40", "--batch-size", "-1"], "batch_size"),
        (["subsets", "--set", "chat", "--min-size", "11", "--seed", "-1"], "seed"),
        (["lobo", "--set", "chat", "--n", "5"], "n: expected"),
    ],
)
def test_cli_limits(args, phrase):
    assert_bad(runner.invoke(app, args), phrase)


def test_cli_compare_compute_without_flop(tmp_path, chat):
    frame = chat.scores[CAPS + ["MT_Bench"]]
    path = tmp_path / "noflop.csv"
    frame.to_csv(path, index_label="model")
    assert_bad(runner.invoke(app, ["compare", "compute", "--data", str(path), "--n", "40"]), "FLOP")
