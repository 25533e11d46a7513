"""Time and peak memory against resamples, models and benchmarks, on the local devices.

    PYTHONPATH=$PWD python benchmarks/bench_scale.py [--full] [--out benchmarks/results/scale]

Each point runs in its own process (peak RSS = that process's ru_maxrss): a random matrix of
m models x p benchmarks (a few ties and 5% missing values; 12 capability columns) and ``n``
bootstrap resamples (engine.run with draws, warm: a first run compiles). Writes a table to stdout,
scale.json and scale.png. Wall times on a shared machine are noisy: compare ratios measured
in one run. ``--full`` adds n = 1,000,000 (streamed to disk).

``--models`` times the cost per resample against the number of models instead: m = 26, 150,
1,000, 4,500 and 20,000 models x 7 benchmarks (5 capabilities; 5% of the other cells missing;
scores rounded to 2 decimals, so with ties), warm, the median of 3 calls in each process, and
prints the log-log slope of the cost between neighbouring sizes and the peak RSS. With
``--compare DIR`` every size also runs with that checkout (``PYTHONPATH=DIR``), the two
alternating process by process (``--rounds`` each), and the table gains the ratio; the
result is ``models.json``. ``--chunks M`` times batch sizes 4 ... 256 at M models in one
process, interleaved (how the CPU's chunk rule for the sort path was chosen).
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


MODELS_POINT = r"""
import json, resource, sys, time, warnings
import numpy as np, pandas as pd
warnings.simplefilter("ignore")
from swjax import engine, resample
from swjax.data import Dataset
from swjax.problem import build_problem
n, m, p, k, repeats = (int(a) for a in sys.argv[1:6])
batches = [int(b) for b in sys.argv[6].split(",")] if len(sys.argv) > 6 else [None]
rng = np.random.default_rng(0)
latent = rng.normal(size=(m, 1))
x = np.round(latent + rng.normal(size=(m, p)), 2)  # rounding: some ties
x[:, k:][rng.random((m, p - k)) < 0.05] = np.nan
df = pd.DataFrame(x, index=[f"m{i}" for i in range(m)], columns=[f"b{j}" for j in range(p)])
ds = Dataset(label="random", scores=df, meta=pd.DataFrame(index=df.index), info=pd.DataFrame(columns=["name", "metric"]))
prob, lay = build_problem(ds, [f"b{j}" for j in range(k)], drop_degenerate=False)
key = resample.key_from_seed(0)
draws = engine.Draws(resample.bootstrap_scheme(m), n, key)
t = time.perf_counter()
for b in batches:
    engine.run(prob, draws=draws, sink=lambda c: None, batch_size=b)  # compiles
first = time.perf_counter() - t
times = {b: [] for b in batches}
for _ in range(repeats):
    for b in batches:  # interleaved
        t = time.perf_counter()
        engine.run(prob, draws=draws, sink=lambda c: None, batch_size=b)
        times[b].append(time.perf_counter() - t)
import swjax
print("POINT" + json.dumps(dict(n=n, models=m, benchmarks=p, capabilities=k, path=prob.rank_path, swjax=swjax.__file__,
    batch={str(b): b or engine.default_batch_size(prob, n) for b in batches},
    first_seconds=first, ms_per_resample={str(b): 1e3 * float(np.median(v)) / n for b, v in times.items()},
    peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""

#: Models of the ``--models`` axis and the resamples timed at each (about a second each, before).
MODEL_SIZES = {26: 4000, 150: 2000, 1000: 512, 4500: 128, 20000: 32}


def _point(script, args, root=ROOT, device="auto"):
    import os

    env = {**os.environ, "PYTHONPATH": str(root)}
    if device == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
    # In the checkout's folder: ``python -c`` puts the working folder before PYTHONPATH.
    proc = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=root)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads([x for x in proc.stdout.splitlines() if x.startswith("POINT")][0][5:])


def slopes(ms: dict) -> dict:
    """Log-log slope of cost against models between neighbouring sizes: ``{m: slope from the
    size below}``."""
    import math

    ms = sorted(ms.items())
    return {b: math.log(tb / ta) / math.log(b / a) for (a, ta), (b, tb) in zip(ms, ms[1:])}


def models_axis(args):
    """``--models``: cost per resample against models, this checkout and ``--compare``'s."""
    import statistics

    versions = {"now": ROOT} | ({"before": Path(args.compare).resolve()} if args.compare else {})
    sizes = {m: MODEL_SIZES.get(m, 32) for m in map(int, args.sizes.split(","))}
    rows = {name: {} for name in versions}
    for m, n in sizes.items():
        got = {name: [] for name in versions}
        for _ in range(args.rounds):
            for name, root in versions.items():  # alternating, process by process
                got[name].append(_point(MODELS_POINT, (n, m, 7, 5, 3), root, args.device))
        for name, pts in got.items():
            rows[name][m] = dict(pts[0], ms_per_resample=statistics.median(p["ms_per_resample"]["None"] for p in pts),
                                 ms_per_resample_runs=[p["ms_per_resample"]["None"] for p in pts],
                                 peak_rss_mb=max(p["peak_rss_mb"] for p in pts))
        line = " ".join(f"{name} {rows[name][m]['ms_per_resample']:9.3f} ms {rows[name][m]['peak_rss_mb']:6.0f} MB"
                        for name in versions)
        ratio = f"  before/now {rows['before'][m]['ms_per_resample'] / rows['now'][m]['ms_per_resample']:6.1f}x" \
            if "before" in rows else ""
        print(f"{m:>6d} models x 7 ({rows['now'][m]['path']:>7s}, n={n:>4d}): {line}{ratio}", flush=True)
    slope = {name: slopes({m: r["ms_per_resample"] for m, r in rows[name].items()}) for name in versions}
    print("log-log slope of ms/resample against models, from the size below:")
    for m in list(sizes)[1:]:
        print(f"  {m:>6d}: " + "  ".join(f"{name} {slope[name][m]:5.2f}" for name in versions))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import jax

    device = jax.devices("cpu" if args.device == "cpu" else None)[0]
    result = {"device": str(device), "platform": device.platform, "compare": args.compare, "rounds": args.rounds,
              "rows": {name: {str(m): r for m, r in v.items()} for name, v in rows.items()},
              "slope": {name: {str(m): s for m, s in v.items()} for name, v in slope.items()}}
    (out / "models.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {out}/models.json")


def chunks_axis(args):
    """``--chunks M``: batch sizes at M models x 7 in one process, interleaved."""
    m = args.chunks
    batches = [4, 8, 16, 32, 64, 128, 256]
    r = _point(MODELS_POINT, (max(256, MODEL_SIZES.get(m, 256)), m, 7, 5, 5, ",".join(map(str, batches))))
    for b in batches:
        print(f"{m} models, {b:>4d} rows a chunk: {r['ms_per_resample'][str(b)]:8.3f} ms/resample")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"chunks_{m}.json").write_text(json.dumps(r, indent=1))


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
    ap.add_argument("--models", action="store_true", help="cost per resample against models (see above)")
    ap.add_argument("--compare", default=None, help="another checkout, timed beside this one (--models)")
    ap.add_argument("--rounds", type=int, default=2, help="processes of each checkout per size (--models)")
    ap.add_argument("--chunks", type=int, default=None, help="time batch sizes at this many models")
    ap.add_argument("--sizes", default=",".join(map(str, MODEL_SIZES)), help="models of --models, comma-separated")
    ap.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                    help="--models: cpu hides accelerators (JAX_PLATFORMS=cpu); auto/gpu: JAX's default device")
    args = ap.parse_args()
    if args.models:
        return models_axis(args)
    if args.chunks:
        return chunks_axis(args)
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
