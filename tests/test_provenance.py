"""Provenance in a run's manifest: the data's sha256, the models used, the software's versions."""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from swjax import bootstrap, load_dataset
from swjax.cli import app
from swjax.data import read_csv
from swjax.provenance import matrix_sha256

runner = CliRunner()


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_matrix_digest_follows_the_values_and_names_not_the_file(tmp_path):
    ds = load_dataset("chat")
    digest = matrix_sha256(ds.scores)
    # The same matrix through a user CSV file (written with round-trip precision) hashes alike.
    path = tmp_path / "mine.csv"
    ds.scores.rename_axis("model").to_csv(path, float_format="%.17g")
    assert matrix_sha256(read_csv(path).scores) == digest
    # One value moved by one unit in the last place, one model renamed, two columns swapped: each differs.
    moved = ds.scores.copy()
    moved.iloc[3, 5] = np.nextafter(moved.iloc[3, 5], np.inf)
    renamed = ds.scores.rename(index={ds.scores.index[0]: ds.scores.index[0] + "x"})
    swapped = ds.scores[[ds.scores.columns[1], ds.scores.columns[0], *ds.scores.columns[2:]]]
    assert len({digest, matrix_sha256(moved), matrix_sha256(renamed), matrix_sha256(swapped)}) == 4
    # NaN payloads do not matter: a missing score is a missing score.
    odd = ds.scores.copy()
    odd.iloc[0, 0] = np.frombuffer(np.array(0x7FF8000000000001, dtype="<u8").tobytes(), "<f8")[0]
    plain = ds.scores.copy()
    plain.iloc[0, 0] = np.nan
    assert matrix_sha256(odd) == matrix_sha256(plain)


def test_bootstrap_manifest_has_data_models_and_versions(tmp_path):
    out = tmp_path / "run"
    res = runner.invoke(app, ["bootstrap", "--set", "chat", "--n", "50", "--out", str(out)])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    env = manifest["environment"]
    assert env["jax"] == jax.__version__
    for lib in ("jaxlib", "numpy", "pandas", "scipy"):
        assert env[lib] == metadata.version(lib)
    assert env["python"].count(".") == 2
    data = manifest["runs"][0]["metadata"]["data"]
    chat = load_dataset("chat")
    assert data["label"] == "chat"
    assert data["sha256"] == matrix_sha256(chat.scores)
    # The released files' own hashes, computed here from the files themselves.
    folder = Path(os.environ.get("SWJAX_DATA_DIR", ""))
    if not (folder / "benchmarks_chat_models.csv").is_file():
        pytest.skip("the public files are not in SWJAX_DATA_DIR")
    assert data["files"] == {name: _file_sha256(folder / name)
                             for name in ("benchmarks_chat_models.csv", "benchmarks_info.csv")}
    table = pd.read_csv(out / "table.csv", index_col="benchmark")
    assert data["models"] == list(chat.scores.index)  # every chat model has the paper's 12 capability scores
    assert table.loc["MT_Bench", "n_models"] == len(data["models"])


def test_models_used_are_those_with_every_capability_score():
    ds = load_dataset("base")
    res = bootstrap(ds, n=40, capabilities=["mmlu", "gsm8k", "bbh", "arc_challenge"])
    caps = ["mmlu", "gsm8k", "bbh", "arc_challenge"]
    complete = [m for m in ds.scores.index if ds.scores.loc[m, caps].notna().all()]
    assert res.metadata["data"]["models"] == complete
    assert res.metadata["data"]["sha256"] == matrix_sha256(ds.scores)


def test_version_names_jax_and_devices():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert lines[0].startswith("swjax ")
    assert f"jax {jax.__version__}" in lines[1] and f"numpy {np.__version__}" in lines[1]
    platform = jax.devices()[0].platform
    assert lines[2].startswith(f"devices: {platform}: {len(jax.devices())}")


def test_citation_file_names_this_version_and_the_paper():
    from swjax._version import __version__

    text = (Path(__file__).resolve().parents[1] / "CITATION.cff").read_text(encoding="utf-8")
    assert "cff-version: 1.2.0" in text
    assert f'\nversion: "{__version__}"\n' in text
    assert "arXiv:2407.21792" in text and "Safetywashing" in text
