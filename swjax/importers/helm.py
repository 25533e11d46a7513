"""HELM run folders: ``run_spec.json`` and ``stats.json``, as ``helm-run`` writes them.

The fields (``helm/benchmark/run_spec.py``, ``helm/benchmark/metrics/statistic.py``,
``metric_name.py``):

- ``run_spec.json``: ``name`` (``scenario:arg=value,...,model=...``) and ``adapter_spec.model``
  (``creator/model``, e.g. ``meta/llama-2-7b``);
- ``stats.json``: a list of ``Stat``: ``name`` = ``{"name", "split", "sub_split",
  "perturbation"}``, ``count``, ``mean``, ``stddev`` (population), ...

The benchmark is the run name without its ``model=`` / ``model_deployment=`` arguments. Its score
is the mean of one statistic, without perturbation or sub-split, on the split that the suite's
``schema.json`` (one or two folders up, as ``helm-summarize`` writes it) names as the
``main_split`` of the run's group (``run_spec.json`` ``groups``), else ``test``, else ``valid``.
The statistic is the one named with ``metrics={benchmark: stat}`` (``--metric``), else the
group's ``main_name`` in the schema, else the first of :data:`PREFERRED` that the run has.

The judges' variants of a main statistic ``<prefix>_score`` (``art_gpt_score``,
``art_claude_score``: the same answers scored by another judge model) are benchmarks of their own,
``<benchmark>:judge=<judge>``, with the main statistic's direction unless the schema gives theirs.

In real ``helm-run`` output, ``count`` in ``stats.json`` counts train trials (1), not instances:
the standard error and sample count come from ``per_instance_stats.json`` (the sample standard
deviation of the per-instance values, each averaged over trials, over the square root of their
number). Without that file, ``stddev / sqrt(count - 1)`` with ``n = count`` when ``count`` is the
number of instances (no ``num_instances`` stat, or one equal to ``count``), else no standard error
and ``n = num_instances``. The direction comes from ``lower_is_better`` in the schema.
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


def _schema(folder: Path) -> dict:
    """The suite's ``schema.json`` (one or two folders up, as ``helm-summarize`` writes it), or {}."""
    for parent in (folder.parent, folder.parent.parent):
        schema = parent / "schema.json"
        if schema.is_file():
            obj = load_json(schema)
            return obj if isinstance(obj, dict) else {}
    return {}


def _directions(schema: dict) -> dict[str, bool]:
    out = {}
    for metric in schema.get("metrics", []) or []:
        if isinstance(metric, dict) and isinstance(metric.get("lower_is_better"), bool):
            out[metric.get("name")] = not metric["lower_is_better"]
    return out


def _main(schema: dict, groups) -> tuple[str | None, str | None]:
    """(main_name, main_split) of the run's first group that the schema gives an environment."""
    envs = {g.get("name"): g.get("environment") for g in schema.get("run_groups", []) or [] if isinstance(g, dict)}
    for group in groups if isinstance(groups, list) else []:
        env = envs.get(group)
        if isinstance(env, dict) and isinstance(env.get("main_name"), str):
            split = env.get("main_split")
            return env["main_name"], split if isinstance(split, str) else None
    return None, None


def judges(main: str, available) -> dict[str, str]:
    """The judges' variants of a ``<prefix>_score`` main statistic: judge -> stat
    (``art_score`` -> ``{"gpt": "art_gpt_score", "claude": "art_claude_score"}``)."""
    if not main.endswith("_score"):
        return {}
    prefix = main[: -len("_score")] + "_"
    return {s[len(prefix): -len("_score")]: s for s in sorted(available)
            if s.startswith(prefix) and s.endswith("_score") and len(s) > len(prefix) + len("_score")
            and "_" not in s[len(prefix): -len("_score")]}


def _per_instance(folder: Path, split: str) -> dict[str, list[float]]:
    """stat -> per-instance values (the mean over train trials of each instance) on ``split``,
    unperturbed, from ``per_instance_stats.json`` when the run has it."""
    path = folder / "per_instance_stats.json"
    if not path.is_file():
        return {}
    obj = load_json(path)
    if not isinstance(obj, list):
        raise SwjaxError(f"{path}: expected a list of instances")
    values: dict[str, dict[str, list[float]]] = {}
    for i, inst in enumerate(obj):
        if not isinstance(inst, dict) or inst.get("perturbation"):
            continue
        key = str(inst.get("instance_id", i))
        for stat in inst.get("stats") or []:
            name = stat.get("name") if isinstance(stat, dict) else None
            if not isinstance(name, dict) or name.get("perturbation") or name.get("sub_split"):
                continue
            if name.get("split") != split or not isinstance(name.get("name"), str):
                continue
            x = number(stat.get("mean"))
            if x is not None and math.isfinite(x):
                values.setdefault(name["name"], {}).setdefault(key, []).append(x)
    return {stat: [sum(v) / len(v) for v in by.values()] for stat, by in values.items()}


def _stat(folder, stats_path, available, chosen, per_instance, benchmark, model, hib, split):
    stat = available[chosen]
    mean, count, sd = number(stat.get("mean")), number(stat.get("count")), number(stat.get("stddev"))
    if mean is None or math.isnan(mean):
        raise SwjaxError(f"{stats_path}: stat {chosen!r} has no numeric field 'mean'")
    values = per_instance.get(chosen)
    instances = number(available.get("num_instances", {}).get("mean"))
    instances = instances if instances is not None and math.isfinite(instances) else None
    if values and len(values) > 1:  # the spread over instances (stats.json's count counts train trials)
        m = sum(values) / len(values)
        stderr = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1) / len(values))
        n = float(len(values))
    elif sd is not None and count is not None and count > 1 and instances in (None, count):
        stderr, n = sd / math.sqrt(count - 1), count
    else:
        stderr, n = math.nan, math.nan if instances is None else instances
    return Result(
        model=model, benchmark=benchmark, metric=f"{chosen} ({split})", score=mean, stderr=stderr,
        n=math.nan if n is None else n, higher_is_better=hib, source=FORMAT, file=str(folder),
    )


def read(folder: Path, *, metrics: dict[str, str] | None = None) -> list[Result]:
    """The main statistic of one run folder, and its judges' variants as benchmarks of their own."""
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
    schema = _schema(folder)
    main, main_split = _main(schema, spec.get("groups"))
    split = main_split if main_split in plain else "test" if "test" in plain else "valid" if "valid" in plain else None
    if split is None:
        raise SwjaxError(f"{stats_path}: no stat on the 'test' or 'valid' split (field 'name.split')")
    available = plain[split]
    benchmark = benchmark_name(name)
    metric = (metrics or {}).get(benchmark)
    if metric is not None:
        if metric not in available:
            raise SwjaxError(f"{stats_path}: no stat {metric!r} on split {split!r} (field 'name.name')")
        chosen = metric
    elif main is not None and main in available:
        chosen = main
    else:
        chosen = next((m for m in PREFERRED if m in available), None)
        if chosen is None:
            raise SwjaxError(
                f"{stats_path}: none of the main stats {PREFERRED[:4]}... on split {split!r}"
                + (f" and no stat {main!r} (the schema's main_name)" if main else "")
                + f"; name one with --metric '{benchmark}=STAT'"
            )
    per_instance = _per_instance(folder, split)
    direction = _directions(schema)
    hib = direction.get(chosen)
    out = [_stat(folder, stats_path, available, chosen, per_instance, benchmark, model, hib, split)]
    if metric is None:  # a judge's variant has its main statistic's direction unless the schema says
        for judge, stat in judges(chosen, available).items():
            out.append(_stat(folder, stats_path, available, stat, per_instance, f"{benchmark}:judge={judge}",
                             model, direction.get(stat, hib), split))
    return out
