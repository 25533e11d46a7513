"""Time ``plan`` on the chat set: 25 main-table benchmarks x 8 grid points, R datasets x B resamples.

    PYTHONPATH=$PWD python benchmarks/bench_plan.py                    # R = 500, B = 1000
    PYTHONPATH=$PWD python benchmarks/bench_plan.py --datasets 50 --n 200
    PYTHONPATH=$PWD python benchmarks/bench_plan.py --benchmarks MT_Bench,TruthfulQA_MC1 --device gpu

Warm: a first call with the same grid, the same chunk shapes (``dataset_batch``) and 2
datasets per grid point compiles every function; the timed call then simulates and analyses
R datasets of each size (full sample, leave-one-model-out jackknife for BCa, B resamples each).
The generator fit (tuning the loadings on 20,000 simulated models) is timed apart and
shared by both calls. Prints the
table of models needed and the seconds per grid point, and writes plan.json, plan.csv,
needed.csv and plan.png to --out with the CPU count and the load average at the start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from swjax import load_dataset
from swjax.plan import DEFAULT_GRID, fit_generator, plan
from swjax.writers import write_plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=500)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--grid", type=str, default=",".join(map(str, DEFAULT_GRID)))
    parser.add_argument("--dataset-batch", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--benchmarks", type=str, default=None,
                        help="comma-separated benchmarks (default: the 25 main-table benchmarks)")
    parser.add_argument("--device", type=str, default="auto")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/plan"))
    args = parser.parse_args()
    grid = [int(g) for g in args.grid.split(",")]
    benchmarks = args.benchmarks.split(",") if args.benchmarks else None
    chat = load_dataset("chat")

    t0 = time.perf_counter()
    gen = fit_generator(chat, benchmarks)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    plan(chat, benchmarks, grid=grid, datasets=2, n=args.n, seed=args.seed, dataset_batch=args.dataset_batch,
         generator=gen, device=args.device)
    t_warm = time.perf_counter() - t0
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    result = plan(chat, benchmarks, grid=grid, datasets=args.datasets, n=args.n, seed=args.seed,
                  dataset_batch=args.dataset_batch, progress=print, generator=gen, device=args.device)
    t_plan = time.perf_counter() - t0
    load1 = os.getloadavg()
    result.metadata.update(
        bench=dict(
            fit_seconds=t_fit, warmup_seconds=t_warm, plan_seconds=t_plan, cpu_count=os.cpu_count(),
            load_average_start=load0, load_average_end=load1, dataset_batch=args.dataset_batch,
            resamples=args.datasets * args.n * len(grid), benchmarks=len(result.needed),
            device=args.device,
        )
    )
    print(result.needed.drop(columns="name").to_string(float_format=lambda x: f"{x:.3f}"))
    print(result.table["power"].unstack("m").to_string(float_format=lambda x: f"{x:.2f}"))
    print(f"\nfit {t_fit:.1f} s, warm-up (compilation) {t_warm:.1f} s")
    print(f"plan, warm: {t_plan:.1f} s for {len(result.needed)} benchmarks x {len(grid)} grid points x "
          f"{args.datasets} datasets x {args.n} resamples; load average {load0[0]:.1f} -> {load1[0]:.1f} on {os.cpu_count()} CPUs")
    write_plan(result, args.out, argv=["benchmarks/bench_plan.py"] + [f"--datasets={args.datasets}", f"--n={args.n}"]
               + ([f"--benchmarks={args.benchmarks}"] if args.benchmarks else []))
    print(json.dumps(result.metadata["bench"]))


if __name__ == "__main__":
    main()
