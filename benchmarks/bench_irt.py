"""The irt fit: accelerated (SQUAREM) against plain alternating sweeps, on bootstrap resamples.

    PYTHONPATH=$PWD python benchmarks/bench_irt.py --resamples 2048

For each public set, complete and with 30 % of its capability cells removed at random (seed 5),
in float32 and float64: ``--resamples`` bootstrap weights (seed 0), each fit started from its
weighted mean z-score as in the kernel. Prints, per fit, the sweeps it ran (mean, 99th percentile,
most: under vmap a batch costs its most) and the largest distance of its abilities from the
optimum (all of ``--converged`` plain sweeps in float64, no stopping rule; models of positive weight),
and the time of one vmapped, compiled batch of all the resamples (best of ``--repeat``,
interleaved). Writes ``benchmarks/results/bench_irt.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "results" / "bench_irt.json"

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import swjax  # noqa: E402
from swjax import scores  # noqa: E402
from swjax.data import PAPER_CAPABILITIES  # noqa: E402


def starts(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Each resample's weighted mean z-score (missing cells at the column mean: z 0)."""
    cz = np.nan_to_num(x - np.nanmean(x, axis=0))
    tot = w.sum(axis=1, keepdims=True)
    mean = w @ cz / tot
    sd = np.sqrt(np.einsum("rm,rmk->rk", w, (cz[None] - mean[:, None]) ** 2) / tot)
    return ((cz[None] - mean[:, None]) / sd[:, None]).mean(axis=2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resamples", type=int, default=2048)
    ap.add_argument("--converged", type=int, default=2000, help="plain float64 sweeps of the reference, every one run")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for name in ("chat", "base"):
        full = swjax.load_dataset(name).scores[list(PAPER_CAPABILITIES)].to_numpy(np.float64)
        sparse = full.copy()
        sparse[np.random.default_rng(5).random(full.shape) < 0.3] = np.nan
        for label, x in ((name, full), (f"{name}, 30 % missing", sparse)):
            y = scores.irt_responses(x)
            m, k = y.shape
            w = np.random.default_rng(0).multinomial(m, np.full(m, 1 / m), size=args.resamples).astype(float)
            s0 = starts(x, w)
            c = np.ones(k)

            def batch(dtype, **kw):
                yd, cd = jnp.asarray(y, dtype), jnp.asarray(c, dtype)
                return jax.jit(jax.vmap(lambda w, s: scores.irt_fit(yd, w, cd, s, **kw)))

            ref = np.asarray(batch(jnp.float64, accelerate=False, sweeps=args.converged, tolerance=0.0)(w, s0)[0])
            for dtype in ("float32", "float64"):
                wd, sd = jnp.asarray(w, dtype), jnp.asarray(s0, dtype)
                fits = {"plain": batch(dtype, accelerate=False), "accelerated": batch(dtype)}
                times = {f: [] for f in fits}
                out = {}
                for f, fn in fits.items():
                    theta, used = fn(wd, sd)
                    out[f] = (np.asarray(theta, np.float64), np.asarray(used))
                for _ in range(args.repeat):  # interleaved
                    for f, fn in fits.items():
                        t0 = time.perf_counter()
                        fn(wd, sd)[0].block_until_ready()
                        times[f].append(time.perf_counter() - t0)
                for f in fits:
                    theta, used = out[f]
                    err = float(np.max(np.abs(theta - ref) * (w > 0)))
                    rows.append(dict(data=label, dtype=dtype, fit=f, sweeps_mean=float(used.mean()),
                                     sweeps_p99=float(np.percentile(used, 99)), sweeps_max=int(used.max()),
                                     at_cap=int((used >= scores.IRT_SWEEPS).sum()), max_error=err,
                                     seconds=min(times[f])))
                plain, acc = rows[-2], rows[-1]
                acc["speedup"] = plain["seconds"] / acc["seconds"]
    print(f"{'data':22s} {'dtype':7s} {'fit':11s} {'sweeps mean':>11s} {'p99':>4s} {'most':>4s} {'at 60':>5s} "
          f"{'max |error|':>11s} {'ratio':>6s}")
    for r in rows:
        ratio = f"{r['speedup']:.2f}x" if "speedup" in r else ""
        print(f"{r['data']:22s} {r['dtype']:7s} {r['fit']:11s} {r['sweeps_mean']:11.1f} {r['sweeps_p99']:4.0f} "
              f"{r['sweeps_max']:4d} {r['at_cap']:5d} {r['max_error']:11.1e} {ratio:>6s}")
    print(f"(ratio: plain time / accelerated time for one batch of {args.resamples}, same run)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(dict(
        rows=rows, resamples=args.resamples, converged=args.converged, repeat=args.repeat,
        machine=dict(platform=platform.platform(), python=platform.python_version(), cpus=os.cpu_count(),
                     load_average=list(os.getloadavg()) if hasattr(os, "getloadavg") else None),
        versions=dict(swjax=swjax.__version__, jax=jax.__version__),
    ), indent=1))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
