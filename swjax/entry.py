"""The ``swjax`` console script: Ctrl-C is handled from the first line of swjax that runs.

Importing the command line pulls in typer and, through the commands, numpy, pandas and JAX,
which takes a second or more. The handler of :mod:`swjax.interrupt` is installed before any
of that, so Ctrl-C at any moment ends with one true line and exit 130 (never a traceback).
This module imports nothing heavy, and ``swjax/__init__.py`` loads its API lazily, so nothing
heavy runs before :func:`main`. (Only a Ctrl-C inside the interpreter's own start-up, the
first few hundredths of a second before :func:`main` runs, still gets Python's traceback.)
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys

from . import interrupt


def main() -> None:
    interrupt.install()  # first: before typer, numpy, pandas and JAX are imported
    # Importing JAX, pandas and scipy creates some 300k objects, and with Python's default
    # thresholds the cyclic collector ran 460 times in a bootstrap command, three of them full
    # traversals of everything imported: 0.18 s. Collecting every 10,000 allocations instead
    # of 700 leaves 0.08 s (cycles are still collected; the peak memory is the same).
    gc.set_threshold(10_000, 10, 10)
    code = 0
    try:
        from .cli import main as run

        run()
    except KeyboardInterrupt:
        code = interrupt.exit_code()
    except SystemExit as exit_:
        code = exit_.code
    with interrupt.deferred():  # from here on a signal is only recorded
        if interrupt.requested():  # typer turns a KeyboardInterrupt outside a command into exit 130
            code = interrupt.report()
        # The work is done and reported: a late Ctrl-C must not kill the interpreter's shutdown
        # (Python restores the default handler there, which would end the process silently).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if interrupt.requested() or "coverage" not in sys.modules:
            # Leave without the interpreter's shutdown. Stopped mid-run, XLA may still be
            # compiling or running a chunk on its own threads, and tearing the interpreter down
            # under them crashes the process (SIGSEGV) after the line was printed. After a
            # finished command the shutdown only frees memory the system frees anyway: unloading
            # JAX, pandas and scipy module by module takes 0.2-0.3 s. Every output file was
            # closed by its ``with`` block and the compilation cache is written when a program
            # is compiled, so only the standard streams are left to flush. (A process measured
            # by coverage keeps its shutdown, where coverage writes its data.)
            _leave(code)
    sys.exit(code)


def _leave(code) -> None:
    """``sys.exit(code)`` without the interpreter's shutdown: a message code printed, None is 0."""
    if code is not None and not isinstance(code, int):
        with contextlib.suppress(Exception):
            print(code, file=sys.stderr)
        code = 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    main()
