"""The house as README.md describes it, checked from the source: engine.py is the one place
that compiles (no other module calls ``jax.jit`` or ``jax.pmap``, or imports them)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "swjax"
COMPILERS = {"jit", "pmap", "pjit"}


def compile_sites(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    sites = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in COMPILERS:
            sites.append(f"{path.name}:{node.lineno} .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "jax":
            sites += [f"{path.name}:{node.lineno} import {a.name}" for a in node.names if a.name in COMPILERS]
    return sites


def test_the_checker_finds_a_compile_site(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import jax\nfrom jax import jit\nf = jax.jit(lambda x: x)\n")
    assert compile_sites(bad) == ["bad.py:2 import jit", "bad.py:3 .jit"]


def test_only_engine_compiles():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20
    outside = [s for m in modules if m.name != "engine.py" for s in compile_sites(m)]
    assert outside == []
    assert compile_sites(PACKAGE / "engine.py")  # and engine.py does
