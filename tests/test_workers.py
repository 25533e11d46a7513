"""How many processes a test run takes (the root conftest's ``pytest_cmdline_main``): the whole
default suite one per core (at most 4) where pytest-xdist is installed, everything else one,
``-n`` and ``SWJAX_TEST_WORKERS`` deciding where given."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

_spec = importlib.util.spec_from_file_location("root_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root)


def _config(markexpr="not slow", source="TESTPATHS", numprocesses=None, xdist=True, worker=False, **options):
    option = SimpleNamespace(**({"numprocesses": numprocesses} if xdist else {}))
    values = {"markexpr": markexpr, "collectonly": False, "usepdb": False, **options}
    config = SimpleNamespace(option=option, args_source=SimpleNamespace(name=source),
                             getoption=lambda name, default=None: values.get(name, default))
    if worker:
        config.workerinput = {"workerid": "gw0"}
    return config


def _workers(config):
    root.pytest_cmdline_main(config)
    return getattr(config.option, "numprocesses", "no xdist")


@pytest.fixture(autouse=True)
def _cores(monkeypatch):
    monkeypatch.delenv("SWJAX_TEST_WORKERS", raising=False)
    monkeypatch.setattr(root.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(root, "_DEVICE", "")


def test_the_whole_default_suite_takes_a_process_per_core_at_most_four(monkeypatch):
    assert _workers(_config()) == 2
    monkeypatch.setattr(root.os, "cpu_count", lambda: 16)
    assert _workers(_config()) == 4
    monkeypatch.setattr(root.os, "cpu_count", lambda: 1)
    assert _workers(_config()) is None


@pytest.mark.parametrize("config", [
    _config(markexpr="slow"),  # the slow pass
    _config(source="ARGS"),  # chosen tests
    _config(collectonly=True),
    _config(usepdb=True),
])
def test_anything_else_takes_one_process(config):
    assert _workers(config) is None


def test_a_gpu_run_takes_one_process(monkeypatch):
    monkeypatch.setattr(root, "_DEVICE", "gpu")
    assert _workers(_config()) is None


def test_dash_n_a_worker_and_no_xdist_are_left_alone():
    assert _workers(_config(numprocesses=0)) == 0
    assert _workers(_config(numprocesses=3, markexpr="slow")) == 3
    assert _workers(_config(worker=True)) is None
    assert _workers(_config(xdist=False)) == "no xdist"


def test_the_environment_decides_for_any_run(monkeypatch):
    monkeypatch.setenv("SWJAX_TEST_WORKERS", "3")
    assert _workers(_config(markexpr="slow", source="ARGS")) == 3
    monkeypatch.setenv("SWJAX_TEST_WORKERS", "1")
    assert _workers(_config()) is None
    monkeypatch.setenv("SWJAX_TEST_WORKERS", "two")
    with pytest.raises(pytest.UsageError, match="SWJAX_TEST_WORKERS: expected a number of processes, got 'two'"):
        _workers(_config())
