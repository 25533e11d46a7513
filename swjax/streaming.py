"""Resample distributions kept on disk, column by column: bounded memory for any ``n``.

A bootstrap of ``n`` resamples and ``c`` statistics is an (n, c) array: 720 MB in float32 for a
million resamples of the public sets, and more again while intervals sort it. With
``stream_to``, :func:`swjax.bootstrap` hands each chunk to a :class:`ColumnStore` instead of
keeping it: the file holds the statistics column after column (each column's ``n`` values
contiguous), so intervals read a few columns at a time. Quantiles stay exact (the same
numbers as in memory): every interval formula works column by column.

The file is filled under a temporary name beside its destination and renamed onto it by
:meth:`ColumnStore.close`, so an error, a full disk or Ctrl-C never leaves a half-filled file
under the destination's name (nor replaces an earlier one); :meth:`ColumnStore.discard` removes
the temporary.

Memory: one write buffer of :data:`BUFFER_ROWS` rows plus, while summarising, a block of
columns of ``n`` values (:func:`block_columns`: 8 MiB as float64, at least one column; the
block is handed over in the store's dtype, each column contiguous) and the copies the interval
code makes of it: about 25 MB at n = 1,000,000.

Without ``stream_to`` the distribution goes the same way into a :class:`MemoryStore`: one
(n, columns) array, column-major like the file, filled chunk by chunk in the computation's
dtype and summarised in the same column blocks, so memory is the kept distribution plus those
blocks (no copies of the whole), and the numbers are those of the disk store.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

__all__ = ["ColumnStore", "MemoryStore", "BUFFER_ROWS", "BLOCK_COLUMNS", "BLOCK_BYTES", "block_columns"]

#: Rows gathered in memory before one write per column.
BUFFER_ROWS = 65536
#: Columns read back together while computing intervals, at least.
BLOCK_COLUMNS = 1
#: More columns are taken together while ``n`` float64 values each fit this many bytes (all of
#: them at small ``n``: the per-block work would otherwise dominate; 10,000 resamples: about
#: 100 columns a block).
BLOCK_BYTES = 8 * 2**20


def block_columns(n: int) -> int:
    """Columns per summary block for ``n`` resamples: :data:`BLOCK_BYTES` of float64, at least
    :data:`BLOCK_COLUMNS`."""
    return max(BLOCK_COLUMNS, BLOCK_BYTES // (8 * max(int(n), 1)))


class _Blocks:
    """Summary blocks of a store with ``n``, ``n_columns`` and ``columns(lo, hi)``."""

    def blocks(self, size: int | None = None):
        """``(lo, hi, columns)`` for consecutive blocks of ``size`` columns (default
        :func:`block_columns`)."""
        size = size or block_columns(self.n)
        for lo in range(0, self.n_columns, size):
            hi = min(lo + size, self.n_columns)
            yield lo, hi, self.columns(lo, hi)


class ColumnStore(_Blocks):
    """An (n, columns) float32 array on disk, stored column-major, filled by row blocks.

    Values are stored as float32: the statistics are float32 (or, under ``x64``, stored
    rounded; use x64 without ``stream_to`` where every float64 bit matters).
    """

    def __init__(self, path, n: int, n_columns: int):
        from . import outputs

        folder = outputs.check_output_dir(Path(path).parent, "stream_to")  # its parent must exist
        folder.mkdir(exist_ok=True)
        self.target = outputs.check_output_file(path, "stream_to")
        self.path = outputs.temporary_path(self.target, ".f32")  # renamed onto target by close()
        self.n, self.n_columns = int(n), int(n_columns)
        self._fh = open(self.path, "w+b")
        self._fh.truncate(self.n * self.n_columns * 4)
        self._buf: list[np.ndarray] = []
        self._buf_rows = 0
        self._start = 0  # first row not yet written

    def append(self, rows: np.ndarray) -> None:
        """Append (b, columns) rows, in order."""
        rows = np.asarray(rows, np.float32)
        self._buf.append(rows)
        self._buf_rows += len(rows)
        if self._buf_rows >= BUFFER_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self._buf:
            return
        block = np.concatenate(self._buf)
        stop = self._start + len(block)
        if stop > self.n:
            raise ValueError(f"ColumnStore: {stop} rows written, room for {self.n}")
        cols = np.ascontiguousarray(block.T)
        for j in range(self.n_columns):
            self._fh.seek((j * self.n + self._start) * 4)
            self._fh.write(cols[j].tobytes())
        self._start = stop
        self._buf, self._buf_rows = [], 0

    def close(self) -> None:
        """Write what is buffered and move the file to its destination."""
        from . import interrupt, outputs

        self.flush()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        if self.path != self.target:
            interrupt.checkpoint()
            with interrupt.deferred():
                os.chmod(self.path, 0o644)
                os.replace(self.path, self.target)
                outputs.forget(self.path)
                interrupt.record_commit(self.target)
            self.path = self.target

    def discard(self) -> None:
        """Close and remove the temporary file (after an error)."""
        from . import outputs

        self._fh.close()
        if self.path != self.target:
            outputs.forget(self.path)
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def columns(self, lo: int, hi: int) -> np.ndarray:
        """Columns ``lo:hi`` as an (n, hi - lo) float32 array, each column contiguous."""
        data = np.fromfile(self.path, np.float32, count=(hi - lo) * self.n, offset=lo * self.n * 4)
        return data.reshape(hi - lo, self.n).T

    def array(self) -> np.ndarray:
        """The whole (n, columns) array as a read-only memory map (nothing read yet)."""
        return np.memmap(self.path, np.float32, "r", shape=(self.n_columns, self.n)).T


class MemoryStore(_Blocks):
    """The (n, columns) distribution in memory, in the computation's dtype, filled by row blocks;
    the interface of :class:`ColumnStore` (``close`` and ``discard`` have nothing to do).

    Kept column-major, as on disk: each chunk is transposed once as it arrives, and a block of
    columns is then read without a copy (a column of a row-major million-row array is a
    million scattered reads).
    """

    def __init__(self, n: int, n_columns: int, dtype):
        self.n, self.n_columns = int(n), int(n_columns)
        self._data = np.empty((self.n_columns, self.n), dtype)
        self._start = 0

    def append(self, rows: np.ndarray) -> None:
        stop = self._start + len(rows)
        if stop > self.n:
            raise ValueError(f"MemoryStore: {stop} rows written, room for {self.n}")
        self._data[:, self._start:stop] = np.asarray(rows).T
        self._start = stop

    def close(self) -> None:
        if self._start != self.n:
            raise ValueError(f"MemoryStore: {self._start} rows written, expected {self.n}")

    def discard(self) -> None:
        self._data = None

    def columns(self, lo: int, hi: int) -> np.ndarray:
        """Columns ``lo:hi`` as an (n, hi - lo) array in the store's dtype, each column contiguous."""
        return self._data[lo:hi].T

    def array(self) -> np.ndarray:
        """The whole (n, columns) array (column-major)."""
        return self._data.T
