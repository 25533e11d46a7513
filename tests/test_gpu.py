"""The same numbers on a GPU as on the CPU, and the GPU-only checks of the engine.

Tests marked ``gpu`` run only where JAX sees a GPU. The comparison code of
:mod:`tests.crossplatform` is checked everywhere: it must flag every kind of difference, and a
run on one CPU device must equal a run sharded over two simulated CPU devices.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from . import crossplatform

ROOT = Path(__file__).resolve().parents[1]


def _collection():
    return {
        "_meta/dtype": np.array("float32"),
        "s/weights": np.array([[1, 0, 2], [3, 0, 0]]),
        "s/resample/corr": np.array([[0.5, np.nan], [-0.25, 0.9]], np.float32),
        "s/resample/rule_flip": np.array([False, True]),
        "s/full/score": np.array([12.0, -3.0]),
    }


def test_compare_passes_equal_and_within_tolerance():
    a, b = _collection(), _collection()
    b["s/resample/corr"] = b["s/resample/corr"] + np.float32(4e-6)
    b["s/full/score"] = np.array([12.0 + 1e-4, -3.0])  # relative to max(1, |x|): 1e-4 <= 12e-5
    rows = crossplatform.compare(a, b)
    assert all(r["ok"] for r in rows), rows
    assert crossplatform.summary(rows)["weights_identical"]


@pytest.mark.parametrize(
    "key, change",
    [
        ("s/weights", lambda x: x + np.array([[0, 0, 0], [0, 1, -1]])),  # one resample differs
        ("s/resample/corr", lambda x: x + np.float32(3e-5)),
        ("s/resample/corr", lambda x: np.where(np.isnan(x), np.float32(0.1), x)),  # NaN lost
        ("s/resample/rule_flip", lambda x: ~x),
        ("s/full/score", lambda x: x[:1]),  # shape
        ("s/full/score", None),  # missing
    ],
)
def test_compare_flags_every_difference(key, change):
    a, b = _collection(), _collection()
    if change is None:
        del b[key]
    else:
        b[key] = change(b[key])
    rows = {r["key"]: r for r in crossplatform.compare(a, b)}
    assert not rows[key]["ok"]
    assert [k for k, r in rows.items() if not r["ok"]] == [key]
    s = crossplatform.summary(list(rows.values()))
    assert not s["ok"] and s["failed"] == [key]
    assert s["weights_identical"] == (key != "s/weights")


def test_float64_tolerance_is_tighter():
    a, b = _collection(), _collection()
    for c in (a, b):
        c["_meta/dtype"] = np.array("float64")
        c["s/resample/corr"] = c["s/resample/corr"].astype(np.float64)
    b["s/resample/corr"] = b["s/resample/corr"] + 1e-11
    assert not {r["key"]: r for r in crossplatform.compare(a, b)}["s/resample/corr"]["ok"]


def test_saved_collections_round_trip(tmp_path):
    a = _collection()
    crossplatform.save(a, tmp_path / "a.npz")
    b = crossplatform.load(tmp_path / "a.npz")
    assert set(a) == set(b) and all(r["ok"] for r in crossplatform.compare(a, b))


def _save(path, devices: int):
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.crossplatform", "--a", "cpu", "--quick", "--n", "64", "--dtype", "float32",
         "--save", str(path)],
        env=env, capture_output=True, text=True, timeout=900, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_one_cpu_device_equals_two(tmp_path):
    # The cross-platform check run CPU against CPU: one device, and the engine's rows sharded
    # over two simulated devices (the weights drawn on the first); every array must agree.
    # float32 only, to keep it short: float64's tolerance is checked above.
    _save(tmp_path / "one", 1)
    _save(tmp_path / "two", 2)
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.crossplatform", "--against", str(tmp_path / "one"), str(tmp_path / "two"),
         "--n", "64", "--dtype", "float32", "--out", str(tmp_path / "cmp.json")],
        env=env, capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "cmp.json").read_text())
    s = report["float32"]["summary"]
    assert s["ok"] and s["weights_identical"] and s["n_keys"] > 30, s
    assert report["float32"]["devices"] == ["cpu:0", "cpu:0"]


# ------------------------------------------------------------------------------ on a GPU only


@pytest.mark.gpu
@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_gpu_equals_cpu(x64):
    a = crossplatform.collect("cpu", x64=x64)
    b = crossplatform.collect("gpu", x64=x64)
    assert str(b["_meta/device"]).lower().startswith(("cuda", "gpu", "rocm"))
    rows = crossplatform.compare(a, b)
    failed = [r for r in rows if not r["ok"]]
    assert crossplatform.summary(rows)["weights_identical"], [r for r in failed if r["key"].endswith("weights")]
    assert not failed, failed


@pytest.mark.gpu
def test_gpu_batch_size_from_device_memory():
    from swjax import engine
    from swjax.analysis import prepare

    gpu = jax.devices("gpu")[0]
    stats = gpu.memory_stats()
    assert stats and stats["bytes_limit"] > 2**30
    p = prepare("chat")[0]
    assert engine.default_batch_size(p, 10**6, gpu) > engine.default_batch_size(p, 10**6)
    import swjax

    res = swjax.bootstrap("chat", n=2000, device="gpu")
    assert res.metadata["device"] == str(gpu)
    rows = 2000 + p.caps.shape[0]  # the jackknife's rows ride in the resamples' chunks
    assert res.metadata["batch_size"] == engine.default_batch_size(p, rows, gpu) >= rows  # one chunk


@pytest.mark.gpu
def test_several_gpus_give_the_single_gpu_numbers():
    from swjax import engine, resample
    from swjax.problem import build_problem
    import swjax

    if len(jax.devices("gpu")) < 2:
        pytest.skip("one GPU: the sharded path is checked on simulated CPU devices (test_sharding.py)")
    p, lay = build_problem(swjax.load_dataset("chat"))
    m, k = p.caps.shape
    ref = engine.run(p, np.ones((1, m)), fields=None, device="gpu", shard=False).loadings[0]
    key = resample.key_from_seed(11)
    kw = dict(batch_size=500, device="gpu")
    draws = engine.Draws(resample.bootstrap_scheme(m), 2371, key)
    a = engine.run(p, draws=draws, ref=ref, **kw)
    b = engine.run(p, draws=draws, ref=ref, shard=False, **kw)
    for f in a:
        assert np.array_equal(a[f], b[f], equal_nan=True), f
