"""Writing results: atomic files and folders, JSON that survives NaN. No jax.

Nothing is ever half-written: a file is written beside its destination and renamed into
place; a folder of outputs is filled in a temporary sibling folder and renamed at the end, so
an error or Ctrl-C leaves the old output (or nothing) behind.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["to_jsonable", "write_text", "atomic_file", "atomic_dir", "frame_to_json"]


def to_jsonable(x):
    """Plain Python for json.dumps: NaN/inf become None, numpy scalars become Python ones."""
    if isinstance(x, dict):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return to_jsonable(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, Path):
        return str(x)
    return x


def frame_to_json(frame: pd.DataFrame) -> list[dict]:
    """Rows of a DataFrame (index included) as JSON-ready dicts."""
    index = frame.index.name or "index"
    return [to_jsonable({index: idx, **row}) for idx, row in zip(frame.index, frame.to_dict("records"))]


def dumps(obj) -> str:
    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False) + "\n"


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside ``path`` that is renamed onto it when the block succeeds.

    On an error (or Ctrl-C) the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike):
    """Yield a temporary folder that replaces ``path`` only when the block ends without error.

    Files already in ``path`` that the block does not write again are kept.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            if not path.is_dir():
                raise NotADirectoryError(f"{path} exists and is not a folder")
            for item in tmp.iterdir():
                os.replace(item, path / item.name)
            tmp.rmdir()
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
