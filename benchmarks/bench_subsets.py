"""Timing of every capability subset and of leave-one-benchmark-out, as the library runs them.

    PYTHONPATH=$PWD python benchmarks/bench_subsets.py --n 1000 --json benchmarks/results/bench_subsets.json
    PYTHONPATH=$PWD python benchmarks/bench_subsets.py --n 1000 --device gpu   # -> results/gpu/

Prints a table and writes JSON. Each row is one warm call (after a first, compiling call with the
same arguments) of :func:`swjax.subsets` or :func:`swjax.lobo`,
wall-clock, with its time per (specification, resample). ``--batch-size`` overrides the
default rows per chunk.
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
from swjax.sensitivity import lobo, subsets


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
    info = dict(device=str(jax.devices(dev)[0]), device_kind=device.device_kind, jax=jax.__version__,
                machine=platform.machine(), cpus=os.cpu_count(), batch_size=args.batch_size,
                min_size=args.min_size)
    print(info)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": rows, **info}, indent=2) + "\n")


if __name__ == "__main__":
    main()
