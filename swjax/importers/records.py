"""One evaluation result, as every importer returns it, and the helpers the importers share.

No jax, no pandas: importers run over thousands of files and build plain records.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import SwjaxError

__all__ = ["Result", "number", "shown", "load_json", "need"]


@dataclass(frozen=True)
class Result:
    """One score of one model on one benchmark, read from one file.

    Attributes
    ----------
    model : str
        The model as the source names it (a hub id, a path, a provider/model string).
    benchmark : str
        The benchmark (task, run, column) as the source names it.
    metric : str
        The metric (``"acc,none"`` for lm-evaluation-harness, a scorer metric for inspect_ai...).
    score : float
        The value, as the source reports it (not yet oriented).
    stderr : float
        Its standard error, NaN when the source gives none (``"N/A"`` is missing, never 0).
    n : float
        Number of samples behind the score, NaN when unknown.
    higher_is_better : bool or None
        The direction when the source states it, else None.
    source : str
        The format: ``lm-eval``, ``inspect``, ``helm``, ``openllm-v1``, ``openllm-v2``, ``long``.
    file : str
        The file (or run folder) the result was read from.
    date : float or None
        When the evaluation ran (POSIX seconds) if the source says, for ``--duplicates latest``.
    order : int
        Rank of the metric among the metrics the source reports for this benchmark (0 = first,
        the default choice when several are reported).
    display : str
        A display name for the benchmark, when the source has one.
    run : str
        Which result of the file this is, for files that hold several (the row of a table).
    developer : str
        The model's developer when the source names it apart from the id (Every Eval Ever's
        ``model_info.developer``), for ``--families auto``; else "".
    category : str
        What the source says the benchmark measures, where it says (the category of an IBM
        benchbench table's file name, :data:`swjax.importers.wide_table.CATEGORIES`); else "".
    """

    model: str
    benchmark: str
    metric: str
    score: float
    stderr: float = math.nan
    n: float = math.nan
    higher_is_better: bool | None = None
    source: str = ""
    file: str = ""
    date: float | None = None
    order: int = 0
    display: str = ""
    run: str = ""
    developer: str = ""
    category: str = ""


def number(value, *, missing_ok: bool = True) -> float:
    """A finite float from a JSON value: ``None``, ``"N/A"`` and empty strings are NaN.

    Returns None (not NaN) when the value is not a finite number (a bool, a string of text,
    ``1e400`` that JSON reads as infinity, an integer beyond float range), so that callers can
    tell a missing standard error from a field they must refuse.
    """
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            out = float(value)
        except OverflowError:  # a 400-digit JSON integer
            return None
        return out if not math.isinf(out) else None
    if isinstance(value, str):
        text = value.strip()
        if text in ("", "N/A", "NA", "n/a", "nan", "NaN"):
            return math.nan
        try:
            out = float(text)
        except (ValueError, OverflowError):
            return None
        return out if not math.isinf(out) else None
    return None


def shown(value, limit: int = 40) -> str:
    """A value for an error message, cut to ``limit`` characters (a 400-digit integer stays short)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_json(path: Path):
    """Parse a JSON file, naming the file on any error."""
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read())
    except FileNotFoundError:
        raise SwjaxError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SwjaxError(f"{path}: cannot read the file ({err})") from None
    except json.JSONDecodeError as err:
        raise SwjaxError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    except RecursionError:
        raise SwjaxError(f"{path}: not readable JSON (nested too deeply)") from None
    except ValueError as err:  # an integer of more than 4300 digits
        raise SwjaxError(f"{path}: not readable JSON ({str(err).splitlines()[0][:120]})") from None


def need(obj, key: str, path, where: str = "", kind=dict):
    """``obj[key]`` of the given type, else an error naming the file and the field."""
    field = f"{where}.{key}" if where else key
    if not isinstance(obj, dict) or key not in obj:
        raise SwjaxError(f"{path}: no field {field!r}")
    value = obj[key]
    if kind is not None and not isinstance(value, kind):
        raise SwjaxError(
            f"{path}: field {field!r} should be {getattr(kind, '__name__', kind)}, got {type(value).__name__}"
        )
    return value
