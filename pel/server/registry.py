"""The models of a folder, loaded once, reloaded when a file's content hash changes, kernels compiled once.

Kernels compile off the request path: each new model content is queued on one background compile thread
(one, so that compiles never take more than a core from the runs), and its entry keeps the Future of that
compile for requests to wait on."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pel.diagnostics import PelError
from pel.model import Model
from pel.pipeline import MODEL_SUFFIXES, model_stem

log = logging.getLogger("pel.server")

# File suffixes served, in order of precedence when several files share a name (the source wins over IR
# written beside it by `pel compile`, which may be stale).
SUFFIXES = MODEL_SUFFIXES
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$")


def model_name(filename: str) -> str | None:
    """The URL name of a model file (`revenue.ir.json` -> `revenue`), or None if it is not a served file."""
    if not filename.endswith(SUFFIXES):
        return None
    stem = model_stem(filename)
    return stem if NAME_RE.match(stem) else None


@dataclass(frozen=True)
class CompileFailure:
    """Why a model's kernel did not compile: the diagnostic code and message its requests are answered with."""

    code: str
    message: str


@dataclass
class Entry:
    """One served model: the file it came from, its Model (or the error that kept it from loading)."""

    name: str
    path: Path
    signature: tuple[int, int, int]  # (mtime_ns, size, inode): a cheap "has the file changed" test
    model: Model | None = None
    error: str | None = None
    error_code: str | None = None
    shadowed: list[str] = field(default_factory=list)  # other files with the same name, not served
    compiled: Future[CompileFailure | None] | None = None  # the kernel's background compile; None: not queued
    version: str = ""  # the release version (X.Y.Z) of a model served from `--releases`; "" for a models folder

    @property
    def format(self) -> str:
        return next(s.lstrip(".") for s in SUFFIXES if self.path.name.endswith(s))


class Registry:
    """Maps model names to entries; `refresh()` rescans the folder (only changed files are reloaded). Without a
    folder (a server of releases only) it serves nothing, and lends its compile thread to the releases."""

    def __init__(self, directory: Path | None, warm_up: bool = True) -> None:
        self.directory = None if directory is None else directory.resolve()
        self.warm_up = warm_up
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()  # one refresh at a time; readers see whole dicts, swapped atomically
        self._compiler = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pel-compile")
        self.loads = 0  # models (re)loaded since start, for tests and logs

    def compiling(self) -> int:
        """How many served models have a kernel compile queued or under way."""
        return sum(1 for e in self._entries.values() if e.compiled is not None and not e.compiled.done())

    def close(self) -> None:
        """Stop compiling: drop queued compiles (the one under way finishes on its thread)."""
        self._compiler.shutdown(wait=False, cancel_futures=True)

    def get(self, name: str) -> Entry | None:
        """The entry served under `name` (names come only from this folder's listing, never from a path)."""
        return self._entries.get(name)

    def entries(self) -> list[Entry]:
        return sorted(self._entries.values(), key=lambda e: e.name)

    def refresh(self) -> None:
        """Rescan the folder: load new files, reload changed ones (kept if their model hash is unchanged)."""
        with self._lock:
            found = self._scan()
            old = self._entries
            new: dict[str, Entry] = {}
            for name, (path, shadowed) in found.items():
                try:
                    st = path.stat()
                except OSError as exc:  # removed between the listing and now: not served this round
                    log.warning("pel serve: cannot read %s: %s", path, exc.strerror)
                    continue
                sig = (st.st_mtime_ns, st.st_size, st.st_ino)
                prev = old.get(name)
                if prev is not None and prev.path == path and prev.signature == sig:
                    prev.shadowed = shadowed
                    new[name] = prev
                    continue
                entry = self.load(name, path, sig, prev)
                entry.shadowed = shadowed
                new[name] = entry
            for name in old.keys() - new.keys():
                log.info("pel serve: model %s removed", name)
            self._entries = new

    def _scan(self) -> dict[str, tuple[Path, list[str]]]:
        if self.directory is None:
            return {}
        try:
            names = sorted(os.listdir(self.directory))
        except OSError as exc:
            log.error("pel serve: cannot list %s: %s", self.directory, exc.strerror)
            return {}
        groups: dict[str, list[Path]] = {}
        for filename in names:
            name = model_name(filename)
            if name is None:
                continue
            path = self.directory / filename
            real = path.resolve()
            if not real.is_file() or not real.is_relative_to(self.directory):
                if real.exists():
                    log.warning("pel serve: skipping %s: it resolves outside %s", filename, self.directory)
                continue
            groups.setdefault(name, []).append(path)
        out = {}
        for name, paths in groups.items():
            paths.sort(key=lambda p: next(i for i, s in enumerate(SUFFIXES) if p.name.endswith(s)))
            out[name] = (paths[0], [p.name for p in paths[1:]])
        return out

    def load(self, name: str, path: Path, sig: tuple[int, int, int], prev: Entry | None, version: str = "",
             compile_now: bool = True) -> Entry:
        """The entry of the model file `path` served as `name` (and `version`): the previous entry's warm model
        when the model hash is unchanged, else a fresh load whose kernel is queued for compiling (now, or on
        `compile_soon` when `compile_now` is false)."""
        import pel

        try:
            model = pel.load(path)
        except PelError as exc:
            first = exc.diagnostics[0] if exc.diagnostics else None
            log.error("pel serve: model %s (%s) does not load: %s", name, path.name, exc)
            return Entry(name, path, sig, None, exc.render(), first.code if first else "E9999", version=version)
        if prev is not None and prev.model is not None and prev.model.hash == model.hash and prev.path == path:
            # same content: keep the warm model
            return Entry(name, path, sig, prev.model, compiled=prev.compiled, version=version)
        self.loads += 1
        what = "reloaded" if prev is not None else "loaded"
        label = f"{name}@{version}" if version else name
        log.info("pel serve: model %s %s from %s (%s)", label, what, path.name, model.hash)
        entry = Entry(name, path, sig, model, version=version)
        if compile_now:
            self.compile_soon(entry)
        return entry

    def compile_soon(self, entry: Entry) -> None:
        """Queue the kernel compile of a loaded entry that has none queued (nothing when warm-up is off)."""
        if not self.warm_up or entry.model is None or entry.compiled is not None:
            return
        label = f"{entry.name}@{entry.version}" if entry.version else entry.name
        try:
            entry.compiled = self._compiler.submit(_compile, label, entry.model)
        except RuntimeError:  # the server is stopping: a request (if any) compiles on its run
            entry.compiled = None


def _compile(name: str, model: Model) -> CompileFailure | None:
    """Compile (or load from the disk cache) the model's kernel, then warm it with one-step runs in both modes."""
    from pel.backend import cache

    start = time.perf_counter()
    try:
        cache.load(model.program)
    except PelError as exc:
        first = exc.diagnostics[0] if exc.diagnostics else None
        log.error("pel serve: the kernel of model %s does not compile: %s", name, exc)
        return CompileFailure(first.code if first else "E9999", first.message if first else str(exc))
    except Exception as exc:  # a compiler bug: answered as a coded error on this model's requests, never a crash
        log.exception("pel serve: compiling the kernel of model %s failed", name)
        return CompileFailure("E9999", f"internal error while compiling the kernel: {type(exc).__name__}: {exc}")
    log.info("pel serve: model %s compiled in %.2f s", name, time.perf_counter() - start)
    try:
        model.run("deterministic", steps=0, threads=1)
        model.run("monte_carlo", steps=0, runs=1, threads=1)
    except PelError as exc:  # a fault at t=0: the kernel is compiled; the error will show on real runs
        log.warning("pel serve: warm-up run of %s failed: %s", name, exc)
    except Exception:  # warming is optional; a real run reports whatever this was
        log.exception("pel serve: warm-up run of %s failed", name)
    return None
