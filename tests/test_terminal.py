"""What a person sees in a real terminal (a pseudo-terminal of 80 and 120 columns): ids and
verdicts whole, the table within the width where the required columns fit, the columns that
gave way named, and verdicts in colour unless NO_COLOR is set."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time

import pytest

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
VERDICTS = ("entangled", "anti-correlated", "distinct", "indeterminate")


def in_terminal(args, columns, *, env=None, timeout=600):
    """stdout of ``swjax ARGS`` run in a pseudo-terminal of ``columns`` x 50 (stderr apart)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    environ.update(TERM="xterm-256color", **(env or {}))
    exe = shutil.which("swjax") or sys.executable
    cmd = [exe, *args] if exe.endswith("swjax") else [exe, "-m", "swjax", *args]
    proc = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=environ)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed its side
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    rc = proc.wait(timeout=60)
    raw = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return rc, raw, proc.stderr.read().decode()


def _tables(text):
    """The row lines of each table in ``text`` (the lines under a header's rule)."""
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if line.strip() and set(line.strip()) == {"─"}]
    tables = []
    for r in rules:
        rows = []
        for line in lines[r + 1:]:
            if not line.strip() or line.startswith("("):
                break
            rows.append(line)
        tables.append(rows)
    return tables


def _table_rows(text):
    return [row for rows in _tables(text) for row in rows]


@pytest.mark.parametrize("columns", [80])
def test_bootstrap_in_a_real_terminal(columns):
    rc, raw, err = in_terminal(["bootstrap", "--set", "chat", "--n", "40"], columns)
    assert rc == 0, err
    text = ANSI.sub("", raw)
    assert "\x1b[" in raw  # colour where stdout is a terminal
    rows = _table_rows(text)
    assert len(rows) == 25 and all(len(line) <= columns for line in text.splitlines())
    assert {line.split()[0] for line in rows} >= {"MT_Bench", "HarmBench-HumanJailbreaks-all", "wmdp_bio"}
    assert all(re.search(r"\](\s+)(" + "|".join(VERDICTS) + r")\s*$", line) for line in rows)
    assert "(not shown at 80 columns: " in text and "25 of 178 benchmarks shown" in text
    rc, raw, err = in_terminal(["bootstrap", "--set", "chat", "--n", "40"], columns, env={"NO_COLOR": "1"})
    assert rc == 0 and not re.search(r"\x1b\[[0-9;]*3\dm", raw)  # NO_COLOR: no foreground colours


@pytest.mark.slow  # eight processes, each compiling its programs (about 2 minutes on 2 cores)
@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("args", [
    ["bootstrap", "--set", "chat", "--n", "40", "--benchmarks", "all"],
    ["subsets", "--set", "chat", "--min-size", "11", "--n", "40"],
    ["adjust", "MT_Bench", "--set", "chat", "--n", "40"],
    ["plan", "MT_Bench", "--set", "chat", "--grid", "15,26", "--datasets", "2", "--n", "40"],
])
def test_every_table_command_in_a_real_terminal(args, columns):
    rc, raw, err = in_terminal(args, columns)
    assert rc == 0, err
    text = ANSI.sub("", raw)
    rows = _table_rows(text)
    assert rows, text
    if args[0] == "plan":  # stderr is a pipe here: the progress still comes, as lines
        assert re.search(r"^m = 15: ", err, re.M) and re.search(r"^m = 26: ", err, re.M), err
    for line in rows:  # ids whole: no row starts with the tail of a folded id, none ends cut
        assert not line.startswith(" ") or args[0] == "plan", line
        assert "…" not in line
    if args[0] in ("bootstrap", "adjust"):
        words = VERDICTS if args[0] == "bootstrap" else ("safer than predicted", "less safe than predicted",
                                                        "as predicted")
        first = _tables(text)[0]
        assert first and all(any(line.rstrip().endswith(w) for w in words) for line in first)
    if any(len(line) > columns for line in text.splitlines()):  # only where the required columns
        assert f"(not shown at {columns} columns: " in text          # are too wide, the rest given way
    if "(not shown at" in text:
        assert f"(not shown at {columns} columns: " in text
