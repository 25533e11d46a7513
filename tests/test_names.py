"""Benchmarks named by id or display name, and unknown names refused with a suggestion before
anything is computed."""

from __future__ import annotations

import numpy as np
import pytest

import swjax
from swjax import validate

from .test_cli_start import run as probe

COLUMNS = ["MT_Bench", "mmlu", "wmdp_bio", "wmdp", "a-b", "a_b"]
NAMES = {"MT_Bench": "MT Bench", "wmdp_bio": "WMDP Biological Split", "mmlu": "MMLU"}


@pytest.mark.parametrize("given, expected", [
    ("MT_Bench", "MT_Bench"), ("MT Bench", "MT_Bench"), ("mt-bench", "MT_Bench"),
    ("WMDP Biological Split", "wmdp_bio"), ("wmdp bio", "wmdp_bio"), ("MMLU", "mmlu"), ("a-b", "a-b"),
])
def test_an_id_or_a_display_name_gives_the_id(given, expected):
    assert validate.benchmark(given, COLUMNS, NAMES) == expected


def test_an_ambiguous_name_is_refused():
    with pytest.raises(swjax.SwjaxError, match="names several benchmarks.*a-b, a_b"):
        validate.benchmark("A B", COLUMNS, NAMES)


def test_an_unknown_name_gets_the_closest_ids_with_their_display_names():
    with pytest.raises(swjax.SwjaxError) as err:
        validate.benchmark("wmdp_bioo", COLUMNS, NAMES, where="the chat set")
    assert str(err.value) == ("benchmark: unknown benchmark 'wmdp_bioo' in the chat set "
                              "(did you mean 'wmdp_bio' (WMDP Biological Split) or 'wmdp'?)")
    with pytest.raises(swjax.SwjaxError, match="expected a benchmark name"):
        validate.benchmark(3, COLUMNS, NAMES)


def test_display_names_are_accepted_wherever_ids_are(chat):
    by_id = swjax.analyze(chat, against="mmlu", capabilities=["gsm8k", "bbh", "arc_challenge"])
    by_name = swjax.analyze(chat, against="MMLU", capabilities=["GSM8K", "BBH", "ARC Challenge"])
    assert by_name.against == "mmlu" and by_name.capabilities == by_id.capabilities
    np.testing.assert_array_equal(by_name.correlations.to_numpy(), by_id.correlations.to_numpy())
    assert chat.display_name("MT_Bench") == "MT Bench"
    res = swjax.compare(chat, "MT Bench", n=40)
    assert list(res.table.index) == ["MT_Bench"]


def test_a_bad_name_for_a_figure_is_refused_before_jax_is_imported():
    out = probe(["plot", "scatter", "--set", "chat", "--benchmark", "wmdp_bioo", "--out", "x.png"])
    lines = out.stderr.strip().splitlines()
    assert lines[0] == ("error: benchmark: unknown benchmark 'wmdp_bioo' in the chat set "
                        "(did you mean 'wmdp_bio' (WMDP Biological Split) or 'wmdp' (WMDP)?)")
    assert lines[-1] == "no JAX"


@pytest.mark.filterwarnings("ignore::swjax.DegenerateResampleWarning")
def test_figures_take_display_names_too(chat):
    from swjax import figures

    res = swjax.bootstrap(chat, n=40, seed=0)
    fig = figures.distribution(res, "WMDP Biological Split")
    ax = fig.axes[0]
    assert "WMDP Biological Split" in ax.get_title("left") + ax.get_title()
    with pytest.raises(swjax.SwjaxError, match="did you mean 'wmdp_bio'"):
        figures.scatter(res, "wmdp_bioo", chat)
