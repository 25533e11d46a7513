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


# ------------------------------------------------------------------ dependencies point one way

#: The layers of README.md's "Where things are", lowest first. A module imports only from its
#: own layer or below (lazy imports inside functions count), and the graph has no cycle.
LAYERS: list[set[str]] = [
    {"_version", "errors", "interrupt"},                       # foundations
    {"validate", "outputs", "data", "display", "provenance"},  # host-side checks, files, the registry, reprs, provenance
    {"importers"},                                             # reading evaluation results
    {"ranks", "problem", "scores", "core", "resample", "simulate"},  # the statistic and its inputs
    {"engine"},                                                # the one place that compiles
    {"analysis", "intervals", "pvalues", "streaming", "clusters"},  # summaries of resamples
    {"bootstrap", "sensitivity", "families", "compare", "correlate", "coverage", "plan", "adjust"},  # analyses
    {"tables", "figures", "check", "report", "writers"},       # presentation and files
    {"cli", "entry", "__main__", "__init__"},                  # the interfaces
]


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    return rel.parts[0] if rel.parts[0] == "importers" else ".".join(rel.parts)


def imports(path: Path) -> set[str]:
    """The swjax modules (first component below the package) that ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = path.relative_to(PACKAGE).parts[:-1]  # () for swjax/x.py, ("importers",) below
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: len(here) - (node.level - 1)]) if node.level - 1 <= len(here) else None
                if base is None:
                    continue
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:  # `from . import x, y`: the names are modules (or __version__)
                    found |= {a.name for a in node.names}
                else:
                    found.add(parts[0])
            elif node.module and node.module.split(".")[0] == "swjax":
                parts = node.module.split(".")[1:]
                found |= {parts[0]} if parts else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "swjax" and len(parts) > 1:
                    found.add(parts[1])
    mine = _module(path)
    return {m for m in found if m != mine}


def graph() -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        g.setdefault(_module(path), set()).update(imports(path))
    g["importers"].discard("importers")
    return g


def _layer(module: str) -> int:
    for i, layer in enumerate(LAYERS):
        if module in layer:
            return i
    raise AssertionError(f"swjax/{module}: in no layer of LAYERS (add it, and to README.md's table)")


def test_the_import_parser_reads_relative_and_absolute_imports(tmp_path):
    pkg = tmp_path / "swjax"
    (pkg / "importers").mkdir(parents=True)
    (pkg / "a.py").write_text("from . import engine, core\nfrom .data import x\nimport swjax.cli\n")
    (pkg / "importers" / "b.py").write_text("from ..errors import E\nfrom . import helm\nfrom .records import r\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, pkg
    try:
        assert imports(pkg / "a.py") == {"engine", "core", "data", "cli"}
        assert imports(pkg / "importers" / "b.py") == {"errors"}  # its own package's modules are not edges
    finally:
        PACKAGE = saved


def test_every_module_has_a_layer_and_imports_only_downward():
    g = graph()
    upward = []
    for module, deps in g.items():
        for dep in deps:
            if dep in g and _layer(dep) > _layer(module):
                upward.append(f"{module} (layer {_layer(module)}) imports {dep} (layer {_layer(dep)})")
    assert upward == []


def test_no_import_cycle():
    g = {m: {d for d in deps if d in graph_names} for m, deps in graph().items()} if (graph_names := set(graph())) else {}
    state: dict[str, int] = {}
    cycles = []

    def visit(m, stack):
        state[m] = 1
        for d in sorted(g[m]):
            if state.get(d) == 1:
                cycles.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_readme_table_names_every_module():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("Where things are"):]
    table = table[: table.index("\n\n", table.index("| file |"))]
    missing = [m for m in graph() if m not in ("__init__", "__main__") and f"{m}.py" not in table and f"{m}/" not in table]
    assert missing == []
