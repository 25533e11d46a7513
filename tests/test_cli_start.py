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


def test_version_is_printed_without_jax():
    import swjax

    out = run(["--version"])
    assert out.stdout.strip() == f"swjax {swjax.__version__}"
    assert out.stderr.strip().splitlines()[-1] == "no JAX"
