"""The Open LLM Leaderboard: the v2 ``contents`` table and v1 per-model results files.

**v2** (the ``open-llm-leaderboard/contents`` dataset, CSV or Parquet): one row per evaluated
model with ``fullname`` (the hub id), ``Precision``, ``Submission Date`` and, per benchmark, the
normalised score (0-100) and the ``Raw`` one (0-1): ``IFEval``, ``BBH``, ``MATH Lvl 5``,
``GPQA``, ``MUSR``, ``MMLU-PRO``. Both are imported, as ``openllm_<bench>`` and
``openllm_<bench>_raw``; all are higher-is-better. A model evaluated in two precisions gives two
rows: a duplicate, resolved by ``--duplicates`` (``latest`` uses ``Submission Date``).

**v1** (lighteval results files of the first leaderboard, ``results_<time>.json``):
``config_general.model_name`` and ``results``: ``"harness|<task>|<shots>"`` ->
``{"acc", "acc_stderr", "acc_norm", "acc_norm_stderr"}`` (TruthfulQA: ``mc1``, ``mc2``). The six
leaderboard benchmarks with the leaderboard's metrics: ARC (``arc:challenge``, acc_norm),
HellaSwag (acc_norm), MMLU (mean acc over the 57 ``hendrycksTest-*`` subjects), TruthfulQA
(``truthfulqa:mc``, mc2), Winogrande (acc), GSM8K (acc).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path

from ..errors import SwjaxError
from .long_table import read_frame
from .records import Result, need, number, shown

FORMAT_V2 = "openllm-v2"
FORMAT_V1 = "openllm-v1"

#: v2 column -> swjax benchmark id (the Raw variants get ``_raw``).
V2_COLUMNS: dict[str, str] = {
    "IFEval": "openllm_ifeval",
    "BBH": "openllm_bbh",
    "MATH Lvl 5": "openllm_math_lvl5",
    "GPQA": "openllm_gpqa",
    "MUSR": "openllm_musr",
    "MMLU-PRO": "openllm_mmlu_pro",
}
#: v1 benchmark id -> (harness task, metric, display name).
V1_TASKS: dict[str, tuple[str, str, str]] = {
    "openllm_v1_arc": ("arc:challenge", "acc_norm", "ARC (25-shot)"),
    "openllm_v1_hellaswag": ("hellaswag", "acc_norm", "HellaSwag (10-shot)"),
    "openllm_v1_mmlu": ("hendrycksTest", "acc", "MMLU (5-shot)"),
    "openllm_v1_truthfulqa": ("truthfulqa:mc", "mc2", "TruthfulQA (0-shot)"),
    "openllm_v1_winogrande": ("winogrande", "acc", "Winogrande (5-shot)"),
    "openllm_v1_gsm8k": ("gsm8k", "acc", "GSM8K (5-shot)"),
}
_MODEL_COLUMN = "fullname"
_FILE_DATE = re.compile(r"results_(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?)")


def sniff_v2(cols) -> bool:
    return _MODEL_COLUMN in cols and any(c in cols or f"{c} Raw" in cols for c in V2_COLUMNS)


def sniff_v1(obj) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("config_general"), dict)
        and isinstance(obj.get("results"), dict)
        and any(str(k).startswith("harness|") for k in obj["results"])
    )


def _date(text) -> float | None:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def read_v2(path: Path) -> list[Result]:
    frame = read_frame(path)
    if _MODEL_COLUMN not in frame.columns:
        raise SwjaxError(f"{path}: no column {_MODEL_COLUMN!r} (the model's hub id)")
    present = []
    for base, bench in V2_COLUMNS.items():
        for col, name in ((base, bench), (f"{base} Raw", f"{bench}_raw")):
            if col in frame.columns:
                present.append((col, name))
    out = []
    dates = frame["Submission Date"].tolist() if "Submission Date" in frame.columns else [None] * len(frame)
    for i, (model, date) in enumerate(zip(frame[_MODEL_COLUMN].tolist(), dates)):
        if not isinstance(model, str) or not model.strip():
            raise SwjaxError(f"{path}: row {i + 2}: empty field {_MODEL_COLUMN!r}")
        when = _date(date)
        for col, bench in present:
            value = number(frame[col].iloc[i])
            if value is None:
                raise SwjaxError(f"{path}: row {i + 2}: field {col!r} is not a finite number: {shown(frame[col].iloc[i])}")
            if math.isnan(value):
                continue
            out.append(Result(model=model.strip(), benchmark=bench, metric=col, score=value,
                              higher_is_better=True, source=FORMAT_V2, file=str(path), date=when, display=col,
                              run=str(i)))
    if not out:
        raise SwjaxError(f"{path}: no scores in the leaderboard columns {list(V2_COLUMNS)}")
    return out


def read_v1(path: Path, obj: dict) -> list[Result]:
    general = need(obj, "config_general", path)
    model = need(general, "model_name", path, "config_general", str)
    results = need(obj, "results", path)
    match = _FILE_DATE.search(path.name)
    date = None
    if match:
        try:
            date = datetime.strptime(match.group(1).split(".")[0], "%Y-%m-%dT%H-%M-%S").timestamp()
        except ValueError:
            date = None
    by_task: dict[str, list[dict]] = {}
    for key, entry in results.items():
        parts = str(key).split("|")
        if len(parts) != 3 or parts[0] != "harness" or not isinstance(entry, dict):
            continue
        task = parts[1].split("-", 1)[0] if parts[1].startswith("hendrycksTest-") else parts[1]
        by_task.setdefault(task, []).append((key, entry))
    out = []
    for bench, (task, metric, display) in V1_TASKS.items():
        entries = by_task.get(task)
        if not entries:
            continue
        values = []
        for key, entry in entries:
            v = number(entry.get(metric))
            if v is None or math.isnan(v):
                raise SwjaxError(f"{path}: no numeric field 'results.{key}.{metric}'")
            values.append(v)
        score = sum(values) / len(values)
        stderr = math.nan
        if len(entries) == 1:
            se = number(entries[0][1].get(f"{metric}_stderr"))
            stderr = math.nan if se is None else se
        out.append(Result(model=model, benchmark=bench, metric=f"{task} {metric}", score=score, stderr=stderr,
                          higher_is_better=True, source=FORMAT_V1, file=str(path), date=date, display=display))
    if not out:
        raise SwjaxError(f"{path}: field 'results' has none of the leaderboard tasks "
                         f"{[t for t, _, _ in V1_TASKS.values()]}")
    return out
