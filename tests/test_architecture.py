"""The house as docs/architecture.md describes it, checked from the source: the engine package
(``swjax/engine/``) is the one place that compiles (no other module calls ``jax.jit`` or
``jax.pmap``, or imports them)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "swjax"
ENGINE = PACKAGE / "engine"
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
    outside = [s for m in modules if ENGINE not in m.parents for s in compile_sites(m)]
    assert outside == []
    assert [s for m in sorted(ENGINE.glob("*.py")) for s in compile_sites(m)]  # and the engine does


# ------------------------------------------------------------------ dependencies point one way

#: The layers of docs/architecture.md's "Where things are", lowest first. A module imports only from its
#: own layer or below (lazy imports inside functions count), and the graph has no cycle.
LAYERS: list[set[str]] = [
    {"_version", "errors", "interrupt"},                       # foundations
    {"validate", "outputs", "data", "display", "provenance", "user_scores"},  # host-side checks, files, the registry, reprs, provenance, a user's scores
    {"importers"},                                             # reading evaluation results
    {"ranks", "problem", "scores", "core", "resample", "simulate"},  # the statistic and its inputs
    {"engine"},                                                # the one place that compiles
    {"analysis", "intervals", "pvalues", "streaming", "clusters", "columns", "measurement"},  # summaries of resamples
    {"options"},                                               # the analyses' shared settings, checked once
    {"bootstrap", "sensitivity", "families", "compare", "correlate", "coverage", "plan", "adjust", "axes"},  # analyses
    {"tables", "figures", "check", "report", "writers", "atlas_page"},  # presentation and files
    {"atlas"},                                                 # many populations at once, and their files
    {"cli.app", "cli.options", "cli.output"},                  # the command line: the app, shared options, formats
    {"cli.common"},                                            # ... errors, declared paths, data, progress
    {"cli.analyses", "cli.authors", "cli.report", "cli.studies", "cli.importing", "cli.atlas"},  # ... the commands
    {"cli", "cli.__main__", "entry", "__main__", "__init__"},  # the interfaces
]

#: Sub-packages whose modules are nodes of their own (``cli.app``); other sub-packages
#: (``importers``) are one node.
SPLIT = {"cli"}


def _module(path: Path) -> str:
    """The module's name in LAYERS: a sub-package (``importers/``, ``engine/``) is one module,
    except those of :data:`SPLIT`, whose modules are nodes of their own."""
    rel = path.relative_to(PACKAGE).with_suffix("")
    if rel.parts[0] in SPLIT and len(rel.parts) > 1:
        return rel.parts[0] if rel.parts[-1] == "__init__" else ".".join(rel.parts)
    return rel.parts[0] if len(rel.parts) > 1 else ".".join(rel.parts)


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
                elif parts[0] in SPLIT and len(parts) == 1:  # `from . import app` inside cli/
                    found |= {f"{parts[0]}.{a.name}" for a in node.names}
                elif parts[0] in SPLIT:
                    found.add(".".join(parts[:2]))
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
    raise AssertionError(f"swjax/{module}: in no layer of LAYERS (add it, and to docs/architecture.md's table)")


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


#: Where the "Where things are" table lives (README.md links to it).
ARCHITECTURE_PAGE = PACKAGE.parent / "docs" / "architecture.md"


def where_things_are(text: str) -> str:
    """The rows of the "Where things are" table of a page (the first table after that heading)."""
    after = text[text.index("Where things are"):]
    table = after[after.index("| layer | file |"):].split("\n\n")[0]
    return "\n".join(line for line in table.splitlines() if line.startswith("|"))


def modules_not_named(table: str) -> list[str]:
    return [m for m in graph() if m not in ("__init__", "__main__") and f"{m.replace('.', '/')}.py" not in table
            and f"{m}/" not in table]


def test_architecture_table_names_every_module():
    table = where_things_are(ARCHITECTURE_PAGE.read_text(encoding="utf-8"))
    assert table.startswith("| layer | file |")
    assert modules_not_named(table) == []


def test_the_table_check_fails_when_a_module_is_missing():
    table = where_things_are(ARCHITECTURE_PAGE.read_text(encoding="utf-8"))
    without = "\n".join(line for line in table.splitlines() if "`swjax/engine/" not in line)
    assert modules_not_named(without) == ["engine"]


#: The engine package's modules, lowest first: each imports only modules of the engine listed
#: before it (the program cache imports the kernel, never the other way round).
ENGINE_LAYERS = ["sizing", "kernel", "cache", "chunks", "__init__"]


def engine_imports(path: Path) -> set[str]:
    """The modules of the engine package that ``path`` (one of them) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("swjax.engine."):
            found.add(node.module.split(".")[2])
    return found


def test_the_engine_modules_each_have_a_layer_and_import_only_downward():
    modules = sorted(p.stem for p in ENGINE.glob("*.py"))
    assert sorted(ENGINE_LAYERS) == modules  # add a new engine module to ENGINE_LAYERS and docs/architecture.md
    upward = [f"{p.stem} imports {d}" for p in sorted(ENGINE.glob("*.py")) for d in engine_imports(p)
              if ENGINE_LAYERS.index(d) >= ENGINE_LAYERS.index(p.stem)]
    assert upward == []
