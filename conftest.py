"""Test and doctest set-up: read the public data from ../shared/data when it is there."""

import os
from pathlib import Path

_SHARED = Path(__file__).resolve().parent.parent / "shared" / "data"
if "SWJAX_DATA_DIR" not in os.environ and _SHARED.is_dir():
    os.environ["SWJAX_DATA_DIR"] = str(_SHARED)
os.environ.setdefault("MPLBACKEND", "Agg")
