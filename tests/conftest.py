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
