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
import os
import signal
import sys

from . import interrupt


def main() -> None:
    interrupt.install()  # first: before typer, numpy, pandas and JAX are imported
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
        if interrupt.requested():
            # Stopped mid-run: XLA may still be compiling or running a chunk on its own threads,
            # and tearing the interpreter down under them crashes the process (SIGSEGV) after
            # the line was printed. Every output was already cleaned up by its ``with`` block,
            # so leave without the shutdown.
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 1)
    sys.exit(code)


if __name__ == "__main__":
    main()
