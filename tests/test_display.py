"""Results read well at the Python prompt: short reprs, and the distribution labelled."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import swjax


@pytest.fixture(scope="module")
def boot(chat):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", swjax.SwjaxWarning)
        return swjax.bootstrap(chat, n=100, seed=1)


def test_bootstrap_repr_is_short_and_names_the_run(boot):
    text = repr(boot)
    lines = text.splitlines()
    assert len(lines) <= 8 and all(len(line) < 120 for line in lines)
    assert lines[0].startswith("BootstrapResult(set='chat', n=100, method='bca', level=0.95")
    first = boot.table.iloc[0]
    assert f"{first['estimate']:.3f}  [{first['low']:.3f}, {first['high']:.3f}]" in lines[2]
    counts = boot.table["verdict"].value_counts()
    for verdict, count in counts.items():
        assert f"{count} {verdict}" in lines[1]
    assert f"... {len(boot.table) - 5} more" in text


def test_distribution_is_labelled_by_benchmark(boot):
    assert boot.benchmarks == tuple(boot.table.index)
    frame = boot.distribution_frame()
    assert list(frame.columns) == list(boot.table.index)
    j = boot.benchmarks.index("MT_Bench")
    np.testing.assert_array_equal(frame["MT_Bench"].to_numpy(), boot.distribution[:, j].astype(np.float64))


def test_analysis_n_models_is_the_number_of_models(chat):
    a = swjax.analyze(chat)
    assert a.n_models == len(chat.scores) == 26
    assert repr(a).startswith("Analysis(set='chat', n_models=26, capabilities=12, benchmarks=178")


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_compare_and_lobo_reprs(chat):
    res = swjax.compare(chat, "adv_glue", "glue", n=100)
    lines = repr(res).splitlines()
    assert len(lines) == 4 and lines[3].lstrip().startswith("difference")
    assert f"{res.table.loc['difference', 'p_value']:.3f}" in lines[3]
    lo = repr(swjax.lobo(chat)).splitlines()
    assert lo[0] == "LoboResult(set='chat', variants=13)" and len(lo) <= 8
