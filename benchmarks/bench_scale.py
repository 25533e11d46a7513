"""Time and peak memory against resamples, models and benchmarks, on the local devices.

    PYTHONPATH=$PWD python benchmarks/bench_scale.py [--full] [--out benchmarks/results/scale]

Each point runs in its own process (peak RSS = that process's ru_maxrss): a random matrix of
m models x p benchmarks (a few ties and 5% missing values; 12 capability columns) and ``n``
bootstrap resamples (engine.run with draws, warm: a first run compiles). Writes a table to stdout,
scale.json and scale.png. Wall times on a shared machine are noisy: compare ratios measured
in one run. ``--full`` adds n = 1,000,000 (streamed to disk).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

POINT = r"""
import json, resource, sys, time, warnings
import numpy as np, pandas as pd
warnings.simplefilter("ignore")
from swjax import engine, resample
from swjax.data import Dataset
from swjax.problem import build_problem
n, m, p = (int(a) for a in sys.argv[1:4])
rng = np.random.default_rng(0)
latent = rng.normal(size=(m, 1))
x = np.round(latent + rng.normal(size=(m, p)), 2)  # rounding: some ties
x[:, 12:][rng.random((m, p - 12)) < 0.05] = np.nan
df = pd.DataFrame(x, index=[f"m{i}" for i in range(m)], columns=[f"b{j}" for j in range(p)])
ds = Dataset(label="random", scores=df, meta=pd.DataFrame(index=df.index), info=pd.DataFrame(columns=["name", "metric"]))
prob, lay = build_problem(ds, [f"b{j}" for j in range(12)], drop_degenerate=False)
k = 12
key = resample.key_from_seed(0)
scheme = resample.bootstrap_scheme(m)
batch = engine.default_batch_size(prob, n)
engine.run(prob, draws=engine.Draws(scheme, min(n, batch), key))  # compile
t = time.perf_counter()
cols = [0]
engine.run(prob, draws=engine.Draws(scheme, n, key), sink=lambda c: cols.__setitem__(0, cols[0] + len(c["corr"])))
sec = time.perf_counter() - t
q = prob.obs.shape[0]
print("POINT" + json.dumps(dict(n=n, models=m, benchmarks=q, path=prob.rank_path, batch=batch, seconds=sec,
    ns_per_resample_benchmark_model=1e9 * sec / (n * q * m),
    peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""


def run_point(n, m, p):
    proc = subprocess.run([sys.executable, "-c", POINT, str(n), str(m), str(p)], capture_output=True,
                          text=True, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads([x for x in proc.stdout.splitlines() if x.startswith("POINT")][0][5:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale"))
    args = ap.parse_args()
    grid = {
        "resamples": [(n, 26, 170) for n in ([1000, 10000, 100000] + ([1000000] if args.full else []))],
        "models": [(1000, m, 170) for m in (26, 200, 1000, 2000)],
        "benchmarks": [(1000, 26, p) for p in (170, 500, 1000, 2000)],
    }
    rows = []
    for axis, points in grid.items():
        for n, m, p in points:
            r = dict(run_point(n, m, p), axis=axis)
            rows.append(r)
            print(f"{axis:10s} n={r['n']:>8d} models={r['models']:>5d} benchmarks={r['benchmarks']:>5d} "
                  f"{r['path']:>7s} {r['seconds']:9.2f} s {r['peak_rss_mb']:8.0f} MB "
                  f"{r['ns_per_resample_benchmark_model']:8.2f} ns/(resample x benchmark x model)", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import jax

    (out / "scale.json").write_text(json.dumps({"device": str(jax.devices()[0]), "rows": rows}, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5))
    for j, (axis, key) in enumerate((("resamples", "n"), ("models", "models"), ("benchmarks", "benchmarks"))):
        pts = [r for r in rows if r["axis"] == axis]
        xs = [r[key] for r in pts]
        axes[0, j].loglog(xs, [r["seconds"] for r in pts], "o-")
        axes[0, j].set_title(f"time vs {axis}")
        axes[0, j].set_ylabel("seconds (warm)")
        axes[1, j].semilogx(xs, [r["peak_rss_mb"] for r in pts], "s-", color="C1")
        axes[1, j].set_ylabel("peak RSS (MB)")
        axes[1, j].set_xlabel(axis)
    fig.suptitle(f"swjax engine.run (draws) on {jax.devices()[0].platform} (shared 2-core machine)")
    fig.tight_layout()
    fig.savefig(out / "scale.png", dpi=100)
    print(f"wrote {out}/scale.json and {out}/scale.png")


if __name__ == "__main__":
    main()
