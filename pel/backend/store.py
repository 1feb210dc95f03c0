"""The on-disk kernel cache: generated modules under their content key and numba's compiled entries of every PEL
function (generated or PEL's own runtime helpers), each checked against what PEL wrote before anything is
imported or unpickled; damage is rebuilt with a warning, a cache that cannot be written is done without.

numba's entries live in the store's `__pycache__` whatever numba's own settings say (NUMBA_CACHE_DIR, a
read-only install): PEL gives each of its functions a `SealedCache`, which reads and writes numba's index and
data files through the store. Each function's files are listed with their SHA-256 in a seal file written with
them; a file that differs from its seal, or that no seal lists, is never unpickled.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import io
import json
import logging
import marshal
import os
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from numba.core import caching as nbcache

from pel.cachedir import cache_dir, make_private
from pel.fileio import flocked, write_atomic

log = logging.getLogger("pel.cache")
SEAL_SUFFIX = ".seal.json"
# What unpickling an entry PEL sealed can still raise when the environment changed under it (another llvmlite,
# a missing module): the entry is rebuilt like a damaged one.
_UNREADABLE = (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Store:
    """One cache folder. `writable` is False when it cannot serve as a cache (read-only, full, another user's,
    open to others): kernels then compile in memory for this process only, with one warning."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or cache_dir()
        self.writable = self._prepare()

    def _prepare(self) -> bool:
        reason = make_private(self.dir)
        if reason is None:
            try:
                probe = self.dir / f".probe-{os.getpid()}"
                write_atomic(probe, b"ok")
                probe.unlink()
            except OSError as exc:
                reason = exc.strerror or str(exc)
        if reason is not None:
            log.warning("pel: warning: the kernel cache %s is not usable (%s): compiling without a cache",
                        self.dir, reason)
            return False
        return True

    def disable(self, exc: OSError) -> None:
        """A write failed (a full disk, a folder made read-only): the rest of this process compiles without the
        cache, after one warning."""
        if self.writable:
            log.warning("pel: warning: cannot write the kernel cache %s (%s): compiling without a cache",
                        self.dir, exc.strerror or exc)
        self.writable = False

    def code(self, name: str, text: str, filename: str) -> types.CodeType | None:
        """The code object of module `name`'s (verified) `text`, compiled once and kept beside it: a file of the
        key of what it was compiled from, the SHA-256 of the marshalled code, then the code. Anything else there
        (another text, another Python, damage) is compiled again and rewritten; None never."""
        path = self.dir / f"{name}.code"
        key = _code_key(text, filename)
        try:
            blob = path.read_bytes()
            head, digest, data = blob[:64], blob[65:129], blob[130:]
            if head == key and hashlib.sha256(data).hexdigest().encode("ascii") == digest:
                code = marshal.loads(data)
                if isinstance(code, types.CodeType):
                    return code
        except (OSError, ValueError, EOFError, TypeError):
            pass
        code = compile(text, filename, "exec")
        if self.writable:
            data = marshal.dumps(code)
            try:
                write_atomic(path, key + b"\n" + hashlib.sha256(data).hexdigest().encode("ascii") + b"\n" + data)
            except OSError:
                pass  # the next load compiles the text again: only slower
        return code

    def numba_dir(self) -> Path:
        return self.dir / "__pycache__"

    # -- generated modules --------------------------------------------------------------------------

    def module_path(self, name: str) -> Path:
        return self.dir / f"{name}.py"

    def ensure_module(self, name: str, text: str, matches: bool) -> Path | None:
        """The file of module `name` holding code equal to `text` (`matches` tells whether the file on disk
        already does); written when missing or damaged. None when the cache cannot hold it."""
        path = self.module_path(name)
        if matches:
            return path
        if not self.writable:
            return None
        if path.exists():
            log.warning("pel: warning: damaged kernel cache entry %s rebuilt", path.name)
            self.forget(f"{name}.")
        try:
            write_atomic(path, text.encode("utf-8"))
        except OSError as exc:
            self.disable(exc)
            return None
        return path

    def read_module(self, name: str) -> str | None:
        try:
            return self.module_path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    # -- numba's entries, sealed ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Excludes other processes from the store's entries while a file and its seal change or are read
        together (POSIX advisory lock; elsewhere none)."""
        folder = self.numba_dir()  # without locks (not POSIX) a race at worst makes an entry look damaged: rebuilt
        folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            with flocked(fd):
                yield
        finally:
            os.close(fd)

    def _seal(self, base: str) -> dict[str, str]:
        try:
            seal = json.loads((self.numba_dir() / f"{base}{SEAL_SUFFIX}").read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(seal, dict) or not all(isinstance(v, str) for v in seal.values()):
            return {}
        return seal

    def sealed(self, base: str) -> bool:
        """Whether function `base` has a sealed index (it probably loads without compiling; checked on reading)."""
        return self.writable and f"{base}.nbi" in self._seal(base)

    def read_sealed(self, base: str, name: str) -> bytes | None:
        """The bytes of entry file `name` of function `base` when they are what PEL sealed; None when there is no
        such file. A file that differs from its seal, or that no seal lists, is damaged: every file of the
        function is deleted (numba compiles it again) with a warning."""
        try:
            with self._locked():
                try:
                    data = (self.numba_dir() / name).read_bytes()
                except FileNotFoundError:
                    return None
                if self._seal(base).get(name) == _sha256(data):
                    return data
                self._forget(f"{base}.")
        except OSError:
            return None
        log.warning("pel: warning: damaged compiled kernel %s rebuilt", name)
        return None

    def write_sealed(self, base: str, name: str, data: bytes) -> None:
        """Write entry file `name` of function `base` and list its hash in the function's seal (OSError when the
        cache cannot take it)."""
        with self._locked():
            write_atomic(self.numba_dir() / name, data)
            seal = self._seal(base)
            seal[name] = _sha256(data)
            write_atomic(self.numba_dir() / f"{base}{SEAL_SUFFIX}", json.dumps(seal, sort_keys=True).encode())

    def unreadable(self, base: str, name: str) -> None:
        """A sealed entry numba could not read back (the environment changed under it): rebuilt."""
        log.warning("pel: warning: unreadable compiled kernel %s rebuilt", name)
        self.forget(f"{base}.")

    def forget(self, prefix: str) -> None:
        """Delete numba's entries (and seals) whose names start with `prefix`."""
        try:
            with self._locked():
                self._forget(prefix)
        except OSError:
            pass

    def _forget(self, prefix: str) -> None:
        folder = self.numba_dir()
        if not folder.is_dir():
            return
        for path in folder.iterdir():
            if path.name.startswith(prefix):
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass

    # -- numba functions --------------------------------------------------------------------------------

    def attach(self, module: types.ModuleType) -> None:
        """Give every numba function defined in `module` this store's sealed cache, or none at all when the
        store cannot be written (never numba's own, which unpickles what it finds)."""
        from numba.core.dispatcher import Dispatcher

        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and getattr(value.py_func, "__module__", None) == module.__name__:
                value._cache = SealedCache(value.py_func, self) if self.writable else nbcache.NullCache()


def _code_key(text: str, filename: str) -> bytes:
    """What a cached code object was compiled from: the module's text, its file name and this Python."""
    h = hashlib.sha256()
    for part in (sys.version, sys.implementation.cache_tag or "", filename, text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest().encode("ascii")


def exec_module(name: str, text: str, path: Path | None, store: Store | None = None) -> types.ModuleType:
    """Make module `name` from `text` (already verified) without Python's bytecode cache: the code object is
    compiled here from the text in memory. With a `path` and a writable `store`, its numba functions are cached
    in the store (sealed); otherwise they compile in memory."""
    from pel.backend import runtime as rt

    module = types.ModuleType(name)
    filename = str(path) if path is not None else f"<pel kernel {name}>"
    module.__file__ = filename
    code = store.code(name, text, filename) if store is not None and path is not None else None
    if code is None:
        code = compile(text, filename, "exec")
    sys.modules[name] = module
    caching = rt.CACHING[0]
    rt.CACHING[0] = False  # numba's own cache is never used: the store attaches its sealed one below
    try:
        exec(code, module.__dict__)  # noqa: S102 - PEL's own generated, verified source
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        rt.CACHING[0] = caching
    if path is not None and store is not None:
        store.attach(module)
    return module


# ---------------------------------------------------------------------------------------------
# numba's cache of one function, through the store
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as fh:
        return _sha256(fh.read())


class _Locator:
    """Where numba keeps one function's entries (the store's `__pycache__`) and the stamp that says they are
    from this very source file (its hash)."""

    def __init__(self, py_func: Any, folder: Path) -> None:
        self._py_file = inspect.getfile(py_func)  # these two are read by numba's check_cachable
        self._lineno = py_func.__code__.co_firstlineno
        self.folder = folder

    def ensure_cache_path(self) -> None:
        self.folder.mkdir(mode=0o700, exist_ok=True)

    def get_cache_path(self) -> str:
        return str(self.folder)

    def get_source_stamp(self) -> str:
        info = os.stat(self._py_file)
        return _file_digest(self._py_file, info.st_mtime_ns, info.st_size)

    def get_disambiguator(self) -> str:
        return str(self._lineno)


class _Impl(nbcache.CompileResultCacheImpl):
    """numba's serializing of compile results, with the store's locator (numba's own search is skipped)."""

    def __init__(self, py_func: Any, folder: Path) -> None:  # replaces numba's search among its locators
        self._lineno = py_func.__code__.co_firstlineno
        self._locator = _Locator(py_func, folder)
        qualname = getattr(py_func, "__qualname__", py_func.__name__)
        fullname = f"{Path(self._locator._py_file).stem}.{qualname}"
        self._filename_base = self.get_filename_base(fullname, getattr(sys, "abiflags", ""))


class _SealedFile(nbcache.IndexDataCacheFile):
    """numba's index and data files of one function, read and written only through the store's seal."""

    def __init__(self, store: Store, base: str, source_stamp: str) -> None:
        super().__init__(str(store.numba_dir()), base, source_stamp)
        self.store = store
        self.base = base

    def _load_index(self) -> dict:
        data = self.store.read_sealed(self.base, self._index_name)
        if data is None:
            return {}
        try:
            stream = io.BytesIO(data)
            version = pickle.load(stream)  # noqa: S301 - sealed: the bytes PEL wrote
            if version != self._version:
                return {}
            stamp, overloads = pickle.loads(stream.read())  # noqa: S301 - sealed
        except _UNREADABLE:
            self.store.unreadable(self.base, self._index_name)
            return {}
        return overloads if stamp == self._source_stamp else {}

    def _save_index(self, overloads: dict) -> None:
        stream = io.BytesIO()
        pickle.dump(self._version, stream, protocol=-1)
        stream.write(self._dump((self._source_stamp, overloads)))
        self.store.write_sealed(self.base, self._index_name, stream.getvalue())

    def _load_data(self, name: str) -> Any:
        data = self.store.read_sealed(self.base, name)
        if data is None:
            raise FileNotFoundError(name)  # numba's load() then compiles afresh
        try:
            return pickle.loads(data)  # noqa: S301 - sealed: the bytes PEL wrote
        except _UNREADABLE:
            self.store.unreadable(self.base, name)
            raise FileNotFoundError(name) from None

    def _save_data(self, name: str, data: Any) -> None:
        self.store.write_sealed(self.base, name, self._dump(data))


class SealedCache(nbcache.Cache):
    """numba's per-function cache, kept in the store and sealed; a failed write (a full disk) turns the cache
    off for the rest of the process instead of failing the compile that preceded it."""

    _impl_class = _Impl

    def __init__(self, py_func: Any, store: Store) -> None:  # numba's own __init__ would search its locators
        self._name = repr(py_func)
        self._py_func = py_func
        self._impl = _Impl(py_func, store.numba_dir())
        self._cache_path = str(store.numba_dir())
        self._cache_file = _SealedFile(store, self._impl.filename_base, self._impl.locator.get_source_stamp())
        self.store = store
        self.enable()

    @property
    def base(self) -> str:
        """The prefix of this function's files in the store (`module.function-line.py311`)."""
        return self._impl.filename_base

    def save_overload(self, sig: Any, data: Any) -> None:
        if not self.store.writable:
            return
        try:
            super().save_overload(sig, data)
        except OSError as exc:
            self.store.disable(exc)
            self.store.forget(f"{self.base}.")
