"""Import speed: many lm-evaluation-harness results files into one matrix.

    PYTHONPATH=$PWD python benchmarks/bench_import.py --files 1000

Writes ``--files`` results files into a temporary folder (half the models with the two runs of
the example of docs/importing.md each: the eight multiple-choice tasks with gsm8k, and the mmlu / minerva_math /
bbh groups with subtasks; every task with a ``configs`` entry of the size the harness writes, about
1.5 KB), then times, best of ``--repeat``:

- ``parse only``: ``json.loads`` of every file, the floor any importer pays;
- ``read_results``: the whole import (detection, reading, metric choice, names, matrix);
- ``read_results + write``: the same and the folder of CSVs, as ``swjax import`` does.

Prints a table and writes ``benchmarks/results/bench_import.json``. The files are in the page
cache (just written): a cold disk adds its read time to every row alike.

``--baseline SRC`` also times another source tree of swjax (for example the main branch:
``git archive main swjax data | tar -x -C /tmp/base``) side by side on the same files, this tree and
that one alternately in fresh processes, on the generated files and on the real harness results
of ``../shared/real/lm_eval`` when they are there, and prints the time per file and the ratio.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from swjax.importers import read_results  # noqa: E402

TEMPLATES = sorted((ROOT / "tests" / "fixtures" / "importers" / "example" / "lm_eval" / "example-org__Nova-7B-Chat").glob("results_*.json"))[:2]
CONFIG = {
    "task": None, "tag": ["multiple_choice"], "dataset_path": "allenai/ai2_arc", "dataset_name": "ARC-Challenge",
    "training_split": "train", "validation_split": "validation", "test_split": "test",
    "doc_to_text": "Question: {{question}}\nAnswer:", "doc_to_target": "{{choices.label.index(answerKey)}}",
    "unsafe_code": False, "doc_to_choice": "{{choices.text}}", "description": "", "target_delimiter": " ",
    "fewshot_delimiter": "\n\n", "num_fewshot": 0,
    "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                    {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}],
    "output_type": "multiple_choice", "repeats": 1, "should_decontaminate": True,
    "doc_to_decontamination_query": "Question: {{question}}\nAnswer:",
    "metadata": {"version": 1.0, "pretrained": "x", "dtype": "bfloat16"},
    "fewshot_config": {"sampler": "first_n", "samples": None},
}


def write_files(folder: Path, files: int) -> int:
    templates = [json.loads(p.read_text()) for p in TEMPLATES]
    total = 0
    for i in range(files):
        obj = json.loads(json.dumps(templates[i % 2]))
        model = f"bench-org/model-{i // 2:04d}"
        obj["config"]["model_args"] = f"pretrained={model},dtype=bfloat16"
        obj["model_name"], obj["model_name_sanitized"] = model, model.replace("/", "__")
        obj["configs"] = {t: dict(CONFIG, task=t) for t in obj["results"]}
        for entry in obj["results"].values():
            for k, v in entry.items():
                if isinstance(v, float) and "stderr" not in k:
                    entry[k] = round(min(0.99, v * (0.7 + 0.3 * ((i * 7919) % 1000) / 1000)), 6)
        text = json.dumps(obj, indent=2)
        path = folder / obj["model_name_sanitized"] / f"results_2024-06-01T00-00-{i % 2:02d}.{i:06d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        total += len(text)
    return total


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


REAL = ROOT.parent / "shared" / "real" / "lm_eval"
_TIMER = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from swjax.importers import read_results
folder, out, repeat = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
best = {"read": 1e9, "read + write": 1e9}
for _ in range(repeat):
    t = time.perf_counter(); read_results([folder], min_models=1); best["read"] = min(best["read"], time.perf_counter() - t)
    t = time.perf_counter(); read_results([folder], min_models=1).write(out)
    best["read + write"] = min(best["read + write"], time.perf_counter() - t)
print(json.dumps(best))
"""


def timed_in(src, folder, out, repeat) -> dict:
    """Best-of-``repeat`` import times of ``folder`` with the swjax of source tree ``src``, in a
    fresh process."""
    done = subprocess.run([sys.executable, "-c", _TIMER, str(src), str(folder), str(out), str(repeat)],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{src} on {folder}: {(done.stderr.strip().splitlines() or ['failed'])[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def side_by_side(baseline: Path, folders: dict, tmp: Path, repeat: int) -> list[dict]:
    """This tree and ``baseline`` alternately (two rounds each, best kept) on every folder."""
    rows = []
    for label, (folder, n_files) in folders.items():
        best = {"this": {}, "baseline": {}}
        for _ in range(2):
            for side, src in (("this", ROOT), ("baseline", baseline)):
                got = timed_in(src, folder, tmp / f"out_{side}", repeat)
                for k, v in got.items():
                    best[side][k] = min(best[side].get(k, 1e9), v)
        for step in ("read", "read + write"):
            a, b = best["this"][step], best["baseline"][step]
            rows.append({"files": label, "n_files": n_files, "step": step, "this_ms_per_file": 1e3 * a / n_files,
                         "baseline_ms_per_file": 1e3 * b / n_files, "ratio": a / b})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "bench_import.json"))
    ap.add_argument("--baseline", type=Path, help="another swjax source tree to time side by side")
    args = ap.parse_args()
    compared = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "runs"
        size = write_files(folder, args.files)
        paths = sorted(folder.rglob("*.json"))

        def parse():
            return [json.loads(p.read_bytes()) for p in paths]

        t_parse, _ = best_of(parse, args.repeat)
        t_read, res = best_of(lambda: read_results([folder]), args.repeat)
        t_write, _ = best_of(lambda: read_results([folder]).write(Path(tmp) / "matrix"), args.repeat)
        if args.baseline is not None:
            folders = {"generated": (folder, len(paths))}
            for name, sub in (("real saucam (0.4)", "saucam_model_evals"), ("real pythia (0.3)", "pythia")):
                if (REAL / sub).is_dir():
                    folders[name] = (REAL / sub, len(list((REAL / sub).rglob("*.json"))))
            compared = side_by_side(args.baseline, folders, Path(tmp), args.repeat)
    rows = [("parse only (json.loads)", t_parse), ("read_results", t_read), ("read_results + write", t_write)]
    print(f"{args.files} lm-eval results files ({size / args.files / 1024:.1f} KB each), "
          f"{res.scores.shape[0]} models x {res.scores.shape[1]} benchmarks; best of {args.repeat}")
    print(f"{'step':<28}{'seconds':>9}{'vs parse':>10}")
    for name, t in rows:
        print(f"{name:<28}{t:>9.2f}{t / t_parse:>9.1f}x")
    if compared:
        print(f"\nside by side with {args.baseline} (fresh processes, alternating, best of {args.repeat} x 2)")
        print(f"{'files':<20}{'step':<14}{'this ms/file':>13}{'baseline':>10}{'ratio':>7}")
        for r in compared:
            print(f"{r['files']:<20}{r['step']:<14}{r['this_ms_per_file']:>13.2f}"
                  f"{r['baseline_ms_per_file']:>10.2f}{r['ratio']:>7.2f}")
    record = {
        "files": args.files, "bytes_per_file": size / args.files, "models": int(res.scores.shape[0]),
        "benchmarks": int(res.scores.shape[1]), "repeat": args.repeat,
        "seconds": {name: t for name, t in rows}, "ratio_to_parse": {name: t / t_parse for name, t in rows},
        "baseline": str(args.baseline) if args.baseline else None, "side_by_side": compared,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor()},
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
