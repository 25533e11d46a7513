"""The analyses' shared settings, checked once (swjax/options.py), and the command line's one
output dispatcher (swjax/cli/output.py)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from swjax import options
from swjax.cli.options import Format
from swjax.cli.output import formatted
from swjax.errors import SwjaxError


def test_only_the_settings_given_are_checked_and_returned():
    opts = options.check(n=100, level=0.9, threshold=0.3)
    assert (opts.n, opts.level, opts.threshold) == (100, 0.9, 0.3)
    assert opts.seed is None and opts.method is None and opts.batch_size is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.n = 5


def test_method_default_depends_on_families():
    assert options.check(method=None).method == "bca"
    assert options.check(method=None, clusters=pd.Series({"a": "f"})).method == "cluster-t"
    assert options.check(method="Percentile").method == "percentile"


@pytest.mark.parametrize("given, message", [
    (dict(method="bcaa"), "method: expected one of"),
    (dict(level=95), r"level: expected a number in \(0, 1\), got 95 \(did you mean 0.95\?\)"),
    (dict(n=10, level=0.95), r"n: expected an integer >= 40 \(an interval at level 0.95"),
    (dict(n=0, level=0.95), "n: expected an integer >= 40"),
    (dict(seed=-1), r"seed: expected 0 <= seed < 2\*\*63, got -1"),
    (dict(permutations=-1), "permutations: expected an integer in"),
    (dict(threshold=1.5), r"threshold: expected a number in \(0, 1\)"),
    (dict(device="tpu"), "device: expected 'auto', 'cpu' or 'gpu', got 'tpu'"),
    (dict(batch_size=0), "batch_size: expected an integer in"),
    (dict(datasets=1), "datasets: expected an integer >= 2, got 1"),
    (dict(dataset_batch=0), "dataset_batch: expected an integer >= 1, got 0"),
])
def test_each_setting_gets_one_line_naming_it(given, message):
    with pytest.raises(SwjaxError, match=message):
        options.check(**given)


def test_zero_resamples_only_where_allowed():
    assert options.check(n=0, level=0.95, allow_zero_n=True).n == 0
    with pytest.raises(SwjaxError, match="n: expected 0 or an integer >= 40"):
        options.check(n=3, level=0.95, allow_zero_n=True)


def test_the_first_bad_setting_in_the_fixed_order_is_reported():
    with pytest.raises(SwjaxError, match="^level:"):
        options.check(n=1, level=2.0, threshold=7.0)
    with pytest.raises(SwjaxError, match="^n:"):
        options.check(n=1, level=0.95, threshold=7.0)


@pytest.mark.parametrize("analysis, kwargs, message", [
    ("bootstrap", dict(n=10), "n: expected an integer >= 40"),
    ("compare", dict(a="mmlu", n=100, device="tpu"), "device: expected"),
    ("adjust", dict(benchmark="MT_Bench", level=1.5), "level: expected"),
    ("lobo", dict(n=5), "n: expected 0 or an integer >= 40"),
    ("subsets", dict(threshold=0), "threshold: expected"),
    ("plan", dict(datasets=1), "datasets: expected an integer >= 2"),
])
def test_the_analyses_check_through_it_before_reading_data(analysis, kwargs, message):
    import swjax

    with pytest.raises(SwjaxError, match=message):
        getattr(swjax, analysis)("not-a-set", **kwargs)  # the settings fail first, not the data


def test_the_dispatcher_builds_only_the_format_asked_for():
    frame = pd.DataFrame({"r": [0.5, 0.25]}, index=pd.Index(["a", "b"], name="benchmark"))

    def unused():
        raise AssertionError("built a format that was not asked for")

    assert formatted(Format.table, table=lambda: "T", frame=unused, json=unused) == "T"
    assert formatted(Format.json, table=unused, frame=unused, json=lambda: "J") == "J"
    assert formatted(Format.csv, table=unused, frame=lambda: frame) == "benchmark,r\na,0.5\nb,0.25\n"
    assert formatted(Format.csv, table=unused, frame=lambda: frame, index=False) == "r\n0.5\n0.25\n"
    assert '"a"' in formatted(Format.json, table=unused, frame=lambda: frame)
