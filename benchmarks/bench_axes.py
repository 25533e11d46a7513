"""Which capability? ``axes`` under five capability measures against one ``bootstrap``, and the
main table under every measure.

    PYTHONPATH=$PWD python benchmarks/bench_axes.py --n 10000

In one process, on each public set: ``swjax.bootstrap`` (the paper's score) and ``swjax.axes``
(paper, pearson, mean-z, irt, compute; the main-table benchmarks), each run once to compile and
then timed warm, best of ``--repeat``; prints the ratio axes / bootstrap and each measure's own
share, and writes ``benchmarks/results/axes/bench_axes.json`` and, per set, the main table under
every measure (``main_SET.csv``: estimate, interval, verdict per measure; ``robustness``) with the
benchmarks whose verdict depends on the measure, and the differences between measures
(``differences_SET.csv``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "benchmarks" / "results" / "axes"

import swjax  # noqa: E402


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--sets", nargs="+", default=["chat", "base"])
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    warnings.simplefilter("ignore")
    for name in args.sets:
        ds = swjax.load_dataset(name)
        swjax.bootstrap(ds, n=args.n, seed=0)  # compile
        res = swjax.axes(ds, n=args.n, seed=0)  # compile every measure
        t_boot, _ = best(lambda: swjax.bootstrap(ds, n=args.n, seed=0), args.repeat)
        t_axes, res = best(lambda: swjax.axes(ds, n=args.n, seed=0), args.repeat)
        per = res.metadata["seconds"]
        rows.append(dict(set=name, n=args.n, bootstrap_s=t_boot, axes_s=t_axes, ratio=t_axes / t_boot,
                         measures=res.metadata["scores"], seconds_per_measure=per))
        wide = res.table.join(res.verdicts[["robustness"]], on="benchmark")
        wide.to_csv(OUT / f"main_{name}.csv")
        res.differences.to_csv(OUT / f"differences_{name}.csv")
        changed = res.verdicts[res.verdicts["robustness"] != "robust"]
        print(f"{name}: axes {t_axes:.2f} s, bootstrap {t_boot:.2f} s, ratio {t_axes / t_boot:.1f}x "
              f"({len(res.metadata['scores'])} measures); per measure: "
              + ", ".join(f"{m} {s:.2f} s" for m, s in per.items()))
        print(f"  {len(res.verdicts)} main-table benchmarks, verdict depends on the measure for {len(changed)}:")
        for b, row in changed.iterrows():
            print(f"    {b}: " + ", ".join(f"{m} {row[m]}" for m in res.metadata["scores"]))
        moved = res.differences[res.differences["excludes_zero"]]
        print(f"  {len(moved)} of {len(res.differences)} differences between measures exclude 0")
    doc = dict(rows=rows, machine=dict(platform=platform.platform(), python=platform.python_version(),
                                       cpus=os.cpu_count(), load_average=os.getloadavg()),
               versions={"swjax": swjax.__version__})
    (OUT / "bench_axes.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
