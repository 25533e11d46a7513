"""Sweep the chunk size of the bootstrap engine and compare the engine's own pick with the best.

    PYTHONPATH=$PWD python benchmarks/bench_batch.py                  # the default device
    PYTHONPATH=$PWD python benchmarks/bench_batch.py --device gpu     # -> results/gpu/bench_batch.json

For each batch size (powers of two, plus :func:`swjax.engine.default_batch_size`'s pick for the
device) the script times ``engine.run`` (draws) on the public chat set, ``--n`` resamples with the
fields ``swjax.bootstrap`` keeps, warm (a first call compiles; best of ``--repeats``), all sizes
side by side in one process (compiled first, then timed round robin). It reports each size's time relative to the fastest, and whether
the pick is within 20 % of it (the target). The numbers do not depend on the batch size (checked
here on every size: the distributions are compared with the pick's, bit for bit).

Prints a table and writes JSON: benchmarks/results/bench_batch.json, or
benchmarks/results/gpu/bench_batch.json on a GPU; the JSON names the device and its memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TARGET = 1.2


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or gpu")
    parser.add_argument("--set", default="chat", choices=("base", "chat"))
    parser.add_argument("--n", type=int, default=None,
                        help="resamples per run (default 8,192 on the CPU, 262,144 on a GPU)")
    parser.add_argument("--sizes", default=None, help="comma-separated batch sizes (default powers of two)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")

    import jax

    from swjax import engine, resample
    from swjax.analysis import prepare

    device = engine.select_device(args.device)
    gpu = device.platform == "gpu"
    n = args.n or (262_144 if gpu else 8_192)
    problem, layout = prepare(args.set)
    m, k = problem.caps.shape
    ref = engine.run(problem, np.ones((1, m)), fields=None, device=args.device, shard=False).loadings[0]
    memory_before = device.memory_stats() if gpu else None
    pick = engine.default_batch_size(problem, n, device)
    if args.sizes:
        sizes = sorted({int(s) for s in args.sizes.split(",")} | {pick})
    else:
        low = 256 if gpu else 32
        sizes = sorted({b for b in (2**i for i in range(30)) if low <= b <= min(n, 65536)} | {pick})
    key = resample.key_from_seed(args.seed)
    scheme = resample.bootstrap_scheme(m)

    def run(batch):
        return engine.run(problem, draws=engine.Draws(scheme, n, key), ref=ref, batch_size=batch,
                          device=args.device, shard=False)

    # Every size compiles first (its first call), then the timed calls go round robin over the
    # sizes, so that a change of load on the machine touches every size alike.
    order = [pick] + [b for b in sizes if b != pick]  # the pick first: the reference
    rows, reference, same = {}, None, True
    for batch in order:
        t0 = time.perf_counter()
        first = run(batch)
        reference = first if reference is None else reference
        same &= all(np.array_equal(first[f], reference[f], equal_nan=True) for f in reference)
        rows[batch] = dict(batch_size=batch, first_call_seconds=time.perf_counter() - t0,
                           chunks=-(-n // batch), all_seconds=[])
        del first
    for _ in range(args.repeats):
        for batch in order:
            t = time.perf_counter()
            run(batch)
            rows[batch]["all_seconds"].append(time.perf_counter() - t)
    rows = list(rows.values())
    for r in rows:
        r["seconds"] = min(r["all_seconds"])
    rows.sort(key=lambda r: r["batch_size"])
    best = min(rows, key=lambda r: r["seconds"])
    for r in rows:
        r["relative_to_best"] = r["seconds"] / best["seconds"]
    pick_row = next(r for r in rows if r["batch_size"] == pick)
    q, _ = problem.obs.shape
    result = dict(
        set=args.set, n=n, repeats=args.repeats, rows=rows,
        engine_pick=pick, best_batch_size=best["batch_size"],
        pick_relative_to_best=pick_row["relative_to_best"], target=TARGET,
        within_target=pick_row["relative_to_best"] <= TARGET,
        identical_results_for_every_batch=bool(same),
        estimated_bytes_per_row=8 * q * m * np.dtype(problem.caps.dtype).itemsize,
        chunk_budget_bytes=engine.chunk_budget(device)[0],
        device=str(device), device_kind=device.device_kind, platform=device.platform,
        memory_stats_before=memory_before, memory_stats_after=device.memory_stats() if gpu else None,
        jax=jax.__version__, machine=platform.machine(), cpu_count=os.cpu_count(),
        loadavg_1min=os.getloadavg()[0],
    )
    print(f"batch-size sweep, {args.set}, n={n:,} resamples, warm best of {args.repeats}; "
          f"{device} ({device.device_kind}); load {os.getloadavg()[0]:.1f}")
    print(f"  {'batch':>7s} {'chunks':>7s} {'seconds':>9s} {'x best':>7s}")
    for r in rows:
        mark = "  <- engine pick" if r["batch_size"] == pick else ""
        print(f"  {r['batch_size']:7d} {r['chunks']:7d} {r['seconds']:9.4f} {r['relative_to_best']:7.2f}{mark}")
    print(f"engine pick {pick} is {pick_row['relative_to_best']:.2f}x the best ({best['batch_size']}); "
          f"target <= {TARGET}: {'met' if result['within_target'] else 'MISSED'}; "
          f"same numbers for every batch size: {same}")
    out = args.out or HERE / "results" / ("gpu" if gpu else "") / "bench_batch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
