"""Kernel module cache: generated source written under a content-hash name, imported from there."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from types import ModuleType

from pel import __version__
from pel.backend import codegen, runtime
from pel.cachedir import cache_dir
from pel.diagnostics import RunError, simple
from pel.ir import nodes as ir

_LOADED: dict[str, ModuleType] = {}
_LOCK = threading.Lock()


def _helper_digest() -> str:
    """Hash of the runtime helpers the generated code imports (numba's cache does not see them)."""
    return hashlib.sha256(Path(runtime.__file__).read_bytes()).hexdigest()


def module_key(program: ir.Program, source: str) -> str:
    """Content key: the IR (as its dataclass repr), the generated source, PEL's version, the helper sources."""
    h = hashlib.sha256()
    for part in (repr(program.model), source, __version__, _helper_digest()):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:32]


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=".py")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_RECENT: OrderedDict[int, tuple[ir.Program, ModuleType]] = OrderedDict()  # id -> (program kept alive, module)
_RECENT_SIZE = 64


def load(program: ir.Program) -> ModuleType:
    """The imported kernel module of `program` (generated and written on first use).

    The same Program object asks again on every run (a server, a notebook loop): it skips generating and hashing
    the source again. The program is held, so its id cannot be reused while the entry lives.
    """
    with _LOCK:
        hit = _RECENT.get(id(program))
        if hit is not None and hit[0] is program:
            _RECENT.move_to_end(id(program))
            return hit[1]
    module = _load(program)
    with _LOCK:
        _RECENT[id(program)] = (program, module)
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    return module


def _load(program: ir.Program) -> ModuleType:
    source = codegen.generate(program)
    key = module_key(program, source)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        directory = cache_dir()
        path = directory / f"pel_gen_{key}.py"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not path.exists():  # never rewrite: numba's cache is stamped with the file's mtime
                _write_atomic(path, source)
        except OSError as exc:
            raise RunError(simple("E0011", f"cannot write the kernel cache in {directory}: {exc.strerror}",
                                  hint="set PEL_CACHE_DIR to a writable folder")) from None
        name = f"pel_gen_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise RunError(simple("E9999", f"internal error: cannot import generated module {path}"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _LOADED[key] = module
        return module
