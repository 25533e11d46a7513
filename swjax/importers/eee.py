"""Every Eval Ever records: one JSON record per model and source, many results (schemas 0.2.0, 0.3.0).

The fields (``eval.schema.json`` of the schema versions 0.2.0 and 0.3.0):

- ``schema_version``; ``model_info.id`` (``developer/model``), ``model_info.name``,
  ``model_info.developer``; ``retrieved_timestamp`` and ``evaluation_timestamp`` (Unix seconds
  as strings, or ISO dates);
- ``evaluation_results[]``: ``evaluation_name`` (the benchmark), ``metric_config``
  (``lower_is_better``, ``min_score``, ``max_score``, ``evaluation_description``; 0.3.0 adds
  ``metric_id`` and ``metric_name``), ``score_details.score`` and
  ``score_details.uncertainty`` (``standard_error.value``, ``confidence_interval.{lower, upper,
  confidence_level}``, ``num_samples``), ``evaluation_timestamp``.

Rules:

- the metric is ``metric_id``, else ``metric_name``, else ``evaluation_description`` (0.2.0 names
  the metric only there: "EM on MMLU");
- a score below ``min_score`` is missing (HELM writes -1.0 for a scenario it did not run); a
  score above ``max_score`` is an error;
- the standard error is ``standard_error.value``, else the half width of a symmetric normal
  ``confidence_interval`` divided by its z quantile (``confidence_level``, 0.95 when absent);
  ``num_samples`` is the sample count;
- aggregates over the other results (an evaluation named "Mean win rate", or any "... win rate"
  ranking the models against each other) are left out unless ``aggregates=True``: they are not
  a benchmark but a function of the other columns;
- the developer (``model_info.developer``; "unknown" and empty are none) is kept for
  ``--families auto``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from statistics import NormalDist

from ..errors import SwjaxError
from .records import Result, need, number

FORMAT = "eee"
VERSIONS = ("0.2.0", "0.3.0")
_AGGREGATE = re.compile(r"\bwin rate\b", re.IGNORECASE)
_NO_DEVELOPER = ("", "unknown", "none", "n/a")


def sniff(obj) -> bool:
    """True for a parsed Every Eval Ever record."""
    return (
        isinstance(obj, dict)
        and "schema_version" in obj
        and isinstance(obj.get("model_info"), dict)
        and isinstance(obj.get("evaluation_results"), list)
    )


def is_aggregate(name: str) -> bool:
    """An evaluation that ranks the models against each other ("Mean win rate")."""
    return bool(_AGGREGATE.search(name))


def _bound(value, path, field):
    if isinstance(value, str) and value in ("Infinity", "-Infinity"):
        return float(value)
    x = number(value)
    if x is None:
        raise SwjaxError(f"{path}: field {field!r} should be a number, got {value!r}")
    return x


def _date(value) -> float | None:
    if not isinstance(value, str) or not value.strip():
        return None
    x = number(value)
    if x is not None and math.isfinite(x):
        return x
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _stderr(unc: dict, path, field) -> float:
    se = unc.get("standard_error")
    if isinstance(se, dict) and "value" in se:
        x = number(se["value"])
        if x is None:
            raise SwjaxError(f"{path}: field {field}.standard_error.value should be a number")
        return x
    ci = unc.get("confidence_interval")
    if isinstance(ci, dict) and "lower" in ci and "upper" in ci:
        lo, hi = number(ci["lower"]), number(ci["upper"])
        level = number(ci.get("confidence_level", 0.95))
        if lo is None or hi is None or level is None or not 0 < level < 1:
            raise SwjaxError(f"{path}: field {field}.confidence_interval should hold numbers lower, upper "
                             "and a confidence_level between 0 and 1")
        return (hi - lo) / (2 * NormalDist().inv_cdf((1 + level) / 2))
    return math.nan


def developer(obj: dict) -> str:
    """The record's developer, "" when it names none."""
    dev = obj.get("model_info", {}).get("developer")
    return dev.strip() if isinstance(dev, str) and dev.strip().lower() not in _NO_DEVELOPER else ""


def read(path: Path, obj: dict, *, aggregates: bool = False) -> list[Result]:
    """Every result of one record (missing ones with a NaN score)."""
    version = need(obj, "schema_version", path, kind=str)
    if version not in VERSIONS:
        raise SwjaxError(f"{path}: field 'schema_version' is {version!r}; swjax reads {', '.join(VERSIONS)}")
    info = need(obj, "model_info", path)
    model = need(info, "id", path, "model_info", str).strip()
    if not model:
        raise SwjaxError(f"{path}: field 'model_info.id' is empty")
    dev = developer(obj)
    record_date = _date(obj.get("evaluation_timestamp")) or _date(obj.get("retrieved_timestamp"))
    out = []
    for i, res in enumerate(need(obj, "evaluation_results", path, kind=list)):
        where = f"evaluation_results[{i}]"
        name = need(res, "evaluation_name", path, where, str).strip()
        if is_aggregate(name) and not aggregates:
            continue
        config = need(res, "metric_config", path, where)
        details = need(res, "score_details", path, where)
        lib = need(config, "lower_is_better", path, f"{where}.metric_config", bool)
        metric = next((config[k] for k in ("metric_id", "metric_name", "evaluation_description")
                       if isinstance(config.get(k), str) and config[k].strip()), "score")
        score = number(need(details, "score", path, f"{where}.score_details", None))
        if score is None or not math.isfinite(score):
            raise SwjaxError(f"{path}: field '{where}.score_details.score' should be a finite number, "
                             f"got {details.get('score')!r}"[:300])
        low = _bound(config.get("min_score"), path, f"{where}.metric_config.min_score")
        high = _bound(config.get("max_score"), path, f"{where}.metric_config.max_score")
        if score < low:  # HELM's -1.0: not run
            score = math.nan
        elif score > high:
            raise SwjaxError(f"{path}: field '{where}.score_details.score' is {score!r}, above max_score {high!r}")
        unc = details.get("uncertainty") or {}
        if not isinstance(unc, dict):
            raise SwjaxError(f"{path}: field '{where}.score_details.uncertainty' should be an object")
        n = number(unc.get("num_samples"))
        out.append(Result(
            model=model, benchmark=name, metric=metric.strip(), score=score,
            stderr=_stderr(unc, path, f"{where}.score_details.uncertainty"),
            n=math.nan if n is None else n, higher_is_better=not lib, source=FORMAT, file=str(path),
            date=_date(res.get("evaluation_timestamp")) or record_date, display=name, developer=dev,
        ))
    return out
