"""The model sets of one command side by side (swjax.threads): what the command sees is what it
saw one set after the other, results, warnings and errors in the sets' order; and the same
numbers and output from `swjax bootstrap --set both` as from each set alone."""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np
import pytest

from swjax import threads


def _shown(monkeypatch):
    seen = []
    monkeypatch.setattr(warnings, "showwarning", lambda message, *rest: seen.append(str(message)))
    return seen


def test_results_in_job_order_each_job_in_its_own_thread():
    started = threading.Barrier(3, timeout=10)  # passes only if all three run at the same time

    def job(i):
        def run(stop):
            started.wait()
            time.sleep(0.05 * (3 - i))  # the last job finishes first
            return i, threading.get_ident()

        return run

    out = threads.run_each([job(0), job(1), job(2)])
    assert [i for i, _ in out] == [0, 1, 2]
    assert out[0][1] == threading.get_ident()  # the first job in the caller's thread
    assert len({t for _, t in out}) == 3


def test_one_job_starts_no_thread():
    assert threads.run_each([lambda stop: threading.get_ident()]) == [threading.get_ident()]
    assert threads.run_each([]) == []


def test_warnings_shown_in_job_order_whenever_they_were_raised(monkeypatch):
    seen = _shown(monkeypatch)
    second_warned = threading.Event()

    def first(stop):
        assert second_warned.wait(10)  # the second job's warning comes first in time
        warnings.warn("first set", UserWarning)
        return 1

    def second(stop):
        warnings.warn("second set", UserWarning)
        second_warned.set()
        return 2

    assert threads.run_each([first, second]) == [1, 2]
    assert seen == ["first set", "second set"]
    assert warnings.showwarning.__name__ == "<lambda>"  # the caller's handler is back


@pytest.mark.parametrize("failing", [0, 1])
def test_a_failure_stops_the_others_and_is_raised_after_they_stopped(failing):
    stopped = []

    def failing_job(stop):
        raise ValueError(f"job {failing} failed")

    def looping_job(stop):
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:  # a long run that checks between "chunks"
                stop.check()
                time.sleep(0.005)
        except threads.Stopped:
            stopped.append(True)
            raise
        return "ran out of time"

    jobs = [looping_job, looping_job]
    jobs[failing] = failing_job
    before = time.monotonic()
    with pytest.raises(ValueError, match=f"job {failing} failed"):
        threads.run_each(jobs)
    assert stopped == [True] and time.monotonic() - before < 5
    assert not [t for t in threading.enumerate() if t.name.startswith("swjax-set")]  # none left running


def test_the_earliest_failing_job_wins():
    gate = threading.Event()

    def late_failure(stop):
        gate.wait(10)
        raise ValueError("first set")

    def early_failure(stop):
        try:
            raise KeyError("second set")
        finally:
            gate.set()

    with pytest.raises(ValueError, match="first set"):
        threads.run_each([late_failure, early_failure])


def test_interrupt_in_the_first_job_stops_the_others():
    stopped = threading.Event()

    def interrupted(stop):
        raise KeyboardInterrupt

    def other(stop):
        while not stop.is_set():
            time.sleep(0.005)
        stopped.set()
        stop.check()

    with pytest.raises(KeyboardInterrupt):
        threads.run_each([interrupted, other])
    assert stopped.is_set()


def test_progress_bars_one_display_for_several_sets():
    from swjax import cli

    from .test_cli_start import _Terminal

    term = _Terminal()
    with cli.progress_bars(100, ["base: resampling", "chat: resampling"], stream=term) as advances:
        assert len(advances) == 2
        first = term.buf.getvalue()
        for advance in advances:
            advance(100)
    assert "base: resampling" in first and "chat: resampling" in first and cli.COMPILING in first
    pipe = _Terminal()
    pipe.isatty = lambda: False
    with cli.progress_bars(10, ["base", "chat"], stream=pipe) as advances:
        for advance in advances:
            advance(10)
    assert pipe.buf.getvalue() == ""


@pytest.mark.slow  # two sets' programs compiled: about 10 s
def test_bootstrap_both_sets_equal_each_set_alone(tmp_path):
    """The same distributions, tables and warnings, bit for bit, as two one-set commands."""
    from typer.testing import CliRunner

    from swjax.cli import app

    runner = CliRunner()

    def run(model_set):
        out = tmp_path / model_set
        res = runner.invoke(app, ["bootstrap", "--set", model_set, "--n", "60", "--out", str(out)])
        assert res.exit_code == 0, res.output
        return res, np.load(out / "distributions.npz")

    both, both_npz = run("both")
    alone = [run(s) for s in ("base", "chat")]
    assert both.stdout == "".join(res.stdout for res, _ in alone)
    warned = [line for line in both.stderr.splitlines() if line.startswith("warning:")]
    assert warned == [line for res, _ in alone for line in res.stderr.splitlines() if line.startswith("warning:")]
    for _, npz in alone:
        assert set(npz.files) <= set(both_npz.files)
        for name in npz.files:
            np.testing.assert_array_equal(npz[name], both_npz[name], err_msg=name)  # NaN equal to NaN
