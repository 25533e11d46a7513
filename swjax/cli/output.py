"""Where a command's results go: the one place that tells the output formats apart
(:func:`formatted`), standard output (text, or Parquet bytes) and ``--out`` files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..errors import SwjaxError
from .options import Format


def write_stdout(text, optional: bool = False) -> None:
    """Text to stdout; bytes (Parquet) too, unless stdout is a terminal.

    Standard output closed (``>&-``): an error, or nothing when ``optional`` (the command writes
    its results elsewhere too). Text that stdout's encoding cannot hold (``PYTHONIOENCODING=ascii``
    and a non-ASCII name): an error naming the character, before anything is written.
    """
    stream = sys.stdout
    if stream is None or getattr(stream, "closed", False):
        if optional:
            return
        raise SwjaxError("stdout: standard output is closed; redirect it to a file (or give --out where the command has it)")
    if isinstance(text, bytes):
        if stream.isatty():
            raise SwjaxError("format: parquet is binary: give --out FILE or redirect stdout to a file")
        stream.flush()
        stream.buffer.write(text)
        stream.buffer.flush()
        return
    encoding = getattr(stream, "encoding", None) or "utf-8"
    errors = getattr(stream, "errors", None) or "strict"
    if errors == "strict":
        try:
            text.encode(encoding)
        except UnicodeEncodeError as err:
            char = err.object[err.start:err.end]
            raise SwjaxError(
                f"stdout: its encoding ({encoding}) cannot write {ascii(char)} (a name in the results); "
                "set PYTHONIOENCODING=utf-8 or write to a file with --out"
            ) from None
        except LookupError:
            pass
    stream.write(text)


def emit(text, out: Path | None) -> None:
    """Print ``text`` (or Parquet bytes), or write it atomically to ``out``."""
    from ..outputs import write_text

    if out is None:
        write_stdout(text)
    else:
        write_text(out, text)
        typer.echo(f"wrote {out}", err=True)


def render(text_fn) -> str:
    from ..tables import StdoutBuffer

    buf = StdoutBuffer()
    text_fn(buf)
    return buf.getvalue()


def formatted(fmt: Format, *, table, frame=None, json=None, index: bool = True):
    """A command's results in output format ``fmt``: the one place that tells the formats apart.

    ``table()``: the terminal text; ``frame()``: the DataFrame that CSV and Parquet hold
    (``index``: the CSV keeps the frame's index); ``json()``: the JSON text, by default the
    frame's records. Only the one asked for is built.
    """
    if fmt is Format.table:
        return table()
    if fmt is Format.json and json is not None:
        return json()
    data = frame()
    if fmt is Format.json:
        from ..outputs import dumps, frame_to_json

        return dumps(frame_to_json(data))
    if fmt is Format.parquet:
        from ..tables import parquet_bytes

        return parquet_bytes(data)
    return data.to_csv(index=index)
