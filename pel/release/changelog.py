"""The CHANGELOG.md of a model's release folder: one entry per release, newest first, with the reasons."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pel.fileio import write_atomic
from pel.release.common import BUMPS, Change

NAME = "CHANGELOG.md"


def header(model: str) -> str:
    return (f"# Changelog of {model}\n\n"
            "Written by `pel release`, newest first: each entry is one immutable release in this folder, with the\n"
            "changes `pel diff` found against the release before it and the version bump they require.\n")


def entry(*, version: str, bump: str, required: str, previous: str | None, model_hash: str, source: str,
          options: dict | None, changes: list[Change], today: dt.date) -> str:
    """The markdown of one release: title, what it was compared with, and every change (reasons first)."""
    label = "first release" if previous is None else bump
    lines = [f"## v{version} — {today.isoformat()} ({label})", ""]
    if previous is None:
        lines.append(f"First release, from `{source}` (model hash `{model_hash}`).")
    else:
        o = options or {}
        runs = f", {o['runs']} runs" if o.get("mode") == "monte_carlo" else ""
        lines.append(f"From `{source}` (model hash `{model_hash}`), compared with v{previous} ({o.get('mode')}, seed "
                     f"{o.get('seed')}, steps 0..{o.get('steps')}{runs}, threshold {o.get('threshold', 0) * 100:g}%, "
                     f"atol {o.get('atol', 0):g}).")
        required_text = "no change" if required == "none" else f"a {required} release"
        lines.append(f"The changes require {required_text}" + ("." if bump == required else
                                                                f"; released as {bump} (--version)."))
    ordered = sorted(changes, key=lambda c: -BUMPS.index(c.bump))
    if ordered:
        lines.append("")
        lines += [f"- {c.bump}: {c.detail}" + (f" ({c.reason})" if c.reason else "") for c in ordered]
    return "\n".join(lines) + "\n"


def add(folder: Path, model: str, text: str) -> Path:
    """Insert `text` as the newest entry of the folder's changelog (created with its header when missing)."""
    path = folder / NAME
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = header(model)
    at = old.find("\n## ")
    head, rest = (old, "") if at < 0 else (old[: at + 1], old[at + 1:])
    new = head.rstrip("\n") + "\n\n" + text + ("\n" + rest if rest else "")
    write_atomic(path, new.encode("utf-8"), 0o644)
    return path
