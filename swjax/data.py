"""Benchmark matrices: the paper's public dataset registry, user CSVs, and their checks.

pandas and numpy only: nothing here imports jax.

A matrix is one row per model and one column per benchmark, higher meaning safer or more
capable, plus optional metadata columns (``model_size``, ``FLOP``, ``name``, ``type``). The
public matrices of the Safetywashing paper are fetched from their pinned public address and
checked against their sha256; a folder named by ``data_dir`` or ``SWJAX_DATA_DIR`` that already
holds them is used without network.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import SwjaxError

__all__ = [
    "PAPER_CAPABILITIES",
    "METADATA_COLUMNS",
    "DATASETS",
    "Dataset",
    "load_dataset",
    "read_csv",
    "data_dir",
    "areas",
    "shipped",
]

#: The 12 capability benchmarks whose first principal component is the paper's capabilities score.
PAPER_CAPABILITIES: tuple[str, ...] = (
    "logiqa", "piqa", "hellaswag", "winogrande", "superglue_copa", "medqa_4options",
    "arc_challenge", "mmlu", "minerva_math", "lambada_openai", "gsm8k", "bbh",
)

#: Columns that describe a model rather than score it.
METADATA_COLUMNS: tuple[str, ...] = ("model_size", "FLOP", "name", "type", "developer")
_NUMERIC_METADATA = ("model_size", "FLOP")

_PACKAGE = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """Path of a file of the project's ``data/`` folder (the registry, the paper's published
    figures, the family and area maps, ``examples/``): ``swjax/_data`` in an installed wheel,
    ``data/`` beside the package in a checkout (an editable install)."""
    for folder in (_PACKAGE / "_data", _PACKAGE.parent / "data"):
        if (folder / "registry.json").is_file():
            path = folder / name
            if not path.exists():
                raise SwjaxError(f"{name}: not among the shipped data files ({folder})")
            return path
    raise SwjaxError(f"the shipped data folder is missing (neither {_PACKAGE / '_data'} nor {_PACKAGE.parent / 'data'})")


def _registry() -> dict:
    import json

    return json.loads(shipped("registry.json").read_text(encoding="utf-8"))


_REG = _registry()
_BASE_URL: str = _REG["base_url"]
#: File name -> sha256 of the public files, pinned to one commit of the released data
#: (``data/registry.json``).
REGISTRY: dict[str, str] = dict(_REG["files"])
#: Model set name -> matrix file name.
DATASETS: dict[str, str] = dict(_REG["sets"])
_INFO_FILE: str = _REG["info"]


@functools.lru_cache(maxsize=1)
def _areas() -> pd.DataFrame:
    return pd.read_csv(shipped("areas.csv"), dtype={"benchmark": str, "area": str, "headline": int}).set_index("benchmark")


def areas() -> pd.DataFrame:
    """The documented safety-area map of the public benchmarks (``data/areas.csv``).

    Indexed by benchmark: ``area`` and ``headline`` (1 for the safety benchmarks of the
    paper's main tables). See ``data/README.md``.
    """
    return _areas().copy()


@dataclass(frozen=True)
class Dataset:
    """One model set: scores, model metadata and benchmark display information.

    Attributes
    ----------
    label : str
        ``"base"``, ``"chat"`` or the file name of a user matrix.
    scores : pandas.DataFrame
        Models x benchmarks, float64, NaN where a score is missing. Index: model ids.
    meta : pandas.DataFrame
        Models x metadata columns present in the file (``model_size``, ``FLOP``, ``name``,
        ``type``), same index as ``scores``.
    info : pandas.DataFrame
        Indexed by benchmark column, columns ``name`` (display name) and ``metric``; may be empty.
    """

    label: str
    scores: pd.DataFrame
    meta: pd.DataFrame
    info: pd.DataFrame

    @property
    def models(self) -> list[str]:
        return list(self.scores.index)

    @property
    def benchmarks(self) -> list[str]:
        return list(self.scores.columns)

    def resolve(self, name, what: str = "benchmark") -> str:
        """The column id of a benchmark named by its id or display name (``"MT Bench"``), or
        one error naming the closest ones (:func:`swjax.validate.benchmark`)."""
        from . import validate

        names = self.info["name"] if "name" in self.info.columns else None
        return validate.benchmark(name, self.scores.columns, names, what=what, where=f"the {self.label} set")

    def display_name(self, benchmark: str) -> str:
        """The benchmark's display name from ``info``, or its column name."""
        return self.describe([benchmark])["name"].iloc[0]

    def metric(self, benchmark: str) -> str:
        return self.describe([benchmark])["metric"].iloc[0]

    def describe(self, benchmarks) -> pd.DataFrame:
        """``name`` (display name, else the column name) and ``metric`` (else "") of benchmarks."""
        index = pd.Index(list(benchmarks), name="benchmark")
        info = self.info[~self.info.index.duplicated()].reindex(index)
        name = info["name"] if "name" in info else pd.Series(np.nan, index=index)
        metric = info["metric"] if "metric" in info else pd.Series(np.nan, index=index)
        is_text = np.vectorize(lambda v: isinstance(v, str), otypes=[bool])
        return pd.DataFrame(
            {
                "name": np.where(is_text(name.to_numpy(object)), name.to_numpy(object), index.to_numpy(object)),
                "metric": np.where(is_text(metric.to_numpy(object)), metric.to_numpy(object), ""),
            },
            index=index,
        )

    def model_name(self, model: str) -> str:
        if "name" in self.meta.columns and isinstance(self.meta.at[model, "name"], str):
            return self.meta.at[model, "name"]
        return model


# --------------------------------------------------------------------------- the registry


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder that holds (or will cache) the public files.

    ``path`` if given, else ``$SWJAX_DATA_DIR``, else the user cache folder of swjax.
    """
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("SWJAX_DATA_DIR")
    if env:
        return Path(env).expanduser()
    try:
        import pooch

        return Path(pooch.os_cache("swjax"))
    except ImportError:  # pooch only matters for downloading; keep a sensible default
        return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "swjax"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(filename: str, data_dir_: str | os.PathLike | None = None) -> Path:
    """Path of a public file, checked against its sha256; downloads it when it is not there.

    Raises
    ------
    SwjaxError
        When a file that is there does not match its hash, or it cannot be downloaded.
    """
    folder = data_dir(data_dir_)
    expected = REGISTRY[filename]
    path = folder / filename
    if path.is_file():
        actual = _sha256(path)
        if actual != expected:
            raise SwjaxError(
                f"{path}: sha256 mismatch (expected {expected}, got {actual}); "
                "the file is not the published one: delete it or point SWJAX_DATA_DIR elsewhere"
            )
        return path
    try:
        import pooch
    except ImportError as err:
        raise SwjaxError(
            f"{filename} is not in {folder} and pooch, needed to download it, is not installed: "
            "pip install pooch, or set SWJAX_DATA_DIR to a folder that holds the files"
        ) from err
    try:
        fetched = pooch.retrieve(
            _BASE_URL + filename, known_hash=f"sha256:{expected}", fname=filename,
            path=folder, progressbar=False,
        )
    except Exception as err:  # network errors, hash mismatch of the download, unwritable folder
        reason = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
        raise SwjaxError(
            f"could not fetch {filename} into {folder} ({reason}); without network, set "
            "SWJAX_DATA_DIR to a folder that holds the files"
        ) from err
    return Path(fetched)


def load_dataset(which: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """The paper's public benchmark matrix for one model set.

    Parameters
    ----------
    which : {"base", "chat"}
        The model set: 27 base models or 26 chat models.
    data_dir : path, optional
        A folder that holds the files (or will cache them). Default: ``$SWJAX_DATA_DIR``, else
        the user cache folder.

    Examples
    --------
    >>> ds = load_dataset("chat")
    >>> ds.scores.shape
    (26, 178)
    """
    if which not in DATASETS:
        raise SwjaxError(f"set: expected one of {sorted(DATASETS)}, got {which!r}")
    matrix = fetch(DATASETS[which], data_dir)
    info = fetch(_INFO_FILE, data_dir)
    return _copy(_parse_public(matrix, info, which, matrix.stat().st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _parse_public(matrix: Path, info: Path, which: str, mtime: int) -> Dataset:
    return read_csv(matrix, info=info, label=which)


def _copy(ds: Dataset) -> Dataset:
    """A copy of a cached dataset, so that callers may change its frames freely."""
    return Dataset(label=ds.label, scores=ds.scores.copy(), meta=ds.meta.copy(), info=ds.info.copy())


# --------------------------------------------------------------------------- user files


def _read_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
        if "\x00" in text:
            raise SwjaxError(f"{path}: contains NUL bytes, not a text CSV file")
        header = next(csv.reader(io.StringIO(text, newline="")), None)
    except FileNotFoundError:
        raise SwjaxError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise SwjaxError(f"{path}: is a folder, expected a CSV file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise SwjaxError(f"{path}: cannot read the file ({err})") from None
    if not header:
        raise SwjaxError(f"{path}: the file is empty")
    return [h.strip() for h in header]


def _check_rows(path: Path, header: list[str], skipinitialspace: bool = False) -> None:
    """Every non-blank row has as many fields as the header.

    pandas fills a short row (a truncated file) with missing cells and, when every row has one
    field more than the header (a trailing comma), silently takes the first column as the
    index and shifts every column by one; both are malformed files, not missing scores.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, skipinitialspace=skipinitialspace)
        try:
            for number, row in enumerate(reader, start=1):
                if number == 1 or not row:
                    continue
                if len(row) != len(header):
                    raise SwjaxError(
                        f"{path}: line {reader.line_num} has {len(row)} fields, the header has "
                        f"{len(header)} (check delimiters, quotes and trailing commas)"
                    )
        except csv.Error as err:
            raise SwjaxError(f"{path}: cannot parse the CSV (line {reader.line_num}: {err})") from None


def _parse(path: Path, header: list[str], **options) -> pd.DataFrame:
    """``pandas.read_csv`` of a user file; any parse problem is one SwjaxError naming the file."""
    try:
        frame = pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise SwjaxError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, csv.Error, UnicodeDecodeError, ValueError, OSError, OverflowError) as err:
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise SwjaxError(f"{path}: cannot parse the CSV ({first})") from None
    if len(frame.columns) != len(header):
        raise SwjaxError(
            f"{path}: the header has {len(header)} columns but the rows were read as "
            f"{len(frame.columns)} (check quotes and delimiters)"
        )
    return frame


def _numeric(frame: pd.DataFrame, path: Path, columns: list[str]) -> pd.DataFrame:
    """Convert string cells to float64, naming the first non-numeric or infinite cell."""
    # Column by column on numpy arrays (a pandas Series per column costs five times as much).
    raw = frame[columns].to_numpy(dtype=object)
    values = np.empty(raw.shape)
    for j in range(len(columns)):
        values[:, j] = pd.to_numeric(raw[:, j], errors="coerce")
    bad = np.isnan(values) & ~pd.isna(raw)
    inf = np.isinf(values)
    for j in np.flatnonzero(bad.any(axis=0) | inf.any(axis=0)):  # the first column at fault
        col = columns[j]
        if bad[:, j].any():
            i = np.argmax(bad[:, j])
            raise SwjaxError(f"{path}: column {col!r}, model {frame.index[i]!r}: non-numeric cell {raw[i, j]!r}")
        raise SwjaxError(f"{path}: column {col!r}, model {frame.index[np.argmax(inf[:, j])]!r}: infinite value")
    return pd.DataFrame(values, index=frame.index, columns=columns)


def read_info(path: str | os.PathLike) -> pd.DataFrame:
    """A benchmark information CSV: columns ``benchmark``, ``name``, ``metric``."""
    path = Path(path)
    header = _read_header(path)
    if "benchmark" not in header:
        raise SwjaxError(f"{path}: no 'benchmark' column (expected benchmark,name,metric)")
    _check_rows(path, header)
    frame = _parse(path, header, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.columns = header
    for col in ("name", "metric"):
        if col not in frame.columns:
            frame[col] = ""
    frame = frame.drop_duplicates("benchmark", keep="first").set_index("benchmark")
    return frame[["name", "metric"]]


def _model_column(path: Path, header: list[str]) -> list[str]:
    """The header with its model id column named ``model`` (``Model``, ``MODEL`` are read as it)."""
    if "model" in header:
        return header
    found = [i for i, c in enumerate(header) if c.strip().lower() == "model"]
    if len(found) != 1:
        raise SwjaxError(f"{path}: no 'model' column (the model ids); columns are {header[:5]}...")
    return [("model" if i == found[0] else c) for i, c in enumerate(header)]


def _text_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """Columns none of whose cells is a number (a family, an organisation): metadata, not scores.

    A column with numbers and some text is a benchmark with a bad cell, refused by
    :func:`_numeric`.
    """
    out = []
    for col in columns:
        cells = frame[col].dropna().astype(str).str.strip()
        cells = cells[cells != ""]
        if len(cells) and pd.to_numeric(cells, errors="coerce").isna().all() and not cells.str.lower().isin(
                ("nan", "inf", "-inf", "infinity", "n/a", "na")).any():
            out.append(col)
    return out


def read_csv(
    path: str | os.PathLike, info: str | os.PathLike | None = None, label: str | None = None
) -> Dataset:
    """A user's benchmark matrix in the schema of the public files.

    Parameters
    ----------
    path : path
        CSV with a ``model`` column (the model ids), optional metadata columns
        ``model_size``, ``FLOP``, ``name``, ``type``, and one numeric column per benchmark,
        oriented so that higher is better. Empty cells are missing scores.
    info : path, optional
        CSV with columns ``benchmark``, ``name``, ``metric`` giving display names.
    label : str, optional
        Name of the model set in outputs; default: the file name.

    Raises
    ------
    SwjaxError
        Missing or unreadable file, no ``model`` column, duplicate model ids or benchmark
        columns, a non-numeric or infinite cell; the message names file, column and model.
    """
    path = Path(path)
    header = _read_header(path)
    header = _model_column(path, header)
    seen: set[str] = set()
    for col in header:
        if col in seen:
            raise SwjaxError(f"{path}: duplicate column {col!r}")
        seen.add(col)
    _check_rows(path, header, skipinitialspace=True)
    frame = _parse(path, header, dtype=str, encoding="utf-8-sig", skipinitialspace=True)
    frame.columns = header
    ids = frame["model"]
    if ids.isna().any():
        raise SwjaxError(f"{path}: row {int(ids.isna().to_numpy().argmax()) + 2} has no model id")
    ids = ids.str.strip()
    dup = ids[ids.duplicated()]
    if len(dup):
        raise SwjaxError(f"{path}: duplicate model id {dup.iloc[0]!r}")
    frame.index = pd.Index(ids, name="model")
    frame = frame.drop(columns="model")

    text = _text_columns(frame, [c for c in frame.columns if c not in METADATA_COLUMNS])
    bench_cols = [c for c in frame.columns if c not in METADATA_COLUMNS and c not in text]
    if not bench_cols:
        raise SwjaxError(f"{path}: no benchmark columns")
    scores = _numeric(frame, path, bench_cols)
    meta_cols = [c for c in METADATA_COLUMNS if c in frame.columns] + text
    meta = frame[meta_cols].copy()
    num_meta = [c for c in _NUMERIC_METADATA if c in meta_cols]
    if num_meta:
        meta[num_meta] = _numeric(frame, path, num_meta)
    info_frame = read_info(info) if info is not None else pd.DataFrame(
        columns=["name", "metric"], index=pd.Index([], name="benchmark")
    )
    return Dataset(label=label or path.name, scores=scores, meta=meta, info=info_frame)


def flop(dataset: Dataset) -> pd.Series | None:
    """Training FLOP per model where known, or None when the file has no FLOP column."""
    if "FLOP" not in dataset.meta.columns:
        return None
    return dataset.meta["FLOP"].astype("float64")
