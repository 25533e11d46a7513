"""Test and doctest set-up: read the public data from ../shared/data when it is there.

``SWJAX_TEST_DEVICE`` picks where the tests run: ``cpu`` hides every accelerator
(``JAX_PLATFORMS=cpu``); ``gpu`` requires a GPU, makes it JAX's default device (the engine's
``device="auto"`` picks it too) and stops at once when there is none, so that a passing run is a
GPU run; unset, JAX's own choice. Tests marked ``gpu`` need a GPU and are skipped without one.
"""

import os
from pathlib import Path

import pytest

_SHARED = Path(__file__).resolve().parent.parent / "shared" / "data"
if "SWJAX_DATA_DIR" not in os.environ and _SHARED.is_dir():
    os.environ["SWJAX_DATA_DIR"] = str(_SHARED)
os.environ.setdefault("MPLBACKEND", "Agg")

_DEVICE = os.environ.get("SWJAX_TEST_DEVICE", "").strip().lower()
if _DEVICE not in ("", "auto", "cpu", "gpu"):
    raise pytest.UsageError(f"SWJAX_TEST_DEVICE: expected 'cpu' or 'gpu', got {_DEVICE!r}")
if _DEVICE == "cpu":
    os.environ["JAX_PLATFORMS"] = "cpu"


def _gpus():
    import jax

    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


def pytest_configure(config):
    if _DEVICE == "gpu":
        gpus = _gpus()
        if not gpus:
            raise pytest.UsageError("SWJAX_TEST_DEVICE=gpu, but JAX sees no GPU")
        import jax

        jax.config.update("jax_default_device", gpus[0])


def pytest_report_header(config):
    import jax

    return f"swjax test device: {_DEVICE or 'auto'}; JAX default device {jax.devices()[0]}"


def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if item.get_closest_marker("gpu") is not None]
    if marked and not _gpus():
        skip = pytest.mark.skip(reason="needs a GPU (JAX sees none)")
        for item in marked:
            item.add_marker(skip)
