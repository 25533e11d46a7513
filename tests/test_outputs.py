"""Output paths: checked before computing, one clear error, folders replaced whole, no leftovers.

Every failure must be one SwjaxError (one line and exit 2 on the command line) and leave an
existing output byte for byte as it was. A full disk is simulated with a tiny tmpfs where this
process may mount one, and by making the write raise ENOSPC everywhere else.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import swjax
from swjax import outputs
from swjax.cli import app


def snapshot(folder: Path) -> dict:
    """Every entry under ``folder`` (hidden ones too) with its bytes."""
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def run(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def one_error(code, err, *words):
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


# ---------------------------------------------------------------- the checks themselves


def test_file_checks(tmp_path):
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    ok = outputs.check_output_file(tmp_path / "a.csv")
    assert ok == tmp_path / "a.csv" and not ok.exists()
    for bad, words in [
        (tmp_path / "new" / "deeper" / "a.csv", f"folder {tmp_path / 'new' / 'deeper'} does not exist"),
        (tmp_path / "d", "is a folder"),
        (tmp_path / "f" / "a.csv", "is a file, not a folder"),
        (tmp_path / "f" / "x" / "a.csv", "is a file, not a folder"),
        ("/proc/swjax.csv", "cannot write in /proc"),
        ("", "empty path"),
    ]:
        with pytest.raises(swjax.SwjaxError, match=words):
            outputs.check_output_file(bad)
    if os.path.exists("/dev/null"):
        with pytest.raises(swjax.SwjaxError, match="not a regular file"):
            outputs.check_output_file("/dev/null")
    assert sorted(os.listdir(tmp_path)) == ["d", "f"]  # the checks leave nothing behind


def test_dir_checks(tmp_path):
    (tmp_path / "f").write_text("x")
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.tex").write_text("years of work")
    for bad, words in [
        (tmp_path / "f", "not a folder"),
        (tmp_path / "f" / "out", "is a file, not a folder"),
        ("/", "mount point"),
        ("/proc", "mount point"),
        (user, "thesis.tex"),
        (tmp_path / "no" / "such" / "run", f"folder {tmp_path / 'no' / 'such'} does not exist"),
    ]:
        with pytest.raises(swjax.SwjaxError, match=words):
            outputs.check_output_dir(bad, kind="bootstrap")
    outputs.check_output_dir(user)  # written into (--stream-to), not replaced: fine
    empty = tmp_path / "empty"
    empty.mkdir()
    outputs.check_output_dir(empty, kind="report")
    (empty / "table.csv").write_text("x")  # a bootstrap's file name, but swjax did not write it
    for kind in ("report", "bootstrap"):
        with pytest.raises(swjax.SwjaxError, match="table.csv, swjax did not write it"):
            outputs.check_output_dir(empty, kind=kind)
    (empty / "table.csv").unlink()
    with outputs.atomic_dir(empty, "bootstrap") as tmp:
        (tmp / "table.csv").write_text("x")
    outputs.check_output_dir(empty, kind="bootstrap")  # its own kind: replaceable
    with pytest.raises(swjax.SwjaxError, match="is a swjax bootstrap output, not a report one"):
        outputs.check_output_dir(empty, kind="report")
    (empty / "notes.txt").write_text("added by hand")
    with pytest.raises(swjax.SwjaxError, match="notes.txt, which this swjax bootstrap output did not write"):
        outputs.check_output_dir(empty, kind="bootstrap")
    assert (user / "thesis.tex").read_text() == "years of work"


def test_folder_replaced_as_a_whole(tmp_path):
    out = tmp_path / "report"
    with outputs.atomic_dir(out, "report") as tmp:
        (tmp / "report.html").write_text("one")
        (tmp / "base_forest.png").write_bytes(b"old figure")
    with outputs.atomic_dir(out, "report") as tmp:
        (tmp / "report.html").write_text("two")
    marker = b'{\n  "swjax": "report",\n  "files": [\n    "report.html"\n  ]\n}\n'
    assert snapshot(out) == {"report.html": b"two", outputs.MARKER: marker}  # nothing of the first run survives
    assert sorted(os.listdir(tmp_path)) == ["report"]  # no hidden temporary left


def test_exchange_fallback_gives_the_same_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "_exchange", lambda a, b: False)
    out = tmp_path / "b"
    for text in ("one", "two"):
        with outputs.atomic_dir(out, "bootstrap") as tmp:
            (tmp / "table.csv").write_text(text)
    assert snapshot(out)["table.csv"] == b"two" and sorted(os.listdir(out)) == [outputs.MARKER, "table.csv"]
    assert sorted(os.listdir(tmp_path)) == ["b"]


@pytest.mark.parametrize("where", ["file", "folder"])
def test_full_disk_leaves_the_old_output(tmp_path, monkeypatch, where):
    target = tmp_path / ("a.csv" if where == "file" else "out")
    if where == "file":
        outputs.write_text(target, "good\n")
    else:
        with outputs.atomic_dir(target, "bootstrap") as tmp:
            (tmp / "table.csv").write_text("good\n")
    before = snapshot(tmp_path)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(swjax.SwjaxError, match="No space left on device") as info:
        if where == "file":
            outputs.write_text(target, "new\n")
        else:
            with outputs.atomic_dir(target, "bootstrap") as tmp:
                (tmp / "table.csv").write_text("new\n")
    assert str(target) in str(info.value) and "\n" not in str(info.value)
    monkeypatch.undo()
    assert snapshot(tmp_path) == before


def test_error_inside_the_block_keeps_the_old_folder(tmp_path):
    out = tmp_path / "sim"
    with outputs.atomic_dir(out, "simulate") as tmp:
        (tmp / "scores.csv").write_text("old")
    before = snapshot(tmp_path)
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with outputs.atomic_dir(out, "simulate") as tmp:
                (tmp / "scores.csv").write_text("new")
                raise exc
        assert snapshot(tmp_path) == before


def test_missing_parents_are_refused_not_created(tmp_path):
    for make in (lambda p: outputs.atomic_file(p / "c.csv"), lambda p: outputs.atomic_dir(p / "c", "bootstrap")):
        with pytest.raises(swjax.SwjaxError, match=f"folder {tmp_path / 'a' / 'b'} does not exist"):
            with make(tmp_path / "a" / "b"):
                raise AssertionError("never reached")
    assert os.listdir(tmp_path) == []


def test_a_kind_writes_only_its_files(tmp_path):
    with pytest.raises(ValueError, match="unknown output kind"):
        outputs.check_output_dir(tmp_path / "x", kind="nonsense")
    with pytest.raises(ValueError, match="may not write notes.txt"):
        with outputs.atomic_dir(tmp_path / "x", "plan") as tmp:
            (tmp / "notes.txt").write_text("x")
    assert os.listdir(tmp_path) == []


def test_stale_temporaries_of_dead_runs_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    host = outputs._host()
    stale = tmp_path / f".out.swjax-tmp-{host}-{pid}-abcd"
    stale.mkdir()
    (stale / "table.csv").write_text("half")
    aside = tmp_path / f".kept.swjax-old-{host}-{pid}-efgh"  # killed between the two renames
    aside.mkdir()
    (aside / "table.csv").write_text("the old output")
    mine = tmp_path / f".x.swjax-tmp-{host}-{os.getpid()}-ijkl"  # a live run's: untouched
    mine.mkdir()
    other = tmp_path / f".y.swjax-tmp-otherhost-{pid}-mnop"  # another host's: untouched
    other.mkdir()
    outputs.check_output_file(tmp_path / "new.csv")
    assert sorted(os.listdir(tmp_path)) == sorted(["kept", mine.name, other.name])
    assert (tmp_path / "kept" / "table.csv").read_text() == "the old output"


def test_tiny_tmpfs_full_disk(tmp_path):
    """A real full disk, where this process may mount a 64 kB tmpfs (root on Linux)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if sys.platform != "linux" or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                                                 capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        out = mnt / "out"
        with outputs.atomic_dir(out, "bootstrap") as tmp:
            (tmp / "table.csv").write_text("good\n")
        before = snapshot(mnt)
        with pytest.raises(swjax.SwjaxError, match="No space left"):
            with outputs.atomic_dir(out, "bootstrap") as tmp:
                (tmp / "distributions.npz").write_bytes(os.urandom(200_000))
        assert snapshot(mnt) == before
        with pytest.raises(swjax.SwjaxError, match="needs about"):
            outputs.check_free_space(out, 10**9)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


# ---------------------------------------------------------------- through the command line


def test_cli_output_paths_fail_before_computing(tmp_path, monkeypatch):
    import importlib

    def no_compute(*a, **k):
        raise AssertionError("computed before checking the output path")

    for name in ("bootstrap", "correlate", "simulate", "coverage"):  # the modules, not the functions
        monkeypatch.setattr(importlib.import_module(f"swjax.{name}"), name, no_compute)
    for module, name in (("analysis", "analyze"), ("sensitivity", "lobo"), ("sensitivity", "subsets"),
                         ("compare", "compare")):
        monkeypatch.setattr(importlib.import_module(f"swjax.{module}"), name, no_compute)
    (tmp_path / "f").write_text("x")
    scores = tmp_path / "scores.csv"
    scores.write_text("model,new\nm1,1\n")
    cases = [
        ("analyze", "--set", "chat", "--out", tmp_path),
        ("analyze", "--set", "chat", "--out", tmp_path / "f" / "a.csv"),
        ("bootstrap", "--set", "chat", "--out", tmp_path / "f"),
        ("bootstrap", "--set", "chat", "--out", "/"),
        ("bootstrap", "--set", "chat", "--stream-to", tmp_path / "f"),
        ("check", "--scores", scores, "--junit", tmp_path),
        ("check", "--scores", scores, "--summary", tmp_path / "f" / "s.md"),
        ("correlate", "--scores", scores, "--out", "/proc/x.csv"),
        ("report", "--out", tmp_path / "f"),
        ("report", "--out", "/proc"),
        ("plot", "forest", "--out", tmp_path / "f" / "a.png"),
        ("lobo", "--set", "chat", "--out", tmp_path),
        ("subsets", "--set", "chat", "--out", tmp_path),
        ("compare", "MT_Bench", "--out", tmp_path),
        ("simulate", "--out", tmp_path / "f"),
        ("coverage", "--out", tmp_path / "f"),
        ("analyze", "--data", scores, "--out", scores),  # would overwrite its own input
    ]
    before = snapshot(tmp_path)
    for args in cases:
        code, _, err = run(*args)
        one_error(code, err, "out" if "--out" in args else "")
    assert snapshot(tmp_path) == before


def test_cli_refuses_to_replace_a_users_folder(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, _, err = run("simulate", "--models", "8", "--population", "2000", "--out", mine)
    one_error(code, err, "notes.txt", "refusing")
    assert snapshot(mine) == {"notes.txt": b"keep me"}


def test_cli_replaces_its_own_folder_whole(tmp_path):
    out = tmp_path / "sim"
    code, _, err = run("simulate", "--models", "8", "--population", "2000", "--out", out)
    assert code == 0, err
    (out / "families.csv").unlink()  # as if written by another version
    (out / "info.csv").write_text("stale")
    code, _, err = run("simulate", "--models", "8", "--population", "2000", "--seed", "1", "--out", out)
    assert code == 0, err
    assert sorted(os.listdir(out)) == [outputs.MARKER, "families.csv", "info.csv", "scores.csv", "truth.json"]
    assert (out / "info.csv").read_text() != "stale"
    assert sorted(os.listdir(tmp_path)) == ["sim"]


def test_cli_full_disk_is_one_line_and_keeps_the_old_folder(tmp_path, monkeypatch):
    out = tmp_path / "sim"
    assert run("simulate", "--models", "8", "--population", "2000", "--out", out)[0] == 0
    before = snapshot(tmp_path)
    import pandas as pd

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    code, _, err = run("simulate", "--models", "8", "--population", "2000", "--seed", "3", "--out", out)
    one_error(code, err, "No space left on device", str(out))
    assert snapshot(tmp_path) == before


def test_cli_unforeseen_oserror_is_one_line(monkeypatch):
    import swjax.analysis

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", "/somewhere/file")

    monkeypatch.setattr(swjax.analysis, "analyze", denied)
    code, _, err = run("analyze", "--set", "chat")
    one_error(code, err, "/somewhere/file", "Permission denied")


# ---------------------------------------------------------------- malformed input CSVs


BAD_CSVS = {
    "ragged": "model,a,b\nm1,1,2,3,4\nm2,1\n",
    "quote": 'model,a,b\nm1,"1,2\nm2,3,4\n',
    "nul": "model,a\x00,b\nm1,1,2\n",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe",
    "blank": "\n\n\n",
    "bom_only": "\ufeff",
    "trailing_comma": "model,a,b\nm1,1,2,\nm2,3,4,\nm3,5,1,\n",  # pandas shifted every column by one
    "truncated": "model,a,b\nm1,1,2\nm2,3,4\nm3,5",
}


@pytest.mark.parametrize("name", sorted(BAD_CSVS))
@pytest.mark.parametrize("role", ["info", "data", "families", "scores"])
def test_malformed_csv_is_one_line(tmp_path, name, role):
    good = tmp_path / "good.csv"
    good.write_text("model,a,b,c\n" + "".join(f"m{i},{i},{i * i % 7},{(3 * i) % 5}\n" for i in range(8)))
    bad = tmp_path / "bad.csv"
    content = BAD_CSVS[name]
    bad.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    args = {
        "info": ["analyze", "--data", good, "--info", bad, "--capabilities", "a,b"],
        "data": ["analyze", "--data", bad],
        "families": ["compare", "a", "--data", good, "--families", bad, "--capabilities", "b,c", "--n", "20"],
        "scores": ["correlate", "--scores", bad, "--n", "20"],
    }[role]
    code, _, err = run(*args)
    one_error(code, err, str(bad) if role != "families" else "families")
    with pytest.raises(swjax.SwjaxError):
        if role == "info":
            swjax.read_csv(good, info=bad)
        elif role == "families":
            swjax.load_family_map(bad)
        else:
            swjax.read_csv(bad)
