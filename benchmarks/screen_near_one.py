"""Screen candidate family-aware intervals near |r| = 1 on the coverage study's datasets.

    PYTHONPATH=$PWD python benchmarks/screen_near_one.py                  # R = 300, B = 400
    PYTHONPATH=$PWD python benchmarks/screen_near_one.py --datasets 100 --n 200 --out /tmp/screen.json

The coverage study (:mod:`swjax.coverage`, ``benchmarks/bench_coverage.py``) compares the
methods swjax offers; this script screens more candidates for the family-aware default on the
same datasets and resamples (:func:`swjax.coverage.scheme_run`), each alone and widened to
contain the model bootstrap's BCa interval (``+models``, as cluster-t is):

* ``jack-z``: jackknife-t over families with the jackknife on Fisher's z (the earlier default);
* ``jack-r``: the jackknife on r, carried to z by the delta method (``jackknife-t`` now);
* ``jack-raw``: the jackknife on r with a t interval on the raw scale, clipped to [-1, 1];
* ``percentile``: the cluster percentile interval;
* ``percentile-G``: the cluster percentile interval stretched on z about the estimate by
  ``sqrt(G / (G - 1)) t(G-1) / z``, a small-G correction;
* ``boot-r`` / ``boot-z``: ``atanh(r) -/+ t(G-1) se`` with the cluster bootstrap's standard
  deviation of r (delta method) or of atanh(r).

Designs: 9 families with population correlations 0.3 to 0.97, the same with heteroscedastic
noise, and 27 models in 17 families at 0.97 and 0.99. Prints coverage % (misses below / above),
mean width and the width relative to the model bootstrap's BCa interval (median / 95th
percentile / largest) and writes them to JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from scipy.special import ndtri, stdtrit

from swjax import intervals, resample
from swjax.coverage import scheme_run, stacked_problems, width_ratios
from swjax.simulate import Design, draw_many, population

DESIGNS = [
    Design(families=9, rho=(0.3, 0.65, 0.87, 0.9, 0.97)),
    Design(families=9, hetero=0.5, rho=(0.3, 0.65, 0.87, 0.9, 0.97)),
    Design(n_models=27, families=17, loading=0.95, rho=(0.97, 0.99)),
]
EDGE = 1e-12


def candidates(est, fam_jack, fam_dist, level):
    """Candidate (low, high) per column: ``est`` (c,), ``fam_jack`` (G, c), ``fam_dist`` (B, c)."""
    G = fam_jack.shape[0]
    t = stdtrit(G - 1, 1 - (1 - level) / 2)
    z = np.arctanh(np.clip(est, -1 + EDGE, 1 - EDGE))
    slope = 1 / (1 - np.clip(est, -1 + EDGE, 1 - EDGE) ** 2)
    out = {}
    for name, on in (("jack-z", "scale"), ("jack-r", "statistic")):
        out[name] = intervals.jackknife_t_interval(est, fam_jack, level, on=on)[:2]
    low, high, _ = intervals.jackknife_t_interval(est, fam_jack, level, scale="identity")
    out["jack-raw"] = (np.clip(low, -1, 1), np.clip(high, -1, 1))
    p_low, p_high = intervals.percentile_interval(fam_dist, level)
    out["percentile"] = (p_low, p_high)
    c = np.sqrt(G / (G - 1)) * t / ndtri(1 - (1 - level) / 2)
    zl, zh = (np.arctanh(np.clip(x, -1 + EDGE, 1 - EDGE)) for x in (p_low, p_high))
    out["percentile-G"] = (np.tanh(z - c * (z - zl)), np.tanh(z + c * (zh - z)))
    with np.errstate(invalid="ignore"):
        sd_r = np.nanstd(fam_dist, axis=0, ddof=1) * slope
        sd_z = np.nanstd(np.arctanh(np.clip(fam_dist, -1 + EDGE, 1 - EDGE)), axis=0, ddof=1)
    out["boot-r"] = (np.tanh(z - t * sd_r), np.tanh(z + t * sd_r))
    out["boot-z"] = (np.tanh(z - t * sd_z), np.tanh(z + t * sd_z))
    return out


def screen(design: Design, R: int, B: int, seed: int, level: float) -> list[dict]:
    truth = population(design).to_numpy()
    problems, columns = stacked_problems(design, draw_many(design, R, seed), np.float32)
    key = resample.key_from_seed(seed)
    runs = {s: scheme_run(design, problems, columns, s, n=B, key=key) for s in ("models", "families")}
    flat = lambda a: np.transpose(a, (1, 0, 2)).reshape(a.shape[1], -1)  # noqa: E731  (rows, R x s)
    est = runs["models"][0].reshape(-1)
    m_low, m_high, _ = intervals.interval(flat(runs["models"][2]), est, level, "bca", flat(runs["models"][1]))
    models = {"low": m_low.reshape(R, -1), "high": m_high.reshape(R, -1)}
    found = candidates(est, flat(runs["families"][1]), flat(runs["families"][2]), level)
    rows = []
    for name, (low, high) in [("model bca", (m_low, m_high))] + [
        (f"{n}{suffix}", b) for n, (lo, hi) in found.items()
        for suffix, b in (("", (lo, hi)), ("+models", (np.fmin(lo, m_low), np.fmax(hi, m_high))))
    ]:
        bounds = {"low": low.reshape(R, -1), "high": high.reshape(R, -1)}
        median, p95 = width_ratios(bounds, models)
        ratio = (bounds["high"] - bounds["low"]) / (models["high"] - models["low"])
        for j, rho in enumerate(design.rho):
            lo, hi = bounds["low"][:, j], bounds["high"][:, j]
            rows.append(dict(
                design=design.label(), candidate=name, rho=rho, truth=float(truth[j]),
                coverage=float(((lo <= truth[j]) & (truth[j] <= hi)).mean()),
                miss_below=float((hi < truth[j]).mean()), miss_above=float((lo > truth[j]).mean()),
                width=float(np.mean(hi - lo)), width_ratio=float(median[j]), width_ratio_p95=float(p95[j]),
                width_ratio_max=float(np.nanmax(ratio[:, j])),
            ))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=300)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/coverage/screening.json"))
    args = parser.parse_args()
    t0, rows = time.perf_counter(), []
    for design in DESIGNS:
        rows += screen(design, args.datasets, args.n, args.seed, args.level)
        print(f"{design.label()}: {time.perf_counter() - t0:.0f} s", flush=True)
    for r in rows:
        print(f"{r['design']:24s} {r['candidate']:20s} {r['rho']:.2f} {100 * r['coverage']:5.1f} "
              f"({100 * r['miss_below']:.1f} / {100 * r['miss_above']:.1f})  width {r['width']:.3f}  "
              f"ratio {r['width_ratio']:.2f} / {r['width_ratio_p95']:.2f} / {r['width_ratio_max']:.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(command=f"python benchmarks/screen_near_one.py --datasets {args.datasets} --n {args.n} "
                           f"--seed {args.seed}", datasets=args.datasets, n=args.n, seed=args.seed,
                   level=args.level, seconds=time.perf_counter() - t0, cpu_count=os.cpu_count(), rows=rows)
    args.out.write_text(json.dumps(payload, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
