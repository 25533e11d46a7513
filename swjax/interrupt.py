"""Ctrl-C and termination: one true line, exit 130 (128 + N for signal N), nothing half-written.

SIGINT (Ctrl-C) is ``interrupted``; SIGTERM, SIGHUP (the terminal closed) and SIGQUIT (Ctrl-\\)
are ``terminated``, and stop a run the same way, removing its temporaries.

Only the command line installs the handler (:func:`install`); the library never touches
signals. The handler records the signal and raises ``KeyboardInterrupt`` as Python's own
handler does, so a run stops at once and every ``with`` block of :mod:`swjax.outputs` removes
its temporary entries. A ``KeyboardInterrupt`` can be lost, though: Python that runs inside a
JAX callback, a finaliser or a weakref callback ("Exception ignored in ...") cannot pass it
on. So the recorded signal is also checked

- between chunks of resamples (:func:`checkpoint`, from the command line's progress callback),
- before any output is committed (:mod:`swjax.outputs` calls :func:`checkpoint`), and
- when the command returns (``handle_errors`` in :mod:`swjax.cli`).

Imports run with the signal held (:func:`install` wraps ``__import__``): a library
interrupted halfway through its initialisation can crash the process. Commits run with the
signal deferred (:func:`deferred`): a folder is swapped in whole or not at all, and the final
line says which outputs were written (:func:`committed`).
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import signal
import sys
import threading

__all__ = [
    "install", "checkpoint", "deferred", "import_held", "requested", "committed", "record_commit", "message",
]

#: The signals that stop a command with one line and its temporaries removed.
SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")

#: Libraries a command imports before it starts: C extensions and thread pools whose
#: initialisation a KeyboardInterrupt must not break into.
HEAVY = ("numpy", "pandas", "jax")


class _State:
    def __init__(self):
        self.signum = 0  # the signal received (0: none)
        self.depth = 0  # > 0 while a commit runs
        self.committed: list[str] = []  # outputs written by this process (paths as text)
        self.reported = False  # the final line has been printed


_state = _State()


def _handler(signum, frame):
    _state.signum = signum
    if _state.depth == 0:
        raise KeyboardInterrupt


def _redeliver(signum, frame):
    if _state.signum and _state.depth == 0:
        raise KeyboardInterrupt


def _unraisable(hook):
    """A ``sys.unraisablehook`` that, for a lost KeyboardInterrupt, prints nothing and delivers
    the interrupt again a few milliseconds later (SIGALRM), once the finaliser or callback that
    swallowed it has returned; where timers are missing, the next checkpoint stops the run."""

    def unraisable(info):
        if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt) and _state.signum:
            with contextlib.suppress(AttributeError, ValueError, OSError):
                signal.signal(signal.SIGALRM, _redeliver)
                signal.setitimer(signal.ITIMER_REAL, 0.005)
            return
        hook(info)

    unraisable.swjax = True
    return unraisable


def install() -> None:
    """Route :data:`SIGNALS` through the recording handler (command line only).

    A signal that the process was started ignoring (a background job, ``nohup``) stays ignored.
    """
    _state.signum, _state.depth, _state.committed, _state.reported = 0, 0, [], False
    for name in SIGNALS:
        signum = getattr(signal, name, None)
        with contextlib.suppress(ValueError, OSError, TypeError):
            if signum is not None and signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, _handler)
    if not getattr(sys.unraisablehook, "swjax", False):
        sys.unraisablehook = _unraisable(sys.unraisablehook)
    if not getattr(builtins.__import__, "swjax", False):
        builtins.__import__ = _held_import(builtins.__import__)


def _held_import(original):
    """An ``__import__`` that, on the main thread, holds the signal until the outermost import
    returns, then stops if one came.

    A KeyboardInterrupt in the middle of a library's initialisation crashed the process
    (SIGSEGV or SIGABRT, no line) in 2 of 36 tries of Ctrl-C while numpy, pandas and JAX
    loaded; raised inside a class body (pandas' ``NamedAgg``), Python 3.11 turns it into a
    RuntimeError ("Error calling __set_name__") with a traceback. Holding every import, not a
    list of libraries, also covers scipy, matplotlib and rich, which commands load as they go.
    Other threads import as before: the handler runs on the main thread only."""
    main = threading.main_thread()

    def held(name, globals=None, locals=None, fromlist=(), level=0):
        if threading.current_thread() is not main:
            return original(name, globals, locals, fromlist, level)
        _state.depth += 1
        try:
            return original(name, globals, locals, fromlist, level)
        finally:
            _state.depth -= 1
            if _state.depth == 0 and _state.signum:
                raise KeyboardInterrupt

    held.swjax = True
    return held


def requested() -> bool:
    """Whether a signal was received since :func:`install`."""
    return _state.signum != 0


def checkpoint() -> None:
    """Raise ``KeyboardInterrupt`` if a signal was received (and possibly swallowed) earlier."""
    if _state.signum and _state.depth == 0:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred():
    """Hold signals back while a commit runs; they take effect at the next checkpoint."""
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1


def import_held(modules=HEAVY) -> None:
    """Import ``modules`` now, with signals held, then stop at once if one came: a command
    loads what it needs before it starts work. (``importlib.import_module`` does not pass
    through the wrapped ``__import__``, so the hold is taken here.)"""
    with deferred():
        for name in modules:
            importlib.import_module(name)
    checkpoint()


def begin() -> None:
    """A command starts: forget the outputs and the report of an earlier one in this process
    (a signal already recorded is kept)."""
    _state.committed, _state.reported = [], False


def record_commit(path) -> None:
    _state.committed = _state.committed[-99:] + [str(path)]


def committed() -> list[str]:
    """Outputs committed by this process, in order."""
    return list(_state.committed)


def exit_code() -> int:
    """130 for Ctrl-C (SIGINT, or no signal recorded), 128 + the signal number otherwise."""
    return 128 + (_state.signum or signal.SIGINT)


def message() -> str:
    """The one line that ends an interrupted command, saying what was written."""
    word = "interrupted" if _state.signum in (0, signal.SIGINT) else "terminated"
    if _state.signum not in (0, signal.SIGINT, getattr(signal, "SIGTERM", -1)):
        word += f" ({signal.Signals(_state.signum).name})"
    done = _state.committed
    if not done:
        return f"{word}: nothing was written"
    return f"{word}: wrote {', '.join(done)} before stopping; nothing else was written"


def report(stream=None) -> int:
    """Print :func:`message` once and return the exit code."""
    if not _state.reported:
        with contextlib.suppress(OSError, ValueError, AttributeError):  # SIGHUP: the terminal may be gone
            print(message(), file=stream or sys.stderr, flush=True)
        _state.reported = True
    return exit_code()
