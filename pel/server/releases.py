"""The released models of `pel serve --releases`: every version of each, its rollout state, and request routing.

A release folder holds `<name>/<X.Y.Z>.ir.json` files written by `pel release` (read with `pel.release.store`);
`<name>` is the model's URL name. Releases are immutable, so a version is loaded once; a rescan adds new ones.
Which version answers is the model's rollout state (`pel.monitor.state.Rollout`, kept in the state database):
the active version, a canary that takes a share of the requests, a shadow run beside the active version. A
model seen for the first time starts with its latest release active, written to the state at once, so that a
later `pel release` goes live only when it is rolled out or promoted."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pel.diagnostics import PelError
from pel.monitor.state import Rollout, StateStore
from pel.release.store import released
from pel.server.errors import ApiError
from pel.server.registry import NAME_RE, Entry, Registry

log = logging.getLogger("pel.server")

ROUTED = ("active", "canary", "shadow")


def split_name(text: str) -> tuple[str, str | None]:
    """A model reference of a URL: `Revenue@1.2.0` -> ("Revenue", "1.2.0"); `Revenue` -> ("Revenue", None)."""
    name, at, version = text.partition("@")
    return name, (version if at else None)


def client_place(model: str, client: str) -> float:
    """Where a client falls in [0, 100) for a model: the same on every request, server and restart (SHA-256 of
    the two names), so a canary of weight w takes the clients below w, and keeps them when w grows."""
    digest = hashlib.sha256(f"{model}\0{client}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 * 100.0


def choose(state: Rollout, client: str | None, draw: Callable[[], float] = random.random) -> str:
    """The version a request runs: the canary for `canary_weight` percent of requests (placed by the client's
    name when the request gives one, at random otherwise), else the active version."""
    if state.canary is None or state.canary_weight <= 0:
        return state.active
    place = client_place(state.model, client) if client else draw() * 100.0
    return state.canary if place < state.canary_weight else state.active


@dataclass(frozen=True)
class Target:
    """What one request runs: a model's entry, the role that chose it, and the shadow to run beside it."""

    entry: Entry
    role: str  # "active", "canary", "pinned" (name@version), or "unreleased" (a models-folder model)
    shadow: Entry | None = None  # a shadow version to run on the same inputs (active requests only)


class Releases:
    """The versions of every released model in a folder (None: no releases) and their rollout states."""

    def __init__(self, directory: Path | None, registry: Registry, store: StateStore) -> None:
        self.directory = None if directory is None else directory.resolve()
        self.registry = registry  # loads files and compiles kernels on its compile thread
        self.store = store
        self._models: dict[str, dict[str, Entry]] = {}  # name -> {version: entry}, oldest version first
        self._state: dict[str, Rollout] = {}  # name -> rollout state (a cache of the state database)
        self._lock = threading.Lock()  # one refresh or change at a time; readers see whole dicts

    # reading -------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._models)

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def versions(self, name: str) -> dict[str, Entry]:
        """The released versions of `name`, oldest first ({} when it has none)."""
        return self._models.get(name, {})

    def state(self, name: str) -> Rollout | None:
        return self._state.get(name)

    def active(self, name: str) -> Entry | None:
        """The entry of the active version of `name` (None: no such model, or its active file is gone)."""
        state = self._state.get(name)
        return None if state is None else self.versions(name).get(state.active)

    def answering(self, name: str) -> list[Entry]:
        """The loaded entries of the versions of `name` that answer requests: the active one and the canary."""
        state, versions = self._state.get(name), self.versions(name)
        if state is None:
            return []
        found = (versions.get(v) for v in (state.active, state.canary) if v is not None)
        return [e for e in found if e is not None and e.model is not None]

    def compiling(self) -> int:
        """How many routed versions have a kernel compile queued or under way."""
        return sum(1 for versions in self._models.values() for e in versions.values()
                   if e.compiled is not None and not e.compiled.done())

    def target(self, name: str, version: str | None, client: str | None = None, routed: bool = True,
               draw: Callable[[], float] = random.random) -> Target:
        """The version a request for `name` runs: `version` when given, else the canary or the active version as
        the rollout state routes `client` (with `routed` false: the active version, and no shadow); 404 E1111 when
        `name` is not released, 404 E1110 for a version that is not, 409 E1117 when the active version is gone."""
        versions = self._models.get(name)
        state = self._state.get(name)
        if versions is None or state is None:
            raise ApiError(404, "E1111", f"{name!r} is not a released model of this server (served with "
                                         f"--releases: {', '.join(self.names()) or 'none'})", "name")
        if version is not None:
            entry = versions.get(version)
            if entry is None:
                raise ApiError(404, "E1110", f"model {name!r} has no release {version!r} (released: "
                                             f"{', '.join(versions)})", "version")
            self.registry.compile_soon(entry)
            return Target(entry, "pinned")
        chosen = choose(state, client, draw) if routed else state.active
        entry = versions.get(chosen)
        if entry is None and chosen != state.active:  # the canary's file is gone: the active version answers
            chosen, entry = state.active, versions.get(state.active)
        if entry is None:
            raise ApiError(409, "E1117", f"the active version {state.active} of model {name!r} is no longer in the "
                                         "release folder; promote another version", "name")
        role = "canary" if chosen == state.canary and chosen != state.active else "active"
        shadow = None
        if routed and role == "active" and state.shadow is not None and draw() * 100.0 < state.shadow_weight:
            shadow = versions.get(state.shadow)
        return Target(entry, role, shadow)

    # changing ------------------------------------------------------------------------------

    def change(self, name: str, change: Callable[[Rollout], Rollout]) -> tuple[Rollout, Rollout]:
        """Apply `change` to the rollout state of `name` in the state database (one transaction) and route by the
        result from the next request on; the states before and after. `change` raises ApiError to refuse."""
        if name not in self._models:
            raise ApiError(404, "E1111", f"{name!r} is not a released model of this server", "name")
        before: list[Rollout] = []

        def apply(held: Rollout | None) -> Rollout:
            current = held or self._state[name]
            before.append(current)
            return change(current)

        with self._lock:
            after = self.store.change_rollout(name, apply)
            assert after is not None
            self._state = {**self._state, name: after}
        self._compile_routed(name, after)
        return before[0], after

    # scanning ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Rescan the folder for new releases and reread the rollout states (another server sharing the state
        folder may have changed them); a model seen for the first time gets its latest release as active."""
        if self.directory is None:
            return
        with self._lock:
            found = self._scan()
            old = self._models
            models: dict[str, dict[str, Entry]] = {}
            for name, files in found.items():
                versions: dict[str, Entry] = {}
                for version, path in files:
                    try:
                        st = path.stat()
                    except OSError as exc:
                        log.warning("pel serve: cannot read %s: %s", path, exc.strerror)
                        continue
                    sig = (st.st_mtime_ns, st.st_size, st.st_ino)
                    prev = old.get(name, {}).get(version)
                    if prev is not None and prev.path == path and prev.signature == sig:
                        versions[version] = prev
                    else:
                        versions[version] = self.registry.load(name, path, sig, prev, version, compile_now=False)
                if versions:
                    models[name] = versions
            for name in old.keys() - models.keys():
                log.info("pel serve: released model %s removed", name)
            try:
                states = self._states(models)
            except PelError as exc:  # a damaged state row: keep routing as before, say why
                log.error("pel serve: cannot read the rollout states: %s", exc)
                states = {k: v for k, v in self._state.items() if k in models}
            self._models, self._state = models, states
        for name, state in states.items():
            self._compile_routed(name, state)

    def _states(self, models: dict[str, dict[str, Entry]]) -> dict[str, Rollout]:
        held = self.store.rollouts()
        for name, versions in models.items():
            if name not in held:
                first = _latest_loaded(versions)
                state = self.store.change_rollout(name, lambda h, v=first, n=name: h or Rollout(n, v))
                assert state is not None
                held[name] = state
                log.info("pel serve: released model %s starts with version %s active", name, state.active)
        return {name: held[name] for name in models}

    def _scan(self) -> dict[str, list[tuple[str, Path]]]:
        assert self.directory is not None
        try:
            names = sorted(os.listdir(self.directory))
        except OSError as exc:
            log.error("pel serve: cannot list %s: %s", self.directory, exc.strerror)
            return {}
        out: dict[str, list[tuple[str, Path]]] = {}
        for name in names:
            folder = self.directory / name
            if not NAME_RE.match(name) or not folder.is_dir():
                continue
            try:
                files = released(folder)
            except PelError as exc:
                log.error("pel serve: %s", exc)
                continue
            inside = []
            for version, path in files:
                if path.resolve().is_relative_to(self.directory):
                    inside.append((str(version), path))
                else:
                    log.warning("pel serve: skipping %s: it resolves outside %s", path.name, self.directory)
            if inside:
                out[name] = inside
        return out

    def _compile_routed(self, name: str, state: Rollout) -> None:
        versions = self._models.get(name, {})
        for version in (state.active, state.canary, state.shadow):
            entry = versions.get(version) if version is not None else None
            if entry is not None:
                self.registry.compile_soon(entry)


def _latest_loaded(versions: dict[str, Entry]) -> str:
    """The latest version whose file loads (else the latest): the first active version of a model."""
    loaded = [v for v, e in versions.items() if e.model is not None]
    return (loaded or list(versions))[-1]
