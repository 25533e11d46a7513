"""Writing results: output paths checked before computing, atomic files and folders, JSON
that survives NaN. No jax.

**Checked first.** Every command checks its output paths (:func:`check_output_file`,
:func:`check_output_dir`) before it computes anything: the target must be of the right kind
(a file where a file is expected, a folder where a folder is), not a mount point nor a path
under a file, and its folder must exist or be creatable and be writable (a temporary entry is
created and removed there). A problem is a :class:`~swjax.errors.SwjaxError` naming the option.

**Nothing is ever half-written.** A file is written beside its destination and renamed onto it.
A folder of outputs is built in a temporary sibling and swapped in *as a whole*: on Linux one
atomic exchange (``renameat2(RENAME_EXCHANGE)``), elsewhere the old folder is renamed aside,
the new one renamed in, and the old one removed; files of an earlier run never survive into the
new folder. An error (a full disk, a permission) or Ctrl-C leaves the old output as it was, and
a write error becomes one ``SwjaxError`` naming the path.

**Only swjax folders are replaced.** Every output folder is written by :func:`atomic_dir`
with its kind (a key of :data:`FOLDERS`), which also writes the marker :data:`MARKER` naming
that kind and the files written. An existing folder is replaced only when it is empty, or when
its marker names the same kind and it holds nothing but the files the marker lists; so a
mistyped ``--out ~/Documents`` (or a folder of the user's that happens to hold a
``scores.csv``) is refused instead of deleted. No output may be, or contain, one of the
command's inputs (:func:`guard_inputs`). A missing parent folder is an error, not created: only
the last component of an output path is made.

**No hidden leftovers.** Temporary entries are named ``.NAME.swjax-tmp-HOST-PID-XXXX`` (an old
folder set aside: ``.NAME.swjax-old-HOST-PID-XXXX``). They are removed on any error or signal,
and whenever a later run checks or writes into the same folder it removes those whose process
is gone (same host, dead pid), putting a folder set aside back if a kill came between the two
renames.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fnmatch
import json
import math
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import interrupt
from .errors import SwjaxError

__all__ = [
    "FOLDERS",
    "MARKER",
    "to_jsonable",
    "write_text",
    "atomic_file",
    "atomic_dir",
    "frame_to_json",
    "check_output_file",
    "check_output_dir",
    "check_free_space",
    "temporary_path",
    "clean_stale",
    "guard_inputs",
]

#: Kind of output folder -> the file names (glob patterns) it may hold. :func:`atomic_dir`
#: refuses a kind not listed here and a file that its kind does not name.
FOLDERS: dict[str, tuple[str, ...]] = {
    "bootstrap": ("table.csv", "table.json", "distributions.npz", "manifest.json"),
    "report": ("report.html", "report.md", "manifest.json", "*.png"),
    "simulate": ("scores.csv", "info.csv", "families.csv", "truth.json"),
    "coverage": ("coverage.json", "coverage.csv", "coverage.png"),
    "import": ("scores.csv", "info.csv", "stderr.csv", "n.csv", "merge_report.txt"),
    "adjust": ("adjust.csv", "slopes.csv", "adjust.json", "adjust.png"),
    "plan": ("plan.csv", "needed.csv", "plan.json", "plan.png", "compare.csv"),
    "atlas": ("atlas.csv", "atlas.json", "atlas.parquet", "populations.csv", "index.html", "manifest.json",
              "import_report.txt"),
}

#: The file in every output folder that says swjax wrote it: ``{"swjax": KIND, "files": [...]}``.
MARKER = ".swjax-output.json"

_TMP, _OLD = "swjax-tmp", "swjax-old"
_NAME = re.compile(r"^\.(?P<name>.+)\.swjax-(?P<kind>tmp|old)-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-")
_live: set[str] = set()  # temporaries of this process not yet committed or removed
_inputs: dict[str, str] = {}  # realpath -> path as given: what the running command reads


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


# --------------------------------------------------------------------- temporary entries


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def _prefix(target: Path, kind: str = _TMP) -> str:
    return f".{target.name}.{kind}-{_host()}-{os.getpid()}-"


def temporary_path(target: str | os.PathLike, suffix: str = "") -> Path:
    """A new empty file beside ``target``, named as this process's temporary and registered.

    Removed by :func:`remove_temporaries` (on error) and, after a kill, by the next
    :func:`clean_stale` of its folder.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(target), suffix=suffix, dir=target.parent)
    os.close(fd)
    _live.add(tmp)
    return Path(tmp)


def forget(path) -> None:
    """``path`` was committed or removed: no longer this process's temporary."""
    _live.discard(str(path))


def _remove(path) -> None:
    path = str(path)
    with contextlib.suppress(OSError):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    if not os.path.lexists(path):
        _live.discard(path)


def remove_temporaries() -> None:
    """Remove every temporary entry this process still holds (after an error or a signal)."""
    for path in sorted(_live):
        _remove(path)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def clean_stale(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporaries that killed swjax runs left in ``folder``; return what was done.

    Only entries named by :func:`temporary_path` (or set aside by a folder swap) on this host
    whose process is gone are touched. A folder set aside whose target is missing (a kill
    between the two renames of a swap) is renamed back instead of removed.
    """
    folder = Path(folder)
    done = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return done
    host = _host()
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None or match["host"] != host or _alive(int(match["pid"])):
            continue
        path = Path(entry.path)
        target = folder / match["name"]
        if match["kind"] == "old" and not os.path.lexists(target):
            with contextlib.suppress(OSError):
                os.rename(path, target)
                done.append(target)
            continue
        _remove(path)
        done.append(path)
    return done


# --------------------------------------------------------------------- checks before computing


def _fail(option: str, text: str):
    raise SwjaxError(f"{option}: {text}")


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


def _nearest_existing(path: Path, option: str) -> Path:
    """The closest ancestor of ``path`` that exists; an error when it is not a folder."""
    for parent in path.parents:
        try:
            st = os.stat(parent)
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            continue  # a file further up: found on a later iteration
        except OSError as err:
            _fail(option, f"cannot use {parent} ({_reason(err)})")
        if not stat.S_ISDIR(st.st_mode):
            _fail(option, f"{path}: {parent} is a file, not a folder")
        return parent
    return Path(".")


def _parent(path: Path, option: str) -> Path:
    """The folder that will hold ``path``: it must exist (only the last component is created)."""
    folder = _nearest_existing(path, option)
    if folder != path.parent:
        _fail(option, f"folder {path.parent} does not exist (create it first: only the last component of "
                      f"{path} is created)")
    return folder


def guard_inputs(paths) -> None:
    """Declare the paths that the running command reads: no output may be one of them, nor a folder
    holding one (checked by :func:`check_output_file`, :func:`check_output_dir` and again when a
    folder is swapped in). ``None`` entries are skipped; an empty call forgets them all."""
    _inputs.clear()
    for p in paths:
        if p is None or str(p) in ("", "-"):
            continue
        _inputs[os.path.realpath(os.path.expanduser(str(p)))] = str(p)


def _check_inputs(path: Path, option: str, folder: bool) -> None:
    real = os.path.realpath(path)
    for read, given in _inputs.items():
        if read == real:
            _fail(option, f"{given} is an input of this command; refusing to overwrite it")
        if folder and read.startswith(real.rstrip(os.sep) + os.sep):
            _fail(option, f"{path} holds {given}, an input of this command; refusing to replace it")


def _probe(folder: Path, target: Path, option: str) -> None:
    """Create and remove a temporary folder in ``folder``: is it writable?"""
    try:
        tmp = tempfile.mkdtemp(prefix=_prefix(target), dir=folder)
    except OSError as err:
        _fail(option, f"cannot write in {folder} ({_reason(err)})")
    with contextlib.suppress(OSError):
        os.rmdir(tmp)


def _target(path, option: str) -> Path:
    if path is None or str(path) == "":
        _fail(option, "empty path")
    path = Path(path).expanduser()
    if "\x00" in str(path):
        _fail(option, "the path contains a NUL character")
    if path.is_symlink():  # write where the link points, keep the link
        path = Path(os.path.realpath(path))
    return path.absolute()


def _lstat(path: Path, option: str):
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        _nearest_existing(path, option)  # names the file on the way
        _fail(option, f"{path}: a parent is not a folder")
    except OSError as err:
        _fail(option, f"cannot use {path} ({_reason(err)})")


def check_output_file(path, option: str = "out") -> Path:
    """Check that ``path`` can be written as a file (before any computing); return it absolute.

    Raises
    ------
    SwjaxError
        ``path`` is a folder, a special file or a mount point, lies under a file, or its folder
        cannot be created or written.
    """
    path = _target(path, option)
    st = _lstat(path, option)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            _fail(option, f"{path} is a folder, expected a file")
        if not stat.S_ISREG(st.st_mode):
            _fail(option, f"{path} exists and is not a regular file")
        if os.path.ismount(path):
            _fail(option, f"{path} is a mount point")
    _check_inputs(path, option, folder=False)
    folder = _parent(path, option)
    clean_stale(folder)
    _probe(folder, path, option)
    return path


def read_marker(path) -> dict | None:
    """The :data:`MARKER` of output folder ``path`` (``{"swjax": kind, "files": [...]}``), or None."""
    try:
        with open(os.path.join(path, MARKER), "rb") as fh:
            marker = json.loads(fh.read(1 << 20))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or not isinstance(marker.get("swjax"), str) or not isinstance(
            marker.get("files"), list):
        return None
    return marker


def _refusal(path: Path, kind: str) -> str | None:
    """Why folder ``path`` may not be replaced by a ``kind`` output, or None when it may."""
    entries = sorted(os.scandir(path), key=lambda e: e.name)
    if not entries:
        return None
    marker = read_marker(path)
    if marker is None:
        written, said = set(), "swjax did not write it"
    elif marker["swjax"] != kind:
        return f"{path} is a swjax {marker['swjax']} output, not a {kind} one"
    else:
        written, said = {str(f) for f in marker["files"]} | {MARKER}, f"which this swjax {kind} output did not write"
    foreign = [e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in entries
               if not (e.is_file(follow_symlinks=False) and e.name in written)]
    if not foreign:
        return None
    more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
    return f"{path} holds {', '.join(foreign[:3])}{more}, {said}"


def check_output_dir(path, option: str = "out", kind: str | None = None) -> Path:
    """Check that folder ``path`` can be written (before any computing); return it absolute.

    With ``kind`` (a key of :data:`FOLDERS`) the folder will be *replaced* as a whole: an
    existing one must be empty, or an output of that kind (its :data:`MARKER`) holding only
    the files the marker lists; it must not be a mount point, nor be or hold an input
    (:func:`guard_inputs`). Without ``kind`` files are written into the folder
    (``--stream-to``). Its parent folder must exist.

    Raises
    ------
    SwjaxError
        ``path`` is a file, a mount point (when replaced), holds files swjax did not write or an
        input, lies under a file or in a missing folder, or cannot be written.
    """
    if kind is not None and kind not in FOLDERS:
        raise ValueError(f"unknown output kind {kind!r}: add it to outputs.FOLDERS")
    path = _target(path, option)
    _check_inputs(path, option, folder=kind is not None)
    st = _lstat(path, option)
    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            _fail(option, f"{path} exists and is not a folder")
        if kind is not None:
            if os.path.ismount(path):
                _fail(option, f"{path} is a mount point; name a new folder inside it")
            try:
                why = _refusal(path, kind)
            except OSError as err:
                _fail(option, f"cannot read {path} ({_reason(err)})")
            if why is not None:
                _fail(option, f"{why}; refusing to replace it (name a new or empty folder)")
            if not os.access(path, os.W_OK | os.X_OK):
                _fail(option, f"cannot replace {path} (permission denied)")
        else:
            clean_stale(path)
            _probe(path, path / "x", option)
    folder = _parent(path, option)
    clean_stale(folder)
    _probe(folder, path, option)
    return path


def check_free_space(path, needed: int, option: str = "out") -> None:
    """An error when the file system of ``path`` (or its nearest existing folder) has less than
    ``needed`` bytes free."""
    path = Path(path).absolute()
    folder = path if path.is_dir() else _nearest_existing(path, option)
    try:
        vfs = os.statvfs(folder)
    except (OSError, AttributeError):
        return
    free = vfs.f_bavail * vfs.f_frsize
    if needed > free:
        _fail(option, f"{path} needs about {_size(needed)}, {folder} has {_size(free)} free")


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000


# --------------------------------------------------------------------- atomic writes


def _write_error(option: str, path: Path, err: OSError) -> SwjaxError:
    return SwjaxError(f"{option}: cannot write {path} ({_reason(err)}); the previous output, if any, is unchanged")


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, suffix: str = "", option: str = "out"):
    """Yield a temporary path beside ``path`` that is renamed onto it when the block succeeds.

    On an error (or Ctrl-C) the temporary file is removed and ``path`` is left as it was; an
    ``OSError`` (a full disk, a permission) becomes a :class:`SwjaxError` naming ``path``.
    """
    path = check_output_file(path, option)
    tmp = None
    done = False
    try:
        tmp = temporary_path(path, suffix)
        yield tmp
        interrupt.checkpoint()
        with interrupt.deferred():
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
            forget(tmp)
            done = True
            interrupt.record_commit(path)
        interrupt.checkpoint()
    except OSError as err:
        raise _write_error(option, path, err) from None
    finally:
        if not done and tmp is not None:
            _remove(tmp)


def write_text(path: str | os.PathLike, text: str | bytes, option: str = "out") -> Path:
    """Write ``text`` (or bytes) to ``path`` atomically (temporary file in the same folder, then rename)."""
    with atomic_file(path, option=option) as tmp:
        if isinstance(text, bytes):
            tmp.write_bytes(text)
        else:
            tmp.write_text(text, encoding="utf-8")
    return Path(path)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # glibc before 2.28, musl
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM):
        return False  # the file system cannot exchange: use the fallback
    raise OSError(code, os.strerror(code), str(b))


def _swap_in(tmp: Path, path: Path, kind: str | None, option: str) -> Path | None:
    """Put folder ``tmp`` at ``path``; return where the old folder now is (to be removed)."""
    if not os.path.lexists(path):
        os.rename(tmp, path)
        forget(tmp)
        return None
    check_output_dir(path, option, kind)  # it may have changed while we computed
    if _exchange(tmp, path):
        return tmp  # the old folder, under the temporary name (still registered)
    aside = Path(tempfile.mkdtemp(prefix=_prefix(path, _OLD), dir=path.parent))
    os.rmdir(aside)
    os.rename(path, aside)
    _live.add(str(aside))
    try:
        os.rename(tmp, path)
    except BaseException:
        os.rename(aside, path)
        forget(aside)
        raise
    forget(tmp)
    return aside


def _mark(folder: Path, kind: str) -> None:
    """Write the :data:`MARKER` of a finished output folder; every file must be one its kind names."""
    files = sorted(e.name for e in os.scandir(folder))
    stray = [f for f in files if not any(fnmatch.fnmatchcase(f, p) for p in FOLDERS[kind])]
    if stray:
        raise ValueError(f"a {kind} output may not write {', '.join(stray)}: add it to outputs.FOLDERS")
    (folder / MARKER).write_text(dumps({"swjax": kind, "files": files}), encoding="utf-8")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, kind: str, option: str = "out"):
    """Yield a temporary folder that replaces folder ``path`` as a whole when the block succeeds.

    Parameters
    ----------
    path : path
        The output folder.
    kind : str
        A key of :data:`FOLDERS`: the block may write only that kind's files, and an existing
        folder is replaced only when it is empty or an output of that kind (its :data:`MARKER`)
        holding nothing but the files it lists. The new folder gets its own marker.
    option : str
        The option named in error messages.

    Nothing of an earlier run survives in the new folder. On an error (a full disk, a
    permission: a :class:`SwjaxError` naming ``path``) or Ctrl-C the temporary folder is
    removed and ``path`` is left as it was.
    """
    path = check_output_dir(path, option, kind)
    tmp = old = None
    done = False
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_prefix(path), dir=path.parent))
        _live.add(str(tmp))
        yield tmp
        _mark(tmp, kind)
        interrupt.checkpoint()
        with interrupt.deferred():
            os.chmod(tmp, 0o755)
            old = _swap_in(tmp, path, kind, option)
            done = True
            interrupt.record_commit(f"{path}{os.sep}")
        if old is not None:
            _remove(old)
        interrupt.checkpoint()
    except OSError as err:
        raise _write_error(option, path, err) from None
    finally:
        if old is not None:
            _remove(old)
        if not done and tmp is not None:
            _remove(tmp)
