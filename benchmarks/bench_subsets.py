"""Timing of every capability subset and of leave-one-benchmark-out, as the library runs them.

    PYTHONPATH=$PWD python benchmarks/bench_subsets.py --n 1000 --json benchmarks/results/bench_subsets.json
    PYTHONPATH=$PWD python benchmarks/bench_subsets.py --n 1000 --device gpu   # -> results/gpu/

Prints a table and writes JSON. Each row is one warm call (after a first, compiling call with the
same arguments) of :func:`swjax.subsets` or :func:`swjax.lobo`,
wall-clock, with its time per (specification, resample). ``--batch-size`` overrides the
default rows per chunk.

A second table times the host's part of the resampled curve on its own: the across-specification
quantiles of one chunk-sized array of correlations (2 resamples x 179 columns x 4,083
specifications, random values in [-1, 1]), by :func:`swjax.sensitivity.row_quantiles` (selection
on order keys) and by a sort (``np.sort`` and :func:`~swjax.sensitivity.sorted_quantiles`, the
same numbers), side by side, float32 and float64, best of 5.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax

from swjax import engine
from swjax.sensitivity import CURVE_PROBS, lobo, row_quantiles, sorted_quantiles, subsets


def host_quantiles(repeats: int = 5) -> list[dict]:
    """Per row (resample x column), us: selection against a sort, on one chunk-sized array."""
    import numpy as np

    rng = np.random.default_rng(0)
    base = np.tanh(rng.standard_normal((2, 179, 4083)))
    rows = []
    for dtype in (np.float32, np.float64):
        x = base.astype(dtype)
        per_row = {}
        for name, fn in (("selection", lambda: row_quantiles(x, CURVE_PROBS)),
                         ("sort", lambda: sorted_quantiles(np.sort(x, axis=-1), CURVE_PROBS))):
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - t0)
            per_row[name] = 1e6 * best / (x.size // x.shape[-1])
        assert np.array_equal(row_quantiles(x, CURVE_PROBS), sorted_quantiles(np.sort(x, axis=-1), CURVE_PROBS))
        rows.append(dict(dtype=np.dtype(dtype).name, selection_us_per_row=per_row["selection"],
                         sort_us_per_row=per_row["sort"], ratio=per_row["sort"] / per_row["selection"]))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000, help="bootstrap resamples of the whole curve")
    ap.add_argument("--min-size", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--sets", default="base,chat")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    device = engine.select_device(args.device)
    dev = device.platform
    if args.json is None and dev == "gpu":
        args.json = str(Path(__file__).resolve().parent / "results" / "gpu" / "bench_subsets.json")
    rows = []
    for s in args.sets.split(","):
        for what, fn in (
            ("subsets", lambda n: subsets(s, min_size=args.min_size, n=n, device=dev, batch_size=args.batch_size)),
            ("lobo", lambda n: lobo(s, n=n, device=dev, batch_size=args.batch_size)),
        ):
            fn(0)  # point estimates
            t0 = time.perf_counter()
            points = fn(0)
            t_points = time.perf_counter() - t0
            n_specs = len(points.masks) if what == "subsets" else points.correlations.shape[1]
            fn(args.n)  # compiles the resampling program
            t0 = time.perf_counter()
            fn(args.n)
            sec = time.perf_counter() - t0
            rows.append(dict(set=s, what=what, specifications=n_specs, resamples=args.n, seconds=sec,
                             point_seconds=t_points, us_per_pair=1e6 * sec / (n_specs * args.n)))
    print(f"{'set':5s} {'what':8s} {'specs':>6s} {'resamples':>9s} {'seconds':>8s} {'us/(spec*resample)':>19s} {'points s':>9s}")
    for r in rows:
        print(f"{r['set']:5s} {r['what']:8s} {r['specifications']:6d} {r['resamples']:9d} {r['seconds']:8.2f} "
              f"{r['us_per_pair']:19.2f} {r['point_seconds']:9.3f}")
    host = host_quantiles()
    print(f"{'host quantiles':15s} {'selection us/row':>17s} {'sort us/row':>12s} {'sort/selection':>15s}")
    for r in host:
        print(f"{r['dtype']:15s} {r['selection_us_per_row']:17.2f} {r['sort_us_per_row']:12.2f} {r['ratio']:15.2f}")
    info = dict(device=str(jax.devices(dev)[0]), device_kind=device.device_kind, jax=jax.__version__,
                machine=platform.machine(), cpus=os.cpu_count(), batch_size=args.batch_size,
                min_size=args.min_size)
    print(info)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": rows, "host_quantiles": host, **info}, indent=2) + "\n")


if __name__ == "__main__":
    main()
