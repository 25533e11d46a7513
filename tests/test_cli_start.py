"""The console script starts light: ``--help`` never imports JAX, and the persistent
compilation cache is configured without importing it (JAX reads the settings when a command
imports it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = (
    "import sys\n"
    "sys.argv = ['swjax'] + sys.argv[1:]\n"
    "import swjax.entry\n"
    "swjax.entry._leave = sys.exit  # return here instead of leaving the process\n"
    "from swjax.entry import main\n"
    "try:\n"
    "    main()\n"
    "except SystemExit:\n"
    "    pass\n"
    "print('JAX' if 'jax' in sys.modules else 'no JAX', file=sys.stderr)\n"
)


def run(args, **env):
    full = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=full, timeout=300)


def test_help_does_not_import_jax(tmp_path):
    for args in (["--help"], ["bootstrap", "--help"], ["plan", "--help"]):
        out = run(args, SWJAX_COMPILE_CACHE=str(tmp_path / "cache"))
        assert out.stderr.strip().splitlines()[-1] == "no JAX", (args, out.stderr)
        assert "Usage" in out.stdout


def test_a_command_fills_the_compilation_cache(tmp_path):
    cache = tmp_path / "cache"
    out = run(["analyze", "--set", "chat", "--format", "csv"], SWJAX_COMPILE_CACHE=str(cache))
    assert out.stderr.strip().splitlines()[-1] == "JAX", out.stderr
    assert "MT_Bench" in out.stdout
    assert any(cache.iterdir()), "no compiled program was stored in SWJAX_COMPILE_CACHE"


def test_version_names_jax_and_the_devices():
    """``--version`` says what computes: it loads JAX to list the devices (``--help`` does not)."""
    from importlib import metadata

    import swjax

    out = run(["--version"])
    lines = out.stdout.strip().splitlines()
    assert lines[0] == f"swjax {swjax.__version__}"
    assert lines[1].startswith(f"jax {metadata.version('jax')}, jaxlib {metadata.version('jaxlib')}, ")
    assert lines[2].startswith("devices: ")


def test_a_usage_error_is_one_line_naming_the_problem_exit_2():
    cases = {
        ("bootstrap", "--set", "chatt"): ("'chatt' is not one of 'base', 'chat', 'both'", "swjax bootstrap --help"),
        ("bootstrap", "--nope"): ("No such option: --nope", "swjax bootstrap --help"),
        ("bootstrap", "--n", "abc"): ("Invalid value for '--n'", "swjax bootstrap --help"),
        ("plot",): ("Missing argument 'KIND'. Choose from: forest, scatter, scree, heatmap", "swjax plot --help"),
        ("nonsense",): ("No such command 'nonsense'", "swjax --help"),
    }
    for args, (problem, where) in cases.items():
        out = run(list(args))
        lines = [line for line in out.stderr.strip().splitlines() if line != "no JAX"]
        assert out.returncode == 0  # the probe swallows SystemExit; the code is checked below
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, out.stderr)
        assert problem in lines[0] and where in lines[0] and "Value error" not in lines[0], lines[0]
    full = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "swjax", "bootstrap", "--set", "chatt"], capture_output=True,
                          text=True, env=full, timeout=300)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_flags_are_shown_as_flags():
    out = run(["bootstrap", "--help"], COLUMNS="200")
    assert "--x64" in out.stdout and "--help" in out.stdout
    assert "<bool>" not in out.stdout and "BOOLEAN" not in out.stdout
    assert "<int>" in out.stdout or "INTEGER" in out.stdout  # value options keep their type


def test_help_into_a_closed_pipe_is_not_a_traceback():
    """``swjax --help | head -1``: the reader goes away before the help is written."""
    full = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="80")
    proc = subprocess.Popen([sys.executable, "-m", "swjax", "--help"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=full)
    proc.stdout.close()  # nobody reads: the first write fails with a broken pipe
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "AttributeError" not in err, err


class _Terminal:
    """A stream that says it is a terminal, and keeps what was written to it."""

    def __init__(self):
        import io

        self.buf = io.StringIO()

    def write(self, text):
        return self.buf.write(text)

    def flush(self):
        pass

    def isatty(self):
        return True


def test_progress_says_it_may_be_compiling_until_the_first_chunk_and_quiet_silences_it():
    from swjax import cli

    term = _Terminal()
    with cli.progress_bar(100, "chat: resampling", stream=term) as advance:
        first = term.buf.getvalue()
        advance(50)
        advance(50)
    assert "chat: resampling" in first and cli.COMPILING in first
    cli.QUIET["on"] = True
    try:
        quiet = _Terminal()
        with cli.progress_bar(100, "chat: resampling", stream=quiet) as advance:
            advance(100)
        with cli.working("chat: subsets", stream=quiet):
            pass
        assert quiet.buf.getvalue() == ""
    finally:
        cli.QUIET["on"] = False
    pipe = _Terminal()
    pipe.isatty = lambda: False
    with cli.working("chat: subsets", stream=pipe):
        pass
    assert pipe.buf.getvalue() == ""


def test_quiet_is_a_root_option_for_every_command():
    from typer.testing import CliRunner

    from swjax import cli

    out = CliRunner().invoke(cli.app, ["--quiet", "analyze", "--set", "chat", "--format", "csv"])
    assert out.exit_code == 0 and cli.QUIET["on"] is True
    CliRunner().invoke(cli.app, ["analyze", "--set", "chat", "--format", "csv"])
    assert cli.QUIET["on"] is False


def test_a_finished_command_leaves_with_its_output_and_exit_code(tmp_path):
    """The console script ends without the interpreter's shutdown: everything printed arrives,
    files are complete, and the exit code is the command's (exit 2 is checked above)."""
    full = dict(os.environ, PYTHONPATH=str(ROOT), SWJAX_COMPILE_CACHE="0")
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "swjax", "bootstrap", "--set", "chat", "--n", "50", "--format", "csv", "--out", str(out)],
        capture_output=True, text=True, env=full, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    printed = proc.stdout.splitlines()
    assert printed[0].startswith("benchmark,set,kind") and printed[-1].startswith("compute_correlation,chat,summary")
    assert (out / "table.csv").read_text().splitlines()[-1].startswith("compute_correlation,chat,summary")
    assert {p.name for p in out.iterdir()} >= {"table.csv", "table.json", "distributions.npz", "manifest.json"}
