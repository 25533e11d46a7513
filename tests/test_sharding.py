"""Every kind of engine run sharded over several (simulated) CPU devices gives the single-device
numbers: draws, explicit rows, both, crossed masks and stacked problems.

The device count is fixed when JAX starts, so the check runs in a subprocess started with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``.
"""

import pytest

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import json, warnings
    import jax, numpy as np
    import swjax
    from swjax import engine, resample
    from swjax.problem import build_problem, stack_problems

    warnings.simplefilter("ignore")
    assert len(jax.devices()) == 4, jax.devices()
    out = {}
    ds = swjax.load_dataset("chat")
    for path in ("compare", "sort") if len(jax.devices()) > 1 else ():
        p, lay = build_problem(ds, ranks=path)
        m, k = len(lay.models), len(lay.capabilities)
        full = engine.run(p, np.ones((1, m)), fields=None, shard=False)
        ref = full.loadings[0]
        key = resample.key_from_seed(11)
        draws = engine.Draws(resample.bootstrap_scheme(m), 237, key)
        masks = np.vstack([np.ones(k), resample.lobo_masks(k)])
        refs = np.repeat(ref[None], len(masks), 0) * masks
        stacked = stack_problems([p, p, p])
        runs = {  # every kind of run: draws, explicit rows, both, crossed masks, stacked problems
            "draws": dict(draws=draws, ref=ref, batch_size=50),
            "rows": dict(weights=resample.jackknife_weights(m), ref=ref, batch_size=4),
            "both": dict(weights=resample.jackknife_weights(m), draws=draws, ref=ref, batch_size=50),
            "masks": dict(draws=draws._replace(n=21), masks=masks, ref=refs, fields=("corr",), batch_size=3),
        }
        same = []
        for name, kw in runs.items():
            a = engine.run(p, **kw)
            b = engine.run(p, shard=False, **kw)
            same += [bool(np.array_equal(a[f], b[f], equal_nan=True)) for f in a]
        a = engine.run(stacked, draws=draws._replace(n=30), ref=np.stack([ref] * 3), fields=("corr",), batch_size=1)
        b = engine.run(stacked, draws=draws._replace(n=30), ref=np.stack([ref] * 3), fields=("corr",), batch_size=1,
                       shard=False)
        same.append(bool(np.array_equal(a["corr"], b["corr"], equal_nan=True)))
        out[path] = all(same)
    # Whole pipeline: bootstrap() shards on its own when several devices are visible.
    r = swjax.bootstrap("chat", n=300, seed=3, batch_size=40)
    out["bootstrap"] = r.distribution.tolist()
    out["low"] = r.table["low"].tolist()
    print("RESULT" + json.dumps(out))
    """
)


def _run(env_extra):
    # JAX_PLATFORMS=cpu: the simulated devices are CPU devices, also on a machine with a GPU
    # (where the default platform would be the GPU); several real GPUs: tests/test_gpu.py.
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu", **env_extra)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")][0]
    return json.loads(line[len("RESULT"):])


@pytest.mark.slow  # compile-heavy; CI runs it with -m slow
def test_sharded_equals_unsharded_exactly():
    sharded = _run({"XLA_FLAGS": "--xla_force_host_platform_device_count=4"})
    assert sharded["compare"] and sharded["sort"]
    script_one = SCRIPT.replace("assert len(jax.devices()) == 4", "assert True")
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu",
               XLA_FLAGS="--xla_force_host_platform_device_count=1")
    proc = subprocess.run([sys.executable, "-c", script_one], env=env, capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    single = json.loads([x for x in proc.stdout.splitlines() if x.startswith("RESULT")][0][6:])
    # NaN-aware exact comparison of the whole bootstrap distribution and intervals.
    import numpy as np

    a, b = np.array(sharded["bootstrap"], float), np.array(single["bootstrap"], float)
    assert np.array_equal(a, b, equal_nan=True)
    assert np.array_equal(np.array(sharded["low"], float), np.array(single["low"], float), equal_nan=True)
