"""Plumbing every command shares: errors and Ctrl-C (:func:`handle_errors`), the declared paths
checked before a command runs, the data a command reads, list options, progress on stderr.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from pathlib import Path

import typer

from ..errors import SwjaxError
from .app import QUIET
from .options import ModelSet, PathRole


#: The swjax package (``swjax.outputs`` is loaded by name with the signals held).
_PACKAGE = __package__.rpartition(".")[0]


def _print_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


#: What a command that does not compute, or checks its input before it does, imports first.
HOST = ("numpy", "pandas")


def handle_errors(func=None, *, heavy=None):
    """Turn SwjaxError (and a failed read or write) into one message and exit code 2; Ctrl-C into
    one true line and exit code 130 (see :mod:`swjax.interrupt`).

    ``heavy``: the libraries imported with signals held before the command runs (default
    ``interrupt.HEAVY``, JAX included); a command given :data:`HOST` checks its input first and
    calls ``interrupt.import_held()`` itself before it computes, or never computes."""
    if func is None:
        return functools.partial(handle_errors, heavy=heavy)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from .. import interrupt

        warnings.showwarning = _print_warning
        interrupt.begin()
        try:
            # swjax.outputs imports numpy and pandas: it too loads with the signal held.
            interrupt.import_held((*(interrupt.HEAVY if heavy is None else heavy), f"{_PACKAGE}.outputs"))
            check_declared_paths(func, args, kwargs)
            result = func(*args, **kwargs)
        except typer.Exit:
            if interrupt.requested():  # e.g. check's verdict after a swallowed Ctrl-C
                raise typer.Exit(interrupt.report()) from None
            raise
        except KeyboardInterrupt:
            raise typer.Exit(interrupt.report()) from None
        except SwjaxError as err:
            if interrupt.requested():
                raise typer.Exit(interrupt.report()) from None
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        except OSError as err:  # a file system problem that no check could foresee
            if interrupt.requested():
                raise typer.Exit(interrupt.report()) from None
            where = f"{err.filename}: " if err.filename else ""
            typer.echo(f"error: {where}{err.strerror or err}", err=True)
            raise typer.Exit(2) from None
        except BaseException:
            if interrupt.requested():  # an interrupt turned into another error by a callback
                raise typer.Exit(interrupt.report()) from None
            problem = backend_problem()
            if problem is not None:  # e.g. JAX_PLATFORMS=cuda where CUDA is missing
                typer.echo(f"error: {problem}", err=True)
                raise typer.Exit(2) from None
            raise
        finally:
            outputs = sys.modules.get(f"{_PACKAGE}.outputs")  # None if interrupted before it loaded
            if outputs is not None:
                outputs.remove_temporaries()
                outputs.guard_inputs(())
        if interrupt.requested():  # an interrupt swallowed somewhere (a callback, a finaliser)
            raise typer.Exit(interrupt.report())
        return result

    return wrapper


def backend_problem() -> str | None:
    """Why JAX cannot start a backend here (``JAX_PLATFORMS`` naming one that is missing), or None."""
    import os

    jax = sys.modules.get("jax")
    if jax is None:
        return None
    try:
        jax.devices()
    except Exception as err:  # an AssertionError with no message, or a RuntimeError
        platforms = os.environ.get("JAX_PLATFORMS") or getattr(jax.config, "jax_platforms", None) or ""
        why = (str(err).strip().splitlines() or [""])[0][:200]
        return (f"JAX cannot start a backend for JAX_PLATFORMS={platforms or '(unset)'}"
                + (f" ({why})" if why else "")
                + "; install that platform's jax plugin, or unset JAX_PLATFORMS (or set it to cpu)")
    return None


def path_roles(func) -> dict[str, PathRole]:
    """The path options of command function ``func`` and their roles (its :class:`PathRole` marks)."""
    import typing

    hints = typing.get_type_hints(func, include_extras=True)
    return {name: mark for name, hint in hints.items() for mark in getattr(hint, "__metadata__", ())
            if isinstance(mark, PathRole)}


def check_declared_paths(func, args, kwargs) -> None:
    """Check the paths that command ``func`` declares (:class:`PathRole`) before it runs."""
    import inspect

    roles = path_roles(func)
    if not roles:
        return
    bound = inspect.signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    files, dirs, inputs = [], [], []
    for name, mark in roles.items():
        value = bound.arguments.get(name)
        option = name.replace("_", "-")
        if mark.role == "reads":
            values = value if isinstance(value, (list, tuple)) else [value]
            inputs += [v for v in values if v is not None and str(v) not in ("public", "auto")]
        elif mark.role == "file":
            files.append((option, value))
        else:
            dirs.append((option, value, mark.kind))
    check_paths(files=files, dirs=dirs, inputs=inputs)


def check_paths(files=(), dirs=(), inputs=()) -> None:
    """Check every output path of a command before it computes anything (:mod:`swjax.outputs`).

    ``files``: (option, path) written as files; ``dirs``: (option, path, kind) folders, replaced
    as a whole when ``kind`` is given (a key of ``outputs.FOLDERS``), written into otherwise;
    ``inputs``: paths the command reads, which no output may be nor hold (kept for the run:
    checked again when a folder is swapped in).
    """
    import os

    from ..outputs import check_output_dir, check_output_file, guard_inputs

    guard_inputs(inputs)
    seen: dict[str, str] = {}
    for option, path in files:
        if path is not None:
            seen.setdefault(os.path.realpath(check_output_file(path, option)), option)
    for option, path, kind in dirs:
        if path is not None:
            seen.setdefault(os.path.realpath(check_output_dir(path, option, kind)), option)
    options = [o for o, p in files] + [o for o, p, k in dirs]
    given = [o for o, p in files if p is not None] + [o for o, p, k in dirs if p is not None]
    if len(seen) < len(given):
        raise SwjaxError(f"{given[-1]}: same path as another output option ({', '.join(options)})")


def interruptible(advance=None):
    """A progress callback that also stops the run between chunks after a Ctrl-C (even one
    that a callback swallowed), then moves the bar if there is one."""
    from .. import interrupt

    def progress(k):
        interrupt.checkpoint()
        if advance is not None:
            advance(k)

    return progress


def load_sets(model_set: ModelSet, data: Path | None, info: Path | None, data_dir: Path | None):
    """The datasets a command runs on: the user's CSV, or one or both public sets."""
    from ..data import load_dataset

    if data is not None:  # a wide CSV, a folder from `swjax import`, or results files to import
        from ..importers import open_matrix

        return [open_matrix(data, info=info)]
    if info is not None:
        raise SwjaxError("info: --info goes with --data (the public sets carry their own)")
    names = ["base", "chat"] if model_set is ModelSet.both else [model_set.value]
    return [load_dataset(name, data_dir) for name in names]


def measurement_errors(stderr: Path | None, items: Path | None):
    """A function of a dataset giving its scores' standard errors from ``--stderr`` and
    ``--items`` (the files read once, here, before any resampling); it gives None when neither
    option is given."""
    if stderr is None and items is None:
        return lambda ds: None
    from .. import measurement

    tables = (None if stderr is None else measurement.read_table(stderr, "stderr"),
              None if items is None else measurement.read_table(items, "items"))
    return lambda ds: measurement.combined(ds.scores, *tables)


def parse_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    from ..importers.capabilities import CAPABILITY_SETS

    if value.strip() in CAPABILITY_SETS:  # a named capability set: paper, openllm-v2, openllm-v1
        return [m.column for m in CAPABILITY_SETS[value.strip()]]
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise SwjaxError("capabilities: empty list")
    return items


def progress_lines():
    """A callback printing progress lines on stderr, terminal or not (a long ``plan`` or
    ``coverage`` in a pipe or a CI log says where it is), unless ``--quiet``."""
    if QUIET["on"]:
        return None
    return lambda line: typer.echo(line, err=True)


#: Said while the first chunk runs: it includes compiling the program on first use.
COMPILING = "compiling on first use; later runs are faster"


def _show_progress(stream) -> bool:
    return not QUIET["on"] and hasattr(stream, "isatty") and stream.isatty()


@contextlib.contextmanager
def progress_bar(total: int, label: str, stream=None):
    """A rich progress bar on a terminal (stderr), quiet otherwise or with ``--quiet``. Until
    the first chunk is done it says that the program may be compiling."""
    stream = sys.stderr if stream is None else stream
    if not _show_progress(stream):
        yield interruptible()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), transient=True, console=Console(file=stream),
    ) as bar:
        task = bar.add_task(f"{label} ({COMPILING})", total=total)

        def advance(k):
            bar.update(task, advance=k, description=label)

        yield interruptible(advance)


@contextlib.contextmanager
def working(label: str, stream=None):
    """A spinner on a terminal (stderr) for work without chunks to count; quiet otherwise."""
    stream = sys.stderr if stream is None else stream
    if not _show_progress(stream):
        yield
        return
    from rich.console import Console

    with Console(file=stream).status(f"{label} ({COMPILING})"):
        yield


def public_sets(model_set: ModelSet, data_dir: Path | None):
    from ..data import load_dataset

    names = ["base", "chat"] if model_set is ModelSet.both else [model_set.value]
    return [load_dataset(name, data_dir) for name in names]


def correlate_all(scores, model_set, data_dir, clusters=None, **kw):
    """Each public set with the new benchmarks of ``scores`` (:func:`swjax.correlate`), with a progress bar."""
    from ..correlate import correlate as run

    results = []
    for ds in public_sets(model_set, data_dir):
        with progress_bar(kw["n"], f"{ds.label}: resampling") as advance:
            results.append(run(scores, ds, progress=advance, clusters=(clusters or {}).get(ds.label), **kw))
    return results


def cluster_labels(dataset, cluster_by, families, known=None):
    """Model -> family for --cluster-by/--families, or None (``known``: all datasets of the run)."""
    if cluster_by is None and families is None:
        return None
    from ..clusters import AUTO, family_labels

    labels = family_labels(dataset, cluster_by=cluster_by, families=families, known=known)
    if families == AUTO:
        groups = labels.groupby(labels, sort=True)
        typer.echo(f"families auto ({dataset.label}): {groups.ngroups} families by developer", err=True)
        for family, members in groups:
            typer.echo(f"  {family} ({len(members)}): {', '.join(members.index)}", err=True)
    return labels


def parse_floats(name: str, value: str) -> list[float]:
    try:
        items = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise SwjaxError(f"{name}: expected comma-separated numbers, got {value!r}") from None
    if not items:
        raise SwjaxError(f"{name}: expected at least one number, got {value!r}")
    return items


def parse_ints(name: str, value: str) -> list[int]:
    numbers = parse_floats(name, value)
    if any(v != int(v) for v in numbers):
        raise SwjaxError(f"{name}: expected comma-separated integers, got {value!r}")
    return [int(v) for v in numbers]


def check_bootstrap_space(datasets, n, x64, eigenvalues, out, stream_to) -> None:
    """Refuse before resampling when the distributions cannot fit on the disk of --out or
    --stream-to (an upper bound from the matrix sizes: n x benchmarks numbers per set)."""
    from ..outputs import check_free_space

    columns = sum(ds.scores.shape[1] for ds in datasets)
    if out is not None:
        spectra = 8 * 12 * n * len(datasets) if eigenvalues else 0
        check_free_space(out, n * columns * (8 if x64 else 4) + spectra, "out")
    if stream_to is not None:
        check_free_space(stream_to, n * (columns + 3 * len(datasets)) * 4, "stream-to")
