"""`pel release`: diff a model against its latest release, choose the version, write it once and record it.

A release is `DIR/<model name>/<X.Y.Z>.ir.json`: the compiled IR with `metadata.model_version` (metadata is
outside the model hash, so the hash is the compiled model's). A release is never overwritten; the folder's
CHANGELOG.md gets an entry with the reasons; `--tag` makes the git tag `v<X.Y.Z>`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pel.diagnostics import Span, simple
from pel.ir.serialize import dumps_json
from pel.release import changelog, diff, gittag, store
from pel.release.common import BUMPS, Loaded, ReleaseError, load
from pel.release.versions import FIRST, Version, bump_between

FIRST_BUMP = "first"  # the bump of a first release: there is nothing to compare it with


@dataclass
class Options:
    """What `pel release` was asked: where releases live, an explicit version, a tag, and the diff's options."""

    root: Path  # --dir: releases go to root/<model name>/
    version: Version | None = None  # --version; else the bump the diff requires (FIRST for a first release)
    tag: bool = False
    compare: dict[str, Any] = field(default_factory=dict)  # mode, seed, steps, runs, threshold, atol
    today: dt.date | None = None  # the changelog's date (default: today)


@dataclass
class Outcome:
    """One release that was made."""

    name: str
    version: Version
    bump: str  # the bump it makes: patch | minor | major, or "first"
    required: str  # the bump the changes require (FIRST_BUMP for a first release)
    previous: Version | None
    file: Path
    changelog: Path
    model_hash: str
    tag: str | None
    report: diff.DiffReport | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": str(self.version), "bump": self.bump, "required": self.required,
                "previous": None if self.previous is None else str(self.previous), "file": str(self.file),
                "changelog": str(self.changelog), "model_hash": self.model_hash, "tag": self.tag,
                "diff": None if self.report is None else self.report.to_dict(self.bump)}

    def render_text(self) -> str:
        lines = [f"released {self.name} v{self.version} -> {self.file} ({self.model_hash})"]
        if self.report is None:
            lines.append("first release: nothing to compare with")
        else:
            chosen = "" if self.bump == self.required else f"; released as {self.bump} (--version)"
            lines.append(f"compared with v{self.previous}: the changes require a {self.required} release{chosen}")
            ordered = sorted(self.report.changes, key=lambda c: -BUMPS.index(c.bump))
            lines += [f"  {c.bump:<5}  {c.detail}" for c in ordered]
        lines.append(f"changelog: {self.changelog}")
        if self.tag:
            lines.append(f"tag: {self.tag}")
        return "\n".join(lines) + "\n"


def release(path: str, opts: Options) -> Outcome:
    """Make one release of the model at `path` (.pel or IR); every refusal is a ReleaseError and writes nothing."""
    loaded = load(path)
    name = _folder_name(loaded)
    folder = opts.root / name
    prior = store.latest(folder)
    if opts.version is not None:
        _check_given(opts.version, prior, folder)
    report = None if prior is None else diff.compare(_previous(prior[1], name), loaded, **opts.compare)
    if report is None:
        _smoke(loaded)
    version, bump = _choose(opts.version, prior, report)
    target = folder / f"{version}{store.SUFFIX}"
    if target.exists():
        raise _exists(target)
    where, tag = gittag.work_tree(opts.root), f"v{version}"
    if opts.tag:
        gittag.check(where, tag)
    program = dataclasses.replace(loaded.program, metadata={**loaded.program.metadata,
                                                            "model_version": str(version)})
    model_hash = str(program.metadata.get("model_hash", ""))
    required = FIRST_BUMP if report is None else report.bump
    text = changelog.entry(version=str(version), bump=bump, required=required,
                           previous=None if prior is None else str(prior[0]), model_hash=model_hash, source=path,
                           options=None if report is None else report.options,
                           changes=[] if report is None else report.changes, today=opts.today or dt.date.today())
    log = _write(folder, target, prior, dumps_json(program).encode("utf-8"), name, text)
    if opts.tag:
        gittag.create(where, tag, target)
    return Outcome(name, version, bump, required, None if prior is None else prior[0], target, log, model_hash,
                   tag if opts.tag else None, report)


def _write(folder: Path, target: Path, prior: tuple[Version, Path] | None, data: bytes, name: str,
           entry: str) -> Path:
    """Under the folder's lock: check that no release appeared since the diff, create the file, add the entry."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with store.locked(folder):
            now = store.latest(folder)
            if now != prior:
                raise ReleaseError(simple(
                    "E1108", f"{name} v{now[0] if now else '?'} was released while this release was prepared "
                             f"(it was compared with {'v' + str(prior[0]) if prior else 'no release'}); nothing was "
                             "written", hint="run `pel release` again: it compares with the newest release"))
            if not store.write_new(target, data):
                raise _exists(target)
            try:
                return changelog.add(folder, name, entry)
            except OSError as exc:
                raise ReleaseError(simple("E0010", f"{target} was released, but its changelog entry cannot be "
                                                   f"written: {exc.strerror or exc}")) from None
    except OSError as exc:
        raise ReleaseError(simple("E0010", f"cannot write the release in {folder}: {exc.strerror or exc}")) from None


def _smoke(loaded: Loaded) -> None:
    """A first release is compared with nothing, so it is run once (deterministic, the model's horizon): a model
    that does not run is not released (E1109)."""
    from pel.backend import engine
    from pel.diagnostics import RunError

    try:
        engine.run(loaded.program, mode="deterministic", threads=1)
    except RunError as exc:
        d = exc.diagnostics[0]
        raise ReleaseError(simple("E1109", f"{loaded.model.name} does not run, so it is not released: "
                                           f"{d.code} {d.message}", Span(loaded.path, 0, 0, 0, 0),
                                  hint="`pel run` shows the error with its location")) from None


def _folder_name(loaded: Loaded) -> str:
    name = loaded.model.name
    if not name or name in (".", "..") or name.startswith(".") or any(c in name for c in "/\\\0"):
        raise ReleaseError(simple("E1107", f"the model name {name!r} cannot name a release folder",
                                  Span(loaded.path, 0, 0, 0, 0)))
    return name


def _previous(path: Path, name: str) -> Loaded:
    """The latest release, loaded (validated like any IR file) and checked to be the same model."""
    previous = load(str(path))
    if previous.model.name != name:
        raise ReleaseError(simple("E1107", f"{path} holds the model {previous.model.name!r}, not {name!r}",
                                  Span(str(path), 0, 0, 0, 0),
                                  hint="a release folder keeps the releases of one model: move the file out"))
    return previous


def _exists(target: Path) -> ReleaseError:
    return ReleaseError(simple("E1100", f"{target} exists: a release is never overwritten",
                               hint="release the change under a new version (leave --version out to take the "
                                    "next one)"))


def _check_given(given: Version, prior: tuple[Version, Path] | None, folder: Path) -> None:
    """Refusals of --version that need no diff: it exists (E1100), or it is not after the latest release (E1101)."""
    target = folder / f"{given}{store.SUFFIX}"
    if target.exists():
        raise _exists(target)
    if prior is not None and given <= prior[0]:
        raise ReleaseError(simple("E1101", f"--version {given} is not after the latest release v{prior[0]} of "
                                           f"{folder.name}", hint="releases only move forward: choose a larger "
                                                                  "version, or leave --version out"))


def _choose(given: Version | None, prior: tuple[Version, Path] | None,
            report: diff.DiffReport | None) -> tuple[Version, str]:
    """The version of this release and the bump it makes."""
    if prior is None or report is None:
        return given or FIRST, FIRST_BUMP
    latest, required = prior[0], report.bump
    if given is None:
        if required == "none":
            raise ReleaseError(simple("E1103", f"nothing to release: `pel diff` finds no change from v{latest} "
                                               f"({prior[1]})", hint="give --version to release it again anyway"))
        return latest.bumped(required), required
    bump = bump_between(latest, given)
    if BUMPS.index(bump) < BUMPS.index(required):
        reasons = "".join(f"\n  - {c.detail}" + (f" ({c.reason})" if c.reason else "")
                          for c in report.changes if c.bump == required)
        raise ReleaseError(simple("E1102", f"--version {given} is a {bump} release after v{latest}, but the changes "
                                           f"require a {required} release:{reasons}",
                                  hint=f"release v{latest.bumped(required)} (or leave --version out)"))
    return given, bump

