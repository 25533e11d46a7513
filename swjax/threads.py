"""The model sets of one command at the same time: one thread per set, results in set order.

``swjax bootstrap --set both`` computes two independent sets. One after the other, each set's
Python work (preparing the problem, loading or tracing its program, the intervals after the
resamples) leaves the CPU's other core idle, and while XLA runs a chunk the Python thread
waits. Side by side, one set's Python work runs while the other's compiled program computes
(XLA and numpy's large operations release the GIL): a repeated command's two ``bootstrap()``
calls take about a quarter less time on two cores (``benchmarks/bench_cli.py``). The numbers
are the same: each set's computation does not depend on the other's.

What a command sees is what it saw one set after the other:

* results in the order of the jobs;
* the warnings of job ``i`` shown after those of jobs before it (the first job's as they
  come, the others' held until the first is done);
* the error of the earliest job that failed, after every job has stopped: a failure tells the
  others to stop at their next :func:`Stop.check` (the command's progress callback, between
  chunks), so a Ctrl-C or a bad set does not leave a thread computing behind the message.

Only the command line uses this. The library's functions take one set each and start no
thread; any of them may be called from threads (JAX dispatch and the engine's caches are
thread-safe, and ``jax.enable_x64`` is scoped to its thread).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["Stop", "Stopped", "run_each"]

T = TypeVar("T")


class Stopped(Exception):
    """Raised in a job by :meth:`Stop.check` after another job failed (never shown)."""


class Stop:
    """Shared by the jobs of one :func:`run_each`: set when any job fails."""

    def __init__(self):
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Stopped` if another job failed (call it between chunks)."""
        if self._event.is_set():
            raise Stopped


def run_each(jobs: Sequence[Callable[[Stop], T]]) -> list[T]:
    """``[job(stop) for job in jobs]``, the first job in this thread, each other in its own.

    Every job gets the same :class:`Stop`; it should call ``stop.check()`` now and then. One job
    runs here, without threads.
    """
    stop = Stop()
    if len(jobs) <= 1:
        return [job(stop) for job in jobs]
    n = len(jobs)
    results: list = [None] * n
    errors: list[BaseException | None] = [None] * n
    held: list[list[tuple]] = [[] for _ in range(n)]
    owner = {}  # thread id -> job index (the main thread is job 0)
    show = warnings.showwarning

    def route(message, category, filename, lineno, file=None, line=None):
        i = owner.get(threading.get_ident(), 0)
        if i == 0:
            show(message, category, filename, lineno, file, line)
        else:
            held[i].append((message, category, filename, lineno, file, line))

    def run(i: int) -> None:
        owner[threading.get_ident()] = i
        try:
            results[i] = jobs[i](stop)
        except BaseException as err:  # noqa: BLE001 - handed to the caller below, in job order
            errors[i] = err
            stop.set()

    threads = [threading.Thread(target=run, args=(i,), name=f"swjax-set-{i}", daemon=True) for i in range(1, n)]
    warnings.showwarning = route
    try:
        for t in threads:
            t.start()
        try:
            results[0] = jobs[0](stop)
        except BaseException as err:  # noqa: BLE001 - Ctrl-C included: the others stop first
            errors[0] = err
            stop.set()
        for t in threads:
            _join(t, stop)
    finally:
        warnings.showwarning = show
    for i in range(1, n):
        for args in held[i]:
            show(*args)
    for err in errors:
        if err is not None and not isinstance(err, Stopped):
            raise err
    return results


def _join(thread: threading.Thread, stop: Stop) -> None:
    """Wait for ``thread``; a Ctrl-C meanwhile tells it to stop, and waits for it still."""
    try:
        thread.join()
    except BaseException:
        stop.set()
        thread.join()
        raise
