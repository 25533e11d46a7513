"""Comparison form against sort form of the ranks, per resample, over the number of models.

    PYTHONPATH=$PWD python benchmarks/bench_ranks.py [--models 60,100,130,200] [--n 5000]

Draws one dataset of each size from the generator fitted to the chat set (12 capabilities,
25 main-table benchmarks, the data's ties and missing cells), builds its problem with
``ranks="compare"`` and ``ranks="sort"``, and times 5,000 warm bootstrap resamples of each
(best of 3) through the same engine call. Checks that both give the same correlations, prints
the table (ratio first) and writes benchmarks/results/bench_ranks.json. This is the evidence
for :data:`swjax.ranks.COMPARE_MAX_MODELS`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from swjax import engine, load_dataset, resample
from swjax.data import Dataset
from swjax.problem import build_problem


def dataset_of(gen, m: int) -> Dataset:
    names = list(gen.capabilities) + list(gen.benchmarks)
    x = gen.draw(m, np.random.default_rng(m))
    index = pd.Index([f"model-{i:03d}" for i in range(m)], name="model")
    info = pd.DataFrame({"name": names, "metric": ""}, index=pd.Index(names, name="benchmark"))
    return Dataset(label=f"m={m}", scores=pd.DataFrame(x, index=index, columns=names), meta=pd.DataFrame(index=index), info=info)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="60,100,130,200")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bench_ranks.json"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    plan_module = importlib.import_module("swjax.plan")
    gen = plan_module.fit_generator(load_dataset("chat"))
    k = len(gen.capabilities)
    rows = []
    for m in [int(x) for x in args.models.split(",")]:
        ds = dataset_of(gen, m)
        row, corr = {"models": m}, {}
        for path in ("compare", "sort"):
            problem, _ = build_problem(ds, list(gen.capabilities), dtype=np.float32, ranks=path)
            key = resample.key_from_seed(0)
            run = lambda: engine.run(problem, draws=engine.Draws(resample.bootstrap_scheme(m), args.n, key))  # noqa: E731
            run()
            best = np.inf
            for _ in range(3):
                t0 = time.perf_counter()
                corr[path] = run()["corr"]
                best = min(best, time.perf_counter() - t0)
            row[f"{path}_us"] = best / args.n * 1e6
            row[f"{path}_pairs"] = problem.pairs is not None
        row["compare_over_sort"] = row["compare_us"] / row["sort_us"]
        row["same_numbers"] = bool(np.array_equal(corr["compare"], corr["sort"], equal_nan=True))
        rows.append(row)
        print(f"m = {m:4d}: compare/sort {row['compare_over_sort']:.2f} "
              f"(compare{' with pairs' if row['compare_pairs'] else ''} {row['compare_us']:.1f} us, "
              f"sort {row['sort_us']:.1f} us per resample), same numbers: {row['same_numbers']}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"n": args.n, "cpu_count": os.cpu_count(), "load_average": os.getloadavg(), "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
