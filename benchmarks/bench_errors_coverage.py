"""Measurement error: coverage of the intervals with and without the scores' standard errors.

    PYTHONPATH=$PWD python benchmarks/bench_errors_coverage.py --datasets 1000 --n 500

Designs (:mod:`swjax.simulate`): 26 models, 8 capability benchmarks loading 0.85, safety
benchmarks at rho about 0.3 / 0.65 / 0.87, logistic link (scores are accuracies in (0, 1)).
With ``items=N`` each observed score is the share of N items answered right, a binomial draw
around the model's true accuracy; the truth is the population capabilities correlation of the
true accuracies (200,000 models, no item error), what a benchmark with unlimited items would
give. ``items=0`` is the control without item error.

Each dataset is analysed twice on the same draw:

- ``off``: the bootstrap over models of the scores as observed (what swjax does without
  ``stderr``);
- ``on``: every resample also perturbs the scores by their binomial standard errors
  ``sqrt(p (1 - p) / N)`` (:mod:`swjax.measurement`, what ``stderr=`` does): ``--copies``
  perturbed copies per dataset, ``B / copies`` weight rows each, pooled in the order of
  :func:`swjax.measurement.pooled_order`; point estimate and jackknife of the scores as
  observed.

BCa and percentile 95 % intervals from B resamples: coverage of two truths (``target``): the
true accuracies' population value, and the population value of the scores as observed with N
items (:func:`observed_truth`, attenuated by the item error), with the Monte Carlo standard
error, the misses on each side, the bias of the point estimate and the mean width. Writes
``benchmarks/results/errors/errors_coverage.{json,csv}`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402

from swjax import engine, intervals, measurement, resample  # noqa: E402
from swjax.coverage import scheme_run, stacked_problems  # noqa: E402
from swjax.problem import build_problem, stack_problems  # noqa: E402
from swjax.simulate import Design, draw, draw_many, pipeline_correlations, population, to_dataset  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "errors"
METHODS = ("bca", "percentile")


def errors_on(design: Design, values: np.ndarray, B: int, copies: int, key, seed: int, block: int):
    """(R, B, s) resamples of every dataset with each resample's scores perturbed."""
    R = values.shape[0]
    m = design.n_models
    caps = list(design.capability_names)
    per_copy = -(-B // copies)
    order = measurement.pooled_order(copies, per_copy, B)
    out = np.empty((R, B, len(design.targets)))
    cols = None
    for start in range(0, R, block):
        problems = []
        for r in range(start, min(start + block, R)):
            ds = to_dataset(design, values[r])
            se = np.nan_to_num(measurement.binomial_stderr(ds.scores, design.items).to_numpy())
            copies_r = measurement.perturbed(ds, se, ds.models, ds.benchmarks, copies, seed * 1_000_003 + r)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for c in copies_r:
                    problem, layout = build_problem(c, caps, dtype=np.float32, drop_degenerate=False)
                    problems.append(problem)
            cols = tuple(layout.columns.index(s) for s in design.targets)
        stacked = stack_problems(problems)
        _, rows = engine.run(stacked, draws=engine.Draws(resample.bootstrap_scheme(m), per_copy,
                                                         jax.random.fold_in(key, 1_000_000 + start)),
                             with_full=True, fields=("corr",), columns=cols)
        corr = rows["corr"].astype(np.float64)  # (datasets x copies, per_copy, s)
        n_here = corr.shape[0] // copies
        corr = corr.reshape(n_here, copies * per_copy, -1)
        out[start:start + n_here] = corr[:, order]
    return out


def observed_truth(design: Design, n: int = 200_000) -> np.ndarray:
    """The population capabilities correlation of the scores as observed with ``design.items``
    items (each model's binomial error drawn afresh): what the bootstrap over models of the
    observed scores estimates, attenuated from the true accuracies' value by the item error."""
    values = draw(design, n, np.random.default_rng([0, 7]))
    corr = pipeline_correlations(values, design.capabilities)
    return corr[design.capabilities:]


def summarise(rows, label, analysis, truths, est, dist, jack, R):
    for method in METHODS:
        low = np.full(est.shape, np.nan)
        high = np.full(est.shape, np.nan)
        for r in range(R):
            low[r], high[r], _ = intervals.interval(dist[r], est[r], 0.95, method, jack[r])
        for (target, truth), j in ((tt, j) for tt in truths.items() for j in range(len(tt[1]))):
            t = truth[j]
            ok = np.isfinite(low[:, j]) & np.isfinite(high[:, j])
            cov = ok & (low[:, j] <= t) & (t <= high[:, j])
            c = cov.sum() / R
            rows.append({
                "design": label, "errors": analysis, "method": method, "target": target,
                "rho": round(float(truths["true accuracies"][j]), 3), "truth": round(float(t), 3),
                "coverage": c, "mc_se": float(np.sqrt(max(c * (1 - c), 1e-12) / R)),
                "miss_low": float((ok & (t < low[:, j])).sum() / R), "miss_high": float((ok & (t > high[:, j])).sum() / R),
                "bias": float(np.nanmean(est[:, j]) - t),
                "width": float(np.nanmean(np.where(ok, high[:, j] - low[:, j], np.nan))),
                "no_interval": int((~ok).sum()),
            })


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=200)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--items", default="0,50,200", help="comma-separated item counts (0: no item error)")
    ap.add_argument("--copies", type=int, default=25, help="perturbed copies per dataset")
    ap.add_argument("--block", type=int, default=20, help="datasets per compiled chunk of copies")
    ap.add_argument("--out", default=str(OUT), help="folder for the JSON and CSV files")
    args = ap.parse_args()
    R, B = args.datasets, args.n
    key = resample.key_from_seed(args.seed)
    rows, seconds, designs = [], {}, {}
    t0 = time.perf_counter()
    for items in (int(v) for v in args.items.split(",")):
        design = Design(rho=(0.3, 0.65, 0.87), link="logistic", items=items)
        label = design.label()
        designs[label] = design.to_dict()
        truths = {"true accuracies": population(design).to_numpy(), "observed scores": observed_truth(design)}
        values = draw_many(design, R, args.seed)
        t = time.perf_counter()
        problems, columns = stacked_problems(design, values, np.float32)
        est, jack, dist = scheme_run(design, problems, columns, "models", n=B, key=key)
        summarise(rows, label, "off", truths, est, dist, jack, R)
        seconds[f"{label} off"] = time.perf_counter() - t
        if items:
            t = time.perf_counter()
            dist_on = errors_on(design, values, B, args.copies, key, args.seed, args.block)
            summarise(rows, label, "on", truths, est, dist_on, jack, R)
            seconds[f"{label} on"] = time.perf_counter() - t
        print(f"{label}: " + ", ".join(f"{k.split()[-1]} {v:.0f} s" for k, v in seconds.items() if k.startswith(label)),
              flush=True)
    table = pd.DataFrame(rows)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "errors_coverage.csv", index=False)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    record = {"datasets": R, "n": B, "seed": args.seed, "copies": args.copies, "designs": designs,
              "coverage": table.to_dict("records"), "seconds": seconds, "seconds_total": time.perf_counter() - t0}
    (out_dir / "errors_coverage.json").write_text(json.dumps(record, indent=2, default=float) + "\n")
    print(f"wrote {out_dir}/")


if __name__ == "__main__":
    main()
