"""The program cache: a process that loads the lowered kernel from disk gets the numbers of a
process that traced it, bit for bit, for every kind of run; a damaged file is traced again.

The cache is on where JAX's persistent compilation cache is, which is fixed when JAX starts,
so every run is a subprocess with its own ``JAX_COMPILATION_CACHE_DIR``.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("flatbuffers")  # jax.export's serialization; without it the cache is off

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import json, warnings
    import numpy as np
    import swjax
    from swjax import engine

    warnings.simplefilter("ignore")
    out = {}
    r = swjax.bootstrap("chat", n=120, seed=4, batch_size=32)  # full sample, jackknife, draws
    out["bootstrap"] = r.distribution.tolist()
    out["low"] = r.table["low"].tolist()
    out["estimate"] = r.table["estimate"].tolist()
    lo = swjax.lobo("chat", n=40, seed=1)  # crossed masks
    out["lobo"] = lo.intervals["low"].tolist()
    s = swjax.subsets("chat", min_size=10, n=40, seed=2)  # crossed masks with a reduction
    out["subsets"] = s.table["median_low"].tolist()
    design = swjax.simulate(20, rho=(0.5,), seed=1).design
    cov = swjax.coverage([design], datasets=3, n=40, seed=5)  # stacked datasets
    out["coverage"] = cov.table["width"].tolist() + cov.table["bias"].tolist()
    out["programs"] = len(engine.cache._programs)
    print("RESULT" + json.dumps(out))
    """
)


def _run(cache):
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    if cache is not None:
        env.update(JAX_COMPILATION_CACHE_DIR=str(cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                          timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")][0]
    return json.loads(line[len("RESULT"):])


def _same(a, b):
    import numpy as np

    for name in ("bootstrap", "low", "estimate", "lobo", "subsets", "coverage"):
        x, y = np.asarray(a[name], float), np.asarray(b[name], float)
        assert np.array_equal(x, y, equal_nan=True), name


@pytest.mark.slow  # four fresh processes, each compiling; CI runs it with -m slow
def test_loaded_programs_give_the_traced_numbers(tmp_path):
    plain = _run(None)
    assert plain["programs"] == 0
    first = _run(tmp_path)  # traces, lowers and writes the programs
    written = sorted((tmp_path / "programs").glob("*.bin"))
    assert len(written) >= 4 and first["programs"] == len(written)
    second = _run(tmp_path)  # loads them
    assert sorted((tmp_path / "programs").glob("*.bin")) == written
    _same(plain, first)
    _same(plain, second)
    for path in written:  # damaged files are traced again, and rewritten whole
        path.write_bytes(b"not a program")
    third = _run(tmp_path)
    _same(plain, third)
    assert all(p.stat().st_size > 1000 for p in written)


def test_program_names_change_with_what_a_trace_depends_on():
    """The name hashes the run's description, the argument shapes and the JAX settings that
    change a trace: a program traced under other random bits or shapes is never loaded."""
    import jax
    import numpy as np

    from swjax import engine, resample
    from swjax.analysis import prepare

    p, _ = prepare("chat")
    m, k = p.caps.shape
    spec = engine.kernel._Spec(
        scheme=resample.bootstrap_scheme(m), fixed=False, mask_rows=False, cross=False, stacked=False,
        fields=("corr",), columns=None, reduce=None, batch=64, mesh=None, n_draws=0, with_full=True,
    )
    args = engine.ChunkArgs(problem=p, key=resample.key_from_seed(0), start=np.uint32(0), n_fixed=np.uint32(0),
                            mask=np.ones(k, np.float32))
    cpu = jax.devices("cpu")[0]
    base = engine.cache._program_id(args, spec, cpu)
    assert base == engine.cache._program_id(args, spec, cpu)  # stable
    others = {
        engine.cache._program_id(args, spec._replace(batch=128), cpu),
        engine.cache._program_id(args, spec._replace(scheme=resample.bootstrap_scheme(m + 1)), cpu),
        engine.cache._program_id(args, spec._replace(fields=("corr", "cos_ref")), cpu),
        engine.cache._program_id(args._replace(mask=np.ones(k, np.float64)), spec, cpu),
    }
    before = jax.config.jax_threefry_partitionable
    try:
        jax.config.update("jax_threefry_partitionable", not before)
        others.add(engine.cache._program_id(args, spec, cpu))
    finally:
        jax.config.update("jax_threefry_partitionable", before)
    assert base not in others and len(others) == 5
    # A scheme without a stable name cannot be cached.
    assert engine.cache._program_id(args, spec._replace(scheme=lambda key: None), cpu) is None
