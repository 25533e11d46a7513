"""The project's data/ folder: the registry pins the published files, the examples run."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pytest

import swjax
from swjax.data import DATASETS, REGISTRY, shipped

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SWJAX_DATA_DIR", ROOT.parent / "shared" / "data"))


def test_registry_is_the_data_folder_file():
    raw = json.loads((ROOT / "data" / "registry.json").read_text(encoding="utf-8"))
    assert REGISTRY == raw["files"] and DATASETS == raw["sets"]
    assert raw["base_url"].startswith("https://") and raw["base_url"].endswith("/")
    assert set(DATASETS.values()) | {raw["info"]} == set(REGISTRY)


@pytest.mark.skipif(not SHARED.is_dir(), reason="no local copy of the public data")
def test_registry_hashes_are_those_of_the_published_files():
    """Hashed here from the bytes, independently of swjax's own check."""
    for name, digest in REGISTRY.items():
        assert hashlib.sha256((SHARED / name).read_bytes()).hexdigest() == digest, name


def test_shipped_refuses_a_file_it_does_not_have():
    with pytest.raises(swjax.SwjaxError, match="not among the shipped data files"):
        shipped("no_such_file.csv")


def test_the_example_benchmark_matches_every_chat_model(chat):
    example = pd.read_csv(shipped("examples/my_benchmark.csv"))
    assert list(example.columns) == ["model", "my_refusal_score"]
    assert set(example["model"]) == set(chat.scores.index)
    res = swjax.correlate(shipped("examples/my_benchmark.csv"), "chat", n=200)
    assert list(res.unmatched) == [] and list(res.table.index) == ["my_refusal_score"]
    assert res.table.loc["my_refusal_score", "n_models"] == len(chat.scores)
