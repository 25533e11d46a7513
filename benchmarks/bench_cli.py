"""Whole-process timings of the command line: what a user waits for, by phase.

    PYTHONPATH=$PWD python benchmarks/bench_cli.py [--repeats 3] [--n 10000] \\
        [--compare OTHER_CHECKOUT] [--json benchmarks/results/bench_cli.json]

Each row is a fresh ``python -m swjax ...`` (or ``python -c ...``) process, min and median of
``--repeats`` runs, wall-clock:

* ``swjax --help``, ``swjax bootstrap --help``, ``swjax --version``;
* ``import swjax`` (the lazy package), ``import swjax.cli`` (typer and the commands) and
  ``import jax`` alone (the floor of any command that computes);
* ``swjax bootstrap --set both --n N`` first (an empty compilation cache: everything compiles)
  and repeated (the persistent cache from the first run), each to a fresh ``--out`` folder;
* the phases of that command inside one process (the imports, library by library, ``data``,
  the first ``bootstrap`` call of each set, which traces and compiles, a repeated call, and the
  terminal tables' rendering), so a slow row can be read; then the same with the first run's
  compilation cache, where the first call loads its programs, as a repeated command does. What
  a process's total has beyond its phases is the interpreter's start and end.

``--compare DIR`` runs every row with that checkout too (``PYTHONPATH=DIR``), side by side
with this one in the same run, and prints the ratio; ``--compare-python PY`` runs it with the
interpreter of that checkout's own environment (the dependency versions a fresh install of it
gets), the default being this one. Prints a table and writes JSON, with the versions of JAX,
ml_dtypes, numpy and pandas on each side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PHASES = r"""
import json, sys, time, io
t0 = time.perf_counter(); out = {}
import swjax
from swjax import cli
getattr(cli, "use_compile_cache", lambda: None)()  # as the command does: SWJAX_COMPILE_CACHE
out["import: swjax.cli, typer"] = time.perf_counter() - t0
for name in ("numpy", "pandas", "jax", "scipy.linalg", "scipy.special"):
    t = time.perf_counter(); __import__(name); out[f"import: {name}"] = time.perf_counter() - t
t = time.perf_counter(); data = [swjax.load_dataset(s) for s in ("base", "chat")]; out["data"] = time.perf_counter() - t
n = int(sys.argv[1])
t = time.perf_counter(); res = [swjax.bootstrap(d, n=n) for d in data]; out["bootstrap, first call"] = time.perf_counter() - t
t = time.perf_counter(); res = [swjax.bootstrap(d, n=n) for d in data]; out["bootstrap, repeated"] = time.perf_counter() - t
from swjax import tables
t = time.perf_counter()
for r in res:
    tables.bootstrap_rich(r, file=io.StringIO())
out["render"] = time.perf_counter() - t
print(json.dumps(out))
"""


def run(cmd, env, cwd):
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def env_for(checkout: Path, cache: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(checkout)
    env["SWJAX_COMPILE_CACHE"] = cache
    env.setdefault("SWJAX_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    return env


def versions(py: str) -> dict:
    """The versions of the packages that decide start-up time, in the environment of ``py``."""
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({p: m.version(p) for p in ('jax', 'jaxlib', 'ml_dtypes', 'numpy', 'pandas')}))")
    return json.loads(subprocess.run([py, "-c", code], capture_output=True, text=True, check=True).stdout)


def measure(checkout: Path, n: int, repeats: int, py: str = sys.executable) -> dict:
    rows: dict[str, list[float]] = {}
    work = Path(tempfile.mkdtemp(prefix="swjax-bench-cli-"))
    try:
        plain = env_for(checkout, "0")
        simple = {
            "swjax --help": [py, "-m", "swjax", "--help"],
            "swjax bootstrap --help": [py, "-m", "swjax", "bootstrap", "--help"],
            "swjax --version": [py, "-m", "swjax", "--version"],
            "import swjax": [py, "-c", "import swjax"],
            "import swjax.cli": [py, "-c", "import swjax.cli"],
            "import jax": [py, "-c", "import jax"],
        }
        for name, cmd in simple.items():
            rows[name] = [run(cmd, plain, work)[0] for _ in range(repeats)]
        first, again = [], []
        for r in range(repeats):
            cache = work / f"cache{r}"
            env = env_for(checkout, str(cache))
            boot = [py, "-m", "swjax", "bootstrap", "--set", "both", "--n", str(n)]
            first.append(run(boot + ["--out", str(work / f"first{r}")], env, work)[0])
            again.append(run(boot + ["--out", str(work / f"again{r}")], env, work)[0])
        rows[f"swjax bootstrap --set both --n {n}, first"] = first
        rows[f"swjax bootstrap --set both --n {n}, repeated"] = again
        phases: dict[str, list[float]] = {}
        for label, cache in (("phase", lambda r: "0"), ("repeated run's phase", lambda r: str(work / f"cache{r}"))):
            for r in range(repeats):  # no cache: everything compiles; the first run's cache: it loads
                _, out = run([py, "-c", PHASES, str(n)], env_for(checkout, cache(r)), work)
                for k, v in json.loads(out.strip().splitlines()[-1]).items():
                    phases.setdefault(f"  {label}: {k}", []).append(v)
        rows.update(phases)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summary(rows)


def summary(rows: dict[str, list[float]]) -> dict:
    """Each row's runs with their min and median."""
    return {k: dict(min=min(v), median=statistics.median(v), runs=v) for k, v in rows.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--compare", type=Path, default=None, help="another checkout, timed side by side")
    ap.add_argument("--compare-python", default=sys.executable,
                    help="the interpreter of the other checkout's own environment (default: this one)")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "bench_cli.json")
    args = ap.parse_args()
    this = measure(ROOT, args.n, args.repeats)
    other = measure(args.compare.resolve(), args.n, args.repeats, args.compare_python) if args.compare else None
    info = dict(n=args.n, versions=versions(sys.executable),
                compare_versions=versions(args.compare_python) if args.compare else None)
    side_by_side(this, other, args, info)
    return 0


def side_by_side(this: dict, other: dict | None, args, info: dict, width: int = 52) -> None:
    """Print this checkout's rows (min and median seconds) beside the other's with the ratio of
    medians, and write them to ``args.json`` with the machine and ``info``."""
    head = f"{'what':{width}s} {'min s':>7s} {'median s':>9s}"
    if other:
        head += f" {'other min':>10s} {'other med':>10s} {'other/this':>10s}"
    print(head)
    for name, r in this.items():
        line = f"{name:{width}s} {r['min']:7.2f} {r['median']:9.2f}"
        if other and name in other:
            o = other[name]
            line += f" {o['min']:10.2f} {o['median']:10.2f} {o['median'] / r['median']:10.2f}"
        print(line)
    info = dict(python=platform.python_version(), machine=platform.machine(), cpus=os.cpu_count(),
                repeats=args.repeats, compare=str(args.compare) if args.compare else None, **info)
    print(info)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"this": this, "other": other, **info}, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
