"""Nothing lost: no command of the CLI replaces a folder swjax did not write, nor its own inputs.

The commands and their path options are found from the CLI itself (the typer command tree and
the types of each command's parameters), so a new command or option cannot skip these checks:
every path-typed parameter must say what the command does with it (``swjax.cli.PathRole``), and
every command must have a minimal invocation in ``BASE`` below.
"""

from __future__ import annotations

import os
import shutil
import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from swjax import cli
from swjax.cli import app

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "importers" / "example"

#: A minimal valid invocation of each command (small n), reading only files under the input
#: folder: {DATA} a wide matrix, {SCORES} a new benchmark, {RESULTS} evaluation results,
#: {PUBLIC} a copy of the public data. Output options are added by the tests.
BASE = {
    "analyze": ["--data", "{DATA}", "--data-dir", "{PUBLIC}"],
    "bootstrap": ["--data", "{DATA}", "--n", "40"],
    "correlate": ["--scores", "{SCORES}", "--n", "40", "--data-dir", "{PUBLIC}"],
    "check": ["--scores", "{SCORES}", "--n", "40", "--data-dir", "{PUBLIC}"],
    "plot": ["forest", "--scores", "{SCORES}", "--n", "40", "--data-dir", "{PUBLIC}"],
    "report": ["--set", "chat", "--scores", "{SCORES}", "--n", "40", "--data-dir", "{PUBLIC}"],
    "lobo": ["--data", "{DATA}"],
    "subsets": ["--data", "{DATA}", "--max-subsets", "4"],
    "compare": ["MT_Bench", "--data", "{DATA}", "--n", "40"],
    "simulate": ["--models", "8", "--population", "2000"],
    "coverage": ["--datasets", "2", "--n", "40", "--models", "8", "--population", "2000", "--rho", "0.5"],
    "import": ["{RESULTS}", "--capabilities", "paper", "--with", "chat", "--duplicates", "latest",
               "--data-dir", "{PUBLIC}"],
    "adjust": ["MT_Bench", "--set", "chat", "--n", "40", "--data-dir", "{PUBLIC}"],
    "plan": ["MT_Bench", "--data", "{DATA}", "--datasets", "2", "--n", "40", "--grid", "10"],
}

#: Placeholder -> path under the input folder.
INPUTS = {"DATA": "m.csv", "SCORES": "scores.csv", "RESULTS": "results", "PUBLIC": "public"}

#: Suffix a file output needs (plot --out and adjust --plot draw a figure).
SUFFIX = {("plot", "out"): ".png", ("adjust", "plot"): ".png"}


def _mentions_path(hint) -> bool:
    if hint is Path:
        return True
    return any(_mentions_path(a) for a in typing.get_args(hint))


def _commands():
    group = get_command(app)
    for name, command in sorted(group.commands.items()):
        func = command.callback
        while hasattr(func, "__wrapped__"):
            func = func.__wrapped__
        yield name, command, func


def path_options():
    """(command, parameter, option flag, PathRole) of every path parameter of every command."""
    found = []
    for name, command, func in _commands():
        hints = typing.get_type_hints(func, include_extras=True)
        roles = cli.path_roles(func)
        for param in command.params:
            if param.name in roles or _mentions_path(hints.get(param.name)):
                flag = next((o for o in param.opts if o.startswith("--")), None)
                found.append((name, param.name, flag, roles.get(param.name)))
    return found


WRITES = [(c, p, f, r) for c, p, f, r in path_options() if r is not None and r.role != "reads"]


def test_every_path_option_says_what_it_does_and_every_command_is_covered():
    undeclared = [(c, p) for c, p, f, r in path_options() if r is None]
    assert undeclared == [], "give these parameters a PathRole in their type (swjax/cli.py)"
    assert sorted(BASE) == sorted(name for name, _, _ in _commands())
    assert {(c, p) for c, p, f, r in WRITES} >= {  # the ones known today are found
        ("analyze", "out"), ("bootstrap", "out"), ("bootstrap", "stream_to"), ("check", "junit"),
        ("check", "summary"), ("correlate", "out"), ("plot", "out"), ("report", "out"), ("lobo", "out"),
        ("subsets", "out"), ("compare", "out"), ("simulate", "out"), ("coverage", "out"), ("import", "out"),
        ("adjust", "out"), ("adjust", "plot"), ("plan", "out"),
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


def foreign(root: Path) -> Path:
    mine = root / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "thesis.tex").write_text("years of work\n")
    (mine / "sub" / "data.csv").write_text("model,x\na,1\n")
    return mine


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A folder holding every input the BASE invocations read."""
    root = tmp_path_factory.mktemp("inputs") / "inp"
    root.mkdir()
    public = root / "public"
    shutil.copytree(os.environ["SWJAX_DATA_DIR"], public)
    for p in public.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    chat = pd.read_csv(public / "benchmarks_chat_models.csv")
    chat.to_csv(root / "m.csv", index=False)
    rng = np.random.default_rng(0)
    pd.DataFrame({"model": chat["model"], "mine": rng.normal(size=len(chat))}).to_csv(root / "scores.csv", index=False)
    shutil.copytree(FIXTURES / "lm_eval", root / "results")
    return root


def args_for(command, inputs: Path) -> list[str]:
    out = [command]
    for a in BASE[command]:
        for key, rel in INPUTS.items():
            a = a.replace("{" + key + "}", str(inputs / rel))
        out.append(a)
    return out


def required_outputs(command, skip, tmp: Path) -> list[str]:
    """A fresh path for every other output option that the command cannot run without."""
    extra = []
    group = get_command(app)
    for c, p, f, r in WRITES:
        if c == command and p != skip and group.commands[c].params[[q.name for q in group.commands[c].params].index(p)].required:
            extra += [f, str(tmp / f"fresh{SUFFIX.get((c, p), '')}")]
    return extra


def run(args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stderr


def one_error(code, err, *words):
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])


REFUSED = [w for w in WRITES if w[3].role != "into"]
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
