"""Every GPU figure of the project in one command: correctness, speed, batch size, profiles.

    python benchmarks/gpu_suite.py --data-dir /path/to/data          # on a machine with a GPU
    python benchmarks/gpu_suite.py --only bootstrap_1e6,subsets       # some steps again
    python benchmarks/gpu_suite.py --quick --device cpu --out /tmp/s  # the plumbing, tiny sizes

Steps, each a separate process with its own time limit (a step that fails or runs out of time
is recorded as such and the next one runs), in this order:

* ``crossplatform``: the same computations on the CPU and the GPU, float32 and float64, public
  sets and random matrices with ties and missing cells; resample weights compared exactly
  (``crossplatform.json``);
* ``bootstrap_1e4``: ``bench_bootstrap.py --n 10000``, both sets, BCa, warm and cold
  (``bench_bootstrap.json``);
* ``bootstrap_1e6``: ``bench_bootstrap.py --n 1000000``, the distribution in host memory
  (``bench_bootstrap_1e6.json``);
* ``subsets``: ``bench_subsets.py``, 4,083 subsets x 1,000 resamples per set (``bench_subsets.json``);
* ``coverage``: ``bench_coverage.py``, the coverage table of docs/coverage.md at R = 1,000 (``coverage/``);
* ``plan``: ``bench_plan.py`` with the default grid on 2 chat benchmarks (MT_Bench, truthfulqa_mc1),
  R = 500 datasets x B = 1,000 resamples per grid point (``plan/plan.json``);
* ``batch``: ``bench_batch.py``, the engine's batch size against a sweep (``bench_batch.json``);
* ``scale_models``: ``bench_scale.py --models``, the cost per resample at 26 ... 20,000 models x 7
  benchmarks and its log-log slope (``scale/models.json``);
* ``tests``: pytest with ``SWJAX_TEST_DEVICE=gpu`` on the engine, rank, PC1, interval, sharding
  and GPU tests (``tests.json``, ``tests.xml``; ``test_gpu_equals_cpu`` is left out, the
  ``crossplatform`` step is that test);
* ``tests_differential``: ``tests/test_differential.py`` on the GPU, random shapes against the
  scipy reference, apart because its many shapes compile the most (``tests_differential.json``);
* then, for each speed target missed (``--profile all``: each workload), a ``jax.profiler``
  trace of that workload and its top ops (``profile/STEP/summary.json``).

Then ``suite.json`` (every step's status and seconds, every figure against its target, the
device) and a printed table. The data: ``--data-dir`` or ``$SWJAX_DATA_DIR``, a folder holding
the three public CSV files (checked by sha256; nothing is downloaded). ``--budget`` (seconds,
default 600) bounds the whole run: each step's limit is cut to what is left, and a step is
skipped when less than 20 s remain; ``--only tests`` (or any step) runs what was cut, keeping
the other steps' results in ``suite.json``, and ``--only profile`` traces the workloads whose
figures in ``--out`` miss their target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: The issue's targets (seconds, warm) and the batch-size target (pick / best).
TARGETS = {
    "bootstrap_1e4": 0.05,
    "bootstrap_1e6": 2.0,
    "subsets": 10.0,
    "coverage": 60.0,
    "plan": 60.0,
    "batch": 1.2,
    "scale_models": 3.0,  # ms per resample at 4,500 models x 7 benchmarks (the CPU's target)
}
TEST_FILES = (
    "tests/test_gpu.py", "tests/test_batch_size.py", "tests/test_analysis.py", "tests/test_ranks.py",
    "tests/test_pairs.py", "tests/test_pc1.py", "tests/test_bootstrap.py", "tests/test_sharding.py",
    "tests/test_offline.py",
)
#: Its own step: many random shapes, so many compilations (the step most likely to run long).
DIFFERENTIAL = ("tests/test_differential.py",)
QUICK_TEST_FILES = ("tests/test_gpu.py", "tests/test_batch_size.py", "tests/test_offline.py")
STEPS = ("crossplatform", "bootstrap_1e4", "bootstrap_1e6", "subsets", "coverage", "plan", "batch", "scale_models",
         "tests", "tests_differential")
#: The plan step's benchmarks (the issue: the default grid on 2 benchmarks).
PLAN_BENCHMARKS = "MT_Bench,truthfulqa_mc1"


def commands(args, out: Path) -> dict[str, tuple[list[str], int]]:
    """(command, time limit in seconds) of every step."""
    py, dev, q = sys.executable, args.device, args.quick
    other = "gpu" if dev == "gpu" else "cpu"
    tests = QUICK_TEST_FILES if q else TEST_FILES
    return {
        "crossplatform": ([py, "-m", "tests.crossplatform", "--a", "cpu", "--b", other, "--out",
                           str(out / "crossplatform.json"), *(["--quick", "--n", "32"] if q else [])], 240),
        "bootstrap_1e4": ([py, str(HERE / "bench_bootstrap.py"), "--device", dev, "--n", "200" if q else "10000",
                           "--loop-n", "10" if q else "300", "--repeats", "1" if q else "5",
                           "--out", str(out / "bench_bootstrap.json")], 150),
        "bootstrap_1e6": ([py, str(HERE / "bench_bootstrap.py"), "--device", dev,
                           "--n", "1000" if q else "1000000", "--loop-n", "10" if q else "100",
                           "--repeats", "1" if q else "2", "--skip-cli",
                           "--out", str(out / "bench_bootstrap_1e6.json")], 180),
        "subsets": ([py, str(HERE / "bench_subsets.py"), "--device", dev, "--n", "4" if q else "1000",
                     *(["--min-size", "11"] if q else []), "--json", str(out / "bench_subsets.json")], 150),
        "coverage": ([py, str(HERE / "bench_coverage.py"), "--device", dev,
                      "--datasets", "8" if q else "1000", "--n", "40" if q else "1000",
                      "--out", str(out / "coverage")], 180),
        "plan": ([py, str(HERE / "bench_plan.py"), "--device", dev, "--benchmarks", PLAN_BENCHMARKS,
                  "--datasets", "4" if q else "500", "--n", "40" if q else "1000",
                  *(["--grid", "15,26"] if q else []), "--out", str(out / "plan")], 180),
        "batch": ([py, str(HERE / "bench_batch.py"), "--device", dev, *(["--n", "256", "--sizes", "64,256",
                   "--repeats", "1"] if q else []), "--out", str(out / "bench_batch.json")], 150),
        "scale_models": ([py, str(HERE / "bench_scale.py"), "--models", "--rounds", "1", "--device", dev,
                          *(["--sizes", "26,150"] if q else []), "--out", str(out / "scale")], 240),
        # test_gpu_equals_cpu is what the crossplatform step runs and writes: not run twice.
        "tests": ([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x" if q else "-rf", *tests,
                   "--deselect", "tests/test_gpu.py::test_gpu_equals_cpu", "--junitxml", str(out / "tests.xml")], 300),
        "tests_differential": ([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf",
                                *(DIFFERENTIAL if not q else ("tests/test_differential.py::test_sign_rule_when_largest_loadings_tie",)),
                                "--junitxml", str(out / "tests_differential.xml")], 240),
    }


PROFILES = {  # step -> (workload, --n, --datasets) of benchmarks/profile_trace.py run
    "bootstrap_1e4": ("bootstrap", 10000, 0),
    "bootstrap_1e6": ("bootstrap", 1000000, 0),
    "subsets": ("subsets", 200, 0),
    "coverage": ("coverage", 1000, 200),
}


def _read(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def figures(out: Path) -> dict:
    """Every measured figure, read back from the steps' JSON: {step: (value, unit, detail)}."""
    fig = {}
    b4 = _read(out / "bench_bootstrap.json")
    if b4:
        fig["bootstrap_1e4"] = (b4["swjax_warm_seconds"], "s",
                                f"n={b4['n']:,} both sets warm; cold process {b4['swjax_cold_seconds']:.1f} s")
    b6 = _read(out / "bench_bootstrap_1e6.json")
    if b6:
        fig["bootstrap_1e6"] = (b6["swjax_warm_seconds"], "s",
                                f"n={b6['n']:,} both sets warm; cold process {b6['swjax_cold_seconds']:.1f} s")
    sub = _read(out / "bench_subsets.json")
    if sub:
        runs = [r for r in sub["rows"] if "subsets x bootstrap" in r["what"]]
        total = sum(r["seconds"] for r in runs)
        fig["subsets"] = (total, "s", " + ".join(f"{r['what'].split(':')[0]} {r['seconds']:.2f} s" for r in runs)
                          + f" ({runs[0]['subsets']} subsets x {runs[0]['resamples']:,} resamples)" if runs else "")
    cov = _read(out / "coverage" / "coverage.json")
    if cov:
        meta = cov.get("metadata", cov)
        fig["coverage"] = (meta.get("study_seconds"), "s",
                           f"R={meta.get('datasets')} x B={meta.get('n')}; populations {meta.get('populations_seconds', 0):.1f} s")
    pl = _read(out / "plan" / "plan.json")
    if pl:
        bench = pl.get("metadata", pl).get("bench", {})
        fig["plan"] = (bench.get("plan_seconds"), "s",
                       f"{bench.get('benchmarks')} benchmarks, {bench.get('resamples', 0):,} resamples warm; "
                       f"compile {bench.get('warmup_seconds', 0):.1f} s, fit {bench.get('fit_seconds', 0):.1f} s")
    bat = _read(out / "bench_batch.json")
    if bat:
        fig["batch"] = (bat["pick_relative_to_best"], "x best",
                        f"pick {bat['engine_pick']} vs best {bat['best_batch_size']} at n={bat['n']:,}")
    scale = _read(out / "scale" / "models.json")
    if scale:
        now = {int(m): r["ms_per_resample"] for m, r in scale["rows"]["now"].items()}
        at = 4500 if 4500 in now else max(now)
        fig["scale_models"] = (now[at], "ms", f"per resample at {at:,} models x 7; slope "
                               + ", ".join(f"{m}: {v:.2f}" for m, v in scale["slope"]["now"].items()))
    cp = _read(out / "crossplatform.json")
    if cp:
        parts = [f"{d}: {cp[d]['summary']['max_float_diff']:.1e} (tol {cp[d]['tol']:g})" for d in ("float32", "float64")]
        fig["crossplatform"] = (bool(cp["ok"]), "", "; ".join(parts) + "; weights identical: "
                                + str(all(cp[d]["summary"]["weights_identical"] for d in ("float32", "float64"))))
    for name in ("tests", "tests_differential"):
        tests = _read(out / f"{name}.json")
        if tests:
            fig[name] = (tests["failed"] + tests["errors"] == 0, "",
                         f"{tests['passed']} passed, {tests['failed']} failed, {tests['errors']} errors, "
                         f"{tests['skipped']} skipped" + (f"; failing: {', '.join(tests['failing'][:3])}"
                                                          if tests["failing"] else ""))
    return fig


def junit_summary(path: Path) -> dict:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    total = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    failed = [f"{c.get('classname')}::{c.get('name')}" for s in suites for c in s.iter("testcase")
              if c.find("failure") is not None or c.find("error") is not None]
    return dict(passed=total["tests"] - total["failures"] - total["errors"] - total["skipped"],
                failed=total["failures"], errors=total["errors"], skipped=total["skipped"], failing=failed)


def device_info(device: str) -> dict:
    code = ("import json, jax; from swjax import engine; d = engine.select_device(%r); "
            "print(json.dumps(dict(device=str(d), kind=d.device_kind, platform=d.platform, jax=jax.__version__, "
            "devices=[str(x) for x in jax.devices(d.platform)], memory=d.memory_stats() if d.platform != 'cpu' "
            "else None)))" % device)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"device {device!r}: {proc.stderr.strip().splitlines()[-1]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_data(folder: str | None) -> str:
    folder = folder or os.environ.get("SWJAX_DATA_DIR")
    if not folder:
        raise SystemExit("data: pass --data-dir or set SWJAX_DATA_DIR to the folder of the public CSV files")
    names = ("benchmarks_base_models.csv", "benchmarks_chat_models.csv", "benchmarks_info.csv")
    missing = [n for n in names if not (Path(folder) / n).is_file()]
    if missing:
        raise SystemExit(f"data: {folder} lacks {', '.join(missing)}")
    return str(Path(folder).resolve())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="gpu", help="gpu (default) or cpu (to check the plumbing)")
    parser.add_argument("--data-dir", default=None, help="folder of the public CSV files (else $SWJAX_DATA_DIR)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default benchmarks/results/gpu on a GPU)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated steps of: {', '.join(STEPS)}; 'profile': only the profiles")
    parser.add_argument("--profile", choices=("missed", "all", "none"), default="missed",
                        help="trace the workloads that miss their target (default), all of them, or none")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds for the whole run")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that every step runs")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    data = check_data(args.data_dir)
    env = dict(os.environ, SWJAX_DATA_DIR=data, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               SWJAX_TEST_DEVICE="gpu" if args.device == "gpu" else "cpu", PYTHONWARNINGS="ignore")
    os.environ.update(SWJAX_DATA_DIR=data, PYTHONPATH=env["PYTHONPATH"])
    info = device_info(args.device)
    if args.out is None:
        if info["platform"] != "gpu":
            raise SystemExit("--out: a folder is required when the device is not a GPU "
                             "(benchmarks/results/gpu/ holds GPU figures only)")
        args.out = HERE / "results" / "gpu"
    out = args.out.resolve()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    steps = STEPS if args.only is None else tuple(s.strip() for s in args.only.split(","))
    unknown = [s for s in steps if s not in STEPS + ("profile",)]
    if unknown:
        raise SystemExit(f"--only: unknown step(s) {', '.join(unknown)}; expected {', '.join(STEPS)}")
    previous = _read(out / "suite.json") or {}
    status = previous.get("steps", {}) if args.only else {}
    print(f"swjax GPU suite on {info['device']} ({info['kind']}), jax {info['jax']}; writing {out}")

    def left():
        return args.budget - (time.perf_counter() - started)

    def run_step(name, cmd, limit):
        # The limits are sized for a GPU machine; compiling on a small shared CPU is slower.
        limit = int(min(limit * (1 if info["platform"] == "gpu" else 4), left()))
        if limit < 20:
            status[name] = dict(status="skipped (budget)", seconds=0.0)
            print(f"  {name:14s} skipped: {left():.0f} s of the budget left")
            return
        log = out / "logs" / f"{name}.log"
        t = time.perf_counter()
        with open(log, "w") as fh:
            fh.write("$ " + " ".join(cmd) + "\n")
            fh.flush()
            try:
                rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT, timeout=limit).returncode
                state = "ok" if rc == 0 else f"failed (exit {rc})"
            except subprocess.TimeoutExpired:
                state = f"timed out after {limit} s"
        seconds = time.perf_counter() - t
        status[name] = dict(status=state, seconds=seconds, log=str(log.relative_to(out)), command=" ".join(cmd))
        print(f"  {name:14s} {state:24s} {seconds:7.1f} s   (log: {log.relative_to(out)})")

    cmds = commands(args, out)
    for name in steps:
        if name == "profile":  # only the profiles, from the figures already in --out
            continue
        run_step(name, *cmds[name])
        if name.startswith("tests") and (out / f"{name}.xml").is_file():
            (out / f"{name}.json").write_text(json.dumps(junit_summary(out / f"{name}.xml"), indent=2) + "\n")

    fig = figures(out)
    met = {}
    for name, target in TARGETS.items():
        value = fig.get(name, (None,))[0]
        # At --quick sizes the targets mean nothing: no verdict.
        met[name] = None if value is None or args.quick else bool(value <= target)
    to_profile = [s for s in PROFILES if (args.profile == "all" and s in fig) or (args.profile == "missed" and met.get(s) is False)]
    if args.quick and args.profile != "none":
        to_profile = ["bootstrap_1e4"]
    profiles = {}
    for step in to_profile:
        workload, n, datasets = PROFILES[step]
        if args.quick:
            n, datasets = 100, 8
        folder = out / "profile" / step
        run_step(f"profile_{step}", [sys.executable, str(HERE / "profile_trace.py"), "run", workload, "--device",
                                     args.device, "--n", str(n), "--datasets", str(datasets or 200),
                                     "--out", str(folder)], 240)
        summary = _read(folder / "summary.json")
        if summary:
            top = summary["groups"][0] if summary["groups"] else {"group": "-", "ops": []}
            profiles[step] = dict(summary=str((folder / "summary.json").relative_to(out)), group=top["group"],
                                  top_ops=[(o["name"], round(o["share"], 3)) for o in top["ops"][:5]])

    suite = dict(
        device=info, python=platform.python_version(), machine=platform.machine(), quick=args.quick,
        seconds=time.perf_counter() - started, steps=status, targets=TARGETS,
        figures={k: dict(value=v[0], unit=v[1], detail=v[2], target=TARGETS.get(k), met=met.get(k))
                 for k, v in fig.items()},
        profiles=profiles,
    )
    (out / "suite.json").write_text(json.dumps(suite, indent=2, default=str) + "\n")

    print(f"\n{'figure':19s} {'measured':>12s} {'target':>9s} {'':7s} detail")
    for name in STEPS:
        if name not in fig:
            print(f"{name:19s} {'-':>12s} {'':9s} {'':7s} {status.get(name, {}).get('status', 'not run')}")
            continue
        value, unit, detail = fig[name]
        if isinstance(value, bool):
            shown, target, verdict = ("pass" if value else "FAIL"), "", ""
        else:
            shown = "-" if value is None else f"{value:.3f} {unit}"
            target = f"<= {TARGETS[name]:g}" if name in TARGETS else ""
            verdict = {True: "met", False: "MISSED", None: ""}[met.get(name)]
        print(f"{name:19s} {shown:>12s} {target:>9s} {verdict:7s} {detail}")
    for step, p in profiles.items():
        print(f"profile {step}: {p['group']}: " + ", ".join(f"{n[:40]} {100 * s:.0f} %" for n, s in p["top_ops"]))
    print(f"\n{info['device']} ({info['kind']}); {suite['seconds']:.0f} s in all; wrote {out / 'suite.json'}")
    ok = all(s["status"] == "ok" for s in status.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
