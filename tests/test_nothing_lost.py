"""Nothing lost: no command of the CLI replaces a folder swjax did not write, nor its own inputs;
and no valid input hangs, crashes or is refused.

The commands and their path options are found from the CLI itself (``tests/cli_commands.py``:
the typer command tree and the types of each command's parameters), so a new command or option
cannot skip these checks.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from swjax import cli
from swjax.cli import app
from tests.cli_commands import (
    BASE, REFUSED, SUFFIX, WRITES, commands, args_for, foreign, make_inputs, path_options, required_outputs,
)


def test_every_path_option_says_what_it_does_and_every_command_is_covered():
    undeclared = [(c, p) for c, p, f, r in path_options() if r is None]
    assert undeclared == [], "give these parameters a PathRole in their type (swjax/cli/)"
    assert sorted(BASE) == sorted(name for name, _, _ in commands())
    assert {(c, p) for c, p, f, r in WRITES} >= {  # the ones known today are found
        ("analyze", "out"), ("bootstrap", "out"), ("bootstrap", "stream_to"), ("check", "junit"),
        ("check", "summary"), ("correlate", "out"), ("plot", "out"), ("report", "out"), ("lobo", "out"),
        ("subsets", "out"), ("compare", "out"), ("simulate", "out"), ("coverage", "out"), ("import", "out"),
        ("adjust", "out"), ("adjust", "plot"), ("plan", "out"), ("axes", "out"), ("axes", "plot"),
        ("atlas", "out"), ("atlas", "cache"),
    }
    from swjax import outputs

    for c, p, f, r in WRITES:
        assert r.role in ("file", "folder", "into"), (c, p, r)
        assert r.role != "folder" or r.kind in outputs.FOLDERS, (c, p, r)


# ---------------------------------------------------------------- folders to protect


def snapshot(folder: Path) -> dict:
    """Every entry under ``folder`` (hidden ones too) with its bytes and mode."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None, p.stat().st_mode)
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A folder holding every input the BASE invocations read."""
    return make_inputs(tmp_path_factory.mktemp("inputs") / "inp")


def run(args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stderr


def one_error(code, err, *words):
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])


READERS = {c for c, p, f, r in path_options() if r is not None and r.role == "reads"}
REFUSED_OVER_INPUTS = [w for w in REFUSED if w[0] in READERS]  # simulate and coverage read no file


@pytest.mark.parametrize("command,param,flag,role", REFUSED, ids=[f"{c}{f}" for c, p, f, r in REFUSED])
def test_a_foreign_folder_survives_every_output_option(tmp_path, inputs, command, param, flag, role):
    mine = foreign(tmp_path)
    before, inputs_before = snapshot(mine), snapshot(inputs)
    args = [*args_for(command, inputs), *required_outputs(command, param, tmp_path), flag, mine]
    code, err = run(args)
    word = "refusing to replace it" if role.role == "folder" else "is a folder, expected a file"
    one_error(code, err, f"{param.replace('_', '-')}: ", str(mine), word)
    assert snapshot(mine) == before and snapshot(inputs) == inputs_before


@pytest.mark.parametrize("command,param,flag,role", REFUSED_OVER_INPUTS,
                         ids=[f"{c}{f}" for c, p, f, r in REFUSED_OVER_INPUTS])
def test_the_commands_own_inputs_survive_every_output_option(tmp_path, inputs, command, param, flag, role):
    args = args_for(command, inputs)
    read = [a for a in args if a.startswith(str(inputs)) and a != str(inputs)]
    assert read, f"{command}: BASE reads nothing under the input folder"
    targets = [inputs] if role.role == "folder" else []
    targets += read if role.role == "file" else [a for a in read if Path(a).is_dir()]
    before = snapshot(inputs)
    for target in targets:
        code, err = run([*args, *required_outputs(command, param, tmp_path), flag, target])
        one_error(code, err, f"{param.replace('_', '-')}: ")
        assert snapshot(inputs) == before, (command, flag, target)


@pytest.mark.slow
@pytest.mark.parametrize("command,param,flag,role", WRITES, ids=[f"{c}{f}" for c, p, f, r in WRITES])
def test_each_output_is_written_then_replaced_by_its_own_command(tmp_path, inputs, command, param, flag, role):
    """The kind a command declares is the kind its writer marks: a second run replaces the first
    output (a folder written into keeps the user's files)."""
    args = [*args_for(command, inputs), *required_outputs(command, param, tmp_path)]
    if role.role == "into":
        target = foreign(tmp_path)
        before = snapshot(target)
    else:
        target = tmp_path / f"out{SUFFIX.get((command, param), '')}"
    for _ in range(2):
        code, err = run([*args, flag, target])
        assert code in ((0, 1) if command == "check" else (0,)), err  # check: 1 is its verdict
    if role.role == "folder":
        from swjax import outputs

        assert outputs.read_marker(target)["swjax"] == role.kind
    if role.role == "into":
        after = snapshot(target)
        assert {k: after[k] for k in before} == before


# ---------------------------------------------------------------- no input hangs or crashes it

ROOT = Path(__file__).resolve().parents[1]
NAMED_LIKE_MISSING = ["NA", "None", "nan", "null", "N/A"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 12 x 5 matrix whose first five models are named like missing values, as CSV text."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(12, 5)).round(6), columns=["a", "b", "c", "d", "s"])
    frame.insert(0, "model", NAMED_LIKE_MISSING + [f"m{i}" for i in range(7)])
    folder = tmp_path_factory.mktemp("small")
    frame.to_csv(folder / "m.csv", index=False)
    return folder / "m.csv"


def analyze_json(*args, **kw):
    result = CliRunner().invoke(app, ["analyze", *map(str, args), "--capabilities", "a,b,c,d", "--format", "json"],
                                **kw)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_models_named_like_missing_values_are_models(small):
    import json

    import swjax

    ds = swjax.read_csv(small)
    assert list(ds.scores.index[:5]) == NAMED_LIKE_MISSING
    raw = pd.read_csv(small, keep_default_na=False).set_index("model")  # read here, independently
    np.testing.assert_array_equal(ds.scores.to_numpy(), raw.to_numpy(dtype=float))
    (run_,) = json.loads(analyze_json("--data", small)).values()
    assert run_["n_models"] == 12
    # a score cell NA is still a missing score; an empty id is still a missing id
    text = small.read_text().replace("\nm0,", "\n,", 1)
    bad = small.parent / "empty_id.csv"
    bad.write_text(text)
    code, err = run(["analyze", "--data", bad, "--capabilities", "a,b,c,d"])
    one_error(code, err, "row 7 has no model id")
    lines = small.read_text().splitlines()
    lines[1] = ",".join(lines[1].split(",")[:-1] + ["NA"])
    holed = small.parent / "holed.csv"
    holed.write_text("\n".join(lines) + "\n")
    assert np.isnan(swjax.read_csv(holed).scores.loc["NA", "s"])


def test_standard_input_and_any_file_name(small):
    reference = analyze_json("--data", small)
    other = small.parent / "matrix.txt"  # a wide matrix not named .csv
    shutil.copy(small, other)
    assert analyze_json("--data", other).replace("matrix.txt", "m.csv") == reference
    assert analyze_json("--data", "-", input=small.read_bytes()).replace('"stdin"', '"m.csv"') == reference


def test_metadata_columns_are_announced(tmp_path, small):
    import swjax

    frame = pd.read_csv(small, keep_default_na=False)
    frame["name"] = frame["a"]  # a benchmark someone called 'name'
    path = tmp_path / "meta.csv"
    frame.to_csv(path, index=False)
    with pytest.warns(swjax.SwjaxWarning, match="column\\(s\\) name taken as model metadata, not benchmarks"):
        ds = swjax.read_csv(path)
    assert "name" not in ds.scores.columns and list(ds.meta.columns) == ["name"]


def test_stdout_closed_or_unable_to_encode(monkeypatch, small, tmp_path):
    import sys

    nonascii = tmp_path / "u.csv"
    nonascii.write_text(small.read_text().replace("\nm0,", "\nm\u00e9,", 1), encoding="utf-8")
    result = CliRunner(charset="ascii").invoke(
        app, ["analyze", "--data", str(nonascii), "--capabilities", "a,b,c,d", "--format", "csv"])
    one_error(result.exit_code, result.stderr, "stdout: its encoding (ascii) cannot write '\\xe9'",
              "PYTHONIOENCODING=utf-8")
    assert result.stdout == ""  # refused before anything was written
    result = CliRunner(charset="ascii").invoke(app, ["analyze", "--data", str(small), "--capabilities", "a,b,c,d"])
    assert result.exit_code == 0 and "+---" in result.stdout, result.output  # the table in ASCII boxes
    monkeypatch.setattr(sys, "stdout", None)  # as Python sets it when started with >&-
    with pytest.raises(cli.SwjaxError, match="stdout: standard output is closed"):
        cli.write_stdout("text")
    cli.write_stdout("text", optional=True)  # the command writes --out too: nothing to say


@pytest.mark.slow  # compiles the kernels again under the setting
def test_rank_promotion_raise_does_not_break_the_kernels(small):
    import jax

    import swjax

    reference = analyze_json("--data", small)
    ds = swjax.read_csv(small)
    want = swjax.analyze(ds, capabilities=["a", "b", "c", "d"]).correlations
    with jax.numpy_rank_promotion("raise"):  # what JAX_NUMPY_RANK_PROMOTION=raise sets
        assert analyze_json("--data", small) == reference
        got = swjax.analyze(ds, capabilities=["a", "b", "c", "d"]).correlations
    pd.testing.assert_series_equal(got, want)


def test_near_misses_say_what_was_meant(tmp_path):
    code, err = run(["bootstrap", "--set", "chat", "--n", "40", "--level", "95"])
    one_error(code, err, "level: ", "did you mean 0.95?")
    code, err = run(["bootstrap", "--set", "chat", "--n", "40", "--families", "publc"])
    one_error(code, err, "families: ", "did you mean 'public'")
    lacking = tmp_path / "empty"
    lacking.mkdir()
    code, err = run(["analyze", "--set", "chat", "--data-dir", lacking])
    one_error(code, err, f"data-dir: {lacking} lacks the public files", "benchmarks_info.csv")
    assert list(lacking.iterdir()) == []  # nothing downloaded into it
    code, err = run(["simulate", "--out", tmp_path / "no" / "such" / "run"])
    one_error(code, err, f"folder {tmp_path / 'no' / 'such'} does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_api_refuses_clusters_given_as_a_list_and_complex_scores(chat):
    import swjax

    for clusters in (["a", "b"] * 13, np.zeros(26)):
        with pytest.raises(swjax.SwjaxError, match="clusters: expected a pandas Series or dict"):
            swjax.bootstrap(chat, n=40, clusters=clusters)
    complex_ = swjax.Dataset(label="c", scores=chat.scores.astype({"MT_Bench": complex}), meta=chat.meta,
                             info=chat.info)
    with pytest.raises(swjax.SwjaxError, match="'MT_Bench' is not numeric"):
        swjax.analyze(complex_)


# ---------------------------------------------------------------- real processes (slow)


def swjax_process(args, *, env=None, timeout=120, closed_stdout=False):
    """``python -m swjax ARGS`` in a new process; ``closed_stdout``: as ``>&-`` in a shell."""
    import subprocess
    import sys

    full = dict(os.environ, PYTHONPATH=str(ROOT), SWJAX_COMPILE_CACHE="0", **(env or {}))
    command = [sys.executable, "-m", "swjax", *map(str, args)]
    if closed_stdout:
        command = ["sh", "-c", 'exec "$@" >&-', "sh", *command]
    return subprocess.run(command, env=full, timeout=timeout, stdout=None if closed_stdout else subprocess.PIPE,
                          stderr=subprocess.PIPE)


def one_line(proc, *words, code=2):
    err = proc.stderr.decode()
    assert proc.returncode == code, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, (w, err)


@pytest.mark.slow
def test_named_pipe_and_process_substitution_are_read_once(small, tmp_path):
    import subprocess
    import threading

    args = ["analyze", "--capabilities", "a,b,c,d", "--format", "json"]
    reference = swjax_process([*args, "--data", small]).stdout.replace(b'"m.csv"', b'"X"')
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(small.read_bytes()), daemon=True)
    writer.start()
    got = swjax_process([*args, "--data", fifo])  # hung forever when the file was opened three times
    assert got.returncode == 0, got.stderr
    assert got.stdout.replace(b'"pipe"', b'"X"') == reference
    shell = subprocess.run(["bash", "-c", f"{os.sys.executable} -m swjax {' '.join(args)} --data <(cat {small})"],
                           env=dict(os.environ, PYTHONPATH=str(ROOT), SWJAX_COMPILE_CACHE="0"),
                           capture_output=True, timeout=120)
    assert shell.returncode == 0, shell.stderr
    import json

    got, want = json.loads(shell.stdout.decode()).popitem()[1], json.loads(reference.decode())["X"]
    got.pop("set"), want.pop("set")  # the label is the file's name: /dev/fd/63 against X
    assert got == want


@pytest.mark.slow
def test_environment_and_streams_of_a_real_process(small, tmp_path):
    nonascii = tmp_path / "u.csv"
    nonascii.write_text(small.read_text().replace("\nm0,", "\nm\u00e9,", 1), encoding="utf-8")
    args = ["analyze", "--data", nonascii, "--capabilities", "a,b,c,d"]
    one_line(swjax_process([*args, "--format", "csv"], env={"PYTHONIOENCODING": "ascii"}), "cannot write '\\xe9'")
    table = swjax_process(["analyze", "--data", small, "--capabilities", "a,b,c,d"], env={"PYTHONIOENCODING": "ascii"})
    assert table.returncode == 0 and b"+---" in table.stdout, table.stderr  # ASCII boxes
    closed = swjax_process(args, closed_stdout=True)
    one_line(closed, "standard output is closed")
    one_line(swjax_process(args, env={"JAX_PLATFORMS": "cuda"}), "JAX_PLATFORMS=cuda")
    ok = swjax_process(["bootstrap", "--data", small, "--capabilities", "a,b,c,d", "--n", "40"],
                       env={"JAX_NUMPY_RANK_PROMOTION": "raise"})
    assert ok.returncode == 0, ok.stderr
    cache = tmp_path / "cache"
    offline = swjax_process(["analyze", "--set", "chat"], env={
        "SWJAX_DATA_DIR": "", "XDG_CACHE_HOME": str(cache), "HTTPS_PROXY": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9"})
    one_line(offline, "could not download the public data", "--data-dir", "benchmarks_info.csv")
