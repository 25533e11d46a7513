"""Where the time goes: a ``jax.profiler`` trace of one workload and a summary of its top ops.

    PYTHONPATH=$PWD python benchmarks/profile_trace.py run bootstrap --n 1000000 --device gpu \\
        --out benchmarks/results/gpu/profile/bootstrap_1e6
    PYTHONPATH=$PWD python benchmarks/profile_trace.py summarize benchmarks/results/gpu/profile/bootstrap_1e6

``run`` warms the workload up (compiles), then traces one more call with ``jax.profiler.trace``
and writes ``summary.json`` next to the trace. ``summarize`` reads the newest
``*.trace.json.gz`` (Chrome trace events, written by the profiler beside its ``.xplane.pb``)
under a folder and prints, for every process of the trace, the ops that took the most time:

* a device (``/device:GPU:0``): the kernels of every stream, by name (XLA fusion or library
  kernel), their total time, count and share of the device's busy time;
* the host: XLA's own threads (the CPU backend runs its ops there), and the Python thread's
  jitted calls (``PjitFunction(...)``: dispatch and waiting), each apart.

Workloads: ``bootstrap`` (``swjax.bootstrap`` of both sets), ``subsets`` (every capability
subset x ``--n`` resamples, both sets), ``coverage`` (the coverage study's four designs at
``--datasets`` x ``--n``).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import sys
import time
import warnings
from pathlib import Path

#: Events that only mark the profiler's or the thread pool's own bookkeeping.
_BOOKKEEPING = ("ThreadpoolListener::", "end: ", "ThunkExecutor::")  # the last wraps the ops


def find_trace(folder) -> Path:
    """The newest ``*.trace.json.gz`` under ``folder``."""
    traces = sorted(Path(folder).rglob("*.trace.json.gz"), key=lambda p: p.stat().st_mtime)
    if not traces:
        raise FileNotFoundError(f"{folder}: no *.trace.json.gz (was it written by jax.profiler.trace?)")
    return traces[-1]


def summarize(trace, top: int = 15) -> dict:
    """Top ops of every process of a Chrome-format trace (a path to ``.json.gz`` or ``.json``).

    Returns ``{"trace": path, "span_ms": wall span of all events, "groups": [...]}``; each
    group is one process (devices first) or, on the host, XLA's threads and the Python thread's
    jitted calls, with ``busy_ms`` (sum of its op times) and ``ops``: name, ``total_ms``,
    ``count``, ``share`` (of the group's busy time), largest first.
    """
    trace = Path(trace)
    opener = gzip.open if trace.suffix == ".gz" else open
    with opener(trace, "rt") as fh:
        data = json.load(fh)
    events = data["traceEvents"] if isinstance(data, dict) else data
    process = {e["pid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "process_name"}
    thread = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
              if e.get("ph") == "M" and e.get("name") == "thread_name"}
    groups: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    start, stop = float("inf"), float("-inf")
    for e in events:
        if e.get("ph") != "X" or "dur" not in e:
            continue
        name, dur = str(e.get("name", "")), float(e["dur"])
        start, stop = min(start, float(e.get("ts", 0.0))), max(stop, float(e.get("ts", 0.0)) + dur)
        pname = process.get(e.get("pid"), str(e.get("pid")))
        tname = thread.get((e.get("pid"), e.get("tid")), "")
        if name.startswith(_BOOKKEEPING):
            continue
        if "/device:" in pname:
            group = pname
        elif tname == "python" or tname.startswith("python"):
            if not name.startswith("PjitFunction("):
                continue  # Python frames nest; only the jitted calls are summed
            group = f"{pname} python: jitted calls"
        else:
            group = f"{pname} XLA threads"
        groups[group][name] += dur
        counts[group][name] += 1
    out = []
    for group in sorted(groups, key=lambda g: ("/device:" not in g, g)):
        busy = sum(groups[group].values())
        ops = [dict(name=name, total_ms=us / 1e3, count=counts[group][name], share=us / busy if busy else 0.0)
               for name, us in groups[group].most_common(top)]
        out.append(dict(group=group, busy_ms=busy / 1e3, ops=ops))
    span = (stop - start) / 1e3 if stop > start else 0.0
    return dict(trace=str(trace), span_ms=span, groups=out)


def format_summary(summary: dict) -> str:
    lines = [f"trace {summary['trace']}: {summary['span_ms']:.1f} ms from first to last event"]
    for g in summary["groups"]:
        share = g["busy_ms"] / summary["span_ms"] if summary["span_ms"] else 0.0
        lines.append(f"  {g['group']}: {g['busy_ms']:.1f} ms busy ({100 * share:.0f} % of the span)")
        for op in g["ops"]:
            lines.append(f"    {op['total_ms']:10.3f} ms {100 * op['share']:5.1f} % {op['count']:7d}x  {op['name'][:90]}")
    return "\n".join(lines)


def workload(name: str, device: str, n: int, datasets: int):
    """A function running one workload (compiled on its first call)."""
    import swjax

    if name == "bootstrap":
        return lambda: [swjax.bootstrap(s, n=n, device=device) for s in ("base", "chat")]
    if name == "subsets":
        import numpy as np

        from swjax import engine, resample
        from swjax.analysis import prepare
        from swjax.sensitivity import _curve_reduce

        masks = resample.subset_masks(12, 2)
        runs = []
        for s in ("base", "chat"):
            p, layout = prepare(s)
            m = len(layout.models)
            refs = engine.run(p, np.ones((1, m)), masks=masks, device=device, fields=("loadings",))["loadings"][0]
            runs.append((p, m, refs))
        key = resample.key_from_seed(0)
        return lambda: [engine.run(p, draws=engine.Draws(resample.bootstrap_scheme(m), n, key), masks=masks, ref=refs,
                                   fields=("corr",), device=device, reduce=_curve_reduce, sink=lambda out: None)
                        for p, m, refs in runs]
    if name == "coverage":
        from swjax.coverage import coverage
        from swjax.simulate import Design

        designs = [Design(), Design(hetero=0.5), Design(families=9), Design(families=9, hetero=0.5)]
        return lambda: coverage(designs, datasets=datasets, n=n, device=device)
    raise SystemExit(f"workload: expected bootstrap, subsets or coverage, got {name!r}")


def run(name: str, out: Path, device: str = "auto", n: int = 10000, datasets: int = 200, top: int = 15) -> dict:
    """Trace one warm call of a workload into ``out`` and write ``out/summary.json``."""
    import jax

    warnings.simplefilter("ignore")
    fn = workload(name, device, n, datasets)
    t = time.perf_counter()
    jax.block_until_ready(fn())  # compile
    warm_up = time.perf_counter() - t
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with jax.profiler.trace(str(out)):
        jax.block_until_ready(fn())
    traced = time.perf_counter() - t
    summary = summarize(find_trace(out), top=top)
    summary.update(workload=name, n=n, datasets=datasets, device=device, first_call_seconds=warm_up,
                   traced_call_seconds=traced)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="trace one warm call of a workload")
    r.add_argument("workload", choices=("bootstrap", "subsets", "coverage"))
    r.add_argument("--device", default="auto")
    r.add_argument("--n", type=int, default=10000)
    r.add_argument("--datasets", type=int, default=200)
    r.add_argument("--top", type=int, default=15)
    r.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("summarize", help="summarize the newest trace under a folder")
    s.add_argument("folder", type=Path)
    s.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    if args.command == "run":
        summary = run(args.workload, args.out, args.device, args.n, args.datasets, args.top)
        print(f"{args.workload}: traced call {summary['traced_call_seconds']:.3f} s")
    else:
        summary = summarize(find_trace(args.folder), args.top)
    print(format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
