"""The program cache: compiled kernels kept in the process and, beside JAX's persistent
compilation cache, lowered kernels kept on disk; and the bound on how many programs a process
holds (the cache's bookkeeping lives here, beside the cache, so that the kernel imports nothing
of it).
"""

from __future__ import annotations

import functools
import os
import threading
from functools import partial

import jax
import numpy as np

from ..core import Stats
from ..problem import Problem
from .kernel import ChunkArgs, _kernel, _permutations_chunk, _Spec

__all__ = ["MAX_COMPILED", "compiled_count"]

#
# Tracing and lowering the kernel takes about a second per problem shape on a CPU, in every new
# process, even when JAX's persistent compilation cache then finds the compiled program. Where
# that cache is on (``jax_compilation_cache_dir``: the command line turns it on), the engine
# keeps the lowered kernel beside it, as ``jax.export`` artifacts in ``programs/``, named by a
# hash of everything the program depends on: the run's static description, the shapes and
# dtypes of its arguments, the JAX and jaxlib versions, the JAX settings that change a trace
# (random bits, dtype promotion, dot precision), the platform and device kind, and the source
# of the swjax package. A later process loads the artifact (milliseconds) and compiles
# it from the compilation cache, with the same numbers bit for bit
# (tests/test_program_cache.py). CPU runs on one device only; any failure (no flatbuffers,
# which serialization needs; an unreadable file) falls back to tracing.

_programs: dict = {}
_program_cache_failed = False
#: Whether lowered kernels are kept on disk where JAX's compilation cache is on. A process that
#: patches swjax's functions (the tests do) turns it off: a patch is not part of a saved
#: program's name, so a program saved before it would run instead of the patched code. JAX's
#: own compilation cache is keyed by the program itself and stays safe.
PROGRAMS_ON_DISK = True


def _program_folder():
    if _program_cache_failed or not PROGRAMS_ON_DISK:
        return None
    folder = getattr(jax.config, "jax_compilation_cache_dir", None)
    if not folder:
        return None
    from pathlib import Path

    return Path(folder) / "programs"


@functools.lru_cache(maxsize=1)
def _source_hash() -> str:
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]  # the whole swjax package, this folder included
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


_TRACE_SETTINGS = (
    "jax_enable_x64", "jax_default_prng_impl", "jax_threefry_partitionable", "jax_numpy_dtype_promotion",
    "jax_default_matmul_precision", "jax_numpy_rank_promotion", "jax_enable_checks",
)


def _program_id(args: ChunkArgs, spec: _Spec, device) -> str | None:
    """The program cache's name for this kernel call, or None when it cannot be named."""
    import hashlib

    scheme = None if spec.scheme is None else getattr(spec.scheme, "cache_key", None)
    if spec.scheme is not None and scheme is None:
        return None
    reduce = None if spec.reduce is None else f"{spec.reduce.__module__}.{spec.reduce.__qualname__}"
    leaves, tree = jax.tree.flatten(args)
    avals = [(tuple(np.shape(x)), str(getattr(x, "dtype", type(x).__name__))) for x in leaves]
    import jaxlib

    # JAX settings that change what a trace lowers to (random bits, dtypes, dot precision).
    settings = tuple(repr(getattr(jax.config, name, None)) for name in _TRACE_SETTINGS)
    parts = (
        repr(spec._replace(scheme=scheme, reduce=reduce, mesh=None)), str(tree), repr(avals),
        jax.__version__, jaxlib.__version__, device.platform, device.device_kind, _source_hash(),
        settings,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:40]


def _register_trees() -> None:
    from ..problem import Pairs

    for cls, name in ((Problem, "swjax.Problem"), (Pairs, "swjax.Pairs"), (Stats, "swjax.Stats"),
                      (ChunkArgs, "swjax.ChunkArgs")):
        try:
            jax.export.register_namedtuple_serialization(cls, serialized_name=name)
        except ValueError:  # registered already
            pass


def _cached_program(args: ChunkArgs, spec: _Spec, device):
    """A callable running the kernel from the program cache, or None (then trace as usual)."""
    global _program_cache_failed
    folder = _program_folder()
    if folder is None or spec.mesh is not None or device.platform != "cpu":
        return None
    ident = _program_id(args, spec, device)
    if ident is None:
        return None
    if ident in _programs:
        return _programs[ident]
    path = folder / f"{ident}.bin"
    try:
        _register_trees()
        try:
            exported = jax.export.deserialize(bytearray(path.read_bytes()))
        except Exception:  # noqa: BLE001 - absent, unreadable or damaged: lower it again
            kernel = jax.jit(lambda a: _kernel(a, spec=spec))
            exported = jax.export.export(kernel, platforms=("cpu",))(args)
            blob = exported.serialize()
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # per process and thread
            tmp.write_bytes(blob)
            os.replace(tmp, path)  # whole or absent: never a half-written program
    except Exception:  # noqa: BLE001 - any trouble with the cache: trace as usual from now on
        _program_cache_failed = True
        return None
    if len(_programs) >= MAX_COMPILED:
        _programs.clear()
    _programs[ident] = fn = jax.jit(exported.call)
    return fn


def _kernel_caller(spec: _Spec, device):
    """``call(args)`` running the kernel on one chunk (its :class:`ChunkArgs`): from the
    program cache where it is on, else traced. The program is looked up on the first chunk only: every chunk of a run has
    the same shapes (the last one is padded)."""
    program = None

    def call(args):
        nonlocal program
        if program is not None:
            return program(args)
        before = compiled_count()
        program = _cached_program(args, spec, device) or partial(_kernel, spec=spec)
        out = program(args)  # compiles (synchronously) when the program is new
        if compiled_count() > before:
            _release_heap()
        return out

    return call


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows): nothing to do
        return None


def _release_heap() -> None:
    """Give the heap's free pages back to the system after a compilation.

    Compiling a kernel leaves a few hundred MB of freed temporaries in glibc's heap, which stay
    resident under everything that follows: 230 MiB of a 680 MiB process after the first
    bootstrap of a set. ``malloc_trim`` returns them (a few ms), so a million resamples kept in
    memory sit on the process's real baseline. Nowhere but glibc does this do anything.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


#: Compiled programs the engine keeps at most. Each new shape of problem compiles its own, and
#: a long-lived process that analyses many datasets of different shapes would otherwise keep
#: them all (LLVM runs out of memory maps after about 90); past this count they are dropped
#: and compiled again when next needed.
MAX_COMPILED = 32


def _compiled_functions():
    return (_kernel, _permutations_chunk)


def compiled_count() -> int:
    """Compiled programs held by the engine's functions now (0 where JAX does not say);
    programs loaded from the program cache count one each."""
    return sum(getattr(f, "_cache_size", lambda: 0)() for f in _compiled_functions()) + len(_programs)


def _bound_compiled() -> None:
    if compiled_count() > MAX_COMPILED:
        for f in _compiled_functions():
            f.clear_cache()
        _programs.clear()

