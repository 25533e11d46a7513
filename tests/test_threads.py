"""swjax called from several threads at once: the engine runs one at a time (engine.chunks._ONE_RUN),
since two programs executing at once hung XLA's CPU runtime, and each thread gets the numbers
it would get alone."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import swjax
from swjax import engine


def test_runs_from_two_threads_take_turns_and_give_the_numbers_of_one_thread(monkeypatch):
    alone = swjax.bootstrap("chat", n=200, seed=3).distribution  # also compiles, before timing
    active, most = [0], [0]
    loop = engine.chunks._run_chunks

    def watched(*args, **kwargs):  # a chunk loop that lasts long enough for the runs to meet
        active[0] += 1
        most[0] = max(most[0], active[0])
        try:
            time.sleep(0.2)
            return loop(*args, **kwargs)
        finally:
            active[0] -= 1

    monkeypatch.setattr(engine.chunks, "_run_chunks", watched)
    start = threading.Barrier(2, timeout=30)
    out = [None, None]

    def job(i):
        start.wait()
        out[i] = swjax.bootstrap("chat", n=200, seed=3).distribution

    threads = [threading.Thread(target=job, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert most[0] == 1  # never two chunk loops at once
    for got in out:
        np.testing.assert_array_equal(got, alone)


def test_a_failing_run_releases_the_lock():
    with pytest.raises(Exception):
        engine.run(None, np.ones((1, 3)))  # not a problem: fails inside the run
    got = []

    def other_thread():
        taken = engine.chunks._ONE_RUN.acquire(timeout=5)
        got.append(taken)
        if taken:
            engine.chunks._ONE_RUN.release()

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert got == [True]
