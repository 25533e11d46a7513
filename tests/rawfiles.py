"""Readers of raw result files written for the tests, independent of swjax's importers."""

import io
import json
import struct
import zipfile

import pytest


def zip_header(path):
    """header.json of an inspect_ai .eval by hand: zipfile for deflate, zstandard for method 93."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("header.json")
        if info.compress_type != 93:
            return json.loads(zf.read("header.json"))
    zstandard = pytest.importorskip("zstandard")
    raw = path.read_bytes()
    off = info.header_offset
    n, e = struct.unpack("<HH", raw[off + 26: off + 30])
    data = raw[off + 30 + n + e: off + 30 + n + e + info.compress_size]
    return json.loads(zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True).read())
