"""Test set-up: the public data from ../shared/data when it is there (no download)."""

import os
from pathlib import Path

import pytest

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "SWJAX_DATA_DIR" not in os.environ and _SHARED.is_dir():
    os.environ["SWJAX_DATA_DIR"] = str(_SHARED)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def chat():
    import swjax

    return swjax.load_dataset("chat")


@pytest.fixture(scope="session")
def base():
    import swjax

    return swjax.load_dataset("base")
