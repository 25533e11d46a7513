"""inspect_ai evaluation logs: ``.eval`` files (a zip) and ``.json`` logs.

With inspect_ai installed, logs are read by its own reader (``inspect_ai.log.read_eval_log``,
header only). Without it, from the documented layout: a ``.eval`` file is a zip holding
``header.json`` (the ``EvalLog`` without samples, written when the run finishes),
``_journal/start.json``, ``summaries.json``, ``reductions.json`` and ``samples/*.json``; a JSON
log is the whole ``EvalLog``. The fields used (``inspect_ai/log/_log.py``):

- ``status``: ``"success"`` for a finished run (anything else is refused);
- ``eval.task`` and ``eval.model`` (``provider/model``, e.g. ``openai/gpt-4o``,
  ``hf/meta-llama/Llama-2-7b-chat-hf``: the provider is dropped), ``eval.created`` (ISO time);
- ``results.scores``: one ``EvalScore`` per scorer with ``name``, ``scored_samples`` and
  ``metrics``: metric name -> ``{"name", "value"}``; a metric named ``stderr`` is the standard
  error of the others; ``results.completed_samples``.

Current inspect_ai compresses zip members with zstd (method 93), which Python's zipfile reads
only from 3.14: without inspect_ai, the ``zstandard`` package is needed for those files.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from datetime import datetime
from pathlib import Path

from ..errors import SwjaxError
from .records import Result, need, number, shown

FORMAT = "inspect"
_ZSTD = 93
_NOT_SCORES = frozenset({"stderr", "std", "var", "variance"})


def sniff(obj) -> bool:
    """True for a parsed inspect_ai JSON log."""
    ev = obj.get("eval") if isinstance(obj, dict) else None
    return isinstance(ev, dict) and "task" in ev and "model" in ev and ("status" in obj or "results" in obj)


def is_eval_zip(path: Path, head: bytes) -> bool:
    if head[:4] != b"PK\x03\x04":
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except zipfile.BadZipFile:
        return False
    return "header.json" in names or "_journal/start.json" in names


def _member(path: Path, zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    if info.compress_type != _ZSTD:
        return zf.read(name)
    try:
        import zstandard
    except ImportError:
        raise SwjaxError(
            f"{path}: {name} is zstd-compressed (inspect_ai >= 0.3.1xx); install inspect_ai or "
            "zstandard to read it (pip install 'swjax[import]')"
        ) from None
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        raw = fh.read(info.compress_size)
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True)
    return reader.read()


def _header_from_zip(path: Path) -> dict:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "header.json" not in names:
                raise SwjaxError(
                    f"{path}: no header.json in the log (the run did not finish: field 'results' missing)"
                )
            return json.loads(_member(path, zf, "header.json"))
    except zipfile.BadZipFile as err:
        raise SwjaxError(f"{path}: not a readable .eval zip ({err})") from None
    except json.JSONDecodeError as err:
        raise SwjaxError(f"{path}: header.json is not valid JSON ({err.msg})") from None
    except (ValueError, RecursionError) as err:
        raise SwjaxError(f"{path}: header.json is not readable JSON ({type(err).__name__})") from None


def _header_from_inspect(path: Path) -> dict | None:
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        return None
    try:
        log = read_eval_log(str(path), header_only=True)
    except Exception as err:  # inspect_ai's own errors: name the file, keep one line
        raise SwjaxError(f"{path}: inspect_ai could not read the log ({type(err).__name__}: {err})") from None
    return json.loads(log.model_dump_json(exclude={"samples", "reductions"}))


def header(path: Path, obj: dict | None = None) -> dict:
    """The log's header (``EvalLog`` without samples) as plain JSON."""
    got = _header_from_inspect(path)
    if got is not None:
        return got
    if obj is not None:
        return obj
    return _header_from_zip(path)


def _created(text) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def read(path: Path, obj: dict | None = None) -> list[Result]:
    """Every metric of every scorer of one finished log."""
    head = header(path, obj)
    status = head.get("status")
    if status != "success":
        raise SwjaxError(f"{path}: field 'status' is {status!r}, expected 'success' (a finished run)")
    ev = need(head, "eval", path)
    task = need(ev, "task", path, "eval", str)
    model = need(ev, "model", path, "eval", str)
    model = model.split("/", 1)[1] if "/" in model else model  # drop the provider
    results = need(head, "results", path)
    scores = need(results, "scores", path, "results", list)
    if not scores:
        raise SwjaxError(f"{path}: field 'results.scores' is empty")
    date = _created(ev.get("created"))
    completed = number(results.get("completed_samples"))
    bench = task.rsplit("/", 1)[-1]
    out: list[Result] = []
    for i, score in enumerate(scores):
        metrics = need(score, "metrics", path, f"results.scores[{i}]")
        name = score.get("name", f"scorer{i}")
        benchmark = bench if i == 0 else f"{bench}/{name}"
        se = metrics.get("stderr")
        stderr = number(se.get("value")) if isinstance(se, dict) else math.nan
        n = number(score.get("scored_samples"))
        if n is None or math.isnan(n):
            n = completed
        order = 0
        for metric, entry in metrics.items():
            if metric in _NOT_SCORES:
                continue
            value = number(entry.get("value")) if isinstance(entry, dict) else None
            if value is None:
                raise SwjaxError(f"{path}: field 'results.scores[{i}].metrics.{metric}.value' is not a finite number: "
                                 f"{shown(entry.get('value') if isinstance(entry, dict) else entry)}")
            out.append(
                Result(
                    model=model, benchmark=benchmark, metric=metric, score=value,
                    stderr=math.nan if stderr is None else stderr,
                    n=math.nan if n is None else n, source=FORMAT, file=str(path), date=date,
                    order=order, display=ev.get("task_display_name") or "",
                )
            )
            order += 1
    if not out:
        raise SwjaxError(f"{path}: field 'results.scores' holds no metric")
    return out
