"""Timing of every capability subset: point estimates, and subsets x bootstrap resamples.

    PYTHONPATH=$PWD python benchmarks/bench_subsets.py --n 1000 --json bench_subsets.json
    PYTHONPATH=$PWD python benchmarks/bench_subsets.py --n 1000 --device gpu   # -> results/gpu/

Prints a table and writes JSON. Times are warm (after one compiling call) and wall-clock;
the resample run keeps only the summaries of :func:`swjax.sensitivity.subsets` (on-device
reduction), as the library does.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import jax
import numpy as np

from swjax import engine, resample
from swjax.analysis import prepare
from swjax.sensitivity import _curve_reduce


def timed(fn, repeat=3):
    fn()  # compile
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000, help="bootstrap resamples of the whole curve")
    ap.add_argument("--min-size", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    device = engine.select_device(args.device)
    dev = device.platform
    if args.json is None and dev == "gpu":
        args.json = str(Path(__file__).resolve().parent / "results" / "gpu" / "bench_subsets.json")
    rows = []
    problems = {s: prepare(s) for s in ("base", "chat")}
    masks = resample.subset_masks(12, args.min_size)

    def points():
        return [engine.evaluate_masks(p, np.ones((1, len(l.models))), masks, None, device=dev)
                for p, l in problems.values()]

    t = timed(points)
    rows.append(("point estimates, both sets", len(masks), 1, t))
    for s, (p, l) in problems.items():
        m = len(l.models)
        refs = engine.evaluate_masks(p, np.ones((1, m)), masks, None, device=dev, fields=("loadings",))["loadings"][0]
        key = resample.key_from_seed(0)
        sink = lambda out: None  # noqa: E731  (summaries are reduced on the device)

        def run(n):
            return engine.resample_masks(p, resample.bootstrap_scheme(m), n, key, masks, refs,
                                         batch_size=args.batch_size, device=dev, reduce=_curve_reduce, sink=sink)

        b = args.batch_size or engine.default_mask_batch_size(p, len(masks), args.n, device)
        run(b)  # compile
        t0 = time.perf_counter()
        run(args.n)
        rows.append((f"{s}: subsets x bootstrap", len(masks), args.n, time.perf_counter() - t0))
    print(f"{'what':34s} {'subsets':>8s} {'resamples':>10s} {'seconds':>9s} {'us/(subset*resample)':>22s}")
    for what, S, n, sec in rows:
        print(f"{what:34s} {S:8d} {n:10d} {sec:9.3f} {1e6 * sec / (S * n):22.2f}")
    info = dict(device=str(jax.devices(dev)[0]), jax=jax.__version__, machine=platform.machine(),
                cpus=__import__("os").cpu_count(), batch_size=args.batch_size,
                device_kind=device.device_kind, batch_size_used=b)
    print(info)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump({"rows": [dict(what=w, subsets=S, resamples=n, seconds=sec) for w, S, n, sec in rows],
                       **info}, fh, indent=2)


if __name__ == "__main__":
    main()
