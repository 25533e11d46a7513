"""Which importer reads a path: detection by content, and the walk over folders of runs.

A file is recognised by what it holds, not by its name: a zip with ``header.json`` or
``_journal/start.json`` is an inspect_ai log; a JSON object with ``schema_version``,
``model_info`` and ``evaluation_results`` is an Every Eval Ever record, one with ``results`` and
the harness's fields an lm-evaluation-harness results file, with ``config_general`` and ``harness|`` keys an
Open LLM Leaderboard v1 file, with ``eval.task`` and ``eval.model`` an inspect_ai JSON log; a
CSV / Parquet table with ``fullname`` and the leaderboard's columns is the v2 contents table,
with ``model``, ``task``, ``Scores`` or with ``id`` and ``Model version`` Epoch's data, with
``model``, ``benchmark``, ``score`` a long table, with ``model`` first and numbers in every
other column a leaderboard table (with ``model``, ``score``, ``scenario`` benchbench's long one); a folder with ``run_spec.json`` and
``stats.json`` is a HELM run. A file named on the command line that is none of these is an error;
inside a folder such files are skipped and counted in the merge report.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SwjaxError
from . import eee, epoch, helm, inspect_logs, lm_eval, long_table, open_llm, wide_table

_SUFFIXES = (".json", ".eval", ".csv", ".parquet")
_KNOWN = (
    "an lm-evaluation-harness results file, an inspect_ai log, a HELM run folder, an Open LLM "
    "Leaderboard v2 contents table or v1 results file, an Every Eval Ever record, Epoch's benchmark "
    "data, a long table with model,benchmark,score, or a leaderboard table (model, then numeric columns)"
)


@dataclass
class Found:
    """One readable input: its format, path and (for JSON) the parsed object."""

    format: str
    path: Path
    payload: object = None
    in_folder: bool = False  # found by walking a folder: a reader's refusal skips it, listed


@dataclass
class Scan:
    found: list[Found] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    #: why a skipped file was not read, where there is more to say than "no known format"
    reasons: dict[Path, str] = field(default_factory=dict)


def sniff(path: Path) -> Found | None:
    """The format of one file, or None when it is none of the known formats."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as err:
        raise SwjaxError(f"{path}: cannot read the file ({err})") from None
    if head[:4] == b"PK\x03\x04":
        return Found(inspect_logs.FORMAT, path) if inspect_logs.is_eval_zip(path, head) else None
    if head[:4] == b"PAR1" or path.suffix.lower() == ".csv":
        cols = long_table.columns(path)
        if open_llm.sniff_v2(cols):
            return Found(open_llm.FORMAT_V2, path)
        kind = epoch.sniff(cols)
        if kind is not None:
            return Found(epoch.FORMAT, path, kind)
        if long_table.sniff(cols):
            return Found(long_table.FORMAT, path)
        kind = wide_table.sniff(path, cols) if path.suffix.lower() == ".csv" else None
        if kind is not None:
            return Found(wide_table.FORMAT, path, kind)
        return None
    if path.suffix.lower() == ".json" or head[:1] in (b"{", b" ", b"\n"):
        try:
            with open(path, "rb") as fh:
                obj = json.loads(fh.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        except (ValueError, RecursionError) as err:  # 4300-digit integers, deep nesting
            raise SwjaxError(f"{path}: not readable JSON ({_json_problem(err)})") from None
        if open_llm.sniff_v1(obj):
            return Found(open_llm.FORMAT_V1, path, obj)
        if lm_eval.sniff(obj):
            return Found(lm_eval.FORMAT, path, obj)
        if inspect_logs.sniff(obj):
            return Found(inspect_logs.FORMAT, path, obj)
        if eee.sniff(obj):
            return Found(eee.FORMAT, path, obj)
    return None


def _json_problem(err: Exception) -> str:
    if isinstance(err, RecursionError):
        return "nested too deeply"
    return str(err).splitlines()[0][:120] if str(err) else type(err).__name__


def scan(paths) -> Scan:
    """Every readable input under ``paths`` (files and folders), in a stable order."""
    out = Scan()
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise SwjaxError(f"{path}: file or folder not found")
        if path.is_file() and path.name in ("run_spec.json", "stats.json"):
            path = path.parent
        if path.is_dir():
            _walk(path, out)
            continue
        found = sniff(path)
        if found is None:
            raise SwjaxError(f"{path}: unknown file format (expected {_KNOWN})")
        out.found.append(found)
    return out


def _walk(root: Path, out: Scan) -> None:
    if helm.is_run(root):
        out.found.append(Found(helm.FORMAT, root))
        return
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs.sort()
        keep = []
        for d in dirs:
            if helm.is_run(here / d):
                out.found.append(Found(helm.FORMAT, here / d, in_folder=True))
            elif not d.startswith("."):
                keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith(_SUFFIXES):
                continue
            if name == "schema.json":  # HELM's suite schema: read with its runs
                continue
            path = here / name
            try:
                found = sniff(path)
            except SwjaxError as err:
                out.skipped.append(path)
                out.reasons[path] = str(err)
                continue
            if found is None:
                out.skipped.append(path)
            else:
                found.in_folder = True
                out.found.append(found)
