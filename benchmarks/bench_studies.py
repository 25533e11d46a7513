"""Time the coverage study and ``plan`` (small configurations) as they ride on the engine.

    PYTHONPATH=$PWD python benchmarks/bench_studies.py [--repeats 2] [--compare OTHER_CHECKOUT]
        [--compare-python PY] [--json benchmarks/results/bench_studies.json]

Each repeat is a fresh process that calls each workload twice: the first call (tracing and
compiling, nothing cached) and a repeated one (compiled programs in memory):

* ``coverage``: 2 designs (plain, 9 families) x 100 datasets x 200 resamples;
* ``plan``: ``plan("chat", ["MT_Bench"], grid=[15, 26], datasets=40, n=200)``.

``--compare DIR`` times another checkout the same way in the same run (``PYTHONPATH=DIR``,
with ``--compare-python``'s interpreter if given) and prints the ratio. Prints a table and
writes JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench_cli import env_for, side_by_side, summary  # this folder is on the path when run as a script

ROOT = Path(__file__).resolve().parents[1]

WORK = r"""
import json, time, warnings
warnings.simplefilter("ignore")
from swjax.coverage import coverage
from swjax.plan import plan
from swjax.simulate import Design
out = {}
def twice(name, fn):
    for label in ("first", "repeated"):
        t = time.perf_counter(); fn(); out[f"{name}, {label} call"] = time.perf_counter() - t
twice("coverage", lambda: coverage([Design(), Design(families=9)], datasets=100, n=200, seed=1))
twice("plan", lambda: plan("chat", ["MT_Bench"], grid=[15, 26], datasets=40, n=200, seed=1))
print(json.dumps(out))
"""


def measure(checkout: Path, repeats: int, py: str) -> dict:
    env = env_for(checkout, "0")
    rows: dict[str, list[float]] = {}
    for _ in range(repeats):
        proc = subprocess.run([py, "-c", WORK], env=env, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{checkout}: failed\n{proc.stderr[-2000:]}")
        for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items():
            rows.setdefault(k, []).append(v)
    return summary(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--compare", type=Path, default=None)
    ap.add_argument("--compare-python", default=sys.executable)
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "bench_studies.json")
    args = ap.parse_args()
    this = measure(ROOT, args.repeats, sys.executable)
    other = measure(args.compare.resolve(), args.repeats, args.compare_python) if args.compare else None
    side_by_side(this, other, args, {}, width=32)
    return 0


if __name__ == "__main__":
    sys.exit(main())
