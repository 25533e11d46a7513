"""How much of the item-error attenuation a simulation-extrapolation (SIMEX) estimate removes.

    PYTHONPATH=$PWD python benchmarks/bench_simex_bias.py --datasets 300 --copies 20

The next step for measurement error (docs/measurement.md): the bootstrap over models covers the
benchmark as it is, and the perturbation option does not reach the value with unlimited items
at 10-20 items per score. SIMEX estimates that value: add more noise, at ``lambda`` times each
score's error variance (0.5, 1, 1.5, 2), average the statistic over ``--copies`` noisy copies
at each level, fit a quadratic in ``lambda`` through those means and the estimate at 0, and
read it at ``lambda = -1`` (no noise), clipped to [-1, 1].

Point estimates only, in numpy (:func:`swjax.simulate.pipeline_correlations`), on the designs
of ``bench_errors_coverage.py`` (26 models, logistic link, 10 / 20 / 100 items): bias and
standard deviation over the datasets of the plain estimate and of SIMEX, against the true
accuracies' population value. No interval: whether a bootstrap of SIMEX covers is the study
that would follow. Writes ``benchmarks/results/errors/simex_bias.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from swjax.measurement import binomial_stderr  # noqa: E402
from swjax.simulate import Design, draw_many, pipeline_correlations, population  # noqa: E402

LAMBDAS = np.array([0.5, 1.0, 1.5, 2.0])


def simex(values: np.ndarray, se: np.ndarray, k: int, copies: int, rng) -> np.ndarray:
    """SIMEX estimate (quadratic extrapolant) of every target column of one dataset."""
    levels = [pipeline_correlations(values, k)[k:]]
    for lam in LAMBDAS:
        noisy = [pipeline_correlations(values + np.sqrt(lam) * se * rng.standard_normal(values.shape), k)[k:]
                 for _ in range(copies)]
        levels.append(np.mean(noisy, axis=0))
    x = np.concatenate([[0.0], LAMBDAS])
    coef = np.polyfit(x, np.array(levels), 2)  # (3, columns)
    return np.clip(coef[0] - coef[1] + coef[2], -1.0, 1.0)  # the quadratic at lambda = -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=300)
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--items", default="10,20,100")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "errors"))
    args = ap.parse_args()
    rows = []
    t0 = time.perf_counter()
    for items in (int(v) for v in args.items.split(",")):
        design = Design(rho=(0.3, 0.65, 0.87), link="logistic", items=items)
        truth = population(design).to_numpy()
        values = draw_many(design, args.datasets, args.seed)
        k = design.capabilities
        plain = np.array([pipeline_correlations(v, k)[k:] for v in values])
        corrected = np.array([simex(v, np.nan_to_num(binomial_stderr(pd.DataFrame(v), items).to_numpy()), k, args.copies,
                                    np.random.default_rng([args.seed, r, 5])) for r, v in enumerate(values)])
        for j, t in enumerate(truth):
            row = dict(items=items, truth=round(float(t), 3),
                       bias_plain=float(plain[:, j].mean() - t), bias_simex=float(corrected[:, j].mean() - t),
                       sd_plain=float(plain[:, j].std()), sd_simex=float(corrected[:, j].std()))
            rows.append(row)
            print(" ".join(f"{key} {val:.3f}" if isinstance(val, float) else f"{key} {val}" for key, val in row.items()),
                  flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = dict(datasets=args.datasets, copies=args.copies, lambdas=LAMBDAS.tolist(), seed=args.seed, rows=rows,
                  seconds=time.perf_counter() - t0)
    (out / "simex_bias.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}/simex_bias.json")


if __name__ == "__main__":
    main()
