"""HELM run folders: ``run_spec.json`` and ``stats.json``, as ``helm-run`` writes them.

The fields (``helm/benchmark/run_spec.py``, ``helm/benchmark/metrics/statistic.py``,
``metric_name.py``):

- ``run_spec.json``: ``name`` (``scenario:arg=value,...,model=...``) and ``adapter_spec.model``
  (``creator/model``, e.g. ``meta/llama-2-7b``);
- ``stats.json``: a list of ``Stat``: ``name`` = ``{"name", "split", "sub_split",
  "perturbation"}``, ``count``, ``mean``, ``stddev`` (population), ...

The benchmark is the run name without its ``model=`` / ``model_deployment=`` arguments. Its score
is the mean of one statistic over the ``test`` split (``valid`` when there is no test split),
without perturbation or sub-split; the statistic is the first of :data:`PREFERRED` that the run has,
or the one named with ``metrics={benchmark: stat}`` (``--metric``). The standard error is
``stddev / sqrt(count - 1)`` (the population standard deviation turned into the standard error of
the mean). The direction comes from ``lower_is_better`` in a ``schema.json`` of the suite (one or
two folders up, as ``helm-summarize`` writes it) when there is one.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import SwjaxError
from .records import Result, load_json, need, number

FORMAT = "helm"
#: Main statistics, in the order swjax takes them when a run has several (HELM's own names).
PREFERRED = (
    "exact_match", "quasi_exact_match", "prefix_exact_match", "quasi_prefix_exact_match",
    "math_equiv", "math_equiv_chain_of_thought", "final_number_exact_match", "f1_score",
    "rouge_l", "bleu_4",
)


def is_run(folder: Path) -> bool:
    return (folder / "run_spec.json").is_file() and (folder / "stats.json").is_file()


def benchmark_name(run_name: str) -> str:
    scenario, sep, args = run_name.partition(":")
    if not sep:
        return run_name
    kept = [a for a in args.split(",") if a and not a.startswith(("model=", "model_deployment="))]
    return scenario + (":" + ",".join(kept) if kept else "")


def _directions(folder: Path) -> dict[str, bool]:
    for parent in (folder.parent, folder.parent.parent):
        schema = parent / "schema.json"
        if schema.is_file():
            obj = load_json(schema)
            out = {}
            for metric in obj.get("metrics", []) if isinstance(obj, dict) else []:
                if isinstance(metric, dict) and isinstance(metric.get("lower_is_better"), bool):
                    out[metric.get("name")] = not metric["lower_is_better"]
            return out
    return {}


def read(folder: Path, *, metrics: dict[str, str] | None = None) -> list[Result]:
    """The main statistic of one run folder."""
    spec_path, stats_path = folder / "run_spec.json", folder / "stats.json"
    spec = load_json(spec_path)
    name = need(spec, "name", spec_path, kind=str)
    adapter = need(spec, "adapter_spec", spec_path)
    model = adapter.get("model") or adapter.get("model_deployment")
    if not isinstance(model, str) or not model:
        raise SwjaxError(f"{spec_path}: no field 'adapter_spec.model'")
    stats = load_json(stats_path)
    if not isinstance(stats, list):
        raise SwjaxError(f"{stats_path}: expected a list of stats")
    plain: dict[str, dict[str, dict]] = {}
    for i, stat in enumerate(stats):
        sname = need(stat, "name", stats_path, f"[{i}]")
        if sname.get("perturbation") or sname.get("sub_split"):
            continue
        plain.setdefault(sname.get("split") or "", {})[need(sname, "name", stats_path, f"[{i}].name", str)] = stat
    split = "test" if "test" in plain else "valid" if "valid" in plain else None
    if split is None:
        raise SwjaxError(f"{stats_path}: no stat on the 'test' or 'valid' split (field 'name.split')")
    available = plain[split]
    benchmark = benchmark_name(name)
    metric = (metrics or {}).get(benchmark)
    if metric is not None:
        if metric not in available:
            raise SwjaxError(f"{stats_path}: no stat {metric!r} on split {split!r} (field 'name.name')")
        chosen = metric
    else:
        chosen = next((m for m in PREFERRED if m in available), None)
        if chosen is None:
            raise SwjaxError(
                f"{stats_path}: none of the main stats {PREFERRED[:4]}... on split {split!r}; "
                f"name one with --metric '{benchmark}=STAT'"
            )
    stat = available[chosen]
    mean, count, sd = number(stat.get("mean")), number(stat.get("count")), number(stat.get("stddev"))
    if mean is None or math.isnan(mean):
        raise SwjaxError(f"{stats_path}: stat {chosen!r} has no numeric field 'mean'")
    stderr = sd / math.sqrt(count - 1) if sd is not None and count is not None and count > 1 else math.nan
    direction = _directions(folder).get(chosen)
    return [
        Result(
            model=model, benchmark=benchmark, metric=f"{chosen} ({split})", score=mean, stderr=stderr,
            n=math.nan if count is None else count, higher_is_better=direction, source=FORMAT,
            file=str(folder),
        )
    ]
