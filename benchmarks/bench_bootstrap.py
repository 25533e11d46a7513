"""Time swjax.bootstrap against a numpy/scipy loop over resamples, side by side in one run.

    python benchmarks/bench_bootstrap.py [--n 10000] [--loop-n 300] [--repeats 3] [--out FILE]
                                         [--device auto|cpu|gpu] [--skip-cli]

Measured, for both public model sets:

* swjax warm: ``swjax.bootstrap(set, n)`` (BCa with the whole-pipeline jackknife, intervals,
  table), best of ``--repeats`` calls after a first one that compiles;
* swjax cold: the same in a fresh process (import, data, compile, run), first call only;
* the CLI process: ``swjax bootstrap --set both --n N --out DIR`` end to end (subprocess),
  first with an empty compilation cache, then again (the command line keeps compiled
  functions in JAX's persistent cache);
* ``scipy.stats.bootstrap`` (BCa, ``vectorized=True``) on the same statistic, written as a
  vectorized numpy pipeline over a batch of resampled model indices (ranks by
  ``scipy.stats.rankdata`` along the models, batched ``numpy.linalg.eigh``); each of
  ``--scipy-batches`` timed and the best kept; the batch statistic is checked against the loop
  below on the same resamples;
* the minimal FLOP floor: the arithmetic a minimal algorithm needs per resample, from the data's
  shape (:func:`flop_floor`), at this machine's float32 matrix-product speed measured in the
  same run;
* a numpy/scipy loop: the released pipeline per resample (rows drawn, z-scores, scipy Spearman
  matrix, numpy eigh, score, scipy rank correlations vectorized over benchmarks), on
  ``--loop-n`` resamples per set, timed and scaled to n per resample. The loop replays the
  resamples swjax drew (same model counts), and the benchmark checks that both give the same
  correlations, so the comparison is between two implementations of one computation;
* the family-aware intervals, warm in the same process, as a ratio to BCa's warm time:
  ``cluster-t`` (the default with ``--families public``: the cluster bootstrap, the model
  bootstrap for its BCa interval, and both jackknives) and ``jackknife-t`` over families.

Prints a table and writes JSON (default benchmarks/results/bench_bootstrap.json, or
benchmarks/results/gpu/bench_bootstrap.json when the device is a GPU; the JSON names the device).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
SETS = ("base", "chat")


def numpy_pipeline(values: np.ndarray, caps: list[int], ref: np.ndarray) -> np.ndarray:
    """The pipeline on a resampled matrix (rows = drawn models), correlations of every column."""
    cap = values[:, caps]
    sd = cap.std(axis=0)
    z = (cap - cap.mean(axis=0)) / sd
    rho = stats.spearmanr(cap).statistic
    _, vecs = np.linalg.eigh(rho)
    pc = vecs[:, -1]
    pc = pc if pc @ ref >= 0 else -pc
    score = (z * pc).sum(axis=1)
    out = np.full(values.shape[1], np.nan)
    complete = ~np.isnan(values).any(axis=0)
    # Complete columns: one vectorized rank + Pearson for all of them.
    r = stats.rankdata(values[:, complete], axis=0)
    s = stats.rankdata(score)
    rc = r - r.mean(axis=0)
    sc = s - s.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        out[complete] = (rc * sc[:, None]).sum(axis=0) / np.sqrt((rc**2).sum(axis=0) * (sc**2).sum())
    for j in np.flatnonzero(~complete):  # pairwise-complete columns (one or two per set)
        ok = ~np.isnan(values[:, j])
        if ok.sum() >= 3:
            out[j] = stats.spearmanr(values[ok, j], score[ok]).statistic
    return out


def batch_pipeline(values: np.ndarray, caps: list[int], ref: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The pipeline on a batch of resamples at once: ``idx`` (..., m) drawn model indices.

    Returns (columns, ...) correlations (scipy.stats.bootstrap's layout: statistic first).
    Pairwise-complete columns are ranked with ``nan_policy="omit"``, the score over the same
    models, as :func:`numpy_pipeline` does column by column.
    """
    lead = idx.shape[:-1]
    idx = idx.reshape(-1, idx.shape[-1])
    x = values[idx]  # (B, m, q)
    cap = x[:, :, caps]
    z = (cap - cap.mean(axis=1, keepdims=True)) / cap.std(axis=1, keepdims=True)
    rc = stats.rankdata(cap, axis=1)
    rc -= rc.mean(axis=1, keepdims=True)
    cov = np.einsum("bmi,bmj->bij", rc, rc)
    sd = np.sqrt(np.einsum("bii->bi", cov))
    _, vecs = np.linalg.eigh(cov / (sd[:, :, None] * sd[:, None, :]))
    pc = vecs[:, :, -1]
    pc *= np.where(pc @ ref < 0, -1.0, 1.0)[:, None]
    score = np.einsum("bmk,bk->bm", z, pc)
    ok = np.isfinite(x)
    xr = stats.rankdata(x, axis=1, nan_policy="omit")
    sr = stats.rankdata(np.where(ok, score[:, :, None], np.nan), axis=1, nan_policy="omit")
    cnt = ok.sum(axis=1)
    xr -= np.nansum(xr, axis=1, keepdims=True) / cnt[:, None]
    sr -= np.nansum(sr, axis=1, keepdims=True) / cnt[:, None]
    num = np.nansum(xr * sr, axis=1)
    out = num / np.sqrt(np.nansum(xr**2, axis=1) * np.nansum(sr**2, axis=1))
    out[cnt < 3] = np.nan
    return out.T.reshape(values.shape[1], *lead)


def set_arrays(which: str):
    """(scores of the analysed models and columns, capability column indices, full-sample PC1,
    model count) of a public set, for the numpy references."""
    import swjax
    from swjax.analysis import prepare

    ds = swjax.load_dataset(which)
    _, layout = prepare(ds, x64=True)
    values = ds.scores.loc[list(layout.models), list(layout.benchmarks)].to_numpy()
    caps = [layout.benchmarks.index(c) for c in layout.capabilities]
    ref = swjax.analyze(ds, x64=True).loadings.to_numpy()
    return values, caps, ref, len(layout.models)


def scipy_bootstrap(which: str, n: int, seed: int, batches: list[int]):
    """Best time of ``scipy.stats.bootstrap`` (BCa, vectorized) over ``batches``; and the
    largest difference between the batch statistic and the loop on swjax's resamples."""
    values, caps, ref, m = set_arrays(which)

    def statistic(idx, axis=-1):
        return batch_pipeline(values, caps, ref, np.moveaxis(np.asarray(idx), axis, -1))

    times = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        rng = np.random.default_rng(seed)
        check = rng.integers(0, m, size=(20, m))
        diff = float(np.nanmax(np.abs(statistic(check).T - np.stack([numpy_pipeline(values[i], caps, ref) for i in check]))))
        for batch in batches:
            start = time.perf_counter()
            stats.bootstrap((np.arange(m),), statistic, vectorized=True, n_resamples=n, batch=batch,
                            method="BCa", confidence_level=0.95, rng=np.random.default_rng(seed))
            times[batch] = time.perf_counter() - start
    return times, diff


def flop_floor(q: int, m: int, k: int, power_steps: int = 20) -> int:
    """Arithmetic per resample of a minimal algorithm for the statistic (q ranked columns,
    m models, k capability benchmarks), counting a comparison of a sort as one operation.

    Ranks of the k capability columns and of the q ranked columns (``m log2 m`` each), the
    capability Spearman matrix from centred ranks (``2 m k^2``), z-scores (``3 m k``), PC1 by
    ``power_steps`` matrix-vector products (``2 k^2`` each), the score (``2 m k``) and its
    ranks, and each column's correlation with the score's ranks (``4 m`` each).
    """
    import math

    sort = m * math.log2(m)
    return int((k + q + 1) * sort + 2 * m * k * k + 3 * m * k + 2 * k * k * power_steps + 2 * m * k + 4 * q * m)


def matmul_flops(size: int = 1024, repeats: int = 5) -> float:
    """This machine's float32 matrix-product speed (FLOP/s), best of ``repeats``."""
    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def loop_bootstrap(which: str, n_loop: int, seed: int):
    """Time the numpy loop on the first ``n_loop`` resamples swjax draws for ``seed``."""
    import jax

    from swjax import resample

    values, caps, ref, m = set_arrays(which)
    key = resample.key_from_seed(seed)
    scheme = resample.bootstrap_scheme(m)
    counts = [np.asarray(scheme(jax.random.fold_in(key, r))) for r in range(n_loop)]
    rows = [np.repeat(np.arange(m), c) for c in counts]
    start = time.perf_counter()
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.stack([numpy_pipeline(values[idx], caps, ref) for idx in rows])
    return time.perf_counter() - start, dist


def swjax_warm(n: int, seed: int, repeats: int, device: str = "auto"):
    import swjax

    runs = {}
    for which in SETS:
        swjax.bootstrap(which, n=n, seed=seed, device=device)  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for which in SETS:
            runs[which] = swjax.bootstrap(which, n=n, seed=seed, device=device)
        times.append(time.perf_counter() - start)
    return min(times), times, runs


def swjax_warm_families(n: int, seed: int, repeats: int, method: str):
    """Best warm time of both sets with ``--families public`` and ``method``."""
    import swjax

    fams = {which: swjax.family_labels(which, families="public") for which in SETS}
    for which in SETS:
        swjax.bootstrap(which, n=n, seed=seed, clusters=fams[which], method=method)  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for which in SETS:
            swjax.bootstrap(which, n=n, seed=seed, clusters=fams[which], method=method)
        times.append(time.perf_counter() - start)
    return min(times), times


COLD = """
import time, warnings
t = time.perf_counter()
import swjax
warnings.simplefilter("ignore")
for s in ("base", "chat"):
    swjax.bootstrap(s, n={n}, seed={seed}, device="{device}")
print(time.perf_counter() - t)
"""


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--loop-n", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--device", default="auto", help="auto, cpu or gpu (the engine's choice)")
    parser.add_argument("--skip-cli", action="store_true", help="leave out the two CLI processes")
    parser.add_argument("--scipy-batches", default="250,1000,4000",
                        help="batch sizes of scipy.stats.bootstrap to time (comma-separated)")
    args = parser.parse_args(argv)

    import warnings

    warnings.simplefilter("ignore")
    import jax

    cold = float(subprocess.run(
        [sys.executable, "-c", COLD.format(n=args.n, seed=args.seed, device=args.device)],
        capture_output=True, text=True, check=True,
    ).stdout.split()[-1])
    cli_times = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SWJAX_COMPILE_CACHE=str(Path(tmp) / "xla"))  # starts empty
        for i in range(0 if args.skip_cli else 2):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "swjax.cli", "bootstrap", "--set", "both", "--n", str(args.n),
                 "--seed", str(args.seed), "--device", args.device, "--out", str(Path(tmp) / f"run{i}")],
                capture_output=True, check=True, env=env,
            )
            cli_times.append(time.perf_counter() - start)
    cli_first, cli = cli_times or (float("nan"), float("nan"))

    # The device is looked up only now: on a GPU, this process then holds JAX's preallocated
    # share of the GPU memory, which the cold and CLI processes above needed for themselves.
    from swjax import engine

    device = engine.select_device(args.device)
    if args.out is None:
        folder = HERE / "results" / ("gpu" if device.platform == "gpu" else "")
        args.out = folder / "bench_bootstrap.json"
    warm, warm_all, runs = swjax_warm(args.n, args.seed, args.repeats, args.device)
    family_methods = {}
    for method in ("cluster-t", "jackknife-t"):
        best, every = swjax_warm_families(args.n, args.seed, args.repeats, method)
        family_methods[method] = {"warm_seconds": best, "warm_all_seconds": every, "ratio_to_bca": best / warm}
    warm_again, _, _ = swjax_warm(args.n, args.seed, args.repeats, args.device)  # BCa again: the load did not drift

    loop_seconds, max_diff = 0.0, 0.0
    for which in SETS:
        seconds, dist = loop_bootstrap(which, args.loop_n, args.seed)
        loop_seconds += seconds
        ours = runs[which].distribution[: args.loop_n]
        max_diff = max(max_diff, float(np.nanmax(np.abs(ours - dist))))
    loop_scaled = loop_seconds / args.loop_n * args.n

    batches = [int(b) for b in args.scipy_batches.split(",")]
    scipy_times, scipy_diff = {b: 0.0 for b in batches}, 0.0
    for which in SETS:
        times, diff = scipy_bootstrap(which, args.n, args.seed, batches)
        scipy_diff = max(scipy_diff, diff)
        for b in batches:
            scipy_times[b] += times[b]
    scipy_best_batch = min(scipy_times, key=scipy_times.get)
    scipy_best = scipy_times[scipy_best_batch]
    peak = matmul_flops()
    floor_flop = 0
    for which in SETS:
        from swjax.analysis import prepare

        problem, layout = prepare(which)
        q, m = problem.obs.shape
        floor_flop += flop_floor(q, m, len(layout.capabilities)) * args.n
    floor_seconds = floor_flop / peak

    result = {
        "n": args.n,
        "sets": list(SETS),
        "method": "bca",
        "swjax_warm_seconds": warm,
        "swjax_warm_all_seconds": warm_all,
        "swjax_cold_seconds": cold,
        "cli_process_seconds_first_run": cli_first,
        "cli_process_seconds": cli,
        "numpy_loop_resamples_timed": args.loop_n,
        "numpy_loop_seconds_timed": loop_seconds,
        "numpy_loop_seconds_scaled_to_n": loop_scaled,
        "speedup_warm_vs_numpy_loop": loop_scaled / warm,
        "max_abs_diff_vs_numpy_loop": max_diff,
        "scipy_bootstrap_seconds_by_batch": scipy_times,
        "scipy_bootstrap_best_batch": scipy_best_batch,
        "scipy_bootstrap_best_seconds": scipy_best,
        "speedup_warm_vs_scipy_bootstrap": scipy_best / warm,
        "max_abs_diff_scipy_statistic_vs_loop": scipy_diff,
        "flop_floor_total": floor_flop,
        "matmul_flops_per_second": peak,
        "flop_floor_seconds": floor_seconds,
        "warm_over_flop_floor": warm / floor_seconds,
        "families_public": family_methods,
        "swjax_warm_seconds_after_families": warm_again,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "jax": jax.__version__,
            "device": str(device),
            "device_kind": device.device_kind,
            "batch_size": runs[SETS[0]].metadata["batch_size"],
            "loadavg_1min": os.getloadavg()[0],
        },
    }
    rows = [
        ("swjax.bootstrap, both sets, warm (best)", f"{warm:.3f} s"),
        ("swjax.bootstrap, both sets, cold process", f"{cold:.2f} s"),
        ("CLI process, first run (empty compile cache)", f"{cli_first:.2f} s"),
        ("CLI process, later runs (swjax bootstrap --set both --out)", f"{cli:.2f} s"),
        (f"numpy/scipy loop, {args.loop_n} resamples/set, scaled to n", f"{loop_scaled:.1f} s"),
        ("speed-up, warm swjax vs numpy loop", f"{loop_scaled / warm:.0f}x"),
        ("max |swjax - numpy loop| on the same resamples", f"{max_diff:.1e}"),
        (f"scipy.stats.bootstrap BCa vectorized, best batch {scipy_best_batch}", f"{scipy_best:.2f} s"),
        ("speed-up, warm swjax vs scipy.stats.bootstrap", f"{scipy_best / warm:.0f}x"),
        ("max |scipy batch statistic - numpy loop|", f"{scipy_diff:.1e}"),
        (f"FLOP floor ({floor_flop / 1e9:.2f} GFLOP at {peak / 1e9:.0f} GFLOP/s)", f"{1e3 * floor_seconds:.1f} ms"),
        ("warm swjax / FLOP floor", f"{warm / floor_seconds:.0f}x"),
        *[(f"--families public, {m}, warm (best); ratio to BCa", f"{v['warm_seconds']:.3f} s  {v['ratio_to_bca']:.2f}x")
          for m, v in family_methods.items()],
        ("BCa warm again after the family runs", f"{warm_again:.3f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"bootstrap n={args.n}, BCa, both sets; {device} ({device.device_kind}); load {os.getloadavg()[0]:.1f}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>10}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
