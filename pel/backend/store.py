"""The on-disk kernel cache: generated modules under their content key and numba's compiled entries, each
verified against what PEL wrote before anything is imported or unpickled; damage is rebuilt, never fatal."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import sys
import types
from pathlib import Path

from pel.cachedir import cache_dir
from pel.fileio import write_atomic

log = logging.getLogger("pel.cache")
SEAL_SUFFIX = ".seal.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Store:
    """One cache folder. `writable` is False when it cannot be created or written (read-only, full disk):
    kernels then compile in memory for this process only, with one warning."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or cache_dir()
        self.writable = self._prepare()

    def _prepare(self) -> bool:
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            if self.dir.stat().st_uid == os.getuid() and stat.S_IMODE(self.dir.stat().st_mode) & 0o077:
                os.chmod(self.dir, 0o700)  # a cache others can write could hand us their code
            probe = self.dir / f".probe-{os.getpid()}"
            write_atomic(probe, b"ok")
            probe.unlink()
            return True
        except OSError as exc:
            log.warning("pel: warning: the kernel cache %s is not writable (%s): compiling without a cache",
                        self.dir, exc.strerror or exc)
            return False

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
            self.forget_compiled(name)
        try:
            write_atomic(path, text.encode("utf-8"))
        except OSError as exc:
            log.warning("pel: warning: cannot write the kernel cache (%s): compiling without a cache",
                        exc.strerror or exc)
            self.writable = False
            return None
        return path

    def read_module(self, name: str) -> str | None:
        try:
            return self.module_path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    # -- numba's compiled entries --------------------------------------------------------------------

    def _compiled_files(self, name: str) -> list[Path]:
        folder = self.numba_dir()
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob(f"{name}.*") if p.suffix in (".nbi", ".nbc"))

    def verify_compiled(self, name: str) -> bool:
        """Whether module `name` has compiled entries exactly as this cache sealed them. Entries that differ
        from their seal, or that no seal covers, are deleted before numba can unpickle them."""
        files = self._compiled_files(name)
        seal_path = self.numba_dir() / f"{name}{SEAL_SUFFIX}"
        if not files:
            return False
        try:
            seal = json.loads(seal_path.read_text(encoding="utf-8"))
            ok = isinstance(seal, dict) and sorted(seal) == [p.name for p in files] and all(
                seal[p.name] == _sha256(p) for p in files)
        except (OSError, ValueError, UnicodeDecodeError):
            ok = False
        if not ok:
            log.warning("pel: warning: damaged compiled kernel %s rebuilt", name)
            self.forget_compiled(name)
        return ok

    def seal_compiled(self, name: str) -> None:
        """Record the hashes of module `name`'s compiled entries as written just now."""
        files = self._compiled_files(name)
        if not files or not self.writable:
            return
        try:
            data = json.dumps({p.name: _sha256(p) for p in files}, sort_keys=True).encode("utf-8")
            write_atomic(self.numba_dir() / f"{name}{SEAL_SUFFIX}", data)
        except OSError as exc:
            log.warning("pel: warning: cannot seal a compiled kernel in the cache (%s)", exc.strerror or exc)

    def forget_compiled(self, name: str) -> None:
        for p in [*self._compiled_files(name), self.numba_dir() / f"{name}{SEAL_SUFFIX}"]:
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                self.writable = False


def exec_module(name: str, text: str, path: Path | None) -> types.ModuleType:
    """Make module `name` from `text` (already verified) without Python's bytecode cache: the code object is
    compiled here from the text in memory. With a `path`, numba finds the file for its own cache."""
    module = types.ModuleType(name)
    filename = str(path) if path is not None else f"<pel kernel {name}>"
    module.__file__ = filename
    code = compile(text, filename, "exec")
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)  # noqa: S102 - PEL's own generated, verified source
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
