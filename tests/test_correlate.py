"""correlate: matching a benchmark author's CSV to a public set, and placing the new columns."""

import warnings

import numpy as np
import pandas as pd
import pytest

import swjax
from swjax.correlate import (
    UnmatchedModelWarning,
    combine,
    correlate,
    match_models,
    place,
    read_scores,
)
from swjax.errors import SwjaxError

N = 300


@pytest.fixture(scope="module")
def author_csv(chat, tmp_path_factory):
    """A new benchmark that copies MT-Bench (entangled) and one that is pure noise, by id and name."""
    rng = np.random.default_rng(3)
    models = list(chat.models[:22])
    frame = pd.DataFrame(
        {
            "model": models,
            "mt_copy": chat.scores.loc[models, "MT_Bench"].to_numpy() * 10 + 3,
            "noise": rng.normal(size=len(models)),
        }
    )
    frame.loc[2, "model"] = "  " + chat.meta.loc[models[2], "name"].upper() + " "  # display name, odd case
    frame.loc[len(frame)] = ["Not-A-Real-Model-7B", 1.0, 0.0]
    path = tmp_path_factory.mktemp("author") / "mine.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def result(author_csv, chat):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnmatchedModelWarning)
        return correlate(author_csv, chat, n=N, seed=0)


def test_matching_by_id_then_display_name(chat, author_csv):
    scores = read_scores(author_csv)
    m = match_models(list(scores.index), chat)
    assert (m["how"] == "id").sum() == 21
    name_row = m[m["how"] == "name"]
    assert len(name_row) == 1 and name_row["model"].iloc[0] == chat.models[2]
    assert list(m.index[m["how"] == "unmatched"]) == ["Not-A-Real-Model-7B"]


def test_unmatched_models_are_listed_and_warned(author_csv, chat):
    with pytest.warns(UnmatchedModelWarning, match="Not-A-Real-Model-7B"):
        combined, matches, unmatched, missing, new = combine(chat, author_csv)
    assert unmatched == ("Not-A-Real-Model-7B",)
    assert set(missing) == set(chat.models[22:])
    assert new == ("mt_copy", "noise")
    assert combined.scores.shape == (26, chat.scores.shape[1] + 2)
    assert combined.scores.loc[list(missing), "mt_copy"].isna().all()


def test_result_table_and_placement(result, chat):
    t = result.table
    assert list(t.index) == ["mt_copy", "noise"]
    assert t.at["mt_copy", "verdict"] == "entangled"
    assert t.at["mt_copy", "n_models"] == 22
    assert t.at["mt_copy", "low"] <= t.at["mt_copy", "estimate"] <= t.at["mt_copy", "high"]
    assert t.at["mt_copy", "of"] == chat.scores.shape[1]
    assert 1 <= t.at["mt_copy", "rank"] <= t.at["mt_copy", "of"] + 1
    assert t.at["mt_copy", "neighbours"].count(";") == 2
    assert result.unmatched == ("Not-A-Real-Model-7B",)


def test_new_columns_do_not_change_public_estimates(result, chat):
    """The capabilities score uses only the capability benchmarks: public correlations are unchanged."""
    alone = swjax.analyze(chat)
    joint = result.result.table["estimate"]
    np.testing.assert_allclose(joint["MT_Bench"], alone.correlations["MT_Bench"], atol=1e-5)


def test_estimate_matches_pairwise_spearman(result, chat):
    from scipy.stats import spearmanr

    a = swjax.analyze(chat, x64=True)
    y = result.dataset.scores["mt_copy"].dropna()
    rho = spearmanr(y, a.scores[y.index]).statistic
    assert result.table.at["mt_copy", "estimate"] == pytest.approx(rho, abs=1e-4)


def test_dataframe_input_and_api_export(chat):
    frame = pd.DataFrame({"mine": chat.scores["ethics_all"] + 1}, index=chat.scores.index)
    res = swjax.correlate(frame, chat, n=300)
    assert res.table.at["mine", "n_models"] == 26
    assert res.table.at["mine", "estimate"] == pytest.approx(res.result.table.at["ethics_all", "estimate"], abs=1e-6)
    assert res.unmatched == () and res.missing == ()


def test_place_ranks_and_neighbours():
    table = pd.DataFrame(
        {"estimate": [0.9, 0.5, 0.1, -0.3, 0.45], "name": ["A", "B", "C", "D", "New"]},
        index=["a", "b", "c", "d", "new"],
    )
    p = place(table, "new", ["a", "b", "c", "d"], n_neighbours=2)
    assert p["rank"] == 3 and p["of"] == 4 and p["percentile"] == 0.5
    assert p["neighbours"].startswith("B (+0.50); C (+0.10)")


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"MT_Bench": np.arange(26.0)}), "already a benchmark"),
        (pd.DataFrame({"x": np.arange(4.0)}), "expected at least 5"),
        (pd.DataFrame({"x": np.ones(26)}), "constant"),
    ],
)
def test_bad_input(chat, frame, message):
    frame = frame.set_axis(chat.models[: len(frame)])
    with pytest.raises(SwjaxError, match=message):
        combine(chat, frame)


def test_two_rows_matching_one_model(chat):
    m = chat.models[0]
    frame = pd.DataFrame({"x": [1.0, 2.0]}, index=[m, chat.model_name(m)])
    with pytest.raises(SwjaxError, match="all match the model"):
        match_models(list(frame.index), chat)


def test_unmatched_everything_is_an_error(chat):
    frame = pd.DataFrame({"x": np.arange(6.0)}, index=[f"unknown-{i}" for i in range(6)])
    with pytest.raises(SwjaxError, match="6 of your models are not in the set"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UnmatchedModelWarning)
        combine(chat, frame)


def test_cli_correlate(author_csv, tmp_path):
    from typer.testing import CliRunner

    from swjax.cli import app

    out = tmp_path / "c.csv"
    res = CliRunner().invoke(
        app, ["correlate", "--scores", str(author_csv), "--set", "chat", "--n", "300", "--format", "csv", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(out, index_col=0)
    assert list(frame.index) == ["mt_copy", "noise"]
    assert frame["unmatched"].iloc[0] == "Not-A-Real-Model-7B"
    res = CliRunner().invoke(app, ["correlate", "--scores", str(author_csv), "--set", "chat", "--n", "300"])
    assert res.exit_code == 0
    assert "Not-A-Real-Model-7B" in res.output and "mt_copy" in res.output
