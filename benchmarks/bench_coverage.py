"""Time the full coverage study and write its table: R datasets x B resamples per design.

    PYTHONPATH=$PWD python benchmarks/bench_coverage.py                # R = 2000, B = 1000
    PYTHONPATH=$PWD python benchmarks/bench_coverage.py --datasets 200 --n 200
    PYTHONPATH=$PWD python benchmarks/bench_coverage.py --large-families 20   # + m = 60 designs
    PYTHONPATH=$PWD python benchmarks/bench_coverage.py --device gpu   # -> benchmarks/results/gpu/coverage/
    PYTHONPATH=$PWD python benchmarks/bench_coverage.py --groups near-one,few --datasets 1000 --n 500 \
        --methods bca,percentile,jackknife-t,cluster-t,jackknife-t-z,cluster-t-z --out DIR
    PYTHONPATH=$PWD python benchmarks/bench_coverage.py --markdown DIR/coverage.json ...  # the table of docs/coverage.md

Designs: m = 26 models (the public chat set's size), 8 capability benchmarks loading 0.85,
three safety benchmarks at population correlations near 0.3, 0.65 and 0.87, each plain, with
heteroscedastic noise, with 9 model families, and with both; family designs are resampled by
models and by families. ``--large-families G`` adds m = 60 models in G families, without and
with heteroscedastic noise. ``--groups`` picks other designs (:data:`GROUPS`): near |r| = 1 with
families, 3 and 5 families, 150 models in 47 unequal families and 500 in 100, a capability
benchmark correlated with the score it is part of (``capability``) and a benchmark observed
for 70 % of the models (``partial``). Methods: BCa, percentile, jackknife-t and cluster-t (``--methods``). Prints the table and the seconds per design and writes
coverage.json, coverage.csv and coverage.png to --out. Timings depend on what else runs on the
machine: the JSON records the CPU count and the load average at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from swjax.coverage import coverage, format_table
from swjax.writers import write_coverage
from swjax.simulate import Design, population


#: Design groups (``--groups``): name -> designs given the --hetero and --families options.
GROUPS = {
    # m = 26: plain, heteroscedastic, 9 families, both
    "base": lambda h, f: [Design(), Design(hetero=h), Design(families=f), Design(families=f, hetero=h)],
    # near |r| = 1 with families: population correlations 0.9 and 0.97 at 9 families, and 0.97 and
    # 0.99 (capability benchmarks loading 0.95) at 27 models in 17 families
    "near-one": lambda h, f: [Design(families=f, rho=(0.9, 0.97)),
                              Design(n_models=27, families=17, loading=0.95, rho=(0.97, 0.99))],
    # the fewest families the tool accepts (it warns below 10)
    "few": lambda h, f: [Design(families=3), Design(families=5)],
    # many models and families: 150 models in 47 unequal families (1 to 24 models), 500 in 100
    "many": lambda h, f: [Design(n_models=150, families=47, family_skew=1.0)],
    "many-500": lambda h, f: [Design(n_models=500, families=100)],
    # "base" split: independent models, and its family designs; m = 60 models in 20 families
    "independent": lambda h, f: [Design(), Design(hetero=h)],
    "family-base": lambda h, f: [Design(families=f), Design(families=f, hetero=h)],
    "large": lambda h, f: [Design(n_models=60, families=20), Design(n_models=60, families=20, hetero=h)],
    # m = 60 independent models, the control of the imputation study's 60-model designs
    "large-independent": lambda h, f: [Design(n_models=60)],
    # a capability benchmark correlated with the score it is part of (cap_1, beside the safety
    # benchmarks), without and with families
    "capability": lambda h, f: [Design(capability_targets=1), Design(families=f, capability_targets=1)],
    # a benchmark present for only part of the models: 30 % of safety cells missing at random
    "partial": lambda h, f: [Design(missing=0.3), Design(families=f, missing=0.3)],
}


def designs(hetero: float, families: int, large_families: int = 0, groups=("base",)):
    out = [d for g in groups for d in GROUPS[g](hetero, families)]
    if large_families:
        out += [Design(n_models=60, families=large_families),
                Design(n_models=60, families=large_families, hetero=hetero)]
    return out


def _target(row) -> str:
    """A row's label: the requested rho of a safety benchmark; a capability target's name and
    population value (it has no requested rho)."""
    if row.rho == row.rho:
        return f"{row.rho:g}"
    return f"{row.benchmark} (truth {row.truth:.2f})"


def markdown(paths, methods) -> str:
    """The table of docs/coverage.md from coverage.json files: per (design, scheme, method) the coverage %
    (misses below / above) of each safety benchmark, the mean widths and, for family designs,
    the width relative to the model bootstrap's BCa interval (median / 95th percentile)."""
    import json

    import pandas as pd

    lines = ["| design | R x B | bootstrap over | method | coverage % (below / above) at rho ~ | mean width "
             "| width / model BCa, median (95th percentile) |", "|---|---|---|---|---|---|---|"]
    for path in paths:
        payload = json.loads(Path(path).read_text())
        md = payload["metadata"]
        rows = pd.DataFrame(payload["rows"])
        # "scheme/method" keeps that pair only, "method" the method under every scheme
        keep = [f"{sc}/{me}" in methods or me in methods for sc, me in zip(rows["scheme"], rows["method"])]
        rows = rows[keep]
        for (design, scheme, method), g in rows.groupby(["design", "scheme", "method"], sort=False):
            cov = " / ".join(f"{_target(r)}: {100 * r.coverage:.1f} ({100 * r.miss_below:.1f} / {100 * r.miss_above:.1f})"
                             for r in g.itertuples())
            if method == "cluster-t":
                cov = f"**{cov}**"
            width = " / ".join(f"{w:.2f}" for w in g["width"])
            ratio = (" / ".join(f"{a:.2f} ({b:.2f})" for a, b in zip(g["width_ratio"], g["width_ratio_p95"]))
                     if "width_ratio" in g and g["width_ratio"].notna().all() else "")
            lines.append(f"| {design} | {md['datasets']} x {md['n']} | {scheme} | {method} | {cov} | {width} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=2000)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--hetero", type=float, default=0.5)
    parser.add_argument("--families", type=int, default=9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--large-families", type=int, default=0, help="add m = 60 designs with this many families")
    parser.add_argument("--groups", default="base", help=f"design groups, comma-separated: {', '.join(GROUPS)}")
    parser.add_argument("--methods", default="bca,percentile,jackknife-t,cluster-t")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--device", default="auto", help="auto, cpu or gpu (the engine's choice)")
    parser.add_argument("--markdown", nargs="+", type=Path, default=None,
                        help="print the docs/coverage.md table of these coverage.json files (of --methods, each a method "
                             "or scheme/method) and stop")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(args.markdown, [m.strip() for m in args.methods.split(",")]))
        return
    from swjax.engine import select_device

    device = select_device(args.device)
    if args.out is None:
        gpu = device.platform == "gpu"
        args.out = Path("benchmarks/results/gpu/coverage" if gpu else "benchmarks/results/coverage")

    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        parser.error(f"--groups: unknown group {unknown[0]!r}; expected some of {', '.join(GROUPS)}")
    ds = designs(args.hetero, args.families, args.large_families, groups)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    for d in ds:  # populations (200,000 models each) are cached; timed apart from the study
        population(d)
    t_pop = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = coverage(ds, datasets=args.datasets, n=args.n, seed=args.seed, methods=args.methods, progress=print,
                      device=args.device)
    t_study = time.perf_counter() - t1
    result.metadata.update(
        populations_seconds=t_pop, study_seconds=t_study, cpu_count=os.cpu_count(),
        load_average_start=load0, load_average_end=os.getloadavg(), device_kind=device.device_kind,
    )
    print(format_table(result.table).to_string(index=False))
    resamples = args.datasets * args.n
    print(f"\npopulations: {t_pop:.1f} s")
    for label, sec in result.metadata["seconds"].items():
        print(f"{label:28s} {sec:7.1f} s")
    print(
        f"study: {t_study:.1f} s for {len(ds)} designs x {args.datasets} datasets x {args.n} resamples "
        f"({resamples:,} resamples per scheme); {os.cpu_count()} CPUs, load {load0[0]:.1f} -> "
        f"{os.getloadavg()[0]:.1f}"
    )
    write_coverage(result, args.out, argv=["benchmarks/bench_coverage.py", *os.sys.argv[1:]])
    print(f"wrote {args.out}/")


if __name__ == "__main__":
    main()
