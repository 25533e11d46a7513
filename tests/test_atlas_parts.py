"""The atlas split across hosts (``part``) and run across devices: the parts cover every
population once, their cache assembles the same atlas as one run, and a run on two devices
gives the same table as on one."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from swjax.atlas import assign_parts, atlas, bh_qvalues, parse_part
from swjax.cli import app
from swjax.errors import SwjaxError

atlas_mod = importlib.import_module("swjax.atlas")
ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(capabilities=["c0", "c1", "c2"], n=200, permutations=200, seed=2, min_models=20)


def _boards(folder: Path, sizes=(24, 30, 26, 22)) -> list[Path]:
    """Leaderboard tables of different sizes: three capability columns and two others."""
    rng = np.random.default_rng(11)
    paths = []
    for b, m in enumerate(sizes):
        g = rng.normal(size=m)
        frame = pd.DataFrame({c: g + rng.normal(scale=0.6, size=m) for c in ("c0", "c1", "c2")})
        frame["s0"] = 0.5 * g + rng.normal(size=m)
        frame["s1"] = rng.normal(size=m)
        frame.insert(0, "model", [f"org{i % 4}/board{b}-model-{i}" for i in range(m)])
        paths.append(folder / f"board{b}.csv")
        frame.to_csv(paths[-1], index=False)
    return paths


def test_parts_are_balanced_and_the_same_on_every_host():
    # the largest first, each to the least-loaded part: 5 -> 1, 3 -> 2, 3 -> 2, 2 -> 1, 2 -> 2
    assert assign_parts([5, 3, 3, 2, 2], 2) == [1, 2, 2, 1, 2]
    assert assign_parts([1, 1, 1], 3) == [1, 2, 3]
    rng = np.random.default_rng(0)
    for size in (1, 3, 10, 40):
        units = list(rng.integers(1, 1000, size=size))
        for count in range(1, size + 1):
            got = assign_parts(units, count)
            assert got == assign_parts(list(units), count)  # deterministic
            assert set(got) == set(range(1, count + 1))  # no part is left empty
            load = [sum(u for u, p in zip(units, got) if p == q) for q in range(1, count + 1)]
            assert max(load) - min(load) <= max(units)  # the greedy rule's bound


def test_part_is_read_or_refused_by_name():
    assert parse_part(None) is None
    assert parse_part("2/4") == (2, 4) and parse_part((1, 1)) == (1, 1) and parse_part(" 3 / 3 ") == (3, 3)
    for bad in ("0/2", "3/2", "2", "a/b", "1/2/3", 5):
        with pytest.raises(SwjaxError, match="part: expected I/N"):
            parse_part(bad)


@pytest.mark.slow  # four populations, bootstrap and permutations each
def test_parts_assemble_the_atlas_of_one_run(tmp_path):
    paths = _boards(tmp_path)
    whole = atlas(paths, cache=False, **SETTINGS)
    cache = tmp_path / "cache"
    parts = []
    for i in (1, 2):
        lines = []
        parts.append(atlas(paths, cache=cache, part=f"{i}/2", progress=lines.append, **SETTINGS))
        assert lines[0].startswith(f"atlas: 4 population(s), 2 to analyse in part {i} of 2 (0 finished")
    # each population is analysed by exactly one part, with the rows of the whole run
    done = [set(p.table["population"]) for p in parts]
    assert done[0].isdisjoint(done[1]) and done[0] | done[1] == set(whole.table["population"])
    for p, i in zip(parts, (1, 2)):
        rows = whole.table[whole.table["population"].isin(set(p.table["population"]))]
        np.testing.assert_array_equal(p.table["estimate"], rows["estimate"])
        np.testing.assert_array_equal(p.table[["low", "high", "p_value"]], rows[["low", "high", "p_value"]])
        # a part's q-values are across its own rows, and it says so
        np.testing.assert_allclose(p.table["q_value"], bh_qvalues(p.table["p_value"].to_numpy(float)), rtol=0, atol=0)
        assert p.metadata["part"] == f"{i}/2" and f"of part {i} of 2 only" in p.metadata["q_values"]
        other = p.populations[~p.populations["population"].isin(done[i - 1])]
        assert other["skipped"].str.fullmatch(rf"in part {3 - i} of 2 \(this run is part {i}\)").all()
        # populations.csv names each population's part, the same in both parts' runs
        assert (p.populations["part"] == np.where(p.populations["population"].isin(done[0]), 1, 2)).all()
    # a run without part takes every population from the shared cache and is the whole atlas
    orig = atlas_mod._analyse
    atlas_mod._analyse = lambda *a, **k: pytest.fail("recomputed a population a part had finished")
    try:
        lines = []
        assembled = atlas(paths, cache=cache, progress=lines.append, **SETTINGS)
    finally:
        atlas_mod._analyse = orig
    assert lines[0].endswith("nothing to compute")
    pd.testing.assert_frame_equal(assembled.table, whole.table)
    assert assembled.populations["part"].isna().all()
    assert assembled.metadata["part"] is None


def test_part_refusals_are_one_clear_error_before_any_work(tmp_path):
    paths = _boards(tmp_path, sizes=(24, 22))
    runner = CliRunner()
    base = ["atlas", *map(str, paths), "--capabilities", "c0,c1,c2", "--n", "50", "--permutations", "50"]
    for extra, message in ((["--part", "1/2", "--no-cache"], "put together through the cache"),
                           (["--part", "3/2"], "1 <= I <= N, got 3/2"),
                           (["--part", "3/3", "--cache", str(tmp_path / "c")], "part 3 of 3 has no population (there are 2")):
        out = tmp_path / "out"
        got = runner.invoke(app, [*base, *extra, "--out", str(out)])
        assert got.exit_code == 2, got.output
        assert message in got.output and "Traceback" not in got.output
        assert not out.exists()


@pytest.mark.slow  # a fresh process on two devices
def test_cli_part_and_two_devices_give_the_one_device_table(tmp_path):
    """Part 1 of 2 through the command line on two (host) devices, where the engine shards each
    population's resamples, equals the same rows of the one-device run in this process."""
    paths = _boards(tmp_path, sizes=(24, 22))
    whole = atlas(paths, cache=False, **SETTINGS)
    out = tmp_path / "part1"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    code = ("import jax, sys; from swjax.cli import app; assert len(jax.devices()) == 2, jax.devices(); "
            "sys.argv = ['swjax'] + sys.argv[1:]; app()")
    cmd = [sys.executable, "-c", code, "atlas", *map(str, paths), "--capabilities", "c0,c1,c2", "--n", "200",
           "--permutations", "200", "--seed", "2", "--min-models", "20", "--part", "1/2",
           "--cache", str(tmp_path / "cache"), "--out", str(out)]
    got = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert got.returncode == 0, got.stderr
    assert "part 1/2: 1 population(s) are the other parts'" in got.stderr
    assert "not analysed (in part" not in got.stderr  # the other part's population is not reported as skipped
    pops = pd.read_csv(out / "populations.csv")
    assert sorted(pops["part"]) == [1, 2]
    table = pd.read_csv(out / "atlas.csv")
    rows = whole.table[whole.table["population"].isin(set(table["population"]))]
    assert len(table) == len(rows) > 0
    np.testing.assert_allclose(table[["estimate", "low", "high", "p_value"]], rows[["estimate", "low", "high", "p_value"]],
                               rtol=0, atol=1e-12)
    manifest = json.loads((out / "manifest.json").read_text())  # the part is recorded with the atlas
    assert manifest["part"] == "1/2" and "of part 1 of 2 only" in manifest["q_values"]
