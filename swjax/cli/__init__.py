"""The ``swjax`` command line: each command parses options, calls the library, renders.

Bad input of any kind ends in one line on stderr naming the problem and exit code 2; outputs
are written atomically (see :mod:`swjax.outputs`).

One module per part: :mod:`.app` (the typer app), :mod:`.options` (the options several
commands share, declared once), :mod:`.common` (errors, declared paths, data, progress),
:mod:`.output` (the output formats and where results go), and the commands by what they are
for: :mod:`.analyses`, :mod:`.authors`, :mod:`.report`, :mod:`.studies`, :mod:`.importing`, :mod:`.atlas`.
The commands are registered here, in the order ``swjax --help`` lists them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import SwjaxError
from . import analyses, atlas, authors, importing, report, studies
from .app import QUIET, app
from .common import (
    COMPILING, HOST, backend_problem, check_bootstrap_space, check_declared_paths, check_paths,
    cluster_labels, handle_errors, interruptible, load_sets, parse_list, path_roles, progress_bar,
    progress_lines, working,
)
from .options import READS, WRITES_FILE, WRITES_INTO, Format, ModelSet, PathRole, writes_folder
from .output import emit, formatted, render, write_stdout

__all__ = [
    "app", "main", "QUIET", "SwjaxError", "PathRole", "READS", "WRITES_FILE", "WRITES_INTO", "writes_folder",
    "Format", "ModelSet", "COMPILING", "HOST", "handle_errors", "backend_problem", "path_roles",
    "check_declared_paths", "check_paths", "check_bootstrap_space", "cluster_labels", "interruptible",
    "load_sets", "parse_list", "progress_bar", "progress_lines", "working", "emit", "formatted", "render",
    "write_stdout", "use_compile_cache",
]

#: The commands, in the order of ``swjax --help``: (name, function).
COMMANDS = [
    ("analyze", analyses.analyze),
    ("bootstrap", analyses.bootstrap),
    ("correlate", authors.correlate),
    ("check", authors.check),
    ("plot", report.plot),
    ("report", report.report),
    ("lobo", analyses.lobo),
    ("subsets", analyses.subsets),
    ("compare", analyses.compare),
    ("axes", analyses.axes),
    ("simulate", studies.simulate),
    ("coverage", studies.coverage),
    ("import", importing.import_results),
    ("adjust", analyses.adjust),
    ("plan", studies.plan),
    ("atlas", atlas.atlas),
]

for _name, _command in COMMANDS:
    app.command(_name)(_command)


def use_compile_cache() -> None:
    """Keep compiled functions between runs (JAX's persistent cache) in the user cache folder.

    A repeated command then skips most of its compilation. ``SWJAX_COMPILE_CACHE=0`` turns
    it off; ``SWJAX_COMPILE_CACHE=DIR`` puts it elsewhere. Only the command line does this:
    the library never changes JAX's configuration.
    """
    import os

    setting = os.environ.get("SWJAX_COMPILE_CACHE", "")
    if setting == "0":
        return
    folder = Path(setting) if setting else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "swjax" / "xla"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    settings = {
        "jax_compilation_cache_dir": str(folder),
        "jax_persistent_cache_min_compile_time_secs": 0.1,
        "jax_persistent_cache_min_entry_size_bytes": 0,
    }
    if "jax" in sys.modules:  # already imported (e.g. the command line called from Python)
        import jax

        for name, value in settings.items():
            jax.config.update(name, value)
        return
    # Not imported yet: JAX reads these when it is, so `--help` and bad input never import it.
    for name, value in settings.items():
        os.environ.setdefault(name.upper(), str(value))
    if setting:  # SWJAX_COMPILE_CACHE=DIR wins over an inherited JAX setting
        os.environ["JAX_COMPILATION_CACHE_DIR"] = str(folder)


def main() -> None:
    use_compile_cache()
    app()


if __name__ == "__main__":
    main()
