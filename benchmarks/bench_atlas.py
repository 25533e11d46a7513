"""Atlas cost: time and memory per 1,000 (benchmark, population) pairs.

    PYTHONPATH=$PWD python benchmarks/bench_atlas.py --populations 4 --benchmarks 60 --models 80 --n 1000

Writes ``--populations`` simulated leaderboards (``swjax.simulate`` draws of ``--models`` models:
8 capability benchmarks and ``--benchmarks`` others, one wide CSV each) into a temporary folder,
then runs ``swjax.atlas`` on them with no cache, in a fresh process per configuration (so the
peak resident memory is the atlas's own), and reports:

- ``seconds``: the whole atlas (reading, one bootstrap with permutations per population, the
  q-values), first run in the process (compiling included) and again warm in the same process;
- ``per 1,000 pairs``: the warm time scaled to 1,000 (benchmark, population) pairs;
- ``peak RSS``: the process's largest resident set (``resource.getrusage``), MiB.

Prints a table and writes ``benchmarks/results/atlas/bench_atlas.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "atlas"

CHILD = r"""
import json, resource, sys, time, warnings
sys.path.insert(0, {root!r})
import numpy as np
import swjax
from swjax.simulate import Design, draw, to_dataset

folder, populations, benchmarks, models, n, perms = {args!r}
caps = [f"cap_{{i}}" for i in range(1, 9)]
design = Design(n_models=models, capabilities=8, rho=tuple(np.linspace(-0.5, 0.95, benchmarks)))
paths = []
for p in range(populations):
    values = draw(design, models, np.random.default_rng(p))
    ds = to_dataset(design, values, label=f"board{{p}}")
    scores = ds.scores.copy()
    scores.index = [f"org{{i % 17}}/model-{{p}}-{{i}}" for i in range(models)]
    path = f"{{folder}}/board{{p}}.csv"
    scores.rename_axis("model").to_csv(path)
    paths.append(path)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    res = swjax.atlas(paths, capabilities=caps, n=n, permutations=perms, cache=False, min_models=20)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    swjax.atlas(paths, capabilities=caps, n=n, permutations=perms, cache=False, min_models=20)
    warm = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(dict(pairs=len(res.table), first_s=first, warm_s=warm, peak_mib=peak)))
"""


def run(populations: int, benchmarks: int, models: int, n: int, perms: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        code = CHILD.format(root=str(ROOT), args=(folder, populations, benchmarks, models, n, perms))
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row.update(populations=populations, benchmarks=benchmarks, models=models, n=n, permutations=perms,
               per_1000_pairs_s=row["warm_s"] * 1000 / row["pairs"])
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--populations", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--benchmarks", type=int, default=60)
    ap.add_argument("--models", type=int, default=80)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--permutations", type=int, default=1000)
    args = ap.parse_args()
    rows = [run(p, args.benchmarks, args.models, args.n, args.permutations) for p in args.populations]
    print(f"{'populations':>11} {'pairs':>6} {'first s':>8} {'warm s':>7} {'s / 1,000 pairs':>16} {'peak RSS MiB':>13}")
    for r in rows:
        print(f"{r['populations']:>11} {r['pairs']:>6} {r['first_s']:>8.1f} {r['warm_s']:>7.1f} "
              f"{r['per_1000_pairs_s']:>16.1f} {r['peak_mib']:>13.0f}")
    OUT.mkdir(parents=True, exist_ok=True)
    doc = dict(rows=rows, machine=dict(platform=platform.platform(), python=platform.python_version(),
                                       cpus=os.cpu_count(), load_average=os.getloadavg()))
    (OUT / "bench_atlas.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {OUT / 'bench_atlas.json'}")


if __name__ == "__main__":
    main()
