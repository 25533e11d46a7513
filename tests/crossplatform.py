"""The same numbers on every platform: one fixed set of computations, run on a device, compared.

:func:`collect` runs, on one device (``"cpu"`` or ``"gpu"``) and in float32 or float64:

* the bootstrap weights of resamples ``0 .. n-1`` of a seed, drawn on that device from
  ``fold_in(key(seed), r)`` exactly as the engine draws them;
* the full-sample statistic, the jackknife over models and ``n`` bootstrap resamples through
  the engine (:func:`swjax.engine.run`: explicit rows and draws);
* for the public sets, the whole :func:`swjax.bootstrap` (BCa from the jackknife): its
  distribution and every interval bound of its table;

on the public base and chat sets and on random matrices with ties, missing cells and copies of
a model (:func:`tests.test_differential.random_matrix`), through both rank paths.
:func:`compare` then puts two collections side by side: integer arrays (the weights) must be
identical, floating ones equal within ``1e-5`` (float32) or ``1e-12`` (float64) of
``max(1, |value|)``, with NaN in the same places.

On a machine with a GPU (also what ``benchmarks/gpu_suite.py`` runs)::

    python -m tests.crossplatform --a cpu --b gpu --out benchmarks/results/gpu/crossplatform.json

Without one, ``tests/test_gpu.py`` compares a run on one CPU device with a run sharded over two
simulated CPU devices, so this code is exercised everywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

TOL = {"float32": 1e-5, "float64": 1e-12}

#: Random matrices: (seed, models, capability benchmarks, other benchmarks, style, rank path).
RANDOM_CASES = (
    (3, 30, 4, 3, "ties", "compare"),
    (8, 22, 3, 4, "mixed", "sort"),
    (13, 45, 5, 3, "continuous", "compare"),
    (21, 14, 3, 2, "ties", "sort"),
)
FULL_FIELDS = ("corr", "score", "loadings", "variance_explained", "mean_intercorr", "n_pairs")
TABLE_FIELDS = ("estimate", "low", "high", "se", "bias")


def _problems(quick: bool, dtype):
    """(name, problem, dataset or None) of every case."""
    import swjax
    from swjax.problem import build_problem

    from .test_differential import as_dataset, random_matrix

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for which in ("chat",) if quick else ("base", "chat"):
            ds = swjax.load_dataset(which)
            yield which, build_problem(ds, dtype=dtype)[0], ds
        for seed, m, k, s, style, path in RANDOM_CASES[:1] if quick else RANDOM_CASES:
            ds = as_dataset(random_matrix(seed, m, k, s, style))
            caps = [c for c in ds.scores.columns if c.startswith("cap")]
            yield f"random{seed}-{style}-{path}", build_problem(ds, caps, dtype=dtype, ranks=path)[0], None


def collect(device: str = "cpu", x64: bool = False, n: int = 256, seed: int = 7, quick: bool = False) -> dict:
    """Every array of the fixed computations on ``device``, keyed ``case/what/field``.

    ``quick``: the chat set and one random matrix only. Keys and shapes do not depend on the
    device, so two collections compare key by key.
    """
    import jax
    import jax.numpy as jnp

    import swjax
    from swjax import engine, resample

    out = {}
    dtype_name = "float64" if x64 else "float32"
    with warnings.catch_warnings(), engine.precision(x64):
        warnings.simplefilter("ignore")
        dev = engine.select_device(device)
        dtype = np.float64 if x64 else np.float32
        for name, problem, ds in _problems(quick, dtype):
            m, k = problem.caps.shape
            key = resample.key_from_seed(seed)
            scheme = resample.bootstrap_scheme(m)
            with jax.default_device(dev):
                index = jnp.arange(n, dtype=jnp.uint32)
                key_dev = jax.device_put(key, dev)
                w = jax.vmap(lambda i: scheme(jax.random.fold_in(key_dev, i)))(index)
                out[f"{name}/weights"] = np.asarray(w)
            full = engine.run(problem, np.ones((1, m)), fields=None, device=device)
            ref = full.loadings[0]
            for f in FULL_FIELDS:
                out[f"{name}/full/{f}"] = np.asarray(getattr(full, f))
            jack = engine.run(problem, resample.jackknife_weights(m), ref=ref, device=device)
            draws = engine.run(problem, draws=engine.Draws(scheme, n, key), ref=ref, device=device)
            for f in engine.RESAMPLE_FIELDS:
                out[f"{name}/jackknife/{f}"] = np.asarray(jack[f])
                out[f"{name}/resample/{f}"] = np.asarray(draws[f])
            if ds is not None:
                res = swjax.bootstrap(ds, n=n, seed=seed, device=device, x64=x64)
                out[f"{name}/bootstrap/distribution"] = np.asarray(res.distribution)
                for f in TABLE_FIELDS:
                    out[f"{name}/bootstrap/{f}"] = res.table[f].to_numpy(dtype=float)
        out["_meta/device"] = np.array(str(dev))
        out["_meta/dtype"] = np.array(dtype_name)
    return out


def _as_bool(x):
    return x.astype(np.int64) if x.dtype == bool else x


def compare(a: dict, b: dict, tol: float | None = None) -> list[dict]:
    """One row per key: the largest difference, the tolerance and whether it holds.

    Integer and boolean arrays must be identical; floating arrays must agree within ``tol``
    (default :data:`TOL` of the collection's dtype) times ``max(1, |a|)`` with NaN in the same
    places. A key missing on one side, or a shape that differs, fails.
    """
    if tol is None:
        tol = TOL[str(a.get("_meta/dtype", np.array("float32")))]
    rows = []
    for key in sorted(set(a) | set(b)):
        if key.startswith("_meta/"):
            continue
        row = dict(key=key, tol=tol, max_abs_diff=None, n_bad=None, ok=False, worst_index=None)
        rows.append(row)
        if key not in a or key not in b:
            row["problem"] = "missing on one side"
            continue
        x, y = _as_bool(np.asarray(a[key])), _as_bool(np.asarray(b[key]))
        if x.shape != y.shape:
            row["problem"] = f"shapes {x.shape} and {y.shape}"
            continue
        if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(y.dtype, np.floating):
            bad = x != y
            diff = np.abs(x.astype(np.int64) - y.astype(np.int64))
            row["tol"] = 0
        else:
            x, y = x.astype(np.float64), y.astype(np.float64)
            nan_x, nan_y = np.isnan(x), np.isnan(y)
            diff = np.where(nan_x | nan_y, 0.0, np.abs(x - y))
            bad = (nan_x != nan_y) | (diff > tol * np.maximum(1.0, np.abs(np.nan_to_num(x))))
        row["max_abs_diff"] = float(diff.max()) if diff.size else 0.0
        row["n_bad"] = int(bad.sum())
        row["ok"] = row["n_bad"] == 0
        if bad.any():
            row["worst_index"] = [int(i) for i in np.unravel_index(np.argmax(np.where(bad, diff, -1)), bad.shape)]
    return rows


def summary(rows: list[dict]) -> dict:
    """Totals of :func:`compare`: all ok, the weights identical, the largest float difference."""
    floats = [r["max_abs_diff"] for r in rows if r["tol"] and r["max_abs_diff"] is not None]
    return dict(
        ok=all(r["ok"] for r in rows),
        weights_identical=all(r["ok"] for r in rows if r["key"].endswith("/weights")),
        n_keys=len(rows),
        n_failed=sum(not r["ok"] for r in rows),
        max_float_diff=max(floats) if floats else None,
        failed=[r["key"] for r in rows if not r["ok"]],
    )


def save(collection: dict, path) -> None:
    np.savez(path, **{k.replace("/", "|"): v for k, v in collection.items()})


def load(path) -> dict:
    with np.load(path) as f:
        return {k.replace("|", "/"): f[k] for k in f.files}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Compare swjax's numbers on two devices.")
    parser.add_argument("--a", default="cpu", help="first device (cpu or gpu)")
    parser.add_argument("--b", default="gpu", help="second device")
    parser.add_argument("--n", type=int, default=256, help="resamples per case")
    parser.add_argument("--quick", action="store_true", help="the chat set and one random matrix")
    parser.add_argument("--save", type=Path, help="only collect on --a and save the arrays here (.npz)")
    parser.add_argument("--against", type=Path, nargs=2, help="compare two saved collections")
    parser.add_argument("--out", type=Path, help="write the comparison as JSON here")
    parser.add_argument("--dtype", choices=("both", "float32", "float64"), default="both")
    args = parser.parse_args(argv)
    dtypes = [(x64, label) for x64, label in ((False, "float32"), (True, "float64")) if args.dtype in ("both", label)]

    if args.save:
        for x64, _ in dtypes:
            save(collect(args.a, x64=x64, n=args.n, quick=args.quick), f"{args.save}.{'f64' if x64 else 'f32'}.npz")
        return 0
    report = {"n": args.n, "quick": args.quick}
    ok = True
    for x64, label in dtypes:
        if args.against:
            a, b = (load(f"{p}.{'f64' if x64 else 'f32'}.npz") for p in args.against)
        else:
            a = collect(args.a, x64=x64, n=args.n, quick=args.quick)
            b = collect(args.b, x64=x64, n=args.n, quick=args.quick)
        rows = compare(a, b)
        s = summary(rows)
        ok &= s["ok"]
        report[label] = dict(devices=[str(a["_meta/device"]), str(b["_meta/device"])], tol=TOL[label],
                             summary=s, rows=rows)
        print(f"{label}: {report[label]['devices'][0]} vs {report[label]['devices'][1]}: "
              f"{s['n_keys'] - s['n_failed']}/{s['n_keys']} arrays agree within {TOL[label]:g}; "
              f"largest difference {s['max_float_diff']:.2e}; weights identical: {s['weights_identical']}")
        for r in rows:
            if not r["ok"]:
                print(f"  FAILED {r['key']}: {r.get('problem') or ''} max diff {r['max_abs_diff']}, "
                      f"{r['n_bad']} entries, worst at {r['worst_index']}")
    report["ok"] = bool(ok)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
