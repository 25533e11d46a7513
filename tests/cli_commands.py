"""The CLI's commands and path options, found from the CLI itself, with a minimal invocation of
each: shared by ``tests/test_nothing_lost.py`` and ``benchmarks/reliability.py``.

Every path-typed parameter of every command must say what the command does with it
(``swjax.cli.PathRole``), and every command must have an entry in :data:`BASE`, so a new
command or option cannot skip the checks that use this module.
"""

from __future__ import annotations

import os
import shutil
import typing
from pathlib import Path

import numpy as np
import pandas as pd
from typer.main import get_command

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
    "axes": ["MT_Bench", "--data", "{DATA}", "--n", "40", "--measures", "paper,mean-z"],
    "atlas": ["{BOARD}", "--capabilities", "c0,c1,c2", "--min-models", "5", "--n", "40", "--permutations", "40",
              "--no-cache"],
}

#: Placeholder -> path under the input folder.
INPUTS = {"DATA": "m.csv", "SCORES": "scores.csv", "RESULTS": "results", "PUBLIC": "public", "BOARD": "board.csv"}

#: Suffix a file output needs (plot --out and adjust --plot draw a figure).
SUFFIX = {("plot", "out"): ".png", ("adjust", "plot"): ".png", ("axes", "plot"): ".png"}


def _mentions_path(hint) -> bool:
    if hint is Path:
        return True
    return any(_mentions_path(a) for a in typing.get_args(hint))


def commands():
    group = get_command(app)
    for name, command in sorted(group.commands.items()):
        func = command.callback
        while hasattr(func, "__wrapped__"):
            func = func.__wrapped__
        yield name, command, func


def path_options():
    """(command, parameter, option flag, PathRole) of every path parameter of every command."""
    found = []
    for name, command, func in commands():
        hints = typing.get_type_hints(func, include_extras=True)
        roles = cli.path_roles(func)
        for param in command.params:
            if param.name in roles or _mentions_path(hints.get(param.name)):
                flag = next((o for o in param.opts if o.startswith("--")), None)
                found.append((name, param.name, flag, roles.get(param.name)))
    return found


WRITES = [(c, p, f, r) for c, p, f, r in path_options() if r is not None and r.role != "reads"]

#: The output options that replace or write a whole file or folder (not written into).
REFUSED = [w for w in WRITES if w[3].role != "into"]


def foreign(root: Path) -> Path:
    mine = root / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "thesis.tex").write_text("years of work\n")
    (mine / "sub" / "data.csv").write_text("model,x\na,1\n")
    return mine


def make_inputs(root: Path) -> Path:
    """Folder ``root`` holding every input the :data:`BASE` invocations read."""
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
    board = pd.DataFrame(rng.normal(size=(12, 5)), columns=["c0", "c1", "c2", "s0", "s1"])  # a leaderboard
    board.insert(0, "model", [f"org{i % 4}/model-{i}" for i in range(12)])
    board.to_csv(root / "board.csv", index=False)
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
        params = {q.name: q for q in group.commands[c].params}
        if c == command and p != skip and params[p].required:
            extra += [f, str(tmp / f"fresh{SUFFIX.get((c, p), '')}")]
    return extra


