"""lm-evaluation-harness ``results_*.json`` files (one per model run).

The fields are those the harness writes (``lm_eval/evaluator.py`` and
``lm_eval/loggers/evaluation_tracker.py``):

- ``results``: task or group -> ``{"alias": ..., "<metric>,<filter>": value,
  "<metric>_stderr,<filter>": value or "N/A", "sample_len": n}`` (groups also carry
  ``sample_count``: metric key -> n); older files (v0.3) have plain ``"acc"`` / ``"acc_stderr"``;
- ``groups`` (groups only, when the harness shows a group table) and ``group_subtasks``:
  group -> its subtasks (which may be groups);
- ``higher_is_better``: task -> metric -> true / false / null;
- ``n-samples``: task -> ``{"original": N, "effective": n}``;
- ``config.model_args``: ``"pretrained=org/name,revision=...,dtype=..."`` (or a dict), and
  ``model_name``, written by the evaluation tracker from the same argument;
- ``date``: the start time (POSIX seconds); the file name ``results_<ISO time>.json`` too.

By default the top-level tasks and groups are kept and the subtasks of a group left out (``mmlu``
but not ``mmlu_anatomy``); ``subtasks=True`` keeps them all.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path

from ..errors import SwjaxError
from .records import Result, need, number, shown

FORMAT = "lm-eval"
_NOT_METRICS = frozenset({"alias", "sample_len", "sample_count", "name", "samples", "group", "task"})
#: The order in which the tracker looks for the model in ``model_args`` (peft/delta first).
_MODEL_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")
_FILE_DATE = re.compile(r"results_(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?)")


def sniff(obj) -> bool:
    """True for a parsed lm-evaluation-harness results file."""
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("results"), dict)
        and "config_general" not in obj
        and any(k in obj for k in ("config", "configs", "versions", "higher_is_better", "n-shot", "model_name"))
    )


def model_name(obj: dict, path) -> str:
    """The evaluated model: ``config.model_args`` as the harness reads it, else ``model_name``."""
    config = obj.get("config")
    args = config.get("model_args") if isinstance(config, dict) else None
    if isinstance(args, str) and args:
        args = dict(kv.split("=", 1) for kv in args.split(",") if "=" in kv)
    if isinstance(args, dict):
        for key in _MODEL_KEYS:
            value = args.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    name = obj.get("model_name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    raise SwjaxError(
        f"{path}: no model name (expected 'config.model_args' with pretrained=... or 'model_name')"
    )


def run_date(obj: dict, path: Path) -> float | None:
    value = obj.get("date")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = number(value)
        return None if seconds is None or math.isnan(seconds) else seconds
    text = value if isinstance(value, str) else None
    if text is None:
        match = _FILE_DATE.search(path.name)
        text = match.group(1) if match else None
    if text:
        for fmt in ("%Y-%m-%dT%H-%M-%S.%f", "%Y-%m-%dT%H-%M-%S", "%Y%m%d-%H%M%S"):
            try:
                return datetime.strptime(text, fmt).timestamp()
            except ValueError:
                pass
        try:
            return datetime.fromisoformat(text).timestamp()
        except ValueError:
            return None
    return None


def _metrics(entry: dict):
    """(metric name, filter, key, stderr key) for every metric of one task entry, in file order."""
    keys = [k for k in entry if "," in k]
    if keys:
        for key in keys:
            metric, _, filt = key.partition(",")
            if metric.endswith("_stderr"):
                continue
            yield metric, key, f"{metric}_stderr,{filt}"
    else:  # v0.3 files: plain metric names
        for key in entry:
            if key in _NOT_METRICS or key.endswith("_stderr"):
                continue
            yield key, key, f"{key}_stderr"


def directions(obj: dict) -> dict[str, dict[str, bool]]:
    """task -> metric -> higher is better, from wherever the file states it.

    ``higher_is_better`` (task -> metric -> bool) first, then each task's
    ``configs.<task>.metric_list[].higher_is_better``; a group without a statement takes the
    one its subtasks make for the same metric, when they all agree.
    """
    out: dict[str, dict[str, bool]] = {}
    hib = obj.get("higher_is_better")
    for task, metrics in (hib.items() if isinstance(hib, dict) else ()):
        if isinstance(metrics, dict):
            out[task] = {m: v for m, v in metrics.items() if isinstance(v, bool)}
    configs = obj.get("configs")
    for task, config in (configs.items() if isinstance(configs, dict) else ()):
        listed = config.get("metric_list") if isinstance(config, dict) else None
        for item in listed if isinstance(listed, list) else ():
            if isinstance(item, dict) and isinstance(item.get("metric"), str) and isinstance(
                    item.get("higher_is_better"), bool):
                out.setdefault(task, {}).setdefault(item["metric"], item["higher_is_better"])
    groups = obj.get("group_subtasks")
    groups = groups if isinstance(groups, dict) else {}
    for _ in range(len(groups)):  # groups of groups: until nothing changes, whatever the key order
        changed = False
        for group, subs in groups.items():
            said: dict[str, set] = {}
            for sub in subs if isinstance(subs, list) else ():
                for metric, value in out.get(sub, {}).items():
                    said.setdefault(metric, set()).add(value)
            mine = out.setdefault(group, {})
            for metric, values in said.items():
                if len(values) == 1 and metric not in mine:
                    mine[metric] = next(iter(values))
                    changed = True
        if not changed:
            break
    return out


def read(path: Path, obj: dict, *, subtasks: bool = False, wanted=frozenset()) -> list[Result]:
    """Every metric of every task of one results file.

    The subtasks of a group are left out unless ``subtasks`` or they are named in ``wanted``
    (a capability set or ``--metric`` asks for them). Metrics are returned with ``order`` 0:
    the order of the harness's keys means nothing (a group lists its subtasks' metrics in an
    order that changes from run to run).
    """
    results = need(obj, "results", path)
    model = model_name(obj, path)
    date = run_date(obj, path)
    groups = obj.get("group_subtasks") if isinstance(obj.get("group_subtasks"), dict) else {}
    below = {sub for subs in groups.values() if isinstance(subs, list) for sub in subs}
    hib = directions(obj)
    nsamples = obj.get("n-samples") if isinstance(obj.get("n-samples"), dict) else {}
    entries = dict(results)
    extra = obj.get("groups")
    if isinstance(extra, dict):
        for name, entry in extra.items():
            entries.setdefault(name, entry)
    out: list[Result] = []
    file = str(path)
    for task, entry in entries.items():
        if not isinstance(entry, dict):
            raise SwjaxError(f"{path}: field 'results.{task}' should be an object of metrics")
        if task in below and not subtasks and task not in wanted:
            continue
        directions_ = hib.get(task, {})
        counts = entry.get("sample_count") if isinstance(entry.get("sample_count"), dict) else {}
        task_n = nsamples.get(task, {}).get("effective") if isinstance(nsamples.get(task), dict) else None
        if task_n is None:
            task_n = entry.get("sample_len")
        alias = entry.get("alias")
        display = alias.strip(" -") if isinstance(alias, str) else ""
        for metric, key, se_key in _metrics(entry):
            score = number(entry[key])
            if score is None:
                raise SwjaxError(f"{path}: field 'results.{task}.{key}' is not a finite number: "
                                 f"{shown(entry[key])}")
            # a null or "N/A" score stays a record (NaN): the file does report the metric,
            # which the choice of a column's metric must see; the cell is missing
            stderr = number(entry.get(se_key))
            n = number(counts.get(key, task_n))
            direction = directions_.get(metric)
            out.append(
                Result(
                    model=model, benchmark=task, metric=key, score=score,
                    stderr=math.nan if stderr is None else stderr,
                    n=math.nan if n is None else n,
                    higher_is_better=direction if isinstance(direction, bool) else None,
                    source=FORMAT, file=file, date=date, order=0, display=display,
                )
            )
    if not out:
        raise SwjaxError(f"{path}: field 'results' holds no numeric metric")
    return out
