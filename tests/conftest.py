"""Shared fixtures (the data folder is set in the root conftest.py)."""

import pytest


@pytest.fixture(scope="session")
def chat():
    import swjax

    return swjax.load_dataset("chat")


@pytest.fixture(scope="session")
def base():
    import swjax

    return swjax.load_dataset("base")


@pytest.fixture(autouse=True)
def _width_of_a_pipe(monkeypatch):
    """Every test sees the output width of a pipe (140 columns) unless it sets ``COLUMNS``
    itself: a ``COLUMNS`` exported by the shell or the test runner does not reach the tables."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)
