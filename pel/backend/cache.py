"""Kernel loading: a program's chunk modules written (or verified) in the cache, imported, and compiled, cold
chunks in two processes at once where there are several of them; a second process loads them from numba's cache."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from types import ModuleType

from pel.backend import codegen
from pel.backend import runtime as rt
from pel.backend.codegen import ChunkSource, KernelSource
from pel.backend.kernel import Kernel
from pel.backend.store import SealedCache, Store, exec_module, log
from pel.diagnostics import RunError, simple
from pel.ir import nodes as ir

Progress = Callable[[str, int, int], None]  # (stage, model items done, items in all)

_LOCK = threading.RLock()
_MODULES: dict[str, ModuleType] = {}  # generated modules made in this process, by name
_FUNCTIONS: dict[tuple[str, ...], tuple[list, float]] = {}  # chunk keys -> (compiled functions, seconds)
_RECENT: OrderedDict[int, tuple[ir.Program, Kernel]] = OrderedDict()  # id -> (program kept alive, kernel)
_RECENT_SIZE = 64
PARALLEL_MIN_COLD = 3  # cold chunks from which a second compiling process pays for its start (about 1 s)


def signature() -> tuple:
    """The one signature every chunk function is compiled for (codegen.KERNEL_ARGS); `out` may be a strided
    view of the run's collector, so it is compiled for any layout."""
    from numba import types as nt

    f2, i2 = nt.float64[:, ::1], nt.int64[:, ::1]
    return (nt.int64, nt.int64, nt.boolean, f2, nt.Array(nt.float64, 3, "A"), f2, i2, nt.float64[:, :, ::1], f2,
            nt.float64[::1],
            i2, i2, nt.float64[:, :, ::1], nt.int8[:, ::1], nt.float64[:, :, ::1], i2, nt.boolean[:, ::1], f2, f2,
            f2, nt.boolean[::1], nt.float64[::1], nt.int64[::1])


def load(program: ir.Program, progress: Progress | None = None) -> Kernel:
    """The compiled kernel of `program`. The same Program object asking again (a server, a notebook loop) skips
    generating and hashing the source; the program is held, so its id cannot be reused while the entry lives."""
    with _LOCK:
        hit = _RECENT.get(id(program))
        if hit is not None and hit[0] is program:
            _RECENT.move_to_end(id(program))
            return hit[1]
    start = time.perf_counter()
    source = codegen.kernel_source(program)
    codegen_s = time.perf_counter() - start
    kernel = load_source(source, progress)
    kernel.timings.setdefault("codegen", codegen_s)
    with _LOCK:
        _RECENT[id(program)] = (program, kernel)
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    return kernel


def load_source(source: KernelSource, progress: Progress | None = None) -> Kernel:
    key = tuple(c.key for c in source.chunks)
    with _LOCK:  # two models may share every chunk (the same code under other names): not their tables
        if key in _FUNCTIONS:
            functions, seconds = _FUNCTIONS[key]
            return Kernel(source, functions, {"jit": seconds})
        start = time.perf_counter()
        store = Store()
        attach_runtime(store)
        funcs_key = () if source.funcs is None else (source.funcs.key,)
        if source.funcs is not None:
            _module(store, source.funcs, ())
        modules = [_module(store, c, funcs_key if c.imports else ()) for c in source.chunks]
        functions = [getattr(m, c.kind) for m, c in zip(modules, source.chunks, strict=True)]
        if rt.JIT_ENABLED:
            _compile_all(store, source, functions, progress)
        _FUNCTIONS[key] = (functions, time.perf_counter() - start)
        return Kernel(source, functions, {"jit": _FUNCTIONS[key][1]})


def _module(store: Store, src: ChunkSource, import_keys: tuple[str, ...]) -> ModuleType:
    """Module `src.module`: from this process, or made from the file once its code is verified to be what its
    key says, or written (again) and made."""
    if src.module in _MODULES:
        return _MODULES[src.module]
    on_disk = store.read_module(src.module) if store.writable else None
    matches = on_disk is not None and codegen.source_key(on_disk, *import_keys) == src.key
    path = store.ensure_module(src.module, src.text, matches)
    text = on_disk if matches and on_disk is not None else src.text
    module = exec_module(src.module, text, path, store)  # numba caches only functions that live in a file
    _MODULES[src.module] = module
    return module


RUNTIME_MODULES = ("pel.backend.runtime", "pel.backend.stats", "pel.backend.sketch")  # PEL's own numba code


def attach_runtime(store: Store) -> None:
    """PEL's own numba functions (the helpers kernels call, the statistics) cached in `store`, sealed like the
    kernels: never numba's cache beside PEL's sources or in numba's user-wide folder, which nothing verifies."""
    import importlib

    for name in RUNTIME_MODULES:
        store.attach(importlib.import_module(name))


def _warm(store: Store, function: object) -> bool:
    """Whether a chunk function has a sealed entry in the store (it then loads rather than compiles)."""
    sealed = getattr(function, "_cache", None)
    return isinstance(sealed, SealedCache) and store.sealed(sealed.base)


def _compile_all(store: Store, source: KernelSource, functions: list, progress: Progress | None) -> None:
    """Compile every chunk for the kernel signature. Entries found in numba's cache are verified first; with
    several cold chunks and a writable cache, a second process compiles half of them meanwhile."""
    from numba.core.errors import NumbaError

    sig = signature()
    cold = [k for k in range(len(source.chunks)) if not _warm(store, functions[k])]
    helper = None
    mine = cold
    if store.writable and len(cold) >= PARALLEL_MIN_COLD and (os.cpu_count() or 1) >= 2:
        theirs = cold[1::2]
        mine = [k for k in cold if k not in theirs]
        helper = _start_helper(store, source, theirs)
    total, done = len(functions), 0
    items_total = sum(c.n_items for c in source.chunks)
    items_done = 0
    order = mine + [k for k in range(total) if k not in mine]  # mine first, then the helper's (cached by then)
    try:
        for k in order:
            chunk = source.chunks[k]
            items_done += chunk.n_items
            if functions[k].signatures:  # a module shared with a kernel loaded before (same code)
                done += 1
                continue
            if helper is not None and k not in mine and k in cold:
                helper = _join_helper(helper)  # its entries are then read (and checked against their seals)
            try:
                functions[k].compile(sig)
            except NumbaError as exc:  # never fall back to plain Python: report the compiler's failure
                raise RunError(simple("E9999", f"internal error: numba could not compile {chunk.label}: {exc}",
                                      hint="PEL_JIT=0 runs the same code without numba, for debugging")) from None
            functions[k].disable_compile()
            done += 1
            if progress is not None:
                progress("compiling kernels", items_done, items_total)
    finally:
        _join_helper(helper)


def register_module(name: str, module: ModuleType) -> None:
    """Record a generated module made outside `_module` (the compiling helper's imports)."""
    _MODULES[name] = module


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _start_helper(store: Store, source: KernelSource, chunks: list[int]) -> subprocess.Popen | None:
    """A second interpreter (`python -m pel.backend.compile_helper`, so nothing of the user's program is
    imported again) compiling `chunks` into numba's cache; None where none can be started."""
    job = {"directory": str(store.dir),
           "imports": [] if source.funcs is None else [[source.funcs.module, _digest(source.funcs.text)]],
           "chunks": [[source.chunks[k].module, source.chunks[k].kind, _digest(source.chunks[k].text)]
                      for k in chunks]}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "pel.backend.compile_helper"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(job).encode("utf-8"))
        proc.stdin.close()
    except OSError as exc:  # no process can be started: this one compiles everything
        log.warning("pel: warning: cannot start a compiling process (%s)", exc.strerror or exc)
        return None
    return proc


def _join_helper(proc: subprocess.Popen | None) -> None:
    """Wait for the helper process (None: there is none, or it was waited for)."""
    if proc is not None:
        proc.wait()
