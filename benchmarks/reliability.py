"""Reliability table: bad and odd inputs through the command line and the Python API, plus a
fuzzer of malformed CSVs, each outcome classified.

    python benchmarks/reliability.py                 # everything (a few minutes on 2 cores)
    python benchmarks/reliability.py --fuzz 60 --quick   # a sample (the test suite runs one)

Outcomes:

- ``clear error``: exit code 2 (or :class:`swjax.SwjaxError` from the API), one line on stderr
  (usage errors of the option parser: its own short message), no traceback, and the output
  folder exactly as it was;
- ``correct``: a valid input whose numbers match ``tests/reference.py`` (the independent
  scipy implementation) on the matrix as parsed by an independent strict CSV reader;
- ``accepted``: an input that the strict reader rejects but swjax reads (unverified numbers);
- ``wrong result``: numbers that disagree with the reference, or a bad input accepted silently;
- ``traceback``: any other exception or exit code, a traceback or a multi-line error;
- ``partial output``: a failure that changed the output folder (files left behind, the old
  output changed, hidden temporaries);
- ``folder lost``: a file or folder that was there before the command is gone or changed (a
  user's folder given as ``--out``, or the command's own inputs);
- ``hang``: no answer within the time limit (a named pipe read twice, a signal not handled).

The "nothing lost" groups (:func:`nothing_lost_cases`) run every output option of every command
(found from the CLI, ``tests/cli_commands.py``) against a user's folder and the command's own
inputs, special files (named pipes, standard input, ``/dev/fd/N``, any file name), model ids
named like missing values, encodings, locales, environment settings that change JAX's
behaviour, a closed stdout, no network, and signals, those last ones in real processes.

Prints the table and writes ``benchmarks/results/reliability.json`` (a partial run:
``benchmarks/results/reliability/PART.json``) (every case with its
outcome and detail). Runs in one process (typer's CliRunner) so that hundreds of commands do
not each pay JAX's start-up; the console script's own start-up is covered by
``tests/test_interrupt.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SWJAX_DATA_DIR", str(ROOT.parent / "shared" / "data"))

from typer.testing import CliRunner  # noqa: E402

import swjax  # noqa: E402
from swjax.cli import app  # noqa: E402
from tests.reference import reference  # noqa: E402

OUTCOMES = ("clear error", "correct", "accepted", "wrong result", "traceback", "partial output", "folder lost",
            "hang")
CAPS = ["c0", "c1", "c2", "c3"]
# pandas' default missing-value strings, which swjax (through pandas) reads as missing cells
NA_STRINGS = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
              "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
METADATA = {"model_size", "FLOP", "name", "type"}


@dataclass
class Result:
    group: str
    name: str
    outcome: str
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Context:
    work: Path
    results: list = field(default_factory=list)

    def add(self, group, name, outcome, detail="", seconds=0.0):
        self.results.append(Result(group, name, outcome, str(detail)[:400], round(seconds, 3)))


def snapshot(folder: Path) -> dict:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


# ------------------------------------------------------------------ the strict reference reader


def strict_read(data: bytes):
    """The matrix as a strict reader sees it: (scores DataFrame) or raises ValueError."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"not utf-8: {err}")
    if "\x00" in text:
        raise ValueError("NUL")
    rows = list(csv.reader(io.StringIO(text, newline=""), skipinitialspace=True))
    if not rows or not rows[0]:
        raise ValueError("empty")
    header = [h.strip() for h in rows[0]]
    if "model" not in header and [h.lower() for h in header].count("model") == 1:
        header = ["model" if h.lower() == "model" else h for h in header]  # a `Model` id column
    if len(set(header)) != len(header) or "model" not in header:
        raise ValueError("header")
    body = [r for r in rows[1:] if r]
    if not body or any(len(r) != len(header) for r in body):
        raise ValueError("ragged")
    ids = [r[header.index("model")].strip() for r in body]
    if any(not i for i in ids) or len(set(ids)) != len(ids):
        raise ValueError("ids")
    cols = [h for h in header if h != "model" and h not in METADATA and not text_column(body, header.index(h))]
    values = {}
    for col in cols:
        j = header.index(col)
        out = []
        for r in body:
            cell = r[j].strip()
            if cell in NA_STRINGS:
                out.append(np.nan)
                continue
            if "_" in cell:
                raise ValueError(f"cell {cell!r}")
            try:
                v = float(cell)
            except ValueError:
                raise ValueError(f"cell {cell!r}")
            if not math.isfinite(v):
                raise ValueError("infinite")
            out.append(v)
        values[col] = out
    return pd.DataFrame(values, index=pd.Index(ids, name="model"))


def text_column(body, j) -> bool:
    """A column none of whose cells is a number or a missing marker: metadata (a family)."""
    cells = [r[j].strip() for r in body if r[j].strip() not in NA_STRINGS]
    if not cells:
        return False
    for cell in cells:
        try:
            float(cell)
            if "_" not in cell:  # pandas reads no digit separators
                return False
        except ValueError:
            pass
    return not any(c.lower() in ("inf", "-inf", "infinity") for c in cells)


def exact_rescale(scores: pd.DataFrame) -> pd.DataFrame:
    """Columns whose largest magnitude is beyond 2**500 (or below 2**-500) times a power of two
    that brings it to 2**500 (2**-500).

    Exact in binary floating point (every value stays a normal number), and z-scores and
    ranks do not change under a positive scale, so the reference's numbers are those of the
    data, except that its ``std`` (a sum of squares) no longer overflows beyond about 1e154
    (or underflows below 1e-154), where it would give z = 0 (or NaN) for the whole column and
    the reference itself would be wrong.
    """
    out = scores.copy()
    for col in out.columns:
        values = out[col].to_numpy(np.float64)
        finite = np.isfinite(values)
        top = np.abs(values[finite]).max() if finite.any() else 0.0
        if top == 0:
            continue
        exponent = int(np.frexp(top)[1])
        if exponent > 500:
            out[col] = np.ldexp(values, 500 - exponent)
        elif exponent < -500:
            out[col] = np.ldexp(values, -500 - exponent)
    return out


def expected_correlations(scores: pd.DataFrame, caps):
    """The reference correlations, or None where swjax must refuse the matrix."""
    if any(c not in scores.columns for c in caps):
        return None
    scores = exact_rescale(scores)
    kept = scores.loc[scores[list(caps)].notna().all(axis=1)]
    if len(kept) < 5 or any(kept[c].nunique() < 2 for c in caps):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reference(scores, caps)["correlations"]


def compare_numbers(got: dict, want: pd.Series, tol: float) -> str:
    """'' when every correlation agrees within ``tol`` (NaN with NaN), else a description."""
    bad = []
    for bench, value in want.items():
        g = got.get(bench)
        g = np.nan if g is None else float(g)
        if np.isnan(value) and np.isnan(g):
            continue
        if not (abs(g - value) <= tol):
            bad.append(f"{bench}: swjax {g:.6g} vs reference {value:.6g}")
    extra = set(got) - set(want.index)
    if extra:
        bad.append(f"extra columns {sorted(extra)[:3]}")
    return "; ".join(bad[:4])


# ------------------------------------------------------------------ running one command


def run_cli(ctx: Context, group: str, name: str, args, expect: str, out: Path | None = None,
            check=None, watch: Path | None = None):
    """Run one command in-process and classify it.

    ``expect``: "error" (a bad input), "ok" (valid; ``check(stdout)`` returns '' or what is
    wrong) or "either". ``watch``: a folder that must not change when the command fails.
    """
    watch = watch or (out.parent if out is not None else None)
    before = snapshot(watch) if watch is not None else None
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = CliRunner().invoke(app, [str(a) for a in args])
    seconds = time.perf_counter() - started
    err = result.stderr
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        ctx.add(group, name, "traceback", f"{type(exc).__name__}: {exc} | {tb}", seconds)
        return result
    code = result.exit_code
    if "Traceback" in err or "Traceback" in result.stdout:
        ctx.add(group, name, "traceback", err[-300:], seconds)
        return result
    if code == 0:
        if expect == "error":
            ctx.add(group, name, "wrong result", f"accepted a bad input: {result.stdout[:200]!r}", seconds)
        elif check is not None:
            problem = check(result.stdout)
            ctx.add(group, name, "wrong result" if problem else "correct", problem, seconds)
        else:
            ctx.add(group, name, "correct", "", seconds)
        return result
    if code != 2:
        ctx.add(group, name, "traceback", f"exit {code}: {err[-300:]!r}", seconds)
        return result
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning: ")]
    usage = "Usage:" in err or "Try '" in err  # the option parser's own message
    if not usage and (len(lines) != 1 or not lines[0].startswith("error: ")):
        ctx.add(group, name, "traceback", f"not one line: {err[-300:]!r}", seconds)
        return result
    if watch is not None and snapshot(watch) != before:
        ctx.add(group, name, "partial output", f"{lines[-1][:200]} | folder changed", seconds)
        return result
    if expect == "ok":
        ctx.add(group, name, "wrong result", f"refused a valid input: {lines[-1][:200]}", seconds)
        return result
    ctx.add(group, name, "clear error", lines[-1][:200], seconds)
    return result


def json_check(want, tol):
    def check(stdout):
        data = json.loads(stdout)
        (only,) = data.values()
        return compare_numbers(only["correlations"], want, tol)
    return check


# ------------------------------------------------------------------ inputs


def base_matrix(rng, m=9, safety=3, step=None):
    x = rng.normal(size=(m, len(CAPS) + safety))
    x[:, : len(CAPS)] += rng.normal(size=(m, 1)) * 1.5
    if step:
        x = np.round(x / step) * step
    cols = CAPS + [f"s{j}" for j in range(safety)]
    return pd.DataFrame(x.round(4), columns=cols, index=pd.Index([f"model{i}" for i in range(m)], name="model"))


def to_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv().encode("utf-8")


def mutations(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """One random malformation (or odd but valid change) of a CSV's bytes."""
    text = data.decode("utf-8")
    lines = text.splitlines()
    kinds = [
        "delimiter_all", "delimiter_row", "stray_quote", "bom", "duplicate_header", "duplicate_id",
        "empty_rows", "comma_row", "non_numeric", "inf_string", "nan_string", "huge_value", "tiny_value",
        "huge_column", "tiny_column", "unicode", "truncate", "trailing_comma", "header_only", "crlf",
        "whitespace", "percent", "thousands", "latin1", "utf16", "nul", "quoted_numbers", "missing_id",
        "drop_column", "extra_column", "swap_rows", "constant_column", "negative_zero", "long_cell",
        "all_missing_column", "few_models", "byte_flip", "cr_only",
    ]
    kind = rng.choice(kinds)
    r = rng.randrange(1, len(lines))
    c = rng.randrange(1, len(lines[0].split(",")))

    def set_cell(row, col, value):
        cells = lines[row].split(",")
        cells[col] = value
        lines[row] = ",".join(cells)

    if kind == "delimiter_all":
        d = rng.choice([";", "\t", "|", " "])
        lines = [line.replace(",", d) for line in lines]
    elif kind == "delimiter_row":
        lines[r] = lines[r].replace(",", rng.choice([";", "\t"]))
    elif kind == "stray_quote":
        pos = rng.randrange(len(lines[r]))
        lines[r] = lines[r][:pos] + '"' + lines[r][pos:]
    elif kind == "bom":
        return kind, b"\xef\xbb\xbf" + data
    elif kind == "duplicate_header":
        cells = lines[0].split(",")
        cells[c] = cells[rng.randrange(1, len(cells))] if rng.random() < 0.5 else cells[c - 1] if c > 1 else "model"
        lines[0] = ",".join(cells)
    elif kind == "duplicate_id":
        cells = lines[r].split(",")
        cells[0] = lines[1 if r != 1 else 2].split(",")[0]
        lines[r] = ",".join(cells)
    elif kind == "empty_rows":
        lines.insert(r, "")
    elif kind == "comma_row":
        lines.insert(r, "," * (len(lines[0].split(",")) - 1))
    elif kind == "non_numeric":
        set_cell(r, c, rng.choice(["abc", "1.2.3", "--1", "one", "1e", "0x1A", "1_000", "TRUE"]))
    elif kind == "inf_string":
        set_cell(r, c, rng.choice(["inf", "-inf", "Infinity", "1e400", "-1e999"]))
    elif kind == "nan_string":
        set_cell(r, c, rng.choice(["nan", "NaN", "NA", "null", "None", "N/A", ""]))
    elif kind == "huge_value":
        set_cell(r, c, rng.choice(["1e300", "1.7e308", "-1e308", "1e38", "3.4e38"]))
    elif kind == "tiny_value":
        set_cell(r, c, rng.choice(["1e-300", "5e-324", "-1e-310", "1e-45"]))
    elif kind in ("huge_column", "tiny_column"):
        scale = 1e20 if kind == "huge_column" else 1e-20
        for i in range(1, len(lines)):
            cells = lines[i].split(",")
            cells[c] = repr(float(cells[c]) * scale) if cells[c] else ""
            lines[i] = ",".join(cells)
    elif kind == "unicode":
        word = rng.choice(["modèle", "模型", "🤖", "\u202emodel", "ñ,\u00e9"])
        if rng.random() < 0.5:
            cells = lines[r].split(",")
            cells[0] = f'"{cells[0]}{word}"'
            lines[r] = ",".join(cells)
        else:
            cells = lines[0].split(",")
            cells[-1] = f'"{cells[-1]}{word}"'
            lines[0] = ",".join(cells)
    elif kind == "truncate":
        cut = rng.randrange(len(text) // 3, len(text))
        return kind, text[:cut].encode("utf-8")
    elif kind == "trailing_comma":
        lines = [line + "," for line in lines[:1]] + [line + "," for line in lines[1:]] if rng.random() < 0.5 \
            else lines[:1] + [line + "," for line in lines[1:]]
    elif kind == "header_only":
        lines = lines[:1]
    elif kind == "crlf":
        return kind, ("\r\n".join(lines) + "\r\n").encode("utf-8")
    elif kind == "cr_only":
        return kind, ("\r".join(lines) + "\r").encode("utf-8")
    elif kind == "whitespace":
        lines = [", ".join(f" {v} " for v in line.split(",")) for line in lines]
    elif kind == "percent":
        set_cell(r, c, lines[r].split(",")[c] + "%")
    elif kind == "thousands":
        set_cell(r, c, '"1,234.5"')
    elif kind == "latin1":
        return kind, ("\n".join(lines).replace("model1", "modèl1") + "\n").encode("latin-1")
    elif kind == "utf16":
        return kind, ("\n".join(lines) + "\n").encode("utf-16")
    elif kind == "nul":
        pos = rng.randrange(len(text))
        return kind, (text[:pos] + "\x00" + text[pos:]).encode("utf-8")
    elif kind == "quoted_numbers":
        lines = lines[:1] + [",".join(f'"{v}"' for v in line.split(",")) for line in lines[1:]]
    elif kind == "missing_id":
        cells = lines[r].split(",")
        cells[0] = ""
        lines[r] = ",".join(cells)
    elif kind == "drop_column":
        lines = [",".join(v for j, v in enumerate(line.split(",")) if j != c) for line in lines]
    elif kind == "extra_column":
        lines = [lines[0] + ",extra"] + [line + f",{rng.random():.3f}" for line in lines[1:]]
    elif kind == "swap_rows":
        body = lines[1:]
        rng.shuffle(body)
        lines = lines[:1] + body
    elif kind == "constant_column":
        for i in range(1, len(lines)):
            set_cell(i, c, "0.5")
    elif kind == "negative_zero":
        set_cell(r, c, rng.choice(["-0", "+0.0", "-0.0e0", "+1", ".5", "5."]))
    elif kind == "long_cell":
        set_cell(r, c, "1" + "0" * rng.choice([20, 400, 5000]))
    elif kind == "all_missing_column":
        for i in range(1, len(lines)):
            set_cell(i, c, "")
    elif kind == "few_models":
        lines = lines[: rng.randrange(2, 6)]
    elif kind == "byte_flip":
        raw = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return kind, bytes(raw)
    return kind, ("\n".join(lines) + "\n").encode("utf-8")


def fuzz(ctx: Context, count: int, seed: int, exclude=(), models=None):
    """``count`` mutated CSVs through ``swjax analyze --out`` (mutation kinds in ``exclude``
    are drawn again)."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    folder = ctx.work / "fuzz"
    folder.mkdir()
    out_dir = ctx.work / "fuzz_out"
    out_dir.mkdir()
    old = out_dir / "a.json"
    old.write_text('{"previous": "run"}\n')
    for i in range(count):
        frame = base_matrix(nrng, m=models or int(nrng.integers(6, 14)), step=0.5 if i % 3 == 0 else None)
        kind, data = mutations(rng, to_bytes(frame))
        while kind in exclude:
            kind, data = mutations(rng, to_bytes(frame))
        path = folder / f"fuzz{i:04d}.csv"
        path.write_bytes(data)
        x64 = i % 4 == 0
        try:
            want = expected_correlations(strict_read(data), CAPS)
            strict_ok = want is not None
        except ValueError:
            want, strict_ok = None, False
        args = ["analyze", "--data", path, "--capabilities", ",".join(CAPS), "--format", "json", "--out", old]
        if x64:
            args.append("--x64")
        tol = 1e-9 if x64 else 2e-5
        name = f"fuzz{i:04d} {kind}{' x64' if x64 else ''}"
        before = len(ctx.results)
        result = run_cli(ctx, "fuzzed CSVs", name, args, "either", out=old,
                check=(lambda s, w=want, t=tol: json_check(w, t)(old.read_text())) if strict_ok else None)
        res = ctx.results[before]
        if res.outcome == "correct" and not strict_ok:
            res.outcome, res.detail = "accepted", "the strict reader rejects this file"
        if result.exit_code == 0:  # the output was written: put the 'old' one back for the next case
            old.write_text('{"previous": "run"}\n')
        elif old.read_text() != '{"previous": "run"}\n' or sorted(os.listdir(out_dir)) != ["a.json"]:
            res.outcome = "partial output"
            old.write_text('{"previous": "run"}\n')


# ------------------------------------------------------------------ real result files, mutated

REAL_LM = ROOT.parent / "shared" / "real" / "lm_eval" / "saucam_model_evals"


def real_base(folder: Path, models: int = 6) -> Path:
    """A copy of the first ``models`` models' harness results (six files each) from the real
    corpus; the files' own bytes."""
    for d in sorted(REAL_LM.glob("*/*"))[:models]:
        shutil.copytree(d, folder / d.parent.name / d.name)
    return folder


def _json_with(obj, path_keys, text: str) -> str:
    """``obj`` as JSON text with the value at ``path_keys`` replaced by raw JSON ``text``."""
    node = obj
    for k in path_keys[:-1]:
        node = node[k]
    node[path_keys[-1]] = "@@MUTATED@@"
    return json.dumps(obj).replace('"@@MUTATED@@"', text)


def real_mutation(rng: random.Random, folder: Path) -> str:
    """Mutate the folder in place, one of: truncated file, wrong type, duplicated file, metric
    removed from one file (mixed metrics across files), keys reordered. Returns the kind."""
    files = sorted(folder.rglob("*.json"))
    path = rng.choice(files)
    obj = json.loads(path.read_text())
    task = rng.choice(sorted(obj["results"]))
    keys = [k for k in obj["results"][task] if "," in k and "_stderr" not in k]
    kind = rng.choice(["truncated", "wrong type", "duplicated", "metric removed", "reordered", "null score"])
    if kind == "truncated":
        text = path.read_text()
        path.write_text(text[: rng.randrange(1, len(text) - 1)])
        return f"truncated {path.name}"
    if kind == "wrong type":
        value = rng.choice(['"abc"', "[0.5]", '{"v": 0.5}', "true", "1e400", "-1e400", "9" * 400, '"0.5x"'])
        path.write_text(_json_with(obj, ["results", task, rng.choice(keys)], value))
        return f"wrong type {value[:12]} in {path.name}"
    if kind == "duplicated":
        shutil.copy(path, path.with_name("copy_" + path.name))
        return f"duplicated {path.name}"
    if kind == "null score":
        path.write_text(_json_with(obj, ["results", task, rng.choice(keys)], rng.choice(["null", '"N/A"'])))
        return f"null score in {path.name}"
    if kind == "metric removed" and len(keys) > 1:
        gone = rng.choice(keys)
        del obj["results"][task][gone]
        path.write_text(json.dumps(obj))
        return f"{gone} removed from {task} in {path.name}"
    items = list(obj["results"][task].items())
    rng.shuffle(items)
    obj["results"][task] = dict(items)
    path.write_text(json.dumps(obj))
    return f"reordered {task} in {path.name}"


def _plain_number(value):
    """The score a plain reader takes from a JSON value: a finite float, NaN for null / "N/A",
    None for anything else (the file is then not valid)."""
    if value is None or value == "N/A":
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        out = float(value)
    except OverflowError:
        return None
    return out if math.isfinite(out) else None


def check_real_import(inputs: Path, out: Path) -> str:
    """'' when the imported matrix is exactly what the files say, else what is wrong.

    Read here with plain json, independently of the importer: every file the report does not
    list as skipped must be valid (parses, every metric a number, null or "N/A"); every file
    that is valid must not be skipped (a bad value in a group's subtask, which import does not
    read by default, leaves the file valid); every cell of scores.csv is the file's value of the
    metric that info.csv names for its column (negated where the direction is lower), and every
    (model, column) that a file holds is a cell.
    """
    report = (out / "merge_report.txt").read_text()
    skipped = {line.split(": ", 1)[0].removeprefix("skipped ") for line in report.splitlines()
               if line.startswith("skipped ")}
    scores = pd.read_csv(out / "scores.csv", index_col="model")  # pandas parses floats exactly
    info = pd.read_csv(out / "info.csv", index_col="benchmark", keep_default_na=False)
    scores = scores[[c for c in scores.columns if c in info.index]]  # metadata (developer) aside
    want: dict[tuple, list] = {}
    for path in sorted(inputs.rglob("*.json")):
        try:
            obj = json.loads(path.read_text())
            entries = obj["results"]
            below = {t for subs in obj.get("group_subtasks", {}).values() for t in subs}
            valid = all(_plain_number(v) is not None for t, e in entries.items() if t not in below
                        for k, v in e.items() if "," in k)  # subtasks are not read by default
        except (ValueError, RecursionError, KeyError, TypeError, AttributeError):
            obj, valid = None, False
        if str(path) in skipped:
            if valid:
                return f"{path.name} is valid but was skipped"
            continue
        if not valid:
            return f"{path.name} is not valid but was read silently"
        args = dict(kv.split("=", 1) for kv in obj["config"]["model_args"].split(","))
        model = args["pretrained"].split("/")[-1]
        for bench in scores.columns:
            if bench in entries:
                value = _plain_number(entries[bench].get(info.at[bench, "metric"]))
                if value is not None and not math.isnan(value):
                    sign = -1.0 if info.at[bench, "direction"].startswith("lower") else 1.0
                    want.setdefault((model, bench), []).append(sign * value)
    for (model, bench), values in want.items():
        got = scores.at[model, bench] if model in scores.index else math.nan
        if not any(got == v for v in values):
            return f"{model} / {bench}: matrix {got!r}, files {values[:2]}"
    held = {(m, b) for m in scores.index for b in scores.columns if np.isfinite(scores.at[m, b])}
    extra = held - set(want)
    if extra:
        return f"cells no file holds: {sorted(extra)[:2]}"
    return ""


def real_file_cases(ctx: Context, count: int, seed: int = 0):
    """``count`` mutated copies of real harness results through ``swjax import``: a clear error,
    or a matrix that :func:`check_real_import` finds exactly as the files say."""
    if not REAL_LM.is_dir():
        ctx.add("real files, mutated", "corpus", "clear error", f"{REAL_LM} absent: skipped")
        return
    rng = random.Random(seed)
    for i in range(count):
        inputs = real_base(ctx.work / f"real{i:03d}" / "in")
        kinds = [real_mutation(rng, inputs) for _ in range(rng.choice([1, 1, 2]))]
        out = ctx.work / f"real{i:03d}" / "out"
        args = ["import", inputs, "--out", out]
        if i % 2:
            args += ["--duplicates", "latest"]
        name = f"real{i:03d} " + "; ".join(kinds) + (" --duplicates latest" if i % 2 else "")
        run_cli(ctx, "real files, mutated", name, args, "either", out=out,
                check=lambda _stdout, a=inputs, o=out: check_real_import(a, o))


# ------------------------------------------------------------------ command-line cases


def cli_cases(ctx: Context, quick: bool):
    w = ctx.work
    nrng = np.random.default_rng(1)
    good = w / "good.csv"
    frame = base_matrix(nrng, m=12)
    frame.to_csv(good)
    want = expected_correlations(frame, CAPS)
    small = w / "small.csv"  # the 6-model matrix (the small-m jit bug)
    small.write_text(
        "model,cap0,cap1,cap2,safety0,safety1\nmodel0,0.697,0.886,0.738,1.142,2.461\n"
        "model1,-3.745,-1.415,-1.002,-0.882,-1.55\nmodel2,-0.974,1.11,2.51,-0.752,1.646\n"
        "model3,-0.519,-0.252,-1.244,-0.525,1.109\nmodel4,1.754,2.904,2.349,1.61,2.915\n"
        "model5,1.19,1.579,0.454,0.817,0.053\n"
    )
    info_good = w / "info.csv"
    info_good.write_text("benchmark,name,metric\nc0,Cap zero,acc\ns0,Safety zero,acc\n")
    caps = ",".join(CAPS)
    a_file = w / "a_file"
    a_file.write_text("not a folder\n")
    mine = w / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work\n")
    outs = w / "outs"
    outs.mkdir()

    # valid inputs, numbers against the reference (float32 and float64)
    for x64 in (False, True):
        tol = 1e-9 if x64 else 2e-5
        extra = ["--x64"] if x64 else []
        run_cli(ctx, "valid inputs", f"analyze good.csv{' x64' if x64 else ''}",
                ["analyze", "--data", good, "--capabilities", caps, "--format", "json", *extra], "ok",
                check=json_check(want, tol))
        small_want = expected_correlations(strict_read(small.read_bytes()), ["cap0", "cap1", "cap2"])
        run_cli(ctx, "valid inputs", f"analyze small.csv (6 models){' x64' if x64 else ''}",
                ["analyze", "--data", small, "--capabilities", "cap0,cap1,cap2", "--format", "json", *extra], "ok",
                check=json_check(small_want, tol))
        for m in (5, 7, 10, 13, 20, 40):
            f = base_matrix(np.random.default_rng(100 + m), m=m, step=0.5 if m % 2 else None)
            p = w / f"m{m}.csv"
            f.to_csv(p)
            run_cli(ctx, "valid inputs", f"analyze {m} models{' ties' if m % 2 else ''}{' x64' if x64 else ''}",
                    ["analyze", "--data", p, "--capabilities", caps, "--format", "json", *extra], "ok",
                    check=json_check(expected_correlations(f, CAPS), tol))
    # extreme but valid values: the numbers must still be right (or a clear error)
    for label, scale in (("x1e20", 1e20), ("x1e-20", 1e-20), ("x1e300", 1e300)):
        f = frame.copy()
        f["c1"] = f["c1"] * scale
        p = w / f"scaled{label}.csv"
        f.to_csv(p)
        for x64 in (False, True):
            run_cli(ctx, "valid inputs", f"capability column {label}{' x64' if x64 else ''}",
                    ["analyze", "--data", p, "--capabilities", caps, "--format", "json", *(["--x64"] if x64 else [])],
                    "either", check=json_check(want, 1e-9 if x64 else 2e-5))
    f = frame.copy()
    f.iloc[3, 1] = 1e308
    p = w / "cell1e308.csv"
    f.to_csv(p)
    want308 = expected_correlations(f, CAPS)
    for x64 in (False, True):
        run_cli(ctx, "valid inputs", f"one cell 1e308{' x64' if x64 else ''}",
                ["analyze", "--data", p, "--capabilities", caps, "--format", "json", *(["--x64"] if x64 else [])],
                "either", check=json_check(want308, 1e-9 if x64 else 2e-5))

    # bad options of every command
    n = ["--n", "30"]
    option_cases = []
    for cmd in ("analyze", "bootstrap", "lobo", "subsets"):
        base = [cmd, "--data", good, "--capabilities", caps] + (n if cmd == "bootstrap" else [])
        option_cases += [
            (cmd, [cmd, "--data", good, "--capabilities", ""], "error"),
            (cmd, [cmd, "--data", good, "--capabilities", "c0"], "error"),
            (cmd, [cmd, "--data", good, "--capabilities", "c0,nope"], "error"),
            (cmd, [cmd, "--data", good, "--capabilities", "c0,c0"], "error"),
            (cmd, [cmd, "--data", good, "--capabilities", ","], "error"),
            (cmd, base + ["--against", "nope"], "error"),
            (cmd, base + ["--format", "xml"], "error"),
            (cmd, base + ["--set", "nope"], "error"),
            (cmd, [cmd, "--info", info_good], "error"),
            (cmd, [cmd, "--data", w / "missing.csv"], "error"),
            (cmd, [cmd, "--data", w], "error"),
            (cmd, [cmd, "--data", a_file], "error"),
            (cmd, [cmd, "--data", good, "--info", w / "missing.csv", "--capabilities", caps], "error"),
            (cmd, base + ["--unknown-option"], "error"),
        ]
    boot = ["bootstrap", "--data", good, "--capabilities", caps]
    for opt, values in {
        "--n": ["-1", "0", "abc", "1.5", ""],
        "--level": ["0", "1", "1.5", "-0.1", "nan", "abc", "inf"],
        "--threshold": ["-1", "2", "nan", "inf", "abc"],
        "--seed": ["abc", "1.5"],
        "--method": ["xyz", ""],
        "--permutations": ["-1", "abc"],
        "--device": ["tpu", "gpu"],
        "--batch-size": ["0", "-1", "abc"],
        "--families": [w / "missing.csv", a_file, good],
        "--cluster-by": ["nope"],
    }.items():
        for v in values:
            option_cases.append(("bootstrap", boot + ["--n", "30", opt, v] if opt != "--n" else boot + [opt, v], "error"))
    for cmd in ("lobo", "subsets"):
        base = [cmd, "--data", good, "--capabilities", caps]
        for opt, values in {"--n": ["-1", "abc"], "--level": ["0", "2"], "--min-size": ["0", "1", "99", "-3"],
                            "--max-subsets": ["0", "-1"], "--batch-size": ["0", "-1"]}.items():
            if cmd == "lobo" and opt in ("--min-size", "--max-subsets", "--batch-size"):
                continue
            for v in values:
                option_cases.append((cmd, base + [opt, v], "error"))
    comp = ["compare", "--data", good, "--capabilities", caps, "--n", "30"]
    option_cases += [
        ("compare", comp + ["nope"], "error"),
        ("compare", comp + ["s0", "nope"], "error"),
        ("compare", comp + ["compute"], "error"),  # no FLOP column
        ("compare", comp + ["s0", "--set", "both"], "error"),
        ("compare", ["compare", "MT_Bench", "--between", "base", "nope", "--n", "30"], "error"),
        ("compare", ["compare", "MT_Bench", "s0", "--between", "base", "chat"], "error"),
        ("compare", comp + ["s0", "--level", "1.5"], "error"),
        ("compare", comp + ["s0", "--method", "bca2"], "error"),
    ]
    for opt, values in {"--models": ["0", "1", "2", "-5", "abc"], "--capabilities": ["0", "1", "-1"],
                        "--rho": ["2", "-1.5", "abc", "", "nan"], "--loading": ["0", "1.5", "-1", "nan"],
                        "--missing": ["-0.1", "1", "1.5"], "--step": ["0", "-1"], "--families": ["-1"],
                        "--family-share": ["-1", "2"], "--population": ["0", "-1", "3"],
                        "--link": ["cubic"], "--hetero": ["-1", "nan"]}.items():
        for v in values:
            option_cases.append(("simulate", ["simulate", "--population", "2000", opt, v], "error"))
    for opt, values in {"--datasets": ["0", "-1", "abc"], "--n": ["0", "-1"], "--methods": ["xyz", ""],
                        "--rho": ["2", "abc"], "--families": ["-1", "abc"], "--hetero": ["abc"],
                        "--level": ["0", "1"]}.items():
        for v in values:
            option_cases.append(("coverage", ["coverage", "--datasets", "2", "--n", "20", "--population", "2000", opt, v], "error"))
    scores_bad = w / "scores_bad.csv"
    scores_bad.write_text("model,newbench\nnot_a_model,1\n")
    scores_good = w / "scores_good.csv"
    chat = swjax.load_dataset("chat")
    pd.DataFrame({"newbench": np.arange(26.0)}, index=pd.Index(chat.models, name="model")).to_csv(scores_good)
    for cmd in ("correlate", "check"):
        option_cases += [
            (cmd, [cmd, "--scores", w / "missing.csv"], "error"),
            (cmd, [cmd, "--scores", scores_bad, "--n", "30"], "error"),
            (cmd, [cmd, "--scores", good, "--n", "30"], "error"),
            (cmd, [cmd, "--scores", scores_good, "--n", "-1"], "error"),
            (cmd, [cmd, "--scores", scores_good, "--level", "3"], "error"),
            (cmd, [cmd, "--scores", scores_good, "--set", "nope"], "error"),
            (cmd, [cmd], "error"),
        ]
    option_cases += [
        ("plot", ["plot", "forest", "--out", w / "x.pdf"], "error"),
        ("plot", ["plot", "scatter", "--out", w / "x.png"], "error"),
        ("plot", ["plot", "nope", "--out", w / "x.png"], "error"),
        ("plot", ["plot", "forest", "--out", w / "x.png", "--set", "both"], "error"),
        ("plot", ["plot", "distribution", "--benchmark", "nope", "--out", w / "x.png", "--n", "30"], "error"),
        ("plot", ["plot", "forest", "--out", w / "x.png", "--n", "-5"], "error"),
        ("report", ["report", "--out", w / "r", "--n", "-1"], "error"),
        ("report", ["report", "--out", w / "r", "--published", w / "missing.json", "--n", "30"], "error"),
        ("report", ["report", "--out", w / "r", "--scores", scores_bad, "--n", "30"], "error"),
        ("top", ["nope"], "error"),
        ("top", ["analyze", "extra-argument"], "error"),
    ]
    if quick:
        option_cases = option_cases[::4]
    for cmd, args, expect in option_cases:
        watch = outs
        run_cli(ctx, "bad options", " ".join(str(a).replace(str(w), "W") for a in args)[:120], args, expect, watch=watch)

    # output paths: every command that writes, each kind of bad place
    bad_files = {
        "an existing folder": outs,
        "under a file": a_file / "x.csv",
        "under a file, deeper": a_file / "y" / "x.csv",
        "in /proc": "/proc/swjax-out.csv",
        "in /sys": "/sys/swjax-out.csv",
        "a mount point": "/proc",
        "the root": "/",
        "a device": "/dev/null",
        "empty path": "",
    }
    bad_dirs = {
        "an existing file": a_file,
        "under a file": a_file / "sub",
        "a mount point": "/proc",
        "the root": "/",
        "in /proc": "/proc/swjax-out",
        "in /sys": "/sys/swjax-out",
        "a user's folder": mine,
        "/tmp itself": tempfile.gettempdir(),
        "empty path": "",
    }
    file_cmds = {
        "analyze --out": lambda p: ["analyze", "--data", good, "--capabilities", caps, "--out", p],
        "lobo --out": lambda p: ["lobo", "--data", good, "--capabilities", caps, "--out", p],
        "subsets --out": lambda p: ["subsets", "--data", good, "--capabilities", caps, "--out", p],
        "compare --out": lambda p: ["compare", "s0", "--data", good, "--capabilities", caps, "--n", "30", "--out", p],
        "correlate --out": lambda p: ["correlate", "--scores", scores_good, "--n", "30", "--out", p],
        "check --junit": lambda p: ["check", "--scores", scores_good, "--n", "30", "--junit", p],
        "check --summary": lambda p: ["check", "--scores", scores_good, "--n", "30", "--summary", p],
        "plot --out": lambda p: ["plot", "forest", "--n", "30", "--out", p if Path(str(p)).suffix or not str(p) or os.path.exists(p) else f"{p}.png"],
    }
    dir_cmds = {
        "bootstrap --out": lambda p: ["bootstrap", "--data", good, "--capabilities", caps, "--n", "30", "--out", p],
        "bootstrap --stream-to": lambda p: ["bootstrap", "--data", good, "--capabilities", caps, "--n", "30", "--stream-to", p],
        "report --out": lambda p: ["report", "--set", "chat", "--n", "30", "--out", p],
        "simulate --out": lambda p: ["simulate", "--models", "8", "--population", "2000", "--out", p],
        "coverage --out": lambda p: ["coverage", "--datasets", "2", "--n", "20", "--population", "2000", "--out", p],
    }
    for cname, make in file_cmds.items():
        for where, p in bad_files.items():
            if quick and where not in ("an existing folder", "under a file", "in /proc"):
                continue
            run_cli(ctx, "output paths", f"{cname} {where}", make(p), "error", watch=w / "outs")
    for cname, make in dir_cmds.items():
        for where, p in bad_dirs.items():
            if cname == "bootstrap --stream-to" and where in ("a user's folder", "/tmp itself", "the root", "empty path"):
                continue  # written into, not replaced: fine where writable ("" is the current folder)
            if quick and where not in ("an existing file", "a mount point", "a user's folder"):
                continue
            run_cli(ctx, "output paths", f"{cname} {where}", make(p), "error", watch=mine)
    # an output that would overwrite an input
    run_cli(ctx, "output paths", "analyze --out the --data file", ["analyze", "--data", good, "--capabilities", caps, "--out", good], "error", watch=w)
    # a full disk at write time (a tiny tmpfs where one can be mounted)
    full_disk(ctx, good, caps)

    # malformed side files: info and families
    for i, (label, text) in enumerate({
        "ragged": "benchmark,name,metric\nc0,a,b,c,d\n", "quote": 'benchmark,name\nc0,"x\n',
        "binary": "\x89PNG\x00\x00", "no benchmark column": "name,metric\na,b\n", "empty": "",
        "only newlines": "\n\n", "utf16": None, "latin1": None, "trailing comma": "benchmark,name,metric\nc0,a,b,\n",
    }.items()):
        p = w / f"info_bad{i}.csv"
        if label == "utf16":
            p.write_bytes("benchmark,name\nc0,x\n".encode("utf-16"))
        elif label == "latin1":
            p.write_bytes("benchmark,name\nc0,caf\xe9\n".encode("latin-1"))
        else:
            p.write_text(text)
        run_cli(ctx, "malformed side files", f"--info {label}", ["analyze", "--data", good, "--info", p, "--capabilities", caps], "error")
        run_cli(ctx, "malformed side files", f"--families {label}",
                ["bootstrap", "--data", good, "--capabilities", caps, "--n", "30", "--families", p], "error")


def full_disk(ctx: Context, good: Path, caps: str):
    import subprocess

    mnt = ctx.work / "tiny"
    mnt.mkdir()
    if sys.platform != "linux" or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mnt)],
                                                 capture_output=True).returncode != 0:
        print("full-disk cases skipped: cannot mount a tmpfs here (they need root on Linux)", file=sys.stderr)
        return
    try:
        out = mnt / "b"
        (mnt / "fill").write_bytes(b"\0" * 20_000)
        run_cli(ctx, "output paths", "bootstrap --out on a full disk (checked before)",
                ["bootstrap", "--data", good, "--capabilities", caps, "--n", "3000", "--out", out], "error", watch=mnt)
        run_cli(ctx, "output paths", "analyze --out on a full disk (at write time)",
                ["analyze", "--set", "chat", "--format", "json", "--out", mnt / "a.json"], "error", watch=mnt)
        run_cli(ctx, "output paths", "simulate --out on a full disk (at write time)",
                ["simulate", "--models", "400", "--population", "2000", "--out", mnt / "sim"], "error", watch=mnt)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


# ------------------------------------------------------------------ Python API cases


def api_cases(ctx: Context, quick: bool):
    nrng = np.random.default_rng(2)
    frame = base_matrix(nrng, m=12)
    ds = swjax.Dataset(label="api", scores=frame, meta=pd.DataFrame(index=frame.index), info=pd.DataFrame(columns=["name", "metric"]))
    want = expected_correlations(frame, CAPS)

    def call(name, fn, expect, check=None):
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = fn()
        except swjax.SwjaxError as err:
            text = str(err)
            outcome = "clear error" if expect != "ok" and "\n" not in text else "wrong result" if expect == "ok" else "traceback"
            ctx.add("Python API", name, outcome, text[:200], time.perf_counter() - started)
            return
        except Exception as err:  # noqa: BLE001: classified
            ctx.add("Python API", name, "traceback", f"{type(err).__name__}: {str(err)[:200]}", time.perf_counter() - started)
            return
        seconds = time.perf_counter() - started
        if expect == "error":
            ctx.add("Python API", name, "wrong result", "accepted a bad input", seconds)
        elif check is not None:
            problem = check(value)
            ctx.add("Python API", name, "wrong result" if problem else "correct", problem, seconds)
        else:
            ctx.add("Python API", name, "correct", "", seconds)

    corr_check = lambda tol: (lambda a: compare_numbers(a.correlations.to_dict(), want, tol))  # noqa: E731
    call("analyze Dataset float32", lambda: swjax.analyze(ds, capabilities=CAPS), "ok", corr_check(2e-5))
    call("analyze Dataset float64", lambda: swjax.analyze(ds, capabilities=CAPS, x64=True), "ok", corr_check(1e-9))
    dup = pd.concat([frame, frame.iloc[:3]])
    dup.index = pd.Index([f"m{i}" for i in range(len(dup))], name="model")
    counts = np.ones(12)
    counts[:3] = 2
    call("integer weights = repeated rows", lambda: swjax.analyze(ds, capabilities=CAPS, weights=counts, x64=True), "ok",
         lambda a: compare_numbers(a.correlations.to_dict(), expected_correlations(dup, CAPS), 1e-9))
    bad = {
        "capabilities unknown": dict(capabilities=["nope", "c0"]),
        "capabilities one": dict(capabilities=["c0"]),
        "capabilities duplicate": dict(capabilities=["c0", "c0", "c1"]),
        "capabilities a string": dict(capabilities="c0"),
        "capabilities empty": dict(capabilities=[]),
        "capabilities numbers": dict(capabilities=[1, 2]),
        "against unknown": dict(capabilities=CAPS, against="nope"),
        "weights wrong length": dict(capabilities=CAPS, weights=np.ones(5)),
        "weights negative": dict(capabilities=CAPS, weights=-np.ones(12)),
        "weights fractional": dict(capabilities=CAPS, weights=np.full(12, 0.5)),
        "weights NaN": dict(capabilities=CAPS, weights=np.full(12, np.nan)),
        "weights all zero": dict(capabilities=CAPS, weights=np.zeros(12)),
        "weights 2-D": dict(capabilities=CAPS, weights=np.ones((12, 2))),
        "device unknown": dict(capabilities=CAPS, device="tpu"),
    }
    for name, kw in bad.items():
        call(f"analyze {name}", lambda kw=kw: swjax.analyze(ds, **kw), "error")
    call("analyze weights 10**6 each", lambda: swjax.analyze(ds, capabilities=CAPS, weights=np.full(12, 10**6)), "either",
         corr_check(2e-5))
    inf = frame.copy()
    inf.iloc[2, 1] = np.inf
    call("Dataset with inf", lambda: swjax.analyze(swjax.Dataset("inf", inf, ds.meta, ds.info), capabilities=CAPS), "error")
    nan_caps = frame.copy()
    nan_caps["c0"] = np.nan
    call("Dataset capability all NaN", lambda: swjax.analyze(swjax.Dataset("n", nan_caps, ds.meta, ds.info), capabilities=CAPS), "error")
    text = frame.astype(object)
    text.iloc[0, 0] = "abc"
    call("Dataset with a text cell", lambda: swjax.analyze(swjax.Dataset("t", text, ds.meta, ds.info), capabilities=CAPS), "error")
    call("analyze a set name 'nope'", lambda: swjax.analyze("nope"), "error")
    call("analyze None", lambda: swjax.analyze(None), "error")
    call("analyze a DataFrame", lambda: swjax.analyze(frame, capabilities=CAPS), "either", corr_check(2e-5))
    boot = {
        "n 0": dict(n=0), "n -1": dict(n=-1), "n 'a'": dict(n="a"), "n 1.5": dict(n=1.5),
        "level 0": dict(level=0), "level 1": dict(level=1.0), "level nan": dict(level=float("nan")),
        "method xyz": dict(method="xyz"), "permutations -1": dict(permutations=-1),
        "threshold nan": dict(threshold=float("nan")), "batch_size 0": dict(batch_size=0),
        "batch_size -1": dict(batch_size=-1), "seed 'x'": dict(seed="x"), "device tpu": dict(device="tpu"),
        "stream_to a folder": dict(stream_to=ctx.work), "stream_to under a file": dict(stream_to=ctx.work / "good.csv" / "x.f32"),
        "clusters wrong models": dict(clusters=pd.Series(["a"] * 3, index=["x", "y", "z"])),
    }
    for name, kw in boot.items():
        call(f"bootstrap {name}", lambda kw=kw: swjax.bootstrap(ds, capabilities=CAPS, **({"n": 30} | kw)), "error")
    call("read_csv missing", lambda: swjax.read_csv(ctx.work / "missing.csv"), "error")
    call("read_csv a folder", lambda: swjax.read_csv(ctx.work), "error")
    call("load_dataset 'nope'", lambda: swjax.load_dataset("nope"), "error")
    call("load_family_map missing", lambda: swjax.load_family_map(ctx.work / "missing.csv"), "error")
    call("lobo capabilities one", lambda: swjax.lobo(ds, capabilities=["c0"]), "error")
    call("subsets min_size 0", lambda: swjax.subsets(ds, capabilities=CAPS, min_size=0), "error")
    call("subsets batch_size -1", lambda: swjax.subsets(ds, capabilities=CAPS, batch_size=-1), "error")
    call("compare unknown", lambda: swjax.compare(ds, "nope", capabilities=CAPS, n=30), "error")
    call("compare compute without FLOP", lambda: swjax.compare(ds, "compute", capabilities=CAPS, n=30), "error")
    call("simulate 2 models", lambda: swjax.simulate(2), "error")
    call("simulate rho 2", lambda: swjax.simulate(20, rho=[2.0]), "error")
    call("write_report to a file", lambda: swjax.write_report(ctx.work / "good.csv", []), "error")


# ------------------------------------------------------------------ the table


# ------------------------------------------------------------------ nothing lost


def lost(before: dict, after: dict) -> list[str]:
    """Entries of a snapshot that are gone or changed."""
    return [k for k, v in before.items() if after.get(k, object()) != v]


def folder_cases(ctx: Context, quick: bool):
    """Every output option of every command against a user's folder and the command's inputs."""
    from tests.cli_commands import REFUSED, args_for, foreign, make_inputs, required_outputs

    inputs = make_inputs(ctx.work / "lost-inputs")
    for command, param, flag, role in REFUSED:
        cases = [("a user's folder", foreign(ctx.work / f"lost-{command}-{param}"))]
        args = args_for(command, inputs)
        read = [a for a in args if a.startswith(str(inputs)) and a != str(inputs)]
        if read:
            cases.append(("its input folder", inputs))
            files = [Path(a) for a in read if Path(a).is_file()]
            if role.role == "file" and files:
                cases.append(("its input file", files[0]))
            if role.role == "folder":
                cases += [(f"its input {Path(a).name}/", Path(a)) for a in read if Path(a).is_dir()]
        for what, target in cases:
            watch = target if target.is_dir() else target.parent
            before = snapshot(watch)
            extra = required_outputs(command, param, ctx.work / f"fresh-{command}-{param}")
            run_cli(ctx, "output folders", f"{command} {flag} {what}", [*args, *extra, flag, target], "error",
                    watch=watch)
            gone = lost(before, snapshot(watch))
            if gone:
                ctx.results[-1].outcome, ctx.results[-1].detail = "folder lost", f"lost {gone[:3]}"


def special_file_cases(ctx: Context, quick: bool):
    """One matrix through a named pipe, standard input, /dev/fd/N and a name not ending in .csv,
    and model ids named like missing values; numbers against the reference."""
    import threading

    nrng = np.random.default_rng(5)
    frame = base_matrix(nrng, m=12)
    frame.index = pd.Index(["NA", "None", "nan", "null", "N/A", "#N/A"] + list(frame.index[6:]), name="model")
    data = to_bytes(frame)
    want = expected_correlations(strict_read(data), CAPS)
    caps = ",".join(CAPS)
    args = ["analyze", "--capabilities", caps, "--format", "json"]
    check = json_check(want, 2e-5)
    plain = ctx.work / "ids.csv"
    plain.write_bytes(data)
    run_cli(ctx, "special files", "model ids NA, None, nan, null, N/A, #N/A", [*args, "--data", plain], "ok", check=check)
    for name in ("matrix.txt", "matrix", "matrix.CSV"):
        path = ctx.work / name
        path.write_bytes(data)
        run_cli(ctx, "special files", f"wide matrix named {name}", [*args, "--data", path], "ok", check=check)

    def feed(open_writer, label, target):
        """Write ``data`` from a thread; a reader that opens twice would wait for ever: after 60 s
        the watchdog unblocks it and the case is a hang."""
        done = threading.Event()

        def write():
            with contextlib.suppress(OSError):
                with open_writer() as fh:
                    fh.write(data)
            done.set()

        threading.Thread(target=write, daemon=True).start()
        hung = threading.Event()

        def watchdog():
            if not finished.wait(60):
                hung.set()
                for _ in range(5):  # unblock every further open with an empty write
                    with contextlib.suppress(OSError):
                        with open_writer() as fh:
                            fh.write(b"")

        finished = threading.Event()
        threading.Thread(target=watchdog, daemon=True).start()
        run_cli(ctx, "special files", label, [*args, "--data", target], "ok", check=check)
        finished.set()
        if hung.is_set():
            ctx.results[-1].outcome, ctx.results[-1].detail = "hang", "no answer in 60 s"

    fifo = ctx.work / "pipe"
    os.mkfifo(fifo)
    feed(lambda: open(fifo, "wb"), "named pipe", fifo)
    r, w = os.pipe()
    feed(lambda: os.fdopen(w, "wb"), "/dev/fd/N (a shell's <(...))", f"/dev/fd/{r}")
    with contextlib.suppress(OSError):
        os.close(r)
    started = time.perf_counter()
    result = CliRunner().invoke(app, [*args, "--data", "-"], input=data)
    outcome = "correct" if result.exit_code == 0 and not check(result.stdout) else "wrong result"
    ctx.add("special files", "standard input (--data -)", outcome, result.stderr[-200:], time.perf_counter() - started)


def run_process(ctx: Context, group, name, args, expect, env=None, check=None, timeout=180, closed_stdout=False):
    """One command in a real process (``python -m swjax``), classified as :func:`run_cli` does;
    ``closed_stdout``: started with standard output closed, as ``>&-`` in a shell does."""
    import subprocess

    full = dict(os.environ, PYTHONPATH=str(ROOT), SWJAX_COMPILE_CACHE="0")
    full.update(env or {})
    command = [sys.executable, "-m", "swjax", *map(str, args)]
    if closed_stdout:
        command = ["sh", "-c", 'exec "$@" >&-', "sh", *command]
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, env=full, stdout=None if closed_stdout else subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        ctx.add(group, name, "hang", f"no answer in {timeout} s", time.perf_counter() - started)
        return
    seconds = time.perf_counter() - started
    err = proc.stderr.decode(errors="replace")
    out = proc.stdout.decode(errors="replace") if proc.stdout else ""
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning: ")]
    if "Traceback" in err or proc.returncode not in (0, 2):
        ctx.add(group, name, "traceback", f"exit {proc.returncode}: {err[-300:]!r}", seconds)
    elif proc.returncode == 0:
        problem = "accepted a bad input" if expect == "error" else (check(out) if check else "")
        ctx.add(group, name, "wrong result" if problem else "correct", problem, seconds)
    elif len(lines) != 1 or not lines[0].startswith("error: "):
        ctx.add(group, name, "traceback", f"not one line: {err[-300:]!r}", seconds)
    else:
        ctx.add(group, name, "wrong result" if expect == "ok" else "clear error", lines[0][:200], seconds)


def process_cases(ctx: Context, quick: bool):
    """Encodings, locales, JAX's settings, closed stdout, no network: real processes."""
    nrng = np.random.default_rng(6)
    frame = base_matrix(nrng, m=12)
    plain = ctx.work / "env.csv"
    frame.to_csv(plain)
    accents = frame.rename(index={frame.index[0]: "mod\u00e8le-\u00e9t\u00e9"}, columns={"s0": "s\u00fbret\u00e9"})
    named = ctx.work / "accents.csv"
    named.write_bytes(to_bytes(accents))
    caps = ",".join(CAPS)
    want = expected_correlations(frame, CAPS)
    json_args = ["analyze", "--data", plain, "--capabilities", caps, "--format", "json"]
    env = "encodings, locales, environment"
    for name, extra in [("PYTHONIOENCODING=ascii, ASCII names, table", {"PYTHONIOENCODING": "ascii"}),
                        ("LC_ALL=C LANG=C", {"LC_ALL": "C", "LANG": "C"}),
                        ("PYTHONUTF8=0 LC_ALL=C", {"PYTHONUTF8": "0", "LC_ALL": "C"})]:
        run_process(ctx, env, name, ["analyze", "--data", plain, "--capabilities", caps], "ok", env=extra)
    run_process(ctx, env, "PYTHONIOENCODING=ascii, non-ASCII names, csv",
                ["analyze", "--data", named, "--capabilities", caps, "--format", "csv"], "error",
                env={"PYTHONIOENCODING": "ascii"})
    run_process(ctx, env, "non-ASCII names, UTF-8", ["analyze", "--data", named, "--capabilities", caps], "ok",
                env={"PYTHONIOENCODING": "utf-8"})
    for name, extra, tol in [("JAX_NUMPY_RANK_PROMOTION=raise", {"JAX_NUMPY_RANK_PROMOTION": "raise"}, 2e-5),
                             ("JAX_ENABLE_X64=1", {"JAX_ENABLE_X64": "1"}, 2e-5),
                             ("JAX_DISABLE_JIT=1", {"JAX_DISABLE_JIT": "1"}, 2e-5),
                             ("JAX_DEFAULT_MATMUL_PRECISION=bfloat16", {"JAX_DEFAULT_MATMUL_PRECISION": "bfloat16"}, 2e-5),
                             ("JAX_DEBUG_NANS=1", {"JAX_DEBUG_NANS": "1"}, 2e-5)]:
        run_process(ctx, env, name, json_args, "ok", env=extra, check=json_check(want, tol))
    run_process(ctx, env, "JAX_NUMPY_RANK_PROMOTION=raise, bootstrap",
                ["bootstrap", "--data", plain, "--capabilities", caps, "--n", "200"], "ok",
                env={"JAX_NUMPY_RANK_PROMOTION": "raise"})
    run_process(ctx, env, "JAX_PLATFORMS=cuda without CUDA", json_args, "error", env={"JAX_PLATFORMS": "cuda"})
    run_process(ctx, env, "standard output closed (>&-)", json_args, "error", closed_stdout=True)
    run_process(ctx, env, "no network, first run", ["analyze", "--set", "chat"], "error",
                env={"SWJAX_DATA_DIR": "", "XDG_CACHE_HOME": str(ctx.work / "cache"),
                     "HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"})
    empty = ctx.work / "empty-data"
    empty.mkdir()
    run_cli(ctx, env, "--data-dir lacking the files", ["analyze", "--set", "chat", "--data-dir", empty], "error",
            watch=empty)
    for name, args in [("--level 95", ["bootstrap", "--data", plain, "--capabilities", caps, "--level", "95"]),
                       ("--families publc", ["bootstrap", "--data", plain, "--capabilities", caps, "--families", "publc"]),
                       ("--out /no/such/parent/run", ["simulate", "--out", ctx.work / "no" / "such" / "run"])]:
        run_cli(ctx, "near misses", name, args, "error", watch=ctx.work / "no" if "--out" in args else None)


def signal_cases(ctx: Context, quick: bool):
    """Each stopping signal mid-run: exit 128 + N, one line, the old output and its folder as they were."""
    import signal
    import subprocess

    out = ctx.work / "signals" / "b"
    out.parent.mkdir()
    from swjax import outputs

    with outputs.atomic_dir(out, "bootstrap") as tmp:
        (tmp / "table.csv").write_text("the previous run\n")
    names = ["SIGINT", "SIGTERM"] if quick else ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]
    launcher = ("import signal, sys\n"
                "for s in ('SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'):\n"
                "    signal.signal(getattr(signal, s), signal.default_int_handler if s == 'SIGINT' else signal.SIG_DFL)\n"
                "from swjax.entry import main\n"
                f"sys.argv = ['swjax', 'bootstrap', '--set', 'chat', '--n', '400000', '--batch-size', '2000', '--out', {str(out)!r}]\n"
                "main()\n")
    for name in names:
        signum = getattr(signal, name)
        before = snapshot(out.parent)
        env = dict(os.environ, PYTHONPATH=str(ROOT), SWJAX_COMPILE_CACHE="0")
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env)
        time.sleep(4)
        proc.send_signal(signum)
        try:
            err = proc.communicate(timeout=120)[1].decode(errors="replace")
        except subprocess.TimeoutExpired:
            proc.kill()
            ctx.add("signals", name, "hang", "no exit in 120 s after the signal", time.perf_counter() - started)
            continue
        seconds = time.perf_counter() - started
        lines = err.strip().splitlines()
        after = snapshot(out.parent)
        if lost(before, after):
            ctx.add("signals", name, "folder lost", f"lost {lost(before, after)[:3]}", seconds)
        elif after != before:
            ctx.add("signals", name, "partial output", f"left {sorted(set(after) - set(before))[:3]}", seconds)
        elif proc.returncode != 128 + signum or "Traceback" in err or len(lines) != 1:
            ctx.add("signals", name, "traceback", f"exit {proc.returncode}: {err[-300:]!r}", seconds)
        else:
            ctx.add("signals", name, "clear error", lines[0], seconds)


def api_lost_cases(ctx: Context, quick: bool):
    """The Python API: clusters given as a list, a complex column."""
    chat = swjax.load_dataset("chat")
    complex_ = swjax.Dataset(label="c", scores=chat.scores.astype({"MT_Bench": complex}), meta=chat.meta,
                             info=chat.info)
    for name, fn in [("bootstrap(clusters=[...])", lambda: swjax.bootstrap(chat, n=40, clusters=["a", "b"] * 13)),
                     ("a complex column", lambda: swjax.analyze(complex_))]:
        started = time.perf_counter()
        try:
            swjax_value = fn()
            ctx.add("Python API (nothing lost)", name, "wrong result", f"accepted: {type(swjax_value).__name__}",
                    time.perf_counter() - started)
        except swjax.SwjaxError as err:
            ctx.add("Python API (nothing lost)", name, "clear error", str(err)[:200], time.perf_counter() - started)
        except Exception as err:  # noqa: BLE001 - what is being measured
            ctx.add("Python API (nothing lost)", name, "traceback", f"{type(err).__name__}: {err}"[:300],
                    time.perf_counter() - started)


def nothing_lost_cases(ctx: Context, quick: bool):
    folder_cases(ctx, quick)
    special_file_cases(ctx, quick)
    api_lost_cases(ctx, quick)
    process_cases(ctx, quick)
    signal_cases(ctx, quick)


def table(results) -> pd.DataFrame:
    frame = pd.DataFrame([r.__dict__ for r in results])
    counts = frame.groupby(["group", "outcome"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=list(OUTCOMES), fill_value=0)
    counts.insert(0, "inputs", counts.sum(axis=1))
    counts.loc["total"] = counts.sum()
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fuzz", type=int, default=400, help="fuzzed CSVs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a sample of the command-line cases")
    parser.add_argument("--real", type=int, default=60, help="mutated copies of real result files")
    parser.add_argument("--no-lost", action="store_true", help="leave out the nothing-lost groups (real processes)")
    parser.add_argument("--lost-only", action="store_true", help="only the nothing-lost groups")
    parser.add_argument("--json", type=Path, default=None,
                        help="where the cases go (default benchmarks/results/reliability.json for the whole run, "
                             "benchmarks/results/reliability/PART.json for --quick, --lost-only or --no-lost, so "
                             "that a part never replaces the whole run's record)")
    args = parser.parse_args(argv)
    if args.json is None:
        part = "quick" if args.quick else "lost-only" if args.lost_only else "no-lost" if args.no_lost else None
        results = ROOT / "benchmarks" / "results"
        args.json = results / "reliability.json" if part is None else results / "reliability" / f"{part}.json"
        args.json.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="swjax-reliability-") as tmp:
        ctx = Context(work=Path(tmp))
        if not args.lost_only:
            cli_cases(ctx, args.quick)
            api_cases(ctx, args.quick)
            fuzz(ctx, args.fuzz, args.seed)
            real_file_cases(ctx, args.real, args.seed)
        if not args.no_lost:
            nothing_lost_cases(ctx, args.quick)
    counts = table(ctx.results)
    with pd.option_context("display.width", 200):
        print(counts.to_string())
    failures = [r for r in ctx.results if r.outcome in ("wrong result", "traceback", "partial output", "folder lost",
                                                         "hang")]
    if failures:
        print(f"\n{len(failures)} failures:")
        for r in failures:
            print(f"  [{r.outcome}] {r.group}: {r.name}: {r.detail[:240]}")
    payload = {
        "command": " ".join(["python", "benchmarks/reliability.py", *(argv if argv is not None else sys.argv[1:])]),
        "seconds": round(time.perf_counter() - started, 1),
        "version": swjax.__version__,
        "table": {g: {k: int(v) for k, v in row.items()} for g, row in counts.iterrows()},
        "cases": [r.__dict__ for r in ctx.results],
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json} ({payload['seconds']} s)")
    return ctx.results


if __name__ == "__main__":
    main()
